import type { PrismaClient, UserView as UserViewRow } from '../../generated/prisma/client.js';
import type { ReadModelTx } from '../projection.js';
import type { UserView } from './view.js';

export function toUserView(row: UserViewRow): UserView {
  return { ...row, totalSpent: row.totalSpent.toFixed(2) };
}

export async function usersByIds(db: PrismaClient | ReadModelTx, ids: readonly string[]): Promise<UserView[]> {
  if (ids.length === 0) return [];
  const rows = await db.userView.findMany({ where: { id: { in: [...ids] } } });
  return rows.map(toUserView);
}

/** A page of users, newest first. */
export async function listUsers(db: PrismaClient, page: number, pageSize: number) {
  const [rows, total] = await Promise.all([
    db.userView.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], skip: (page - 1) * pageSize, take: pageSize }),
    db.userView.count(),
  ]);
  return { items: rows.map(toUserView), total };
}
