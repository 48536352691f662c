import { isId } from '../../domain/ids.js';
import type { Resolvers } from '../../generated/graphql.js';
import { checkPage, pageFields } from '../../graphql/pages.js';
import { listProducts } from './queries.js';

/** The catalog: public. */
export const productsResolvers: Resolvers = {
  Query: {
    product: (_, { id }, { loaders }) => (isId(id) ? loaders.product.load(id) : null),
    async products(_, { page, pageSize }, { read }) {
      checkPage(page, pageSize);
      return { ...(await listProducts(read.db, page, pageSize)), page, pageSize };
    },
  },
  ProductPage: pageFields('products'),
};
