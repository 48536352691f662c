import { Prisma } from '../generated/prisma/client.js';

/**
 * Statements that read one shared source: `name AS (select)` comes once
 * before them in the WITH list of `oneStatement`, so its rows are sent once.
 */
export interface SharedSource {
  readonly name: string;
  readonly select: Prisma.Sql;
  readonly statements: readonly Prisma.Sql[];
}

/** One write of a batch: a statement, statements sharing a source, or nothing (null). */
export type Write = Prisma.Sql | SharedSource | null;

/**
 * A batch's writes as ONE statement — all but the last as data-modifying
 * CTEs (`WITH w0 AS (…), w1 AS (…) <last>`), after the shared sources they
 * read — so they cost one round trip together; null when there are none.
 * PostgreSQL runs every part exactly once, all on the database as it was
 * before the statement: no part may depend on another's effect, and no two
 * may change the same row. The statement's row count is the last part's.
 */
export function oneStatement(writes: readonly Write[]): Prisma.Sql | null {
  const sources: Prisma.Sql[] = [];
  const parts: Prisma.Sql[] = [];
  for (const write of writes) {
    if (write === null) continue;
    if (!('statements' in write)) {
      parts.push(write);
      continue;
    }
    sources.push(Prisma.sql`${Prisma.raw(write.name)} AS (${write.select})`);
    parts.push(...write.statements);
  }
  const last = parts.pop();
  if (last === undefined) return null;
  const ctes = [...sources, ...parts.map((part, i) => Prisma.sql`${Prisma.raw(`w${i}`)} AS (${part})`)];
  return ctes.length === 0 ? last : Prisma.sql`WITH ${Prisma.join(ctes, ', ')} ${last}`;
}
