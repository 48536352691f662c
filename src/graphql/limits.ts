import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isListType,
  isObjectType,
  Kind,
  specifiedRules,
  visit,
  type DocumentNode,
  type GraphQLOutputType,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_CONNECTION_SIZE } from './pages.js';

/**
 * What one GraphQL operation may ask for. Applied identically to HTTP
 * (Apollo) and WebSocket (graphql-ws) requests. Defaults and reasons: README
 * "Limits on hostile queries".
 */
export interface OperationLimits {
  /** Deepest field nesting (fragments flattened). */
  readonly maxDepth: number;
  /** Aliased fields per operation. */
  readonly maxAliases: number;
  /** Directives per operation. */
  readonly maxDirectives: number;
  /** Lexical tokens per document; checked while parsing, so a huge document costs little. */
  readonly maxTokens: number;
  /** Estimated cost (see `estimateCost`). */
  readonly maxCost: number;
  /** Schema introspection (`__schema`, `__type`). */
  readonly introspection: boolean;
}

/**
 * How many items a list field is assumed to return when it takes no page
 * size: an order's lines (at most 100, usually a few) and the projections.
 */
const UNPAGED_LIST_ESTIMATE = 10;

/** A connection (Relay): a type with `edges` and `pageInfo`. */
function isConnection(type: GraphQLOutputType): boolean {
  const named = getNamedType(type);
  return isObjectType(named) && 'edges' in named.getFields() && 'pageInfo' in named.getFields();
}

/**
 * Cost ≈ the number of values the response can hold: every field costs 1; a
 * field with a `pageSize` argument costs `pageSize` × what its page selects,
 * a connection `first` or `last` (else its default size) × what it selects
 * (the page's item list or the connection's edges are not multiplied again);
 * any other list costs UNPAGED_LIST_ESTIMATE × its selection. So
 * `orders(pageSize: 100) { orders { items { product { name } } } }` costs
 * about 100 × 10 × 3 — pagination and nesting multiply, as they do on the
 * database and in the response. Introspection costs nothing here (see below).
 */
const listEstimator: ComplexityEstimator = ({ type, args, field, childComplexity }) => {
  // Introspection (`__schema`, `__type`) is not costed: graphql's own
  // MaxIntrospectionDepthRule (in specifiedRules) stops its cyclic queries,
  // the token limit bounds its size, and production turns it off.
  if (field.name.startsWith('__')) return 0;
  if (typeof args.pageSize === 'number') return 1 + Math.max(0, args.pageSize) * childComplexity;
  if (isConnection(field.type)) {
    const size = [args.first, args.last].find((n): n is number => typeof n === 'number') ?? DEFAULT_CONNECTION_SIZE;
    return 1 + Math.max(0, size) * childComplexity;
  }
  if (!isListType(getNullableType(field.type))) return undefined;
  const isPage = 'getFields' in type && ('pageSize' in type.getFields() || 'pageInfo' in type.getFields());
  return 1 + (isPage ? 1 : UNPAGED_LIST_ESTIMATE) * childComplexity;
};

const ESTIMATORS = [listEstimator, simpleEstimator({ defaultComplexity: 1 })];

/**
 * Fields the estimator visits at most, fragments expanded at every spread
 * (graphql-query-complexity's own default, stated): a document that expands
 * past it is refused as too complex to estimate. The example operations
 * visit fewer than 200.
 */
const MAX_ESTIMATED_NODES = 10_000;

/**
 * The estimated cost of running `operationName` of `document` with
 * `variables`. Throws when it cannot be estimated: variables or arguments
 * that do not coerce, more than MAX_ESTIMATED_NODES fields.
 */
export function estimateCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
): number {
  return getComplexity({
    schema,
    query: document,
    variables: variables ?? {},
    operationName: operationName ?? undefined,
    estimators: ESTIMATORS,
    maxQueryNodes: MAX_ESTIMATED_NODES,
  });
}

/** Whether the operation's variables coerce (execution reports those that do not, before anything runs). */
function variablesCoerce(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
): boolean {
  const operation = getOperationAST(document, operationName);
  return !getVariableValues(schema, operation?.variableDefinitions ?? [], variables ?? {}).errors;
}

/**
 * GraphQL Armor's rules throw their error out of validation by default (a
 * 500 over HTTP, a closed socket over WebSocket); report it as a validation
 * error instead, without its misleading "Syntax Error:" prefix.
 */
const asValidationError = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { nodes: error.nodes })),
  ],
};

/** Validation rules on top of GraphQL's own: depth, aliases, directives, and introspection when it is off. */
export function limitRules(limits: OperationLimits): ValidationRule[] {
  const rules: ValidationRule[] = [
    maxDepthRule({ n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true, ...asValidationError }) as ValidationRule,
    maxAliasesRule({ n: limits.maxAliases, ...asValidationError }) as ValidationRule,
    maxDirectivesRule({ n: limits.maxDirectives, ...asValidationError }) as ValidationRule,
  ];
  if (!limits.introspection) rules.push(NoSchemaIntrospectionCustomRule);
  return rules;
}

/** GraphQL's specified rules plus ours (for transports that validate themselves). */
export function allValidationRules(limits: OperationLimits): ValidationRule[] {
  return [...specifiedRules, ...limitRules(limits)];
}

/** The arguments the estimator reads (listEstimator), and `if` of @include/@skip, which decides what is counted. */
const PRICED_ARGUMENTS = new Set(['pageSize', 'first', 'last']);
/** Distinct pricing inputs remembered per document (a document's page sizes rarely vary more). */
const COSTS_PER_DOCUMENT = 64;

interface DocumentPricing {
  /** Variables whose values the cost depends on. */
  readonly pricing: readonly string[];
  /** Every variable declared: one sent as null (or left out) can make an argument fail to coerce, which the estimate reports. */
  readonly declared: readonly string[];
  readonly costs: Map<string, number>;
}
const pricingByDocument = new WeakMap<DocumentNode, DocumentPricing>();

function pricingOf(document: DocumentNode): DocumentPricing {
  let pricing = pricingByDocument.get(document);
  if (!pricing) {
    const priced = new Set<string>();
    const declared = new Set<string>();
    visit(document, {
      VariableDefinition: (node) => void declared.add(node.variable.name.value),
      Field: (node) => {
        for (const arg of node.arguments ?? []) if (PRICED_ARGUMENTS.has(arg.name.value) && arg.value.kind === Kind.VARIABLE) priced.add(arg.value.name.value);
      },
      Directive: (node) => {
        for (const arg of node.arguments ?? []) if (arg.name.value === 'if' && arg.value.kind === Kind.VARIABLE) priced.add(arg.value.name.value);
      },
    });
    pricing = { pricing: [...priced], declared: [...declared], costs: new Map() };
    pricingByDocument.set(document, pricing);
  }
  return pricing;
}

/**
 * The cost of `document` with these variables, estimated once per pricing
 * input: the operation, the values of the variables the estimate reads, and
 * which variables are null or missing. Everything else (an id, an input
 * object) changes nothing the estimator counts. Estimating walks the whole
 * operation with type information, about a tenth of a small query's CPU;
 * documents are the parsed ones of Apollo's document store, the same object
 * for the same text. Only estimates that succeed are remembered.
 */
function knownCost(
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
  estimate: () => number,
): number {
  const { pricing, declared, costs } = pricingOf(document);
  const key = JSON.stringify([operationName ?? null, pricing.map((name) => variables?.[name] ?? null), declared.filter((name) => variables?.[name] == null)]);
  let cost = costs.get(key);
  if (cost === undefined) {
    cost = estimate();
    if (costs.size >= COSTS_PER_DOCUMENT) costs.clear();
    costs.set(key, cost);
  }
  return cost;
}

/**
 * Refuses an operation whose estimated cost is above the limit, saying by how
 * much, and one whose cost cannot be estimated: an argument that does not
 * coerce (a null variable where the argument needs a value) would otherwise
 * let the rest of the operation run unpriced. Only variables that do not
 * coerce are left to execution, which refuses the whole operation for them
 * with its own messages. Call after validation, with the request's variables
 * (page sizes are usually variables).
 */
export function checkCost(
  limits: OperationLimits,
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
): void {
  let cost: number;
  try {
    cost = knownCost(document, variables, operationName, () => estimateCost(schema, document, variables, operationName));
  } catch (error) {
    if (!variablesCoerce(schema, document, variables, operationName)) return;
    // Anything but graphql's own complaint about the request is a fault of ours: an internal error.
    if (!(error instanceof GraphQLError)) throw error;
    throw new GraphQLError(`The cost of this operation could not be estimated, so it was not run: ${error.message}`, {
      nodes: error.nodes,
      extensions: { code: 'QUERY_TOO_COMPLEX', http: { status: 400 } },
    });
  }
  if (cost > limits.maxCost) {
    throw new GraphQLError(
      `Query cost ${cost} exceeds the limit of ${limits.maxCost}: ask for smaller pages (pageSize) or fewer nested fields`,
      { extensions: { code: 'QUERY_TOO_COMPLEX', cost, maxCost: limits.maxCost, http: { status: 400 } } },
    );
  }
}
