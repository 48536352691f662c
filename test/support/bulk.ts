/**
 * Many orders in a few statements, for tests that need volume (a command over
 * the API costs milliseconds each). Each order is decided by the real domain
 * decider, and its write-model rows and its `OrderPlaced` event are written in
 * the shapes the command side writes (src/write-model/stores.ts,
 * src/eventlog/append.ts); the projections then build the read models from
 * those events as from any others.
 */
import { randomUUID } from 'node:crypto';
import { decideOrder, evolveOrder } from '../../src/domain/orders.js';
import { EVENT_SCHEMA_VERSIONS } from '../../src/domain/events.js';
import { formatMoney, type Cents } from '../../src/domain/money.js';
import { compareCursors, type Cursor } from '../../src/eventlog/cursor.js';
import type { TestServer } from './server.js';

const ROWS_PER_STATEMENT = 1000;

export interface BulkCustomer {
  readonly id: string;
  readonly name: string;
  readonly email: string;
}

export interface BulkProduct {
  readonly id: string;
  readonly name: string;
  readonly price: Cents;
}

/**
 * Places `count` orders of one line (`product`, quantity 1) for `customer`
 * and waits until the orders and users projections applied them. Returns the
 * order ids.
 */
export async function placeOrdersInBulk(
  server: TestServer,
  customer: BulkCustomer,
  product: BulkProduct,
  count: number,
  timeoutMs = 30_000,
): Promise<string[]> {
  const ids: string[] = [];
  let head: Cursor | undefined;
  for (let start = 0; start < count; start += ROWS_PER_STATEMENT) {
    const now = new Date().toISOString();
    const orders: object[] = [];
    const lines: object[] = [];
    const events: object[] = [];
    for (let i = start; i < Math.min(count, start + ROWS_PER_STATEMENT); i++) {
      const orderId = randomUUID();
      ids.push(orderId);
      const placed = decideOrder(
        {
          type: 'PlaceOrder',
          data: { orderId, userId: customer.id, items: [{ productId: product.id, quantity: 1 }], customer, products: [product] },
        },
        null,
      );
      const order = placed.reduce(evolveOrder, null as never);
      orders.push({ id: order.id, user_id: order.userId, status: order.status, total: formatMoney(order.total), version: placed.length, at: now });
      order.lines.forEach((l, index) =>
        lines.push({
          order_id: order.id, line_no: index + 1, product_id: l.productId, product_name: l.productName,
          unit_price: formatMoney(l.unitPrice), quantity: l.quantity,
        }),
      );
      placed.forEach((event, index) =>
        events.push({
          seq: events.length,
          event_id: randomUUID(),
          type: event.type,
          schema_version: EVENT_SCHEMA_VERSIONS[event.type],
          aggregate_type: 'Order',
          aggregate_id: order.id,
          aggregate_version: index + 1,
          data: event.data,
          metadata: { correlationId: `bulk-${start}` },
          occurred_at: now,
        }),
      );
    }
    // One statement: state and events commit together, as a command's save does.
    const rows = await server.app.db.sql.$queryRaw<Array<{ tx: string; pos: string }>>`
      WITH o AS (
        INSERT INTO orders (id, user_id, status, cancellation_reason, total, version, created_at, updated_at)
        SELECT x.id, x.user_id, x.status::"OrderStatus", NULL, x.total, x.version, x.at, x.at
        FROM jsonb_to_recordset(${JSON.stringify(orders)}::jsonb)
          AS x(id uuid, user_id uuid, status text, total numeric, version int, at timestamptz)
        RETURNING id
      ), l AS (
        INSERT INTO order_lines (order_id, line_no, product_id, product_name, unit_price, quantity)
        SELECT x.order_id, x.line_no, x.product_id, x.product_name, x.unit_price, x.quantity
        FROM jsonb_to_recordset(${JSON.stringify(lines)}::jsonb)
          AS x(order_id uuid, line_no int, product_id uuid, product_name text, unit_price numeric, quantity int)
      )
      INSERT INTO event_log (event_id, type, schema_version, aggregate_type, aggregate_id, aggregate_version, data, metadata, occurred_at)
      SELECT x.event_id, x.type, x.schema_version, x.aggregate_type, x.aggregate_id, x.aggregate_version, x.data, x.metadata, x.occurred_at
      FROM jsonb_to_recordset(${JSON.stringify(events)}::jsonb) AS x(
        seq int, event_id uuid, type text, schema_version int, aggregate_type text, aggregate_id uuid,
        aggregate_version int, data jsonb, metadata jsonb, occurred_at timestamptz)
      ORDER BY x.seq
      RETURNING tx_id::text AS tx, position::text AS pos`;
    for (const row of rows) {
      const cursor = { tx: BigInt(row.tx), pos: BigInt(row.pos) };
      if (!head || compareCursors(cursor, head) > 0) head = cursor;
    }
  }
  if (!head) return ids;
  // Nothing announced these commits: wake the projectors that read them.
  const readers = server.app.projectors.filter((p) => p.name === 'orders' || p.name === 'users');
  for (const projector of readers) projector.wake(head);
  await Promise.all(readers.map((p) => server.app.progress.waitFor(p.name, head!, timeoutMs)));
  return ids;
}
