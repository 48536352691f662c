/**
 * Persisted documents (GraphQL over HTTP, Appendix A) and trusted documents
 * (TRUSTED_DOCUMENTS), over HTTP and graphql-ws, on started servers:
 *
 * - the manifest `npm run generate` writes holds every operation of
 *   operations/, each under the sha256 of its text, which is the typed
 *   document of src/generated/operations.ts (fragments included);
 * - with trusted documents on, ids run (queries, mutations, subscriptions),
 *   an unknown id is PERSISTED_DOCUMENT_NOT_FOUND, and a document sent as
 *   text is PERSISTED_DOCUMENT_REQUIRED — with nothing written;
 * - where the IDE is enabled, staff (and only staff) may still send their own
 *   documents; where it is not (production), nobody may;
 * - off (the default), documents run as they always did, and ids run too.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { buildSchema, getIntrospectionQuery, Kind, parse, print, validate, type DocumentNode } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import manifest from '../../src/generated/persisted-documents.json' with { type: 'json' };
import * as ops from '../../src/generated/operations.js';
import { documentIdOf as idOfSource, PersistedDocuments } from '../../src/graphql/persisted-documents.js';
import { ADMIN, bearer, customer } from '../support/auth.js';
import { uniqueEmail } from '../support/operations.js';
import { RawWsClient } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { record, wsClient } from '../support/ws.js';
import { codesOf, expectNothingLeakedSoFar, request, written, wsRun, type RawResponse } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { documentIdOf } = ops;

/** What the configuration derives from these environment variables (IDE_ENABLED follows NODE_ENV). */
function fromEnvironment(env: Record<string, string>): Partial<Config> {
  const { NODE_ENV, INTROSPECTION_ENABLED, IDE_ENABLED, TRUSTED_DOCUMENTS } = loadConfig(env);
  return { NODE_ENV, INTROSPECTION_ENABLED, IDE_ENABLED, TRUSTED_DOCUMENTS };
}

/** The default: any document runs, and ids too. */
let off: TestServer;
/** TRUSTED_DOCUMENTS in development: the IDE is enabled, so staff may send their own documents. */
let trusted: TestServer;
/** TRUSTED_DOCUMENTS in production, as recommended: no IDE, and nobody sends documents of their own. */
let production: TestServer;
const sockets: Array<RawWsClient | Client> = [];

beforeAll(async () => {
  [off, trusted, production] = await Promise.all([
    startTestServer(fromEnvironment({})),
    startTestServer(fromEnvironment({ TRUSTED_DOCUMENTS: 'true' })),
    startTestServer(fromEnvironment({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'true' })),
  ]);
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => ('dispose' in s ? s.dispose() : s.close())));
  await Promise.all([off?.stop(), trusted?.stop(), production?.stop()]);
});

type Caller = AuthenticatedActor | 'anonymous';

const authorization = async (who: Caller): Promise<Record<string, string>> => (who === 'anonymous' ? {} : bearer(who));

/** POSTs a JSON body as `who`. */
async function post(server: TestServer, who: Caller, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(server, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await authorization(who)), ...headers },
    body: JSON.stringify(body),
  });
}

/** A GET with these parameters (and the header CSRF prevention asks for) as `who`. */
async function get(server: TestServer, who: Caller, params: Record<string, string>, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(server, {
    method: 'GET',
    path: `?${new URLSearchParams(params)}`,
    headers: { 'apollo-require-preflight': 'true', ...(await authorization(who)), ...headers },
  });
}

/** A persisted document request for a generated operation: what a client built from operations.ts sends. */
const byId = <V>(document: TypedDocumentNode<any, V>, variables?: V) => ({ documentId: documentIdOf(document), variables });

/** `data`, failing on any error. */
function dataOf(response: RawResponse): any {
  expect(response.json?.errors, JSON.stringify(response.json)).toBeUndefined();
  expect(response.status).toBe(200);
  return response.json.data;
}

/** A graphql-ws connection as `who`, closed at the end. */
async function connect(server: TestServer, who: Caller): Promise<RawWsClient> {
  const client = await RawWsClient.connect(server.url, { as: who });
  sockets.push(client);
  return client;
}

/** A user (signed up by id, as anyone may), a product (added by id, as staff) and the user's order (placed by id). */
async function anOrder(server: TestServer) {
  const { registerUser } = dataOf(await post(server, 'anonymous', byId(ops.RegisterUserDocument, { name: 'Ada Lovelace', email: uniqueEmail('trusted') })));
  const { addProduct } = dataOf(await post(server, ADMIN, byId(ops.AddProductDocument, { name: 'Analytical Engine', price: '42.00' })));
  const buyer = customer(registerUser.userId);
  const { placeOrder } = dataOf(
    await post(server, buyer, byId(ops.PlaceOrderDocument, { userId: registerUser.userId, items: [{ productId: addProduct.productId, quantity: 2 }] })),
  );
  return { buyer, userId: registerUser.userId as string, orderId: placeOrder.orderId as string, order: placeOrder.order };
}

const RAW_SIGN_UP = 'mutation($email: String!) { registerUser(input: { name: "Raw", email: $email }) { userId } }';
const UNKNOWN_ID = idOfSource('query NotInTheManifest { products { total } }');

describe('the manifest npm run generate writes', () => {
  /** Every named operation in operations/*.graphql. */
  const operationsInFiles = readdirSync(join(ROOT, 'operations'))
    .filter((f) => f.endsWith('.graphql'))
    .flatMap((f) => parse(readFileSync(join(ROOT, 'operations', f), 'utf8')).definitions)
    .flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION && d.name ? [d.name.value] : []));
  const entries = Object.entries(manifest as Record<string, string>);
  /** The generated typed documents of operations (not fragments). */
  const typedDocuments = Object.values(ops).filter(
    (v): v is DocumentNode => typeof v === 'object' && v !== null && 'definitions' in v && v.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION),
  );

  it('has one document for each operation of operations/, and nothing else', () => {
    expect(operationsInFiles.length).toBeGreaterThan(20);
    const named = entries.map(([, source]) => {
      const operations = parse(source).definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
      expect(operations, source).toHaveLength(1);
      return operations[0]!.name!.value;
    });
    expect([...named].sort()).toEqual([...operationsInFiles].sort());
    expect(typedDocuments).toHaveLength(operationsInFiles.length);
  });

  it('names each document by the sha256 of its text, the typed document a client holds, with the fragments it spreads', () => {
    const schema = buildSchema(readFileSync(join(ROOT, 'schema.graphql'), 'utf8'));
    for (const [id, source] of entries) {
      expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(id).toBe(`sha256:${createHash('sha256').update(source, 'utf8').digest('hex')}`);
      // Self-contained: every fragment it spreads is there (KnownFragmentNames), none it does not (NoUnusedFragments).
      expect(validate(schema, parse(source)), source).toEqual([]);
    }
    for (const document of typedDocuments) {
      const source = print(document);
      expect((manifest as Record<string, string>)[documentIdOf(document)]).toBe(source);
    }
    expect(print(ops.PlaceOrderDocument)).toContain('fragment OrderDetails on Order');
    expect(print(ops.UsersConnectionDocument)).toMatch(/fragment PageInfoDetails on PageInfo[\s\S]*fragment UserDetails on User/);
  });

  it('is refused when loaded with an id that is not the hash of its document', () => {
    expect(PersistedDocuments.fromManifest(manifest).size).toBe(operationsInFiles.length);
    const source = 'query { products { total } }';
    expect(PersistedDocuments.fromManifest({ [idOfSource(source)]: source }).get(idOfSource(source))).toBe(source);
    expect(() => PersistedDocuments.fromManifest({ [UNKNOWN_ID]: source })).toThrow(/corrupt/);
    expect(() => PersistedDocuments.fromManifest([source])).toThrow(/JSON object/);
    expect(() => documentIdOf(parse(source))).toThrow(/no persisted document id/);
  });
});

describe('with trusted documents on, over HTTP', () => {
  it('runs mutations and queries sent by id, by POST and by GET, for whoever the access rules allow', async () => {
    const { buyer, orderId, order } = await anOrder(trusted);
    expect(order).toMatchObject({ id: orderId, status: 'PENDING', total: '84.00', items: [{ quantity: 2 }] });

    const posted = dataOf(await post(trusted, buyer, byId(ops.OrderDocument, { id: orderId })));
    expect(posted.order).toMatchObject({ id: orderId, status: 'PENDING' });
    const fetched = await get(trusted, buyer, { documentId: documentIdOf(ops.OrderDocument), variables: JSON.stringify({ id: orderId }) });
    expect(dataOf(fetched)).toEqual(posted);
    // The access rules apply as always: a customer's order stays theirs.
    const stranger = customer('someone-else');
    expect(dataOf(await post(trusted, stranger, byId(ops.OrderDocument, { id: orderId }))).order).toBeNull();
    expect(codesOf((await post(trusted, 'anonymous', byId(ops.ProjectionsDocument))).json)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses a mutation by id in a GET with 405, and writes nothing', async () => {
    const { result, events } = await written(trusted, () =>
      get(trusted, 'anonymous', { documentId: documentIdOf(ops.RegisterUserDocument), variables: JSON.stringify({ name: 'By GET', email: uniqueEmail() }) }),
    );
    expect(result.status).toBe(405);
    expect(codesOf(result.json)).toEqual(['BAD_REQUEST']);
    expect(events).toBe(0);
  });

  it('answers an unknown id with PERSISTED_DOCUMENT_NOT_FOUND: 400, or 200 for a legacy application/json client', async () => {
    const modern = await post(trusted, ADMIN, { documentId: UNKNOWN_ID }, { accept: 'application/graphql-response+json' });
    expect(modern.status).toBe(400);
    expect(modern.contentType).toMatch(/^application\/graphql-response\+json/);
    expect(modern.json).toEqual({
      errors: [{ message: expect.stringMatching(/documentId/), extensions: { code: 'PERSISTED_DOCUMENT_NOT_FOUND' } }],
    });
    const legacy = await post(trusted, ADMIN, { documentId: UNKNOWN_ID }, { accept: 'application/json' });
    expect(legacy.status).toBe(200);
    expect(legacy.contentType).toMatch(/^application\/json/);
    expect(codesOf(legacy.json)).toEqual(['PERSISTED_DOCUMENT_NOT_FOUND']);
    const byGet = await get(trusted, 'anonymous', { documentId: 'sha256:not-a-hash' });
    expect(byGet.status).toBe(400);
    expect(codesOf(byGet.json)).toEqual(['PERSISTED_DOCUMENT_NOT_FOUND']);
  });

  it('refuses a document sent as text with PERSISTED_DOCUMENT_REQUIRED, by POST, GET or in a batch, and writes nothing', async () => {
    const buyer = customer('a-customer');
    const { result, events } = await written(trusted, async () => [
      await post(trusted, 'anonymous', { query: RAW_SIGN_UP, variables: { email: uniqueEmail() } }),
      await post(trusted, buyer, { query: print(ops.RegisterUserDocument), variables: { name: 'Copied', email: uniqueEmail() } }),
      await post(trusted, buyer, { query: '{ products { total } }' }, { accept: 'application/graphql-response+json' }),
      await get(trusted, buyer, { query: '{ products { total } }' }),
      await post(trusted, 'anonymous', [{ query: RAW_SIGN_UP, variables: { email: uniqueEmail() } }]),
    ]);
    for (const response of result) {
      expect(response.status, response.text).toBe(400);
      expect(response.json).toEqual({
        errors: [{ message: expect.stringMatching(/trusted documents only.*documentId/), extensions: { code: 'PERSISTED_DOCUMENT_REQUIRED' } }],
      });
      expect(response.json.errors[0].message).toMatch(/staff may send documents of their own/);
    }
    expect(events).toBe(0);
    // Legacy clients get the same error with 200, as for every request error.
    const legacy = await post(trusted, buyer, { query: '{ products { total } }' }, { accept: 'application/json' });
    expect([legacy.status, codesOf(legacy.json)]).toEqual([200, ['PERSISTED_DOCUMENT_REQUIRED']]);
  });

  it('refuses query and documentId together, or a documentId that is not a string, as BAD_REQUEST (400)', async () => {
    const id = documentIdOf(ops.ProductsDocument);
    const cases = [
      await post(trusted, ADMIN, { query: print(ops.ProductsDocument), documentId: id }, { accept: 'application/json' }),
      await post(trusted, ADMIN, { documentId: 42 }),
      await get(trusted, ADMIN, { query: print(ops.ProductsDocument), documentId: id }),
      await request(trusted, { path: `?documentId=${id}&documentId=${id}`, headers: { 'apollo-require-preflight': 'true' } }),
    ];
    for (const response of cases) {
      expect(response.status, response.text).toBe(400);
      expect(codesOf(response.json)).toEqual(['BAD_REQUEST']);
    }
    expect(cases[0]!.json.errors[0].message).toMatch(/either `query` or `documentId`/);
  });

  it('lets no document in through automatic persisted queries: they are off, and a hash alone is refused', async () => {
    const query = '{ products { total } }';
    const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } };
    // Staff may send their own documents here, but cannot register one for others.
    const registering = await post(trusted, ADMIN, { query, extensions });
    expect(codesOf(registering.json)).toEqual(['PERSISTED_QUERY_NOT_SUPPORTED']);
    const hashOnly = await post(trusted, 'anonymous', { extensions });
    expect([hashOnly.status, codesOf(hashOnly.json)]).toEqual([400, ['PERSISTED_DOCUMENT_REQUIRED']]);
    // The same on the default server: Automatic persisted queries work there as they always did.
    expect(dataOf(await post(off, ADMIN, { query, extensions })).products.total).toEqual(expect.any(Number));
    expect(dataOf(await post(off, 'anonymous', { extensions })).products.total).toEqual(expect.any(Number));
  });
});

describe('with trusted documents on, over graphql-ws', () => {
  it('streams a subscription sent by id: the snapshot, then the change a mutation by id made', async () => {
    const { buyer, orderId } = await anOrder(trusted);
    // The graphql-ws client, with the id of the typed document.
    const client = wsClient(trusted.url, { as: buyer });
    sockets.push(client);
    const feed = record(client, { documentId: documentIdOf(ops.OrderStatusChangedDocument) }, { orderId });
    await feed.next(1);
    dataOf(await post(trusted, ADMIN, byId(ops.ConfirmOrderDocument, { orderId })));
    await feed.next(2);
    expect(feed.data().map((d) => [d.orderStatusChanged.status, d.orderStatusChanged.version])).toEqual([
      ['PENDING', 1],
      ['CONFIRMED', 2],
    ]);
    expect(feed.error).toBeUndefined();
    feed.dispose();
  });

  it('refuses an unknown id, a document sent as text, and both at once, for that operation alone: the connection stays usable', async () => {
    const { buyer, orderId } = await anOrder(trusted);
    const socket = await connect(trusted, buyer);
    const errorOf = async (id: string, payload: Parameters<typeof wsRun>[2]) => {
      const { messages, closed } = await wsRun(socket, id, payload);
      expect(closed).toBeUndefined();
      expect(messages.map((m) => m.type)).toEqual(['error']);
      return messages[0]!.payload;
    };
    expect(await errorOf('unknown', { query: '', documentId: UNKNOWN_ID })).toEqual([
      { message: expect.stringMatching(/documentId/), extensions: { code: 'PERSISTED_DOCUMENT_NOT_FOUND' } },
    ]);
    const text = await errorOf('text', { query: print(ops.OrderStatusChangedDocument), variables: { orderId } });
    expect(text).toEqual([{ message: expect.stringMatching(/trusted documents only/), extensions: { code: 'PERSISTED_DOCUMENT_REQUIRED' } }]);
    const both = await errorOf('both', { query: print(ops.OrderStatusChangedDocument), documentId: documentIdOf(ops.OrderStatusChangedDocument), variables: { orderId } });
    expect(both).toEqual([{ message: expect.stringMatching(/not both/), extensions: { code: 'BAD_REQUEST' } }]);

    const { messages } = await wsRun(socket, 'by-id', { query: '', documentId: documentIdOf(ops.OrderStatusChangedDocument), variables: { orderId } }, { until: 'first' });
    expect(messages.map((m) => [m.type, m.payload?.data?.orderStatusChanged?.status])).toEqual([['next', 'PENDING']]);
    expect(socket.isOpen).toBe(true);
  });
});

describe('the IDE and trusted documents', () => {
  it('where the IDE is enabled, staff run documents of their own over HTTP and graphql-ws, as the IDE sends them', async () => {
    expect((await request(trusted, { headers: { accept: 'text/html' }, record: false })).status).toBe(200);
    const schema = dataOf(await post(trusted, ADMIN, { query: getIntrospectionQuery() }));
    expect(schema.__schema.queryType.name).toBe('Query');
    const { orderId } = await anOrder(trusted);
    const socket = await connect(trusted, ADMIN);
    const { messages } = await wsRun(socket, 'staff', { query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }', variables: { id: orderId } }, { until: 'first' });
    expect(messages.map((m) => [m.type, m.payload?.data?.orderStatusChanged?.status])).toEqual([['next', 'PENDING']]);
  });

  it('there, customers and anonymous callers still may not', async () => {
    const { buyer, orderId } = await anOrder(trusted);
    for (const who of [buyer, 'anonymous'] as const) {
      expect(codesOf((await post(trusted, who, { query: '{ products { total } }' })).json)).toEqual(['PERSISTED_DOCUMENT_REQUIRED']);
    }
    const socket = await connect(trusted, buyer);
    const { messages } = await wsRun(socket, 'customer', { query: print(ops.OrderStatusChangedDocument), variables: { orderId } });
    expect(messages.map((m) => m.payload?.[0]?.extensions?.code)).toEqual(['PERSISTED_DOCUMENT_REQUIRED']);
  });

  it('in production (no IDE), nobody runs documents of their own, not even staff; ids run as everywhere', async () => {
    expect((await request(production, { headers: { accept: 'text/html' }, record: false })).status).toBe(404);
    const refused = await post(production, ADMIN, { query: '{ projections { name } }' });
    expect([refused.status, codesOf(refused.json)]).toEqual([400, ['PERSISTED_DOCUMENT_REQUIRED']]);
    expect(refused.json.errors[0].message).not.toMatch(/staff/);
    expect(codesOf((await post(production, ADMIN, { query: getIntrospectionQuery() })).json)).toEqual(['PERSISTED_DOCUMENT_REQUIRED']);

    const { orderId } = await anOrder(production);
    const socket = await connect(production, ADMIN);
    const text = await wsRun(socket, 'staff', { query: print(ops.OrderStatusChangedDocument), variables: { orderId } });
    expect(text.messages.map((m) => m.payload?.[0]?.extensions?.code)).toEqual(['PERSISTED_DOCUMENT_REQUIRED']);
    const persisted = await wsRun(socket, 'by-id', { query: '', documentId: documentIdOf(ops.OrderStatusChangedDocument), variables: { orderId } }, { until: 'first' });
    expect(persisted.messages.map((m) => m.type)).toEqual(['next']);
    expect(dataOf(await post(production, ADMIN, byId(ops.ProjectionsDocument))).projections.length).toBeGreaterThan(0);
  });
});

describe('with trusted documents off (the default)', () => {
  it('runs documents sent as text, as always, for anyone', async () => {
    const { result, events } = await written(off, () => post(off, 'anonymous', { query: RAW_SIGN_UP, variables: { email: uniqueEmail() } }));
    expect(dataOf(result).registerUser.userId).toEqual(expect.any(String));
    expect(events).toBe(1);
    expect(dataOf(await get(off, customer('someone'), { query: '{ products { total } }' })).products.total).toEqual(expect.any(Number));
  });

  it('runs ids too, over HTTP and graphql-ws, and answers an unknown one with PERSISTED_DOCUMENT_NOT_FOUND', async () => {
    const { buyer, orderId } = await anOrder(off);
    const fetched = await get(off, buyer, { documentId: documentIdOf(ops.OrderDocument), variables: JSON.stringify({ id: orderId }) });
    expect(dataOf(fetched).order).toMatchObject({ id: orderId, status: 'PENDING' });
    const socket = await connect(off, buyer);
    const { messages } = await wsRun(socket, 'by-id', { query: '', documentId: documentIdOf(ops.OrderStatusChangedDocument), variables: { orderId } }, { until: 'first' });
    expect(messages.map((m) => [m.type, m.payload?.data?.orderStatusChanged?.status])).toEqual([['next', 'PENDING']]);

    const unknown = await post(off, buyer, { documentId: UNKNOWN_ID });
    expect([unknown.status, codesOf(unknown.json)]).toEqual([400, ['PERSISTED_DOCUMENT_NOT_FOUND']]);
    const ws = await wsRun(socket, 'unknown', { query: '', documentId: UNKNOWN_ID });
    expect(ws.messages.map((m) => m.payload?.[0]?.extensions?.code)).toEqual(['PERSISTED_DOCUMENT_NOT_FOUND']);
  });

  it('leaked nothing in any answer', () => {
    expectNothingLeakedSoFar();
  });
});
