/**
 * The sizing model of bench/SCALING.md, computed from one bench result file
 * (a full `npm run bench`): the unit costs it measured, what a deployment
 * needs for a target load, and the model's predictions against points the
 * same run measured.
 *
 *   node --import tsx bench/scaling/model.ts [bench/results/latest.json] [--commands=10000] [--subscriptions=1000000] [--rebuild=<file>]
 *
 * Prints Markdown. Every input is a median the bench measured on its machine
 * (2 cores shared by load generator, server and PostgreSQL); the model is
 * linear in them — each unit of work costs what it cost there — and says
 * where that assumption breaks (a single projector per projection).
 */
import { readFileSync } from 'node:fs';
import { medianBy } from '../lib/stats.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => Number(argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const file = argv.find((a) => !a.startsWith('--')) ?? 'bench/results/latest.json';
const COMMANDS_PER_SEC = option('commands', 10_000);
const SUBSCRIPTIONS = option('subscriptions', 1_000_000);
/** Share of a core or of a machine planned for steady load: headroom for bursts, GC and failover. */
const UTILIZATION = 0.6;
/** The API's database pool per process (DB_POOL_SIZE's default). */
const POOL_PER_INSTANCE = 10;

// ── the result file ──

interface Run {
  rps: number;
  serverCpuMsPerRequest: number | null;
  postgresCpuMsPerRequest: number | null;
  walBytesPerRequest?: number | null;
  machineCpuMsPerRequest?: number | null;
  serverRssKiB?: number | null;
  pgServerCpuMsPerRequest?: Record<string, number>;
}
interface Level {
  open: number;
  rssBytes: number;
  bytesPerSubscription: number;
  serverCpuMsPerChange?: number;
  allMsMedian: number;
  allMsMax: number;
}
interface Replayed {
  events: number;
  eventsPerSec: number;
  cpuSeconds: { replayProcess: number; postgresBackends: number };
  walBytes: number;
}
/** One round of the rebuild scenario (bench/rebuild/replay.ts). */
interface RebuildRound {
  logEvents: number;
  projections: string[];
  /** As the rebuild command replays them. */
  all: Replayed;
  /** As a server catches up: one projector per projection. */
  server?: Replayed & { perProjection: Record<string, { eventsPerSec: number }> };
}
interface Result {
  commit: { sha: string | null; dirty: boolean | null };
  details: {
    commands?: Record<'c1' | 'c16' | 'c64', { ours: Run; baseline: Run }>;
    queries?: Record<string, { ours: Run; baseline: Run }>;
    cache?: Record<string, Record<'memory' | 'redis' | 'none' | 'raw', { median: Run }>>;
    replicas?: Record<string, Record<'one' | 'own' | 'replica', { median: Run }>> & { sizes?: Record<'write' | 'read', Array<{ table: string; rows: number; bytes: number }>> };
    fanout?: { ours: { rssBeforeBytes: number; levels: Level[] } };
    rebuild?: { rounds: RebuildRound[] };
  };
}

const result = JSON.parse(readFileSync(file, 'utf8')) as Result;
// `--rebuild=<file>`: the rebuild scenario from another result file (e.g. one measured after a fix to it alone).
const rebuildFile = argv.find((a) => a.startsWith('--rebuild='))?.slice('--rebuild='.length);
const rebuildResult = rebuildFile ? (JSON.parse(readFileSync(rebuildFile, 'utf8')) as Result) : undefined;
const d = rebuildResult ? { ...result.details, rebuild: rebuildResult.details.rebuild } : result.details;
const missing: string[] = [];
function need<T>(value: T | undefined | null, what: string): T | undefined {
  if (value === undefined || value === null || (typeof value === 'number' && !Number.isFinite(value))) missing.push(what);
  return value ?? undefined;
}

// ── formatting ──

const n = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? '—' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(2)} ms`);
const kib = (bytes: number | undefined) => (bytes === undefined ? '—' : `${(bytes / 1024).toFixed(1)} KiB`);
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
const pct = (predicted: number, measured: number) => `${(((predicted - measured) / measured) * 100).toFixed(0)} %`;
const out: string[] = [];
const table = (head: string[], rows: string[][]) => {
  out.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`), '');
};

// ── unit costs ──

const cmd1 = need(d.commands?.c1?.ours, 'commands c=1');
const cmd16 = need(d.commands?.c16?.ours, 'commands c=16');
const cmd64 = need(d.commands?.c64?.ours, 'commands c=64');
const raw16 = d.commands?.c16?.baseline;
const orderCached = need(d.queries?.['order(id)']?.ours, 'queries order(id)');
const page = need(d.queries?.['orders(userId, pageSize 20)']?.ours, 'queries page');
const orderUncached = need(d.cache?.['order(id)']?.none?.median, 'cache order(id) without cache');
const userCached = need(d.cache?.['user(id)']?.memory?.median, 'cache user(id)');
const replicaOrder = need(d.replicas?.['order(id)']?.replica?.median, 'replicas order(id)');
const fan = need(d.fanout?.ours, 'fanout');
const [fan1k, fan10k] = fan?.levels ?? [];
const rebuild = need(medianBy(d.rebuild?.rounds ?? [], (r) => r.all.eventsPerSec), 'rebuild');
const catchingUp = need(medianBy(d.rebuild?.rounds?.filter((r) => r.server) ?? [], (r) => r.server!.eventsPerSec), 'rebuild as a server catches up')?.server;

const perEventNode = rebuild ? (rebuild.all.cpuSeconds.replayProcess * 1000) / rebuild.all.events : undefined;
const perEventPg = rebuild ? (rebuild.all.cpuSeconds.postgresBackends * 1000) / rebuild.all.events : undefined;
const perEventWal = rebuild ? rebuild.all.walBytes / rebuild.all.events : undefined;
// Server CPU per delivered message: a change's CPU at 1,000 subscribers less the command and its projection alone
// (the fan-out places its changes one at a time, as the commands scenario at one client does).
const commandAlone = cmd1?.serverCpuMsPerRequest ?? undefined;
const perMessageMs = fan1k?.serverCpuMsPerChange !== undefined && commandAlone ? (fan1k.serverCpuMsPerChange - commandAlone) / fan1k.open : undefined;
const perSubscriptionBytes = fan10k?.bytesPerSubscription;

const at = (r: Result) => `${r.commit.sha?.slice(0, 7) ?? '?'}${r.commit.dirty ? ' (dirty)' : ''}`;
out.push(
  `Computed by \`node --import tsx bench/scaling/model.ts ${argv.join(' ')}\` from the run at ${at(result)}` +
    (rebuildResult ? `, the rebuild from ${rebuildFile} (at ${at(rebuildResult)}).` : '.'),
  '',
);
out.push('### Unit costs (medians of the run)', '');
table(
  ['unit', 'server (Node) CPU', 'PostgreSQL CPU', 'WAL', 'memory', 'measured by'],
  [
    ['`placeOrder`, 16 clients (its projections and feeds included)', ms(cmd16?.serverCpuMsPerRequest ?? undefined), ms(cmd16?.postgresCpuMsPerRequest ?? undefined), `${n(cmd16?.walBytesPerRequest ?? undefined)} B`, cmd16?.serverRssKiB ? `${n(cmd16.serverRssKiB / 1024)} MiB RSS under load` : '—', 'commands c=16'],
    ['… 64 clients (saturation: larger batches)', ms(cmd64?.serverCpuMsPerRequest ?? undefined), ms(cmd64?.postgresCpuMsPerRequest ?? undefined), `${n(cmd64?.walBytesPerRequest ?? undefined)} B`, '', 'commands c=64'],
    ['… raw one-statement baseline', ms(raw16?.serverCpuMsPerRequest ?? undefined), ms(raw16?.postgresCpuMsPerRequest ?? undefined), `${n(raw16?.walBytesPerRequest ?? undefined)} B`, '', 'commands c=16'],
    [`a projected event, rebuild (${rebuild?.projections.length ?? '?'} projections, batches of 2,000)`, ms(perEventNode), ms(perEventPg), `${n(perEventWal)} B`, '', 'rebuild, as the rebuild command replays'],
    ['`order(id)` from the in-process cache', ms(orderCached?.serverCpuMsPerRequest ?? undefined), ms(orderCached?.postgresCpuMsPerRequest ?? undefined), '', '', 'queries'],
    ['`order(id)` without cache', ms(orderUncached?.serverCpuMsPerRequest ?? undefined), ms(orderUncached?.postgresCpuMsPerRequest ?? undefined), '', '', 'cache, no-cache side'],
    ['… on a replica (read primary / replica server)', ms(replicaOrder?.serverCpuMsPerRequest ?? undefined), `${ms(replicaOrder?.pgServerCpuMsPerRequest?.primary)} / ${ms(replicaOrder?.pgServerCpuMsPerRequest?.replica)}`, '', '', 'replicas'],
    ['`user(id)` from the in-process cache', ms(userCached?.serverCpuMsPerRequest ?? undefined), ms(userCached?.postgresCpuMsPerRequest ?? undefined), '', '', 'cache'],
    ['a page of 20 orders (ids and total from PostgreSQL, entities from the cache)', ms(page?.serverCpuMsPerRequest ?? undefined), ms(page?.postgresCpuMsPerRequest ?? undefined), '', '', 'queries'],
    ['an open `ordersChanged` subscription', '', '', '', kib(perSubscriptionBytes), 'fan-out, 10,000 open'],
    ['a delivered subscription message', ms(perMessageMs), '', '', '', 'fan-out, 1,000 open, less a command at one client'],
  ],
);

// ── the deployment ──

out.push(`### ${n(COMMANDS_PER_SEC)} commands/s and ${n(SUBSCRIPTIONS)} open subscriptions`, '');
out.push(`Each figure: the load × the unit cost at 16 clients ÷ ${UTILIZATION} (a core or a server planned at ${UTILIZATION * 100} % busy). Costs per command fall as load batches more (the 64-client row), so this errs on the large side.`, '');
const rows: string[][] = [];
if (cmd16?.serverCpuMsPerRequest && perEventNode !== undefined) {
  // The projector share of a command's Node CPU is at least the rebuild's per event (live batches are smaller).
  const commandOnly = Math.max(0, cmd16.serverCpuMsPerRequest - perEventNode);
  const cores = (COMMANDS_PER_SEC * commandOnly) / 1000 / UTILIZATION;
  rows.push(['API processes for the commands (one Node process per core)', `${n(Math.ceil(cores))}`, `${n(COMMANDS_PER_SEC)}/s × ${ms(commandOnly)} (a command's Node CPU less a projected event's) ÷ ${UTILIZATION}`]);
  rows.push(['database connections of those processes', `${n(Math.ceil(cores) * POOL_PER_INSTANCE)}`, `${POOL_PER_INSTANCE} per process (the default pool); beyond PostgreSQL's max_connections (100 by default) a pooler is needed`]);
}
if (catchingUp) {
  // A live server runs every projector at once, each reading the log: as the rebuild scenario's catch-up.
  for (const [name, r] of Object.entries(catchingUp.perProjection)) {
    const enough = r.eventsPerSec >= COMMANDS_PER_SEC;
    rows.push([`projector \`${name}\` (one lease holder, not divisible)`, `${n(r.eventsPerSec)} events/s measured`, enough ? 'keeps up' : `**saturates**: ${n(COMMANDS_PER_SEC / r.eventsPerSec, 1)}× short of ${n(COMMANDS_PER_SEC)} events/s`]);
  }
}
if (cmd16?.postgresCpuMsPerRequest) {
  const cores = (COMMANDS_PER_SEC * cmd16.postgresCpuMsPerRequest) / 1000 / UTILIZATION;
  rows.push(['PostgreSQL primary cores (commands and their projections)', `${n(Math.ceil(cores))}`, `${n(COMMANDS_PER_SEC)}/s × ${ms(cmd16.postgresCpuMsPerRequest)} ÷ ${UTILIZATION}`]);
}
if (cmd16?.walBytesPerRequest) {
  const perSec = COMMANDS_PER_SEC * cmd16.walBytesPerRequest;
  rows.push(['WAL written (and replayed by every replica)', `${n(perSec / 2 ** 20, 1)} MiB/s`, `${n(cmd16.walBytesPerRequest)} B per command; ${n((perSec * 86_400) / 2 ** 40, 2)} TiB a day to archive`]);
}
const sizes = d.replicas?.sizes;
if (sizes) {
  const orders = sizes.write.find((t) => t.table === 'orders')?.rows;
  const bytes = [...sizes.write, ...sizes.read].reduce((sum, t) => sum + t.bytes, 0);
  if (orders) {
    const perOrder = bytes / orders;
    rows.push(['storage growth (write and read model, change history included)', `${n((perOrder * COMMANDS_PER_SEC * 86_400) / 2 ** 30, 0)} GiB/day`, `${kib(perOrder)} per placed order across all tables (the replicas scenario's databases, after VACUUM)`]);
  }
}
if (perSubscriptionBytes !== undefined) {
  const memory = SUBSCRIPTIONS * perSubscriptionBytes;
  rows.push(['memory for the open subscriptions', gib(memory), `${kib(perSubscriptionBytes)} each; e.g. ${n(Math.ceil(memory / UTILIZATION / 2 ** 30 / 4))} processes with 4 GiB each`]);
}
if (perMessageMs !== undefined && perMessageMs > 0) {
  // One message per command (orderStatusChanged of the order changed, one subscriber): the cheapest case.
  const oneEach = (COMMANDS_PER_SEC * perMessageMs) / 1000 / UTILIZATION;
  rows.push(['delivery, one subscriber per changed order (`orderStatusChanged`)', `${n(Math.ceil(oneEach))} cores`, `${n(COMMANDS_PER_SEC)} messages/s × ${ms(perMessageMs)}`]);
  const perCoreMessages = (1000 / perMessageMs) * UTILIZATION;
  rows.push(['delivery, every subscriber gets every change (`ordersChanged` without filter)', `${n((COMMANDS_PER_SEC * SUBSCRIPTIONS) / perCoreMessages)} cores`, `${n(COMMANDS_PER_SEC * SUBSCRIPTIONS)} messages/s at ${n(perCoreMessages)} per core: not a deployment, a filter`]);
}
table(['what', 'needs', 'from'], rows);

// ── checks against measured points ──

out.push('### The model against measured points', '');
const checks: string[][] = [];
if (cmd16?.machineCpuMsPerRequest && cmd64) {
  // The machine is CPU-bound: 2 cores ÷ all CPU per command at 16 clients = throughput at saturation.
  const predicted = 2000 / cmd16.machineCpuMsPerRequest;
  checks.push(['`placeOrder` at saturation (64 clients)', `${n(predicted)} cmd/s`, `${n(cmd64.rps)} cmd/s`, pct(predicted, cmd64.rps), `2 cores ÷ ${ms(cmd16.machineCpuMsPerRequest)} of machine CPU per command at 16 clients`]);
}
if (fan && fan1k && fan10k) {
  const predicted = fan.rssBeforeBytes + fan10k.open * fan1k.bytesPerSubscription;
  checks.push(['server RSS with 10,000 subscriptions', `${n(predicted / 2 ** 20)} MiB`, `${n(fan10k.rssBytes / 2 ** 20)} MiB`, pct(predicted, fan10k.rssBytes), `RSS before + 10,000 × ${kib(fan1k.bytesPerSubscription)} (measured at 1,000)`]);
  if (perMessageMs !== undefined && commandAlone && fan10k.serverCpuMsPerChange !== undefined) {
    const predictedCpu = commandAlone + fan10k.open * perMessageMs;
    checks.push(['server CPU of one change to 10,000 subscribers', ms(predictedCpu), ms(fan10k.serverCpuMsPerChange), pct(predictedCpu, fan10k.serverCpuMsPerChange), `a command at one client (${ms(commandAlone)}) + 10,000 × ${ms(perMessageMs)} (per message at 1,000)`]);
  }
  const predictedTime = (fan1k.allMsMedian * fan10k.open) / fan1k.open;
  checks.push(['one change → all 10,000 subscribers (median)', `${n(predictedTime)} ms`, `${n(fan10k.allMsMedian)} ms`, pct(predictedTime, fan10k.allMsMedian), `10 × the time at 1,000 (${n(fan1k.allMsMedian)} ms): delivery is linear in the subscribers`]);
}
table(['prediction', 'model', 'measured', 'error', 'how'], checks);

if (missing.length) out.push(`Not in this result file (rows left out or shown as —): ${[...new Set(missing)].join(', ')}.`, '');
console.log(out.join('\n'));
