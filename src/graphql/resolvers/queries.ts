import { canSeeOwnedBy, orderOwnerScope, requireAdmin, requireAuthenticated, requireSelfOrAdmin } from '../../domain/access.js';
import { ValidationError } from '../../domain/errors.js';
import { isId } from '../../domain/ids.js';
import type { QueryResolvers } from '../../generated/graphql.js';

export const MAX_PAGE_SIZE = 100;

/** `page` starts at 1; `pageSize` is 1–100. */
export function checkPage(page: number, pageSize: number): void {
  if (!Number.isInteger(page) || page < 1) throw new ValidationError('page', `expected an integer ≥ 1, got ${page}`);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new ValidationError('pageSize', `expected an integer from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`);
  }
}

/**
 * Query resolvers read projections only (through the context's read model).
 * Access (src/domain/access.ts): the catalog is public; customers see
 * themselves and their own orders — someone else's order is `null`, exactly
 * like a missing one; staff see everything.
 */
export const Query: QueryResolvers = {
  async order(_, { id }, { loaders, actor }) {
    requireAuthenticated(actor);
    const order = isId(id) ? await loaders.order.load(id) : null;
    return order && canSeeOwnedBy(actor, order.userId) ? order : null;
  },
  user(_, { id }, { loaders, actor }) {
    requireSelfOrAdmin(actor, id);
    return isId(id) ? loaders.user.load(id) : null;
  },
  product: (_, { id }, { loaders }) => (isId(id) ? loaders.product.load(id) : null),

  async orders(_, { filter, page, pageSize }, { read, actor }) {
    const userId = orderOwnerScope(actor, filter?.userId);
    checkPage(page, pageSize);
    if (userId != null && !isId(userId)) return { items: [], total: 0, page, pageSize };
    const result = await read.orders.list({ userId, status: filter?.status }, page, pageSize);
    return { ...result, page, pageSize };
  },
  async users(_, { page, pageSize }, { read, actor }) {
    requireAdmin(actor);
    checkPage(page, pageSize);
    return { ...(await read.users.list(page, pageSize)), page, pageSize };
  },
  async products(_, { page, pageSize }, { read }) {
    checkPage(page, pageSize);
    return { ...(await read.products.list(page, pageSize)), page, pageSize };
  },
  projections(_, __, { read, actor }) {
    requireAdmin(actor);
    return read.projections();
  },
};
