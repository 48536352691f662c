import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationsPendingError, startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/infrastructure/db/database.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from '../support/databases.js';
import { startTestServer, testDbKind, type TestServer } from '../support/server.js';
import { ADMIN, TEST_JWT_SECRET, bearer } from '../support/auth.js';
import { registerUser } from '../support/operations.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const base = () => server.url.replace(/\/graphql$/, '');

describe('the HTTP server', () => {
  it('reports liveness and readiness', async () => {
    const health = await fetch(`${base()}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base()}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });

  it('answers GraphQL over GET for queries', async () => {
    const query = encodeURIComponent('{ products(pageSize: 1) { total } }');
    const res = await fetch(`${server.url}?query=${query}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ data: { products: { total: expect.any(Number) } } });
  });

  it('echoes or assigns a request id', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-123' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(res.headers.get('x-request-id')).toBe('req-123');
  });

  it('records the request id as the correlation id of the events a command appends', async () => {
    const res = await server.gql(
      `mutation { registerUser(input: {name: "Traced", email: "traced.${Date.now()}@example.com"}) { userId } }`,
      undefined,
      { 'x-request-id': 'trace-me-42' },
    );
    const userId = res.data.registerUser.userId;
    const rows = await server.app.db.prisma.$queryRaw<Array<{ metadata: { correlationId: string } }>>`
      SELECT metadata FROM event_log WHERE aggregate_id = ${userId}::uuid`;
    expect(rows.map((r) => r.metadata.correlationId)).toEqual(['trace-me-42']);
  });

  it("carries a client's x-correlation-id into the events, with the request as their cause and the caller as their actor", async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-77', 'x-correlation-id': 'checkout-9', ...(await bearer(ADMIN)) },
      body: JSON.stringify({ query: `mutation { registerUser(input: {name: "Correlated", email: "corr.${Date.now()}@example.com"}) { userId } }` }),
    });
    expect(res.headers.get('x-correlation-id')).toBe('checkout-9');
    const { data } = (await res.json()) as { data: { registerUser: { userId: string } } };
    const rows = await server.app.db.prisma.$queryRaw<Array<{ metadata: Record<string, unknown> }>>`
      SELECT metadata FROM event_log WHERE aggregate_id = ${data.registerUser.userId}::uuid`;
    expect(rows.map((r) => r.metadata)).toEqual([
      { correlationId: 'checkout-9', causationId: 'req-77', requestId: 'req-77', actor: { role: 'admin', userId: ADMIN.userId } },
    ]);
  });
});

describe('startup and shutdown', () => {
  it('refuses to start on a database with pending migrations when told not to migrate, saying what to run', async () => {
    const database = await createTestDatabase(testDbKind());
    try {
      // Forget the last migration, as if the database were one release behind.
      const db = await openDatabase(database);
      await db.prisma.$executeRawUnsafe(
        `DELETE FROM _prisma_migrations WHERE migration_name = (SELECT max(migration_name) FROM _prisma_migrations)`,
      );
      await db.close();
      const config = loadConfig({}, {
        PORT: 0, HOST: '127.0.0.1', DATABASE_URL: database.databaseUrl, PGLITE_DIR: database.pgliteDir ?? '', MIGRATE_ON_START: false, LOG_LEVEL: 'silent', AUTH_JWT_SECRET: TEST_JWT_SECRET,
      });
      const error = await startApp(config, createLogger('silent')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationsPendingError);
      expect((error as Error).message).toContain('npm run db:migrate');
    } finally {
      await database.dispose();
    }
  });

  it('shuts down gracefully: an in-flight request finishes, then the port closes', async () => {
    // Without projectors, a payload's entity waits (READ_YOUR_WRITES_TIMEOUT_MS):
    // a request that is reliably still in flight when shutdown starts.
    const own = await startTestServer({ runProjectors: false, READ_YOUR_WRITES_TIMEOUT_MS: 1500 });
    try {
      const inflight = own.gql(`mutation { registerUser(input: {name: "Last", email: "last.${Date.now()}@example.com"}) { userId user { name } } }`);
      await new Promise((r) => setTimeout(r, 300));
      const stopping = own.app.stop();
      const result = await inflight;
      expect(result.data.registerUser.userId).toEqual(expect.any(String));
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['PROJECTION_TIMEOUT']);
      await stopping;
      await expect(fetch(`${own.url.replace(/\/graphql$/, '')}/healthz`)).rejects.toThrow();
    } finally {
      await own.stop();
    }
  });
});
