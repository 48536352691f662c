import { VersionConflictError } from '../domain/errors.js';
import type { AnyDomainEvent } from '../domain/events.js';
import { ConcurrencyError, type AggregateStore, type Appended, type EventMetadata } from './ports.js';

export interface HandleOptions {
  /** When given, the command is refused with VERSION_CONFLICT unless it matches. */
  readonly expectedVersion?: number | null;
  readonly metadata: EventMetadata;
  readonly now: () => Date;
  /** How often to re-decide after losing a race (only without expectedVersion). */
  readonly maxRetries?: number;
  /**
   * The id was just generated for a new aggregate: skip the load (it cannot
   * exist) on the first attempt. A collision still surfaces as a lost race.
   */
  readonly isNew?: boolean;
}

/**
 * The one generic command handler: load, decide, append with the expected
 * version; on a lost race, retry from a fresh load (unless the client pinned a
 * version, in which case the conflict is the answer).
 *
 * `decide` receives the current state (null when the aggregate does not exist)
 * and returns the events plus the state after them.
 */
export async function handleCommand<S, E extends AnyDomainEvent>(
  store: AggregateStore<S, E>,
  id: string,
  decide: (state: S | null) => { events: E[]; state: S },
  options: HandleOptions,
): Promise<Appended> {
  const maxRetries = options.maxRetries ?? 5;
  for (let attempt = 0; ; attempt++) {
    const loaded = options.isNew && attempt === 0 ? null : await store.load(id);
    const version = loaded?.version ?? 0;
    const expected = options.expectedVersion;
    // Existence is checked first (decide throws NOT_FOUND on a null state),
    // then the pinned version, then the domain rules.
    if (loaded && expected != null && expected !== version) {
      throw new VersionConflictError(expected, version);
    }
    const { events, state } = decide(loaded?.state ?? null);
    try {
      return await store.save({
        id,
        expectedVersion: version,
        state,
        events,
        metadata: options.metadata,
        now: options.now(),
      });
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      if (expected != null || attempt >= maxRetries) {
        const current = await store.load(id);
        throw new VersionConflictError(expected ?? version, current?.version ?? 0);
      }
    }
  }
}
