import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ADMIN, TEST_JWT_SECRET, bearer } from './auth.js';
import type { GraphQLResponse } from './server.js';

/** The project root: the server runs from here, as `npm start` would. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One pino log line of a server process, plus when the test received it. */
export interface LogLine {
  readonly level?: number;
  /** pino's timestamp (ms since the epoch, the child's clock = ours). */
  readonly time?: number;
  readonly msg?: string;
  /** When this process read the line (ms since the epoch). */
  readonly receivedAt: number;
  readonly [field: string]: unknown;
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Every JSON log line so far, in order. */
  readonly logs: LogLine[];
  /** Non-JSON output (stderr, stray stdout), for diagnostics. */
  readonly output: string[];
  /** Set once the process has exited. */
  readonly exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Projections this process acquired the lease of (in order of acquisition, from its logs). */
  acquiredProjections(): string[];
  /** Sends a signal (SIGKILL is `kill -9`) and resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Graceful shutdown: SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
  /**
   * Resolves with the first log line (already received or arriving later)
   * matching `predicate`; rejects after `timeoutMs` or when the process exits.
   */
  waitForLog(predicate: (line: LogLine, index: number) => boolean, timeoutMs?: number): Promise<LogLine>;
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** Like gql, but throws on any GraphQL error and returns `data`. */
  ok<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

export interface StartServerProcessOptions {
  /** PostgreSQL; without it the server runs on the embedded database (set PGLITE_DIR in `env`). */
  readonly databaseUrl?: string;
  /** Extra or overriding environment variables; `undefined` removes one. */
  readonly env?: Record<string, string | undefined>;
  /** How long to wait for "server started" (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Node's arguments (default `--import tsx src/main.ts`: the sources, as `npm start` runs them). */
  readonly nodeArgs?: readonly string[];
  /** Working directory (default the project root). */
  readonly cwd?: string;
}

export const LEASE_ACQUIRED = 'running projection (lease acquired)';

/** Every process started here and not yet exited: killed when the test worker exits, whatever happens. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * Spawns the real server (`node --import tsx src/main.ts`, or `nodeArgs`) as a child process
 * on a free port, and resolves once it logged "server started". Its JSON logs
 * are parsed and kept. Pair every call with `stop()`/`kill()`, e.g. via
 * `stopAll` in `afterAll`.
 */
export async function startServerProcess(options: StartServerProcessOptions): Promise<ServerProcess> {
  installExitHook();
  const child = spawn(process.execPath, options.nodeArgs ?? ['--import', 'tsx', 'src/main.ts'], {
    cwd: options.cwd ?? ROOT,
    env: Object.fromEntries(
      Object.entries({
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: options.databaseUrl,
        LOG_LEVEL: 'info',
        LEASE_RETRY_MS: '300',
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        ...options.env,
      }).filter(([, value]) => value !== undefined),
    ),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the server process');

  const logs: LogLine[] = [];
  const output: string[] = [];
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  let exited: ServerProcess['exited'];
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      notify();
      resolve();
    });
  });

  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const text of lines) {
      if (!text.trim()) continue;
      try {
        logs.push({ ...(JSON.parse(text) as object), receivedAt: Date.now() });
      } catch {
        output.push(text);
      }
    }
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output.push(chunk);
  });

  const describe = () =>
    `pid ${pid}, exit ${JSON.stringify(exited)}; last logs:\n` +
    [...logs.slice(-15).map((l) => JSON.stringify(l)), ...output.slice(-15)].join('\n');

  const waitForLog = (predicate: (line: LogLine, index: number) => boolean, timeoutMs = 10_000) =>
    new Promise<LogLine>((resolve, reject) => {
      let checked = 0;
      const check = () => {
        for (; checked < logs.length; checked++) {
          if (predicate(logs[checked]!, checked)) {
            finish();
            resolve(logs[checked]!);
            return;
          }
        }
        if (exited) {
          finish();
          reject(new Error(`server process exited before the awaited log line (${describe()})`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a log line (${describe()})`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (exited) return;
    child.kill(signal);
    await exit;
  };

  let started: LogLine;
  try {
    started = await waitForLog((l) => l.msg === 'server started', options.startTimeoutMs ?? 30_000);
  } catch (error) {
    await kill('SIGKILL');
    throw error;
  }
  const url = String(started.url);
  const port = Number(started.port);

  const gql = async (query: string, variables?: Record<string, unknown>) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await bearer(ADMIN)) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GraphQLResponse;
  };

  return {
    url,
    port,
    pid,
    logs,
    output,
    get exited() {
      return exited;
    },
    acquiredProjections: () => logs.filter((l) => l.msg === LEASE_ACQUIRED).map((l) => String(l.projection)),
    kill,
    async stop(timeoutMs = 10_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exit;
      clearTimeout(timer);
    },
    waitForLog,
    gql,
    async ok(query, variables) {
      const result = await gql(query, variables);
      if (result.errors?.length) throw new Error(`GraphQL errors from pid ${pid}: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
  };
}

/** Stops every given process (gracefully, then by force), ignoring ones that never started. */
export async function stopAll(processes: Array<ServerProcess | undefined>, timeoutMs = 10_000): Promise<void> {
  await Promise.all(processes.map((p) => p?.stop(timeoutMs).catch(() => p.kill('SIGKILL'))));
}
