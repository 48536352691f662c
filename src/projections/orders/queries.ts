import type { OrderStatus } from '../../domain/orders.js';
import type { OrderView as OrderViewRow, PrismaClient } from '../../generated/prisma/client.js';
import type { ReadModelTx } from '../projection.js';
import type { OrderView, OrderViewItem } from './view.js';

export function toOrderView(row: OrderViewRow): OrderView {
  return { ...row, total: row.total.toFixed(2), items: row.items as unknown as OrderViewItem[] };
}

export async function ordersByIds(db: PrismaClient | ReadModelTx, ids: readonly string[]): Promise<OrderView[]> {
  if (ids.length === 0) return [];
  const rows = await db.orderView.findMany({ where: { id: { in: [...ids] } } });
  return rows.map(toOrderView);
}

export interface OrderFilter {
  readonly userId?: string | null;
  readonly status?: OrderStatus | null;
}

/** A page of orders matching the filter, newest first. */
export async function listOrders(db: PrismaClient, filter: OrderFilter, page: number, pageSize: number) {
  const where = {
    ...(filter.userId != null && { userId: filter.userId }),
    ...(filter.status != null && { status: filter.status }),
  };
  const [rows, total] = await Promise.all([
    db.orderView.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      skip: (page - 1) * pageSize,
      take: pageSize,
    }),
    db.orderView.count({ where }),
  ]);
  return { items: rows.map(toOrderView), total };
}

/**
 * The same page of orders for many users in two statements (rows via a window
 * function, totals via GROUP BY): what `User.orders` batches through.
 */
export async function ordersPageForUsers(
  db: PrismaClient,
  userIds: readonly string[],
  page: number,
  pageSize: number,
): Promise<Map<string, { items: OrderView[]; total: number }>> {
  const result = new Map<string, { items: OrderView[]; total: number }>(userIds.map((id) => [id, { items: [], total: 0 }]));
  if (userIds.length === 0) return result;
  const first = (page - 1) * pageSize;
  const [ids, totals] = await Promise.all([
    db.$queryRaw<Array<{ id: string }>>`
      SELECT id::text FROM (
        SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, id DESC) - 1 AS n
        FROM order_view WHERE user_id = ANY(string_to_array(${userIds.join(",")}, ',')::uuid[])
      ) ranked WHERE n >= ${first} AND n < ${first + pageSize}`,
    db.orderView.groupBy({ by: ['userId'], where: { userId: { in: [...userIds] } }, _count: { _all: true } }),
  ]);
  for (const t of totals) result.get(t.userId)!.total = t._count._all;
  const views = await ordersByIds(db, ids.map((r) => r.id));
  views.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  for (const view of views) result.get(view.userId)!.items.push(view);
  return result;
}
