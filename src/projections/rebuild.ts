import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { Projection } from './projection.js';

/**
 * Empties a projection's tables and forgets its checkpoint, in one
 * transaction, so its projector replays the whole log from zero. Stop the
 * projection's projector first; the service serves empty views meanwhile.
 */
export async function resetProjection(db: PrismaClient, projection: Projection): Promise<void> {
  const tables = projection.tables.map((t) => `"${t}"`).join(', ');
  await db.$transaction([
    db.$executeRaw`TRUNCATE ${Prisma.raw(tables)}`,
    db.$executeRaw`DELETE FROM projection_checkpoint WHERE name = ${projection.name}`,
  ]);
}
