import { DomainError, VersionConflictError } from '../domain/errors.js';
import type { AnyDomainEvent } from '../domain/events.js';
import { ATTR, activeContext, errorTypeOf, inSpan, type Context } from '../observability/tracing.js';
import { DatabaseUnavailableError } from '../sql/client.js';
import {
  ConcurrencyError,
  type AggregateStore,
  type Appended,
  type EventMetadata,
  type IdempotencyRecord,
} from './ports.js';

/**
 * The code a caller sees for a command's failure (metrics and traces label it
 * so); for a step's failure that the handler deals with itself (a lost race), the error's type.
 */
export function outcomeOf(error: unknown): string {
  if (error instanceof DomainError) return error.code;
  if (error instanceof DatabaseUnavailableError) return 'SERVICE_UNAVAILABLE';
  if (error instanceof ConcurrencyError) return errorTypeOf(error);
  return 'INTERNAL_SERVER_ERROR';
}

/** How often, and how patiently, a load or save is retried after a transient fault. */
export interface FaultRetryPolicy {
  readonly retries: number;
  /** First delay; each retry doubles it (with ±50 % jitter). */
  readonly baseDelayMs: number;
}

/** About 0.35 s in all: a database that is down fails a command fast. */
export const DEFAULT_FAULT_RETRIES: FaultRetryPolicy = { retries: 3, baseDelayMs: 50 };

/** Loads change nothing: any fault of the moment may be retried. */
const anyFault = () => true;
/** A save may be retried only when nothing was done; one whose outcome is unknown is the caller's to retry (with its key). */
const nothingDone = (error: DatabaseUnavailableError) => error.fault === 'retryable';

/**
 * Runs `step`, retrying it with exponential backoff while the database
 * reports a fault of the moment that `retryable` accepts. Gives up with the
 * fault (SERVICE_UNAVAILABLE) after `policy.retries`, or at once for a fault
 * it does not accept.
 */
async function retryingFaults<T>(
  step: () => Promise<T>,
  retryable: (error: DatabaseUnavailableError) => boolean,
  policy: FaultRetryPolicy,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof DatabaseUnavailableError) || !retryable(error) || attempt >= policy.retries) throw error;
      const delay = policy.baseDelayMs * 2 ** attempt * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

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
  /**
   * Whether the caller may know this aggregate exists. When false, it is
   * treated as missing (decide sees null: NOT_FOUND) before the pinned version
   * is compared — a VERSION_CONFLICT would reveal that it exists.
   */
  readonly visible?: (state: unknown) => boolean;
  /** The command's idempotency key, saved with its events. */
  readonly idempotency?: IdempotencyRecord;
  /** Retries after transient store faults (default DEFAULT_FAULT_RETRIES). */
  readonly faultRetries?: FaultRetryPolicy;
  /** The command's span: load, decide and save are its children (default: the active context). */
  readonly traceContext?: Context;
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
  const faults = options.faultRetries ?? DEFAULT_FAULT_RETRIES;
  const parent = options.traceContext ?? activeContext();
  for (let attempt = 0; ; attempt++) {
    const step = { attributes: { [ATTR.commandAttempt]: attempt + 1 } };
    const found =
      options.isNew && attempt === 0
        ? null
        : await inSpan('command.load', step, parent, outcomeOf, async (span) => {
            const found = await retryingFaults(() => store.load(id), anyFault, faults);
            span.setAttribute(ATTR.aggregateVersion, found?.version ?? 0);
            return found;
          });
    const loaded = found && (options.visible?.(found.state) ?? true) ? found : null;
    const version = loaded?.version ?? 0;
    const expected = options.expectedVersion;
    // Existence is checked first (decide throws NOT_FOUND on a null state),
    // then the pinned version, then the domain rules.
    if (loaded && expected != null && expected !== version) {
      throw new VersionConflictError(expected, version);
    }
    const { events, state } = inSpan('command.decide', step, parent, outcomeOf, (span) => {
      const decided = decide(loaded?.state ?? null);
      span.setAttribute(ATTR.eventCount, decided.events.length);
      return decided;
    });
    try {
      const request = {
        id,
        expectedVersion: version,
        state,
        events,
        metadata: options.metadata,
        now: options.now(),
        idempotency: options.idempotency,
      };
      // A save that failed without effect is simply sent again: if someone
      // else committed meanwhile, it loses the race below like any other.
      const save = { attributes: { ...step.attributes, [ATTR.aggregateVersion]: version, [ATTR.eventCount]: events.length } };
      return await inSpan('command.save', save, parent, outcomeOf, () => retryingFaults(() => store.save(request), nothingDone, faults));
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      if (expected != null || attempt >= maxRetries) {
        const current = await store.load(id);
        throw new VersionConflictError(expected ?? version, current?.version ?? 0);
      }
    }
  }
}
