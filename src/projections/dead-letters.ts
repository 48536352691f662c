import { EVENT_SCHEMA_VERSIONS } from '../domain/events.js';
import { cursorOf, formatCursor, type Cursor } from '../eventlog/cursor.js';
import { idArray } from '../sql/fragments.js';
import type { SqlClient } from '../sql/client.js';
import type { EventMetadata, StoredEvent } from '../eventlog/types.js';

/**
 * Dead letters: events a projection could not apply, kept in
 * `projection_dead_letter` with the error, so the projection can go on with
 * every other aggregate. Per-aggregate order is kept: once an aggregate has a
 * FAILED event, its later events are parked behind it (WAITING) instead of
 * applied. An operator asks for a RETRY (apply them all again) or a SKIP
 * (drop the failed one, apply the rest); the projector that owns the
 * projection carries the request out where it meets it in the event log, so
 * it is applied once, and at a position after everything already projected.
 */
export type DeadLetterState = 'FAILED' | 'WAITING' | 'RETRY' | 'SKIP';

export interface DeadLetter {
  readonly projection: string;
  /** The event's log position (opaque, like Order.position). */
  readonly position: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly state: DeadLetterState;
  readonly error: string | null;
  readonly attempts: number;
  readonly parkedAt: Date;
}

/** How an aggregate is named in the parked set. */
export const aggregateKey = (event: Pick<StoredEvent, 'aggregateType' | 'aggregateId'>) => `${event.aggregateType}:${event.aggregateId}`;

const MAX_ERROR_LENGTH = 2000;

/** The aggregates of `projection` with any dead letter: their events must wait. */
export async function parkedAggregates(db: SqlClient, projection: string): Promise<Set<string>> {
  const rows = await db.$queryRaw<Array<{ aggregate_type: string; aggregate_id: string }>>`
    SELECT DISTINCT aggregate_type, aggregate_id::text FROM projection_dead_letter WHERE projection = ${projection}`;
  return new Set(rows.map((r) => `${r.aggregate_type}:${r.aggregate_id}`));
}

/** Parks events (in the caller's transaction, with the checkpoint move). */
export async function park(
  tx: SqlClient,
  projection: string,
  events: readonly StoredEvent[],
  state: 'FAILED' | 'WAITING',
  failure?: { error: unknown; attempts: number },
): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e) => ({
    tx: e.cursor.tx.toString(),
    pos: e.cursor.pos.toString(),
    event_id: e.eventId,
    event_type: e.type,
    aggregate_type: e.aggregateType,
    aggregate_id: e.aggregateId,
  }));
  const error = failure ? describeError(failure.error) : null;
  await tx.$executeRaw`
    INSERT INTO projection_dead_letter (projection, tx, pos, event_id, event_type, aggregate_type, aggregate_id, state, error, attempts, parked_at)
    SELECT ${projection}, x.tx::bigint, x.pos::bigint, x.event_id::uuid, x.event_type, x.aggregate_type, x.aggregate_id::uuid,
           ${state}, ${error}, ${failure?.attempts ?? 0}, now()
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(tx text, pos text, event_id text, event_type text, aggregate_type text, aggregate_id text)
    ON CONFLICT DO NOTHING`;
}

/** An error as stored and shown to operators: its name and message, bounded. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, MAX_ERROR_LENGTH);
}

interface Row {
  projection: string;
  tx: string;
  pos: string;
  event_id: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  state: DeadLetterState;
  error: string | null;
  attempts: number;
  parked_at: Date | string;
}

function toDeadLetter(r: Row): DeadLetter {
  return {
    projection: r.projection,
    position: formatCursor(cursorOf(r)),
    eventId: r.event_id,
    eventType: r.event_type,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    state: r.state,
    error: r.error,
    attempts: r.attempts,
    parkedAt: new Date(r.parked_at),
  };
}

/** Dead letters, oldest first; of one projection, and one aggregate, when given. */
export async function listDeadLetters(
  db: SqlClient,
  filter: { projection?: string; aggregateId?: string } = {},
  limit = 1000,
): Promise<DeadLetter[]> {
  const rows = await db.$queryRaw<Row[]>`
    SELECT projection, tx::text, pos::text, event_id::text, event_type, aggregate_type, aggregate_id::text,
           state, error, attempts, parked_at
    FROM projection_dead_letter d
    WHERE (${filter.projection ?? null}::text IS NULL OR projection = ${filter.projection ?? null})
      AND (${filter.aggregateId ?? null}::text IS NULL OR aggregate_id::text = ${filter.aggregateId ?? null})
    -- The table's bigint columns (d.tx), not the text the select list names tx.
    ORDER BY d.projection, d.tx, d.pos
    LIMIT ${limit}`;
  return rows.map(toDeadLetter);
}

/**
 * An operator's request for the aggregate's failed event: RETRY applies it
 * and those waiting behind it again; SKIP drops it and applies the rest.
 *
 * A `RedriveRequested` event is appended to the log (on the write database),
 * which is what the projector acts on when it reaches it (see
 * src/domain/redrives.ts); then the dead letters are marked (on the read
 * database) so that `status` shows the request. The projector acts on the
 * event's data only, so a mark that is lost (or lands after the projector
 * carried the request out, marking nothing) changes nothing. Returns the
 * event's position, or null when there was no failed event to act on.
 */
export async function requestRedrive(
  databases: { readonly write: SqlClient; readonly read: SqlClient },
  projection: string,
  aggregateId: string,
  action: 'RETRY' | 'SKIP',
  metadata: EventMetadata,
  now: Date,
): Promise<Cursor | null> {
  const [letter] = await databases.read.$queryRaw<Array<{ aggregate_type: string }>>`
    SELECT aggregate_type FROM projection_dead_letter
    WHERE projection = ${projection} AND aggregate_id::text = ${aggregateId} AND state IN ('FAILED', 'RETRY', 'SKIP')
    LIMIT 1`;
  if (!letter) return null;
  const [row] = await databases.write.$queryRaw<Array<{ tx: string; pos: string }>>`
    INSERT INTO event_log (event_id, type, schema_version, aggregate_type, aggregate_id, aggregate_version, data, metadata, occurred_at)
    VALUES (gen_random_uuid(), 'RedriveRequested', ${EVENT_SCHEMA_VERSIONS.RedriveRequested}, 'Redrive', gen_random_uuid(), 1,
      jsonb_build_object('projection', ${projection}::text, 'aggregateType', ${letter.aggregate_type}::text,
        'aggregateId', ${aggregateId}::text, 'action', ${action}::text),
      ${JSON.stringify(metadata)}::jsonb, ${now.toISOString()}::timestamptz)
    RETURNING tx_id::text AS tx, position::text AS pos`;
  await databases.read.$executeRaw`
    UPDATE projection_dead_letter SET state = ${action}
    WHERE projection = ${projection} AND aggregate_id::text = ${aggregateId} AND state IN ('FAILED', 'RETRY', 'SKIP')`;
  return cursorOf(row!);
}

/** The event ids parked for one aggregate, in log order, the failed one first. */
export async function parkedEvents(db: SqlClient, projection: string, aggregateType: string, aggregateId: string) {
  const rows = await db.$queryRaw<Array<{ event_id: string; state: DeadLetterState; attempts: number }>>`
    SELECT event_id::text, state, attempts FROM projection_dead_letter d
    WHERE projection = ${projection} AND aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId}::uuid
    ORDER BY d.tx, d.pos`;
  return rows;
}

/** Removes an aggregate's dead letters (after they were applied or skipped). */
export async function clearParked(tx: SqlClient, projection: string, eventIds: readonly string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await tx.$executeRaw`
    DELETE FROM projection_dead_letter
    WHERE projection = ${projection} AND event_id = ANY(${idArray(eventIds)})`;
}

/** Marks the head of a redrive that failed again: FAILED with the new error. */
export async function failedAgain(db: SqlClient, projection: string, eventId: string, error: unknown): Promise<void> {
  await db.$executeRaw`
    UPDATE projection_dead_letter SET state = 'FAILED', error = ${describeError(error)}, attempts = attempts + 1
    WHERE projection = ${projection} AND event_id = ${eventId}::uuid`;
}
