/**
 * Prisma CLI configuration, fully offline. The CLI loads it through
 * prisma.config.ts at the project root (`npx prisma …`, `npm run db:migrate`)
 * or, when the server migrates at start, by path (`--config`, see migrate.ts):
 * from a build that is the compiled copy, so no TypeScript is loaded then.
 *
 * `MIGRATION_SET` picks the schema and migrations folder: `write` (default,
 * prisma/write) or `read` (prisma/read; see migrate.ts). The read set goes to
 * `READ_DATABASE_URL` when that is set, else to the same database as the write set.
 *
 * - `DATABASE_URL` set: PostgreSQL through `@prisma/adapter-pg` (with the
 *   catalog-types pool and a real shadow database, see migration-adapters.ts).
 * - otherwise: PGlite in `PGLITE_DIR` (default ./data/pglite, relative to the
 *   working directory). PGlite cannot be a shadow database, so only
 *   `migrate deploy` / `migrate status` work there; author migrations with
 *   `migrate dev` against PostgreSQL.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'prisma/config';
import { pgliteMigrationAdapter, pgMigrationAdapter } from './migration-adapters.js';
import { DEFAULT_PGLITE_DIR } from './pglite.js';
import { installPrismaCliProcessHooks } from './prisma-cli-process.js';

// With these set the CLI does not try to download the native schema/query
// engines (there is no network). It only checks that the paths exist; they
// are never executed, because `engine: 'js'` migrates through the driver
// adapter and the `prisma-client` generator with engineType "client" needs
// no engine. So any existing file will do: this one.
const dummyEngine = fileURLToPath(import.meta.url);
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= dummyEngine;
process.env.PRISMA_QUERY_ENGINE_LIBRARY ??= dummyEngine;
// No update check / telemetry request to checkpoint.prisma.io.
process.env.CHECKPOINT_DISABLE ??= '1';
process.env.PRISMA_HIDE_UPDATE_MESSAGE ??= '1';

// Exit as soon as the command is done, and close PGlite cleanly.
installPrismaCliProcessHooks();

// The schema's `url = env("DATABASE_URL")` is mandatory syntax, and the CLI
// refuses to start if the variable is unset, even though with a driver
// adapter the URL is never used. In PGlite mode, satisfy it with a
// placeholder (recognised here, in case this file is evaluated again).
const PGLITE_PLACEHOLDER_URL = 'postgresql://pglite.invalid/unused-placeholder';
const writeUrl = process.env.DATABASE_URL === PGLITE_PLACEHOLDER_URL ? undefined : process.env.DATABASE_URL;
if (!writeUrl) process.env.DATABASE_URL = PGLITE_PLACEHOLDER_URL;

const set = process.env.MIGRATION_SET ?? 'write';
if (set !== 'write' && set !== 'read') throw new Error(`MIGRATION_SET must be "write" or "read", got "${set}"`);
const databaseUrl = set === 'read' && writeUrl ? (process.env.READ_DATABASE_URL ?? writeUrl) : writeUrl;

// Absolute: the CLI resolves relative paths against the file it loaded, which
// is either this module (src/ or dist/) or prisma.config.ts at the root.
const projectFile = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: projectFile(`prisma/${set}/schema.prisma`),
  migrations: { path: projectFile(`prisma/${set}/migrations`) },
  async adapter() {
    return databaseUrl
      ? pgMigrationAdapter(databaseUrl)
      : pgliteMigrationAdapter(process.env.PGLITE_DIR ?? DEFAULT_PGLITE_DIR);
  },
});
