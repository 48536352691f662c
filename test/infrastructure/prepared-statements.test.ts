/**
 * The SQL port on `pg` (src/infrastructure/db/sql-client.ts) sends every
 * statement with parameters as a named prepared statement: each connection
 * parses and plans it once. Shown on PostgreSQL's own record of a session's
 * prepared statements (`pg_prepared_statements`), on a pool of one
 * connection, so every statement below runs in the same session.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import { pgSqlDatabase } from '../../src/infrastructure/db/sql-client.js';
import type { SqlDatabase } from '../../src/sql/client.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { testDbKind } from '../support/server.js';

describe.runIf(testDbKind() === 'postgres')('statements through the pg port', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let sql: SqlDatabase;
  const prepared = async () =>
    (await pool.query<{ name: string; statement: string; calls: string }>(
      `SELECT name, statement FROM pg_prepared_statements WHERE statement LIKE '%prepared_probe%' ORDER BY statement`,
    )).rows;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    pool = new pg.Pool({ connectionString: database.databaseUrl, max: 1 });
    sql = pgSqlDatabase(pool);
    await pool.query('CREATE TABLE prepared_probe (id int PRIMARY KEY, label text NOT NULL)');
    await pool.query(`INSERT INTO prepared_probe VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.dispose();
  });

  it('prepares a statement with parameters once per connection and answers each run with its own values', async () => {
    const byId = (id: number) => sql.$queryRaw<Array<{ label: string }>>`SELECT label FROM prepared_probe WHERE id = ${id}`;
    expect(await byId(1)).toEqual([{ label: 'one' }]);
    expect(await byId(3)).toEqual([{ label: 'three' }]);
    const statements = await prepared();
    expect(statements).toEqual([{ name: expect.stringMatching(/^s[\w-]{22}$/), statement: 'SELECT label FROM prepared_probe WHERE id = $1' }]);

    // A composed statement of another shape is another prepared statement; in a transaction too.
    await sql.$transaction(async (tx) => {
      const ids = [1, 2];
      expect(await tx.$queryRaw`SELECT id FROM prepared_probe WHERE id = ANY(${ids}::int[]) ${Prisma.sql`ORDER BY id`}`).toEqual([{ id: 1 }, { id: 2 }]);
    });
    expect((await prepared()).map((s) => s.statement)).toEqual([
      'SELECT id FROM prepared_probe WHERE id = ANY($1::int[]) ORDER BY id',
      'SELECT label FROM prepared_probe WHERE id = $1',
    ]);
  });

  it('runs a statement without parameters unnamed, so one text may still hold several commands', async () => {
    expect(await sql.$executeRaw`UPDATE prepared_probe SET label = 'uno' WHERE id = 1; UPDATE prepared_probe SET label = 'dos' WHERE id = 2`).toBeGreaterThanOrEqual(0);
    expect(await sql.$queryRaw`SELECT label FROM prepared_probe WHERE id IN (1, 2) ORDER BY id`).toEqual([{ label: 'uno' }, { label: 'dos' }]);
    expect((await prepared()).some((s) => s.statement.includes('uno') || s.statement.includes('IN (1, 2)'))).toBe(false);
  });
});
