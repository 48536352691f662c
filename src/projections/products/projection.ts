import type { ProductEvent } from '../../domain/products.js';
import type { StoredEvent } from '../../eventlog/types.js';
import { evolveAll, unique } from '../batch.js';
import type { Projection, ReadModelTx } from '../projection.js';
import { upsertStatement, writeAll, type TableSpec } from '../sql.js';
import { productsByIds } from './queries.js';
import { PRODUCT_EVENTS, evolveProductView, type ProductView } from './view.js';

const PRODUCT_VIEW: TableSpec = {
  table: 'product_view',
  key: 'id',
  columns: {
    id: 'uuid', name: 'text', price: 'numeric', version: 'int', last_tx: 'bigint', last_pos: 'bigint',
    created_at: 'timestamptz', updated_at: 'timestamptz',
  },
};

function toRow(v: ProductView) {
  return {
    id: v.id, name: v.name, price: v.price, version: v.version, last_tx: v.lastTx.toString(), last_pos: v.lastPos.toString(),
    created_at: v.createdAt.toISOString(), updated_at: v.updatedAt.toISOString(),
  };
}

/** Maintains `product_view` from product events. */
export const productsProjection: Projection = {
  name: 'products',
  tables: ['product_view'],
  handles: (event) => PRODUCT_EVENTS.has(event.type),
  async apply(tx: ReadModelTx, events: readonly StoredEvent[]) {
    const relevant = events.filter((e): e is StoredEvent<ProductEvent> => PRODUCT_EVENTS.has(e.type));
    if (relevant.length === 0) return;
    const ids = unique(relevant.map((e) => e.aggregateId));
    const views = new Map((await productsByIds(tx, ids)).map((v) => [v.id, v]));
    const changed = evolveAll(views, relevant, (e) => e.aggregateId, evolveProductView);
    await writeAll(tx, [upsertStatement(PRODUCT_VIEW, [...changed].map((id) => toRow(views.get(id)!)))]);
  },
};
