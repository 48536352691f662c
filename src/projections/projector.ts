import { LOG_START, compareCursors, maxCursor, type Cursor } from '../eventlog/cursor.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { SqlClient, SqlDatabase } from '../eventlog/sql-client.js';
import type { Projection } from './projection.js';

export interface ProjectorOptions {
  readonly batchSize?: number;
  /** Fallback poll when no wake-up arrives (ms). */
  readonly idlePollMs?: number;
  /** After each step: where the projection stands, and how many events the step applied. */
  readonly onProgress?: (projection: string, cursor: Cursor, applied: number) => void;
  readonly onError?: (projection: string, error: unknown) => void;
}

/** Reads a projection's checkpoint (LOG_START when it has none yet). */
export async function readCheckpoint(db: SqlClient, name: string): Promise<Cursor> {
  const [row] = await db.$queryRaw<Array<{ tx: string; pos: string }>>`
    SELECT last_tx::text AS tx, last_pos::text AS pos FROM projection_checkpoint WHERE name = ${name}`;
  return row ? { tx: BigInt(row.tx), pos: BigInt(row.pos) } : LOG_START;
}

/**
 * Runs one projection: reads the event log after its checkpoint in batches and
 * applies each batch and the new checkpoint in ONE transaction, so a crash
 * neither re-applies nor skips an event. Wakes on `wake()` (after a local
 * commit or a notification) and otherwise polls slowly.
 */
export class Projector {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private checkpoint: Cursor | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private generation = 0;
  /** The newest cursor a wake-up announced: known to exist, maybe not yet readable. */
  private target: Cursor = LOG_START;
  private readonly batchSize: number;
  private readonly idlePollMs: number;

  constructor(
    private readonly db: SqlDatabase,
    private readonly reader: EventLogReader,
    readonly projection: Projection,
    private readonly options: ProjectorOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.idlePollMs = options.idlePollMs ?? 1000;
  }

  get isRunning(): boolean {
    return this.running;
  }

  get name(): string {
    return this.projection.name;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // A loop left over from a stop() that has not finished yet must not
    // resume when `running` turns true again: each loop runs for one generation.
    const generation = ++this.generation;
    const previous = this.loop ?? Promise.resolve();
    this.loop = previous.then(() => this.run(generation));
  }

  /** Stops after the batch in progress has committed its checkpoint. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  /**
   * Wakes the loop. With the cursor of a committed event, the projector keeps
   * polling briefly until it has read that far: the event may stay invisible
   * for a moment while an older transaction (another command, another
   * projector's batch) is still running.
   */
  wake(cursor?: Cursor): void {
    if (cursor) {
      // Already applied (e.g. this process's own commit, echoed back by NOTIFY): nothing to read.
      if (this.checkpoint && compareCursors(cursor, this.checkpoint) <= 0) return;
      this.target = maxCursor(this.target, cursor);
    }
    this.woken = true;
    this.wakeUp?.();
  }

  /** Forgets the cached checkpoint, so the next step reads it from the database. */
  resetCheckpoint(): void {
    this.checkpoint = undefined;
  }

  /** Applies every event available now; returns how many were read. For tests and rebuilds. */
  async catchUp(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.step();
      total += n;
      if (n < this.batchSize) return total;
    }
  }

  private async run(generation: number): Promise<void> {
    let failures = 0;
    while (this.running && generation === this.generation) {
      this.woken = false;
      let read = 0;
      try {
        read = await this.step();
        failures = 0;
      } catch (error) {
        this.checkpoint = undefined; // re-read it: the transaction rolled back
        failures++;
        this.options.onError?.(this.name, error);
        await this.sleep(Math.min(30_000, 100 * 2 ** failures));
        continue;
      }
      if (read === this.batchSize || this.woken) continue;
      const behind = this.checkpoint && compareCursors(this.checkpoint, this.target) < 0;
      await this.sleep(behind ? 5 : this.idlePollMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    }).finally(() => (this.wakeUp = undefined));
  }

  /** One batch at a time per projector, whether from the loop or `catchUp`. */
  private step(): Promise<number> {
    const next = this.lock.then(() => this.stepUnlocked());
    this.lock = next.catch(() => undefined);
    return next;
  }

  private async stepUnlocked(): Promise<number> {
    const from = this.checkpoint ?? (await readCheckpoint(this.db, this.name));
    const events = await this.reader.readAfter(from, this.batchSize);
    if (events.length === 0) {
      this.checkpoint = from;
      this.options.onProgress?.(this.name, from, 0);
      return 0;
    }
    const to = events[events.length - 1]!.cursor;
    const { handles } = this.projection;
    if (handles && !events.some(handles)) {
      // Nothing to apply: moving the checkpoint is one statement, atomic by itself.
      await this.moveCheckpoint(this.db, from, to);
    } else {
      await this.db.$transaction(async (tx) => {
        await this.projection.apply(tx, events);
        await this.moveCheckpoint(tx, from, to);
      });
    }
    this.checkpoint = to;
    this.options.onProgress?.(this.name, to, events.length);
    return events.length;
  }

  /** Guarded by the cursor the batch was read from: if anyone else moved it, fail (and roll back). */
  private async moveCheckpoint(db: SqlClient, from: Cursor, to: Cursor): Promise<void> {
    const moved = await db.$executeRaw`
      INSERT INTO projection_checkpoint (name, last_tx, last_pos, updated_at)
      VALUES (${this.name}, ${to.tx}, ${to.pos}, now())
      ON CONFLICT (name) DO UPDATE SET last_tx = EXCLUDED.last_tx, last_pos = EXCLUDED.last_pos, updated_at = now()
      WHERE projection_checkpoint.last_tx = ${from.tx} AND projection_checkpoint.last_pos = ${from.pos}`;
    if (moved !== 1) throw new Error(`Checkpoint of ${this.name} moved away from ${from.tx}:${from.pos} concurrently`);
  }
}

