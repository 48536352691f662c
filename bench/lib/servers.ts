import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { requestHeaders, serverAuthEnv } from './auth.js';
import { freePort, ROOT, sleep, spawnNode, waitForHttp, type Child } from './processes.js';

export interface RunningServer {
  readonly child: Child;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface ApiServerOptions {
  readonly databaseUrl: string;
  /** Run the server from another checkout (e.g. one with a candidate fix applied). */
  readonly root?: string;
  readonly env?: Record<string, string>;
  /** Write a V8 CPU profile into this directory when the server exits. */
  readonly cpuProfileDir?: string;
  /** Lets the bench force a GC through the inspector (SIGUSR1 opens it on this port). */
  readonly inspectPort?: number;
}

/** Where buildServer compiles a checkout: one level below its root, as `dist` is, so relative paths resolve alike. */
export const BUILD_DIR = '.bench-dist';
const builds = new Map<string, Promise<void>>();

/**
 * Compiles a checkout's server as the README's deployment does (`npm run
 * build`: tsc with tsconfig.build.json; `src/generated` must exist, as after
 * `npm ci`) into BUILD_DIR, once per checkout per bench run. The API is
 * measured as it is deployed, `node <build>/main.js`, not through tsx: its
 * transform names every function by setting a property on it, which costs
 * memory and CPU a deployment does not pay (bench/README.md).
 */
export function buildServer(root: string = ROOT): Promise<void> {
  let build = builds.get(root);
  if (!build) {
    build = new Promise<void>((resolve, reject) => {
      const tsc = join(root, 'node_modules/typescript/bin/tsc');
      execFile(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR], { cwd: root, timeout: 300_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`building the server in ${root} failed (tsc -p tsconfig.build.json${error.killed ? ', killed after 5 minutes' : ''}):\n${stdout}${stderr}`)) : resolve(),
      );
    });
    builds.set(root, build);
  }
  return build;
}

/** Starts the API under test, built (buildServer), as `node <build>/main.js` on a free port, and waits until /readyz answers. */
export async function startApiServer(options: ApiServerOptions): Promise<RunningServer> {
  const root = options.root ?? ROOT;
  await buildServer(root);
  const port = await freePort();
  const nodeArgs: string[] = [];
  if (options.cpuProfileDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  if (options.inspectPort) nodeArgs.push(`--inspect-port=127.0.0.1:${options.inspectPort}`);
  const child = spawnNode({
    name: 'api server',
    nodeArgs,
    script: join(BUILD_DIR, 'main.js'),
    compiled: true,
    cwd: root,
    env: {
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      ...options.env,
      ...serverAuthEnv(),
    },
  });
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, child);
  return { child, port, pid: child.pid, url: `http://127.0.0.1:${port}/graphql`, stop: () => child.stop() };
}

/** Starts a raw baseline server (bench/baseline/*.ts) on a free port. */
export function startBaseline(script: string, env: Record<string, string>): Promise<RunningServer> {
  return startHelperServer(join('bench/baseline', script), env);
}

/** Starts a peer server (bench/peers/*.ts: another stack over the same database) on a free port. */
export function startPeer(script: string, env: Record<string, string>): Promise<RunningServer> {
  return startHelperServer(join('bench/peers', script), env);
}

/** A bench server script on a free port (PORT), ready once its /healthz answers; `url` is its origin. */
async function startHelperServer(script: string, env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort();
  const child = spawnNode({ name: script, script, env: { PORT: String(port), ...env, ...serverAuthEnv() } });
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, child);
  return { child, port, pid: child.pid, url: `http://127.0.0.1:${port}`, stop: () => child.stop() };
}

export async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: requestHeaders(), body: JSON.stringify({ query, variables }) });
  const json = (await res.json()) as { data?: T; errors?: unknown[] };
  if (json.errors?.length || !json.data) throw new Error(`GraphQL errors: ${JSON.stringify(json.errors ?? json)}`);
  return json.data;
}

/** Waits until every projection has applied the whole readable log. */
export async function waitForProjections(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const data = await gql<{ projections: Array<{ name: string; lag: number }> }>(url, '{ projections { name lag } }');
    if (data.projections.every((p) => p.lag === 0)) return;
    if (Date.now() > deadline) throw new Error(`projections still behind: ${JSON.stringify(data.projections)}`);
    await sleep(250);
  }
}
