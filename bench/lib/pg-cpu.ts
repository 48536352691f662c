import pg from 'pg';
import { PG_SERVER_URL } from './db.js';
import { cpuMs } from './processes.js';

let admin: pg.Client | undefined;

/** CPU time (ms, from /proc) of each PostgreSQL backend connected to `database` right now. */
export async function backendCpu(database: string): Promise<Map<number, number>> {
  if (!admin) {
    admin = new pg.Client({ connectionString: PG_SERVER_URL });
    await admin.connect();
  }
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
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
 * CPU the database's backends used between two samples: backends in both by
 * their difference, new ones from zero. Pool connections normally live through
 * a run; one that closed in between is missed, so this is a floor.
 */
export function backendCpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

export async function closePgCpu(): Promise<void> {
  await admin?.end().catch(() => undefined);
  admin = undefined;
}
