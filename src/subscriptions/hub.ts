import { DEFAULTS } from '../config.js';
import type { OrderStatus } from '../domain/orders.js';
import type { Cursor } from '../eventlog/cursor.js';
import { LAST_ID, type Change, type ChangeKey } from '../read-models/change-key.js';
import { lastOrderChangeKey, orderChangesAfter } from '../read-models/orders/changes.js';
import { ordersByIds } from '../read-models/orders/queries.js';
import type { OrderView } from '../read-models/orders/view.js';
import { lastUserChangeKey, userChangesAfter } from '../read-models/users/changes.js';
import { usersByIds } from '../read-models/users/queries.js';
import type { UserView } from '../read-models/users/view.js';
import type { SqlClient } from '../sql/client.js';
import { ChangeFeed } from './feed.js';

/** How long (ms) a subscriber may hold its last change without asking for the next before it counts as stalled. */
export const DEFAULT_STALL_MS = 500;
/** Longest wait (ms) for subscribers that keep reading to make room for one chunk of changes. */
export const DEFAULT_MAX_WAIT_MS = 5000;

export interface HubOptions {
  /** Pending changes kept per subscriber before conflating (default DEFAULTS.SUBSCRIPTION_BUFFER). */
  readonly bufferLimit?: number;
  /** A subscriber that asks for nothing this long while changes wait for it is stalled (default DEFAULT_STALL_MS). */
  readonly stallMs?: number;
  /** Longest wait for reading subscribers to make room for one chunk (default DEFAULT_MAX_WAIT_MS). */
  readonly maxWaitMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Counts changes dropped by conflation (metrics). */
  readonly onDropped?: (count: number) => void;
  /**
   * New changes of a projection's views, before any subscriber is handed
   * them (see ChangeFeedOptions.beforeDispatch). Must not throw.
   */
  readonly onChanges?: (projection: 'orders' | 'users', changes: ReadonlyArray<{ readonly key: ChangeKey }>) => void;
  /**
   * Where snapshots and `since` replays read (default: `db`, the read
   * primary the feeds tail). With read replicas: a source showing at least
   * what the feeds have handed out (see `handingOut`).
   */
  readonly reads?: () => SqlClient;
  /**
   * Awaited after a feed with subscribers read changes and before it hands them out; what it
   * throws fails that round (read again at the next poke). The replica
   * router raises its floor here, so no query or snapshot of this process
   * reads an older state than a message it sent. Default: nothing.
   */
  readonly handingOut?: () => Promise<void>;
}

const REPLAY_PAGE = 500;
/** Most changes the feed reads at once, whatever the buffer. */
const MAX_CHUNK = 1000;

function keyOf(view: { id: string; lastTx: bigint; lastPos: bigint }): ChangeKey {
  return { tx: view.lastTx, pos: view.lastPos, id: view.id };
}

/**
 * Live views for subscriptions, read only from read models and their change
 * histories. Knows no transport: it hands out async iterators of changes —
 * each view with its key (`position`) and, for a change from the history,
 * the trace context of the command that caused it (a snapshot has none).
 */
export class SubscriptionHub {
  private readonly orders: ChangeFeed<OrderView>;
  private readonly users: ChangeFeed<UserView>;
  private readonly bufferLimit: number;
  private readonly stallMs: number;

  constructor(
    private readonly db: SqlClient,
    private readonly options: HubOptions = {},
  ) {
    const onError = options.onError ?? (() => undefined);
    this.bufferLimit = options.bufferLimit ?? DEFAULTS.SUBSCRIPTION_BUFFER;
    this.stallMs = options.stallMs ?? DEFAULT_STALL_MS;
    const feed = {
      // Half a buffer per chunk: a subscriber is handed the next one while it still works through the last.
      chunkSize: Math.min(MAX_CHUNK, Math.max(1, Math.floor(this.bufferLimit / 2))),
      maxWaitMs: options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
    };
    const onChanges = options.onChanges;
    const handingOut = options.handingOut;
    // Only what reaches someone is handed out: a feed without subscribers needs no wait.
    const seen = async <T>(listening: () => number, changes: T[]): Promise<T[]> => {
      if (handingOut && changes.length > 0 && listening() > 0) await handingOut();
      return changes;
    };
    this.orders = new ChangeFeed<OrderView>(
      { after: async (key, limit) => seen(() => this.orders.size, await orderChangesAfter(db, key, limit)), head: () => lastOrderChangeKey(db) },
      onError,
      { ...feed, beforeDispatch: onChanges && ((changes) => onChanges('orders', changes)) },
    );
    this.users = new ChangeFeed<UserView>(
      { after: async (key, limit) => seen(() => this.users.size, await userChangesAfter(db, key, limit)), head: () => lastUserChangeKey(db) },
      onError,
      { ...feed, beforeDispatch: onChanges && ((changes) => onChanges('users', changes)) },
    );
  }

  async start(): Promise<void> {
    await Promise.all([this.orders.start(), this.users.start()]);
  }

  /** A projection committed: its change history may have grown. */
  poke(projection: string): void {
    if (projection === 'orders') this.orders.poke();
    if (projection === 'users') this.users.poke();
  }

  /** Open subscriptions in this process. */
  get size(): number {
    return this.orders.size + this.users.size;
  }

  async idle(): Promise<void> {
    await Promise.all([this.orders.idle(), this.users.idle()]);
  }

  /**
   * The order's current view (once it exists), then each change. With
   * `ownerId`, only if the order belongs to that user: anyone else's order
   * stays silent, exactly like one that does not exist.
   */
  orderStatus(orderId: string, ownerId?: string): AsyncIterableIterator<Change<OrderView>> {
    const visible = (view: OrderView) => ownerId === undefined || view.userId === ownerId;
    return this.orders.subscribe(
      { id: orderId, matches: (change) => visible(change.view) },
      {
        ...this.iteratorOptions(),
        prelude: this.snapshot(async (reads) => (await ordersByIds(reads, [orderId])).filter(visible)),
      },
    );
  }

  /** The user's current view, then each change. */
  userProfile(userId: string): AsyncIterableIterator<Change<UserView>> {
    return this.users.subscribe(
      { id: userId },
      { ...this.iteratorOptions(), prelude: this.snapshot((reads) => usersByIds(reads, [userId])) },
    );
  }

  /**
   * Every change to an order view matching the filter as of that change;
   * with `since`, the history after it first.
   */
  ordersChanged(filter: { userId?: string | null; status?: OrderStatus | null }, since?: Cursor): AsyncIterableIterator<Change<OrderView>> {
    const matches = (change: Change<OrderView>) =>
      (filter.userId == null || change.view.userId === filter.userId) &&
      (filter.status == null || change.view.status === filter.status);
    let after: ChangeKey | undefined = since && { tx: since.tx, pos: since.pos, id: LAST_ID };
    return this.orders.subscribe(
      { matches },
      {
        ...this.iteratorOptions(),
        prelude: after
          ? async () => {
              const changes = await orderChangesAfter(this.reads(), after!, REPLAY_PAGE, filter);
              if (changes.length > 0) after = changes[changes.length - 1]!.key;
              return { changes, more: changes.length === REPLAY_PAGE };
            }
          : undefined,
      },
    );
  }

  private iteratorOptions() {
    return { bufferLimit: this.bufferLimit, stallMs: this.stallMs, onDropped: this.options.onDropped };
  }

  /** Where a prelude reads: chosen when it runs, after the subscriber was registered. */
  private reads(): SqlClient {
    return this.options.reads?.() ?? this.db;
  }

  private snapshot<V extends { id: string; lastTx: bigint; lastPos: bigint }>(read: (reads: SqlClient) => Promise<V[]>) {
    return async () => {
      const views = await read(this.reads());
      return { changes: views.map((view) => ({ key: keyOf(view), view })), more: false };
    };
  }
}
