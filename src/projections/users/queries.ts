import { Prisma } from '../../generated/prisma/client.js';
import type { SqlClient } from '../../eventlog/sql-client.js';
import { idArray } from '../sql.js';
import type { UserView } from './view.js';

/** A `user_view` row as the queries below select it (plain SQL: see orders/queries.ts). */
interface UserViewRow {
  id: string;
  name: string;
  email: string;
  version: number;
  order_count: number;
  total_spent: string;
  last_tx: string;
  last_pos: string;
  created_at: Date;
  updated_at: Date;
}

const USER_VIEW_COLUMNS = Prisma.raw(
  'id::text, name, email, version, order_count, total_spent::text, last_tx::text, last_pos::text, created_at, updated_at',
);

export function toUserView(row: UserViewRow): UserView {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    version: row.version,
    orderCount: row.order_count,
    totalSpent: row.total_spent,
    lastTx: BigInt(row.last_tx),
    lastPos: BigInt(row.last_pos),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function usersByIds(db: SqlClient, ids: readonly string[]): Promise<UserView[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRaw<UserViewRow[]>`SELECT ${USER_VIEW_COLUMNS} FROM user_view WHERE id = ANY(${idArray(ids)})`;
  return rows.map(toUserView);
}

/** A page of users, newest first. */
export async function listUsers(db: SqlClient, page: number, pageSize: number) {
  const [rows, [count]] = await Promise.all([
    db.$queryRaw<UserViewRow[]>`
      SELECT ${USER_VIEW_COLUMNS} FROM user_view ORDER BY user_view.created_at DESC, user_view.id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM user_view`,
  ]);
  return { items: rows.map(toUserView), total: count?.n ?? 0 };
}
