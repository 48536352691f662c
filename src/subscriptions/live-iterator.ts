import { compareKeys, type Change, type ChangeKey } from '../read-models/change-key.js';

/** Event-loop turns a consumer must also let pass, still holding its change, to count as stalled. */
const STALL_TURNS = 3;

/** A subscriber could not keep up even after conflation. */
export class SlowConsumerError extends Error {
  readonly code = 'SLOW_CONSUMER';
  constructor(limit: number) {
    super(`The subscriber fell more than ${limit} distinct changes behind and was dropped; resubscribe with \`since\``);
  }
}

export interface LiveIteratorOptions<V> {
  /** Most pending changes kept for this subscriber before conflating. */
  readonly bufferLimit: number;
  /**
   * A consumer that has not asked for its next change this long (ms) after
   * taking the last one, while the feed waits for it, is stalled.
   */
  readonly stallMs: number;
  /** Views delivered first (a snapshot or a replay page), already in key order. */
  readonly prelude?: () => Promise<{ changes: Array<Change<V>>; more: boolean }>;
  readonly onClose: () => void;
  readonly onDropped?: (count: number) => void;
}

/** The feed waiting for room for `count` changes. */
interface RoomWait {
  readonly count: number;
  readonly resolve: () => void;
  timer?: NodeJS.Timeout;
}

/**
 * The per-subscriber queue between a change feed and a transport. Delivers
 * changes (each view with its key and cause): the prelude, then live changes
 * with keys after the last delivered one (no duplicate at the seam, never an
 * older state after a newer one).
 *
 * Backpressure: before handing out more changes, the feed asks `whenRoomFor`
 * and waits while this subscriber keeps reading. One that stalls (or that the
 * feed gave up on) is *behind* until its queue is empty again: it is no longer
 * waited for, and its queue is bounded instead — when more than `bufferLimit`
 * changes wait, only the latest per view is kept (conflation); if distinct
 * views alone exceed it, the subscriber is dropped with SLOW_CONSUMER.
 * `return()` ends it at once, even while waiting.
 */
export class LiveIterator<V> implements AsyncIterableIterator<Change<V>> {
  private pending: Array<Change<V>> = [];
  private waiter: ((result: IteratorResult<Change<V>>) => void) | undefined;
  private failer: ((error: unknown) => void) | undefined;
  private last: ChangeKey | undefined;
  private closed = false;
  private failure: unknown;
  private preludeDone: boolean;
  /** When the consumer took its last change without asking for the next yet; undefined while it asks. */
  private heldSince: number | undefined = performance.now();
  /** Not waited for by the feed; cleared once the queue is empty. */
  private behind = false;
  private room: RoomWait | undefined;

  constructor(private readonly options: LiveIteratorOptions<V>) {
    this.preludeDone = !options.prelude;
  }

  /**
   * Asked by the feed before it hands out up to `count` more changes:
   * undefined when they fit in the buffer (or this subscriber is closed or
   * behind); otherwise a promise that resolves once they fit, or once the
   * consumer stalls — it is behind from then on.
   */
  whenRoomFor(count: number): Promise<void> | undefined {
    if (this.hasRoomFor(count)) return undefined;
    return new Promise<void>((resolve) => {
      this.room = { count, resolve };
      this.watchStall();
    });
  }

  /** The feed waits no longer: unless the changes fit by now, this subscriber is behind. */
  giveUp(): void {
    if (!this.room) return;
    if (!this.hasRoomFor(this.room.count)) this.behind = true;
    this.settleRoom();
  }

  private hasRoomFor(count: number): boolean {
    return this.closed || this.behind || this.pending.length + count <= this.options.bufferLimit;
  }

  /** Wakes when the consumer will have held its change for `stallMs`. */
  private watchStall(): void {
    const room = this.room;
    if (!room) return;
    const wait = this.heldSince === undefined ? this.options.stallMs : this.heldSince + this.options.stallMs - performance.now();
    room.timer = setTimeout(() => this.confirmStall(room, this.heldSince, STALL_TURNS), Math.max(0, wait));
    room.timer.unref();
  }

  /**
   * Time alone makes no stall: the event loop may have been busy elsewhere
   * (timers also run before pending I/O). It is one only if the consumer still
   * holds the same change after a few more turns of the loop, in each of which
   * its transport could have taken it.
   */
  private confirmStall(room: RoomWait, held: number | undefined, turns: number): void {
    if (this.room !== room) return;
    const holding = held !== undefined && this.heldSince === held && performance.now() - held >= this.options.stallMs;
    if (!holding) return this.watchStall();
    if (turns > 0) {
      setImmediate(() => this.confirmStall(room, held, turns - 1));
      return;
    }
    this.behind = true;
    this.settleRoom();
  }

  private settleRoom(): void {
    const room = this.room;
    if (!room) return;
    this.room = undefined;
    clearTimeout(room.timer);
    room.resolve();
  }

  /** A change was handed to the consumer. */
  private handed(change: Change<V>): IteratorResult<Change<V>> {
    this.last = change.key;
    this.heldSince = performance.now();
    return { value: change, done: false };
  }

  /** Called by the feed for each matching committed change, in key order. */
  offer(change: Change<V>): void {
    if (this.closed) return;
    this.pending.push(change);
    if (this.pending.length > this.options.bufferLimit) this.conflate();
    this.flush();
  }

  private conflate(): void {
    const latest = new Map<string, Change<V>>();
    for (const change of this.pending) {
      latest.delete(change.key.id); // re-insert: keeps key order of latest changes
      latest.set(change.key.id, change);
    }
    const dropped = this.pending.length - latest.size;
    this.pending = [...latest.values()];
    this.options.onDropped?.(dropped);
    if (this.pending.length > this.options.bufferLimit) this.fail(new SlowConsumerError(this.options.bufferLimit));
  }

  private fail(error: unknown): void {
    this.failure = error;
    this.pending = [];
    const fail = this.failer;
    this.waiter = this.failer = undefined;
    this.close();
    fail?.(error);
  }

  private takeLive(): Change<V> | undefined {
    let change: Change<V> | undefined;
    while (!change && this.pending.length > 0) {
      const next = this.pending.shift()!;
      if (this.last && compareKeys(next.key, this.last) <= 0) continue; // seen in the prelude
      change = next;
    }
    if (this.pending.length === 0) this.behind = false;
    if (this.room && this.hasRoomFor(this.room.count)) this.settleRoom();
    return change;
  }

  private flush(): void {
    if (!this.waiter || !this.preludeDone) return;
    const change = this.takeLive();
    if (!change) return;
    const resolve = this.waiter;
    this.waiter = this.failer = undefined;
    resolve(this.handed(change));
  }

  private preludeBuffer: Array<Change<V>> = [];

  async next(): Promise<IteratorResult<Change<V>>> {
    if (this.failure) throw this.failure;
    if (this.closed) return { value: undefined, done: true };
    this.heldSince = undefined;
    while (!this.preludeDone || this.preludeBuffer.length > 0) {
      const buffered = this.preludeBuffer.shift();
      if (buffered) {
        if (this.last && compareKeys(buffered.key, this.last) <= 0) continue;
        return this.handed(buffered);
      }
      const page = await this.options.prelude!();
      this.preludeBuffer = page.changes;
      this.preludeDone = !page.more;
      if (this.closed) return { value: undefined, done: true };
    }
    const change = this.takeLive();
    if (change) return this.handed(change);
    return new Promise<IteratorResult<Change<V>>>((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
    });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.settleRoom();
    this.options.onClose();
  }

  async return(): Promise<IteratorResult<Change<V>>> {
    this.close();
    const resolve = this.waiter;
    this.waiter = this.failer = undefined;
    resolve?.({ value: undefined, done: true });
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<Change<V>>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
