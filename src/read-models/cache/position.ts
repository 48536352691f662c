import { compareCursors, LOG_START, type Cursor } from '../../eventlog/cursor.js';

/*
 * How cache entries are ordered and refused. Every position is a log cursor
 * (the order projections apply events in), so positions of all views and
 * checkpoints compare with one another.
 *
 * An entry carries two positions: `position`, the cursor of the last change
 * of the view it holds (LOG_START for "no such view"), which orders two
 * entries of one id by their content; and `stamp`, the checkpoint of the
 * view's projection that the reader knew to be committed before it read,
 * so the entry reflects every change up to it.
 *
 * An invalidation removes an id's entry and raises the floor of the id's
 * bucket to the invalidated position. A fill into an empty slot is taken
 * only when the entry is known to be at least as new as the floor (its stamp
 * or its position reaches it): a reader that read before a commit and stores
 * after its invalidation is refused. Floors are per bucket of ids (a bounded
 * amount of state), so a fill may be refused for another id's change in its
 * bucket: a miss, never a stale entry.
 */

/** How many floors each view has. */
export const BUCKETS = 1024;

/** The bucket of an id (FNV-1a). */
export function bucketOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % BUCKETS;
}

export interface Positioned {
  /** The cursor of the view's last change; LOG_START when there is no such view. */
  readonly position: Cursor;
  /** Every change up to this checkpoint is reflected. */
  readonly stamp: Cursor;
}

/** The newest position the entry is known to reflect. */
export function reflected(entry: Positioned): Cursor {
  return compareCursors(entry.stamp, entry.position) >= 0 ? entry.stamp : entry.position;
}

/** Whether the entry reflects everything up to `cursor`. */
export const reflects = (entry: Positioned, cursor: Cursor) => compareCursors(reflected(entry), cursor) >= 0;

/** A view's own position (its last change). */
export function positionOf(view: { readonly lastTx: bigint; readonly lastPos: bigint } | null): Cursor {
  return view ? { tx: view.lastTx, pos: view.lastPos } : LOG_START;
}

const DIGITS = 20;

/**
 * A cursor as a fixed-width string (20 digits each part) whose string order
 * is the cursor order: what Redis stores and its scripts compare.
 */
export function positionKey(cursor: Cursor): string {
  return cursor.tx.toString().padStart(DIGITS, '0') + cursor.pos.toString().padStart(DIGITS, '0');
}

export const POSITION_KEY_LENGTH = 2 * DIGITS;

export function fromPositionKey(key: string): Cursor {
  return { tx: BigInt(key.slice(0, DIGITS)), pos: BigInt(key.slice(DIGITS, POSITION_KEY_LENGTH)) };
}
