import type { ReadModelModule } from '../module.js';
import { PRODUCT_VIEWS } from './cached.js';
import { productsResolvers } from './graphql.js';
import { productsProjection } from './projection.js';

export const productsReadModel: ReadModelModule = { projection: productsProjection, resolvers: productsResolvers, cached: PRODUCT_VIEWS };
