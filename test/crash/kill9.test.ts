/**
 * Crash safety (issue 5, section 6): `kill -9` the server at random moments
 * during a stream of commands, over many cycles, on one PostgreSQL database.
 *
 * Each cycle (cycle.ts) starts the real server process, runs several
 * concurrent client loops (test/support/command-stream.ts: placeOrder;
 * confirm/ship/deliver/cancel of the loop's own orders; renames of the loop's
 * own user), every command with a fresh idempotency key and an expected
 * version, and SIGKILLs the server after a random delay. The next server on
 * the same database then gets every command whose outcome is unknown again,
 * with the same key and input, plus a sample of acknowledged ones:
 *
 *   - an acknowledged command's retry answers with its first result, exactly;
 *   - an unknown one's retry answers with the committed attempt's result, or
 *     runs it now — and either way its key then names exactly one event.
 *
 * At the end, with the projections caught up (`projections { lag }` = 0), the
 * audit (test/support/command-audit.ts):
 *   - each acknowledged command's event exists exactly once, at the version
 *     and log position its answer gave;
 *   - the event log and the idempotency keys match one to one, so no retry
 *     wrote a second time;
 *   - the write model's orders and users are what the loops' models say;
 *   - every read-model table equals a replay of the log from zero.
 *
 * `npm run soak` runs the same cycles a hundred times, auditing after each.
 *
 * In the `two-databases` project the server has a read database of its own
 * (READ_DATABASE_URL): projectors read the log on the write database and
 * commit views and checkpoints on the read one, and the same audit holds.
 *
 * The commands and kill delays come from seeded generators; CRASH_SEED=<n>
 * repeats a run's choices as far as timing allows (where a kill lands varies).
 * The seed is printed on failure, and with the per-cycle summary.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/infrastructure/db/database.js';
import { ADMIN, bearer } from '../support/auth.js';
import { auditStream, settle } from '../support/command-audit.js';
import { Client, CommandStream, prng } from '../support/command-stream.js';
import { createTestDatabase, createTestDatabasePair, type TestDatabase } from '../support/databases.js';
import { startServerProcess, stopAll, type ServerProcess } from '../support/process.js';
import { ReplayDatabase } from '../support/replay.js';
import { separateReadDatabase, testDbKind } from '../support/server.js';
import { crashCycle } from './cycle.js';

const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CYCLES = 10;
/** No new cycle starts after this long (the slowest machines run fewer cycles, never fewer than MIN_CYCLES). */
const CYCLE_BUDGET_MS = 65_000;
const MIN_CYCLES = 5;

describe.skipIf(testDbKind() !== 'postgres')('kill -9 during a stream of commands', () => {
  let database: TestDatabase | undefined;
  let readDatabase: TestDatabase | undefined;
  let db: Database | undefined;
  let readDb: Database | undefined;
  let replay: ReplayDatabase | undefined;
  let server: ServerProcess | undefined;

  afterAll(async () => {
    await stopAll([server]);
    await Promise.all([db?.close(), readDb?.close(), replay?.dispose()]);
    await Promise.all([database?.dispose(), readDatabase?.dispose()]);
  }, 60_000);

  it('every acknowledged command exactly once, no duplicate from a retry, read models equal a replay from zero', async () => {
    const started = Date.now();
    try {
      await crashCycles();
    } catch (error) {
      if (error instanceof Error) error.message = `[CRASH_SEED=${SEED}] ${error.message}`;
      throw error;
    }
    console.log(`kill -9 test: seed ${SEED}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 170_000);

  async function crashCycles() {
    // One generator for the kills, the stream's own for its commands and samples.
    const random = prng(SEED);
    const stream = new CommandStream({ seed: SEED + 1 });
    if (separateReadDatabase()) ({ write: database, read: readDatabase } = await createTestDatabasePair());
    else database = await createTestDatabase('postgres');
    [db, readDb, replay] = await Promise.all([
      openDatabase({ databaseUrl: database.databaseUrl!, poolSize: 2 }),
      readDatabase ? openDatabase({ databaseUrl: readDatabase.databaseUrl!, poolSize: 2 }) : undefined,
      ReplayDatabase.create(),
    ]);
    const prisma = db.prisma;
    const headers = await bearer(ADMIN);
    const start = () =>
      startServerProcess({ databaseUrl: database!.databaseUrl!, env: { READ_DATABASE_URL: readDatabase?.databaseUrl } });

    server = await start();
    await stream.setUp(new Client(server.url, headers));
    if (readDatabase) {
      // The read models really are elsewhere: the write database has none of their tables.
      expect(await prisma.$queryRaw`SELECT to_regclass('order_view')::text AS t`).toEqual([{ t: null }]);
    }

    const summary: string[] = [];
    const cyclesStarted = Date.now();
    let cycle = 0;
    while (cycle < CYCLES && (cycle < MIN_CYCLES || Date.now() - cyclesStarted < CYCLE_BUDGET_MS)) {
      cycle++;
      const result = await crashCycle(cycle, { stream, server, start, headers, random, prisma });
      server = result.server;
      expect(result.findings, `cycle ${cycle}`).toEqual([]);
      summary.push(
        `cycle ${cycle}: kill after ${result.killDelayMs} ms, ${result.sent} sent, ${result.acknowledged} acknowledged, ` +
          `${result.unknown} unknown (${result.committedBefore} had committed), ${result.reasked} acknowledged retried`,
      );
    }
    console.log([`kill -9 test, CRASH_SEED=${SEED}:`, ...summary].join('\n'));
    const { sent } = stream;
    expect(
      sent.filter((s) => s.first.outcome === 'unknown').length,
      'commands cut off by a kill (none: the kills never hit the stream)',
    ).toBeGreaterThan(0);

    // ── Settle: the final server's projections catch up; then everything is checked.
    await settle(server, prisma);
    const audit = await auditStream(stream, prisma, replay!, { batchSize: random.int(1, 50), read: readDb?.prisma });
    expect(audit.findings).toEqual([]);

    console.log(
      `kill -9 test: ${cycle} cycles, ${sent.length} commands (${sent.filter((s) => s.first.outcome === 'unknown').length} unknown at the kill, ` +
        `${sent.filter((s) => s.retries.length > 0).length} retried), ${audit.events} events`,
    );
  }
});
