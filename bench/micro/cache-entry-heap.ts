/**
 * Micro-benchmark: what one entry of the in-process cache costs, counted (the
 * view's JSON size, what CACHE_MAX_BYTES bounds) and in V8's heap (measured
 * after full GCs around N fills). Views are shaped like the bench's: an order
 * of 3 lines with its customer's name, a user profile.
 *
 *   node --expose-gc --import tsx bench/micro/cache-entry-heap.ts [entries=50000]
 */
import { randomUUID } from 'node:crypto';
import type { CachedView, IdentifiedView } from '../../src/read-models/cache/cached-view.js';
import { MemoryLayer } from '../../src/read-models/cache/memory-layer.js';
import type { OrderView } from '../../src/read-models/orders/view.js';
import type { UserView } from '../../src/read-models/users/view.js';
import { ORDER_VIEWS } from '../../src/read-models/orders/cached.js';
import { USER_VIEWS } from '../../src/read-models/users/cached.js';

const N = Number(process.argv[2] ?? 50_000);
/** Layers measured so far stay reachable, so that freeing one does not count against the next. */
const keep: MemoryLayer[] = [];

const order = (i: number): OrderView => ({
  id: randomUUID(), userId: randomUUID(), userName: `Bench User ${i}`, userEmail: `user${i}@bench.example`,
  items: [0, 1, 2].map((k) => ({ productId: randomUUID(), productName: `Bench Product ${k}`, quantity: k + 1, price: '12.34', subtotal: '24.68' })),
  itemCount: 3, total: '98.76', status: 'PENDING', cancellationReason: null, cancelledBy: null, version: 1,
  lastTx: 123456n, lastPos: BigInt(i), createdAt: new Date(), updatedAt: new Date(),
});
const user = (i: number): UserView => ({
  id: randomUUID(), name: `Bench User ${i}`, email: `user${i}@bench.example`, version: 1, orderCount: 40, totalSpent: '1234.56',
  lastTx: 123456n, lastPos: BigInt(i), createdAt: new Date(), updatedAt: new Date(),
});

function measure<V extends IdentifiedView>(name: string, make: (i: number) => V, view: CachedView<V>): void {
  global.gc!();
  const before = process.memoryUsage().heapUsed;
  const layer = new MemoryLayer({ maxEntries: N + 1, maxBytes: Number.MAX_SAFE_INTEGER });
  for (let i = 0; i < N; i++) {
    // As a fill from the database: a fresh row, its JSON size counted.
    const v = make(i);
    const entry = { view: v, position: { tx: v.lastTx, pos: v.lastPos }, stamp: { tx: 1n, pos: 1n } };
    layer.fill(name, [{ id: v.id, entry, bytes: view.encode(v).length }], layer.generation);
  }
  keep.push(layer);
  global.gc!();
  const after = process.memoryUsage().heapUsed;
  console.log(`${name}: ${(layer.bytes / N).toFixed(0)} bytes counted, ${((after - before) / N).toFixed(0)} bytes of heap per entry`);
}

measure('orders', order, ORDER_VIEWS);
measure('users', user, USER_VIEWS);
