import type { SqlClient } from '../../sql/client.js';
import { idArray } from '../../sql/fragments.js';
import { pageIdsOf } from '../page.js';
import { PRODUCT_VIEW, type ProductView } from './tables.js';

const COLUMNS = PRODUCT_VIEW.selectList();

export async function productsByIds(db: SqlClient, ids: readonly string[]): Promise<ProductView[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT ${COLUMNS} FROM product_view WHERE id = ANY(${idArray(ids)})`;
  return rows.map((row) => PRODUCT_VIEW.fromRow(row));
}

/** The ids of a page, newest first, and the total (entities: by id, through the cache). */
export const listProductIds = (db: SqlClient, page: number, pageSize: number) => pageIdsOf(db, PRODUCT_VIEW, page, pageSize);
