/**
 * The Redis layer (src/read-models/cache/redis-layer.ts) against real Redis
 * servers, with no database: its Lua scripts keep the in-process layer's rules
 * atomically (on the shared Redis, under a prefix of this file's own), and a
 * Redis that is flushed, restarted from an older snapshot, down or hung costs
 * a fallback to the database — never a stale entry, never an error — and is
 * used again by itself once it is back (on redis-servers of the test's own).
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cursor } from '../../src/eventlog/cursor.js';
import { openRedis } from '../../src/infrastructure/redis.js';
import { RedisLayer } from '../../src/read-models/cache/redis-layer.js';
import { deleteKeys, eventually, SHARED_REDIS_URL, startOwnRedis, testPrefix, type OwnRedis } from '../support/redis.js';
import { operations, runModel, type LayerUnderTest } from './layer-model.js';
import { ids, sameBucket } from './support.js';

const at = (pos: number): Cursor => ({ tx: 7n, pos: BigInt(pos) });
const TIMEOUT_MS = 100;

const clients: Redis[] = [];
const prefixes: string[] = [];

/** A layer on `url` under a fresh prefix, once it has set its first epoch. */
async function layerOn(url: string, options: { retryMs?: number } = {}) {
  const redis = openRedis(url, { commandTimeoutMs: TIMEOUT_MS, onError: () => undefined });
  clients.push(redis);
  const prefix = testPrefix('redis-layer');
  prefixes.push(prefix);
  const errors: unknown[] = [];
  const layer = new RedisLayer(redis, { views: ['users'], prefix, ttlS: 60, retryMs: options.retryMs ?? 200, onError: (e) => errors.push(e) });
  await eventually(async () => expect(await layer.get('users', [ids(1)[0]!])).toBeDefined());
  return { redis, layer, prefix, errors };
}

/** Reads `id` and returns the epoch of the read (what a fill from it carries) and the entry, if any. */
async function read(layer: RedisLayer, id: string) {
  const got = await layer.get('users', [id]);
  return { epoch: got?.epoch, entry: got?.entries.get(id) };
}

const fill = (layer: RedisLayer, epoch: string, id: string, position: number, stamp: number) =>
  layer.fill('users', epoch, at(stamp), [{ id, position: at(position), payload: JSON.stringify({ id, position }) }]);

afterAll(async () => {
  clients.forEach((c) => c.disconnect());
  for (const prefix of prefixes) await deleteKeys(prefix);
});

describe('the Redis cache layer on the shared Redis (own key prefix)', () => {
  it('answers what was filled, the view as text with its positions', async () => {
    const { layer } = await layerOn(SHARED_REDIS_URL);
    const [a, b] = ids(2);
    const { epoch } = await read(layer, a!);
    expect(await fill(layer, epoch!, a!, 5, 6)).toBe(0);
    const { entry } = await read(layer, a!);
    expect(entry).toEqual({ view: JSON.stringify({ id: a, position: 5 }), position: at(5), stamp: at(6) });
    expect((await read(layer, b!)).entry).toBeUndefined();
  });

  it('refuses a fill read before a commit and stored after its invalidation, atomically', async () => {
    const { layer } = await layerOn(SHARED_REDIS_URL);
    const [a] = ids(1);
    const { epoch } = await read(layer, a!); // the reader knows 10, reads the view as of 5 …
    expect(await layer.invalidate('users', [{ id: a!, floor: at(12) }])).toBe(0); // … the change to 12 commits …
    expect(await fill(layer, epoch!, a!, 5, 10)).toBe(1); // … then it stores: refused
    expect((await read(layer, a!)).entry).toBeUndefined();
    expect(await fill(layer, epoch!, a!, 12, 12)).toBe(0);
    expect((await read(layer, a!)).entry?.position).toEqual(at(12));
    // An invalidation the entry already reflects keeps it; a later one removes it.
    expect(await layer.invalidate('users', [{ id: a!, floor: at(12) }])).toBe(0);
    expect((await read(layer, a!)).entry?.position).toEqual(at(12));
    expect(await layer.invalidate('users', [{ id: a!, floor: at(14) }])).toBe(1);
    expect((await read(layer, a!)).entry).toBeUndefined();
  });

  it('replaces an entry only with newer content, and keeps a floor per bucket', async () => {
    const { layer } = await layerOn(SHARED_REDIS_URL);
    const [x, y] = sameBucket(2);
    const { epoch } = await read(layer, x!);
    await fill(layer, epoch!, x!, 12, 12);
    expect(await fill(layer, epoch!, x!, 5, 20)).toBe(1);
    expect(await fill(layer, epoch!, x!, 15, 15)).toBe(0);
    expect((await read(layer, x!)).entry?.position).toEqual(at(15));
    // x's invalidation refuses a racing fill of y (same bucket).
    await layer.invalidate('users', [{ id: x!, floor: at(20) }]);
    expect(await fill(layer, epoch!, y!, 5, 10)).toBe(1);
    expect(await fill(layer, epoch!, y!, 5, 20)).toBe(0);
  });

  it('keeps the rules under random interleavings (the model of test/cache/layer-model.ts)', async () => {
    const { layer } = await layerOn(SHARED_REDIS_URL);
    const under: LayerUnderTest<string> = {
      begin: async (id) => (await read(layer, id)).epoch,
      fill: async (id, epoch, position, stamp) =>
        void (await layer.fill('users', epoch, stamp, [{ id, position, payload: '{}' }])),
      get: async (id) => (await read(layer, id)).entry?.position,
      invalidate: async (id, floor) => void (await layer.invalidate('users', [{ id, floor }])),
      async flush() {
        layer.flush('users');
        await eventually(async () => expect(await layer.get('users', [id0])).toBeDefined());
      },
    };
    const id0 = ids(1)[0]!;
    let hits = 0;
    await fc.assert(
      fc.asyncProperty(operations({ flush: true }), async (ops) => {
        hits += (await runModel(under, ops)).hits;
      }),
      { numRuns: 60 },
    );
    // Not vacuous: entries were served. (Random operations: 60 runs have given 18–36 hits, so the bound is loose.)
    expect(hits).toBeGreaterThan(5);
  });
});

describe('the Redis cache layer on a Redis of its own', () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startOwnRedis();
  });
  afterEach(async () => {
    own.resume();
    await own.start();
  });
  afterAll(() => own?.dispose());

  it('after a flush of Redis, sets a new epoch and refuses a fill read under the old one', async () => {
    const { layer, redis } = await layerOn(own.url);
    const [a] = ids(1);
    const before = await read(layer, a!);
    await redis.flushall();
    // The epoch went with the data: no answer from Redis until a new one is set …
    expect(await layer.get('users', [a!])).toBeUndefined();
    const after = await eventually(async () => {
      const r = await read(layer, a!);
      expect(r.epoch).toBeDefined();
      return r;
    });
    expect(after.epoch).not.toBe(before.epoch);
    // … and a reader that began before the flush stores nothing.
    expect(await fill(layer, before.epoch!, a!, 5, 5)).toBe(1);
    expect((await read(layer, a!)).entry).toBeUndefined();
  });

  it('after a restart from an older snapshot, never serves an entry whose invalidation the snapshot lost', async () => {
    const { layer, redis, prefix } = await layerOn(own.url);
    const [a] = ids(1);
    const { epoch } = await read(layer, a!);
    await fill(layer, epoch!, a!, 5, 5);
    await redis.save(); // the snapshot holds the entry as of 5 …
    await layer.invalidate('users', [{ id: a!, floor: at(12) }]); // … not its invalidation
    await own.kill();
    await own.start();
    // The snapshot is back: the old entry is there, under the old epoch.
    const raw = openRedis(own.url, { commandTimeoutMs: 1000, onError: () => undefined });
    clients.push(raw);
    await eventually(async () => expect(await raw.exists(`${prefix}users:${epoch}:${a}`)).toBe(1));
    // The layer reconnects by itself, under a new epoch: the old entry is out of reach.
    const after = await eventually(async () => {
      const r = await read(layer, a!);
      expect(r.epoch).toBeDefined();
      return r;
    }, 15_000);
    expect(after.epoch).not.toBe(epoch);
    expect(after.entry).toBeUndefined();
    expect(await fill(layer, epoch!, a!, 5, 5)).toBe(1);
  });

  it('while Redis is down, answers at once that it cannot help, and resumes by itself', async () => {
    const { layer, redis } = await layerOn(own.url);
    const [a] = ids(1);
    const { epoch } = await read(layer, a!);
    await fill(layer, epoch!, a!, 5, 5);
    await own.kill();
    await eventually(() => expect(redis.status).not.toBe('ready')); // the client saw it go
    const started = Date.now();
    expect(await layer.get('users', [a!])).toBeUndefined();
    expect(await layer.invalidate('users', [{ id: a!, floor: at(12) }])).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
    await own.start();
    // Back, under a new epoch (the invalidation above never reached it).
    const after = await eventually(async () => {
      const r = await read(layer, a!);
      expect(r.epoch).toBeDefined();
      return r;
    }, 15_000);
    expect(after.epoch).not.toBe(epoch);
    expect(after.entry).toBeUndefined();
  });

  it('while Redis hangs, gives up within the timeout, and resumes by itself', async () => {
    const { layer } = await layerOn(own.url, { retryMs: 300 });
    const [a] = ids(1);
    const { epoch } = await read(layer, a!);
    await fill(layer, epoch!, a!, 5, 5);
    own.pause();
    let started = Date.now();
    expect(await layer.get('users', [a!])).toBeUndefined();
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(waited).toBeLessThan(TIMEOUT_MS + 500);
    // Meanwhile it leaves Redis alone: no wait at all.
    started = Date.now();
    expect(await layer.get('users', [a!])).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(20);
    own.resume();
    const after = await eventually(async () => {
      const r = await read(layer, a!);
      expect(r.epoch).toBeDefined();
      return r;
    });
    // The entry filled before the hang is still current: nothing was invalidated meanwhile.
    expect(after.epoch).toBe(epoch);
    expect(after.entry?.position).toEqual(at(5));
  });
});
