import type { ReadModelModule } from '../module.js';
import { ORDER_VIEWS } from './cached.js';
import { ordersResolvers } from './graphql.js';
import { ordersProjection } from './projection.js';

export const ordersReadModel: ReadModelModule = { projection: ordersProjection, resolvers: ordersResolvers, cached: ORDER_VIEWS };
