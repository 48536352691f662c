import { cursorOf, formatCursor, LOG_START, type Cursor } from '../eventlog/cursor.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { SqlClient } from '../sql/client.js';
import { listDeadLetters, type DeadLetter } from './dead-letters.js';

export interface ProjectionStatus {
  readonly name: string;
  readonly position: string;
  readonly headPosition: string;
  /** Readable events not yet applied. */
  readonly lag: number;
  /** Age of the oldest of them, in seconds (0 when caught up). */
  readonly lagSeconds: number;
  /**
   * RUNNING; STALLED while a batch keeps failing (it is retried); FAILED
   * while events are parked as dead letters (the rest is up to date).
   */
  readonly status: 'RUNNING' | 'STALLED' | 'FAILED';
  /** Why it is STALLED or FAILED. */
  readonly lastError: string | null;
  readonly deadLetters: readonly DeadLetter[];
  /** All of them (deadLetters lists the first DEAD_LETTERS_SHOWN). */
  readonly deadLetterCount: number;
}

/** How many dead letters the status lists per projection. */
const DEAD_LETTERS_SHOWN = 100;

/** A projection's checkpoint (LOG_START when it has none yet). */
export async function readCheckpoint(db: SqlClient, name: string): Promise<Cursor> {
  const [row] = await db.$queryRaw<Array<{ tx: string; pos: string }>>`
    SELECT last_tx::text AS tx, last_pos::text AS pos FROM projection_checkpoint WHERE name = ${name}`;
  return row ? cursorOf(row) : LOG_START;
}

/** Where a projection stands and whether it is healthy, in one statement besides the log's. */
async function statusOf(db: SqlClient, reader: EventLogReader, name: string, head: Cursor): Promise<ProjectionStatus> {
  const [[row], deadLetters] = await Promise.all([
    db.$queryRaw<Array<{ tx: string | null; pos: string | null; error: string | null; dead: number }>>`
      SELECT c.last_tx::text AS tx, c.last_pos::text AS pos, c.stalled_error AS error,
             (SELECT count(*)::int FROM projection_dead_letter WHERE projection = ${name}) AS dead
      FROM (SELECT ${name}::text AS name) n LEFT JOIN projection_checkpoint c ON c.name = n.name`,
    listDeadLetters(db, { projection: name }, DEAD_LETTERS_SHOWN),
  ]);
  const checkpoint = row?.tx != null && row.pos != null ? cursorOf({ tx: row.tx, pos: row.pos }) : LOG_START;
  const lag = await reader.lagAfter(checkpoint);
  const stalledError = row?.error ?? null;
  const failed = deadLetters.filter((d) => d.state !== 'WAITING');
  return {
    name,
    position: formatCursor(checkpoint),
    headPosition: formatCursor(head),
    lag: lag.events,
    lagSeconds: lag.oldest ? Math.max(0, (Date.now() - lag.oldest.getTime()) / 1000) : 0,
    status: stalledError ? 'STALLED' : failed.length > 0 ? 'FAILED' : 'RUNNING',
    lastError: stalledError ?? failed[failed.length - 1]?.error ?? null,
    deadLetters,
    deadLetterCount: row?.dead ?? 0,
  };
}

/**
 * The read side as the API sees it: the database its read models live in
 * (queries read nothing else), and each projection's status.
 */
export function readModel(db: SqlClient, reader: EventLogReader, projectionNames: readonly string[]) {
  return {
    db,
    async projections(): Promise<ProjectionStatus[]> {
      const head = await reader.head();
      return Promise.all(projectionNames.map((name) => statusOf(db, reader, name, head)));
    },
    checkpoint: (name: string) => readCheckpoint(db, name),
  };
}

export type ReadModel = ReturnType<typeof readModel>;
