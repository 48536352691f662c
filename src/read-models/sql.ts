import { Prisma } from '../generated/prisma/client.js';
import type { SqlClient } from '../sql/client.js';
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

/**
 * `INSERT … ON CONFLICT (key) DO UPDATE` for many views: one statement, so a
 * batch of events costs one round trip per table rather than one per row
 * (null when there are none).
 */
export function upsertStatement<T extends AnyTable>(table: T, views: ReadonlyArray<ViewOf<T['columns']>>): Prisma.Sql | null {
  if (views.length === 0) return null;
  const updates = table.columnNames
    .filter((n) => !table.key.includes(n))
    .map((n) => `"${n}" = EXCLUDED."${n}"`)
    .join(', ');
  return Prisma.sql`${insertFromJson(table, views)}
    ON CONFLICT (${Prisma.raw(table.key.map((k) => `"${k}"`).join(', '))}) DO UPDATE SET ${Prisma.raw(updates)}`;
}

/**
 * Appends rows to a change-history table; rows already there (a replay)
 * are left as they are (null when there are none). Of rows with the same key
 * the last is kept: a redrive applies several events of a view at one
 * position, and the history records the state it ends in.
 */
export function appendStatement<T extends AnyTable>(table: T, rows: ReadonlyArray<ViewOf<T['columns']>>): Prisma.Sql | null {
  if (rows.length === 0) return null;
  return Prisma.sql`${insertRecords(table, lastPerKey(table, rows.map((r) => table.toRecord(r))))} ON CONFLICT DO NOTHING`;
}

function lastPerKey(table: AnyTable, records: ReadonlyArray<Record<string, unknown>>): Array<Record<string, unknown>> {
  const byKey = new Map<string, Record<string, unknown>>();
  for (const record of records) {
    const key = table.key.map((k) => String(record[k])).join('\u0000');
    byKey.delete(key); // re-inserted: the kept row takes the place of the last
    byKey.set(key, record);
  }
  return byKey.size === records.length ? [...records] : [...byKey.values()];
}

/**
 * Sends a batch's writes as ONE statement — all but the last as
 * data-modifying CTEs (`WITH w0 AS (…), w1 AS (…) <last>`) — so a projection
 * batch costs one round trip for all its tables. PostgreSQL runs every part
 * exactly once, all on the database as it was before the statement: no part
 * may depend on another's effect, and no two may change the same row.
 */
export async function writeAll(tx: SqlClient, statements: ReadonlyArray<Prisma.Sql | null>): Promise<void> {
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
