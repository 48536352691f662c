import { AuthenticationError, ForbiddenError } from './errors.js';

/**
 * Who is asking. Built by the API from a verified token (or its absence);
 * the domain and the handlers only ever see this.
 */
export type Actor =
  | { readonly role: 'anonymous' }
  | { readonly role: 'customer'; readonly userId: string }
  | { readonly role: 'admin'; readonly userId: string };

export type AuthenticatedActor = Exclude<Actor, { role: 'anonymous' }>;

export const ANONYMOUS: Actor = Object.freeze({ role: 'anonymous' });

/** Anyone with a valid token; anonymous callers get UNAUTHENTICATED. */
export function requireAuthenticated(actor: Actor): AuthenticatedActor {
  if (actor.role === 'anonymous') throw new AuthenticationError();
  return actor;
}

/** Staff only: anonymous → UNAUTHENTICATED, customers → FORBIDDEN. */
export function requireAdmin(actor: Actor): AuthenticatedActor {
  const authenticated = requireAuthenticated(actor);
  if (authenticated.role !== 'admin') throw new ForbiddenError();
  return authenticated;
}

/**
 * The user themself or staff. The refusal is the same whether or not that
 * user exists, so it reveals nothing.
 */
export function requireSelfOrAdmin(actor: Actor, userId: string): AuthenticatedActor {
  const authenticated = requireAuthenticated(actor);
  if (authenticated.role === 'customer' && authenticated.userId !== userId) throw new ForbiddenError();
  return authenticated;
}

/** Whether the actor may see an order (or anything else) owned by `ownerId`. */
export function canSeeOwnedBy(actor: Actor, ownerId: string): boolean {
  return actor.role === 'admin' || (actor.role === 'customer' && actor.userId === ownerId);
}

/**
 * Which user's orders a listing may show. Staff: the filter as given (all
 * users when absent). Customers: always their own; asking for someone
 * else's is FORBIDDEN rather than an empty list.
 */
export function orderOwnerScope(actor: Actor, requestedUserId: string | null | undefined): string | undefined {
  const authenticated = requireAuthenticated(actor);
  if (authenticated.role === 'admin') return requestedUserId ?? undefined;
  if (requestedUserId != null && requestedUserId !== authenticated.userId) throw new ForbiddenError();
  return authenticated.userId;
}
