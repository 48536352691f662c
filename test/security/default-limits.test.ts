/**
 * The DEFAULT operation limits (README "Limits"; src/config.ts) leave room
 * for everything the API is meant for: every operation in
 * operations/*.graphql, with the largest page size the API allows (100), and
 * the heavy-but-legit nested query of test/e2e/dataloader.test.ts, over HTTP
 * and graphql-ws. And they are enforced as configured: one step past each
 * default is refused (the exact error of each is asserted with small limits
 * in hostile-input.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Kind,
  Lexer,
  Source,
  TokenKind,
  buildSchema,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  parse,
  print,
  typeFromAST,
  visit,
  type DefinitionNode,
  type FragmentDefinitionNode,
  type GraphQLInputType,
  type OperationDefinitionNode,
} from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { uniqueEmail } from '../support/operations.js';
import { sleep, type RawWsClient } from '../support/raw-ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { codesOf, expectNothingLeakedSoFar, post, written, wsConnect, wsRun } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const schema = buildSchema(readFileSync(join(ROOT, 'schema.graphql'), 'utf8'));

/** The largest page size the API accepts (queries refuse more with BAD_USER_INPUT). */
const MAX_PAGE_SIZE = 100;

/** Codes that mean a limit refused the request, or that it broke the server. */
const REFUSALS = ['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'QUERY_TOO_COMPLEX', 'INTERNAL_SERVER_ERROR'];

/** Each operation of operations/*.graphql as a self-contained document (with the fragments it spreads). */
function exampleOperations(): Array<{ name: string; file: string; kind: string; document: string; operation: OperationDefinitionNode }> {
  const dir = join(ROOT, 'operations');
  const definitions: Array<{ file: string; def: DefinitionNode }> = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .flatMap((file) => parse(readFileSync(join(dir, file), 'utf8')).definitions.map((def) => ({ file, def })));
  const fragments = new Map(
    definitions.filter(({ def }) => def.kind === Kind.FRAGMENT_DEFINITION).map(({ def }) => [(def as FragmentDefinitionNode).name.value, def as FragmentDefinitionNode]),
  );
  const spreadIn = (node: OperationDefinitionNode | FragmentDefinitionNode, into: Set<string>) => {
    visit(node, {
      FragmentSpread(spread) {
        if (into.has(spread.name.value)) return;
        into.add(spread.name.value);
        spreadIn(fragments.get(spread.name.value)!, into);
      },
    });
    return into;
  };
  return definitions
    .filter(({ def }) => def.kind === Kind.OPERATION_DEFINITION)
    .map(({ file, def }) => {
      const operation = def as OperationDefinitionNode;
      const used = [...spreadIn(operation, new Set())].map((name) => print(fragments.get(name)!));
      return { name: operation.name!.value, file, kind: operation.operation, document: [print(operation), ...used].join('\n\n'), operation };
    });
}

/** A valid value of `type` for a variable or input field called `name` (page sizes at their maximum). */
function sample(type: GraphQLInputType, name: string): unknown {
  if (isNonNullType(type)) return sample(type.ofType, name);
  if (isListType(type)) return [sample(type.ofType, name)];
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).map((field) => [field.name, sample(field.type, field.name)]));
  }
  if (isEnumType(type)) return type.getValues()[0]!.value;
  switch (type.name) {
    case 'ID':
      return randomUUID();
    case 'Int':
      return name === 'pageSize' || name === 'first' || name === 'last' ? MAX_PAGE_SIZE : 1;
    case 'Money':
      return '1.00';
    case 'Date':
      return name === 'to' ? '2026-12-31' : '2026-01-01';
    case 'String':
      return name === 'email' ? uniqueEmail('limits') : 'Limits check';
    default:
      throw new Error(`no sample for ${type.name} (${name})`);
  }
}

/** Variables that must come from the server (a position, cursors), or not with `first` (`last`). */
const NOT_SAMPLED = new Set(['since', 'after', 'before', 'last']);

/** Variables for an operation: every declared variable but those of NOT_SAMPLED. */
function variablesFor(operation: OperationDefinitionNode): Record<string, unknown> {
  return Object.fromEntries(
    (operation.variableDefinitions ?? [])
      .filter((v) => !NOT_SAMPLED.has(v.variable.name.value))
      .map((v) => [v.variable.name.value, sample(typeFromAST(schema, v.type as never) as GraphQLInputType, v.variable.name.value)]),
  );
}

/** Lexical tokens of a document, as graphql-js counts them for `maxTokens` (comments are not tokens). */
function countTokens(document: string): number {
  const lexer = new Lexer(new Source(document));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count++;
  return count;
}

/** The heavy but legitimate query of test/e2e/dataloader.test.ts (a page of 100 orders with users, their orders and products). */
const NESTED = `query($size: Int!) {
  orders(pageSize: $size) {
    orders { id user { name orderCount orders(pageSize: 5) { total orders { id } } } items { productName product { name price } } }
  }
}`;

let server: TestServer;
const sockets: RawWsClient[] = [];
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});
afterAll(() => server?.stop());

describe('the defaults', () => {
  it('are the documented values: depth 10, aliases 15, directives 10, tokens 2000, cost 10000 (and the test server uses them)', () => {
    const defaults = loadConfig({});
    expect({
      depth: defaults.GRAPHQL_MAX_DEPTH,
      aliases: defaults.GRAPHQL_MAX_ALIASES,
      directives: defaults.GRAPHQL_MAX_DIRECTIVES,
      tokens: defaults.GRAPHQL_MAX_TOKENS,
      cost: defaults.GRAPHQL_MAX_COST,
    }).toEqual({ depth: 10, aliases: 15, directives: 10, tokens: 2000, cost: 10_000 });
  });
});

describe('every operation in operations/*.graphql is accepted under the default limits, page sizes at 100', () => {
  const operations = exampleOperations();

  it('finds the operations (queries, mutations and subscriptions)', () => {
    expect(operations.length).toBeGreaterThan(15);
    expect(new Set(operations.map((o) => o.kind))).toEqual(new Set(['query', 'mutation', 'subscription']));
    expect(operations.some((o) => o.operation.variableDefinitions?.some((v) => v.variable.name.value === 'pageSize'))).toBe(true);
  });

  const requests = operations.filter((o) => o.kind !== 'subscription');
  it.each(requests.map((o) => [o.name, o.file, o] as const))('%s (%s) over HTTP and graphql-ws', async (_name, _file, op) => {
    // Parse, validation, cost and variable coercion passed when the response has `data`
    // (it may hold a domain error: the sample ids exist nowhere).
    const http = await post(server, { query: op.document, variables: variablesFor(op.operation) });
    expect(codesOf(http.json).filter((c) => REFUSALS.includes(c as string)), http.text).toEqual([]);
    expect(http.json, http.text).toHaveProperty('data');
    expect(http.status).toBe(200);

    const client = await wsConnect(server, sockets);
    const { messages, closed } = await wsRun(client, op.name, { query: op.document, variables: variablesFor(op.operation) });
    expect(closed).toBeUndefined();
    expect(messages.map((m) => m.type), JSON.stringify(messages)).toEqual(['next', 'complete']);
    expect(codesOf(messages[0]!.payload).filter((c) => REFUSALS.includes(c as string))).toEqual([]);
  });

  const subscriptions = operations.filter((o) => o.kind === 'subscription');
  it.each(subscriptions.map((o) => [o.name, o.file, o] as const))('%s (%s) over graphql-ws', async (_name, _file, op) => {
    const client = await wsConnect(server, sockets);
    const before = server.app.subscriptions.size;
    client.subscribe(op.name, op.document, variablesFor(op.operation));
    // Accepted = registered with the hub (these ids exist nowhere, so no snapshot is sent).
    const deadline = Date.now() + 5_000;
    while (server.app.subscriptions.size === before && client.of(op.name).length === 0 && !client.closeEvent && Date.now() < deadline) await sleep(20);
    expect(client.of(op.name).map((r) => r.message), JSON.stringify(client.closeEvent)).toEqual([]);
    expect(server.app.subscriptions.size).toBe(before + 1);
  });
});

describe('the heavy-but-legit query of test/e2e/dataloader.test.ts is accepted under the default limits', () => {
  it('with a page of 100 orders, over HTTP and graphql-ws', async () => {
    const http = await post(server, { query: NESTED, variables: { size: MAX_PAGE_SIZE } });
    expect(http.json, http.text).toEqual({ data: { orders: { orders: expect.any(Array) } } });
    const client = await wsConnect(server, sockets);
    const { messages } = await wsRun(client, 'nested', { query: NESTED, variables: { size: MAX_PAGE_SIZE } });
    expect(messages).toEqual([
      { id: 'nested', type: 'next', payload: { data: { orders: { orders: expect.any(Array) } } } },
      { id: 'nested', type: 'complete' },
    ]);
  });
});

describe('one step past each default is refused before execution', () => {
  /** A query chain `depth` fields deep: orders › orders › user › orders › … › a scalar. */
  function deepQuery(depth: number): string {
    const chain = ['orders(pageSize: 1)', 'orders', 'user'];
    const leafAfter: Record<string, string> = { 'orders(pageSize: 1)': 'total', orders: 'id', user: 'id' };
    const fields = Array.from({ length: depth - 1 }, (_, i) => chain[i % chain.length]!);
    return `{ ${fields.reduceRight((inner, field) => `${field} { ${inner} }`, leafAfter[fields.at(-1)!]!)} }`;
  }
  const many = (n: number, item: (i: number) => string) => Array.from({ length: n }, (_, i) => item(i)).join(' ');
  /**
   * A placeOrder of exactly `tokens` tokens: 20 around the order lines, 8 per
   * line, the rest as repeated `orderId` selections.
   */
  function placeOrderOf(tokens: number): string {
    const lines = Math.floor((tokens - 20) / 8);
    const selection = many(1 + tokens - 20 - lines * 8, () => 'orderId');
    const document = `mutation { placeOrder(input: { userId: "${randomUUID()}" items: [${many(lines, () => `{ productId: "${randomUUID()}" quantity: 1 }`)}] }) { ${selection} } }`;
    expect(countTokens(document)).toBe(tokens);
    return document;
  }
  const pages = (size: number) => `{ orders(pageSize: ${size}) { orders { user { orders(pageSize: ${size}) { total } } } } }`;

  const cases: Array<[name: string, atDefault: string, overDefault: string]> = [
    ['depth 10 / 11', deepQuery(10), deepQuery(11)],
    ['aliases 15 / 16', `{ products(pageSize: 1) { ${many(15, (i) => `a${i}: total`)} } }`, `{ products(pageSize: 1) { ${many(16, (i) => `a${i}: total`)} } }`],
    ['directives 10 / 11', `{ ${many(10, () => '__typename @include(if: true)')} }`, `{ ${many(11, () => '__typename @include(if: true)')} }`],
    // Order lines, not repeated fields (those would trip graphql-js's own overlap
    // budget first). The domain then refuses that many lines (at most 100),
    // after the limits let the document through.
    ['tokens 2000 / 2001', placeOrderOf(2000), placeOrderOf(2001)],
    // 1 + size × (orders 1 + user 1 + (1 + size × total 1)): 98 → 9899, 100 → 10301.
    ['cost 9899 / 10301', pages(98), pages(100)],
  ];

  it.each(cases)('%s', async (_name, atDefault, overDefault) => {
    const accepted = await post(server, { query: atDefault });
    expect(codesOf(accepted.json).filter((c) => REFUSALS.includes(c as string)), accepted.text.slice(0, 500)).toEqual([]);
    expect(accepted.json).toHaveProperty('data');
    const refused = await post(server, { query: overDefault });
    // Refused as a request (no `data` at all), not as a field error during execution.
    expect(refused.json, refused.text.slice(0, 500)).not.toHaveProperty('data');
    expect(refused.json.errors.length).toBeGreaterThan(0);
    expect(refused.status).toBeGreaterThanOrEqual(400);
  });
});

describe('a document the cost estimator cannot walk (more than 10,000 fields once fragments are expanded)', () => {
  /** A registration whose selection spreads F7, which spreads F6 four times, and so on: 4^7 = 16,384 `userId`s. */
  const exploding = () => ({
    query: [
      'mutation($input: RegisterUserInput!) { registerUser(input: $input) { ...F7 } }',
      'fragment F0 on UserPayload { userId }',
      ...Array.from({ length: 7 }, (_, i) => `fragment F${i + 1} on UserPayload { ${Array.from({ length: 4 }, () => `...F${i}`).join(' ')} }`),
    ].join('\n'),
    variables: { input: { name: 'Exploding', email: uniqueEmail('fragments') } },
  });

  it('is refused with 400 QUERY_TOO_COMPLEX saying so, and nothing is written', async () => {
    const { result, events } = await written(server, () => post(server, exploding()));
    expect(result.status, result.text).toBe(400);
    expect(result.json).toEqual({
      errors: [
        {
          message: 'The cost of this operation could not be estimated, so it was not run: Query exceeds the maximum allowed number of nodes.',
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        },
      ],
    });
    expect(events).toBe(0);
  });

  it('the same registration selecting F3 (64 fields) is executed', async () => {
    const { query, variables } = exploding();
    const { result, events } = await written(server, () => post(server, { query: query.replace('{ ...F7 }', '{ ...F3 }').replace(/\nfragment F[4-7] .*/g, ''), variables }));
    expect(result.json, result.text.slice(0, 300)).toEqual({ data: { registerUser: { userId: expect.any(String) } } });
    expect(events).toBe(1);
  });
});

describe('this suite', () => {
  it('no response contained a stack trace, SQL, a file path or "prisma"', () => {
    expectNothingLeakedSoFar();
  });
});
