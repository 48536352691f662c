import type { SqlClient } from '../sql/client.js';
import type { StoredEvent } from '../eventlog/types.js';

/** A read-model transaction: what a projection writes through. */
export type ReadModelTx = SqlClient;

/**
 * A projection turns events into read-model rows. `apply` receives every event
 * of a batch in log order (including ones it does not care about) inside the
 * transaction that also moves its checkpoint. It must skip events it has
 * already applied, so replaying from zero rebuilds identical state.
 */
export interface Projection {
  readonly name: string;
  /** The read-model tables it owns, emptied on a rebuild from zero. */
  readonly tables: readonly string[];
  /**
   * Resolves with the ids of the views it changed in the projection's view
   * loaded by id (what caches of it must invalidate), if it has one.
   */
  apply(tx: ReadModelTx, events: readonly StoredEvent[]): Promise<ChangedIds | void>;
  /**
   * Whether `apply` would do anything with this event. A batch with none of
   * them only moves the checkpoint: one statement, no transaction. Without
   * it, every batch is applied in a transaction.
   */
  readonly handles?: (event: StoredEvent) => boolean;
}

/** The ids of the views a batch changed (each once or more). */
export type ChangedIds = readonly string[];
