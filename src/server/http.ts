import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express from 'express';
import type { Logger } from 'pino';
import type { GraphQLContext } from '../graphql/context.js';
import { createErrorFormatter } from '../graphql/errors.js';
import { createLoaders } from '../graphql/loaders.js';
import { resolvers } from '../graphql/resolvers.js';
import type { ProjectionProgress } from '../projections/progress.js';
import type { ReadModel } from '../projections/read-model.js';
import type { SubscriptionHub } from '../subscriptions/hub.js';
import type { CommandService } from '../write/commands.js';
import { mountIde } from './ide.js';
import { attachWebSocket, type WebSocketLimits } from './websocket.js';

export const typeDefs = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');

export interface HttpServerDeps {
  readonly logger: Logger;
  readonly commands: CommandService;
  readonly read: ReadModel;
  readonly progress: ProjectionProgress;
  readonly readYourWritesTimeoutMs: number;
  readonly subscriptions: SubscriptionHub;
  readonly webSocket: WebSocketLimits;
  /** Request bodies larger than this are refused with 413. */
  readonly maxBodyBytes: number;
  /** Resolves when the database is reachable and fully migrated. */
  readonly ready: () => Promise<{ ready: boolean; reason?: string }>;
  /** Serve the GraphQL IDE to browsers at GET /graphql (src/server/ide.ts). */
  readonly ide?: boolean;
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
  const server = http.createServer(app);
  const schema = makeExecutableSchema({ typeDefs, resolvers: resolvers as never });
  const formatError = createErrorFormatter(deps.logger);
  const context = (requestId: string, cache: boolean): GraphQLContext => ({
    requestId,
    logger: deps.logger.child({ requestId }),
    commands: deps.commands,
    read: deps.read,
    loaders: createLoaders(deps.read, { cache }),
    progress: deps.progress,
    subscriptions: deps.subscriptions,
    readYourWritesTimeoutMs: deps.readYourWritesTimeoutMs,
  });
  const ws = attachWebSocket(server, {
    schema,
    logger: deps.logger,
    limits: deps.webSocket,
    context: (requestId) => context(requestId, false),
    formatError: (error) => formatError(error.toJSON(), error) as ReturnType<typeof error.toJSON>,
  });
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGINT/SIGTERM (stop everything, close the database); Apollo's
    // own handler would re-raise the signal and kill the process mid-shutdown.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      ApolloServerPluginLandingPageDisabled(),
      // Close subscriptions when Apollo drains the server.
      { serverWillStart: async () => ({ drainServer: () => ws.stop() }) },
    ],
  });
  await apollo.start();

  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const state = await deps.ready().catch((error: unknown) => ({ ready: false, reason: String(error) }));
    res.status(state.ready ? 200 : 503).json({ status: state.ready ? 'ready' : 'not ready', reason: state.reason });
  });
  mountIde(app, { enabled: deps.ide ?? false });
  app.use(
    '/graphql',
    express.json({ limit: deps.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const header = req.headers['x-request-id'];
        const requestId = typeof header === 'string' && /^[\w.-]{1,128}$/.test(header) ? header : randomUUID();
        res.setHeader('x-request-id', requestId);
        return context(requestId, true);
      },
    }),
  );

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
