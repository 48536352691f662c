/**
 * A read database of its own (READ_DATABASE_URL): each database holds only
 * its own tables; commands, read-your-writes, queries and /readyz work across
 * the two; and each database going away leaves the other side working — the
 * read database down stops queries (SERVICE_UNAVAILABLE, retryable) while
 * commands still commit, and projections catch up by themselves when it is
 * back; the write database down fails commands while queries still answer.
 *
 * The database that goes away runs on a private cluster
 * (test/support/pg-cluster.ts), the other on the shared server. PostgreSQL only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationNames } from '../../src/infrastructure/db/migrate.js';
import { withPgClient } from '../../src/infrastructure/db/pg-admin.js';
import type { TestDatabase } from '../support/databases.js';
import { PgCluster } from '../support/pg-cluster.js';
import { startTestServer, testDbKind, type GraphQLResponse, type TestServer } from '../support/server.js';

const REGISTER = `mutation($i: RegisterUserInput!) { registerUser(input: $i) { userId position user { id name } } }`;
const USER = `query($id: ID!) { user(id: $id) { id name } }`;

const tablesOf = (url: string) =>
  withPgClient(url, async (c) =>
    (await c.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.t),
  );

async function register(server: TestServer, name: string): Promise<GraphQLResponse> {
  return server.gql(REGISTER, { i: { name, email: `${name.toLowerCase().replace(/\W/g, '')}.${Date.now()}@example.com` } });
}

async function readyz(server: TestServer): Promise<{ status: number; body: { status: string; reason?: string; databases?: Record<string, string> } }> {
  const res = await fetch(server.url.replace('/graphql', '/readyz'));
  return { status: res.status, body: (await res.json()) as never };
}

/** Polls `check` until it returns a value (not undefined), for at most `timeoutMs`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
}

describe.skipIf(testDbKind() !== 'postgres')('a read database of its own', () => {
  describe('on the shared server', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ separateRead: true });
    });
    afterAll(async () => server?.stop());

    it('gives each database only its own tables, from its own migrations', async () => {
      const write = await tablesOf(server.database.databaseUrl!);
      const read = await tablesOf(server.database.readDatabaseUrl!);
      expect(write).toEqual(['_prisma_migrations', 'event_log', 'idempotency_key', 'order_lines', 'orders', 'products', 'users']);
      expect(read).toEqual([
        '_prisma_migrations', 'order_view', 'order_view_change', 'order_view_user', 'product_view', 'projection_checkpoint',
        'projection_dead_letter', 'sales_day', 'sales_order', 'user_view', 'user_view_change', 'user_view_order',
      ]);
      const migrations = (url: string) =>
        withPgClient(url, async (c) => (await c.query<{ n: string }>(`SELECT migration_name AS n FROM _prisma_migrations`)).rows.map((r) => r.n));
      expect((await migrations(server.database.databaseUrl!)).sort()).toEqual(migrationNames(['write']));
      expect((await migrations(server.database.readDatabaseUrl!)).sort()).toEqual(migrationNames(['read']));
    });

    it('commits the command on the write database and answers the payload from the read database (read-your-writes)', async () => {
      const res = await register(server, 'Grace Hopper');
      expect(res.errors).toBeUndefined();
      expect(res.data.registerUser.user).toEqual({ id: res.data.registerUser.userId, name: 'Grace Hopper' });
      const [view] = await withPgClient(server.database.readDatabaseUrl!, async (c) =>
        (await c.query(`SELECT name FROM user_view WHERE id = $1`, [res.data.registerUser.userId])).rows,
      );
      expect(view).toEqual({ name: 'Grace Hopper' });
      const [checkpoint] = await withPgClient(server.database.readDatabaseUrl!, async (c) =>
        (await c.query(`SELECT last_tx::text || ':' || last_pos::text AS at FROM projection_checkpoint WHERE name = 'users'`)).rows,
      );
      expect(checkpoint.at).toBe(res.data.registerUser.position);
    });

    it('reports each database in /readyz', async () => {
      expect(await readyz(server)).toEqual({ status: 200, body: { status: 'ready', databases: { write: 'ok', read: 'ok' } } });
    });
  });

  describe('the read database down', () => {
    let cluster: PgCluster;
    let readDatabase: TestDatabase;
    let server: TestServer;
    beforeAll(async () => {
      cluster = await PgCluster.create();
      readDatabase = await cluster.createTestDatabase('read');
      server = await startTestServer({
        READ_DATABASE_URL: readDatabase.databaseUrl, DB_CONNECT_TIMEOUT_MS: 1000, READ_YOUR_WRITES_TIMEOUT_MS: 1000, LEASE_RETRY_MS: 300,
      });
    });
    afterAll(async () => {
      await server?.stop();
      await cluster?.destroy();
    });

    it('fails queries (SERVICE_UNAVAILABLE, retryable) while commands commit; projections catch up by themselves when it is back', async () => {
      const before = await register(server, 'Before Outage');
      expect(before.data.registerUser.user.name).toBe('Before Outage');

      await cluster.stop('fast');
      // A page reads the read database (the cache holds views by id only) …
      const query = await server.gql(`{ users(pageSize: 1) { total } }`);
      expect(query.errors?.map((e) => [e.extensions?.code, e.extensions?.retryable])).toEqual([['SERVICE_UNAVAILABLE', true]]);
      // … while a view the cache holds is still answered (the payload read it).
      expect(await server.gql(USER, { id: before.data.registerUser.userId })).toEqual({ data: { user: before.data.registerUser.user } });

      const during = await register(server, 'During Outage');
      const userId: string = during.data.registerUser.userId;
      expect(userId).toMatch(/^[0-9a-f-]{36}$/); // committed: the command side does not need the read database
      expect(during.data.registerUser.user).toBeNull(); // its projection cannot commit: the payload's entity times out
      const [event] = await withPgClient(server.database.databaseUrl!, async (c) =>
        (await c.query(`SELECT type FROM event_log WHERE aggregate_id = $1`, [userId])).rows,
      );
      expect(event).toEqual({ type: 'UserRegistered' });

      const ready = await readyz(server);
      expect(ready.status).toBe(503);
      expect(ready.body.databases).toEqual({ write: 'ok', read: 'unavailable' });

      await cluster.start();
      const user = await eventually('the user registered during the outage is projected', async () => {
        const res = await server.gql(USER, { id: userId });
        return res.data?.user ?? undefined;
      });
      expect(user).toEqual({ id: userId, name: 'During Outage' });
      expect(await readyz(server)).toMatchObject({ status: 200 });
    }, 120_000);
  });

  describe('the write database down', () => {
    let cluster: PgCluster;
    let writeDatabase: TestDatabase;
    let server: TestServer;
    beforeAll(async () => {
      cluster = await PgCluster.create();
      writeDatabase = await cluster.createTestDatabase('write');
      server = await startTestServer({ writeDatabase, separateRead: true, DB_CONNECT_TIMEOUT_MS: 1000 });
    });
    afterAll(async () => {
      await server?.stop();
      await cluster?.destroy();
    });

    it('fails commands (SERVICE_UNAVAILABLE, retryable) while queries still answer from the read database', async () => {
      const before = await register(server, 'Read Only');
      const userId: string = before.data.registerUser.userId;
      expect(before.data.registerUser.user.name).toBe('Read Only');

      await cluster.stop('fast');
      const query = await server.gql(USER, { id: userId });
      expect(query).toEqual({ data: { user: { id: userId, name: 'Read Only' } } });
      const command = await register(server, 'Refused');
      expect(command.errors?.map((e) => [e.extensions?.code, e.extensions?.retryable])).toEqual([['SERVICE_UNAVAILABLE', true]]);
      const ready = await readyz(server);
      expect(ready.status).toBe(503);
      expect(ready.body.databases).toEqual({ write: 'unavailable', read: 'ok' });

      await cluster.start();
      const after = await eventually('commands answer again', async () => {
        const res = await register(server, 'After Outage');
        return res.errors ? undefined : res;
      });
      expect(after.data.registerUser.user.name).toBe('After Outage');
    }, 120_000);
  });
});
