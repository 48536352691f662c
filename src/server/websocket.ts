import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type net from 'node:net';
import {
  GraphQLError,
  createSourceEventStream,
  execute,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  parse,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, type Context as ConnectionContext, type SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import { bearerToken, type TokenVerifier } from '../auth/tokens.js';
import { ANONYMOUS, type Actor } from '../domain/access.js';
import { DomainError } from '../domain/errors.js';
import { formatCursor } from '../eventlog/cursor.js';
import type { GraphQLContext } from '../graphql/context.js';
import { errorCode } from '../graphql/errors.js';
import { allValidationRules, checkCost, type OperationLimits } from '../graphql/limits.js';
import { resolveDocument, type DocumentPolicy } from '../graphql/persisted-documents.js';
import { authorizeSubscription, checkSubscriptionArgs } from '../graphql/resolvers/subscriptions.js';
import {
  ATTR,
  OK,
  ROOT_CONTEXT,
  SpanKind,
  causeLinks,
  endSpan,
  linkTo,
  setRecorded,
  spanIn,
  trace,
  tracer,
  type Context,
  type Span,
} from '../observability/tracing.js';
import type { Change } from '../read-models/change-key.js';
import { nameOperation } from './request-tracing.js';

export interface WebSocketLimits {
  /** Close a socket that does not send connection_init within this time (ms). */
  readonly connectionInitTimeoutMs: number;
  /** Largest accepted message (bytes); larger ones close the socket with 1009. */
  readonly maxMessageBytes: number;
  /** Ping interval (ms); a peer that misses a pong is disconnected. */
  readonly keepAliveMs: number;
  /** Most concurrent subscriptions on one connection. */
  readonly maxSubscriptionsPerConnection: number;
}

export interface WebSocketDeps {
  readonly schema: GraphQLSchema;
  readonly logger: Logger;
  readonly limits: WebSocketLimits;
  readonly operationLimits: OperationLimits;
  /** Called for every `next` message sent (metrics). */
  readonly onMessage?: () => void;
  readonly tokens: TokenVerifier;
  /** The persisted documents (a subscribe payload's `documentId`), and whether only they run. */
  readonly documents: DocumentPolicy;
  /**
   * Builds the context of one operation (traced as the span in `traceContext`);
   * `connection` is the same object for every operation of one connection.
   */
  readonly context: (requestId: string, actor: Actor, traceContext: Context, connection: object) => GraphQLContext;
  readonly formatError: (error: GraphQLError) => ReturnType<GraphQLError['toJSON']>;
}

/** setTimeout's longest delay; later expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The token from connection_init's payload: `authorization` (any case), "Bearer …". */
function authorizationOf(params: Readonly<Record<string, unknown>> | undefined): unknown {
  for (const [key, value] of Object.entries(params ?? {})) if (key.toLowerCase() === 'authorization') return value;
  return undefined;
}

function inputError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  if (error instanceof DomainError) {
    // Keeps the domain error: the formatter shows its code (FORBIDDEN, BAD_USER_INPUT…).
    return new GraphQLError(error.message, { originalError: error, extensions: { code: error.code, ...error.details } });
  }
  throw error;
}

/** A number per document object: equal query texts share one cached document (documentOf), hence one number. */
const documentNumbers = new WeakMap<DocumentNode, number>();
let documentsNumbered = 0;
function documentNumber(document: DocumentNode): number {
  let number = documentNumbers.get(document);
  if (number === undefined) documentNumbers.set(document, (number = ++documentsNumbered));
  return number;
}

/**
 * What makes two subscriptions' results for one event identical: the
 * document (equal texts share one cached document, so its number stands for
 * the text and the key stays short while the subscription is open), the
 * operation, the variables and the caller. Undefined (not shared) when
 * variables are nested too deep for JSON.stringify, say.
 */
function shareKey(args: ExecutionArgs): string | undefined {
  const { actor } = args.contextValue as GraphQLContext;
  try {
    return JSON.stringify([documentNumber(args.document), args.operationName ?? null, args.variableValues ?? null, actor.role, 'userId' in actor ? actor.userId : null]);
  } catch {
    return undefined;
  }
}

/**
 * A span per message a subscription sends (`send <field>`), from the change
 * to the result: a trace of its own, linked to the trace of the command that
 * caused the change (stored with it in the change history, whichever instance
 * ran the command and the projection) and to the subscription's operation.
 */
function messageSpans(args: ExecutionArgs) {
  const operation = getOperationAST(args.document, args.operationName);
  const root = operation?.selectionSet.selections.find((s) => s.kind === 'Field');
  const field = root?.kind === 'Field' ? root.name.value : 'subscription';
  const subscription = linkTo(spanIn((args.contextValue as GraphQLContext).traceContext).spanContext(), 'subscription');
  return async (change: Change<unknown>, send: () => Promise<ExecutionResult> | ExecutionResult): Promise<ExecutionResult> => {
    const { links } = causeLinks([change.trace]);
    const span = tracer.startSpan(`send ${field}`, { kind: SpanKind.PRODUCER, links: subscription ? [...links, subscription] : links }, ROOT_CONTEXT);
    setRecorded(span, () => ({
      [ATTR.subscriptionField]: field,
      [ATTR.subscriptionPosition]: formatCursor(change.key),
      ...(operation?.name ? { [ATTR.operationName]: operation.name.value } : {}),
    }));
    try {
      const result = await send();
      endSpan(span, result.errors?.length ? errorCode(result.errors[0]!) : OK);
      return result;
    } catch (error) {
      endSpan(span, 'INTERNAL_SERVER_ERROR');
      throw error;
    }
  };
}

/**
 * Subscription events executed once per (event, shareKey) and shared by
 * every subscription that asked exactly that: the change feed hands the same
 * view object to all its subscribers, so it keys a WeakMap, and the entry
 * goes when the event is collected. graphql's own `subscribe` executes the
 * selection set again for each subscriber.
 */
function sharedSubscribe() {
  const executions = new WeakMap<object, Map<string, Promise<ExecutionResult> | ExecutionResult>>();
  const executeShared = (args: ExecutionArgs, payload: unknown, key: string | undefined) => {
    const eventArgs = { ...args, rootValue: payload };
    if (key === undefined || typeof payload !== 'object' || payload === null) return execute(eventArgs);
    let perEvent = executions.get(payload);
    if (!perEvent) executions.set(payload, (perEvent = new Map()));
    let result = perEvent.get(key);
    if (!result) perEvent.set(key, (result = execute(eventArgs)));
    return result;
  };
  return async (args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> => {
    // Before the stream opens: nothing may fail between opening it and handing it over.
    const key = shareKey(args);
    const traced = messageSpans(args);
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in Object(stream))) return stream as ExecutionResult;
    const source = (stream as AsyncGenerator<unknown>)[Symbol.asyncIterator]();
    const map = async (next: IteratorResult<unknown>): Promise<IteratorResult<ExecutionResult>> =>
      next.done
        ? { done: true, value: undefined }
        : { done: false, value: await traced(next.value as Change<unknown>, () => executeShared(args, next.value, key)) };
    // An iterator object, not an async generator: `return()` must reach the
    // source at once, even while a `next()` is waiting for the next change.
    return {
      next: () => source.next().then(map),
      return: async () => {
        await source.return?.(undefined);
        return { done: true, value: undefined };
      },
      throw: async (error: unknown) => {
        await source.return?.(undefined);
        throw error;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    } as AsyncGenerator<ExecutionResult>;
  };
}

/** Sockets whose writes are held until the pending work is done (see coalesceWrites). */
const coalescing = new WeakSet<net.Socket>();

/**
 * Holds a connection's socket writes until the work pending now has run (the
 * microtasks queued so far, then this tick), then sends them in one write:
 * one change reaches all the subscriptions of a connection at once, and its
 * messages leave together instead of one write each. One change to 10,000
 * subscriptions made 10,000 socket writes, a third of the server's CPU
 * (bench/README.md, fan-out).
 */
function coalesceWrites(socket: net.Socket): void {
  if (coalescing.has(socket)) return;
  coalescing.add(socket);
  socket.cork();
  process.nextTick(() => {
    coalescing.delete(socket);
    socket.uncork();
  });
}

/** Parsed and validated documents by query text (bounded): 10,000 equal subscriptions share one AST. */
const MAX_CACHED_DOCUMENTS = 1000;
const MAX_CACHED_QUERY_LENGTH = 10_000;

/**
 * graphql-ws (protocol graphql-transport-ws) on the HTTP server's /graphql.
 * A thin adapter: subscriptions themselves live in the hub. Requests are
 * parsed, validated and their arguments checked up front, so a bad
 * subscription gets a protocol `error` message and the connection stays usable.
 */
export function attachWebSocket(server: http.Server, deps: WebSocketDeps) {
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: deps.limits.maxMessageBytes });
  // Each connection's caller, from its connection_init payload, and the timer that ends it with the token.
  const callers = new WeakMap<ConnectionContext, { actor: Actor; expiry?: NodeJS.Timeout }>();
  const validationRules = allValidationRules(deps.operationLimits);
  const documents = new Map<string, { document?: DocumentNode; errors: readonly GraphQLError[] }>();
  const documentOf = (query: string) => {
    let entry = documents.get(query);
    if (!entry) {
      try {
        const document = parse(query, { maxTokens: deps.operationLimits.maxTokens });
        const errors = validate(deps.schema, document, validationRules, { hideSuggestions: !deps.operationLimits.introspection });
        entry = {
          document,
          errors: errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })),
        };
      } catch (error) {
        const syntax = error as GraphQLError;
        entry = { errors: [new GraphQLError(syntax.message, { nodes: syntax.nodes, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })] };
      }
      if (query.length <= MAX_CACHED_QUERY_LENGTH) {
        if (documents.size >= MAX_CACHED_DOCUMENTS) documents.clear();
        documents.set(query, entry);
      }
    }
    return entry;
  };

  /** Closes the socket with 4403 when the token expires (re-armed past setTimeout's range). */
  function closeAtExpiry(ctx: ConnectionContext, socket: { close(code: number, reason: string): void }, expiresAt: Date) {
    const caller = callers.get(ctx)!;
    const remaining = expiresAt.getTime() - Date.now();
    caller.expiry = setTimeout(
      () => (remaining > MAX_TIMER_MS ? closeAtExpiry(ctx, socket, expiresAt) : socket.close(CloseCode.Forbidden, 'Token expired')),
      Math.max(0, Math.min(remaining, MAX_TIMER_MS)),
    );
    caller.expiry.unref();
  }

  /**
   * Checks an operation before it runs, naming its span: what to execute, or
   * the errors to answer with (a protocol `error` message).
   */
  async function prepare(ctx: ConnectionContext, id: string, payload: SubscribePayload, span: Span): Promise<ExecutionArgs | readonly GraphQLError[]> {
    const actor = callers.get(ctx)?.actor ?? ANONYMOUS;
    if (Object.keys(ctx.subscriptions).length > deps.limits.maxSubscriptionsPerConnection) {
      return [
        new GraphQLError(`At most ${deps.limits.maxSubscriptionsPerConnection} subscriptions per connection`, {
          extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
        }),
      ];
    }
    // A persisted document is named by `documentId` beside the `query` graphql-ws requires (send "").
    const documentId = (payload as { documentId?: unknown }).documentId;
    const resolution = resolveDocument(deps.documents, { query: payload.query, documentId }, actor);
    if (resolution.kind === 'refused') return [resolution.error];
    const { document, errors } = documentOf(resolution.kind === 'persisted' ? resolution.source : payload.query);
    if (errors.length || !document) return [...errors];
    const operation = getOperationAST(document, payload.operationName);
    if (operation) nameOperation(span, operation.operation, operation.name?.value);
    if (!operation) {
      return [new GraphQLError('Unable to identify the operation to run: send one operation, or name it with operationName', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
    }
    const variables = getVariableValues(deps.schema, operation.variableDefinitions ?? [], payload.variables ?? {}, {
      hideSuggestions: !deps.operationLimits.introspection,
    });
    if (variables.errors) return variables.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' } }));
    try {
      checkCost(deps.operationLimits, deps.schema, document, payload.variables ?? {}, payload.operationName);
      if (operation.operation === 'subscription') {
        for (const selection of operation.selectionSet.selections) {
          if (selection.kind !== 'Field') continue;
          const field = deps.schema.getSubscriptionType()?.getFields()[selection.name.value];
          if (!field) continue;
          const args = getArgumentValues(field, selection, variables.coerced);
          checkSubscriptionArgs(args);
          authorizeSubscription(field.name, args, actor);
        }
      }
    } catch (error) {
      return [inputError(error)];
    }
    const args: ExecutionArgs = {
      schema: deps.schema,
      document,
      operationName: payload.operationName,
      variableValues: payload.variables,
      contextValue: deps.context(`ws-${id}-${randomUUID()}`, actor, trace.setSpan(ROOT_CONTEXT, span), ctx),
    };
    return args;
  }

  const disposable = useServer<Record<string, unknown>>(
    {
      // graphql-ws closes a socket whose handling threw (4500) with the
      // exception's message as the reason unless it believes it runs in
      // production (NODE_ENV): the reason is always "Internal server error".
      isProd: true,
      schema: deps.schema,
      subscribe: sharedSubscribe(),
      connectionInitWaitTimeout: deps.limits.connectionInitTimeoutMs,
      /**
       * connection_init may carry `{ "authorization": "Bearer <token>" }`.
       * Without it the connection is anonymous (nothing to subscribe to but
       * errors say why); with a bad one it closes with 4403.
       */
      async onConnect(ctx) {
        try {
          const token = bearerToken(authorizationOf(ctx.connectionParams));
          if (!token) {
            callers.set(ctx, { actor: ANONYMOUS });
            return true;
          }
          const verified = await deps.tokens.verify(token);
          callers.set(ctx, { actor: verified.actor });
          closeAtExpiry(ctx, ctx.extra.socket, verified.expiresAt);
          return true;
        } catch (error) {
          if (!(error instanceof DomainError)) {
            // graphql-ws closes the socket with 4500 "Internal server error".
            deps.logger.error({ err: error }, 'unexpected error in websocket connection_init');
            throw error;
          }
          deps.logger.debug({ reason: error.message }, 'websocket authentication refused');
          return false;
        }
      },
      onClose(ctx) {
        clearTimeout(callers.get(ctx)?.expiry);
      },
      /**
       * Starts the operation's span (ended in onOperation once it has run —
       * for a subscription, once its stream is open — or here, when it is
       * refused), then checks the subscribe message's document (its `query`,
       * or the persisted one its `documentId` names) before anything runs.
       * Returning errors answers this operation alone with a protocol `error`
       * message; the connection stays usable.
       */
      async onSubscribe(ctx, id, payload) {
        const span = tracer.startSpan('GraphQL Operation', { kind: SpanKind.SERVER, attributes: { [ATTR.protocol]: 'websocket' } }, ROOT_CONTEXT);
        try {
          const prepared = await prepare(ctx, id, payload, span);
          if (Array.isArray(prepared)) endSpan(span, prepared.length ? errorCode(prepared[0]!) : OK);
          return prepared;
        } catch (error) {
          endSpan(span, 'INTERNAL_SERVER_ERROR');
          throw error;
        }
      },
      onOperation(_ctx, _id, _payload, args, result) {
        const span = spanIn((args.contextValue as GraphQLContext).traceContext);
        const errors = Symbol.asyncIterator in Object(result) ? undefined : (result as ExecutionResult).errors;
        endSpan(span, errors?.length ? errorCode(errors[0]!) : OK);
        return undefined;
      },
      onNext(ctx, _id, _payload, _args, result) {
        coalesceWrites(ctx.extra.request.socket);
        deps.onMessage?.();
        if (!result.errors?.length) return undefined;
        return { ...result, errors: result.errors.map((e) => deps.formatError(e as GraphQLError)) };
      },
      onError(_ctx, _id, _payload, errors) {
        return errors.map((e) => deps.formatError(e));
      },
    },
    wss,
    deps.limits.keepAliveMs,
  );
  return {
    wss,
    async stop() {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
    },
  };
}
