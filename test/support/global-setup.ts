import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_SERVER_URL } from './databases.js';

/**
 * Test databases are copies of migrated templates made on first use
 * (test/support/databases.ts). When the whole run ends, drop the templates
 * too, so a run leaves nothing behind on the server or on disk.
 */
export default function setup() {
  // Inherited by the test workers: names this run's templates.
  const run = `r${process.pid}${randomBytes(3).toString('hex')}`;
  process.env.ORDERS_TEST_RUN = run;
  return async function teardown() {
    const client = new pg.Client({ connectionString: PG_SERVER_URL });
    try {
      await client.connect();
      const { rows } = await client.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE 'orders\\_test\\_template\\_%' AND datname LIKE $1`,
        [`%\\_${run}`],
      );
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    } catch {
      // The server may be absent when only database-free suites ran.
    } finally {
      await client.end().catch(() => undefined);
    }
    for (const entry of await readdir(tmpdir())) {
      if (entry.startsWith('orders-test-pglite-') && entry.includes(`-${run}`)) await rm(join(tmpdir(), entry), { recursive: true, force: true });
    }
  };
}
