import { orderOwnerScope, requireAuthenticated, requireSelfOrAdmin, type Actor } from '../../domain/access.js';
import { ValidationError } from '../../domain/errors.js';
import { isId } from '../../domain/ids.js';
import { parseCursor, type Cursor } from '../../eventlog/cursor.js';
import type { SubscriptionResolvers } from '../../generated/graphql.js';
import type { Change } from '../../read-models/change-key.js';
import type { OrderView } from '../../read-models/orders/view.js';
import type { UserView } from '../../read-models/users/view.js';

/**
 * Checks a subscription's arguments before it starts, so that bad ones are
 * answered with a protocol `error` message (see the WebSocket adapter).
 */
export function checkSubscriptionArgs(args: Record<string, unknown>): void {
  for (const name of ['orderId', 'userId'] as const) {
    const value = args[name];
    if (typeof value === 'string' && !isId(value)) throw new ValidationError(name, `expected an id, got "${value}"`);
  }
  const filter = args.filter as { userId?: unknown } | null | undefined;
  if (typeof filter?.userId === 'string' && !isId(filter.userId)) {
    throw new ValidationError('filter.userId', `expected an id, got "${filter.userId}"`);
  }
  if (typeof args.since === 'string') sinceCursor(args.since);
}

/**
 * Who may subscribe to what — the queries' rules: any signed-in user may
 * follow an order, but a customer only ever receives their own (someone
 * else's looks like one that does not exist yet); `ordersChanged` is
 * restricted to the customer's orders (a filter for another user is
 * FORBIDDEN); profiles are for their owner. Checked before a subscription
 * starts and again by the resolvers.
 */
export function authorizeSubscription(field: string, args: Record<string, unknown>, actor: Actor): void {
  switch (field) {
    case 'ordersChanged':
      orderOwnerScope(actor, (args.filter as { userId?: string | null } | null | undefined)?.userId);
      return;
    case 'userProfileChanged':
      requireSelfOrAdmin(actor, String(args.userId));
      return;
    default:
      requireAuthenticated(actor);
  }
}

function sinceCursor(since: string): Cursor {
  const cursor = parseCursor(since);
  if (!cursor) throw new ValidationError('since', `expected a position as returned by the API (e.g. "812:40"), got "${since}"`);
  return cursor;
}

/** Subscriptions read only from read models, through the hub: each event is a change, its view the field's value. */
export const Subscription: SubscriptionResolvers = {
  orderStatusChanged: {
    subscribe: (_, { orderId }, { subscriptions, actor }) => {
      checkSubscriptionArgs({ orderId });
      const viewer = requireAuthenticated(actor);
      return subscriptions.orderStatus(orderId, viewer.role === 'customer' ? viewer.userId : undefined);
    },
    resolve: (change: Change<OrderView>) => change.view,
  },
  ordersChanged: {
    subscribe: (_, { filter, since }, { subscriptions, actor }) => {
      const userId = orderOwnerScope(actor, filter?.userId);
      checkSubscriptionArgs({ filter, since });
      return subscriptions.ordersChanged(
        { userId, status: filter?.status },
        since == null ? undefined : sinceCursor(since),
      );
    },
    resolve: (change: Change<OrderView>) => change.view,
  },
  userProfileChanged: {
    subscribe: (_, { userId }, { subscriptions, actor }) => {
      requireSelfOrAdmin(actor, userId);
      checkSubscriptionArgs({ userId });
      return subscriptions.userProfile(userId);
    },
    resolve: (change: Change<UserView>) => change.view,
  },
};
