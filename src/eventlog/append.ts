import { Prisma } from '../generated/prisma/client.js';
import { EVENT_SCHEMA_VERSIONS, type AggregateType, type AnyDomainEvent } from '../domain/events.js';
import { newId } from '../domain/ids.js';
import type { EventMetadata } from './types.js';
import { cursorOf, type Cursor } from './cursor.js';

export interface AppendRequest {
  readonly aggregateType: AggregateType;
  readonly aggregateId: string;
  /** The aggregate's version before these events. */
  readonly fromVersion: number;
  readonly events: readonly AnyDomainEvent[];
  readonly metadata: EventMetadata;
  readonly occurredAt: Date;
}

/**
 * Builds `INSERT INTO event_log … RETURNING` for use as a CTE that follows a
 * write-model change named `guard`: the events are inserted once per row that
 * `guard` returns, so when the guarded write touched nothing (a lost race),
 * nothing is appended either. The whole statement is one transaction.
 */
export function appendEventsSql(guard: string, request: AppendRequest): Prisma.Sql {
  const rows = request.events.map((event, index) => ({
    seq: index,
    event_id: newId(),
    type: event.type,
    schema_version: EVENT_SCHEMA_VERSIONS[event.type],
    aggregate_type: request.aggregateType,
    aggregate_id: request.aggregateId,
    aggregate_version: request.fromVersion + index + 1,
    data: event.data,
    metadata: request.metadata,
    occurred_at: request.occurredAt.toISOString(),
  }));
  return Prisma.sql`
    INSERT INTO event_log (event_id, type, schema_version, aggregate_type, aggregate_id, aggregate_version, data, metadata, occurred_at)
    SELECT x.event_id, x.type, x.schema_version, x.aggregate_type, x.aggregate_id, x.aggregate_version, x.data, x.metadata, x.occurred_at
    FROM ${Prisma.raw(guard)} CROSS JOIN jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
      seq int, event_id uuid, type text, schema_version int, aggregate_type text, aggregate_id uuid,
      aggregate_version int, data jsonb, metadata jsonb, occurred_at timestamptz)
    ORDER BY x.seq
    RETURNING tx_id::text AS tx, position::text AS pos`;
}

/** The cursor of the last row returned by an `appendEventsSql` CTE. */
export function lastAppended(rows: ReadonlyArray<{ tx: string; pos: string }>): Cursor | null {
  let last: Cursor | null = null;
  for (const row of rows) {
    const cursor = cursorOf(row);
    if (!last || cursor.pos > last.pos) last = cursor;
  }
  return last;
}
