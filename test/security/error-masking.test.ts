/**
 * Error masking: an unexpected failure inside the server reaches the client
 * as INTERNAL_SERVER_ERROR, "Internal server error", and nothing else — no
 * stack trace, SQL, database message, file path or "prisma" — over HTTP and
 * graphql-ws. Provoked for real: read-model tables are dropped from this
 * server's own database, so the queries that read them fail in the database
 * driver. (Every other suite in this folder also checks all its responses
 * for leaks in its last test.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bearer } from '../support/auth.js';
import { registerUser } from '../support/operations.js';
import type { RawWsClient } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectNoLeak, expectNothingLeakedSoFar, post, request, wsConnect, wsRun } from './support.js';

let server: TestServer;
let userId: string;
const sockets: RawWsClient[] = [];
beforeAll(async () => {
  server = await startTestServer();
  userId = (await registerUser(server, 'Before the fault')).userId;
  // The projectors keep running and fail on these tables too (logged, not our concern here).
  await server.app.db.prisma.$executeRawUnsafe('DROP TABLE product_view CASCADE');
  await server.app.db.prisma.$executeRawUnsafe('DROP TABLE user_view CASCADE');
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

describe('this suite', () => {
  it('no response contained a stack trace, SQL, a file path or "prisma"', () => {
    expectNothingLeakedSoFar();
  });
});
