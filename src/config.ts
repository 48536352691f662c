import { z } from 'zod';

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  /** PostgreSQL server mode when set; the embedded PGlite database otherwise. */
  DATABASE_URL: z.string().min(1).optional(),
  PGLITE_DIR: z.string().default('./data/pglite'),
  /** Apply pending migrations at startup (default), or refuse to start. */
  MIGRATE_ON_START: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** JSON lines or pretty; unset: pretty at a terminal in development, JSON otherwise (logger.ts). */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** How long a mutation payload waits for its projection before answering with an error. */
  READ_YOUR_WRITES_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  DB_POOL_SIZE: z.coerce.number().int().positive().default(10),
  /** Largest HTTP request body accepted. */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_000_000),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  WS_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(100_000),
  WS_KEEPALIVE_MS: z.coerce.number().int().positive().default(12_000),
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().positive().default(100),
  /** Pending messages per subscription before conflating to the latest state per view. */
  SUBSCRIPTION_BUFFER: z.coerce.number().int().positive().default(1000),
  /** How often an instance that does not run a projection tries to take it over. */
  LEASE_RETRY_MS: z.coerce.number().int().positive().default(1000),
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
  AUTH_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(5),
  /** Schema introspection; on unless NODE_ENV=production. */
  INTROSPECTION_ENABLED: z.enum(['true', 'false']).optional(),
  /** Limits on each GraphQL operation (see README "Limits"). */
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().positive().default(10),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().positive().default(15),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().positive().default(10),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().positive().default(2000),
  GRAPHQL_MAX_COST: z.coerce.number().int().positive().default(10_000),
  /** How long a mutation's idempotencyKey is remembered. */
  IDEMPOTENCY_KEY_TTL_HOURS: z.coerce.number().positive().max(24 * 365).default(24),
  /** Serve Prometheus metrics at GET /metrics. */
  METRICS_ENABLED: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
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
