import { readFileSync } from 'node:fs';
import pg from 'pg';
import { PG_SERVER_URL } from './db.js';
import { cpuMs, sleep } from './processes.js';

/** One admin connection per PostgreSQL server sampled (the shared server unless told otherwise). */
const admins = new Map<string, Promise<pg.Client>>();

function adminOf(serverUrl: string): Promise<pg.Client> {
  let admin = admins.get(serverUrl);
  if (!admin) {
    admin = (async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      // A private server may be stopped before closePgCpu: its connection's end is no failure of the bench.
      client.on('error', () => undefined);
      await client.connect();
      return client;
    })();
    admins.set(serverUrl, admin);
  }
  return admin;
}

/**
 * CPU time (ms, from /proc) of each PostgreSQL backend connected to
 * `database` right now, on the server of `serverUrl` (default: the local
 * shared server). The server must run on this machine.
 */
export async function backendCpu(database: string, serverUrl = PG_SERVER_URL): Promise<Map<number, number>> {
  const admin = await adminOf(serverUrl);
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      cpu.set(pid, cpuMs(pid));
    } catch {
      // the backend just exited
    }
  }
  return cpu;
}

/**
 * CPU time (ms) a whole PostgreSQL server on this machine has used so far:
 * the postmaster with the children it has reaped (cutime, cstime) and its
 * live children (backends, WAL sender and receiver, the startup process
 * replaying WAL on a standby, checkpointer…). The difference of two samples is
 * all the server cost in between, exited backends included.
 */
export async function serverCpu(serverUrl: string): Promise<number> {
  const admin = await adminOf(serverUrl);
  // The postmaster is the parent of every backend, this admin connection's among them.
  const { rows } = await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const postmaster = Number(statFields(rows[0]!.pid)[1]);
  const fields = statFields(postmaster);
  // utime, stime, cutime, cstime in ticks of USER_HZ (100 on Linux)
  let total = ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  for (const pid of childrenOf(postmaster)) {
    try {
      total += cpuMs(pid);
    } catch {
      // exited between the two reads: its time is in the postmaster's cutime from now on (counted at the next sample)
    }
  }
  return total;
}

/**
 * The server's current WAL insert position in bytes (`pg_current_wal_lsn()`,
 * "X/Y" = X·2³² + Y). WAL is written server-wide: the difference of two
 * samples is everything any database of that server logged in between, so it
 * is a figure per unit of work only on an otherwise idle server.
 */
export async function walPosition(serverUrl = PG_SERVER_URL): Promise<bigint> {
  const admin = await adminOf(serverUrl);
  const { rows } = await admin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  const [high, low] = rows[0]!.lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/** The fields of /proc/<pid>/stat after the command name: state, ppid, … (proc(5), from field 3). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU the database's backends used between two samples: backends in both by
 * their difference, new ones from zero. Pool connections normally live through
 * a run; one that closed in between is missed, so this is a floor.
 */
export function backendCpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/**
 * CPU the backends of `database` use from now until `stop()`, sampled every
 * `everyMs`: unlike two samples (`backendCpuBetween`), pool connections that
 * open and close meanwhile count too, each up to its last sample. `stop()`
 * resolves with the total in ms.
 */
export async function startBackendCpuSampler(database: string, serverUrl = PG_SERVER_URL, everyMs = 250): Promise<{ stop(): Promise<number> }> {
  const first = await backendCpu(database, serverUrl);
  const last = new Map(first);
  const sample = async () => {
    for (const [pid, ms] of await backendCpu(database, serverUrl)) last.set(pid, ms);
  };
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      await sleep(everyMs);
      await sample();
    }
  })();
  return {
    async stop() {
      sampling = false;
      await loop;
      await sample();
      return backendCpuBetween(first, last);
    },
  };
}

/** Closes the admin connections (all, or those to `serverUrls`: before those servers stop). */
export async function closePgCpu(serverUrls?: readonly string[]): Promise<void> {
  const urls = serverUrls ?? [...admins.keys()];
  const all = urls.flatMap((url) => admins.get(url) ?? []);
  for (const url of urls) admins.delete(url);
  await Promise.all(all.map(async (a) => (await a).end().catch(() => undefined)));
}
