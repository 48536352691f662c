import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECTIONS } from '../../src/app.js';
import { resetProjection } from '../../src/projections/rebuild.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addProduct, cancel, placeOrder, registerUser, transition } from '../support/operations.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

async function waitForProjections() {
  for (const projector of server.app.projectors) await projector.catchUp();
}

describe('read models', () => {
  it('follow a customer\'s profile updates on all of their orders, but keep product names as bought', async () => {
    const { userId } = await registerUser(server, 'Old Name');
    const lamp = await addProduct(server, 'Lamp', '30.00');
    const orders = [];
    for (let i = 0; i < 3; i++) orders.push(await placeOrder(server, userId, [{ productId: lamp.productId, quantity: 1 }]));
    await server.ok(
      `mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { user { name } } }`,
      { i: { userId, expectedVersion: 1, name: 'New Name', email: 'new.name@example.com' } },
    );
    await server.ok(
      `mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { name } } }`,
      { i: { productId: lamp.productId, expectedVersion: 1, name: 'Desk Lamp', price: '35.00' } },
    );
    await waitForProjections();
    const data = await server.ok(
      `query($f: OrderFilter) { orders(filter: $f) { orders { userName userEmail user { name } items { productName price product { name price } } } } }`,
      { f: { userId } },
    );
    expect(data.orders.orders).toHaveLength(3);
    for (const order of data.orders.orders) {
      expect(order).toEqual({
        userName: 'New Name',
        userEmail: 'new.name@example.com',
        user: { name: 'New Name' },
        items: [{ productName: 'Lamp', price: '30.00', product: { name: 'Desk Lamp', price: '35.00' } }],
      });
    }
  });

  it('count orders and sum what a user spent, leaving cancelled orders out', async () => {
    const { userId } = await registerUser(server, 'Spender');
    const p = await addProduct(server, 'Gadget', '12.34');
    const a = await placeOrder(server, userId, [{ productId: p.productId, quantity: 2 }]);
    await placeOrder(server, userId, [{ productId: p.productId, quantity: 1 }]);
    await transition(server, 'confirmOrder', a.orderId);
    await cancel(server, a.orderId, 'Out of budget');
    await waitForProjections();
    const data = await server.ok(`query($id: ID!) { user(id: $id) { orderCount totalSpent orders { total orders { status total } } } }`, {
      id: userId,
    });
    expect(data.user).toEqual({
      orderCount: 2,
      totalSpent: '12.34',
      orders: { total: 2, orders: [{ status: 'PENDING', total: '12.34' }, { status: 'CANCELLED', total: '24.68' }] },
    });
  });

  it('rebuilt from zero equal the live state', async () => {
    const snapshot = async () => {
      const db = server.app.readDb.prisma;
      return {
        orders: await db.$queryRaw`SELECT * FROM order_view ORDER BY id`,
        orderUsers: await db.$queryRaw`SELECT * FROM order_view_user ORDER BY id`,
        users: await db.$queryRaw`SELECT * FROM user_view ORDER BY id`,
        userOrders: await db.$queryRaw`SELECT * FROM user_view_order ORDER BY order_id`,
        products: await db.$queryRaw`SELECT * FROM product_view ORDER BY id`,
        orderChanges: await db.$queryRaw`SELECT * FROM order_view_change ORDER BY tx, pos, order_id`,
        userChanges: await db.$queryRaw`SELECT * FROM user_view_change ORDER BY tx, pos, user_id`,
        checkpoints: await db.$queryRaw`SELECT name, last_tx, last_pos FROM projection_checkpoint ORDER BY name`,
      };
    };
    await waitForProjections();
    const live = await snapshot();
    expect((live.orders as unknown[]).length).toBeGreaterThan(3);
    for (const projector of server.app.projectors) await projector.stop();
    for (const projection of PROJECTIONS) await resetProjection(server.app.readDb.prisma, projection);
    expect(((await snapshot()).orders as unknown[]).length).toBe(0);
    for (const projector of server.app.projectors) {
      projector.resetCheckpoint();
      await projector.catchUp();
    }
    expect(await snapshot()).toEqual(live);
  });
});
