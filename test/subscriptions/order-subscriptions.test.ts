import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { addProduct, cancel, placeOrder, registerUser, transition } from '../support/operations.js';
import { record, wsClient } from '../support/ws.js';

let server: TestServer;
let client: Client;
beforeAll(async () => {
  server = await startTestServer();
  client = wsClient(server.url);
});
afterAll(async () => {
  await client?.dispose();
  await server?.stop();
});

const STATUS = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { id status version position statusDisplay user { name } } }`;

async function newOrder(name = 'Subscriber') {
  const { userId } = await registerUser(server, name);
  const p = await addProduct(server, 'Sub item', '4.00');
  return { userId, productId: p.productId, ...(await placeOrder(server, userId, [{ productId: p.productId, quantity: 1 }])) };
}

describe('orderStatusChanged', () => {
  it('sends the current view first, then one message per change in version order', async () => {
    const { orderId } = await newOrder();
    const sub = record(client, STATUS, { id: orderId });
    await sub.next(1);
    await transition(server, 'confirmOrder', orderId);
    await transition(server, 'shipOrder', orderId);
    await transition(server, 'deliverOrder', orderId);
    await sub.next(4);
    expect(sub.data().map((d: any) => [d.orderStatusChanged.status, d.orderStatusChanged.version])).toEqual([
      ['PENDING', 1], ['CONFIRMED', 2], ['SHIPPED', 3], ['DELIVERED', 4],
    ]);
    expect(sub.data()[0].orderStatusChanged.user).toEqual({ name: 'Subscriber' });
    sub.dispose();
  });

  it('waits for an order that does not exist yet, then starts with its first view', async () => {
    const { orderId } = await newOrder();
    // Subscribe to an id that will never exist: no message.
    const ghost = record(client, STATUS, { id: '00000000-0000-4000-8000-000000000001' });
    const sub = record(client, STATUS, { id: orderId });
    await sub.next(1);
    await cancel(server, orderId, 'no longer needed');
    await sub.next(2);
    expect(sub.data()[1].orderStatusChanged).toMatchObject({ status: 'CANCELLED', statusDisplay: 'Cancelled (no longer needed)' });
    expect(ghost.messages).toEqual([]);
    ghost.dispose();
    sub.dispose();
  });

  it('answers invalid arguments with a protocol error and keeps the connection usable', async () => {
    const bad = record(client, STATUS, { id: 'not-an-id' });
    await bad.failed();
    expect(JSON.stringify(bad.error)).toContain('BAD_USER_INPUT');
    const badSince = record(client, `subscription { ordersChanged(since: "yesterday") { id } }`);
    await badSince.failed();
    const wrongType = record(client, STATUS, { id: 42.5 });
    await wrongType.failed();
    const { orderId } = await newOrder();
    const good = record(client, STATUS, { id: orderId });
    await good.next(1);
    good.dispose();
  });
});

describe('ordersChanged', () => {
  it('delivers only changes matching the status filter, as of the change', async () => {
    const sub = record(client, `subscription { ordersChanged(filter: {status: CONFIRMED}) { id status } }`);
    // Give the subscription a moment to be registered before changes start.
    await new Promise((r) => setTimeout(r, 200));
    const a = await newOrder('Filter A');
    const b = await newOrder('Filter B');
    await transition(server, 'confirmOrder', a.orderId);
    await transition(server, 'confirmOrder', b.orderId);
    await transition(server, 'shipOrder', a.orderId);
    await sub.next(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.data().map((d: any) => d.ordersChanged)).toEqual([
      { id: a.orderId, status: 'CONFIRMED' },
      { id: b.orderId, status: 'CONFIRMED' },
    ]);
    sub.dispose();
  });

  it('replays every change after `since`, then goes live, with no gap and no duplicate at the seam', async () => {
    const { userId, productId, orderId, position } = await newOrder('Replayer');
    const filter = { userId };
    await transition(server, 'confirmOrder', orderId);
    const second = await placeOrder(server, userId, [{ productId, quantity: 2 }]);
    await transition(server, 'shipOrder', orderId);
    const sub = record(client, `subscription($f: OrderFilter, $since: String) { ordersChanged(filter: $f, since: $since) { id version position } }`, {
      f: filter,
      since: position,
    });
    // While the replay runs, more changes commit.
    const live = (async () => {
      await transition(server, 'confirmOrder', second.orderId);
      await transition(server, 'deliverOrder', orderId);
    })();
    await live;
    await sub.next(5);
    await new Promise((r) => setTimeout(r, 300));
    const seen = sub.data().map((d: any) => [d.ordersChanged.id, d.ordersChanged.version]);
    expect(seen).toEqual([
      [orderId, 2],
      [second.orderId, 1],
      [orderId, 3],
      [second.orderId, 2],
      [orderId, 4],
    ]);
    // Resuming from the last position seen replays nothing already seen.
    const last = sub.data().at(-1).ordersChanged.position;
    sub.dispose();
    const resumed = record(client, `subscription($f: OrderFilter, $since: String) { ordersChanged(filter: $f, since: $since) { id version } }`, {
      f: filter,
      since: last,
    });
    await cancel(server, second.orderId, 'resume test');
    await resumed.next(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(resumed.data().map((d: any) => [d.ordersChanged.id, d.ordersChanged.version])).toEqual([[second.orderId, 3]]);
    resumed.dispose();
  });
});

describe('userProfileChanged', () => {
  it('sends the current profile, then each change', async () => {
    const { userId } = await registerUser(server, 'Profile');
    const sub = record(client, `subscription($id: ID!) { userProfileChanged(userId: $id) { name version position } }`, { id: userId });
    await sub.next(1);
    await server.ok(`mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { version } }`, {
      i: { userId, expectedVersion: 1, name: 'Profile 2' },
    });
    await sub.next(2);
    expect(sub.data().map((d: any) => [d.userProfileChanged.name, d.userProfileChanged.version])).toEqual([
      ['Profile', 1],
      ['Profile 2', 2],
    ]);
    sub.dispose();
  });
});
