import type { StoredEvent } from '../eventlog/types.js';

/** A read-model row that remembers the aggregate version it reflects. */
export interface Versioned {
  readonly version: number;
}

/**
 * The thin applier shared by projections: for each event of interest, in log
 * order, take the current view (from `views`, preloaded), skip the event if the
 * view already reflects its aggregate version, else evolve. Returns the ids of
 * the views that changed; `views` holds their new state.
 */
export function evolveAll<V extends Versioned, E extends StoredEvent>(
  views: Map<string, V>,
  events: readonly E[],
  keyOf: (event: E) => string,
  evolve: (view: V | null, event: E) => V,
): Set<string> {
  const changed = new Set<string>();
  for (const event of events) {
    const key = keyOf(event);
    const view = views.get(key) ?? null;
    if (view && view.version >= event.aggregateVersion) continue; // already applied
    views.set(key, evolve(view, event));
    changed.add(key);
  }
  return changed;
}

export function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}
