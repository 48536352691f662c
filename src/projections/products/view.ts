import type { ProductEvent } from '../../domain/products.js';
import { assertNever } from '../../domain/errors.js';
import type { StoredEvent } from '../../eventlog/types.js';

/** The product read model. Money is a two-decimal string. */
export interface ProductView {
  readonly id: string;
  readonly name: string;
  readonly price: string;
  readonly version: number;
  readonly lastTx: bigint;
  readonly lastPos: bigint;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

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
