/**
 * Queries clients repeat are answered without Apollo's request pipeline
 * (src/server/hot-queries.ts) once Apollo has served and compiled them: the
 * answer must be the one Apollo gives — body, status and headers — whatever
 * the request asks, and Apollo must still answer what the hot path leaves
 * to it. The test server compiles every query on its first run, so the
 * first request of a text goes through Apollo and the ones after it are hot.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CompiledExecution } from '../../src/graphql/compiled-execution.js';
import { HotQueries } from '../../src/server/hot-queries.js';
import { bearer, customer } from '../support/auth.js';
import { addProduct, placeOrder, registerUser } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let userId: string;
let orderId: string;
let position: string;

/** What the hot path answered itself (not handed back to Apollo), counted as it happens. */
const answer = vi.spyOn(HotQueries.prototype, 'answer');
/** Results the hot path computed and handed to Apollo (it met field errors). */
const handedOver = vi.spyOn(CompiledExecution.prototype, 'answerWith');
const hotAnswers = async () => (await Promise.all(answer.mock.results.map((r) => r.value))).filter((r) => r !== undefined).length;

beforeAll(async () => {
  // No cache: every run reads the database, so the statements say how often a query ran.
  server = await startTestServer({ CACHE_ENABLED: false });
  ({ userId } = await registerUser(server, 'Hester Hotpath'));
  const { productId } = await addProduct(server, 'Hot lamp', '7.25');
  ({ orderId, position } = await placeOrder(server, userId, [{ productId, quantity: 3 }]));
});

afterAll(async () => {
  await server?.stop();
  answer.mockRestore();
  handedOver.mockRestore();
});

interface Sent {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string>;
}

/** A POST as a client sends it, and everything that comes back but the per-request ids and date. */
async function post(body: unknown, headers: Record<string, string> = {}): Promise<Sent> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await bearer(customer(userId))), ...headers },
    body: JSON.stringify(body),
  });
  const kept = Object.fromEntries([...res.headers].filter(([name]) => !['x-request-id', 'x-correlation-id', 'date', 'keep-alive'].includes(name)));
  return { status: res.status, body: await res.text(), headers: kept };
}

/** Sends `body` twice — Apollo answers the first, the hot path the second — and returns both answers and whether the second was hot. */
async function twice(body: unknown, headers: Record<string, string> = {}) {
  const first = await post(body, headers);
  const before = await hotAnswers();
  const second = await post(body, headers);
  return { first, second, hot: (await hotAnswers()) - before };
}

/**
 * A profile query made hot by a plain request, then sent twice as `body` and `headers` change it: both answers,
 * and whether the hot path answered the second (it should not, for what it leaves to Apollo).
 */
async function hotThenSent(name: string, change: { body?: Record<string, unknown>; headers?: Record<string, string> }) {
  const query = fresh(`query ${name}($id: ID!) { user(id: $id) { name } }`);
  await post({ query, variables: { id: userId } });
  return twice({ query, variables: { id: userId }, ...change.body }, change.headers);
}

/**
 * A profile query made hot, then sent twice as `change` says, must be Apollo's to answer both times, alike, with
 * `status` (hotThenSent); the first answer.
 */
async function leftToApollo(name: string, change: Parameters<typeof hotThenSent>[1], status: number) {
  const { first, second, hot } = await hotThenSent(name, change);
  expect(hot).toBe(0);
  expect(first.status).toBe(status);
  expect(second).toEqual(first);
  return first;
}

/** A query text no other test sends (the first request of a text is Apollo's). */
let serial = 0;
const fresh = (query: string) => `${query} # ${++serial}`;

describe('a repeated query', () => {
  it('is answered by the hot path with the body, status and headers Apollo answered it with', async () => {
    const body = { query: fresh('query HotOrder($id: ID!) { order(id: $id) { id status total items { quantity product { name } } user { name } } }'), variables: { id: orderId } };
    const { first, second, hot } = await twice(body);
    expect(hot).toBe(1);
    expect(second).toEqual(first);
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(first.body)).toEqual({
      data: { order: { id: orderId, status: 'PENDING', total: '21.75', items: [{ quantity: 3, product: { name: 'Hot lamp' } }], user: { name: 'Hester Hotpath' } } },
    });
    expect(first.body.endsWith('}\n')).toBe(true);
  });

  it('is answered in the media type Apollo chooses for each Accept header', async () => {
    const query = fresh('query HotName($id: ID!) { user(id: $id) { name } }');
    const accepts = ['application/json', 'application/graphql-response+json', 'application/graphql-response+json, application/json;q=0.9', '*/*', 'text/html, */*;q=0.1'];
    for (const accept of accepts) {
      const { first, second, hot } = await twice({ query, variables: { id: userId } }, { accept });
      expect(hot, accept).toBe(1);
      expect(second, accept).toEqual(first);
    }
    const types = await Promise.all(accepts.map(async (accept) => (await post({ query, variables: { id: userId } }, { accept })).headers['content-type']));
    expect(types).toEqual([
      'application/json; charset=utf-8',
      'application/graphql-response+json; charset=utf-8',
      'application/graphql-response+json; charset=utf-8',
      'application/json; charset=utf-8',
      'application/json; charset=utf-8',
    ]);
  });

  it("that Apollo answers 406 for its Accept header stays Apollo's to answer", async () => {
    await leftToApollo('HotRefused', { headers: { accept: 'text/html' } }, 406);
  });

  it('with a field error runs once, and Apollo shapes the error as it always does', async () => {
    // The customer may read their order, not the list of users (staff only): data and a FORBIDDEN error.
    const body = { query: fresh('query HotForbidden($id: ID!) { order(id: $id) { id } users { total } }'), variables: { id: orderId } };
    const first = await post(body);
    server.statements.length = 0;
    const handed = handedOver.mock.calls.length;
    const second = await post(body);
    expect(second).toEqual(first);
    expect(handedOver.mock.calls.length - handed).toBe(1);
    expect(first.status).toBe(200);
    // `users` is non-null: the error nulls the whole data.
    expect(JSON.parse(first.body)).toEqual({ errors: [expect.objectContaining({ path: ['users'], extensions: { code: 'FORBIDDEN' } })], data: null });
    // One read of the order: the run that met the error was not repeated.
    expect(server.statements.filter((sql) => /\border_view\b/.test(sql) && !/_change\b/.test(sql))).toHaveLength(1);
  });

  it('with variables that do not coerce is refused as Apollo refuses it: 400, BAD_USER_INPUT, nothing run', async () => {
    const query = fresh('query HotBadVariables($id: ID!) { order(id: $id) { id } }');
    await post({ query, variables: { id: orderId } });
    const { first, second, hot } = await twice({ query, variables: { id: { not: 'an id' } } });
    expect(hot).toBe(0);
    expect(second).toEqual(first);
    expect(first.status).toBe(400);
    expect(JSON.parse(first.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('over the cost limit is refused as Apollo refuses it', async () => {
    const limited = await startTestServer({ CACHE_ENABLED: false, GRAPHQL_MAX_COST: 50 });
    try {
      const { userId: id } = await registerUser(limited, 'Costly Customer');
      const query = fresh('query HotCost($size: Int!) { users(pageSize: $size) { users { name } } }');
      const send = async (size: number) => {
        const res = await fetch(limited.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(await bearer({ role: 'admin', userId: id })) },
          body: JSON.stringify({ query, variables: { size } }),
        });
        return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: Array<{ extensions: { code: string } }> } };
      };
      const once = await send(1);
      expect(once.status, JSON.stringify(once.body)).toBe(200);
      const before = await hotAnswers();
      expect((await send(1)).status).toBe(200);
      expect((await hotAnswers()) - before).toBe(1);
      const refused = await send(100);
      expect(refused.body.errors?.[0]?.extensions.code).toBe('QUERY_TOO_COMPLEX');
      expect(refused.body.data).toBeUndefined();
    } finally {
      await limited.stop();
    }
  });

  it('sent with an operation name, or among other operations, runs the one it names', async () => {
    const query = fresh('query HotA($id: ID!) { order(id: $id) { id } } query HotB($id: ID!) { user(id: $id) { name } }');
    const a = await twice({ query, operationName: 'HotA', variables: { id: orderId } });
    const b = await twice({ query, operationName: 'HotB', variables: { id: userId } });
    expect([a.hot, b.hot]).toEqual([1, 1]);
    expect(JSON.parse(a.second.body)).toEqual({ data: { order: { id: orderId } } });
    expect(JSON.parse(b.second.body)).toEqual({ data: { user: { name: 'Hester Hotpath' } } });
    // Without a name, a document of two operations is Apollo's error, hot or not.
    const none = await twice({ query, variables: { id: orderId } });
    expect(none.hot).toBe(0);
    expect(none.second).toEqual(none.first);
    expect(JSON.parse(none.first.body).errors[0].extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
  });

  it('with a bad token is refused with 401 whether or not it is hot', async () => {
    await leftToApollo('HotToken', { headers: { authorization: 'Bearer not-a-token' } }, 401);
  });

  it('with x-min-position waits for that position, as through Apollo', async () => {
    const query = fresh('query HotAt($id: ID!) { order(id: $id) { id status } }');
    const { first, second, hot } = await twice({ query, variables: { id: orderId } }, { 'x-min-position': position });
    expect(hot).toBe(1);
    expect(second).toEqual(first);
    expect(JSON.parse(second.body).data.order.status).toBe('PENDING');
  });

  it('with fields Apollo reads besides the query (extensions) is left to Apollo', async () => {
    const first = await leftToApollo('HotExtensions', { body: { extensions: {} } }, 200);
    expect(JSON.parse(first.body)).toEqual({ data: { user: { name: 'Hester Hotpath' } } });
  });
});
