import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import Negotiator from 'negotiator';

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
          const accept = request.http?.headers.get('accept');
          if (!accept) return;
          const negotiator = new Negotiator({ headers: { accept } });
          if (!negotiator.mediaTypes().includes(APPLICATION_JSON)) return;
          // The same choice Apollo makes for the response, stated here so the status and the type agree.
          if (negotiator.mediaType([APPLICATION_JSON, GRAPHQL_RESPONSE_JSON]) !== APPLICATION_JSON) return;
          response.http.status = 200;
          response.http.headers.set('content-type', `${APPLICATION_JSON}; charset=utf-8`);
        },
      };
    },
  };
}
