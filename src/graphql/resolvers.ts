import type { Resolvers } from '../generated/graphql.js';
import { Mutation } from './resolvers/mutations.js';
import { Query } from './resolvers/queries.js';
import { Subscription } from './resolvers/subscriptions.js';
import * as types from './resolvers/types.js';
import { DateTimeScalar, MoneyScalar } from './scalars.js';

export const resolvers: Resolvers = {
  Query,
  Mutation,
  Subscription,
  ...types,
  Money: MoneyScalar,
  DateTime: DateTimeScalar,
};
