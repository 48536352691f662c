import type { SqlClient } from '../sql/client.js';
import type { Table, ViewOf } from '../sql/table.js';

/**
 * A page of a view table, newest first (`created_at DESC, id DESC`, which
 * each such table indexes), and how many rows there are in all.
 */
export async function pageOf<T extends Table<any>>(
  db: SqlClient,
  table: T,
  page: number,
  pageSize: number,
): Promise<{ items: Array<ViewOf<T['columns']>>; total: number }> {
  const [rows, [count]] = await Promise.all([
    db.$queryRaw<Array<Record<string, unknown>>>`
      SELECT ${table.selectList('t')} FROM ${table.ref()} t
      ORDER BY t.created_at DESC, t.id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM ${table.ref()}`,
  ]);
  return { items: rows.map((row) => table.fromRow(row)), total: count?.n ?? 0 };
}
