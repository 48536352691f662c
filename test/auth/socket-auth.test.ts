import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, TEST_JWT_SECRET, customer, tokenFor } from '../support/auth.js';
import { registerUser } from '../support/operations.js';
import { RawWsClient, type Closed } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 7 §1 on graphql-ws: the token travels in connection_init's payload
 * (`{ authorization: "Bearer …" }`, the key in any case). A bad token closes
 * the socket with 4403 before any ack; no token is an anonymous connection
 * that may run public operations but no subscription; and a socket does not
 * outlive its token — it is closed with 4403 when the token expires.
 */

const FORBIDDEN_CLOSE = 4403;
const SECRET = new TextEncoder().encode(TEST_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);

const STAFF_ONLY = '{ users(pageSize: 1) { total } }';
const PUBLIC = '{ products(pageSize: 1) { total } }';
const ORDERS_CHANGED = 'subscription { ordersChanged { id status } }';

let server: TestServer;
const open: RawWsClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await server?.stop();
});

/** An opened socket that has not sent connection_init yet; closed after the test. */
async function socket(): Promise<RawWsClient> {
  const client = await RawWsClient.connect(server.url, { init: false });
  open.push(client);
  return client;
}

/** Sends connection_init with `payload` (undefined: none at all). */
async function init(payload: Record<string, unknown> | undefined): Promise<RawWsClient> {
  const client = await socket();
  client.send(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload });
  return client;
}

async function acknowledged(payload: Record<string, unknown> | undefined): Promise<RawWsClient> {
  const client = await init(payload);
  await client.waitFor((m) => m.type === 'connection_ack', 5_000, 'connection_ack');
  return client;
}

/** Resolves with the close, or fails after `ms`. */
function closedWithin(client: RawWsClient, ms: number): Promise<Closed> {
  return Promise.race([
    client.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms).unref()),
  ]);
}

/** Runs one operation and returns its messages (next… then complete, or error). */
async function run(client: RawWsClient, id: string, query: string): Promise<Array<{ type: string; payload?: any }>> {
  client.subscribe(id, query);
  await client.until(() => client.of(id).some((r) => r.message.type === 'complete' || r.message.type === 'error'), 5_000, `operation ${id}`);
  return client.of(id).map((r) => r.message);
}

function sign(claims: JWTPayload, exp: number | null = now() + 3600, key: Uint8Array = SECRET): Promise<string> {
  const payload: JWTPayload = { sub: 'test-admin', role: 'admin', ...claims };
  if (exp !== null) payload.exp = exp;
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
}

describe('connection_init with a bad token: closed with 4403, never acknowledged', () => {
  const rows: Array<[string, () => Promise<unknown>]> = [
    ['"Bearer xyz"', async () => 'Bearer xyz'],
    ['a token signed with another secret', async () => `Bearer ${await sign({}, undefined, new TextEncoder().encode('x'.repeat(48)))}`],
    ['an expired token', async () => `Bearer ${await sign({}, now() - 60)}`],
    ['an unsigned token (alg: none)', async () => `Bearer ${new UnsecuredJWT({ sub: 'test-admin', role: 'admin' }).setExpirationTime('1h').encode()}`],
    ['role "root"', async () => `Bearer ${await sign({ role: 'root' })}`],
    ['no role', async () => `Bearer ${await sign({ role: undefined })}`],
    ['no exp', async () => `Bearer ${await sign({}, null)}`],
    ['"Basic …" credentials', async () => `Basic ${Buffer.from('admin:secret').toString('base64')}`],
    ['a bare token without "Bearer"', async () => tokenFor(ADMIN)],
    ['a value that is not a string', async () => 42],
  ];
  for (const [name, value] of rows) {
    it(name, async () => {
      const client = await init({ authorization: await value() });
      const closed = await closedWithin(client, 5_000);
      expect(closed.code).toBe(FORBIDDEN_CLOSE);
      expect(client.received.map((r) => r.message.type)).not.toContain('connection_ack');
    });
  }
});

describe('connection_init with a valid token', () => {
  it('is acknowledged, and operations run as the token says (staff)', async () => {
    const client = await acknowledged({ authorization: `Bearer ${await tokenFor(ADMIN)}` });
    const messages = await run(client, 'q', STAFF_ONLY);
    expect(messages[0]).toMatchObject({ type: 'next', payload: { data: { users: { total: expect.any(Number) } } } });
    expect(messages[0]!.payload.errors).toBeUndefined();
  });

  it('is acknowledged for a customer, who may subscribe to their own profile but is no staff', async () => {
    const { userId } = await registerUser(server, 'Socket customer');
    const client = await acknowledged({ authorization: `Bearer ${await tokenFor(customer(userId))}` });
    client.subscribe('me', `subscription($id: ID!) { userProfileChanged(userId: $id) { id name } }`, { id: userId });
    const [first] = await client.messages('me', 1);
    expect(first!.message).toMatchObject({ type: 'next', payload: { data: { userProfileChanged: { id: userId, name: 'Socket customer' } } } });
    const staff = await run(client, 'staff', STAFF_ONLY);
    expect(staff[0]!.payload.errors.map((e: any) => e.extensions.code)).toEqual(['FORBIDDEN']);
  });

  for (const key of ['Authorization', 'AUTHORIZATION']) {
    it(`accepts the key spelled "${key}"`, async () => {
      const client = await acknowledged({ [key]: `Bearer ${await tokenFor(ADMIN)}` });
      const messages = await run(client, 'q', STAFF_ONLY);
      expect(messages[0]!.payload.errors).toBeUndefined();
      expect(messages[0]!.payload.data.users.total).toEqual(expect.any(Number));
    });
  }
});

describe('anonymous connection (no token)', () => {
  for (const [name, payload] of [
    ['connection_init without a payload', undefined],
    ['connection_init with an empty payload', {}],
  ] as const) {
    it(`${name}: acknowledged; a public query runs, a subscription gets UNAUTHENTICATED, and the socket stays usable`, async () => {
      const client = await acknowledged(payload);
      const sub = await run(client, 's', ORDERS_CHANGED);
      expect(sub).toHaveLength(1);
      expect(sub[0]!.type).toBe('error');
      expect(sub[0]!.payload.map((e: any) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);

      const pub = await run(client, 'p', PUBLIC);
      expect(pub[0]).toMatchObject({ type: 'next', payload: { data: { products: { total: expect.any(Number) } } } });
      const staff = await run(client, 'staff', STAFF_ONLY);
      expect(staff[0]!.payload.errors.map((e: any) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);
      expect(client.isOpen).toBe(true);
    });
  }
});

describe('token expiry on an open socket', () => {
  it('closes the socket with 4403 "Token expired" when its token expires; a socket with a longer token stays open', async () => {
    // Expires 2–3 s from now (`exp` has whole seconds).
    const exp = Math.ceil((Date.now() + 2_000) / 1000);
    const expiresAtMs = exp * 1000;
    const shortLived = await acknowledged({ authorization: `Bearer ${await sign({}, exp)}` });
    const longLived = await acknowledged({ authorization: `Bearer ${await tokenFor(ADMIN, 3600)}` });
    // Both carry a live subscription: an active subscription does not keep an expired socket open.
    shortLived.subscribe('live', ORDERS_CHANGED);
    longLived.subscribe('live', ORDERS_CHANGED);

    const closed = await closedWithin(shortLived, expiresAtMs - Date.now() + 3_000);
    const closedAt = Date.now();
    expect(closed).toMatchObject({ code: FORBIDDEN_CLOSE, reason: 'Token expired' });
    // Not before the token expired, and promptly after.
    expect(closedAt).toBeGreaterThanOrEqual(expiresAtMs - 50);
    expect(closedAt).toBeLessThanOrEqual(expiresAtMs + 1_500);

    expect(longLived.isOpen).toBe(true);
    const messages = await run(longLived, 'after', STAFF_ONLY);
    expect(messages[0]!.payload.errors).toBeUndefined();
    expect(longLived.of('live').map((r) => r.message.type)).not.toContain('error');
    expect(longLived.isOpen).toBe(true);
  });
});
