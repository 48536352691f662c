import type { PrismaClient, ProductView as ProductViewRow } from '../../generated/prisma/client.js';
import type { ReadModelTx } from '../projection.js';
import type { ProductView } from './view.js';

export function toProductView(row: ProductViewRow): ProductView {
  return { ...row, price: row.price.toFixed(2) };
}

export async function productsByIds(db: PrismaClient | ReadModelTx, ids: readonly string[]): Promise<ProductView[]> {
  if (ids.length === 0) return [];
  const rows = await db.productView.findMany({ where: { id: { in: [...ids] } } });
  return rows.map(toProductView);
}

/** A page of products, newest first. */
export async function listProducts(db: PrismaClient, page: number, pageSize: number) {
  const [rows, total] = await Promise.all([
    db.productView.findMany({
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      skip: (page - 1) * pageSize,
      take: pageSize,
    }),
    db.productView.count(),
  ]);
  return { items: rows.map(toProductView), total };
}
