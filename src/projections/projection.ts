import type { SqlClient } from '../sql/client.js';
import type { StoredEvent } from '../eventlog/types.js';
import type { Write } from '../sql/one-statement.js';

/** A read-model transaction: what a projection writes through. */
export type ReadModelTx = SqlClient;

/**
 * A projection turns events into read-model rows. `apply` receives every event
 * of a batch in log order (including ones it does not care about) inside the
 * transaction that also moves its checkpoint. It reads what it needs through
 * `tx` and returns its writes: the projector sends them and the checkpoint's
 * move as ONE statement (see `oneStatement` for what the parts may not do).
 * It must skip events it has already applied, so replaying from zero
 * rebuilds identical state.
 */
export interface Projection {
  readonly name: string;
  /** The read-model tables it owns, emptied on a rebuild from zero. */
  readonly tables: readonly string[];
  /** Resolves with the batch's writes and the views they change; nothing when the batch changes nothing. */
  apply(tx: ReadModelTx, events: readonly StoredEvent[]): Promise<AppliedBatch | void>;
  /**
   * Whether `apply` would do anything with this event. A batch with none of
   * them only moves the checkpoint: one statement, no transaction. Without
   * it, every batch is applied in a transaction.
   */
  readonly handles?: (event: StoredEvent) => boolean;
}

/** What a projection made of a batch (see Projection.apply). */
export interface AppliedBatch {
  /**
   * The ids of the views it changed in the projection's view loaded by id
   * (what caches of it must invalidate), if it has one; also those changed
   * by statements it ran itself.
   */
  readonly changed: ChangedIds;
  /** Sent by the projector in one statement with the checkpoint's move, after anything `apply` ran itself. */
  readonly writes: readonly Write[];
}

/** The ids of the views a batch changed (each once or more). */
export type ChangedIds = readonly string[];
