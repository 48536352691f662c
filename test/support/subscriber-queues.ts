import type { App } from '../../src/app.js';

/** The server-side queue of each open `ordersChanged` subscriber (white box: memory held per subscriber). */
function pendingPerSubscriber(app: App): number[] {
  const feed = (app.subscriptions as unknown as { orders: { all: Set<{ iterator: { pending: unknown[] } }> } }).orders;
  return [...feed.all].map((s) => s.iterator.pending.length);
}

/** Samples the longest per-subscriber queue until stopped. */
export function watchQueues(app: App) {
  let max = 0;
  const timer = setInterval(() => {
    for (const n of pendingPerSubscriber(app)) max = Math.max(max, n);
  }, 2);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

/** Waits (bounded) until the server has between `atLeast` and `atMost` subscriptions open. */
export async function openSubscriptions(app: App, atLeast: number, atMost = Infinity, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const size = app.subscriptions.size;
    if (size >= atLeast && size <= atMost) return;
    if (performance.now() > deadline) throw new Error(`expected ${atLeast}..${atMost} open subscriptions, have ${size}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
