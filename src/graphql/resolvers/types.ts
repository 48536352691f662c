import { formatCursor, parseCursor } from '../../eventlog/cursor.js';
import type {
  OrderItemResolvers,
  OrderPayloadResolvers,
  OrderResolvers,
  ProductPayloadResolvers,
  UserPayloadResolvers,
  UserResolvers,
} from '../../generated/graphql.js';
import { statusDisplay } from '../../projections/orders/view.js';
import type { GraphQLContext } from '../context.js';
import type { PayloadModel } from '../mappers.js';
import { checkPage } from './queries.js';

/**
 * Read-your-writes: a payload's entity is read from the read model once the
 * given projection has applied the command's events (bounded wait).
 */
async function afterProjection(projection: string, parent: PayloadModel, ctx: GraphQLContext): Promise<void> {
  await ctx.progress.waitFor(projection, parseCursor(parent.position)!, ctx.readYourWritesTimeoutMs);
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

export const Order: OrderResolvers = {
  user: (order, _, { loaders }) => loaders.user.load(order.userId),
  items: (order) => [...order.items],
  statusDisplay: (order) => statusDisplay(order),
  cancelledBy: (order) => (order.cancelledBy === null ? null : order.cancelledBy === 'customer' ? 'CUSTOMER' : 'STAFF'),
  position: (order) => formatCursor({ tx: order.lastTx, pos: order.lastPos }),
};

export const OrderItem: OrderItemResolvers = {
  product: (item, _, { loaders }) => loaders.product.load(item.productId),
};

export const User: UserResolvers = {
  position: (user) => formatCursor({ tx: user.lastTx, pos: user.lastPos }),
  orders(user, { page, pageSize }, { loaders }) {
    checkPage(page, pageSize);
    return loaders.userOrders(page, pageSize).load(user.id);
  },
};

const pageOf = <K extends string>(field: K) => ({ [field]: (p: { items: readonly unknown[] }) => p.items, totalPages: (p: { total: number; pageSize: number }) => Math.ceil(p.total / p.pageSize) });
export const OrderPage = pageOf('orders');
export const UserPage = pageOf('users');
export const ProductPage = pageOf('products');
