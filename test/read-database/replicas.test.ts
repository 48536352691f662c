/**
 * Read replicas (READ_REPLICA_URLS) against real servers: a private
 * PostgreSQL primary holding the read database and a streaming standby of it
 * (`pg_basebackup -R`, test/support/pg-cluster.ts), the write database on the
 * shared server. Pausing the standby's replay (`pg_wal_replay_pause()`) shows
 * where each read goes:
 *
 *   - a plain query is served by the standby (it answers the paused state);
 *   - read-your-writes waits up to READ_REPLICA_WAIT_MS for the standby to
 *     replay the projection's commit, then reads the primary; so does a query
 *     with `x-min-position`;
 *   - a standby lagging more than READ_REPLICA_MAX_LAG_MS is skipped;
 *   - a standby that is stopped: queries go on, on the primary, with no error.
 *
 * PostgreSQL only; the server binaries of `pg_config --bindir` are needed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPgClient } from '../../src/infrastructure/db/pg-admin.js';
import { sample, scrapeMetrics } from '../support/metrics.js';
import { PgCluster } from '../support/pg-cluster.js';
import { startTestServer, testDbKind, type GraphQLResponse, type TestServer } from '../support/server.js';

const REGISTER = `mutation($i: RegisterUserInput!) { registerUser(input: $i) { userId position user { id name } } }`;
const USER = `query($id: ID!) { user(id: $id) { id name } }`;
const WAIT_MS = 1500;
const MAX_LAG_MS = 8000;

async function register(server: TestServer, name: string): Promise<GraphQLResponse> {
  return server.gql(REGISTER, { i: { name, email: `${name.toLowerCase().replace(/\W/g, '')}.${Date.now()}@example.com` } });
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

describe.skipIf(testDbKind() !== 'postgres')('read replicas', () => {
  let primary: PgCluster;
  let standby: PgCluster;
  let server: TestServer;
  let standbyUrl: string;

  beforeAll(async () => {
    primary = await PgCluster.create();
    const readDatabase = await primary.createTestDatabase('read');
    standby = await primary.createStandby();
    standbyUrl = readDatabase.databaseUrl!.replace(`:${primary.port}/`, `:${standby.port}/`);
    server = await startTestServer({
      // Where reads by id are routed: the cache would answer them, reading its misses on the primary (README "Cache").
      CACHE_ENABLED: false,
      READ_DATABASE_URL: readDatabase.databaseUrl,
      READ_REPLICA_URLS: [standbyUrl],
      READ_REPLICA_WAIT_MS: WAIT_MS,
      READ_REPLICA_MAX_LAG_MS: MAX_LAG_MS,
      DB_CONNECT_TIMEOUT_MS: 1000,
    });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await standby?.destroy();
    await primary?.destroy();
  });

  const onStandby = (sql: string) => withPgClient(standbyUrl, async (c) => (await c.query(sql)).rows);

  it('serves queries from the standby, and read-your-writes waits for its replay (bounded) before reading the primary', async () => {
    const before = await register(server, 'Streamed');
    const streamedId: string = before.data.registerUser.userId;
    expect(before.data.registerUser.user.name).toBe('Streamed');
    expect(await onStandby(`SELECT pg_is_in_recovery() AS standby`)).toEqual([{ standby: true }]);
    await eventually('the standby replays the first user', async () =>
      (await server.gql(USER, { id: streamedId })).data?.user ?? undefined,
    );

    // /metrics: read-your-writes found the standby had replayed its commit; the standby is in use.
    const waits = async () => {
      const text = await scrapeMetrics(server.url);
      const count = (source: string) => sample(text, 'orders_read_replica_wait_seconds_count', { source }) ?? 0;
      return { replica: count('replica'), primary: count('primary'), text };
    };
    const beforePause = await waits();
    expect(beforePause.replica).toBeGreaterThanOrEqual(1);
    expect(sample(beforePause.text, 'orders_read_replica_usable', { replica: standbyUrl })).toBe(1);
    expect(sample(beforePause.text, 'orders_read_replica_lag_seconds', { replica: standbyUrl })).toBeLessThan(MAX_LAG_MS / 1000);

    await onStandby(`SELECT pg_wal_replay_pause()`);
    try {
      const started = Date.now();
      const during = await register(server, 'Paused');
      const waited = Date.now() - started;
      // … and this one waited the bound, then went to the primary.
      const afterPause = await waits();
      expect(afterPause.primary - beforePause.primary).toBe(1);
      expect(afterPause.replica - beforePause.replica).toBe(0);
      const pausedId: string = during.data.registerUser.userId;
      // Read-your-writes: the standby cannot show it; after the bounded wait the primary does.
      expect(during.data.registerUser.user).toEqual({ id: pausedId, name: 'Paused' });
      expect(waited).toBeGreaterThanOrEqual(WAIT_MS);

      // A plain query is served by the standby: it does not have the user yet.
      expect(await server.gql(USER, { id: pausedId })).toEqual({ data: { user: null } });
      // With the position the mutation returned, the query gets the same guarantee as the payload.
      const withPosition = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-min-position': during.data.registerUser.position, ...(await adminHeaders()) },
        body: JSON.stringify({ query: USER, variables: { id: pausedId } }),
      });
      expect(await withPosition.json()).toEqual({ data: { user: { id: pausedId, name: 'Paused' } } });

      // Past READ_REPLICA_MAX_LAG_MS the standby is skipped: plain queries read the primary.
      const skipped = await eventually('the lagging standby is skipped', async () =>
        (await server.gql(USER, { id: pausedId })).data?.user ?? undefined,
      );
      expect(skipped).toEqual({ id: pausedId, name: 'Paused' });
      expect(sample(await scrapeMetrics(server.url), 'orders_read_replica_usable', { replica: standbyUrl })).toBe(0);
      expect(await onStandby(`SELECT count(*)::int AS n FROM user_view WHERE id = '${pausedId}'`)).toEqual([{ n: 0 }]);
    } finally {
      await onStandby(`SELECT pg_wal_replay_resume()`);
    }
  }, 120_000);

  it('refuses a malformed x-min-position as BAD_USER_INPUT', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-min-position': 'nonsense', ...(await adminHeaders()) },
      body: JSON.stringify({ query: `{ products { total } }` }),
    });
    const body = (await res.json()) as GraphQLResponse;
    expect(body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('goes on without errors on the primary when the standby is stopped', async () => {
    const made = await register(server, 'Survivor');
    const id: string = made.data.registerUser.userId;
    await standby.stop('fast');
    for (let i = 0; i < 30; i++) {
      expect(await server.gql(USER, { id })).toEqual({ data: { user: { id, name: 'Survivor' } } });
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const after = await register(server, 'After Standby');
    expect(after.data.registerUser.user.name).toBe('After Standby');
  }, 60_000);
});

async function adminHeaders(): Promise<Record<string, string>> {
  const { ADMIN, bearer } = await import('../support/auth.js');
  return bearer(ADMIN);
}
