import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

/**
 * graphql 16 ships CommonJS (`main`) and ESM (`module`) builds. Node loads the
 * CommonJS one for every package (graphql-ws, Apollo, graphql-tools); Vite
 * would pick the ESM one for our sources, and graphql refuses objects from the
 * other copy ("from another module or realm"). Pin the one Node uses.
 */
const graphqlMain = createRequire(import.meta.url).resolve('graphql');

/**
 * The same suite runs twice: on the embedded PGlite database and on the local
 * PostgreSQL server. Tests read `process.env.TEST_DB`.
 */
const shared = {
  include: ['test/**/*.test.ts'],
  testTimeout: 30_000,
  hookTimeout: 180_000,
  pool: 'forks' as const,
};

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlMain }] },
  test: {
    // Runs once for the whole run: drops the migrated templates at the end.
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      { extends: true, test: { ...shared, name: 'postgres', env: { TEST_DB: 'postgres' } } },
      // Database-free suites (domain, architecture) need not run twice, nor the
      // browser test of the IDE (test/ide), which does not depend on the database.
      {
        extends: true,
        test: {
          ...shared,
          name: 'pglite',
          include: ['test/{e2e,eventlog,infrastructure,subscriptions,operations,demo,observability}/**/*.test.ts'],
          env: { TEST_DB: 'pglite' },
        },
      },
      // The server with a read database of its own (READ_DATABASE_URL): the suites that
      // exercise projections, read-your-writes and subscriptions end to end, again.
      {
        extends: true,
        test: {
          ...shared,
          name: 'two-databases',
          include: [
            'test/crash/kill9.test.ts',
            'test/e2e/{commands,dead-letters,projections,idempotency,metrics,cache}.test.ts',
            'test/subscriptions/{order-subscriptions,change-history,redrive,transport}.test.ts',
            'test/operations/projections-cli.test.ts',
          ],
          env: { TEST_DB: 'postgres', TEST_READ_DATABASE: 'separate' },
        },
      },
    ],
  },
});
