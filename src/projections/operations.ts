import { NotFoundError, ValidationError } from '../domain/errors.js';
import { isId } from '../domain/ids.js';
import type { SqlClient } from '../sql/client.js';
import { compareCursors } from '../eventlog/cursor.js';
import type { EventMetadata } from '../eventlog/types.js';
import { requestRedrive } from './dead-letters.js';
import { readCheckpoint, type ProjectionStatus } from './status.js';

/**
 * What operators do to projections at run time (the admin mutations and
 * `npm run projections`): ask for a parked aggregate's dead letters to be
 * retried or its failed event skipped. The request is recorded in the event
 * log and carried out by the projector that owns the projection when it
 * reaches it; this waits (bounded) until the projection has passed it.
 */
export class ProjectionOperations {
  constructor(
    /** The event log's database (the request is appended there) and the read models' (dead letters, checkpoints). */
    private readonly databases: { readonly write: SqlClient; readonly read: SqlClient },
    private readonly names: readonly string[],
    private readonly status: () => Promise<readonly ProjectionStatus[]>,
    /** Wakes the projection's projector (here or, through NOTIFY, elsewhere). */
    private readonly wake: (projection: string) => void | Promise<void>,
  ) {}

  async redrive(
    projection: string,
    aggregateId: string,
    action: 'RETRY' | 'SKIP',
    metadata: EventMetadata,
    timeoutMs = 5000,
  ): Promise<ProjectionStatus> {
    if (!this.names.includes(projection)) {
      throw new ValidationError('projection', `expected one of ${this.names.join(', ')}, got "${projection}"`);
    }
    const at = isId(aggregateId) ? await requestRedrive(this.databases, projection, aggregateId, action, metadata, new Date()) : null;
    if (!at) throw new NotFoundError(`Failed event of ${projection}`, [aggregateId]);
    await this.wake(projection);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (compareCursors(await readCheckpoint(this.databases.read, projection), at) >= 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return (await this.status()).find((p) => p.name === projection)!;
  }
}
