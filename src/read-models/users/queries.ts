import type { SqlClient } from '../../sql/client.js';
import { idArray } from '../../sql/fragments.js';
import { countRows, keysetPage, type KeysetPage, type KeysetWindow } from '../keyset.js';
import { pageIdsOf } from '../page.js';
import { USER_VIEW, type UserView } from './tables.js';

const COLUMNS = USER_VIEW.selectList();

export async function usersByIds(db: SqlClient, ids: readonly string[]): Promise<UserView[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRaw<Array<Record<string, unknown>>>`SELECT ${COLUMNS} FROM user_view WHERE id = ANY(${idArray(ids)})`;
  return rows.map((row) => USER_VIEW.fromRow(row));
}

/** The ids of a page, newest first, and the total (entities: by id, through the cache). */
export const listUserIds = (db: SqlClient, page: number, pageSize: number) => pageIdsOf(db, USER_VIEW, page, pageSize);

/** A window of users, newest first (keyset on `(created_at, id)`). */
export const usersWindow = (db: SqlClient, window: KeysetWindow): Promise<KeysetPage<UserView>> => keysetPage(db, USER_VIEW, [], window);

export const countUsers = (db: SqlClient) => countRows(db, USER_VIEW, []);
