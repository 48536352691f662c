import { assertNever } from '../../domain/errors.js';
import { centsFromDecimal, formatMoney } from '../../domain/money.js';
import type { OrderEvent, OrderStatus } from '../../domain/orders.js';
import type { StoredEvent } from '../../eventlog/types.js';
import type { ProductUnits, SalesDay, SalesOrder, SoldLine } from './tables.js';

export type { SalesDay, SalesOrder } from './tables.js';

export const SALES_EVENTS = new Set<string>(['OrderPlaced', 'OrderConfirmed', 'OrderShipped', 'OrderDelivered', 'OrderCancelled']);

/** The UTC day of an instant, `YYYY-MM-DD`. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

const NEXT_STATUS = { OrderConfirmed: 'CONFIRMED', OrderShipped: 'SHIPPED', OrderDelivered: 'DELIVERED', OrderCancelled: 'CANCELLED' } as const;

function emptyDay(day: string): SalesDay {
  return { day, ordersPlaced: 0, byStatus: {}, revenue: '0.00', products: [], lastTx: 0n, lastPos: 0n };
}

function moveStatus(byStatus: SalesDay['byStatus'], from: OrderStatus | null, to: OrderStatus): SalesDay['byStatus'] {
  const next: Partial<Record<OrderStatus, number>> = { ...byStatus };
  if (from) {
    const left = (next[from] ?? 0) - 1;
    if (left > 0) next[from] = left;
    else delete next[from];
  }
  next[to] = (next[to] ?? 0) + 1;
  return next;
}

/** Adds (sign 1) or takes away (sign -1) an order's lines from a day's units. */
function addUnits(products: readonly ProductUnits[], lines: readonly SoldLine[], sign: 1 | -1): ProductUnits[] {
  // A copy and a scan per line, not a map of the day's products per event: a day sells hundreds of products,
  // an order has a few lines, and this runs for every order event of a rebuild.
  const next = products.slice();
  for (const line of lines) {
    const at = next.findIndex((p) => p.productId === line.productId && p.productName === line.productName);
    const units = (at < 0 ? 0 : next[at]!.units) + sign * line.quantity;
    const entry = { productId: line.productId, productName: line.productName, units };
    if (units > 0 && at < 0) next.push(entry);
    else if (units > 0) next[at] = entry;
    else if (at >= 0) next.splice(at, 1);
  }
  return next;
}

/**
 * Pure: an order's record and its day after one of its events. Returns null
 * when the event changes nothing (already applied, or an order this log never
 * saw placed). The day is the one the order was placed on: a later
 * cancellation takes its revenue and units out of that day.
 */
export function evolveSales(
  order: SalesOrder | null,
  day: SalesDay | null,
  event: StoredEvent<OrderEvent>,
): { order: SalesOrder; day: SalesDay } | null {
  if (order && order.version >= event.aggregateVersion) return null;
  const stamp = { lastTx: event.cursor.tx, lastPos: event.cursor.pos };
  if (event.type === 'OrderPlaced') {
    const { orderId, items, total } = event.data;
    const lines = items.map((l) => ({ productId: l.productId, productName: l.productName, quantity: l.quantity }));
    const placed: SalesOrder = { orderId, day: utcDay(event.occurredAt), status: 'PENDING', total, lines, version: event.aggregateVersion };
    const before = day ?? emptyDay(placed.day);
    return {
      order: placed,
      day: {
        ...before,
        ...stamp,
        ordersPlaced: before.ordersPlaced + 1,
        byStatus: moveStatus(before.byStatus, null, 'PENDING'),
        revenue: formatMoney(centsFromDecimal(before.revenue) + centsFromDecimal(total)),
        products: addUnits(before.products, lines, 1),
      },
    };
  }
  if (!order || !day) return null;
  switch (event.type) {
    case 'OrderConfirmed':
    case 'OrderShipped':
    case 'OrderDelivered':
    case 'OrderCancelled': {
      const status = NEXT_STATUS[event.type];
      const cancelled = status === 'CANCELLED' && order.status !== 'CANCELLED';
      return {
        order: { ...order, status, version: event.aggregateVersion },
        day: {
          ...day,
          ...stamp,
          byStatus: moveStatus(day.byStatus, order.status, status),
          revenue: cancelled ? formatMoney(centsFromDecimal(day.revenue) - centsFromDecimal(order.total)) : day.revenue,
          products: cancelled ? addUnits(day.products, order.lines, -1) : day.products,
        },
      };
    }
    default:
      return assertNever(event);
  }
}

/** How a day is reported: statuses in workflow order, the ten products sold most (ties by name, then id). */
export const STATUS_ORDER: readonly OrderStatus[] = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'];
export const TOP_PRODUCTS = 10;

export function reportOf(day: SalesDay) {
  return {
    date: day.day,
    ordersPlaced: day.ordersPlaced,
    byStatus: STATUS_ORDER.flatMap((status) => (day.byStatus[status] ? [{ status, count: day.byStatus[status]! }] : [])),
    revenue: day.revenue,
    topProducts: [...day.products]
      .sort((a, b) => b.units - a.units || compare(a.productName, b.productName) || compare(a.productId, b.productId))
      .slice(0, TOP_PRODUCTS),
  };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
