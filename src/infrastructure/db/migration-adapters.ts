/**
 * Driver adapter factories for Prisma Migrate's WASM schema engine
 * (`engine: 'js'` in prisma-config.ts). They let `prisma migrate ...` run
 * without downloading the native schema engine.
 */
import { randomUUID } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { CatalogTypesPool } from './catalog-types-pool.js';
import { createDatabase, dropDatabase, withDatabaseName } from './pg-admin.js';
import { openPGlite } from './pglite.js';
import { onCliExit } from './prisma-cli-process.js';

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;
type PGliteAdapter = Awaited<ReturnType<PrismaPGlite['connect']>>;

function logPoolError(err: Error): void {
  console.error(`[prisma migrate] idle PostgreSQL connection error: ${err.message}`);
}

function migrationPool(connectionString: string): CatalogTypesPool {
  // `allowExitOnIdle`: the CLI never disposes its main adapter, so idle
  // connections must not keep the process alive.
  const pool = new CatalogTypesPool({ connectionString, max: 2, allowExitOnIdle: true });
  pool.on('error', logPoolError);
  return pool;
}

/** The adapter's own error translation (driver error -> DriverAdapterError). */
function errorReporter(adapter: object): (error: unknown) => never {
  const queryable = adapter as { onError(error: unknown): never };
  return queryable.onError.bind(adapter);
}

/**
 * Replaces `PrismaPg`'s `executeScript`, which splits the migration script on
 * every `;` (even inside comments and string literals, so `-- a; b` breaks a
 * migration) and runs the pieces one by one (a failing migration stays half
 * applied). Ours sends the script as one simple-protocol query, like the
 * native schema engine: PostgreSQL runs it as a single implicit transaction.
 */
function executeScriptsWhole(adapter: PgAdapter): PgAdapter {
  const pool = adapter.underlyingDriver();
  const reportError = errorReporter(adapter);
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
  constructor(
    private readonly databaseUrl: string,
    private readonly pool: CatalogTypesPool = migrationPool(databaseUrl),
  ) {
    super(pool, { disposeExternalPool: true, onPoolError: logPoolError });
    // Close connections cleanly once the CLI command is done.
    onCliExit(async () => {
      if (!this.pool.ending) await this.pool.end();
    });
  }

  override async connect(): Promise<PgAdapter> {
    return executeScriptsWhole(await super.connect());
  }

  override async connectToShadowDb(): Promise<PgAdapter> {
    const name = `prisma_shadow_${randomUUID().replace(/-/g, '')}`;
    await createDatabase(this.databaseUrl, name);
    try {
      const shadow = new PrismaPg(migrationPool(withDatabaseName(this.databaseUrl, name)), {
        disposeExternalPool: true,
        onPoolError: logPoolError,
      });
      const adapter = executeScriptsWhole(await shadow.connect());
      const disposePool = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
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
export function pgMigrationAdapter(databaseUrl: string): SqlMigrationAwareDriverAdapterFactory {
  return new MigrationPg(databaseUrl);
}

/**
 * `PrismaPGlite` opening the database in `dir` lazily, with two fixes:
 * - its `executeScript` does not await `PGlite#exec`, so a failing migration
 *   script is not reported to Migrate (it would be recorded as applied and
 *   the rejection would go unhandled); ours awaits it and reports the error;
 * - nothing ever closes PGlite (its `dispose` is a no-op, and the CLI does
 *   not dispose its main adapter anyway). An unclosed PGlite directory needs
 *   crash recovery on its next open and keeps the process alive; ours closes
 *   it when the last adapter is disposed or when the CLI command is done.
 */
class MigrationPGlite extends PrismaPGlite {
  private db: Promise<PGlite> | undefined;
  private connected = 0;

  constructor(private readonly dir: string) {
    // The client is opened lazily in connect(); the base class only uses it there.
    super(undefined as unknown as PGlite);
  }

  private async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.connected = 0;
    const client = await db;
    if (client && !client.closed) await client.close();
  }

  override async connect(): Promise<PGliteAdapter> {
    if (!this.db) {
      this.db = openPGlite(this.dir);
      onCliExit(() => this.close());
    }
    const client = await this.db;
    const adapter = await new PrismaPGlite(client).connect();
    this.connected++;
    const reportError = errorReporter(adapter);
    adapter.executeScript = async (script: string) => {
      try {
        await client.exec(script);
      } catch (error) {
        reportError(error);
      }
    };
    adapter.dispose = async () => {
      if (--this.connected === 0) await this.close();
    };
    return adapter;
  }
}

/**
 * Migration adapter factory for the PGlite database in directory `dir`.
 *
 * PGlite cannot act as a shadow database: author migrations with
 * `migrate dev` against PostgreSQL and only `migrate deploy` to PGlite.
 */
export function pgliteMigrationAdapter(dir: string): SqlMigrationAwareDriverAdapterFactory {
  // pglite-prisma-adapter is typed against an older copy of Prisma's adapter
  // types; the runtime contract is the same.
  return new MigrationPGlite(dir) as unknown as SqlMigrationAwareDriverAdapterFactory;
}
