import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Cursor } from '../../eventlog/cursor.js';
import { DEFAULTS } from '../../config.js';
import type { CacheEntry, Invalidation } from './memory-layer.js';
import type { CacheObserver } from './observer.js';
import { bucketOf, fromPositionKey, POSITION_KEY_LENGTH, positionKey } from './position.js';

/*
 * Redis keys, under the prefix:
 *   meta                    a hash: `e:<view>` the view's current epoch, `f:<view>:<bucket>` a bucket's floor
 *   <view>:<epoch>:<id>     an entry: position (40 characters), stamp (40), then the view's JSON ('' for none)
 * Entries live under their view's epoch: a new epoch (after a reconnect, a
 * flush, an invalidation that may have been lost) leaves every older entry
 * unreachable, and a fill read under an older epoch is refused. The scripts
 * build key names from the epoch they read, so a single Redis (or a primary
 * with replicas) is assumed, not Redis Cluster.
 */

/** The epoch, and the entries of the ids (false where absent); false when the view has no epoch. */
const GET = `
local epoch = redis.call('HGET', KEYS[1], 'e:' .. ARGV[2])
if not epoch then return false end
local base = ARGV[1] .. ARGV[2] .. ':' .. epoch .. ':'
local keys = {}
for i = 3, #ARGV do keys[i - 2] = base .. ARGV[i] end
return { epoch, redis.call('MGET', unpack(keys)) }`;

/**
 * ARGV: prefix, view, epoch, ttl, stamp, then per entry id, bucket, position, payload.
 * Returns how many were refused, or -1 when the epoch is no longer current.
 */
const FILL = `
local view = ARGV[2]
if redis.call('HGET', KEYS[1], 'e:' .. view) ~= ARGV[3] then return -1 end
local base = ARGV[1] .. view .. ':' .. ARGV[3] .. ':'
local stamp = ARGV[5]
local refused = 0
for i = 6, #ARGV, 4 do
  local key = base .. ARGV[i]
  local position = ARGV[i + 2]
  local held = redis.call('GET', key)
  local take
  if held then
    take = position > string.sub(held, 1, ${POSITION_KEY_LENGTH})
  else
    local floor = redis.call('HGET', KEYS[1], 'f:' .. view .. ':' .. ARGV[i + 1])
    local claim = stamp
    if position > claim then claim = position end
    take = (not floor) or claim >= floor
  end
  if take then
    redis.call('SET', key, position .. stamp .. ARGV[i + 3], 'EX', ARGV[4])
  else
    refused = refused + 1
  end
end
return refused`;

/**
 * ARGV: prefix, view, then per id: id, bucket, floor. Raises the floors (also
 * without an epoch, so that one set later still refuses reads from before)
 * and removes the entries of the current epoch that do not reflect the floor
 * yet (an entry's stamp or position reaching it). Returns how many it removed.
 */
const INVALIDATE = `
local view = ARGV[2]
local epoch = redis.call('HGET', KEYS[1], 'e:' .. view)
local removed = 0
for i = 3, #ARGV, 3 do
  local floor = ARGV[i + 2]
  local field = 'f:' .. view .. ':' .. ARGV[i + 1]
  local held = redis.call('HGET', KEYS[1], field)
  if (not held) or held < floor then redis.call('HSET', KEYS[1], field, floor) end
  if epoch then
    local key = ARGV[1] .. view .. ':' .. epoch .. ':' .. ARGV[i]
    local entry = redis.call('GET', key)
    if entry and string.sub(entry, 1, ${POSITION_KEY_LENGTH}) < floor and string.sub(entry, ${POSITION_KEY_LENGTH + 1}, ${2 * POSITION_KEY_LENGTH}) < floor then
      removed = removed + redis.call('DEL', key)
    end
  end
end
return removed`;

interface Script {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });
const SCRIPTS = { get: script(GET), fill: script(FILL), invalidate: script(INVALIDATE) };

/** Ids per script call (a script's arguments are bounded). */
const CHUNK = 500;

export interface RedisLayerOptions {
  /** The views it caches (their projection names): a reconnect starts a new epoch for each. */
  readonly views: readonly string[];
  /** Key prefix (default DEFAULTS.CACHE_REDIS_PREFIX). */
  readonly prefix?: string;
  /** Lifetime of an entry, in seconds: a safety net, never what keeps entries current (default DEFAULTS.CACHE_TTL_S). */
  readonly ttlS?: number;
  /** After a failure, how long Redis is left alone before it is tried again, in ms (default DEFAULTS.CACHE_REDIS_RETRY_MS). */
  readonly retryMs?: number;
  /** A command failed or timed out (the cache goes on without Redis meanwhile). Must not throw. */
  readonly onError?: (error: unknown) => void;
  readonly observer?: CacheObserver;
}

/** An entry as Redis returned it, with the epoch it was read under (what a fill from the same read must name). */
export interface RedisRead {
  readonly epoch: string;
  readonly entries: Map<string, CacheEntry<string>>;
}

/**
 * The shared layer: entries in Redis (ioredis), written and compared by Lua
 * scripts so that each rule is atomic — the same rules as the in-process
 * layer (src/read-models/cache/memory-layer.ts), with the view's JSON as the
 * entry. Every failure is the caller's cue to use the database: nothing here
 * throws. The client should have a bounded command timeout and no offline
 * queue (src/infrastructure/redis.ts), so an unreachable Redis costs little.
 *
 * Redis is trusted for a view only under an epoch this instance set or read
 * after its last doubt: at the start, after every (re)connect (a restarted
 * Redis may have come back from an older snapshot, without later
 * invalidations), after an invalidation that failed or timed out, and after
 * a flush, it first sets a new epoch for the view (or every view). A flush
 * of Redis's data removes the epochs with it: the next read finds none and
 * sets one.
 */
export class RedisLayer {
  private readonly prefix: string;
  private readonly meta: string;
  private readonly ttlS: number;
  private readonly retryMs: number;
  /** Views whose epoch must be replaced before Redis is used for them, with a counter per request. */
  private readonly doubts = new Map<string, number>();
  private replacing: Promise<void> | undefined;
  private pausedUntil = 0;
  private requests = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisLayerOptions,
  ) {
    this.prefix = options.prefix ?? DEFAULTS.CACHE_REDIS_PREFIX;
    this.meta = `${this.prefix}meta`;
    this.ttlS = options.ttlS ?? DEFAULTS.CACHE_TTL_S;
    this.retryMs = options.retryMs ?? DEFAULTS.CACHE_REDIS_RETRY_MS;
    this.doubt();
    redis.on('ready', () => {
      this.doubt();
      this.pausedUntil = 0;
      this.replaceEpochs();
    });
  }

  /**
   * The entries Redis holds for these ids; undefined when Redis cannot be
   * used for the view now (the caller reads the database).
   */
  async get(view: string, ids: readonly string[]): Promise<RedisRead | undefined> {
    if (!this.usable(view) || ids.length === 0) return undefined;
    try {
      const entries = new Map<string, CacheEntry<string>>();
      let epoch: string | undefined;
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        const reply = (await this.run(SCRIPTS.get, [this.prefix, view, ...chunk])) as [string, Array<string | null>] | null;
        if (!reply || (epoch !== undefined && reply[0] !== epoch)) {
          // No epoch (Redis was flushed or restarted): a new one first.
          this.doubt(view);
          return undefined;
        }
        epoch = reply[0];
        reply[1].forEach((text, j) => {
          if (text !== null) entries.set(chunk[j]!, decode(text));
        });
      }
      return { epoch: epoch!, entries };
    } catch (error) {
      this.failed(error);
      return undefined;
    }
  }

  /**
   * Stores what the rules allow, under the epoch the entries' read began
   * with; returns how many were refused (undefined when Redis failed).
   */
  async fill(view: string, epoch: string, stamp: Cursor, fills: ReadonlyArray<{ id: string; position: Cursor; payload: string }>): Promise<number | undefined> {
    if (!this.usable(view) || fills.length === 0) return 0;
    try {
      let refused = 0;
      for (let i = 0; i < fills.length; i += CHUNK) {
        const chunk = fills.slice(i, i + CHUNK);
        const args = [this.prefix, view, epoch, String(this.ttlS), positionKey(stamp)];
        for (const f of chunk) args.push(f.id, String(bucketOf(f.id)), positionKey(f.position), f.payload);
        const result = Number(await this.run(SCRIPTS.fill, args));
        refused += result < 0 ? chunk.length : result;
      }
      return refused;
    } catch (error) {
      this.failed(error);
      return undefined;
    }
  }

  /**
   * Removes the ids' entries and raises their floors; resolves with how many
   * entries it removed, or undefined when it may not have happened (Redis
   * failed, or is not in use for the view) — the view then gets a new epoch
   * before Redis is used for it again.
   */
  async invalidate(view: string, invalidations: readonly Invalidation[]): Promise<number | undefined> {
    if (!this.usable(view)) {
      this.doubt(view);
      return undefined;
    }
    try {
      let removed = 0;
      for (let i = 0; i < invalidations.length; i += CHUNK) {
        const args = [this.prefix, view];
        for (const { id, floor } of invalidations.slice(i, i + CHUNK)) args.push(id, String(bucketOf(id)), positionKey(floor));
        removed += Number(await this.run(SCRIPTS.invalidate, args));
      }
      return removed;
    } catch (error) {
      this.doubt(view);
      this.failed(error);
      return undefined;
    }
  }

  /** Leaves every entry of the view (of all views when undefined) behind: a new epoch before Redis is used again. */
  flush(view?: string): void {
    this.doubt(view);
    this.replaceEpochs();
  }

  /** The keys of Redis's database and the memory Redis uses (the server's own figures); undefined when unavailable. */
  async stats(): Promise<{ keys: number; bytes: number } | undefined> {
    if (this.redis.status !== 'ready' || Date.now() < this.pausedUntil) return undefined;
    try {
      const [keys, info] = await Promise.all([this.redis.dbsize(), this.redis.info('memory')]);
      const used = /^used_memory:(\d+)/m.exec(info);
      return { keys, bytes: used ? Number(used[1]) : 0 };
    } catch {
      return undefined;
    }
  }

  /** Whether Redis may be used for the view now; starts replacing doubted epochs when it is time. */
  private usable(view: string): boolean {
    if (Date.now() < this.pausedUntil) return false;
    if (this.doubts.size > 0) this.replaceEpochs();
    return !this.doubts.has(view) && this.redis.status === 'ready';
  }

  private doubt(view?: string): void {
    const id = ++this.requests;
    for (const v of view === undefined ? this.options.views : [view]) this.doubts.set(v, id);
  }

  /** One at a time: sets a new epoch for every doubted view. */
  private replaceEpochs(): void {
    if (this.replacing || this.doubts.size === 0 || this.redis.status !== 'ready' || Date.now() < this.pausedUntil) return;
    const asked = new Map(this.doubts);
    this.replacing = this.redis
      .hset(this.meta, Object.fromEntries([...asked.keys()].map((v) => [`e:${v}`, randomUUID()])))
      .then(
        () => {
          // Doubts raised meanwhile stay: their epoch must come after them.
          for (const [view, id] of asked) if (this.doubts.get(view) === id) this.doubts.delete(view);
          this.options.observer?.flushed('redis');
        },
        (error: unknown) => this.failed(error),
      )
      .finally(() => {
        this.replacing = undefined;
      });
  }

  private failed(error: unknown): void {
    this.pausedUntil = Date.now() + this.retryMs;
    this.options.onError?.(error);
  }

  /** EVALSHA, and EVAL when Redis does not know the script (after a restart or SCRIPT FLUSH). */
  private async run(s: Script, args: readonly string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(s.sha, 1, this.meta, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return this.redis.eval(s.lua, 1, this.meta, ...args);
    }
  }
}

function decode(text: string): CacheEntry<string> {
  const payload = text.slice(2 * POSITION_KEY_LENGTH);
  return {
    position: fromPositionKey(text.slice(0, POSITION_KEY_LENGTH)),
    stamp: fromPositionKey(text.slice(POSITION_KEY_LENGTH, 2 * POSITION_KEY_LENGTH)),
    view: payload === '' ? null : payload,
  };
}
