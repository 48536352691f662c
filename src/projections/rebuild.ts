import { DEFAULTS } from '../config.js';
import { Prisma } from '../generated/prisma/client.js';
import type { EventLogReader } from '../eventlog/reader.js';
import type { SqlClient, SqlDatabase } from '../sql/client.js';
import type { Projection } from './projection.js';
import { Projector } from './projector.js';

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

/** Rebuilds in place: reset, then replay the whole log. Only while no projector runs it. */
export async function rebuildInPlace(
  db: SqlDatabase,
  reader: EventLogReader,
  projection: Projection,
  options: { batchSize?: number; onProgress?: (applied: number) => void } = {},
): Promise<number> {
  await resetProjection(db, projection);
  return replay(db, reader, projection, options);
}

async function replay(
  db: SqlDatabase,
  reader: EventLogReader,
  projection: Projection,
  options: { batchSize?: number; onProgress?: (applied: number) => void },
): Promise<number> {
  let total = 0;
  const projector = new Projector(db, reader, projection, {
    batchSize: options.batchSize ?? DEFAULTS.REBUILD_BATCH_SIZE,
    onProgress: (_name, _cursor, applied) => {
      total += applied;
      if (applied) options.onProgress?.(total);
    },
  });
  await projector.catchUp();
  return total;
}

/**
 * The projection's SQL, run against the tables of `schema`: every statement
 * in a transaction that puts `schema` first on the search path. The event
 * log (not in `schema`) still resolves to the live one.
 */
function inSchema(db: SqlDatabase, schema: string): SqlDatabase {
  const path = Prisma.raw(`SET LOCAL search_path TO "${schema}", public`);
  const scoped = <T>(fn: (tx: SqlClient) => Promise<T>) =>
    db.$transaction(async (tx) => {
      await tx.$executeRaw(path);
      return fn(tx);
    });
  return {
    $queryRaw: <T>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => scoped((tx) => tx.$queryRaw<T>(query, ...values)),
    $executeRaw: (query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => scoped((tx) => tx.$executeRaw(query, ...values)),
    $transaction: scoped,
  };
}

export interface BlueGreenOptions {
  readonly batchSize?: number;
  readonly onProgress?: (applied: number) => void;
}

/**
 * Rebuilds a projection while the service keeps serving the old tables:
 *
 * 1. green: empty copies of its tables (and of the checkpoint and dead-letter
 *    tables) in a schema of their own, `rebuild_<name>`;
 * 2. replays the whole event log into them, and catches up again until
 *    close to the head;
 * 3. swaps, in ONE transaction: holding off the live projector's writes
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
  projection: Projection,
  options: BlueGreenOptions = {},
): Promise<number> {
  const schema = `rebuild_${projection.name}`;
  const tables = [...projection.tables, ...SHARED];
  await db.$executeRaw(Prisma.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  await db.$executeRaw(Prisma.raw(`CREATE SCHEMA "${schema}"`));
  try {
    for (const table of tables) {
      await db.$executeRaw(Prisma.raw(`CREATE TABLE "${schema}"."${table}" (LIKE public."${table}" INCLUDING ALL)`));
    }
    const green = inSchema(db, schema);
    let total = await replay(green, reader, projection, options);
    // Again, for what arrived meanwhile: the swap then has little left for the live projector.
    total += await replay(green, reader, projection, options);

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
    return total;
  } finally {
    await db.$executeRaw(Prisma.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).catch(() => undefined);
  }
}
