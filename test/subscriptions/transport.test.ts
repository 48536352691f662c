import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addProduct, placeOrder, registerUser, transition } from '../support/operations.js';
import { RawWsClient, sleep, type Closed } from '../support/raw-ws.js';
import { ADMIN, bearer } from '../support/auth.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The WebSocket transport as a client sees it, over real sockets and the bare
 * graphql-transport-ws protocol: initialisation timeout, message size limit,
 * keep-alive, the per-connection subscription cap, and errors for bad
 * subscriptions that leave the connection usable.
 */

const INIT_TIMEOUT_MS = 300;
const MAX_MESSAGE_BYTES = 10_000;
const MAX_SUBSCRIPTIONS = 3;
const KEEPALIVE_MS = 200;

let server: TestServer;
/** Its own instance: with a 200 ms keep-alive, any event-loop stall would disconnect clients of other tests. */
let keepAliveServer: TestServer;
const clients: RawWsClient[] = [];

beforeAll(async () => {
  [server, keepAliveServer] = await Promise.all([
    startTestServer({
      WS_CONNECTION_INIT_TIMEOUT_MS: INIT_TIMEOUT_MS,
      WS_MAX_MESSAGE_BYTES: MAX_MESSAGE_BYTES,
      WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: MAX_SUBSCRIPTIONS,
    }),
    startTestServer({ WS_KEEPALIVE_MS: KEEPALIVE_MS }),
  ]);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([server?.stop(), keepAliveServer?.stop()]);
});

async function connect(on: TestServer, options: Parameters<typeof RawWsClient.connect>[1] = {}): Promise<RawWsClient> {
  const client = await RawWsClient.connect(on.url, options);
  clients.push(client);
  return client;
}

function closedWithin(client: RawWsClient, timeoutMs: number): Promise<Closed> {
  return Promise.race([
    client.closed,
    sleep(timeoutMs).then(() => {
      throw new Error(`socket still open after ${timeoutMs} ms`);
    }),
  ]);
}

const STATUS = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { id status version } }`;

async function newOrders(count: number): Promise<string[]> {
  const { userId } = await registerUser(server, 'Transport');
  const { productId } = await addProduct(server, 'Transport item', '1.00');
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await placeOrder(server, userId, [{ productId, quantity: 1 }])).orderId);
  return ids;
}

describe('connection initialisation', () => {
  it(`closes a socket that never sends connection_init with 4408 after ${INIT_TIMEOUT_MS} ms, and not before`, async () => {
    // Times are taken on this side: the server's timer starts after `start`
    // (during the handshake) and its close is seen here after it happened, so
    // `closed.at - start` is never shorter than the server really waited.
    const start = performance.now();
    const client = await connect(server, { init: false });
    const closed = await closedWithin(client, 3_000);
    expect(closed.code).toBe(4408);
    expect(closed.reason).toMatch(/initialisation timeout/i);
    expect(closed.at - start).toBeGreaterThanOrEqual(INIT_TIMEOUT_MS - 2);
    expect(closed.at - start).toBeLessThan(INIT_TIMEOUT_MS + 1_500);
    expect(client.received).toEqual([]);
  }, 10_000);

  it('keeps a socket that initialises in time', async () => {
    const client = await connect(server, { init: false });
    await sleep(INIT_TIMEOUT_MS / 3);
    client.send({ type: 'connection_init', payload: await bearer(ADMIN) });
    await client.waitFor((m) => m.type === 'connection_ack', 2_000, 'connection_ack');
    await sleep(INIT_TIMEOUT_MS * 2);
    expect(client.isOpen).toBe(true);
  }, 10_000);
});

describe('message size limit', () => {
  /** A subscribe message padded (with a GraphQL comment) to exactly `bytes` bytes. */
  function subscribeOfSize(id: string, orderId: string, bytes: number): string {
    const message = (padding: string) =>
      JSON.stringify({ id, type: 'subscribe', payload: { query: `${STATUS}\n#${padding}`, variables: { id: orderId } } });
    const bare = Buffer.byteLength(message(''));
    const text = message('x'.repeat(bytes - bare));
    expect(Buffer.byteLength(text)).toBe(bytes);
    return text;
  }

  it(`accepts a message of exactly WS_MAX_MESSAGE_BYTES (${MAX_MESSAGE_BYTES}); one byte more closes the socket with 1009`, async () => {
    const [orderId] = await newOrders(1);

    const atLimit = await connect(server);
    atLimit.send(subscribeOfSize('big', orderId!, MAX_MESSAGE_BYTES));
    const [snapshot] = await atLimit.messages('big', 1, 5_000);
    expect(snapshot!.message).toMatchObject({ type: 'next', payload: { data: { orderStatusChanged: { id: orderId, status: 'PENDING' } } } });
    expect(atLimit.isOpen).toBe(true);

    const overLimit = await connect(server);
    overLimit.send(subscribeOfSize('too-big', orderId!, MAX_MESSAGE_BYTES + 1));
    const closed = await closedWithin(overLimit, 5_000);
    expect(closed.code).toBe(1009);
    expect(overLimit.of('too-big')).toEqual([]);

    // Only that connection suffered: the other one still gets changes, and new ones are accepted.
    await transition(server, 'confirmOrder', orderId!);
    const messages = await atLimit.messages('big', 2, 5_000);
    expect(messages[1]!.message.payload.data.orderStatusChanged.status).toBe('CONFIRMED');
    const again = await connect(server);
    again.subscribe('small', STATUS, { id: orderId });
    await again.messages('small', 1, 5_000);
  }, 20_000);
});

describe('keep-alive', () => {
  it(`pings every WS_KEEPALIVE_MS (${KEEPALIVE_MS} ms) and keeps a client that answers`, async () => {
    const start = performance.now();
    const client = await connect(keepAliveServer);
    await sleep(KEEPALIVE_MS * 5 + 100);
    expect(client.isOpen).toBe(true);
    expect(client.pings.length).toBeGreaterThanOrEqual(3);
    expect(client.pings.length).toBeLessThanOrEqual(8);
    expect(client.pings[0]! - start).toBeGreaterThanOrEqual(KEEPALIVE_MS - 2);
    // Still a working GraphQL connection.
    client.send({ type: 'ping' });
    await client.waitFor((m) => m.type === 'pong', 2_000, 'a protocol pong');
  }, 10_000);

  it('disconnects a client that stops answering pings, and only that one', async () => {
    const healthy = await connect(keepAliveServer);
    // Answers by hand: proves it is the pong that keeps a connection.
    const manual = await connect(keepAliveServer, { ws: { autoPong: false } });
    manual.socket.on('ping', (data) => manual.socket.pong(data));
    const start = performance.now();
    const silent = await connect(keepAliveServer, { ws: { autoPong: false } });

    const closed = await closedWithin(silent, KEEPALIVE_MS * 10);
    // Terminated without a closing handshake.
    expect(closed.code).toBe(1006);
    expect(silent.pings.length).toBeGreaterThanOrEqual(1);
    expect(silent.pings[0]!).toBeLessThan(closed.at);
    // A keep-alive interval until the ping, another one waiting for its pong: not before.
    expect(closed.at - start).toBeGreaterThanOrEqual(2 * KEEPALIVE_MS - 2);

    await sleep(KEEPALIVE_MS * 3);
    expect(healthy.isOpen).toBe(true);
    expect(manual.isOpen).toBe(true);
    expect(manual.pings.length).toBeGreaterThanOrEqual(3);
  }, 10_000);
});

describe('subscriptions per connection', () => {
  let rejection: unknown;

  it(`refuses subscription ${MAX_SUBSCRIPTIONS + 1} with an error; the first ${MAX_SUBSCRIPTIONS} keep working; completing one frees a slot`, async () => {
    const orders = await newOrders(MAX_SUBSCRIPTIONS + 1);
    const client = await connect(server);
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) {
      client.subscribe(`s${i}`, STATUS, { id: orders[i] });
      await client.messages(`s${i}`, 1, 5_000);
    }
    client.subscribe('extra', STATUS, { id: orders[MAX_SUBSCRIPTIONS] });
    const [refused] = await client.messages('extra', 1, 5_000);
    expect(refused!.message.type).toBe('error');
    expect(refused!.message.payload).toHaveLength(1);
    rejection = refused!.message.payload;
    expect(client.isOpen).toBe(true);

    // The first ones still deliver changes.
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) await transition(server, 'confirmOrder', orders[i]!);
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) {
      const messages = await client.messages(`s${i}`, 2, 5_000);
      expect(messages.map((m) => [m.message.type, m.message.payload.data.orderStatusChanged.status])).toEqual([
        ['next', 'PENDING'],
        ['next', 'CONFIRMED'],
      ]);
    }

    // Completing one frees a slot, even for the refused operation's id.
    client.complete('s0');
    client.subscribe('extra', STATUS, { id: orders[MAX_SUBSCRIPTIONS] });
    const accepted = await client.messages('extra', 2, 5_000);
    expect(accepted[1]!.message).toMatchObject({ type: 'next', payload: { data: { orderStatusChanged: { status: 'PENDING' } } } });
    // The completed one gets nothing more.
    await transition(server, 'shipOrder', orders[0]!);
    await transition(server, 'confirmOrder', orders[MAX_SUBSCRIPTIONS]!);
    await client.messages('extra', 3, 5_000);
    await sleep(200);
    expect(client.of('s0')).toHaveLength(2);
    // And the cap still holds.
    client.subscribe('one-too-many', STATUS, { id: orders[0] });
    expect((await client.messages('one-too-many', 1, 5_000))[0]!.message.type).toBe('error');
  }, 30_000);

  it('says why: TOO_MANY_SUBSCRIPTIONS', () => {
    expect(rejection).toBeDefined();
    expect(rejection).toMatchObject([{ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } }]);
  });
});

describe('invalid subscriptions', () => {
  const errors = new Map<string, any>();

  it('answer each bad subscribe with an error for that operation id, and the connection then runs a valid one', async () => {
    const [orderId] = await newOrders(1);
    const client = await connect(server);
    const cases: Array<[id: string, query: string, variables?: Record<string, unknown>]> = [
      ['bad-since', `subscription { ordersChanged(since: "yesterday") { id } }`],
      ['malformed-id', STATUS, { id: 'not-an-id' }],
      ['malformed-filter-id', `subscription { ordersChanged(filter: { userId: "42" }) { id } }`],
      ['wrong-variable-type', STATUS, { id: 42.5 }],
      ['missing-variable', STATUS, {}],
      ['unknown-field', `subscription { ordersChanged { id nope } }`],
      ['unknown-subscription', `subscription { nope { id } }`],
      ['syntax', `subscription { ordersChanged { id `],
    ];
    // One at a time: in-flight subscribes count against the per-connection cap.
    for (const [id, query, variables] of cases) {
      client.subscribe(id, query, variables);
      const messages = await client.messages(id, 1, 5_000);
      expect(messages.map((m) => m.message.type), id).toEqual(['error']);
      expect(Array.isArray(messages[0]!.message.payload) && messages[0]!.message.payload.length > 0, id).toBe(true);
      errors.set(id, messages[0]!.message.payload);
    }
    expect(errors.get('bad-since')).toMatchObject([{ message: expect.stringContaining('since'), extensions: { code: 'BAD_USER_INPUT' } }]);
    expect(errors.get('malformed-id')).toMatchObject([{ message: expect.stringContaining('orderId'), extensions: { code: 'BAD_USER_INPUT' } }]);
    expect(errors.get('malformed-filter-id')).toMatchObject([{ message: expect.stringContaining('filter.userId'), extensions: { code: 'BAD_USER_INPUT' } }]);
    expect(errors.get('wrong-variable-type')).toMatchObject([{ message: expect.stringContaining('$id'), extensions: { code: 'BAD_USER_INPUT' } }]);
    expect(errors.get('missing-variable')).toMatchObject([{ message: expect.stringContaining('$id'), extensions: { code: 'BAD_USER_INPUT' } }]);
    expect(client.isOpen).toBe(true);

    // The same connection, the same ids: now valid.
    const base = server.app.subscriptions.size;
    client.subscribe('malformed-id', STATUS, { id: orderId });
    client.subscribe('bad-since', `subscription { ordersChanged(filter: { status: CONFIRMED }) { id status } }`);
    await client.messages('malformed-id', 2, 5_000);
    await client.until(() => server.app.subscriptions.size >= base + 2, 5_000, 'both subscriptions registered');
    await transition(server, 'confirmOrder', orderId!);
    const status = await client.messages('malformed-id', 3, 5_000);
    expect(status.slice(1).map((m) => m.message.payload.data.orderStatusChanged.status)).toEqual(['PENDING', 'CONFIRMED']);
    const changed = await client.messages('bad-since', 2, 5_000);
    expect(changed[1]!.message.payload.data.ordersChanged).toEqual({ id: orderId, status: 'CONFIRMED' });
  }, 30_000);

  it('report an unknown field as GRAPHQL_VALIDATION_FAILED, naming it', () => {
    expect(errors.get('unknown-field')).toMatchObject([
      { message: expect.stringContaining('nope'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
    ]);
  });
  it('report a syntax error as GRAPHQL_PARSE_FAILED', () => {
    expect(errors.get('syntax')).toMatchObject([{ message: expect.stringMatching(/syntax/i), extensions: { code: 'GRAPHQL_PARSE_FAILED' } }]);
  });
});
