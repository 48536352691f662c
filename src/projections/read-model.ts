import { formatCursor } from '../eventlog/cursor.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { SqlClient } from '../eventlog/sql-client.js';
import { listOrders, ordersByIds, ordersPageForUsers, type OrderFilter } from './orders/queries.js';
import { listProducts, productsByIds } from './products/queries.js';
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
}

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
          const checkpoint = await readCheckpoint(db, name);
          const lag = await reader.lagAfter(checkpoint);
          return {
            name,
            position: formatCursor(checkpoint),
            headPosition: formatCursor(head),
            lag: lag.events,
            lagSeconds: lag.oldest ? Math.max(0, (Date.now() - lag.oldest.getTime()) / 1000) : 0,
          };
        }),
      );
    },
    checkpoint: (name: string) => readCheckpoint(db, name),
  };
}

export type ReadModel = ReturnType<typeof readModel>;
