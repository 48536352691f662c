/**
 * Every limit on hostile input, as a pair: exactly at the limit → accepted and
 * executed; one step over → refused with a clear message and code, and
 * nothing written. The operation limits (depth, aliases, directives, tokens,
 * cost) are checked over HTTP and over graphql-ws, on a server configured
 * with small limits so each case is short and exact. The transport limits
 * (request body, WebSocket message, subscriptions per connection,
 * connection_init timeout) are re-asserted briefly here so that every limit's
 * pair is in one place; test/subscriptions/transport.test.ts tests the
 * WebSocket ones in depth (timing, other connections unaffected).
 *
 * Each probe is a registerUser mutation: "accepted" means its event was
 * appended, "refused" means the event log did not grow. Defaults, and the
 * real operations under them: default-limits.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { Lexer, Source, TokenKind } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bearer } from '../support/auth.js';
import { uniqueEmail } from '../support/operations.js';
import { RawWsClient, sleep } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { codesOf, eventCount, expectNothingLeakedSoFar, post, request, written, wsConnect, wsRun } from './support.js';

const LIMITS = {
  GRAPHQL_MAX_DEPTH: 4,
  GRAPHQL_MAX_ALIASES: 3,
  GRAPHQL_MAX_DIRECTIVES: 3,
  GRAPHQL_MAX_TOKENS: 60,
  GRAPHQL_MAX_COST: 50,
  MAX_BODY_BYTES: 4096,
  WS_MAX_MESSAGE_BYTES: 2048,
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: 2,
  WS_CONNECTION_INIT_TIMEOUT_MS: 400,
} as const;

let server: TestServer;
const sockets: RawWsClient[] = [];
beforeAll(async () => {
  server = await startTestServer(LIMITS);
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});
afterAll(() => server?.stop());

// ───────────── Probes ─────────────

/** Lexical tokens of a document, as graphql-js counts them for `maxTokens` (comments are not tokens). */
function countTokens(document: string): number {
  const lexer = new Lexer(new Source(document));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count++;
  return count;
}

interface Probe {
  readonly query: string;
  readonly variables: Record<string, unknown>;
}

const register = (selection: string, variables: Record<string, unknown> = {}, extraVariableDefinitions = ''): Probe => ({
  query: `mutation Register($input: RegisterUserInput!${extraVariableDefinitions}) { registerUser(input: $input) { ${selection} } }`,
  variables: { input: { name: 'Probe', email: uniqueEmail('probe') }, ...variables },
});

/**
 * Nesting `depth` fields deep, registerUser being level 1:
 * registerUser › user › orders(pageSize: 1) › orders › user › … › a scalar.
 */
function depthProbe(depth: number): Probe {
  const chain = ['user', 'orders(pageSize: 1)', 'orders'];
  const leafAfter: Record<string, string> = { registerUser: 'userId', user: 'id', 'orders(pageSize: 1)': 'total', orders: 'id' };
  const fields = Array.from({ length: depth - 2 }, (_, i) => chain[i % chain.length]!);
  const leaf = leafAfter[fields.at(-1) ?? 'registerUser']!;
  return register(fields.reduceRight((inner, field) => `${field} { ${inner} }`, leaf));
}

/** `count` aliased fields. */
const aliasProbe = (count: number) => register(Array.from({ length: count }, (_, i) => `a${i + 1}: userId`).join(' '));

/** `count` directives. */
const directiveProbe = (count: number) => register(Array.from({ length: count }, () => 'userId @include(if: true)').join(' '));

/** Exactly `tokens` lexical tokens (padded with repeated `userId` selections, one token each). */
function tokenProbe(tokens: number): Probe {
  const bare = countTokens(register('').query);
  const probe = register(Array.from({ length: tokens - bare }, () => 'userId').join(' '));
  expect(countTokens(probe.query)).toBe(tokens);
  return probe;
}

/**
 * Estimated cost exactly `cost`, the page size in a variable:
 * registerUser (1) + user (1) + orders(pageSize: $size) (1 + $size × total (1)) = 3 + $size.
 */
const costProbe = (cost: number) => register('user { orders(pageSize: $size) { total } }', { size: cost - 3 }, ', $size: Int!');

interface Limit {
  readonly name: string;
  readonly setting: keyof typeof LIMITS;
  readonly probe: (n: number) => Probe;
  readonly code: string;
  /** The message for one over the limit. */
  readonly message: RegExp;
}

const OPERATION_LIMITS: Limit[] = [
  {
    name: 'depth',
    setting: 'GRAPHQL_MAX_DEPTH',
    probe: depthProbe,
    code: 'GRAPHQL_VALIDATION_FAILED',
    message: /depth limit of 4 exceeded, found 5/i,
  },
  {
    name: 'aliases',
    setting: 'GRAPHQL_MAX_ALIASES',
    probe: aliasProbe,
    code: 'GRAPHQL_VALIDATION_FAILED',
    message: /aliases limit of 3 exceeded, found 4/i,
  },
  {
    name: 'directives',
    setting: 'GRAPHQL_MAX_DIRECTIVES',
    probe: directiveProbe,
    code: 'GRAPHQL_VALIDATION_FAILED',
    message: /directives limit of 3 exceeded, found 4/i,
  },
  {
    name: 'tokens',
    setting: 'GRAPHQL_MAX_TOKENS',
    probe: tokenProbe,
    code: 'GRAPHQL_PARSE_FAILED',
    message: /more tha[nt] 60 tokens/, // graphql-js says "more that"
  },
  {
    name: 'cost (page size in a variable)',
    setting: 'GRAPHQL_MAX_COST',
    probe: costProbe,
    code: 'QUERY_TOO_COMPLEX',
    message: /^Query cost 51 exceeds the limit of 50/,
  },
];

// ───────────── Operation limits ─────────────

describe.each(OPERATION_LIMITS)('$name ($setting)', ({ setting, probe, code, message }) => {
  const limit = LIMITS[setting];

  describe('over HTTP', () => {
    it(`at the limit (${limit}) → accepted and executed`, async () => {
      const { result, events } = await written(server, () => post(server, probe(limit)));
      expect(result.json?.errors, result.text).toBeUndefined();
      expect(result.status).toBe(200);
      expect(result.json.data.registerUser).toEqual(expect.any(Object));
      expect(events).toBe(1);
    });

    it(`one over (${limit + 1}) → refused before execution: no data, nothing written`, async () => {
      const { result, events } = await written(server, () => post(server, probe(limit + 1)));
      expect(result.json?.data?.registerUser ?? null, result.text).toBeNull();
      expect(result.json?.errors?.length, result.text).toBeGreaterThan(0);
      expect(events).toBe(0);
    });

    it(`one over (${limit + 1}) → 400 ${code}, saying which limit and by how much`, async () => {
      const { status, json, text } = await post(server, probe(limit + 1));
      expect(json?.errors, text).toHaveLength(1);
      expect(json.errors[0], text).toMatchObject({ message: expect.stringMatching(message), extensions: { code } });
      expect(status).toBe(400);
      expect(json).not.toHaveProperty('data');
    });
  });

  describe('over graphql-ws', () => {
    it(`at the limit (${limit}) → accepted and executed`, async () => {
      const client = await wsConnect(server, sockets);
      const { result, events } = await written(server, () => wsRun(client, 'at-limit', probe(limit)));
      expect(result.messages.map((m) => m.type), JSON.stringify(result.messages)).toEqual(['next', 'complete']);
      expect(result.messages[0]!.payload.errors).toBeUndefined();
      expect(result.messages[0]!.payload.data.registerUser).toEqual(expect.any(Object));
      expect(events).toBe(1);
    });

    it(`one over (${limit + 1}) → refused before execution: no result, nothing written`, async () => {
      const client = await wsConnect(server, sockets);
      const { result, events } = await written(server, () => wsRun(client, 'over', probe(limit + 1)));
      expect(result.messages.filter((m) => m.type === 'next')).toEqual([]);
      expect(events).toBe(0);
    });

    it(`one over (${limit + 1}) → an error message ${code} for that operation, saying why; the connection stays usable`, async () => {
      const client = await wsConnect(server, sockets);
      const { messages, closed } = await wsRun(client, 'over', probe(limit + 1));
      expect(closed, `socket closed: ${JSON.stringify(closed)}`).toBeUndefined();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ type: 'error', payload: [{ message: expect.stringMatching(message), extensions: { code } }] });
      const after = await wsRun(client, 'after', { query: '{ __typename }' });
      expect(after.messages[0]).toMatchObject({ type: 'next', payload: { data: { __typename: 'Query' } } });
    });
  });
});

describe('cost, other ways to give a page size', () => {
  const pageOf = (size: number) => `{ products(pageSize: ${size}) { total } }`; // 1 + size × 1

  it('a literal page size: cost 50 accepted, 51 refused with QUERY_TOO_COMPLEX', async () => {
    expect((await post(server, { query: pageOf(49) })).json).toEqual({ data: { products: { total: expect.any(Number) } } });
    const over = await post(server, { query: pageOf(50) });
    expect(over.status).toBe(400);
    expect(over.json).toEqual({ errors: [{ message: expect.stringMatching(/^Query cost 51 exceeds the limit of 50/), extensions: { code: 'QUERY_TOO_COMPLEX' } }] });
  });

  it("a variable's default value counts: default 49 accepted, default 50 refused", async () => {
    const withDefault = (size: number) => `query($size: Int = ${size}) { products(pageSize: $size) { total } }`;
    expect((await post(server, { query: withDefault(49) })).json.data.products.total).toEqual(expect.any(Number));
    expect(codesOf((await post(server, { query: withDefault(50) })).json)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('the same limit over GET', async () => {
    const get = (size: number) =>
      request(server, { path: `?query=${encodeURIComponent(pageOf(size))}`, headers: { 'apollo-require-preflight': 'true' } });
    expect((await get(49)).json.data.products.total).toEqual(expect.any(Number));
    const over = await get(50);
    expect(over.status).toBe(400);
    expect(codesOf(over.json)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('one document, its page size in a variable: each request priced by its own value (the estimate is remembered per value)', async () => {
    const query = `query Page($size: Int!, $id: ID!) { products(pageSize: $size) { total } product(id: $id) { id } }`; // 1 + size + 2
    const send = (size: number) => post(server, { query, variables: { size, id: randomUUID() } });
    expect((await send(47)).json.data).toEqual({ products: { total: expect.any(Number) }, product: null });
    expect((await send(48)).json.errors[0].message).toMatch(/^Query cost 51 exceeds the limit of 50/);
    expect((await send(47)).json.data.products.total).toEqual(expect.any(Number));
    expect(codesOf((await send(48)).json)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('one document, what is counted chosen by @include: priced by the variable each time', async () => {
    const query = `query Maybe($big: Boolean!) { products(pageSize: 30) { total } more: products(pageSize: 30) @include(if: $big) { total } }`;
    const send = (big: boolean) => post(server, { query, variables: { big } });
    expect((await send(false)).json.data.products.total).toEqual(expect.any(Number));
    expect((await send(true)).json.errors[0].message).toMatch(/^Query cost 62 exceeds the limit of 50/);
    expect((await send(false)).json.data.more).toBeUndefined();
  });

  it('aliases do not multiply past it: two pages of 24 (cost 50) accepted, of 25 (cost 52) refused', async () => {
    const twice = (size: number) => `{ a: products(pageSize: ${size}) { total } b: products(pageSize: ${size}) { total } }`;
    expect((await post(server, { query: twice(24) })).json.data.a.total).toEqual(expect.any(Number));
    expect((await post(server, { query: twice(25) })).json.errors[0].message).toMatch(/^Query cost 52 exceeds the limit of 50/);
  });
});

describe('cost that cannot be estimated (an argument that does not coerce) → refused, not run unpriced', () => {
  /**
   * Two registrations: the first costs 63 (over the limit of 50); the second
   * takes its name from `$name`, declared nullable with a default, so it
   * validates — but sent as null, the argument has no value and the cost
   * estimator throws on it.
   */
  const probe = (name: string | null) => ({
    query: `mutation Register($input: RegisterUserInput!, $name: String = "Second") {
      registerUser(input: $input) { user { orders(pageSize: 60) { total } } }
      second: registerUser(input: { name: $name, email: "second@example.com" }) { userId }
    }`,
    variables: { input: { name: 'Probe', email: uniqueEmail('unpriced') }, name },
  });
  const UNPRICED = /^The cost of this operation could not be estimated, so it was not run: Argument "input" has invalid value \{name: \$name, email: "second@example\.com"\}\.$/;

  it('with the name given, the cost is known and over the limit: QUERY_TOO_COMPLEX', async () => {
    const { result, events } = await written(server, () => post(server, probe('Second')));
    expect(result.json.errors[0].message).toMatch(/^Query cost 65 exceeds the limit of 50/);
    expect(events).toBe(0);
  });

  it('with the name null → 400 QUERY_TOO_COMPLEX saying why the cost is unknown; nothing executed, nothing written', async () => {
    const { result, events } = await written(server, () => post(server, probe(null)));
    expect(result.status, result.text).toBe(400);
    expect(result.json).toEqual({ errors: [{ message: expect.stringMatching(UNPRICED), locations: [{ line: 3, column: 35 }], extensions: { code: 'QUERY_TOO_COMPLEX' } }] });
    expect(events).toBe(0);
  });

  it('over graphql-ws → an error message, the same; nothing written, the connection stays usable', async () => {
    const client = await wsConnect(server, sockets);
    const { result, events } = await written(server, () => wsRun(client, 'unpriced', probe(null)));
    expect(result.closed).toBeUndefined();
    expect(result.messages).toEqual([
      { id: 'unpriced', type: 'error', payload: [{ message: expect.stringMatching(UNPRICED), locations: [{ line: 3, column: 35 }], extensions: { code: 'QUERY_TOO_COMPLEX' } }] },
    ]);
    expect(events).toBe(0);
    expect((await wsRun(client, 'after', { query: '{ __typename }' })).messages[0]).toMatchObject({ type: 'next' });
  });

  it('variables that do not coerce are still refused by execution, with its own message (BAD_USER_INPUT)', async () => {
    const { result, events } = await written(server, () => post(server, { ...probe('Second'), variables: { input: { name: 'Probe' } } }));
    expect(result.status).toBe(400);
    expect(result.json.errors).toEqual([expect.objectContaining({ message: expect.stringMatching(/Field "email" of required type "String!" was not provided/), extensions: { code: 'BAD_USER_INPUT' } })]);
    expect(events).toBe(0);
  });
});

describe('depth, counted through fragments', () => {
  it('a fragment does not hide depth: 4 levels through a fragment accepted, 5 refused (nothing written)', async () => {
    const viaFragment = (inner: string) => ({
      ...register('...Deep'),
      query: `mutation Register($input: RegisterUserInput!) { registerUser(input: $input) { ...Deep } } fragment Deep on UserPayload { user { orders(pageSize: 1) { ${inner} } } }`,
    });
    const atLimit = await written(server, () => post(server, viaFragment('total')));
    expect(atLimit.result.json.errors, atLimit.result.text).toBeUndefined();
    expect(atLimit.events).toBe(1);
    const over = await written(server, () => post(server, viaFragment('orders { id }')));
    expect(over.result.json?.data?.registerUser ?? null).toBeNull();
    expect(over.events).toBe(0);
  });
});

// ───────────── Transport limits ─────────────

describe(`request body (MAX_BODY_BYTES=${LIMITS.MAX_BODY_BYTES})`, () => {
  /** A registerUser request padded with JSON whitespace to exactly `bytes` bytes. */
  function bodyOfSize(bytes: number): string {
    const json = JSON.stringify(register('userId'));
    expect(Buffer.byteLength(json)).toBeLessThan(bytes);
    const body = json + ' '.repeat(bytes - Buffer.byteLength(json));
    expect(Buffer.byteLength(body)).toBe(bytes);
    return body;
  }

  it(`exactly ${LIMITS.MAX_BODY_BYTES} bytes → accepted and executed`, async () => {
    const { result, events } = await written(server, () => post(server, bodyOfSize(LIMITS.MAX_BODY_BYTES)));
    expect(result.json?.errors, result.text.slice(0, 500)).toBeUndefined();
    expect(result.json.data.registerUser.userId).toEqual(expect.any(String));
    expect(events).toBe(1);
  });

  it(`${LIMITS.MAX_BODY_BYTES + 1} bytes → 413, nothing written`, async () => {
    const { result, events } = await written(server, () => post(server, bodyOfSize(LIMITS.MAX_BODY_BYTES + 1)));
    expect(result.status).toBe(413);
    expect(events).toBe(0);
  });

  it('a chunked body (no Content-Length) over the cap → 413 as well, nothing written', async () => {
    const body = bodyOfSize(LIMITS.MAX_BODY_BYTES + 1);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = Buffer.from(body);
        for (let i = 0; i < bytes.length; i += 1000) controller.enqueue(bytes.subarray(i, i + 1000));
        controller.close();
      },
    });
    const auth = await bearer(ADMIN);
    const { result, events } = await written(server, () =>
      request(server, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: stream }),
    );
    expect(result.status).toBe(413);
    expect(events).toBe(0);
  });

  it(`the 413 says why as a JSON GraphQL error, without a stack trace or file paths`, async () => {
    const { status, contentType, json, text } = await post(server, bodyOfSize(LIMITS.MAX_BODY_BYTES + 1));
    expect(status).toBe(413);
    expect(text).not.toMatch(/\bat .*\(.*:\d+:\d+\)|&nbsp;at |node_modules/);
    expect(contentType).toMatch(/json/);
    expect(json?.errors?.[0]?.message, text.slice(0, 300)).toMatch(/too large|limit|bytes/i);
  });
});

describe(`WebSocket message (WS_MAX_MESSAGE_BYTES=${LIMITS.WS_MAX_MESSAGE_BYTES}; in depth: test/subscriptions/transport.test.ts)`, () => {
  /** A registerUser subscribe message padded (a GraphQL comment) to exactly `bytes` bytes. */
  function messageOfSize(id: string, bytes: number): string {
    const probe = register('userId');
    const message = (padding: string) => JSON.stringify({ id, type: 'subscribe', payload: { ...probe, query: `${probe.query}\n#${padding}` } });
    const text = message('x'.repeat(bytes - Buffer.byteLength(message(''))));
    expect(Buffer.byteLength(text)).toBe(bytes);
    return text;
  }

  it(`exactly ${LIMITS.WS_MAX_MESSAGE_BYTES} bytes → executed; one byte more → socket closed with 1009, nothing written`, async () => {
    const atLimit = await wsConnect(server, sockets);
    const accepted = await written(server, async () => {
      atLimit.send(messageOfSize('at-limit', LIMITS.WS_MAX_MESSAGE_BYTES));
      return atLimit.messages('at-limit', 2, 5_000);
    });
    expect(accepted.result.map((r) => r.message.type)).toEqual(['next', 'complete']);
    expect(accepted.events).toBe(1);

    const over = await wsConnect(server, sockets);
    const refused = await written(server, async () => {
      over.send(messageOfSize('over', LIMITS.WS_MAX_MESSAGE_BYTES + 1));
      return over.closed;
    });
    expect(refused.result.code).toBe(1009);
    expect(over.of('over')).toEqual([]);
    expect(refused.events).toBe(0);
  });
});

describe(`subscriptions per connection (WS_MAX_SUBSCRIPTIONS_PER_CONNECTION=${LIMITS.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION}; in depth: transport.test.ts)`, () => {
  it(`${LIMITS.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION} accepted; one more → TOO_MANY_SUBSCRIPTIONS, the connection stays open`, async () => {
    const userId = (await post(server, register('userId'))).json.data.registerUser.userId as string;
    const profile = { query: 'subscription($id: ID!) { userProfileChanged(userId: $id) { id name } }', variables: { id: userId } };
    const client = await wsConnect(server, sockets);
    for (let i = 1; i <= LIMITS.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION; i++) {
      const { messages } = await wsRun(client, `s${i}`, profile, { until: 'first' });
      expect(messages[0]).toMatchObject({ type: 'next', payload: { data: { userProfileChanged: { id: userId } } } });
    }
    const { messages, closed } = await wsRun(client, 'one-more', profile, { until: 'first' });
    expect(closed).toBeUndefined();
    expect(messages).toEqual([
      { id: 'one-more', type: 'error', payload: [{ message: `At most ${LIMITS.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`, extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } }] },
    ]);
  });
});

describe(`connection_init timeout (WS_CONNECTION_INIT_TIMEOUT_MS=${LIMITS.WS_CONNECTION_INIT_TIMEOUT_MS}; exact timing: transport.test.ts)`, () => {
  it('initialised in time → acknowledged and kept; never initialised → closed with 4408 after the timeout', async () => {
    const start = performance.now();
    const [prompt, silent] = await Promise.all([
      RawWsClient.connect(server.url, { init: false }),
      RawWsClient.connect(server.url, { init: false }),
    ]);
    sockets.push(prompt, silent);
    prompt.send({ type: 'connection_init', payload: await bearer(ADMIN) });
    await prompt.waitFor((m) => m.type === 'connection_ack', 2_000, 'connection_ack');
    const closed = await silent.closed;
    expect(closed.code).toBe(4408);
    expect(closed.at - start).toBeGreaterThanOrEqual(LIMITS.WS_CONNECTION_INIT_TIMEOUT_MS - 2);
    await sleep(100);
    expect(prompt.isOpen).toBe(true);
  });
});

describe('this suite', () => {
  it('probes wrote nothing they should not have: one event per accepted probe', async () => {
    // 5 limits × 2 transports accepted + fragment depth + body at limit + ws message at limit + subscription user.
    expect(await eventCount(server)).toBe(OPERATION_LIMITS.length * 2 + 4);
  });

  it('no response contained a stack trace, SQL, a file path or "prisma"', () => {
    expectNothingLeakedSoFar();
  });
});
