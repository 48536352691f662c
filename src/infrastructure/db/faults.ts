/**
 * Which database errors are faults of the moment rather than of the request,
 * as they surface through Prisma's driver adapters (pg and PGlite):
 *
 * - `retryable`: nothing was done, trying again is safe — the server cannot
 *   be reached or refuses connections, too many connections, a serialization
 *   failure or deadlock (the transaction was rolled back);
 * - `ambiguous`: the connection broke while a statement may have been
 *   running — it may or may not have committed.
 *
 * Anything else (constraint violations, bugs) is `undefined`: not transient.
 */
export type Fault = 'retryable' | 'ambiguous';

/** SQLSTATEs after which nothing was done. */
const RETRYABLE_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
  '57P03', // cannot_connect_now (starting up, shutting down)
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
]);

/** SQLSTATEs that end a connection, possibly mid-statement. */
const AMBIGUOUS_CODES = new Set([
  '57P01', // admin_shutdown (pg_terminate_backend, server stopping)
  '57P02', // crash_shutdown
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
]);

/** Driver-adapter error kinds (Prisma's own classification). */
const RETRYABLE_KINDS = new Set(['DatabaseNotReachable', 'TooManyConnections', 'TransactionWriteConflict', 'DatabaseAccessDenied']);
const AMBIGUOUS_KINDS = new Set(['ConnectionClosed', 'SocketTimeout']);

const CONNECTION_LOST = /Connection terminated|not queryable|ECONNRESET|EPIPE|socket hang up|Client was closed/i;
// A connection that never came up (pg's connect timeouts among them): nothing was sent on it.
const CONNECTION_REFUSED =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|timeout exceeded when trying to connect|Connection terminated due to connection timeout|timeout expired|Can't reach database server/i;

interface AdapterCause {
  readonly kind?: string;
  readonly code?: string;
  readonly originalCode?: string;
  readonly severity?: string;
}

/** Classifies `error` (and its causes); undefined when it is not a transient fault. */
export function classifyFault(error: unknown, depth = 0): Fault | undefined {
  if (!error || typeof error !== 'object' || depth > 5) return undefined;
  const e = error as { code?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: { cause?: AdapterCause } } };
  const adapter = e.meta?.driverAdapterError?.cause;
  if (adapter) {
    const fault = fromAdapterCause(adapter);
    if (fault) return fault;
  }
  // Prisma: "Transaction failed due to a write conflict or a deadlock".
  if (e.code === 'P2034') return 'retryable';
  if (typeof e.code === 'string') {
    if (RETRYABLE_CODES.has(e.code)) return 'retryable';
    if (AMBIGUOUS_CODES.has(e.code)) return 'ambiguous';
    if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND') return 'retryable';
    if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return 'ambiguous';
  }
  const message = typeof e.message === 'string' ? e.message : '';
  if (CONNECTION_REFUSED.test(message)) return 'retryable';
  if (/is not currently accepting connections/.test(message)) return 'retryable';
  if (CONNECTION_LOST.test(message)) return 'ambiguous';
  return e.cause && e.cause !== error ? classifyFault(e.cause, depth + 1) : undefined;
}

function fromAdapterCause(cause: AdapterCause): Fault | undefined {
  if (cause.kind && RETRYABLE_KINDS.has(cause.kind)) return 'retryable';
  if (cause.kind && AMBIGUOUS_KINDS.has(cause.kind)) return 'ambiguous';
  const code = cause.originalCode ?? cause.code;
  if (!code) return undefined;
  if (RETRYABLE_CODES.has(code)) return 'retryable';
  if (AMBIGUOUS_CODES.has(code)) return 'ambiguous';
  // 55000 as a FATAL connection error: "database … is not currently accepting connections".
  if (code === '55000' && cause.severity === 'FATAL') return 'retryable';
  return undefined;
}
