/**
 * `npm run bench`: the performance bench (never part of `npm test`).
 *
 * Starts the API (`node --import tsx src/main.ts`) on a fresh PostgreSQL
 * database of its own, seeds it, and runs each scenario against it and
 * against a raw baseline in the same run: commands, queries, projection lag,
 * subscription fan-out, rebuild. Load comes from separate processes
 * (autocannon; the graphql-ws client). Prints a table and writes
 * bench/results/latest.json. Stops by itself, kills its children and drops
 * its databases. See bench/README.md.
 *
 *   npm run bench [-- --only=commands,peers-writes,queries,peers,cache,replicas,cursors,lag,fanout,rebuild] [--duration=10] [--warmup=2] [--rounds=2] [--wait-load=1.5]
 *   npm run bench -- --profile=<commands|ryw|queries-user|queries-order|queries-orders|lag|fanout|rebuild>
 *   npm run bench -- --server-root=/path/to/other/checkout   (measure a candidate fix)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { createBenchAuth, requestHeaders, serverAuthEnv, useBenchAuth } from './lib/auth.js';
import { BenchDatabases, PG_SERVER_URL } from './lib/db.js';
import { HorizonWatch } from './lib/horizon.js';
import { backendCpu, backendCpuBetween, closePgCpu, serverCpu, walPosition } from './lib/pg-cpu.js';
import { censusGrowth, forceGc, heapCensus } from './lib/inspector.js';
import {
  body, ORDER, ORDERS, ORDERS_CHANGED, ORDERS_CONNECTION, ORDERS_PAGE, PLACE_ORDER, PLACE_ORDER_READ_YOUR_WRITES, POSTGRAPHILE_ORDER, POSTGRAPHILE_ORDERS, USER,
} from './lib/operations.js';
import { cpuMs, freePort, killAll, machineBusyMs, machineLoad, ROOT, rssBytes, sleep, spawnNode, waitForHttp, type Child } from './lib/processes.js';
import { buildWorld, insertEvents, insertWriteModel, withClient, type World } from './lib/seed.js';
import { gql, startApiServer, startBaseline, startPeer, waitForProjections, type RunningServer } from './lib/servers.js';
import { median, medianBy, now, summarize, type Summary } from './lib/stats.js';
import { markdownTable, row, textTable, withRounds, type Row } from './lib/table.js';
import { PgCluster } from '../test/support/pg-cluster.js';
import type { LoadConfig, LoadResult } from './load/http-load.js';
import type { AppendLoadConfig, AppendLoadResult } from './peers/append-load.js';
import { formatSummary, summarizeProfile } from './profile/summarize.js';

// ───────────── options ─────────────

const args = new Map(
  process.argv.slice(2).map((a) => {
    const text = a.replace(/^--/, '');
    const at = text.indexOf('=');
    return (at < 0 ? [text, 'true'] : [text.slice(0, at), text.slice(at + 1)]) as [string, string];
  }),
);
const ALL = ['commands', 'peers-writes', 'queries', 'peers', 'cache', 'replicas', 'cursors', 'lag', 'fanout', 'rebuild'] as const;
const only = new Set((args.get('only') ?? ALL.join(',')).split(','));
const DURATION = Number(args.get('duration') ?? 10);
const WARMUP = Number(args.get('warmup') ?? 2);
/** Throughput pairs (ours, baseline) run alternately this many times; each side reports the median round and the range. */
const ROUNDS = Math.max(1, Number(args.get('rounds') ?? 3));
/** Before starting, wait (up to 10 minutes) until the 1-minute load average is below this. */
const WAIT_LOAD = args.has('wait-load') ? Number(args.get('wait-load')) : undefined;
const profileTarget = args.get('profile');
const serverRoot = args.get('server-root') ?? ROOT;
/** A second checkout measured next to the server in the queries scenario, alternately, in the same run (a candidate change). */
const candidateRoot = args.get('candidate-root');
/** Extra environment for the API server: --server-env=NAME=value,NAME2=value2 */
const serverEnv = Object.fromEntries(
  (args.get('server-env') ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const outFile = args.get('out') ?? join(ROOT, profileTarget ? `bench/results/profile-${profileTarget}.json` : 'bench/results/latest.json');
const FANOUT_CHANGES = 5;
/** Concurrency of the profiled load (--profile-connections; commands, ryw and queries targets). */
const PROFILE_CONNECTIONS = Number(args.get('profile-connections') ?? 16);
const REBUILD_EVENTS = Number(args.get('rebuild-events') ?? 100_000);
/** The cursors scenario: a customer with this many orders, paged 20 at a time; page CURSOR_PAGE against page 1. */
const HEAVY_CUSTOMER_ORDERS = 10_000;
const CURSOR_PAGE = 500;
/** The cache scenario's Redis (the one every development machine runs), and the key prefix of this run. */
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS_PREFIX = `orders:bench:${process.pid}:`;
/** The cache scenario's in-process layer when Redis is behind it: small, so that most views come from Redis. */
const REDIS_RUN_MEMORY_ENTRIES = 16;

const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/** This run's JWT secret (every server process) and admin token (every request and connection_init). */
const auth = await createBenchAuth();
useBenchAuth(auth);
/** The token goes to load generators in their environment, never into a file. */
const clientEnv = { BENCH_AUTHORIZATION: auth.authorization };

// ───────────── shared state ─────────────

const dbs = new BenchDatabases();
const rows: Row[] = [];
const details: Record<string, unknown> = {};
const loadSamples: Array<{ at: string; phase: string; loadavg1: number }> = [];
let api: RunningServer | undefined;
let apiInspectPort = 0;
const children: Array<RunningServer | Child> = [];
/** Every run that had a failure (an error, another status, an unexpected answer, a message never delivered): the bench fails. */
const failedRuns: string[] = [];

function failed(what: string): string {
  failedRuns.push(what);
  log(`  INVALID: ${what}`);
  return what;
}

function noteLoad(phase: string) {
  loadSamples.push({ at: new Date().toISOString(), phase, loadavg1: machineLoad().loadavg1 });
}

let loads = 0;
/** One load run in a separate process (its config passed in a file). */
async function runLoadOnce(config: LoadConfig): Promise<LoadResult> {
  let last = '';
  const file = join(os.tmpdir(), `${dbs.prefix}-load-${++loads}.json`);
  writeFileSync(file, JSON.stringify(config));
  // A fixed rate goes to the steady open-loop generator (autocannon's rate mode sends per-second bursts).
  const script = config.overallRate ? 'bench/load/steady-load.ts' : 'bench/load/http-load.ts';
  const child = spawnNode({ name: script, script, args: [file], env: clientEnv, onLine: (l) => (last = l) });
  const code = await child.exited;
  rmSync(file, { force: true });
  if (code !== 0 || !last) throw new Error(`load generator failed (exit ${code}):\n${child.output()}`);
  return JSON.parse(last) as LoadResult;
}

type Measured = LoadResult & {
  serverCpuMsPerRequest: number | null;
  postgresCpuMsPerRequest: number | null;
  /** WAL the shared PostgreSQL server wrote over the measured run per request (server-wide: all its databases). */
  walBytesPerRequest: number | null;
  /** The server process's resident memory at the end of the measured run (KiB). */
  serverRssKiB: number | null;
  /** CPU the whole machine was busy over the measured run per request (both cores: load generator, server, PostgreSQL, the rest). */
  machineCpuMsPerRequest: number | null;
  /** With Side.pgServers: each server's CPU (all its processes) per request, by name. */
  pgServerCpuMsPerRequest?: Record<string, number>;
  invalid?: string;
};

/**
 * Warm-up, then the measured run. With the server's pid, also its CPU time
 * per request over the measured run (from /proc): less sensitive to other
 * load on the machine than throughput. With its database's name, likewise the
 * CPU of that database's PostgreSQL backends: the other half of the machine.
 */
async function runLoad(config: LoadConfig, serverPid?: number, database?: string, pgServers: Readonly<Record<string, string>> = {}): Promise<Measured> {
  if (config.warmupSec > 0) await runLoadOnce({ ...config, durationSec: config.warmupSec, warmupSec: 0, recordOrders: false });
  const servers = Object.entries(pgServers);
  const cpu0 = serverPid ? cpuMs(serverPid) : 0;
  const pg0 = database ? await backendCpu(database) : undefined;
  const wal0 = database ? await walPosition() : 0n;
  const servers0 = await Promise.all(servers.map(([, url]) => serverCpu(url)));
  const busy0 = machineBusyMs();
  const result = await runLoadOnce({ ...config, warmupSec: 0 });
  const busy = machineBusyMs() - busy0;
  const cpu = serverPid ? cpuMs(serverPid) - cpu0 : 0;
  const rss = serverPid ? rssBytes(serverPid) / 1024 : null;
  const pgCpu = database ? backendCpuBetween(pg0!, await backendCpu(database)) : 0;
  const wal = database ? Number((await walPosition()) - wal0) : 0;
  const servers1 = await Promise.all(servers.map(([, url]) => serverCpu(url)));
  const invalid =
    result.failures > 0
      ? failed(`${config.url}: ${result.mismatches} unexpected answers, ${result.non2xx} non-2xx, ${result.errors} errors; e.g. ${result.sampleError ?? ''}`)
      : undefined;
  return {
    ...result,
    invalid,
    serverCpuMsPerRequest: serverPid && result.requests ? cpu / result.requests : null,
    postgresCpuMsPerRequest: database && result.requests ? pgCpu / result.requests : null,
    walBytesPerRequest: database && result.requests ? wal / result.requests : null,
    serverRssKiB: rss,
    machineCpuMsPerRequest: result.requests ? busy / result.requests : null,
    ...(servers.length && result.requests
      ? { pgServerCpuMsPerRequest: Object.fromEntries(servers.map(([name], i) => [name, (servers1[i]! - servers0[i]!) / result.requests])) }
      : {}),
  };
}

/** A database's name from its URL. */
const dbName = (url: string) => new URL(url).pathname.slice(1);

interface Side {
  readonly config: LoadConfig;
  readonly pid: number;
  readonly database?: string;
  /** Whole PostgreSQL servers whose CPU per request is reported (Measured.pgServerCpuMsPerRequest), by name. */
  readonly pgServers?: Readonly<Record<string, string>>;
}

/** A side measured by its own process (no HTTP load generator): warm-up and measured run inside `run`. */
interface RunSide {
  readonly run: () => Promise<Measured>;
}

interface Rounds {
  /** Each figure the median over the rounds (throughput, latency percentiles, CPU per request). */
  readonly median: Measured;
  /** min–max throughput over the rounds. */
  readonly spread: readonly [number, number];
  readonly runs: readonly Measured[];
  readonly invalid?: string;
}

/** The median of each figure over the rounds; failures add up. */
function medianRun(runs: readonly Measured[]): Measured {
  const m = (f: (r: Measured) => number | null) => {
    const values = runs.map(f).filter((v): v is number => v !== null && Number.isFinite(v));
    return values.length ? median(values) : null;
  };
  const typical = medianBy(runs, (r) => r.rps)!;
  const latency = (k: keyof Summary) => m((r) => r.latencyMs[k]) ?? NaN;
  const sum = (f: (r: Measured) => number) => runs.reduce((n, r) => n + f(r), 0);
  return {
    ...typical,
    requests: m((r) => r.requests) ?? 0,
    rps: m((r) => r.rps) ?? 0,
    latencyMs: { count: typical.latencyMs.count, p50: latency('p50'), p90: latency('p90'), p99: latency('p99'), max: latency('max'), mean: latency('mean') },
    serverCpuMsPerRequest: m((r) => r.serverCpuMsPerRequest),
    postgresCpuMsPerRequest: m((r) => r.postgresCpuMsPerRequest),
    walBytesPerRequest: m((r) => r.walBytesPerRequest),
    serverRssKiB: m((r) => r.serverRssKiB),
    machineCpuMsPerRequest: m((r) => r.machineCpuMsPerRequest),
    ...(typical.pgServerCpuMsPerRequest
      ? { pgServerCpuMsPerRequest: Object.fromEntries(Object.keys(typical.pgServerCpuMsPerRequest).map((k) => [k, m((r) => r.pgServerCpuMsPerRequest?.[k] ?? null) ?? NaN])) }
      : {}),
    errors: sum((r) => r.errors),
    non2xx: sum((r) => r.non2xx),
    mismatches: sum((r) => r.mismatches),
    failures: sum((r) => r.failures),
    invalid: runs.find((r) => r.invalid)?.invalid,
  };
}

/**
 * The sides (ours, then baselines), alternately, ROUNDS times (a warm-up
 * before each run), each reported as the median of its rounds with the
 * range. The machine is shared: alternating spreads whatever else runs over
 * every side. Every round is kept in latest.json.
 */
async function measureAlternating(
  name: string,
  sides: ReadonlyArray<(Side | RunSide) & { readonly label: string }>,
  afterEach?: (label: string) => Promise<void>,
): Promise<Rounds[]> {
  const runs: Measured[][] = sides.map(() => []);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, side] of sides.entries()) {
      const r = 'run' in side ? await side.run() : await runLoad(side.config, side.pid, side.database, side.pgServers);
      log(`  ${name} round ${round}/${ROUNDS}  ${side.label.padEnd(4)} ${brief(r)}`);
      runs[i]!.push(r);
      await afterEach?.(side.label);
    }
  }
  return runs.map((list) => {
    const rps = list.map((r) => r.rps);
    const med = medianRun(list);
    return { median: med, spread: [Math.min(...rps), Math.max(...rps)] as const, runs: list, invalid: med.invalid };
  });
}

/** Ours and one baseline, alternately (see measureAlternating). */
async function measurePair(name: string, ours: Side, base: Side, afterOurs?: () => Promise<void>) {
  const [o, b] = await measureAlternating(name, [{ label: 'ours', ...ours }, { label: 'raw', ...base }], (label) =>
    label === 'ours' ? (afterOurs?.() ?? Promise.resolve()) : Promise.resolve(),
  );
  return {
    ours: o!.median,
    base: b!.median,
    rounds: o!.runs.map((r, i) => ({ ours: r.rps, baseline: b!.runs[i]!.rps })),
    spread: { ours: o!.spread, baseline: b!.spread },
    invalid: o!.invalid ?? b!.invalid,
  };
}

/** A scenario's rows: the first (throughput) with the rounds' ranges; all marked when a run failed. */
function scenarioRows(list: Row[], pair: { spread: Row['spread']; invalid?: string }): Row[] {
  return list.map((r, i) => withRounds(r, i === 0 ? pair.spread : undefined, pair.invalid));
}

function brief(r: Measured): string {
  const cpu =
    (r.serverCpuMsPerRequest === null ? '' : `, server CPU ${r.serverCpuMsPerRequest.toFixed(2)} ms/request`) +
    (r.postgresCpuMsPerRequest === null ? '' : `, PostgreSQL ${r.postgresCpuMsPerRequest.toFixed(2)} ms`);
  return `${r.rps.toFixed(0)}/s p50 ${r.latencyMs.p50.toFixed(2)} ms p99 ${r.latencyMs.p99.toFixed(2)} ms${cpu}`;
}

// ───────────── setup ─────────────

interface Fixture {
  readonly world: World;
  readonly apiUrl: string;
  readonly rawUrl: string;
  readonly placeBody: string;
  readonly orderBodies: string[];
  readonly ordersBodies: string[];
  /** The 100 query users and their 4,000 orders (the cache scenario's ids). */
  readonly queryUserIds: string[];
  readonly queryOrderIds: string[];
  /** The customer with HEAVY_CUSTOMER_ORDERS orders (only when the cursors scenario runs). */
  readonly heavyCustomerId?: string;
}

async function setup(): Promise<Fixture> {
  log(`creating databases ${dbs.prefix}_* (migrating the template)`);
  await dbs.createTemplate();
  const apiUrl = await dbs.create('api');
  const rawUrl = await dbs.create('raw');
  // 1 customer for commands + 100 for queries, 50 products, 40 orders each (~9,000 events);
  // for the cursors scenario one more customer with HEAVY_CUSTOMER_ORDERS orders.
  const world = buildWorld({
    users: 101,
    products: 50,
    ordersPerUser: 40,
    profileUpdates: 50,
    productUpdates: 10,
    heavyCustomerOrders: only.has('cursors') ? HEAVY_CUSTOMER_ORDERS : 0,
  });
  log(`seeding ${world.events.length} events, ${world.orders.size} orders into both databases`);
  for (const url of [apiUrl, rawUrl]) {
    await withClient(url, async (client) => {
      await insertWriteModel(client, world);
      await insertEvents(client, world.events);
      await client.query('ANALYZE');
    });
  }
  const customer = world.users[0]!;
  const placeBody = body(PLACE_ORDER, {
    input: { userId: customer.id, items: world.products.slice(0, 3).map((p, i) => ({ productId: p.id, quantity: i + 1 })) },
  });
  const queryUsers = world.users.slice(1).filter((u) => u !== world.heavyCustomer);
  const queryUserIds = new Set(queryUsers.map((u) => u.id));
  const orderIds = [...world.orders.values()].filter((o) => queryUserIds.has(o.userId)).map((o) => o.id);
  const orderBodies = orderIds.filter((_, i) => i % 2 === 0).map((id) => body(ORDER, { id }));
  const ordersBodies = queryUsers.map((u) => body(ORDERS, { userId: u.id }));
  return {
    world, apiUrl, rawUrl, placeBody, orderBodies, ordersBodies, heavyCustomerId: world.heavyCustomer?.id,
    queryUserIds: queryUsers.map((u) => u.id), queryOrderIds: orderIds,
  };
}

/**
 * With --projector-instance, a second server process on the same database is
 * started FIRST: it takes every projection's lease (README: several
 * instances), so the API process under load serves requests only and its
 * projections run in the other process (on the other core).
 */
async function startProjectorInstance(fixture: Fixture): Promise<void> {
  log('starting a projector instance first (it takes the projection leases)');
  const projector = await startApiServer({ databaseUrl: fixture.apiUrl, root: serverRoot, env: { ...serverEnv } });
  children.push(projector);
  await waitForProjections(projector.url);
}

async function startApi(fixture: Fixture, cpuProfileDir?: string): Promise<RunningServer> {
  if (args.get('projector-instance') === 'true') await startProjectorInstance(fixture);
  apiInspectPort = await freePort();
  log(`starting the API from ${serverRoot}${cpuProfileDir ? ' with --cpu-prof' : ''}`);
  const server = await startApiServer({
    databaseUrl: fixture.apiUrl,
    root: serverRoot,
    cpuProfileDir,
    inspectPort: apiInspectPort,
    env: { WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '1000', ...serverEnv },
  });
  children.push(server);
  await waitForProjections(server.url);
  return server;
}

// ───────────── 1. commands ─────────────

/** What a placeOrder answer without its entity must be (the raw baselines answer the same). */
const PLACED = { pattern: '^\\{"data":\\{"placeOrder":\\{"orderId":"[0-9a-f-]{36}","version":1,"position":"\\d+:\\d+"\\}\\}\\}$' };
/** … and with its entity (read-your-writes): the order as placed, never null. */
const PLACED_AND_READ = {
  pattern: '^\\{"data":\\{"placeOrder":\\{"orderId":"([0-9a-f-]{36})","version":1,"position":"\\d+:\\d+","order":\\{"id":"\\1","status":"PENDING",',
};

async function commands(fixture: Fixture, raw: RunningServer) {
  const out: Record<string, unknown> = {};
  for (const connections of [1, 16, 64]) {
    const common = { connections, durationSec: DURATION, warmupSec: WARMUP, body: fixture.placeBody, verify: PLACED };
    log(`commands: placeOrder at concurrency ${connections}, ours and both raw baselines alternately`);
    noteLoad(`commands c=${connections}`);
    const [ours, one, five] = await measureAlternating(
      `c=${connections}`,
      [
        { label: 'ours', config: { url: api!.url, ...common }, pid: api!.pid, database: dbName(fixture.apiUrl) },
        { label: 'raw1', config: { url: `${raw.url}/placeOrder?statements=1`, ...common }, pid: raw.pid, database: dbName(fixture.rawUrl) },
        { label: 'raw5', config: { url: `${raw.url}/placeOrder`, ...common }, pid: raw.pid, database: dbName(fixture.rawUrl) },
      ],
      // No projection backlog during a baseline run.
      (label) => (label === 'ours' ? waitForProjections(api!.url) : Promise.resolve()),
    );
    const o = ours!.median;
    const b = one!.median;
    const invalid = ours!.invalid ?? one!.invalid ?? five!.invalid;
    const scenario = `commands c=${connections}`;
    rows.push(
      ...scenarioRows(
        [
          row(scenario, 'placeOrder (3 lines) throughput', 'cmd/s', o.rps, b.rps,
            connections === 16 ? { kind: 'ratio≥', value: 0.75 } : connections === 64 ? { kind: 'ratio≥', value: 0.9 } : undefined,
            'baseline: one statement for state, lines and event, one combined read (as the API writes)'),
          row(scenario, 'latency p50', 'ms', o.latencyMs.p50, b.latencyMs.p50),
          row(scenario, 'latency p99', 'ms', o.latencyMs.p99, b.latencyMs.p99),
          row(scenario, 'server CPU per command', 'ms', o.serverCpuMsPerRequest, b.serverCpuMsPerRequest, undefined, 'Node process only, projectors included'),
          row(scenario, 'PostgreSQL CPU per command', 'ms', o.postgresCpuMsPerRequest, b.postgresCpuMsPerRequest,
            connections === 16 && b.postgresCpuMsPerRequest ? { kind: 'ours≤', value: 1.5 * b.postgresCpuMsPerRequest } : undefined,
            'backends of the database under load, projections included; target ≤ 1.5 × the baseline'),
          row(scenario, 'WAL per command', 'B', o.walBytesPerRequest, b.walBytesPerRequest, undefined,
            'pg_current_wal_lsn() before and after, the whole server: projections, histories and checkpoints included'),
          row(scenario, 'machine CPU per command', 'ms', o.machineCpuMsPerRequest, b.machineCpuMsPerRequest, undefined, 'both cores: load generator, server, PostgreSQL, the rest'),
          row(scenario, 'server RSS at the end of the run', 'MiB', o.serverRssKiB === null ? null : o.serverRssKiB / 1024, b.serverRssKiB === null ? null : b.serverRssKiB / 1024),
        ],
        { spread: { ours: ours!.spread, baseline: one!.spread }, invalid },
      ),
      ...scenarioRows(
        [row(scenario, 'vs five-statement baseline', 'cmd/s', o.rps, five!.median.rps, undefined, 'BEGIN; INSERT ×3; COMMIT, two reads')],
        { spread: { ours: ours!.spread, baseline: five!.spread }, invalid },
      ),
    );
    out[`c${connections}`] = {
      ours: strip(o),
      baseline: strip(b),
      fiveStatementBaseline: strip(five!.median),
      rounds: ours!.runs.map((r, i) => ({ ours: r.rps, baseline: one!.runs[i]!.rps, fiveStatementBaseline: five!.runs[i]!.rps })),
    };
    if (connections === 16) {
      log('commands: placeOrder with its `order` entity (read-your-writes) at concurrency 16 (ours)');
      const rywBody = fixture.placeBody.replace(JSON.stringify(PLACE_ORDER), JSON.stringify(PLACE_ORDER_READ_YOUR_WRITES));
      const [ryw] = await measureAlternating('c=16 + entity', [
        { label: 'ours', config: { url: api!.url, ...common, body: rywBody, verify: PLACED_AND_READ }, pid: api!.pid, database: dbName(fixture.apiUrl) },
      ], () => waitForProjections(api!.url));
      const r = ryw!.median;
      rows.push(
        ...scenarioRows(
          [
            row('commands c=16 + entity', 'placeOrder read-your-writes throughput', 'cmd/s', r.rps, b.rps, undefined, 'extra row: payload waits for the projection; baseline = raw one-statement write'),
            row('commands c=16 + entity', 'latency p50', 'ms', r.latencyMs.p50, b.latencyMs.p50),
            row('commands c=16 + entity', 'latency p99', 'ms', r.latencyMs.p99, b.latencyMs.p99),
            row('commands c=16 + entity', 'server CPU per command', 'ms', r.serverCpuMsPerRequest, b.serverCpuMsPerRequest),
          ],
          { spread: { ours: ryw!.spread, baseline: one!.spread }, invalid: ryw!.invalid },
        ),
      );
      out.c16ReadYourWrites = { ours: strip(r), rounds: ryw!.runs.map((x) => x.rps) };
    }
  }
  details.commands = out;
}

function strip(result: Measured) {
  const { orders: _orders, ...rest } = result;
  return rest;
}

// ───────────── 1a. peers: writes (ours vs Emmett) ─────────────

/** What the Emmett HTTP peer answers (bench/peers/emmett-server.ts): our payload's shape with Emmett's global position. */
const EMMETT_PLACED = { pattern: '^\\{"data":\\{"placeOrder":\\{"orderId":"[0-9a-f-]{36}","version":1,"position":"\\d+"\\}\\}\\}$' };
const money = (cents: bigint) => `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;

/** One in-process append/command run (bench/peers/append-load.ts) in a fresh process. */
async function appendLoad(config: AppendLoadConfig): Promise<Measured> {
  let last = '';
  const file = join(os.tmpdir(), `${dbs.prefix}-append-${++loads}.json`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawnNode({ name: `append-load ${config.mode}`, script: 'bench/peers/append-load.ts', args: [file], onLine: (l) => (last = l) });
  children.push(child);
  const code = await child.exited;
  rmSync(file, { force: true });
  if (code !== 0 || !last) throw new Error(`append load failed (exit ${code}):\n${child.output()}`);
  const r = JSON.parse(last) as AppendLoadResult;
  const invalid = r.failures > 0 ? failed(`${config.mode} in-process appends: ${r.mismatches} unexpected results, ${r.errors} errors; e.g. ${r.sampleError ?? ''}`) : undefined;
  return {
    ...r,
    invalid,
    serverCpuMsPerRequest: r.requests ? r.processCpuMs / r.requests : null,
    postgresCpuMsPerRequest: r.requests ? r.postgresCpuMs / r.requests : null,
    // Its warm-up runs inside the same process: WAL, memory and machine CPU around it would not be per measured append.
    walBytesPerRequest: null,
    serverRssKiB: null,
    machineCpuMsPerRequest: null,
  };
}

/** Rows of streams, messages and order documents in an Emmett database (table names of emmett-postgresql 0.42 / pongo 0.16). */
async function emmettCounts(url: string): Promise<{ streams: number; messages: number; orderDocuments: number | null }> {
  return withClient(url, async (c) => {
    const n = async (sql: string) => Number((await c.query<{ n: string }>(sql)).rows[0]!.n);
    const hasOrders = (await c.query("SELECT to_regclass('public.orders') AS t")).rows[0]!.t !== null;
    return {
      streams: await n('SELECT count(*) AS n FROM emt_streams'),
      messages: await n('SELECT count(*) AS n FROM emt_messages'),
      orderDocuments: hasOrders ? await n('SELECT count(*) AS n FROM orders') : null,
    };
  });
}

/**
 * Ours against Emmett's PostgreSQL event store, each on a database of its
 * own: (1) our CommandService.placeOrder in-process vs Emmett's bare
 * appendToStream, (2) our HTTP placeOrder vs Emmett with an inline Pongo
 * projection behind node:http, both at 16, alternately. The rebuild pair is
 * peersRebuild (after the API has stopped).
 */
async function peersWrites(fixture: Fixture) {
  const connections = 16;
  const { world } = fixture;
  const customer = world.users[0]!;
  const items = world.products.slice(0, 3).map((p, i) => ({ productId: p.id, quantity: i + 1 }));
  const lines = world.products.slice(0, 3).map((p, i) => ({
    productId: p.id, productName: p.name, quantity: i + 1, unitPrice: money(p.price), subtotal: money(p.price * BigInt(i + 1)),
  }));
  const total = money(world.products.slice(0, 3).reduce((sum, p, i) => sum + p.price * BigInt(i + 1), 0n));
  // Ours without HTTP writes into a copy of the seeded write model of its own; Emmett into empty databases.
  const oursUrl = await dbs.create('peers_ours');
  await withClient(oursUrl, async (client) => {
    await insertWriteModel(client, world);
    await insertEvents(client, world.events);
    await client.query('ANALYZE');
  });
  const emmettUrl = await dbs.createEmpty('emmett');
  const emmettInlineUrl = await dbs.createEmpty('emmett_inline');
  const common = { connections, durationSec: DURATION, warmupSec: WARMUP, userId: customer.id, items, lines, total, srcRoot: serverRoot };
  const out: Record<string, unknown> = {};

  log(`peers-writes: our placeOrder command in-process vs Emmett's bare appendToStream, concurrency ${connections}, alternately`);
  noteLoad('peers-writes append');
  const [oursAppend, emmettAppend] = await measureAlternating('append c=16', [
    { label: 'ours', run: () => appendLoad({ ...common, mode: 'ours', databaseUrl: oursUrl }) },
    { label: 'emmett', run: () => appendLoad({ ...common, mode: 'emmett', databaseUrl: emmettUrl }) },
  ]);
  {
    const o = oursAppend!.median;
    const e = emmettAppend!.median;
    const counts = await emmettCounts(emmettUrl);
    // Every verified append made one stream with one message (warm-ups included): nothing more, nothing less.
    const countsInvalid = counts.streams !== counts.messages ? failed(`Emmett bare appends: ${counts.streams} streams but ${counts.messages} messages`) : undefined;
    const scenario = 'peers-writes: ours vs Emmett, no HTTP, c=16';
    rows.push(
      ...scenarioRows(
        [
          row(scenario, 'placeOrder command vs bare appendToStream', 'cmd/s', o.rps, e.rps, { kind: 'ratio≥', value: 1 },
            'ours: CommandService.placeOrder in-process (reads customer+products, one statement: state, lines, event); Emmett: one OrderPlaced to a new stream'),
          row(scenario, 'latency p50', 'ms', o.latencyMs.p50, e.latencyMs.p50),
          row(scenario, 'latency p99', 'ms', o.latencyMs.p99, e.latencyMs.p99),
          row(scenario, 'Node CPU per append', 'ms', o.serverCpuMsPerRequest, e.serverCpuMsPerRequest, undefined, 'the load process: callers and store code together'),
          row(scenario, 'PostgreSQL CPU per append', 'ms', o.postgresCpuMsPerRequest, e.postgresCpuMsPerRequest, undefined, 'backends of each side\'s own database'),
        ],
        { spread: { ours: oursAppend!.spread, baseline: emmettAppend!.spread }, invalid: oursAppend!.invalid ?? emmettAppend!.invalid ?? countsInvalid },
      ),
    );
    out.append = { ours: strip(o), emmett: strip(e), emmettStore: counts, rounds: oursAppend!.runs.map((r, i) => ({ ours: r.rps, emmett: emmettAppend!.runs[i]!.rps })) };
  }

  log(`peers-writes: our HTTP placeOrder vs Emmett + inline Pongo projection behind node:http, concurrency ${connections}, alternately`);
  const catalogFile = join(os.tmpdir(), `${dbs.prefix}-emmett-catalog.json`);
  writeFileSync(catalogFile, JSON.stringify({ products: world.products.map((p) => ({ id: p.id, name: p.name, priceCents: p.price.toString() })), userIds: world.users.map((u) => u.id) }));
  const port = await freePort();
  const emmettServer = spawnNode({ name: 'emmett server', script: 'bench/peers/emmett-server.ts', env: { PORT: String(port), DATABASE_URL: emmettInlineUrl, BENCH_CATALOG: catalogFile } });
  children.push(emmettServer);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, emmettServer);
    noteLoad('peers-writes http');
    const httpCommon = { connections, durationSec: DURATION, warmupSec: WARMUP, body: fixture.placeBody };
    const [oursHttp, emmettHttp] = await measureAlternating(
      'http c=16',
      [
        { label: 'ours', config: { url: api!.url, ...httpCommon, verify: PLACED }, pid: api!.pid, database: dbName(fixture.apiUrl) },
        { label: 'emmett', config: { url: `http://127.0.0.1:${port}/placeOrder`, ...httpCommon, verify: EMMETT_PLACED }, pid: emmettServer.pid, database: dbName(emmettInlineUrl) },
      ],
      (label) => (label === 'ours' ? waitForProjections(api!.url) : Promise.resolve()),
    );
    const o = oursHttp!.median;
    const e = emmettHttp!.median;
    const counts = await emmettCounts(emmettInlineUrl);
    // The inline projection commits with the append: one order document per stream.
    const countsInvalid =
      counts.streams !== counts.messages || counts.orderDocuments !== counts.streams
        ? failed(`Emmett inline: ${counts.streams} streams, ${counts.messages} messages, ${counts.orderDocuments} order documents`)
        : undefined;
    const scenario = 'peers-writes: ours vs Emmett, HTTP, c=16';
    rows.push(
      ...scenarioRows(
        [
          row(scenario, 'HTTP placeOrder vs Emmett + inline projection', 'cmd/s', o.rps, e.rps, { kind: 'ratio≥', value: 1 },
            'ours: the API (GraphQL, auth, projectors async); Emmett: node:http, catalog in memory, append + order document in one transaction'),
          row(scenario, 'latency p50', 'ms', o.latencyMs.p50, e.latencyMs.p50),
          row(scenario, 'latency p99', 'ms', o.latencyMs.p99, e.latencyMs.p99),
          row(scenario, 'server CPU per command', 'ms', o.serverCpuMsPerRequest, e.serverCpuMsPerRequest, undefined, 'ours includes its three projectors'),
          row(scenario, 'PostgreSQL CPU per command', 'ms', o.postgresCpuMsPerRequest, e.postgresCpuMsPerRequest, undefined, 'ours includes projecting into three read models'),
        ],
        { spread: { ours: oursHttp!.spread, baseline: emmettHttp!.spread }, invalid: oursHttp!.invalid ?? emmettHttp!.invalid ?? countsInvalid },
      ),
    );
    out.http = { ours: strip(o), emmett: strip(e), emmettStore: counts, rounds: oursHttp!.runs.map((r, i) => ({ ours: r.rps, emmett: emmettHttp!.runs[i]!.rps })) };
  } finally {
    await emmettServer.stop();
    rmSync(catalogFile, { force: true });
  }
  details.peersWrites = out;
}

interface EmmettRebuild {
  events: number;
  streams: number;
  load: { seconds: number; eventsPerSec: number };
  rebuild: { seconds: number; eventsPerSec: number; cpuSeconds: { process: number; postgresBackends: number } };
  documents: Record<string, number>;
  problems: string[];
}

/** Our rebuild (bench/rebuild/replay.ts, all projections together) vs Emmett's rebuildPostgreSQLProjections over the same events. */
async function peersRebuild() {
  const url = await dbs.create('peers_rebuild');
  const world = buildWorld({ users: 2000, products: 200, totalEvents: REBUILD_EVENTS, profileUpdates: 1000, productUpdates: 200, seed: 7 });
  log(`peers-writes rebuild: seeding ${world.events.length} events into event_log`);
  await withClient(url, async (client) => {
    await insertEvents(client, world.events);
    await client.query('ANALYZE');
  });
  noteLoad('peers-writes rebuild');
  let ourLine = '';
  const ours = spawnNode({
    name: 'rebuild', script: 'bench/rebuild/replay.ts',
    env: { DATABASE_URL: url, BENCH_SRC_ROOT: serverRoot, BENCH_REBUILD_ALONE: 'false', BENCH_REBUILD_BATCH: args.get('rebuild-batch') ?? '2000' },
    onLine: (l) => (ourLine = l),
  });
  children.push(ours);
  if ((await ours.exited) !== 0 || !ourLine) throw new Error(`our rebuild failed:\n${ours.output()}`);
  const o = JSON.parse(ourLine) as { logEvents: number; all: { eventsPerSec: number; seconds: number; cpuSeconds: { replayProcess: number; postgresBackends: number } } };
  log(`  ours: ${o.all.eventsPerSec.toFixed(0)} events/s (${o.all.seconds.toFixed(1)} s)`);
  log('  Emmett: appending the same events into its store (one appendToStream per stream), then rebuildPostgreSQLProjections');
  const emmettUrl = await dbs.createEmpty('emmett_rebuild');
  let emLine = '';
  const em = spawnNode({
    name: 'emmett rebuild', script: 'bench/peers/emmett-rebuild.ts',
    env: { SOURCE_URL: url, DATABASE_URL: emmettUrl, BENCH_REBUILD_BATCH: args.get('rebuild-batch') ?? '2000' },
    onLine: (l) => (emLine = l),
  });
  children.push(em);
  if ((await em.exited) !== 0 || !emLine) throw new Error(`Emmett rebuild failed:\n${em.output()}`);
  const e = JSON.parse(emLine) as EmmettRebuild;
  log(`  Emmett: loaded ${e.events} events in ${e.streams} streams at ${e.load.eventsPerSec.toFixed(0)} events/s; rebuilt at ${e.rebuild.eventsPerSec.toFixed(0)} events/s (${e.rebuild.seconds.toFixed(1)} s)`);
  const invalid =
    e.problems.length || e.events !== o.logEvents ? failed(`Emmett rebuild: ${e.events} events for our ${o.logEvents}; ${e.problems.join('; ')}`) : undefined;
  const scenario = `peers-writes: rebuild ${o.logEvents.toLocaleString('en-US')} events`;
  rows.push(
    ...[
      row(scenario, 'all projections vs Emmett rebuildPostgreSQLProjections', 'ev/s', o.all.eventsPerSec, e.rebuild.eventsPerSec, undefined,
        'ours: the rebuild command, 4 projections (users, products, orders, sales) from one read of the log; Emmett: 3 Pongo single-stream document projections, one consumer'),
      row(scenario, 'Node CPU per 1,000 events', 'ms', (1e6 * o.all.cpuSeconds.replayProcess) / o.logEvents, (1e6 * e.rebuild.cpuSeconds.process) / e.events),
      row(scenario, 'PostgreSQL CPU per 1,000 events', 'ms', (1e6 * o.all.cpuSeconds.postgresBackends) / o.logEvents, (1e6 * e.rebuild.cpuSeconds.postgresBackends) / e.events),
    ].map((r) => withRounds(r, undefined, invalid)),
  );
  details.peersRebuild = { ours: o, emmett: e };
}

// ───────────── 2. queries ─────────────

/** The exact answer to each body, from `url`. */
async function answersOf(url: string, bodies: readonly string[]): Promise<Record<string, string>> {
  const answers: Record<string, string> = {};
  for (let i = 0; i < bodies.length; i += 16) {
    await Promise.all(
      bodies.slice(i, i + 16).map(async (b) => {
        answers[b] = await (await fetch(url, { method: 'POST', headers: requestHeaders(), body: b })).text();
      }),
    );
  }
  return answers;
}

/** Bodies whose answers differ between two answer sets (or carry GraphQL errors). */
function differing(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys(a).filter((k) => a[k]!.trimEnd() !== b[k]?.trimEnd() || !a[k]!.startsWith('{"data":') || a[k]!.includes('"errors"'));
}

async function queries(fixture: Fixture, rawQueries: RunningServer) {
  const out: Record<string, unknown> = {};
  const connections = 16;
  const candidate = candidateRoot ? await startApiServer({ databaseUrl: fixture.apiUrl, root: candidateRoot, env: { ...serverEnv } }) : undefined;
  if (candidate) children.push(candidate);
  for (const [name, path, bodies] of [
    ['order(id)', '/order', fixture.orderBodies],
    ['orders(userId, pageSize 20)', '/orders', fixture.ordersBodies],
  ] as const) {
    // Every answer of the baseline, byte for byte: both sides are checked against it, response by response.
    const answers = await answersOf(`${rawQueries.url}${path}`, bodies);
    const ourAnswers = await answersOf(api!.url, bodies);
    const differ = differing(answers, ourAnswers);
    const identical = differ.length === 0;
    if (!identical) failed(`${name}: ${differ.length} of ${bodies.length} answers differ from the baseline's, e.g. ${differ[0]} → ours ${ourAnswers[differ[0]!]?.slice(0, 300)} raw ${answers[differ[0]!]?.slice(0, 300)}`);
    const common = { connections, durationSec: DURATION, warmupSec: WARMUP, bodies, verify: { answers } };
    log(`queries: ${name} at concurrency ${connections}, ours and the raw baseline alternately`);
    noteLoad(`queries ${name}`);
    const pair = await measurePair(
      name,
      { config: { url: api!.url, ...common }, pid: api!.pid, database: dbName(fixture.apiUrl) },
      { config: { url: `${rawQueries.url}${path}`, ...common }, pid: rawQueries.pid, database: dbName(fixture.apiUrl) },
    );
    const { ours, base } = pair;
    const scenario = `queries ${name} c=${connections}`;
    if (candidate) {
      const differ = differing(answers, await answersOf(candidate.url, bodies));
      const [c, o] = await measureAlternating(`${name} candidate`, [
        { label: 'candidate', config: { url: candidate.url, ...common }, pid: candidate.pid, database: dbName(fixture.apiUrl) },
        { label: 'ours', config: { url: api!.url, ...common }, pid: api!.pid, database: dbName(fixture.apiUrl) },
      ]);
      rows.push(
        ...scenarioRows(
          [
            row(scenario, 'candidate: throughput', 'q/s', c!.median.rps, o!.median.rps, undefined, 'candidate checkout (--candidate-root); baseline: ours'),
            row(scenario, 'candidate: server CPU per query', 'ms', c!.median.serverCpuMsPerRequest, o!.median.serverCpuMsPerRequest),
            row(scenario, 'candidate: PostgreSQL CPU per query', 'ms', c!.median.postgresCpuMsPerRequest, o!.median.postgresCpuMsPerRequest),
          ],
          { spread: { ours: c!.spread, baseline: o!.spread }, invalid: (differ.length ? failed(`candidate ${name}: ${differ.length} answers differ`) : undefined) ?? c!.invalid ?? o!.invalid },
        ),
      );
      out[`${name} candidate`] = { candidate: strip(c!.median), ours: strip(o!.median), rounds: c!.runs.map((r, i) => ({ candidate: r.rps, ours: o!.runs[i]!.rps })) };
    }
    rows.push(
      ...scenarioRows(
        [
          row(scenario, 'throughput', 'q/s', ours.rps, base.rps, { kind: 'ratio≥', value: name === 'order(id)' ? 0.75 : 0.6 }),
          row(scenario, 'latency p50', 'ms', ours.latencyMs.p50, base.latencyMs.p50),
          row(scenario, 'latency p99', 'ms', ours.latencyMs.p99, base.latencyMs.p99),
          row(scenario, 'server CPU per query', 'ms', ours.serverCpuMsPerRequest, base.serverCpuMsPerRequest, undefined, 'Node process only'),
          row(scenario, 'PostgreSQL CPU per query', 'ms', ours.postgresCpuMsPerRequest, base.postgresCpuMsPerRequest),
        ],
        { spread: pair.spread, invalid: pair.invalid ?? (identical ? undefined : 'answers differ from the baseline') },
      ),
    );
    out[name] = { identicalJson: identical, answersChecked: bodies.length, ours: strip(ours), baseline: strip(base), rounds: pair.rounds };
  }
  details.queries = out;
  await candidate?.stop();
}

// ───────────── 2d. peers ─────────────

/** What an answer's data says, reduced to what both stacks must agree on (they read the same rows). */
type Essence = Record<string, unknown>;

interface PeerQuery {
  readonly name: string;
  /** The variable both sides are asked with (an order id, a user id), one per body. */
  readonly keys: readonly string[];
  readonly ours: readonly string[];
  readonly theirs: readonly string[];
  readonly target?: number;
  /** The essence of our answer's data for `key`, or why it is not a proper answer. */
  readonly ourEssence: (data: any, key: string) => Essence | string;
  readonly theirEssence: (data: any, key: string) => Essence | string;
}

const lines = (items: Array<{ productId: string; quantity: number }>) => items.map((i) => `${i.productId}×${i.quantity}`);

const PEER_QUERIES = (fixture: Fixture): PeerQuery[] => {
  const orderIds = fixture.orderBodies.map((b) => (JSON.parse(b) as { variables: { id: string } }).variables.id);
  const userIds = fixture.ordersBodies.map((b) => (JSON.parse(b) as { variables: { userId: string } }).variables.userId);
  const order = (o: any, position: string, items: any[]): Essence => ({
    id: o.id, status: o.status, total: String(o.total), itemCount: o.itemCount, position,
    user: o.user && { id: o.user.id, name: o.user.name, email: o.user.email, orderCount: o.user.orderCount, totalSpent: String(o.user.totalSpent) },
    items: lines(items),
  });
  const pageOrder = (o: any, items: any[]) => ({ id: o.id, status: o.status, total: String(o.total), user: o.user && { id: o.user.id, name: o.user.name }, items: lines(items) });
  return [
    {
      name: 'order(id)', keys: orderIds, ours: fixture.orderBodies, theirs: orderIds.map((id) => body(POSTGRAPHILE_ORDER, { id })), target: 1.25,
      ourEssence: (d, id) => (d?.order?.id === id ? order(d.order, d.order.position, d.order.items) : `order ${id} missing or another id`),
      theirEssence: (d, id) => (d?.order?.id === id ? order(d.order, `${d.order.lastTx}:${d.order.lastPos}`, d.order.items) : `order ${id} missing or another id`),
    },
    {
      name: 'orders(userId, pageSize 20)', keys: userIds, ours: fixture.ordersBodies, theirs: userIds.map((userId) => body(POSTGRAPHILE_ORDERS, { userId })),
      ourEssence: (d, userId) =>
        d?.orders?.orders?.length === 20 && d.orders.orders.every((o: any) => o.user?.id === userId)
          ? { total: d.orders.total, orders: d.orders.orders.map((o: any) => pageOrder(o, o.items)) }
          : `not 20 orders of ${userId}`,
      theirEssence: (d, userId) =>
        d?.orders?.orders?.length === 20 && d.orders.orders.every((o: any) => o.user?.id === userId)
          ? { total: d.orders.totalCount, orders: d.orders.orders.map((o: any) => pageOrder(o, o.items)) }
          : `not 20 orders of ${userId}`,
    },
  ];
};

/** The essence of each answer (parsed, without `errors`, data non-null), or the first problem found. */
function essences(answers: Record<string, string>, bodies: readonly string[], keys: readonly string[], of: PeerQuery['ourEssence']): Essence[] | string {
  const out: Essence[] = [];
  for (const [i, b] of bodies.entries()) {
    const text = answers[b] ?? '';
    let json: { data?: unknown; errors?: unknown };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      return `not JSON: ${text.slice(0, 200)}`;
    }
    if (json.errors !== undefined || json.data == null) return `errors or no data: ${text.slice(0, 300)}`;
    const e = of(json.data, keys[i]!);
    if (typeof e === 'string') return `${e}: ${text.slice(0, 300)}`;
    out.push(e);
  }
  return out;
}

/**
 * PostGraphile 5 (bench/peers/postgraphile-server.ts) on the API's own
 * database and read-model tables, against ours as it starts (in-process cache
 * on) and ours with the cache off, alternately. Every answer of each side is
 * read first and checked — no `errors`, data present, the id asked for, and
 * the same orders, statuses, totals, customers and lines on both stacks — and
 * every answer under load must equal it byte for byte.
 */
async function peers(fixture: Fixture) {
  const version = (JSON.parse(readFileSync(join(ROOT, 'node_modules/postgraphile/package.json'), 'utf8')) as { version: string }).version;
  log(`peers: starting PostGraphile ${version} on the API's database, and an API with the cache off`);
  const peer = await startPeer('postgraphile-server.ts', { DATABASE_URL: fixture.apiUrl, NODE_ENV: 'production', GRAPHILE_ENV: 'production' });
  children.push(peer);
  const noCache = await startApiServer({ databaseUrl: fixture.apiUrl, root: serverRoot, env: { ...serverEnv, CACHE_ENABLED: 'false' } });
  children.push(noCache);
  const peerUrl = `${peer.url}/graphql`;
  const out: Record<string, unknown> = { postgraphileVersion: version };
  const connections = 16;
  for (const q of PEER_QUERIES(fixture)) {
    const ourAnswers = await answersOf(api!.url, q.ours);
    const noCacheAnswers = await answersOf(noCache.url, q.ours);
    const theirAnswers = await answersOf(peerUrl, q.theirs);
    const ours = essences(ourAnswers, q.ours, q.keys, q.ourEssence);
    const theirs = essences(theirAnswers, q.theirs, q.keys, q.theirEssence);
    let invalid: string | undefined;
    if (typeof ours === 'string') invalid = failed(`peers ${q.name}, ours: ${ours}`);
    else if (typeof theirs === 'string') invalid = failed(`peers ${q.name}, PostGraphile: ${theirs}`);
    else {
      const at = ours.findIndex((e, i) => JSON.stringify(e) !== JSON.stringify(theirs[i]));
      if (at >= 0) invalid = failed(`peers ${q.name}: the stacks disagree on ${q.keys[at]}: ours ${JSON.stringify(ours[at])} PostGraphile ${JSON.stringify(theirs[at])}`);
    }
    const differ = differing(ourAnswers, noCacheAnswers);
    if (differ.length) invalid ??= failed(`peers ${q.name}: ${differ.length} answers of ours differ with the cache off, e.g. ${differ[0]}`);
    log(`peers: ${q.name} at concurrency ${connections}, ours, ours without cache and PostGraphile alternately`);
    noteLoad(`peers ${q.name}`);
    const common = { connections, durationSec: DURATION, warmupSec: WARMUP };
    const database = dbName(fixture.apiUrl);
    const [o, n, p] = await measureAlternating(q.name, [
      { label: 'ours', config: { url: api!.url, ...common, bodies: q.ours, verify: { answers: ourAnswers } }, pid: api!.pid, database },
      { label: 'ours, no cache', config: { url: noCache.url, ...common, bodies: q.ours, verify: { answers: noCacheAnswers } }, pid: noCache.pid, database },
      { label: 'PostGraphile', config: { url: peerUrl, ...common, bodies: q.theirs, verify: { answers: theirAnswers } }, pid: peer.pid, database },
    ]);
    const scenario = `peers ${q.name} c=${connections}: ours vs PostGraphile`;
    const pg = p!.median;
    rows.push(
      ...scenarioRows(
        [
          row(scenario, 'throughput', 'q/s', o!.median.rps, pg.rps, q.target ? { kind: 'ratio≥', value: q.target } : undefined,
            `baseline column: PostGraphile ${version} on the same tables; ours as it starts (cache on)`),
          row(scenario, 'latency p50', 'ms', o!.median.latencyMs.p50, pg.latencyMs.p50),
          row(scenario, 'latency p99', 'ms', o!.median.latencyMs.p99, pg.latencyMs.p99),
          row(scenario, 'server CPU per query', 'ms', o!.median.serverCpuMsPerRequest, pg.serverCpuMsPerRequest, undefined, 'Node process only'),
          row(scenario, 'PostgreSQL CPU per query', 'ms', o!.median.postgresCpuMsPerRequest, pg.postgresCpuMsPerRequest),
        ],
        { spread: { ours: o!.spread, baseline: p!.spread }, invalid: invalid ?? o!.invalid ?? p!.invalid },
      ),
      ...scenarioRows(
        [
          row(scenario, 'ours, no cache: throughput', 'q/s', n!.median.rps, pg.rps, undefined, 'CACHE_ENABLED=false: every view from PostgreSQL'),
          row(scenario, 'ours, no cache: server CPU per query', 'ms', n!.median.serverCpuMsPerRequest, pg.serverCpuMsPerRequest),
          row(scenario, 'ours, no cache: PostgreSQL CPU per query', 'ms', n!.median.postgresCpuMsPerRequest, pg.postgresCpuMsPerRequest),
        ],
        { spread: { ours: n!.spread, baseline: p!.spread }, invalid: invalid ?? n!.invalid ?? p!.invalid },
      ),
    );
    out[q.name] = {
      answersChecked: q.keys.length,
      ours: strip(o!.median),
      oursNoCache: strip(n!.median),
      postgraphile: strip(pg),
      rounds: o!.runs.map((r, i) => ({ ours: r.rps, oursNoCache: n!.runs[i]!.rps, postgraphile: p!.runs[i]!.rps })),
    };
  }
  details.peers = out;
  await peer.stop();
  await noCache.stop();
}

// ───────────── 2a. cache ─────────────

/**
 * Request bodies over `ids` with Zipf-like frequencies (the id of rank r,
 * after a fixed shuffle, about 1/r as often as the first), `count` in all:
 * what load generators pick from at random, as profile traffic would come.
 */
function zipfBodies(ids: readonly string[], make: (id: string) => string, count = 4000): string[] {
  const random = seeded(11);
  const ranked = [...ids].sort(() => random() - 0.5);
  const weights = ranked.map((_, r) => 1 / (r + 1));
  const sum = weights.reduce((a, b) => a + b, 0);
  return ranked.flatMap((id, r) => Array.from({ length: Math.max(1, Math.round((count * weights[r]!) / sum)) }, () => make(id)));
}

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cache lookups by layer from a server's /metrics text. */
async function cacheCounts(url: string): Promise<{ memoryHits: number; memoryMisses: number; redisHits: number }> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const sum = (name: string, layer: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && l.includes(`layer="${layer}"`))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { memoryHits: sum('orders_cache_hits_total', 'memory'), memoryMisses: sum('orders_cache_misses_total', 'memory'), redisHits: sum('orders_cache_hits_total', 'redis') };
}

/**
 * `user(id)` and `order(id)` at concurrency 16 over Zipf-like id sets: ours
 * with the in-process cache (the API as it starts by default), ours with
 * Redis behind a small in-process layer, ours without cache
 * (CACHE_ENABLED=false), and the raw `pg` baseline, alternately, with each
 * run's hit ratio. Three API processes on the same database; the main one
 * holds the projection leases.
 */
async function cacheScenario(fixture: Fixture, rawQueries: RunningServer) {
  log('cache: starting an API with Redis behind a small in-process layer, and one without cache');
  const withRedis = await startApiServer({
    databaseUrl: fixture.apiUrl, root: serverRoot,
    env: { ...serverEnv, REDIS_URL, CACHE_REDIS_PREFIX: REDIS_PREFIX, CACHE_MAX_ENTRIES: String(REDIS_RUN_MEMORY_ENTRIES) },
  });
  children.push(withRedis);
  const noCache = await startApiServer({ databaseUrl: fixture.apiUrl, root: serverRoot, env: { ...serverEnv, CACHE_ENABLED: 'false' } });
  children.push(noCache);
  const variants = [
    { key: 'memory', label: 'ours, in-process cache', url: api!.url, pid: api!.pid },
    { key: 'redis', label: `ours, Redis (in-process layer of ${REDIS_RUN_MEMORY_ENTRIES} entries)`, url: withRedis.url, pid: withRedis.pid },
    { key: 'none', label: 'ours, no cache', url: noCache.url, pid: noCache.pid },
  ] as const;
  const out: Record<string, unknown> = {};
  const connections = 16;
  for (const [name, path, bodies] of [
    ['user(id)', '/user', zipfBodies(fixture.queryUserIds, (id) => body(USER, { id }))],
    ['order(id)', '/order', zipfBodies(fixture.queryOrderIds, (id) => body(ORDER, { id }))],
  ] as const) {
    // Every answer of the baseline, byte for byte: each side is checked against it, response by response.
    const distinct = [...new Set(bodies)];
    const answers = await answersOf(`${rawQueries.url}${path}`, distinct);
    let invalid: string | undefined;
    for (const v of variants) {
      const differ = differing(answers, await answersOf(v.url, distinct));
      if (differ.length) invalid ??= failed(`cache ${name}, ${v.label}: ${differ.length} of ${distinct.length} answers differ from the baseline's`);
    }
    log(`cache: ${name} at concurrency ${connections} over ${distinct.length} ids (Zipf-like), ours three ways and the raw baseline alternately`);
    noteLoad(`cache ${name}`);
    const common = { connections, durationSec: DURATION, warmupSec: WARMUP, bodies, verify: { answers } };
    // Hit ratios per run (its warm-up included): the cached sides' /metrics before and after each of their runs.
    const counts = new Map<string, Awaited<ReturnType<typeof cacheCounts>>>();
    const ratios = new Map<string, Array<{ hit: number; redis: number }>>();
    for (const v of variants.slice(0, 2)) counts.set(v.label, await cacheCounts(v.url));
    const results = await measureAlternating(
      name,
      [
        ...variants.map((v) => ({ label: v.label, config: { url: v.url, ...common }, pid: v.pid, database: dbName(fixture.apiUrl) })),
        { label: 'raw', config: { url: `${rawQueries.url}${path}`, ...common }, pid: rawQueries.pid, database: dbName(fixture.apiUrl) },
        // The ceiling: the raw handler behind a Map that is never invalidated (bench/baseline/http-server.ts, ?memo=1).
        { label: 'raw, memoized', config: { url: `${rawQueries.url}${path}?memo=1`, ...common }, pid: rawQueries.pid, database: dbName(fixture.apiUrl) },
      ],
      async (label) => {
        const before = counts.get(label);
        const v = variants.find((x) => x.label === label);
        if (!before || !v) return;
        const after = await cacheCounts(v.url);
        counts.set(label, after);
        const lookups = after.memoryHits + after.memoryMisses - before.memoryHits - before.memoryMisses;
        const redisHits = after.redisHits - before.redisHits;
        if (lookups > 0) ratios.set(label, [...(ratios.get(label) ?? []), { hit: (after.memoryHits - before.memoryHits + redisHits) / lookups, redis: redisHits / lookups }]);
      },
    );
    const raw = results[variants.length]!;
    const memoized = results[variants.length + 1]!;
    const scenario = `cache ${name} c=${connections} (Zipf-like)`;
    variants.forEach((v, i) => {
      const r = results[i]!;
      const check = v.key === 'memory' ? ({ kind: 'ratio≥', value: 1.5 } as const) : v.key === 'redis' ? ({ kind: 'ratio≥', value: 1 } as const) : undefined;
      const hit = ratios.get(v.label);
      rows.push(
        ...scenarioRows(
          [
            row(scenario, `${v.label}: throughput`, 'q/s', r.median.rps, raw.median.rps, check),
            row(scenario, `${v.label}: latency p50`, 'ms', r.median.latencyMs.p50, raw.median.latencyMs.p50),
            row(scenario, `${v.label}: latency p99`, 'ms', r.median.latencyMs.p99, raw.median.latencyMs.p99),
            row(scenario, `${v.label}: server CPU per query`, 'ms', r.median.serverCpuMsPerRequest, raw.median.serverCpuMsPerRequest),
            row(scenario, `${v.label}: PostgreSQL CPU per query`, 'ms', r.median.postgresCpuMsPerRequest, raw.median.postgresCpuMsPerRequest),
            row(scenario, `${v.label}: machine CPU per query`, 'ms', r.median.machineCpuMsPerRequest, raw.median.machineCpuMsPerRequest),
            ...(hit
              ? [row(scenario, `${v.label}: hit ratio`, '%', 100 * median(hit.map((h) => h.hit)), null, undefined,
                  v.key === 'redis' ? `of which Redis ${(100 * median(hit.map((h) => h.redis))).toFixed(1)} %` : undefined)]
              : []),
          ],
          { spread: { ours: r.spread, baseline: raw.spread }, invalid: invalid ?? r.invalid ?? raw.invalid },
        ),
      );
    });
    rows.push(
      ...scenarioRows(
        [
          row(scenario, 'ceiling: raw handler + a Map never invalidated: throughput', 'q/s', memoized.median.rps, raw.median.rps, undefined,
            'no GraphQL, no auth, no invalidation: the most a Node server answering from memory does here'),
          row(scenario, 'ceiling: server CPU per query', 'ms', memoized.median.serverCpuMsPerRequest, raw.median.serverCpuMsPerRequest),
          row(scenario, 'ceiling: machine CPU per query', 'ms', memoized.median.machineCpuMsPerRequest, raw.median.machineCpuMsPerRequest,
            undefined, 'both cores: load generator included'),
        ],
        { spread: { ours: memoized.spread, baseline: raw.spread }, invalid: invalid ?? memoized.invalid ?? raw.invalid },
      ),
    );
    out[name] = {
      answersChecked: distinct.length,
      ...Object.fromEntries([...variants.map((v) => v.key), 'raw', 'rawMemoized'].map((k, i) => [k, { median: strip(results[i]!.median), rounds: results[i]!.runs.map((r) => r.rps), hitRatios: ratios.get(variants[i]?.label ?? '') }])),
    };
  }
  details.cache = out;
  await withRedis.stop();
  await noCache.stop();
}

/** Deletes this run's keys from the bench's Redis (SCAN, never KEYS or FLUSHDB: the Redis is shared). */
async function dropRedisKeys(): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${REDIS_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

// ───────────── 2c. read database and replicas ─────────────

/** Private PostgreSQL clusters of the replicas scenario (destroyed by cleanup, also on failure). */
const clusters: PgCluster[] = [];

/** Histogram sums and counts of the replica waits (`orders_read_replica_wait_seconds`) from a server's /metrics, by source. */
async function replicaWaits(url: string): Promise<Record<'replica' | 'primary', { count: number; sum: number }> | undefined> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  // A server from before the metric (--server-root): not reported.
  if (!text.includes('orders_read_replica_wait_seconds')) return undefined;
  const value = (name: string, source: string) =>
    Number(text.split('\n').find((l) => l.startsWith(`${name}{source="${source}"}`))?.split(' ').pop() ?? 0);
  const of = (source: string) => ({ count: value('orders_read_replica_wait_seconds_count', source), sum: value('orders_read_replica_wait_seconds_sum', source) });
  return { replica: of('replica'), primary: of('primary') };
}

interface TableSize {
  readonly table: string;
  readonly rows: number;
  /** Table, indexes and TOAST (pg_total_relation_size). */
  readonly bytes: number;
}

/** Each table of a database's public schema with its rows and bytes on disk, largest first (after VACUUM, so the counts are exact). */
async function tableSizes(url: string): Promise<TableSize[]> {
  return withClient(url, async (client) => {
    await client.query('VACUUM ANALYZE');
    const { rows: tables } = await client.query<{ table: string; bytes: string }>(
      `SELECT c.relname AS table, pg_total_relation_size(c.oid)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_prisma_migrations' ORDER BY pg_total_relation_size(c.oid) DESC`,
    );
    const sizes: TableSize[] = [];
    for (const t of tables) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${t.table}"`);
      sizes.push({ table: t.table, rows: Number(rows[0]!.n), bytes: Number(t.bytes) });
    }
    return sizes;
  });
}

/** An answer without its log positions ("tx:pos"), which differ between two databases holding the same events. */
const withoutPositions = (answer: string) => answer.replace(/"position":"\d+:\d+"/g, '"position":"…"');

/**
 * Queries with the read models on the write database (the default), on a
 * read database of their own, and on a read database with one streaming
 * replica serving them; then what read-your-writes pays with the replica.
 *
 * Everything on a private cluster made from this machine's server binaries
 * and a standby of it (`pg_basebackup -R`, test/support/pg-cluster.ts), so
 * each server's CPU is measured apart: all of its processes (backends, WAL
 * sender and receiver, the standby's replay). Each setup has databases of
 * its own holding the same events (answers are compared without their log
 * positions, which differ between databases), so only the setup measured
 * has work to do. The cache is off: with
 * it, reads by id are answered in process and its misses read the primary.
 */
async function replicas(fixture: Fixture) {
  log('replicas: a private PostgreSQL cluster; one database, a write database and two read databases on it');
  const primary = await PgCluster.create();
  clusters.push(primary);
  const single = (await primary.createTestDatabase('both')).databaseUrl!;
  const writeOwn = (await primary.createTestDatabase('write')).databaseUrl!;
  const readOwn = (await primary.createTestDatabase('read')).databaseUrl!;
  const writeReplicated = (await primary.createTestDatabase('write')).databaseUrl!;
  const readReplicated = (await primary.createTestDatabase('read')).databaseUrl!;
  for (const url of [single, writeOwn, writeReplicated]) {
    await withClient(url, async (client) => {
      await insertWriteModel(client, fixture.world);
      await insertEvents(client, fixture.world.events);
      await client.query('ANALYZE');
    });
  }
  log('replicas: a streaming standby of it (pg_basebackup -R)');
  const standby = await primary.createStandby();
  clusters.push(standby);
  const onStandby = (url: string) => url.replace(`:${primary.port}/`, `:${standby.port}/`);
  const env = { ...serverEnv, CACHE_ENABLED: 'false' };
  const start = async (label: string, databaseUrl: string, extra: Record<string, string> = {}) => {
    const server = await startApiServer({ databaseUrl, root: serverRoot, env: { ...env, ...extra } });
    children.push(server);
    await waitForProjections(server.url);
    log(`replicas: ${label} up`);
    return server;
  };
  const one = await start('one database', single);
  const own = await start('read database of its own', writeOwn, { READ_DATABASE_URL: readOwn });
  const replicated = await start('read database + replica', writeReplicated, { READ_DATABASE_URL: readReplicated, READ_REPLICA_URLS: onStandby(readReplicated) });
  const servers = { primary: primary.url(), replica: standby.url() };
  const sides = [
    { key: 'one', label: 'one database', server: one, database: dbName(single) },
    { key: 'own', label: 'read database of its own', server: own, database: dbName(readOwn) },
    { key: 'replica', label: 'read database + 1 replica', server: replicated, database: dbName(readReplicated) },
  ] as const;
  const out: Record<string, unknown> = {};
  const connections = 16;

  for (const [name, bodies] of [
    ['order(id)', fixture.orderBodies],
    ['orders(userId, pageSize 20)', fixture.ordersBodies],
  ] as const) {
    // Each side is checked against its own answers, and these against each other without positions.
    const answers = await Promise.all(sides.map((s) => answersOf(s.server.url, bodies)));
    let invalid: string | undefined;
    for (const [i, side] of sides.entries()) {
      const differ = Object.keys(answers[0]!).filter(
        (k) => withoutPositions(answers[0]![k]!) !== withoutPositions(answers[i]![k]!) || !answers[i]![k]!.startsWith('{"data":') || answers[i]![k]!.includes('"errors"'),
      );
      if (differ.length) invalid ??= failed(`replicas ${name}, ${side.label}: ${differ.length} of ${bodies.length} answers differ from one database's`);
    }
    // Where the queries went: the standby's counters must move for the replicated side only.
    const standbyXacts = async () =>
      withClient(onStandby(readReplicated), async (c) => Number((await c.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0]!.n));
    const xacts0 = await standbyXacts();
    log(`replicas: ${name} at concurrency ${connections}, the three setups alternately`);
    noteLoad(`replicas ${name}`);
    const results = await measureAlternating(
      `replicas ${name}`,
      sides.map((s, i) => ({
        label: s.label,
        config: { url: s.server.url, connections, durationSec: DURATION, warmupSec: WARMUP, bodies, verify: { answers: answers[i]! } },
        pid: s.server.pid,
        pgServers: servers,
      })),
    );
    const standbyTransactions = (await standbyXacts()) - xacts0;
    const requestsOnReplicated = results[2]!.runs.reduce((n, r) => n + r.requests, 0);
    if (standbyTransactions < requestsOnReplicated / 2) {
      invalid ??= failed(`replicas ${name}: the standby committed ${standbyTransactions} transactions for ${requestsOnReplicated} requests: the queries did not go there`);
    }
    const base = results[0]!;
    const scenario = `read database ${name} c=${connections} (no cache)`;
    rows.push(
      ...scenarioRows(
        [row(scenario, 'one database: throughput', 'q/s', base.median.rps, null, undefined, 'the baseline of the rows below'),
          row(scenario, 'one database: PostgreSQL CPU per query', 'ms', base.median.pgServerCpuMsPerRequest?.primary, null, undefined, 'the whole server')],
        { spread: { ours: base.spread, baseline: base.spread }, invalid: invalid ?? base.invalid },
      ),
    );
    for (const [i, side] of sides.entries()) {
      if (i === 0) continue;
      const r = results[i]!;
      rows.push(
        ...scenarioRows(
          [
            row(scenario, `${side.label}: throughput`, 'q/s', r.median.rps, base.median.rps),
            row(scenario, `${side.label}: latency p50`, 'ms', r.median.latencyMs.p50, base.median.latencyMs.p50),
            row(scenario, `${side.label}: latency p99`, 'ms', r.median.latencyMs.p99, base.median.latencyMs.p99),
            row(scenario, `${side.label}: server CPU per query`, 'ms', r.median.serverCpuMsPerRequest, base.median.serverCpuMsPerRequest, undefined, 'Node process only'),
            row(scenario, `${side.label}: primary's CPU per query`, 'ms', r.median.pgServerCpuMsPerRequest?.primary, base.median.pgServerCpuMsPerRequest?.primary, undefined, 'the whole server'),
            ...(side.key === 'replica'
              ? [row(scenario, `${side.label}: replica's CPU per query`, 'ms', r.median.pgServerCpuMsPerRequest?.replica, null, undefined,
                  `the whole standby; ${standbyTransactions.toLocaleString('en-US')} transactions there for ${requestsOnReplicated.toLocaleString('en-US')} requests`)]
              : []),
          ],
          { spread: { ours: r.spread, baseline: base.spread }, invalid: invalid ?? r.invalid ?? base.invalid },
        ),
      );
    }
    out[name] = {
      answersChecked: bodies.length,
      standbyTransactions,
      requestsOnReplicated,
      ...Object.fromEntries(sides.map((s, i) => [s.key, { median: strip(results[i]!.median), rounds: results[i]!.runs.map((r) => r.rps) }])),
    };
  }

  // Read-your-writes: placeOrder with its entity, on the read database alone and with the replica.
  const rywBody = fixture.placeBody.replace(JSON.stringify(PLACE_ORDER), JSON.stringify(PLACE_ORDER_READ_YOUR_WRITES));
  for (const rywConnections of [1, 16]) {
    log(`replicas: placeOrder with its entity at concurrency ${rywConnections}, without and with the replica alternately`);
    noteLoad(`replicas read-your-writes c=${rywConnections}`);
    const waits0 = await replicaWaits(replicated.url);
    const [alone, withReplica] = await measureAlternating(
      `replicas ryw c=${rywConnections}`,
      [own, replicated].map((server, i) => ({
        label: i === 0 ? 'read database' : 'with replica',
        config: { url: server.url, connections: rywConnections, durationSec: DURATION, warmupSec: WARMUP, body: rywBody, verify: PLACED_AND_READ },
        pid: server.pid,
        pgServers: servers,
      })),
      (label) => waitForProjections(label === 'read database' ? own.url : replicated.url),
    );
    const waits1 = await replicaWaits(replicated.url);
    const reported = waits0 !== undefined && waits1 !== undefined;
    const onReplica = reported ? waits1.replica.count - waits0.replica.count : NaN;
    const onPrimary = reported ? waits1.primary.count - waits0.primary.count : NaN;
    const meanWaitMs = reported && onReplica + onPrimary > 0 ? (1000 * (waits1.replica.sum - waits0.replica.sum + waits1.primary.sum - waits0.primary.sum)) / (onReplica + onPrimary) : null;
    if (reported && onReplica === 0) failed(`replicas ryw c=${rywConnections}: no read-your-writes read went to the replica`);
    const scenario = `read database + replica: placeOrder with entity c=${rywConnections}`;
    const a = alone!.median;
    const w = withReplica!.median;
    rows.push(
      ...scenarioRows(
        [
          row(scenario, 'throughput', 'cmd/s', w.rps, a.rps, undefined, 'baseline: the read database without replica'),
          row(scenario, 'latency p50', 'ms', w.latencyMs.p50, a.latencyMs.p50, undefined, `extra ${(w.latencyMs.p50 - a.latencyMs.p50).toFixed(2)} ms`),
          row(scenario, 'latency p99', 'ms', w.latencyMs.p99, a.latencyMs.p99, undefined, `extra ${(w.latencyMs.p99 - a.latencyMs.p99).toFixed(2)} ms`),
          row(scenario, 'wait for the replica (server, mean)', 'ms', meanWaitMs, null, undefined,
            reported ? `${onReplica.toLocaleString('en-US')} reads on the replica, ${onPrimary.toLocaleString('en-US')} fell back to the primary` : 'not reported by this server'),
          row(scenario, "primary's CPU per command", 'ms', w.pgServerCpuMsPerRequest?.primary, a.pgServerCpuMsPerRequest?.primary, undefined, 'the whole server: command, projections, reads'),
          row(scenario, "replica's CPU per command", 'ms', w.pgServerCpuMsPerRequest?.replica, a.pgServerCpuMsPerRequest?.replica, undefined, 'replaying all of it, and the reads'),
        ],
        { spread: { ours: withReplica!.spread, baseline: alone!.spread }, invalid: withReplica!.invalid ?? alone!.invalid },
      ),
    );
    out[`readYourWrites c=${rywConnections}`] = {
      readDatabase: { median: strip(a), rounds: alone!.runs.map((r) => r.rps) },
      withReplica: { median: strip(w), rounds: withReplica!.runs.map((r) => r.rps) },
      replicaWaits: reported ? { onReplica, onPrimary, meanWaitMs } : null,
    };
  }
  out.sizes = { write: await tableSizes(writeOwn), read: await tableSizes(readOwn) };
  for (const [database, tables] of Object.entries(out.sizes as Record<string, TableSize[]>)) {
    for (const t of tables) {
      // Small tables are mostly their first pages: bytes per row says nothing there.
      if (t.rows >= 1000) rows.push(row(`${database} database: size on disk`, `${t.table}: bytes per row`, 'B', t.bytes / t.rows, null, undefined, `${t.rows.toLocaleString('en-US')} rows, ${(t.bytes / 2 ** 20).toFixed(1)} MiB with indexes`));
    }
  }
  details.replicas = out;
  for (const s of sides) await s.server.stop();
  await closePgCpu(Object.values(servers));
  await standby.destroy();
  await primary.destroy();
}

// ───────────── 2b. cursor pagination ─────────────

type OrdersAfter = { ordersConnection: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: { id: string } }> } };

/**
 * Page 1 against page CURSOR_PAGE of one customer's orders (20 a page) by
 * `ordersConnection`, alternately, at concurrency 16; the same pages by
 * offset (`orders(page:)`) for comparison. The cursor of page CURSOR_PAGE is
 * the end cursor of the page before it, reached by paging from the start.
 */
async function cursors(fixture: Fixture) {
  const userId = fixture.heavyCustomerId!;
  log(`cursors: paging to page ${CURSOR_PAGE} of a customer's ${HEAVY_CUSTOMER_ORDERS.toLocaleString('en-US')} orders`);
  let after: string | null = null;
  for (let page = 1; page < CURSOR_PAGE; page++) {
    const data: OrdersAfter = await gql<OrdersAfter>(api!.url, ORDERS_CONNECTION, { userId, after });
    if (!data.ordersConnection.pageInfo.hasNextPage) throw new Error(`cursors: no page after ${page}`);
    after = data.ordersConnection.pageInfo.endCursor;
  }
  // Both ways of paging must show the same orders on that page.
  const byCursor = await gql<OrdersAfter>(api!.url, ORDERS_CONNECTION, { userId, after });
  const byOffset = await gql<{ orders: { orders: Array<{ id: string }> } }>(api!.url, ORDERS_PAGE, { userId, page: CURSOR_PAGE });
  const ids = byCursor.ordersConnection.edges.map((e) => e.node.id);
  if (ids.length !== 20 || JSON.stringify(ids) !== JSON.stringify(byOffset.orders.orders.map((o) => o.id))) {
    throw new Error(`cursors: page ${CURSOR_PAGE} differs between cursor and offset: ${JSON.stringify({ ids, offset: byOffset })}`);
  }
  const out: Record<string, unknown> = {};
  const connections = 16;
  for (const [name, first, far] of [
    ['ordersConnection(first 20, after)', body(ORDERS_CONNECTION, { userId }), body(ORDERS_CONNECTION, { userId, after })],
    ['orders(page, pageSize 20) for comparison', body(ORDERS_PAGE, { userId, page: 1 }), body(ORDERS_PAGE, { userId, page: CURSOR_PAGE })],
  ] as const) {
    // Nothing is written meanwhile: every answer must be the one read before.
    const answers = await answersOf(api!.url, [first, far]);
    const common = { url: api!.url, connections, durationSec: DURATION, warmupSec: WARMUP, verify: { answers } };
    log(`cursors: ${name}, page ${CURSOR_PAGE} and page 1 alternately at concurrency ${connections}`);
    noteLoad(`cursors ${name}`);
    // "ours" is page CURSOR_PAGE, the "baseline" page 1: the ratio says what going far in costs.
    const pair = await measurePair(
      name,
      { config: { ...common, body: far }, pid: api!.pid, database: dbName(fixture.apiUrl) },
      { config: { ...common, body: first }, pid: api!.pid, database: dbName(fixture.apiUrl) },
    );
    const { ours, base, rounds } = pair;
    const scenario = `${name}: page ${CURSOR_PAGE} vs page 1 c=${connections}`;
    const cursor = name.startsWith('ordersConnection');
    rows.push(
      ...scenarioRows(
        [
          row(scenario, 'throughput', 'q/s', ours.rps, base.rps, cursor ? { kind: 'ratio≥', value: 0.8 } : undefined,
            `${HEAVY_CUSTOMER_ORDERS.toLocaleString('en-US')} orders of one customer; baseline column = page 1`),
          row(scenario, 'latency p50', 'ms', ours.latencyMs.p50, base.latencyMs.p50),
          row(scenario, 'latency p99', 'ms', ours.latencyMs.p99, base.latencyMs.p99),
          row(scenario, 'server CPU per query', 'ms', ours.serverCpuMsPerRequest, base.serverCpuMsPerRequest, undefined, 'Node process only'),
          row(scenario, 'PostgreSQL CPU per query', 'ms', ours.postgresCpuMsPerRequest, base.postgresCpuMsPerRequest),
        ],
        pair,
      ),
    );
    out[name] = { [`page${CURSOR_PAGE}`]: strip(ours), page1: strip(base), rounds };
  }
  details.cursors = out;
}

// ───────────── 3. projection lag ─────────────

interface LagResult {
  readonly commands: number;
  readonly rps: number;
  readonly lagMs: Summary;
  readonly missing: number;
  /** Deliveries that arrived before the HTTP response (lag counted as 0). */
  readonly beforeResponse: number;
}

function lagOf(orders: Array<[string, number]>, arrivals: Map<string, number>, load: Measured): LagResult {
  const lags: number[] = [];
  let missing = 0;
  let before = 0;
  for (const [id, answeredAt] of orders) {
    const at = arrivals.get(id);
    if (at === undefined) {
      missing++;
      continue;
    }
    if (at < answeredAt) before++;
    lags.push(Math.max(0, at - answeredAt));
  }
  return { commands: orders.length, rps: load.rps, lagMs: summarize(lags), missing, beforeResponse: before };
}

async function lag(fixture: Fixture, raw: RunningServer) {
  const out: Record<string, unknown> = {};
  // Ours: one graphql-ws subscriber (in this process; the load runs in another).
  const arrivals = new Map<string, number>();
  const client = createClient({
    url: api!.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: auth.authorization },
  });
  const dispose = client.subscribe<{ ordersChanged: { id: string } }>(
    { query: ORDERS_CHANGED },
    { next: (m) => m.data && !arrivals.has(m.data.ordersChanged.id) && arrivals.set(m.data.ordersChanged.id, now()), error: (e) => log(`lag subscription error ${JSON.stringify(e)}`), complete: () => undefined },
  );
  // Baseline: LISTEN for the raw handler's in-transaction NOTIFY.
  const rawArrivals = new Map<string, number>();
  const listener = new pg.Client({ connectionString: fixture.rawUrl });
  await listener.connect();
  listener.on('notification', (n) => n.payload && rawArrivals.set(n.payload, now()));
  await listener.query('LISTEN bench_orders');
  const horizon = new HorizonWatch(PG_SERVER_URL, dbs.prefix);
  await horizon.start();
  await sleep(500);
  try {
    // Open loop at fixed rates (enough connections that slow responses never hold the rate back), then closed loop.
    const rates = (args.get('lag-rates') ?? '200').split(',').map(Number);
    for (const mode of [...rates.map((r) => `${r}/s`), 'max']) {
      const rate = mode === 'max' ? undefined : Number(mode.slice(0, -2));
      const common = { durationSec: DURATION, warmupSec: WARMUP, body: fixture.placeBody, recordOrders: true, verify: PLACED };
      const shape = rate ? { connections: 64, overallRate: rate } : { connections: 64 };
      log(`lag: placeOrder at ${mode} → ordersChanged (ours)`);
      horizon.take();
      const ours = await runLoad({ url: api!.url, ...common, ...shape }, api!.pid, dbName(fixture.apiUrl));
      const held = horizon.take();
      await sleep(2000);
      const o = lagOf(ours.orders ?? [], arrivals, ours);
      const busy = ((ours.serverCpuMsPerRequest ?? 0) * ours.rps) / 10;
      log(`  ours ${o.rps.toFixed(0)} cmd/s (server ${busy.toFixed(0)}% of a core), lag p50 ${o.lagMs.p50.toFixed(1)} p99 ${o.lagMs.p99.toFixed(1)} max ${o.lagMs.max.toFixed(1)} ms, missing ${o.missing}`);
      log(`  the oldest write transaction on the server was another database's in ${(100 * held.foreignShare).toFixed(0)}% of samples (oldest ${held.foreignMaxMs.toFixed(0)} ms; ${held.foreignDatabases.join(', ')})`);
      await waitForProjections(api!.url);
      noteLoad(`lag ${mode}`);
      log(`lag: raw baseline (commit → NOTIFY → LISTEN) at ${mode}`);
      const base = await runLoad({ url: `${raw.url}/placeOrder?notify=1`, ...common, ...shape }, raw.pid, dbName(fixture.rawUrl));
      const baseBusy = ((base.serverCpuMsPerRequest ?? 0) * base.rps) / 10;
      await sleep(1000);
      const b = lagOf(base.orders ?? [], rawArrivals, base);
      log(`  raw  ${b.rps.toFixed(0)} cmd/s, lag p50 ${b.lagMs.p50.toFixed(1)} p99 ${b.lagMs.p99.toFixed(1)} max ${b.lagMs.max.toFixed(1)} ms`);
      const scenario = `lag @ ${rate ? `${rate} cmd/s` : 'max throughput (c=64)'}`;
      // A message never delivered is a failure, not a dropped sample.
      const invalid =
        ours.invalid ?? base.invalid ??
        (o.missing > 0 ? failed(`${scenario}: ${o.missing} of ${o.commands} orders never reached the subscriber`) : undefined) ??
        (b.missing > 0 ? failed(`${scenario} (baseline): ${b.missing} of ${b.commands} notifications never arrived`) : undefined);
      rows.push(...scenarioRows([
        row(scenario, 'commands/s sustained', 'cmd/s', o.rps, b.rps, undefined,
          rate && o.rps < rate * 0.95 ? `below ${rate}/s: the server is saturated, lag includes its backlog` : undefined),
        row(scenario, 'response → message p50', 'ms', o.lagMs.p50, b.lagMs.p50),
        row(scenario, 'response → message p99', 'ms', o.lagMs.p99, b.lagMs.p99, rate === 200 ? { kind: 'ours≤', value: 25 } : rate === undefined ? { kind: 'ours≤', value: 250 } : undefined),
        row(scenario, 'response → message max', 'ms', o.lagMs.max, b.lagMs.max, undefined, o.missing ? `${o.missing} never delivered` : undefined),
        row(scenario, 'server CPU busy (of one core)', '%', busy, baseBusy),
        row(scenario, 'PostgreSQL CPU busy (of one core)', '%', ((ours.postgresCpuMsPerRequest ?? 0) * ours.rps) / 10, ((base.postgresCpuMsPerRequest ?? 0) * base.rps) / 10),
        row(scenario, 'horizon held by another database (samples)', '%', 100 * held.foreignShare, null, undefined,
          held.foreignShare > 0 ? `oldest such transaction ${held.foreignMaxMs.toFixed(0)} ms: lag includes it (README)` : undefined),
        row(scenario, 'command latency p50', 'ms', ours.latencyMs.p50, base.latencyMs.p50),
      ], { spread: undefined, invalid }));
      out[mode] = { ours: { ...o, serverBusyPct: busy, latencyMs: ours.latencyMs, horizonHeldByOthers: held }, baseline: { ...b, serverBusyPct: baseBusy, latencyMs: base.latencyMs } };
    }
  } finally {
    dispose();
    await client.dispose();
    await listener.end();
    await horizon.stop();
  }
  details.lag = out;
}

// ───────────── 4. fan-out ─────────────

interface FanoutRun {
  /** process.hrtime (µs) around the changes at the largest level: the delivery phase, for profiles. */
  readonly deliveryWindowUs?: { fromUs: number; toUs: number };
  readonly rssBeforeBytes: number;
  /** With --heap-census=true: per level, what the heap grew by per open subscription, by kind (bench/lib/inspector.ts). */
  readonly heap?: Array<{ open: number } & ReturnType<typeof censusGrowth>>;
  readonly levels: Array<{ open: number; openMs: number; rssBytes: number; bytesPerSubscription: number; serverCpuMsPerChange: number; changes: Array<{ allMs: number; firstMs: number; p50Ms: number }>; allMsMedian: number; allMsMax: number }>;
}

async function fanoutAgainst(
  target: { pid: number; inspectPort: number; wsUrl: string; triggerUrl: string },
  body: string,
  /**
   * Also take a census of the heap before and with the 10,000 subscriptions open (--heap-census=true). The
   * snapshots it takes grow the server's RSS: the RSS rows of such a run are not comparable with others.
   */
  census = false,
): Promise<FanoutRun> {
  const heapBefore = census ? await heapCensus(target.pid, target.inspectPort) : undefined;
  await forceGc(target.pid, target.inspectPort);
  await sleep(500);
  const rssBefore = rssBytes(target.pid);
  const replies: Array<(value: any) => void> = [];
  const worker = spawnNode({
    name: 'fan-out subscribers',
    script: 'bench/load/fanout.ts',
    args: [JSON.stringify({ wsUrl: target.wsUrl, triggerUrl: target.triggerUrl, triggerBody: body })],
    env: clientEnv,
    onLine: (line) => replies.shift()?.(JSON.parse(line)),
  });
  const ask = <T = any>(command: object, timeoutMs = 180_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fan-out worker: no answer to ${JSON.stringify(command)}:\n${worker.output()}`)), timeoutMs);
      replies.push((value) => {
        clearTimeout(timer);
        if (value.ok === false) reject(new Error(`fan-out worker: ${JSON.stringify(value)}`));
        else resolve(value);
      });
      worker.write(`${JSON.stringify(command)}\n`);
    });
  const levels: FanoutRun['levels'] = [];
  const heap: NonNullable<FanoutRun['heap']> = [];
  let deliveryWindowUs: FanoutRun['deliveryWindowUs'];
  try {
    for (const [connections, perConnection] of [
      [10, 100],
      [90, 100],
    ] as const) {
      const opened = await ask<{ open: number; openMs: number }>({ cmd: 'open', connections, perConnection });
      await sleep(500);
      await forceGc(target.pid, target.inspectPort);
      await sleep(500);
      const rss = rssBytes(target.pid);
      const changes: Array<{ allMs: number; firstMs: number; p50Ms: number }> = [];
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const cpu0 = cpuMs(target.pid);
      for (let i = 0; i < FANOUT_CHANGES; i++) {
        changes.push(await ask({ cmd: 'change' }));
        await sleep(300);
      }
      // The server's CPU over the changes (the command, its projection and every delivery; 300 ms idle after each).
      const serverCpuMsPerChange = (cpuMs(target.pid) - cpu0) / FANOUT_CHANGES;
      deliveryWindowUs = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) };
      const all = changes.map((c) => c.allMs);
      levels.push({
        open: opened.open,
        openMs: opened.openMs,
        rssBytes: rss,
        bytesPerSubscription: (rss - rssBefore) / opened.open,
        serverCpuMsPerChange,
        changes,
        allMsMedian: median(all),
        allMsMax: Math.max(...all),
      });
      log(`  ${opened.open} subscriptions: reach all p50 ${median(all).toFixed(0)} ms (worst ${Math.max(...all).toFixed(0)}), ${((rss - rssBefore) / opened.open / 1024).toFixed(1)} KiB each`);
      if (heapBefore && connections === 90) {
        const growth = censusGrowth(heapBefore, await heapCensus(target.pid, target.inspectPort), opened.open);
        heap.push({ open: opened.open, ...growth });
        log(`  heap per open subscription: ${growth.totalBytesPerUnit.toFixed(0)} B; ` +
          growth.kinds.slice(0, 12).map((k) => `${k.kind} ${k.bytesPerUnit.toFixed(0)} B (${k.objectsPerUnit.toFixed(1)})`).join(', '));
      }
    }
    await ask({ cmd: 'close' }, 60_000).catch(() => undefined);
  } finally {
    await worker.kill();
  }
  return { rssBeforeBytes: rssBefore, levels, deliveryWindowUs, ...(census ? { heap } : {}) };
}

async function fanout(fixture: Fixture) {
  log('fan-out: 1,000 then 10,000 ordersChanged subscriptions (ours)');
  const ours = await fanoutAgainst(
    { pid: api!.pid, inspectPort: apiInspectPort, wsUrl: api!.url.replace(/^http/, 'ws'), triggerUrl: api!.url },
    fixture.placeBody,
    args.get('heap-census') === 'true',
  );
  await waitForProjections(api!.url);
  noteLoad('fan-out');
  log('fan-out: raw ws broadcast baseline');
  const inspectPort = await freePort();
  const port = await freePort();
  const base = spawnNode({ name: 'ws baseline', script: 'bench/baseline/ws-server.ts', nodeArgs: [`--inspect-port=127.0.0.1:${inspectPort}`], env: { PORT: String(port), ...serverAuthEnv() } });
  children.push(base);
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, base);
  const raw = await fanoutAgainst(
    { pid: base.pid, inspectPort, wsUrl: `ws://127.0.0.1:${port}/graphql`, triggerUrl: `http://127.0.0.1:${port}/placeOrder` },
    fixture.placeBody,
  );
  await base.stop();
  for (let i = 0; i < ours.levels.length; i++) {
    const o = ours.levels[i]!;
    const b = raw.levels[i]!;
    const scenario = `fan-out ${o.open.toLocaleString('en-US')} subs`;
    rows.push(
      row(scenario, `one change → all (median of ${FANOUT_CHANGES})`, 'ms', o.allMsMedian, b.allMsMedian),
      row(scenario, `one change → all (worst of ${FANOUT_CHANGES})`, 'ms', o.allMsMax, b.allMsMax, o.open >= 10_000 ? { kind: 'ours≤', value: 250 } : undefined),
      // RSS moves by ±1 MiB on its own: a baseline below that noise shows as 0.
      row(scenario, 'server CPU per change (all deliveries)', 'ms', o.serverCpuMsPerChange, b.serverCpuMsPerChange),
      row(scenario, 'server RSS per open subscription', 'KiB', Math.max(0, o.bytesPerSubscription) / 1024, Math.max(0, b.bytesPerSubscription) / 1024,
        o.open >= 10_000 ? { kind: 'ours≤', value: 4 } : undefined),
    );
  }
  details.fanout = { ours, baseline: raw };
}

// ───────────── 5. rebuild ─────────────

async function rebuild(cpuProfileDir?: string) {
  const url = await dbs.create('rebuild');
  const world = buildWorld({ users: 2000, products: 200, totalEvents: REBUILD_EVENTS, profileUpdates: 1000, productUpdates: 200, seed: 7 });
  log(`rebuild: seeding ${world.events.length} events straight into event_log (batched INSERT … jsonb_to_recordset)`);
  const seeded = now();
  await withClient(url, async (client) => {
    await insertEvents(client, world.events);
    await client.query('ANALYZE');
  });
  log(`  seeded in ${((now() - seeded) / 1000).toFixed(1)} s; replaying from zero with the projector code`);
  noteLoad('rebuild');
  interface Replayed {
    events: number;
    seconds: number;
    eventsPerSec: number;
    cpuSeconds: { replayProcess: number; postgresBackends: number };
    walBytes: number;
  }
  interface ReplayLine {
    logEvents: number;
    projections: string[];
    perProjection: Record<string, { events: number; seconds: number; eventsPerSec: number }>;
    server?: Replayed & { perProjection: Record<string, { events: number; seconds: number; eventsPerSec: number }> };
    all: Replayed;
    rawScan: { eventsPerSec: number; seconds: number };
  }
  // Each round replays as a server catches up, then as the rebuild command does (and scans the log raw).
  const rounds: ReplayLine[] = [];
  for (let round = 1; round <= (cpuProfileDir ? 1 : ROUNDS); round++) {
    let last = '';
    const child = spawnNode({
      name: 'rebuild',
      script: 'bench/rebuild/replay.ts',
      nodeArgs: cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [],
      env: {
        DATABASE_URL: url,
        BENCH_SRC_ROOT: serverRoot,
        BENCH_REBUILD_ALONE: String(round === 1 && args.get('rebuild-alone') === 'true' && !cpuProfileDir),
        BENCH_REBUILD_SERVER: String(!cpuProfileDir),
        // The batch size of the rebuild command (src/projections/rebuild.ts); a server catching up uses 500.
        BENCH_REBUILD_BATCH: args.get('rebuild-batch') ?? '2000',
      },
      onLine: (l) => (last = l),
    });
    children.push(child);
    const code = await child.exited;
    if (code !== 0 || !last) throw new Error(`rebuild failed (exit ${code}):\n${child.output()}`);
    const r = JSON.parse(last) as ReplayLine;
    rounds.push(r);
    const cpu = (x: Replayed) => `CPU: replay process ${x.cpuSeconds.replayProcess.toFixed(1)} s, PostgreSQL backends ${x.cpuSeconds.postgresBackends.toFixed(1)} s`;
    log(
      `  round ${round}/${ROUNDS}: rebuild command ${r.all.eventsPerSec.toFixed(0)} events/s (${r.all.seconds.toFixed(1)} s; ${cpu(r.all)})` +
        (r.server ? `; as a server catches up ${r.server.eventsPerSec.toFixed(0)} events/s (${cpu(r.server)})` : '') +
        `; raw scan ${r.rawScan.eventsPerSec.toFixed(0)} events/s`,
    );
  }
  const logEvents = rounds[0]!.logEvents;
  const scenario = `rebuild ${logEvents.toLocaleString('en-US')} events`;
  /** The round with the median figure, and the figures' range. */
  const medianOf = <T>(list: readonly T[], figure: (t: T) => number) => {
    const figures = list.map(figure);
    return { median: medianBy(list, figure)!, spread: [Math.min(...figures), Math.max(...figures)] as const };
  };
  const raw = medianOf(rounds, (r) => r.rawScan.eventsPerSec).median.rawScan.eventsPerSec;
  const all = medianOf(rounds, (r) => r.all.eventsPerSec);
  const names = rounds[0]!.projections.join(', ');
  const costs = (label: string, x: Replayed) => [
    row(scenario, `${label}: Node CPU per 1,000 events`, 'ms', (1000 * x.cpuSeconds.replayProcess) / (x.events / 1000), null),
    row(scenario, `${label}: PostgreSQL CPU per 1,000 events`, 'ms', (1000 * x.cpuSeconds.postgresBackends) / (x.events / 1000), null),
    row(scenario, `${label}: WAL per event`, 'B', x.walBytes / x.events, null, undefined, 'the whole server during the replay'),
  ];
  rows.push(
    withRounds(
      row(scenario, 'all projections, as the rebuild command replays them', 'ev/s', all.median.all.eventsPerSec, raw, { kind: 'ours≥', value: 20_000 },
        `${names}: one read of the log, each batch applied by all of them together`),
      { ours: all.spread },
    ),
    ...costs('rebuild command', all.median.all),
  );
  if (rounds.every((r) => r.server)) {
    const server = medianOf(rounds, (r) => r.server!.eventsPerSec);
    rows.push(
      withRounds(
        row(scenario, 'all projections, as a server catches up after a reset', 'ev/s', server.median.server!.eventsPerSec, raw, undefined,
          'one projector per projection, each reading the log'),
        { ours: server.spread },
      ),
      ...Object.entries(server.median.server!.perProjection).map(([name, r]) =>
        row(scenario, `${name} projection (catching up with the others)`, 'ev/s', r.eventsPerSec, raw)),
      ...costs('catching up', server.median.server!),
    );
  }
  for (const [name, r] of Object.entries(rounds[0]!.perProjection)) {
    rows.push(row(scenario, `${name} projection alone`, 'ev/s', r.eventsPerSec, raw, undefined, 'the rebuild command for it alone; first round only'));
  }
  details.rebuild = { rounds };
}

// ───────────── profiling ─────────────

/** Runs one scenario's load against a server started with --cpu-prof, then summarizes the profile. */
async function profile(fixture: Fixture, target: string) {
  const dir = join(ROOT, 'bench/results/profiles', `${target}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  if (target === 'rebuild') {
    await rebuild(dir);
  } else {
    api = await startApi(fixture, dir);
    let fromUs = Number(process.hrtime.bigint() / 1000n);
    let toUs: number | undefined;
    const common = { durationSec: DURATION, warmupSec: 0 };
    switch (target) {
      case 'commands':
        await runLoad({ url: api.url, ...common, connections: PROFILE_CONNECTIONS, body: fixture.placeBody, verify: PLACED });
        break;
      case 'ryw':
        await runLoad({ url: api.url, ...common, connections: PROFILE_CONNECTIONS, body: fixture.placeBody.replace(JSON.stringify(PLACE_ORDER), JSON.stringify(PLACE_ORDER_READ_YOUR_WRITES)), verify: PLACED_AND_READ });
        break;
      case 'queries-order':
        await runLoad({ url: api.url, ...common, connections: PROFILE_CONNECTIONS, bodies: fixture.orderBodies, verify: { answers: await answersOf(api.url, fixture.orderBodies) } });
        break;
      case 'queries-user': {
        const bodies = zipfBodies(fixture.queryUserIds, (id) => body(USER, { id }));
        await runLoad({ url: api.url, ...common, connections: PROFILE_CONNECTIONS, bodies, verify: { answers: await answersOf(api.url, [...new Set(bodies)]) } });
        break;
      }
      case 'queries-orders':
        await runLoad({ url: api.url, ...common, connections: PROFILE_CONNECTIONS, bodies: fixture.ordersBodies, verify: { answers: await answersOf(api.url, fixture.ordersBodies) } });
        break;
      case 'lag':
        await runLoad({ url: api.url, ...common, connections: 16, overallRate: 200, body: fixture.placeBody, verify: PLACED });
        break;
      case 'fanout': {
        // Only the delivery of changes to 10,000 subscriptions, not their opening.
        const run = await fanoutAgainst({ pid: api.pid, inspectPort: apiInspectPort, wsUrl: api.url.replace(/^http/, 'ws'), triggerUrl: api.url }, fixture.placeBody);
        if (run.deliveryWindowUs) ({ fromUs, toUs } = run.deliveryWindowUs);
        break;
      }
      default:
        throw new Error(`unknown profile target ${target}`);
    }
    toUs ??= Number(process.hrtime.bigint() / 1000n);
    await api.stop();
    api = undefined;
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    const summary = summarizeProfile(join(dir, file), 30, { fromUs, toUs });
    writeFileSync(join(dir, 'summary.txt'), `${formatSummary(summary)}\n`);
    console.log(formatSummary(summary));
    details.profile = summary;
    return;
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file) {
    const summary = summarizeProfile(join(dir, file), 30);
    writeFileSync(join(dir, 'summary.txt'), `${formatSummary(summary)}\n`);
    console.log(formatSummary(summary));
    details.profile = summary;
  }
}

// ───────────── main ─────────────

/** Waits (at most 10 minutes) until the 1-minute load average drops below `limit`. */
async function waitForQuietMachine(limit: number): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (machineLoad().loadavg1 >= limit && Date.now() < deadline) {
    log(`load average ${machineLoad().loadavg1} ≥ ${limit}: waiting`);
    await sleep(30_000);
  }
}

async function main() {
  if (WAIT_LOAD !== undefined) await waitForQuietMachine(WAIT_LOAD);
  const startedAt = new Date();
  const loadAtStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  log(`load average at start: ${loadAtStart.join(', ')}`);
  noteLoad('start');
  const fixture = await setup();
  if (profileTarget) {
    await profile(fixture, profileTarget);
  } else {
    const needsApi = ['commands', 'peers-writes', 'queries', 'peers', 'cache', 'cursors', 'lag', 'fanout'].some((s) => only.has(s));
    if (needsApi) api = await startApi(fixture);
    const apiCpuBefore = api ? cpuMs(api.pid) : 0;
    if (only.has('commands') || only.has('lag')) {
      const raw = await startBaseline('http-server.ts', { DATABASE_URL: fixture.rawUrl });
      children.push(raw);
      if (only.has('commands')) await commands(fixture, raw);
      if (only.has('lag')) await lag(fixture, raw);
      await raw.stop();
    }
    if (only.has('peers-writes')) await peersWrites(fixture);
    const rawQueries = only.has('queries') || only.has('cache') ? await startBaseline('http-server.ts', { DATABASE_URL: fixture.apiUrl }) : undefined;
    if (rawQueries) children.push(rawQueries);
    if (only.has('queries')) await queries(fixture, rawQueries!);
    if (only.has('peers')) await peers(fixture);
    if (only.has('cache')) await cacheScenario(fixture, rawQueries!);
    await rawQueries?.stop();
    if (only.has('replicas')) await replicas(fixture);
    if (only.has('cursors')) await cursors(fixture);
    if (only.has('fanout')) await fanout(fixture);
    if (api) {
      details.apiServerCpuSeconds = (cpuMs(api.pid) - apiCpuBefore) / 1000;
      await api.stop();
      api = undefined;
    }
    if (only.has('rebuild')) await rebuild();
    if (only.has('peers-writes')) await peersRebuild();
  }
  noteLoad('end');
  const finishedAt = new Date();
  const [pgVersion] = await withClient(fixture.apiUrl, async (c) => (await c.query<{ v: string }>('SHOW server_version')).rows.map((r) => r.v));
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, postgres: pgVersion },
    /** 1, 5 and 15-minute load averages when the run started (before any of its own load). */
    loadAtStart,
    load: loadSamples,
    /** The commit measured (and whether its working tree had changes): a figure is quoted only at the commit that states it. */
    commit: gitCommit(serverRoot),
    options: { durationSec: DURATION, warmupSec: WARMUP, rounds: ROUNDS, only: [...only], otherCheckout: serverRoot !== ROOT, serverEnv, profile: profileTarget ?? null },
    /** Runs with failures (errors, other statuses, unexpected answers, undelivered messages): the run is invalid. */
    failedRuns,
    rows,
    details,
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  if (rows.length) {
    console.log(`\n${textTable(rows)}\n`);
    console.log(`load average at start: ${loadAtStart.join(', ')} (1, 5, 15 min)`);
    console.log(`load average (1 min) during the run: ${loadSamples.map((s) => `${s.phase} ${s.loadavg1}`).join(', ')}`);
    console.log(`wrote ${outFile} (${report.seconds.toFixed(0)} s)`);
    writeFileSync(outFile.replace(/\.json$/, '.md'), `${markdownTable(rows)}\n`);
  }
  if (failedRuns.length > 0) throw new Error(`${failedRuns.length} run(s) had failures; the figures marked INVALID do not count:\n${failedRuns.join('\n')}`);
}

/** `git rev-parse HEAD` of a checkout, and whether it has uncommitted changes. */
function gitCommit(root: string): { sha: string | null; dirty: boolean | null } {
  const git = (...a: string[]) => execFileSync('git', ['-C', root, ...a], { encoding: 'utf8' }).trim();
  try {
    return { sha: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no').length > 0 };
  } catch {
    return { sha: null, dirty: null };
  }
}

let cleaning: Promise<void> | undefined;
async function cleanup() {
  cleaning ??= (async () => {
    await Promise.all(children.map((c) => c.stop().catch(() => undefined)));
    await killAll();
    await closePgCpu();
    for (const cluster of clusters) await cluster.destroy().catch(() => undefined);
    if (only.has('cache')) await dropRedisKeys().catch((error: unknown) => log(`could not delete the bench's Redis keys: ${String(error)}`));
    await dbs.dropAll().catch((error: unknown) => log(`could not drop the bench databases: ${String(error)}`));
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping children and dropping databases`);
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await cleanup();
  process.exit(1);
}
