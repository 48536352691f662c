import type { AggregateType, AnyDomainEvent } from '../domain/events.js';
import type { Order, OrderEvent } from '../domain/orders.js';
import type { Product, ProductEvent } from '../domain/products.js';
import type { User, UserEvent } from '../domain/users.js';
import type { EventMetadata } from '../eventlog/types.js';

export type { EventMetadata };

export interface Loaded<S> {
  readonly state: S;
  readonly version: number;
}

/** Where a command's last event landed in the log. */
export interface Appended {
  readonly version: number;
  /** Opaque event-log position of the last appended event. */
  readonly position: string;
}

export interface SaveRequest<S, E extends AnyDomainEvent> {
  readonly id: string;
  /** The version the decision was made on; 0 for a new aggregate. */
  readonly expectedVersion: number;
  /** The aggregate after the events. */
  readonly state: S;
  readonly events: readonly E[];
  readonly metadata: EventMetadata;
  readonly now: Date;
  /** Stored in the same statement as the events: the key exists exactly when they do. */
  readonly idempotency?: IdempotencyRecord;
}

/** A command's idempotency key, as stored with its events. */
export interface IdempotencyRecord {
  /** Whose key: "<role>:<user id>", or "anonymous". */
  readonly scope: string;
  readonly key: string;
  /** The command (mutation) name. */
  readonly command: string;
  /** SHA-256 of the command's input. */
  readonly requestHash: string;
  readonly expiresAt: Date;
}

/** What a command returned, as remembered under its idempotency key. */
export interface RememberedResult {
  readonly command: string;
  readonly requestHash: string;
  readonly result: { readonly id: string; readonly version: number; readonly position: string };
}

/** Idempotency keys written by saves (SaveRequest.idempotency). */
export interface IdempotencyStore {
  /** The unexpired record of `key` in `scope`, or null (an expired one is deleted). */
  find(scope: string, key: string, now: Date): Promise<RememberedResult | null>;
  /** Deletes keys that expired before `now`; returns how many. */
  purgeExpired(now: Date): Promise<number>;
}

/**
 * Thrown by `save` when the stored version is no longer `expectedVersion`
 * (someone else committed first). The generic handler retries on it.
 */
export class ConcurrencyError extends Error {
  constructor(
    readonly aggregateType: AggregateType,
    readonly id: string,
    readonly expectedVersion: number,
  ) {
    super(`${aggregateType} ${id} changed after version ${expectedVersion} was read`);
  }
}

/**
 * A state-stored aggregate with an event log: `save` writes the new state and
 * appends the events in one transaction, or writes nothing.
 */
export interface AggregateStore<S, E extends AnyDomainEvent> {
  // Both may throw DatabaseUnavailableError (src/sql/client.ts) for a fault of the moment.
  readonly aggregateType: AggregateType;
  load(id: string): Promise<Loaded<S> | null>;
  save(request: SaveRequest<S, E>): Promise<Appended>;
}

/**
 * What placing an order reads besides the order: the customer and the
 * products its lines name, in one round trip (two would each cost a statement
 * and a database wake-up on the hottest command).
 */
export interface OrderReferences {
  /** The customer (null when `userId` is null or unknown) and those of `productIds` that exist. */
  load(userId: string | null, productIds: readonly string[]): Promise<{ customer: Loaded<User> | null; products: Product[] }>;
}

/** The write model as the command side sees it. */
export interface WriteModel {
  readonly users: AggregateStore<User, UserEvent>;
  readonly products: AggregateStore<Product, ProductEvent>;
  readonly orderReferences: OrderReferences;
  readonly orders: AggregateStore<Order, OrderEvent>;
  readonly idempotency: IdempotencyStore;
}

/**
 * What the command service reports about every command it handles, for
 * metrics. Called after the outcome is known; must not throw.
 */
export interface CommandObserver {
  /** `outcome` is `ok`, or the error code the caller sees. */
  commandHandled(command: string, outcome: string, seconds: number): void;
  /** A committed save appended `count` events of `aggregateType`. */
  eventsAppended(aggregateType: AggregateType, count: number): void;
}
