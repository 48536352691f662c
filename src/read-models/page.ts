import type { Prisma } from '../generated/prisma/client.js';
import type { SqlClient } from '../sql/client.js';
import { whereAll } from '../sql/fragments.js';
import type { Table } from '../sql/table.js';

/**
 * The ids of a page of a view table, newest first (`created_at DESC, id
 * DESC`, which each such table indexes) among the rows meeting every
 * condition, and how many rows meet them: the page's entities are then loaded
 * by id, through the cache.
 */
export async function pageIdsOf(
  db: SqlClient,
  table: Table<any>,
  page: number,
  pageSize: number,
  conditions: ReadonlyArray<Prisma.Sql | null> = [],
): Promise<{ ids: string[]; total: number }> {
  const where = whereAll(conditions);
  const [rows, [count]] = await Promise.all([
    db.$queryRaw<Array<{ id: string }>>`
      SELECT t.id::text FROM ${table.ref()} t ${where}
      ORDER BY t.created_at DESC, t.id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM ${table.ref()} t ${where}`,
  ]);
  return { ids: rows.map((row) => row.id), total: count?.n ?? 0 };
}
