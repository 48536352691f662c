import type {
  UserView as UserViewModel,
  UserViewChange as UserViewChangeModel,
  UserViewOrder as UserViewOrderModel,
} from '../../generated/prisma-read/client.js';
import type { TraceCarrier } from '../../eventlog/types.js';
import { bigint, boolean, defineTable, int, jsonb, money, nullable, text, timestamptz, uuid, type ViewOf } from '../../sql/table.js';

/** The user read model: profile, order count and money spent. */
export const USER_VIEW = defineTable<UserViewModel>()('user_view', ['id'], {
  id: uuid('id'),
  name: text('name'),
  email: text('email'),
  version: int('version'),
  /** Orders placed, in any status. */
  orderCount: int('order_count'),
  /** Sum of totals of orders not cancelled. */
  totalSpent: money('total_spent'),
  lastTx: bigint('last_tx'),
  lastPos: bigint('last_pos'),
  createdAt: timestamptz('created_at'),
  updatedAt: timestamptz('updated_at'),
});

export type UserView = ViewOf<typeof USER_VIEW.columns>;

/** What the users projection remembers of each order, to undo a cancelled total. */
export const USER_VIEW_ORDER = defineTable<UserViewOrderModel>()('user_view_order', ['order_id'], {
  orderId: uuid('order_id'),
  userId: uuid('user_id'),
  total: money('total'),
  cancelled: boolean('cancelled'),
  version: int('version'),
});

export type UserOrderRecord = ViewOf<typeof USER_VIEW_ORDER.columns>;

/** Every state a user view passed through, keyed by the event that caused it. */
export const USER_VIEW_CHANGE = defineTable<UserViewChangeModel>()('user_view_change', ['tx', 'pos', 'user_id'], {
  tx: bigint('tx'),
  pos: bigint('pos'),
  userId: uuid('user_id'),
  /** The view as `USER_VIEW.toRecord` makes it. */
  view: jsonb<Record<string, unknown>>('view'),
  /** The trace context of the command whose event caused the change (`traceOf`), when it was traced. */
  traceContext: nullable(jsonb<TraceCarrier>('trace_context')),
});
