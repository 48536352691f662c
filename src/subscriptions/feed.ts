import { compareKeys, type Change, type ChangeKey } from '../read-models/change-key.js';
import { LiveIterator, type LiveIteratorOptions } from './live-iterator.js';

export interface FeedSource<V> {
  /** Committed changes after `key`, in key order. */
  after(key: ChangeKey, limit: number): Promise<Array<Change<V>>>;
  /** The newest committed change key. */
  head(): Promise<ChangeKey>;
}

interface Subscriber<V> {
  readonly matches: (change: Change<V>) => boolean;
  readonly iterator: LiveIterator<V>;
}

export interface ChangeFeedOptions<V> {
  /** Most changes read and handed out at once; at most the subscribers' buffer. */
  readonly chunkSize: number;
  /** Longest wait (ms) for subscribers that keep reading to make room for one chunk. */
  readonly maxWaitMs: number;
  /**
   * Each chunk of new changes, before any subscriber is handed one of them
   * (caches drop the changed views first, so that a subscriber never
   * queries an older state than it was sent). Must not throw.
   */
  readonly beforeDispatch?: (changes: ReadonlyArray<Change<V>>) => void;
}

/**
 * Tails one change-history table and hands each committed change to the
 * subscribers it matches. One read per wake-up serves every subscriber of this
 * process; subscribers to one view are indexed by its id.
 *
 * Backpressure: changes are read and handed out a chunk at a time, and before
 * each chunk the feed waits until every subscriber has room for it in its
 * buffer, so a burst (a rename changing thousands of orders) reaches a
 * subscriber that reads at the pace it reads, never piled up or conflated. It
 * does not wait for a subscriber that stalls (see LiveIterator), nor longer
 * than `maxWaitMs` for one chunk: such a subscriber is behind and conflated
 * until it has caught up, and the others go on.
 */
export class ChangeFeed<V> {
  private cursor: ChangeKey | undefined;
  private readonly all = new Set<Subscriber<V>>();
  private readonly byId = new Map<string, Set<Subscriber<V>>>();
  private pumping: Promise<void> | undefined;
  private again = false;
  private readonly chunkSize: number;
  private readonly maxWaitMs: number;
  private readonly beforeDispatch: ((changes: ReadonlyArray<Change<V>>) => void) | undefined;

  constructor(
    private readonly source: FeedSource<V>,
    private readonly onError: (error: unknown) => void,
    options: ChangeFeedOptions<V>,
  ) {
    this.chunkSize = options.chunkSize;
    this.maxWaitMs = options.maxWaitMs;
    this.beforeDispatch = options.beforeDispatch;
  }

  async start(): Promise<void> {
    this.cursor = await this.source.head();
  }

  get size(): number {
    let n = this.all.size;
    for (const set of this.byId.values()) n += set.size;
    return n;
  }

  /** Registers a subscriber before its prelude is read, so no change falls in between. */
  subscribe(
    filter: { id?: string; matches?: (change: Change<V>) => boolean },
    options: Omit<LiveIteratorOptions<V>, 'onClose'> & { onClose?: () => void },
  ): LiveIterator<V> {
    const subscriber: Subscriber<V> = {
      matches: filter.matches ?? (() => true),
      iterator: new LiveIterator<V>({
        ...options,
        onClose: () => {
          if (filter.id) {
            const set = this.byId.get(filter.id);
            set?.delete(subscriber);
            if (set?.size === 0) this.byId.delete(filter.id);
          } else {
            this.all.delete(subscriber);
          }
          options.onClose?.();
        },
      }),
    };
    if (filter.id) {
      const set = this.byId.get(filter.id) ?? new Set();
      set.add(subscriber);
      this.byId.set(filter.id, set);
    } else {
      this.all.add(subscriber);
    }
    return subscriber.iterator;
  }

  /** New changes may have been committed: read and dispatch them (coalesced). */
  poke(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch(this.onError)
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** Resolves when the current dispatch round (if any) is done. */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private async pump(): Promise<void> {
    if (!this.cursor) return;
    for (;;) {
      const changes = await this.source.after(this.cursor, this.chunkSize);
      if (changes.length > 0) this.beforeDispatch?.(changes);
      await this.roomFor(changes);
      for (const change of changes) {
        if (compareKeys(change.key, this.cursor) <= 0) continue;
        this.cursor = change.key;
        for (const s of this.byId.get(change.key.id) ?? []) if (s.matches(change)) s.iterator.offer(change);
        for (const s of this.all) if (s.matches(change)) s.iterator.offer(change);
      }
      if (changes.length < this.chunkSize) return;
    }
  }

  /** Waits until every subscriber can take its share of `changes`, except those that stall; at most `maxWaitMs`. */
  private async roomFor(changes: ReadonlyArray<Change<V>>): Promise<void> {
    if (changes.length === 0) return;
    const waits: Array<{ iterator: LiveIterator<V>; room: Promise<void> }> = [];
    const ask = (s: Subscriber<V>, count: number) => {
      const room = s.iterator.whenRoomFor(count);
      if (room) waits.push({ iterator: s.iterator, room });
    };
    for (const s of this.all) ask(s, changes.length);
    const perId = new Map<string, number>();
    for (const change of changes) perId.set(change.key.id, (perId.get(change.key.id) ?? 0) + 1);
    for (const [id, count] of perId) for (const s of this.byId.get(id) ?? []) ask(s, count);
    if (waits.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waits.map((w) => w.room)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.maxWaitMs))),
    ]);
    clearTimeout(timer);
    for (const w of waits) w.iterator.giveUp();
  }
}
