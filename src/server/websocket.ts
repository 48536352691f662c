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
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import { DomainError } from '../domain/errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { checkSubscriptionArgs } from '../graphql/resolvers/subscriptions.js';

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
  /** Builds the context of one subscription. */
  readonly context: (requestId: string) => GraphQLContext;
  readonly formatError: (error: GraphQLError) => ReturnType<GraphQLError['toJSON']>;
}

function inputError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  if (error instanceof DomainError) {
    return new GraphQLError(error.message, { extensions: { code: error.code, ...error.details } });
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
  const disposable = useServer<Record<string, unknown>>(
    {
      schema: deps.schema,
      connectionInitWaitTimeout: deps.limits.connectionInitTimeoutMs,
      async onSubscribe(ctx, id, payload) {
        if (Object.keys(ctx.subscriptions).length > deps.limits.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(`At most ${deps.limits.maxSubscriptionsPerConnection} subscriptions per connection`, {
              extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
            }),
          ];
        }
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          const syntax = error as GraphQLError;
          return [new GraphQLError(syntax.message, { nodes: syntax.nodes, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const errors = validate(deps.schema, document);
        if (errors.length) {
          return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
        }
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) {
          return [new GraphQLError('Unable to identify the operation to run: send one operation, or name it with operationName', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
        }
        const variables = getVariableValues(deps.schema, operation.variableDefinitions ?? [], payload.variables ?? {});
        if (variables.errors) return variables.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' } }));
        if (operation.operation === 'subscription') {
          try {
            for (const selection of operation.selectionSet.selections) {
              if (selection.kind !== 'Field') continue;
              const field = deps.schema.getSubscriptionType()?.getFields()[selection.name.value];
              if (field) checkSubscriptionArgs(field.name, getArgumentValues(field, selection, variables.coerced));
            }
          } catch (error) {
            return [inputError(error)];
          }
        }
        const args: ExecutionArgs = {
          schema: deps.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: deps.context(`ws-${id}-${randomUUID()}`),
        };
        return args;
      },
      onNext(_ctx, _id, _payload, _args, result) {
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
