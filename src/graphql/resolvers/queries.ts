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

/** Query resolvers read projections only (through the context's read model). */
export const Query: QueryResolvers = {
  order: (_, { id }, { loaders }) => (isId(id) ? loaders.order.load(id) : null),
  user: (_, { id }, { loaders }) => (isId(id) ? loaders.user.load(id) : null),
  product: (_, { id }, { loaders }) => (isId(id) ? loaders.product.load(id) : null),

  async orders(_, { filter, page, pageSize }, { read }) {
    checkPage(page, pageSize);
    if (filter?.userId != null && !isId(filter.userId)) return { items: [], total: 0, page, pageSize };
    const result = await read.orders.list({ userId: filter?.userId, status: filter?.status }, page, pageSize);
    return { ...result, page, pageSize };
  },
  async users(_, { page, pageSize }, { read }) {
    checkPage(page, pageSize);
    return { ...(await read.users.list(page, pageSize)), page, pageSize };
  },
  async products(_, { page, pageSize }, { read }) {
    checkPage(page, pageSize);
    return { ...(await read.products.list(page, pageSize)), page, pageSize };
  },
  projections: (_, __, { read }) => read.projections(),
};
