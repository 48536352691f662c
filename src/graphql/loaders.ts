import DataLoader from 'dataloader';
import { maxCursor, type Cursor } from '../eventlog/cursor.js';
import type { ReadModel } from '../projections/status.js';
import type { CachedView, IdentifiedView } from '../read-models/cache/cached-view.js';
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

/** Orders the results of a batch load like its keys (null for missing ones). */
function byKey<V extends { id: string }>(keys: readonly string[], rows: readonly V[]): Array<V | null> {
  const map = new Map(rows.map((r) => [r.id, r]));
  return keys.map((k) => map.get(k) ?? null);
}

export interface LoaderOptions {
  /** Cache within the request (default true; subscriptions keep a context for their whole life: batch, but do not cache). */
  readonly cache?: boolean;
  /**
   * The request's `x-min-position`: views by id are read once `ready`
   * resolves (what it throws, they throw), and none older than `position`.
   */
  readonly atLeast?: { readonly position: Cursor | null; readonly ready: () => Promise<void> };
}

/**
 * Per-request DataLoaders: every `Order.user`, `OrderItem.product`,
 * `User.orders` and `User.ordersConnection` in one request is batched into a
 * constant number of statements, whatever the page size. Views by id come
 * through the cache (src/read-models/cache): a batch sends one statement for
 * the ids it does not hold, none when it holds them all; with the cache off,
 * from this request's reads (`read.db`, a read replica maybe).
 */
export function createLoaders(read: ReadModel, views: ViewCache, options: LoaderOptions = {}) {
  const cache = options.cache ?? true;
  const db = read.db;
  const userOrders = new Map<string, DataLoader<string, PageModel<OrderView>>>();
  const userOrderWindows = new Map<string, DataLoader<string, KeysetPage<OrderView>>>();
  const byId = async <V extends IdentifiedView>(view: CachedView<V>, ids: readonly string[], atLeast?: Cursor): Promise<Array<V | null>> => {
    if (!views.enabled) return byKey(ids, await view.byIds(db, ids));
    const required = options.atLeast;
    if (required) await required.ready();
    const position = required?.position && atLeast ? maxCursor(required.position, atLeast) : (required?.position ?? atLeast);
    return views.load(view, ids, position);
  };
  const one = async <V extends IdentifiedView>(view: CachedView<V>, id: string, position: Cursor) => (await byId(view, [id], position))[0] ?? null;
  return {
    order: new DataLoader<string, OrderView | null>((ids) => byId(ORDER_VIEWS, ids), { cache }),
    user: new DataLoader<string, UserView | null>((ids) => byId(USER_VIEWS, ids), { cache }),
    product: new DataLoader<string, ProductView | null>((ids) => byId(PRODUCT_VIEWS, ids), { cache }),
    /** A payload's entity once its projection has reached the command's position (read-your-writes): nothing cached before it. */
    written: {
      order: (id: string, position: Cursor) => one(ORDER_VIEWS, id, position),
      user: (id: string, position: Cursor) => one(USER_VIEWS, id, position),
      product: (id: string, position: Cursor) => one(PRODUCT_VIEWS, id, position),
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
