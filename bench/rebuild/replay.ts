/**
 * Rebuild: replays the whole event log into empty read models with the
 * project's own code, in this separate process, and prints one JSON line.
 *
 *   DATABASE_URL=… [BENCH_SRC_ROOT=<checkout>] node --import tsx bench/rebuild/replay.ts
 *
 * 1. all projections (every read model's, `READ_MODELS`) as the rebuild
 *    command replays them: `rebuildInPlace` (src/projections/rebuild.ts), one
 *    read of the log for all, each batch applied by every projection
 *    together; events/s = log events / wall time;
 * 2. with BENCH_REBUILD_SERVER=true, also as a server catches up after its
 *    read models were reset: one `Projector` per projection, concurrently on
 *    one pool, each reading the log itself (its `catchUp()`), with each
 *    projection's own time to the end of the log;
 * 3. with BENCH_REBUILD_ALONE=true, first each projection alone, from zero;
 * 4. baseline: a raw `pg` scan of the same log in the projectors' order and
 *    batch size, rows decoded and nothing written — the floor of reading it.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { Projection } from '../../src/projections/projection.js';
import { closePgCpu, startBackendCpuSampler, walPosition } from '../lib/pg-cpu.js';
import { ROOT } from '../lib/processes.js';
import { now } from '../lib/stats.js';

const srcRoot = process.env.BENCH_SRC_ROOT ?? ROOT;
const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(srcRoot, path)).href) as Promise<T>;

const { openDatabase } = await load<typeof import('../../src/infrastructure/db/database.js')>('src/infrastructure/db/database.ts');
const { EventLogReader } = await load<typeof import('../../src/eventlog/reader.js')>('src/eventlog/reader.ts');
const { Projector } = await load<typeof import('../../src/projections/projector.js')>('src/projections/projector.ts');
const { rebuildInPlace, resetProjection } = await load<typeof import('../../src/projections/rebuild.js')>('src/projections/rebuild.ts');
const { READ_MODELS } = await load<typeof import('../../src/read-models/registry.js')>('src/read-models/registry.ts');

const databaseUrl = process.env.DATABASE_URL!;
/** Also replay each projection alone (slower: the log is read once per projection and again for all). */
const alone = process.env.BENCH_REBUILD_ALONE === 'true';
/** Also replay as a server catches up: one projector per projection, each reading the log. */
const asServer = process.env.BENCH_REBUILD_SERVER === 'true';
/** Events per batch (the rebuild command's 2000 by default; a server catching up uses 500). */
const batchSize = Number(process.env.BENCH_REBUILD_BATCH ?? 2000);
const projections: Projection[] = READ_MODELS.map((m) => m.projection);
const db = await openDatabase({ databaseUrl, poolSize: Number(process.env.DB_POOL_SIZE ?? 10) });
/** The projectors' SQL port, as the server wires it (and the rebuild command). */
const sqlPort = db.sql;
const reader = new EventLogReader(sqlPort);

const logEvents = ((await db.prisma.$queryRawUnsafe('SELECT count(*)::int AS n FROM event_log')) as Array<{ n: number }>)[0]!.n;

interface Timed {
  events: number;
  seconds: number;
  eventsPerSec: number;
}

const perProjection: Record<string, Timed> = {};
if (alone) {
  for (const projection of projections) {
    const started = now();
    const events = await rebuildInPlace(sqlPort, reader, [projection], { batchSize });
    const seconds = (now() - started) / 1000;
    perProjection[projection.name] = { events, seconds, eventsPerSec: events / seconds };
  }
}

/** The database's name: its backends are sampled, and the server's WAL read, over `databaseUrl` itself. */
const database = new URL(databaseUrl).pathname.slice(1);

/** Runs `replay` after resetting every projection: its wall time, the CPU of this process and of the backends, the WAL written. */
async function measure(replay: () => Promise<void>) {
  for (const projection of projections) await resetProjection(sqlPort, projection);
  const backends = await startBackendCpuSampler(database, databaseUrl);
  // The whole server's WAL: a figure only while nothing else writes.
  const wal0 = await walPosition(databaseUrl);
  const cpu0 = process.cpuUsage();
  const started = now();
  await replay();
  const seconds = (now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const walBytes = Number((await walPosition(databaseUrl)) - wal0);
  const postgresCpuMs = await backends.stop();
  return {
    events: logEvents,
    seconds,
    eventsPerSec: logEvents / seconds,
    cpuSeconds: { replayProcess: (cpu.user + cpu.system) / 1e6, postgresBackends: postgresCpuMs / 1000 },
    walBytes,
  };
}

/** As a server catches up after a reset: each projection's own time to the end of the log. */
const together: Record<string, Timed> = {};
const server = asServer
  ? await measure(async () => {
      const started = now();
      await Promise.all(
        projections.map(async (projection) => {
          const events = await new Projector(sqlPort, reader, projection, { batchSize }).catchUp();
          const seconds = (now() - started) / 1000;
          together[projection.name] = { events, seconds, eventsPerSec: events / seconds };
        }),
      );
    })
  : undefined;

// Last, so the read models stay as the rebuild command leaves them (the bench counts the order views).
let replayed = 0;
const all = await measure(async () => {
  replayed = await rebuildInPlace(sqlPort, reader, projections, { batchSize });
});
if (replayed !== logEvents) throw new Error(`the rebuild replayed ${replayed} events of the log's ${logEvents}`);
await closePgCpu();
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
    projections: projections.map((p) => p.name),
    perProjection,
    server: server && { ...server, perProjection: together },
    all,
    rawScan: { events: scanned, seconds: scanSeconds, eventsPerSec: scanned / scanSeconds },
  })}\n`,
);
