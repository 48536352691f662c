import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { compareCursors, parseCursor, type Cursor } from '../../src/eventlog/cursor.js';
import { addProduct, registerUser, uniqueEmail } from '../support/operations.js';
import { RawWsClient, sleep, type Received } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { openSubscriptions, watchQueues } from '../support/subscriber-queues.js';

/**
 * Fan-out and isolation of subscriptions on one instance, over real sockets:
 * a thousand subscribers all get their change, and a subscriber that stops
 * reading neither delays the others nor makes the server buffer without bound.
 */

const CONNECTIONS = 10;
const PER_CONNECTION = 100;
const BUFFER = 20;

let server: TestServer;
const clients: RawWsClient[] = [];
beforeAll(async () => {
  server = await startTestServer({
    WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: PER_CONNECTION,
    SUBSCRIPTION_BUFFER: BUFFER,
    // A stalled client cannot answer pings; keep-alive is not under test here.
    WS_KEEPALIVE_MS: 120_000,
    // The stalled-client tests make messages heavy with 200 aliases.
    GRAPHQL_MAX_ALIASES: 200,
    GRAPHQL_MAX_COST: 100_000,
    GRAPHQL_MAX_TOKENS: 10_000,
  });
});
// Each test starts with no subscription open, whatever the previous one left.
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await openSubscriptions(server.app, 0, 0, 10_000);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.stop();
});

async function connect(): Promise<RawWsClient> {
  const client = await RawWsClient.connect(server.url);
  clients.push(client);
  return client;
}

// Mutations that do not wait for their projection (no entity in the
// selection): the response marks the commit, the subscription the projection.
const PLACE = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { orderId version position } }`;
const command = (name: string) => `mutation($input: OrderCommandInput!) { ${name}(input: $input) { orderId version position } }`;

/** The newest order command's position: what `settled` waits for. */
let orderHead: Cursor | undefined;
function track(position: string): void {
  const cursor = parseCursor(position)!;
  if (!orderHead || compareCursors(cursor, orderHead) > 0) orderHead = cursor;
}

async function place(userId: string, productIds: string[]): Promise<{ orderId: string; position: string }> {
  const data = await server.ok(PLACE, { input: { userId, items: productIds.map((productId) => ({ productId, quantity: 1 })) } });
  track(data.placeOrder.position);
  return data.placeOrder;
}

/** Runs an order command; returns the new version, when it was sent and when the response arrived. */
async function run(name: 'confirmOrder' | 'shipOrder' | 'deliverOrder', orderId: string) {
  const sent = performance.now();
  const data = await server.ok(command(name), { input: { orderId } });
  track(data[name].position);
  return { version: data[name].version as number, sent, at: performance.now() };
}

/**
 * Waits until the orders projection has applied every order command made so
 * far and the change feed has dispatched it, so that a subscription made next
 * sees only what comes after.
 */
async function settled(): Promise<void> {
  if (orderHead) await server.app.progress.waitFor('orders', orderHead, 10_000);
  // Progress may have been learnt from the checkpoint before the projector
  // poked the feed: read the change history up to its head now.
  server.app.subscriptions.poke('orders');
  await server.app.subscriptions.idle();
}

function stats(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(sorted.at(-1)!) };
}

describe('fan-out to 1,000 subscribers on one instance', () => {
  it('1,000 orderStatusChanged subscriptions to a mix of orders each get the snapshot, then exactly the change', async () => {
    const { userId } = await registerUser(server, 'Fan-out');
    const { productId } = await addProduct(server, 'Fan-out item', '2.50');
    const ORDERS = 50;
    const orders: string[] = [];
    for (let i = 0; i < ORDERS; i++) orders.push((await place(userId, [productId])).orderId);
    await settled();
    const base = server.app.subscriptions.size;

    const conns = await Promise.all(Array.from({ length: CONNECTIONS }, connect));
    const target = new Map<string, string>(); // `${connection}/${operation}` -> order id
    const STATUS = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { id status version } }`;
    conns.forEach((conn, c) => {
      for (let s = 0; s < PER_CONNECTION; s++) {
        const orderId = orders[(c * PER_CONNECTION + s) % ORDERS]!;
        target.set(`${c}/${s}`, orderId);
        conn.subscribe(String(s), STATUS, { id: orderId });
      }
    });
    const everyOne = (count: number) =>
      Promise.all(conns.map((conn) => conn.until(() => conn.received.filter((r) => r.message.id !== undefined).length >= PER_CONNECTION * count, 30_000, `${count} message(s) on each of ${PER_CONNECTION} subscriptions`)));
    await everyOne(1);
    expect(server.app.subscriptions.size).toBe(base + CONNECTIONS * PER_CONNECTION);

    const confirmed = new Map<string, number>();
    const firstSent = performance.now();
    await Promise.all(orders.map(async (orderId) => confirmed.set(orderId, (await run('confirmOrder', orderId)).at)));
    const lastResponse = Math.max(...confirmed.values());
    await everyOne(2);
    await sleep(300); // nothing more may arrive
    const latencies: number[] = [];
    let lastReceipt = 0;
    conns.forEach((conn, c) => {
      for (let s = 0; s < PER_CONNECTION; s++) {
        const orderId = target.get(`${c}/${s}`)!;
        const messages = conn.of(String(s));
        expect(messages.map((m) => m.message.type)).toEqual(['next', 'next']);
        expect(messages.map((m) => m.message.payload.data.orderStatusChanged)).toEqual([
          { id: orderId, status: 'PENDING', version: 1 },
          { id: orderId, status: 'CONFIRMED', version: 2 },
        ]);
        latencies.push(messages[1]!.at - confirmed.get(orderId)!);
        lastReceipt = Math.max(lastReceipt, messages[1]!.at);
      }
    });
    console.log(
      `[fan-out ${process.env.TEST_DB}] 1000 orderStatusChanged subscribers (${ORDERS} orders, ${ORDERS} concurrent mutations): ` +
        `first mutation sent -> last subscriber ${Math.round(lastReceipt - firstSent)} ms; ` +
        `last mutation response -> last subscriber ${Math.round(lastReceipt - lastResponse)} ms; ` +
        `per subscriber, own mutation response -> receipt ${JSON.stringify(stats(latencies))} ms`,
    );

    // Completing them releases every subscription on the server.
    conns.forEach((conn) => {
      for (let s = 0; s < PER_CONNECTION; s++) conn.complete(String(s));
    });
    await openSubscriptions(server.app, base, base, 10_000);
  }, 55_000);

  it('1,000 ordersChanged subscriptions all receive one change exactly once', async () => {
    const { userId } = await registerUser(server, 'Fan-out all');
    const { productId } = await addProduct(server, 'Fan-out all item', '3.00');
    const { orderId } = await place(userId, [productId]);
    await settled();
    const base = server.app.subscriptions.size;

    const conns = await Promise.all(Array.from({ length: CONNECTIONS }, connect));
    const ALL = `subscription { ordersChanged { id status version } }`;
    for (const conn of conns) for (let s = 0; s < PER_CONNECTION; s++) conn.subscribe(`all-${s}`, ALL);
    // No snapshot for ordersChanged: wait until the server registered them all.
    await openSubscriptions(server.app, base + CONNECTIONS * PER_CONNECTION, Infinity, 20_000);

    const { sent, at: responded } = await run('confirmOrder', orderId);
    await Promise.all(conns.map((conn) => conn.until(() => conn.received.filter((r) => r.message.id?.startsWith('all-')).length >= PER_CONNECTION, 30_000, 'one change on every subscription')));
    await sleep(300);
    let lastReceipt = 0;
    const latencies: number[] = [];
    for (const conn of conns) {
      for (let s = 0; s < PER_CONNECTION; s++) {
        const messages = conn.of(`all-${s}`);
        expect(messages.map((m) => [m.message.type, m.message.payload.data.ordersChanged])).toEqual([
          ['next', { id: orderId, status: 'CONFIRMED', version: 2 }],
        ]);
        lastReceipt = Math.max(lastReceipt, messages[0]!.at);
        latencies.push(messages[0]!.at - responded);
      }
    }
    console.log(
      `[fan-out ${process.env.TEST_DB}] 1000 ordersChanged subscribers, one mutation: ` +
        `mutation response -> last subscriber ${Math.round(lastReceipt - responded)} ms ` +
        `(mutation sent -> last subscriber ${Math.round(lastReceipt - sent)} ms; mutation round trip ${Math.round(responded - sent)} ms); ` +
        `per subscriber ${JSON.stringify(stats(latencies))} ms`,
    );
    await Promise.all(conns.map((conn) => conn.close()));
    await openSubscriptions(server.app, base, base, 10_000);
  }, 55_000);
});

// ───────────── a stalled client ─────────────

/** The most a socket pair can hold in kernel buffers (Linux), or a generous guess elsewhere. */
function kernelSocketBytes(): number {
  try {
    const max = (file: string) => Number(readFileSync(file, 'utf8').trim().split(/\s+/).at(-1));
    const bytes = max('/proc/sys/net/ipv4/tcp_wmem') + max('/proc/sys/net/ipv4/tcp_rmem');
    if (Number.isFinite(bytes) && bytes > 0) return bytes;
  } catch {
    // not Linux
  }
  return 64 * 1024 * 1024;
}

function pause(client: RawWsClient): void {
  (client.socket as unknown as { _socket: { pause(): void } })._socket.pause();
}
function resume(client: RawWsClient): void {
  (client.socket as unknown as { _socket: { resume(): void } })._socket.resume();
}

/**
 * Large messages (~260 KiB): each order's items repeated under 200 aliases.
 * The kernel's socket buffers then hold only a few of them, so a client that
 * stops reading really pushes back on the server within a few changes.
 */
const HEAVY = Array.from({ length: 200 }, (_, i) => `i${i}: items { productId productName quantity price subtotal }`).join(' ');

/** Changes (id, version) seen by a subscription must never go back for one view. */
function expectMonotonic(changes: Array<{ id: string; version: number; position: string }>) {
  const last = new Map<string, number>();
  for (const c of changes) {
    expect(c.version).toBeGreaterThanOrEqual(last.get(c.id) ?? 0);
    last.set(c.id, c.version);
  }
}


describe('the messages of one change to many subscriptions of a connection', () => {
  it('leave the server in one socket write, not one each, and all arrive', async () => {
    const { userId } = await registerUser(server, 'Coalesced writes');
    const { productId } = await addProduct(server, 'Coalesced item', '1.25');
    const { orderId } = await place(userId, [productId]);
    await settled();
    const conn = await connect();
    const SUBSCRIPTIONS = 50;
    const STATUS = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { id status version } }`;
    for (let s = 0; s < SUBSCRIPTIONS; s++) conn.subscribe(`w-${s}`, STATUS, { id: orderId });
    const both = (count: number) =>
      conn.until(() => conn.received.filter((r) => r.message.id?.startsWith('w-')).length >= SUBSCRIPTIONS * count, 10_000, `${count} message(s) on each subscription`);
    await both(1); // the snapshots
    // The server's end of this connection is the socket whose peer is the client's local port.
    const port = (conn.socket as unknown as { _socket: net.Socket })._socket.localPort;
    // Spied, not replaced: the socket writes as it would.
    const write = vi.spyOn(net.Socket.prototype as unknown as { _write: (...a: unknown[]) => void }, '_write');
    const writev = vi.spyOn(net.Socket.prototype as unknown as { _writev: (...a: unknown[]) => void }, '_writev');
    const toClient = () =>
      [write, writev].reduce((n, spy) => n + spy.mock.contexts.filter((socket) => (socket as net.Socket).remotePort === port).length, 0);
    let writes: number;
    try {
      await run('confirmOrder', orderId);
      await both(2);
      writes = toClient();
    } finally {
      write.mockRestore();
      writev.mockRestore();
    }
    expect(writes, 'socket writes to this connection for one change to its 50 subscriptions').toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(2);
    for (let s = 0; s < SUBSCRIPTIONS; s++) {
      expect(conn.of(`w-${s}`).map((m) => m.message.payload.data.orderStatusChanged)).toEqual([
        { id: orderId, status: 'PENDING', version: 1 },
        { id: orderId, status: 'CONFIRMED', version: 2 },
      ]);
    }
  });
});

describe('a stalled client', () => {
  let products: string[];
  let stalledError: unknown;
  beforeAll(async () => {
    products = [];
    for (let i = 0; i < 5; i++) products.push((await addProduct(server, `Heavy product ${i} `.padEnd(150, '.'), '1.00')).productId);
  });

  it('does not delay others; once more than the buffer of distinct orders behind it is dropped, memory stays bounded, and it resumes with `since`', async () => {
    // 10 customers with 10 orders each; the normal client follows each customer.
    const USERS = 10;
    const PER_USER = 10;
    const users: Array<{ userId: string; orders: string[] }> = [];
    let lastPosition = '';
    for (let u = 0; u < USERS; u++) {
      const { userId } = await registerUser(server, `Stall customer ${u}`);
      const orders: string[] = [];
      for (let i = 0; i < PER_USER; i++) {
        const placed = await place(userId, products);
        orders.push(placed.orderId);
        lastPosition = placed.position;
      }
      users.push({ userId, orders });
    }
    await settled();
    const base = server.app.subscriptions.size;
    const CHANGES = USERS * PER_USER * 3;

    const normal = await connect();
    users.forEach(({ userId }, u) =>
      normal.subscribe(`n${u}`, `subscription($f: OrderFilter) { ordersChanged(filter: $f) { id version status } }`, { f: { userId } }),
    );
    const stalled = await connect();
    stalled.subscribe('s', `subscription { ordersChanged { id version status position ${HEAVY} } }`);
    await openSubscriptions(server.app, base + USERS + 1, base + USERS + 1, 20_000);
    pause(stalled);
    const queues = watchQueues(server.app);

    // 300 status changes, one writer per customer, while queries keep being served.
    const responded = new Map<string, number>(); // `${orderId}@${version}` -> response time
    const queryTimes: number[] = [];
    let producing = true;
    const queries = (async () => {
      while (producing) {
        const t = performance.now();
        const data = await server.ok(`query($f: OrderFilter) { orders(filter: $f, pageSize: 1) { total } }`, { f: { userId: users[0]!.userId } });
        expect(data.orders.total).toBe(PER_USER);
        queryTimes.push(performance.now() - t);
        await sleep(50);
      }
    })();
    const started = performance.now();
    try {
      await Promise.all(
        users.map(async ({ orders }) => {
          for (const orderId of orders) {
            for (const name of ['confirmOrder', 'shipOrder', 'deliverOrder'] as const) {
              const { version, at } = await run(name, orderId);
              responded.set(`${orderId}@${version}`, at);
            }
          }
        }),
      );
    } finally {
      producing = false;
      await queries;
    }
    const produced = performance.now() - started;

    // The normal client got every change, in order, promptly.
    await normal.until(() => normal.received.filter((r) => r.message.id?.startsWith('n')).length >= CHANGES, 15_000, `${CHANGES} changes`);
    await sleep(200);
    const latencies: number[] = [];
    users.forEach(({ orders }, u) => {
      const seen = normal.of(`n${u}`);
      expect(seen.every((r) => r.message.type === 'next')).toBe(true);
      const views = seen.map((r) => r.message.payload.data.ordersChanged);
      expect(new Set(views.map((v) => `${v.id}@${v.version}`))).toEqual(
        new Set(orders.flatMap((id) => [2, 3, 4].map((version) => `${id}@${version}`))),
      );
      expect(views).toHaveLength(PER_USER * 3);
      expectMonotonic(views);
      seen.forEach((r, i) => latencies.push(r.at - responded.get(`${views[i].id}@${views[i].version}`)!));
    });
    expect(Math.max(...latencies)).toBeLessThan(2_000);

    // Memory stayed bounded: no queue ever held more than the buffer, and the
    // stalled subscriber (over BUFFER distinct orders behind) was dropped.
    await openSubscriptions(server.app, base + USERS, base + USERS, 5_000);
    const maxQueue = queues.stop();
    expect(maxQueue).toBeLessThanOrEqual(BUFFER);
    expect(queryTimes.length).toBeGreaterThan(0);
    expect(Math.max(...queryTimes)).toBeLessThan(3_000);
    const t = performance.now();
    expect((await server.ok(`{ projections { name lag } }`)).projections.every((p: { lag: number }) => p.lag === 0)).toBe(true);
    expect(performance.now() - t).toBeLessThan(2_000);

    // After resuming: what was already in the socket buffers, then an error.
    resume(stalled);
    await stalled.waitFor((m) => m.id === 's' && m.type !== 'next', 15_000, 'the end of the stalled subscription');
    const got = stalled.of('s');
    const nexts = got.filter((r) => r.message.type === 'next');
    expect(got.at(-1)!.message.type).toBe('error');
    expect(got.slice(0, -1).every((r) => r.message.type === 'next')).toBe(true);
    const bytes = Math.min(...nexts.map((r) => Buffer.byteLength(JSON.stringify(r.message))));
    const inFlight = nexts.length ? Math.ceil(kernelSocketBytes() / bytes) + 2 : 0;
    expect(nexts.length).toBeLessThanOrEqual(BUFFER + inFlight);
    expect(nexts.length).toBeLessThan(CHANGES);
    const stalledViews = nexts.map((r) => r.message.payload.data.ordersChanged);
    expectMonotonic(stalledViews);
    stalledError = got.at(-1)!.message.payload;
    console.log(
      `[stall ${process.env.TEST_DB}] ${CHANGES} changes in ${Math.round(produced)} ms; normal client latency ${JSON.stringify(stats(latencies))} ms; ` +
        `queries during the stall max ${Math.round(Math.max(...queryTimes))} ms; longest server queue ${maxQueue}/${BUFFER}; ` +
        `stalled client got ${nexts.length} messages of ~${Math.round(bytes / 1024)} KiB (in-flight bound ${inFlight}) then ${JSON.stringify(stalledError)}`,
    );

    // The same connection resumes from the last position it saw and gets exactly the rest.
    const since = stalledViews.at(-1)?.position ?? lastPosition;
    stalled.subscribe('r', `subscription($since: String) { ordersChanged(since: $since) { id version position } }`, { since });
    await stalled.messages('r', CHANGES - nexts.length, 15_000);
    await sleep(200);
    const all = [...stalledViews, ...stalled.data('r').map((d) => d.ordersChanged)].map((v) => `${v.id}@${v.version}`);
    expect(all).toHaveLength(CHANGES);
    expect(new Set(all)).toEqual(new Set(responded.keys()));
    expect(stalled.isOpen).toBe(true);
  }, 58_000);

  it('the dropped subscriber is told why: SLOW_CONSUMER', () => {
    expect(stalledError).toBeDefined();
    expect(stalledError).toMatchObject([{ extensions: { code: 'SLOW_CONSUMER' } }]);
  });

  it('falling behind on fewer orders than the buffer conflates it to the latest state per order; it stays subscribed', async () => {
    const { userId } = await registerUser(server, 'Stall rename 0', uniqueEmail('rename'));
    const ORDERS = 10;
    for (let i = 0; i < ORDERS; i++) await place(userId, products);
    await settled();
    const base = server.app.subscriptions.size;
    const filter = { userId };

    const normal = await connect();
    normal.subscribe('n', `subscription($f: OrderFilter) { ordersChanged(filter: $f) { id userName version } }`, { f: filter });
    const stalled = await connect();
    stalled.subscribe('s', `subscription($f: OrderFilter) { ordersChanged(filter: $f) { id userName version ${HEAVY} } }`, { f: filter });
    await openSubscriptions(server.app, base + 2, base + 2, 20_000);
    pause(stalled);
    const queues = watchQueues(server.app);

    // 30 renames, each changing all 10 order views: 300 changes to 10 views.
    // Each rename waits until the normal client has it, so every projection
    // batch holds exactly one rename.
    const RENAMES = 30;
    const latencies: number[] = [];
    for (let v = 1; v <= RENAMES; v++) {
      await server.ok(`mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { version } }`, {
        i: { userId, expectedVersion: v, name: `Stall rename ${v}` },
      });
      const at = performance.now();
      const messages = await normal.messages('n', v * ORDERS, 5_000);
      for (const r of messages.slice(-ORDERS)) {
        expect(r.message.payload.data.ordersChanged.userName).toBe(`Stall rename ${v}`);
        latencies.push(r.at - at);
      }
    }
    expect(Math.max(...latencies)).toBeLessThan(2_000);
    await sleep(300);
    const maxQueue = queues.stop();
    expect(maxQueue).toBeLessThanOrEqual(BUFFER);
    // Conflated, not dropped.
    expect(server.app.subscriptions.size).toBe(base + 2);

    resume(stalled);
    const final = `Stall rename ${RENAMES}`;
    const latestName = () => {
      const names = new Map<string, string>();
      for (const d of stalled.data('s')) names.set(d.ordersChanged.id, d.ordersChanged.userName);
      return names;
    };
    await stalled.until(() => {
      const names = latestName();
      return names.size === ORDERS && [...names.values()].every((n) => n === final);
    }, 15_000, 'the latest name on every order');
    await sleep(300);
    const got = stalled.of('s');
    expect(got.every((r) => r.message.type === 'next')).toBe(true);
    const bytes = Math.min(...got.map((r) => Buffer.byteLength(JSON.stringify(r.message))));
    const inFlight = Math.ceil(kernelSocketBytes() / bytes) + 2;
    expect(got.length).toBeLessThanOrEqual(BUFFER + inFlight);
    expect(got.length).toBeLessThan(RENAMES * ORDERS);
    // Never an older name after a newer one, per order.
    const index = new Map<string, number>();
    for (const d of stalled.data('s')) {
      const n = Number(d.ordersChanged.userName.split(' ').at(-1));
      expect(n).toBeGreaterThanOrEqual(index.get(d.ordersChanged.id) ?? 0);
      index.set(d.ordersChanged.id, n);
    }
    console.log(
      `[conflation ${process.env.TEST_DB}] ${RENAMES * ORDERS} changes to ${ORDERS} orders; normal client latency ${JSON.stringify(stats(latencies))} ms; ` +
        `longest server queue ${maxQueue}/${BUFFER}; stalled client got ${got.length} messages of ~${Math.round(bytes / 1024)} KiB (in-flight bound ${inFlight})`,
    );

    // Still live afterwards.
    const before = got.length;
    await server.ok(`mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { version } }`, {
      i: { userId, expectedVersion: RENAMES + 1, name: 'Stall rename done' },
    });
    await stalled.messages('s', before + ORDERS, 10_000);
    expect(stalled.data('s').slice(before).map((d) => d.ordersChanged.userName)).toEqual(Array(ORDERS).fill('Stall rename done'));
  }, 58_000);
});
