/**
 * The in-process layer's rules (src/read-models/cache/memory-layer.ts), with
 * no database: an entry is only ever replaced by newer content, a fill that an
 * invalidation overtook is refused, and neither an eviction nor a flush lets
 * an older state back in.
 */
import { describe, expect, it } from 'vitest';
import type { Cursor } from '../../src/eventlog/cursor.js';
import { MemoryLayer, type CacheEntry } from '../../src/read-models/cache/memory-layer.js';
import { bucketOf } from '../../src/read-models/cache/position.js';
import { ids, sameBucket } from './support.js';

const at = (pos: number): Cursor => ({ tx: 7n, pos: BigInt(pos) });

/** A view of `id` last changed at `position`, read by a reader that knew the checkpoint `stamp`. */
function read(id: string, position: number, stamp: number, bytes = 100) {
  const entry: CacheEntry<{ id: string; name: string }> = { view: { id, name: `as of ${position}` }, position: at(position), stamp: at(stamp) };
  return { id, entry, bytes };
}

const viewOf = (layer: MemoryLayer, id: string) => (layer.get('users', [id]).get(id)?.view as { name: string } | null | undefined)?.name;

describe('the in-process cache layer', () => {
  const [a, b, c] = ids(3);

  it('answers what was filled, and nothing for an id it was not given', () => {
    const layer = new MemoryLayer();
    expect(layer.fill('users', [read(a!, 5, 5)], layer.generation)).toBe(0);
    expect(viewOf(layer, a!)).toBe('as of 5');
    expect(layer.get('users', [b!]).size).toBe(0);
    // Views are keyed by projection too.
    expect(layer.get('orders', [a!]).size).toBe(0);
  });

  it('remembers that a view does not exist, until the view is invalidated', () => {
    const layer = new MemoryLayer();
    layer.fill('users', [{ id: a!, entry: { view: null, position: at(0), stamp: at(5) }, bytes: 0 }], layer.generation);
    expect(layer.get('users', [a!]).get(a!)).toMatchObject({ view: null });
    expect(layer.invalidate('users', [{ id: a!, floor: at(6) }])).toBe(1);
    expect(layer.get('users', [a!]).size).toBe(0);
    expect(layer.fill('users', [read(a!, 6, 6)], layer.generation)).toBe(0);
    expect(viewOf(layer, a!)).toBe('as of 6');
  });

  it('refuses a fill read before a commit and stored after its invalidation', () => {
    const layer = new MemoryLayer();
    // A reader knows checkpoint 10 and reads the view as it was at 5 …
    const late = read(a!, 5, 10);
    const generation = layer.generation;
    // … the batch that changes it to 12 commits and invalidates it …
    layer.invalidate('users', [{ id: a!, floor: at(12) }]);
    // … and then the reader stores what it read: refused.
    expect(layer.fill('users', [late], generation)).toBe(1);
    expect(layer.get('users', [a!]).size).toBe(0);
    // A reader that began once 12 was known stores its read.
    expect(layer.fill('users', [read(a!, 12, 12)], layer.generation)).toBe(0);
    expect(viewOf(layer, a!)).toBe('as of 12');
  });

  it('keeps an entry that already reflects an invalidation it receives late', () => {
    const layer = new MemoryLayer();
    // Read once the change at 12 was known (a read-your-writes payload) …
    layer.fill('users', [read(a!, 12, 12)], layer.generation);
    // … before the subscription feed got to that change.
    expect(layer.invalidate('users', [{ id: a!, floor: at(12) }])).toBe(0);
    expect(viewOf(layer, a!)).toBe('as of 12');
    expect(layer.invalidate('users', [{ id: a!, floor: at(13) }])).toBe(1);
  });

  it('takes a fill whose content is at least as new as the floor, whatever its stamp', () => {
    const layer = new MemoryLayer();
    layer.invalidate('users', [{ id: a!, floor: at(12) }]);
    // Read after the commit by a reader that had not heard of it yet.
    expect(layer.fill('users', [read(a!, 12, 10)], layer.generation)).toBe(0);
    expect(viewOf(layer, a!)).toBe('as of 12');
  });

  it('replaces an entry only with newer content, never with older, whatever the stamps say', () => {
    const layer = new MemoryLayer();
    layer.fill('users', [read(a!, 12, 12)], layer.generation);
    // Older content from a reader that knew a later checkpoint (it read before the change reached it).
    expect(layer.fill('users', [read(a!, 5, 20)], layer.generation)).toBe(1);
    // The same content again.
    expect(layer.fill('users', [read(a!, 12, 30)], layer.generation)).toBe(1);
    expect(viewOf(layer, a!)).toBe('as of 12');
    expect(layer.fill('users', [read(a!, 15, 15)], layer.generation)).toBe(0);
    expect(viewOf(layer, a!)).toBe('as of 15');
  });

  it('raises the floor of an entry it evicts: an older fill of that id cannot take its place', () => {
    const layer = new MemoryLayer({ maxEntries: 2 });
    layer.fill('users', [read(a!, 12, 12)], layer.generation);
    // A reader that began before 12 was known, and read before it was committed.
    const late = read(a!, 5, 10);
    layer.fill('users', [read(b!, 3, 12), read(c!, 3, 12)], layer.generation);
    expect(layer.get('users', [a!]).size).toBe(0); // evicted, least recently used
    expect(layer.fill('users', [late], layer.generation)).toBe(1);
    expect(layer.fill('users', [read(a!, 12, 12)], layer.generation)).toBe(0);
    expect(viewOf(layer, a!)).toBe('as of 12');
  });

  it('drops a view on a flush, keeps the others, and refuses fills from reads begun before it', () => {
    const layer = new MemoryLayer();
    layer.fill('users', [read(a!, 5, 5)], layer.generation);
    layer.fill('orders', [read(a!, 5, 5)], layer.generation);
    const before = layer.generation;
    expect(layer.flush('users')).toBe(1);
    expect(layer.get('users', [a!]).size).toBe(0);
    expect(layer.get('orders', [a!]).size).toBe(1);
    expect(layer.fill('users', [read(b!, 5, 5)], before)).toBe(1);
    expect(layer.fill('users', [read(b!, 5, 5)], layer.generation)).toBe(0);
    expect(layer.flush()).toBe(2);
    expect(layer.entries).toBe(0);
  });

  it('is bounded by entries and by bytes', () => {
    const byCount = new MemoryLayer({ maxEntries: 2 });
    byCount.fill('users', ids(5).map((id) => read(id, 1, 1)), byCount.generation);
    expect(byCount.entries).toBe(2);
    const bySize = new MemoryLayer({ maxBytes: 1000 });
    bySize.fill('users', ids(5).map((id) => read(id, 1, 1, 400)), bySize.generation);
    expect(bySize.entries).toBe(2);
    expect(bySize.bytes).toBe(800);
  });

  it('keeps a floor per bucket of ids: an invalidation refuses racing fills of its bucket only', () => {
    const layer = new MemoryLayer();
    const [x, y] = sameBucket(2);
    const other = ids(50).find((id) => bucketOf(id) !== bucketOf(x!))!;
    layer.invalidate('users', [{ id: x!, floor: at(12) }]);
    expect(layer.fill('users', [read(y!, 5, 10)], layer.generation)).toBe(1);
    expect(layer.fill('users', [read(other, 5, 10)], layer.generation)).toBe(0);
  });
});
