import type { ReadModelModule } from '../module.js';
import { USER_VIEWS } from './cached.js';
import { usersResolvers } from './graphql.js';
import { usersProjection } from './projection.js';

export const usersReadModel: ReadModelModule = { projection: usersProjection, resolvers: usersResolvers, cached: USER_VIEWS };
