/**
 * `npm run db:migrate` (in a build: `node dist/migrate.js`): applies the
 * pending migrations of the configured databases, as the server does at
 * start: the write set to DATABASE_URL (or the embedded database), the read
 * set to READ_DATABASE_URL when set, else to the same database.
 */
import { loadConfig } from './config.js';
import { openDatabases } from './infrastructure/db/databases.js';

const config = loadConfig();
try {
  const databases = await openDatabases({
    ...(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : { pgliteDir: config.PGLITE_DIR }),
    readDatabaseUrl: config.READ_DATABASE_URL,
    poolSize: 1,
    migrate: true,
    onMigrate: (database, pending) => console.log(`${database}: applying ${pending.join(', ')}`),
  });
  await databases.close();
  console.log('All migrations are applied.');
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
