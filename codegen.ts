import type { CodegenConfig } from '@graphql-codegen/cli';
import type { CodegenPlugin } from '@graphql-codegen/plugin-helpers';
import { plugin as typedDocumentNode } from '@graphql-codegen/typed-document-node';
import type { DocumentNode } from 'graphql';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { persistedDocument } from './src/graphql/persisted-documents.js';

/**
 * Generates resolver types from schema.graphql (the API's single source),
 * mapped to the read-model types the resolvers actually return, typed
 * document nodes for the example operations in operations/*.graphql, each
 * with its persisted document id, and the manifest of those documents by id
 * (src/generated/persisted-documents.json, the server's trusted documents).
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

/**
 * Persisted documents: each operation's document exactly as typed-document-node
 * generates it for src/generated/operations.ts (the operation and every
 * fragment it spreads, recursively), printed and hashed
 * (src/graphql/persisted-documents.ts). The hook puts the id into the
 * document (`__meta__.documentId`, read with `documentIdOf`); the manifest
 * plugin runs the same generation to collect every document by id.
 */
const withDocumentId = (document: DocumentNode) => ({ documentId: persistedDocument(document).id });

const MANIFEST_PLUGIN = 'persisted-documents-manifest';

/** src/generated/persisted-documents.json: `{ "<id>": "<document>" }`, the server's trusted documents. */
const persistedDocumentsManifest: CodegenPlugin = {
  async plugin(schema, documents, config) {
    const manifest: Record<string, string> = {};
    await typedDocumentNode(schema, documents, {
      ...config,
      unstable_onExecutableDocumentNode: (document: DocumentNode) => {
        const { id, source } = persistedDocument(document);
        manifest[id] = source;
        return undefined;
      },
    });
    return `${JSON.stringify(manifest, null, 2)}\n`;
  },
};

/** Appended to src/generated/operations.ts: the typed way to read a generated document's id. */
const DOCUMENT_ID_OF = `
/**
 * The id of a generated operation's persisted document, for GraphQL over HTTP
 * \`{ documentId, variables }\` requests (and graphql-ws subscribe payloads)
 * instead of sending the document itself.
 */
export function documentIdOf(document: DocumentNode<any, any>): string {
  const id = (document as { __meta__?: { documentId?: unknown } }).__meta__?.documentId;
  if (typeof id !== 'string') throw new Error('This document has no persisted document id: it was not generated from operations/');
  return id;
}
`;

/** The generated operations and the manifest: one configuration, so both see the same documents. */
const operations = {
  documents: 'operations/*.graphql',
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
    unstable_onExecutableDocumentNode: withDocumentId,
  },
};

const require = createRequire(import.meta.url);

const config: CodegenConfig = {
  schema: 'schema.graphql',
  // The manifest plugin lives here; every other plugin is a package, loaded as codegen does.
  pluginLoader: async (name) =>
    name === MANIFEST_PLUGIN ? persistedDocumentsManifest : import(pathToFileURL(require.resolve(name)).href),
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
      ...operations,
      plugins: ['typescript-operations', 'typed-document-node', { add: { placement: 'append', content: DOCUMENT_ID_OF } }],
    },
    'src/generated/persisted-documents.json': { ...operations, plugins: [MANIFEST_PLUGIN] },
  },
};

export default config;
