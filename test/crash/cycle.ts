/**
 * One crash cycle of a command stream (test/support/command-stream.ts), as
 * the kill -9 test (kill9.test.ts) and the soak (soak.ts, `npm run soak`)
 * run it, many times over on one PostgreSQL database:
 *
 * the stream's loops send commands to the server, which is killed with
 * SIGKILL after a random delay; a new server starts on the same database and
 * gets every command whose outcome is unknown (no response: the connection
 * died) again, twice at once with the same key and input, plus a sample of
 * acknowledged ones:
 *
 *   - an acknowledged command's retry answers with its first result, exactly;
 *   - an unknown one's retries answer with the committed attempt's result, or
 *     run it now — both with the one result.
 */
import type { PrismaClient } from '../../src/generated/prisma/client.js';
import { storedResult } from '../support/command-audit.js';
import { Client, describeSent, sleep, type CommandStream, type Finding, type Random } from '../support/command-stream.js';
import type { ServerProcess } from '../support/process.js';

export interface CrashCycleOptions {
  /** The kill comes this long after the loops start, uniformly random (default 0–1500 ms). */
  readonly killDelayMs?: readonly [number, number];
  /** Acknowledged commands sent again after the restart, at most (default 8). */
  readonly reask?: number;
}

export interface CrashCycleContext {
  readonly stream: CommandStream;
  /** The server to kill. */
  readonly server: ServerProcess;
  /** Starts a new server on the same database. */
  readonly start: () => Promise<ServerProcess>;
  readonly headers: Record<string, string>;
  /** Picks the kill delay. */
  readonly random: Random;
  /** The database, to tell which unknown commands had committed before the kill. */
  readonly prisma: PrismaClient;
}

export interface CrashCycleResult {
  /** The server started after the kill: the next cycle's. */
  readonly server: ServerProcess;
  readonly findings: Finding[];
  readonly killDelayMs: number;
  readonly sent: number;
  readonly acknowledged: number;
  readonly unknown: number;
  /** Unknown commands that had committed before the kill. */
  readonly committedBefore: number;
  readonly reasked: number;
}

export async function crashCycle(cycle: number, context: CrashCycleContext, options: CrashCycleOptions = {}): Promise<CrashCycleResult> {
  const { stream, headers, random, prisma } = context;
  const [lo, hi] = options.killDelayMs ?? [0, 1500];
  const before = stream.sent.length;
  let client = new Client(context.server.url, headers);
  let stopped = false;
  const loops = stream.run({ cycle, clientOf: () => client, stopped: () => stopped, unknown: 'stop' });
  const killDelayMs = random.int(lo, hi);
  await sleep(killDelayMs);
  stopped = true;
  await context.server.kill('SIGKILL');
  await loops;
  const thisCycle = stream.sent.slice(before);
  const findings: Finding[] = thisCycle
    .filter((s) => s.first.outcome === 'refused')
    .map((s) => ({ kind: 'other', what: `a valid command was refused: ${describeSent(s)}` }));

  // ── Restart on the same database; resolve the unknown, re-ask some acknowledged.
  const server = await context.start();
  client = new Client(server.url, headers);
  const unknown = stream.unknownOf(cycle);
  const sample = stream.sampleAcknowledged(cycle, options.reask ?? 8);
  let committedBefore = 0;
  for (const s of unknown) if (await storedResult(prisma, s.key)) committedBefore++;
  findings.push(...(await stream.resolve(client, unknown)));
  findings.push(...(await stream.reask(client, sample)));
  return {
    server,
    findings,
    killDelayMs,
    sent: thisCycle.length,
    acknowledged: thisCycle.filter((s) => s.first.outcome === 'acknowledged').length,
    unknown: unknown.length,
    committedBefore,
    reasked: sample.length,
  };
}
