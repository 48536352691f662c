import type { OrderStatus } from '../../domain/orders.js';
import type { SalesDay as SalesDayModel, SalesOrder as SalesOrderModel } from '../../generated/prisma-read/client.js';
import { bigint, date, defineTable, enumOf, int, jsonb, money, uuid, type ViewOf } from '../../sql/table.js';

export interface SoldLine {
  readonly productId: string;
  /** As bought. */
  readonly productName: string;
  readonly quantity: number;
}

export interface ProductUnits {
  readonly productId: string;
  readonly productName: string;
  readonly units: number;
}

/** The sales projection's own record of an order. */
export const SALES_ORDER = defineTable<SalesOrderModel>()('sales_order', ['order_id'], {
  orderId: uuid('order_id'),
  /** The UTC day it was placed, `YYYY-MM-DD`. */
  day: date('day'),
  status: enumOf<OrderStatus>('status', 'OrderStatus'),
  total: money('total'),
  lines: jsonb<readonly SoldLine[]>('lines'),
  version: int('version'),
});

export type SalesOrder = ViewOf<typeof SALES_ORDER.columns>;

/** One UTC day's sales, as its orders are now. */
export const SALES_DAY = defineTable<SalesDayModel>()('sales_day', ['day'], {
  day: date('day'),
  ordersPlaced: int('orders_placed'),
  /** Orders of the day by their current status (no zero counts). */
  byStatus: jsonb<Readonly<Partial<Record<OrderStatus, number>>>>('by_status'),
  /** Sum of the totals of the day's orders that are not cancelled. */
  revenue: money('revenue'),
  /** Units of the day's orders that are not cancelled, per product and name as bought (no zero units). */
  products: jsonb<readonly ProductUnits[]>('products'),
  lastTx: bigint('last_tx'),
  lastPos: bigint('last_pos'),
});

export type SalesDay = ViewOf<typeof SALES_DAY.columns>;
