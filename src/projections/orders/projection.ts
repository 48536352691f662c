import type { OrderEvent } from '../../domain/orders.js';
import type { UserEvent } from '../../domain/users.js';
import type { StoredEvent } from '../../eventlog/types.js';
import { evolveAll, unique } from '../batch.js';
import type { Projection, ReadModelTx } from '../projection.js';
import { changesStatement, idArray, upsertStatement, writeAll, type TableSpec } from '../sql.js';
import { ordersByIds } from './queries.js';
import {
  CUSTOMER_EVENTS,
  ORDER_EVENTS,
  evolveCustomer,
  evolveOrderView,
  renameCustomer,
  type Customer,
  type OrderView,
} from './view.js';

const ORDER_VIEW: TableSpec = {
  table: 'order_view',
  key: 'id',
  columns: {
    id: 'uuid', user_id: 'uuid', user_name: 'text', user_email: 'text', items: 'jsonb', item_count: 'int',
    total: 'numeric', status: '"OrderStatus"', cancellation_reason: 'text', cancelled_by: 'text', version: 'int',
    last_tx: 'bigint', last_pos: 'bigint', created_at: 'timestamptz', updated_at: 'timestamptz',
  },
};

const ORDER_VIEW_CHANGE: TableSpec = {
  table: 'order_view_change',
  key: 'tx, pos, order_id',
  columns: { tx: 'bigint', pos: 'bigint', order_id: 'uuid', version: 'int', view: 'jsonb' },
};

const ORDER_VIEW_USER: TableSpec = {
  table: 'order_view_user',
  key: 'id',
  columns: { id: 'uuid', name: 'text', email: 'text', version: 'int' },
};

/** The view as a row of `order_view` (also the JSON kept in its change history). */
export function toRow(v: OrderView) {
  return {
    id: v.id, user_id: v.userId, user_name: v.userName, user_email: v.userEmail, items: v.items,
    item_count: v.itemCount, total: v.total, status: v.status, cancellation_reason: v.cancellationReason, cancelled_by: v.cancelledBy,
    version: v.version, last_tx: v.lastTx.toString(), last_pos: v.lastPos.toString(),
    created_at: v.createdAt.toISOString(), updated_at: v.updatedAt.toISOString(),
  };
}

/**
 * Maintains `order_view`, denormalized with the customer's current name and
 * email. Names come from `order_view_user`, which this projection keeps from
 * user events itself, so it depends on no other projection and no write table.
 */
export const ordersProjection: Projection = {
  name: 'orders',
  tables: ['order_view', 'order_view_user', 'order_view_change'],
  handles: (event) => ORDER_EVENTS.has(event.type) || CUSTOMER_EVENTS.has(event.type),
  async apply(tx: ReadModelTx, events: readonly StoredEvent[]) {
    const relevant = events.filter((e) => ORDER_EVENTS.has(e.type) || CUSTOMER_EVENTS.has(e.type));
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
        ? await tx.$queryRaw<Customer[]>`
            SELECT id::text, name, email, version FROM order_view_user WHERE id = ANY(${idArray(customerIds)})`
        : []
      ).map((c) => [c.id, c]),
    );

    // Apply in log order; a profile update renames the customer on every order.
    const changedOrders = new Set<string>();
    const changedCustomers = new Set<string>();
    // Every rename in log order (history), and the last per customer (state).
    const renames: Array<{ customer: Customer; event: StoredEvent }> = [];
    // Every state a view passes through, in log order: the change history.
    const history: OrderView[] = [];
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
            history.push(renamed);
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
        history.push(views.get(id)!);
      });
    }

    // Orders not loaded in this batch are renamed set-wise (the loaded ones
    // were renamed in memory); the guard on the row's cursor makes a replayed
    // rename a no-op.
    if (renames.length > 0) {
      const rows = renames.map(({ customer, event }) => ({
        user_id: customer.id, name: customer.name, email: customer.email,
        tx: event.cursor.tx.toString(), pos: event.cursor.pos.toString(),
      }));
      const lastPerCustomer = [...new Map(rows.map((r) => [r.user_id, r])).values()];
      const loaded = [...views.keys()].join(',');
      // History first (from the rows as they were): one change per rename and order.
      await tx.$executeRaw`
        INSERT INTO order_view_change (tx, pos, order_id, version, view)
        SELECT x.tx, x.pos, o.id, o.version,
               -- the same JSON as a row written from memory (JSON.stringify)
               to_jsonb(o) || jsonb_build_object(
                 'user_name', x.name, 'user_email', x.email,
                 'total', o.total::text, 'last_tx', x.tx::text, 'last_pos', x.pos::text,
                 'created_at', to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                 'updated_at', to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
        FROM order_view o
        JOIN jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(user_id uuid, name text, email text, tx bigint, pos bigint)
          ON o.user_id = x.user_id
        WHERE (o.last_tx, o.last_pos) < (x.tx, x.pos)
          AND NOT (o.id = ANY(string_to_array(${loaded}, ',')::uuid[]))
        ON CONFLICT DO NOTHING`;
      await tx.$executeRaw`
        UPDATE order_view o SET user_name = x.name, user_email = x.email, last_tx = x.tx, last_pos = x.pos
        FROM jsonb_to_recordset(${JSON.stringify(lastPerCustomer)}::jsonb) AS x(user_id uuid, name text, email text, tx bigint, pos bigint)
        WHERE o.user_id = x.user_id AND (o.last_tx, o.last_pos) < (x.tx, x.pos)
          AND NOT (o.id = ANY(string_to_array(${loaded}, ',')::uuid[]))`;
    }
    // One statement for the rest (the three touch different rows, and none the renamed ones).
    await writeAll(tx, [
      upsertStatement(ORDER_VIEW_USER, [...changedCustomers].map((id) => {
        const c = customers.get(id)!;
        return { id: c.id, name: c.name, email: c.email, version: c.version };
      })),
      upsertStatement(ORDER_VIEW, [...changedOrders].map((id) => toRow(views.get(id)!))),
      changesStatement(ORDER_VIEW_CHANGE, history.map((v) => ({
        tx: v.lastTx.toString(), pos: v.lastPos.toString(), order_id: v.id, version: v.version, view: toRow(v),
      }))),
    ]);
  },
};

