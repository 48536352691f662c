import type { Cursor } from '../../eventlog/cursor.js';
import type { SqlClient } from '../../sql/client.js';
import { cachedView, latestPerId } from '../cache/cached-view.js';
import { productsByIds } from './queries.js';
import { PRODUCT_VIEW } from './tables.js';

/**
 * Ids of the products whose view changed after `after`. Products keep no
 * change history; every change moves the row's own position, which
 * `product_view (last_tx, last_pos)` indexes.
 */
async function changedProducts(db: SqlClient, after: Cursor) {
  const rows = await db.$queryRaw<Array<{ id: string; tx: string; pos: string }>>`
    SELECT p.id::text AS id, p.last_tx::text AS tx, p.last_pos::text AS pos FROM ${PRODUCT_VIEW.ref()} p
    WHERE (p.last_tx, p.last_pos) > (${after.tx}::bigint, ${after.pos}::bigint)`;
  return latestPerId(rows);
}

/** Products by id, cached (src/read-models/cache). */
export const PRODUCT_VIEWS = cachedView(PRODUCT_VIEW, { projection: 'products', byIds: productsByIds, changedAfter: changedProducts });
