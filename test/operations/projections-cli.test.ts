/**
 * `npm run projections` (PostgreSQL): rebuilding a projection while the
 * server keeps serving it (blue/green: readers never see it empty or half
 * built, commands keep flowing, and the result equals a replay from zero),
 * rebuilding in place without a server, and status / dead letters / retry /
 * skip from a shell while the server's projector does the work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/eventlog/types.js';
import { runScript } from '../support/cli.js';
import { addProduct, registerUser, transition } from '../support/operations.js';
import { ReplayDatabase, expectSameReadModels, readModelSnapshot, waitUntilCaughtUp } from '../support/replay.js';
import { sample, scrapeMetrics } from '../support/metrics.js';
import { startTestServer, testDbKind, type TestServer } from '../support/server.js';

const postgres = testDbKind() === 'postgres';

/** `npm run projections -- <args>` against a database: a PostgreSQL URL, or the test's PGlite directory. */
function cli(database: string | { databaseUrl?: string; pgliteDir?: string; readDatabaseUrl?: string }, ...args: string[]) {
  const { PGLITE_DIR: _dir, DATABASE_URL: _url, READ_DATABASE_URL: _read, ...env } = process.env;
  const target = typeof database === 'string' ? { databaseUrl: database } : database;
  return runScript('scripts/projections.ts', args, {
    ...env,
    ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : { PGLITE_DIR: target.pgliteDir }),
    ...('readDatabaseUrl' in target && target.readDatabaseUrl ? { READ_DATABASE_URL: target.readDatabaseUrl } : {}),
  });
}

const PLACE = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { orderId } }`;

async function seedOrders(server: TestServer, count: number) {
  const users = await Promise.all(Array.from({ length: 5 }, (_, i) => registerUser(server, `Rebuild customer ${i}`)));
  const products = await Promise.all(Array.from({ length: 5 }, (_, i) => addProduct(server, `Rebuild product ${i}`, `${i + 1}.50`)));
  for (let batch = 0; batch < count / 20; batch++) {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        server.ok(PLACE, { input: { userId: users[i % 5]!.userId, items: [{ productId: products[(batch + i) % 5]!.productId, quantity: 1 + (i % 3) }] } }),
      ),
    );
  }
  return { users, products };
}

describe.runIf(postgres)('npm run projections -- rebuild', () => {
  let server: TestServer;
  let replay: ReplayDatabase;
  beforeAll(async () => {
    server = await startTestServer();
    replay = await ReplayDatabase.create();
  });
  afterAll(async () => {
    await server?.stop();
    await replay?.dispose();
  });

  it('while the server serves: builds beside the live tables, swaps atomically, and equals a replay from zero', async () => {
    const { users, products } = await seedOrders(server, 400);
    await waitUntilCaughtUp(server);
    const total = (await server.ok('{ orders(pageSize: 1) { total } }')).orders.total as number;

    // Readers and writers go on during the rebuild.
    let reading = true;
    const seen = new Set<number>();
    const readers = (async () => {
      while (reading) {
        const { orders } = await server.ok('{ orders(pageSize: 1) { total } }');
        seen.add(orders.total);
      }
    })();
    let writing = true;
    let placed = 0;
    const writers = (async () => {
      while (writing) {
        await server.ok(PLACE, { input: { userId: users[0]!.userId, items: [{ productId: products[0]!.productId, quantity: 1 }] } });
        placed++;
      }
    })();

    const flushes = async () => sample(await scrapeMetrics(server.url), 'orders_cache_flushes_total', { layer: 'memory' }) ?? 0;
    const flushedBefore = await flushes();
    const run = await cli(server.database, 'rebuild', 'orders');
    reading = false;
    writing = false;
    await Promise.all([readers, writers]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Rebuilt orders blue\/green \(swapped in while a server serves it\): \d+ events in [\d.]+ s \(\d+ events\/s\)/);

    // Never empty, never partial: every count a reader saw is the old total plus orders placed meanwhile.
    expect([...seen].every((n) => n >= total && n <= total + placed), JSON.stringify([...seen].slice(0, 20))).toBe(true);
    await waitUntilCaughtUp(server);
    expect((await server.ok('{ orders(pageSize: 1) { total } }')).orders.total).toBe(total + placed);
    expectSameReadModels(await replay.replayFrom(server.app.db.prisma, { batchSize: 500 }), await readModelSnapshot(server.app.readDb.prisma));
    // The rebuild told the server, which dropped what it cached of the orders (the rebuilt views may differ).
    await expect.poll(flushes).toBeGreaterThan(flushedBefore);
    // The live projector took over from the rebuilt checkpoint without a dead letter or a stall.
    for (const p of (await server.ok('{ projections { name status deadLetterCount } }')).projections) {
      expect(p).toMatchObject({ status: 'RUNNING', deadLetterCount: 0 });
    }
  }, 120_000);
});

describe.runIf(postgres)('npm run projections -- status, dead-letters, retry, skip', () => {
  const poisoned = new Set<string>();
  const fault = (projection: string, event: StoredEvent) => {
    if (projection === 'orders' && event.type === 'OrderConfirmed' && poisoned.has(event.aggregateId)) {
      throw new Error(`test fault for ${event.aggregateId}`);
    }
  };
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ projectionFault: fault });
  });
  afterAll(() => server?.stop());
  const ordersStatus = async () =>
    (await server.ok('{ projections { name status } }')).projections.find((p: { name: string }) => p.name === 'orders').status;

  it('shows a parked event, keeps it parked while the cause persists, and retries it once fixed', async () => {
    const { userId } = await registerUser(server, 'CLI customer');
    const { productId } = await addProduct(server, 'CLI product', '1.00');
    const orderId = (await server.ok(PLACE, { input: { userId, items: [{ productId, quantity: 1 }] } })).placeOrder.orderId;
    poisoned.add(orderId);
    await transition(server, 'confirmOrder', orderId);
    await expect.poll(ordersStatus, { timeout: 20_000 }).toBe('FAILED');

    const status = await cli(server.database, 'status');
    expect(status.stdout).toMatch(/users\s+RUNNING/);
    expect(status.stdout).toMatch(/orders\s+FAILED .* dead letters 1\n\s+last error: Error: test fault for /);
    const letters = await cli(server.database, 'dead-letters', 'orders');
    expect(letters.stdout).toContain(`orders FAILED  Order ${orderId} OrderConfirmed`);

    const stillBroken = await cli(server.database, 'retry', 'orders', orderId);
    expect(stillBroken.code).toBe(1);
    expect(stillBroken.stdout).toContain(`Still parked: 1 dead letter(s) for ${orderId}; last error: Error: test fault for ${orderId}`);

    poisoned.delete(orderId);
    const fixed = await cli(server.database, 'retry', 'orders', orderId);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toContain(`Retried: orders has no dead letters left for ${orderId}`);
    expect((await server.ok(`{ order(id: "${orderId}") { status } }`)).order.status).toBe('CONFIRMED');
  }, 60_000);

  it('skips a failed event from the shell', async () => {
    const { userId } = await registerUser(server, 'CLI skipper');
    const { productId } = await addProduct(server, 'CLI skipped', '1.00');
    const orderId = (await server.ok(PLACE, { input: { userId, items: [{ productId, quantity: 1 }] } })).placeOrder.orderId;
    poisoned.add(orderId);
    await transition(server, 'confirmOrder', orderId);
    await expect.poll(ordersStatus, { timeout: 20_000 }).toBe('FAILED');
    const skipped = await cli(server.database, 'skip', 'orders', orderId);
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).toContain(`Skipped: orders has no dead letters left for ${orderId}`);
    // The confirmation was dropped from the read model (the write side still has it).
    expect((await server.ok(`{ order(id: "${orderId}") { status } }`)).order.status).toBe('PENDING');
  }, 60_000);

});

// What needs no second process next to a server runs on the embedded database too.
describe('npm run projections -- without a server, on either database', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await seedOrders(server, 40);
    for (const projector of server.app.projectors) await projector.catchUp();
  }, 120_000);
  afterAll(() => server?.stop());

  it('rebuilds all in place once the server is stopped, to the same read models', async () => {
    const before = await readModelSnapshot(server.app.readDb.prisma);
    // Stop serving (PGlite: release the directory), but keep the database.
    await server.app.stop();
    const run = await cli(server.database, 'rebuild', 'all');
    expect(run.code, run.stderr).toBe(0);
    for (const name of ['users', 'products', 'orders', 'sales']) {
      expect(run.stdout).toMatch(new RegExp(`Rebuilt ${name} in place \\(no server was running it\\): \\d+ events`));
    }
    const { openDatabase } = await import('../../src/infrastructure/db/database.js');
    const { readDatabaseUrl, ...write } = server.database;
    const db = await openDatabase(readDatabaseUrl ? { databaseUrl: readDatabaseUrl } : write);
    try {
      expectSameReadModels(await readModelSnapshot(db.prisma), before);
    } finally {
      await db.close();
    }
  }, 120_000);

  // After the stop: an embedded database is open in one process at a time.
  it('says how to call it', async () => {
    const run = await cli(server.database, 'rebuild', 'nope');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('expected a projection (users, products, orders, sales, or all), got "nope"');
    expect(run.stderr).toContain('usage: npm run projections -- <command>');
  });
});
