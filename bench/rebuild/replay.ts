/**
 * Rebuild: replays the whole event log into empty read models with the
 * project's own projector code (src/projections/projector.ts `catchUp()`
 * after `resetProjection` from src/projections/rebuild.ts), in this separate
 * process, and prints one JSON line.
 *
 *   DATABASE_URL=… [BENCH_SRC_ROOT=<checkout>] node --import tsx bench/rebuild/replay.ts
 *
 * 1. all projections together, as a server replays them after a reset
 *    (three projectors concurrently on one pool; events/s = log events / wall
 *    time), with each projection's own time to the end of the log;
 * 2. with BENCH_REBUILD_ALONE=true, first each projection alone, from zero;
 * 3. baseline: a raw `pg` scan of the same log in the projectors' order and
 *    batch size, rows decoded and nothing written — the floor of reading it.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { Projection } from '../../src/projections/projection.js';
import { cpuMs, ROOT } from '../lib/processes.js';
import { now } from '../lib/stats.js';

const srcRoot = process.env.BENCH_SRC_ROOT ?? ROOT;
const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(srcRoot, path)).href) as Promise<T>;

const { openDatabase } = await load<typeof import('../../src/infrastructure/db/database.js')>('src/infrastructure/db/database.ts');
const { EventLogReader } = await load<typeof import('../../src/eventlog/reader.js')>('src/eventlog/reader.ts');
const { Projector } = await load<typeof import('../../src/projections/projector.js')>('src/projections/projector.ts');
const { resetProjection } = await load<typeof import('../../src/projections/rebuild.js')>('src/projections/rebuild.ts');
const { usersProjection } = await load<typeof import('../../src/read-models/users/projection.js')>('src/read-models/users/projection.ts');
const { productsProjection } = await load<typeof import('../../src/read-models/products/projection.js')>('src/read-models/products/projection.ts');
const { ordersProjection } = await load<typeof import('../../src/read-models/orders/projection.js')>('src/read-models/orders/projection.ts');

const databaseUrl = process.env.DATABASE_URL!;
/** Also replay each projection alone (slower: the log is read once per projection and again for all). */
const alone = process.env.BENCH_REBUILD_ALONE === 'true';
/** Events per projector batch (the rebuild command's 2000 by default; a server catching up uses 500). */
const batchSize = Number(process.env.BENCH_REBUILD_BATCH ?? 2000);
const projections: Projection[] = [usersProjection, productsProjection, ordersProjection];
const db = await openDatabase({ databaseUrl, poolSize: Number(process.env.DB_POOL_SIZE ?? 10) });
/** The projectors' SQL port, as the server wires it. */
const sqlPort = db.sql;
const reader = new EventLogReader(sqlPort);

const logEvents = ((await db.prisma.$queryRawUnsafe('SELECT count(*)::int AS n FROM event_log')) as Array<{ n: number }>)[0]!.n;

const perProjection: Record<string, { events: number; seconds: number; eventsPerSec: number }> = {};
if (alone) {
  for (const projection of projections) {
    await resetProjection(db.prisma, projection);
    const started = now();
    const events = await new Projector(sqlPort, reader, projection, { batchSize }).catchUp();
    const seconds = (now() - started) / 1000;
    perProjection[projection.name] = { events, seconds, eventsPerSec: events / seconds };
  }
}

for (const projection of projections) await resetProjection(db.prisma, projection);

/**
 * CPU used by this database's server backends during the replay: a separate
 * connection samples their pids (pg_stat_activity) and CPU times (/proc) every
 * 250 ms, so pool connections that open or close meanwhile count too.
 */
const sampler = new pg.Client({ connectionString: databaseUrl });
await sampler.connect();
const lastSeen = new Map<number, number>();
async function sampleBackends(): Promise<void> {
  const { rows } = await sampler.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  for (const { pid } of rows) {
    try {
      const ms = cpuMs(pid);
      lastSeen.set(pid, ms);
    } catch {
      // the backend just exited
    }
  }
}
await sampleBackends();
const backends0 = new Map(lastSeen);
let sampling = true;
const samplerLoop = (async () => {
  while (sampling) {
    await sampleBackends();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
})();
const cpu0 = process.cpuUsage();
const started = now();
/** Each projection's own time to the end of the log while all three run together. */
const together: Record<string, { events: number; seconds: number; eventsPerSec: number }> = {};
await Promise.all(
  projections.map(async (projection) => {
    const events = await new Projector(sqlPort, reader, projection, { batchSize }).catchUp();
    const seconds = (now() - started) / 1000;
    together[projection.name] = { events, seconds, eventsPerSec: events / seconds };
  }),
);
const allSeconds = (now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
sampling = false;
await samplerLoop;
await sampleBackends();
await sampler.end();
let postgresCpuMs = 0;
// Backends that existed before the replay count from their CPU then; new ones (started during it) from zero.
for (const [pid, ms] of lastSeen) postgresCpuMs += ms - (backends0.get(pid) ?? 0);
const cpuSeconds = { replayProcess: (cpu.user + cpu.system) / 1e6, postgresBackends: postgresCpuMs / 1000 };
const orderViews = ((await db.prisma.$queryRawUnsafe('SELECT count(*)::int AS n FROM order_view')) as Array<{ n: number }>)[0]!.n;
await db.close();

// Baseline: read the same log, same order, same batch size, with raw pg; apply nothing.
const client = new pg.Client({ connectionString: databaseUrl });
await client.connect();
const scanStarted = now();
let scanned = 0;
let after = { tx: '0', pos: '0' };
for (;;) {
  const { rows } = await client.query<{ tx: string; pos: string }>(
    `SELECT tx_id::text AS tx, position::text AS pos, event_id, type, schema_version, aggregate_type, aggregate_id,
            aggregate_version, data, metadata, occurred_at
     FROM event_log
     WHERE (tx_id, position) > ($1::xid8, $2::bigint) AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY tx_id, position LIMIT $3`,
    [after.tx, after.pos, batchSize],
  );
  scanned += rows.length;
  if (rows.length < batchSize) break;
  after = rows[rows.length - 1]!;
}
const scanSeconds = (now() - scanStarted) / 1000;
await client.end();

process.stdout.write(
  `${JSON.stringify({
    logEvents,
    orderViews,
    batchSize,
    perProjection,
    together,
    all: { events: logEvents, seconds: allSeconds, eventsPerSec: logEvents / allSeconds, cpuSeconds },
    rawScan: { events: scanned, seconds: scanSeconds, eventsPerSec: scanned / scanSeconds },
  })}\n`,
);
