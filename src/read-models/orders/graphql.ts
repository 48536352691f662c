import { canSeeOwnedBy, orderOwnerScope, requireAuthenticated } from '../../domain/access.js';
import { isId } from '../../domain/ids.js';
import { formatCursor } from '../../eventlog/cursor.js';
import type { Resolvers } from '../../generated/graphql.js';
import { checkPage, connectionFields, connectionWindow, emptyConnection, pageFields, toConnection, viewsInOrder } from '../../graphql/pages.js';
import { countOrders, listOrderIds, listOrders, ordersWindow } from './queries.js';
import { statusDisplay } from './view.js';

/**
 * The order fields of the API, `User.ordersConnection` among them. A
 * customer sees their own orders only: someone else's is `null`, exactly
 * like a missing one (src/domain/access.ts).
 */
export const ordersResolvers: Resolvers = {
  Query: {
    async order(_, { id }, { loaders, actor }) {
      requireAuthenticated(actor);
      const order = isId(id) ? await loaders.order.load(id) : null;
      return order && canSeeOwnedBy(actor, order.userId) ? order : null;
    },
    async orders(_, { filter, page, pageSize }, { read, loaders, actor }) {
      const userId = orderOwnerScope(actor, filter?.userId);
      checkPage(page, pageSize);
      if (userId != null && !isId(userId)) return { items: [], total: 0, page, pageSize };
      if (filter?.status != null) return { ...(await listOrders(read.db, { userId, status: filter.status }, page, pageSize)), page, pageSize };
      const { ids, total } = await listOrderIds(read.db, { userId }, page, pageSize);
      return { items: await viewsInOrder(loaders.order, ids), total, page, pageSize };
    },
    async ordersConnection(_, { filter, ...args }, { read, actor }) {
      const userId = orderOwnerScope(actor, filter?.userId);
      // The filter as applied: a customer's cursors are bound to their own scope.
      const scoped = { userId: userId ?? null, status: filter?.status ?? null };
      const scope = { connection: 'ordersConnection', filter: scoped };
      const window = connectionWindow(args, scope);
      if (userId != null && !isId(userId)) return emptyConnection();
      const page = await ordersWindow(read.db, scoped, window);
      return toConnection(scope, page, () => countOrders(read.db, scoped));
    },
  },
  User: {
    async ordersConnection(user, args, { loaders }) {
      const scope = { connection: 'User.ordersConnection', filter: { userId: user.id } };
      const page = await loaders.userOrderWindow(connectionWindow(args, scope)).load(user.id);
      return toConnection(scope, page, () => loaders.userOrderCount.load(user.id));
    },
  },
  Order: {
    user: (order, _, { loaders }) => loaders.user.load(order.userId),
    items: (order) => [...order.items],
    statusDisplay: (order) => statusDisplay(order),
    cancelledBy: (order) => (order.cancelledBy === null ? null : order.cancelledBy === 'customer' ? 'CUSTOMER' : 'STAFF'),
    position: (order) => formatCursor({ tx: order.lastTx, pos: order.lastPos }),
  },
  OrderItem: {
    product: (item, _, { loaders }) => loaders.product.load(item.productId),
  },
  OrderPage: pageFields('orders'),
  OrderConnection: connectionFields,
};
