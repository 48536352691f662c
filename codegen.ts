import type { CodegenConfig } from '@graphql-codegen/cli';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * Generates resolver types from schema.graphql (the API's single source),
 * mapped to the read-model types the resolvers actually return, and typed
 * document nodes for the example operations in operations/*.graphql.
 * Output is generated on install/build and never edited by hand.
 *
 * Every operation is validated against the schema: an operation that a schema
 * change breaks fails `npm run generate` (and so `npm install` and CI).
 */
/**
 * What each read model adds to the generated types: a `codegen.json` in its
 * folder (src/read-models/<name>/) with `scalars` and `mappers` for the
 * resolver types (paths relative to src/generated/) and `clientScalars` for
 * the operations' types (what a client sends and receives as JSON), so a
 * read model's GraphQL types are declared where the read model lives.
 */
function readModelTypes() {
  const merged = {
    scalars: {} as Record<string, unknown>,
    mappers: {} as Record<string, string>,
    clientScalars: {} as Record<string, unknown>,
  };
  for (const entry of readdirSync('src/read-models', { withFileTypes: true })) {
    const file = `src/read-models/${entry.name}/codegen.json`;
    if (!entry.isDirectory() || !existsSync(file)) continue;
    const { scalars = {}, mappers = {}, clientScalars = {} } = JSON.parse(readFileSync(file, 'utf8'));
    Object.assign(merged.scalars, scalars);
    Object.assign(merged.mappers, mappers);
    Object.assign(merged.clientScalars, clientScalars);
  }
  return merged;
}

const readModels = readModelTypes();

const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    'src/generated/graphql.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useTypeImports: true,
        strictScalars: true,
        enumsAsTypes: true,
        scalars: {
          ID: 'string',
          Money: { input: 'bigint', output: 'string | bigint' },
          DateTime: { input: 'Date', output: 'Date | string' },
          ...readModels.scalars,
        },
        contextType: '../graphql/context.js#GraphQLContext',
        mappers: {
          Order: '../graphql/mappers.js#OrderModel',
          OrderItem: '../graphql/mappers.js#OrderItemModel',
          User: '../graphql/mappers.js#UserModel',
          Product: '../graphql/mappers.js#ProductModel',
          OrderPage: '../graphql/mappers.js#PageModel<OrderModel>',
          UserPage: '../graphql/mappers.js#PageModel<UserModel>',
          ProductPage: '../graphql/mappers.js#PageModel<ProductModel>',
          ...readModels.mappers,
          UserPayload: '../graphql/mappers.js#PayloadModel',
          ProductPayload: '../graphql/mappers.js#PayloadModel',
          OrderPayload: '../graphql/mappers.js#PayloadModel',
          ProjectionStatus: '../graphql/mappers.js#ProjectionStatusModel',
          DeadLetter: '../graphql/mappers.js#DeadLetterModel',
        },
      },
    },
    'src/generated/operations.ts': {
      documents: 'operations/*.graphql',
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        strictScalars: true,
        enumsAsTypes: true,
        // What a client sends and receives as JSON.
        scalars: {
          ID: 'string',
          Money: { input: 'string | number', output: 'string' },
          DateTime: { input: 'string', output: 'string' },
          ...readModels.clientScalars,
        },
      },
    },
  },
};

export default config;
