import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type {
  IsolationLevel,
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlQuery,
  SqlQueryable,
  Transaction,
} from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { SqlDatabase } from '../../sql/client.js';
import { PrismaClient } from '../../generated/prisma/client.js';
import { CatalogTypesPool } from './catalog-types-pool.js';
import { DEFAULT_PGLITE_DIR, openPGlite, withCatalogTypesAsText } from './pglite.js';
import { DEFAULTS } from '../../config.js';
import { pgSqlDatabase, prismaSqlDatabase } from './sql-client.js';

export interface OpenDatabaseOptions {
  /** PostgreSQL server mode when set. */
  readonly databaseUrl?: string;
  /** The embedded PGlite database's directory (default ./data/pglite; ignored with databaseUrl). */
  readonly pgliteDir?: string;
  /**
   * PGlite in memory instead of `pgliteDir` (ignored with databaseUrl). The
   * database starts empty: the migration CLI runs in another process and
   * cannot reach it. Meant for tests that need no schema.
   */
  readonly memory?: boolean;
  /**
   * Called once per SQL statement sent to the database, including the
   * transaction control statements (BEGIN, COMMIT, ROLLBACK, SET TRANSACTION)
   * that the adapters send on their own. Tests count statements with it.
   */
  readonly onQuery?: (sql: string) => void;
  /** PostgreSQL connection pool size (default DEFAULTS.DB_POOL_SIZE). */
  readonly poolSize?: number;
  /** How long the pool waits for a connection, in ms (default DEFAULTS.DB_CONNECT_TIMEOUT_MS). */
  readonly connectTimeoutMs?: number;
  /** Reports errors of idle pool connections (they would crash the process otherwise). */
  readonly onPoolError?: (error: Error) => void;
}

/** An open database: Prisma for queries, plus the raw handle for LISTEN/NOTIFY and locks. */
export type Database =
  | {
      readonly kind: 'postgres';
      readonly prisma: PrismaClient;
      /** Plain SQL on the same pool without Prisma's per-request cost: the hot paths' port. */
      readonly sql: SqlDatabase;
      readonly pool: CatalogTypesPool;
      readonly databaseUrl: string;
      /** Disconnects Prisma and ends the pool; no handle stays open. Idempotent. */
      close(): Promise<void>;
    }
  | {
      readonly kind: 'pglite';
      readonly prisma: PrismaClient;
      /** The hot paths' SQL port: through Prisma's raw queries on the embedded database. */
      readonly sql: SqlDatabase;
      readonly pglite: PGlite;
      /** Disconnects Prisma and closes PGlite (flushing it to disk). Idempotent. */
      close(): Promise<void>;
    };

/** Reports every `queryRaw` / `executeRaw` of `target` to `onQuery`. */
function observeQueries<T extends SqlQueryable>(target: T, onQuery: (sql: string) => void): T {
  const queryRaw = target.queryRaw.bind(target);
  const executeRaw = target.executeRaw.bind(target);
  target.queryRaw = (query: SqlQuery) => (onQuery(query.sql), queryRaw(query));
  target.executeRaw = (query: SqlQuery) => (onQuery(query.sql), executeRaw(query));
  return target;
}

/**
 * Wraps a driver adapter factory so that every statement is reported to
 * `onQuery`, inside transactions too.
 *
 * Prisma sends its own statements through `queryRaw` / `executeRaw`, but the
 * adapters send transaction control themselves: `PrismaPg` runs `BEGIN` (and
 * `SET TRANSACTION ISOLATION LEVEL`) inside `startTransaction`, while Prisma
 * sends its `COMMIT` / `ROLLBACK` through `executeRaw`; `PrismaPGlite` uses
 * PGlite's own `transaction()`, which sends `BEGIN` and `COMMIT` / `ROLLBACK`
 * itself (`usePhantomQuery`: Prisma then sends none). Those are reported here.
 */
function observed(factory: SqlDriverAdapterFactory, onQuery: (sql: string) => void): SqlDriverAdapterFactory {
  return {
    adapterName: factory.adapterName,
    provider: factory.provider,
    async connect(): Promise<SqlDriverAdapter> {
      const adapter = observeQueries(await factory.connect(), onQuery);
      const startTransaction = adapter.startTransaction.bind(adapter);
      adapter.startTransaction = async (isolationLevel?: IsolationLevel): Promise<Transaction> => {
        onQuery('BEGIN');
        if (isolationLevel) onQuery(`SET TRANSACTION ISOLATION LEVEL ${isolationLevel}`);
        const tx = observeQueries(await startTransaction(isolationLevel), onQuery);
        if (tx.options.usePhantomQuery) {
          const commit = tx.commit.bind(tx);
          const rollback = tx.rollback.bind(tx);
          tx.commit = () => (onQuery('COMMIT'), commit());
          tx.rollback = () => (onQuery('ROLLBACK'), rollback());
        }
        return tx;
      };
      const executeScript = adapter.executeScript.bind(adapter);
      adapter.executeScript = (script: string) => (onQuery(script), executeScript(script));
      return adapter;
    },
  };
}

/**
 * Makes sure a transaction's connection goes back to the pool when its
 * COMMIT or ROLLBACK fails. Prisma 6.19 sends those through `executeRaw` and
 * only then calls the adapter's commit()/rollback(), which release the
 * connection — so a connection that broke mid-transaction (server restart,
 * pg_terminate_backend) was never released: the pool shrank with every such
 * fault until nothing was left and `pool.end()` waited forever. Releasing
 * it lets the pool discard the broken connection and open a fresh one.
 */
function releasingOnFailedEnd(factory: SqlDriverAdapterFactory): SqlDriverAdapterFactory {
  return {
    adapterName: factory.adapterName,
    provider: factory.provider,
    async connect(): Promise<SqlDriverAdapter> {
      const adapter = await factory.connect();
      const startTransaction = adapter.startTransaction.bind(adapter);
      adapter.startTransaction = async (isolationLevel?: IsolationLevel): Promise<Transaction> => {
        const tx = await startTransaction(isolationLevel);
        const executeRaw = tx.executeRaw.bind(tx);
        tx.executeRaw = async (query: SqlQuery) => {
          try {
            return await executeRaw(query);
          } catch (error) {
            if (/^(COMMIT|ROLLBACK)$/i.test(query.sql.trim())) await tx.rollback().catch(() => undefined);
            throw error;
          }
        };
        return tx;
      };
      return adapter;
    },
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

/**
 * Opens PostgreSQL (`databaseUrl`) or the embedded PGlite database through
 * Prisma driver adapters: one schema, one dialect, two runtimes.
 *
 * PostgreSQL runs on a {@link CatalogTypesPool} of `poolSize` connections;
 * on both runtimes raw queries may return catalog-typed columns (`name`,
 * `regclass`, ...) as strings. A PGlite directory must not be
 * open in two places at once (another process, or the migration CLI).
 * Always `close()` the result: an open pool or PGlite keeps the process alive,
 * and an unclosed PGlite directory needs crash recovery on its next open.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const adapterFor = (factory: SqlDriverAdapterFactory) =>
    options.onQuery ? observed(factory, options.onQuery) : factory;

  if (options.databaseUrl) {
    const pool = new CatalogTypesPool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? DEFAULTS.DB_POOL_SIZE,
      // A server that cannot be reached fails requests within seconds, not minutes.
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULTS.DB_CONNECT_TIMEOUT_MS,
    });
    // Without a listener, an idle connection dropped by the server would
    // crash the process; the pool discards the broken connection either way.
    pool.on('error', (error) => options.onPoolError?.(error));
    const prisma = new PrismaClient({ adapter: adapterFor(releasingOnFailedEnd(new PrismaPg(pool))) });
    return {
      kind: 'postgres',
      prisma,
      sql: pgSqlDatabase(pool, options.onQuery),
      pool,
      databaseUrl: options.databaseUrl,
      close: once(async () => {
        await prisma.$disconnect();
        await pool.end();
      }),
    };
  }

  const pglite = await openPGlite(options.memory ? 'memory://' : (options.pgliteDir ?? DEFAULT_PGLITE_DIR));
  // pglite-prisma-adapter is typed against an older copy of Prisma's adapter
  // types; the runtime contract is the same.
  const factory = new PrismaPGlite(withCatalogTypesAsText(pglite)) as unknown as SqlDriverAdapterFactory;
  const prisma = new PrismaClient({ adapter: adapterFor(factory) });
  return {
    kind: 'pglite',
    prisma,
    sql: prismaSqlDatabase(prisma),
    pglite,
    close: once(async () => {
      await prisma.$disconnect();
      await pglite.close();
    }),
  };
}
