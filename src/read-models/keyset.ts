import { Prisma } from '../generated/prisma/client.js';
import type { SqlClient } from '../sql/client.js';
import { whereAll } from '../sql/fragments.js';
import type { Table, ViewOf } from '../sql/table.js';

/*
 * Keyset pagination over a view table newest first, by `(created_at, id)`
 * descending — the order each such table indexes (alone or after an equality
 * column such as `user_id`). A place in that order is a row's key; a page is
 * what lies strictly beyond a key, so its cost does not grow with how far in
 * it is, and rows added elsewhere in the order neither repeat nor skip one.
 */

/** A row's place: its creation time (as stored, to the millisecond) and its id. */
export interface Keyset {
  readonly createdAt: Date;
  readonly id: string;
}

/** Which rows a page is: those between the keys (both excluded), `count` of them from one end. */
export interface KeysetWindow {
  /** Only rows after this one (older; null: from the newest). */
  readonly after: Keyset | null;
  /** Only rows before this one (newer; null: to the oldest). */
  readonly before: Keyset | null;
  /** Take from the newest end of what the keys leave (`first`) or from its oldest end (`last`). */
  readonly take: 'first' | 'last';
  readonly count: number;
}

export interface KeysetPage<T> {
  /** Newest first. */
  readonly rows: T[];
  /** Rows exist after the page (older): beyond `count` when taking first, at or after `before` when taking last. */
  readonly hasNext: boolean;
  /** Rows exist before the page (newer): beyond `count` when taking last, at or before `after` when taking first. */
  readonly hasPrevious: boolean;
}

/** A string that is equal for equal windows (to group requests for the same window). */
export function windowKey(window: KeysetWindow): string {
  const key = (k: Keyset | null) => (k ? `${k.createdAt.toISOString()}/${k.id}` : '-');
  return `${window.take}:${window.count}:${key(window.after)}:${key(window.before)}`;
}

/** `(alias.created_at, alias.id) <op> (key)`: a row comparison, which the `(…, created_at DESC, id DESC)` indexes serve. */
export function keysetCondition(alias: string, op: '<' | '>' | '<=' | '>=', key: Keyset): Prisma.Sql {
  return Prisma.sql`(${Prisma.raw(`${alias}.created_at, ${alias}.id`)}) ${Prisma.raw(op)} (${key.createdAt.toISOString()}::timestamptz, ${key.id}::uuid)`;
}

/** `ORDER BY` newest first (an index scan forward) or oldest first (the same index backward). */
export function keysetOrder(alias: string, direction: 'newest' | 'oldest'): Prisma.Sql {
  const dir = direction === 'newest' ? 'DESC' : 'ASC';
  return Prisma.raw(`ORDER BY ${alias}.created_at ${dir}, ${alias}.id ${dir}`);
}

/** The window's own bounds: after its `after` key, before its `before` key. */
function windowConditions(alias: string, window: KeysetWindow): Array<Prisma.Sql | null> {
  return [
    window.after ? keysetCondition(alias, '<', window.after) : null,
    window.before ? keysetCondition(alias, '>', window.before) : null,
  ];
}

/**
 * The one row nearest the page on the far side of the key it starts from
 * (at or before `after` when taking first, at or after `before` when taking
 * last), if the window has that key: whether rows exist there.
 */
function probeCondition(alias: string, window: KeysetWindow): { condition: Prisma.Sql; direction: 'newest' | 'oldest' } | null {
  if (window.take === 'first' && window.after) return { condition: keysetCondition(alias, '>=', window.after), direction: 'oldest' };
  if (window.take === 'last' && window.before) return { condition: keysetCondition(alias, '<=', window.before), direction: 'newest' };
  return null;
}

/**
 * One statement for a window of `table` (aliased `alias`) among the rows
 * matching `conditions`: up to `count + 1` rows from the window's taking end
 * (the extra one says whether there are more), and the probe row beyond its
 * starting key, each tagged by a `"probe"` column. `conditions` may refer to
 * an outer query (e.g. a LATERAL join's key).
 */
export function keysetStatement<T extends Table<any>>(
  table: T,
  alias: string,
  conditions: ReadonlyArray<Prisma.Sql | null>,
  window: KeysetWindow,
): Prisma.Sql {
  const columns = table.selectList(alias);
  const from = Prisma.sql`${table.ref()} ${Prisma.raw(alias)}`;
  const direction = window.take === 'first' ? 'newest' : 'oldest';
  const page = Prisma.sql`(SELECT ${columns}, false AS "probe" FROM ${from}
    ${whereAll([...conditions, ...windowConditions(alias, window)])} ${keysetOrder(alias, direction)} LIMIT ${window.count + 1})`;
  const probe = probeCondition(alias, window);
  if (!probe) return page;
  return Prisma.sql`${page} UNION ALL (SELECT ${columns}, true AS "probe" FROM ${from}
    ${whereAll([...conditions, probe.condition])} ${keysetOrder(alias, probe.direction)} LIMIT 1)`;
}

const newestFirst = (a: Keyset, b: Keyset) =>
  b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * A page from the rows a `keysetStatement` returned (for one window; a
 * batch splits its rows per window first). Sorted here: UNION ALL and joins
 * promise no order. Ids compare as text the way PostgreSQL compares uuids.
 */
export function toKeysetPage<V extends Keyset>(rows: ReadonlyArray<{ view: V; probe: boolean }>, window: KeysetWindow): KeysetPage<V> {
  const page = rows.filter((r) => !r.probe).map((r) => r.view);
  const beyondStart = rows.some((r) => r.probe);
  page.sort(newestFirst);
  const more = page.length > window.count;
  if (window.take === 'first') return { rows: page.slice(0, window.count), hasNext: more, hasPrevious: beyondStart };
  return { rows: page.slice(page.length - Math.min(page.length, window.count)), hasNext: beyondStart, hasPrevious: more };
}

type Row = Record<string, unknown> & { probe: boolean };

/** A window of `table` among the rows matching `conditions` (on alias `t`). */
export async function keysetPage<T extends Table<any>>(
  db: SqlClient,
  table: T,
  conditions: ReadonlyArray<Prisma.Sql | null>,
  window: KeysetWindow,
): Promise<KeysetPage<ViewOf<T['columns']> & Keyset>> {
  const rows = await db.$queryRaw<Row[]>`${keysetStatement(table, 't', conditions, window)}`;
  return toKeysetPage(
    rows.map((row) => ({ view: table.fromRow(row) as ViewOf<T['columns']> & Keyset, probe: row.probe })),
    window,
  );
}

/** How many rows of `table` match `conditions` (on alias `t`). */
export async function countRows(db: SqlClient, table: Table<any>, conditions: ReadonlyArray<Prisma.Sql | null>): Promise<number> {
  const [row] = await db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM ${table.ref()} t ${whereAll(conditions)}`;
  return row?.n ?? 0;
}
