import type { Logger } from 'pino';
import type { Cursor } from '../eventlog/cursor.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { StoredEvent } from '../eventlog/types.js';
import type { Leases } from '../infrastructure/db/leases.js';
import type { SqlDatabase } from '../sql/client.js';
import type { Projection } from './projection.js';
import { Projector, type ProjectorOptions } from './projector.js';

export interface ProjectionDaemonOptions {
  readonly logger: Logger;
  /** How often projections this instance does not run are tried, in ms (config LEASE_RETRY_MS). */
  readonly leaseRetryMs: number;
  readonly batchSize: number;
  readonly idlePollMs: number;
  readonly maxAttempts: number;
  /** After each batch a projector of this instance committed (see ProjectorOptions.onProgress). Must not throw. */
  readonly onProgress: (projection: string, cursor: Cursor, applied: number) => void;
  /** Test hook, see ProjectorOptions.beforeApply. */
  readonly beforeApply?: (projection: string, event: StoredEvent) => void;
  /** See ProjectorOptions.beforeCommit (caches). */
  readonly beforeCommit?: ProjectorOptions['beforeCommit'];
  /** See ProjectorOptions.afterCommit (caches). */
  readonly afterCommit?: ProjectorOptions['afterCommit'];
}

/**
 * Runs this instance's share of the projections: one projector per
 * projection, each started only while this instance holds the projection's
 * lease (one holder across all instances). Projections it does not hold are
 * tried again every `leaseRetryMs`, so when a holder dies another instance
 * takes over within that time, from the committed checkpoint. A lost lease
 * (its session died) stops that projector at once.
 */
export class ProjectionDaemon {
  readonly projectors: readonly Projector[];
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    db: SqlDatabase,
    reader: EventLogReader,
    projections: readonly Projection[],
    private readonly leases: Leases,
    private readonly options: ProjectionDaemonOptions,
  ) {
    this.projectors = projections.map(
      (projection) =>
        new Projector(db, reader, projection, {
          batchSize: options.batchSize,
          idlePollMs: options.idlePollMs,
          maxAttempts: options.maxAttempts,
          beforeApply: options.beforeApply,
          beforeCommit: options.beforeCommit,
          afterCommit: options.afterCommit,
          onProgress: options.onProgress,
          onError: (name, err) => options.logger.error({ err, projection: name }, 'projection batch failed; will retry'),
          onParked: (name, event, err) =>
            options.logger.error(
              { err, projection: name, eventId: event.eventId, eventType: event.type, aggregateId: event.aggregateId },
              'event parked as a dead letter; the projection goes on without it (retry or skip it)',
            ),
        }),
    );
    leases.onLost((names) => {
      options.logger.warn({ projections: names }, 'projection leases lost; stopping those projectors');
      for (const projector of this.projectors) if (names.includes(projector.name)) void projector.stop();
    });
  }

  /** Takes the leases it can now, then keeps trying the others. */
  async start(): Promise<void> {
    this.running = true;
    await this.tryLeases();
    const loop = () => {
      this.timer = setTimeout(() => void this.tryLeases().finally(() => this.running && loop()), this.options.leaseRetryMs);
    };
    loop();
  }

  /** Wakes every projector of this instance (with the cursor of a committed event, when known). */
  wake(cursor?: Cursor): void {
    for (const projector of this.projectors) projector.wake(cursor);
  }

  /** Wakes one projection's projector, if this instance has it. */
  wakeOne(projection: string): void {
    this.projectors.find((p) => p.name === projection)?.wake();
  }

  /** Stops trying leases and stops each projector after its batch in progress. Leases go with the session. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await Promise.all(this.projectors.map((p) => p.stop()));
  }

  private async tryLeases(): Promise<void> {
    for (const projector of this.projectors) {
      if (!this.running) return;
      if (projector.isRunning) continue;
      const acquired = await this.leases.tryAcquire(projector.name).catch((err: unknown) => {
        this.options.logger.warn({ err }, 'could not try the projection lease');
        return false;
      });
      if (acquired) {
        this.options.logger.info({ projection: projector.name }, 'running projection (lease acquired)');
        projector.resetCheckpoint();
        projector.start();
      }
    }
  }
}
