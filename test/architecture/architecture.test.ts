/**
 * Architecture test: runs dependency-cruiser with the project's rule set
 * (.dependency-cruiser.cjs) over src and fails on any violation, and proves on
 * a small fake tree (written to a temp dir) that the layer rules really fire.
 *
 * The same check from the command line:
 *   npx depcruise src --config .dependency-cruiser.cjs --output-type err-long
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cruise, format, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const TIMEOUT_MS = 30_000;

/** Cruises `src` under `baseDir` with the project's rule set and baseDir's tsconfig.json. */
async function cruiseSrc(baseDir: string): Promise<ICruiseResult> {
  const tsConfigFile = join(baseDir, 'tsconfig.json');
  const options: ICruiseOptions = {
    ...(await extractDepcruiseOptions(CONFIG)),
    baseDir,
    tsConfig: { fileName: tsConfigFile },
  };
  const { output } = await cruise(['src'], options, {}, { tsConfig: extractTSConfig(tsConfigFile) });
  if (typeof output === 'string') throw new Error(`expected a cruise result object, got:\n${output}`);
  return output;
}

/** The violations in dependency-cruiser's own 'err-long' format (rule name, from → to, rule comment). */
async function describeViolations(result: ICruiseResult): Promise<string> {
  const { output } = await format(result, { outputType: 'err-long' });
  return typeof output === 'string' ? output : JSON.stringify(output, null, 2);
}

/** One line per violation: "rule: from → to" (plus the cycle or transitive path if any). */
function summarize(v: IViolation): string {
  const path = v.cycle ?? v.via;
  const chain = path?.length ? ` [${[v.from, ...path.map((d) => d.name)].join(' → ')}]` : '';
  return `${v.rule.name}: ${v.from} → ${v.to}${chain}`;
}

describe('architecture (dependency-cruiser, .dependency-cruiser.cjs)', () => {
  describe('the src tree', () => {
    let result: ICruiseResult;

    beforeAll(async () => {
      result = await cruiseSrc(ROOT);
    }, TIMEOUT_MS);

    it('actually cruised src and resolved the NodeNext `.js` imports to `.ts` files', () => {
      const sources = result.modules.map((m) => m.source);
      expect(sources).toContain('src/domain/orders.ts');
      expect(sources).toContain('src/write/commands.ts');
      expect(sources).toContain('src/graphql/resolvers/queries.ts');
      // generated code is not cruised (doNotFollow), only recorded as a dependency target
      expect(result.modules.filter((m) => m.source.startsWith('src/generated/') && m.dependencies.length > 0)).toEqual(
        [],
      );

      // (imports that cannot be resolved at all are reported by the not-to-unresolvable rule below)
      const resolved = result.modules
        .filter((m) => m.source.startsWith('src/'))
        .flatMap((m) => m.dependencies.map((d) => ({ from: m.source, ...d })))
        .filter((d) => d.module.startsWith('.') && !d.couldNotResolve);
      expect(resolved.length).toBeGreaterThan(50);
      // (a JSON module — the generated persisted documents manifest — is itself)
      const notTs = resolved
        .filter((d) => !/\.ts$/.test(d.resolved) && !(/\.json$/.test(d.module) && d.resolved.endsWith(d.module.replace(/^(\.\.?\/)+/, ''))))
        .map((d) => `${d.from} → ${d.module} = ${d.resolved}`);
      expect(notTs, 'relative imports that resolved to something else than a .ts file').toEqual([]);
    });

    it('has no dependency violations', async () => {
      const violations = result.summary.violations;
      const message =
        violations.length === 0
          ? ''
          : `${violations.length} architecture violation(s):\n  ${violations.map(summarize).join('\n  ')}\n\n` +
            (await describeViolations(result));
      expect(violations.map(summarize), message).toEqual([]);
    });
  });

  describe('the rules bite (fake tree in a temp dir)', () => {
    /** Fake src tree: every file is either clean or violates exactly the rules listed in EXPECTED. */
    const FIXTURE: Record<string, string> = {
      // clean: domain may import itself and node: builtins
      'src/domain/ok.ts': [
        "import { randomUUID } from 'node:crypto';",
        "import { Money } from './money.js';",
        'export const id = (): string => randomUUID();',
        'export type Price = Money;',
      ].join('\n'),
      'src/domain/money.ts': 'export type Money = number;',
      // a cycle of type-only imports
      'src/domain/type-cycle-a.ts': "import type { B } from './type-cycle-b.js';\nexport type A = { b?: B };",
      'src/domain/type-cycle-b.ts': "import type { A } from './type-cycle-a.js';\nexport type B = { a?: A };",
      // domain importing Prisma (runtime) and graphql (type-only: still forbidden)
      'src/domain/leaky.ts': [
        "import { PrismaClient } from '@prisma/client';",
        "import type { GraphQLSchema } from 'graphql';",
        'export const db = new PrismaClient();',
        'export type S = GraphQLSchema;',
      ].join('\n'),

      // command side: the generated Prisma client (missing here, as before `prisma generate`) and a runtime cycle
      'src/write/ports.ts': "import type { EventMetadata } from '../eventlog/types.js';\nexport type Meta = EventMetadata;",
      'src/write/handler.ts': [
        "import type { PrismaClient } from '../generated/prisma/client.js';",
        "import { b } from './cycle-b.js';",
        'export type Db = PrismaClient;',
        'export const a = (): number => b() + 1;',
      ].join('\n'),
      'src/write/cycle-b.ts': "import { a } from './handler.js';\nexport const b = (): number => (a ? 1 : 0);",
      // command side reading the read side (type-only: still forbidden)
      'src/write/reads.ts': [
        "import type { Db } from '../projections/read-model.js';",
        "import type { Resolvers } from '../generated/graphql.js';",
        'export type R = [Db, Resolvers];',
      ].join('\n'),
      'src/eventlog/types.ts': 'export type EventMetadata = { correlationId: string };',
      // event log depending on the read side
      'src/eventlog/append.ts': "import type { Db } from '../projections/read-model.js';\nexport type E = Db;",

      'src/write-model/stores.ts': "import type { Meta } from '../write/ports.js';\nexport const stores = (m: Meta) => m;",

      // read side importing the write model
      'src/projections/leaky.ts': "import { stores } from '../write-model/stores.js';\nexport const p = stores;",
      // clean: projections may use the Prisma client (read-model tables)
      'src/projections/read-model.ts': "import type { PrismaClient } from '@prisma/client';\nexport type Db = PrismaClient;",
      // read side depending on the GraphQL library
      'src/projections/api.ts': "import { GraphQLError } from 'graphql';\nexport const e = GraphQLError;",

      // query resolver importing the write model directly
      'src/graphql/resolvers/queries.ts': "import { stores } from '../../write-model/stores.js';\nexport const Query = { stores };",
      // loader reaching the write model through an innocent-looking helper outside src/graphql
      'src/graphql/loaders.ts': "import { helper } from '../shared/helper.js';\nexport const loaders = helper;",
      'src/shared/helper.ts': [
        "import { stores } from '../write-model/stores.js';",
        "import { app } from '../app.js';",
        'export const helper = stores;',
        'export const root = app;',
      ].join('\n'),
      // context.ts may refer to the command side by type (clean), but not import values from it
      'src/graphql/context.ts': [
        "import type { Meta } from '../write/ports.js';",
        "import { a } from '../write/handler.js';",
        'export type Context = { meta: Meta };',
        'export const x = a;',
      ].join('\n'),

      // clean: the command side may use the SQL port's fault type
      'src/sql/client.ts': 'export class DatabaseUnavailableError extends Error {}',
      'src/write/retry.ts': "import { DatabaseUnavailableError } from '../sql/client.js';\nexport const e = DatabaseUnavailableError;",
      // the SQL port depending on the read side
      'src/sql/table.ts': "import type { Db } from '../projections/read-model.js';\nexport type T = Db;",
      // clean: a read model's graphql.ts may use the GraphQL library and the API layer's helpers
      'src/read-models/users/tables.ts': 'export type UserRow = { id: string };',
      'src/read-models/users/graphql.ts': [
        "import { GraphQLError } from 'graphql';",
        "import type { UserRow } from './tables.js';",
        'export const e = GraphQLError;',
        'export type R = UserRow;',
      ].join('\n'),
      // …but no other file of a read model
      'src/read-models/users/view.ts': "import { GraphQLError } from 'graphql';\nexport const e = GraphQLError;",
      // one read model reading another's tables
      'src/read-models/orders/projection.ts': "import type { UserRow } from '../users/tables.js';\nexport type R = UserRow;",
      // the projection runtime knowing a particular read model
      'src/projections/daemon.ts': "import type { UserRow } from '../read-models/users/tables.js';\nexport type R = UserRow;",
      // clean: a read model declares its cached view with the cache kit
      'src/read-models/cache/cached-view.ts': 'export type CachedView = { projection: string };',
      'src/read-models/users/cached.ts': "import type { CachedView } from '../cache/cached-view.js';\nexport type C = CachedView;",
      // the cache knowing a particular read model, and the registry
      'src/read-models/cache/view-cache.ts': [
        "import type { UserRow } from '../users/tables.js';",
        "import { all } from '../registry.js';",
        'export type R = UserRow;',
        'export const views = all;',
      ].join('\n'),
      'src/read-models/registry.ts': 'export const all = [];',

      'src/app.ts': 'export const app = 1;',
      // composition root: a devDependency at runtime (type-only is fine), an undeclared package, a missing file
      'src/server/dev.ts': [
        "import { describe } from 'vitest';",
        "import type { TestAPI } from 'vitest';",
        "import picomatch from 'picomatch';",
        "import { nothing } from './missing.js';",
        'export const d = [describe, picomatch, nothing];',
        'export type T = TestAPI;',
      ].join('\n'),
    };

    /** [rule, from, to] for every violation the fake tree must produce - and nothing else. */
    const EXPECTED: ReadonlyArray<readonly [rule: string, from: string | RegExp, to: RegExp]> = [
      ['domain-is-pure', 'src/domain/leaky.ts', /(^|\/)node_modules\/@prisma\/client\//],
      ['domain-is-pure', 'src/domain/leaky.ts', /(^|\/)node_modules\/graphql\//],
      ['write-not-to-infrastructure', 'src/write/handler.ts', /^\.\.\/generated\/prisma\/client\.js$/],
      // a cycle is reported once, from whichever of its modules dependency-cruiser meets first
      ['no-circular', /^src\/write\/(handler|cycle-b)\.ts$/, /^src\/write\/(handler|cycle-b)\.ts$/],
      ['projections-not-to-write-side', 'src/projections/leaky.ts', /^src\/write-model\/stores\.ts$/],
      ['query-resolvers-not-to-write-side', 'src/graphql/resolvers/queries.ts', /^src\/write-model\/stores\.ts$/],
      ['query-resolvers-never-reach-write-model', 'src/graphql/resolvers/queries.ts', /^src\/write-model\/stores\.ts$/],
      ['query-resolvers-never-reach-write-model', 'src/graphql/loaders.ts', /^src\/write-model\/stores\.ts$/],
      ['graphql-not-to-write-model-or-prisma', 'src/graphql/resolvers/queries.ts', /^src\/write-model\/stores\.ts$/],
      ['no-circular-type-only', /^src\/domain\/type-cycle-[ab]\.ts$/, /^src\/domain\/type-cycle-[ab]\.ts$/],
      ['write-only-to-domain-and-event-types', 'src/write/reads.ts', /^src\/projections\/read-model\.ts$/],
      ['write-only-to-domain-and-event-types', 'src/write/reads.ts', /^\.\.\/generated\/graphql\.js$/],
      ['adapters-not-to-upper-layers', 'src/eventlog/append.ts', /^src\/projections\/read-model\.ts$/],
      ['projections-not-to-api', 'src/projections/api.ts', /(^|\/)node_modules\/graphql\//],
      ['graphql-context-types-only-from-write', 'src/graphql/context.ts', /^src\/write\/handler\.ts$/],
      ['not-to-composition-root', 'src/shared/helper.ts', /^src\/app\.ts$/],
      ['not-to-dev-dep', 'src/server/dev.ts', /(^|\/)node_modules\/vitest\//],
      ['no-non-package-json', 'src/server/dev.ts', /(^|\/)node_modules\/picomatch\//],
      ['not-to-unresolvable', 'src/server/dev.ts', /^\.\/missing\.js$/],
      ['adapters-not-to-upper-layers', 'src/sql/table.ts', /^src\/projections\/read-model\.ts$/],
      ['projections-not-to-api', 'src/read-models/users/view.ts', /(^|\/)node_modules\/graphql\//],
      ['read-models-independent', 'src/read-models/orders/projection.ts', /^src\/read-models\/users\/tables\.ts$/],
      ['runtime-not-to-read-models', 'src/projections/daemon.ts', /^src\/read-models\/users\/tables\.ts$/],
      ['cache-knows-no-read-model', 'src/read-models/cache/view-cache.ts', /^src\/read-models\/users\/tables\.ts$/],
      ['cache-knows-no-read-model', 'src/read-models/cache/view-cache.ts', /^src\/read-models\/registry\.ts$/],
    ];

    let dir: string;
    let violations: IViolation[];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'architecture-fixture-'));
      for (const [file, text] of Object.entries(FIXTURE)) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), `${text}\n`);
      }
      // the real manifest (dependencies vs devDependencies), tsconfig and installed packages
      copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'junction');
      violations = (await cruiseSrc(dir)).summary.violations;
    }, TIMEOUT_MS);

    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const matches = (v: IViolation, [rule, from, to]: (typeof EXPECTED)[number]): boolean =>
      v.rule.name === rule && (typeof from === 'string' ? v.from === from : from.test(v.from)) && to.test(v.to);

    it.each(EXPECTED)('%s: %s → %s is reported', (...expected) => {
      const found = violations.some((v) => matches(v, expected));
      expect(found, `not reported; got:\n  ${violations.map(summarize).join('\n  ')}`).toBe(true);
    });

    it('reports nothing else (clean fixture files, type-only context import, missing generated code)', () => {
      const unexpected = violations.filter((v) => !EXPECTED.some((expected) => matches(v, expected)));
      expect(unexpected.map(summarize)).toEqual([]);
    });
  });
});
