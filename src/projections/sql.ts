import { Prisma } from '../generated/prisma/client.js';
import type { ReadModelTx } from './projection.js';

/** A read-model table for batch upserts: column name → SQL type. */
export interface TableSpec {
  readonly table: string;
  readonly key: string;
  readonly columns: Readonly<Record<string, string>>;
}

/**
 * `$ids` as a uuid[] parameter: one text parameter split in SQL, which both
 * drivers (PostgreSQL and PGlite) bind the same way.
 */
export function idArray(ids: readonly string[]): Prisma.Sql {
  return Prisma.sql`string_to_array(${ids.join(',')}, ',')::uuid[]`;
}

/**
 * `INSERT INTO table (cols) SELECT cols FROM jsonb_to_recordset($rows)`: many rows, one statement.
 * Rows carry bigints and timestamps as strings already (JSON has no bigint): a
 * replacer function would be called for every value and take JSON.stringify
 * off its fast path (about twice as slow), and Date values cost a toJSON call
 * each (500 order rows: 2.1 ms with Dates, 1.6 ms with ISO strings).
 */
function insertFromJson(spec: TableSpec, rows: ReadonlyArray<Record<string, unknown>>): Prisma.Sql {
  const names = Object.keys(spec.columns);
  const columnList = Prisma.raw(names.map((n) => `"${n}"`).join(', '));
  const recordType = Prisma.raw(names.map((n) => `"${n}" ${spec.columns[n]}`).join(', '));
  return Prisma.sql`
    INSERT INTO ${Prisma.raw(`"${spec.table}"`)} (${columnList})
    SELECT ${columnList} FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(${recordType})`;
}

/**
 * `INSERT … ON CONFLICT (key) DO UPDATE` for many rows: one statement, so a
 * batch of events costs one round trip per table rather than one per row
 * (null when there are no rows). Table and column names come from code,
 * never from input.
 */
export function upsertStatement(spec: TableSpec, rows: ReadonlyArray<Record<string, unknown>>): Prisma.Sql | null {
  if (rows.length === 0) return null;
  const updates = Object.keys(spec.columns)
    .filter((n) => n !== spec.key)
    .map((n) => `"${n}" = EXCLUDED."${n}"`)
    .join(', ');
  return Prisma.sql`${insertFromJson(spec, rows)}
    ON CONFLICT (${Prisma.raw(`"${spec.key}"`)}) DO UPDATE SET ${Prisma.raw(updates)}`;
}

/**
 * Appends rows to a change-history table; rows already there (a replay)
 * are left as they are (null when there are no rows).
 */
export function changesStatement(spec: TableSpec, rows: ReadonlyArray<Record<string, unknown>>): Prisma.Sql | null {
  if (rows.length === 0) return null;
  return Prisma.sql`${insertFromJson(spec, rows)} ON CONFLICT DO NOTHING`;
}

/**
 * Sends a batch's writes as ONE statement — all but the last as
 * data-modifying CTEs (`WITH w0 AS (…), w1 AS (…) <last>`) — so a projection
 * batch costs one round trip for all its tables. PostgreSQL runs every part
 * exactly once, all on the database as it was before the statement: no part
 * may depend on another's effect, and no two may change the same row.
 */
export async function writeAll(tx: ReadModelTx, statements: ReadonlyArray<Prisma.Sql | null>): Promise<void> {
  const parts = statements.filter((s): s is Prisma.Sql => s !== null);
  if (parts.length === 0) return;
  const last = parts.pop()!;
  if (parts.length === 0) {
    await tx.$executeRaw`${last}`;
    return;
  }
  const ctes = Prisma.join(parts.map((part, i) => Prisma.sql`${Prisma.raw(`w${i}`)} AS (${part})`), ', ');
  await tx.$executeRaw`WITH ${ctes} ${last}`;
}
