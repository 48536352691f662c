import type { ProductView as ProductViewModel } from '../../generated/prisma-read/client.js';
import { bigint, defineTable, int, money, text, timestamptz, uuid, type ViewOf } from '../../sql/table.js';

/** The product read model. */
export const PRODUCT_VIEW = defineTable<ProductViewModel>()('product_view', ['id'], {
  id: uuid('id'),
  name: text('name'),
  price: money('price'),
  version: int('version'),
  lastTx: bigint('last_tx'),
  lastPos: bigint('last_pos'),
  createdAt: timestamptz('created_at'),
  updatedAt: timestamptz('updated_at'),
});

export type ProductView = ViewOf<typeof PRODUCT_VIEW.columns>;
