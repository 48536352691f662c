/**
 * The soak: the kill -9 test's crash cycles (cycle.ts), a hundred times over,
 * with the whole audit (test/support/command-audit.ts) after every cycle.
 *
 *   npm run soak                      # 100 cycles
 *   npm run soak -- --cycles=10 --seed=42
 *
 * Needs the local PostgreSQL server (TEST_PG_URL, default
 * postgresql://postgres@127.0.0.1:5432/postgres); never part of `npm test`.
 * It creates a database of its own (and one for the replays) and drops them
 * at the end, also when a cycle fails or on Ctrl-C. Each cycle prints its
 * commands, the audit's duplicates and lost writes, and its time; the first
 * cycle with a finding ends the run with its findings and exit code 1.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { openDatabase, type Database } from '../../src/infrastructure/db/database.js';
import { migrateDeploy } from '../../src/infrastructure/db/migrate.js';
import { createDatabase, dropDatabase, withDatabaseName } from '../../src/infrastructure/db/pg-admin.js';
import { ADMIN, bearer } from '../support/auth.js';
import { auditStream, settle } from '../support/command-audit.js';
import { Client, CommandStream, prng, type Finding } from '../support/command-stream.js';
import { PG_SERVER_URL } from '../support/databases.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { ReplayDatabase } from '../support/replay.js';
import { crashCycle } from './cycle.js';

const { values: args } = parseArgs({
  options: { cycles: { type: 'string', default: '100' }, seed: { type: 'string' } },
});
const CYCLES = Number(args.cycles);
const SEED = Number(args.seed ?? process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isInteger(CYCLES) || CYCLES < 1) throw new Error(`--cycles must be a positive integer, not ${args.cycles}`);

const name = `orders_soak_${process.pid}_${randomBytes(3).toString('hex')}`;
const databaseUrl = withDatabaseName(PG_SERVER_URL, name);
let db: Database | undefined;
let replay: ReplayDatabase | undefined;
let server: ServerProcess | undefined;

let cleaning: Promise<void> | undefined;
/** Stops the server and drops both databases; once, whoever calls first. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await server?.kill('SIGKILL');
    await Promise.allSettled([db?.close(), replay?.dispose()]);
    await dropDatabase(PG_SERVER_URL, name).catch((error: unknown) => console.error(`could not drop ${name}:`, error));
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping, dropping ${name}`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

async function soak(): Promise<boolean> {
  console.log(`soak: ${CYCLES} cycles of kill -9 under a keyed command stream, seed ${SEED}, database ${name}`);
  await createDatabase(PG_SERVER_URL, name);
  await migrateDeploy({ databaseUrl });
  db = await openDatabase({ databaseUrl, poolSize: 2 });
  replay = await ReplayDatabase.create(async () => {
    const replayName = `${name}_replay`;
    await createDatabase(PG_SERVER_URL, replayName, name); // a copy of the migrated, still empty database
    return { kind: 'postgres', databaseUrl: withDatabaseName(PG_SERVER_URL, replayName), dispose: () => dropDatabase(PG_SERVER_URL, replayName) };
  });

  const random = prng(SEED);
  const stream = new CommandStream({ seed: SEED + 1 });
  const headers = await bearer(ADMIN);
  const start = () => startServerProcess({ databaseUrl });
  server = await start();
  await stream.setUp(new Client(server.url, headers));

  const times: number[] = [];
  const totals = { unknown: 0, committedBefore: 0 };
  let last = { acknowledged: 0, events: 0 };
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const began = Date.now();
    const result = await crashCycle(cycle, { stream, server, start, headers, random, prisma: db.prisma });
    server = result.server;
    await settle(server, db.prisma);
    const audit = await auditStream(stream, db.prisma, replay, { batchSize: random.int(1, 50) });
    times.push(Date.now() - began);
    totals.unknown += result.unknown;
    totals.committedBefore += result.committedBefore;
    last = audit;
    const findings = unique([...result.findings, ...audit.findings]);
    const count = (kind: Finding['kind']) => findings.filter((f) => f.kind === kind).length;
    console.log(
      `cycle ${cycle}/${CYCLES}: ${seconds(times.at(-1)!)} s, kill after ${result.killDelayMs} ms, ${result.sent} sent, ` +
        `${result.acknowledged} acknowledged, ${result.unknown} unknown (${result.committedBefore} had committed); ` +
        `in all ${audit.acknowledged} acknowledged, ${count('duplicate')} duplicates, ${count('lost')} lost writes` +
        (count('other') ? `, ${count('other')} other findings` : ''),
    );
    if (findings.length > 0) {
      console.log(`findings (seed ${SEED}):\n${findings.map((f) => `  [${f.kind}] ${f.what}`).join('\n')}`);
      return false;
    }
  }
  if (totals.unknown === 0) {
    console.log('no command was cut off by a kill: the kills never hit the stream');
    return false;
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(
    `soak passed: ${CYCLES} cycles, ${last.acknowledged} acknowledged commands (${last.events} events), ` +
      `${totals.unknown} cut off by a kill (${totals.committedBefore} of them had committed), 0 duplicates, 0 lost writes; ` +
      `per cycle mean ${seconds(mean)} s, median ${seconds(sorted[Math.floor(sorted.length / 2)]!)} s, max ${seconds(sorted.at(-1)!)} s; ` +
      `seed ${SEED}`,
  );
  return true;
}

function unique(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => !seen.has(f.what) && seen.add(f.what));
}

let passed = false;
try {
  passed = await soak();
} catch (error) {
  console.error(`soak failed (seed ${SEED}):`, error);
} finally {
  await cleanUp();
}
process.exit(passed ? 0 : 1);
