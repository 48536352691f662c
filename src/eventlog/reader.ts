import type { AggregateType, AnyDomainEvent } from '../domain/events.js';
import { Prisma } from '../generated/prisma/client.js';
import type { SqlClient } from '../sql/client.js';
import { idArray } from '../sql/fragments.js';
import { cursorOf, LOG_START, type Cursor } from './cursor.js';
import type { EventMetadata, StoredEvent } from './types.js';
import { upcast } from './upcasters.js';

interface EventRow {
  tx: string;
  pos: string;
  event_id: string;
  type: string;
  schema_version: number;
  aggregate_type: AggregateType;
  aggregate_id: string;
  aggregate_version: number;
  data: unknown;
  metadata: EventMetadata;
  occurred_at: Date;
}

/** What a read selects of each event (an EventRow). */
const EVENT_COLUMNS = Prisma.raw(`tx_id::text AS tx, position::text AS pos, event_id::text, type, schema_version,
  aggregate_type, aggregate_id::text, aggregate_version, data, metadata, occurred_at`);

/**
 * Events of transactions that have finished, all of them: below the oldest
 * transaction still running, every transaction has committed or aborted, and
 * any later one gets a larger id.
 */
export const READABLE = Prisma.sql`tx_id < pg_snapshot_xmin(pg_current_snapshot())`;

/** Events after `after` in (tx_id, position) order. */
function afterCursor(after: Cursor): Prisma.Sql {
  return Prisma.sql`(tx_id, position) > (${after.tx.toString()}::xid8, ${after.pos}::bigint)`;
}

/**
 * Reads the event log in (tx_id, position) order, and only events of
 * transactions older than the oldest transaction still running
 * (`pg_snapshot_xmin`). Every transaction below that horizon has finished, and
 * any transaction that starts later gets a larger id, so nothing can ever
 * appear before a cursor this reader has handed out: no event is skipped when
 * sequences commit out of order.
 */
export class EventLogReader {
  /** Reads in flight by (cursor, limit): projectors woken together at one checkpoint share one. */
  private readonly reading = new Map<string, Promise<StoredEvent[]>>();

  constructor(private readonly db: SqlClient) {}

  /**
   * Up to `limit` readable events after `after`. Identical calls while one is
   * in flight get its answer (the same, read-only, event objects): the
   * projectors of a process usually stand at the same checkpoint and are woken
   * by the same commit, so they read the log once instead of once each. Any
   * prefix of the log after `after` is a correct answer; a caller that needs a
   * newer event reads again.
   */
  readAfter(after: Cursor, limit: number): Promise<StoredEvent[]> {
    const key = `${after.tx}:${after.pos}:${limit}`;
    let read = this.reading.get(key);
    if (!read) {
      read = this.read(after, limit).finally(() => this.reading.delete(key));
      this.reading.set(key, read);
    }
    return read;
  }

  private async read(after: Cursor, limit: number): Promise<StoredEvent[]> {
    const rows = await this.db.$queryRaw<EventRow[]>`
      SELECT ${EVENT_COLUMNS} FROM event_log
      WHERE ${afterCursor(after)} AND ${READABLE}
      ORDER BY tx_id, position
      LIMIT ${limit}`;
    return rows.map(toStoredEvent);
  }

  /** Specific events by id, in log order (e.g. events parked in a dead-letter table). */
  async readByIds(eventIds: readonly string[]): Promise<StoredEvent[]> {
    if (eventIds.length === 0) return [];
    const rows = await this.db.$queryRaw<EventRow[]>`
      SELECT ${EVENT_COLUMNS} FROM event_log
      WHERE event_id = ANY(${idArray(eventIds)})
      ORDER BY tx_id, position`;
    return rows.map(toStoredEvent);
  }

  /** The cursor of the newest event that can be read now (LOG_START if none). */
  async head(): Promise<Cursor> {
    const [row] = await this.db.$queryRaw<Array<{ tx: string; pos: string }>>`
      SELECT tx_id::text AS tx, position::text AS pos FROM event_log
      WHERE ${READABLE}
      ORDER BY tx_id DESC, position DESC LIMIT 1`;
    return row ? cursorOf(row) : LOG_START;
  }

  /**
   * How far behind a reader at `after` is: the readable events after it, and
   * when the oldest of them occurred (null when there are none).
   */
  async lagAfter(after: Cursor): Promise<{ events: number; oldest: Date | null }> {
    const [row] = await this.db.$queryRaw<Array<{ n: number; oldest: Date | string | null }>>`
      SELECT count(*)::int AS n, min(occurred_at) AS oldest FROM event_log
      WHERE ${afterCursor(after)} AND ${READABLE}`;
    return { events: row?.n ?? 0, oldest: row?.oldest == null ? null : new Date(row.oldest) };
  }

  /** How many readable events lie after `after`. */
  async countAfter(after: Cursor): Promise<number> {
    const [row] = await this.db.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM event_log
      WHERE ${afterCursor(after)} AND ${READABLE}`;
    return row?.n ?? 0;
  }
}

function toStoredEvent(row: EventRow): StoredEvent {
  const event = upcast(row.type, row.schema_version, row.data) as AnyDomainEvent;
  // Property by property, not by spreading: this runs for every event of a
  // rebuild (bench/README.md has the measurement).
  return {
    type: event.type,
    data: event.data,
    cursor: cursorOf(row),
    eventId: row.event_id,
    schemaVersion: row.schema_version,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    aggregateVersion: row.aggregate_version,
    metadata: row.metadata,
    occurredAt: new Date(row.occurred_at),
  } as StoredEvent;
}
