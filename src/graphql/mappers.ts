import type { OrderView, OrderViewItem } from '../read-models/orders/view.js';
import type { ProductView } from '../read-models/products/view.js';
import type { UserView } from '../read-models/users/view.js';
import type { DeadLetter } from '../projections/dead-letters.js';
import type { ProjectionStatus } from '../projections/status.js';

/** GraphQL object types are backed directly by read-model views. */
export type OrderModel = OrderView;
export type OrderItemModel = OrderViewItem;
export type UserModel = UserView;
export type ProductModel = ProductView;
export type ProjectionStatusModel = ProjectionStatus;
export type DeadLetterModel = DeadLetter;

export interface PageModel<T> {
  readonly items: readonly T[];
  readonly total: number;
  readonly page: number;
  readonly pageSize: number;
}

/** What a command returns before its entity is read from the read model. */
export interface PayloadModel {
  readonly id: string;
  readonly version: number;
  readonly position: string;
}
