import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { MIGRATION_SETS, migrateDeploy, migrationNames, type MigrationSet } from '../../src/infrastructure/db/migrate.js';

/** The local PostgreSQL server every development and CI machine has. */
export const PG_SERVER_URL = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

const migrationsDir = (set: MigrationSet) => fileURLToPath(new URL(`../../prisma/${set}/migrations/`, import.meta.url));

export interface TestDatabase {
  readonly kind: 'postgres' | 'pglite';
  readonly databaseUrl?: string;
  readonly pgliteDir?: string;
  dispose(): Promise<void>;
}

/**
 * Templates belong to one test run (set by global-setup.ts), so concurrent
 * runs on one machine never share, or delete, each other's.
 */
const RUN = (process.env.ORDERS_TEST_RUN ?? 'adhoc').replace(/[^a-z0-9]/gi, '').slice(0, 16);

/** A hash of the migrations: a template is reused only while they are unchanged. */
async function migrationsHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const set of MIGRATION_SETS) {
    for (const name of migrationNames([set])) hash.update(name).update(await readFile(join(migrationsDir(set), name, 'migration.sql')));
  }
  return hash.digest('hex').slice(0, 12);
}

function urlFor(database: string): string {
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_SERVER_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Which migrations a database gets: both sets (one database), or one set (a write or a read database of its own). */
export type DatabaseRole = 'both' | MigrationSet;
const setsOf = (role: DatabaseRole): readonly MigrationSet[] => (role === 'both' ? MIGRATION_SETS : [role]);

/**
 * A migrated template database, made once per migration set and role. Creation is
 * guarded by an advisory lock, since vitest runs test files in parallel
 * processes.
 */
async function pgTemplate(role: DatabaseRole): Promise<string> {
  const name = `orders_test_template_${await migrationsHash()}${role === 'both' ? '' : `_${role}`}_${RUN}`;
  await withServer(async (client) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount) return;
      const building = `${name}_building`;
      await client.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${building}"`);
      await migrateDeploy({ databaseUrl: urlFor(building) }, setsOf(role));
      await client.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
    }
  });
  return name;
}

/** A migrated PGlite directory, made once per migration set and renamed into place atomically. */
async function pgliteTemplate(): Promise<string> {
  const dir = join(tmpdir(), `orders-test-pglite-${await migrationsHash()}-${RUN}`);
  if (await stat(dir).catch(() => null)) return dir;
  const building = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await migrateDeploy({ pgliteDir: building });
  await rename(building, dir).catch(async () => rm(building, { recursive: true, force: true })); // another worker won
  return dir;
}

async function retryOnce(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch {
    await action();
  }
}

/**
 * A fresh, fully migrated database of its own for the caller: a copy of a
 * template (PostgreSQL `CREATE DATABASE … TEMPLATE`, or a copied PGlite
 * directory). `dispose` drops it.
 */
export async function createTestDatabase(kind: 'postgres' | 'pglite', role: DatabaseRole = 'both'): Promise<TestDatabase> {
  const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
  if (kind === 'postgres') {
    const name = `orders_test_${role === 'both' ? '' : `${role}_`}${suffix}`;
    // Another run's teardown may drop the template between look-up and use: retry once.
    await retryOnce(async () => {
      const template = await pgTemplate(role);
      await withServer((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
    });
    return {
      kind,
      databaseUrl: urlFor(name),
      dispose: () => withServer((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
    };
  }
  if (role !== 'both') throw new Error('A write or read database of its own is a PostgreSQL database');
  const root = join(tmpdir(), `orders-test-${suffix}`);
  await mkdir(root, { recursive: true });
  const dir = join(root, 'db');
  await retryOnce(async () => {
    await rm(dir, { recursive: true, force: true });
    await cp(await pgliteTemplate(), dir, { recursive: true });
  });
  return { kind, pgliteDir: dir, dispose: () => rm(root, { recursive: true, force: true }) };
}

/** The two databases of the two-database mode: a write database and a read database, each with its own migrations only. */
export interface TestDatabasePair {
  readonly write: TestDatabase;
  readonly read: TestDatabase;
  dispose(): Promise<void>;
}

export async function createTestDatabasePair(): Promise<TestDatabasePair> {
  const [write, read] = await Promise.all([createTestDatabase('postgres', 'write'), createTestDatabase('postgres', 'read')]);
  return { write, read, dispose: async () => void (await Promise.all([write.dispose(), read.dispose()])) };
}
