import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueEmail } from '../support/operations.js';
import { RawWsClient, sleep } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The change history behind `ordersChanged` must hold every state a view
 * passes through, however the projector happens to batch events. Projectors
 * are driven by hand here, so two profile updates land in one batch.
 */

let server: TestServer;
let client: RawWsClient | undefined;
beforeAll(async () => {
  server = await startTestServer({ runProjectors: false });
});
afterAll(async () => {
  await client?.close();
  await server?.stop();
});

/**
 * Projects the next `events` events, all in one batch. Projectors read only
 * below the oldest transaction still running on the database server (any
 * database: other test runs count), so first wait until all of them are
 * readable, then catch up once.
 */
async function projectTogether(events: number): Promise<void> {
  const deadline = performance.now() + 15_000;
  const lag = async () => (await server.app.read.projections()).find((p) => p.name === 'orders')!.lag;
  while ((await lag()) < events) {
    if (performance.now() > deadline) throw new Error(`fewer than ${events} events readable after 15 s`);
    await sleep(10);
  }
  await Promise.all(server.app.projectors.map((p) => p.catchUp()));
  expect(await lag()).toBe(0);
}

describe('order change history', () => {
  it('has one change per profile update when several updates share a projection batch', async () => {
    // Entities without their read-model fields: nothing waits for a projector.
    const { registerUser } = await server.ok(`mutation($i: RegisterUserInput!) { registerUser(input: $i) { userId } }`, {
      i: { name: 'Batch 0', email: uniqueEmail('batch') },
    });
    const { addProduct } = await server.ok(`mutation($i: AddProductInput!) { addProduct(input: $i) { productId } }`, {
      i: { name: 'Batch item', price: '1.00' },
    });
    const { placeOrder } = await server.ok(`mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orderId position } }`, {
      i: { userId: registerUser.userId, items: [{ productId: addProduct.productId, quantity: 1 }] },
    });
    await projectTogether(3);

    for (const [version, name] of [[1, 'Batch 1'], [2, 'Batch 2']] as const) {
      await server.ok(`mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { version } }`, {
        i: { userId: registerUser.userId, expectedVersion: version, name },
      });
    }
    await projectTogether(2); // both updates in one batch

    client = await RawWsClient.connect(server.url);
    client.subscribe('h', `subscription($f: OrderFilter, $since: String) { ordersChanged(filter: $f, since: $since) { id userName } }`, {
      f: { userId: registerUser.userId },
      since: placeOrder.position,
    });
    await client.messages('h', 1, 10_000);
    await sleep(500);
    expect(client.data('h').map((d) => d.ordersChanged.userName)).toEqual(['Batch 1', 'Batch 2']);
  }, 30_000);
});
