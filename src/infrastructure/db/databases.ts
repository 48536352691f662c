import type { Database, OpenDatabaseOptions } from './database.js';
import { openMigrated } from './migrate.js';

/**
 * The databases of a running service: the write database (the write model,
 * the event log, idempotency keys) and the read database (read models,
 * checkpoints, dead letters, change histories, projection leases). Without a
 * read database of its own, `read` is `write`: one database holds both.
 */
export interface Databases {
  readonly write: Database;
  readonly read: Database;
  /** Whether the read models live in a database of their own. */
  readonly separate: boolean;
  /** Closes both (once each). */
  close(): Promise<void>;
}

export interface OpenDatabasesOptions extends Omit<OpenDatabaseOptions, 'databaseUrl'> {
  /** The write database (PostgreSQL); unset: the embedded PGlite one in `pgliteDir`. */
  readonly databaseUrl?: string;
  /** A read database of its own (PostgreSQL, and only with `databaseUrl`); unset or equal: the write database. */
  readonly readDatabaseUrl?: string;
  /** Apply pending migrations (else refuse with MigrationsPendingError). */
  readonly migrate: boolean;
  /** Called before migrating a database: which one, and what is pending. */
  readonly onMigrate?: (database: 'write' | 'read' | 'database', pending: readonly string[]) => void;
}

/** Whether the options name a read database apart from the write database. */
export const separateReadDatabase = (o: { databaseUrl?: string; readDatabaseUrl?: string }): boolean =>
  Boolean(o.databaseUrl && o.readDatabaseUrl && o.readDatabaseUrl !== o.databaseUrl);

/** Opens the write database and, when configured apart, the read database, each brought up to date with its own migrations. */
export async function openDatabases(options: OpenDatabasesOptions): Promise<Databases> {
  const { readDatabaseUrl, onMigrate, ...common } = options;
  if (readDatabaseUrl && !options.databaseUrl) throw new Error('READ_DATABASE_URL needs DATABASE_URL: a separate read database is a PostgreSQL deployment');
  if (!separateReadDatabase(options)) {
    const db = await openMigrated({ ...common, onMigrate: (pending) => onMigrate?.('database', pending) });
    return { write: db, read: db, separate: false, close: () => db.close() };
  }
  const write = await openMigrated({ ...common, sets: ['write'], what: 'The write database', onMigrate: (p) => onMigrate?.('write', p) });
  try {
    const read = await openMigrated({
      ...common, databaseUrl: readDatabaseUrl, sets: ['read'], what: 'The read database', onMigrate: (p) => onMigrate?.('read', p),
    });
    return { write, read, separate: true, close: async () => void (await Promise.all([write.close(), read.close()])) };
  } catch (error) {
    await write.close();
    throw error;
  }
}
