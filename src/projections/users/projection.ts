import type { OrderCancelled, OrderPlaced } from '../../domain/orders.js';
import type { UserEvent } from '../../domain/users.js';
import type { StoredEvent } from '../../eventlog/types.js';
import { unique } from '../batch.js';
import type { Projection, ReadModelTx } from '../projection.js';
import { changesStatement, idArray, upsertStatement, writeAll, type TableSpec } from '../sql.js';
import { usersByIds } from './queries.js';
import {
  USER_EVENTS,
  USER_ORDER_EVENTS,
  evolveUserOrder,
  evolveUserView,
  type UserOrderRecord,
  type UserView,
} from './view.js';

const USER_VIEW: TableSpec = {
  table: 'user_view',
  key: 'id',
  columns: {
    id: 'uuid', name: 'text', email: 'text', version: 'int', order_count: 'int', total_spent: 'numeric',
    last_tx: 'bigint', last_pos: 'bigint', created_at: 'timestamptz', updated_at: 'timestamptz',
  },
};

const USER_VIEW_ORDER: TableSpec = {
  table: 'user_view_order',
  key: 'order_id',
  columns: { order_id: 'uuid', user_id: 'uuid', total: 'numeric', cancelled: 'boolean', version: 'int' },
};

const USER_VIEW_CHANGE: TableSpec = {
  table: 'user_view_change',
  key: 'tx, pos, user_id',
  columns: { tx: 'bigint', pos: 'bigint', user_id: 'uuid', view: 'jsonb' },
};

/** The view as a row of `user_view` (also the JSON kept in its change history). */
export function toRow(v: UserView) {
  return {
    id: v.id, name: v.name, email: v.email, version: v.version, order_count: v.orderCount,
    total_spent: v.totalSpent, last_tx: v.lastTx.toString(), last_pos: v.lastPos.toString(),
    created_at: v.createdAt.toISOString(), updated_at: v.updatedAt.toISOString(),
  };
}

type Relevant = StoredEvent<UserEvent> | StoredEvent<OrderPlaced | OrderCancelled>;

/** Maintains `user_view` (profile, order count, total spent) from user and order events. */
export const usersProjection: Projection = {
  name: 'users',
  tables: ['user_view', 'user_view_order', 'user_view_change'],
  handles: (event) => USER_EVENTS.has(event.type) || USER_ORDER_EVENTS.has(event.type),
  async apply(tx: ReadModelTx, events: readonly StoredEvent[]) {
    const relevant = events.filter(
      (e): e is Relevant => USER_EVENTS.has(e.type) || USER_ORDER_EVENTS.has(e.type),
    );
    if (relevant.length === 0) return;

    const orderIds = unique(relevant.filter((e) => e.aggregateType === 'Order').map((e) => e.aggregateId));
    const records = new Map<string, UserOrderRecord>(
      (orderIds.length
        ? await tx.$queryRaw<UserOrderRecord[]>`
            SELECT order_id::text AS "orderId", user_id::text AS "userId", total::text AS total, cancelled, version
            FROM user_view_order WHERE order_id = ANY(${idArray(orderIds)})`
        : []
      ).map((r) => [r.orderId, r]),
    );
    const userIds = unique([
      ...relevant.map((e) => (e.type === 'OrderPlaced' ? e.data.userId : e.type === 'OrderCancelled' ? '' : e.aggregateId)),
      ...[...records.values()].map((r) => r.userId),
    ]).filter(Boolean);
    const views = new Map<string, UserView>((await usersByIds(tx, userIds)).map((v) => [v.id, v]));

    const changedUsers = new Set<string>();
    const history: UserView[] = [];
    const changedRecords = new Set<string>();
    for (const event of relevant) {
      if (event.type === 'UserRegistered' || event.type === 'UserProfileUpdated') {
        const view = views.get(event.aggregateId) ?? null;
        if (view && view.version >= event.aggregateVersion) continue; // already applied
        const next = evolveUserView(view, event);
        views.set(event.aggregateId, next);
        history.push(next);
        changedUsers.add(event.aggregateId);
        continue;
      }
      const record = records.get(event.aggregateId) ?? null;
      if (record && record.version >= event.aggregateVersion) continue; // already applied
      const userId = event.type === 'OrderPlaced' ? event.data.userId : record?.userId;
      const view = userId ? views.get(userId) : undefined;
      if (!view) continue; // an order of a user this log never registered: nothing to count
      const next = evolveUserOrder(view, record, event);
      if (!next) continue;
      views.set(view.id, next.view);
      history.push(next.view);
      records.set(event.aggregateId, next.record);
      changedUsers.add(view.id);
      changedRecords.add(event.aggregateId);
    }

    // One statement for the three tables (they touch different rows).
    await writeAll(tx, [
      upsertStatement(USER_VIEW_ORDER, [...changedRecords].map((id) => {
        const r = records.get(id)!;
        return { order_id: r.orderId, user_id: r.userId, total: r.total, cancelled: r.cancelled, version: r.version };
      })),
      upsertStatement(USER_VIEW, [...changedUsers].map((id) => toRow(views.get(id)!))),
      changesStatement(USER_VIEW_CHANGE, history.map((v) => ({ tx: v.lastTx.toString(), pos: v.lastPos.toString(), user_id: v.id, view: toRow(v) }))),
    ]);
  },
};
