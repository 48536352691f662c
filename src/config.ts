import { z } from 'zod';

/**
 * Every tunable default of the service, named once, with its unit. The
 * environment variable of the same name overrides it (see the README's
 * variables table); modules that take these as options receive them from
 * the configuration, and fall back to these names when constructed alone.
 */
export const DEFAULTS = {
  PORT: 4000,
  PGLITE_DIR: './data/pglite',
  /** How long a mutation payload waits for its projection before answering PROJECTION_TIMEOUT. */
  READ_YOUR_WRITES_TIMEOUT_MS: 5000,
  DB_POOL_SIZE: 10,
  /** How long a pool waits for a connection before the request fails (SERVICE_UNAVAILABLE). */
  DB_CONNECT_TIMEOUT_MS: 5000,
  MAX_BODY_BYTES: 1_000_000,
  WS_CONNECTION_INIT_TIMEOUT_MS: 5000,
  WS_MAX_MESSAGE_BYTES: 100_000,
  WS_KEEPALIVE_MS: 12_000,
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: 100,
  /** Pending changes per subscription before conflating to the latest state per view. */
  SUBSCRIPTION_BUFFER: 1000,
  LEASE_RETRY_MS: 1000,
  /** Events a projector reads and applies per transaction. */
  PROJECTION_BATCH_SIZE: 500,
  /** Events per transaction when `npm run projections -- rebuild` replays the log. */
  REBUILD_BATCH_SIZE: 2000,
  /** Failed attempts of a batch before its poison event is found and parked. */
  PROJECTION_MAX_ATTEMPTS: 3,
  /** Fallback polls for missed wake-ups: projectors, and the subscription feeds. */
  PROJECTION_IDLE_POLL_MS: 1000,
  FEED_POLL_MS: 1000,
  GRAPHQL_MAX_DEPTH: 10,
  GRAPHQL_MAX_ALIASES: 15,
  GRAPHQL_MAX_DIRECTIVES: 10,
  GRAPHQL_MAX_TOKENS: 2000,
  GRAPHQL_MAX_COST: 10_000,
  /** Runs of a query document over HTTP on graphql-js before it runs compiled (graphql-jit); `never` keeps graphql-js. */
  GRAPHQL_COMPILE_AFTER: 2,
  AUTH_CLOCK_TOLERANCE_S: 5,
  IDEMPOTENCY_KEY_TTL_HOURS: 24,
  /** A read replica whose replay is further behind the read primary than this is skipped, in ms. */
  READ_REPLICA_MAX_LAG_MS: 1000,
  /** How often each read replica's reachability and replay position are checked, in ms. */
  READ_REPLICA_CHECK_MS: 250,
  /** How long a read that must see a position waits for its replica to replay it before reading the primary, in ms. */
  READ_REPLICA_WAIT_MS: 1000,
  /** How often expired idempotency keys are deleted (they are ignored at once). */
  IDEMPOTENCY_PURGE_INTERVAL_MS: 10 * 60_000,
  /** Lifetime of the development admin token logged at start (embedded default only). */
  DEV_TOKEN_TTL_S: 12 * 3600,
  /** Most views the in-process cache keeps (orders, users and products together). */
  CACHE_MAX_ENTRIES: 100_000,
  /** Most bytes the in-process cache keeps, counted as the views' JSON size (64 MiB). */
  CACHE_MAX_BYTES: 64 * 1024 * 1024,
  /** Lifetime of a Redis entry in seconds: a safety net only, invalidation keeps entries current. */
  CACHE_TTL_S: 3600,
  /** Longest wait for a Redis command before the read goes to the database (ms). */
  CACHE_REDIS_TIMEOUT_MS: 200,
  /** After a Redis failure, how long the cache does without Redis before trying it again (ms). */
  CACHE_REDIS_RETRY_MS: 1000,
  /** Prefix of every Redis key the cache writes. */
  CACHE_REDIS_PREFIX: 'orders:cache:',
  /**
   * Run only the persisted documents of the manifest (operations/, by `documentId`); off: any
   * document, and ids too. Recommended for production (README "Trusted documents").
   */
  TRUSTED_DOCUMENTS: false,
  /** `service.name` of exported traces (README "Traces"). */
  OTEL_SERVICE_NAME: 'orders-graphql',
} as const;

/** An http(s) URL; empty counts as unset (as for the SDK's own variables). */
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/ }).optional());

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULTS.PORT),
  HOST: z.string().default('0.0.0.0'),
  /** PostgreSQL server mode when set; the embedded PGlite database otherwise. */
  DATABASE_URL: z.string().min(1).optional(),
  PGLITE_DIR: z.string().default(DEFAULTS.PGLITE_DIR),
  /**
   * A PostgreSQL database of its own for the read models (with DATABASE_URL only); unset: the
   * write database holds them too. See README "Read database and replicas".
   */
  READ_DATABASE_URL: z.string().min(1).optional(),
  /** PostgreSQL streaming replicas of the read database, comma-separated; queries and subscription reads go there. */
  READ_REPLICA_URLS: z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((u) => u.trim()).filter(Boolean)),
  READ_REPLICA_MAX_LAG_MS: z.coerce.number().int().positive().default(DEFAULTS.READ_REPLICA_MAX_LAG_MS),
  READ_REPLICA_CHECK_MS: z.coerce.number().int().positive().default(DEFAULTS.READ_REPLICA_CHECK_MS),
  READ_REPLICA_WAIT_MS: z.coerce.number().int().min(0).default(DEFAULTS.READ_REPLICA_WAIT_MS),
  /** Apply pending migrations at startup (default), or refuse to start. */
  MIGRATE_ON_START: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** JSON lines or pretty; unset: pretty at a terminal in development, JSON otherwise (logger.ts). */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** How long a mutation payload waits for its projection before answering with an error. */
  READ_YOUR_WRITES_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULTS.READ_YOUR_WRITES_TIMEOUT_MS),
  DB_POOL_SIZE: z.coerce.number().int().positive().default(DEFAULTS.DB_POOL_SIZE),
  /** Largest HTTP request body accepted. */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(DEFAULTS.MAX_BODY_BYTES),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULTS.WS_CONNECTION_INIT_TIMEOUT_MS),
  WS_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(DEFAULTS.WS_MAX_MESSAGE_BYTES),
  WS_KEEPALIVE_MS: z.coerce.number().int().positive().default(DEFAULTS.WS_KEEPALIVE_MS),
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().positive().default(DEFAULTS.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION),
  /** Pending messages per subscription before conflating to the latest state per view. */
  SUBSCRIPTION_BUFFER: z.coerce.number().int().positive().default(DEFAULTS.SUBSCRIPTION_BUFFER),
  LEASE_RETRY_MS: z.coerce.number().int().positive().default(DEFAULTS.LEASE_RETRY_MS),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULTS.DB_CONNECT_TIMEOUT_MS),
  PROJECTION_BATCH_SIZE: z.coerce.number().int().positive().default(DEFAULTS.PROJECTION_BATCH_SIZE),
  REBUILD_BATCH_SIZE: z.coerce.number().int().positive().default(DEFAULTS.REBUILD_BATCH_SIZE),
  PROJECTION_MAX_ATTEMPTS: z.coerce.number().int().positive().default(DEFAULTS.PROJECTION_MAX_ATTEMPTS),
  PROJECTION_IDLE_POLL_MS: z.coerce.number().int().positive().default(DEFAULTS.PROJECTION_IDLE_POLL_MS),
  FEED_POLL_MS: z.coerce.number().int().positive().default(DEFAULTS.FEED_POLL_MS),
  IDEMPOTENCY_PURGE_INTERVAL_MS: z.coerce.number().int().positive().default(DEFAULTS.IDEMPOTENCY_PURGE_INTERVAL_MS),
  NODE_ENV: z.string().default('development'),
  /** The browser GraphQL IDE at GET /graphql; on unless NODE_ENV=production. */
  IDE_ENABLED: z.enum(['true', 'false']).optional(),
  /** HS256 shared secret for bearer tokens (at least 32 characters). */
  AUTH_JWT_SECRET: z.string().min(32, 'expected at least 32 characters').optional(),
  /** RS256/ES256 instead: a JWKS file path or http(s) URL. */
  AUTH_JWKS: z.string().min(1).optional(),
  /** Required `iss` / `aud` claims, when set. */
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(DEFAULTS.AUTH_CLOCK_TOLERANCE_S),
  /** Only the manifest's documents, sent by id (see DEFAULTS); staff may send their own where the IDE is on. */
  TRUSTED_DOCUMENTS: z.enum(['true', 'false']).default(`${DEFAULTS.TRUSTED_DOCUMENTS}`).transform((v) => v === 'true'),
  /** Schema introspection; on unless NODE_ENV=production. */
  INTROSPECTION_ENABLED: z.enum(['true', 'false']).optional(),
  /** Limits on each GraphQL operation (see README "Limits"). */
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().positive().default(DEFAULTS.GRAPHQL_MAX_DEPTH),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().positive().default(DEFAULTS.GRAPHQL_MAX_ALIASES),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().positive().default(DEFAULTS.GRAPHQL_MAX_DIRECTIVES),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().positive().default(DEFAULTS.GRAPHQL_MAX_TOKENS),
  GRAPHQL_MAX_COST: z.coerce.number().int().positive().default(DEFAULTS.GRAPHQL_MAX_COST),
  /** A whole number ≥ 0, or `never` (read as Infinity): see src/graphql/compiled-execution.ts. */
  GRAPHQL_COMPILE_AFTER: z
    .union([z.literal('never').transform(() => Number.POSITIVE_INFINITY), z.coerce.number().int().min(0)])
    .default(DEFAULTS.GRAPHQL_COMPILE_AFTER),
  /** How long a mutation's idempotencyKey is remembered. */
  IDEMPOTENCY_KEY_TTL_HOURS: z.coerce.number().positive().max(24 * 365).default(DEFAULTS.IDEMPOTENCY_KEY_TTL_HOURS),
  /** Serve Prometheus metrics at GET /metrics. */
  METRICS_ENABLED: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** The cache in front of the read models' views by id (README "Cache"); false turns it off. */
  CACHE_ENABLED: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  CACHE_MAX_ENTRIES: z.coerce.number().int().positive().default(DEFAULTS.CACHE_MAX_ENTRIES),
  CACHE_MAX_BYTES: z.coerce.number().int().positive().default(DEFAULTS.CACHE_MAX_BYTES),
  /** A shared Redis behind the in-process cache (redis://…), when set. */
  REDIS_URL: z.string().min(1).optional(),
  CACHE_TTL_S: z.coerce.number().int().positive().default(DEFAULTS.CACHE_TTL_S),
  CACHE_REDIS_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULTS.CACHE_REDIS_TIMEOUT_MS),
  CACHE_REDIS_RETRY_MS: z.coerce.number().int().positive().default(DEFAULTS.CACHE_REDIS_RETRY_MS),
  CACHE_REDIS_PREFIX: z.string().min(1).default(DEFAULTS.CACHE_REDIS_PREFIX),
  /**
   * Traces (src/observability/tracing-setup.ts): exported by OTLP/HTTP when
   * either endpoint is set, unless OTEL_SDK_DISABLED=true. The endpoint gets
   * `/v1/traces` appended; the traces endpoint is used as given. Unset: no
   * SDK is loaded. The SDK reads the other standard OTEL_* variables itself.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl,
  /** As the OpenTelemetry specification says: `true` in any case disables the SDK. */
  OTEL_SDK_DISABLED: z.string().optional().transform((v) => v?.trim().toLowerCase() === 'true'),
  OTEL_SERVICE_NAME: z.string().min(1).default(DEFAULTS.OTEL_SERVICE_NAME),
  /** Fill an empty database with demo data at startup (src/demo/seed.ts). */
  SEED: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true'),
}).transform(({ IDE_ENABLED, INTROSPECTION_ENABLED, ...env }) => ({
  ...env,
  IDE_ENABLED: IDE_ENABLED === undefined ? env.NODE_ENV !== 'production' : IDE_ENABLED === 'true',
  INTROSPECTION_ENABLED:
    INTROSPECTION_ENABLED === undefined ? env.NODE_ENV !== 'production' : INTROSPECTION_ENABLED === 'true',
}));

export type Config = z.infer<typeof Env>;

/** Reads configuration from the environment; throws a readable message on bad values. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return { ...parsed.data, ...overrides };
}
