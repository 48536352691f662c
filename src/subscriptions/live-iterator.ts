import { compareKeys, type Change, type ChangeKey } from '../read-models/change-key.js';

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
  /** Views delivered first (a snapshot or a replay page), already in key order. */
  readonly prelude?: () => Promise<{ changes: Array<Change<V>>; more: boolean }>;
  readonly onClose: () => void;
  readonly onDropped?: (count: number) => void;
}

/**
 * The per-subscriber queue between a change feed and a transport. Delivers
 * the prelude, then live changes with keys after the last delivered one (no
 * duplicate at the seam, never an older state after a newer one). Bounded:
 * when more than `bufferLimit` changes wait, only the latest per view is kept
 * (conflation); if distinct views alone exceed it, the subscriber is dropped.
 * `return()` ends it at once, even while waiting.
 */
export class LiveIterator<V> implements AsyncIterableIterator<V> {
  private pending: Array<Change<V>> = [];
  private waiter: ((result: IteratorResult<V>) => void) | undefined;
  private failer: ((error: unknown) => void) | undefined;
  private last: ChangeKey | undefined;
  private closed = false;
  private failure: unknown;
  private preludeDone: boolean;

  constructor(private readonly options: LiveIteratorOptions<V>) {
    this.preludeDone = !options.prelude;
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
    while (this.pending.length > 0) {
      const change = this.pending.shift()!;
      if (this.last && compareKeys(change.key, this.last) <= 0) continue; // seen in the prelude
      return change;
    }
    return undefined;
  }

  private flush(): void {
    if (!this.waiter || !this.preludeDone) return;
    const change = this.takeLive();
    if (!change) return;
    const resolve = this.waiter;
    this.waiter = this.failer = undefined;
    this.last = change.key;
    resolve({ value: change.view, done: false });
  }

  private preludeBuffer: Array<Change<V>> = [];

  async next(): Promise<IteratorResult<V>> {
    if (this.failure) throw this.failure;
    if (this.closed) return { value: undefined, done: true };
    while (!this.preludeDone || this.preludeBuffer.length > 0) {
      const buffered = this.preludeBuffer.shift();
      if (buffered) {
        if (this.last && compareKeys(buffered.key, this.last) <= 0) continue;
        this.last = buffered.key;
        return { value: buffered.view, done: false };
      }
      const page = await this.options.prelude!();
      this.preludeBuffer = page.changes;
      this.preludeDone = !page.more;
      if (this.closed) return { value: undefined, done: true };
    }
    const change = this.takeLive();
    if (change) {
      this.last = change.key;
      return { value: change.view, done: false };
    }
    return new Promise<IteratorResult<V>>((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
    });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.onClose();
  }

  async return(): Promise<IteratorResult<V>> {
    this.close();
    const resolve = this.waiter;
    this.waiter = this.failer = undefined;
    resolve?.({ value: undefined, done: true });
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<V>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
