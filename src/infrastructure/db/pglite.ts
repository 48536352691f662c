/**
 * Opening PGlite (embedded, single-process PostgreSQL compiled to WASM).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/** Where PGlite keeps its data when neither `DATABASE_URL` nor `PGLITE_DIR` is set. */
export const DEFAULT_PGLITE_DIR = './data/pglite';

/**
 * Opens (creating if needed) the PGlite database in directory `dir`, resolved
 * against the current working directory; its parent directory is created too.
 * Pass `'memory://'` for a throw-away in-memory database.
 *
 * A PGlite data directory must only be opened by one instance at a time, and
 * the instance must be `close()`d, or the process does not exit.
 */
export async function openPGlite(dir: string): Promise<PGlite> {
  if (dir.startsWith('memory://')) return PGlite.create(dir);
  const dataDir = resolve(dir);
  mkdirSync(dirname(dataDir), { recursive: true });
  return PGlite.create(dataDir);
}
