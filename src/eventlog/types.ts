import type { AggregateType, AnyDomainEvent } from '../domain/events.js';
import type { Cursor } from './cursor.js';

/**
 * The W3C trace context (https://www.w3.org/TR/trace-context/) of the span
 * that caused something, in the shape of its two headers, so that it can be
 * stored as it is and handed to a propagator as a carrier.
 */
export interface TraceCarrier {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** Who and what caused a command; stored with every event it records. */
export interface EventMetadata extends Partial<TraceCarrier> {
  readonly correlationId: string;
  readonly causationId?: string;
  readonly requestId?: string;
  /** Who issued the command that caused the event (audit). */
  readonly actor?: { readonly role: string; readonly userId?: string };
  // `traceparent` / `tracestate`: the command's span, when it was traced (recorded).
}

/** An event as read back from the log, upcast to its current schema version. */
export type StoredEvent<E extends AnyDomainEvent = AnyDomainEvent> = E & {
  readonly cursor: Cursor;
  readonly eventId: string;
  readonly schemaVersion: number;
  readonly aggregateType: AggregateType;
  readonly aggregateId: string;
  readonly aggregateVersion: number;
  readonly metadata: EventMetadata;
  readonly occurredAt: Date;
};
