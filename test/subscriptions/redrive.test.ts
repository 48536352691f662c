/**
 * A dead letter applied again by an operator reaches live subscribers. The
 * redrive is carried out where its request stands in the event log, so the
 * changes it makes sort after everything the change feed has already sent:
 * a subscriber that has moved on gets them live, and one that resumes with
 * `since` from a position before the request gets them in its replay.
 */
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compareCursors, parseCursor } from '../../src/eventlog/cursor.js';
import type { StoredEvent } from '../../src/eventlog/types.js';
import { addProduct, placeOrder, registerUser, transition } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { openSubscriptions } from '../support/subscriber-queues.js';
import { record, wsClient } from '../support/ws.js';

/** Which (aggregate, event type) pairs the orders projection refuses to apply. */
const poisoned = new Map<string, string>();
function fault(projection: string, event: StoredEvent) {
  if (projection !== 'orders') return;
  if (poisoned.get(event.aggregateId) === event.type) throw new Error(`cannot project ${event.type} (test fault)`);
}

const STATUS = `{ projections { name status deadLetters { aggregateId eventType state } } }`;
const ALL = `subscription($since: String) { ordersChanged(since: $since) { id status version userName position } }`;
const ONE = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { id status version position } }`;
const RETRY = `mutation($a: ID!) { retryDeadLetters(projection: "orders", aggregateId: $a) { status deadLetterCount } }`;

interface Message {
  id: string;
  status: string;
  version: number;
  userName: string;
  position: string;
}

let server: TestServer;
let client: Client;
let productId: string;
beforeAll(async () => {
  server = await startTestServer({ projectionFault: fault, READ_YOUR_WRITES_TIMEOUT_MS: 1000 });
  client = wsClient(server.url);
  ({ productId } = await addProduct(server, 'Redriven item', '3.00'));
});
afterAll(async () => {
  await client?.dispose();
  await server?.stop();
});
afterEach(() => poisoned.clear());

const lettersOf = async (aggregateId: string) =>
  ((await server.ok(STATUS)).projections.find((p: { name: string }) => p.name === 'orders').deadLetters as Array<{
    aggregateId: string;
    eventType: string;
    state: string;
  }>)
    .filter((d) => d.aggregateId === aggregateId)
    .map((d) => [d.eventType, d.state]);

const after = (a: string, b: string) => compareCursors(parseCursor(a)!, parseCursor(b)!) > 0;

describe('a redriven dead letter', () => {
  it('reaches subscribers that have moved on, as the state it ends in, after what they were sent', async () => {
    const { userId } = await registerUser(server, 'Redrive Customer');
    const { orderId: poison } = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    const { orderId: healthy } = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    const all = record<{ ordersChanged: Message }>(client, ALL);
    const one = record<{ orderStatusChanged: Message }>(client, ONE, { id: poison });
    await one.next(1); // the current view: PENDING
    await openSubscriptions(server.app, 2);

    poisoned.set(poison, 'OrderConfirmed');
    await transition(server, 'confirmOrder', poison);
    await transition(server, 'shipOrder', poison);
    await expect.poll(() => lettersOf(poison), { timeout: 15_000 }).toEqual([['OrderConfirmed', 'FAILED'], ['OrderShipped', 'WAITING']]);
    // The feed moves on past the parked events' positions.
    await transition(server, 'confirmOrder', healthy);
    await all.until(() => all.data().some((d) => d.ordersChanged.id === healthy && d.ordersChanged.status === 'CONFIRMED'), 10_000, 'the healthy order');
    const sentBefore = all.data().length;
    const lastBefore = all.data()[sentBefore - 1]!.ordersChanged.position;
    expect(all.data().some((d) => d.ordersChanged.id === poison && d.ordersChanged.status !== 'PENDING')).toBe(false);

    poisoned.delete(poison);
    expect((await server.ok(RETRY, { a: poison })).retryDeadLetters).toEqual({ status: 'RUNNING', deadLetterCount: 0 });

    // Live, unfiltered: one message, the order as the redrive left it, positioned after everything sent before.
    await all.until(() => all.data().some((d) => d.ordersChanged.id === poison && d.ordersChanged.status === 'SHIPPED'), 10_000, 'the redriven order');
    const redriven = all.data().slice(sentBefore).filter((d) => d.ordersChanged.id === poison).map((d) => d.ordersChanged);
    expect(redriven).toEqual([expect.objectContaining({ status: 'SHIPPED', version: 3 })]);
    expect(after(redriven[0]!.position, lastBefore)).toBe(true);
    // The order's own subscriber: its snapshot, then the redriven state.
    await one.next(2);
    expect(one.data().map((d) => [d.orderStatusChanged.status, d.orderStatusChanged.version])).toEqual([['PENDING', 1], ['SHIPPED', 3]]);
    // What a query reads is what was sent.
    const { order } = await server.ok(`query($id: ID!) { order(id: $id) { status version position } }`, { id: poison });
    expect(order).toEqual({ status: 'SHIPPED', version: 3, position: redriven[0]!.position });

    // A subscriber that had seen up to `lastBefore` and resumes from there gets it in its replay.
    const resumed = record<{ ordersChanged: Message }>(client, ALL, { since: lastBefore });
    await resumed.until(() => resumed.data().some((d) => d.ordersChanged.id === poison), 10_000, 'the replayed redrive');
    expect(resumed.data().find((d) => d.ordersChanged.id === poison)!.ordersChanged).toMatchObject({ status: 'SHIPPED', version: 3 });

    // And the order goes on as usual, live.
    await transition(server, 'deliverOrder', poison);
    await one.next(3);
    expect(one.data()[2]!.orderStatusChanged).toMatchObject({ status: 'DELIVERED', version: 4 });
    for (const sub of [all, one, resumed]) {
      expect(sub.error).toBeUndefined();
      sub.dispose();
    }
  }, 60_000);

  it('of renames reaches every order of the customer once, with the last name', async () => {
    const { userId } = await registerUser(server, 'First Name');
    const orders = [];
    for (let i = 0; i < 3; i++) orders.push((await placeOrder(server, userId, [{ productId, quantity: 1 }])).orderId as string);
    const all = record<{ ordersChanged: Message }>(client, ALL);
    await openSubscriptions(server.app, 1);

    poisoned.set(userId, 'UserProfileUpdated');
    const rename = `mutation($input: UpdateUserProfileInput!) { updateUserProfile(input: $input) { userId } }`;
    await server.ok(rename, { input: { userId, expectedVersion: 1, name: 'Second Name' } });
    await server.ok(rename, { input: { userId, expectedVersion: 2, name: 'Third Name' } });
    await expect.poll(() => lettersOf(userId), { timeout: 15_000 }).toEqual([['UserProfileUpdated', 'FAILED'], ['UserProfileUpdated', 'WAITING']]);
    // Nothing was sent for the parked renames; the feed moves on past them.
    expect(all.data()).toEqual([]);
    const { orderId: later } = await placeOrder(server, (await registerUser(server, 'Someone Else')).userId, [{ productId, quantity: 1 }]);
    await all.next(1);
    expect(all.data()[0]!.ordersChanged.id).toBe(later);
    const sentBefore = all.data().length;
    const lastBefore = all.data()[sentBefore - 1]!.ordersChanged.position;

    poisoned.delete(userId);
    expect((await server.ok(RETRY, { a: userId })).retryDeadLetters).toEqual({ status: 'RUNNING', deadLetterCount: 0 });
    await all.until(() => all.data().length >= sentBefore + orders.length, 10_000, 'one message per order');
    const renamed = all.data().slice(sentBefore).map((d) => d.ordersChanged);
    expect(renamed.map((m) => m.id).sort()).toEqual([...orders].sort());
    for (const m of renamed) {
      expect(m.userName).toBe('Third Name');
      expect(after(m.position, lastBefore)).toBe(true);
    }
    // All at the request's position, and the views say the same.
    expect(new Set(renamed.map((m) => m.position)).size).toBe(1);
    const { order } = await server.ok(`query($id: ID!) { order(id: $id) { user { name } position } }`, { id: orders[0] });
    expect(order).toEqual({ user: { name: 'Third Name' }, position: renamed[0]!.position });
    expect(all.error).toBeUndefined();
    all.dispose();
  }, 60_000);
});
