import { GraphQLScalarType } from 'graphql';
import type { Resolvers } from '../generated/graphql.js';
import { READ_MODELS } from '../read-models/registry.js';
import { Mutation } from './resolvers/mutations.js';
import { Query } from './resolvers/queries.js';
import { Subscription } from './resolvers/subscriptions.js';
import * as payloads from './resolvers/types.js';
import { DateTimeScalar, MoneyScalar } from './scalars.js';

type ResolverMap = Record<string, unknown>;

/**
 * The schema's resolvers: the API's own (commands, subscriptions, payloads,
 * scalars) and each read model's. A field resolved in two places is a
 * mistake, refused when the server starts.
 */
export function mergeResolvers(parts: readonly Resolvers[]): Resolvers {
  const merged: Record<string, ResolverMap | unknown> = {};
  for (const part of parts) {
    for (const [type, fields] of Object.entries(part)) {
      const existing = merged[type];
      if (existing === undefined) {
        merged[type] = typeof fields === 'object' && fields !== null && !isScalar(fields) ? { ...fields } : fields;
        continue;
      }
      if (isScalar(existing) || isScalar(fields)) throw new Error(`Scalar ${type} is resolved twice`);
      for (const [field, resolver] of Object.entries(fields as ResolverMap)) {
        if (field in (existing as ResolverMap)) throw new Error(`${type}.${field} is resolved twice`);
        (existing as ResolverMap)[field] = resolver;
      }
    }
  }
  return merged as Resolvers;
}

const isScalar = (value: unknown) => value instanceof GraphQLScalarType;

export const resolvers: Resolvers = mergeResolvers([
  { Query, Mutation, Subscription, ...payloads, Money: MoneyScalar, DateTime: DateTimeScalar },
  ...READ_MODELS.flatMap((m) => (m.resolvers ? [m.resolvers] : [])),
]);
