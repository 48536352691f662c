import { Prisma } from '../../generated/prisma/client.js';
import type { SqlClient } from '../../eventlog/sql-client.js';
import { idArray } from '../sql.js';
import type { ProductView } from './view.js';

/** A `product_view` row as the queries below select it (plain SQL: see orders/queries.ts). */
interface ProductViewRow {
  id: string;
  name: string;
  price: string;
  version: number;
  last_tx: string;
  last_pos: string;
  created_at: Date;
  updated_at: Date;
}

const PRODUCT_VIEW_COLUMNS = Prisma.raw('id::text, name, price::text, version, last_tx::text, last_pos::text, created_at, updated_at');

export function toProductView(row: ProductViewRow): ProductView {
  return {
    id: row.id,
    name: row.name,
    price: row.price,
    version: row.version,
    lastTx: BigInt(row.last_tx),
    lastPos: BigInt(row.last_pos),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function productsByIds(db: SqlClient, ids: readonly string[]): Promise<ProductView[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRaw<ProductViewRow[]>`
    SELECT ${PRODUCT_VIEW_COLUMNS} FROM product_view WHERE id = ANY(${idArray(ids)})`;
  return rows.map(toProductView);
}

/** A page of products, newest first. */
export async function listProducts(db: SqlClient, page: number, pageSize: number) {
  const [rows, [count]] = await Promise.all([
    db.$queryRaw<ProductViewRow[]>`
      SELECT ${PRODUCT_VIEW_COLUMNS} FROM product_view ORDER BY product_view.created_at DESC, product_view.id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM product_view`,
  ]);
  return { items: rows.map(toProductView), total: count?.n ?? 0 };
}
