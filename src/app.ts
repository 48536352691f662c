import type { Logger } from 'pino';
import type { Config } from './config.js';
import { formatCursor, parseCursor, type Cursor } from './eventlog/cursor.js';
import { EventLogReader } from './eventlog/reader.js';
import { openDatabase, type Database } from './infrastructure/db/database.js';
import { openLeases } from './infrastructure/db/leases.js';
import { migrateDeploy, pendingMigrations } from './infrastructure/db/migrate.js';
import { openNotifications, type Notifications } from './infrastructure/db/notifications.js';
import { SubscriptionHub } from './subscriptions/hub.js';
import { ordersProjection } from './projections/orders/projection.js';
import { productsProjection } from './projections/products/projection.js';
import type { Projection } from './projections/projection.js';
import type { StoredEvent } from './eventlog/types.js';
import { ProjectionOperations } from './projections/operations.js';
import { Projector, readCheckpoint } from './projections/projector.js';
import { ProjectionProgress } from './projections/progress.js';
import { readModel, type ReadModel } from './projections/read-model.js';
import { usersProjection } from './projections/users/projection.js';
import { resolveAuth } from './auth/setup.js';
import { Metrics } from './observability/metrics.js';
import { createHttpServer } from './server/http.js';
import { logStartup } from './server/startup-log.js';
import { CommandService } from './write/commands.js';
import { withFaultTranslation } from './write-model/faults.js';
import { sqlWriteModel } from './write-model/stores.js';
import { classifyFault } from './infrastructure/db/faults.js';

export const PROJECTIONS: readonly Projection[] = [usersProjection, productsProjection, ordersProjection];

export interface App {
  readonly url: string;
  readonly port: number;
  readonly db: Database;
  readonly commands: CommandService;
  readonly read: ReadModel;
  readonly projectors: readonly Projector[];
  readonly progress: ProjectionProgress;
  readonly subscriptions: SubscriptionHub;
  /** Graceful: stop accepting, finish requests, stop projectors at a checkpoint, close the database. */
  stop(): Promise<void>;
}

export class MigrationsPendingError extends Error {
  constructor(pending: readonly string[]) {
    super(
      `The database is missing ${pending.length} migration(s): ${pending.join(', ')}. ` +
        'Run `npm run db:migrate` against it (with the same DATABASE_URL), or start with MIGRATE_ON_START=true.',
    );
  }
}

type Target = { databaseUrl?: string; pgliteDir?: string };

/** Opens the database, bringing it up to date first (or refusing with what to run). */
async function openMigrated(config: Config, logger: Logger, onQuery?: (sql: string) => void): Promise<Database> {
  const target: Target = config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : { pgliteDir: config.PGLITE_DIR };
  const open = () => openDatabase({ ...target, onQuery, poolSize: config.DB_POOL_SIZE });
  let db = await open();
  const pending = await pendingMigrations((sql: string) => db.prisma.$queryRawUnsafe(sql));
  if (pending.length === 0) return db;
  if (!config.MIGRATE_ON_START) {
    await db.close();
    throw new MigrationsPendingError(pending);
  }
  logger.info({ pending }, 'applying migrations');
  // PGlite is single-process: release it while the migration CLI runs.
  if (db.kind === 'pglite') await db.close();
  await migrateDeploy(target);
  if (db.kind === 'pglite') db = await open();
  return db;
}

/** A projection whose apply first calls `fault` for each event (tests make handlers fail with it). */
function withFault(projection: Projection, fault: StartOptions['projectionFault']): Projection {
  if (!fault) return projection;
  return {
    ...projection,
    apply: async (tx, events) => {
      for (const event of events) fault(projection.name, event);
      return projection.apply(tx, events);
    },
  };
}

export interface StartOptions {
  /** Test hook: called before a projection applies each event; throwing makes that handler fail. */
  readonly projectionFault?: (projection: string, event: StoredEvent) => void;
  /** Counts SQL statements (tests). */
  readonly onQuery?: (sql: string) => void;
  /** Start projectors (default true). Tests may drive them by hand. */
  readonly runProjectors?: boolean;
}

/** Channels between instances. Payloads are wake-ups; positions are the truth. */
export const EVENTS_CHANNEL = 'cqrs_events';
const PROJECTIONS_CHANNEL = 'cqrs_projections';

/**
 * Publishes at most one notification at a time, always the newest value:
 * bursts of commits cost a few NOTIFYs, not one each.
 */
function coalescing(notifications: Notifications, channel: string, onError: (e: unknown) => void) {
  let latest: string | undefined;
  let sending = false;
  const send = async () => {
    sending = true;
    while (latest !== undefined) {
      const payload = latest;
      latest = undefined;
      await notifications.publish(channel, payload).catch(onError);
    }
    sending = false;
  };
  return (payload: string) => {
    latest = payload;
    if (!sending) void send();
  };
}

/** The composition root: wires the write side, the event log, projections and the API. */
export async function startApp(config: Config, logger: Logger, options: StartOptions = {}): Promise<App> {
  // Before the database: a deployment without token configuration does not start.
  const auth = resolveAuth(config);
  const db = await openMigrated(config, logger, options.onQuery);
  const warn = (what: string) => (err: unknown) => logger.warn({ err }, what);
  const isTransientFault = (error: unknown) => classifyFault(error) !== undefined;
  const reader = new EventLogReader(db.sql);
  const read = readModel(db.sql, reader, PROJECTIONS.map((p) => p.name));
  const progress = new ProjectionProgress((name) => readCheckpoint(db.sql, name));
  const notifications = await openNotifications(db, warn('notification connection failed'));
  const leases = openLeases(db, warn('lease connection failed'));
  // Metrics read the same sources as the `projections` query and the hub.
  let hubRef: SubscriptionHub | undefined;
  const metrics = new Metrics({ projections: () => read.projections(), openSubscriptions: () => hubRef?.size ?? 0 });
  const hub = new SubscriptionHub(db.sql, {
    bufferLimit: config.SUBSCRIPTION_BUFFER,
    onError: warn('subscription feed read failed'),
    onDropped: (count) => metrics.messagesDroppedBy(count),
  });
  hubRef = hub;
  await hub.start();

  const announceProgress = new Map(
    PROJECTIONS.map((p) => [p.name, coalescing(notifications, PROJECTIONS_CHANNEL, warn('NOTIFY failed'))]),
  );
  const projectors = PROJECTIONS.map(
    (projection) =>
      new Projector(db.sql, reader, withFault(projection, options.projectionFault), {
        onProgress: (name, cursor, applied) => {
          progress.advance(name, cursor);
          if (applied === 0) return;
          hub.poke(name);
          // Notify after the batch committed (never inside a write transaction).
          announceProgress.get(name)!(`${name} ${formatCursor(cursor)}`);
        },
        onError: (name, err) => logger.error({ err, projection: name }, 'projection batch failed; will retry'),
        onParked: (name, event, err) =>
          logger.error(
            { err, projection: name, eventId: event.eventId, eventType: event.type, aggregateId: event.aggregateId },
            'event parked as a dead letter; the projection goes on without it (retry or skip it)',
          ),
        isTransient: isTransientFault,
      }),
  );
  const wakeProjectors = (cursor?: Cursor) => projectors.forEach((p) => p.wake(cursor));
  const announceEvents = coalescing(notifications, EVENTS_CHANNEL, warn('NOTIFY failed'));
  const operations = new ProjectionOperations(
    db.sql,
    PROJECTIONS.map((p) => p.name),
    () => read.projections(),
    // A wake-up without a position reaches every instance's projector, whichever holds the lease.
    (name) => {
      projectors.find((p) => p.name === name)?.wake();
      announceEvents('redrive');
    },
  );
  const writeModel = metrics.countAppends(withFaultTranslation(sqlWriteModel(db.sql)));
  const commands = metrics.instrument(
    new CommandService(
      writeModel,
      undefined,
      (result) => {
        wakeProjectors(parseCursor(result.position) ?? undefined);
        announceEvents(result.position);
      },
      { idempotencyTtlMs: config.IDEMPOTENCY_KEY_TTL_HOURS * 3600_000 },
    ),
  );
  // Expired idempotency keys are ignored at once and deleted now and then.
  const purgeKeys = setInterval(() => {
    writeModel.idempotency.purgeExpired(new Date()).catch(warn('purging expired idempotency keys failed'));
  }, 10 * 60_000);
  purgeKeys.unref();

  // Other instances' commits wake our projectors; their projectors' progress
  // advances our read-your-writes waits and subscription feeds.
  await notifications.listen(EVENTS_CHANNEL, (payload) => wakeProjectors(parseCursor(payload) ?? undefined));
  await notifications.listen(PROJECTIONS_CHANNEL, (payload) => {
    const [name, position] = payload.split(' ');
    const cursor = position ? parseCursor(position) : null;
    if (!name || !cursor) return;
    progress.advance(name, cursor);
    hub.poke(name);
  });
  notifications.onReconnect(() => {
    wakeProjectors();
    PROJECTIONS.forEach((p) => hub.poke(p.name));
  });

  // One instance runs each projection at a time; the others retry the lease
  // and take over within LEASE_RETRY_MS when its holder dies.
  leases.onLost((names) => {
    logger.warn({ projections: names }, 'projection leases lost; stopping those projectors');
    for (const projector of projectors) if (names.includes(projector.name)) void projector.stop();
  });
  let leasing: NodeJS.Timeout | undefined;
  const tryLeases = async () => {
    for (const projector of projectors) {
      if (projector.isRunning) continue;
      const acquired = await leases.tryAcquire(projector.name).catch((err: unknown) => {
        logger.warn({ err }, 'could not try the projection lease');
        return false;
      });
      if (acquired) {
        logger.info({ projection: projector.name }, 'running projection (lease acquired)');
        projector.resetCheckpoint();
        projector.start();
      }
    }
  };
  if (options.runProjectors !== false) {
    await tryLeases();
    const loop = () => {
      leasing = setTimeout(() => void tryLeases().finally(() => leasing && loop()), config.LEASE_RETRY_MS);
    };
    loop();
  }
  // Slow fallback for missed notifications.
  const feedPoll = setInterval(() => PROJECTIONS.forEach((p) => hub.poke(p.name)), 1000);

  const http = await createHttpServer({
    logger,
    commands,
    read,
    progress,
    operations,
    subscriptions: hub,
    readYourWritesTimeoutMs: config.READ_YOUR_WRITES_TIMEOUT_MS,
    maxBodyBytes: config.MAX_BODY_BYTES,
    ide: config.IDE_ENABLED,
    ideDevToken: auth.devToken,
    tokens: auth.verifier,
    isTransientFault,
    metrics: config.METRICS_ENABLED ? metrics : undefined,
    onSubscriptionMessage: () => metrics.messageSent(),
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
    async ready() {
      const pending = await pendingMigrations((sql: string) => db.prisma.$queryRawUnsafe(sql));
      return pending.length ? { ready: false, reason: `pending migrations: ${pending.join(', ')}` } : { ready: true };
    },
  });
  const port = await http.listen(config.PORT, config.HOST);
  const url = `http://127.0.0.1:${port}/graphql`;
  await logStartup(logger, config, { url, port, database: db.kind, auth });

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    db,
    commands,
    read,
    projectors,
    progress,
    subscriptions: hub,
    stop() {
      stopping ??= (async () => {
        clearTimeout(leasing);
        leasing = undefined;
        clearInterval(feedPoll);
        clearInterval(purgeKeys);
        await http.stop();
        await Promise.all(projectors.map((p) => p.stop()));
        await leases.close();
        await notifications.close();
        await db.close();
        logger.info('server stopped');
      })();
      return stopping;
    },
  };
}
