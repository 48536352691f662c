import { HeaderMap, type ApolloServerPlugin, type BaseContext, type HTTPGraphQLRequest } from '@apollo/server';
import { GraphQLError } from 'graphql';
import Negotiator from 'negotiator';
import type { Actor } from '../domain/access.js';
import { resolveDocument, type DocumentPolicy, type DocumentRequest } from '../graphql/persisted-documents.js';

const APPLICATION_JSON = 'application/json';
const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json';

/**
 * Errors that make a well-formed request a GraphQL request error: the
 * document does not parse or validate, its variables do not coerce, the
 * operation cannot be chosen, or a limit refuses it. Not BAD_REQUEST (the
 * request itself is malformed: no query, bad parameters), which stays 400.
 */
const REQUEST_ERRORS = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'OPERATION_RESOLUTION_FAILURE',
  'QUERY_TOO_COMPLEX',
]);

/**
 * The status of a request error for a client that sent `accept`: 200 for a
 * legacy client, one that names `application/json` and prefers it to
 * `application/graphql-response+json` (the response is then
 * `application/json`, the same choice Apollo makes); 400 for the rest.
 */
export function requestErrorStatus(accept: string | undefined): 200 | 400 {
  if (!accept) return 400;
  const negotiator = new Negotiator({ headers: { accept } });
  if (!negotiator.mediaTypes().includes(APPLICATION_JSON)) return 400;
  return negotiator.mediaType([APPLICATION_JSON, GRAPHQL_RESPONSE_JSON]) === APPLICATION_JSON ? 200 : 400;
}

/**
 * Status codes as GraphQL over HTTP has them per media type. With
 * `application/graphql-response+json` a request error is 400 (Apollo's
 * answer). A client that names `application/json` and is answered in it is
 * a legacy client, which may not read a body behind a 4xx: for it the spec
 * recommends 200 for every well-formed request, so request errors are 200
 * with the errors. A client that names neither (it accepts any type, or sends no Accept)
 * is answered `application/json` with the 4xx codes, as before: the spec
 * leaves that choice to the server. Applies to every transport that goes
 * through Apollo (the direct POST path and express).
 */
export function mediaTypeStatusPlugin<C extends BaseContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response }) {
          if (response.http.status !== 400 || response.body.kind !== 'single') return;
          const { singleResult } = response.body;
          if ('data' in singleResult || !singleResult.errors?.length) return;
          if (!singleResult.errors.every((e) => REQUEST_ERRORS.has(e.extensions?.code as string))) return;
          if (requestErrorStatus(request.http?.headers.get('accept')) !== 200) return;
          response.http.status = 200;
          response.http.headers.set('content-type', `${APPLICATION_JSON}; charset=utf-8`);
        },
      };
    },
  };
}

/**
 * A persisted document request (GraphQL over HTTP, Appendix A) made into the
 * request Apollo serves: `documentId` — in a POST's JSON body, or a GET's
 * query string — is replaced by the manifest's document as `query`, before
 * Apollo reads the request. What runs is decided by resolveDocument
 * (src/graphql/persisted-documents.ts), the same as for graphql-ws.
 *
 * A refusal comes with its HTTP answer: BAD_REQUEST 400; the others are
 * request errors (nothing ran), 400, or 200 for a legacy `application/json`
 * client (requestErrorStatus); never cached. Other methods are left to Apollo,
 * which runs nothing for them (405).
 */
export function persistedDocumentRequest(
  request: HTTPGraphQLRequest,
  policy: DocumentPolicy,
  actor: Actor,
): { readonly request: HTTPGraphQLRequest } | { readonly refused: GraphQLError } {
  if (request.method !== 'GET' && request.method !== 'POST') return { request };
  const params = request.method === 'GET' ? new URLSearchParams(request.search) : undefined;
  // Anything but a JSON object (a batch, say) names no document: in trusted mode that is a refusal.
  const body = !params && isRecord(request.body) ? request.body : undefined;
  if (params && params.getAll('documentId').length > 1) {
    return refusal(request, new GraphQLError("The 'documentId' search parameter may only be specified once.", { extensions: { code: 'BAD_REQUEST' } }));
  }
  const named: DocumentRequest = params
    ? { query: params.get('query'), documentId: params.get('documentId') }
    : { query: body?.query, documentId: body?.documentId };
  const resolution = resolveDocument(policy, named, actor);
  switch (resolution.kind) {
    case 'sent':
      return { request };
    case 'refused':
      return refusal(request, resolution.error);
    case 'persisted': {
      if (params) {
        params.delete('documentId');
        params.set('query', resolution.source);
        return { request: { ...request, search: `?${params}` } };
      }
      const { documentId: _id, ...rest } = body!;
      return { request: { ...request, body: { ...rest, query: resolution.source } } };
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refusal(request: HTTPGraphQLRequest, error: GraphQLError): { readonly refused: GraphQLError } {
  const status = error.extensions.code === 'BAD_REQUEST' ? 400 : requestErrorStatus(request.headers.get('accept'));
  const headers = new HeaderMap([['cache-control', 'no-store']]);
  return { refused: new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status, headers } } }) };
}
