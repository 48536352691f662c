import type { DomainEvent } from './messages.js';

/**
 * An operator's request to apply a projection's dead letters of one aggregate
 * again (RETRY) or to drop its failed event and apply the rest (SKIP).
 *
 * It is recorded in the event log, as a stream of its own, rather than only
 * flagged on the dead letters: the projector then carries it out where it
 * meets the request in the log, and the views it changes get the request's
 * position. Live change feeds, `since` replays and read-your-writes all rely
 * on positions growing in commit order, and a view changed by a redrive at
 * its failed event's old position would sort behind what they have passed.
 */
export type RedriveRequested = DomainEvent<
  'RedriveRequested',
  { projection: string; aggregateType: string; aggregateId: string; action: 'RETRY' | 'SKIP' }
>;
export type RedriveEvent = RedriveRequested;
