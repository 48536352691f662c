import type { ReadModelModule } from './module.js';
import { ordersReadModel } from './orders/index.js';
import { productsReadModel } from './products/index.js';
import { salesReadModel } from './sales/index.js';
import { usersReadModel } from './users/index.js';

/** Every read model of the service: one line each. */
export const READ_MODELS: readonly ReadModelModule[] = [
  usersReadModel,
  productsReadModel,
  ordersReadModel,
  salesReadModel,
];
