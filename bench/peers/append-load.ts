/**
 * In-process write load for the peers-writes scenario (no HTTP), a separate
 * process per measured run:
 *
 *   node --import tsx bench/peers/append-load.ts <file with a JSON AppendLoadConfig>
 *
 * - `emmett`: Emmett's bare `eventStore.appendToStream` of one OrderPlaced
 *   (our event's data: three lines, user id, total) to a new stream
 *   "order-<new id>" with expected version STREAM_DOES_NOT_EXIST; no
 *   projection. Verified: the stream was created and is at version 1.
 * - `ours`: the project's CommandService.placeOrder (src/write/commands.ts),
 *   wired as src/app.ts wires it (sqlWriteModel on the server's SQL port, pool
 *   10), called in-process; no projectors run in this process. Verified: a
 *   new order id at version 1 with a log position.
 *
 * `connections` callers each await one call after another. Warm-up first (not
 * counted), then the measured run; the CPU of this process and of the
 * database's PostgreSQL backends (bench/lib/pg-cpu.ts, sampled while the
 * pool is still open) over the measured run. Prints one JSON line.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { backendCpu, backendCpuBetween, closePgCpu } from '../lib/pg-cpu.js';
import { ROOT } from '../lib/processes.js';
import { now, summarize } from '../lib/stats.js';
import type { LoadResult } from '../load/http-load.js';
import { emmettStore, STREAM_DOES_NOT_EXIST, type OrderPlaced, type PlacedLine } from './emmett.js';

export interface AppendLoadConfig {
  readonly mode: 'emmett' | 'ours';
  readonly databaseUrl: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  /** The order placed: our placeOrder input, and (emmett) the OrderPlaced data our command would decide from it. */
  readonly userId: string;
  readonly items: ReadonlyArray<{ productId: string; quantity: number }>;
  readonly lines: readonly PlacedLine[];
  readonly total: string;
  /** A checkout whose src/ is measured (ours); default this one. */
  readonly srcRoot?: string;
}

/** What the HTTP load generator reports (the same verified counts), plus this process's own CPU. */
export interface AppendLoadResult
  extends Pick<LoadResult, 'requests' | 'rps' | 'latencyMs' | 'errors' | 'non2xx' | 'mismatches' | 'failures' | 'durationSec' | 'sampleError'> {
  /** CPU of the database's PostgreSQL backends over the measured run. */
  readonly postgresCpuMs: number;
  /** CPU of this process (caller and store/command code together) over the measured run. */
  readonly processCpuMs: number;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as AppendLoadConfig;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One call: resolves to null when verified, else what was wrong. */
type Call = () => Promise<string | null>;
let call: Call;
let close: () => Promise<void>;

if (config.mode === 'emmett') {
  const store = emmettStore(config.databaseUrl, false);
  await store.schema.migrate();
  call = async () => {
    const orderId = randomUUID();
    const event: OrderPlaced = { type: 'OrderPlaced', data: { orderId, userId: config.userId, items: [...config.lines], total: config.total } };
    const result = await store.appendToStream(`order-${orderId}`, [event], { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
    return result.createdNewStream && result.nextExpectedStreamVersion === 1n && result.lastEventGlobalPosition > 0n
      ? null
      : `unexpected append result ${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
  };
  close = () => store.close();
} else {
  const root = config.srcRoot ?? ROOT;
  const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(root, path)).href) as Promise<T>;
  const { openDatabase } = await load<typeof import('../../src/infrastructure/db/database.js')>('src/infrastructure/db/database.ts');
  const { CommandService } = await load<typeof import('../../src/write/commands.js')>('src/write/commands.ts');
  const { sqlWriteModel } = await load<typeof import('../../src/write-model/stores.js')>('src/write-model/stores.ts');
  const db = await openDatabase({ databaseUrl: config.databaseUrl, poolSize: 10 });
  const commands = new CommandService(sqlWriteModel(db.sql));
  const actor = { role: 'admin', userId: 'bench-admin' } as const;
  const input = { userId: config.userId, items: config.items };
  call = async () => {
    const correlationId = randomUUID();
    const result = await commands.placeOrder(input, { actor, metadata: { correlationId, requestId: correlationId, actor } });
    return UUID.test(result.id) && result.version === 1 && /^\d+:\d+$/.test(result.position) ? null : `unexpected result ${JSON.stringify(result)}`;
  };
  close = () => db.close();
}

async function run(durationSec: number): Promise<Omit<AppendLoadResult, 'processCpuMs' | 'postgresCpuMs'>> {
  const latencies: number[] = [];
  let good = 0;
  let errors = 0;
  let mismatches = 0;
  let sampleError: string | undefined;
  const started = now();
  const until = started + durationSec * 1000;
  const caller = async () => {
    while (now() < until) {
      const t0 = now();
      try {
        const wrong = await call();
        if (wrong) {
          mismatches++;
          sampleError ??= wrong;
        } else {
          good++;
          latencies.push(now() - t0);
        }
      } catch (error) {
        errors++;
        sampleError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: config.connections }, caller));
  // The last calls may end after `until`: the rate is over the time they all took.
  const seconds = (now() - started) / 1000;
  return {
    requests: good, rps: good / seconds, latencyMs: summarize(latencies), errors, non2xx: 0, mismatches,
    failures: errors + mismatches, durationSec: seconds, sampleError,
  };
}

const database = new URL(config.databaseUrl).pathname.slice(1);
if (config.warmupSec > 0) await run(config.warmupSec);
const pg0 = await backendCpu(database);
const cpu0 = process.cpuUsage();
const result = await run(config.durationSec);
const cpu = process.cpuUsage(cpu0);
const postgresCpuMs = backendCpuBetween(pg0, await backendCpu(database));
await closePgCpu();
await close();
const out: AppendLoadResult = { ...result, processCpuMs: (cpu.user + cpu.system) / 1000, postgresCpuMs };
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
