/**
 * The sales report's pure evolve, given/when/then, without a database:
 * given the events of some orders, the days they make.
 */
import { describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../src/domain/orders.js';
import type { StoredEvent } from '../../src/eventlog/types.js';
import { evolveSales, reportOf, type SalesDay, type SalesOrder } from '../../src/read-models/sales/view.js';

let position = 0n;
function stored(event: OrderEvent, version: number, occurredAt: string): StoredEvent<OrderEvent> {
  position++;
  return {
    ...event,
    cursor: { tx: 1n, pos: position },
    eventId: `00000000-0000-4000-8000-${position.toString().padStart(12, '0')}`,
    schemaVersion: 1,
    aggregateType: 'Order',
    aggregateId: event.data.orderId,
    aggregateVersion: version,
    metadata: { correlationId: 'test' },
    occurredAt: new Date(occurredAt),
  } as StoredEvent<OrderEvent>;
}

const line = (productId: string, productName: string, quantity: number) => ({
  productId, productName, quantity, unitPrice: '1.00', subtotal: `${quantity}.00`,
});
const placed = (orderId: string, at: string, total: string, lines: ReturnType<typeof line>[]) =>
  stored({ type: 'OrderPlaced', data: { orderId, userId: 'u', items: lines, total } }, 1, at);

/** Folds events into orders and days, as the projection does. */
function given(events: ReadonlyArray<StoredEvent<OrderEvent>>) {
  const orders = new Map<string, SalesOrder>();
  const days = new Map<string, SalesDay>();
  for (const event of events) {
    const order = orders.get(event.aggregateId) ?? null;
    const day = order ? days.get(order.day) : days.get(event.occurredAt.toISOString().slice(0, 10));
    const next = evolveSales(order, day ?? null, event);
    if (!next) continue;
    orders.set(next.order.orderId, next.order);
    days.set(next.day.day, next.day);
  }
  return { orders, report: [...days.values()].sort((a, b) => (a.day < b.day ? -1 : 1)).map(reportOf) };
}

describe('the sales report, given order events', () => {
  it('counts an order on the UTC day it was placed, with its revenue and units', () => {
    const { report } = given([
      placed('o1', '2026-03-01T23:59:59.999Z', '12.50', [line('p1', 'Lamp', 2), line('p2', 'Desk', 1)]),
      placed('o2', '2026-03-02T00:00:00.000Z', '3.00', [line('p1', 'Lamp', 3)]),
    ]);
    expect(report).toEqual([
      {
        date: '2026-03-01', ordersPlaced: 1, byStatus: [{ status: 'PENDING', count: 1 }], revenue: '12.50',
        topProducts: [{ productId: 'p1', productName: 'Lamp', units: 2 }, { productId: 'p2', productName: 'Desk', units: 1 }],
      },
      {
        date: '2026-03-02', ordersPlaced: 1, byStatus: [{ status: 'PENDING', count: 1 }], revenue: '3.00',
        topProducts: [{ productId: 'p1', productName: 'Lamp', units: 3 }],
      },
    ]);
  });

  it('moves an order between statuses on its placement day, leaving out statuses with none', () => {
    const { report } = given([
      placed('o1', '2026-03-01T10:00:00Z', '5.00', [line('p1', 'Lamp', 1)]),
      placed('o2', '2026-03-01T11:00:00Z', '5.00', [line('p1', 'Lamp', 1)]),
      stored({ type: 'OrderConfirmed', data: { orderId: 'o1' } }, 2, '2026-03-03T10:00:00Z'),
      stored({ type: 'OrderShipped', data: { orderId: 'o1' } }, 3, '2026-03-04T10:00:00Z'),
      stored({ type: 'OrderConfirmed', data: { orderId: 'o2' } }, 2, '2026-03-05T10:00:00Z'),
    ]);
    expect(report).toHaveLength(1);
    expect(report[0]!.byStatus).toEqual([
      { status: 'CONFIRMED', count: 1 },
      { status: 'SHIPPED', count: 1 },
    ]);
    expect(report[0]!.ordersPlaced).toBe(2);
  });

  it('takes a later cancellation out of the placement day: revenue and units, but not the order count', () => {
    const { report } = given([
      placed('o1', '2026-03-01T10:00:00Z', '10.10', [line('p1', 'Lamp', 2)]),
      placed('o2', '2026-03-01T11:00:00Z', '0.20', [line('p1', 'Lamp', 1), line('p3', 'Chair', 4)]),
      stored({ type: 'OrderCancelled', data: { orderId: 'o2', reason: 'twice', cancelledBy: 'customer' } }, 2, '2026-03-09T10:00:00Z'),
    ]);
    expect(report).toEqual([
      {
        date: '2026-03-01', ordersPlaced: 2,
        byStatus: [{ status: 'PENDING', count: 1 }, { status: 'CANCELLED', count: 1 }],
        revenue: '10.10',
        topProducts: [{ productId: 'p1', productName: 'Lamp', units: 2 }],
      },
    ]);
  });

  it('lists the ten products with the most units, ties by name, and keeps names as bought', () => {
    const lines = Array.from({ length: 12 }, (_, i) => line(`p${i}`, `Product ${String.fromCharCode(76 - i)}`, i < 6 ? 5 : 1));
    const { report } = given([
      placed('o1', '2026-03-01T10:00:00Z', '1.00', lines),
      // the same product bought later under a new name counts apart
      placed('o2', '2026-03-01T12:00:00Z', '1.00', [line('p0', 'Renamed', 9)]),
    ]);
    const top = report[0]!.topProducts;
    expect(top).toHaveLength(10);
    expect(top[0]).toEqual({ productId: 'p0', productName: 'Renamed', units: 9 });
    // five products with 5 units, by name (G … L), then the 1-unit ones by name
    expect(top.slice(1, 7).map((p) => p.productName)).toEqual(['Product G', 'Product H', 'Product I', 'Product J', 'Product K', 'Product L']);
    expect(top.slice(7).map((p) => [p.productName, p.units])).toEqual([['Product A', 1], ['Product B', 1], ['Product C', 1]]);
  });

  it('applies an event once: a replayed event changes nothing', () => {
    const first = placed('o1', '2026-03-01T10:00:00Z', '2.00', [line('p1', 'Lamp', 1)]);
    const cancelled = stored({ type: 'OrderCancelled', data: { orderId: 'o1', reason: 'r', cancelledBy: 'staff' } }, 2, '2026-03-02T10:00:00Z');
    const once = given([first, cancelled]);
    const twice = given([first, cancelled, first, cancelled]);
    expect(twice.report).toEqual(once.report);
    expect(once.report[0]).toMatchObject({ revenue: '0.00', topProducts: [], byStatus: [{ status: 'CANCELLED', count: 1 }] });
  });
});
