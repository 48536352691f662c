import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express from 'express';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { ANONYMOUS, type Actor } from '../domain/access.js';
import { DomainError } from '../domain/errors.js';
import { bearerToken, type TokenVerifier } from '../auth/tokens.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { Context } from '../observability/tracing.js';
import { createErrorFormatter } from '../graphql/errors.js';
import { CompiledExecution } from '../graphql/compiled-execution.js';
import { checkCost, limitRules, type OperationLimits } from '../graphql/limits.js';
import { createLoaders } from '../graphql/loaders.js';
import type { DocumentPolicy } from '../graphql/persisted-documents.js';
import { resolvers } from '../graphql/resolvers.js';
import { parseCursor } from '../eventlog/cursor.js';
import type { ProjectionOperations } from '../projections/operations.js';
import type { ProjectionProgress } from '../projections/progress.js';
import type { ReadModel } from '../projections/status.js';
import type { ViewCache } from '../read-models/cache/view-cache.js';
import type { ReadSession } from '../infrastructure/db/replica-router.js';
import type { SubscriptionHub } from '../subscriptions/hub.js';
import type { CommandService } from '../write/commands.js';
import { declaresTooLarge, refuseTooLarge } from './body-limit.js';
import { graphqlExpressHandler } from './graphql-express.js';
import { graphqlPostHandler, type ExecuteGraphQL } from './graphql-post.js';
import { HotQueries } from './hot-queries.js';
import { mediaTypeStatusPlugin, persistedDocumentRequest } from './graphql-over-http.js';
import { mountIde } from './ide.js';
import { RequestTracing } from './request-tracing.js';
import { attachWebSocket, type WebSocketLimits } from './websocket.js';

export const typeDefs = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');

export interface HttpServerDeps {
  readonly logger: Logger;
  readonly commands: CommandService;
  readonly read: ReadModel;
  /** The read models' views by id, cached. */
  readonly views: ViewCache;
  /**
   * The reads of one request: the read database, or with read replicas one
   * chosen for it (src/infrastructure/db/replica-router.ts). `minPosition`
   * is the request's `x-min-position` header, when it has one.
   */
  readonly readSession: (minPosition?: string) => ReadSession;
  readonly progress: ProjectionProgress;
  readonly operations: ProjectionOperations;
  readonly readYourWritesTimeoutMs: number;
  readonly subscriptions: SubscriptionHub;
  readonly webSocket: WebSocketLimits;
  /** Request bodies larger than this are refused with 413. */
  readonly maxBodyBytes: number;
  /** Whether the databases are reachable and fully migrated (rejecting: "database unavailable"). */
  readonly ready: () => Promise<Readiness>;
  /** Serve the GraphQL IDE to browsers at GET /graphql (src/server/ide.ts). */
  readonly ide?: boolean;
  /** Mints the development admin token the IDE puts into a local browser's Headers tab (embedded default only). */
  readonly ideDevToken?: () => Promise<string>;
  /** Checks bearer tokens (HTTP Authorization header, graphql-ws connection_init payload). */
  readonly tokens: TokenVerifier;
  /** Depth, alias, directive, token and cost limits; introspection on or off. */
  readonly limits: OperationLimits;
  /** The persisted documents (sent by `documentId`), and whether only they run (TRUSTED_DOCUMENTS). */
  readonly documents: DocumentPolicy;
  /** Served at GET /metrics (Prometheus text format) when given. */
  readonly metrics?: { render(): Promise<{ contentType: string; body: string }> };
  /** Called for every subscription message sent (metrics). */
  readonly onSubscriptionMessage?: () => void;
  /** Runs of a query document over HTTP before it is compiled (src/graphql/compiled-execution.ts; default 2). */
  readonly compileQueriesAfter?: number;
}

/** What a GraphQL context reads through (see readsOf in createHttpServer). */
type Reads = Pick<GraphQLContext, 'read' | 'loaders' | 'readAt'>;

/** A client-supplied id header, if it is a plausible id (nothing else reaches logs or events). */
function safeId(header: unknown): string | undefined {
  return typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : undefined;
}

/**
 * The caller of an HTTP request: anonymous without an Authorization header;
 * a header that does not hold a valid token is refused (401, UNAUTHENTICATED)
 * even where anonymous access would do — the client believes it is signed in.
 */
async function httpActor(tokens: TokenVerifier, header: string | undefined): Promise<Actor> {
  try {
    const token = bearerToken(header);
    return token ? (await tokens.verify(token)).actor : ANONYMOUS;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    throw new GraphQLError(error.message, {
      extensions: {
        code: error.code,
        http: { status: 401, headers: new Map([['www-authenticate', 'Bearer error="invalid_token"']]) },
      },
    });
  }
}

/**
 * A request header with a position the client has seen (a mutation's
 * `position`, an `Order.position`): the request reads state that includes
 * it, from a replica that has replayed it or else the read primary, as a
 * mutation payload does (read-your-writes across requests).
 */
export const MIN_POSITION_HEADER = 'x-min-position';

/** What /readyz answers: 200 when ready, else 503 with the reason; `databases` says how each one is (with a read database of its own). */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
  readonly databases?: Record<string, string>;
}

export interface HttpServer {
  readonly server: http.Server;
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish, then closes. */
  stop(): Promise<void>;
  readonly webSocketServer: import('ws').WebSocketServer;
}

/** One HTTP server: GraphQL at /graphql, liveness at /healthz, readiness at /readyz. */
export async function createHttpServer(deps: HttpServerDeps): Promise<HttpServer> {
  const app = express();
  // POST /graphql with a JSON body skips express (graphql-post.ts); set once Apollo has started.
  let graphqlPost: ReturnType<typeof graphqlPostHandler> | undefined;
  const tracing = new RequestTracing();
  const dispatch = (req: http.IncomingMessage, res: http.ServerResponse) => {
    tracing.start(req, res);
    // Whatever the route: no body above the limit is ever read.
    if (declaresTooLarge(req, deps.maxBodyBytes)) return refuseTooLarge(req, res, deps.maxBodyBytes);
    return graphqlPost?.accepts(req) ? graphqlPost.serve(req, res) : app(req, res);
  };
  const server = http.createServer(dispatch);
  // `Expect: 100-continue`: the client waits to be told to send its body; one too large is refused instead.
  server.on('checkContinue', (req, res) => {
    tracing.start(req, res);
    if (declaresTooLarge(req, deps.maxBodyBytes)) return refuseTooLarge(req, res, deps.maxBodyBytes);
    res.writeContinue();
    dispatch(req, res);
  });
  const schema = makeExecutableSchema({ typeDefs, resolvers: resolvers as never });
  const formatError = createErrorFormatter(deps.logger);
  /** What a context reads through: one read session, and the DataLoaders over it. */
  const readsOf = (cache: boolean, minPosition?: string): Reads => {
    const session = deps.readSession(minPosition);
    const read = { ...deps.read, db: session.db };
    const loaders = createLoaders(read, deps.views, {
      cache,
      // A request's `x-min-position`: no cached view older than it either (the session waits for it).
      atLeast: minPosition === undefined ? undefined : { position: parseCursor(minPosition), ready: () => session.ready() },
    });
    return { read, loaders, readAt: (lsn) => session.require(lsn) };
  };
  const context = (requestId: string, actor: Actor, reads: Reads, traceContext: Context, correlationId = requestId): GraphQLContext => ({
    requestId,
    correlationId,
    actor,
    logger: deps.logger.child(correlationId === requestId ? { requestId } : { requestId, correlationId }),
    commands: deps.commands,
    read: reads.read,
    loaders: reads.loaders,
    readAt: reads.readAt,
    progress: deps.progress,
    operations: deps.operations,
    subscriptions: deps.subscriptions,
    readYourWritesTimeoutMs: deps.readYourWritesTimeoutMs,
    traceContext,
  });
  // The operations of one WebSocket connection share one read session and its
  // uncached loaders: a subscription keeps its context while it is open, and a
  // connection with 100 of them need not hold 100 sets of DataLoaders (uncached,
  // sharing them only lets their batches grow).
  const connectionReads = new WeakMap<object, Reads>();
  const readsOfConnection = (connection: object): Reads => {
    let reads = connectionReads.get(connection);
    if (!reads) connectionReads.set(connection, (reads = readsOf(false)));
    return reads;
  };
  const ws = attachWebSocket(server, {
    schema,
    logger: deps.logger,
    limits: deps.webSocket,
    operationLimits: deps.limits,
    onMessage: deps.onSubscriptionMessage,
    tokens: deps.tokens,
    documents: deps.documents,
    context: (requestId, actor, traceContext, connection) => context(requestId, actor, readsOfConnection(connection), traceContext),
    formatError: (error) => formatError(error.toJSON(), error) as ReturnType<typeof error.toJSON>,
  });
  // Queries clients repeat run compiled (graphql-jit) once hot; the rest on graphql-js.
  const execution = new CompiledExecution(schema, { compileAfter: deps.compileQueriesAfter });
  const apollo = new ApolloServer<GraphQLContext>({
    gateway: execution.gateway(),
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: deps.limits.introspection,
    // No "Did you mean …?" hints that would map the schema when introspection is off.
    hideSchemaDetailsFromClientErrors: !deps.limits.introspection,
    validationRules: limitRules(deps.limits),
    parseOptions: { maxTokens: deps.limits.maxTokens },
    // Stated, not left to defaults: one operation per request, and no
    // "simple" (CSRF-able) requests — POSTs need a JSON content type, GETs a
    // preflight-forcing header.
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // Automatic persisted queries keep documents clients sent: with trusted documents the manifest is the only store.
    ...(deps.documents.trustedOnly ? { persistedQueries: false as const } : {}),
    // main.ts owns SIGINT/SIGTERM (stop everything, close the database); Apollo's
    // own handler would re-raise the signal and kill the process mid-shutdown.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      ApolloServerPluginLandingPageDisabled(),
      // The schema has no @cacheControl hints, so every answer is uncacheable; the
      // default cache-control plugin still wraps every field resolver to compute
      // that. Send its verdict directly.
      ApolloServerPluginCacheControlDisabled(),
      { requestDidStart: async () => ({ willSendResponse: async ({ response }) => void response.http.headers.set('cache-control', 'no-store') }) },
      // Close subscriptions when Apollo drains the server.
      { serverWillStart: async () => ({ drainServer: () => ws.stop() }) },
      // 200 for request errors to clients that read only application/json (GraphQL over HTTP).
      mediaTypeStatusPlugin(),
      // Names each request's span after its operation, with what it answered.
      tracing.plugin(),
      // Cost needs the variables (page sizes usually are), hence after validation.
      {
        requestDidStart: async () => ({
          didResolveOperation: async ({ document, request, operationName }) => {
            checkCost(deps.limits, schema, document, request.variables, operationName);
          },
        }),
      },
    ],
  });
  await apollo.start();
  // Set by stop(): from then on Apollo answers every request (it refuses new ones once stopped).
  let stopping = false;
  const hotQueries = new HotQueries({
    execution,
    tracing,
    checkCost: (document, variables, operationName) => checkCost(deps.limits, schema, document, variables, operationName),
  });
  /** Request and correlation ids, echoed back. */
  const requestIds = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const requestId = safeId(req.headers['x-request-id']) ?? randomUUID();
    const correlationId = safeId(req.headers['x-correlation-id']) ?? requestId;
    res.setHeader('x-request-id', requestId);
    res.setHeader('x-correlation-id', correlationId);
    return { requestId, correlationId };
  };
  /**
   * Every GraphQL request over HTTP, on either path (graphql-post.ts, and
   * express for GET and other bodies): the caller from the Authorization
   * header, then the document the request names (persistedDocumentRequest:
   * `documentId` becomes the manifest's document, or the request is refused),
   * then a hot query's answer (hot-queries.ts) or Apollo. A bad token or a
   * refusal is thrown from the context function: Apollo answers it after its
   * CSRF check, with the error's status, shaped by formatError, and runs
   * nothing.
   */
  const executeGraphQL: ExecuteGraphQL = async (request, req, res) => {
    const caller = await httpActor(deps.tokens, req.headers.authorization).then(
      (actor) => ({ actor }),
      (error: unknown) => ({ error }),
    );
    const named = 'actor' in caller ? persistedDocumentRequest(request, deps.documents, caller.actor) : { request };
    let made: GraphQLContext | undefined;
    const contextOf = (actor: Actor) => {
      const { requestId, correlationId } = requestIds(req, res);
      const minPosition = req.headers[MIN_POSITION_HEADER];
      return context(requestId, actor, readsOf(true, Array.isArray(minPosition) ? minPosition[0] : minPosition), tracing.contextOf(req), correlationId);
    };
    if ('actor' in caller && 'request' in named && !stopping) {
      const answer = await hotQueries.answer(named.request, () => (made = contextOf(caller.actor)));
      if (answer) return answer;
    }
    return apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: 'request' in named ? named.request : request,
      context: async () => {
        if (made) return made;
        if ('error' in caller) {
          requestIds(req, res);
          throw caller.error;
        }
        if ('refused' in named) {
          requestIds(req, res);
          throw named.refused;
        }
        return contextOf(caller.actor);
      },
    });
  };

  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const state = await deps.ready().catch((error: unknown): Readiness => {
      deps.logger.warn({ err: error }, 'readiness check failed');
      return { ready: false, reason: 'database unavailable' };
    });
    res.status(state.ready ? 200 : 503).json({ status: state.ready ? 'ready' : 'not ready', reason: state.reason, databases: state.databases });
  });
  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', async (_req, res) => {
      try {
        const { contentType, body } = await metrics.render();
        res.setHeader('Content-Type', contentType);
        res.send(body);
      } catch (error) {
        deps.logger.warn({ err: error }, 'metrics could not be collected');
        res.status(503).type('text/plain').send('metrics unavailable\n');
      }
    });
  }
  mountIde(app, { enabled: deps.ide ?? false, devToken: deps.ideDevToken });
  app.use('/graphql', express.json({ limit: deps.maxBodyBytes }), graphqlExpressHandler(executeGraphQL));
  graphqlPost = graphqlPostHandler({
    execute: executeGraphQL,
    maxBodyBytes: deps.maxBodyBytes,
    onError: (error) => deps.logger.error({ err: error }, 'unexpected error serving POST /graphql'),
  });
  // Errors before GraphQL (unparsable or oversized bodies) get a GraphQL-shaped
  // JSON answer, never express's HTML page with a stack trace.
  app.use((error: unknown, req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(error);
    const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown };
    // An inflated body past the limit: the same answer and drain as on the direct path.
    if (type === 'entity.too.large') return refuseTooLarge(req, res, deps.maxBodyBytes);
    const [code, message] =
      type === 'entity.parse.failed'
        ? ['BAD_REQUEST', 'The request body is not valid JSON']
        : typeof status === 'number' && status >= 400 && status < 500
          ? ['BAD_REQUEST', 'The request could not be read']
          : ['INTERNAL_SERVER_ERROR', 'Internal server error'];
    if (code === 'INTERNAL_SERVER_ERROR') deps.logger.error({ err: error }, 'unexpected error before GraphQL');
    const httpStatus = typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
    res.status(httpStatus).json({ errors: [{ message, extensions: { code } }] });
  });

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      }),
    stop: () => {
      stopping = true;
      return apollo.stop();
    },
    webSocketServer: ws.wss,
  };
}
