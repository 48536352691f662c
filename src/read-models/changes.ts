import { Prisma } from '../generated/prisma/client.js';
import type { StoredEvent, TraceCarrier } from '../eventlog/types.js';
import type { SqlClient } from '../sql/client.js';
import { whereAll } from '../sql/fragments.js';
import type { Table, ViewOf } from '../sql/table.js';
import { cursorOf } from '../eventlog/cursor.js';
import { FIRST_KEY, type Change, type ChangeKey } from './change-key.js';

/**
 * Reading a change-history table: rows `(tx, pos, <id>, …, view,
 * trace_context)`, where `view` is the view's record as its table's
 * `toRecord` (or `recordJson`) made it. Shared by every read model that keeps one.
 */
type HistoryTable = Table<{ tx: any; pos: any; view: any; traceContext: any } & Record<string, any>>;

/**
 * What a change-history row records of the event that caused it besides its
 * cursor: the trace context of its command (from the event's metadata), so a
 * subscription message can be traced back to the mutation, on any instance.
 * Null when the command was not traced.
 */
export function traceOf(event: StoredEvent): TraceCarrier | null {
  const { traceparent, tracestate } = event.metadata;
  if (!traceparent) return null;
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

const NO_ID = '00000000-0000-0000-0000-000000000000';

/**
 * Changes after `after`, in key order, matching every condition. ORDER BY
 * names the table's columns (`c.tx`): the select list names text columns
 * `tx`, and "1000" sorts before "999".
 */
export async function changesAfter<V extends Table<any>>(
  db: SqlClient,
  history: HistoryTable,
  idField: string,
  viewTable: V,
  after: ChangeKey,
  limit: number,
  conditions: ReadonlyArray<Prisma.Sql | null> = [],
): Promise<Array<Change<ViewOf<V['columns']>>>> {
  const id = Prisma.raw(`"${history.column(idField)}"`);
  const trace = Prisma.raw(`"${history.column('traceContext')}"`);
  const rows = await db.$queryRaw<Array<{ tx: string; pos: string; id: string; view: Record<string, unknown>; trace: TraceCarrier | null }>>`
    SELECT c.tx::text, c.pos::text, c.${id}::text AS id, c.view, c.${trace} AS trace FROM ${history.ref()} c
    ${whereAll([Prisma.sql`(c.tx, c.pos, c.${id}) > (${after.tx}::bigint, ${after.pos}::bigint, ${after.id || NO_ID}::uuid)`, ...conditions])}
    ORDER BY c.tx, c.pos, c.${id}
    LIMIT ${limit}`;
  return rows.map((row) => ({ key: changeKeyOf(row), view: viewTable.fromRecord(row.view), trace: row.trace }));
}

/** The newest change key of a history table (FIRST_KEY when it is empty). */
export async function lastChangeKey(db: SqlClient, history: HistoryTable, idField: string): Promise<ChangeKey> {
  const id = Prisma.raw(`"${history.column(idField)}"`);
  const [row] = await db.$queryRaw<Array<{ tx: string; pos: string; id: string }>>`
    SELECT c.tx::text, c.pos::text, c.${id}::text AS id FROM ${history.ref()} c ORDER BY c.tx DESC, c.pos DESC, c.${id} DESC LIMIT 1`;
  return row ? changeKeyOf(row) : FIRST_KEY;
}

function changeKeyOf(row: { tx: string; pos: string; id: string }): ChangeKey {
  return { ...cursorOf(row), id: row.id };
}
