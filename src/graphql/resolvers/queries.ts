import { requireAdmin } from '../../domain/access.js';
import type { QueryResolvers } from '../../generated/graphql.js';

/**
 * Query fields that belong to no read model. Each read model serves its own
 * (src/read-models/<name>/graphql.ts); all read projections only.
 */
export const Query: QueryResolvers = {
  projections(_, __, { read, actor }) {
    requireAdmin(actor);
    return read.projections();
  },
};
