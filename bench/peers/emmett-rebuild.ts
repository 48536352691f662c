/**
 * Emmett's rebuild path for the peers-writes scenario, in this separate
 * process; prints one JSON line.
 *
 *   SOURCE_URL=<our seeded rebuild database> DATABASE_URL=<Emmett's database> [BENCH_REBUILD_BATCH=2000] \
 *     node --import tsx bench/peers/emmett-rebuild.ts
 *
 * 1. Load (not measured as the rebuild): the same events our rebuild replays,
 *    read from SOURCE_URL's event_log in log order, appended into Emmett's
 *    store one stream per aggregate ("order-<id>", …) with one
 *    `appendToStream` per stream carrying all of its events (expected version
 *    STREAM_DOES_NOT_EXIST, no projection): a stream's events stay in order,
 *    streams come one after another. ONE appender at a time: Emmett's reader
 *    (readMessagesBatch) orders by transaction id but continues after the
 *    last global position it saw, so messages whose global position is below
 *    that of a later-committed transaction's are skipped when appends
 *    overlap — with 16 concurrent appenders the rebuild missed about 13% of
 *    the events (BENCH_EMMETT_LOAD_CONCURRENCY=16 shows it; the run is then
 *    invalid).
 * 2. Rebuild (measured): `rebuildPostgreSQLProjections` with the three Pongo
 *    single-stream projections (orders, users, products: bench/peers/emmett.ts)
 *    — one consumer reading Emmett's messages table from the start in
 *    batches, each projection truncated first and applied batch by batch,
 *    until no messages are left. events/s = events in the store / wall time.
 *    CPU: this process, and the database's backends sampled every 250 ms.
 * 3. Verified: every order document equals the fold of its stream's events
 *    (evolveOrder), and there are as many user and product documents as
 *    streams.
 */
import pg from 'pg';
import { pongoClient } from '@event-driven-io/pongo';
import { rebuildPostgreSQLProjections, type PostgreSQLProjectionDefinition } from '@event-driven-io/emmett-postgresql';
import { closePgCpu, startBackendCpuSampler } from '../lib/pg-cpu.js';
import { now } from '../lib/stats.js';
import { emmettStore, evolveOrder, ordersProjection, productsProjection, STREAM_DOES_NOT_EXIST, streamOf, usersProjection, type BenchEvent, type OrderDocument, type OrderEvent } from './emmett.js';

const sourceUrl = process.env.SOURCE_URL!;
const databaseUrl = process.env.DATABASE_URL!;
const batchSize = Number(process.env.BENCH_REBUILD_BATCH ?? 2000);

const source = new pg.Client({ connectionString: sourceUrl });
await source.connect();
const { rows } = await source.query<{ aggregate_type: string; aggregate_id: string; type: string; data: Record<string, unknown> }>(
  'SELECT aggregate_type, aggregate_id::text, type, data FROM event_log ORDER BY tx_id, position',
);
await source.end();
const streams = new Map<string, Array<{ type: string; data: Record<string, unknown> }>>();
for (const r of rows) {
  const name = streamOf(r.aggregate_type, r.aggregate_id);
  let list = streams.get(name);
  if (!list) streams.set(name, (list = []));
  list.push({ type: r.type, data: r.data });
}

const loadStarted = now();
const store = emmettStore(databaseUrl, false);
await store.schema.migrate();
const queue = [...streams];
let appended = 0;
const loadConcurrency = Number(process.env.BENCH_EMMETT_LOAD_CONCURRENCY ?? 1);
await Promise.all(
  Array.from({ length: loadConcurrency }, async () => {
    for (let next = queue.pop(); next; next = queue.pop()) {
      const [name, events] = next;
      const result = await store.appendToStream(name, events, { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
      if (result.nextExpectedStreamVersion !== BigInt(events.length)) throw new Error(`${name}: at version ${result.nextExpectedStreamVersion} after ${events.length} events`);
      appended += events.length;
    }
  }),
);
await store.close();
const loadSeconds = (now() - loadStarted) / 1000;

const sampler = new pg.Client({ connectionString: databaseUrl });
await sampler.connect();
// Emmett reads only below the server-wide transaction horizon (like our projectors): wait until every message is readable.
for (let waited = 0; ; waited += 100) {
  const { rows: r } = await sampler.query<{ n: string }>('SELECT count(*) AS n FROM emt_messages WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())');
  if (Number(r[0]!.n) >= appended) break;
  if (waited > 60_000) throw new Error(`only ${r[0]!.n} of ${appended} messages below the transaction horizon after 60 s`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
// Backends of Emmett's database during the rebuild (pool connections open and close meanwhile).
const backends = await startBackendCpuSampler(new URL(databaseUrl).pathname.slice(1), databaseUrl);

const cpu0 = process.cpuUsage();
const started = now();
const consumer = rebuildPostgreSQLProjections<BenchEvent>({
  connectionString: databaseUrl,
  pulling: { batchSize },
  // Each projection handles only its own event types (canHandle); the consumer reads the log once for the three.
  projections: [ordersProjection, usersProjection, productsProjection] as unknown as Array<PostgreSQLProjectionDefinition<BenchEvent>>,
});
await consumer.start();
const seconds = (now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
const postgresCpuMs = await backends.stop();
await consumer.close();
await sampler.end();
await closePgCpu();

// Verification: each document as the fold of its stream.
const pongo = pongoClient(databaseUrl);
const db = pongo.db();
const orderDocs = await db.collection<OrderDocument>('orders').find();
const users = await db.collection('users').find();
const products = await db.collection('products').find();
await pongo.close();
const byId = new Map(orderDocs.map((d) => [d._id, d]));
const problems: string[] = [];
let orderStreams = 0;
let userStreams = 0;
let productStreams = 0;
for (const [name, events] of streams) {
  if (name.startsWith('user-')) userStreams++;
  if (name.startsWith('product-')) productStreams++;
  if (!name.startsWith('order-')) continue;
  orderStreams++;
  const expected = (events as unknown as OrderEvent[]).reduce<OrderDocument | null>(evolveOrder, null)!;
  const doc = byId.get(name);
  const { _id, _version, ...got } = doc ?? ({} as Record<string, unknown>);
  if (!doc || JSON.stringify(got, Object.keys(expected).sort()) !== JSON.stringify(expected, Object.keys(expected).sort())) {
    if (problems.length < 3) problems.push(`${name}: expected ${JSON.stringify(expected).slice(0, 200)}, got ${JSON.stringify(got).slice(0, 200)}`);
    else problems.push('');
  }
}
if (orderDocs.length !== orderStreams) problems.push(`${orderDocs.length} order documents for ${orderStreams} streams`);
if (users.length !== userStreams) problems.push(`${users.length} user documents for ${userStreams} streams`);
if (products.length !== productStreams) problems.push(`${products.length} product documents for ${productStreams} streams`);

process.stdout.write(
  `${JSON.stringify({
    events: appended,
    streams: streams.size,
    batchSize,
    load: { seconds: loadSeconds, eventsPerSec: appended / loadSeconds, concurrency: loadConcurrency },
    rebuild: { seconds, eventsPerSec: appended / seconds, cpuSeconds: { process: (cpu.user + cpu.system) / 1e6, postgresBackends: postgresCpuMs / 1000 } },
    documents: { orders: orderDocs.length, users: users.length, products: products.length },
    problems: problems.filter(Boolean).length ? [`${problems.length} problems`, ...problems.filter(Boolean)] : [],
  })}\n`,
);
process.exit(0);
