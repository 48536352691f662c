import DataLoader from 'dataloader';
import type { ReadModel } from '../projections/status.js';
import { windowKey, type KeysetPage, type KeysetWindow } from '../read-models/keyset.js';
import { countOrdersForUsers, ordersByIds, ordersPageForUsers, ordersWindowForUsers } from '../read-models/orders/queries.js';
import type { OrderView } from '../read-models/orders/view.js';
import { productsByIds } from '../read-models/products/queries.js';
import type { ProductView } from '../read-models/products/view.js';
import { usersByIds } from '../read-models/users/queries.js';
import type { UserView } from '../read-models/users/view.js';
import type { PageModel } from './mappers.js';

/** Orders the results of a batch load like its keys (null for missing ones). */
function byKey<V extends { id: string }>(keys: readonly string[], rows: readonly V[]): Array<V | null> {
  const map = new Map(rows.map((r) => [r.id, r]));
  return keys.map((k) => map.get(k) ?? null);
}

/**
 * Per-request DataLoaders: every `Order.user`, `OrderItem.product`,
 * `User.orders` and `User.ordersConnection` in one request is batched into a
 * constant number of statements, whatever the page size.
 */
export function createLoaders(read: ReadModel, options: { cache?: boolean } = {}) {
  // Subscriptions keep a context for their whole life: batch, but do not cache.
  const cache = options.cache ?? true;
  const db = read.db;
  const userOrders = new Map<string, DataLoader<string, PageModel<OrderView>>>();
  const userOrderWindows = new Map<string, DataLoader<string, KeysetPage<OrderView>>>();
  return {
    order: new DataLoader<string, OrderView | null>(async (ids) => byKey(ids, await ordersByIds(db, ids)), { cache }),
    user: new DataLoader<string, UserView | null>(async (ids) => byKey(ids, await usersByIds(db, ids)), { cache }),
    product: new DataLoader<string, ProductView | null>(async (ids) => byKey(ids, await productsByIds(db, ids)), { cache }),
    /** One loader per (page, pageSize): users asking for the same page batch together. */
    userOrders(page: number, pageSize: number): DataLoader<string, PageModel<OrderView>> {
      const key = `${page}:${pageSize}`;
      let loader = userOrders.get(key);
      if (!loader) {
        loader = new DataLoader(
          async (userIds) => {
            const pages = await ordersPageForUsers(db, userIds, page, pageSize);
            return userIds.map((id) => ({ ...pages.get(id)!, page, pageSize }));
          },
          { cache },
        );
        userOrders.set(key, loader);
      }
      return loader;
    },
    /**
     * One loader per window (`User.ordersConnection`): users asked for the
     * same window batch together. A cursor is one user's, so a window with
     * one is that user's alone.
     */
    userOrderWindow(window: KeysetWindow): DataLoader<string, KeysetPage<OrderView>> {
      const key = windowKey(window);
      let loader = userOrderWindows.get(key);
      if (!loader) {
        loader = new DataLoader(
          async (userIds) => {
            const pages = await ordersWindowForUsers(db, userIds, window);
            return userIds.map((id) => pages.get(id)!);
          },
          { cache },
        );
        userOrderWindows.set(key, loader);
      }
      return loader;
    },
    userOrderCount: new DataLoader<string, number>(
      async (userIds) => {
        const counts = await countOrdersForUsers(db, userIds);
        return userIds.map((id) => counts.get(id)!);
      },
      { cache },
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
