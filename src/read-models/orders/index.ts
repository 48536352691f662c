import type { ReadModelModule } from '../module.js';
import { ordersResolvers } from './graphql.js';
import { ordersProjection } from './projection.js';

export const ordersReadModel: ReadModelModule = { projection: ordersProjection, resolvers: ordersResolvers };
