/**
 * Opening PGlite (embedded, single-process PostgreSQL compiled to WASM).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PGlite, type QueryOptions, type Transaction } from '@electric-sql/pglite';
import { relabelCatalogTypes } from './catalog-types-pool.js';

/** Where PGlite keeps its data when neither `DATABASE_URL` nor `PGLITE_DIR` is set. */
export const DEFAULT_PGLITE_DIR = './data/pglite';

/**
 * Opens (creating if needed) the PGlite database in directory `dir`, resolved
 * against the current working directory; its parent directory is created too.
 * Pass `'memory://'` for a throw-away in-memory database.
 *
 * A PGlite data directory must only be opened by one instance at a time, and
 * the instance must be `close()`d: otherwise the process does not exit, and
 * the directory needs crash recovery on its next open.
 */
export async function openPGlite(dir: string): Promise<PGlite> {
  if (dir.startsWith('memory://')) return PGlite.create(dir);
  const dataDir = resolve(dir);
  mkdirSync(dirname(dataDir), { recursive: true });
  return PGlite.create(dataDir);
}

/**
 * A view of `pglite` for `pglite-prisma-adapter` whose query results report
 * PostgreSQL's catalog types as `text`, like {@link CatalogTypesPool} does on
 * PostgreSQL: the adapter rejects columns of types such as `regclass` or
 * `oidvector` ("Failed to deserialize column of type ..."), while their values
 * already arrive as strings. Everything else is the instance itself.
 */
export function withCatalogTypesAsText(pglite: PGlite): PGlite {
  const relabelling = <T extends object>(target: T, wrap: (name: PropertyKey, value: unknown) => unknown): T =>
    new Proxy(target, {
      get(obj, name) {
        // Read with the real object as receiver: PGlite uses private fields.
        const value: unknown = Reflect.get(obj, name, obj);
        const wrapped = wrap(name, value);
        if (wrapped !== undefined) return wrapped;
        return typeof value === 'function' ? value.bind(obj) : value;
      },
    });

  const relabelledQuery =
    (query: PGlite['query']): PGlite['query'] =>
    async <T>(sql: string, params?: unknown[], options?: QueryOptions) => {
      const result = await query<T>(sql, params, options);
      relabelCatalogTypes(result);
      return result;
    };

  const relabelTx = (tx: Transaction): Transaction =>
    relabelling(tx, (name, value) =>
      name === 'query' ? relabelledQuery((value as Transaction['query']).bind(tx) as PGlite['query']) : undefined,
    );

  return relabelling(pglite, (name, value) => {
    if (name === 'query') return relabelledQuery((value as PGlite['query']).bind(pglite));
    if (name === 'transaction') {
      const transaction = (value as PGlite['transaction']).bind(pglite);
      return <T>(callback: (tx: Transaction) => Promise<T>) => transaction((tx) => callback(relabelTx(tx)));
    }
    return undefined;
  });
}
