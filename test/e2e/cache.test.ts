/**
 * The cache in front of the views by id (src/read-models/cache), through the
 * API: a query it can answer costs no statement; many clients writing and
 * reading the same ids while the projectors run never see a view older than
 * they are entitled to — in process, and with Redis behind it; and a Redis
 * that refuses writes, dies or comes back never makes a query fail or go
 * stale.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { race, seedRaceWorld, type RaceNode } from '../support/cache-race.js';
import { sample, scrapeMetrics, total } from '../support/metrics.js';
import { addProduct, placeOrder, registerUser } from '../support/operations.js';
import { deleteKeys, eventually, SHARED_REDIS_URL, startOwnRedis, testPrefix, type OwnRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ORDER = `query($id: ID!) { order(id: $id) { id status user { name } items { product { name price } } } }`;
/** Statements that read a view by id (background work reads the change histories, the log and checkpoints). */
const viewReads = (statements: string[]) => statements.filter((sql) => /\b(order_view|user_view|product_view)\b/.test(sql) && !/_change\b/.test(sql));

const nodeOf = (server: TestServer, name = 'server'): RaceNode => ({ name, url: server.url, gql: server.gql });

/** A placed order, once every projection has applied it (so no projector reads a view meanwhile). */
async function orderOf(server: TestServer) {
  const { userId } = await registerUser(server, 'Cached Customer');
  const { productId } = await addProduct(server, 'Cached item', '3.00');
  const { orderId } = await placeOrder(server, userId, [{ productId, quantity: 2 }]);
  await eventually(async () => {
    const { projections } = await server.ok('{ projections { lag } }');
    expect(projections.every((p: { lag: number }) => p.lag === 0)).toBe(true);
  });
  return { userId, productId, orderId };
}

describe('a query the cache can answer', () => {
  it('costs no statement: the order, its customer and its products come from the cache', async () => {
    const server = await startTestServer();
    try {
      const { orderId } = await orderOf(server);
      const first = await server.ok(ORDER, { id: orderId });
      server.statements.length = 0;
      expect(await server.ok(ORDER, { id: orderId })).toEqual(first);
      expect(viewReads(server.statements)).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('a page reads only its ids and total: its orders, their customers and products come from the cache, fresh after a change', async () => {
    const server = await startTestServer();
    try {
      const { userId, orderId } = await orderOf(server);
      const PAGE = `query($userId: ID!) { orders(filter: { userId: $userId }) { total orders { id status user { name } items { product { name } } } } }`;
      const first = await server.ok(PAGE, { userId });
      expect(first.orders).toEqual({ total: 1, orders: [{ id: orderId, status: 'PENDING', user: { name: 'Cached Customer' }, items: [{ product: { name: 'Cached item' } }] }] });
      server.statements.length = 0;
      expect(await server.ok(PAGE, { userId })).toEqual(first);
      const reads = viewReads(server.statements);
      expect(reads).toHaveLength(2); // the page's ids, and its count
      expect(reads.every((sql) => /\bid::text\b|count\(\*\)/.test(sql) && !/\bitems\b/.test(sql))).toBe(true);
      // A change the projection applies is what the next page shows.
      await server.ok(`mutation($id: ID!) { confirmOrder(input: { orderId: $id }) { position order { status } } }`, { id: orderId });
      expect((await server.ok(PAGE, { userId })).orders.orders[0].status).toBe('CONFIRMED');
    } finally {
      await server.stop();
    }
  });

  it('with CACHE_ENABLED=false, reads the database every time', async () => {
    const server = await startTestServer({ CACHE_ENABLED: false });
    try {
      const { orderId } = await orderOf(server);
      await server.ok(ORDER, { id: orderId });
      server.statements.length = 0;
      await server.ok(ORDER, { id: orderId });
      // order, then user and products (batched together)
      expect(viewReads(server.statements)).toHaveLength(3);
      expect(sample(await scrapeMetrics(server.url), 'orders_cache_hits_total', { layer: 'memory', view: 'orders' })).toBeUndefined();
    } finally {
      await server.stop();
    }
  });
});

describe('many clients writing and reading the same ids while the projectors run', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeys(prefix);
  });

  it('in process: no answer older than its client is entitled to', async () => {
    const server = await startTestServer();
    try {
      const node = nodeOf(server);
      const world = await seedRaceWorld(node);
      const report = await race([node], world, { iterations: 40, readers: 3, subscriptions: true });
      expect(report.violations).toEqual([]);
      expect(report.writes).toBeGreaterThan(60);
      expect(report.messagesChecked).toBeGreaterThan(30);
      // The cache was in play: it answered, and let go of what changed.
      const text = await scrapeMetrics(server.url);
      expect(total(text, 'orders_cache_hits_total', { layer: 'memory' })).toBeGreaterThan(100);
      expect(total(text, 'orders_cache_invalidations_total', { layer: 'memory' })).toBeGreaterThan(30);
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('with Redis behind a small in-process layer: no answer older than entitled, and Redis answers too', async () => {
    const prefix = testPrefix('e2e-race');
    prefixes.push(prefix);
    // Room for a few views in process, so that Redis serves the rest.
    const server = await startTestServer({ REDIS_URL: SHARED_REDIS_URL, CACHE_REDIS_PREFIX: prefix, CACHE_MAX_ENTRIES: 4 });
    try {
      const node = nodeOf(server);
      const world = await seedRaceWorld(node);
      const report = await race([node], world, { iterations: 40, readers: 3, subscriptions: true });
      expect(report.violations).toEqual([]);
      const text = await scrapeMetrics(server.url);
      expect(total(text, 'orders_cache_hits_total', { layer: 'redis' })).toBeGreaterThan(50);
      expect(total(text, 'orders_cache_invalidations_total', { layer: 'redis' })).toBeGreaterThan(30);
      expect(total(text, 'orders_cache_fallbacks_total')).toBe(0);
      expect(sample(text, 'orders_cache_entries', { layer: 'redis' })).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  }, 120_000);
});

describe('a Redis that fails under the server', () => {
  let own: OwnRedis;
  let server: TestServer;
  let raw: Redis;
  beforeAll(async () => {
    own = await startOwnRedis();
    raw = new Redis(own.url, { maxRetriesPerRequest: 0 });
    raw.on('error', () => undefined);
    // Views leave the small in-process layer quickly; reads then go to Redis.
    server = await startTestServer({ REDIS_URL: own.url, CACHE_MAX_ENTRIES: 2, CACHE_REDIS_RETRY_MS: 300, CACHE_REDIS_TIMEOUT_MS: 100 });
  });
  afterAll(async () => {
    await server?.stop();
    raw?.disconnect();
    await own?.dispose();
  });

  const nameOf = async (userId: string) => (await server.ok('query($id: ID!) { user(id: $id) { name } }', { id: userId })).user.name as string;
  const redisHits = async () => total(await scrapeMetrics(server.url), 'orders_cache_hits_total', { layer: 'redis' });

  /** Until the user is answered from Redis (other reads push it out of the in-process layer). */
  async function fromRedis(userId: string, others: string[]) {
    await eventually(async () => {
      for (const id of others) await nameOf(id);
      const before = await redisHits();
      await nameOf(userId);
      expect(await redisHits()).toBeGreaterThan(before);
    });
  }

  it('when Redis refuses an invalidation, its old entry is never served: a new epoch first', async () => {
    const { userId } = await registerUser(server, 'Before OOM');
    const others = await Promise.all([registerUser(server, 'Other 1'), registerUser(server, 'Other 2')]).then((r) => r.map((u) => u.userId));
    await fromRedis(userId, others);
    // Redis refuses writes: the invalidation of the rename cannot reach it.
    await raw.config('SET', 'maxmemory-policy', 'noeviction');
    await raw.config('SET', 'maxmemory', '1');
    try {
      // The payload waits for the projection (and reads the user from the database: nothing cached is that new).
      const data = await server.ok('mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { user { name } } }', {
        i: { userId, expectedVersion: 1, name: 'After OOM' },
      });
      expect(data.updateUserProfile.user.name).toBe('After OOM');
    } finally {
      await raw.config('SET', 'maxmemory', '0');
    }
    // The fault happened: the old state is still in Redis …
    const keys = await raw.keys(`*users:*:${userId}`);
    const stored = await Promise.all(keys.map((k) => raw.get(k)));
    expect(stored.some((v) => v?.includes('Before OOM'))).toBe(true);
    // … and is never answered: the rename shows at once, and from then on.
    for (let i = 0; i < 20; i++) expect(await nameOf(userId)).toBe('After OOM');
    await fromRedis(userId, others);
    expect(await nameOf(userId)).toBe('After OOM');
  });

  it('while Redis is down, answers from the database, changes included, and uses Redis again once it is back', async () => {
    const { userId } = await registerUser(server, 'Down 0');
    const others = await Promise.all([registerUser(server, 'Other 3'), registerUser(server, 'Other 4')]).then((r) => r.map((u) => u.userId));
    await fromRedis(userId, others);
    const fallbacks = total(await scrapeMetrics(server.url), 'orders_cache_fallbacks_total');
    await own.kill();
    for (let version = 1; version <= 3; version++) {
      const data = await server.ok('mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { user { name } } }', {
        i: { userId, expectedVersion: version, name: `Down ${version}` },
      });
      expect(data.updateUserProfile.user.name).toBe(`Down ${version}`);
      for (const id of others) await nameOf(id);
      expect(await nameOf(userId)).toBe(`Down ${version}`);
    }
    expect(total(await scrapeMetrics(server.url), 'orders_cache_fallbacks_total')).toBeGreaterThan(fallbacks);
    await own.start();
    await fromRedis(userId, others);
    expect(await nameOf(userId)).toBe('Down 3');
  });
});
