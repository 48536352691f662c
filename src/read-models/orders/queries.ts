import { Prisma } from '../../generated/prisma/client.js';
import type { OrderStatus } from '../../domain/orders.js';
import type { SqlClient } from '../../sql/client.js';
import { idArray, whereAll } from '../../sql/fragments.js';
import { countRows, keysetPage, keysetStatement, toKeysetPage, type KeysetPage, type KeysetWindow } from '../keyset.js';
import { pageIdsOf } from '../page.js';
import { ORDER_VIEW, type OrderView } from './tables.js';

/*
 * Read-model queries are plain SQL through the SqlClient port, never Prisma
 * model queries (see the README's "How Prisma is used"). Rows are selected
 * and mapped by the table's definition.
 */

const COLUMNS = ORDER_VIEW.selectList();

const toView = (row: Record<string, unknown>) => ORDER_VIEW.fromRow(row);

export async function ordersByIds(db: SqlClient, ids: readonly string[]): Promise<OrderView[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT ${COLUMNS} FROM order_view WHERE id = ANY(${idArray(ids)})`;
  return rows.map(toView);
}

export interface OrderFilter {
  readonly userId?: string | null;
  readonly status?: OrderStatus | null;
}

function filterConditions(filter: OrderFilter): Array<Prisma.Sql | null> {
  return [
    filter.userId != null ? Prisma.sql`user_id = ${filter.userId}::uuid` : null,
    filter.status != null ? Prisma.sql`status = ${filter.status}::"OrderStatus"` : null,
  ];
}

function orderConditions(filter: OrderFilter): Prisma.Sql {
  return whereAll(filterConditions(filter));
}

/**
 * The ids of a page of orders of a customer (or of all), newest first, and
 * how many there are: the entities are then loaded by id, through the cache.
 * Only for filters on what never changes: a status filter reads its rows in
 * the statement that chose them (listOrders), so that no order on the page
 * shows another status than the one asked for.
 */
export const listOrderIds = (db: SqlClient, filter: { readonly userId?: string | null }, page: number, pageSize: number) =>
  pageIdsOf(db, ORDER_VIEW, page, pageSize, filterConditions(filter));

/** A page of orders matching the filter, newest first. */
export async function listOrders(db: SqlClient, filter: OrderFilter, page: number, pageSize: number) {
  const where = orderConditions(filter);
  const [rows, [count]] = await Promise.all([
    db.$queryRaw<Array<Record<string, unknown>>>`
      SELECT ${COLUMNS} FROM order_view ${where}
      ORDER BY order_view.created_at DESC, order_view.id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM order_view ${where}`,
  ]);
  return { items: rows.map(toView), total: count?.n ?? 0 };
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
    db.$queryRaw<Array<Record<string, unknown>>>`
      SELECT ${COLUMNS} FROM (
        SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, id DESC) - 1 AS n
        FROM order_view WHERE user_id = ANY(${idArray(userIds)})
      ) ranked WHERE n >= ${first} AND n < ${first + pageSize}`,
    db.$queryRaw<Array<{ user_id: string; n: number }>>`
      SELECT user_id::text, count(*)::int AS n FROM order_view WHERE user_id = ANY(${idArray(userIds)}) GROUP BY user_id`,
  ]);
  for (const t of totals) result.get(t.user_id)!.total = t.n;
  const views = rows.map(toView);
  views.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  for (const view of views) result.get(view.userId)!.items.push(view);
  return result;
}

/** A window of the orders matching the filter, newest first (keyset: one statement, as cheap far in as at the start). */
export function ordersWindow(db: SqlClient, filter: OrderFilter, window: KeysetWindow): Promise<KeysetPage<OrderView>> {
  return keysetPage(db, ORDER_VIEW, filterConditions(filter), window);
}

/** How many orders match the filter. */
export function countOrders(db: SqlClient, filter: OrderFilter): Promise<number> {
  return countRows(db, ORDER_VIEW, filterConditions(filter));
}

/**
 * The same window of orders for many users in one statement: each user's
 * window through the `(user_id, created_at DESC, id DESC)` index, joined
 * LATERAL to the list of users. What `User.ordersConnection` batches through.
 */
export async function ordersWindowForUsers(
  db: SqlClient,
  userIds: readonly string[],
  window: KeysetWindow,
): Promise<Map<string, KeysetPage<OrderView>>> {
  const rows = new Map<string, Array<{ view: OrderView; probe: boolean }>>(userIds.map((id) => [id, []]));
  if (userIds.length > 0) {
    const each = keysetStatement(ORDER_VIEW, 't', [Prisma.sql`t.user_id = k.owner`], window);
    const found = await db.$queryRaw<Array<Record<string, unknown> & { probe: boolean }>>`
      SELECT w.* FROM unnest(${idArray(userIds)}) AS k(owner) CROSS JOIN LATERAL (${each}) w`;
    for (const row of found) {
      const view = toView(row);
      rows.get(view.userId)!.push({ view, probe: row.probe });
    }
  }
  return new Map([...rows].map(([id, userRows]) => [id, toKeysetPage(userRows, window)]));
}

/** How many orders each user has placed (0 for none). */
export async function countOrdersForUsers(db: SqlClient, userIds: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>(userIds.map((id) => [id, 0]));
  if (userIds.length === 0) return counts;
  const rows = await db.$queryRaw<Array<{ user_id: string; n: number }>>`
    SELECT user_id::text, count(*)::int AS n FROM order_view WHERE user_id = ANY(${idArray(userIds)}) GROUP BY user_id`;
  for (const row of rows) counts.set(row.user_id, row.n);
  return counts;
}
