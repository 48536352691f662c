import { createHash } from 'node:crypto';
import type pg from 'pg';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { DatabaseUnavailableError, type SqlClient, type SqlDatabase } from '../../sql/client.js';
import { classifyFault } from './faults.js';

type Statement = TemplateStringsArray | Prisma.Sql;
type Run = (text: string, values: readonly unknown[]) => Promise<pg.QueryResult>;

function compile(query: Statement, values: readonly unknown[]): Prisma.Sql {
  return query instanceof Prisma.Sql ? query : Prisma.sql(query, ...values);
}

/** The port's fault contract: a fault of the moment becomes DatabaseUnavailableError; anything else passes. */
function translated(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  const fault = classifyFault(error);
  return fault ? new DatabaseUnavailableError(fault, { cause: error }) : error;
}

async function translating<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw translated(error);
  }
}

function client(run: Run): SqlClient {
  return {
    async $queryRaw<T>(query: Statement, ...values: unknown[]): Promise<T> {
      const sql = compile(query, values);
      return (await run(sql.text, sql.values)).rows as T;
    },
    async $executeRaw(query: Statement, ...values: unknown[]): Promise<number> {
      const sql = compile(query, values);
      return (await run(sql.text, sql.values)).rowCount ?? 0;
    },
  };
}

/** Distinct statement texts prepared per process at most; others run unnamed (parsed and planned each time). */
const MAX_PREPARED = 500;

/**
 * Names for statement texts, so that `pg` sends them as named prepared
 * statements: each connection parses and plans a text once and then only
 * binds and executes it, where an unnamed statement is parsed and planned on
 * every run (PostgreSQL's share of a small query). The name is a digest of
 * the text, so one name always means one text on every connection.
 * Statements without parameters run unnamed (the simple protocol, which also
 * takes several commands in one text). Bounded: the composed statements of the
 * read models are a few hundred texts at most.
 */
class PreparedNames {
  private readonly names = new Map<string, string>();

  nameOf(text: string): string | undefined {
    let name = this.names.get(text);
    if (name === undefined && this.names.size < MAX_PREPARED) {
      name = `s${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
      this.names.set(text, name);
    }
    return name;
  }
}

/**
 * The SqlDatabase port on the PostgreSQL pool itself: the same statements
 * Prisma's `$queryRaw` would send (a `Prisma.sql` fragment's `$n` text and
 * values), handed to `pg` directly, without Prisma's per-request pipeline
 * (see the README's "How Prisma is used").
 *
 * Results come back as `pg` parses them; the statements cast int8 and
 * numeric to text, so they match Prisma's. Every statement, BEGIN/COMMIT/
 * ROLLBACK included, is reported to `onQuery`, like Prisma's.
 */
export function pgSqlDatabase(pool: pg.Pool, onQuery?: (sql: string) => void): SqlDatabase {
  const prepared = new PreparedNames();
  const on =
    (target: pg.Pool | pg.PoolClient): Run =>
    (text, values) => {
      onQuery?.(text);
      // Only statements with parameters: they already go through the extended protocol (one command each).
      const name = values.length > 0 ? prepared.nameOf(text) : undefined;
      return translating(() => target.query({ name, text, values: values as unknown[] }));
    };
  return {
    ...client(on(pool)),
    async $transaction<R>(fn: (tx: SqlClient) => Promise<R>): Promise<R> {
      const connection = await translating(() => pool.connect());
      const run = on(connection);
      let broken: Error | undefined;
      // A checked-out client has no listener of the pool's: a connection cut
      // between two statements would otherwise be an uncaught 'error' event.
      // The next statement fails with it anyway; the client is then discarded.
      const onError = (error: Error) => (broken = error);
      connection.on('error', onError);
      try {
        await run('BEGIN', []);
        const result = await fn(client(run));
        await run('COMMIT', []);
        return result;
      } catch (error) {
        await run('ROLLBACK', []).catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      } finally {
        connection.off('error', onError);
        // A connection that broke or could not even roll back is discarded, not reused.
        connection.release(broken);
      }
    },
  };
}

/** The SqlDatabase port through Prisma's raw queries: the embedded database's (PGlite has no `pg` pool). */
export function prismaSqlDatabase(prisma: PrismaClient): SqlDatabase {
  const on = (target: Pick<PrismaClient, '$queryRaw' | '$executeRaw'>): SqlClient => ({
    $queryRaw: <T>(query: Statement, ...values: unknown[]) => translating(() => target.$queryRaw<T>(compile(query, values))),
    $executeRaw: (query: Statement, ...values: unknown[]) => translating(() => target.$executeRaw(compile(query, values))),
  });
  return {
    ...on(prisma),
    $transaction: <R>(fn: (tx: SqlClient) => Promise<R>) => translating(() => prisma.$transaction((tx) => fn(on(tx)))),
  };
}
