import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addProduct, placeOrder, registerUser } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { openSubscriptions } from '../support/subscriber-queues.js';
import { record, wsClient } from '../support/ws.js';

/**
 * The operations of one WebSocket connection share their (uncached) loaders:
 * a connection's subscriptions that need the same customer for one change read
 * it in one statement, as one request's fields do. Without the cache, so that
 * every read reaches the database and shows in the statements.
 */

let server: TestServer;
let first: Client;
let second: Client;
beforeAll(async () => {
  server = await startTestServer({ CACHE_ENABLED: false });
  first = wsClient(server.url);
  second = wsClient(server.url);
});
afterAll(async () => {
  await first?.dispose();
  await second?.dispose();
  await server?.stop();
});

// Two different documents, so that neither shares the other's execution (websocket.ts, sharedSubscribe).
const WITH_NAME = `subscription($userId: ID) { ordersChanged(filter: { userId: $userId }) { id user { name } } }`;
const WITH_EMAIL = `subscription($userId: ID) { ordersChanged(filter: { userId: $userId }) { id status user { email } } }`;
const userReads = () => server.statements.filter((sql) => /FROM user_view WHERE id = ANY/.test(sql)).length;

it("reads a change's customer once for all the subscriptions of one connection, once more for another connection", async () => {
  const { userId } = await registerUser(server, 'Shared Loader');
  const { productId } = await addProduct(server, 'Loader item', '3.00');
  const subscriptions = [
    record(first, WITH_NAME, { userId }),
    record(first, WITH_EMAIL, { userId }),
    record(second, WITH_NAME, { userId }),
    record(second, WITH_EMAIL, { userId }),
  ];
  // Registered in the hub before the first change (ordersChanged without `since` starts at the next one).
  await openSubscriptions(server.app, subscriptions.length);
  await placeOrder(server, userId, [{ productId, quantity: 1 }]);
  await Promise.all(subscriptions.map((s) => s.next(1)));

  server.statements.length = 0;
  await placeOrder(server, userId, [{ productId, quantity: 1 }]);
  await Promise.all(subscriptions.map((s) => s.next(2)));

  expect(subscriptions.map((s) => s.data()[1].ordersChanged.user)).toEqual([
    { name: 'Shared Loader' },
    { email: expect.any(String) },
    { name: 'Shared Loader' },
    { email: expect.any(String) },
  ]);
  // One read per connection: each connection's two subscriptions batched theirs.
  expect(userReads()).toBe(2);
  for (const s of subscriptions) s.dispose();
});
