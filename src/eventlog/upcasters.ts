import { EVENT_SCHEMA_VERSIONS, type AnyDomainEvent, type EventType } from '../domain/events.js';

/**
 * Lifts an event's data from the schema version it was stored with to the
 * current one. Register a step here (`"<Type>@<fromVersion>"`) whenever an
 * event's shape changes; stored events are never rewritten.
 */
const steps: Record<string, (data: any) => unknown> = {
  /** v2 records who cancelled; for older events nobody knows. */
  'OrderCancelled@1': (data: { orderId: string; reason: string }) => ({ ...data, cancelledBy: null }),
};

export function upcast(type: string, schemaVersion: number, data: unknown): AnyDomainEvent {
  const current = EVENT_SCHEMA_VERSIONS[type as EventType];
  if (current === undefined) throw new Error(`Unknown event type "${type}" in the event log`);
  if (schemaVersion > current) {
    throw new Error(`Event ${type} has schema version ${schemaVersion}, newer than this code's ${current}`);
  }
  let lifted = data;
  for (let version = schemaVersion; version < current; version++) {
    const step = steps[`${type}@${version}`];
    if (!step) throw new Error(`No upcaster from ${type} v${version} to v${version + 1}`);
    lifted = step(lifted);
  }
  return { type, data: lifted } as AnyDomainEvent;
}
