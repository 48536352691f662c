/**
 * Driver adapter factories for Prisma Migrate's JS schema engine
 * (`engine: 'js'` in prisma.config.ts). They let `prisma migrate ...` run
 * without downloading the native schema engine.
 */
import { randomUUID } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { CatalogTypesPool } from './catalog-types-pool.js';
import { createDatabase, dropDatabase, withDatabaseName } from './pg-admin.js';
import { openPGlite } from './pglite.js';

function logPoolError(err: Error): void {
  console.error(`[prisma migrate] idle PostgreSQL connection error: ${err.message}`);
}

function catalogTypesPool(connectionString: string): CatalogTypesPool {
  // The CLI does not always dispose the main adapter; `allowExitOnIdle` lets
  // the process exit anyway instead of waiting out the idle timeout (~10 s).
  const pool = new CatalogTypesPool({ connectionString, max: 2, allowExitOnIdle: true });
  pool.on('error', logPoolError);
  return pool;
}

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;

/**
 * Replaces `PrismaPg`'s `executeScript`, which splits the migration script on
 * every `;` (even inside comments and string literals, so `-- a; b` breaks a
 * migration) and runs the pieces one by one (a failing migration stays half
 * applied). Ours sends the script as one simple-protocol query, like the
 * native schema engine: PostgreSQL runs it as a single implicit transaction.
 */
function executeScriptsWhole(adapter: PgAdapter): PgAdapter {
  const pool = adapter.underlyingDriver();
  // The adapter's own error translation (pg error -> DriverAdapterError).
  const reportError = (adapter as unknown as { onError(error: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await pool.query(script);
    } catch (error) {
      reportError(error);
    }
  };
  return adapter;
}

/**
 * `PrismaPg` on a {@link CatalogTypesPool} (so Migrate can read `pg_catalog`)
 * with a working shadow database.
 *
 * `PrismaPg#connectToShadowDb` derives the shadow connection from the main
 * one's config, and a `connectionString` there wins over the database name it
 * substitutes, so it silently uses the *main* database as shadow. Ours creates
 * a temporary database on the same server, connects a second catalog-types
 * pool to it and drops it (WITH FORCE) when Migrate disposes the adapter.
 */
class MigrationPg extends PrismaPg {
  constructor(private readonly databaseUrl: string) {
    super(catalogTypesPool(databaseUrl), { disposeExternalPool: true, onPoolError: logPoolError });
  }

  override async connect(): Promise<PgAdapter> {
    console.error('TMP connect main');
    const a = executeScriptsWhole(await super.connect());
    const d = a.dispose.bind(a); a.dispose = async () => { console.error('TMP dispose main'); await d(); };
    return a;
  }

  override async connectToShadowDb(): Promise<PgAdapter> {
    const name = `prisma_shadow_${randomUUID().replace(/-/g, '')}`;
    await createDatabase(this.databaseUrl, name);
    try {
      const shadow = new PrismaPg(catalogTypesPool(withDatabaseName(this.databaseUrl, name)), {
        disposeExternalPool: true,
        onPoolError: logPoolError,
      });
      const adapter = executeScriptsWhole(await shadow.connect());
      const disposePool = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
        console.error('TMP dispose shadow');
        try {
          await disposePool();
        } finally {
          await dropDatabase(this.databaseUrl, name);
        }
      };
      return adapter;
    } catch (error) {
      await dropDatabase(this.databaseUrl, name);
      throw error;
    }
  }
}

/** Migration adapter factory for the PostgreSQL server at `databaseUrl`. */
export function pgMigrationAdapter(databaseUrl: string): PrismaPg {
  return new MigrationPg(databaseUrl);
}

/**
 * Migration adapter factory for the PGlite database in directory `dir`.
 *
 * Two fixes over the bare `PrismaPGlite`:
 * - its `executeScript` does not await `PGlite#exec`, so a failing migration
 *   script is not reported to Migrate (it would be recorded as applied, and
 *   the rejection goes unhandled); ours awaits it and reports the error;
 * - its `dispose` does not close PGlite, which keeps the CLI process alive;
 *   ours closes it once the last connected adapter is disposed.
 *
 * PGlite cannot act as a shadow database (its in-memory shadow lacks what
 * Migrate needs): author migrations with `migrate dev` against PostgreSQL and
 * only `migrate deploy` to PGlite.
 */
export function pgliteMigrationAdapter(dir: string): PrismaPGlite {
  return new MigrationPGlite(dir);
}

type PGliteAdapter = Awaited<ReturnType<PrismaPGlite['connect']>>;

class MigrationPGlite extends PrismaPGlite {
  private db: Promise<PGlite> | undefined;
  private connected = 0;

  constructor(private readonly dir: string) {
    // The client is opened lazily in connect(); the base class only uses it there.
    super(undefined as unknown as PGlite);
  }

  override async connect(): Promise<PGliteAdapter> {
    this.db ??= openPGlite(this.dir);
    console.error('TMP connect pglite');
    const client = await this.db;
    const adapter = await new PrismaPGlite(client).connect();
    this.connected++;
    // The adapter's own error translation (PGlite error -> DriverAdapterError).
    const reportError = (adapter as unknown as { onError(error: unknown): never }).onError.bind(adapter);
    adapter.executeScript = async (script: string) => {
      try {
        await client.exec(script);
      } catch (error) {
        reportError(error);
      }
    };
    adapter.dispose = async () => {
      console.error('TMP dispose pglite', this.connected);
      if (--this.connected === 0) {
        this.db = undefined;
        await client.close();
      }
    };
    return adapter;
  }
}
