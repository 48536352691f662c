import { startApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from './databases.js';

export type DbKind = 'postgres' | 'pglite';

/** The database kind this vitest project runs on (see vitest.config.ts). */
export function testDbKind(): DbKind {
  return process.env.TEST_DB === 'pglite' ? 'pglite' : 'postgres';
}

export interface GraphQLResponse<T = any> {
  data?: T;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
}

export interface TestServer {
  readonly app: App;
  readonly url: string;
  /** The test database (PostgreSQL URL or PGlite directory). */
  readonly database: { databaseUrl?: string; pgliteDir?: string };
  /** SQL statements sent so far (reset with `statements.length = 0`). */
  readonly statements: string[];
  gql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  /** Like gql, but fails the test on any error and returns `data`. */
  ok<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts the real server on a fresh database of this run's kind, on a free
 * port. `stop` shuts it down gracefully and drops the database.
 */
export async function startTestServer(overrides: Partial<Config> & { runProjectors?: boolean } = {}): Promise<TestServer> {
  const { runProjectors, ...configOverrides } = overrides;
  const database = await createTestDatabase(testDbKind());
  const statements: string[] = [];
  const config = loadConfig(
    {},
    {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: database.databaseUrl,
      PGLITE_DIR: database.pgliteDir ?? './data/pglite',
      LOG_LEVEL: (process.env.TEST_LOG_LEVEL as Config['LOG_LEVEL']) ?? 'silent',
      // Generous: CI machines run several suites at once.
      READ_YOUR_WRITES_TIMEOUT_MS: 15_000,
      ...configOverrides,
    },
  );
  const app = await startApp(config, createLogger(config.LOG_LEVEL), {
    onQuery: (sql) => statements.push(sql),
    runProjectors,
  });
  const gql = async (query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const res = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GraphQLResponse;
  };
  return {
    app,
    url: app.url,
    database: { databaseUrl: database.databaseUrl, pgliteDir: database.pgliteDir },
    statements,
    gql,
    async ok(query, variables) {
      const result = await gql(query, variables);
      if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
    async stop() {
      await app.stop();
      await database.dispose();
    },
  };
}
