import { makeExecutableSchema } from '@graphql-tools/schema';
import fc from 'fast-check';
import { GraphQLError, GraphQLScalarType, Kind, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { CompiledExecution } from '../../src/graphql/compiled-execution.js';
import pino from 'pino';
import { ForbiddenError } from '../../src/domain/errors.js';
import { createErrorFormatter } from '../../src/graphql/errors.js';

/** The API's error shaping: what a client is sent for each error. */
const formatError = createErrorFormatter(pino({ level: 'silent' }));

/** A schema with what the API's uses: custom scalars, non-null bubbling, lists, an interface, async resolvers, domain errors. */
const Money = new GraphQLScalarType({
  name: 'Money',
  serialize: (value) => {
    if (typeof value !== 'number' || value < 0) throw new TypeError(`Money cannot represent ${String(value)}`);
    return value.toFixed(2);
  },
});
const schema = makeExecutableSchema({
  typeDefs: /* GraphQL */ `
    scalar Money
    interface Node { id: ID! }
    type User implements Node { id: ID! name: String! orders(first: Int = 2): [Order!]! secret: String }
    type Order implements Node { id: ID! total: Money status: String! user: User! lines: [Line!] }
    type Line { sku: String! quantity: Int! }
    type Query {
      user(id: ID!): User
      order(id: ID!): Order
      node(id: ID!): Node
      orders(ids: [ID!]!): [Order]!
    }
  `,
  resolvers: {
    Node: { __resolveType: (node: { id: string }) => (node.id.startsWith('u') ? 'User' : 'Order') },
    Money,
    Query: {
      user: async (_: unknown, { id }: { id: string }) => (id === 'u0' ? null : { id, name: `name of ${id}` }),
      order: (_: unknown, { id }: { id: string }) => orderOf(id),
      node: async (_: unknown, { id }: { id: string }) => (id.startsWith('u') ? { id, name: `name of ${id}` } : orderOf(id)),
      orders: (_: unknown, { ids }: { ids: string[] }) => ids.map((id) => (id === 'o0' ? null : orderOf(id))),
    },
    User: {
      orders: (user: { id: string }, { first }: { first: number }) => Array.from({ length: first }, (_, i) => orderOf(`o${i + 1}-${user.id}`)),
      secret: () => {
        throw new ForbiddenError('not yours');
      },
    },
    Order: {
      user: async (order: { id: string }) => (order.id.includes('orphan') ? null : { id: `u-${order.id}`, name: 'buyer' }),
    },
  },
});
function orderOf(id: string) {
  return {
    id,
    // A negative total does not serialize: a field error at its path.
    total: id.includes('bad') ? -1 : id.length * 10.5,
    status: 'PENDING',
    lines: id.includes('nolines') ? null : [{ sku: `sku-${id}`, quantity: 2 }],
  };
}

function operationOf(document: ReturnType<typeof parse>): OperationDefinitionNode {
  return document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
}

/** The answer as a client gets it: data, and each error as the API shapes it (message, path, locations, code). */
async function answer(execution: CompiledExecution, query: string, variables?: Record<string, unknown>, operationName?: string) {
  const document = parse(query);
  const result = await execution.run(document, operationOf(document), operationName, {}, variables);
  return JSON.parse(
    JSON.stringify({
      data: result.data,
      // The first location only: graphql-jit also lists an occurrence of the field that @include/@skip removed.
      errors: result.errors?.map((e) => {
        const formatted = formatError(e.toJSON(), e);
        return { ...formatted, locations: formatted.locations?.slice(0, 1), isGraphQLError: e instanceof GraphQLError };
      }),
    }),
  );
}

const ids = fc.constantFrom('u1', 'u0', 'o1', 'o-bad', 'o-orphan', 'o-nolines', 'o-bad-orphan');
const orderFields = fc.subarray(['id', 'total', 'status', 'user { id name }', 'lines { sku quantity }', '__typename'], { minLength: 1 });
const userFields = fc.subarray(['id', 'name', 'secret', 'orders { id total }', 'orders(first: 3) { id status user { name } }', '__typename'], {
  minLength: 1,
});
/** Queries of every shape the schema allows, with field errors, nulls and bubbling among them. */
const queries = fc.oneof(
  fc.tuple(ids, userFields).map(([id, f]) => ({ query: `query Q($id: ID!) { user(id: $id) { ${f.join(' ')} } }`, variables: { id } })),
  fc.tuple(ids, orderFields).map(([id, f]) => ({ query: `query Q($id: ID!) { order(id: $id) { ${f.join(' ')} } }`, variables: { id } })),
  fc.tuple(ids, orderFields, userFields).map(([id, o, u]) => ({
    query: `query Q($id: ID!) { node(id: $id) { id ... on Order { ${o.join(' ')} } ... on User { ${u.join(' ')} } } }`,
    variables: { id },
  })),
  fc.tuple(fc.array(ids.map((id) => id.replace('u', 'o')), { maxLength: 4 }), orderFields).map(([list, f]) => ({
    query: `query Q($ids: [ID!]!, $withUser: Boolean!) { orders(ids: $ids) { ${f.join(' ')} user @include(if: $withUser) { name } } }`,
    variables: { ids: list, withUser: list.length % 2 === 0 },
  })),
);

describe('compiled execution', () => {
  const compiled = new CompiledExecution(schema, { compileAfter: 0 });
  const graphqlJs = new CompiledExecution(schema, { compileAfter: Number.POSITIVE_INFINITY });

  it('answers every query as graphql-js does: the same data, and its errors at the same paths with the same codes', async () => {
    let compilations = 0;
    const counting = new CompiledExecution(schema, { compileAfter: 0, onCompiled: () => compilations++ });
    let withErrors = 0;
    let withMoreErrors = 0;
    await fc.assert(
      fc.asyncProperty(queries, async ({ query, variables }) => {
        const expected = await answer(graphqlJs, query, variables);
        const got = await answer(counting, query, variables);
        expect(got.data).toEqual(expected.data);
        if (!expected.errors) {
          expect(got.errors).toBeUndefined();
          return;
        }
        withErrors++;
        // Where several errors null the same parent, graphql-js reports the
        // first to arrive and graphql-jit each of them: graphql-js's are among them.
        for (const error of expected.errors) expect(got.errors).toContainEqual(error);
        const codes = new Set(expected.errors.map((e: { extensions: { code: string } }) => e.extensions.code));
        for (const error of got.errors) expect(codes).toContain(error.extensions.code);
        if (got.errors.length > expected.errors.length) withMoreErrors++;
      }),
      { numRuns: 300, seed: 16 },
    );
    // Not vacuous: the compiled side did compile, and field errors were among the answers compared.
    expect(compilations).toBeGreaterThan(250);
    expect(withErrors).toBeGreaterThan(30);
    expect(withMoreErrors).toBeLessThan(withErrors);
  });

  it("keeps a domain error's code and message: a GraphQLError with its original error, as the API's error shaping needs", async () => {
    const got = await answer(compiled, '{ user(id: "u1") { id secret } }');
    expect(got).toEqual(await answer(graphqlJs, '{ user(id: "u1") { id secret } }'));
    expect(got.errors).toEqual([
      { message: 'not yours', path: ['user', 'secret'], locations: [{ line: 1, column: 23 }], extensions: { code: 'FORBIDDEN' }, isGraphQLError: true },
    ]);
  });

  it("answers variables that do not coerce with graphql-js's own request error, which Apollo turns into BAD_USER_INPUT", async () => {
    const query = 'query Q($id: ID!) { user(id: $id) { id } }';
    const run = (execution: CompiledExecution) => execution.run(parse(query), operationOf(parse(query)), undefined, {}, { id: { not: 'an id' } });
    const got = await run(compiled);
    expect(got.errors?.map((e) => e.message)).toEqual((await run(graphqlJs)).errors?.map((e) => e.message));
    expect(got.errors?.[0]?.message).toMatch(/^Variable "\$id" got invalid value/);
    expect(got.errors?.[0]?.nodes?.[0]?.kind).toBe(Kind.VARIABLE_DEFINITION);
    expect(got.data).toBeUndefined();
  });

  it('runs a document on graphql-js for its first `compileAfter` runs, then compiled, and compiles it once', async () => {
    const compiledNames: Array<string | undefined> = [];
    const execution = new CompiledExecution(schema, { compileAfter: 2, onCompiled: (name) => compiledNames.push(name) });
    const document = parse('query Hot { user(id: "u1") { name } } query Cold { order(id: "o1") { id } }');
    const hot = document.definitions[0] as OperationDefinitionNode;
    for (let run = 1; run <= 5; run++) {
      expect(await execution.run(document, hot, 'Hot', {}, {})).toEqual({ data: { user: { name: 'name of u1' } } });
      expect(compiledNames).toEqual(run <= 2 ? [] : ['Hot']);
    }
    // Another operation of the same document counts its own runs.
    await execution.run(document, document.definitions[1] as OperationDefinitionNode, 'Cold', {}, {});
    expect(compiledNames).toEqual(['Hot']);
  });

  it('runs mutations, and requests whose operation Apollo could not pick, on graphql-js', async () => {
    const names: Array<string | undefined> = [];
    const withMutation = makeExecutableSchema({
      typeDefs: 'type Query { a: Int } type Mutation { bump: Int! }',
      resolvers: { Mutation: { bump: (() => { let n = 0; return () => ++n; })() } },
    });
    const execution = new CompiledExecution(withMutation, { compileAfter: 0, onCompiled: (name) => names.push(name) });
    const document = parse('mutation M { bump }');
    expect(await execution.run(document, operationOf(document), 'M', {}, {})).toEqual({ data: { bump: 1 } });
    expect(await execution.run(document, operationOf(document), 'M', {}, {})).toEqual({ data: { bump: 2 } });
    const two = parse('query A { a } query B { a }');
    expect((await execution.run(two, undefined, 'C', {}, {})).errors?.map((e) => e.message)).toEqual(['Unknown operation named "C".']);
    expect(names).toEqual([]);
  });

  it('refuses a compileAfter that is not a whole number ≥ 0, saying what it got', () => {
    expect(() => new CompiledExecution(schema, { compileAfter: -1 })).toThrow('compileAfter must be a whole number ≥ 0 or Infinity, got -1');
    expect(() => new CompiledExecution(schema, { compileAfter: 1.5 })).toThrow('got 1.5');
  });
});
