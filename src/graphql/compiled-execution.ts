import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LRUCache } from 'lru-cache';

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
  /**
   * How many compiled queries are kept by their query text for `hot`
   * (default 1,000), and how many characters of query text they may hold
   * together (default 4 MiB): a client sending ever new documents evicts
   * the oldest, never grows the process.
   */
  readonly maxHot?: number;
  readonly maxHotChars?: number;
}

/**
 * A query Apollo has parsed and validated (with the limits), seen run
 * `compileAfter` times and that is now compiled: what the hot path
 * (src/server/hot-queries.ts) runs without Apollo's request pipeline.
 * Validation depends on the document only, so having passed once it passes
 * for every request that sends the same text.
 */
export interface HotQuery {
  readonly document: DocumentNode;
  /** The operation the request's `operationName` chose. */
  readonly operation: OperationDefinitionNode;
  readonly compiled: CompiledQuery;
}

/** Apollo Server's `gateway` option, and the executor it loads. */
type Gateway = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;

interface Seen {
  runs: number;
  /** The compiled operation, or null when it cannot be compiled (it keeps running on graphql-js). */
  compiled?: CompiledQuery | null;
}

/** Names cannot hold a newline: the key's first one ends the operation name. */
const hotKey = (source: string, operationName: string | undefined) => `${operationName ?? ''}\n${source}`;

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
  /** Compiled queries by operation name and query text (`hotKey`). */
  private readonly hotQueries: LRUCache<string, HotQuery>;
  /** Results computed before Apollo's pipeline ran, by the context they were computed with (`answerWith`). */
  private readonly answered = new WeakMap<object, ExecutionResult>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly options: CompiledExecutionOptions = {},
  ) {
    this.compileAfter = options.compileAfter ?? 2;
    if (!(Number.isInteger(this.compileAfter) || this.compileAfter === Number.POSITIVE_INFINITY) || this.compileAfter < 0) {
      throw new TypeError(`CompiledExecution: compileAfter must be a whole number ≥ 0 or Infinity, got ${String(options.compileAfter)}`);
    }
    this.hotQueries = new LRUCache({
      max: options.maxHot ?? 1000,
      maxSize: options.maxHotChars ?? 4 * 1024 * 1024,
      sizeCalculation: (_query, key) => Math.max(1, key.length),
    });
  }

  /**
   * The compiled query for this query text and operation name, once Apollo
   * has served it and it is hot; undefined otherwise (the request goes
   * through Apollo, which compiles it when its time comes).
   */
  hot(source: string, operationName: string | undefined): HotQuery | undefined {
    return this.hotQueries.get(hotKey(source, operationName));
  }

  /**
   * Hands Apollo a result already computed with `context` (by the hot path,
   * which met errors): when Apollo's pipeline reaches execution for a request
   * with that context, it gets this result instead of running the operation
   * again, and shapes its errors as always. Used once; a context Apollo never
   * executes with (it refused the request first) just lets it go.
   */
  answerWith(context: object, result: ExecutionResult): void {
    this.answered.set(context, result);
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
    const result = this.runCompiled(compiled, contextValue, variables);
    return isPromise(result) ? result.then((r) => r ?? graphqlJs()) : (result ?? graphqlJs());
  }

  /**
   * Runs a hot query (`hot`) as `run` runs it once compiled: the same
   * result, or undefined when its variables do not coerce — nothing ran, and
   * graphql-js (through Apollo) answers with the errors clients know.
   */
  runHot(hot: HotQuery, contextValue: unknown, variables: Record<string, unknown> | undefined): Promise<ExecutionResult | undefined> | ExecutionResult | undefined {
    return this.runCompiled(hot.compiled, contextValue, variables);
  }

  private runCompiled(compiled: CompiledQuery, contextValue: unknown, variables: Record<string, unknown> | undefined) {
    const answer = (result: ExecutionResult): ExecutionResult | undefined => {
      if (!result.errors?.length) return result;
      // A request error (variables that do not coerce): graphql-js answers it,
      // with the errors Apollo recognises (BAD_USER_INPUT, 400).
      if (result.data === undefined || result.errors.some((e) => e.path === undefined)) return undefined;
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

  /**
   * Apollo Server's executor hook: the request as Apollo validated it, run
   * by `run` (or answered by `answerWith`). A query compiled here is
   * remembered by its text for `hot`.
   */
  readonly executor: GatewayExecutor = async (request) => {
    const ready = this.answered.get(request.context);
    if (ready) {
      this.answered.delete(request.context);
      return ready;
    }
    const operationName = request.request.operationName ?? undefined;
    const result = this.run(request.document, request.operation, operationName, request.context, request.request.variables);
    if (request.operation?.operation === 'query' && request.source !== undefined) {
      const compiled = this.seen.get(request.document)?.get(operationName ?? '')?.compiled;
      const key = hotKey(request.source, operationName);
      if (compiled && !this.hotQueries.has(key)) this.hotQueries.set(key, { document: request.document, operation: request.operation, compiled });
    }
    return result;
  };

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
