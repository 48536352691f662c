/**
 * What the Emmett peer (@event-driven-io/emmett-postgresql) stores and
 * projects in the peers-writes scenario: the bench's events as Emmett events
 * (type + data, the same data as our event_log rows), one stream per
 * aggregate ("order-<id>", "user-<id>", "product-<id>"), and Pongo document
 * projections (one document per stream, the fields our read models keep).
 * Used by bench/peers/*.ts only.
 */
import { STREAM_DOES_NOT_EXIST, type Event } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, pongoSingleStreamProjection, type PostgresEventStore } from '@event-driven-io/emmett-postgresql';
import { projections } from '@event-driven-io/emmett';

export { STREAM_DOES_NOT_EXIST };

export interface PlacedLine {
  readonly productId: string;
  readonly productName: string;
  readonly quantity: number;
  readonly unitPrice: string;
  readonly subtotal: string;
}

/** Our OrderPlaced's data (src/domain/orders.ts). */
export type OrderPlaced = Event<'OrderPlaced', { orderId: string; userId: string; items: PlacedLine[]; total: string }>;
export type OrderStep = Event<'OrderConfirmed' | 'OrderShipped' | 'OrderDelivered', { orderId: string }>;
export type OrderCancelled = Event<'OrderCancelled', { orderId: string; reason: string; cancelledBy: string | null }>;
export type UserEvent = Event<'UserRegistered' | 'UserProfileUpdated', { userId: string; name: string; email: string }>;
export type ProductEvent = Event<'ProductAdded' | 'ProductUpdated', { productId: string; name: string; price: string }>;
export type OrderEvent = OrderPlaced | OrderStep | OrderCancelled;

export const streamOf = (aggregateType: string, id: string) => `${aggregateType.toLowerCase()}-${id}`;

/** The order document: what our order_view row holds of the order itself (status, customer, total, lines). */
export interface OrderDocument {
  [key: string]: unknown;
  orderId: string;
  userId: string;
  status: string;
  total: string;
  cancellationReason: string | null;
  items: PlacedLine[];
  version: number;
}

const STATUS = { OrderConfirmed: 'CONFIRMED', OrderShipped: 'SHIPPED', OrderDelivered: 'DELIVERED', OrderCancelled: 'CANCELLED' } as const;

export function evolveOrder(document: OrderDocument | null, event: OrderEvent): OrderDocument | null {
  if (event.type === 'OrderPlaced') {
    const { orderId, userId, total, items } = event.data;
    return { orderId, userId, status: 'PENDING', total, cancellationReason: null, items, version: 1 };
  }
  if (!document) return null;
  return {
    ...document,
    status: STATUS[event.type],
    cancellationReason: event.type === 'OrderCancelled' ? event.data.reason : document.cancellationReason,
    version: document.version + 1,
  };
}

export const ordersProjection = pongoSingleStreamProjection<OrderDocument, OrderEvent>({
  collectionName: 'orders',
  canHandle: ['OrderPlaced', 'OrderConfirmed', 'OrderShipped', 'OrderDelivered', 'OrderCancelled'],
  evolve: evolveOrder,
});

interface UserDocument { [key: string]: unknown; userId: string; name: string; email: string; version: number }
interface ProductDocument { [key: string]: unknown; productId: string; name: string; price: string; version: number }

export const usersProjection = pongoSingleStreamProjection<UserDocument, UserEvent>({
  collectionName: 'users',
  canHandle: ['UserRegistered', 'UserProfileUpdated'],
  evolve: (document: UserDocument | null, event: UserEvent): UserDocument => ({ ...event.data, version: (document?.version ?? 0) + 1 }),
});

export const productsProjection = pongoSingleStreamProjection<ProductDocument, ProductEvent>({
  collectionName: 'products',
  canHandle: ['ProductAdded', 'ProductUpdated'],
  evolve: (document: ProductDocument | null, event: ProductEvent): ProductDocument => ({ ...event.data, version: (document?.version ?? 0) + 1 }),
});

/** The bench's events, all kinds. */
export type BenchEvent = OrderEvent | UserEvent | ProductEvent;

/** The event store on `url`; with `inline`, the order document is written in the append's transaction. */
export function emmettStore(url: string, inline: boolean): PostgresEventStore {
  return getPostgreSQLEventStore(url, inline ? { projections: projections.inline([ordersProjection]) } : {});
}
