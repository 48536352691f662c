import { DatabaseUnavailableError } from '../../src/sql/client.js';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/infrastructure/db/database.js';
import { migrationNames, pendingMigrations } from '../../src/infrastructure/db/migrate.js';
import { withPgClient } from '../../src/infrastructure/db/pg-admin.js';
import { createTestDatabase, PG_SERVER_URL, type TestDatabase } from '../support/databases.js';

const kind = process.env.TEST_DB === 'pglite' ? 'pglite' : 'postgres';

const open = (target: TestDatabase, onQuery?: (sql: string) => void) =>
  openDatabase({ databaseUrl: target.databaseUrl, pgliteDir: target.pgliteDir, onQuery });

const queryWith = (db: Database) => (sql: string) => db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(sql);

async function pgDatabaseExists(name: string): Promise<boolean> {
  return withPgClient(PG_SERVER_URL, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
}

function newUser(name: string) {
  const id = randomUUID();
  const now = new Date();
  return { id, name, email: `${name}@example.com`, emailKey: `${name}-${id}@example.com`, version: 1, createdAt: now, updatedAt: now };
}

describe(`test databases (${kind})`, () => {
  let first: TestDatabase;
  let second: TestDatabase;
  let a: Database;
  let b: Database;

  beforeAll(async () => {
    [first, second] = await Promise.all([createTestDatabase(kind), createTestDatabase(kind)]);
    [a, b] = await Promise.all([open(first), open(second)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([first?.dispose(), second?.dispose()]);
  });

  it('come up fully migrated', async () => {
    expect(migrationNames().length).toBeGreaterThan(0);
    expect(await pendingMigrations(queryWith(a))).toEqual([]);
    expect(await pendingMigrations(queryWith(b))).toEqual([]);
  });

  it('are isolated from each other', async () => {
    const user = newUser('isolated');
    await a.prisma.user.create({ data: user });
    expect(await a.prisma.user.findUnique({ where: { id: user.id } })).not.toBeNull();
    expect(await b.prisma.user.findUnique({ where: { id: user.id } })).toBeNull();
  });

  it('are removed by dispose', async () => {
    const third = await createTestDatabase(kind);
    const db = await open(third);
    expect(await pendingMigrations(queryWith(db))).toEqual([]);
    await db.close();
    await third.dispose();
    if (kind === 'postgres') {
      expect(await pgDatabaseExists(new URL(third.databaseUrl!).pathname.slice(1))).toBe(false);
    } else {
      await expect(stat(third.pgliteDir!)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });
});

describe(`pendingMigrations (${kind})`, () => {
  it('lists every migration when Prisma Migrate never ran', async () => {
    const noTable = async (sql: string) => (sql.includes('to_regclass') ? [{ t: null }] : []);
    expect(await pendingMigrations(noTable)).toEqual(migrationNames());
  });

  it('lists migrations that are not finished or were rolled back', async () => {
    const [oldest] = migrationNames();
    const fake = async (sql: string) =>
      sql.includes('to_regclass') ? [{ t: '_prisma_migrations' }] : [{ migration_name: oldest }];
    expect(await pendingMigrations(fake)).toEqual(migrationNames().slice(1));
  });
});

describe(`openDatabase (${kind})`, () => {
  let target: TestDatabase;
  let db: Database;
  const statements: string[] = [];

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    db = await open(target, (sql) => statements.push(sql));
  });
  afterAll(async () => {
    await db?.close();
    await target?.dispose();
  });

  const counting = async (fn: () => Promise<unknown>) => {
    statements.length = 0;
    await fn();
    return statements.map((s) => s.trim().split(/\s+/)[0]!.toUpperCase());
  };

  it('reports each statement once to onQuery', async () => {
    expect(await counting(() => db.prisma.user.findMany())).toEqual(['SELECT']);
    expect(await counting(() => db.prisma.user.create({ data: newUser('counted') }))).toEqual(['INSERT']);
  });

  it('reports transaction control statements too, identically on both runtimes', async () => {
    const tx = () => db.prisma.$transaction(async (t) => t.$executeRawUnsafe('SELECT 1'));
    expect(await counting(tx)).toEqual(['BEGIN', 'SELECT', 'COMMIT']);

    const failing = () =>
      db.prisma
        .$transaction(async (t) => {
          await t.$executeRawUnsafe('SELECT 1');
          throw new Error('abort');
        })
        .catch(() => undefined);
    expect(await counting(failing)).toEqual(['BEGIN', 'SELECT', 'ROLLBACK']);

    const batch = () => db.prisma.$transaction([db.prisma.user.count(), db.prisma.product.count()]);
    expect(await counting(batch)).toEqual(['BEGIN', 'SELECT', 'SELECT', 'COMMIT']);
  });

  it('returns catalog-typed columns of raw queries as strings', async () => {
    const [row] = await db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      `SELECT c.relname, c.relkind, c.oid::regclass AS regclass FROM pg_class c WHERE c.relname = 'event_log'`,
    );
    expect(row).toEqual({ relname: 'event_log', relkind: 'r', regclass: 'event_log' });
  });

  it('returns bigint as BigInt and numeric as Decimal; xid8 must be cast', async () => {
    const [row] = await db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
      `SELECT 9007199254740993::bigint AS big, 12.50::numeric(14, 2) AS num,
              pg_current_xact_id()::text AS xid_text, pg_current_xact_id()::text::bigint AS xid_big`,
    );
    expect(row!.big).toBe(9007199254740993n);
    expect(String(row!.num)).toBe('12.5');
    expect(typeof row!.xid_text).toBe('string');
    expect(typeof row!.xid_big).toBe('bigint');
    await expect(db.prisma.$queryRawUnsafe('SELECT pg_current_xact_id() AS xid')).rejects.toThrow(/xid8/);
  });

  it('close() is idempotent', async () => {
    const own = await createTestDatabase(kind); // a PGlite directory may only be open once
    const other = await open(own);
    await other.close();
    await expect(other.close()).resolves.toBeUndefined();
    await own.dispose();
  });
});

describe(`the plain-SQL port, db.sql (${kind})`, () => {
  let target: TestDatabase;
  let db: Database;
  const statements: string[] = [];

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    db = await open(target, (sql) => statements.push(sql));
  });
  afterAll(async () => {
    await db?.close();
    await target?.dispose();
  });

  it('reports every statement to onQuery, transaction control included', async () => {
    statements.length = 0;
    await db.sql.$transaction(async (tx) => tx.$queryRaw`SELECT ${1}::int AS one`);
    await db.sql.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT 1`;
      throw new Error('abort');
    }).catch(() => undefined);
    expect(statements.map((s) => s.trim().split(/\s+/)[0]!.toUpperCase())).toEqual(['BEGIN', 'SELECT', 'COMMIT', 'BEGIN', 'SELECT', 'ROLLBACK']);
  });

  it('commits a transaction when its function resolves and rolls it back when it throws', async () => {
    await db.sql.$executeRaw`CREATE TABLE port_probe (n int)`;
    await db.sql.$transaction(async (tx) => tx.$executeRaw`INSERT INTO port_probe VALUES (1)`);
    await expect(
      db.sql.$transaction(async (tx) => {
        await tx.$executeRaw`INSERT INTO port_probe VALUES (2)`;
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await db.sql.$queryRaw`SELECT n FROM port_probe`).toEqual([{ n: 1 }]);
  });

  it.skipIf(kind !== 'postgres')(
    'a connection cut between two statements of a transaction fails that transaction, raises no uncaught error and is not reused',
    async () => {
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown) => uncaught.push(error);
      process.on('uncaughtException', onUncaught);
      try {
        const cut = db.sql.$transaction(async (tx) => {
          const [backend] = await tx.$queryRaw<Array<{ pid: number }>>`SELECT pg_backend_pid() AS pid`;
          await withPgClient(PG_SERVER_URL, (c) => c.query('SELECT pg_terminate_backend($1)', [backend!.pid]));
          // The server's goodbye arrives while the client sits idle in the transaction.
          await new Promise((resolve) => setTimeout(resolve, 200));
          return tx.$queryRaw`SELECT 1`;
        });
        // The port's contract: a fault of the moment, its outcome unknown, the driver's error as the cause.
        const error = await cut.then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(DatabaseUnavailableError);
        expect((error as DatabaseUnavailableError).fault).toBe('ambiguous');
        expect(String((error as Error).cause)).toMatch(/terminat|Connection/i);
        expect(uncaught).toEqual([]);
        // The pool goes on with fresh connections.
        for (let i = 0; i < 12; i++) {
          expect(await db.sql.$transaction(async (tx) => tx.$queryRaw`SELECT 2 AS two`)).toEqual([{ two: 2 }]);
        }
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    },
  );
});
