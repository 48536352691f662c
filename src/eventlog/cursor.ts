/**
 * A place in the event log. The log is read in (transaction id, position)
 * order: `position` alone is a sequence, and sequences commit out of order, so
 * a reader that trusted `position > last` could skip an event whose
 * transaction committed late. Every event of a transaction that has committed
 * below the oldest still-running transaction has a final place in this order.
 *
 * Clients see a cursor as an opaque string.
 */
export interface Cursor {
  readonly tx: bigint;
  readonly pos: bigint;
}

export const LOG_START: Cursor = { tx: 0n, pos: 0n };

const FORMAT = /^(\d{1,20}):(\d{1,20})$/;

export function formatCursor(cursor: Cursor): string {
  return `${cursor.tx}:${cursor.pos}`;
}

/** Parses an opaque cursor string; returns null when it is not one. */
export function parseCursor(text: string): Cursor | null {
  const match = FORMAT.exec(text);
  return match ? { tx: BigInt(match[1]!), pos: BigInt(match[2]!) } : null;
}

export function compareCursors(a: Cursor, b: Cursor): number {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  if (a.pos !== b.pos) return a.pos < b.pos ? -1 : 1;
  return 0;
}

export function maxCursor(a: Cursor, b: Cursor): Cursor {
  return compareCursors(a, b) >= 0 ? a : b;
}

/** A cursor from a row that selected its parts as text (`tx::text`, `pos::text`). */
export function cursorOf(row: { readonly tx: string; readonly pos: string }): Cursor {
  return { tx: BigInt(row.tx), pos: BigInt(row.pos) };
}
