import { DEFAULTS } from '../config.js';
import { Prisma } from '../generated/prisma/client.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { SqlClient, SqlDatabase } from '../sql/client.js';
import type { Projection } from './projection.js';
import { Projector } from './projector.js';
import { replayTogether } from './replay.js';

/** Tables every projection shares, keyed by projection name. */
const SHARED = ['projection_checkpoint', 'projection_dead_letter'] as const;

/**
 * Empties a projection's tables, its dead letters and its checkpoint, in one
 * transaction, so its projector replays the whole log from zero. Stop the
 * projection's projector first; readers see empty views meanwhile (use
 * `rebuildBlueGreen` while serving).
 */
export async function resetProjection(db: SqlDatabase, projection: Projection): Promise<void> {
  const tables = projection.tables.map((t) => `"${t}"`).join(', ');
  await db.$transaction(async (tx) => {
    await tx.$executeRaw(Prisma.raw(`TRUNCATE ${tables}`));
    await tx.$executeRaw`DELETE FROM projection_dead_letter WHERE projection = ${projection.name}`;
    await tx.$executeRaw`DELETE FROM projection_checkpoint WHERE name = ${projection.name}`;
  });
}

export interface RebuildOptions {
  /** Events per batch (default DEFAULTS.REBUILD_BATCH_SIZE). */
  readonly batchSize?: number;
  /** After each batch: how many events of the log have been replayed so far. Must not throw. */
  readonly onProgress?: (replayed: number) => void;
}

/**
 * Rebuilds projections in place: resets them, then replays the whole log
 * into all of them together, reading it once (`replayTogether`). Only while
 * no projector runs them. Returns the number of events replayed (each
 * projection saw every one).
 */
export async function rebuildInPlace(
  db: SqlDatabase,
  reader: EventLogReader,
  projections: readonly Projection[],
  options: RebuildOptions = {},
): Promise<number> {
  for (const projection of projections) await resetProjection(db, projection);
  const replaying = forReplay(db);
  return replay(reader, projections.map((p) => [replaying, p]), options);
}

function replay(reader: EventLogReader, targets: ReadonlyArray<readonly [SqlDatabase, Projection]>, options: RebuildOptions): Promise<number> {
  const batchSize = options.batchSize ?? DEFAULTS.REBUILD_BATCH_SIZE;
  const projectors = targets.map(([db, projection]) => new Projector(db, reader, projection, { batchSize }));
  return replayTogether(reader, projectors, { batchSize, onProgress: options.onProgress });
}

/**
 * The projections' SQL during a replay. Each transaction first sets, for
 * itself only, `synchronous_commit = off`: a replayed batch need not wait for
 * its commit to reach the disk — a crash of the database can lose the last
 * batches, but each with its checkpoint (never one without the other), and
 * they are replayed again from there. With `schema` (a blue/green rebuild),
 * every statement runs in a transaction that puts `schema` first on the
 * search path too; the event log (not in `schema`) still resolves to the
 * live one. Without it, a statement outside a transaction runs as it is.
 */
function forReplay(db: SqlDatabase, schema?: string): SqlDatabase {
  const settings = schema
    ? Prisma.sql`SELECT set_config('synchronous_commit', 'off', true), set_config('search_path', ${`"${schema}", public`}, true)`
    : Prisma.sql`SELECT set_config('synchronous_commit', 'off', true)`;
  const scoped = <T>(fn: (tx: SqlClient) => Promise<T>) =>
    db.$transaction(async (tx) => {
      await tx.$queryRaw(settings);
      return fn(tx);
    });
  if (!schema) return { $queryRaw: db.$queryRaw.bind(db), $executeRaw: db.$executeRaw.bind(db), $transaction: scoped };
  return {
    $queryRaw: <T>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => scoped((tx) => tx.$queryRaw<T>(query, ...values)),
    $executeRaw: (query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => scoped((tx) => tx.$executeRaw(query, ...values)),
    $transaction: scoped,
  };
}

/**
 * Rebuilds projections while the service keeps serving their old tables:
 *
 * 1. green: for each, empty copies of its tables (and of the checkpoint and
 *    dead-letter tables) in a schema of its own, `rebuild_<name>`;
 * 2. replays the whole event log into them, all together from one read of
 *    it, and catches up again until close to the head;
 * 3. swaps each, in ONE transaction per projection: holding off the live projector's writes
 *    (readers go on reading the old rows, MVCC), replaces the live rows with
 *    the rebuilt ones, and moves the checkpoint (and dead letters) to the
 *    rebuilt ones'. Readers see the old views until that commits, the new
 *    ones after — never a mix, never empty.
 *
 * The live projector's next batch then finds its checkpoint moved, rolls
 * back, and continues from the rebuilt checkpoint on the new rows.
 * Returns the number of events replayed.
 */
export async function rebuildBlueGreen(
  db: SqlDatabase,
  reader: EventLogReader,
  projections: readonly Projection[],
  options: RebuildOptions = {},
): Promise<number> {
  const schemaOf = (projection: Projection) => `rebuild_${projection.name}`;
  const dropGreen = (projection: Projection) => db.$executeRaw(Prisma.raw(`DROP SCHEMA IF EXISTS "${schemaOf(projection)}" CASCADE`));
  try {
    for (const projection of projections) {
      const schema = schemaOf(projection);
      await dropGreen(projection);
      await db.$executeRaw(Prisma.raw(`CREATE SCHEMA "${schema}"`));
      for (const table of [...projection.tables, ...SHARED]) {
        await db.$executeRaw(Prisma.raw(`CREATE TABLE "${schema}"."${table}" (LIKE public."${table}" INCLUDING ALL)`));
      }
    }
    const greens = projections.map((p) => [forReplay(db, schemaOf(p)), p] as const);
    let total = await replay(reader, greens, options);
    // Again, for what arrived meanwhile: the swaps then leave little to the live projectors.
    total += await replay(reader, greens, options);
    for (const projection of projections) await swapIn(db, projection, schemaOf(projection));
    return total;
  } finally {
    for (const projection of projections) await dropGreen(projection).catch(() => undefined);
  }
}

/** Step 3 of `rebuildBlueGreen` for one projection: its rebuilt rows and checkpoint replace the live ones. */
async function swapIn(db: SqlDatabase, projection: Projection, schema: string): Promise<void> {
  const live = projection.tables.map((t) => `public."${t}"`).join(', ');
  await db.$transaction(async (tx) => {
    // Blocks writers (the live projector's batch waits), not readers.
    await tx.$executeRaw(Prisma.raw(`LOCK TABLE ${live} IN SHARE ROW EXCLUSIVE MODE`));
    for (const table of projection.tables) {
      await tx.$executeRaw(Prisma.raw(`DELETE FROM public."${table}"`));
      await tx.$executeRaw(Prisma.raw(`INSERT INTO public."${table}" SELECT * FROM "${schema}"."${table}"`));
    }
    await tx.$executeRaw`DELETE FROM public.projection_dead_letter WHERE projection = ${projection.name}`;
    await tx.$executeRaw(
      Prisma.sql`INSERT INTO public.projection_dead_letter SELECT * FROM ${Prisma.raw(`"${schema}".projection_dead_letter`)}`,
    );
    // The rebuilt checkpoint (LOG_START's 0:0 when the log was empty).
    await tx.$executeRaw`
      INSERT INTO public.projection_checkpoint (name, last_tx, last_pos, updated_at)
      SELECT ${projection.name}, coalesce(max(last_tx), 0), coalesce(max(last_pos), 0), now()
      FROM ${Prisma.raw(`"${schema}".projection_checkpoint`)} WHERE name = ${projection.name}
      ON CONFLICT (name) DO UPDATE SET last_tx = EXCLUDED.last_tx, last_pos = EXCLUDED.last_pos, updated_at = now(),
        stalled_error = NULL, stalled_since = NULL`;
  });
}
