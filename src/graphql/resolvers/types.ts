import { parseCursor } from '../../eventlog/cursor.js';
import type { OrderPayloadResolvers, ProductPayloadResolvers, UserPayloadResolvers } from '../../generated/graphql.js';
import type { GraphQLContext } from '../context.js';
import type { PayloadModel } from '../mappers.js';

/**
 * Read-your-writes: a payload's entity is read from the read model once the
 * given projection has applied the command's events (bounded wait), and,
 * with read replicas, from one that has replayed that commit (else the read
 * primary).
 */
async function afterProjection(projection: string, parent: PayloadModel, ctx: GraphQLContext): Promise<void> {
  const lsn = await ctx.progress.waitFor(projection, parseCursor(parent.position)!, ctx.readYourWritesTimeoutMs);
  await ctx.readAt(lsn);
}

export const UserPayload: UserPayloadResolvers = {
  userId: (p) => p.id,
  async user(p, _, ctx) {
    await afterProjection('users', p, ctx);
    return ctx.loaders.user.load(p.id);
  },
};

export const ProductPayload: ProductPayloadResolvers = {
  productId: (p) => p.id,
  async product(p, _, ctx) {
    await afterProjection('products', p, ctx);
    return ctx.loaders.product.load(p.id);
  },
};

export const OrderPayload: OrderPayloadResolvers = {
  orderId: (p) => p.id,
  async order(p, _, ctx) {
    await afterProjection('orders', p, ctx);
    return ctx.loaders.order.load(p.id);
  },
};
