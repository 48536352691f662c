/**
 * "The read models equal a replay of the event log from zero", as a helper.
 *
 * The replay runs in a database of its own, so the live server is never
 * stopped or touched: the live event log is copied verbatim (same transaction
 * ids, positions and event ids) into a fresh migrated database, where the real
 * projections (`PROJECTIONS`) rebuild every read-model table from empty, in
 * batches of a chosen size. Both sides are then read table by table.
 *
 *   const replay = await ReplayDatabase.create();
 *   await waitUntilCaughtUp(server);
 *   const live = await readModelSnapshot(server.app.db.prisma);
 *   const rebuilt = await replay.replayFrom(server.app.db.prisma, { batchSize: 7 });
 *   expectSameReadModels(rebuilt, live);
 *
 * PostgreSQL server only: the copied events keep their transaction ids, which
 * lie below the replay database's read horizon because both databases live on
 * the same server (transaction ids are server-wide).
 */
import { expect, vi } from 'vitest';
import { PROJECTIONS } from '../../src/app.js';
import { EventLogReader } from '../../src/eventlog/reader.js';
import type { PrismaClient } from '../../src/generated/prisma/client.js';
import { openDatabase, type Database } from '../../src/infrastructure/db/database.js';
import { Projector } from '../../src/projections/projector.js';
import { rebuildInPlace } from '../../src/projections/rebuild.js';
import { createTestDatabase, type TestDatabase } from './databases.js';
import type { TestServer } from './server.js';

/** Every read-model table's rows (as `to_jsonb(row)::text`, sorted), plus the projections' checkpoints. */
export type ReadModelSnapshot = Record<string, string[]>;

/** The tables the projections own: what a rebuild empties and refills. */
export const READ_MODEL_TABLES: readonly string[] = PROJECTIONS.flatMap((p) => p.tables);

/**
 * Reads every read-model table whole. Rows are compared as PostgreSQL's own
 * JSON text of the row, so numerics stay exact and every column counts.
 * Checkpoints are included without their wall-clock `updated_at`.
 */
export async function readModelSnapshot(db: PrismaClient): Promise<ReadModelSnapshot> {
  const snapshot: ReadModelSnapshot = {};
  for (const table of READ_MODEL_TABLES) {
    const rows = await db.$queryRawUnsafe<Array<{ row: string }>>(
      `SELECT to_jsonb(t)::text AS row FROM "${table}" t ORDER BY 1`,
    );
    snapshot[table] = rows.map((r) => r.row);
  }
  const checkpoints = await db.$queryRaw<Array<{ row: string }>>`
    SELECT name || ' ' || last_tx::text || ':' || last_pos::text AS row
    FROM projection_checkpoint WHERE name = ANY(${PROJECTIONS.map((p) => p.name)}) ORDER BY name`;
  snapshot.projection_checkpoint = checkpoints.map((r) => r.row);
  return snapshot;
}

/**
 * Table by table, what differs: one line per table, naming it and showing
 * only the rows that differ. Empty when both are the same.
 */
export function readModelDifferences(rebuilt: ReadModelSnapshot, live: ReadModelSnapshot): string[] {
  const differences: string[] = [];
  const tables = [...new Set([...Object.keys(rebuilt), ...Object.keys(live)])].sort();
  for (const table of tables) {
    const [replayed, served] = [rebuilt[table], live[table]];
    if (!replayed || !served) {
      differences.push(`${table} is ${replayed ? 'not read live' : 'not in the replay'}`);
      continue;
    }
    if (replayed.length === served.length && replayed.every((row, i) => row === served[i])) continue;
    const onlyReplayed = replayed.filter((row) => !served.includes(row));
    const onlyLive = served.filter((row) => !replayed.includes(row));
    differences.push(
      `${table} differs from its replay from zero (${replayed.length} rows rebuilt, ${served.length} live):\n` +
        `  only in the replay: ${onlyReplayed.join('\n                     ') || '(none)'}\n` +
        `  only live:          ${onlyLive.join('\n                     ') || '(none)'}`,
    );
  }
  return differences;
}

/** Fails with what `readModelDifferences` finds (the message survives wrappers such as fast-check's report). */
export function expectSameReadModels(rebuilt: ReadModelSnapshot, live: ReadModelSnapshot): void {
  const differences = readModelDifferences(rebuilt, live);
  if (differences.length > 0) expect.fail(differences.join('\n'));
}

/** The cursor ("tx:pos") of the newest event in the log, committed or not yet readable; null when empty. */
export async function logHead(db: PrismaClient): Promise<string | null> {
  const [row] = await db.$queryRaw<Array<{ cursor: string }>>`
    SELECT tx_id::text || ':' || position::text AS cursor FROM event_log ORDER BY tx_id DESC, position DESC LIMIT 1`;
  return row?.cursor ?? null;
}

/**
 * Waits until every projection, as the API reports it (`projections`), has
 * applied the newest event in the log. Bounded: other transactions on the
 * server may hold the read horizon back for a moment, never for long.
 */
export async function waitUntilCaughtUp(server: TestServer, timeoutMs = 20_000): Promise<void> {
  const head = await logHead(server.app.db.prisma);
  if (head === null) return;
  const deadline = Date.now() + timeoutMs;
  let positions: Array<{ name: string; position: string }> = [];
  while (Date.now() < deadline) {
    const data = await server.ok(`{ projections { name position } }`);
    positions = data.projections;
    if (positions.length === PROJECTIONS.length && positions.every((p) => p.position === head)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  expect.fail(`projections had not reached the log head ${head} after ${timeoutMs} ms: ${JSON.stringify(positions)}`);
}

/** A scratch database that rebuilds read models from another database's event log. */
export class ReplayDatabase {
  private constructor(
    private readonly database: TestDatabase,
    private readonly db: Database,
  ) {}

  /**
   * On a fresh database of the shared server, or of `open`'s making: it must
   * live on the same server as the databases it replays (see above).
   */
  static async create(open: () => Promise<TestDatabase> = () => createTestDatabase('postgres')): Promise<ReplayDatabase> {
    const database = await open();
    const db = await openDatabase({ databaseUrl: database.databaseUrl, poolSize: PROJECTIONS.length + 1 });
    return new ReplayDatabase(database, db);
  }

  /** The replay database's SQL port (`pg`), as the rebuild command uses it. */
  get sql(): Database['sql'] {
    return this.db.sql;
  }

  /**
   * Empties the replay database (read models, checkpoints, log) and copies
   * `source`'s whole event log into it verbatim; returns how many events.
   */
  async copyLog(source: PrismaClient): Promise<number> {
    const target = this.db.prisma;
    const tables = [...READ_MODEL_TABLES, 'projection_checkpoint', 'projection_dead_letter', 'event_log'].map((t) => `"${t}"`).join(', ');
    await target.$executeRawUnsafe(`TRUNCATE ${tables}`);
    const [log] = await source.$queryRaw<Array<{ events: string; count: number }>>`
      SELECT coalesce(jsonb_agg(e ORDER BY e.tx_id, e.position), '[]')::text AS events, count(*)::int AS count
      FROM event_log e`;
    const { events, count } = log!;
    await target.$executeRaw`
      INSERT INTO event_log SELECT * FROM jsonb_populate_recordset(NULL::event_log, ${events}::jsonb)`;
    return count;
  }

  /**
   * Copies `source`'s event log, runs every projection from zero in batches
   * of `batchSize` — as a server catches up (one projector per projection,
   * each reading the log) — and returns the rebuilt read models. Fails if a
   * projection did not read every copied event.
   */
  async replayFrom(source: PrismaClient, { batchSize }: { batchSize: number }): Promise<ReadModelSnapshot> {
    const count = await this.copyLog(source);
    const target = this.db.prisma;
    // Projections own disjoint tables and checkpoints: they replay side by side.
    const reader = new EventLogReader(target);
    const replayed = await Promise.all(
      PROJECTIONS.map((projection) => new Projector(target, reader, projection, { batchSize }).catchUp()),
    );
    expect(replayed, 'events each projection replayed').toEqual(PROJECTIONS.map(() => count));
    return readModelSnapshot(target);
  }

  /**
   * Copies `source`'s event log and rebuilds every projection as the rebuild
   * command does (`rebuildInPlace`: one read of the log for all of them);
   * returns the rebuilt read models and how many reads of the log it took.
   */
  async rebuildFrom(source: PrismaClient, { batchSize }: { batchSize: number }): Promise<{ readModels: ReadModelSnapshot; events: number; logReads: number }> {
    const events = await this.copyLog(source);
    const reader = new EventLogReader(this.db.sql);
    const reads = vi.spyOn(reader, 'readAfter');
    const replayed = await rebuildInPlace(this.db.sql, reader, PROJECTIONS, { batchSize });
    expect(replayed, 'events the rebuild replayed').toBe(events);
    return { readModels: await readModelSnapshot(this.db.prisma), events, logReads: reads.mock.calls.length };
  }

  async dispose(): Promise<void> {
    await this.db.close();
    await this.database.dispose();
  }
}
