import type { OrderCancelled, OrderPlaced } from '../../domain/orders.js';
import type { UserEvent } from '../../domain/users.js';
import type { StoredEvent } from '../../eventlog/types.js';
import type { Projection, ReadModelTx } from '../../projections/projection.js';
import { idArray } from '../../sql/fragments.js';
import { unique } from '../batch.js';
import { traceOf } from '../changes.js';
import { historyWithState, upsertStatement } from '../sql.js';
import { usersByIds } from './queries.js';
import { USER_VIEW, USER_VIEW_CHANGE, USER_VIEW_ORDER } from './tables.js';
import {
  USER_EVENTS,
  USER_ORDER_EVENTS,
  evolveUserOrder,
  evolveUserView,
  type UserOrderRecord,
  type UserView,
} from './view.js';

type Relevant = StoredEvent<UserEvent> | StoredEvent<OrderPlaced | OrderCancelled>;

/** Maintains `user_view` (profile, order count, total spent) from user and order events. */
export const usersProjection: Projection = {
  name: 'users',
  tables: [USER_VIEW.name, USER_VIEW_ORDER.name, USER_VIEW_CHANGE.name],
  handles: (event) => USER_EVENTS.has(event.type) || USER_ORDER_EVENTS.has(event.type),
  async apply(tx: ReadModelTx, events: readonly StoredEvent[]) {
    const relevant = events.filter(
      (e): e is Relevant => USER_EVENTS.has(e.type) || USER_ORDER_EVENTS.has(e.type),
    );
    if (relevant.length === 0) return;

    const orderIds = unique(relevant.filter((e) => e.aggregateType === 'Order').map((e) => e.aggregateId));
    const records = new Map<string, UserOrderRecord>(
      (orderIds.length
        ? await tx.$queryRaw<Array<Record<string, unknown>>>`
            SELECT ${USER_VIEW_ORDER.selectList()} FROM user_view_order WHERE order_id = ANY(${idArray(orderIds)})`
        : []
      ).map((row) => {
        const r = USER_VIEW_ORDER.fromRow(row);
        return [r.orderId, r];
      }),
    );
    const userIds = unique([
      ...relevant.map((e) => (e.type === 'OrderPlaced' ? e.data.userId : e.type === 'OrderCancelled' ? '' : e.aggregateId)),
      ...[...records.values()].map((r) => r.userId),
    ]).filter(Boolean);
    const views = new Map<string, UserView>((await usersByIds(tx, userIds)).map((v) => [v.id, v]));

    const changedUsers = new Set<string>();
    // Every state a view passes through, in log order, with the event that caused it.
    const history: Array<{ view: UserView; event: StoredEvent }> = [];
    const changedRecords = new Set<string>();
    for (const event of relevant) {
      if (event.type === 'UserRegistered' || event.type === 'UserProfileUpdated') {
        const view = views.get(event.aggregateId) ?? null;
        if (view && view.version >= event.aggregateVersion) continue; // already applied
        const next = evolveUserView(view, event);
        views.set(event.aggregateId, next);
        history.push({ view: next, event });
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
      history.push({ view: next.view, event });
      records.set(event.aggregateId, next.record);
      changedUsers.add(view.id);
      changedRecords.add(event.aggregateId);
    }

    // One statement for the three tables (they touch different rows). Every state a view passes through
    // has its history row, so the views are upserted from their last rows.
    const writes = [
      upsertStatement(USER_VIEW_ORDER, [...changedRecords].map((id) => records.get(id)!)),
      historyWithState(
        USER_VIEW_CHANGE,
        USER_VIEW,
        history.map(({ view: v, event }) => ({ tx: v.lastTx, pos: v.lastPos, userId: v.id, view: USER_VIEW.toRecord(v), traceContext: traceOf(event) })),
        'user_id',
      ),
    ];
    return { changed: [...changedUsers], writes };
  },
};
