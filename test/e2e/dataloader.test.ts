import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { addProduct, registerUser } from '../support/operations.js';

let server: TestServer;
beforeAll(async () => {
  // Batching alone: with the cache, a second query would find users and products cached (test/e2e/cache.test.ts).
  server = await startTestServer({ CACHE_ENABLED: false });
  const users = await Promise.all(Array.from({ length: 10 }, (_, i) => registerUser(server, `Customer ${i}`)));
  const products = await Promise.all(Array.from({ length: 20 }, (_, i) => addProduct(server, `Product ${i}`, `${i + 1}.00`)));
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const n = batch * 10 + i;
        return server.ok(`mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { orderId } }`, {
          input: {
            userId: users[n % users.length]!.userId,
            items: [0, 1, 2].map((k) => ({ productId: products[(n + k * 7) % products.length]!.productId, quantity: k + 1 })),
          },
        });
      }),
    );
  }
  for (const projector of server.app.projectors) await projector.catchUp();
  // Events of transactions still running elsewhere on the server (another test's database) may not be readable yet.
  const deadline = Date.now() + 20_000;
  while ((await server.ok('{ orders(pageSize: 1) { total } }')).orders.total < 100 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 120_000);
afterAll(() => server?.stop());

const NESTED = `query($size: Int!) {
  orders(pageSize: $size) {
    orders { id user { name orderCount orders(pageSize: 5) { total orders { id } } } items { productName product { name price } } }
  }
}`;

/** Background work (projectors, subscription feeds) also sends statements; they are not the query's. */
const BACKGROUND = /event_log|_change|projection_checkpoint|pg_notify/;

/** SQL statements one query costs. */
async function statementsFor(pageSize: number) {
  server.statements.length = 0;
  const data = await server.ok(NESTED, { size: pageSize });
  return { count: server.statements.filter((sql) => !BACKGROUND.test(sql)).length, data };
}

describe('nested fields through DataLoaders', () => {
  it('cost a small constant number of statements, whatever the page size', async () => {
    const large = await statementsFor(100);
    expect(large.data.orders.orders).toHaveLength(100);
    expect(large.data.orders.orders.every((o: any) => o.user.name.startsWith('Customer') && o.items.length === 3)).toBe(true);
    expect(large.data.orders.orders[0].user.orders.orders).toHaveLength(5);
    const small = await statementsFor(5);
    // orders page + count, users, products, user order pages (ids, totals, rows).
    expect(large.count).toBeLessThanOrEqual(8);
    expect(large.count).toBe(small.count);
  });
});
