import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testDbKind, type TestServer } from '../support/server.js';
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

  /**
   * A lost race, held in place: a transaction of the test's own locks the
   * order's write-model row, so each command loads the order as PENDING and
   * then waits in its save; the one that asked first saves first once the lock
   * is released, and the other loses the race, reloads and decides again on
   * the new state. (PGlite has a single connection: nothing can be held there.)
   */
  describe.runIf(testDbKind() === 'postgres')('a lost race without expectedVersion is decided again on fresh state', () => {
    let admin: pg.Client;
    beforeAll(async () => {
      admin = new pg.Client({ connectionString: server.database.databaseUrl });
      await admin.connect();
    });
    afterAll(() => admin?.end());

    const confirm = (orderId: string) => transition(server, 'confirmOrder', orderId);
    const cancelIt = (orderId: string) =>
      server.gql(`mutation($i: CancelOrderInput!) { cancelOrder(input: $i) { version order { status version } } }`, { i: { orderId, reason: 'race' } });
    /** Saves waiting for a lock in this test's database. */
    const waiting = async () =>
      (await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      )).rows[0]!.n;

    /** Runs `first`, then `second`, each blocked in its save after loading the PENDING order; then lets them go. */
    async function race<A, B>(orderId: string, first: () => Promise<A>, second: () => Promise<B>): Promise<[A, B]> {
      await admin.query('BEGIN');
      let released = false;
      try {
        await admin.query('SELECT 1 FROM orders WHERE id = $1::uuid FOR UPDATE', [orderId]);
        const a = first();
        await expect.poll(waiting, { timeout: 10_000 }).toBe(1);
        const b = second();
        await expect.poll(waiting, { timeout: 10_000 }).toBe(2);
        await admin.query('COMMIT');
        released = true;
        return await Promise.all([a, b]);
      } finally {
        if (!released) await admin.query('ROLLBACK');
      }
    }

    const newOrder = async () => {
      const { userId } = await registerUser(server, 'Retry');
      const p = await addProduct(server, 'Retry item', '1.00');
      return (await server.ok(PLACE_ORDER, { input: { userId, items: [{ productId: p.productId, quantity: 1 }] } })).placeOrder.orderId as string;
    };
    const eventsOf = async (orderId: string) =>
      (await admin.query(`SELECT type, aggregate_version AS version FROM event_log WHERE aggregate_id = $1::uuid ORDER BY aggregate_version`, [orderId])).rows;

    it('confirm saves first; the cancel reloads the CONFIRMED order and cancels it', async () => {
      const orderId = await newOrder();
      const [confirmed, cancelled] = await race(orderId, () => confirm(orderId), () => cancelIt(orderId));
      expect(confirmed.errors).toBeUndefined();
      expect(confirmed.data.confirmOrder).toMatchObject({ version: 2, order: { status: 'CONFIRMED' } });
      expect(cancelled).toEqual({ data: { cancelOrder: { version: 3, order: { status: 'CANCELLED', version: 3 } } } });
      expect(await eventsOf(orderId)).toEqual([
        { type: 'OrderPlaced', version: 1 },
        { type: 'OrderConfirmed', version: 2 },
        { type: 'OrderCancelled', version: 3 },
      ]);
    });

    it('cancel saves first; the confirm reloads the CANCELLED order and refuses with INVALID_TRANSITION', async () => {
      const orderId = await newOrder();
      const [cancelled, confirmed] = await race(orderId, () => cancelIt(orderId), () => confirm(orderId));
      expect(cancelled).toEqual({ data: { cancelOrder: { version: 2, order: { status: 'CANCELLED', version: 2 } } } });
      expect(codes(confirmed)).toEqual(['INVALID_TRANSITION']);
      expect(confirmed.errors![0]!.message).toMatch(/CANCELLED.*CONFIRMED/);
      expect(await eventsOf(orderId)).toEqual([
        { type: 'OrderPlaced', version: 1 },
        { type: 'OrderCancelled', version: 2 },
      ]);
    });
  });
});
