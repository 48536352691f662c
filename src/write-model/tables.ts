import type { OrderStatus } from '../domain/orders.js';
import type {
  Order as OrderModel,
  OrderLine as OrderLineModel,
  Product as ProductModel,
  User as UserModel,
} from '../generated/prisma/client.js';
import { defineTable, enumOf, int, money, nullable, text, timestamptz, uuid } from '../sql/table.js';

/*
 * The write model's tables, each defined against its Prisma model: a column
 * added in schema.prisma fails the type check here, and every statement
 * below selects, inserts and maps rows through these definitions.
 */

export const USERS = defineTable<UserModel>()('users', ['id'], {
  id: uuid('id'),
  name: text('name'),
  email: text('email'),
  /** Lower-cased email: uniqueness is case-insensitive. */
  emailKey: text('email_key'),
  version: int('version'),
  createdAt: timestamptz('created_at'),
  updatedAt: timestamptz('updated_at'),
});

export const PRODUCTS = defineTable<ProductModel>()('products', ['id'], {
  id: uuid('id'),
  name: text('name'),
  price: money('price'),
  version: int('version'),
  createdAt: timestamptz('created_at'),
  updatedAt: timestamptz('updated_at'),
});

export const ORDERS = defineTable<OrderModel>()('orders', ['id'], {
  id: uuid('id'),
  userId: uuid('user_id'),
  status: enumOf<OrderStatus>('status', 'OrderStatus'),
  cancellationReason: nullable(text('cancellation_reason')),
  total: money('total'),
  version: int('version'),
  createdAt: timestamptz('created_at'),
  updatedAt: timestamptz('updated_at'),
});

export const ORDER_LINES = defineTable<OrderLineModel>()('order_lines', ['order_id', 'line_no'], {
  orderId: uuid('order_id'),
  lineNo: int('line_no'),
  productId: uuid('product_id'),
  productName: text('product_name'),
  unitPrice: money('unit_price'),
  quantity: int('quantity'),
});
