import type { GraphQLFormattedError } from 'graphql';
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

/**
 * Shapes every error in one place. Domain errors keep their code, message and
 * safe details; GraphQL's own request errors pass through; anything else
 * becomes INTERNAL_SERVER_ERROR with nothing leaked (the original is logged).
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const { message: _m, extensions: _e, ...location } = formatted;
    // A command or a read that met a database fault of the moment (src/sql/client.ts).
    const unavailable = original instanceof DatabaseUnavailableError ? original : (original as { originalError?: unknown } | null)?.originalError;
    if (unavailable instanceof DatabaseUnavailableError) {
      logger.warn({ err: original, path: formatted.path }, 'database unavailable while resolving');
      return {
        ...location,
        message: 'The database is unavailable right now; retry shortly',
        extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true },
      };
    }
    // A domain error, thrown by a resolver or wrapped by a transport adapter.
    const domain = original instanceof DomainError ? original : (original as { originalError?: unknown } | null)?.originalError;
    if (domain instanceof DomainError) {
      return { ...location, message: domain.message, extensions: { code: domain.code, ...domain.details } };
    }
    const safe = exposed(original);
    if (safe) return { ...location, message: safe.message, extensions: { code: safe.code } };
    // An invalid literal (e.g. a negative Money) fails validation, but the
    // scalar said what is wrong with the input: report it as such.
    const inner = (original as { originalError?: { extensions?: { code?: unknown } } } | null)?.originalError;
    const code = inner?.extensions?.code === 'BAD_USER_INPUT' ? 'BAD_USER_INPUT' : formatted.extensions?.code;
    if (typeof code === 'string' && PASS_THROUGH.has(code)) {
      return { ...location, message: formatted.message, extensions: { code } };
    }
    logger.error({ err: original, path: formatted.path }, 'unexpected error while resolving');
    return { ...location, message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
