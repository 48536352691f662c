import type { Cursor } from '../../eventlog/cursor.js';
import type { SqlClient } from '../../sql/client.js';
import { cachedView, latestPerId } from '../cache/cached-view.js';
import { usersByIds } from './queries.js';
import { USER_VIEW, USER_VIEW_CHANGE } from './tables.js';

/** Ids of the users whose view changed after `after`, from the change history (every state is recorded there). */
async function changedUsers(db: SqlClient, after: Cursor) {
  const rows = await db.$queryRaw<Array<{ id: string; tx: string; pos: string }>>`
    SELECT c.user_id::text AS id, c.tx::text, c.pos::text FROM ${USER_VIEW_CHANGE.ref()} c
    WHERE (c.tx, c.pos) > (${after.tx}::bigint, ${after.pos}::bigint)`;
  return latestPerId(rows);
}

/** User profiles by id, cached (src/read-models/cache). */
export const USER_VIEWS = cachedView(USER_VIEW, { projection: 'users', byIds: usersByIds, changedAfter: changedUsers });
