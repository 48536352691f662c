import type { SqlClient } from '../eventlog/sql-client.js';
import type { OrderStatus } from '../domain/orders.js';
import type { Change, ChangeKey } from './change-key.js';
import type { OrderView, OrderViewItem } from './orders/view.js';
import type { UserView } from './users/view.js';

type Json = Record<string, any>;

/** An order view from its row JSON (as kept in `order_view_change`). */
export function orderViewFromRow(r: Json): OrderView {
  return {
    id: r.id,
    userId: r.user_id,
    userName: r.user_name,
    userEmail: r.user_email,
    items: r.items as OrderViewItem[],
    itemCount: r.item_count,
    total: typeof r.total === 'number' ? r.total.toFixed(2) : String(r.total),
    status: r.status as OrderStatus,
    cancellationReason: r.cancellation_reason ?? null,
    cancelledBy: r.cancelled_by ?? null,
    version: r.version,
    lastTx: BigInt(r.last_tx),
    lastPos: BigInt(r.last_pos),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function userViewFromRow(r: Json): UserView {
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    version: r.version,
    orderCount: r.order_count,
    totalSpent: typeof r.total_spent === 'number' ? r.total_spent.toFixed(2) : String(r.total_spent),
    lastTx: BigInt(r.last_tx),
    lastPos: BigInt(r.last_pos),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

interface ChangeRow {
  tx: string;
  pos: string;
  id: string;
  view: Json;
}

const toChange =
  <V>(parse: (r: Json) => V) =>
  (row: ChangeRow): Change<V> => ({ key: { tx: BigInt(row.tx), pos: BigInt(row.pos), id: row.id }, view: parse(row.view) });

export interface OrderChangeFilter {
  readonly orderId?: string | null;
  readonly userId?: string | null;
  readonly status?: OrderStatus | null;
}

/**
 * Order-view changes after `after`, in key order, optionally filtered (as of each change).
 * ORDER BY names the table's columns (`c.tx`): a bare `tx` would sort by the
 * `tx::text` output column, and "1000" sorts before "999".
 */
export async function orderChangesAfter(
  db: SqlClient,
  after: ChangeKey,
  limit: number,
  filter: OrderChangeFilter = {},
): Promise<Array<Change<OrderView>>> {
  const rows = await db.$queryRaw<ChangeRow[]>`
    SELECT tx::text, pos::text, order_id::text AS id, view FROM order_view_change c
    WHERE (tx, pos, order_id) > (${after.tx}::bigint, ${after.pos}::bigint, ${after.id || '00000000-0000-0000-0000-000000000000'}::uuid)
      AND (${filter.orderId ?? null}::uuid IS NULL OR order_id = ${filter.orderId ?? null}::uuid)
      AND (${filter.userId ?? null}::text IS NULL OR view->>'user_id' = ${filter.userId ?? null}::text)
      AND (${filter.status ?? null}::text IS NULL OR view->>'status' = ${filter.status ?? null}::text)
    ORDER BY c.tx, c.pos, c.order_id
    LIMIT ${limit}`;
  return rows.map(toChange(orderViewFromRow));
}

export async function userChangesAfter(
  db: SqlClient,
  after: ChangeKey,
  limit: number,
  userId?: string,
): Promise<Array<Change<UserView>>> {
  const rows = await db.$queryRaw<ChangeRow[]>`
    SELECT tx::text, pos::text, user_id::text AS id, view FROM user_view_change c
    WHERE (tx, pos, user_id) > (${after.tx}::bigint, ${after.pos}::bigint, ${after.id || '00000000-0000-0000-0000-000000000000'}::uuid)
      AND (${userId ?? null}::uuid IS NULL OR user_id = ${userId ?? null}::uuid)
    ORDER BY c.tx, c.pos, c.user_id
    LIMIT ${limit}`;
  return rows.map(toChange(userViewFromRow));
}

/** The newest change key of a history table (where a live feed starts). */
export async function lastChangeKey(db: SqlClient, table: 'order_view_change' | 'user_view_change'): Promise<ChangeKey> {
  const rows =
    table === 'order_view_change'
      ? await db.$queryRaw<Array<{ tx: string; pos: string; id: string }>>`
          SELECT tx::text, pos::text, order_id::text AS id FROM order_view_change c ORDER BY c.tx DESC, c.pos DESC, c.order_id DESC LIMIT 1`
      : await db.$queryRaw<Array<{ tx: string; pos: string; id: string }>>`
          SELECT tx::text, pos::text, user_id::text AS id FROM user_view_change c ORDER BY c.tx DESC, c.pos DESC, c.user_id DESC LIMIT 1`;
  const row = rows[0];
  return row ? { tx: BigInt(row.tx), pos: BigInt(row.pos), id: row.id } : { tx: 0n, pos: 0n, id: '' };
}
