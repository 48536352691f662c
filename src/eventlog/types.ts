import type { AggregateType, AnyDomainEvent } from '../domain/events.js';
import type { Cursor } from './cursor.js';

/** Who and what caused a command; stored with every event it records. */
export interface EventMetadata {
  readonly correlationId: string;
  readonly causationId?: string;
  readonly requestId?: string;
  /** Who issued the command that caused the event (audit). */
  readonly actor?: { readonly role: string; readonly userId?: string };
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
