/**
 * A database migrated by the single history (one `prisma/migrations` folder,
 * before the write and read sets were split) starts with the new code: its
 * tables are those of both baselines, so the baselines are recorded as
 * applied, not run, and nothing in it changes. Used as the write database
 * beside a new, empty read database, the read set is applied to that one.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabases } from '../../src/infrastructure/db/databases.js';
import { LEGACY_MIGRATIONS, migrationNames, pendingMigrations } from '../../src/infrastructure/db/migrate.js';
import { withPgClient } from '../../src/infrastructure/db/pg-admin.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { testDbKind } from '../support/server.js';

/** A database as the single history left it: every table of both sets, and only the old history recorded. */
async function legacyDatabase(): Promise<{ database: TestDatabase; userId: string }> {
  const database = await createTestDatabase('postgres');
  const userId = randomUUID();
  await withPgClient(database.databaseUrl!, async (c) => {
    await c.query(`DELETE FROM _prisma_migrations`);
    // What came after the split (the read set's change_trace_context and product_view_position) was never in the single history.
    await c.query(`ALTER TABLE order_view_change DROP COLUMN trace_context`);
    await c.query(`ALTER TABLE user_view_change DROP COLUMN trace_context`);
    await c.query(`DROP INDEX product_view_last_tx_last_pos_idx`);
    for (const name of LEGACY_MIGRATIONS) {
      await c.query(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, 'legacy', $2, now(), now(), 1)`,
        [randomUUID(), name],
      );
    }
    await c.query(
      `INSERT INTO users (id, name, email, email_key, version, created_at, updated_at) VALUES ($1, 'Kept', 'kept@example.com', $2, 1, now(), now())`,
      [userId, `kept-${userId}@example.com`],
    );
  });
  return { database, userId };
}

const query = (url: string) => (sql: string) => withPgClient(url, async (c) => (await c.query(sql)).rows);

describe.skipIf(testDbKind() !== 'postgres')('a database of the single migration history', () => {
  const disposables: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(disposables.splice(0).map((d) => d.dispose()));
  });

  it('gets both baselines recorded as applied, its data untouched', async () => {
    const { database, userId } = await legacyDatabase();
    disposables.push(database);
    expect(await pendingMigrations(query(database.databaseUrl!))).toEqual(migrationNames());

    const databases = await openDatabases({ databaseUrl: database.databaseUrl, poolSize: 1, migrate: true });
    await databases.close();

    expect(await pendingMigrations(query(database.databaseUrl!))).toEqual([]);
    expect(await query(database.databaseUrl!)(`SELECT name FROM users WHERE id = '${userId}'`)).toEqual([{ name: 'Kept' }]);
  });

  it('as the write database beside a new read database: the write baseline is recorded, the read set applied to the read database', async () => {
    const { database } = await legacyDatabase();
    const empty = await createTestDatabase('postgres');
    disposables.push(database, empty);
    await query(empty.databaseUrl!)(`DROP SCHEMA public CASCADE; CREATE SCHEMA public`);

    const databases = await openDatabases({ databaseUrl: database.databaseUrl, readDatabaseUrl: empty.databaseUrl, poolSize: 1, migrate: true });
    await databases.close();

    expect(await pendingMigrations(query(database.databaseUrl!), ['write'])).toEqual([]);
    expect(await pendingMigrations(query(empty.databaseUrl!), ['read'])).toEqual([]);
    expect(await query(empty.databaseUrl!)(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'order_view'`)).toEqual([{ n: 1 }]);
    expect(await query(empty.databaseUrl!)(`SELECT to_regclass('event_log') AS t`)).toEqual([{ t: null }]);
  });

  it('refuses a database with only part of the single history, saying what to do', async () => {
    const { database } = await legacyDatabase();
    disposables.push(database);
    await query(database.databaseUrl!)(`DELETE FROM _prisma_migrations WHERE migration_name = '${LEGACY_MIGRATIONS.at(-1)}'`);
    await expect(openDatabases({ databaseUrl: database.databaseUrl, poolSize: 1, migrate: true })).rejects.toThrow(/release before the read\/write split/);
  });
});
