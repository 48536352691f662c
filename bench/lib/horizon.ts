import pg from 'pg';
import { sleep } from './processes.js';

export interface HorizonReport {
  readonly samples: number;
  /** Share of samples in which the oldest running write transaction on the server belonged to another database. */
  readonly foreignShare: number;
  /** Age of the oldest foreign write transaction seen (ms). */
  readonly foreignMaxMs: number;
  /** Databases that held it, most samples first. */
  readonly foreignDatabases: string[];
}

/**
 * Watches what holds the event log's read horizon back. Projectors read only
 * events of transactions older than the oldest transaction still running
 * (`pg_snapshot_xmin`) — and transaction ids are server-wide, so a write
 * transaction in ANY database of the PostgreSQL server (another test suite,
 * a CREATE DATABASE) delays every projection. Samples `pg_stat_activity` every
 * 100 ms (more often, the sampler itself loads the machine it measures) and reports how often the oldest running write transaction was not
 * one of the bench's own databases.
 */
export class HorizonWatch {
  private readonly client: pg.Client;
  private running = false;
  private loop: Promise<void> | undefined;
  private samples = 0;
  private foreign = 0;
  private foreignMaxMs = 0;
  private readonly byDatabase = new Map<string, number>();

  constructor(
    serverUrl: string,
    private readonly ownPrefix: string,
  ) {
    this.client = new pg.Client({ connectionString: serverUrl });
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const { rows } = await this.client.query<{ datname: string | null; ms: number }>(
          `SELECT datname, extract(epoch FROM clock_timestamp() - xact_start) * 1000 AS ms
           FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY xact_start LIMIT 1`,
        );
        this.samples++;
        const oldest = rows[0];
        if (oldest && !(oldest.datname ?? '').startsWith(this.ownPrefix)) {
          this.foreign++;
          this.foreignMaxMs = Math.max(this.foreignMaxMs, Number(oldest.ms));
          const name = oldest.datname ?? '(none)';
          this.byDatabase.set(name, (this.byDatabase.get(name) ?? 0) + 1);
        }
        await sleep(100);
      }
    })().catch(() => undefined);
  }

  /** The report since the last reset, and a fresh start. */
  take(): HorizonReport {
    const report = {
      samples: this.samples,
      foreignShare: this.samples ? this.foreign / this.samples : 0,
      foreignMaxMs: this.foreignMaxMs,
      foreignDatabases: [...this.byDatabase].sort((a, b) => b[1] - a[1]).map(([name]) => name.replace(/_[0-9a-f]{6,}.*$/, '_…')).slice(0, 5),
    };
    this.samples = this.foreign = this.foreignMaxMs = 0;
    this.byDatabase.clear();
    return report;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.client.end();
  }
}
