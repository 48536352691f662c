import type http from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError, OperationTypeNode } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { ATTR, OK, ROOT_CONTEXT, SpanKind, endSpan, remoteParent, trace, tracer, type Context, type Span } from '../observability/tracing.js';

/** The GraphQL operation's name for a span: `mutation PlaceOrder` (semantic conventions). */
export function operationSpanName(type: OperationTypeNode | string, name: string | null | undefined): string {
  return name ? `${type} ${name}` : type;
}

/** Names the span after the operation once it is known. */
export function nameOperation(span: Span, type: OperationTypeNode | string, name: string | null | undefined): void {
  span.updateName(operationSpanName(type, name));
  span.setAttribute(ATTR.operationType, type);
  if (name) span.setAttribute(ATTR.operationName, name);
}

/** `ok`, or the code of the first error sent (codes are fixed words; messages are never recorded). */
export function outcomeOfErrors(errors: ReadonlyArray<GraphQLFormattedError> | undefined): string {
  if (!errors?.length) return OK;
  const code = errors[0]!.extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}

interface RequestTrace {
  readonly span: Span;
  readonly context: Context;
  /** What GraphQL answered, once Apollo has answered. */
  outcome?: string;
}

const isGraphQLPath = (url: string | undefined) => url === '/graphql' || (url?.startsWith('/graphql?') ?? false);

/**
 * A span per GraphQL request over HTTP, from its first byte to the end of
 * its response, whichever way it is answered (Apollo, a 413 before the body,
 * the IDE's page). It continues the client's trace when the request carries
 * a W3C `traceparent`. Apollo names it after the operation (the plugin);
 * the command a mutation runs is its child (through the context's
 * `traceContext`).
 */
export class RequestTracing {
  private readonly requests = new WeakMap<http.IncomingMessage, RequestTrace>();
  private readonly byContext = new WeakMap<Context, RequestTrace>();

  /** Called first for every request: starts the span of one to /graphql, ended when its response closes. */
  start(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!isGraphQLPath(req.url) || this.requests.has(req)) return;
    const method = req.method ?? 'GET';
    const span = tracer.startSpan(
      `${method} /graphql`,
      { kind: SpanKind.SERVER, attributes: { [ATTR.protocol]: 'http', [ATTR.httpMethod]: method, [ATTR.urlPath]: '/graphql' } },
      remoteParent(req.headers),
    );
    // No SDK: a span of no trace, nothing to keep or end.
    if (!trace.isSpanContextValid(span.spanContext())) return;
    const request: RequestTrace = { span, context: trace.setSpan(ROOT_CONTEXT, span) };
    this.requests.set(req, request);
    this.byContext.set(request.context, request);
    res.once('close', () => {
      span.setAttribute(ATTR.httpStatus, res.statusCode);
      const answered = request.outcome ?? (res.statusCode < 400 ? OK : `HTTP_${res.statusCode}`);
      endSpan(span, res.writableFinished ? answered : 'ABORTED');
    });
  }

  /** The request's trace context, for its GraphQL context (ROOT_CONTEXT for a request not traced here). */
  contextOf(req: http.IncomingMessage): Context {
    return this.requests.get(req)?.context ?? ROOT_CONTEXT;
  }

  /** Names the span of the request traced with `context` after its operation (no span: nothing to do). */
  named(context: Context, type: OperationTypeNode | string, name: string | null | undefined): void {
    const request = this.byContext.get(context);
    if (request) nameOperation(request.span, type, name);
  }

  /** Records what GraphQL answered the request traced with `context`: `ok` or its first error's code. */
  answered(context: Context, errors: ReadonlyArray<GraphQLFormattedError> | undefined): void {
    const request = this.byContext.get(context);
    if (request) request.outcome = outcomeOfErrors(errors);
  }

  /** Apollo's side: names the request's span after its operation and records what GraphQL answered. */
  plugin(): ApolloServerPlugin<GraphQLContext> {
    return {
      requestDidStart: async ({ contextValue }) => {
        if (!this.byContext.has(contextValue.traceContext)) return;
        const context = contextValue.traceContext;
        return {
          didResolveOperation: async ({ operation, operationName }) => {
            if (operation) this.named(context, operation.operation, operationName);
          },
          willSendResponse: async ({ response }) => {
            this.answered(context, response.body.kind === 'single' ? response.body.singleResult.errors : undefined);
          },
        };
      },
    };
  }
}
