import { Prisma } from '../generated/prisma/client.js';

/**
 * SQL fragments that several modules compose, each named once. Table and
 * column names come from code, never from input; values are always
 * parameters.
 */

/**
 * `$ids` as a uuid[] parameter: one text parameter split in SQL, which both
 * drivers (PostgreSQL and PGlite) bind the same way.
 */
export function idArray(ids: readonly string[]): Prisma.Sql {
  return Prisma.sql`string_to_array(${ids.join(',')}, ',')::uuid[]`;
}

/** A quoted identifier (`"name"`, or `"schema"."name"`) from code. */
export function ident(...parts: string[]): Prisma.Sql {
  return Prisma.raw(parts.map((p) => `"${p}"`).join('.'));
}

/** `WHERE a AND b …`, or nothing when there are no conditions. */
export function whereAll(conditions: ReadonlyArray<Prisma.Sql | null | undefined>): Prisma.Sql {
  const present = conditions.filter((c): c is Prisma.Sql => c != null);
  return present.length ? Prisma.sql`WHERE ${Prisma.join(present, ' AND ')}` : Prisma.empty;
}
