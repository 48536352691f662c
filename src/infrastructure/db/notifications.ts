import pg from 'pg';
import type { Database } from './database.js';

/**
 * PostgreSQL LISTEN/NOTIFY, on the server or in-process with PGlite. A
 * notification is only a wake-up: it is delivered at commit to sessions
 * listening then, never replayed. Consumers must re-read their position when
 * `onReconnect` fires, as notifications may have been missed meanwhile.
 */
export interface Notifications {
  publish(channel: string, payload: string): Promise<void>;
  listen(channel: string, handler: (payload: string) => void): Promise<void>;
  /** Called after the listening connection was lost and re-established. */
  onReconnect(handler: () => void): void;
  close(): Promise<void>;
}

export async function openNotifications(db: Database, onError: (error: unknown) => void): Promise<Notifications> {
  return db.kind === 'pglite' ? pgliteNotifications(db) : await pgNotifications(db, onError);
}

function pgliteNotifications(db: Extract<Database, { kind: 'pglite' }>): Notifications {
  const unsubscribers: Array<() => Promise<void>> = [];
  return {
    async publish(channel, payload) {
      await db.pglite.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async listen(channel, handler) {
      unsubscribers.push(await db.pglite.listen(channel, handler));
    },
    onReconnect() {
      // In-process: the connection cannot be lost.
    },
    async close() {
      await Promise.all(unsubscribers.map((u) => u().catch(() => undefined)));
    },
  };
}

async function pgNotifications(db: Extract<Database, { kind: 'postgres' }>, onError: (error: unknown) => void): Promise<Notifications> {
  const handlers = new Map<string, Array<(payload: string) => void>>();
  const reconnectHandlers: Array<() => void> = [];
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: db.databaseUrl });
    next.on('notification', (message) => {
      for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    next.on('error', (error) => {
      onError(error);
      lost(next);
    });
    next.on('end', () => lost(next));
    await next.connect();
    for (const channel of handlers.keys()) await next.query(`LISTEN "${channel}"`);
    client = next;
  };

  const lost = (which: pg.Client) => {
    if (closed || client !== which) return;
    client = undefined;
    which.end().catch(() => undefined);
    const attempt = () => {
      retry = undefined;
      if (closed) return;
      connect().then(
        () => reconnectHandlers.forEach((h) => h()),
        (error) => {
          onError(error);
          retry = setTimeout(attempt, 1000);
        },
      );
    };
    retry = setTimeout(attempt, 250);
  };

  await connect();
  return {
    async publish(channel, payload) {
      await db.pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async listen(channel, handler) {
      const list = handlers.get(channel) ?? [];
      list.push(handler);
      if (!handlers.has(channel)) {
        handlers.set(channel, list);
        await client?.query(`LISTEN "${channel}"`);
      }
    },
    onReconnect(handler) {
      reconnectHandlers.push(handler);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
