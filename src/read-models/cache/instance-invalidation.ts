import { compareCursors, maxCursor, type Cursor } from '../../eventlog/cursor.js';
import type { SqlClient } from '../../sql/client.js';
import type { CachedView, IdentifiedView } from './cached-view.js';
import type { CommittedChanges } from '../../projections/projector.js';
import type { ViewCache } from './view-cache.js';

/**
 * How far this instance's in-process layer has been invalidated, per cached
 * view's projection, and the way to take it further. The composition root
 * lets this instance see a projection's progress (read-your-writes waits,
 * the position its reads are stamped with) only once `reach` has resolved
 * for it, so a read that is entitled to a position never finds an entry from
 * before it in process.
 *
 * Batches of this instance's own projector were invalidated before they
 * committed (`applied`); those of another instance's are read from the view's
 * change query (`CachedView.changedAfter`) when their checkpoint is learnt.
 */
export class InstanceInvalidation {
  private readonly through = new Map<string, Cursor>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly views: Map<string, CachedView<IdentifiedView>>;

  constructor(
    private readonly db: SqlClient,
    private readonly cache: ViewCache,
    views: ReadonlyArray<CachedView<IdentifiedView>>,
    /** A change query failed (the projection's in-process entries were dropped instead). Must not throw. */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.views = new Map(views.map((v) => [v.projection, v]));
  }

  /** Where the layer stands at start, while it is empty: the projection's committed checkpoint. */
  start(projection: string, checkpoint: Cursor): void {
    this.through.set(projection, checkpoint);
  }

  /** This instance's projector committed a batch it had invalidated itself (ViewCache.committing). */
  applied(projection: string, changes: CommittedChanges): void {
    const through = this.through.get(projection);
    // Contiguous with what is invalidated already; after a gap (another instance's batches), `reach` reads it.
    if (through && compareCursors(changes.from, through) <= 0) {
      this.through.set(projection, maxCursor(through, changes.to));
    }
  }

  /**
   * Resolves once every change `projection` committed up to `checkpoint` has
   * left the in-process layer. Never rejects: when the changes cannot be
   * read, the projection's in-process entries are all dropped instead.
   */
  reach(projection: string, checkpoint: Cursor): Promise<void> {
    const view = this.views.get(projection);
    const through = this.through.get(projection);
    if (!view || !this.cache.enabled || !through || compareCursors(through, checkpoint) >= 0) return Promise.resolve();
    const next = (this.chains.get(projection) ?? Promise.resolve()).then(() => this.catchUp(view, checkpoint));
    this.chains.set(projection, next);
    return next;
  }

  private async catchUp(view: CachedView<IdentifiedView>, checkpoint: Cursor): Promise<void> {
    const through = this.through.get(view.projection)!;
    if (compareCursors(through, checkpoint) >= 0) return;
    try {
      const changes = await view.changedAfter(this.db, through);
      // A change past the checkpoint is invalidated with its own position (it may be newer than anything known).
      this.cache.invalidateLocal(view.projection, changes.map((c) => ({ id: c.id, floor: maxCursor(checkpoint, c.position) })));
    } catch (error) {
      this.onError(error);
      this.cache.flushLocal(view.projection);
    }
    this.through.set(view.projection, maxCursor(this.through.get(view.projection)!, checkpoint));
  }
}
