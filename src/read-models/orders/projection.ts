import { Prisma } from '../../generated/prisma/client.js';
import type { OrderEvent } from '../../domain/orders.js';
import type { UserEvent } from '../../domain/users.js';
import type { StoredEvent } from '../../eventlog/types.js';
import type { Projection, ReadModelTx } from '../../projections/projection.js';
import { idArray } from '../../sql/fragments.js';
import { evolveAll, unique } from '../batch.js';
import { traceOf } from '../changes.js';
import { historyWithState, upsertStatement } from '../sql.js';
import { ordersByIds } from './queries.js';
import { ORDER_VIEW, ORDER_VIEW_CHANGE, ORDER_VIEW_USER } from './tables.js';
import {
  CUSTOMER_EVENTS,
  ORDER_EVENTS,
  evolveCustomer,
  evolveOrderView,
  renameCustomer,
  type Customer,
  type OrderView,
} from './view.js';

const isRelevant = (e: StoredEvent) => ORDER_EVENTS.has(e.type) || CUSTOMER_EVENTS.has(e.type);

/** The history row of a view's state, caused by `event`. */
const historyRow = (v: OrderView, event: StoredEvent) => ({
  tx: v.lastTx, pos: v.lastPos, orderId: v.id, version: v.version, view: ORDER_VIEW.toRecord(v), traceContext: traceOf(event),
});

/**
 * Orders not loaded in this batch, renamed set-wise: their history rows
 * first (from the rows as they were, one per rename and order), then the rows.
 * The guard on the row's cursor makes a replayed rename a no-op. Returns the
 * ids of the orders it renamed.
 */
async function renameUnloaded(
  tx: ReadModelTx,
  renames: ReadonlyArray<{ customer: Customer; event: StoredEvent }>,
  loaded: readonly string[],
): Promise<string[]> {
  const rows = renames.map(({ customer, event }) => ({
    user_id: customer.id, name: customer.name, email: customer.email,
    tx: event.cursor.tx.toString(), pos: event.cursor.pos.toString(), trace_context: traceOf(event),
  }));
  const lastPerCustomer = [...new Map(rows.map((r) => [r.user_id, r])).values()];
  // One history row per order and position: a redrive applies a customer's renames at one position.
  const history = [...new Map(rows.map((r) => [`${r.user_id}:${r.tx}:${r.pos}`, r])).values()];
  const renamesOf = (list: typeof rows) =>
    Prisma.sql`jsonb_to_recordset(${JSON.stringify(list)}::jsonb) AS x(user_id uuid, name text, email text, tx bigint, pos bigint, trace_context jsonb)`;
  // `o.user_id = ANY(…)` lets the plan find the customers' orders by index: joined only with the recordset
  // (estimated at 100 rows whatever it holds), PostgreSQL hashes it and scans the whole table, once per batch
  // with a rename. NOT IN over a subquery: PostgreSQL hashes the ids once per statement. `NOT (o.id =
  // ANY(array))` is hashed only when the array is a constant; in the generic plan of a prepared statement it is
  // a parameter, and every order row would be compared with every loaded id.
  const customers = idArray(lastPerCustomer.map((r) => r.user_id));
  const unloaded = Prisma.sql`o.user_id = ANY(${customers}) AND (o.last_tx, o.last_pos) < (x.tx, x.pos)
    AND o.id NOT IN (SELECT unnest(${idArray(loaded)}))`;
  await tx.$executeRaw`
    INSERT INTO ${ORDER_VIEW_CHANGE.ref()} (${ORDER_VIEW_CHANGE.columnList()})
    SELECT x.tx, x.pos, o.id, o.version, ${ORDER_VIEW.recordJson('o', {
      userName: Prisma.sql`x.name`,
      userEmail: Prisma.sql`x.email`,
      lastTx: Prisma.sql`x.tx::text`,
      lastPos: Prisma.sql`x.pos::text`,
    })}, x.trace_context
    FROM order_view o JOIN ${renamesOf(history)} ON o.user_id = x.user_id
    WHERE ${unloaded}
    ON CONFLICT DO NOTHING`;
  const renamed = await tx.$queryRaw<Array<{ id: string }>>`
    UPDATE order_view o SET user_name = x.name, user_email = x.email, last_tx = x.tx, last_pos = x.pos
    FROM ${renamesOf(lastPerCustomer)}
    WHERE o.user_id = x.user_id AND ${unloaded}
    RETURNING o.id::text AS id`;
  return renamed.map((r) => r.id);
}

/**
 * Maintains `order_view`, denormalized with the customer's current name and
 * email. Names come from `order_view_user`, which this projection keeps from
 * user events itself, so it depends on no other projection and no write table.
 */
export const ordersProjection: Projection = {
  name: 'orders',
  tables: [ORDER_VIEW.name, ORDER_VIEW_USER.name, ORDER_VIEW_CHANGE.name],
  handles: isRelevant,
  async apply(tx: ReadModelTx, events: readonly StoredEvent[]) {
    const relevant = events.filter(isRelevant);
    if (relevant.length === 0) return;
    const orderEvents = relevant.filter((e): e is StoredEvent<OrderEvent> => ORDER_EVENTS.has(e.type));
    const userEvents = relevant.filter((e): e is StoredEvent<UserEvent> => CUSTOMER_EVENTS.has(e.type));

    const views = new Map((await ordersByIds(tx, unique(orderEvents.map((e) => e.aggregateId)))).map((v) => [v.id, v]));
    const customerIds = unique([
      ...userEvents.map((e) => e.aggregateId),
      ...orderEvents.flatMap((e) => (e.type === 'OrderPlaced' ? [e.data.userId] : [])),
    ]);
    const customers = new Map<string, Customer>(
      (customerIds.length
        ? await tx.$queryRaw<Array<Record<string, unknown>>>`
            SELECT ${ORDER_VIEW_USER.selectList()} FROM order_view_user WHERE id = ANY(${idArray(customerIds)})`
        : []
      ).map((row) => {
        const c = ORDER_VIEW_USER.fromRow(row);
        return [c.id, c];
      }),
    );

    // Apply in log order; a profile update renames the customer on every order.
    const changedOrders = new Set<string>();
    const changedCustomers = new Set<string>();
    // Every rename in log order (history), and the last per customer (state).
    const renames: Array<{ customer: Customer; event: StoredEvent }> = [];
    // Every state a view passes through, in log order: the change history.
    const history: Array<ReturnType<typeof historyRow>> = [];
    for (const event of relevant) {
      if (CUSTOMER_EVENTS.has(event.type)) {
        const userEvent = event as StoredEvent<UserEvent>;
        const changed = evolveAll(customers, [userEvent], (e) => e.aggregateId, evolveCustomer);
        if (changed.size === 0 || userEvent.type !== 'UserProfileUpdated') {
          changed.forEach((id) => changedCustomers.add(id));
          continue;
        }
        const customer = customers.get(userEvent.aggregateId)!;
        changedCustomers.add(customer.id);
        renames.push({ customer, event });
        for (const [id, view] of views) {
          if (view.userId === customer.id) {
            const renamed = renameCustomer(view, customer, event);
            views.set(id, renamed);
            history.push(historyRow(renamed, event));
            changedOrders.add(id);
          }
        }
        continue;
      }
      const changed = evolveAll(views, [event as StoredEvent<OrderEvent>], (e) => e.aggregateId, (view, e) =>
        evolveOrderView(view, e, (userId) => customers.get(userId)),
      );
      changed.forEach((id) => {
        changedOrders.add(id);
        history.push(historyRow(views.get(id)!, event));
      });
    }

    // The loaded orders were renamed in memory; the others set-wise.
    const renamed = renames.length > 0 ? await renameUnloaded(tx, renames, [...views.keys()]) : [];
    // One statement for the rest (the three touch different rows, and none the renamed ones). Every state a
    // loaded view passes through has its history row, so the views are upserted from their last rows.
    const writes = [
      upsertStatement(ORDER_VIEW_USER, [...changedCustomers].map((id) => customers.get(id)!)),
      historyWithState(ORDER_VIEW_CHANGE, ORDER_VIEW, history, 'order_id'),
    ];
    return { changed: [...changedOrders, ...renamed], writes };
  },
};
