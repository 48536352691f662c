import { NotFoundError, ValidationError } from '../domain/errors.js';
import { isId } from '../domain/ids.js';
import type { SqlClient } from '../sql/client.js';
import { listDeadLetters, requestRedrive } from './dead-letters.js';
import type { ProjectionStatus } from './status.js';

/**
 * What operators do to projections at run time (the admin mutations and
 * `npm run projections`): ask for a parked aggregate's dead letters to be
 * retried or its failed event skipped. The projector that owns the
 * projection carries the request out; this waits (bounded) until it has.
 */
export class ProjectionOperations {
  constructor(
    private readonly db: SqlClient,
    private readonly names: readonly string[],
    private readonly status: () => Promise<readonly ProjectionStatus[]>,
    /** Wakes the projection's projector (here or, through NOTIFY, elsewhere). */
    private readonly wake: (projection: string) => void | Promise<void>,
  ) {}

  async redrive(projection: string, aggregateId: string, action: 'RETRY' | 'SKIP', timeoutMs = 5000): Promise<ProjectionStatus> {
    if (!this.names.includes(projection)) {
      throw new ValidationError('projection', `expected one of ${this.names.join(', ')}, got "${projection}"`);
    }
    if (!isId(aggregateId) || !(await requestRedrive(this.db, projection, aggregateId, action))) {
      throw new NotFoundError(`Failed event of ${projection}`, [aggregateId]);
    }
    await this.wake(projection);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const letters = await listDeadLetters(this.db, { projection, aggregateId });
      if (!letters.some((l) => l.state === 'RETRY' || l.state === 'SKIP')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return (await this.status()).find((p) => p.name === projection)!;
  }
}
