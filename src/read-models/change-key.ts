import type { TraceCarrier } from '../eventlog/types.js';

/**
 * Where a change sits in a view's change history: the log cursor of the event
 * that caused it, plus the view's id (one event, e.g. a customer's rename,
 * changes many order views at the same cursor).
 */
export interface ChangeKey {
  readonly tx: bigint;
  readonly pos: bigint;
  readonly id: string;
}

export interface Change<V> {
  readonly key: ChangeKey;
  readonly view: V;
  /** The trace context of the command whose event caused it, when that command was traced. */
  readonly trace?: TraceCarrier | null;
}

export function compareKeys(a: ChangeKey, b: ChangeKey): number {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  if (a.pos !== b.pos) return a.pos < b.pos ? -1 : 1;
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/** After every change at this cursor, whatever its id. */
export const LAST_ID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
export const FIRST_KEY: ChangeKey = { tx: 0n, pos: 0n, id: '' };
