/**
 * Small helpers for server-level PostgreSQL chores (creating and dropping
 * databases) that must run outside any pool or Prisma client.
 */
import pg from 'pg';

/** Quotes an SQL identifier (database name, table name, ...). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Returns `databaseUrl` with its database name replaced by `database`. */
export function withDatabaseName(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** The database name of a `postgres://` URL. */
export function databaseNameOf(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
}

/**
 * Opens a single short-lived connection to `databaseUrl`, runs `fn` with it
 * and closes it again, whatever happens. Use for statements that cannot run
 * inside a transaction or pool, such as `CREATE DATABASE`.
 */
export async function withPgClient<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  // A connection dropped by the server must not crash the process; the
  // pending query rejects anyway.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates database `name` on the server of `serverUrl` (any database URL on that server). */
export async function createDatabase(serverUrl: string, name: string, template?: string): Promise<void> {
  const sql = `CREATE DATABASE ${quoteIdent(name)}${template ? ` TEMPLATE ${quoteIdent(template)}` : ''}`;
  await withPgClient(serverUrl, (c) => c.query(sql));
}

/** Drops database `name` if it exists, terminating its connections first (PostgreSQL 13+). */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withPgClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}
