import DataLoader from 'dataloader';
import type { Cursor } from '../eventlog/cursor.js';
import type { ReadModel } from '../projections/status.js';
import type { ViewCache } from '../read-models/cache/view-cache.js';
import { windowKey, type KeysetPage, type KeysetWindow } from '../read-models/keyset.js';
import { ORDER_VIEWS } from '../read-models/orders/cached.js';
import { countOrdersForUsers, ordersPageForUsers, ordersWindowForUsers } from '../read-models/orders/queries.js';
import type { OrderView } from '../read-models/orders/view.js';
import { PRODUCT_VIEWS } from '../read-models/products/cached.js';
import type { ProductView } from '../read-models/products/view.js';
import { USER_VIEWS } from '../read-models/users/cached.js';
import type { UserView } from '../read-models/users/view.js';
import type { PageModel } from './mappers.js';

/**
 * Per-request DataLoaders: every `Order.user`, `OrderItem.product`,
 * `User.orders` and `User.ordersConnection` in one request is batched into a
 * constant number of statements, whatever the page size. Views by id come
 * through the cache (src/read-models/cache): a batch sends one statement for
 * the ids it does not hold, none when it holds them all.
 */
export function createLoaders(read: ReadModel, views: ViewCache, options: { cache?: boolean } = {}) {
  // Subscriptions keep a context for their whole life: batch, but do not cache.
  const cache = options.cache ?? true;
  const db = read.db;
  const userOrders = new Map<string, DataLoader<string, PageModel<OrderView>>>();
  const userOrderWindows = new Map<string, DataLoader<string, KeysetPage<OrderView>>>();
  const written = async <V>(loaded: Promise<Array<V | null>>) => (await loaded)[0] ?? null;
  return {
    order: new DataLoader<string, OrderView | null>((ids) => views.load(ORDER_VIEWS, ids), { cache }),
    user: new DataLoader<string, UserView | null>((ids) => views.load(USER_VIEWS, ids), { cache }),
    product: new DataLoader<string, ProductView | null>((ids) => views.load(PRODUCT_VIEWS, ids), { cache }),
    /** A payload's entity once its projection has reached the command's position (read-your-writes): nothing cached before it. */
    written: {
      order: (id: string, position: Cursor) => written(views.load(ORDER_VIEWS, [id], position)),
      user: (id: string, position: Cursor) => written(views.load(USER_VIEWS, [id], position)),
      product: (id: string, position: Cursor) => written(views.load(PRODUCT_VIEWS, [id], position)),
    },
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
