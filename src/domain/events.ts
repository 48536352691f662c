import type { OrderEvent } from './orders.js';
import type { ProductEvent } from './products.js';
import type { RedriveEvent } from './redrives.js';
import type { UserEvent } from './users.js';

/** `Redrive`: an operator's request to a projection (see redrives.ts), one stream per request. */
export type AggregateType = 'User' | 'Product' | 'Order' | 'Redrive';

/** Every event the domain can record. */
export type AnyDomainEvent = UserEvent | ProductEvent | OrderEvent | RedriveEvent;
export type EventType = AnyDomainEvent['type'];

/**
 * The current schema version of each event type. Bump it when an event's data
 * changes shape, and teach the event log's upcaster to lift older versions.
 */
export const EVENT_SCHEMA_VERSIONS: Record<EventType, number> = {
  UserRegistered: 1,
  UserProfileUpdated: 1,
  ProductAdded: 1,
  ProductUpdated: 1,
  OrderPlaced: 1,
  OrderConfirmed: 1,
  OrderShipped: 1,
  OrderDelivered: 1,
  OrderCancelled: 2,
  RedriveRequested: 1,
};
