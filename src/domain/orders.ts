import { formatMoney, parseMoney, type Cents } from './money.js';
import type { AuthenticatedActor } from './access.js';
import {
  AlreadyExistsError,
  ForbiddenError,
  InvalidTransitionError,
  NotFoundError,
  ValidationError,
  assertNever,
} from './errors.js';
import { assertPlainText } from './text.js';
import type { Command, DomainEvent } from './messages.js';
import type { Product } from './products.js';
import type { User } from './users.js';

export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const MAX_ORDER_LINES = 100;
export const MAX_QUANTITY = 10_000;
export const MAX_REASON_LENGTH = 500;

export interface OrderLine {
  readonly productId: string;
  readonly productName: string;
  readonly unitPrice: Cents;
  readonly quantity: number;
}

export interface Order {
  readonly id: string;
  readonly userId: string;
  readonly status: OrderStatus;
  readonly lines: readonly OrderLine[];
  readonly total: Cents;
  readonly cancellationReason: string | null;
}

export interface OrderLineRequest {
  readonly productId: string;
  readonly quantity: number;
}

/**
 * PlaceOrder is enriched by its handler with what the decision needs from other
 * aggregates: the customer and the catalog entries of the ordered products
 * (missing ones are simply absent).
 */
export type PlaceOrder = Command<
  'PlaceOrder',
  {
    orderId: string;
    userId: string;
    items: readonly OrderLineRequest[];
    customer: User | null;
    products: readonly Product[];
  }
>;
export type ConfirmOrder = Command<'ConfirmOrder', { orderId: string }>;
export type ShipOrder = Command<'ShipOrder', { orderId: string }>;
export type DeliverOrder = Command<'DeliverOrder', { orderId: string }>;
/** `requestedBy` decides what may be cancelled: customers only their own orders, and only before shipping. */
export type CancelOrder = Command<'CancelOrder', { orderId: string; reason: string; requestedBy: AuthenticatedActor }>;

/** What a customer may still cancel themself; staff may also cancel a SHIPPED order. */
export const CUSTOMER_CANCELLABLE: readonly OrderStatus[] = ['PENDING', 'CONFIRMED'];
export type OrderCommand = PlaceOrder | ConfirmOrder | ShipOrder | DeliverOrder | CancelOrder;

export interface PlacedLine {
  productId: string;
  productName: string;
  quantity: number;
  /** Decimal strings, exact: "19.99". */
  unitPrice: string;
  subtotal: string;
}

export type OrderPlaced = DomainEvent<
  'OrderPlaced',
  { orderId: string; userId: string; items: PlacedLine[]; total: string }
>;
export type OrderConfirmed = DomainEvent<'OrderConfirmed', { orderId: string }>;
export type OrderShipped = DomainEvent<'OrderShipped', { orderId: string }>;
export type OrderDelivered = DomainEvent<'OrderDelivered', { orderId: string }>;
/**
 * Schema v2 added `cancelledBy`. Events stored as v1 (before it existed) are
 * upcast on read with `cancelledBy: null` — not recorded (src/eventlog/upcasters.ts).
 */
export type OrderCancelled = DomainEvent<
  'OrderCancelled',
  { orderId: string; reason: string; cancelledBy: 'customer' | 'staff' | null }
>;
export type OrderEvent = OrderPlaced | OrderConfirmed | OrderShipped | OrderDelivered | OrderCancelled;

/**
 * Checks the shape of requested lines (count, duplicates, quantities) without
 * touching other aggregates; handlers call it before loading products.
 */
export function validateOrderLines(items: readonly OrderLineRequest[]): void {
  if (items.length < 1 || items.length > MAX_ORDER_LINES) {
    throw new ValidationError('items', `expected 1–${MAX_ORDER_LINES} lines, got ${items.length}`);
  }
  const seen = new Set<string>();
  items.forEach((item, index) => {
    if (seen.has(item.productId)) {
      throw new ValidationError(`items[${index}].productId`, `expected each product at most once, got ${item.productId} again`);
    }
    seen.add(item.productId);
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > MAX_QUANTITY) {
      throw new ValidationError(`items[${index}].quantity`, `expected an integer from 1 to ${MAX_QUANTITY}, got ${item.quantity}`);
    }
  });
}

function transition(state: Order | null, orderId: string, from: readonly OrderStatus[], to: OrderStatus): Order {
  if (!state) throw new NotFoundError('Order', [orderId]);
  if (!from.includes(state.status)) throw new InvalidTransitionError(state.status, to);
  return state;
}

/** Pure: decides the events for an order command, or throws a DomainError. */
export function decideOrder(command: OrderCommand, state: Order | null): OrderEvent[] {
  switch (command.type) {
    case 'PlaceOrder': {
      const { orderId, userId, items, customer, products } = command.data;
      if (state) throw new AlreadyExistsError(`Order ${orderId} already exists`);
      validateOrderLines(items);
      if (!customer) throw new NotFoundError('User', [userId]);
      const catalog = new Map(products.map((p) => [p.id, p]));
      const missing = items.filter((i) => !catalog.has(i.productId)).map((i) => i.productId);
      if (missing.length > 0) throw new NotFoundError('Product', missing);
      let total = 0n;
      const lines = items.map((item): PlacedLine => {
        const product = catalog.get(item.productId)!;
        const subtotal = product.price * BigInt(item.quantity);
        total += subtotal;
        return {
          productId: product.id,
          productName: product.name,
          quantity: item.quantity,
          unitPrice: formatMoney(product.price),
          subtotal: formatMoney(subtotal),
        };
      });
      return [{ type: 'OrderPlaced', data: { orderId, userId, items: lines, total: formatMoney(total) } }];
    }
    case 'ConfirmOrder':
      transition(state, command.data.orderId, ['PENDING'], 'CONFIRMED');
      return [{ type: 'OrderConfirmed', data: { orderId: command.data.orderId } }];
    case 'ShipOrder':
      transition(state, command.data.orderId, ['CONFIRMED'], 'SHIPPED');
      return [{ type: 'OrderShipped', data: { orderId: command.data.orderId } }];
    case 'DeliverOrder':
      transition(state, command.data.orderId, ['SHIPPED'], 'DELIVERED');
      return [{ type: 'OrderDelivered', data: { orderId: command.data.orderId } }];
    case 'CancelOrder': {
      assertPlainText('reason', command.data.reason);
      const reason = command.data.reason.trim();
      if (reason.length < 1 || reason.length > MAX_REASON_LENGTH) {
        throw new ValidationError('reason', `expected 1–${MAX_REASON_LENGTH} characters, got ${reason.length}`);
      }
      const { orderId, requestedBy } = command.data;
      // To a customer, someone else's order does not exist.
      if (state && requestedBy.role === 'customer' && state.userId !== requestedBy.userId) {
        throw new NotFoundError('Order', [orderId]);
      }
      // Shipped orders are staff business; DELIVERED/CANCELLED are invalid for anyone (below).
      if (state && requestedBy.role === 'customer' && state.status === 'SHIPPED') {
        throw new ForbiddenError(`Customers may cancel an order only while it is ${CUSTOMER_CANCELLABLE.join(' or ')}; it is ${state.status}`);
      }
      transition(state, orderId, ['PENDING', 'CONFIRMED', 'SHIPPED'], 'CANCELLED');
      const cancelledBy = requestedBy.role === 'customer' ? 'customer' : 'staff';
      return [{ type: 'OrderCancelled', data: { orderId: command.data.orderId, reason, cancelledBy } }];
    }
    default:
      return assertNever(command);
  }
}

/** Pure: the order after an event. */
export function evolveOrder(state: Order | null, event: OrderEvent): Order {
  if (event.type === 'OrderPlaced') {
    const { orderId, userId, items, total } = event.data;
    return {
      id: orderId,
      userId,
      status: 'PENDING',
      lines: items.map((l) => ({
        productId: l.productId,
        productName: l.productName,
        unitPrice: parseMoney(l.unitPrice, 'unitPrice'),
        quantity: l.quantity,
      })),
      total: parseMoney(total, 'total'),
      cancellationReason: null,
    };
  }
  if (!state) throw new Error(`${event.type} for order ${event.data.orderId} arrived before OrderPlaced`);
  switch (event.type) {
    case 'OrderConfirmed':
      return { ...state, status: 'CONFIRMED' };
    case 'OrderShipped':
      return { ...state, status: 'SHIPPED' };
    case 'OrderDelivered':
      return { ...state, status: 'DELIVERED' };
    case 'OrderCancelled':
      return { ...state, status: 'CANCELLED', cancellationReason: event.data.reason };
    default:
      return assertNever(event);
  }
}
