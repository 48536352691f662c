import { compareCursors, formatCursor, type Cursor } from '../eventlog/cursor.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { StoredEvent } from '../eventlog/types.js';
import type { Projector } from './projector.js';

export interface ReplayOptions {
  /** Events per batch: read once, applied by every projector in one transaction each. */
  readonly batchSize: number;
  /** After each batch all projectors applied: how many events each has consumed so far. Must not throw. */
  readonly onProgress?: (consumed: number) => void;
}

/**
 * Replays the log into several projectors reading it ONCE: each batch is read
 * (the next one while the projectors apply the current one) and handed to
 * every projector (`Projector.applyRead`), which applies it in its own
 * transaction, concurrently with the others. The next batch goes out when all
 * of them have applied this one, so at most two batches are held in memory.
 * (Letting the faster projectors run a few batches ahead gained nothing
 * measurable: the slowest projection sets the pace either way.)
 *
 * Every projector must stand at the same checkpoint (a rebuild has reset them
 * all) and be run by nothing else meanwhile. Stops after the first batch
 * shorter than `batchSize`, as `catchUp` does; resolves with the number of
 * events each projector consumed. A batch a projector fails to apply fails
 * the replay, once every projector's attempt at it has settled; what was
 * committed before stays (each projector's checkpoint says how far it got).
 */
export async function replayTogether(reader: EventLogReader, projectors: readonly Projector[], options: ReplayOptions): Promise<number> {
  const { batchSize, onProgress } = options;
  let from = await sharedPosition(projectors);
  let consumed = 0;
  let next = reader.readAfter(from, batchSize);
  for (;;) {
    const events = await next;
    if (events.length === 0) return consumed;
    const more = events.length === batchSize;
    const last = events[events.length - 1]!.cursor;
    if (more) {
      next = reader.readAfter(last, batchSize);
      // Awaited in the next round; until then, a failed read must not count as unhandled.
      next.catch(() => undefined);
    }
    await allApply(projectors, from, events);
    consumed += events.length;
    from = last;
    onProgress?.(consumed);
    if (!more) return consumed;
  }
}

/** Every projector applies `events`; rejects with the first failure once all have settled. */
async function allApply(projectors: readonly Projector[], from: Cursor, events: readonly StoredEvent[]): Promise<void> {
  const applied = await Promise.allSettled(projectors.map((p) => p.applyRead(from, events)));
  const failed = applied.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function sharedPosition(projectors: readonly Projector[]): Promise<Cursor> {
  if (projectors.length === 0) throw new Error('replayTogether: no projectors were given; give it at least one');
  const positions = await Promise.all(projectors.map((p) => p.currentPosition()));
  const first = positions[0]!;
  const apart = positions.findIndex((c) => compareCursors(c, first) !== 0);
  if (apart >= 0) {
    throw new Error(
      `replayTogether: every projector must stand at the same checkpoint; ${projectors[0]!.name} stands at ` +
        `${formatCursor(first)}, ${projectors[apart]!.name} at ${formatCursor(positions[apart]!)}`,
    );
  }
  return first;
}
