import type { Prisma } from '../generated/prisma/client.js';

/**
 * The SQL the event log, the write model, the projections and the
 * subscription feeds send: plain statements (Prisma's raw-query surface,
 * `Prisma.sql` fragments) and interactive transactions — never Prisma model
 * queries. A `PrismaClient` is one; so is any thinner client that runs the
 * same statements on the same connections (it must return int8 and numeric
 * columns the way the statements cast them: every statement casts them to
 * text, so that drivers agree).
 */
export interface SqlClient {
  $queryRaw<T = unknown>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<T>;
  /** Resolves with the number of rows the statement affected. */
  $executeRaw(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<number>;
}

/** A `SqlClient` that can also run a function in one transaction (committed when it resolves). */
export interface SqlDatabase extends SqlClient {
  $transaction<R>(fn: (tx: SqlClient) => Promise<R>): Promise<R>;
}
