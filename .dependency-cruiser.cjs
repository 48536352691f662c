// @ts-check
/**
 * Architecture rules for the CQRS/GraphQL service, checked by dependency-cruiser.
 *
 *   npx depcruise src --config .dependency-cruiser.cjs --output-type err-long
 *
 * and by test/architecture/architecture.test.ts (vitest), which also proves that
 * each layer rule actually fires on a small fake tree.
 *
 * Layers (src/):
 *   domain/       pure domain model: deciders, events, errors, money
 *   write/        command side application layer (CommandService, handler, ports)
 *   write-model/  the write model's ports on SQL (tables defined against Prisma's models)
 *   eventlog/     event log append/read
 *   sql/          the SQL port (SqlClient, its fault type), shared fragments, table definitions
 *   projections/  the projection runtime: projectors, daemon, progress, dead letters, rebuilds, status
 *   read-models/  one folder per read model (view, evolve, tables, projection, queries, change
 *                 history, its GraphQL fields in graphql.ts), the kit they share, and the registry
 *   graphql/      API layer (resolvers, loaders, context)
 *   generated/    generated code (Prisma client, GraphQL resolver types) - gitignored
 *   app.ts, main.ts, server/, infrastructure/ - composition root/infrastructure
 *
 * Notes on how the rules are written:
 * - `tsPreCompilationDeps: true` makes dependency-cruiser see `import type`
 *   imports too (they are erased from the JavaScript, so otherwise they would be
 *   invisible) and tags them with the dependency type "type-only". Rules that
 *   are about runtime coupling say `dependencyTypesNot: ['type-only']`; rules
 *   that are about layering (what a layer may know about at all) deliberately
 *   do not, because a type import couples the source code just as much.
 * - src/generated/ is not cruised (`doNotFollow`), but imports OF it are still
 *   recorded, so rules against importing the Prisma client keep working. The
 *   directory may be missing before `npm run prisma:generate`/codegen: then such
 *   an import cannot be resolved and is recorded under the name as written
 *   ('../generated/prisma/client.js'), which is why the patterns for it match
 *   "generated/prisma/" anywhere in the name, and why not-to-unresolvable
 *   ignores generated code.
 * - Likewise npm packages are matched both as resolved paths
 *   ('node_modules/@prisma/client/...') and as bare names ('@prisma/client'), so
 *   a forbidden import is reported even when the package is not installed.
 */

/** Regex matching an npm package, resolved into node_modules or (unresolved) as a bare name. */
function npm(/** @type {string} */ name) {
  const escaped = name.replace(/[.]/g, '[.]');
  return `(^|/)node_modules/${escaped}(/|$)|^${escaped}(/|$)`;
}

/** The Prisma clients: the generated ones (src/generated/prisma for the write schema, prisma-read for the read one) and the @prisma/* / prisma packages. */
const PRISMA_CLIENT = ['(^|/)generated/prisma(-read)?(/|$)', npm('@prisma/[^/]+'), npm('.prisma'), npm('prisma')];

/** GraphQL / Apollo libraries: the API layer's concern only. */
const GRAPHQL_LIBS = [npm('graphql'), npm('@apollo/[^/]+'), npm('graphql-ws'), npm('@as-integrations/[^/]+')];

/** The query resolvers: they answer from the read side only. */
const QUERY_RESOLVERS = ['^src/graphql/(resolvers/(queries|types)|loaders)[.]ts$', '^src/read-models/[^/]+/graphql[.]ts$'];

/** A read model's GraphQL fields: the one file of its folder that may know the API layer. */
const READ_MODEL_GRAPHQL = '^src/read-models/[^/]+/graphql[.]ts$';

/** The cache of the read models' views by id: kit, not a read model. */
const READ_MODEL_CACHE = '^src/read-models/cache/';

/** The composition root: wires everything together, so nothing below it may depend on it. */
const COMPOSITION_ROOT = ['^src/(app|main)[.]ts$', '^src/server/'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ───────────────────────────── domain ─────────────────────────────
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment:
        'src/domain is the pure domain model (deciders, events, errors, money). It must not depend on ' +
        'anything outside src/domain - no Prisma, no GraphQL, no application/infrastructure code, no npm ' +
        "packages - only on node: builtins (e.g. 'node:crypto'). Type-only imports count too: a domain type " +
        'that mentions a Prisma or GraphQL type couples the domain to it all the same. If the domain needs ' +
        'something from outside, define a port (interface) in the domain or in src/write and let the outer ' +
        'layer implement it.',
      from: { path: '^src/domain/' },
      to: {
        pathNot: [
          '^src/domain/',
          // an import inside domain whose target is (still) missing: reported by not-to-unresolvable
          '^[.]/',
        ],
        // node builtins (dependency-cruiser reports 'node:crypto' as the core module 'crypto')
        dependencyTypesNot: ['core'],
      },
    },

    // ───────────────────────────── write (command side) ─────────────────────────────
    {
      name: 'write-not-to-infrastructure',
      severity: 'error',
      comment:
        'src/write is the command-side application layer: it talks to persistence only through the ports ' +
        'in src/write/ports.ts. It must not import the Prisma client (src/generated/prisma, @prisma/*), ' +
        'the Prisma implementation of those ports (src/write-model), nor the API layer or server ' +
        '(src/graphql, src/server, graphql, @apollo/*, graphql-ws). Otherwise it can no longer be tested ' +
        'with in-memory ports and the dependency inversion (write-model implements write/ports) is gone. ' +
        'Type-only imports count: a port typed with Prisma types leaks Prisma into the application layer.',
      from: { path: '^src/write/' },
      to: {
        path: [...PRISMA_CLIENT, '^src/write-model/', '^src/graphql/', '^src/server/', ...GRAPHQL_LIBS],
      },
    },
    {
      name: 'write-only-to-domain-and-event-types',
      severity: 'error',
      comment:
        'Within src, the command side may depend on src/domain, on the event-log types ' +
        '(src/eventlog/types.ts) and on the tracing API (src/observability/tracing.ts) only - not on the event log implementation (it appends through the ports), ' +
        'not on the read side (src/projections: commands are decided on the write model, never on ' +
        'eventually-consistent projections), not on the generated GraphQL types (src/generated/graphql.ts) ' +
        'and not on the composition root. (Imports already covered by ' +
        'write-not-to-infrastructure are left out here so each is reported once.)',
      from: { path: '^src/write/' },
      to: {
        // (generated code is matched wherever it is, as it may not have been generated yet)
        path: ['^src/', '(^|/)generated/'],
        pathNot: [
          '^src/(write|domain)/',
          '^src/eventlog/types[.]ts$',
          // the SQL port's fault type (DatabaseUnavailableError), which the handler retries on
          '^src/sql/client[.]ts$',
          // spans for commands (OpenTelemetry's API only; the SDK is set up by the composition root)
          '^src/observability/tracing[.]ts$',
          // reported by write-not-to-infrastructure
          '^src/(write-model|graphql|server)/',
          '(^|/)generated/prisma(-read)?(/|$)',
        ],
      },
    },

    // ───────────────────────────── write-model & eventlog (adapters) ─────────────────────────────
    {
      name: 'adapters-not-to-upper-layers',
      severity: 'error',
      comment:
        'src/write-model (the write ports on SQL), src/eventlog (event log append/read) and src/sql (the SQL ' +
        'port and table definitions) are adapters underneath the application layers. They must not depend ' +
        'on the read side (src/projections, src/read-models) or the API layer (src/graphql, graphql, ' +
        '@apollo/*); the dependencies point the other way. (The composition root is covered by ' +
        'not-to-composition-root.)',
      from: { path: '^src/(write-model|eventlog|sql)/' },
      to: { path: ['^src/projections/', '^src/read-models/', '^src/graphql/', ...GRAPHQL_LIBS] },
    },

    // ───────────────────────────── projections (read side) ─────────────────────────────
    {
      name: 'projections-not-to-write-side',
      severity: 'error',
      comment:
        'CQRS: the read side (src/projections) is built from the event log only. It must never import the ' +
        'command side (src/write) or the write model and its tables (src/write-model; Prisma models User, ' +
        'Product, Order, OrderLine). Reading write-model state would couple read models to the write ' +
        "schema and bypass the events. Type-only imports count too. (Prisma's client as such is allowed " +
        'here: the read models live in their own tables.)',
      from: { path: '^src/(projections|read-models)/' },
      to: {
        path: [
          '^src/write/',
          '^src/write-model/',
          '(^|/)generated/prisma/models/(User|Product|Order|OrderLine)[.](ts|js)$',
        ],
      },
    },
    {
      name: 'projections-not-to-api',
      severity: 'error',
      comment:
        'The read side is independent of how it is exposed: src/projections and src/read-models must not ' +
        'import the API layer (src/graphql, graphql, @apollo/*), except for the one file of a read model ' +
        "that serves its GraphQL fields (src/read-models/<name>/graphql.ts). (The composition root is " +
        'covered by not-to-composition-root.)',
      from: { path: '^src/(projections|read-models)/', pathNot: READ_MODEL_GRAPHQL },
      to: { path: ['^src/graphql/', ...GRAPHQL_LIBS] },
    },
    {
      name: 'read-models-independent',
      severity: 'error',
      comment:
        'A read model is one folder, built from events only: it must not import another read model (its ' +
        'tables, queries or views). It may use the shared kit (src/read-models/*.ts, and the cache in ' +
        "src/read-models/cache/). Where it needs another aggregate's data, it keeps its own copy from that " +
        "aggregate's events (as orders keeps order_view_user). Only the registry lists them all.",
      from: { path: '^src/read-models/([^/]+)/', pathNot: READ_MODEL_CACHE },
      to: { path: '^src/read-models/[^/]+/', pathNot: ['^src/read-models/$1/', READ_MODEL_CACHE] },
    },
    {
      name: 'cache-knows-no-read-model',
      severity: 'error',
      comment:
        'The cache (src/read-models/cache/) serves any read model through the CachedView each one declares ' +
        "(its `cached.ts`, listed by the registry): it must not import a particular read model's folder, nor " +
        'the registry. The composition root hands it the registered views.',
      from: { path: READ_MODEL_CACHE },
      to: { path: ['^src/read-models/[^/]+/', '^src/read-models/registry[.]ts$'], pathNot: READ_MODEL_CACHE },
    },
    {
      name: 'runtime-not-to-read-models',
      severity: 'error',
      comment:
        'The projection runtime (src/projections: projector, daemon, dead letters, rebuilds, status) runs ' +
        'any Projection it is given; it must not know a particular read model or the registry. The ' +
        'composition root hands it the registered projections.',
      from: { path: '^src/projections/' },
      to: { path: '^src/read-models/' },
    },

    // ───────────────────────────── graphql (API layer) ─────────────────────────────
    {
      name: 'query-resolvers-not-to-write-side',
      severity: 'error',
      comment:
        'Query resolvers (src/graphql/resolvers/queries.ts, src/graphql/resolvers/types.ts, ' +
        'src/graphql/loaders.ts) answer from the read side (projections) only. They must never import ' +
        'src/write or src/write-model - not even types: mutations go through ctx.commands, typed via ' +
        'src/graphql/context.ts.',
      from: { path: QUERY_RESOLVERS },
      to: { path: ['^src/write/', '^src/write-model/'] },
    },
    {
      name: 'query-resolvers-never-reach-write-model',
      severity: 'error',
      comment:
        'Transitive version of query-resolvers-not-to-write-side: a query resolver must not reach the ' +
        'write model (src/write-model) through any chain of imports either (e.g. through a helper module). ' +
        '(Reaching src/write/commands.ts type-only through src/graphql/context.ts is fine and is not what ' +
        'this rule checks.)',
      from: { path: QUERY_RESOLVERS },
      to: { path: '^src/write-model/', reachable: true },
    },
    {
      name: 'graphql-not-to-write-model-or-prisma',
      severity: 'error',
      comment:
        'No file in the API layer (src/graphql) may import the write model (src/write-model) or the Prisma ' +
        'client (src/generated/prisma, @prisma/*), type-only or not: mutations go through the ' +
        'CommandService (src/write), queries through the read models (src/projections). Note that ' +
        "src/generated/graphql.ts (codegen's resolver types) is fine.",
      from: { path: '^src/graphql/' },
      to: { path: ['^src/write-model/', ...PRISMA_CLIENT] },
    },
    {
      name: 'graphql-context-types-only-from-write',
      severity: 'error',
      comment:
        'src/graphql/context.ts describes what resolvers get; it may refer to the command side by type only ' +
        '(e.g. CommandService). The instance is created and injected by the composition root (src/app.ts), ' +
        'so the API layer never constructs the command side itself.',
      from: { path: '^src/graphql/context[.]ts$' },
      to: { path: '^src/write/', dependencyTypesNot: ['type-only'] },
    },

    // ───────────────────────────── composition root ─────────────────────────────
    {
      name: 'not-to-composition-root',
      severity: 'error',
      comment:
        'src/app.ts, src/main.ts and src/server/ wire the application together; the layers must not import ' +
        'them (that would be a cycle in spirit if not in fact). Pass what is needed in (context, ports).',
      from: { path: '^src/', pathNot: [...COMPOSITION_ROOT, '^src/infrastructure/'] },
      to: { path: COMPOSITION_ROOT },
    },

    // ───────────────────────────── general hygiene ─────────────────────────────
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'This module is part of an import cycle with at least one runtime (non type-only) import. With ES ' +
        "modules such a cycle means some module's bindings are used before they are initialised (TDZ " +
        'errors / undefined at load time) depending on which module is loaded first. Break it with ' +
        'dependency inversion or by moving the shared part into its own module.',
      from: { path: '^src/' },
      to: { circular: true, via: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-circular-type-only',
      severity: 'error',
      comment:
        'This module is part of an import cycle made of type-only imports only. That is harmless at runtime ' +
        '(the imports are erased), but it still tangles the modules together. The tree currently has none, ' +
        'so keep it that way (downgrade to "warn" if one is ever needed).',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypes: ['type-only'] } },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment:
        "src ships to production, where devDependencies aren't installed (npm ci --omit=dev). Don't import " +
        'them from src: move the package to dependencies, or the code out of src. Type-only imports are ' +
        'fine (erased at compile time), as are @types/* packages.',
      from: { path: '^src/' },
      to: {
        dependencyTypes: ['npm-dev'],
        dependencyTypesNot: ['type-only'],
        pathNot: ['(^|/)node_modules/@types/'],
      },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment:
        "src imports an npm package that isn't declared in package.json's dependencies (it only happens to " +
        'be installed as a transitive dependency). Its presence and version are not guaranteed: add it to ' +
        'package.json.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'This import cannot be resolved to a file, so none of the rules above can check what is behind it. ' +
        'Fix the path (TypeScript sources are imported with a .js suffix under NodeNext) or install the ' +
        'package. Generated code (src/generated, created by `npm run prisma:generate` and codegen) is ' +
        'exempt because it may legitimately not exist yet.',
      from: { path: '^src/' },
      to: { couldNotResolve: true, pathNot: ['(^|/)generated/'] },
    },
  ],
  options: {
    // Generated code is not cruised (it may be missing, and its innards are not ours), but imports
    // of it are still recorded so rules against importing the Prisma client keep working.
    doNotFollow: { path: ['node_modules', '^src/generated/'] },

    moduleSystems: ['es6', 'cjs', 'tsd'],

    // See the note at the top: record `import type` imports, tagged "type-only".
    tsPreCompilationDeps: true,

    // Compile and resolve with the project's TypeScript config (NodeNext: `./x.js` -> `./x.ts`).
    tsConfig: { fileName: 'tsconfig.json' },

    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },

    skipAnalysisNotInRules: true,

    reporterOptions: {
      archi: {
        collapsePattern: '^src/[^/]+|node_modules/(?:@[^/]+/[^/]+|[^/]+)',
      },
    },
  },
};
