import type { OrderStatus } from '../../domain/orders.js';
import type { TraceCarrier } from '../../eventlog/types.js';
import type {
  OrderView as OrderViewModel,
  OrderViewChange as OrderViewChangeModel,
  OrderViewUser as OrderViewUserModel,
} from '../../generated/prisma-read/client.js';
import { bigint, defineTable, enumOf, int, jsonb, money, nullable, text, timestamptz, uuid, type ViewOf } from '../../sql/table.js';

export interface OrderViewItem {
  readonly productId: string;
  /** As of placement: what the customer bought. */
  readonly productName: string;
  readonly quantity: number;
  /** Unit price as of placement. */
  readonly price: string;
  readonly subtotal: string;
}

/** The denormalized order read model: one row per order. */
export const ORDER_VIEW = defineTable<OrderViewModel>()('order_view', ['id'], {
  id: uuid('id'),
  userId: uuid('user_id'),
  /** The customer's current name and email: they follow profile updates. */
  userName: text('user_name'),
  userEmail: text('user_email'),
  items: jsonb<readonly OrderViewItem[]>('items'),
  itemCount: int('item_count'),
  total: money('total'),
  status: enumOf<OrderStatus>('status', 'OrderStatus'),
  cancellationReason: nullable(text('cancellation_reason')),
  /** Who cancelled it; null when not cancelled, or cancelled before this was recorded. */
  cancelledBy: nullable(text<'customer' | 'staff'>('cancelled_by')),
  version: int('version'),
  lastTx: bigint('last_tx'),
  lastPos: bigint('last_pos'),
  createdAt: timestamptz('created_at'),
  updatedAt: timestamptz('updated_at'),
});

export type OrderView = ViewOf<typeof ORDER_VIEW.columns>;

/** The orders projection's own copy of a customer's name, kept from user events. */
export const ORDER_VIEW_USER = defineTable<OrderViewUserModel>()('order_view_user', ['id'], {
  id: uuid('id'),
  name: text('name'),
  email: text('email'),
  version: int('version'),
});

export type Customer = ViewOf<typeof ORDER_VIEW_USER.columns>;

/** Every state an order view passed through, keyed by the event that caused it. */
export const ORDER_VIEW_CHANGE = defineTable<OrderViewChangeModel>()('order_view_change', ['tx', 'pos', 'order_id'], {
  tx: bigint('tx'),
  pos: bigint('pos'),
  orderId: uuid('order_id'),
  version: int('version'),
  /** The view as `ORDER_VIEW.toRecord` makes it. */
  view: jsonb<Record<string, unknown>>('view'),
  /** The trace context of the command whose event caused the change (`traceOf`), when it was traced. */
  traceContext: nullable(jsonb<TraceCarrier>('trace_context')),
});
