import type { Logger } from 'pino';
import type { Config } from './config.js';
import { parseCursor } from './eventlog/cursor.js';
import { EventLogReader } from './eventlog/reader.js';
import { openDatabase, type Database } from './infrastructure/db/database.js';
import { migrateDeploy, pendingMigrations } from './infrastructure/db/migrate.js';
import { ordersProjection } from './projections/orders/projection.js';
import { productsProjection } from './projections/products/projection.js';
import type { Projection } from './projections/projection.js';
import { Projector, readCheckpoint } from './projections/projector.js';
import { ProjectionProgress } from './projections/progress.js';
import { readModel, type ReadModel } from './projections/read-model.js';
import { usersProjection } from './projections/users/projection.js';
import { createHttpServer } from './server/http.js';
import { CommandService } from './write/commands.js';
import { prismaWriteModel } from './write-model/stores.js';

export const PROJECTIONS: readonly Projection[] = [usersProjection, productsProjection, ordersProjection];

export interface App {
  readonly url: string;
  readonly port: number;
  readonly db: Database;
  readonly commands: CommandService;
  readonly read: ReadModel;
  readonly projectors: readonly Projector[];
  readonly progress: ProjectionProgress;
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

export interface StartOptions {
  /** Counts SQL statements (tests). */
  readonly onQuery?: (sql: string) => void;
  /** Start projectors (default true). Tests may drive them by hand. */
  readonly runProjectors?: boolean;
}

/** The composition root: wires the write side, the event log, projections and the API. */
export async function startApp(config: Config, logger: Logger, options: StartOptions = {}): Promise<App> {
  const db = await openMigrated(config, logger, options.onQuery);
  const reader = new EventLogReader(db.prisma);
  const read = readModel(db.prisma, reader, PROJECTIONS.map((p) => p.name));
  const progress = new ProjectionProgress((name) => readCheckpoint(db.prisma, name));
  const projectors = PROJECTIONS.map(
    (projection) =>
      new Projector(db.prisma, reader, projection, {
        onProgress: (name, cursor) => progress.advance(name, cursor),
        onError: (name, err) => logger.error({ err, projection: name }, 'projection batch failed; will retry'),
      }),
  );
  const commands = new CommandService(prismaWriteModel(db.prisma), undefined, (result) => {
    const cursor = parseCursor(result.position) ?? undefined;
    for (const projector of projectors) projector.wake(cursor);
  });
  const http = await createHttpServer({
    logger,
    commands,
    read,
    progress,
    readYourWritesTimeoutMs: config.READ_YOUR_WRITES_TIMEOUT_MS,
    async ready() {
      const pending = await pendingMigrations((sql: string) => db.prisma.$queryRawUnsafe(sql));
      return pending.length ? { ready: false, reason: `pending migrations: ${pending.join(', ')}` } : { ready: true };
    },
  });
  if (options.runProjectors !== false) projectors.forEach((p) => p.start());
  const port = await http.listen(config.PORT, config.HOST);
  const url = `http://127.0.0.1:${port}/graphql`;
  logger.info({ url, database: db.kind }, 'server started');

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    db,
    commands,
    read,
    projectors,
    progress,
    stop() {
      stopping ??= (async () => {
        await http.stop();
        await Promise.all(projectors.map((p) => p.stop()));
        await db.close();
        logger.info('server stopped');
      })();
      return stopping;
    },
  };
}
