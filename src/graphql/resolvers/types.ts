import { parseCursor, type Cursor } from '../../eventlog/cursor.js';
import type { OrderPayloadResolvers, ProductPayloadResolvers, UserPayloadResolvers } from '../../generated/graphql.js';
import type { GraphQLContext } from '../context.js';
import type { PayloadModel } from '../mappers.js';

/**
 * Read-your-writes: a payload's entity is read from the read model once the
 * given projection has applied the command's events (bounded wait) — no
 * cached view from before the command's position is used for it — and,
 * with read replicas, from one that has replayed that commit (else the read
 * primary).
 */
async function afterProjection(projection: string, parent: PayloadModel, ctx: GraphQLContext): Promise<Cursor> {
  const position = parseCursor(parent.position)!;
  const lsn = await ctx.progress.waitFor(projection, position, ctx.readYourWritesTimeoutMs);
  await ctx.readAt(lsn);
  return position;
}

export const UserPayload: UserPayloadResolvers = {
  userId: (p) => p.id,
  async user(p, _, ctx) {
    return ctx.loaders.written.user(p.id, await afterProjection('users', p, ctx));
  },
};

export const ProductPayload: ProductPayloadResolvers = {
  productId: (p) => p.id,
  async product(p, _, ctx) {
    return ctx.loaders.written.product(p.id, await afterProjection('products', p, ctx));
  },
};

export const OrderPayload: OrderPayloadResolvers = {
  orderId: (p) => p.id,
  async order(p, _, ctx) {
    return ctx.loaders.written.order(p.id, await afterProjection('orders', p, ctx));
  },
};
