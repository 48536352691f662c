import { isId } from '../../domain/ids.js';
import type { Resolvers } from '../../generated/graphql.js';
import { checkPage, pageFields, viewsInOrder } from '../../graphql/pages.js';
import { listProductIds } from './queries.js';

/** The catalog: public. */
export const productsResolvers: Resolvers = {
  Query: {
    product: (_, { id }, { loaders }) => (isId(id) ? loaders.product.load(id) : null),
    async products(_, { page, pageSize }, { read, loaders }) {
      checkPage(page, pageSize);
      const { ids, total } = await listProductIds(read.db, page, pageSize);
      return { items: await viewsInOrder(loaders.product, ids), total, page, pageSize };
    },
  },
  ProductPage: pageFields('products'),
};
