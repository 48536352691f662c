/**
 * `npm run seed`: fills the configured database — the embedded PGlite one
 * under PGLITE_DIR (default ./data/pglite), or DATABASE_URL — with demo data:
 * 20 users, 30 products and 80 orders in every status, cancellations with
 * reasons, a few price and profile changes.
 *
 * Everything goes through the CommandService, as commands: the event log and
 * every projection stay consistent, and the script returns only once the read
 * models have caught up. A database that already holds events is left alone.
 *
 * It starts the app on a private port (and migrates the database if needed).
 * PGlite allows one process per directory: stop a server using the same
 * PGLITE_DIR first (or start that server with SEED=1 instead).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { eventCount, seedDemoData, waitForProjections } from '../src/demo/seed.js';
import { createLogger } from '../src/logger.js';

const configured = loadConfig(process.env);
const config = loadConfig(process.env, {
  PORT: 0,
  HOST: '127.0.0.1',
  IDE_ENABLED: false,
  // The seed sends commands in-process; its API, on a random local port, is
  // never called. Without token configuration it gets a one-off secret.
  AUTH_JWT_SECRET: configured.AUTH_JWT_SECRET ?? (configured.AUTH_JWKS ? undefined : randomBytes(32).toString('base64url')),
});
// The app's own info logs are noise here; LOG_LEVEL still turns them on.
const logger = createLogger(process.env.LOG_LEVEL ? config.LOG_LEVEL : 'warn');
const where = config.DATABASE_URL ? 'the PostgreSQL database at DATABASE_URL' : `the embedded database in ${config.PGLITE_DIR}`;

// PGlite has no lock of its own: a second process on the same directory would
// write behind the running server's back (and the server would overwrite it).
// While open, PGlite keeps a postmaster.pid in the directory.
const pidFile = join(resolve(config.PGLITE_DIR), 'postmaster.pid');
if (!config.DATABASE_URL && existsSync(pidFile) && !process.argv.includes('--force')) {
  console.error(
    `${where} is in use: a server seems to be running on it (${pidFile} exists).\n` +
      'Stop that server (Ctrl-C) and run `npm run seed` again, or restart it with `SEED=1 npm start`.\n' +
      'If no server is running (one crashed), run `npm run seed -- --force`.',
  );
  process.exit(1);
}

const started = Date.now();
const app = await startApp(config, logger);
let exitCode = 0;
try {
  const existing = await eventCount(app.db.prisma);
  if (existing > 0) {
    console.log(`${where} already holds ${existing} events: not seeding. Demo data goes into an empty database.`);
  } else {
    console.log(`Seeding ${where} with demo data…`);
    const summary = await seedDemoData(app.commands, (message) => console.log(`  ${message}`));
    await waitForProjections(app.progress, app.projectors.map((p) => p.name), summary.position);
    const statuses = Object.entries(summary.ordersByStatus)
      .map(([status, n]) => `${n} ${status.toLowerCase()}`)
      .join(', ');
    console.log(
      `Done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${summary.users} users, ${summary.products} products, ` +
        `${summary.orders} orders (${statuses}); ${summary.commands} commands, read models up to date.`,
    );
    console.log('Start the server (npm start) and open http://localhost:4000/graphql to explore it.');
  }
} catch (err) {
  exitCode = 1;
  console.error('Seeding failed:', err instanceof Error ? err.message : err);
} finally {
  await app.stop();
}
process.exit(exitCode);
