import pg from 'pg';
import type { Database } from './database.js';

/**
 * Exclusive leases, one holder per name across all server processes. On
 * PostgreSQL a lease is a session-level advisory lock on a dedicated
 * connection: it dies with that session, so when its process is killed the
 * server releases it and another instance can take over. PGlite lives in one
 * process, whose leases are always granted.
 */
export interface Leases {
  tryAcquire(name: string): Promise<boolean>;
  release(name: string): Promise<void>;
  /** Fires when held leases were lost (the session died). */
  onLost(handler: (names: string[]) => void): void;
  close(): Promise<void>;
}

export function openLeases(db: Database, onError: (error: unknown) => void): Leases {
  if (db.kind === 'pglite') {
    return { tryAcquire: async () => true, release: async () => undefined, onLost: () => undefined, close: async () => undefined };
  }
  const held = new Set<string>();
  const lostHandlers: Array<(names: string[]) => void> = [];
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;

  const drop = (which: pg.Client) => {
    if (client !== which) return;
    client = undefined;
    which.end().catch(() => undefined);
    const names = [...held];
    held.clear();
    if (names.length) lostHandlers.forEach((h) => h(names));
  };

  const session = async (): Promise<pg.Client> => {
    if (client) return client;
    connecting ??= (async () => {
      const next = new pg.Client({ connectionString: db.databaseUrl, keepAlive: true });
      next.on('error', (error) => {
        onError(error);
        drop(next);
      });
      next.on('end', () => drop(next));
      await next.connect();
      client = next;
      return next;
    })().finally(() => (connecting = undefined));
    return connecting;
  };

  return {
    async tryAcquire(name) {
      if (held.has(name)) return true;
      const c = await session();
      const { rows } = await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext('lease:' || $1)) AS ok`, [name]);
      if (rows[0]?.ok) held.add(name);
      return held.has(name);
    },
    async release(name) {
      if (!held.delete(name) || !client) return;
      await client.query(`SELECT pg_advisory_unlock(hashtext('lease:' || $1))`, [name]);
    },
    onLost(handler) {
      lostHandlers.push(handler);
    },
    async close() {
      held.clear();
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
