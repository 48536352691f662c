import type { Prisma } from '../generated/prisma/client.js';

/**
 * The SQL the event log, the write model, the projections and the
 * subscription feeds send: plain statements (Prisma's raw-query surface,
 * `Prisma.sql` fragments) and interactive transactions — never Prisma model
 * queries. Implementations (src/infrastructure/db/sql-client.ts) run them on
 * `pg` (PostgreSQL) or through Prisma's `$queryRaw` (PGlite). They must return
 * int8 and numeric columns the way the statements cast them (every statement
 * casts them to text, so that drivers agree), and must report a fault of the
 * moment as {@link DatabaseUnavailableError}; any other error passes as it is.
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

/**
 * The database could not do the statement for a reason of the moment:
 *
 * - `retryable`: nothing was done, sending it again is safe (the server is
 *   unreachable or refuses connections, a serialization failure or deadlock
 *   rolled the transaction back);
 * - `ambiguous`: the connection broke while the statement may have been
 *   running: it may or may not have committed. Reads are safe to repeat;
 *   a write must not be repeated behind its caller's back.
 *
 * The API answers SERVICE_UNAVAILABLE (retryable) for it; `cause` is the
 * driver's error, for logs only.
 */
export class DatabaseUnavailableError extends Error {
  constructor(
    readonly fault: 'retryable' | 'ambiguous',
    options: { cause: unknown },
  ) {
    super('The database is unavailable right now; retry shortly', options);
    this.name = 'DatabaseUnavailableError';
  }
}
