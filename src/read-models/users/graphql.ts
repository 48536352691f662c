import { requireAdmin, requireSelfOrAdmin } from '../../domain/access.js';
import { isId } from '../../domain/ids.js';
import { formatCursor } from '../../eventlog/cursor.js';
import type { Resolvers } from '../../generated/graphql.js';
import { checkPage, connectionFields, connectionWindow, pageFields, toConnection, viewsInOrder } from '../../graphql/pages.js';
import { countUsers, listUserIds, usersWindow } from './queries.js';

/** The user fields of the API: a customer sees themself, staff everyone. */
export const usersResolvers: Resolvers = {
  Query: {
    user(_, { id }, { loaders, actor }) {
      requireSelfOrAdmin(actor, id);
      return isId(id) ? loaders.user.load(id) : null;
    },
    async users(_, { page, pageSize }, { read, loaders, actor }) {
      requireAdmin(actor);
      checkPage(page, pageSize);
      const { ids, total } = await listUserIds(read.db, page, pageSize);
      return { items: await viewsInOrder(loaders.user, ids), total, page, pageSize };
    },
    async usersConnection(_, args, { read, actor }) {
      requireAdmin(actor);
      const scope = { connection: 'usersConnection', filter: {} };
      const page = await usersWindow(read.db, connectionWindow(args, scope));
      return toConnection(scope, page, () => countUsers(read.db));
    },
  },
  User: {
    position: (user) => formatCursor({ tx: user.lastTx, pos: user.lastPos }),
    orders(user, { page, pageSize }, { loaders }) {
      checkPage(page, pageSize);
      return loaders.userOrders(page, pageSize).load(user.id);
    },
  },
  UserPage: pageFields('users'),
  UserConnection: connectionFields,
};
