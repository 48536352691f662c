import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import {
  GraphQLError,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  parse,
  validate,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, type Context } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import { bearerToken, type TokenVerifier } from '../auth/tokens.js';
import { ANONYMOUS, type Actor } from '../domain/access.js';
import { DomainError } from '../domain/errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { allValidationRules, checkCost, type OperationLimits } from '../graphql/limits.js';
import { authorizeSubscription, checkSubscriptionArgs } from '../graphql/resolvers/subscriptions.js';

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
  /** Builds the context of one subscription. */
  readonly context: (requestId: string, actor: Actor) => GraphQLContext;
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

/**
 * graphql-ws (protocol graphql-transport-ws) on the HTTP server's /graphql.
 * A thin adapter: subscriptions themselves live in the hub. Requests are
 * parsed, validated and their arguments checked up front, so a bad
 * subscription gets a protocol `error` message and the connection stays usable.
 */
export function attachWebSocket(server: http.Server, deps: WebSocketDeps) {
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: deps.limits.maxMessageBytes });
  // Each connection's caller, from its connection_init payload, and the timer that ends it with the token.
  const callers = new WeakMap<Context, { actor: Actor; expiry?: NodeJS.Timeout }>();
  const validationRules = allValidationRules(deps.operationLimits);

  /** Closes the socket with 4403 when the token expires (re-armed past setTimeout's range). */
  function closeAtExpiry(ctx: Context, socket: { close(code: number, reason: string): void }, expiresAt: Date) {
    const caller = callers.get(ctx)!;
    const remaining = expiresAt.getTime() - Date.now();
    caller.expiry = setTimeout(
      () => (remaining > MAX_TIMER_MS ? closeAtExpiry(ctx, socket, expiresAt) : socket.close(CloseCode.Forbidden, 'Token expired')),
      Math.max(0, Math.min(remaining, MAX_TIMER_MS)),
    );
    caller.expiry.unref();
  }

  const disposable = useServer<Record<string, unknown>>(
    {
      schema: deps.schema,
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
          if (!(error instanceof DomainError)) throw error;
          deps.logger.debug({ reason: error.message }, 'websocket authentication refused');
          return false;
        }
      },
      onClose(ctx) {
        clearTimeout(callers.get(ctx)?.expiry);
      },
      async onSubscribe(ctx, id, payload) {
        const actor = callers.get(ctx)?.actor ?? ANONYMOUS;
        if (Object.keys(ctx.subscriptions).length > deps.limits.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(`At most ${deps.limits.maxSubscriptionsPerConnection} subscriptions per connection`, {
              extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
            }),
          ];
        }
        let document;
        try {
          document = parse(payload.query, { maxTokens: deps.operationLimits.maxTokens });
        } catch (error) {
          const syntax = error as GraphQLError;
          return [new GraphQLError(syntax.message, { nodes: syntax.nodes, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const errors = validate(deps.schema, document, validationRules, { hideSuggestions: !deps.operationLimits.introspection });
        if (errors.length) {
          return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
        }
        const operation = getOperationAST(document, payload.operationName);
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
              checkSubscriptionArgs(field.name, args);
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
          contextValue: deps.context(`ws-${id}-${randomUUID()}`, actor),
        };
        return args;
      },
      onNext(_ctx, _id, _payload, _args, result) {
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
