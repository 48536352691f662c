import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, type Database, type OpenDatabaseOptions } from './database.js';

/** The project root (the same three levels up from src/ and from a build's dist/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations/', import.meta.url));
const PRISMA_CLI = createRequire(import.meta.url).resolve('prisma/build/index.js');
/**
 * The CLI configuration beside this module, with this module's own extension:
 * the TypeScript source when run from src/, the compiled file in a build.
 */
const PRISMA_CONFIG = fileURLToPath(new URL(`./prisma-config${extname(import.meta.url)}`, import.meta.url));

/** The migration folders shipped with this code, in order. */
export function migrationNames(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/**
 * The shipped migrations that the database has not (successfully) applied,
 * read from Prisma Migrate's own `_prisma_migrations` table.
 */
export async function pendingMigrations(
  query: (sql: string) => Promise<unknown>,
  dir = MIGRATIONS_DIR,
): Promise<string[]> {
  const [exists] = (await query(`SELECT to_regclass('_prisma_migrations')::text AS t`)) as Array<{ t: string | null }>;
  const applied = new Set<string>();
  if (exists?.t) {
    const rows = (await query(
      `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    )) as Array<{ migration_name: string }>;
    rows.forEach((r) => applied.add(r.migration_name));
  }
  return migrationNames(dir).filter((name) => !applied.has(name));
}

/**
 * Applies pending migrations with the real Prisma CLI (`migrate deploy`),
 * offline through the driver adapters configured in prisma-config.ts. The CLI
 * runs in the project root; a relative `pgliteDir` means the caller's
 * working directory, as it does for the server.
 */
export function migrateDeploy(target: { databaseUrl?: string; pgliteDir?: string }): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.PGLITE_DIR;
  if (target.databaseUrl) env.DATABASE_URL = target.databaseUrl;
  else if (target.pgliteDir) env.PGLITE_DIR = resolvePath(target.pgliteDir);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PRISMA_CLI, 'migrate', 'deploy', '--config', PRISMA_CONFIG], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`prisma migrate deploy failed (exit ${code}):\n${output}`)),
    );
  });
}

export class MigrationsPendingError extends Error {
  constructor(pending: readonly string[]) {
    super(
      `The database is missing ${pending.length} migration(s): ${pending.join(', ')}. ` +
        'Run `npm run db:migrate` against it (with the same DATABASE_URL), or start with MIGRATE_ON_START=true.',
    );
  }
}

/**
 * Opens the database, bringing it up to date first when `migrate` (else
 * refusing with MigrationsPendingError, saying what to run). PGlite is
 * single-process: it is released while the migration CLI runs.
 */
export async function openMigrated(
  options: OpenDatabaseOptions & { readonly migrate: boolean; readonly onMigrate?: (pending: readonly string[]) => void },
): Promise<Database> {
  let db = await openDatabase(options);
  const pending = await pendingMigrations((sql: string) => db.prisma.$queryRawUnsafe(sql));
  if (pending.length === 0) return db;
  if (!options.migrate) {
    await db.close();
    throw new MigrationsPendingError(pending);
  }
  options.onMigrate?.(pending);
  if (db.kind === 'pglite') await db.close();
  await migrateDeploy(options.databaseUrl ? { databaseUrl: options.databaseUrl } : { pgliteDir: options.pgliteDir });
  if (db.kind === 'pglite') db = await openDatabase(options);
  return db;
}
