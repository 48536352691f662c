import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Logger } from 'pino';
import { DomainError } from '../domain/errors.js';
import { PERSISTED_DOCUMENT_NOT_FOUND, PERSISTED_DOCUMENT_REQUIRED } from './persisted-documents.js';
import { ProjectionTimeoutError } from '../projections/progress.js';
import { DatabaseUnavailableError } from '../sql/client.js';
import { SlowConsumerError } from '../subscriptions/live-iterator.js';

/** Codes a client may see with the message as we wrote it. */
const PASS_THROUGH = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'TOO_MANY_SUBSCRIPTIONS',
  'QUERY_TOO_COMPLEX',
  // A bad bearer token, refused before any resolver runs (src/server/http.ts).
  'UNAUTHENTICATED',
  // An unknown documentId, or a document sent where only trusted ones run (persisted-documents.ts).
  PERSISTED_DOCUMENT_NOT_FOUND,
  PERSISTED_DOCUMENT_REQUIRED,
]);

/** Errors whose message and code are safe to show (besides domain errors). */
function exposed(error: unknown): (Error & { code: string }) | undefined {
  const inner = (error as { originalError?: unknown } | null)?.originalError;
  for (const candidate of [error, inner]) {
    if (candidate instanceof ProjectionTimeoutError || candidate instanceof SlowConsumerError) return candidate;
  }
  return undefined;
}

/** An error as a client sees it, and what to log about it (nothing, for errors the client caused). */
interface Shaped {
  readonly formatted: GraphQLFormattedError;
  readonly log?: { readonly level: 'warn' | 'error'; readonly msg: string };
}

/**
 * Shapes every error in one place. Domain errors keep their code, message and
 * safe details; GraphQL's own request errors pass through; anything else
 * becomes INTERNAL_SERVER_ERROR with nothing leaked (the original is logged).
 */
function shape(formatted: GraphQLFormattedError, error: unknown): Shaped {
  const original = unwrapResolverError(error);
  const { message: _m, extensions: _e, ...location } = formatted;
  // A command or a read that met a database fault of the moment (src/sql/client.ts).
  const unavailable = original instanceof DatabaseUnavailableError ? original : (original as { originalError?: unknown } | null)?.originalError;
  if (unavailable instanceof DatabaseUnavailableError) {
    return {
      formatted: {
        ...location,
        message: 'The database is unavailable right now; retry shortly',
        extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true },
      },
      log: { level: 'warn', msg: 'database unavailable while resolving' },
    };
  }
  // A domain error, thrown by a resolver or wrapped by a transport adapter.
  const domain = original instanceof DomainError ? original : (original as { originalError?: unknown } | null)?.originalError;
  if (domain instanceof DomainError) {
    return { formatted: { ...location, message: domain.message, extensions: { code: domain.code, ...domain.details } } };
  }
  const safe = exposed(original);
  if (safe) return { formatted: { ...location, message: safe.message, extensions: { code: safe.code } } };
  // An invalid literal (e.g. a negative Money) fails validation, but the
  // scalar said what is wrong with the input: report it as such.
  const inner = (original as { originalError?: { extensions?: { code?: unknown } } } | null)?.originalError;
  const code = inner?.extensions?.code === 'BAD_USER_INPUT' ? 'BAD_USER_INPUT' : formatted.extensions?.code;
  if (typeof code === 'string' && PASS_THROUGH.has(code)) {
    return { formatted: { ...location, message: formatted.message, extensions: { code } } };
  }
  return {
    formatted: { ...location, message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    log: { level: 'error', msg: 'unexpected error while resolving' },
  };
}

/** The error formatter of both transports: shapes (see `shape`) and logs what the client must not see. */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const shaped = shape(formatted, error);
    if (shaped.log) logger[shaped.log.level]({ err: unwrapResolverError(error), path: formatted.path }, shaped.log.msg);
    return shaped.formatted;
  };
}

/** The code a client is sent for this error (`extensions.code`), without formatting or logging it. */
export function errorCode(error: GraphQLError): string {
  return String(shape(error.toJSON(), error).formatted.extensions?.code);
}
