import type { OrderEvent } from '../../domain/orders.js';
import type { StoredEvent } from '../../eventlog/types.js';
import type { Projection, ReadModelTx } from '../../projections/projection.js';
import { idArray } from '../../sql/fragments.js';
import { unique } from '../batch.js';
import { upsertStatement } from '../sql.js';
import { daysByDate } from './queries.js';
import { SALES_DAY, SALES_ORDER } from './tables.js';
import { SALES_EVENTS, evolveSales, utcDay, type SalesDay, type SalesOrder } from './view.js';

const isRelevant = (e: StoredEvent): e is StoredEvent<OrderEvent> => SALES_EVENTS.has(e.type);

/**
 * Maintains the daily sales report (`sales_day`) from order events, with its
 * own record of each order (`sales_order`) to know, when an order changes
 * later, which day it counts on and what to take out when it is cancelled.
 */
export const salesProjection: Projection = {
  name: 'sales',
  tables: [SALES_ORDER.name, SALES_DAY.name],
  handles: isRelevant,
  async apply(tx: ReadModelTx, events: readonly StoredEvent[]) {
    const relevant = events.filter(isRelevant);
    if (relevant.length === 0) return;
    const orderIds = unique(relevant.map((e) => e.aggregateId));
    const orders = new Map<string, SalesOrder>(
      (await tx.$queryRaw<Array<Record<string, unknown>>>`
        SELECT ${SALES_ORDER.selectList()} FROM sales_order WHERE order_id = ANY(${idArray(orderIds)})`).map((row) => {
        const order = SALES_ORDER.fromRow(row);
        return [order.orderId, order];
      }),
    );
    const dates = unique([
      ...[...orders.values()].map((o) => o.day),
      ...relevant.flatMap((e) => (e.type === 'OrderPlaced' ? [utcDay(e.occurredAt)] : [])),
    ]);
    const days = new Map<string, SalesDay>((await daysByDate(tx, dates)).map((d) => [d.day, d]));

    const changedOrders = new Set<string>();
    const changedDays = new Set<string>();
    for (const event of relevant) {
      const order = orders.get(event.aggregateId) ?? null;
      const day = order ? days.get(order.day) : days.get(utcDay(event.occurredAt));
      const next = evolveSales(order, day ?? null, event);
      if (!next) continue;
      orders.set(next.order.orderId, next.order);
      days.set(next.day.day, next.day);
      changedOrders.add(next.order.orderId);
      changedDays.add(next.day.day);
    }
    return {
      changed: [],
      writes: [
        upsertStatement(SALES_ORDER, [...changedOrders].map((id) => orders.get(id)!)),
        upsertStatement(SALES_DAY, [...changedDays].map((d) => days.get(d)!)),
      ],
    };
  },
};
