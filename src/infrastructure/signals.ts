import { randomUUID } from 'node:crypto';
import { formatCursor, parseCursor, type Cursor } from '../eventlog/cursor.js';
import type { Notifications } from './db/notifications.js';
import { formatLsn, parseLsn } from './db/replica-router.js';

/** The channels instances signal each other on. */
export const CHANNELS = {
  /** Events were committed (payload: the last one's cursor), or someone asks projectors to look (`wake`). */
  events: 'cqrs_events',
  /** A projection committed a batch (payload: its name and checkpoint, and with read replicas a WAL position). */
  projections: 'cqrs_projections',
  /** Cached views of a projection (`*`: of all) must be dropped (a rebuild; an invalidation Redis missed). On the read database. */
  cache: 'cqrs_cache',
} as const;

/** What another instance (or an operator's command) signalled. Handlers must not throw. */
export interface SignalHandlers {
  /** Events up to `cursor` were committed; undefined: look anyway (an operator's request). */
  readonly eventsCommitted: (cursor: Cursor | undefined) => void;
  /** `projection` committed everything up to `cursor` (with read replicas: a read-database WAL position covering that commit). */
  readonly projectionAdvanced: (projection: string, cursor: Cursor, lsn: bigint | undefined) => void;
  /** The listening connection was lost and is back: anything may have been missed meanwhile. */
  readonly reconnected: () => void;
  /** `projection`'s cached views (all, when undefined) must be dropped: a rebuild changed them, or Redis missed an invalidation. */
  readonly cacheFlushed: (projection: string | undefined) => void;
}

/**
 * Where each channel travels: commit notifications on the write database
 * (commands wake projectors), projection progress on the read database
 * (projectors wake feeds and read-your-writes waits). With one database both
 * are the same connection.
 */
export interface SignalConnections {
  readonly events: Notifications;
  readonly projections: Notifications;
}

/**
 * Wake-ups between instances over LISTEN/NOTIFY: payloads encoded here and
 * decoded here, every one stamped with the sending instance's id so that an
 * instance ignores its own echo (it acted on its own commit already). A
 * signal only ever wakes someone: positions and checkpoints in the database
 * are the truth, and a lost signal only delays. Sends are coalesced per
 * channel (and per projection): at most one NOTIFY in flight, always the
 * newest payload, so a burst of commits costs a few NOTIFYs, not one each.
 * Sent after commit, never inside a write transaction.
 */
export class InstanceSignals {
  /** This instance's id in payloads. */
  readonly id = randomUUID();
  private readonly senders = new Map<string, (payload: string) => void>();

  private constructor(
    private readonly connections: SignalConnections,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Listens on both channels; `handlers` hear other instances only. */
  static async open(
    connections: SignalConnections,
    handlers: SignalHandlers,
    onError: (error: unknown) => void,
  ): Promise<InstanceSignals> {
    const signals = new InstanceSignals(connections, onError);
    await connections.events.listen(CHANNELS.events, (payload) => {
      const message = signals.fromOthers(payload);
      if (message === undefined) return;
      handlers.eventsCommitted(parseCursor(message) ?? undefined);
    });
    await connections.projections.listen(CHANNELS.projections, (payload) => {
      const [name, position, lsn] = (signals.fromOthers(payload) ?? '').split(' ');
      const cursor = position ? parseCursor(position) : null;
      if (name && cursor) handlers.projectionAdvanced(name, cursor, lsn && /^[0-9A-F]+\/[0-9A-F]+$/i.test(lsn) ? parseLsn(lsn) : undefined);
    });
    await connections.projections.listen(CHANNELS.cache, (payload) => {
      const message = signals.fromOthers(payload);
      if (message !== undefined) handlers.cacheFlushed(message === '*' ? undefined : message);
    });
    for (const connection of distinct(connections)) connection.onReconnect(handlers.reconnected);
    return signals;
  }

  /** This instance committed events up to `cursor`. */
  eventsCommitted(cursor: Cursor): void {
    this.send(CHANNELS.events, CHANNELS.events, formatCursor(cursor));
  }

  /** Asks every instance's projectors to look at their work (e.g. an operator's redrive request). */
  wakeProjectors(): void {
    // Its own lane: a cursor sent next must not replace it (a projector ignores cursors it has reached).
    this.send(`${CHANNELS.events}:wake`, CHANNELS.events, 'wake');
  }

  /** A projector of this instance committed `projection` up to `cursor` (and `lsn` covers that commit, when known). */
  projectionAdvanced(projection: string, cursor: Cursor, lsn?: bigint): void {
    const message = `${projection} ${formatCursor(cursor)}${lsn === undefined ? '' : ` ${formatLsn(lsn)}`}`;
    this.send(`${CHANNELS.projections}:${projection}`, CHANNELS.projections, message);
  }

  /**
   * For a process that does not listen (an operator's command): asks every
   * instance's projectors to look at their work, once, and resolves when sent.
   */
  static requestWake(notifications: Notifications): Promise<void> {
    return notifications.publish(CHANNELS.events, `${randomUUID()} wake`);
  }

  /** Every other instance must drop `projection`'s cached views (all, when undefined). Send after the commit that changed them. */
  cacheFlush(projection: string | undefined): void {
    const scope = projection ?? '*';
    this.send(`${CHANNELS.cache}:${scope}`, CHANNELS.cache, scope);
  }

  /**
   * For a process that does not listen (an operator's rebuild), on the read
   * database's notifications: asks every instance to drop `projection`'s cached views.
   */
  static requestCacheFlush(notifications: Notifications, projection: string): Promise<void> {
    return notifications.publish(CHANNELS.cache, `${randomUUID()} ${projection}`);
  }

  /** Stops listening (the notification connections close). */
  async close(): Promise<void> {
    await Promise.all(distinct(this.connections).map((c) => c.close()));
  }

  /** The message of a payload from another instance; undefined for this instance's own. */
  private fromOthers(payload: string): string | undefined {
    const space = payload.indexOf(' ');
    if (space < 0 || payload.slice(0, space) === this.id) return undefined;
    return payload.slice(space + 1);
  }

  private send(lane: string, channel: string, message: string): void {
    let sender = this.senders.get(lane);
    if (!sender) {
      const connection = channel === CHANNELS.events ? this.connections.events : this.connections.projections;
      sender = coalescing((payload) => connection.publish(channel, payload).catch(this.onError));
      this.senders.set(lane, sender);
    }
    sender(`${this.id} ${message}`);
  }
}

/** The connections, each once (one database: one connection for both channels). */
function distinct(connections: SignalConnections): Notifications[] {
  return [...new Set([connections.events, connections.projections])];
}

/** At most one send in flight, always the newest value. */
function coalescing(publish: (payload: string) => Promise<void>): (payload: string) => void {
  let latest: string | undefined;
  let sending = false;
  const drain = async () => {
    sending = true;
    while (latest !== undefined) {
      const payload = latest;
      latest = undefined;
      await publish(payload);
    }
    sending = false;
  };
  return (payload) => {
    latest = payload;
    if (!sending) void drain();
  };
}
