/**
 * Event schema versions. OrderCancelled v2 added `cancelledBy`; an event
 * stored as v1 by an older release is never rewritten — it is upcast when
 * read, and still projects (and replays) after the shape changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { EVENT_SCHEMA_VERSIONS } from '../../src/domain/events.js';
import { upcast } from '../../src/eventlog/upcasters.js';
import { resetProjection } from '../../src/projections/rebuild.js';
import { ordersProjection } from '../../src/read-models/orders/projection.js';
import { customer } from '../support/auth.js';
import { addProduct, cancel, placeOrder, registerUser } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('upcasters', () => {
  it('lift a v1 OrderCancelled to v2: who cancelled was not recorded', () => {
    expect(EVENT_SCHEMA_VERSIONS.OrderCancelled).toBe(2);
    expect(upcast('OrderCancelled', 1, { orderId: 'o1', reason: 'Out of stock' })).toEqual({
      type: 'OrderCancelled',
      data: { orderId: 'o1', reason: 'Out of stock', cancelledBy: null },
    });
  });

  it('leave events of the current version alone', () => {
    const data = { orderId: 'o1', reason: 'Too late', cancelledBy: 'customer' };
    expect(upcast('OrderCancelled', 2, data)).toEqual({ type: 'OrderCancelled', data });
    expect(upcast('OrderConfirmed', 1, { orderId: 'o1' })).toEqual({ type: 'OrderConfirmed', data: { orderId: 'o1' } });
  });

  it('refuse what this code cannot read, saying why', () => {
    expect(() => upcast('OrderCancelled', 3, {})).toThrow('Event OrderCancelled has schema version 3, newer than this code\'s 2');
    expect(() => upcast('OrderRefunded', 1, {})).toThrow('Unknown event type "OrderRefunded" in the event log');
  });
});

describe('a v1 event in the log', () => {
  let server: TestServer;
  let userId: string;
  let productId: string;
  beforeAll(async () => {
    server = await startTestServer();
    ({ userId } = await registerUser(server, 'Legacy Customer'));
    ({ productId } = await addProduct(server, 'Legacy product', '9.00'));
  });
  afterAll(() => server?.stop());

  const ORDER = `query($id: ID!) { order(id: $id) { status statusDisplay cancellationReason cancelledBy version } }`;

  it('still projects after the shape changed, and replays the same from zero', async () => {
    const { orderId } = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    // As an older release stored it: schema version 1, no cancelledBy.
    await server.app.db.prisma.$executeRaw`
      INSERT INTO event_log (event_id, type, schema_version, aggregate_type, aggregate_id, aggregate_version, data, metadata, occurred_at)
      VALUES (${randomUUID()}::uuid, 'OrderCancelled', 1, 'Order', ${orderId}::uuid, 2,
              ${JSON.stringify({ orderId, reason: 'Out of stock' })}::jsonb, '{"correlationId":"legacy"}'::jsonb, now())`;
    for (const projector of server.app.projectors) await projector.catchUp();

    const expected = { status: 'CANCELLED', statusDisplay: 'Cancelled (Out of stock)', cancellationReason: 'Out of stock', cancelledBy: null, version: 2 };
    expect((await server.ok(ORDER, { id: orderId })).order).toEqual(expected);
    // Stored events are never rewritten.
    const [stored] = await server.app.db.prisma.$queryRaw<Array<{ schema_version: number; data: object }>>`
      SELECT schema_version, data FROM event_log WHERE aggregate_id = ${orderId}::uuid AND type = 'OrderCancelled'`;
    expect(stored).toEqual({ schema_version: 1, data: { orderId, reason: 'Out of stock' } });

    // Replayed from zero, the upcast event gives the same view.
    const projector = server.app.projectors.find((p) => p.name === 'orders')!;
    await projector.stop();
    await resetProjection(server.app.db.prisma, ordersProjection);
    projector.resetCheckpoint();
    await projector.catchUp();
    expect((await server.ok(ORDER, { id: orderId })).order).toEqual(expected);
    projector.start();
  });

  it('new cancellations record who cancelled: the customer, or staff', async () => {
    const mine = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    const cancelled = await server
      .as(customer(userId))
      .ok(`mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: "Changed my mind" }) { order { cancelledBy statusDisplay } } }`, { id: mine.orderId });
    expect(cancelled.cancelOrder.order).toEqual({ cancelledBy: 'CUSTOMER', statusDisplay: 'Cancelled (Changed my mind)' });

    const byStaff = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    expect((await cancel(server, byStaff.orderId, 'Fraud check')).errors).toBeUndefined();
    await expect.poll(async () => (await server.ok(ORDER, { id: byStaff.orderId })).order.cancelledBy).toBe('STAFF');
    // Not cancelled: nobody.
    const open = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    expect((await server.ok(ORDER, { id: open.orderId })).order.cancelledBy).toBeNull();
  });
});
