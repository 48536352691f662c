/**
 * A `pg.Pool` whose query results report PostgreSQL's internal catalog types
 * as plain `text`.
 *
 * Why this exists: `@prisma/adapter-pg` maps every result column's type OID
 * to a Prisma column type and throws `UnsupportedNativeDataType` ("Column type
 * 'name' could not be deserialized", prisma/orm#27403) for OIDs it does not
 * know. Prisma Migrate's JS schema engine introspects `pg_catalog` and reads
 * columns of types `name`, `"char"`, `regclass`, `pg_node_tree`, ... so with
 * the stock adapter `migrate dev` / `migrate diff` fail. The values of those
 * types are already delivered as strings by node-postgres (it has no parser
 * for them), so relabelling the column's OID as `text` (25) after the fact is
 * all that is needed. The same pool is used at runtime so that a raw query
 * touching the catalog (e.g. `SELECT relname FROM pg_class`) never chokes.
 *
 * Only the OIDs below are relabelled; everything else (including `xid8`,
 * which Prisma also does not support — cast it in SQL, e.g. `tx_id::text`)
 * is reported unchanged.
 */
import pg from 'pg';

/** Catalog type OIDs reported as `text` by {@link CatalogTypesPool}. */
export const CATALOG_TYPE_OIDS: ReadonlySet<number> = new Set([
  18, // "char"        (pg_class.relkind, pg_constraint.contype, ...)
  19, // name          (every identifier column in pg_catalog)
  22, // int2vector    (pg_index.indkey, ...)
  24, // regproc
  30, // oidvector     (pg_index.indclass, ...)
  194, // pg_node_tree (pg_attrdef.adbin, ...)
  1033, // aclitem
  2205, // regclass
]);

const TEXT_OID = 25;

/**
 * Relabels, in place, the catalog-typed columns of query results (anything
 * with `fields: { dataTypeID }[]`, from node-postgres or PGlite) as `text`.
 */
export function relabelCatalogTypes<T extends { fields?: Array<{ dataTypeID: number }> }>(
  result: T | T[] | undefined,
): T | T[] | undefined {
  if (result === undefined || result === null) return result;
  // A multi-statement simple query yields one Result per statement.
  for (const r of Array.isArray(result) ? result : [result]) {
    for (const field of r.fields ?? []) {
      if (CATALOG_TYPE_OIDS.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
    }
  }
  return result;
}

type AnyResult = pg.QueryResult | pg.QueryResult[];
const relabel = (result: AnyResult) => relabelCatalogTypes(result) as AnyResult;

type QueryCallback = (err: Error | undefined, res?: AnyResult) => void;

/**
 * `pg.Client` that relabels catalog type OIDs in every result. Used by
 * {@link CatalogTypesPool} for both `pool.query()` and `pool.connect()`
 * clients (Prisma runs transactions on the latter).
 */
export class CatalogTypesClient extends pg.Client {
  // `pg.Client#query` has many overloads; we accept them all and forward.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(config: any, values?: any, callback?: any): any {
    // Submittables (cursors, streams) manage their own results: pass through.
    if (config != null && typeof config.submit === 'function') {
      return super.query(config, values, callback);
    }
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    if (typeof callback === 'function') {
      const cb = callback as QueryCallback;
      return super.query(config, values, (err: Error | undefined, res: AnyResult) =>
        cb(err, err ? res : relabel(res)),
      );
    }
    return (super.query(config, values) as Promise<AnyResult>).then(relabel);
  }
}

/**
 * Drop-in replacement for `pg.Pool` (same constructor options) whose clients
 * are {@link CatalogTypesClient}s. As with any `pg.Pool`, attach an `error`
 * listener: an idle client losing its connection otherwise crashes the process.
 */
export class CatalogTypesPool extends pg.Pool {
  constructor(config: pg.PoolConfig = {}) {
    super({ ...config, Client: CatalogTypesClient } as pg.PoolConfig);
  }
}
