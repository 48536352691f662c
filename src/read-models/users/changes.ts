import { Prisma } from '../../generated/prisma/client.js';
import type { SqlClient } from '../../sql/client.js';
import type { Change, ChangeKey } from '../change-key.js';
import { changesAfter, lastChangeKey } from '../changes.js';
import { USER_VIEW, USER_VIEW_CHANGE, type UserView } from './tables.js';

/** User-view changes after `after`, in key order; of one user when given. */
export function userChangesAfter(db: SqlClient, after: ChangeKey, limit: number, userId?: string): Promise<Array<Change<UserView>>> {
  return changesAfter(db, USER_VIEW_CHANGE, 'userId', USER_VIEW, after, limit, [
    userId != null ? Prisma.sql`user_id = ${userId}::uuid` : null,
  ]);
}

/** The newest key of the user change history (where a live feed starts). */
export const lastUserChangeKey = (db: SqlClient) => lastChangeKey(db, USER_VIEW_CHANGE, 'userId');
