import type { Cursor } from '../../eventlog/cursor.js';
import type { SqlClient } from '../../sql/client.js';
import { cachedView, latestPerId } from '../cache/cached-view.js';
import { ordersByIds } from './queries.js';
import { ORDER_VIEW, ORDER_VIEW_CHANGE } from './tables.js';

/** Ids of the orders whose view changed after `after`, from the change history (every state is recorded there). */
async function changedOrders(db: SqlClient, after: Cursor) {
  const rows = await db.$queryRaw<Array<{ id: string; tx: string; pos: string }>>`
    SELECT c.order_id::text AS id, c.tx::text, c.pos::text FROM ${ORDER_VIEW_CHANGE.ref()} c
    WHERE (c.tx, c.pos) > (${after.tx}::bigint, ${after.pos}::bigint)`;
  return latestPerId(rows);
}

/** Orders by id, cached (src/read-models/cache). */
export const ORDER_VIEWS = cachedView(ORDER_VIEW, { projection: 'orders', byIds: ordersByIds, changedAfter: changedOrders });

