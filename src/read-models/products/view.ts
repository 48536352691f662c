import type { ProductEvent } from '../../domain/products.js';
import { assertNever } from '../../domain/errors.js';
import type { StoredEvent } from '../../eventlog/types.js';
import type { ProductView } from './tables.js';

export type { ProductView } from './tables.js';

export const PRODUCT_EVENTS = new Set<string>(['ProductAdded', 'ProductUpdated']);

/** Pure: the product view after an event. */
export function evolveProductView(view: ProductView | null, event: StoredEvent<ProductEvent>): ProductView {
  const stamp = { version: event.aggregateVersion, lastTx: event.cursor.tx, lastPos: event.cursor.pos };
  switch (event.type) {
    case 'ProductAdded':
    case 'ProductUpdated':
      return {
        id: event.data.productId,
        name: event.data.name,
        price: event.data.price,
        ...stamp,
        createdAt: view?.createdAt ?? event.occurredAt,
        updatedAt: event.occurredAt,
      };
    default:
      return assertNever(event);
  }
}
