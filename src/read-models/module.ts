import type { Resolvers } from '../generated/graphql.js';
import type { Projection } from '../projections/projection.js';
import type { CachedView, IdentifiedView } from './cache/cached-view.js';

/**
 * A read model, as the service registers it (src/read-models/registry.ts):
 * the projection that builds its tables from events, and the GraphQL
 * resolvers of the fields it serves, merged into the schema's (each type's
 * fields may come from several read models; a field from two is an error),
 * and the view it serves by id through the cache, if it has one. Everything
 * else about it — view, evolve, tables, queries, change history —
 * lives in its folder and is reached from these two.
 */
export interface ReadModelModule {
  readonly projection: Projection;
  readonly resolvers?: Resolvers;
  readonly cached?: CachedView<IdentifiedView>;
}
