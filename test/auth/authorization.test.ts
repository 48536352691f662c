import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import { ADMIN, customer } from '../support/auth.js';
import { addProduct, codes, placeOrder, registerUser, transition, uniqueEmail } from '../support/operations.js';
import { startTestServer, type GraphQLResponse, type TestServer } from '../support/server.js';
import { record, wsClient } from '../support/ws.js';

/**
 * Issue 7 §2: who may do what. Every row of the access table is tested both
 * ways — allowed and refused — over HTTP, and subscriptions over graphql-ws.
 * The assertions are what a client sees: error codes and data. A refused
 * command must leave the event log exactly as it was.
 *
 * Cast: Alice and Bob are customers; staff act as ADMIN; GHOST is a
 * well-formed user id nobody registered.
 */

type Who = AuthenticatedActor | 'anonymous';
type Vars = Record<string, unknown>;
type Status = 'PENDING' | 'CONFIRMED' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED';

const GHOST = '00000000-0000-4000-8000-00000000a11c';
const MISSING_ORDER = '00000000-0000-4000-8000-0000000000de';

const ORDER_VIEW = 'id userId status version';

const Q = {
  products: `{ products(pageSize: 100) { total products { id name price } } }`,
  product: `query($id: ID!) { product(id: $id) { id name price } }`,
  order: `query($id: ID!) { order(id: $id) { ${ORDER_VIEW} } }`,
  orders: `query($filter: OrderFilter) { orders(filter: $filter, pageSize: 100) { total orders { ${ORDER_VIEW} } } }`,
  user: `query($id: ID!) { user(id: $id) { id name email version } }`,
  users: `{ users(pageSize: 100) { total users { id } } }`,
  projections: `{ projections { name lag } }`,
};

const M = {
  registerUser: `mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId version user { id name } } }`,
  updateUserProfile: `mutation($input: UpdateUserProfileInput!) { updateUserProfile(input: $input) { userId version user { id name } } }`,
  addProduct: `mutation($input: AddProductInput!) { addProduct(input: $input) { productId version product { id name } } }`,
  updateProduct: `mutation($input: UpdateProductInput!) { updateProduct(input: $input) { productId version product { id name } } }`,
  placeOrder: `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { orderId version order { ${ORDER_VIEW} } } }`,
  confirmOrder: `mutation($input: OrderCommandInput!) { confirmOrder(input: $input) { orderId version order { ${ORDER_VIEW} } } }`,
  shipOrder: `mutation($input: OrderCommandInput!) { shipOrder(input: $input) { orderId version order { ${ORDER_VIEW} } } }`,
  deliverOrder: `mutation($input: OrderCommandInput!) { deliverOrder(input: $input) { orderId version order { ${ORDER_VIEW} } } }`,
  cancelOrder: `mutation($input: CancelOrderInput!) { cancelOrder(input: $input) { orderId version order { ${ORDER_VIEW} } } }`,
};

const S = {
  orderStatusChanged: `subscription($id: ID!) { orderStatusChanged(orderId: $id) { ${ORDER_VIEW} } }`,
  ordersChanged: `subscription($filter: OrderFilter, $since: String) { ordersChanged(filter: $filter, since: $since) { ${ORDER_VIEW} position } }`,
  userProfileChanged: `subscription($id: ID!) { userProfileChanged(userId: $id) { id name version } }`,
};

let server: TestServer;
let alice: string;
let bob: string;
let productId: string;
/** graphql-ws clients opened by the tests, disposed at the end. */
const clients: Client[] = [];

beforeAll(async () => {
  server = await startTestServer();
  alice = (await registerUser(server, 'Alice', uniqueEmail('alice'))).userId;
  bob = (await registerUser(server, 'Bob', uniqueEmail('bob'))).userId;
  productId = (await addProduct(server, 'Access widget', '10.00')).productId;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await server?.stop();
});

const call = (who: Who, query: string, variables?: Vars): Promise<GraphQLResponse> => server.as(who).gql(query, variables);

/** A graphql-ws client signed in as `who`, disposed after the file. */
function socket(who: Who): Client {
  const client = wsClient(server.url, { as: who });
  clients.push(client);
  return client;
}

/** Events in the log: a refused command must not change it. */
async function eventCount(): Promise<number> {
  const rows = await server.app.db.prisma.$queryRawUnsafe<Array<{ n: number }>>('SELECT count(*)::int AS n FROM event_log');
  return rows[0]!.n;
}

/** Runs `request`, expects exactly one error with `code`, no data, and no new event. */
async function refused(code: string, request: () => Promise<GraphQLResponse>): Promise<GraphQLResponse> {
  const before = await eventCount();
  const response = await request();
  expect(codes(response), JSON.stringify(response)).toEqual([code]);
  // The refused field is null (a nullable query field) or takes `data` with it (non-null).
  for (const value of Object.values(response.data ?? {})) expect(value).toBeNull();
  expect(await eventCount()).toBe(before);
  return response;
}

/** Runs `request`, expects no error, and returns `data`. */
async function allowed(request: () => Promise<GraphQLResponse>): Promise<any> {
  const response = await request();
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  return response.data;
}

/** An order of `owner` (placed and moved along by staff) in `status`. */
async function orderIn(owner: string, status: Status = 'PENDING'): Promise<{ orderId: string; position: string }> {
  const placed = await placeOrder(server, owner, [{ productId, quantity: 1 }]);
  let position = placed.position;
  const steps: Record<Status, Array<'confirmOrder' | 'shipOrder' | 'deliverOrder'>> = {
    PENDING: [],
    CONFIRMED: ['confirmOrder'],
    SHIPPED: ['confirmOrder', 'shipOrder'],
    DELIVERED: ['confirmOrder', 'shipOrder', 'deliverOrder'],
    CANCELLED: [],
  };
  for (const step of steps[status]) {
    const res = await transition(server, step, placed.orderId);
    expect(res.errors).toBeUndefined();
    position = res.data[step].position;
  }
  if (status === 'CANCELLED') {
    // Selecting `order` waits until the read model has the cancellation (read-your-writes).
    const res = await server.gql(`mutation($i: CancelOrderInput!) { cancelOrder(input: $i) { position order { status } } }`, {
      i: { orderId: placed.orderId, reason: 'fixture' },
    });
    expect(res.errors).toBeUndefined();
    position = res.data.cancelOrder.position;
  }
  return { orderId: placed.orderId, position };
}

/** The order as staff see it. */
async function statusOf(orderId: string): Promise<string> {
  return (await server.ok(Q.order, { id: orderId })).order.status;
}

async function versionOfUser(userId: string): Promise<number> {
  return (await server.ok(Q.user, { id: userId })).user.version;
}

/** The codes of a graphql-ws protocol error (an array of GraphQL errors). */
function errorCodes(error: unknown): unknown[] {
  return Array.isArray(error) ? error.map((e) => e?.extensions?.code) : [String(error)];
}

/** Subscribes as `who` and expects the subscription to be refused with `code` before any message. */
async function subscriptionRefused(who: Who, query: string, variables: Vars, code: string): Promise<unknown> {
  const sub = record(socket(who), query, variables);
  await sub.failed();
  expect(errorCodes(sub.error)).toEqual([code]);
  expect(sub.messages).toEqual([]);
  return sub.error;
}

/** Replaces an id in a response so responses about different ids can be compared. */
const withoutId = (response: unknown, id: string) => JSON.parse(JSON.stringify(response).split(id).join('<id>'));

// ─────────────────────────────── Anonymous ───────────────────────────────

describe('anonymous (no token)', () => {
  describe('allowed', () => {
    it('products: the catalog', async () => {
      const data = await allowed(() => call('anonymous', Q.products));
      expect(data.products.products.map((p: { id: string }) => p.id)).toContain(productId);
    });

    it('product(id): one catalog entry', async () => {
      const data = await allowed(() => call('anonymous', Q.product, { id: productId }));
      expect(data.product).toMatchObject({ id: productId, name: 'Access widget', price: '10.00' });
    });

    it('registerUser: sign-up', async () => {
      const before = await eventCount();
      const data = await allowed(() => call('anonymous', M.registerUser, { input: { name: 'Newcomer', email: uniqueEmail('signup') } }));
      expect(data.registerUser).toMatchObject({ version: 1, user: { name: 'Newcomer' } });
      expect(await eventCount()).toBe(before + 1);
    });
  });

  describe('refused with UNAUTHENTICATED, nothing written', () => {
    const rows: Array<[string, () => Promise<[string, Vars?]>]> = [
      ['order(id)', async () => [Q.order, { id: (await orderIn(alice)).orderId }]],
      ['orders', async () => [Q.orders]],
      ['user(id)', async () => [Q.user, { id: alice }]],
      ['users', async () => [Q.users]],
      ['projections', async () => [Q.projections]],
      ['updateUserProfile', async () => [M.updateUserProfile, { input: { userId: alice, expectedVersion: await versionOfUser(alice), name: 'Hijacked' } }]],
      ['addProduct', async () => [M.addProduct, { input: { name: 'Free stuff', price: '0.01' } }]],
      ['updateProduct', async () => [M.updateProduct, { input: { productId, expectedVersion: 1, name: 'Renamed' } }]],
      ['placeOrder', async () => [M.placeOrder, { input: { userId: alice, items: [{ productId, quantity: 1 }] } }]],
      ['confirmOrder', async () => [M.confirmOrder, { input: { orderId: (await orderIn(alice)).orderId } }]],
      ['shipOrder', async () => [M.shipOrder, { input: { orderId: (await orderIn(alice, 'CONFIRMED')).orderId } }]],
      ['deliverOrder', async () => [M.deliverOrder, { input: { orderId: (await orderIn(alice, 'SHIPPED')).orderId } }]],
      ['cancelOrder', async () => [M.cancelOrder, { input: { orderId: (await orderIn(alice)).orderId, reason: 'not mine' } }]],
    ];
    for (const [name, operation] of rows) {
      it(name, async () => {
        const [query, variables] = await operation();
        await refused('UNAUTHENTICATED', () => call('anonymous', query, variables));
      });
    }

    it('a refused command leaves its target unchanged (cancelOrder: the order stays PENDING)', async () => {
      const { orderId } = await orderIn(alice);
      await refused('UNAUTHENTICATED', () => call('anonymous', M.cancelOrder, { input: { orderId, reason: 'nope' } }));
      expect(await statusOf(orderId)).toBe('PENDING');
    });
  });

  describe('subscriptions over graphql-ws (anonymous connection): UNAUTHENTICATED', () => {
    it('orderStatusChanged', async () => {
      await subscriptionRefused('anonymous', S.orderStatusChanged, { id: (await orderIn(alice)).orderId }, 'UNAUTHENTICATED');
    });
    it('ordersChanged', async () => {
      await subscriptionRefused('anonymous', S.ordersChanged, {}, 'UNAUTHENTICATED');
    });
    it('userProfileChanged', async () => {
      await subscriptionRefused('anonymous', S.userProfileChanged, { id: alice }, 'UNAUTHENTICATED');
    });
  });

  describe('queries and mutations over graphql-ws follow the same rules', () => {
    it('products is allowed; placeOrder is UNAUTHENTICATED and writes nothing', async () => {
      const client = socket('anonymous');
      const products = record(client, Q.products);
      await products.next(1);
      expect(products.messages[0]!.errors).toBeUndefined();
      expect(products.data()[0].products.total).toBeGreaterThan(0);

      const before = await eventCount();
      const place = record(client, M.placeOrder, { input: { userId: alice, items: [{ productId, quantity: 1 }] } });
      await place.next(1);
      expect(codes(place.messages[0] as GraphQLResponse)).toEqual(['UNAUTHENTICATED']);
      expect(place.messages[0]!.data ?? null).toBeNull();
      expect(await eventCount()).toBe(before);
    });
  });
});

// ─────────────────────────────── Customer ───────────────────────────────

describe('customer', () => {
  const as = () => customer(alice);

  describe('public operations stay open', () => {
    it('products and product(id)', async () => {
      await allowed(() => call(as(), Q.products));
      const data = await allowed(() => call(as(), Q.product, { id: productId }));
      expect(data.product.id).toBe(productId);
    });
  });

  describe('user(id): self only', () => {
    it('allowed: self', async () => {
      const data = await allowed(() => call(as(), Q.user, { id: alice }));
      expect(data.user).toMatchObject({ id: alice, name: expect.any(String) });
    });

    it('refused: another existing user → FORBIDDEN', async () => {
      await refused('FORBIDDEN', () => call(as(), Q.user, { id: bob }));
    });

    it('refused: a user that does not exist → FORBIDDEN, the same response as for an existing one', async () => {
      const ghost = await refused('FORBIDDEN', () => call(as(), Q.user, { id: GHOST }));
      const existing = await call(as(), Q.user, { id: bob });
      expect(withoutId(ghost, GHOST)).toEqual(withoutId(existing, bob));
    });
  });

  describe('updateUserProfile: self only', () => {
    it('allowed: self', async () => {
      const version = await versionOfUser(alice);
      const data = await allowed(() =>
        call(as(), M.updateUserProfile, { input: { userId: alice, expectedVersion: version, name: 'Alice Liddell' } }),
      );
      expect(data.updateUserProfile).toMatchObject({ userId: alice, version: version + 1, user: { name: 'Alice Liddell' } });
    });

    it('refused: another existing user → FORBIDDEN, nothing written, the profile unchanged', async () => {
      const version = await versionOfUser(bob);
      await refused('FORBIDDEN', () =>
        call(as(), M.updateUserProfile, { input: { userId: bob, expectedVersion: version, name: 'Hijacked' } }),
      );
      expect((await server.ok(Q.user, { id: bob })).user).toMatchObject({ name: 'Bob', version });
    });

    it('refused: a user that does not exist → FORBIDDEN, the same response as for an existing one', async () => {
      const ghost = await refused('FORBIDDEN', () =>
        call(as(), M.updateUserProfile, { input: { userId: GHOST, expectedVersion: 1, name: 'Hijacked' } }),
      );
      const existing = await call(as(), M.updateUserProfile, { input: { userId: bob, expectedVersion: 1, name: 'Hijacked' } });
      expect(withoutId(ghost, GHOST)).toEqual(withoutId(existing, bob));
    });
  });

  describe('placeOrder: for self only', () => {
    it('allowed: for self', async () => {
      const data = await allowed(() => call(as(), M.placeOrder, { input: { userId: alice, items: [{ productId, quantity: 2 }] } }));
      expect(data.placeOrder.order).toMatchObject({ userId: alice, status: 'PENDING' });
    });

    it('refused: for another user → FORBIDDEN, nothing written', async () => {
      const before = (await server.ok(Q.orders, { filter: { userId: bob } })).orders.total;
      await refused('FORBIDDEN', () => call(as(), M.placeOrder, { input: { userId: bob, items: [{ productId, quantity: 1 }] } }));
      expect((await server.ok(Q.orders, { filter: { userId: bob } })).orders.total).toBe(before);
    });
  });

  describe('cancelOrder: own orders while PENDING or CONFIRMED', () => {
    for (const status of ['PENDING', 'CONFIRMED'] as const) {
      it(`allowed: own ${status} order`, async () => {
        const { orderId } = await orderIn(alice, status);
        const data = await allowed(() => call(as(), M.cancelOrder, { input: { orderId, reason: 'Changed my mind' } }));
        expect(data.cancelOrder.order).toMatchObject({ id: orderId, status: 'CANCELLED' });
      });
    }

    it('refused: own SHIPPED order → FORBIDDEN, nothing written, still SHIPPED', async () => {
      const { orderId } = await orderIn(alice, 'SHIPPED');
      await refused('FORBIDDEN', () => call(as(), M.cancelOrder, { input: { orderId, reason: 'Too late?' } }));
      expect(await statusOf(orderId)).toBe('SHIPPED');
    });

    it('refused: own DELIVERED order → INVALID_TRANSITION (as for staff), nothing written', async () => {
      const { orderId } = await orderIn(alice, 'DELIVERED');
      await refused('INVALID_TRANSITION', () => call(as(), M.cancelOrder, { input: { orderId, reason: 'Too late' } }));
      expect(await statusOf(orderId)).toBe('DELIVERED');
    });

    for (const status of ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const) {
      it(`refused: another customer's ${status} order → NOT_FOUND, exactly like a missing id, nothing written`, async () => {
        const { orderId } = await orderIn(bob, status);
        const foreign = await refused('NOT_FOUND', () => call(as(), M.cancelOrder, { input: { orderId, reason: 'Not mine' } }));
        const missing = await refused('NOT_FOUND', () =>
          call(as(), M.cancelOrder, { input: { orderId: MISSING_ORDER, reason: 'Not mine' } }),
        );
        // Same code, same message (but for the id), same everything else.
        expect(withoutId(foreign, orderId)).toEqual(withoutId(missing, MISSING_ORDER));
        expect(foreign.errors![0]!.message).toBe(missing.errors![0]!.message.replace(MISSING_ORDER, orderId));
        expect(await statusOf(orderId)).toBe(status);
      });
    }

    it("refused: another customer's order with an expectedVersion → NOT_FOUND like a missing id (no VERSION_CONFLICT that reveals it exists)", async () => {
      const { orderId } = await orderIn(bob, 'CONFIRMED');
      const input = (id: string) => ({ input: { orderId: id, reason: 'Not mine', expectedVersion: 7 } });
      const foreign = await refused('NOT_FOUND', () => call(as(), M.cancelOrder, input(orderId)));
      const missing = await refused('NOT_FOUND', () => call(as(), M.cancelOrder, input(MISSING_ORDER)));
      expect(withoutId(foreign, orderId)).toEqual(withoutId(missing, MISSING_ORDER));
      expect(await statusOf(orderId)).toBe('CONFIRMED');
    });
  });

  describe('order(id): own orders only', () => {
    it('allowed: own order → its data', async () => {
      const { orderId } = await orderIn(alice);
      const data = await allowed(() => call(as(), Q.order, { id: orderId }));
      expect(data.order).toMatchObject({ id: orderId, userId: alice, status: 'PENDING' });
    });

    it("refused: another customer's order → null without an error, exactly like a missing one", async () => {
      const { orderId } = await orderIn(bob);
      const foreign = await call(as(), Q.order, { id: orderId });
      const missing = await call(as(), Q.order, { id: MISSING_ORDER });
      expect(foreign).toEqual({ data: { order: null } });
      expect(foreign).toEqual(missing);
      // Staff see that it exists.
      expect(await statusOf(orderId)).toBe('PENDING');
    });
  });

  describe('orders: always restricted to own orders', () => {
    it('allowed: without a filter → only own orders', async () => {
      await orderIn(alice);
      await orderIn(bob);
      const all = (await server.ok(Q.orders)).orders;
      const own = (await server.ok(Q.orders, { filter: { userId: alice } })).orders;
      expect(all.orders.some((o: { userId: string }) => o.userId === bob)).toBe(true);
      const data = await allowed(() => call(as(), Q.orders));
      expect(data.orders.total).toBe(own.total);
      expect(data.orders.total).toBeGreaterThan(0);
      expect(data.orders.total).toBeLessThan(all.total);
      expect(new Set(data.orders.orders.map((o: { userId: string }) => o.userId))).toEqual(new Set([alice]));
    });

    it('allowed: filter userId = self, and a status filter stays within own orders', async () => {
      await orderIn(bob, 'CONFIRMED');
      await orderIn(alice, 'CONFIRMED');
      const self = await allowed(() => call(as(), Q.orders, { filter: { userId: alice } }));
      expect(self.orders.total).toBeGreaterThan(0);
      expect(self.orders.orders.every((o: { userId: string }) => o.userId === alice)).toBe(true);
      const confirmed = await allowed(() => call(as(), Q.orders, { filter: { status: 'CONFIRMED' } }));
      expect(confirmed.orders.total).toBeGreaterThan(0);
      expect(confirmed.orders.orders.every((o: { userId: string; status: string }) => o.userId === alice && o.status === 'CONFIRMED')).toBe(true);
    });

    it('refused: filter userId = another user → FORBIDDEN, not an empty list', async () => {
      await refused('FORBIDDEN', () => call(as(), Q.orders, { filter: { userId: bob } }));
    });

    it('refused: filter userId = a user that does not exist → FORBIDDEN as well', async () => {
      const ghost = await refused('FORBIDDEN', () => call(as(), Q.orders, { filter: { userId: GHOST } }));
      expect(ghost).toEqual(await call(as(), Q.orders, { filter: { userId: bob } }));
    });
  });

  describe('staff-only operations → FORBIDDEN, nothing written', () => {
    const rows: Array<[string, () => Promise<[string, Vars?]>]> = [
      ['users', async () => [Q.users]],
      ['projections', async () => [Q.projections]],
      ['addProduct', async () => [M.addProduct, { input: { name: 'Free stuff', price: '0.01' } }]],
      ['updateProduct', async () => [M.updateProduct, { input: { productId, expectedVersion: 1, price: '0.01' } }]],
      ['confirmOrder (even of an own order)', async () => [M.confirmOrder, { input: { orderId: (await orderIn(alice)).orderId } }]],
      ['shipOrder (even of an own order)', async () => [M.shipOrder, { input: { orderId: (await orderIn(alice, 'CONFIRMED')).orderId } }]],
      ['deliverOrder (even of an own order)', async () => [M.deliverOrder, { input: { orderId: (await orderIn(alice, 'SHIPPED')).orderId } }]],
    ];
    for (const [name, operation] of rows) {
      it(name, async () => {
        const [query, variables] = await operation();
        await refused('FORBIDDEN', () => call(as(), query, variables));
      });
    }

    it('confirmOrder of an own order leaves it PENDING', async () => {
      const { orderId } = await orderIn(alice);
      await refused('FORBIDDEN', () => call(as(), M.confirmOrder, { input: { orderId } }));
      expect(await statusOf(orderId)).toBe('PENDING');
    });

    it('updateProduct leaves the product unchanged', async () => {
      await refused('FORBIDDEN', () => call(as(), M.updateProduct, { input: { productId, expectedVersion: 1, price: '0.01' } }));
      expect((await server.ok(Q.product, { id: productId })).product.price).toBe('10.00');
    });
  });

  describe('orderStatusChanged over graphql-ws: own orders only', () => {
    it('allowed: own order → its current view, then each change', async () => {
      const { orderId } = await orderIn(alice);
      const sub = record(socket(as()), S.orderStatusChanged, { id: orderId });
      await sub.next(1);
      await transition(server, 'confirmOrder', orderId);
      await transition(server, 'shipOrder', orderId);
      await sub.next(3);
      expect(sub.data().map((d: any) => [d.orderStatusChanged.status, d.orderStatusChanged.version])).toEqual([
        ['PENDING', 1],
        ['CONFIRMED', 2],
        ['SHIPPED', 3],
      ]);
      expect(sub.error).toBeUndefined();
      sub.dispose();
    });

    it("refused: another customer's order → no message at all (not even its snapshot) while it changes, like a missing order", async () => {
      const foreignOrder = (await orderIn(bob)).orderId;
      const sentinel = (await orderIn(alice)).orderId;
      // Staff follow the foreign order: proof that its changes reach the feed.
      const witness = record(socket(ADMIN), S.orderStatusChanged, { id: foreignOrder });
      await witness.next(1);

      const client = socket(as());
      const foreign = record(client, S.orderStatusChanged, { id: foreignOrder });
      const missing = record(client, S.orderStatusChanged, { id: MISSING_ORDER });
      const own = record(client, S.orderStatusChanged, { id: sentinel });
      await own.next(1);

      for (const step of ['confirmOrder', 'shipOrder', 'deliverOrder'] as const) await transition(server, step, foreignOrder);
      await witness.next(4);
      // A later change on the same feed: once Alice has it, anything earlier would have arrived.
      await transition(server, 'confirmOrder', sentinel);
      await own.next(2);
      await new Promise((r) => setTimeout(r, 300));

      expect(foreign.messages).toEqual([]);
      expect(foreign.error).toBeUndefined();
      expect(foreign.completed).toBe(missing.completed);
      expect(missing.messages).toEqual([]);
      expect(JSON.stringify(own.messages)).not.toContain(foreignOrder);
      for (const s of [witness, foreign, missing, own]) s.dispose();
    });
  });

  describe('ordersChanged over graphql-ws: always restricted to own orders', () => {
    it("allowed: without a filter → only own orders' changes", async () => {
      const aliceOrder = await orderIn(alice);
      const bobOrder = await orderIn(bob);
      const since = bobOrder.position; // both placements are before it; everything after is seen
      const mine = record(socket(as()), S.ordersChanged, { since });
      const everything = record(socket(ADMIN), S.ordersChanged, { since });

      await transition(server, 'confirmOrder', bobOrder.orderId);
      await transition(server, 'confirmOrder', aliceOrder.orderId);
      await transition(server, 'shipOrder', bobOrder.orderId);
      await transition(server, 'shipOrder', aliceOrder.orderId);

      // Staff saw all four changes; Alice's last one comes after Bob's in the feed.
      await waitForChanges(everything, (views) => views.filter((v) => v.id === bobOrder.orderId || v.id === aliceOrder.orderId).length >= 4);
      await waitForChanges(mine, (views) => views.some((v) => v.id === aliceOrder.orderId && v.status === 'SHIPPED'));

      const seen = mine.data().map((d: any) => d.ordersChanged);
      expect(seen.every((v: { userId: string }) => v.userId === alice), JSON.stringify(seen)).toBe(true);
      expect(seen.filter((v: any) => v.id === aliceOrder.orderId).map((v: any) => v.status)).toEqual(['CONFIRMED', 'SHIPPED']);
      expect(JSON.stringify(mine.messages)).not.toContain(bobOrder.orderId);
      mine.dispose();
      everything.dispose();
    });

    it("allowed: since a position → replays only own orders' history", async () => {
      const start = await orderIn(bob);
      const aliceOrder = await orderIn(alice, 'CONFIRMED');
      const bobOrder = await orderIn(bob, 'CONFIRMED');
      const end = await orderIn(alice); // the last change: once replayed, the history is complete
      const replay = record(socket(as()), S.ordersChanged, { since: start.position });
      await waitForChanges(replay, (views) => views.some((v) => v.id === end.orderId));
      const seen = replay.data().map((d: any) => d.ordersChanged);
      expect(seen.map((v: any) => [v.id, v.status])).toEqual([
        [aliceOrder.orderId, 'PENDING'],
        [aliceOrder.orderId, 'CONFIRMED'],
        [end.orderId, 'PENDING'],
      ]);
      expect(JSON.stringify(replay.messages)).not.toContain(bobOrder.orderId);
      replay.dispose();
    });

    it('allowed: filter userId = self', async () => {
      const placed = await orderIn(alice);
      const sub = record(socket(as()), S.ordersChanged, { filter: { userId: alice }, since: placed.position });
      await transition(server, 'confirmOrder', placed.orderId);
      await sub.next(1);
      expect(sub.data()[0].ordersChanged).toMatchObject({ id: placed.orderId, userId: alice, status: 'CONFIRMED' });
      sub.dispose();
    });

    it('refused: filter userId = another user → FORBIDDEN error', async () => {
      await subscriptionRefused(as(), S.ordersChanged, { filter: { userId: bob } }, 'FORBIDDEN');
    });

    it('refused: filter userId = a user that does not exist → the same FORBIDDEN error', async () => {
      const ghost = await subscriptionRefused(as(), S.ordersChanged, { filter: { userId: GHOST } }, 'FORBIDDEN');
      const other = await subscriptionRefused(as(), S.ordersChanged, { filter: { userId: bob } }, 'FORBIDDEN');
      expect(withoutId(ghost, GHOST)).toEqual(withoutId(other, bob));
    });
  });

  describe('userProfileChanged over graphql-ws: self only', () => {
    it('allowed: self → current profile, then each change', async () => {
      const sub = record(socket(as()), S.userProfileChanged, { id: alice });
      await sub.next(1);
      const version = sub.data()[0].userProfileChanged.version;
      await server.ok(M.updateUserProfile, { input: { userId: alice, expectedVersion: version, name: 'Alice P.' } });
      await sub.next(2);
      expect(sub.data().map((d: any) => d.userProfileChanged)).toEqual([
        expect.objectContaining({ id: alice, version }),
        expect.objectContaining({ id: alice, version: version + 1, name: 'Alice P.' }),
      ]);
      sub.dispose();
    });

    it('refused: another user → FORBIDDEN', async () => {
      await subscriptionRefused(as(), S.userProfileChanged, { id: bob }, 'FORBIDDEN');
    });

    it('refused: a user that does not exist → the same FORBIDDEN error', async () => {
      const ghost = await subscriptionRefused(as(), S.userProfileChanged, { id: GHOST }, 'FORBIDDEN');
      const other = await subscriptionRefused(as(), S.userProfileChanged, { id: bob }, 'FORBIDDEN');
      expect(withoutId(ghost, GHOST)).toEqual(withoutId(other, bob));
    });
  });

  describe('queries and mutations over graphql-ws follow the same rules', () => {
    it("order(id) of another customer's order is null; addProduct is FORBIDDEN and writes nothing", async () => {
      const client = socket(as());
      const { orderId } = await orderIn(bob);
      const order = record(client, Q.order, { id: orderId });
      await order.next(1);
      expect(order.messages[0]).toEqual({ data: { order: null } });

      const before = await eventCount();
      const add = record(client, M.addProduct, { input: { name: 'Free stuff', price: '0.01' } });
      await add.next(1);
      expect(codes(add.messages[0] as GraphQLResponse)).toEqual(['FORBIDDEN']);
      expect(await eventCount()).toBe(before);
    });
  });
});

// ─────────────────────────────── Admin ───────────────────────────────

describe('admin: everything', () => {
  it('users', async () => {
    const data = await allowed(() => call(ADMIN, Q.users));
    const ids = data.users.users.map((u: { id: string }) => u.id);
    expect(ids).toEqual(expect.arrayContaining([alice, bob]));
  });

  it('projections', async () => {
    const data = await allowed(() => call(ADMIN, Q.projections));
    expect(data.projections.map((p: { name: string }) => p.name).sort()).toEqual(['orders', 'products', 'sales', 'users']);
  });

  it('user(id) of any user', async () => {
    const data = await allowed(() => call(ADMIN, Q.user, { id: bob }));
    expect(data.user.id).toBe(bob);
  });

  it("updateUserProfile of any user", async () => {
    const version = await versionOfUser(bob);
    const data = await allowed(() => call(ADMIN, M.updateUserProfile, { input: { userId: bob, expectedVersion: version, name: 'Robert' } }));
    expect(data.updateUserProfile).toMatchObject({ version: version + 1, user: { name: 'Robert' } });
  });

  it('addProduct and updateProduct', async () => {
    const added = await allowed(() => call(ADMIN, M.addProduct, { input: { name: 'Staff gadget', price: '3.50' } }));
    const id = added.addProduct.productId;
    const updated = await allowed(() => call(ADMIN, M.updateProduct, { input: { productId: id, expectedVersion: 1, name: 'Staff gizmo' } }));
    expect(updated.updateProduct).toMatchObject({ version: 2, product: { name: 'Staff gizmo' } });
  });

  it("placeOrder for any user", async () => {
    const data = await allowed(() => call(ADMIN, M.placeOrder, { input: { userId: bob, items: [{ productId, quantity: 1 }] } }));
    expect(data.placeOrder.order).toMatchObject({ userId: bob, status: 'PENDING' });
  });

  it('confirmOrder, shipOrder, deliverOrder', async () => {
    const { orderId } = await orderIn(alice);
    for (const [mutation, status] of [['confirmOrder', 'CONFIRMED'], ['shipOrder', 'SHIPPED'], ['deliverOrder', 'DELIVERED']] as const) {
      const data = await allowed(() => call(ADMIN, M[mutation], { input: { orderId } }));
      expect(data[mutation].order.status).toBe(status);
    }
  });

  it("cancelOrder of any customer's order, even SHIPPED", async () => {
    const { orderId } = await orderIn(bob, 'SHIPPED');
    const data = await allowed(() => call(ADMIN, M.cancelOrder, { input: { orderId, reason: 'Lost in transit' } }));
    expect(data.cancelOrder.order.status).toBe('CANCELLED');
  });

  it('order(id) of any customer', async () => {
    const { orderId } = await orderIn(bob);
    const data = await allowed(() => call(ADMIN, Q.order, { id: orderId }));
    expect(data.order).toMatchObject({ id: orderId, userId: bob });
  });

  it("orders: everyone's, and filtered by any user", async () => {
    await orderIn(alice);
    await orderIn(bob);
    const all = await allowed(() => call(ADMIN, Q.orders));
    expect(all.orders.orders.map((o: { userId: string }) => o.userId)).toEqual(expect.arrayContaining([alice, bob]));
    const bobs = await allowed(() => call(ADMIN, Q.orders, { filter: { userId: bob } }));
    expect(bobs.orders.total).toBeGreaterThan(0);
    expect(bobs.orders.orders.every((o: { userId: string }) => o.userId === bob)).toBe(true);
  });

  it("orderStatusChanged of any customer's order", async () => {
    const { orderId } = await orderIn(bob);
    const sub = record(socket(ADMIN), S.orderStatusChanged, { id: orderId });
    await sub.next(1);
    await transition(server, 'confirmOrder', orderId);
    await sub.next(2);
    expect(sub.data().map((d: any) => d.orderStatusChanged.status)).toEqual(['PENDING', 'CONFIRMED']);
    sub.dispose();
  });

  it('ordersChanged filtered by any user', async () => {
    const placed = await orderIn(bob);
    const sub = record(socket(ADMIN), S.ordersChanged, { filter: { userId: bob }, since: placed.position });
    await transition(server, 'confirmOrder', placed.orderId);
    await sub.next(1);
    expect(sub.data()[0].ordersChanged).toMatchObject({ id: placed.orderId, userId: bob, status: 'CONFIRMED' });
    sub.dispose();
  });

  it('userProfileChanged of any user', async () => {
    const sub = record(socket(ADMIN), S.userProfileChanged, { id: bob });
    await sub.next(1);
    expect(sub.data()[0].userProfileChanged.id).toBe(bob);
    sub.dispose();
  });
});

/** Waits (bounded) until the `ordersChanged` views received so far satisfy `done`. */
async function waitForChanges(sub: ReturnType<typeof record>, done: (views: any[]) => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done(sub.data().map((d: any) => d.ordersChanged))) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`Timed out waiting for changes; got ${JSON.stringify(sub.data())}`);
    await sub.next(sub.messages.length + 1, left).catch(() => undefined);
    if (sub.error) throw new Error(`Subscription failed: ${JSON.stringify(sub.error)}`);
  }
}
