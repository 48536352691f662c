/**
 * Introspection and the IDE in production: off unless enabled. The servers
 * take NODE_ENV, INTROSPECTION_ENABLED and IDE_ENABLED as the real
 * configuration derives them from the environment (loadConfig), so the
 * production defaults themselves are under test, not values set by hand.
 */
import { getIntrospectionQuery } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { RawWsClient } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { codesOf, expectNothingLeakedSoFar, post, request, wsConnect, wsRun } from './support.js';

/** What the configuration derives from these environment variables. */
function fromEnvironment(env: Record<string, string>): Partial<Config> {
  const { NODE_ENV, INTROSPECTION_ENABLED, IDE_ENABLED } = loadConfig(env);
  return { NODE_ENV, INTROSPECTION_ENABLED, IDE_ENABLED };
}

const PRODUCTION = fromEnvironment({ NODE_ENV: 'production' });
const PRODUCTION_WITH_INTROSPECTION = fromEnvironment({ NODE_ENV: 'production', INTROSPECTION_ENABLED: 'true' });
const DEVELOPMENT = fromEnvironment({});

let production: TestServer;
let enabled: TestServer;
let development: TestServer;
const sockets: RawWsClient[] = [];
beforeAll(async () => {
  [production, enabled, development] = await Promise.all([
    startTestServer(PRODUCTION),
    startTestServer(PRODUCTION_WITH_INTROSPECTION),
    startTestServer(DEVELOPMENT),
  ]);
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});
afterAll(() => Promise.all([production?.stop(), enabled?.stop(), development?.stop()]));

const SCHEMA = '{ __schema { queryType { name } } }';
const TYPE = '{ __type(name: "Order") { name fields { name } } }';
/** What GraphiQL and other tools send. */
const FULL = getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, schemaDescription: true, specifiedByUrl: true, directiveIsRepeatable: true });

/** GET /graphql as a browser asks for a page (not a GraphQL response: not leak-checked). */
const browserGet = (server: TestServer, path = '') =>
  request(server, { path, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }, record: false });

describe('configuration', () => {
  it('NODE_ENV=production turns introspection and the IDE off; INTROSPECTION_ENABLED=true turns introspection back on (only); development has both', () => {
    expect(PRODUCTION).toEqual({ NODE_ENV: 'production', INTROSPECTION_ENABLED: false, IDE_ENABLED: false });
    expect(PRODUCTION_WITH_INTROSPECTION).toEqual({ NODE_ENV: 'production', INTROSPECTION_ENABLED: true, IDE_ENABLED: false });
    expect(DEVELOPMENT).toEqual({ NODE_ENV: 'development', INTROSPECTION_ENABLED: true, IDE_ENABLED: true });
  });
});

describe('production (NODE_ENV=production)', () => {
  it.each([
    ['__schema', SCHEMA],
    ['__type', TYPE],
    ['the full introspection query', FULL],
  ])('%s over HTTP → 400 GRAPHQL_VALIDATION_FAILED saying introspection is disabled, no data', async (_what, query) => {
    const { status, json, text } = await post(production, { query });
    expect(status).toBe(400);
    expect(json, text).not.toHaveProperty('data');
    expect(new Set(codesOf(json))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(json.errors[0].message).toMatch(/introspection/i);
  });

  it.each([
    ['__schema', SCHEMA],
    ['__type', TYPE],
  ])('%s over graphql-ws → an error message GRAPHQL_VALIDATION_FAILED saying introspection is disabled', async (_what, query) => {
    const client = await wsConnect(production, sockets);
    const { messages, closed } = await wsRun(client, 'introspect', { query });
    expect(closed).toBeUndefined();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.type).toBe('error');
    expect(messages[0]!.payload[0]).toMatchObject({ message: expect.stringMatching(/introspection/i), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(new Set(codesOf(messages[0]!.payload && { errors: messages[0]!.payload }))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
  });

  it('refuses it to anonymous callers as well', async () => {
    const { status, json } = await post(production, { query: SCHEMA }, { as: 'anonymous' });
    expect(status).toBe(400);
    expect(json).not.toHaveProperty('data');
  });

  it('still answers __typename (not introspection) and ordinary queries', async () => {
    expect((await post(production, { query: '{ __typename products(pageSize: 1) { total } }' })).json).toEqual({
      data: { __typename: 'Query', products: { total: expect.any(Number) } },
    });
  });

  it('the IDE page (GET /graphql, Accept: text/html) is 404, and so are its assets', async () => {
    const page = await browserGet(production);
    expect(page.status).toBe(404);
    expect(page.text).not.toMatch(/graphiql/i);
    expect((await browserGet(production, '/ide/assets/graphiql.min.js')).status).toBe(404);
  });

  it('a misspelt field is refused without suggesting real field names (they would map the schema introspection hides)', async () => {
    const { json } = await post(production, { query: '{ ordrs { total } }' });
    expect(codesOf(json)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(json.errors[0].message).toMatch(/ordrs/);
    expect(json.errors[0].message).not.toMatch(/Did you mean/);
  });
});

describe('production with INTROSPECTION_ENABLED=true', () => {
  it('answers __schema, __type and the full introspection query over HTTP', async () => {
    expect((await post(enabled, { query: SCHEMA })).json).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    expect((await post(enabled, { query: TYPE })).json.data.__type.fields.map((f: any) => f.name)).toContain('status');
    const full = await post(enabled, { query: FULL });
    expect(full.json.errors, full.text.slice(0, 300)).toBeUndefined();
    expect(full.json.data.__schema.types.map((t: any) => t.name)).toEqual(expect.arrayContaining(['Order', 'Money', 'OrderStatus']));
  });

  it('answers __schema over graphql-ws', async () => {
    const client = await wsConnect(enabled, sockets);
    const { messages } = await wsRun(client, 'introspect', { query: SCHEMA });
    expect(messages[0]).toMatchObject({ type: 'next', payload: { data: { __schema: { queryType: { name: 'Query' } } } } });
  });

  it('keeps the IDE off (that is IDE_ENABLED)', async () => {
    expect((await browserGet(enabled)).status).toBe(404);
  });
});

describe('development (the default)', () => {
  it('answers the full introspection query over HTTP and __schema over graphql-ws, within the default limits', async () => {
    const full = await post(development, { query: FULL });
    expect(full.json.errors, full.text.slice(0, 300)).toBeUndefined();
    expect(full.json.data.__schema.queryType).toMatchObject({ name: 'Query' });
    const client = await wsConnect(development, sockets);
    const { messages } = await wsRun(client, 'introspect', { query: SCHEMA });
    expect(messages[0]).toMatchObject({ type: 'next', payload: { data: { __schema: { queryType: { name: 'Query' } } } } });
  });

  it('serves the IDE page to a browser', async () => {
    const page = await browserGet(development);
    expect(page.status).toBe(200);
    expect(page.contentType).toMatch(/text\/html/);
    expect(page.text).toMatch(/graphiql/i);
  });
});

describe('this suite', () => {
  it('no GraphQL response contained a stack trace, SQL, a file path or "prisma"', () => {
    expectNothingLeakedSoFar();
  });
});
