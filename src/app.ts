import type { Logger } from 'pino';
import { resolveAuth } from './auth/setup.js';
import type { Config } from './config.js';
import type { Redis } from 'ioredis';
import { parseCursor, type Cursor } from './eventlog/cursor.js';
import { EventLogReader } from './eventlog/reader.js';
import type { StoredEvent } from './eventlog/types.js';
import type { Database } from './infrastructure/db/database.js';
import { openLeases } from './infrastructure/db/leases.js';
import { openMigrated, pendingMigrations } from './infrastructure/db/migrate.js';
import { openNotifications } from './infrastructure/db/notifications.js';
import { openRedis } from './infrastructure/redis.js';
import { InstanceSignals } from './infrastructure/signals.js';
import { Metrics } from './observability/metrics.js';
import { ProjectionDaemon } from './projections/daemon.js';
import { ProjectionOperations } from './projections/operations.js';
import type { Projection } from './projections/projection.js';
import type { Projector } from './projections/projector.js';
import { ProjectionProgress } from './projections/progress.js';
import { readModel, type ReadModel } from './projections/status.js';
import { InstanceInvalidation } from './read-models/cache/instance-invalidation.js';
import { MemoryLayer } from './read-models/cache/memory-layer.js';
import { RedisLayer } from './read-models/cache/redis-layer.js';
import { ViewCache, type ViewCacheOptions } from './read-models/cache/view-cache.js';
import { READ_MODELS } from './read-models/registry.js';
import { createHttpServer } from './server/http.js';
import { logStartup } from './server/startup-log.js';
import type { SqlClient } from './sql/client.js';
import { SubscriptionHub } from './subscriptions/hub.js';
import { CommandService } from './write/commands.js';
import { sqlWriteModel } from './write-model/stores.js';

export { MigrationsPendingError } from './infrastructure/db/migrate.js';

export const PROJECTIONS: readonly Projection[] = READ_MODELS.map((m) => m.projection);

export interface App {
  readonly url: string;
  readonly port: number;
  readonly db: Database;
  readonly commands: CommandService;
  readonly read: ReadModel;
  /** The read models' views by id, cached (tests flush it after changing read-model rows by hand). */
  readonly cache: ViewCache;
  readonly projectors: readonly Projector[];
  readonly progress: ProjectionProgress;
  readonly subscriptions: SubscriptionHub;
  /** Graceful: stop accepting, finish requests, stop projectors at a checkpoint, close the database. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Test hook: called before a projection applies each event; throwing makes that handler fail. */
  readonly projectionFault?: (projection: string, event: StoredEvent) => void;
  /** Counts SQL statements (tests). */
  readonly onQuery?: (sql: string) => void;
  /** Start projectors (default true). Tests may drive them by hand. */
  readonly runProjectors?: boolean;
}

/** The composition root: wires the write side, the event log, projections and the API; owns nothing else. */
export async function startApp(config: Config, logger: Logger, options: StartOptions = {}): Promise<App> {
  const auth = resolveAuth(config); // before the database: a deployment without token configuration does not start
  const db = await openMigrated({
    ...(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : { pgliteDir: config.PGLITE_DIR }),
    poolSize: config.DB_POOL_SIZE, connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS, onQuery: options.onQuery,
    migrate: config.MIGRATE_ON_START, onMigrate: (pending) => logger.info({ pending }, 'applying migrations'),
  });
  const warn = (what: string) => (err: unknown) => logger.warn({ err }, what);
  const names = PROJECTIONS.map((p) => p.name);
  const reader = new EventLogReader(db.sql);
  const read = readModel(db.sql, reader, names);
  const metrics = new Metrics({ projections: () => read.projections(), openSubscriptions: () => hub.size, cache: () => cache.stats() });
  const { cache, redis } = openCache(config, db.sql, logger, metrics, {
    known: (name) => progress.current(name),
    onRedisInvalidationLost: (name) => signals.cacheFlush(name),
  });
  // This instance sees a projection's progress only once its in-process cache has let go of what came before.
  const invalidation = new InstanceInvalidation(db.sql, cache, CACHED_VIEWS, warn('reading the changes to invalidate failed; dropped the cached views instead'));
  const progress = new ProjectionProgress(async (name) => {
    const checkpoint = await read.checkpoint(name);
    await invalidation.reach(name, checkpoint);
    return checkpoint;
  });
  const advanced = (name: string, cursor: Cursor) => invalidation.reach(name, cursor).then(() => progress.advance(name, cursor));
  for (const view of CACHED_VIEWS) {
    const checkpoint = await read.checkpoint(view.projection);
    invalidation.start(view.projection, checkpoint);
    progress.advance(view.projection, checkpoint);
  }
  const hub = new SubscriptionHub(db.sql, {
    bufferLimit: config.SUBSCRIPTION_BUFFER, onError: warn('subscription feed read failed'), onDropped: (n) => metrics.messagesDroppedBy(n),
    // A subscriber never gets a change that a query could then answer with an older state.
    onChanges: (name, changes) => cache.invalidateLocal(name, changes.map(({ key }) => ({ id: key.id, floor: key }))),
  });
  await hub.start();

  const leases = openLeases(db, warn('lease connection failed'));
  const daemon = new ProjectionDaemon(db.sql, reader, PROJECTIONS, leases, {
    logger, leaseRetryMs: config.LEASE_RETRY_MS, batchSize: config.PROJECTION_BATCH_SIZE,
    idlePollMs: config.PROJECTION_IDLE_POLL_MS, maxAttempts: config.PROJECTION_MAX_ATTEMPTS, beforeApply: options.projectionFault,
    beforeCommit: (name, changes) => cache.committing(name, changes),
    afterCommit: (name, changes) => {
      invalidation.applied(name, changes);
      cache.committed(name, changes);
      if (changes.kind === 'redrive') signals.cacheFlush(name);
    },
    onProgress: (name, cursor, applied) => {
      void advanced(name, cursor).then(() => {
        if (applied > 0) (hub.poke(name), signals.projectionAdvanced(name, cursor));
      });
    },
  });
  // Other instances' commits wake our projectors; their projectors' progress moves our waits and feeds.
  const signals = await InstanceSignals.open(await openNotifications(db, warn('notification connection failed')), {
    eventsCommitted: (cursor) => daemon.wake(cursor),
    projectionAdvanced: (name, cursor) => void advanced(name, cursor).then(() => hub.poke(name)),
    // Signals may have been missed, cache flushes among them.
    reconnected: () => (cache.flush(), daemon.wake(), names.forEach((name) => hub.poke(name))),
    cacheFlushed: (name) => cache.flush(name),
  }, warn('NOTIFY failed'));
  const operations = new ProjectionOperations(db.sql, names, () => read.projections(), (name) => (daemon.wakeOne(name), signals.wakeProjectors()));
  const writeModel = sqlWriteModel(db.sql);
  const commands = new CommandService(writeModel, {
    idempotencyTtlMs: config.IDEMPOTENCY_KEY_TTL_HOURS * 3600_000, observer: metrics.commandObserver,
    onCommitted: ({ position }) => {
      const cursor = parseCursor(position)!; // the store's own format
      daemon.wake(cursor);
      signals.eventsCommitted(cursor);
    },
  });
  if (options.runProjectors !== false) await daemon.start();
  const timers = [
    setInterval(() => writeModel.idempotency.purgeExpired(new Date()).catch(warn('purging expired idempotency keys failed')), config.IDEMPOTENCY_PURGE_INTERVAL_MS),
    setInterval(() => names.forEach((name) => hub.poke(name)), config.FEED_POLL_MS), // missed notifications
  ];
  timers.forEach((t) => t.unref());

  const http = await createHttpServer({
    ...serverOptions(config), logger, commands, read, views: cache, progress, operations, subscriptions: hub, tokens: auth.verifier, ideDevToken: auth.devToken,
    metrics: config.METRICS_ENABLED ? metrics : undefined, onSubscriptionMessage: () => metrics.messageSent(),
    async ready() {
      const pending = await pendingMigrations((sql: string) => db.prisma.$queryRawUnsafe(sql));
      return pending.length ? { ready: false, reason: `pending migrations: ${pending.join(', ')}` } : { ready: true };
    },
  });
  const port = await http.listen(config.PORT, config.HOST);
  const url = `http://127.0.0.1:${port}/graphql`;
  await logStartup(logger, config, { url, port, database: db.kind, auth });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      timers.forEach(clearInterval);
      await http.stop();
      await daemon.stop();
      await leases.close();
      await signals.close();
      redis?.disconnect();
      await db.close();
      logger.info('server stopped');
    })());
  return { url, port, db, commands, read, cache, projectors: daemon.projectors, progress, subscriptions: hub, stop };
}

/** The cached views of the registered read models. */
const CACHED_VIEWS = READ_MODELS.flatMap((m) => (m.cached ? [m.cached] : []));

/** The cache from the configuration: in process unless CACHE_ENABLED=false, with Redis behind it when REDIS_URL is set. */
function openCache(
  config: Config,
  db: SqlClient,
  logger: Logger,
  metrics: Metrics,
  options: Pick<ViewCacheOptions, 'known' | 'onRedisInvalidationLost'>,
): { cache: ViewCache; redis?: Redis } {
  if (!config.CACHE_ENABLED) return { cache: new ViewCache(db, options) };
  const memory = new MemoryLayer({ maxEntries: config.CACHE_MAX_ENTRIES, maxBytes: config.CACHE_MAX_BYTES });
  if (!config.REDIS_URL) return { cache: new ViewCache(db, { ...options, memory, observer: metrics.cacheObserver }) };
  // One warning per outage, not one per reconnect attempt or failed command.
  let failing = false;
  const failed = (err: unknown) => {
    if (!failing) logger.warn({ err }, 'Redis failed; the cache reads the database meanwhile');
    failing = true;
  };
  const redis = openRedis(config.REDIS_URL, { commandTimeoutMs: config.CACHE_REDIS_TIMEOUT_MS, onError: failed });
  redis.on('ready', () => {
    if (failing) logger.info('Redis is back; the cache uses it again (new epoch)');
    failing = false;
  });
  const shared = new RedisLayer(redis, {
    views: CACHED_VIEWS.map((v) => v.projection), prefix: config.CACHE_REDIS_PREFIX, ttlS: config.CACHE_TTL_S,
    retryMs: config.CACHE_REDIS_RETRY_MS, onError: failed, observer: metrics.cacheObserver,
  });
  return { cache: new ViewCache(db, { ...options, memory, redis: shared, observer: metrics.cacheObserver }), redis };
}

/** The HTTP and WebSocket limits and switches, from the configuration. */
function serverOptions(config: Config) {
  return {
    readYourWritesTimeoutMs: config.READ_YOUR_WRITES_TIMEOUT_MS,
    maxBodyBytes: config.MAX_BODY_BYTES,
    ide: config.IDE_ENABLED,
    limits: {
      maxDepth: config.GRAPHQL_MAX_DEPTH,
      maxAliases: config.GRAPHQL_MAX_ALIASES,
      maxDirectives: config.GRAPHQL_MAX_DIRECTIVES,
      maxTokens: config.GRAPHQL_MAX_TOKENS,
      maxCost: config.GRAPHQL_MAX_COST,
      introspection: config.INTROSPECTION_ENABLED,
    },
    webSocket: {
      connectionInitTimeoutMs: config.WS_CONNECTION_INIT_TIMEOUT_MS,
      maxMessageBytes: config.WS_MAX_MESSAGE_BYTES,
      keepAliveMs: config.WS_KEEPALIVE_MS,
      maxSubscriptionsPerConnection: config.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    },
  };
}
