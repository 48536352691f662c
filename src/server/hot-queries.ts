import { HeaderMap, type HTTPGraphQLRequest, type HTTPGraphQLResponse } from '@apollo/server';
import type { DocumentNode } from 'graphql';
import Negotiator from 'negotiator';
import type { CompiledExecution } from '../graphql/compiled-execution.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { RequestTracing } from './request-tracing.js';

/** The media types Apollo answers a single result in, in its order of preference. */
const SINGLE_RESULT_TYPES = [
  'application/json; charset=utf-8',
  'application/graphql-response+json; charset=utf-8',
  'application/json; callbackSpec=1.0; charset=utf-8',
];

const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;

/** Distinct `accept` values whose answer is remembered; clients send a handful. */
const MAX_REMEMBERED_ACCEPTS = 64;

/** The fields of a POST body the hot path answers; any other (`extensions`, say) is Apollo's to read. */
const BODY_FIELDS = new Set(['query', 'variables', 'operationName']);

export interface HotQueriesOptions {
  readonly execution: CompiledExecution;
  readonly tracing: RequestTracing;
  /** The cost check Apollo runs after validation (src/graphql/limits.ts); throwing refuses the request. */
  readonly checkCost: (document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | undefined) => void;
}

/**
 * Answers the queries clients repeat without Apollo's request pipeline. A
 * query whose text Apollo has parsed, validated, run and compiled
 * (CompiledExecution's `hot`) needs none of that again: this runs the
 * compiled query with the request's context and writes the answer Apollo
 * would write — the same body, status and headers (`cache-control:
 * no-store`, the content type Apollo negotiates from `accept`). The caller
 * has done what comes before Apollo (the bearer token, the persisted
 * document); this does what Apollo's plugins do for a query (the cost
 * check, naming the request's span).
 *
 * Everything else goes to Apollo, which answers it as always: another
 * method or body, a text not hot yet, a refused cost, variables that do not
 * coerce (nothing ran), an `accept` Apollo answers with 406. A run that met
 * field errors is not run again: Apollo is handed its result
 * (`answerWith`) and shapes the errors in its one place.
 */
export class HotQueries {
  private readonly contentTypes = new Map<string, string | null>();

  constructor(private readonly options: HotQueriesOptions) {}

  /**
   * The answer to `request` (its persisted document already resolved), or
   * undefined when Apollo is to answer it — with the context this made, if
   * `context` was called (the caller hands that one to Apollo).
   */
  async answer(request: HTTPGraphQLRequest, context: () => GraphQLContext): Promise<HTTPGraphQLResponse | undefined> {
    // A JSON body: what Apollo's CSRF prevention asks of a POST.
    if (request.method !== 'POST' || !JSON_CONTENT_TYPE.test(request.headers.get('content-type') ?? '')) return undefined;
    const body = hotBody(request.body);
    if (!body) return undefined;
    const { execution, tracing } = this.options;
    const hot = execution.hot(body.query, body.operationName);
    if (!hot) return undefined;
    const contentType = this.contentType(request.headers.get('accept'));
    if (contentType === null) return undefined;
    const name = hot.operation.name?.value;
    try {
      this.options.checkCost(hot.document, body.variables, name);
    } catch {
      // Apollo runs the same check and answers the refusal (QUERY_TOO_COMPLEX) as always.
      return undefined;
    }
    const contextValue = context();
    tracing.named(contextValue.traceContext, 'query', name);
    const result = await execution.runHot(hot, contextValue, body.variables);
    if (!result) return undefined;
    if (result.errors?.length) {
      execution.answerWith(contextValue, result);
      return undefined;
    }
    tracing.answered(contextValue.traceContext, undefined);
    return {
      status: 200,
      headers: new HeaderMap([
        ['cache-control', 'no-store'],
        ['content-type', contentType],
      ]),
      // Apollo's serialisation (prettyJSONStringify): one line and a newline.
      body: { kind: 'complete', string: `${JSON.stringify({ data: result.data })}\n` },
    };
  }

  /** Apollo's choice for a single result (chooseContentTypeForSingleResultResponse): null is its 406. */
  private contentType(accept: string | undefined): string | null {
    if (!accept) return SINGLE_RESULT_TYPES[0]!;
    let type = this.contentTypes.get(accept);
    if (type === undefined) {
      type = new Negotiator({ headers: { accept } }).mediaType(SINGLE_RESULT_TYPES) ?? null;
      if (this.contentTypes.size < MAX_REMEMBERED_ACCEPTS) this.contentTypes.set(accept, type);
    }
    return type;
  }
}

interface HotBody {
  readonly query: string;
  readonly operationName: string | undefined;
  readonly variables: Record<string, unknown> | undefined;
}

/** A body of a query text, an operation name and variables only, each of the type Apollo takes; else undefined. */
function hotBody(body: unknown): HotBody | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  for (const key in record) if (!BODY_FIELDS.has(key)) return undefined;
  const { query, operationName, variables } = record;
  if (typeof query !== 'string') return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
  return {
    query,
    operationName: operationName ?? undefined,
    variables: (variables ?? undefined) as Record<string, unknown> | undefined,
  };
}
