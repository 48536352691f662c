/**
 * Error masking: an unexpected failure inside the server reaches the client
 * as INTERNAL_SERVER_ERROR, "Internal server error", and nothing else — no
 * stack trace, SQL, database message, file path or "prisma" — over HTTP and
 * graphql-ws. Provoked for real: read-model tables are dropped from this
 * server's own database, so the queries that read them fail in the database
 * driver. (Every other suite in this folder also checks all its responses
 * for leaks in its last test.)
 *
 * A WebSocket closed because of an internal error (4500) says only
 * "Internal server error" as its reason, in development as in production:
 * graphql-ws would put the exception's message there outside production.
 */
import { createHmac } from 'node:crypto';
import { CloseCode } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, TEST_JWT_SECRET, bearer } from '../support/auth.js';
import { registerUser } from '../support/operations.js';
import { RawWsClient } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectNoLeak, expectNothingLeakedSoFar, post, request, seen, wsConnect, wsRun } from './support.js';

let server: TestServer;
let userId: string;
const sockets: RawWsClient[] = [];
beforeAll(async () => {
  server = await startTestServer();
  userId = (await registerUser(server, 'Before the fault')).userId;
  // The projectors keep running and fail on these tables too (logged, not our concern here).
  await server.app.db.prisma.$executeRawUnsafe('DROP TABLE product_view CASCADE');
  await server.app.db.prisma.$executeRawUnsafe('DROP TABLE user_view CASCADE');
  // Dropped by hand, behind the projections' back: the cache must be told (the sign-up's payload filled it).
  server.app.cache.flush();
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});
afterAll(() => server?.stop());

const MASKED = { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };

describe('an internal error (a read-model table is gone)', () => {
  it('over HTTP POST → INTERNAL_SERVER_ERROR, "Internal server error", no details', async () => {
    const { json, text } = await post(server, { query: '{ products(pageSize: 5) { total products { id name } } }' });
    expect(json).toEqual({ data: null, errors: [{ ...MASKED, locations: [{ line: 1, column: 3 }], path: ['products'] }] });
    expectNoLeak(text);
  });

  it('over HTTP GET → the same', async () => {
    const { json, text } = await request(server, {
      path: `?query=${encodeURIComponent(`{ user(id: "${userId}") { id name } }`)}`,
      headers: { 'apollo-require-preflight': 'true', ...(await bearer(ADMIN)) },
    });
    expect(json.errors).toEqual([expect.objectContaining(MASKED)]);
    expect(Object.keys(json.errors[0].extensions)).toEqual(['code']);
    expectNoLeak(text);
  });

  it('in a nested field, next to data that works → only that field is masked', async () => {
    const { json, text } = await post(server, { query: `{ __typename product(id: "${userId}") { id } }` });
    expect(json.data).toEqual({ __typename: 'Query', product: null });
    expect(json.errors).toEqual([expect.objectContaining(MASKED)]);
    expectNoLeak(text);
  });

  it('in a query over graphql-ws → a next message with the masked error, the connection stays usable', async () => {
    const client = await wsConnect(server, sockets);
    const { messages } = await wsRun(client, 'q', { query: `{ user(id: "${userId}") { id name } }` });
    expect(messages).toEqual([
      { id: 'q', type: 'next', payload: { data: { user: null }, errors: [{ ...MASKED, locations: [{ line: 1, column: 3 }], path: ['user'] }] } },
      { id: 'q', type: 'complete' },
    ]);
    expectNoLeak(JSON.stringify(messages));
    expect((await wsRun(client, 'after', { query: '{ __typename }' })).messages[0]).toMatchObject({ type: 'next' });
  });

  it("in a subscription's snapshot over graphql-ws → an error message with only the masked error", async () => {
    const client = await wsConnect(server, sockets);
    const { messages, closed } = await wsRun(client, 's', {
      query: 'subscription($id: ID!) { userProfileChanged(userId: $id) { id name } }',
      variables: { id: userId },
    });
    expect(closed).toBeUndefined();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.type).toBe('error');
    expect(messages[0]!.payload).toEqual([expect.objectContaining(MASKED)]);
    expectNoLeak(JSON.stringify(messages));
  });
});

/**
 * A token correctly signed with the server's secret whose `role` claim is an
 * array nested `depth` deep: verification succeeds, and describing the bad
 * role in the refusal overflows the stack (JSON.stringify) — an internal
 * error in connection_init, not a refusal. Built by hand: a signing library
 * would overflow the same way serializing the payload.
 */
function tokenWithRoleNested(depth: number): string {
  const encode = (json: string) => Buffer.from(json).toString('base64url');
  const header = encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const role = '['.repeat(depth) + ']'.repeat(depth);
  const payload = encode(`{"sub":"test-admin","exp":${Math.floor(Date.now() / 1000) + 3600},"role":${role}}`);
  const signature = createHmac('sha256', TEST_JWT_SECRET).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

describe.each(['development', 'production'])('WebSocket close reasons with NODE_ENV=%s', (mode) => {
  let modeServer: TestServer;
  beforeAll(async () => {
    // graphql-ws reads NODE_ENV from the environment when it is attached.
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = mode;
    try {
      modeServer = await startTestServer({ NODE_ENV: mode });
    } finally {
      process.env.NODE_ENV = previous;
    }
  });
  afterAll(() => modeServer?.stop());

  it('an internal error in connection_init closes the socket with 4500 and the reason "Internal server error", nothing more', async () => {
    const client = await RawWsClient.connect(modeServer.url, { init: false });
    sockets.push(client);
    client.send({ type: 'connection_init', payload: { authorization: `Bearer ${tokenWithRoleNested(20_000)}` } });
    const closed = await client.closed;
    // The fault happened: not a refusal (4403) but an internal error.
    expect(closed.code).toBe(CloseCode.InternalServerError);
    expect(closed.reason).toBe('Internal server error');
    expect(client.received).toEqual([]);
    seen.push({ what: `ws close (${mode})`, text: `${closed.code} ${closed.reason}` });
  });

  it('other connections are unaffected: a valid token is acknowledged and served', async () => {
    const client = await wsConnect(modeServer, sockets);
    const { messages } = await wsRun(client, 'q', { query: '{ __typename }' });
    expect(messages[0]).toMatchObject({ type: 'next', payload: { data: { __typename: 'Query' } } });
  });
});

describe('this suite', () => {
  it('no response contained a stack trace, SQL, a file path or "prisma"', () => {
    expectNothingLeakedSoFar();
  });
});
