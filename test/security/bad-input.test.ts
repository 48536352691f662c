/**
 * Well-formed requests with hostile or wrong contents: variables of the
 * wrong type, missing or extra, huge strings, out-of-range numbers, unknown
 * operations and fields. Each gets a clear error naming what is wrong, with
 * the code a client can act on, and nothing is written.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addProduct, registerUser, uniqueEmail } from '../support/operations.js';
import type { RawWsClient } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { codesOf, expectNothingLeakedSoFar, post, written, wsConnect, wsRun } from './support.js';

let server: TestServer;
let userId: string;
let productId: string;
const sockets: RawWsClient[] = [];
beforeAll(async () => {
  server = await startTestServer();
  userId = (await registerUser(server, 'Existing customer')).userId;
  productId = (await addProduct(server, 'Existing product', '2.50')).productId;
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});
afterAll(() => server?.stop());

const PLACE_ORDER = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { orderId } }';
const REGISTER = 'mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId } }';
const PRODUCTS = 'query($pageSize: Int) { products(pageSize: $pageSize) { total } }';

const order = (quantity: unknown) => ({ input: { userId, items: [{ productId, quantity }] } });
const KB100 = 'x'.repeat(100 * 1024);

interface Case {
  readonly what: string;
  readonly query: string;
  /** Built when the test runs (the ids exist by then). */
  readonly variables?: () => Record<string, unknown>;
  readonly message: RegExp;
}

/** Refused while coercing variables: before anything runs; 400, no `data`. */
const coercionCases: Case[] = [
  { what: 'quantity "abc" (a string for an Int)', query: PLACE_ORDER, variables: () => order('abc'), message: /"abc" at "input\.items\[0\]\.quantity"; Int cannot represent non-integer value/ },
  { what: 'quantity 1.5', query: PLACE_ORDER, variables: () => order(1.5), message: /items\[0\]\.quantity.*non-integer/ },
  { what: 'quantity 2^31 (beyond 32 bits)', query: PLACE_ORDER, variables: () => order(2 ** 31), message: /items\[0\]\.quantity.*non 32-bit signed integer/ },
  { what: 'quantity null (required)', query: PLACE_ORDER, variables: () => order(null), message: /null at "input\.items\[0\]\.quantity"; Expected non-nullable type "Int!"/ },
  { what: 'the required variable $input missing', query: PLACE_ORDER, variables: () => ({}), message: /Variable "\$input" of required type "PlaceOrderInput!" was not provided/ },
  { what: 'no variables at all', query: PLACE_ORDER, message: /Variable "\$input" of required type "PlaceOrderInput!" was not provided/ },
  { what: 'a required input field (email) missing', query: REGISTER, variables: () => ({ input: { name: 'No email' } }), message: /Field "email" of required type "String!" was not provided/ },
  { what: 'an input field that does not exist (role: admin)', query: REGISTER, variables: () => ({ input: { name: 'Mallory', email: uniqueEmail('extra'), role: 'admin' } }), message: /Field "role" is not defined by type "RegisterUserInput"/ },
  { what: 'name given as an object', query: REGISTER, variables: () => ({ input: { name: { $gt: '' }, email: uniqueEmail('object') } }), message: /String cannot represent a non string value/ },
  { what: 'a price that is not money ("1e309")', query: 'mutation($input: AddProductInput!) { addProduct(input: $input) { productId } }', variables: () => ({ input: { name: 'Overflow', price: '1e309' } }), message: /price/i },
];

describe('wrong variable types → 400 BAD_USER_INPUT naming the variable, nothing written', () => {
  it.each(coercionCases)('$what', async ({ query, variables, message }) => {
    const { result, events } = await written(server, () => post(server, { query, variables: variables?.() }));
    expect(result.status, result.text).toBe(400);
    expect(result.json, result.text).not.toHaveProperty('data');
    expect(result.json.errors).toHaveLength(1);
    expect(result.json.errors[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT' } });
    expect(events).toBe(0);
  });

  it('pageSize "x" → 400 BAD_USER_INPUT naming $pageSize', async () => {
    const { status, json } = await post(server, { query: PRODUCTS, variables: { pageSize: 'x' } });
    expect(status).toBe(400);
    expect(json).toEqual({ errors: [{ message: expect.stringMatching(/Variable "\$pageSize" got invalid value "x"; Int cannot represent non-integer value/), locations: expect.any(Array), extensions: { code: 'BAD_USER_INPUT' } }] });
  });

  it('the same wrong types over graphql-ws → an error message BAD_USER_INPUT, nothing written, the connection stays usable', async () => {
    const client = await wsConnect(server, sockets);
    const { result, events } = await written(server, async () => {
      const outcomes = [];
      for (const [i, c] of coercionCases.entries()) outcomes.push(await wsRun(client, `case-${i}`, { query: c.query, variables: c.variables?.() }));
      return outcomes;
    });
    for (const [i, outcome] of result.entries()) {
      expect(outcome.messages, coercionCases[i]!.what).toMatchObject([{ type: 'error', payload: [{ extensions: { code: 'BAD_USER_INPUT' } }] }]);
    }
    expect(events).toBe(0);
    expect((await wsRun(client, 'after', { query: '{ __typename }' })).messages[0]).toMatchObject({ type: 'next' });
  });
});

describe('values of the right type the domain refuses → BAD_USER_INPUT naming the field, nothing written', () => {
  const domainCases: Array<[what: string, query: string, variables: () => Record<string, unknown>, field: string, message: RegExp]> = [
    ['a 100 KB name in registerUser', REGISTER, () => ({ input: { name: KB100, email: uniqueEmail('huge') } }), 'name', /1–200 characters/],
    ['a 100 KB email in registerUser', REGISTER, () => ({ input: { name: 'Huge email', email: `${KB100}@example.com` } }), 'email', /valid email/],
    ['a 100 KB product name', 'mutation($input: AddProductInput!) { addProduct(input: $input) { productId } }', () => ({ input: { name: KB100, price: '1.00' } }), 'name', /characters/],
    ['quantity 0', PLACE_ORDER, () => order(0), 'items[0].quantity', /1 to 10000|1–10000|from 1/],
    ['quantity 10001', PLACE_ORDER, () => order(10_001), 'items[0].quantity', /1 to 10000|1–10000|from 1/],
    ['a negative price', 'mutation($input: AddProductInput!) { addProduct(input: $input) { productId } }', () => ({ input: { name: 'Negative', price: '-1.00' } }), 'price', /./],
    // PostgreSQL cannot store these; they must be refused as input, not fail as SQL.
    ['a NUL character in a name', REGISTER, () => ({ input: { name: 'Ada\u0000Lovelace', email: uniqueEmail('nul') } }), 'name', /control characters/],
    ['an unpaired surrogate in a product name', 'mutation($input: AddProductInput!) { addProduct(input: $input) { productId } }', () => ({ input: { name: 'Half \ud800 pair', price: '1.00' } }), 'name', /valid Unicode/],
    ['a NUL character in an email', REGISTER, () => ({ input: { name: 'Nul mail', email: 'nul\u0000@example.com' } }), 'email', /control characters/],
  ];

  it.each(domainCases)('%s', async (_what, query, variables, field, message) => {
    const { result, events } = await written(server, () => post(server, { query, variables: variables() }));
    expect(result.json.errors, result.text.slice(0, 500)).toHaveLength(1);
    expect(result.json.errors[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT' } });
    expect(result.json.errors[0].message).toContain(field.split('[')[0]);
    expect(result.json.data ?? null).toBeNull();
    expect(events).toBe(0);
    // The refusal does not echo the huge value back.
    expect(result.text.length).toBeLessThan(2_000);
  });

  it('pageSize 0, -1 and 101 → BAD_USER_INPUT "pageSize: expected an integer from 1 to 100"', async () => {
    for (const pageSize of [0, -1, 101]) {
      const { json } = await post(server, { query: PRODUCTS, variables: { pageSize } });
      expect(json, String(pageSize)).toEqual({
        data: null,
        errors: [expect.objectContaining({ message: `pageSize: expected an integer from 1 to 100, got ${pageSize}`, extensions: { code: 'BAD_USER_INPUT', field: 'pageSize' } })],
      });
    }
  });
});

describe('variables the operation does not declare', () => {
  /**
   * `variables` as JSON text with an extra `junk` array nested 20,000 deep:
   * JSON.parse takes it, JSON.stringify overflows the stack on it (so it is
   * written out by hand here).
   */
  const withJunk = (variables: Record<string, unknown>) => JSON.stringify(variables).replace(/}$/, `,"junk":${'['.repeat(20_000)}${']'.repeat(20_000)}}`);

  it('an extra one nested 20,000 deep is ignored over HTTP: the query is answered', async () => {
    const { status, json } = await post(server, `{"query":${JSON.stringify(PRODUCTS)},"variables":${withJunk({ pageSize: 1 })}}`);
    expect(status).toBe(200);
    expect(json).toEqual({ data: { products: { total: expect.any(Number) } } });
  });

  it('and over graphql-ws: the subscription is served, and once completed leaves nothing open', async () => {
    const open = server.app.subscriptions.size;
    const client = await wsConnect(server, sockets);
    const query = 'subscription($id: ID!) { userProfileChanged(userId: $id) { id name } }';
    client.send(`{"id":"deep","type":"subscribe","payload":{"query":${JSON.stringify(query)},"variables":${withJunk({ id: userId })}}}`);
    await client.until(() => client.closeEvent !== undefined || client.of('deep').length > 0, 10_000, 'the first message');
    expect(client.closeEvent, JSON.stringify(client.closeEvent)).toBeUndefined();
    expect(client.of('deep').map((r) => r.message)).toEqual([
      { id: 'deep', type: 'next', payload: { data: { userProfileChanged: { id: userId, name: 'Existing customer' } } } },
    ]);
    expect(server.app.subscriptions.size).toBe(open + 1);
    client.complete('deep');
    const deadline = Date.now() + 5_000;
    while (server.app.subscriptions.size > open && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.app.subscriptions.size).toBe(open);
  });
});

describe('unknown operations and fields', () => {
  const TWO = 'query First { products(pageSize: 1) { total } } mutation Second { registerUser(input: { name: "Second", email: "second@example.com" }) { userId } }';

  it('an unknown operationName → 400 OPERATION_RESOLUTION_FAILURE naming it, nothing written', async () => {
    const { result, events } = await written(server, () => post(server, { query: TWO, operationName: 'Third' }));
    expect(result.status).toBe(400);
    expect(result.json).toEqual({ errors: [{ message: 'Unknown operation named "Third".', extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }] });
    expect(events).toBe(0);
  });

  it('several operations without operationName → 400 OPERATION_RESOLUTION_FAILURE saying to name one, nothing written', async () => {
    const { result, events } = await written(server, () => post(server, { query: TWO }));
    expect(result.status).toBe(400);
    expect(result.json).toEqual({ errors: [{ message: 'Must provide operation name if query contains multiple operations.', extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }] });
    expect(events).toBe(0);
  });

  it('with operationName, only the named operation runs', async () => {
    const { result, events } = await written(server, () => post(server, { query: TWO, operationName: 'First' }));
    expect(result.json).toEqual({ data: { products: { total: expect.any(Number) } } });
    expect(events).toBe(0);
  });

  it('over graphql-ws: unknown or missing operationName → an error message OPERATION_RESOLUTION_FAILURE, nothing written', async () => {
    const client = await wsConnect(server, sockets);
    const { result, events } = await written(server, async () => [
      await wsRun(client, 'unknown', { query: TWO, operationName: 'Third' }),
      await wsRun(client, 'ambiguous', { query: TWO }),
    ]);
    for (const outcome of result) {
      expect(outcome.messages).toMatchObject([{ type: 'error', payload: [{ message: expect.stringMatching(/operation/i), extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }] }]);
    }
    expect(events).toBe(0);
  });

  it('an unknown field → 400 GRAPHQL_VALIDATION_FAILED naming it and its type, nothing written', async () => {
    const { result, events } = await written(server, () =>
      post(server, { query: 'mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId isAdmin } }', variables: { input: { name: 'Unknown field', email: uniqueEmail('field') } } }),
    );
    expect(result.status).toBe(400);
    expect(result.json.errors).toEqual([expect.objectContaining({ message: expect.stringContaining('Cannot query field "isAdmin" on type "UserPayload"'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]);
    expect(events).toBe(0);
  });

  it('an unknown mutation → 400 GRAPHQL_VALIDATION_FAILED, nothing written', async () => {
    const { result, events } = await written(server, () => post(server, { query: 'mutation { dropDatabase }' }));
    expect(result.status).toBe(400);
    expect(result.json.errors[0]).toMatchObject({ message: expect.stringContaining('Cannot query field "dropDatabase" on type "Mutation"'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(events).toBe(0);
  });

  it('a syntax error → 400 GRAPHQL_PARSE_FAILED with its location, nothing written', async () => {
    const { result, events } = await written(server, () => post(server, { query: 'mutation { registerUser(input: { name: "A" email: "a@example.com" }) { userId }' }));
    expect(result.status).toBe(400);
    expect(result.json.errors).toEqual([{ message: expect.stringMatching(/^Syntax Error/), locations: [expect.objectContaining({ line: 1 })], extensions: { code: 'GRAPHQL_PARSE_FAILED' } }]);
    expect(events).toBe(0);
  });

  it('a message that is not JSON on the socket → closed with 4400 (the protocol says so), nothing written', async () => {
    const client = await wsConnect(server, sockets);
    const { result, events } = await written(server, async () => {
      client.send('{"id": "1", "type": "subscribe", "payload": {"query": "mutation {');
      return client.closed;
    });
    expect(result.code).toBe(4400);
    expect(events).toBe(0);
  });
});

describe('this suite', () => {
  it('no response contained a stack trace, SQL, a file path or "prisma"', () => {
    expectNothingLeakedSoFar();
  });
});
