import { startApp, type App, type StartOptions } from '../../src/app.js';
import { pino, type DestinationStream, type Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import { ADMIN, TEST_JWT_SECRET, bearer } from './auth.js';
import { createTestDatabase, type TestDatabase } from './databases.js';

export type DbKind = 'postgres' | 'pglite';

/** The database kind this vitest project runs on (see vitest.config.ts). */
export function testDbKind(): DbKind {
  return process.env.TEST_DB === 'pglite' ? 'pglite' : 'postgres';
}

/**
 * Whether this vitest project runs the server with a read database of its own
 * (`two-databases`, see vitest.config.ts): READ_DATABASE_URL set, the read
 * models apart from the write model and the event log. PostgreSQL only.
 */
export function separateReadDatabase(): boolean {
  return process.env.TEST_READ_DATABASE === 'separate' && testDbKind() === 'postgres';
}

export interface GraphQLResponse<T = any> {
  data?: T;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
}

export interface TestServer {
  readonly app: App;
  readonly url: string;
  /** The test database (PostgreSQL URL or PGlite directory); `readDatabaseUrl` when the read models have one of their own. */
  readonly database: { databaseUrl?: string; pgliteDir?: string; readDatabaseUrl?: string };
  /** SQL statements sent so far (reset with `statements.length = 0`). */
  readonly statements: string[];
  /** The warnings and errors the server logged so far, as pino's JSON lines (parsed). */
  readonly logs: Array<{ level: number; msg?: string; err?: { type?: string; message?: string; stack?: string }; [field: string]: unknown }>;
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
 * A logger that keeps every warning and error in `into` (tests assert on what
 * the server logged), and also prints at `level` (TEST_LOG_LEVEL; silent by default).
 */
function capturingLogger(level: Config['LOG_LEVEL'], into: TestServer['logs']): Logger {
  const capture: DestinationStream = { write: (line: string) => void into.push(JSON.parse(line)) };
  if (level === 'silent') return pino({ level: 'warn' }, capture);
  const lowest = pino.levels.values[level]! < pino.levels.values.warn! ? level : 'warn';
  return pino({ level: lowest }, pino.multistream([{ level, stream: process.stdout }, { level: 'warn', stream: capture }]));
}

/**
 * Starts the real server on a fresh database of this run's kind, on a free
 * port. `stop` shuts it down gracefully and drops the database.
 */
export async function startTestServer(
  overrides: Partial<Config> &
    Pick<StartOptions, 'runProjectors' | 'projectionFault'> & {
      kind?: DbKind;
      /** A read database of its own (default: as the vitest project says, separateReadDatabase()); READ_DATABASE_URL names one. */
      separateRead?: boolean;
      /** The write database to use (default a fresh one, dropped at stop); the caller disposes it. */
      writeDatabase?: TestDatabase;
    } = {},
): Promise<TestServer> {
  const { runProjectors, projectionFault, kind: requested, separateRead, writeDatabase, ...configOverrides } = overrides;
  const kind = requested ?? testDbKind();
  const separate = kind === 'postgres' && (configOverrides.READ_DATABASE_URL !== undefined || (separateRead ?? separateReadDatabase()));
  const database = writeDatabase ?? (await createTestDatabase(kind, separate ? 'write' : 'both'));
  const readDatabase = separate && configOverrides.READ_DATABASE_URL === undefined ? await createTestDatabase('postgres', 'read') : undefined;
  const readDatabaseUrl = separate ? (configOverrides.READ_DATABASE_URL ?? readDatabase!.databaseUrl) : undefined;
  const statements: string[] = [];
  const config = loadConfig(
    {},
    {
      PORT: 0,
      HOST: '127.0.0.1',
      DATABASE_URL: database.databaseUrl,
      PGLITE_DIR: database.pgliteDir ?? './data/pglite',
      LOG_LEVEL: (process.env.TEST_LOG_LEVEL as Config['LOG_LEVEL']) ?? 'silent',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      // Every query compiled from its first run, so that the suite checks the compiled path (graphql-js runs the rest).
      GRAPHQL_COMPILE_AFTER: 0,
      ...configOverrides,
      READ_DATABASE_URL: readDatabaseUrl,
    },
  );
  const logs: TestServer['logs'] = [];
  const app = await startApp(config, capturingLogger(config.LOG_LEVEL, logs), {
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
    database: { databaseUrl: database.databaseUrl, pgliteDir: database.pgliteDir, readDatabaseUrl },
    statements,
    logs,
    gql,
    ok,
    as: client,
    async stop() {
      await app.stop();
      if (!writeDatabase) await database.dispose();
      await readDatabase?.dispose();
    },
  };
}
