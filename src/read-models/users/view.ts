import { assertNever } from '../../domain/errors.js';
import { centsFromDecimal, formatMoney } from '../../domain/money.js';
import type { OrderCancelled, OrderPlaced } from '../../domain/orders.js';
import type { UserEvent } from '../../domain/users.js';
import type { StoredEvent } from '../../eventlog/types.js';
import type { UserOrderRecord, UserView } from './tables.js';

export type { UserOrderRecord, UserView } from './tables.js';

export const USER_EVENTS = new Set<string>(['UserRegistered', 'UserProfileUpdated']);
export const USER_ORDER_EVENTS = new Set<string>(['OrderPlaced', 'OrderCancelled']);

/** Pure: the user view after one of the user's own events. */
export function evolveUserView(view: UserView | null, event: StoredEvent<UserEvent>): UserView {
  const stamp = { version: event.aggregateVersion, lastTx: event.cursor.tx, lastPos: event.cursor.pos };
  switch (event.type) {
    case 'UserRegistered':
      return {
        id: event.data.userId, name: event.data.name, email: event.data.email, ...stamp,
        orderCount: 0, totalSpent: '0.00', createdAt: event.occurredAt, updatedAt: event.occurredAt,
      };
    case 'UserProfileUpdated':
      if (!view) throw new Error(`UserProfileUpdated for unknown user ${event.data.userId}`);
      return { ...view, ...stamp, name: event.data.name, email: event.data.email, updatedAt: event.occurredAt };
    default:
      return assertNever(event);
  }
}

/**
 * Pure: a user's view and order record after an order event. Returns null when
 * the event changes nothing (e.g. a second cancellation).
 */
export function evolveUserOrder(
  view: UserView,
  record: UserOrderRecord | null,
  event: StoredEvent<OrderPlaced | OrderCancelled>,
): { view: UserView; record: UserOrderRecord } | null {
  const stamp = { lastTx: event.cursor.tx, lastPos: event.cursor.pos };
  const spent = centsFromDecimal(view.totalSpent);
  switch (event.type) {
    case 'OrderPlaced': {
      if (record) return null;
      const { orderId, userId, total } = event.data;
      return {
        view: { ...view, ...stamp, orderCount: view.orderCount + 1, totalSpent: formatMoney(spent + centsFromDecimal(total)) },
        record: { orderId, userId, total, cancelled: false, version: event.aggregateVersion },
      };
    }
    case 'OrderCancelled': {
      if (!record || record.cancelled) return null;
      return {
        view: { ...view, ...stamp, totalSpent: formatMoney(spent - centsFromDecimal(record.total)) },
        record: { ...record, cancelled: true, version: event.aggregateVersion },
      };
    }
    default:
      return assertNever(event);
  }
}
