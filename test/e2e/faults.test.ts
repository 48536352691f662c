/**
 * Transient database faults (PostgreSQL): connections cut under load with
 * pg_terminate_backend, and the database refusing connections altogether
 * (`ALLOW_CONNECTIONS false`, which other databases on the shared server do
 * not notice). Commands then fail fast with SERVICE_UNAVAILABLE — never a
 * partial write, never INTERNAL_SERVER_ERROR — /readyz says not ready, and
 * the server recovers by itself when the database is back.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFault } from '../../src/infrastructure/db/faults.js';
import { PG_SERVER_URL } from '../support/databases.js';
import { addProduct, PLACE_ORDER, registerUser } from '../support/operations.js';
import { startTestServer, testDbKind, type TestServer } from '../support/server.js';

const postgres = testDbKind() === 'postgres';

function databaseName(url: string): string {
  return new URL(url).pathname.slice(1);
}

describe.runIf(postgres)('transient database faults', () => {
  let server: TestServer;
  let admin: pg.Client;
  let name: string;

  const terminateAll = () =>
    admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
  const setAllowConnections = (allow: boolean) => admin.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS ${allow}`);
  const ready = async () => (await fetch(new URL('/readyz', server.url))).status;

  beforeAll(async () => {
    server = await startTestServer({ LEASE_RETRY_MS: 200 });
    name = databaseName(server.database.databaseUrl!);
    admin = new pg.Client({ connectionString: PG_SERVER_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await setAllowConnections(true).catch(() => undefined);
    await admin?.end();
    await server?.stop();
  });

  it('cutting every connection under load: acknowledged orders exist exactly once, errors are only SERVICE_UNAVAILABLE, and it recovers', async () => {
    const { userId } = await registerUser(server, 'Under Load');
    const { productId } = await addProduct(server, 'Resilient', '3.00');
    const acknowledged: string[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const res = await server.gql(PLACE_ORDER, { input: { userId, items: [{ productId, quantity: 1 }] } });
        if (res.data?.placeOrder?.orderId) acknowledged.push(res.data.placeOrder.orderId);
        else failures.push(res.errors?.[0]?.extensions?.code ?? res.errors);
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    // At least 4 cuts, and more (bounded) until a command in flight has met one:
    // a cut while none was saving would prove nothing.
    let cuts = 0;
    let terminated = 0;
    while (cuts < 4 || (failures.length === 0 && cuts < 20)) {
      await new Promise((r) => setTimeout(r, 250));
      terminated += (await terminateAll()).rowCount ?? 0;
      cuts++;
    }
    // The load goes on after the last cut: commands are acknowledged again.
    const afterCuts = acknowledged.length;
    await expect.poll(() => acknowledged.length - afterCuts, { timeout: 20_000 }).toBeGreaterThanOrEqual(5);
    stop = true;
    await Promise.all(workers);

    expect(terminated).toBeGreaterThanOrEqual(cuts);
    // The cuts did fail commands, and only ever as SERVICE_UNAVAILABLE.
    expect(failures.length, `after ${cuts} cuts`).toBeGreaterThan(0);
    expect(new Set(failures.map((f) => JSON.stringify(f)))).toEqual(new Set([JSON.stringify('SERVICE_UNAVAILABLE')]));

    // Every acknowledged order has exactly one OrderPlaced event; no event without a row.
    const db = server.app.db.prisma;
    const placed = await db.$queryRawUnsafe<Array<{ id: string; n: number }>>(
      `SELECT aggregate_id::text AS id, count(*)::int AS n FROM event_log WHERE type = 'OrderPlaced' GROUP BY aggregate_id`,
    );
    const counts = new Map(placed.map((r) => [r.id, r.n]));
    for (const id of acknowledged) expect(counts.get(id)).toBe(1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // Only an order whose connection broke mid-save may have landed unacknowledged.
    expect(counts.size - acknowledged.length).toBeLessThanOrEqual(failures.length);
    const [rows] = await db.$queryRawUnsafe<Array<{ orders: number; lines: number }>>(
      `SELECT (SELECT count(*)::int FROM orders) AS orders, (SELECT count(*)::int FROM order_lines) AS lines`,
    );
    expect(rows).toEqual({ orders: counts.size, lines: counts.size });

    // Recovered without a restart: commands work and the projection catches up with every order.
    const after = await server.ok(PLACE_ORDER.replace('orderId', 'orderId order { id status }'), {
      input: { userId, items: [{ productId, quantity: 1 }] },
    });
    expect(after.placeOrder.order.status).toBe('PENDING');
    await expect
      .poll(async () => (await server.ok(`{ user(id: "${userId}") { orderCount } }`)).user.orderCount, { timeout: 20_000 })
      .toBe(counts.size + 1);
    // Lost connections are faults of the moment: retried, never parked as dead letters.
    const { projections } = await server.ok('{ projections { name status deadLetterCount } }');
    for (const p of projections) expect(p).toMatchObject({ status: 'RUNNING', deadLetterCount: 0 });
  }, 60_000);

  it('a database that refuses connections: commands and queries fail fast with SERVICE_UNAVAILABLE (cached views still answer), /readyz is 503, and it recovers by itself', async () => {
    const { userId } = await registerUser(server, 'Before Outage');
    // Read once more, so the cache holds the view whatever became of the payload's fill on a loaded machine.
    expect(await server.ok(`{ user(id: "${userId}") { name } }`)).toEqual({ user: { name: 'Before Outage' } });
    expect(await ready()).toBe(200);

    await setAllowConnections(false);
    await terminateAll();
    try {
      const started = performance.now();
      const command = await server.gql(`mutation { registerUser(input: { name: "During", email: "during@example.com" }) { userId } }`);
      const elapsed = performance.now() - started;
      expect(command.errors?.[0]).toMatchObject({
        message: 'The database is unavailable right now; retry shortly',
        extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true },
      });
      expect(command.data ?? null).toBeNull();
      expect(elapsed).toBeLessThan(3000);

      // A page reads the database (the cache holds views by id only).
      const query = await server.gql(`{ users(pageSize: 1) { total } }`);
      expect(query.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
      expect(JSON.stringify(query)).not.toMatch(/55000|accepting connections|prisma|stack/i);
      // A view the cache holds is still answered.
      expect(await server.gql(`{ user(id: "${userId}") { name } }`)).toEqual({ data: { user: { name: 'Before Outage' } } });

      const readiness = await fetch(new URL('/readyz', server.url));
      expect(readiness.status).toBe(503);
      expect(await readiness.json()).toEqual({ status: 'not ready', reason: 'database unavailable' });
      // Liveness is unaffected: the process is fine, restarting it would not help.
      expect((await fetch(new URL('/healthz', server.url))).status).toBe(200);
    } finally {
      await setAllowConnections(true);
    }

    await expect.poll(ready, { timeout: 10_000 }).toBe(200);
    const back = await server.gql(`mutation { registerUser(input: { name: "After", email: "after@example.com" }) { userId user { name } } }`);
    expect(back.errors).toBeUndefined();
    expect(back.data.registerUser.user).toEqual({ name: 'After' });
    // The refused command wrote nothing.
    const during = await server.app.db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM users WHERE email = 'during@example.com'`,
    );
    expect(during[0]!.n).toBe(0);
  }, 60_000);
});

describe.runIf(postgres)('fault classification of real driver errors', () => {
  it('tells "nothing was done" from "the connection broke mid-statement", and leaves other errors alone', async () => {
    const { openDatabase } = await import('../../src/infrastructure/db/database.js');
    const refused = await openDatabase({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/none', poolSize: 1 });
    try {
      expect(classifyFault(await refused.prisma.$queryRawUnsafe('SELECT 1').catch((e: unknown) => e))).toBe('retryable');
    } finally {
      await refused.close();
    }
    const server = await startTestServer();
    try {
      const db = server.app.db.prisma;
      const admin = new pg.Client({ connectionString: PG_SERVER_URL });
      await admin.connect();
      try {
        const running = db.$queryRawUnsafe('SELECT pg_sleep(5)').catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 300));
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep%'`,
          [databaseName(server.database.databaseUrl!)],
        );
        expect(classifyFault(await running)).toBe('ambiguous');
      } finally {
        await admin.end();
      }
      expect(classifyFault(await db.$queryRawUnsafe('SELECT 1/0').catch((e: unknown) => e))).toBeUndefined();
      expect(classifyFault(await db.$queryRawUnsafe('SELECT * FROM no_such_table').catch((e: unknown) => e))).toBeUndefined();
    } finally {
      await server.stop();
    }
  }, 60_000);
});
