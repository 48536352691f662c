/**
 * The cache across two server processes on one PostgreSQL database
 * (PostgreSQL only): the instance that does not run a projection invalidates
 * its in-process layer from the change history before it lets anyone see the
 * projection's progress; with Redis, the instances share their fills; and
 * when the projecting instance cannot invalidate Redis, it tells the other,
 * which leaves Redis's entries behind.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { race, seedRaceWorld, type RaceNode } from '../support/cache-race.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { scrapeMetrics, total } from '../support/metrics.js';
import { uniqueEmail } from '../support/operations.js';
import { startServerProcess, stopAll, type ServerProcess } from '../support/process.js';
import { deleteKeys, eventually, SHARED_REDIS_URL, startOwnRedis, testPrefix, type OwnRedis } from '../support/redis.js';
import { testDbKind } from '../support/server.js';

const PROJECTIONS = 4;

const nodeOf = (server: ServerProcess, name: string): RaceNode => ({ name, url: server.url, gql: server.gql });

/**
 * Two instances; A starts first and takes every projection's lease, so B
 * serves from projections it learns of by signal and change history.
 */
async function twoInstances(databaseUrl: string, env: Record<string, string>, envB = env): Promise<[ServerProcess, ServerProcess]> {
  const a = await startServerProcess({ databaseUrl, env });
  await a.waitForLog(() => a.acquiredProjections().length === PROJECTIONS, 30_000);
  const b = await startServerProcess({ databaseUrl, env: envB });
  return [a, b];
}

async function register(server: ServerProcess, name: string): Promise<string> {
  const data = await server.ok(`mutation($i: RegisterUserInput!) { registerUser(input: $i) { userId user { id } } }`, {
    i: { name, email: uniqueEmail('instances') },
  });
  return data.registerUser.userId;
}

const nameOn = async (server: ServerProcess, id: string) => (await server.ok('query($id: ID!) { user(id: $id) { name } }', { id })).user.name as string;

describe.skipIf(testDbKind() !== 'postgres')('the cache on two server processes sharing one PostgreSQL database', () => {
  const databases: TestDatabase[] = [];
  const servers: ServerProcess[] = [];
  const prefixes: string[] = [];
  afterAll(async () => {
    await stopAll(servers);
    for (const d of databases) await d.dispose();
    for (const p of prefixes) await deleteKeys(p);
  }, 60_000);

  async function start(env: Record<string, string>, envB = env) {
    const database = await createTestDatabase('postgres');
    databases.push(database);
    const pair = await twoInstances(database.databaseUrl!, env, envB);
    servers.push(...pair);
    return pair;
  }

  it('in process only: no answer older than entitled on either instance, writes and reads on both', async () => {
    const [a, b] = await start({});
    expect(b.acquiredProjections()).toEqual([]);
    const nodes = [nodeOf(a, 'A'), nodeOf(b, 'B')];
    const world = await seedRaceWorld(nodes[0]!);
    const report = await race(nodes, world, { iterations: 30, readers: 2, subscriptions: true, sameInstance: 0.5 });
    expect(report.violations).toEqual([]);
    expect(report.messagesChecked).toBeGreaterThan(20);
    // B answered from its own layer, and let go of what A's projectors changed.
    const text = await scrapeMetrics(b.url);
    expect(total(text, 'orders_cache_hits_total', { layer: 'memory' })).toBeGreaterThan(30);
    expect(total(text, 'orders_cache_invalidations_total', { layer: 'memory' })).toBeGreaterThan(10);
  }, 180_000);

  it('with Redis: a view one instance read is answered from Redis on the other, and the race finds nothing older than entitled', async () => {
    const prefix = testPrefix('instances');
    prefixes.push(prefix);
    const [a, b] = await start({ REDIS_URL: SHARED_REDIS_URL, CACHE_REDIS_PREFIX: prefix, CACHE_MAX_ENTRIES: '4' });
    const userId = await register(a, 'Shared');
    expect(await nameOn(a, userId)).toBe('Shared');
    const before = total(await scrapeMetrics(b.url), 'orders_cache_hits_total', { layer: 'redis', view: 'users' });
    expect(await nameOn(b, userId)).toBe('Shared');
    expect(total(await scrapeMetrics(b.url), 'orders_cache_hits_total', { layer: 'redis', view: 'users' })).toBe(before + 1);

    const nodes = [nodeOf(a, 'A'), nodeOf(b, 'B')];
    const world = await seedRaceWorld(nodes[1]!);
    const report = await race(nodes, world, { iterations: 30, readers: 2, subscriptions: true, sameInstance: 0.5 });
    expect(report.violations).toEqual([]);
    for (const server of [a, b]) expect(total(await scrapeMetrics(server.url), 'orders_cache_hits_total', { layer: 'redis' })).toBeGreaterThan(10);
  }, 180_000);

  describe('when the projecting instance cannot invalidate Redis', () => {
    let own: OwnRedis;
    let raw: Redis;
    beforeAll(async () => {
      own = await startOwnRedis();
      raw = new Redis(own.url, { maxRetriesPerRequest: 0 });
      raw.on('error', () => undefined);
    });
    afterAll(async () => {
      raw?.disconnect();
      await own?.dispose();
    });

    it('the other instance leaves Redis behind at its word: never the entry that missed its invalidation', async () => {
      // A, the projecting one, leaves Redis alone for a long while after a failure; only B can start a new epoch soon.
      const env = { REDIS_URL: own.url, CACHE_MAX_ENTRIES: '2', CACHE_REDIS_TIMEOUT_MS: '200' };
      const [a, b] = await start({ ...env, CACHE_REDIS_RETRY_MS: '30000' }, { ...env, CACHE_REDIS_RETRY_MS: '300' });
      const userId = await register(b, 'Before');
      const others = [await register(b, 'Other 1'), await register(b, 'Other 2')];
      // B answers the user from Redis (the others push it out of B's small layer).
      const redisHits = async () => total(await scrapeMetrics(b.url), 'orders_cache_hits_total', { layer: 'redis', view: 'users' });
      await eventually(async () => {
        for (const id of others) await nameOn(b, id);
        const hits = await redisHits();
        expect(await nameOn(b, userId)).toBe('Before');
        expect(await redisHits()).toBe(hits + 1);
      });
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      await raw.config('SET', 'maxmemory', '1');
      try {
        // Through B, which waits for A's projector: A cannot invalidate Redis.
        const data = await b.ok('mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { user { name } } }', {
          i: { userId, expectedVersion: 1, name: 'After' },
        });
        expect(data.updateUserProfile.user.name).toBe('After');
      } finally {
        await raw.config('SET', 'maxmemory', '0');
      }
      // The old entry is still in Redis, under the epoch B read it with.
      const stored = await Promise.all((await raw.keys(`*users:*:${userId}`)).map((k) => raw.get(k)));
      expect(stored.some((v) => v?.includes('Before'))).toBe(true);
      await a.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('Redis failed'), 10_000);
      // B knows of the change and was told: from its layer, Redis and the database alike, only the new state.
      for (let i = 0; i < 10; i++) {
        for (const id of others) await nameOn(b, id);
        expect(await nameOn(b, userId)).toBe('After');
      }
      await eventually(async () => {
        for (const id of others) await nameOn(b, id);
        const hits = await redisHits();
        expect(await nameOn(b, userId)).toBe('After');
        expect(await redisHits()).toBe(hits + 1);
      });
    }, 120_000);
  });

});
