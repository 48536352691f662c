/**
 * A private PostgreSQL cluster that a test may stop, crash and start again,
 * made from the machine's server binaries (`pg_config --bindir`): `initdb`
 * into a temporary directory, `pg_ctl` on a free port of 127.0.0.1 with trust
 * authentication for the `postgres` superuser. The shared server is never
 * touched.
 *
 *   const cluster = await PgCluster.create();
 *   try {
 *     const database = await cluster.createTestDatabase();   // migrated, like createTestDatabase()
 *     await cluster.stop('immediate');                        // a crash; 'fast' is pg_ctl's orderly stop
 *     await cluster.start();                                  // same port, same data directory
 *   } finally {
 *     await cluster.destroy();                                // stops it if running, removes the directory
 *   }
 *
 * PostgreSQL refuses to run as root: when the tests do, every binary runs as
 * the `postgres` OS user (`runuser -u postgres --`), which owns the directory.
 *
 * Nothing is left behind: `destroy()` in a finally/afterAll; a cluster still
 * up when the process exits or is interrupted is stopped and removed then; and
 * each `create()` first removes clusters whose creating process is gone (one
 * killed with SIGKILL, say).
 *
 * Meant to grow: `settings` become postgresql.conf lines (`wal_level`,
 * `max_wal_senders`…); `run()` runs any server binary as the cluster's OS
 * user; the port and socket directory are given at each start, so a copied
 * data directory carries none of its origin's; and the trust pg_hba.conf of
 * initdb admits replication connections from 127.0.0.1, which
 * `createStandby()` uses for a streaming standby (`pg_basebackup -R`).
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, chown, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createDatabase, dropDatabase } from '../../src/infrastructure/db/pg-admin.js';
import { MIGRATION_SETS, migrateDeploy } from '../../src/infrastructure/db/migrate.js';
import type { DatabaseRole, TestDatabase } from './databases.js';

const run = promisify(execFile);

export type StopMode = 'fast' | 'immediate';

export interface PgClusterOptions {
  /** Extra postgresql.conf settings, e.g. `{ wal_level: 'replica', max_wal_senders: 4 }` (default none). */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Makes `cluster.dataDir` (default: `initdb` with trust authentication and
   * the superuser `postgres`). A standby would run `pg_basebackup -R` from
   * its primary here, through `cluster.run`.
   */
  readonly makeDataDir?: (cluster: PgCluster) => Promise<unknown>;
  /** How long `pg_ctl` waits for a start or stop, in seconds (default 60). */
  readonly timeoutSeconds?: number;
}

/** Temporary directories of clusters are named so, followed by random characters. */
const PREFIX = 'orders-pg-cluster-';
/** Inside a cluster's directory: the pid of the process that created it. */
const OWNER_FILE = 'owner.pid';

const asRoot = process.getuid?.() === 0;
/** The OS user the server runs as: `postgres` when we are root, else ourselves. */
const SERVER_USER = asRoot ? 'postgres' : userInfo().username;

let bindir: Promise<string> | undefined;
/** The directory of initdb, pg_ctl, postgres… (`pg_config --bindir`). */
function binaries(): Promise<string> {
  bindir ??= (async () => {
    const dir = (await run('pg_config', ['--bindir'])).stdout.trim();
    if (!(await stat(join(dir, 'initdb')).catch(() => undefined))) {
      throw new Error(`no initdb in ${dir} (pg_config --bindir): the PostgreSQL server binaries are needed`);
    }
    return dir;
  })();
  return bindir;
}

/** The command line running `binary` as the server's OS user. */
function commandFor(binaryPath: string, args: readonly string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', SERVER_USER, '--', binaryPath, ...args]] : [binaryPath, [...args]];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function conf(value: string | number | boolean): string {
  return typeof value === 'string' ? `'${value.replace(/'/g, "''")}'` : String(value);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ───────────────────────── Leftovers ─────────────────────────

/** Clusters of this process not yet destroyed. */
const live = new Set<PgCluster>();
let hooksInstalled = false;

/** Synchronous: runs at process exit, where nothing asynchronous happens any more. */
function destroyLiveSync() {
  for (const cluster of live) cluster.destroySync();
}

function installHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', destroyLiveSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      destroyLiveSync();
      // Without other listeners the signal would have ended the process: end it as it would have.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

/** Made in the last minute: its owner file may be about to be written. */
async function young(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs < 60_000;
}

/** Stops and removes the clusters whose creating process no longer runs. */
async function removeOrphans(): Promise<void> {
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!entry.startsWith(PREFIX)) continue;
    const root = join(tmpdir(), entry);
    const owner = Number(await readFile(join(root, OWNER_FILE), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(owner) ? alive(owner) : await young(root)) continue; // running, or being created
    stopPostmasterSync(join(root, 'data'));
    await rm(root, { recursive: true, force: true });
  }
}

/** Immediate shutdown of whatever postmaster runs on `dataDir`, waiting for it (SIGKILL after 10 s). */
function stopPostmasterSync(dataDir: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return; // not running
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGQUIT'); // pg_ctl's "immediate" mode
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) spawnSync('sleep', ['0.05']);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

// ───────────────────────── The cluster ─────────────────────────

/** A new data directory, as the `postgres` superuser with trust authentication (local and replication connections). */
function initdb(cluster: PgCluster): Promise<unknown> {
  return cluster.run('initdb', ['-D', cluster.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
}

export class PgCluster {
  private running = false;
  private destroyed = false;
  private readonly templates = new Map<DatabaseRole, Promise<string>>();

  private constructor(
    /** The temporary directory: data directory, server log, socket. */
    readonly root: string,
    readonly port: number,
    private readonly timeoutSeconds: number,
  ) {}

  get dataDir(): string {
    return join(this.root, 'data');
  }

  get logFile(): string {
    return join(this.root, 'server.log');
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** A connection URL for `database` (default `postgres`) as the superuser. */
  url(database = 'postgres'): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  /** Makes the data directory (initdb unless `makeDataDir`), adds the settings, and starts on a free port. */
  static async create(options: PgClusterOptions = {}): Promise<PgCluster> {
    installHooks();
    await removeOrphans();
    const root = await mkdtemp(join(tmpdir(), PREFIX));
    await writeFile(join(root, OWNER_FILE), String(process.pid));
    if (asRoot) {
      const { stdout } = await run('id', ['-u', SERVER_USER]);
      const { stdout: gid } = await run('id', ['-g', SERVER_USER]);
      await chown(root, Number(stdout.trim()), Number(gid.trim()));
    }
    // The port is only known free until something else binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const cluster = new PgCluster(root, await freePort(), options.timeoutSeconds ?? 60);
      live.add(cluster);
      try {
        if (attempt === 1) {
          await (options.makeDataDir ?? initdb)(cluster);
          await cluster.configure({ listen_addresses: '127.0.0.1', ...options.settings });
        }
        await cluster.start();
        return cluster;
      } catch (error) {
        live.delete(cluster);
        const portTaken = /could not bind|address already in use/i.test(await cluster.serverLog());
        await rm(cluster.logFile, { force: true });
        if (!portTaken || attempt === 3) {
          await cluster.destroy();
          throw error;
        }
      }
    }
  }

  /**
   * A streaming standby of this cluster (`pg_basebackup -R -c fast`: a copy
   * of its data directory that connects back to it and replays its WAL), on
   * a free port of its own; hot standby, so it answers read-only queries.
   * Destroy it like any cluster.
   */
  createStandby(options: Omit<PgClusterOptions, 'makeDataDir'> = {}): Promise<PgCluster> {
    return PgCluster.create({
      ...options,
      makeDataDir: (standby) =>
        standby.run('pg_basebackup', ['-D', standby.dataDir, '-R', '-c', 'fast', '-X', 'stream', '-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres']),
    });
  }

  /** Appends settings to postgresql.conf (later lines win); they apply from the next start. */
  async configure(settings: Readonly<Record<string, string | number | boolean>>): Promise<void> {
    const lines = Object.entries(settings).map(([name, value]) => `${name} = ${conf(value)}`);
    await appendFile(join(this.dataDir, 'postgresql.conf'), ['', '# test/support/pg-cluster.ts', ...lines, ''].join('\n'));
  }

  /** Runs a server binary (`initdb`, `pg_ctl`, `pg_basebackup`…) as the cluster's OS user. */
  async run(binary: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    const [command, argv] = commandFor(join(await binaries(), binary), args);
    try {
      return await run(command, argv, { cwd: this.root, timeout: (this.timeoutSeconds + 30) * 1000 });
    } catch (error) {
      const e = error as Error & { stdout?: string; stderr?: string };
      throw new Error(
        `${binary} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n` +
          `server log (tail):\n${(await this.serverLog()).split('\n').slice(-20).join('\n')}`,
      );
    }
  }

  /** Starts the server on its port and data directory; resolves once it accepts connections (crash recovery included). */
  async start(): Promise<void> {
    if (this.destroyed) throw new Error('the cluster was destroyed');
    // Port and socket directory (the cluster's own, never the shared server's) on the command line, not in
    // postgresql.conf: they belong to this directory, not to the data a base backup would copy.
    const server = `-p ${this.port} -k '${this.root}'`;
    await this.run('pg_ctl', ['start', '-D', this.dataDir, '-l', this.logFile, '-o', server, '-w', '-t', String(this.timeoutSeconds)]);
    this.running = true;
  }

  /** `pg_ctl stop -m fast` (clients disconnected, a clean checkpoint) or `-m immediate` (a crash: recovery at the next start). */
  async stop(mode: StopMode = 'fast'): Promise<void> {
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', String(this.timeoutSeconds)]);
    this.running = false;
  }

  /** The server log so far. */
  serverLog(): Promise<string> {
    return readFile(this.logFile, 'utf8').catch(() => '');
  }

  /** Creates an empty database; returns its URL. */
  async createDatabase(name: string, template?: string): Promise<string> {
    await createDatabase(this.url(), name, template);
    return this.url(name);
  }

  /**
   * A fresh, fully migrated database of its own, like `createTestDatabase`
   * on the shared server: a copy of a template migrated once per cluster and
   * role (both migration sets, or only the write or the read set).
   */
  async createTestDatabase(role: DatabaseRole = 'both'): Promise<TestDatabase> {
    let template = this.templates.get(role);
    if (!template) {
      template = (async () => {
        const name = `orders_template_${role}`;
        await migrateDeploy({ databaseUrl: await this.createDatabase(name) }, role === 'both' ? MIGRATION_SETS : [role]);
        return name;
      })();
      this.templates.set(role, template);
    }
    const name = `orders_${randomBytes(4).toString('hex')}`;
    const databaseUrl = await this.createDatabase(name, await template);
    return { kind: 'postgres', databaseUrl, dispose: () => dropDatabase(this.url(), name) };
  }

  /** Stops the server if it runs (immediately: nothing of it is kept) and removes its directory. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    if (this.running) await this.stop('immediate').catch(() => undefined);
    stopPostmasterSync(this.dataDir); // a start that failed half-way, or a stop that did
    this.running = false;
    await rm(this.root, { recursive: true, force: true });
  }

  /** `destroy`, for process exit. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    stopPostmasterSync(this.dataDir);
    rmSync(this.root, { recursive: true, force: true });
  }
}
