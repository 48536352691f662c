import { formatCursor } from '../eventlog/cursor.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { SqlClient } from '../eventlog/sql-client.js';
import { listOrders, ordersByIds, ordersPageForUsers, type OrderFilter } from './orders/queries.js';
import { listProducts, productsByIds } from './products/queries.js';
import { listDeadLetters, type DeadLetter } from './dead-letters.js';
import { readCheckpoint } from './projector.js';
import { listUsers, usersByIds } from './users/queries.js';

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

/**
 * Everything the query side may read: projections only, never write tables.
 * Resolvers and subscriptions go through this.
 */
export function readModel(db: SqlClient, reader: EventLogReader, projectionNames: readonly string[]) {
  return {
    orders: {
      byIds: (ids: readonly string[]) => ordersByIds(db, ids),
      list: (filter: OrderFilter, page: number, pageSize: number) => listOrders(db, filter, page, pageSize),
      pageForUsers: (userIds: readonly string[], page: number, pageSize: number) =>
        ordersPageForUsers(db, userIds, page, pageSize),
    },
    users: {
      byIds: (ids: readonly string[]) => usersByIds(db, ids),
      list: (page: number, pageSize: number) => listUsers(db, page, pageSize),
    },
    products: {
      byIds: (ids: readonly string[]) => productsByIds(db, ids),
      list: (page: number, pageSize: number) => listProducts(db, page, pageSize),
    },
    async projections(): Promise<ProjectionStatus[]> {
      const head = await reader.head();
      return Promise.all(
        projectionNames.map(async (name) => {
          const [checkpoint, stalled, deadLetters] = await Promise.all([
            readCheckpoint(db, name),
            db.$queryRaw<Array<{ error: string | null; dead: number }>>`
              SELECT (SELECT stalled_error FROM projection_checkpoint WHERE name = ${name}) AS error,
                     (SELECT count(*)::int FROM projection_dead_letter WHERE projection = ${name}) AS dead`,
            listDeadLetters(db, { projection: name }, DEAD_LETTERS_SHOWN),
          ]);
          const lag = await reader.lagAfter(checkpoint);
          const stalledError = stalled[0]?.error ?? null;
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
            deadLetterCount: stalled[0]?.dead ?? 0,
          } as const;
        }),
      );
    },
    checkpoint: (name: string) => readCheckpoint(db, name),
  };
}

export type ReadModel = ReturnType<typeof readModel>;
