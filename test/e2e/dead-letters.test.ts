/**
 * Poison events: a projection handler that keeps failing for one aggregate.
 * After a few attempts its event is parked as a dead letter with the error;
 * the projection goes on with every other aggregate, while that aggregate's
 * later events wait behind it (its order is kept). The projection says
 * FAILED and why; an operator retries (after fixing the cause) or skips it.
 * A fault of the moment (database unavailable) is never parked: the
 * projection is STALLED and resumes by itself.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/eventlog/types.js';
import { DatabaseUnavailableError } from '../../src/sql/client.js';
import { customer } from '../support/auth.js';
import { addProduct, cancel, placeOrder, registerUser, transition } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Which (aggregate, event type) pairs the orders projection refuses to apply, and how. */
const poisoned = new Map<string, string>();
let transientFailures = 0;
function fault(projection: string, event: StoredEvent) {
  if (projection !== 'orders') return;
  if (transientFailures > 0 && event.type === 'OrderPlaced') {
    transientFailures--;
    // What the SQL clients throw for a connection lost mid-statement (src/sql/client.ts).
    throw new DatabaseUnavailableError('ambiguous', { cause: new Error('Connection terminated unexpectedly') });
  }
  const type = poisoned.get(event.aggregateId);
  if (type === event.type) throw new Error(`cannot project ${event.type} of ${event.aggregateId} (test fault)`);
}

const STATUS = `{ projections { name status lastError lag deadLetterCount deadLetters { position eventId eventType aggregateType aggregateId state error attempts parkedAt } } }`;
const ORDER = `query($id: ID!) { order(id: $id) { id status version } }`;

let server: TestServer;
let userId: string;
let productId: string;
beforeAll(async () => {
  server = await startTestServer({ projectionFault: fault, READ_YOUR_WRITES_TIMEOUT_MS: 2000 });
  ({ userId } = await registerUser(server, 'Poisoned Customer'));
  ({ productId } = await addProduct(server, 'Poisoned product', '4.00'));
});
afterAll(() => server?.stop());

const ordersStatus = async () => (await server.ok(STATUS)).projections.find((p: { name: string }) => p.name === 'orders');
const orderView = async (id: string) => (await server.ok(ORDER, { id })).order;
const newOrder = async () => (await placeOrder(server, userId, [{ productId, quantity: 1 }])).orderId as string;

describe('a poison event', () => {
  const lettersOf = async (id: string) =>
    ((await ordersStatus()).deadLetters as Array<{ aggregateId: string; eventType: string; state: string; attempts: number }>).filter(
      (d) => d.aggregateId === id,
    );
  /** An order whose confirmation cannot be projected: parked, with its shipment waiting behind it. */
  const parkedPoison = async () => {
    const id = await newOrder();
    poisoned.set(id, 'OrderConfirmed');
    await transition(server, 'confirmOrder', id);
    await transition(server, 'shipOrder', id);
    await expect
      .poll(async () => (await lettersOf(id)).map((d) => [d.eventType, d.state]), { timeout: 15_000 })
      .toEqual([['OrderConfirmed', 'FAILED'], ['OrderShipped', 'WAITING']]);
    return id;
  };
  // Each test starts from a projection without dead letters: the causes are
  // removed and whatever a test parked is applied again.
  afterEach(async () => {
    poisoned.clear();
    for (const id of new Set((await ordersStatus()).deadLetters.map((d: { aggregateId: string }) => d.aggregateId))) {
      await server.ok(`mutation($a: ID!) { retryDeadLetters(projection: "orders", aggregateId: $a) { status } }`, { a: id });
    }
    expect(await ordersStatus()).toMatchObject({ status: 'RUNNING', deadLetterCount: 0 });
  });

  it('is parked after its retries, with the error; other orders go on; later events of its order wait behind it', async () => {
    const poison = await newOrder();
    const healthy = await newOrder();
    poisoned.set(poison, 'OrderConfirmed');
    await transition(server, 'confirmOrder', poison);
    await transition(server, 'confirmOrder', healthy);
    await transition(server, 'shipOrder', poison);

    await expect.poll(async () => (await ordersStatus()).status, { timeout: 15_000 }).toBe('FAILED');
    await expect.poll(async () => (await orderView(healthy)).status, { timeout: 10_000 }).toBe('CONFIRMED');
    await expect.poll(async () => (await ordersStatus()).lag, { timeout: 10_000 }).toBe(0);

    const status = await ordersStatus();
    expect(status.lastError).toBe(`Error: cannot project OrderConfirmed of ${poison} (test fault)`);
    expect(status.deadLetterCount).toBe(2);
    expect(status.deadLetters).toEqual([
      expect.objectContaining({ eventType: 'OrderConfirmed', aggregateType: 'Order', aggregateId: poison, state: 'FAILED', attempts: 3, error: status.lastError }),
      expect.objectContaining({ eventType: 'OrderShipped', aggregateType: 'Order', aggregateId: poison, state: 'WAITING', error: null }),
    ]);
    // The poisoned order stays as it was before its failed event — never half-applied, never out of order.
    expect(await orderView(poison)).toMatchObject({ status: 'PENDING', version: 1 });
    // Other projections were not affected.
    const others = (await server.ok(STATUS)).projections.filter((p: { name: string }) => p.name !== 'orders');
    for (const p of others) expect(p).toMatchObject({ status: 'RUNNING', deadLetterCount: 0, lastError: null });
    // Operators see it in the metrics too.
    const metrics = await (await fetch(new URL('/metrics', server.url))).text();
    expect(metrics).toMatch(/orders_projection_dead_letters\{projection="orders"\} 2/);
  }, 40_000);

  it('later events of other orders keep flowing while it is parked', async () => {
    await parkedPoison();
    const another = await newOrder();
    await transition(server, 'confirmOrder', another);
    await expect.poll(async () => (await orderView(another)).status, { timeout: 10_000 }).toBe('CONFIRMED');
    expect((await ordersStatus()).deadLetterCount).toBe(2);
  }, 40_000);

  it('retrying while the cause persists keeps it parked, counting the attempt and the new error', async () => {
    const poison = await parkedPoison();
    const res = await server.ok(`mutation($a: ID!) { retryDeadLetters(projection: "orders", aggregateId: $a) { status deadLetters { state attempts } } }`, { a: poison });
    expect(res.retryDeadLetters.status).toBe('FAILED');
    expect(res.retryDeadLetters.deadLetters).toEqual([{ state: 'FAILED', attempts: 4 }, { state: 'WAITING', attempts: 0 }]);
  }, 40_000);

  it('only staff may retry or skip', async () => {
    const { orderId } = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    const res = await server.as(customer(userId)).gql(`mutation($a: ID!) { retryDeadLetters(projection: "orders", aggregateId: $a) { status } }`, { a: orderId });
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const bad = await server.gql(`mutation($a: ID!) { skipDeadLetter(projection: "nope", aggregateId: $a) { status } }`, { a: orderId });
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: 'projection: expected one of users, products, orders, sales, got "nope"' });
    // An order without dead letters.
    const none = await server.gql(`mutation($a: ID!) { skipDeadLetter(projection: "orders", aggregateId: $a) { status } }`, { a: orderId });
    expect(none.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('once the cause is fixed, a retry applies it and everything parked behind it, in order', async () => {
    const poison = await parkedPoison();
    poisoned.delete(poison);
    const res = await server.ok(`mutation($a: ID!) { retryDeadLetters(projection: "orders", aggregateId: $a) { name status lastError deadLetterCount } }`, { a: poison });
    expect(res.retryDeadLetters).toEqual({ name: 'orders', status: 'RUNNING', lastError: null, deadLetterCount: 0 });
    expect(await orderView(poison)).toMatchObject({ status: 'SHIPPED', version: 3 });
    // And the order goes on normally afterwards.
    await transition(server, 'deliverOrder', poison);
    await expect.poll(async () => (await orderView(poison)).status, { timeout: 10_000 }).toBe('DELIVERED');
  }, 40_000);

  it('skipping drops the failed event and applies the ones waiting behind it', async () => {
    const skipped = await newOrder();
    poisoned.set(skipped, 'OrderConfirmed');
    await transition(server, 'confirmOrder', skipped);
    await expect.poll(async () => (await ordersStatus()).deadLetterCount, { timeout: 15_000 }).toBe(1);
    expect((await cancel(server, skipped, 'Changed my mind')).errors).toBeUndefined();
    await expect.poll(async () => (await ordersStatus()).deadLetterCount, { timeout: 10_000 }).toBe(2);

    const res = await server.ok(`mutation($a: ID!) { skipDeadLetter(projection: "orders", aggregateId: $a) { status deadLetterCount } }`, { a: skipped });
    expect(res.skipDeadLetter).toEqual({ status: 'RUNNING', deadLetterCount: 0 });
    expect(await orderView(skipped)).toMatchObject({ status: 'CANCELLED', version: 3 });
  }, 40_000);
});

describe('a fault of the moment', () => {
  it('is never parked: the projection is STALLED, says why, and resumes by itself', async () => {
    transientFailures = 4;
    // Without asking for the order itself: its projection is what is stuck.
    const placed = await server.ok(`mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { orderId } }`, {
      input: { userId, items: [{ productId, quantity: 1 }] },
    });
    const orderId = placed.placeOrder.orderId as string;
    await expect.poll(async () => (await ordersStatus()).status, { timeout: 10_000 }).toBe('STALLED');
    expect((await ordersStatus()).lastError).toBe('DatabaseUnavailableError: The database is unavailable right now; retry shortly');
    await expect.poll(async () => (await orderView(orderId))?.status, { timeout: 20_000 }).toBe('PENDING');
    const status = await ordersStatus();
    expect(status).toMatchObject({ status: 'RUNNING', lastError: null, deadLetterCount: 0 });
  }, 40_000);
});

describe('dead letters are listed in log order', () => {
  it('by position as a number, not as text (…:999 before …:1000)', async () => {
    const { listDeadLetters } = await import('../../src/projections/dead-letters.js');
    const db = server.app.readDb.prisma;
    const aggregateId = '00000000-0000-4000-8000-000000000999';
    for (const pos of [1000, 999, 10]) {
      await db.$executeRaw`
        INSERT INTO projection_dead_letter (projection, tx, pos, event_id, event_type, aggregate_type, aggregate_id, state, error, attempts, parked_at)
        VALUES ('sorting', 1, ${pos}, gen_random_uuid(), 'OrderConfirmed', 'Order', ${aggregateId}::uuid, 'WAITING', NULL, 0, now())`;
    }
    const letters = await listDeadLetters(db, { projection: 'sorting' });
    expect(letters.map((l) => l.position)).toEqual(['1:10', '1:999', '1:1000']);
    await db.$executeRaw`DELETE FROM projection_dead_letter WHERE projection = 'sorting'`;
  });
});
