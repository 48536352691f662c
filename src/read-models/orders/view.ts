import { assertNever } from '../../domain/errors.js';
import type { OrderEvent, OrderStatus } from '../../domain/orders.js';
import type { UserEvent } from '../../domain/users.js';
import type { StoredEvent } from '../../eventlog/types.js';
import type { Customer, OrderView } from './tables.js';

export type { Customer, OrderView, OrderViewItem } from './tables.js';

export const ORDER_EVENTS = new Set<string>([
  'OrderPlaced', 'OrderConfirmed', 'OrderShipped', 'OrderDelivered', 'OrderCancelled',
]);
export const CUSTOMER_EVENTS = new Set<string>(['UserRegistered', 'UserProfileUpdated']);

const DISPLAY: Record<OrderStatus, string> = {
  PENDING: 'Pending',
  CONFIRMED: 'Confirmed',
  SHIPPED: 'Shipped',
  DELIVERED: 'Delivered',
  CANCELLED: 'Cancelled',
};

/** "Pending", …, or "Cancelled (<reason>)". */
export function statusDisplay(view: Pick<OrderView, 'status' | 'cancellationReason'>): string {
  return view.status === 'CANCELLED' ? `Cancelled (${view.cancellationReason ?? ''})` : DISPLAY[view.status];
}

/** Pure: a customer record after a user event. */
export function evolveCustomer(_customer: Customer | null, event: StoredEvent<UserEvent>): Customer {
  return { id: event.data.userId, name: event.data.name, email: event.data.email, version: event.aggregateVersion };
}

/** Pure: the order view after one of its own events. */
export function evolveOrderView(
  view: OrderView | null,
  event: StoredEvent<OrderEvent>,
  customerOf: (userId: string) => Customer | undefined,
): OrderView {
  const stamp = { version: event.aggregateVersion, lastTx: event.cursor.tx, lastPos: event.cursor.pos, updatedAt: event.occurredAt };
  if (event.type === 'OrderPlaced') {
    const { orderId, userId, items, total } = event.data;
    const customer = customerOf(userId);
    return {
      id: orderId,
      userId,
      userName: customer?.name ?? '',
      userEmail: customer?.email ?? '',
      items: items.map((l) => ({
        productId: l.productId, productName: l.productName, quantity: l.quantity, price: l.unitPrice, subtotal: l.subtotal,
      })),
      itemCount: items.length,
      total,
      status: 'PENDING',
      cancellationReason: null,
      cancelledBy: null,
      createdAt: event.occurredAt,
      ...stamp,
    };
  }
  if (!view) throw new Error(`${event.type} for order ${event.aggregateId} arrived before OrderPlaced`);
  switch (event.type) {
    case 'OrderConfirmed':
      return { ...view, ...stamp, status: 'CONFIRMED' };
    case 'OrderShipped':
      return { ...view, ...stamp, status: 'SHIPPED' };
    case 'OrderDelivered':
      return { ...view, ...stamp, status: 'DELIVERED' };
    case 'OrderCancelled':
      return { ...view, ...stamp, status: 'CANCELLED', cancellationReason: event.data.reason, cancelledBy: event.data.cancelledBy };
    default:
      return assertNever(event);
  }
}

/** Pure: an order view after its customer's profile changed (version unchanged). */
export function renameCustomer(view: OrderView, customer: Customer, event: StoredEvent): OrderView {
  return { ...view, userName: customer.name, userEmail: customer.email, lastTx: event.cursor.tx, lastPos: event.cursor.pos };
}
