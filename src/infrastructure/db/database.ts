import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, Transaction } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../../generated/prisma/client.js';
import { CatalogTypesPool } from './catalog-types-pool.js';
import { DEFAULT_PGLITE_DIR, openPGlite } from './pglite.js';

export interface OpenDatabaseOptions {
  /** PostgreSQL server mode when set. */
  readonly databaseUrl?: string;
  /** The embedded PGlite database's directory (ignored with databaseUrl). */
  readonly pgliteDir?: string;
  /** Called once per SQL statement sent (tests count statements with it). */
  readonly onQuery?: (sql: string) => void;
  readonly poolSize?: number;
  /** Reports errors of idle pool connections (they would crash the process otherwise). */
  readonly onPoolError?: (error: Error) => void;
}

/** An open database: Prisma for queries, plus the raw handle for LISTEN/NOTIFY and locks. */
export type Database =
  | { readonly kind: 'postgres'; readonly prisma: PrismaClient; readonly pool: CatalogTypesPool; readonly databaseUrl: string; close(): Promise<void> }
  | { readonly kind: 'pglite'; readonly prisma: PrismaClient; readonly pglite: PGlite; close(): Promise<void> };

/** Wraps a driver adapter factory so every statement is reported to `onQuery`. */
function counting(factory: SqlDriverAdapterFactory, onQuery: (sql: string) => void): SqlDriverAdapterFactory {
  const wrapQueries = <T extends Pick<Transaction, 'queryRaw' | 'executeRaw'>>(target: T): T => {
    const queryRaw = target.queryRaw.bind(target);
    const executeRaw = target.executeRaw.bind(target);
    target.queryRaw = (query: SqlQuery) => (onQuery(query.sql), queryRaw(query));
    target.executeRaw = (query: SqlQuery) => (onQuery(query.sql), executeRaw(query));
    return target;
  };
  return {
    adapterName: factory.adapterName,
    provider: factory.provider,
    async connect(): Promise<SqlDriverAdapter> {
      const adapter = wrapQueries(await factory.connect());
      const startTransaction = adapter.startTransaction.bind(adapter);
      adapter.startTransaction = async (isolationLevel) => wrapQueries(await startTransaction(isolationLevel));
      return adapter;
    },
  };
}

/**
 * Opens PostgreSQL (`databaseUrl`) or the embedded PGlite database through
 * Prisma driver adapters: one schema, one dialect, two runtimes.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const wrap = (factory: SqlDriverAdapterFactory) => (options.onQuery ? counting(factory, options.onQuery) : factory);
  if (options.databaseUrl) {
    const pool = new CatalogTypesPool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10 });
    pool.on('error', (error) => options.onPoolError?.(error));
    const prisma = new PrismaClient({ adapter: wrap(new PrismaPg(pool)) });
    return {
      kind: 'postgres',
      prisma,
      pool,
      databaseUrl: options.databaseUrl,
      async close() {
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }
  const pglite = await openPGlite(options.pgliteDir ?? DEFAULT_PGLITE_DIR);
  // pglite-prisma-adapter is built against an older copy of Prisma's adapter
  // types; the runtime contract is the same.
  const factory = new PrismaPGlite(pglite) as unknown as SqlDriverAdapterFactory;
  const prisma = new PrismaClient({ adapter: wrap(factory) });
  return {
    kind: 'pglite',
    prisma,
    pglite,
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}
