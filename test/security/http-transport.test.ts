/**
 * Hostile HTTP requests to /graphql: batches, cross-site ("simple") requests,
 * bodies that are not a GraphQL request. Each is refused with a clear error
 * and nothing is written; the legitimate forms of the same request work.
 * Body size: hostile-input.test.ts (the limit) and request-body.test.ts
 * (how larger bodies are refused).
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bearer } from '../support/auth.js';
import { uniqueEmail } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { codesOf, expectNothingLeakedSoFar, post, request, written } from './support.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const REGISTER = 'mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId } }';
const registration = () => ({ query: REGISTER, variables: { input: { name: 'Mallory', email: uniqueEmail('csrf') } } });
/** The same mutation with its values inline, for transports without variables (GET, forms). */
const inlineRegistration = () => `mutation { registerUser(input: { name: "Mallory", email: "${uniqueEmail('csrf')}" }) { userId } }`;

const CSRF_MESSAGE = /Cross-Site Request Forgery|CSRF/;

describe('batched requests (a JSON array)', () => {
  it('a batch of two mutations → 400 BAD_REQUEST "Operation batching disabled", neither executed', async () => {
    const { result, events } = await written(server, () => post(server, [registration(), registration()]));
    expect(result.status).toBe(400);
    expect(result.json).toEqual({ errors: [{ message: expect.stringMatching(/batching disabled/i), extensions: { code: 'BAD_REQUEST' } }] });
    expect(events).toBe(0);
  });

  it('a batch of one is refused the same way', async () => {
    const { result, events } = await written(server, () => post(server, [registration()]));
    expect(result.status).toBe(400);
    expect(codesOf(result.json)).toEqual(['BAD_REQUEST']);
    expect(events).toBe(0);
  });

  it('the same mutation alone (not in an array) is executed', async () => {
    const { result, events } = await written(server, () => post(server, registration()));
    expect(result.json.data.registerUser.userId).toEqual(expect.any(String));
    expect(events).toBe(1);
  });
});

describe('CSRF prevention (requests a browser sends cross-site without a preflight)', () => {
  const getUrl = (query: string) => `?query=${encodeURIComponent(query)}`;

  it('a GET query without a preflight-forcing header → 400 BAD_REQUEST naming CSRF, no data', async () => {
    const { status, json } = await request(server, { path: getUrl('{ products(pageSize: 1) { total } }') });
    expect(status).toBe(400);
    expect(json).toEqual({ errors: [{ message: expect.stringMatching(CSRF_MESSAGE), extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('the same GET with `apollo-require-preflight` (or `x-apollo-operation-name`) is answered', async () => {
    for (const header of ['apollo-require-preflight', 'x-apollo-operation-name']) {
      const { status, json } = await request(server, { path: getUrl('{ products(pageSize: 1) { total } }'), headers: { [header]: 'yes' } });
      expect(status, header).toBe(200);
      expect(json, header).toEqual({ data: { products: { total: expect.any(Number) } } });
    }
  });

  it('a GET mutation, even with the preflight header → 405, nothing written', async () => {
    const auth = await bearer(ADMIN);
    const { result, events } = await written(server, () =>
      request(server, { path: getUrl(inlineRegistration()), headers: { 'apollo-require-preflight': 'true', ...auth } }),
    );
    expect(result.status).toBe(405);
    expect(result.json.errors[0].message).toMatch(/GET requests only support query operations/);
    expect(events).toBe(0);
  });

  const simpleBodies: Array<[contentType: string, body: () => string]> = [
    ['text/plain', () => JSON.stringify(registration())],
    ['text/plain;charset=UTF-8', () => JSON.stringify(registration())],
    ['application/x-www-form-urlencoded', () => `query=${encodeURIComponent(inlineRegistration())}`],
    [
      'multipart/form-data; boundary=xyz',
      () => `--xyz\r\nContent-Disposition: form-data; name="query"\r\n\r\n${inlineRegistration()}\r\n--xyz--\r\n`,
    ],
  ];

  it.each(simpleBodies)('a POST with content-type %s (a "simple" cross-site request) → 400 naming CSRF, nothing written', async (contentType, body) => {
    // With a valid token, as if the browser attached credentials: refused all the same.
    const auth = await bearer(ADMIN);
    const { result, events } = await written(server, () =>
      request(server, { method: 'POST', headers: { 'content-type': contentType, ...auth }, body: body() }),
    );
    expect(result.status).toBe(400);
    expect(result.json).toEqual({ errors: [{ message: expect.stringMatching(CSRF_MESSAGE), extensions: { code: 'BAD_REQUEST' } }] });
    expect(events).toBe(0);
  });

  it('a POST with content-type application/json is executed', async () => {
    const { result, events } = await written(server, () => post(server, registration()));
    expect(result.status).toBe(200);
    expect(result.json.data.registerUser.userId).toEqual(expect.any(String));
    expect(events).toBe(1);
  });

  it('a text/plain POST that does carry `apollo-require-preflight` passes CSRF but is not JSON: 400, nothing written', async () => {
    const auth = await bearer(ADMIN);
    const { result, events } = await written(server, () =>
      request(server, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'apollo-require-preflight': 'true', ...auth },
        body: JSON.stringify(registration()),
      }),
    );
    expect(result.status).toBe(400);
    expect(codesOf(result.json)).toEqual(['BAD_REQUEST']);
    expect(events).toBe(0);
  });
});

describe('bodies that are not a GraphQL request', () => {
  const malformed: Array<[what: string, body: string]> = [
    ['truncated JSON', '{"query": "mutation { registerUser(input: {name: \\"A\\", email: \\"a@example.com\\"}) { userId } }"'],
    ['not JSON at all', 'mutation { registerUser(input: {name: "A", email: "a@example.com"}) { userId } }'],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
  ];

  it.each(malformed)('%s → 400, nothing written', async (_what, body) => {
    const { result, events } = await written(server, () => post(server, body));
    expect(result.status).toBe(400);
    expect(events).toBe(0);
  });

  it.each(malformed)('%s → answered as a JSON error saying the body is not valid JSON, without a stack trace or file paths', async (_what, body) => {
    const { contentType, json, text } = await post(server, body);
    expect(text).not.toMatch(/\bat .*\(.*:\d+:\d+\)|&nbsp;at |node_modules/);
    expect(contentType).toMatch(/json/);
    expect(json?.errors?.[0]?.message, text.slice(0, 300)).toMatch(/JSON/);
  });

  const notRequests: Array<[what: string, body: unknown, message: RegExp]> = [
    ['an empty object', {}, /POST body missing|non-empty `query`/],
    ['a query that is not a string', { query: 42 }, /must be strings?/],
    ['variables that are not an object', { query: REGISTER, variables: '{"input":{}}' }, /variables/i],
    ['an empty query', { query: '' }, /non-empty `query`|POST body missing/],
  ];

  it.each(notRequests)('%s → 400 BAD_REQUEST with a clear message, nothing written', async (_what, body, message) => {
    const { result, events } = await written(server, () => post(server, body));
    expect(result.status).toBe(400);
    expect(result.json).toEqual({ errors: [{ message: expect.stringMatching(message), extensions: { code: 'BAD_REQUEST' } }] });
    expect(events).toBe(0);
  });
});

describe('JSON bodies in the forms clients send', () => {
  it('application/json with charset=utf-8 is executed, and the request id is echoed', async () => {
    const { result, events } = await written(server, () =>
      post(server, registration(), { headers: { 'content-type': 'application/json; charset=UTF-8', 'x-request-id': 'req-utf8-1' } }),
    );
    expect(result.status).toBe(200);
    expect(result.json.data.registerUser.userId).toEqual(expect.any(String));
    expect(events).toBe(1);
  });

  it('a gzip-compressed JSON body is inflated and executed', async () => {
    const auth = await bearer(ADMIN);
    const bytes = gzipSync(JSON.stringify(registration()));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(bytes));
        controller.close();
      },
    });
    const { result, events } = await written(server, () =>
      request(server, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', ...auth }, body }),
    );
    expect(result.status, result.text.slice(0, 300)).toBe(200);
    expect(result.json.data.registerUser.userId).toEqual(expect.any(String));
    expect(events).toBe(1);
  });
});

describe('this suite', () => {
  it('no response contained a stack trace, SQL, a file path or "prisma"', () => {
    expectNothingLeakedSoFar();
  });
});
