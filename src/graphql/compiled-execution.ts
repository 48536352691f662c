import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

export interface CompiledExecutionOptions {
  /**
   * A document's operation is compiled when it starts its run number
   * `compileAfter + 1`; the runs before go through graphql-js. Compiling
   * generates and evaluates JavaScript (about a millisecond for a small
   * query): worth it for the few documents clients repeat thousands of
   * times, not for one sent once. Default 2. 0 compiles on the first run;
   * Infinity never compiles (everything on graphql-js).
   */
  readonly compileAfter?: number;
  /** Called once per operation compiled (the server passes none; tests count compilations). Throwing is not caught. */
  readonly onCompiled?: (operationName: string | undefined) => void;
}

/** Apollo Server's `gateway` option, and the executor it loads. */
type Gateway = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;

interface Seen {
  runs: number;
  /** The compiled operation, or null when it cannot be compiled (it keeps running on graphql-js). */
  compiled?: CompiledQuery | null;
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as { then?: unknown } | null)?.then === 'function';

/**
 * A field error as graphql-js makes it. graphql-jit's errors inherit from
 * GraphQLError but leave `extensions` undefined where graphql-js always has
 * an object, which Apollo's error shaping reads.
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  const converted = new GraphQLError(error.message, { path: error.path, originalError: error.originalError, extensions: error.extensions ?? undefined });
  (converted as { locations: GraphQLError['locations'] }).locations = error.locations;
  if (error.originalError?.stack) converted.stack = error.originalError.stack;
  return converted;
}

/**
 * Executes queries with graphql-jit once their document is hot, and
 * everything else — mutations, subscriptions, the first runs of a document,
 * documents graphql-jit cannot compile — with graphql-js, as Apollo Server
 * would. Parsing, validation (with the limits), the cost check and error
 * shaping stay Apollo's: this replaces only the execution step, through
 * Apollo's gateway executor hook (`gateway()`).
 *
 * A compiled query answers what graphql-js answers for the same document and
 * variables (same data, same errors at the same paths; the end-to-end suite
 * runs every query through it): resolvers and scalars are the schema's own.
 * Compiled queries are kept per parsed document (Apollo keeps one parsed
 * document per query text in its LRU document store), so they go when the
 * store drops the document.
 */
export class CompiledExecution {
  private readonly compileAfter: number;
  private readonly seen = new WeakMap<DocumentNode, Map<string, Seen>>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly options: CompiledExecutionOptions = {},
  ) {
    this.compileAfter = options.compileAfter ?? 2;
    if (!(Number.isInteger(this.compileAfter) || this.compileAfter === Number.POSITIVE_INFINITY) || this.compileAfter < 0) {
      throw new TypeError(`CompiledExecution: compileAfter must be a whole number ≥ 0 or Infinity, got ${String(options.compileAfter)}`);
    }
  }

  /**
   * Runs one validated operation of `document` (`operationName` as the
   * request gave it). `operation` undefined: Apollo found none by that name
   * (or several without one), and graphql-js answers with the error saying so.
   */
  run(
    document: DocumentNode,
    operation: OperationDefinitionNode | undefined,
    operationName: string | undefined,
    contextValue: unknown,
    variables: Record<string, unknown> | undefined,
  ): Promise<ExecutionResult> | ExecutionResult {
    const graphqlJs = () => execute({ schema: this.schema, document, contextValue, variableValues: variables, operationName });
    const compiled = operation?.operation === 'query' ? this.compiledFor(document, operationName) : undefined;
    if (!compiled) return graphqlJs();
    const answer = (result: ExecutionResult): ExecutionResult | Promise<ExecutionResult> => {
      if (!result.errors?.length) return result;
      // A request error (variables that do not coerce): nothing ran, so
      // graphql-js answers it, with the errors Apollo recognises (BAD_USER_INPUT, 400).
      if (result.data === undefined || result.errors.some((e) => e.path === undefined)) return graphqlJs();
      return { ...result, errors: result.errors.map(asGraphQLJsError) };
    };
    const result = compiled.query(undefined, contextValue, variables ?? {});
    return isPromise(result) ? result.then(answer) : answer(result);
  }

  /** The compiled operation once it is hot, undefined before (or if it cannot be compiled). */
  private compiledFor(document: DocumentNode, operationName: string | undefined): CompiledQuery | undefined {
    let byName = this.seen.get(document);
    if (!byName) this.seen.set(document, (byName = new Map()));
    const key = operationName ?? '';
    let seen = byName.get(key);
    if (!seen) byName.set(key, (seen = { runs: 0 }));
    if (seen.compiled === undefined) {
      if (seen.runs++ < this.compileAfter) return undefined;
      const result = compileQuery(this.schema, document, operationName);
      seen.compiled = isCompiledQuery(result) ? result : null;
      if (seen.compiled) this.options.onCompiled?.(operationName);
    }
    return seen.compiled ?? undefined;
  }

  /** Apollo Server's executor hook: the request as Apollo validated it, run by `run`. */
  readonly executor: GatewayExecutor = async (request) =>
    this.run(request.document, request.operation, request.request.operationName ?? undefined, request.context, request.request.variables);

  /**
   * The object to pass as Apollo Server's `gateway` (instead of `schema`): it
   * hands Apollo this schema, which never changes, and the executor.
   */
  gateway(): Gateway {
    const schema = this.schema;
    return {
      onSchemaLoadOrUpdate(callback) {
        callback({ apiSchema: schema, coreSupergraphSdl: '' });
        return () => {};
      },
      load: async () => ({ executor: this.executor }),
      stop: async () => {},
    };
  }
}
