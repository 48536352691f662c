/** The cache's layers, as metrics name them. */
export type CacheLayerName = 'memory' | 'redis';

/**
 * What the cache reports as it works (metrics). `view` is the cached view's
 * projection name. Each method must not throw.
 */
export interface CacheObserver {
  /** Ids answered by a layer. */
  readonly hits: (layer: CacheLayerName, view: string, count: number) => void;
  /** Ids a layer did not have (or had too old for a read-your-writes read). */
  readonly misses: (layer: CacheLayerName, view: string, count: number) => void;
  /** Fills a layer refused: it held newer content, or a change came after the read began. */
  readonly refused: (layer: CacheLayerName, view: string, count: number) => void;
  /** Ids invalidated in a layer because their view changed. */
  readonly invalidated: (layer: CacheLayerName, view: string, count: number) => void;
  /** Ids read from the database because Redis failed, timed out or was being reset. */
  readonly fallbacks: (view: string, count: number) => void;
  /** A layer dropped everything of one view or all (a flush; for Redis a new epoch). */
  readonly flushed: (layer: CacheLayerName) => void;
}
