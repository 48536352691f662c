import type { Logger } from 'pino';
import { resolveAuth } from './auth/setup.js';
import type { Config } from './config.js';
import type { Redis } from 'ioredis';
import { parseCursor, type Cursor } from './eventlog/cursor.js';
import manifest from './generated/persisted-documents.json' with { type: 'json' };
import { PersistedDocuments } from './graphql/persisted-documents.js';
import { EventLogReader } from './eventlog/reader.js';
import type { StoredEvent } from './eventlog/types.js';
import type { Database } from './infrastructure/db/database.js';
import type { Databases } from './infrastructure/db/databases.js';
import { openLeases } from './infrastructure/db/leases.js';
import { openDatabases } from './infrastructure/db/databases.js';
import { pendingMigrations } from './infrastructure/db/migrate.js';
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
import { createHttpServer, MIN_POSITION_HEADER, type Readiness } from './server/http.js';
import { ValidationError } from './domain/errors.js';
import { readSession, ReplicaRouter } from './infrastructure/db/replica-router.js';
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
  /** The write database: the write model, the event log, idempotency keys. */
  readonly db: Database;
  /** The read database: read models, checkpoints, dead letters, change histories, leases. `db` itself without READ_DATABASE_URL. */
  readonly readDb: Database;
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
  const documents = PersistedDocuments.fromManifest(manifest); // likewise a corrupt manifest
  const databases = await openDatabases({
    ...(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : { pgliteDir: config.PGLITE_DIR }),
    readDatabaseUrl: config.READ_DATABASE_URL,
    poolSize: config.DB_POOL_SIZE, connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS, onQuery: options.onQuery,
    migrate: config.MIGRATE_ON_START, onMigrate: (database, pending) => logger.info({ database, pending }, 'applying migrations'),
  });
  const { write: db, read: readDb } = databases;
  const warn = (what: string) => (err: unknown) => logger.warn({ err }, what);
  const names = PROJECTIONS.map((p) => p.name);
  // Projectors read the log on the write database and commit views and checkpoints on the read database.
  const reader = new EventLogReader(db.sql);
  const read = readModel(readDb.sql, reader, names);
  const metrics = new Metrics({
    projections: () => read.projections(), openSubscriptions: () => hub.size, cache: () => cache.stats(), replicas: () => router?.status() ?? [],
  });
  // Read replicas of the read database: queries and subscription reads go there (none: the read database).
  const router = config.READ_REPLICA_URLS.length
    ? new ReplicaRouter(readDb.sql, config.READ_REPLICA_URLS, {
        maxLagMs: config.READ_REPLICA_MAX_LAG_MS, checkIntervalMs: config.READ_REPLICA_CHECK_MS, waitMs: config.READ_REPLICA_WAIT_MS,
        poolSize: config.DB_POOL_SIZE, connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS, onQuery: options.onQuery,
        onError: (replica, err) => logger.debug({ err, replica }, 'read replica check failed; skipping it'),
        onCovered: (seconds, source) => metrics.replicaWaited(seconds, source),
      })
    : undefined;
  await router?.start();
  /** A read-database WAL position at or after everything committed there so far (undefined without replicas, or if it cannot be read). */
  const readPosition = async () => (router ? await router.primaryPosition().catch(() => undefined) : undefined);
  // Misses are read on the read primary: a replica may not have replayed the checkpoint a fill is stamped with.
  const { cache, redis } = openCache(config, readDb.sql, logger, metrics, {
    known: (name) => progress.current(name),
    onRedisInvalidationLost: (name) => signals.cacheFlush(name),
  });
  // This instance sees a projection's progress only once its in-process cache has let go of what came before.
  const invalidation = new InstanceInvalidation(readDb.sql, cache, CACHED_VIEWS, warn('reading the changes to invalidate failed; dropped the cached views instead'));
  // The position is read after the checkpoint: it covers the commit that moved it there.
  const progress = new ProjectionProgress(async (name) => {
    const cursor = await read.checkpoint(name);
    const lsn = await readPosition();
    await invalidation.reach(name, cursor);
    return { cursor, lsn };
  });
  const advanced = (name: string, cursor: Cursor, lsn?: bigint) => invalidation.reach(name, cursor).then(() => progress.advance(name, cursor, lsn));
  for (const view of CACHED_VIEWS) {
    const checkpoint = await read.checkpoint(view.projection);
    invalidation.start(view.projection, checkpoint);
    progress.advance(view.projection, checkpoint);
  }
  const hub = new SubscriptionHub(readDb.sql, {
    bufferLimit: config.SUBSCRIPTION_BUFFER, onError: warn('subscription feed read failed'), onDropped: (n) => metrics.messagesDroppedBy(n),
    // A subscriber never gets a change that a query could then answer with an older state.
    onChanges: (name, changes) => cache.invalidateLocal(name, changes.map(({ key }) => ({ id: key.id, floor: key }))),
    ...(router ? { reads: () => readSession(router, readDb.sql).db, handingOut: async () => router.raiseFloor(await router.primaryPosition()) } : {}),
  });
  await hub.start();

  const leases = openLeases(readDb, warn('lease connection failed'));
  const daemon = new ProjectionDaemon(readDb.sql, reader, PROJECTIONS, leases, {
    logger, leaseRetryMs: config.LEASE_RETRY_MS, batchSize: config.PROJECTION_BATCH_SIZE,
    idlePollMs: config.PROJECTION_IDLE_POLL_MS, maxAttempts: config.PROJECTION_MAX_ATTEMPTS, beforeApply: options.projectionFault,
    beforeCommit: (name, changes) => cache.committing(name, changes),
    afterCommit: (name, changes) => (invalidation.applied(name, changes), cache.committed(name, changes)),
    onProgress: (name, cursor, applied) => {
      if (applied === 0) return void advanced(name, cursor);
      if (!router) return void advanced(name, cursor).then(() => (hub.poke(name), signals.projectionAdvanced(name, cursor)));
      // With replicas the batch's commit position goes with it: read after the commit, so it covers it.
      void readPosition().then((lsn) => advanced(name, cursor, lsn).then(() => (hub.poke(name), signals.projectionAdvanced(name, cursor, lsn))));
    },
  });
  // Other instances' commits wake our projectors; their projectors' progress moves our waits and feeds.
  const onNotifyError = warn('notification connection failed');
  const eventsChannel = await openNotifications(db, onNotifyError);
  const signals = await InstanceSignals.open({
    events: eventsChannel,
    projections: databases.separate ? await openNotifications(readDb, onNotifyError) : eventsChannel,
  }, {
    eventsCommitted: (cursor) => daemon.wake(cursor),
    projectionAdvanced: (name, cursor, lsn) => void advanced(name, cursor, lsn).then(() => hub.poke(name)),
    // Signals may have been missed, cache flushes among them.
    reconnected: () => (cache.flush(), daemon.wake(), names.forEach((name) => hub.poke(name))),
    cacheFlushed: (name) => cache.flush(name),
  }, warn('NOTIFY failed'));
  const operations = new ProjectionOperations({ write: db.sql, read: readDb.sql }, names, () => read.projections(), (name) => (daemon.wakeOne(name), signals.wakeProjectors()));
  const writeModel = sqlWriteModel(db.sql);
  const commands = new CommandService(writeModel, {
    idempotencyTtlMs: config.IDEMPOTENCY_KEY_TTL_HOURS * 3600_000, observer: metrics.commandObserver,
    onCommitted: ({ position }) => {
      const cursor = parseCursor(position)!; // the store's own format
      daemon.wake(cursor);
      signals.eventsCommitted(cursor);
    },
  });
  /**
   * A client's `x-min-position`: waits (bounded) until every projection has
   * passed it, and answers the WAL position that shows it. A malformed one is
   * BAD_USER_INPUT, a wait that times out PROJECTION_TIMEOUT, for the request's reads.
   */
  const positionSeen = async (text: string): Promise<bigint | undefined> => {
    const cursor = parseCursor(text);
    if (!cursor) throw new ValidationError(MIN_POSITION_HEADER, 'expected a position as the API returns it (a mutation\'s `position`)');
    const reached = await Promise.all(names.map((name) => progress.waitFor(name, cursor, config.READ_YOUR_WRITES_TIMEOUT_MS)));
    return reached.some((lsn) => lsn === undefined) ? undefined : reached.reduce<bigint>((a, b) => (a > b! ? a : b!), 0n);
  };
  if (options.runProjectors !== false) await daemon.start();
  const timers = [
    setInterval(() => writeModel.idempotency.purgeExpired(new Date()).catch(warn('purging expired idempotency keys failed')), config.IDEMPOTENCY_PURGE_INTERVAL_MS),
    setInterval(() => names.forEach((name) => hub.poke(name)), config.FEED_POLL_MS), // missed notifications
  ];
  timers.forEach((t) => t.unref());

  const http = await createHttpServer({
    ...serverOptions(config), logger, commands, read, views: cache, progress, operations,
    readSession: (minPosition) => {
      const session = readSession(router, readDb.sql);
      if (minPosition !== undefined) void session.require(() => positionSeen(minPosition)).catch(() => undefined);
      return session;
    }, subscriptions: hub, tokens: auth.verifier, ideDevToken: auth.devToken,
    documents: { documents, trustedOnly: config.TRUSTED_DOCUMENTS, staffDocuments: config.IDE_ENABLED },
    metrics: config.METRICS_ENABLED ? metrics : undefined, onSubscriptionMessage: () => metrics.messageSent(),
    ready: () => readiness(databases),
  });
  const port = await http.listen(config.PORT, config.HOST);
  const url = `http://127.0.0.1:${port}/graphql`;
  await logStartup(logger, config, { url, port, database: db.kind, auth, persistedDocuments: documents.size });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      timers.forEach(clearInterval);
      await http.stop();
      await daemon.stop();
      await leases.close();
      await signals.close();
      await router?.stop();
      redis?.disconnect();
      await databases.close();
      logger.info('server stopped');
    })());
  return { url, port, db, readDb, commands, read, cache, projectors: daemon.projectors, progress, subscriptions: hub, stop };
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

/**
 * Ready when every database answers and has its migrations. With a read
 * database of its own each is checked on its own and reported by name
 * (`databases`: "ok", "unavailable" or what is pending), so an operator sees
 * which one is down. (A failure of the one database propagates: the server
 * answers "database unavailable".)
 */
async function readiness(databases: Databases): Promise<Readiness> {
  const checks = await Promise.all(
    (databases.separate ? (['write', 'read'] as const) : (['write'] as const)).map(async (database) => {
      const db = database === 'write' ? databases.write : databases.read;
      const sets = databases.separate ? [database] : undefined;
      const pending = await pendingMigrations((sql) => db.prisma.$queryRawUnsafe(sql), sets).catch((error: unknown) => {
        if (!databases.separate) throw error;
        return undefined;
      });
      return { database, state: pending === undefined ? 'unavailable' : pending.length ? `pending migrations: ${pending.join(', ')}` : 'ok' };
    }),
  );
  const bad = checks.filter((c) => c.state !== 'ok');
  if (!databases.separate) return bad.length ? { ready: false, reason: bad[0]!.state } : { ready: true };
  return {
    ready: bad.length === 0,
    ...(bad.length ? { reason: bad.map((c) => `${c.database} database ${c.state}`).join('; ') } : {}),
    databases: Object.fromEntries(checks.map((c) => [c.database, c.state])),
  };
}

/** The HTTP and WebSocket limits and switches, from the configuration. */
function serverOptions(config: Config) {
  return {
    readYourWritesTimeoutMs: config.READ_YOUR_WRITES_TIMEOUT_MS,
    compileQueriesAfter: config.GRAPHQL_COMPILE_AFTER,
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
