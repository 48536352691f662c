import { defineConfig } from 'vitest/config';

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
  test: {
    projects: [
      { test: { ...shared, name: 'postgres', env: { TEST_DB: 'postgres' } } },
      // Database-free suites (domain, architecture) need not run twice.
      {
        test: {
          ...shared,
          name: 'pglite',
          include: ['test/{e2e,eventlog,infrastructure,subscriptions}/**/*.test.ts'],
          env: { TEST_DB: 'pglite' },
        },
      },
    ],
  },
});
