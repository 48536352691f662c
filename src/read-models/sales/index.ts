import type { ReadModelModule } from '../module.js';
import { salesResolvers } from './graphql.js';
import { salesProjection } from './projection.js';

export const salesReadModel: ReadModelModule = { projection: salesProjection, resolvers: salesResolvers };
