import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** The Redis server every development and CI machine has. Tests use keys under a prefix of their own there. */
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test (or run) uses. */
export function testPrefix(name: string): string {
  return `orders:test:${name}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under `prefix` on the shared Redis (SCAN, never KEYS or FLUSHDB). */
export async function deleteKeys(prefix: string, url = SHARED_REDIS_URL): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Every redis-server started here: killed when the test worker exits, whatever happens. */
const live = new Set<ChildProcess>();
let hooked = false;

/**
 * A redis-server of the test's own (the binary on the PATH), on a free port,
 * in a directory of its own, with no automatic snapshots (a test takes one
 * with SAVE; a restart loads it): a test may kill, pause or restart it.
 * Never the shared one.
 */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  /** Starts it again on the same port and directory after a kill (nothing when it runs); resolves when it answers. */
  start(): Promise<void>;
  /** SIGKILL: gone at once, nothing saved. */
  kill(): Promise<void>;
  /** SIGSTOP: the socket stays open, nothing answers (a Redis that hangs). */
  pause(): void;
  /** SIGCONT after pause. */
  resume(): void;
  /** Stops it for good and removes its directory. */
  dispose(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => live.forEach((c) => c.kill('SIGKILL')));
  }
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'orders-test-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const url = `redis://127.0.0.1:${port}`;

  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const start = async () => {
    if (alive()) return;
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--dbfilename', 'dump.rdb'];
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    live.add(proc);
    exited = new Promise((resolve) => proc.once('exit', () => (live.delete(proc), resolve())));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined); // refused until it listens: the rejection says so
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer within 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        probe.disconnect();
      }
    }
  };
  const kill = async () => {
    if (alive()) {
      child!.kill('SIGCONT');
      child!.kill('SIGKILL');
    }
    await exited;
  };
  await start();
  return {
    url,
    port,
    start,
    kill,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async dispose() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` passes (it throws while not), bounded. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
