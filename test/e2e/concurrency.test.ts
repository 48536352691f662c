import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { PLACE_ORDER, addProduct, codes, registerUser, transition } from '../support/operations.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

describe('under concurrency', () => {
  it('projects every event of 50 parallel orders and their confirmations exactly once', async () => {
    const { userId } = await registerUser(server, 'Busy');
    const p = await addProduct(server, 'Hot item', '2.50');
    const placed = await Promise.all(
      Array.from({ length: 50 }, () =>
        server.gql(`mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { orderId version } }`, {
          input: { userId, items: [{ productId: p.productId, quantity: 1 }] },
        }),
      ),
    );
    expect(placed.flatMap((r) => r.errors ?? [])).toEqual([]);
    const orderIds = placed.map((r) => r.data.placeOrder.orderId as string);
    const confirmed = await Promise.all(orderIds.map((id) => transition(server, 'confirmOrder', id)));
    expect(confirmed.flatMap((r) => r.errors ?? [])).toEqual([]);
    for (const projector of server.app.projectors) await projector.catchUp();

    const db = server.app.db.prisma;
    const events = await db.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM event_log WHERE aggregate_type = 'Order' AND aggregate_id::text = ANY(string_to_array(${orderIds.join(',')}, ','))`;
    expect(events[0]!.n).toBe(100);
    const views = await server.ok(`query($f: OrderFilter) { orders(filter: $f, pageSize: 100) { total orders { status version } } }`, {
      f: { userId },
    });
    expect(views.orders.total).toBe(50);
    expect(views.orders.orders.every((o: any) => o.status === 'CONFIRMED' && o.version === 2)).toBe(true);
    const user = await server.ok(`query($id: ID!) { user(id: $id) { orderCount totalSpent } }`, { id: userId });
    expect(user.user).toEqual({ orderCount: 50, totalSpent: '125.00' });
    const status = await server.ok(`{ projections { name lag position headPosition } }`);
    for (const projection of status.projections) {
      expect(projection.lag).toBe(0);
      expect(projection.position).toBe(projection.headPosition);
    }
  });

  it('lets exactly one of two racing profile updates with the same expectedVersion win', async () => {
    const { userId } = await registerUser(server, 'Racer');
    const update = (name: string) =>
      server.gql(`mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { version } }`, {
        i: { userId, expectedVersion: 1, name },
      });
    const results = await Promise.all([update('Left'), update('Right')]);
    const winners = results.filter((r) => !r.errors);
    const losers = results.filter((r) => r.errors);
    expect(winners).toHaveLength(1);
    expect(losers.map(codes)).toEqual([['VERSION_CONFLICT']]);
    expect(losers[0]!.errors![0]!.extensions!.currentVersion).toBe(2);
  });

  it('retries a lost race without expectedVersion: parallel confirm + cancel both decide on fresh state', async () => {
    const { userId } = await registerUser(server, 'Retry');
    const p = await addProduct(server, 'Retry item', '1.00');
    const placed = await server.ok(PLACE_ORDER, { input: { userId, items: [{ productId: p.productId, quantity: 1 }] } });
    const orderId = placed.placeOrder.orderId;
    const [confirm, cancel] = await Promise.all([
      transition(server, 'confirmOrder', orderId),
      server.gql(`mutation($i: CancelOrderInput!) { cancelOrder(input: $i) { version } }`, { i: { orderId, reason: 'race' } }),
    ]);
    // Whichever went first, the other re-decided on the new state: cancel always works from PENDING or
    // CONFIRMED; confirm fails only if the cancel came first.
    expect(cancel.errors).toBeUndefined();
    if (confirm.errors) expect(codes(confirm)).toEqual(['INVALID_TRANSITION']);
    const finalVersion = confirm.errors ? 2 : 3;
    expect(cancel.data.cancelOrder.version === finalVersion || confirm.data?.confirmOrder.version === finalVersion).toBe(true);
  });
});
