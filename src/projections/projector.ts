import { DEFAULTS } from '../config.js';
import { LOG_START, compareCursors, formatCursor, maxCursor, type Cursor } from '../eventlog/cursor.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { RedriveRequested } from '../domain/redrives.js';
import type { StoredEvent } from '../eventlog/types.js';
import { ATTR, ROOT_CONTEXT, SpanKind, causeLinks, errorTypeOf, inSpan, setRecorded } from '../observability/tracing.js';
import { Prisma } from '../generated/prisma/client.js';
import { DatabaseUnavailableError, type SqlClient, type SqlDatabase } from '../sql/client.js';
import { oneStatement, type Write } from '../sql/one-statement.js';
import {
  aggregateKey,
  clearParked,
  describeError,
  failedAgain,
  park,
  parkedAggregates,
  parkedEvents,
} from './dead-letters.js';
import type { AppliedBatch, ChangedIds, Projection } from './projection.js';
import { readCheckpoint } from './status.js';

export interface ProjectorOptions {
  /** Events read and applied per transaction (default DEFAULTS.PROJECTION_BATCH_SIZE). */
  readonly batchSize?: number;
  /** Fallback poll when no wake-up arrives, in ms (default DEFAULTS.PROJECTION_IDLE_POLL_MS). */
  readonly idlePollMs?: number;
  /** Failed attempts of a batch before its poison event is found and parked (default DEFAULTS.PROJECTION_MAX_ATTEMPTS). */
  readonly maxAttempts?: number;
  /** After each step: where the projection stands, and how many events the step applied. Must not throw. */
  readonly onProgress?: (projection: string, cursor: Cursor, applied: number) => void;
  /** A batch failed (it will be retried, or its poison event parked). Must not throw. */
  readonly onError?: (projection: string, error: unknown) => void;
  /** An event was parked as a dead letter (FAILED). Must not throw. */
  readonly onParked?: (projection: string, event: StoredEvent, error: unknown) => void;
  /**
   * Inside each transaction that applies events (a batch, or a redrive at
   * its request's place), after they were applied and before it commits: the
   * ids of the views they changed, and the checkpoint it moves from and to.
   * For caches, which must let go of the old state before the new one is
   * committed. A rejection rolls the transaction back (the batch is
   * retried), so it should not reject.
   */
  readonly beforeCommit?: (projection: string, changes: CommittedChanges) => Promise<void>;
  /**
   * After each commit that applied events or moved the checkpoint (before
   * `onProgress`); `changed` is empty when the batch had nothing for the
   * projection. Must not throw.
   */
  readonly afterCommit?: (projection: string, changes: CommittedChanges) => void;
  /**
   * Test hook: called before the projection applies each event, inside its
   * transaction; throwing makes that event's handler fail (a poison event).
   */
  readonly beforeApply?: (projection: string, event: StoredEvent) => void;
}

/** What one committed transaction of a projector changed, and the checkpoint it moved (see ProjectorOptions.beforeCommit). */
export interface CommittedChanges {
  readonly changed: ChangedIds;
  readonly from: Cursor;
  readonly to: Cursor;
}

/**
 * Someone else moved this projection's checkpoint (a blue/green rebuild
 * swapped its tables in, or another process ran it): the batch rolled back;
 * the projector re-reads where it stands and goes on from there.
 */
export class CheckpointMovedError extends Error {}

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
  private readonly maxAttempts: number;
  /** Aggregates with dead letters (loaded on the first step; this projector is their only writer). */
  private parked: Set<string> | undefined;

  constructor(
    private readonly db: SqlDatabase,
    private readonly reader: EventLogReader,
    readonly projection: Projection,
    private readonly options: ProjectorOptions = {},
  ) {
    this.batchSize = options.batchSize ?? DEFAULTS.PROJECTION_BATCH_SIZE;
    this.idlePollMs = options.idlePollMs ?? DEFAULTS.PROJECTION_IDLE_POLL_MS;
    this.maxAttempts = options.maxAttempts ?? DEFAULTS.PROJECTION_MAX_ATTEMPTS;
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
      // Already applied, or already known: the loop keeps polling until it has
      // read as far as `target` (see `run`). E.g. this process's own commit,
      // echoed back by NOTIFY while the batch that applies it is running.
      if (compareCursors(cursor, this.target) <= 0) return;
      if (this.checkpoint && compareCursors(cursor, this.checkpoint) <= 0) return;
      this.target = maxCursor(this.target, cursor);
    }
    this.woken = true;
    this.wakeUp?.();
  }

  /** Forgets the cached checkpoint (and dead-letter state), so the next step reads them from the database. */
  resetCheckpoint(): void {
    this.checkpoint = undefined;
    this.parked = undefined;
  }

  /** Applies every event available now; returns how many were read. For tests and rebuilds. */
  async catchUp(): Promise<number> {
    let total = 0;
    for (;;) {
      const { consumed, more } = await this.step();
      total += consumed;
      if (!more) return total;
    }
  }

  /**
   * The loop. A failing batch is retried with backoff; the projection is
   * STALLED meanwhile (its checkpoint row says why). Faults of the moment are
   * retried for as long as they last; any other error, after `maxAttempts`,
   * is narrowed down to the event that causes it, which is parked as a dead
   * letter — and the projection goes on.
   */
  private async run(generation: number): Promise<void> {
    let failures = 0;
    let persistent = 0;
    while (this.running && generation === this.generation) {
      this.woken = false;
      let more = false;
      try {
        ({ more } = await this.step());
        failures = 0;
        persistent = 0;
      } catch (error) {
        this.checkpoint = undefined; // re-read it: the transaction rolled back
        if (error instanceof CheckpointMovedError) {
          this.parked = undefined; // its dead letters may have been replaced too
          continue;
        }
        failures++;
        this.options.onError?.(this.name, error);
        await this.markStalled(error);
        if (!isTransient(error) && ++persistent >= this.maxAttempts) {
          persistent = 0;
          await this.exclusive(() => this.parkPoison()).catch((e: unknown) => this.options.onError?.(this.name, e));
          continue;
        }
        await this.sleep(Math.min(30_000, 100 * 2 ** failures));
        continue;
      }
      if (more || this.woken) continue;
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
  private step(): Promise<Step> {
    return this.exclusive(() => this.stepUnlocked());
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.lock.then(work);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private handles(event: StoredEvent): boolean {
    return !isRedriveRequest(event) && (this.projection.handles?.(event) ?? true);
  }

  /** An operator's request for this projection: carried out where it stands in the log. */
  private isRequestHere(event: StoredEvent): event is StoredEvent<RedriveRequested> {
    return isRedriveRequest(event) && event.data.projection === this.name;
  }

  /** Events of parked aggregates wait behind their failed event; the rest are applied. */
  private split(events: readonly StoredEvent[]): { apply: StoredEvent[]; wait: StoredEvent[] } {
    if (!this.parked?.size) return { apply: events.filter((e) => !isRedriveRequest(e)), wait: [] };
    const apply: StoredEvent[] = [];
    const wait: StoredEvent[] = [];
    for (const event of events) {
      if (isRedriveRequest(event)) continue;
      if (this.handles(event) && this.parked.has(aggregateKey(event))) wait.push(event);
      else apply.push(event);
    }
    return { apply, wait };
  }

  /**
   * Applies events read by someone else: a replay that reads the log once for
   * several projectors (`replayTogether`). `events` must be what the log
   * holds right after `after`, in order, and `after` must be where this
   * projector stands; otherwise it throws before applying anything. They are
   * applied as `catchUp` applies what it reads: in one transaction, or in
   * more where a redrive request for this projection lies among them.
   * Returns how many it consumed: all of them.
   */
  applyRead(after: Cursor, events: readonly StoredEvent[]): Promise<number> {
    return this.exclusive(async () => {
      const from = await this.position();
      if (compareCursors(from, after) !== 0) {
        throw new Error(
          `Projector.applyRead: events must be given right after the projector's checkpoint; ${this.name} stands at ` +
            `${formatCursor(from)}, and the events given were read after ${formatCursor(after)}`,
        );
      }
      let consumed = 0;
      while (consumed < events.length) {
        consumed += await this.consume(this.checkpoint!, consumed === 0 ? events : events.slice(consumed));
      }
      return consumed;
    });
  }

  /** Where this projector stands now: its checkpoint. */
  currentPosition(): Promise<Cursor> {
    return this.exclusive(() => this.position());
  }

  /** Where this projector stands: its checkpoint (read on the first step, with its dead-letter state). */
  private async position(): Promise<Cursor> {
    this.parked ??= await parkedAggregates(this.db, this.name);
    this.checkpoint ??= await readCheckpoint(this.db, this.name);
    return this.checkpoint;
  }

  /** One batch: reads after the checkpoint and consumes what it can of it. */
  private async stepUnlocked(): Promise<Step> {
    const from = await this.position();
    const read = await this.reader.readAfter(from, this.batchSize);
    if (read.length === 0) {
      this.options.onProgress?.(this.name, from, 0);
      return { consumed: 0, more: false };
    }
    const consumed = await this.consume(from, read);
    return { consumed, more: consumed < read.length || read.length === this.batchSize };
  }

  /**
   * Consumes the events read after `from` up to a redrive request for this
   * projection (which ends them), or that request alone when it comes first:
   * the request is carried out on its own, at its place. Returns how many it
   * consumed; the checkpoint is past them.
   */
  private async consume(from: Cursor, read: readonly StoredEvent[]): Promise<number> {
    const request = read.findIndex((e) => this.isRequestHere(e));
    if (request === 0) {
      const event = read[0] as StoredEvent<RedriveRequested>;
      await this.redriveAt(from, event);
      this.checkpoint = event.cursor;
      this.options.onProgress?.(this.name, event.cursor, 1);
      return 1;
    }
    const events = request > 0 ? read.slice(0, request) : read;
    const to = events[events.length - 1]!.cursor;
    await this.applyUpTo(from, to, events);
    this.checkpoint = to;
    this.options.onProgress?.(this.name, to, events.length);
    return events.length;
  }

  /**
   * After a batch kept failing: applies its events one at a time (each with
   * its checkpoint) until one fails, and parks that one as FAILED, with the
   * error, in the transaction that moves the checkpoint past it.
   */
  private async parkPoison(): Promise<void> {
    this.parked ??= await parkedAggregates(this.db, this.name);
    let from = this.checkpoint ?? (await readCheckpoint(this.db, this.name));
    const events = await this.reader.readAfter(from, this.batchSize);
    for (const event of events) {
      if (this.isRequestHere(event)) return; // the next step carries it out
      try {
        await this.applyUpTo(from, event.cursor, [event]);
      } catch (error) {
        if (isTransient(error)) throw error;
        const poisonFrom = from;
        await this.db.$transaction(async (tx) => {
          await park(tx, this.name, [event], 'FAILED', { error, attempts: this.maxAttempts });
          await this.moveCheckpoint(tx, poisonFrom, event.cursor);
        });
        this.options.afterCommit?.(this.name, { changed: [], from: poisonFrom, to: event.cursor });
        this.parked.add(aggregateKey(event));
        this.checkpoint = event.cursor;
        this.options.onParked?.(this.name, event, error);
        this.options.onProgress?.(this.name, event.cursor, 1);
        return;
      }
      from = event.cursor;
      this.checkpoint = from;
      this.options.onProgress?.(this.name, from, 1);
    }
    // Every event applied on its own: the batch's failure did not recur.
  }

  /**
   * Applies `events` (read after `from`) and moves the checkpoint to `to`, in
   * one transaction; events of parked aggregates are parked behind them. A
   * batch with nothing for this projection only moves the checkpoint: one
   * statement, atomic by itself.
   *
   * A batch that applies events is traced (`projection <name>`): a trace of
   * its own, linked to the span of each command whose events it applies (as
   * their metadata recorded it, on whichever instance the command ran).
   */
  private async applyUpTo(from: Cursor, to: Cursor, events: readonly StoredEvent[]): Promise<void> {
    const { apply, wait } = this.split(events);
    const handled = apply.filter((e) => this.handles(e));
    if (wait.length === 0 && handled.length === 0) {
      await this.moveCheckpoint(this.db, from, to);
      this.options.afterCommit?.(this.name, { changed: [], from, to });
      return;
    }
    const { links, dropped } = causeLinks(handled.map((e) => e.metadata));
    const changes = await inSpan(`projection ${this.name}`, { kind: SpanKind.CONSUMER, links }, ROOT_CONTEXT, errorTypeOf, async (span) => {
      setRecorded(span, () => ({
        [ATTR.projection]: this.name,
        [ATTR.projectionFrom]: formatCursor(from),
        [ATTR.projectionTo]: formatCursor(to),
        [ATTR.eventCount]: events.length,
        [ATTR.projectionApplied]: handled.length,
        ...(dropped > 0 ? { [ATTR.linksDropped]: dropped } : {}),
      }));
      return this.db.$transaction(async (tx) => {
        const { changed, writes } = await this.applyEvents(tx, apply);
        await park(tx, this.name, wait, 'WAITING');
        await this.writeAndMoveCheckpoint(tx, writes, from, to);
        const committing: CommittedChanges = { changed, from, to };
        await this.options.beforeCommit?.(this.name, committing);
        return committing;
      });
    });
    this.options.afterCommit?.(this.name, changes);
  }

  private async applyEvents(tx: SqlClient, events: readonly StoredEvent[]): Promise<AppliedBatch> {
    const hook = this.options.beforeApply;
    if (hook) for (const event of events) hook(this.name, event);
    return (await this.projection.apply(tx, events)) ?? NOTHING_APPLIED;
  }

  /**
   * Carries out an operator's RETRY / SKIP request at its place in the log:
   * the aggregate's parked events are applied as of the request's position
   * (so the views they change, and their change histories, sort after
   * everything projected so far), in the transaction that clears them and
   * moves the checkpoint past the request. If they still fail, the failed
   * event stays parked with the new error and the checkpoint moves on all the
   * same. A request with nothing parked (already carried out, or replayed by
   * a rebuild that did not fail) only moves the checkpoint.
   */
  private async redriveAt(from: Cursor, request: StoredEvent<RedriveRequested>): Promise<void> {
    const { aggregateType, aggregateId, action } = request.data;
    const at = request.cursor;
    const letters = await parkedEvents(this.db, this.name, aggregateType, aggregateId);
    if (letters.length === 0) {
      await this.moveCheckpoint(this.db, from, at);
      this.options.afterCommit?.(this.name, { changed: [], from, to: at });
      return;
    }
    const ids = letters.map((l) => l.event_id);
    const toApply = action === 'SKIP' ? ids.slice(1) : ids;
    const events = (await this.reader.readByIds(toApply)).map((e) => ({ ...e, cursor: at }));
    try {
      const changes = await this.db.$transaction(async (tx) => {
        const { changed, writes } = await this.applyEvents(tx, events);
        await clearParked(tx, this.name, ids);
        await this.writeAndMoveCheckpoint(tx, writes, from, at);
        const committing: CommittedChanges = { changed, from, to: at };
        await this.options.beforeCommit?.(this.name, committing);
        return committing;
      });
      this.options.afterCommit?.(this.name, changes);
    } catch (error) {
      if (isTransient(error) || error instanceof CheckpointMovedError) throw error;
      // Still failing: the first event not skipped is the failed one now.
      await this.db.$transaction(async (tx) => {
        if (action === 'SKIP') await clearParked(tx, this.name, ids.slice(0, 1));
        await failedAgain(tx, this.name, toApply[0] ?? ids[0]!, error);
        await this.moveCheckpoint(tx, from, at);
      });
      this.options.afterCommit?.(this.name, { changed: [], from, to: at });
      this.options.onError?.(this.name, error);
    }
    this.parked = await parkedAggregates(this.db, this.name);
  }

  /** Best effort (the database may be the problem): says why the projection is stuck. */
  private async markStalled(error: unknown): Promise<void> {
    const reason = describeError(error);
    await this.db.$executeRaw`
      INSERT INTO projection_checkpoint (name, last_tx, last_pos, updated_at, stalled_error, stalled_since)
      VALUES (${this.name}, 0, 0, now(), ${reason}, now())
      ON CONFLICT (name) DO UPDATE SET stalled_error = EXCLUDED.stalled_error,
        stalled_since = coalesce(projection_checkpoint.stalled_since, now())`.catch(() => undefined);
  }

  /** Guarded by the cursor the batch was read from: if anyone else moved it, fail (and roll back). */
  private async moveCheckpoint(db: SqlClient, from: Cursor, to: Cursor): Promise<void> {
    await this.writeAndMoveCheckpoint(db, [], from, to);
  }

  /**
   * A batch's writes and the checkpoint's move in ONE statement (the move
   * last: the statement's row count is its own). Guarded as moveCheckpoint:
   * in a transaction, the throw rolls the writes back with it.
   */
  private async writeAndMoveCheckpoint(db: SqlClient, writes: readonly Write[], from: Cursor, to: Cursor): Promise<void> {
    const moved = await db.$executeRaw`${oneStatement([...writes, checkpointMove(this.name, from, to)])!}`;
    if (moved !== 1) throw new CheckpointMovedError(`Checkpoint of ${this.name} moved away from ${from.tx}:${from.pos} concurrently`);
  }
}

/** Moves `name`'s checkpoint from `from` to `to` (and clears a stall): one row, or none when it no longer stands at `from`. */
function checkpointMove(name: string, from: Cursor, to: Cursor): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO projection_checkpoint (name, last_tx, last_pos, updated_at)
    VALUES (${name}, ${to.tx}, ${to.pos}, now())
    ON CONFLICT (name) DO UPDATE SET last_tx = EXCLUDED.last_tx, last_pos = EXCLUDED.last_pos, updated_at = now(),
      stalled_error = NULL, stalled_since = NULL
    WHERE projection_checkpoint.last_tx = ${from.tx} AND projection_checkpoint.last_pos = ${from.pos}`;
}

const NOTHING_APPLIED: AppliedBatch = { changed: [], writes: [] };

/** What one step did: how many events it consumed, and whether more may be readable at once. */
interface Step {
  readonly consumed: number;
  readonly more: boolean;
}

const isRedriveRequest = (event: StoredEvent): event is StoredEvent<RedriveRequested> => event.type === 'RedriveRequested';

/** Faults of the moment (the database is unavailable): retried for as long as they last, never parked. */
const isTransient = (error: unknown) => error instanceof DatabaseUnavailableError;
