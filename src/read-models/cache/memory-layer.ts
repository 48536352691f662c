import { LRUCache } from 'lru-cache';
import { compareCursors, LOG_START, type Cursor } from '../../eventlog/cursor.js';
import { DEFAULTS } from '../../config.js';
import { BUCKETS, bucketOf, reflected, type Positioned } from './position.js';

/** A cached view (null: there is no such view), with its positions (src/read-models/cache/position.ts). */
export interface CacheEntry<V = unknown> extends Positioned {
  readonly view: V | null;
}

/** A fill: an entry of one id, and its size in bytes (its JSON text's length). */
export interface Fill<V = unknown> {
  readonly id: string;
  readonly entry: CacheEntry<V>;
  readonly bytes: number;
}

/** An invalidation of one id, up to `floor` (the position its change is known by). */
export interface Invalidation {
  readonly id: string;
  readonly floor: Cursor;
}

interface Stored extends CacheEntry {
  readonly bytes: number;
}

export interface MemoryLayerOptions {
  /** Most entries kept (default DEFAULTS.CACHE_MAX_ENTRIES). */
  readonly maxEntries?: number;
  /** Most bytes kept, counted as the entries' JSON size (default DEFAULTS.CACHE_MAX_BYTES). */
  readonly maxBytes?: number;
}

/**
 * The in-process layer: an LRU (lru-cache) bounded by entries and bytes,
 * shared by every cached view, with the floors of each view's id buckets.
 *
 * The rules (one view's `kind` at a time):
 * - a fill replaces an entry only with newer content (a larger `position`);
 * - a fill into an empty slot is taken only if it reflects its bucket's floor;
 * - no fill is taken from a read that began before a flush (`generation`);
 * - an invalidation raises the bucket's floor and removes the entry, unless
 *   the entry already reflects it;
 * - an entry evicted for room raises its bucket's floor to what it
 *   reflected, so an older fill of that id cannot take its place.
 */
export class MemoryLayer {
  private readonly lru: LRUCache<string, Stored>;
  private readonly floors = new Map<string, Cursor[]>();
  /** Counts flushes: a fill whose read began before one is refused. */
  private flushes = 0;

  constructor(options: MemoryLayerOptions = {}) {
    this.lru = new LRUCache<string, Stored>({
      max: options.maxEntries ?? DEFAULTS.CACHE_MAX_ENTRIES,
      maxSize: options.maxBytes ?? DEFAULTS.CACHE_MAX_BYTES,
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
      dispose: (entry, key, reason) => {
        if (reason !== 'evict') return;
        const split = key.indexOf(':');
        this.raise(key.slice(0, split), key.slice(split + 1), reflected(entry));
      },
    });
  }

  /** Entries held. */
  get entries(): number {
    return this.lru.size;
  }

  /** Bytes held (the entries' JSON size). */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** Taken before a read and handed to `fill`: a fill from a read that began before a flush is refused. */
  get generation(): number {
    return this.flushes;
  }

  /** The entries held for these ids (marked as recently used). */
  get(kind: string, ids: readonly string[]): Map<string, CacheEntry> {
    const found = new Map<string, CacheEntry>();
    for (const id of ids) {
      const entry = this.lru.get(key(kind, id));
      if (entry) found.set(id, entry);
    }
    return found;
  }

  /** Stores what the rules allow; returns how many fills were refused. */
  fill(kind: string, fills: readonly Fill[], generation: number): number {
    if (generation !== this.flushes) return fills.length;
    let refused = 0;
    for (const { id, entry, bytes } of fills) {
      const k = key(kind, id);
      const held = this.lru.peek(k);
      const newer = held
        ? compareCursors(entry.position, held.position) > 0
        : compareCursors(reflected(entry), this.floor(kind, id)) >= 0;
      if (newer) this.lru.set(k, { ...entry, bytes });
      else refused++;
    }
    return refused;
  }

  /**
   * Raises the ids' floors and removes their entries — except one that
   * already reflects the floor (read after the change was known, e.g. a
   * read-your-writes payload's, before a subscription feed got to the change).
   * Returns how many entries were removed.
   */
  invalidate(kind: string, invalidations: readonly Invalidation[]): number {
    let removed = 0;
    for (const { id, floor } of invalidations) {
      this.raise(kind, id, floor);
      const k = key(kind, id);
      const held = this.lru.peek(k);
      if (held && compareCursors(reflected(held), floor) < 0 && this.lru.delete(k)) removed++;
    }
    return removed;
  }

  /** Drops every entry of `kind` (of every kind when undefined); fills from reads begun before are refused. Returns how many. */
  flush(kind?: string): number {
    this.flushes++;
    const doomed = [...this.lru.keys()].filter((k) => kind === undefined || k.startsWith(`${kind}:`));
    for (const k of doomed) this.lru.delete(k);
    return doomed.length;
  }

  private floor(kind: string, id: string): Cursor {
    return this.floors.get(kind)?.[bucketOf(id)] ?? LOG_START;
  }

  private raise(kind: string, id: string, floor: Cursor): void {
    let floors = this.floors.get(kind);
    if (!floors) this.floors.set(kind, (floors = new Array<Cursor>(BUCKETS).fill(LOG_START)));
    const bucket = bucketOf(id);
    if (compareCursors(floor, floors[bucket]!) > 0) floors[bucket] = floor;
  }
}

const key = (kind: string, id: string) => `${kind}:${id}`;
