import { startApp, type App, type StartOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, logFormat } from '../../src/logger.js';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import { ADMIN, TEST_JWT_SECRET, bearer } from './auth.js';
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
  /**
   * POSTs an operation as staff (an admin token), unless `headers` carry
   * their own `authorization` (an empty one: anonymous).
   */
  gql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  /** Like gql, but fails the test on any error and returns `data`. */
  ok<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** The same helpers acting as someone else: an actor, or 'anonymous' (no token). */
  as(who: AuthenticatedActor | 'anonymous'): Pick<TestServer, 'gql' | 'ok'>;
  stop(): Promise<void>;
}

/**
 * Starts the real server on a fresh database of this run's kind (or `kind`),
 * on a free port. `stop` shuts it down gracefully and drops the database.
 */
export async function startTestServer(
  overrides: Partial<Config> & Pick<StartOptions, 'runProjectors' | 'projectionFault'> & { kind?: DbKind } = {},
): Promise<TestServer> {
  const { runProjectors, projectionFault, kind, ...configOverrides } = overrides;
  const database = await createTestDatabase(kind ?? testDbKind());
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
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      ...configOverrides,
    },
  );
  const app = await startApp(config, createLogger(config.LOG_LEVEL, logFormat(config)), {
    onQuery: (sql) => statements.push(sql),
    runProjectors,
    projectionFault,
  });
  const client = (who: AuthenticatedActor | 'anonymous') => {
    const gql = async (query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) => {
      const own = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
      const auth = own || who === 'anonymous' ? {} : await bearer(who);
      const res = await fetch(app.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth, ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as GraphQLResponse;
    };
    const ok = async (query: string, variables?: Record<string, unknown>) => {
      const result = await gql(query, variables);
      if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    };
    return { gql, ok };
  };
  const { gql, ok } = client(ADMIN);
  return {
    app,
    url: app.url,
    database: { databaseUrl: database.databaseUrl, pgliteDir: database.pgliteDir },
    statements,
    gql,
    ok,
    as: client,
    async stop() {
      await app.stop();
      await database.dispose();
    },
  };
}
