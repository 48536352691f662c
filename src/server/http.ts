import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
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
import { createErrorFormatter } from '../graphql/errors.js';
import { checkCost, limitRules, type OperationLimits } from '../graphql/limits.js';
import { createLoaders } from '../graphql/loaders.js';
import { resolvers } from '../graphql/resolvers.js';
import type { ProjectionOperations } from '../projections/operations.js';
import type { ProjectionProgress } from '../projections/progress.js';
import type { ReadModel } from '../projections/status.js';
import type { ViewCache } from '../read-models/cache/view-cache.js';
import type { SubscriptionHub } from '../subscriptions/hub.js';
import type { CommandService } from '../write/commands.js';
import { declaresTooLarge, refuseTooLarge } from './body-limit.js';
import { graphqlPostHandler } from './graphql-post.js';
import { mediaTypeStatusPlugin } from './graphql-over-http.js';
import { mountIde } from './ide.js';
import { attachWebSocket, type WebSocketLimits } from './websocket.js';

export const typeDefs = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');

export interface HttpServerDeps {
  readonly logger: Logger;
  readonly commands: CommandService;
  readonly read: ReadModel;
  /** The read models' views by id, cached. */
  readonly views: ViewCache;
  readonly progress: ProjectionProgress;
  readonly operations: ProjectionOperations;
  readonly readYourWritesTimeoutMs: number;
  readonly subscriptions: SubscriptionHub;
  readonly webSocket: WebSocketLimits;
  /** Request bodies larger than this are refused with 413. */
  readonly maxBodyBytes: number;
  /** Resolves when the database is reachable and fully migrated. */
  readonly ready: () => Promise<{ ready: boolean; reason?: string }>;
  /** Serve the GraphQL IDE to browsers at GET /graphql (src/server/ide.ts). */
  readonly ide?: boolean;
  /** Mints the development admin token the IDE puts into a local browser's Headers tab (embedded default only). */
  readonly ideDevToken?: () => Promise<string>;
  /** Checks bearer tokens (HTTP Authorization header, graphql-ws connection_init payload). */
  readonly tokens: TokenVerifier;
  /** Depth, alias, directive, token and cost limits; introspection on or off. */
  readonly limits: OperationLimits;
  /** Served at GET /metrics (Prometheus text format) when given. */
  readonly metrics?: { render(): Promise<{ contentType: string; body: string }> };
  /** Called for every subscription message sent (metrics). */
  readonly onSubscriptionMessage?: () => void;
}

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
  let graphqlPost: ReturnType<typeof graphqlPostHandler<GraphQLContext>> | undefined;
  const dispatch = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // Whatever the route: no body above the limit is ever read.
    if (declaresTooLarge(req, deps.maxBodyBytes)) return refuseTooLarge(req, res, deps.maxBodyBytes);
    return graphqlPost?.accepts(req) ? graphqlPost.serve(req, res) : app(req, res);
  };
  const server = http.createServer(dispatch);
  // `Expect: 100-continue`: the client waits to be told to send its body; one too large is refused instead.
  server.on('checkContinue', (req, res) => {
    if (declaresTooLarge(req, deps.maxBodyBytes)) return refuseTooLarge(req, res, deps.maxBodyBytes);
    res.writeContinue();
    dispatch(req, res);
  });
  const schema = makeExecutableSchema({ typeDefs, resolvers: resolvers as never });
  const formatError = createErrorFormatter(deps.logger);
  const context = (requestId: string, actor: Actor, cache: boolean, correlationId = requestId): GraphQLContext => ({
    requestId,
    correlationId,
    actor,
    logger: deps.logger.child(correlationId === requestId ? { requestId } : { requestId, correlationId }),
    commands: deps.commands,
    read: deps.read,
    loaders: createLoaders(deps.read, deps.views, { cache }),
    progress: deps.progress,
    operations: deps.operations,
    subscriptions: deps.subscriptions,
    readYourWritesTimeoutMs: deps.readYourWritesTimeoutMs,
  });
  const ws = attachWebSocket(server, {
    schema,
    logger: deps.logger,
    limits: deps.webSocket,
    operationLimits: deps.limits,
    onMessage: deps.onSubscriptionMessage,
    tokens: deps.tokens,
    context: (requestId, actor) => context(requestId, actor, false),
    formatError: (error) => formatError(error.toJSON(), error) as ReturnType<typeof error.toJSON>,
  });
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
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
  /** Request and correlation ids (echoed back), and the caller from the Authorization header. */
  const httpContext = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<GraphQLContext> => {
    const requestId = safeId(req.headers['x-request-id']) ?? randomUUID();
    const correlationId = safeId(req.headers['x-correlation-id']) ?? requestId;
    res.setHeader('x-request-id', requestId);
    res.setHeader('x-correlation-id', correlationId);
    return context(requestId, await httpActor(deps.tokens, req.headers.authorization), true, correlationId);
  };

  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const state = await deps.ready().catch((error: unknown) => {
      deps.logger.warn({ err: error }, 'readiness check failed');
      return { ready: false, reason: 'database unavailable' };
    });
    res.status(state.ready ? 200 : 503).json({ status: state.ready ? 'ready' : 'not ready', reason: state.reason });
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
  app.use(
    '/graphql',
    express.json({ limit: deps.maxBodyBytes }),
    expressMiddleware(apollo, { context: ({ req, res }) => httpContext(req, res) }),
  );
  graphqlPost = graphqlPostHandler({
    apollo,
    maxBodyBytes: deps.maxBodyBytes,
    context: httpContext,
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
    stop: () => apollo.stop(),
    webSocketServer: ws.wss,
  };
}
