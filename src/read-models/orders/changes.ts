import { Prisma } from '../../generated/prisma/client.js';
import type { OrderStatus } from '../../domain/orders.js';
import type { SqlClient } from '../../sql/client.js';
import type { Change, ChangeKey } from '../change-key.js';
import { changesAfter, lastChangeKey } from '../changes.js';
import { ORDER_VIEW, ORDER_VIEW_CHANGE, type OrderView } from './tables.js';

export interface OrderChangeFilter {
  readonly orderId?: string | null;
  readonly userId?: string | null;
  readonly status?: OrderStatus | null;
}

/** Order-view changes after `after`, in key order, optionally filtered (as of each change). */
export function orderChangesAfter(
  db: SqlClient,
  after: ChangeKey,
  limit: number,
  filter: OrderChangeFilter = {},
): Promise<Array<Change<OrderView>>> {
  return changesAfter(db, ORDER_VIEW_CHANGE, 'orderId', ORDER_VIEW, after, limit, [
    filter.orderId != null ? Prisma.sql`order_id = ${filter.orderId}::uuid` : null,
    filter.userId != null ? Prisma.sql`view->>'user_id' = ${filter.userId}::text` : null,
    filter.status != null ? Prisma.sql`view->>'status' = ${filter.status}::text` : null,
  ]);
}

/** The newest key of the order change history (where a live feed starts). */
export const lastOrderChangeKey = (db: SqlClient) => lastChangeKey(db, ORDER_VIEW_CHANGE, 'orderId');
