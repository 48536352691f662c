import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, type Database, type OpenDatabaseOptions } from './database.js';

/**
 * Two migration sets, each with its own Prisma schema and migrations folder
 * (prisma/<set>/): `write` (the write model, the event log, idempotency keys)
 * and `read` (read models, checkpoints, dead letters, change histories). A
 * separate read database gets the read set only and the write database the
 * write set only; one database (the default) gets both, in that order, their
 * histories side by side in its one `_prisma_migrations` table (`migrate
 * deploy` ignores rows it does not ship; names are unique across the sets).
 */
export type MigrationSet = 'write' | 'read';
export const MIGRATION_SETS: readonly MigrationSet[] = ['write', 'read'];

/** The project root (the same three levels up from src/ and from a build's dist/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const migrationsDir = (set: MigrationSet) => fileURLToPath(new URL(`../../../prisma/${set}/migrations/`, import.meta.url));
const PRISMA_CLI = createRequire(import.meta.url).resolve('prisma/build/index.js');
/**
 * The CLI configuration beside this module, with this module's own extension:
 * the TypeScript source when run from src/, the compiled file in a build.
 */
const PRISMA_CONFIG = fileURLToPath(new URL(`./prisma-config${extname(import.meta.url)}`, import.meta.url));

/**
 * The history of one database before the sets were split (a single
 * `prisma/migrations` folder). A database that applied all of it already has
 * every table of both baselines: they are recorded as applied instead of run.
 */
export const LEGACY_MIGRATIONS: readonly string[] = [
  '20261123092419_init',
  '20261123100856_view_change_history',
  '20261123131321_idempotency_and_dead_letters',
  '20261123132015_projection_stalled_status',
  '20261123134156_order_view_cancelled_by',
  '20261201213716_sales_report',
];

/** The migration folders of `sets` shipped with this code, in order. */
export function migrationNames(sets: readonly MigrationSet[] = MIGRATION_SETS): string[] {
  return sets
    .flatMap((set) => readdirSync(migrationsDir(set), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name))
    .sort();
}

/** The first migration of a set: its baseline. */
const baselineOf = (set: MigrationSet) => migrationNames([set])[0]!;

type Query = (sql: string) => Promise<unknown>;

/** The migrations recorded as successfully applied, from Prisma Migrate's own `_prisma_migrations` table. */
async function appliedMigrations(query: Query): Promise<Set<string>> {
  const [exists] = (await query(`SELECT to_regclass('_prisma_migrations')::text AS t`)) as Array<{ t: string | null }>;
  const applied = new Set<string>();
  if (exists?.t) {
    const rows = (await query(
      `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    )) as Array<{ migration_name: string }>;
    rows.forEach((r) => applied.add(r.migration_name));
  }
  return applied;
}

/** The shipped migrations of `sets` that the database has not (successfully) applied. */
export async function pendingMigrations(query: Query, sets: readonly MigrationSet[] = MIGRATION_SETS): Promise<string[]> {
  const applied = await appliedMigrations(query);
  return migrationNames(sets).filter((name) => !applied.has(name));
}

interface Target {
  readonly databaseUrl?: string;
  readonly pgliteDir?: string;
}

/**
 * Runs the real Prisma CLI on one set, offline through the driver adapters
 * configured in prisma-config.ts (`MIGRATION_SET` picks the set there). The
 * CLI runs in the project root; a relative `pgliteDir` means the caller's
 * working directory, as it does for the server.
 */
function prismaCli(target: Target, set: MigrationSet, args: readonly string[]): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, MIGRATION_SET: set };
  delete env.DATABASE_URL;
  delete env.READ_DATABASE_URL;
  delete env.PGLITE_DIR;
  if (target.databaseUrl) env.DATABASE_URL = target.databaseUrl;
  else if (target.pgliteDir) env.PGLITE_DIR = resolvePath(target.pgliteDir);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PRISMA_CLI, ...args, '--config', PRISMA_CONFIG], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`prisma ${args.slice(0, 2).join(' ')} (${set}) failed (exit ${code}):\n${output}`)),
    );
  });
}

/**
 * Applies the pending migrations of `sets` (default: both, as on one
 * database) with `prisma migrate deploy`, one set after the other. Meant for
 * databases made by these migrations (new ones, test templates); openMigrated
 * also brings a database of the single history up to date.
 */
export async function migrateDeploy(target: Target, sets: readonly MigrationSet[] = MIGRATION_SETS): Promise<void> {
  for (const set of sets) await prismaCli(target, set, ['migrate', 'deploy']);
}

export class MigrationsPendingError extends Error {
  constructor(pending: readonly string[], what = 'The database') {
    super(
      `${what} is missing ${pending.length} migration(s): ${pending.join(', ')}. ` +
        'Run `npm run db:migrate` against it (with the same DATABASE_URL and READ_DATABASE_URL), or start with MIGRATE_ON_START=true.',
    );
  }
}

/**
 * The baselines to record as applied rather than run: those of `sets` still
 * pending on a database that has the whole single history. A database with
 * only part of it must first be brought up to date by the release before the
 * split (its tables differ from the baselines').
 */
async function baselinesAlreadyThere(query: Query, sets: readonly MigrationSet[]): Promise<MigrationSet[]> {
  const applied = await appliedMigrations(query);
  const legacy = LEGACY_MIGRATIONS.filter((name) => applied.has(name)).length;
  if (legacy === 0) return [];
  if (legacy < LEGACY_MIGRATIONS.length) {
    throw new Error(
      `The database has applied ${legacy} of the ${LEGACY_MIGRATIONS.length} migrations of the single history; ` +
        'apply the rest with the release before the read/write split first.',
    );
  }
  return sets.filter((set) => !applied.has(baselineOf(set)));
}

/**
 * Opens a database, bringing the migrations of `sets` up to date first when
 * `migrate` (else refusing with MigrationsPendingError, saying what to run).
 * PGlite is single-process: it is released while the migration CLI runs.
 */
export async function openMigrated(
  options: OpenDatabaseOptions & {
    readonly migrate: boolean;
    readonly onMigrate?: (pending: readonly string[]) => void;
    /** The sets this database holds (default both: the one database). */
    readonly sets?: readonly MigrationSet[];
    /** How the database is named in messages (default "The database"). */
    readonly what?: string;
  },
): Promise<Database> {
  const sets = options.sets ?? MIGRATION_SETS;
  let db = await openDatabase(options);
  const query = (sql: string) => db.prisma.$queryRawUnsafe(sql);
  try {
    const pending = await pendingMigrations(query, sets);
    if (pending.length === 0) return db;
    if (!options.migrate) throw new MigrationsPendingError(pending, options.what);
    options.onMigrate?.(pending);
    const resolve = await baselinesAlreadyThere(query, sets);
    if (db.kind === 'pglite') await db.close();
    const target = options.databaseUrl ? { databaseUrl: options.databaseUrl } : { pgliteDir: options.pgliteDir };
    for (const set of sets) {
      if (resolve.includes(set)) await prismaCli(target, set, ['migrate', 'resolve', '--applied', baselineOf(set)]);
      await prismaCli(target, set, ['migrate', 'deploy']);
    }
    if (db.kind === 'pglite') db = await openDatabase(options);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
