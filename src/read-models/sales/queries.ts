import { Prisma } from '../../generated/prisma/client.js';
import type { SqlClient } from '../../sql/client.js';
import { SALES_DAY, type SalesDay } from './tables.js';

const COLUMNS = SALES_DAY.selectList();

/** `dates` (`YYYY-MM-DD`) as a date[] parameter. */
const dateArray = (dates: readonly string[]) => Prisma.sql`string_to_array(${dates.join(',')}, ',')::date[]`;

export async function daysByDate(db: SqlClient, dates: readonly string[]): Promise<SalesDay[]> {
  if (dates.length === 0) return [];
  const rows = await db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT ${COLUMNS} FROM sales_day WHERE day = ANY(${dateArray(dates)})`;
  return rows.map((row) => SALES_DAY.fromRow(row));
}

/** The days from `from` to `to` (inclusive, `YYYY-MM-DD`) with at least one order, ascending. */
export async function salesDays(db: SqlClient, from: string, to: string): Promise<SalesDay[]> {
  const rows = await db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT ${COLUMNS} FROM sales_day WHERE day BETWEEN ${from}::date AND ${to}::date ORDER BY sales_day.day`;
  return rows.map((row) => SALES_DAY.fromRow(row));
}
