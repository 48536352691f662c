import type { Cursor } from '../../eventlog/cursor.js';
import type { SqlClient } from '../../sql/client.js';
import type { Table, ViewOf } from '../../sql/table.js';

/** A view that is loaded by id: it says where it was last changed. */
export interface IdentifiedView {
  readonly id: string;
  readonly lastTx: bigint;
  readonly lastPos: bigint;
}

/** An id whose view changed, and the position of its last change. */
export interface ViewChange {
  readonly id: string;
  readonly position: Cursor;
}

/**
 * A read model's view as the cache serves it (src/read-models/cache): one per
 * read model that has views loaded by id, declared in its folder.
 */
export interface CachedView<V extends IdentifiedView> {
  /** The projection that writes the view: its name keys the cache, its checkpoint stamps the entries. */
  readonly projection: string;
  /** The views of these ids (missing ones are left out): what a miss reads. */
  byIds(db: SqlClient, ids: readonly string[]): Promise<V[]>;
  /**
   * The views changed after `after` (by any instance's projector), each once
   * with its last change: what an instance invalidates when another one's
   * projector has committed.
   */
  changedAfter(db: SqlClient, after: Cursor): Promise<ViewChange[]>;
  /** The view as text (Redis), and back. */
  encode(view: V): string;
  decode(text: string): V;
}

/** A cached view over a table: entries travel as the table's JSON records. */
export function cachedView<T extends Table<any>>(
  table: T,
  parts: Pick<CachedView<ViewOf<T['columns']> & IdentifiedView>, 'projection' | 'byIds' | 'changedAfter'>,
): CachedView<ViewOf<T['columns']> & IdentifiedView> {
  return {
    ...parts,
    encode: (view) => JSON.stringify(table.toRecord(view)),
    decode: (text) => table.fromRecord(JSON.parse(text) as Record<string, unknown>) as ViewOf<T['columns']> & IdentifiedView,
  };
}

/** The latest change of each id among `changes` (rows of a change history, or of a view table). */
export function latestPerId(rows: ReadonlyArray<{ id: string; tx: string; pos: string }>): ViewChange[] {
  const latest = new Map<string, Cursor>();
  for (const row of rows) {
    const position = { tx: BigInt(row.tx), pos: BigInt(row.pos) };
    const seen = latest.get(row.id);
    if (!seen || seen.tx < position.tx || (seen.tx === position.tx && seen.pos < position.pos)) latest.set(row.id, position);
  }
  return [...latest].map(([id, position]) => ({ id, position }));
}
