import type { ProductEvent } from '../../domain/products.js';
import type { StoredEvent } from '../../eventlog/types.js';
import type { Projection, ReadModelTx } from '../../projections/projection.js';
import { evolveAll, unique } from '../batch.js';
import { upsertStatement } from '../sql.js';
import { productsByIds } from './queries.js';
import { PRODUCT_VIEW } from './tables.js';
import { PRODUCT_EVENTS, evolveProductView } from './view.js';

/** Maintains `product_view` from product events. */
export const productsProjection: Projection = {
  name: 'products',
  tables: [PRODUCT_VIEW.name],
  handles: (event) => PRODUCT_EVENTS.has(event.type),
  async apply(tx: ReadModelTx, events: readonly StoredEvent[]) {
    const relevant = events.filter((e): e is StoredEvent<ProductEvent> => PRODUCT_EVENTS.has(e.type));
    if (relevant.length === 0) return;
    const views = new Map((await productsByIds(tx, unique(relevant.map((e) => e.aggregateId)))).map((v) => [v.id, v]));
    const changed = evolveAll(views, relevant, (e) => e.aggregateId, evolveProductView);
    return { changed: [...changed], writes: [upsertStatement(PRODUCT_VIEW, [...changed].map((id) => views.get(id)!))] };
  },
};
