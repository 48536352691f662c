import { Prisma } from '../../generated/prisma/client.js';
import type { SqlClient } from '../../eventlog/sql-client.js';
import type { OrderStatus } from '../../domain/orders.js';
import { idArray } from '../sql.js';
import type { OrderView, OrderViewItem } from './view.js';

/**
 * Read-model queries are plain SQL through the SqlClient port, not Prisma
 * model queries: Prisma 6.19 compiles every model query in its WASM query
 * compiler — 1.9 ms of CPU per `findMany`, 0.6 ms for the same statement as
 * `$queryRaw`, 0.15 ms on `pg` directly, which the port uses on PostgreSQL
 * (bench/micro/prisma-overhead.ts). Columns come back cast to text where
 * drivers would disagree (int8, numeric, enums), and are mapped here.
 */
interface OrderViewRow {
  id: string;
  user_id: string;
  user_name: string;
  user_email: string;
  items: OrderViewItem[];
  item_count: number;
  total: string;
  status: OrderStatus;
  cancellation_reason: string | null;
  cancelled_by: 'customer' | 'staff' | null;
  version: number;
  last_tx: string;
  last_pos: string;
  created_at: Date;
  updated_at: Date;
}

const ORDER_VIEW_COLUMNS = Prisma.raw(`id::text, user_id::text, user_name, user_email, items, item_count, total::text,
  status::text, cancellation_reason, cancelled_by, version, last_tx::text, last_pos::text, created_at, updated_at`);

export function toOrderView(row: OrderViewRow): OrderView {
  return {
    id: row.id,
    userId: row.user_id,
    userName: row.user_name,
    userEmail: row.user_email,
    items: row.items,
    itemCount: row.item_count,
    total: row.total,
    status: row.status,
    cancellationReason: row.cancellation_reason,
    cancelledBy: row.cancelled_by,
    version: row.version,
    lastTx: BigInt(row.last_tx),
    lastPos: BigInt(row.last_pos),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function ordersByIds(db: SqlClient, ids: readonly string[]): Promise<OrderView[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRaw<OrderViewRow[]>`
    SELECT ${ORDER_VIEW_COLUMNS} FROM order_view WHERE id = ANY(${idArray(ids)})`;
  return rows.map(toOrderView);
}

export interface OrderFilter {
  readonly userId?: string | null;
  readonly status?: OrderStatus | null;
}

/** A page of orders matching the filter, newest first. */
export async function listOrders(db: SqlClient, filter: OrderFilter, page: number, pageSize: number) {
  const conditions: Prisma.Sql[] = [];
  if (filter.userId != null) conditions.push(Prisma.sql`user_id = ${filter.userId}::uuid`);
  if (filter.status != null) conditions.push(Prisma.sql`status = ${filter.status}::"OrderStatus"`);
  const where = conditions.length ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
  const [rows, [count]] = await Promise.all([
    db.$queryRaw<OrderViewRow[]>`
      SELECT ${ORDER_VIEW_COLUMNS} FROM order_view ${where}
      ORDER BY order_view.created_at DESC, order_view.id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM order_view ${where}`,
  ]);
  return { items: rows.map(toOrderView), total: count?.n ?? 0 };
}

/**
 * The same page of orders for many users in two statements (rows via a window
 * function, totals via GROUP BY): what `User.orders` batches through.
 */
export async function ordersPageForUsers(
  db: SqlClient,
  userIds: readonly string[],
  page: number,
  pageSize: number,
): Promise<Map<string, { items: OrderView[]; total: number }>> {
  const result = new Map<string, { items: OrderView[]; total: number }>(userIds.map((id) => [id, { items: [], total: 0 }]));
  if (userIds.length === 0) return result;
  const first = (page - 1) * pageSize;
  const [rows, totals] = await Promise.all([
    db.$queryRaw<OrderViewRow[]>`
      SELECT ${ORDER_VIEW_COLUMNS} FROM (
        SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, id DESC) - 1 AS n
        FROM order_view WHERE user_id = ANY(${idArray(userIds)})
      ) ranked WHERE n >= ${first} AND n < ${first + pageSize}`,
    db.$queryRaw<Array<{ user_id: string; n: number }>>`
      SELECT user_id::text, count(*)::int AS n FROM order_view WHERE user_id = ANY(${idArray(userIds)}) GROUP BY user_id`,
  ]);
  for (const t of totals) result.get(t.user_id)!.total = t.n;
  const views = rows.map(toOrderView);
  views.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  for (const view of views) result.get(view.userId)!.items.push(view);
  return result;
}
