import { Prisma } from '../generated/prisma/client.js';
import type { SharedSource } from '../sql/one-statement.js';
import type { Table, ViewOf } from '../sql/table.js';

type AnyTable = Table<any>;

/**
 * `INSERT INTO table (cols) SELECT cols FROM jsonb_to_recordset($rows)`: many rows, one statement.
 * Records carry bigints and timestamps as strings already (JSON has no bigint,
 * and a replacer function would take JSON.stringify off its fast path).
 */
function insertFromJson<T extends AnyTable>(table: T, views: ReadonlyArray<ViewOf<T['columns']>>): Prisma.Sql {
  return insertRecords(table, views.map((v) => table.toRecord(v)));
}

function insertRecords(table: AnyTable, rows: ReadonlyArray<Record<string, unknown>>): Prisma.Sql {
  const columns = table.columnList();
  const records = JSON.stringify(rows);
  return Prisma.sql`
    INSERT INTO ${table.ref()} (${columns})
    SELECT ${columns} FROM jsonb_to_recordset(${records}::jsonb) AS x(${table.recordType()})`;
}

/** `ON CONFLICT (key) DO UPDATE SET` every other column: an insert becomes an upsert. */
function onConflictUpdate(table: AnyTable): Prisma.Sql {
  const updates = table.columnNames
    .filter((n) => !table.key.includes(n))
    .map((n) => `"${n}" = EXCLUDED."${n}"`)
    .join(', ');
  return Prisma.sql`ON CONFLICT (${Prisma.raw(table.key.map((k) => `"${k}"`).join(', '))}) DO UPDATE SET ${Prisma.raw(updates)}`;
}

/**
 * `INSERT … ON CONFLICT (key) DO UPDATE` for many views: one statement, so a
 * batch of events costs one round trip per table rather than one per row
 * (null when there are none).
 */
export function upsertStatement<T extends AnyTable>(table: T, views: ReadonlyArray<ViewOf<T['columns']>>): Prisma.Sql | null {
  if (views.length === 0) return null;
  return Prisma.sql`${insertFromJson(table, views)}
    ${onConflictUpdate(table)}`;
}

/**
 * A change history and the state it ends in, from ONE copy of the rows (null
 * when there are none): the history rows are appended (one per key, see
 * lastPerKey; rows already there are kept), and each view they name is
 * upserted to the record in its last row in (tx, pos) order. Only for a batch
 * that records a history row for every state it leaves a view in: then that
 * row holds the view's state, and sending the views apart (`upsertStatement`)
 * would send each twice. The history keeps each record (`state.toRecord`)
 * in its `view` column, and the view's key in the column `idColumn`.
 */
export function historyWithState<H extends AnyTable, S extends AnyTable>(
  history: H,
  state: S,
  rows: ReadonlyArray<ViewOf<H['columns']>>,
  idColumn: string,
): SharedSource | null {
  if (rows.length === 0) return null;
  const name = `${history.name}_rows`;
  const records = JSON.stringify(lastPerKey(history, rows.map((r) => history.toRecord(r))));
  const historyColumns = history.columnList();
  const stateColumns = state.columnList();
  const latest = Prisma.raw(
    `SELECT DISTINCT ON ("${idColumn}") view AS record FROM ${name} ORDER BY "${idColumn}", tx DESC, pos DESC`,
  );
  return {
    name,
    select: Prisma.sql`SELECT * FROM jsonb_to_recordset(${records}::jsonb) AS x(${history.recordType()})`,
    statements: [
      Prisma.sql`INSERT INTO ${history.ref()} (${historyColumns}) SELECT ${historyColumns} FROM ${Prisma.raw(name)} ON CONFLICT DO NOTHING`,
      Prisma.sql`INSERT INTO ${state.ref()} (${stateColumns})
        SELECT ${state.columnList('r')} FROM (${latest}) l, jsonb_to_record(l.record) AS r(${state.recordType()})
        ${onConflictUpdate(state)}`,
    ],
  };
}

/**
 * Of rows with the same key the last is kept: a redrive applies several
 * events of a view at one position, and the history records the state it
 * ends in. Rows already in the history (a replay) are left as they are.
 */
function lastPerKey(table: AnyTable, records: ReadonlyArray<Record<string, unknown>>): Array<Record<string, unknown>> {
  const byKey = new Map<string, Record<string, unknown>>();
  for (const record of records) {
    const key = table.key.map((k) => String(record[k])).join('\u0000');
    byKey.delete(key); // re-inserted: the kept row takes the place of the last
    byKey.set(key, record);
  }
  return byKey.size === records.length ? [...records] : [...byKey.values()];
}
