import { maxCursor, type Cursor } from '../../eventlog/cursor.js';
import type { CommittedChanges } from '../../projections/projector.js';
import type { SqlClient } from '../../sql/client.js';
import type { CachedView, IdentifiedView } from './cached-view.js';
import type { CacheEntry, Fill, Invalidation, MemoryLayer } from './memory-layer.js';
import type { CacheObserver } from './observer.js';
import { positionOf, reflects } from './position.js';
import type { RedisLayer } from './redis-layer.js';

export interface ViewCacheOptions {
  /** The in-process layer; without it nothing is cached (CACHE_ENABLED=false). */
  readonly memory?: MemoryLayer;
  /** The shared layer behind it (REDIS_URL). */
  readonly redis?: RedisLayer;
  /** Where a projection stands as far as this instance knows: what a read is stamped with before it reads. */
  readonly known: (projection: string) => Cursor;
  readonly observer?: CacheObserver;
  /**
   * An invalidation of the committed changes could not be made in Redis:
   * other instances must leave its entries of `projection` behind (see the
   * cache signal, src/infrastructure/signals.ts). Must not throw.
   */
  readonly onRedisInvalidationLost?: (projection: string) => void;
}

/**
 * The read models' views loaded by id, in front of the database: the
 * in-process layer, then Redis when configured, then one statement for the
 * ids neither had. Kept correct by the projections, never by time:
 *
 * - this instance's projector invalidates what a batch changed in both layers
 *   inside the batch's transaction, before it commits (`committing`), and in
 *   Redis once more after (`committed`), so neither layer can hold the old
 *   state once the new one is committed;
 * - another instance's batches reach this instance's in-process layer through
 *   `invalidateLocal` (src/read-models/cache/instance-invalidation.ts and the
 *   subscription feeds) before this instance lets anyone see them;
 * - a read stamps what it fills with the checkpoint known before it read, and
 *   a layer refuses a fill that an invalidation has overtaken
 *   (src/read-models/cache/position.ts).
 */
export class ViewCache {
  private readonly memory: MemoryLayer | undefined;
  private readonly redis: RedisLayer | undefined;

  constructor(
    /** Where misses are read: the read primary (a replica may not have replayed the checkpoint a fill is stamped with). */
    private readonly db: SqlClient,
    private readonly options: ViewCacheOptions,
  ) {
    this.memory = options.memory;
    this.redis = options.memory ? options.redis : undefined;
  }

  get enabled(): boolean {
    return this.memory !== undefined;
  }

  /** The in-process layer's size, and Redis's own figures (metrics). */
  async stats(): Promise<{ memory?: { entries: number; bytes: number }; redis?: { entries: number; bytes: number } }> {
    const redis = await this.redis?.stats();
    return {
      memory: this.memory && { entries: this.memory.entries, bytes: this.memory.bytes },
      redis: redis && { entries: redis.keys, bytes: redis.bytes },
    };
  }

  /**
   * The views of `ids`, in their order (null where there is none). With
   * `atLeast` (read-your-writes), an entry is used only if it reflects that
   * position; anything older is read again.
   */
  async load<V extends IdentifiedView>(view: CachedView<V>, ids: readonly string[], atLeast?: Cursor): Promise<Array<V | null>> {
    const memory = this.memory;
    if (!memory) return byId(ids, await view.byIds(this.db, ids));
    const name = view.projection;
    // Before anything is read: what the reads below reflect at least.
    const stamp = this.options.known(name);
    const generation = memory.generation;
    const found = new Map<string, V | null>();
    const usable = (entry: CacheEntry) => atLeast === undefined || reflects(entry, atLeast);

    let missing: string[] = [];
    const held = memory.get(name, ids);
    for (const id of new Set(ids)) {
      const entry = held.get(id);
      if (entry && usable(entry)) found.set(id, entry.view as V | null);
      else missing.push(id);
    }
    this.count('hits', 'memory', name, found.size);
    this.count('misses', 'memory', name, missing.length);
    if (missing.length === 0) return ids.map((id) => found.get(id)!);

    let epoch: string | undefined;
    if (this.redis) {
      const shared = await this.redis.get(name, missing);
      if (!shared) {
        this.options.observer?.fallbacks(name, missing.length);
      } else {
        epoch = shared.epoch;
        const fills: Fill[] = [];
        const left: string[] = [];
        for (const id of missing) {
          const entry = shared.entries.get(id);
          if (!entry || !usable(entry)) {
            left.push(id);
            continue;
          }
          const value = entry.view === null ? null : view.decode(entry.view);
          found.set(id, value);
          // Redis held no older state than what was committed when it answered, so no older than `stamp` either.
          fills.push({ id, entry: { view: value, position: entry.position, stamp: maxCursor(entry.stamp, stamp) }, bytes: entry.view?.length ?? 0 });
        }
        this.count('hits', 'redis', name, fills.length);
        this.count('misses', 'redis', name, left.length);
        this.count('refused', 'memory', name, memory.fill(name, fills, generation));
        missing = left;
      }
    }
    if (missing.length === 0) return ids.map((id) => found.get(id)!);

    const rows = new Map((await view.byIds(this.db, missing)).map((row) => [row.id, row]));
    const fills: Fill[] = [];
    const shared: Array<{ id: string; position: Cursor; payload: string }> = [];
    for (const id of missing) {
      const row = rows.get(id) ?? null;
      found.set(id, row);
      const payload = row === null ? '' : view.encode(row);
      const position = positionOf(row);
      fills.push({ id, entry: { view: row, position, stamp }, bytes: payload.length });
      shared.push({ id, position, payload });
    }
    this.count('refused', 'memory', name, memory.fill(name, fills, generation));
    if (this.redis && epoch !== undefined) {
      // Not awaited: a late fill is refused or harmless (position.ts), never stale.
      void this.redis.fill(name, epoch, stamp, shared).then((refused) => this.count('refused', 'redis', name, refused ?? 0));
    }
    return ids.map((id) => found.get(id)!);
  }

  /**
   * Inside the transaction of this instance's projector, before it commits:
   * the changed views leave both layers, and fills from reads begun before
   * the commit are refused. Resolves in any case (a Redis failure is
   * answered by a new epoch; see `committed`).
   */
  async committing(projection: string, changes: CommittedChanges): Promise<void> {
    if (!this.memory || changes.changed.length === 0) return;
    const invalidations = changes.changed.map((id) => ({ id, floor: changes.to }));
    this.invalidateLocal(projection, invalidations);
    if (this.redis) this.count('invalidated', 'redis', projection, (await this.redis.invalidate(projection, invalidations)) ?? 0);
  }

  /**
   * After the commit: the same once more in Redis, in case its data was lost
   * in between (a flush or restart would have taken the first invalidation
   * with it).
   */
  committed(projection: string, changes: CommittedChanges): void {
    if (!this.memory || !this.redis || changes.changed.length === 0) return;
    const invalidations = changes.changed.map((id) => ({ id, floor: changes.to }));
    void this.redis.invalidate(projection, invalidations).then((removed) => {
      if (removed === undefined) this.options.onRedisInvalidationLost?.(projection);
      else this.count('invalidated', 'redis', projection, removed);
    });
  }

  /** Changes this instance learnt of (another instance's batches): they leave the in-process layer. */
  invalidateLocal(projection: string, invalidations: readonly Invalidation[]): void {
    if (!this.memory || invalidations.length === 0) return;
    this.count('invalidated', 'memory', projection, this.memory.invalidate(projection, invalidations));
  }

  /**
   * Everything of one projection's view (of every view when undefined)
   * leaves both layers: after a rebuild, which changes views without a
   * checkpoint to tell, or when signals may have been missed.
   */
  flush(projection?: string): void {
    this.flushLocal(projection);
    this.redis?.flush(projection);
  }

  /** The same in the in-process layer only (its invalidations could not be read). */
  flushLocal(projection?: string): void {
    if (!this.memory) return;
    this.memory.flush(projection);
    this.options.observer?.flushed('memory');
  }

  private count(what: 'hits' | 'misses' | 'refused' | 'invalidated', layer: 'memory' | 'redis', view: string, n: number): void {
    if (n > 0) this.options.observer?.[what](layer, view, n);
  }
}

function byId<V extends { id: string }>(ids: readonly string[], rows: readonly V[]): Array<V | null> {
  const map = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => map.get(id) ?? null);
}
