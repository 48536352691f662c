import pg from 'pg';
import { migrateDeploy } from '../../src/infrastructure/db/migrate.js';

/** The local PostgreSQL server (trust auth). */
export const PG_SERVER_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export function urlFor(database: string): string {
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_SERVER_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The bench's databases: one migrated template, copied for each use (the API
 * under test, the raw baseline, the rebuild). All are dropped by `dropAll`.
 */
export class BenchDatabases {
  private readonly created: string[] = [];
  readonly prefix = `orders_bench_${process.pid}`;
  private template: string | undefined;

  async createTemplate(): Promise<void> {
    const name = `${this.prefix}_template`;
    await admin((c) => c.query(`CREATE DATABASE "${name}"`));
    this.created.push(name);
    await migrateDeploy({ databaseUrl: urlFor(name) });
    this.template = name;
  }

  /** A fresh migrated database; returns its URL. */
  async create(suffix: string): Promise<string> {
    if (!this.template) throw new Error('createTemplate first');
    const name = `${this.prefix}_${suffix}`;
    await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${this.template}"`));
    this.created.push(name);
    return urlFor(name);
  }

  /** A fresh EMPTY database (no migrations: for a peer with its own schema); returns its URL. Dropped by `dropAll` too. */
  async createEmpty(suffix: string): Promise<string> {
    const name = `${this.prefix}_${suffix}`;
    await admin((c) => c.query(`CREATE DATABASE "${name}"`));
    this.created.push(name);
    return urlFor(name);
  }

  async dropAll(): Promise<void> {
    await admin(async (c) => {
      for (const name of this.created.reverse()) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    });
    this.created.length = 0;
  }
}
