/**
 * Checks a command stream (command-stream.ts) against the database it was
 * sent to, once the projections have caught up (`settle`):
 *
 *   - each acknowledged command's event exists exactly once, at the version
 *     and log position its answer gave;
 *   - the event log and the idempotency keys match one to one (every command,
 *     the setup included, is keyed and appends exactly one event), so no retry
 *     wrote a second time;
 *   - the write model's orders and users are what the loops' models say;
 *   - every read-model table equals a replay of the log from zero.
 *
 * It reports findings instead of failing at the first, so that a long run
 * can count them; a test expects none.
 */
import { isDeepStrictEqual } from 'node:util';
import { PROJECTIONS } from '../../src/app.js';
import type { PrismaClient } from '../../src/generated/prisma/client.js';
import { describeSent, EVENT_OF, sleep, type CommandStream, type Finding, type Result } from './command-stream.js';
import { logHead, readModelDifferences, readModelSnapshot, type ReplayDatabase } from './replay.js';
import type { GraphQLResponse } from './server.js';

export interface AuditReport {
  readonly findings: Finding[];
  /** Commands with a known result (acknowledged at once, or resolved by a retry). */
  readonly acknowledged: number;
  readonly events: number;
}

/** The result stored under an idempotency key, or null when its command has not committed. */
export async function storedResult(prisma: PrismaClient, key: string): Promise<Result | null> {
  const [row] = await prisma.$queryRaw<Array<{ result: Result }>>`SELECT result FROM idempotency_key WHERE key = ${key}`;
  return row?.result ?? null;
}

/** Waits until every projection, as `server` reports it, has lag 0 and has reached the newest event in the log. */
export async function settle(
  server: { gql(query: string): Promise<GraphQLResponse> },
  prisma: PrismaClient,
  timeoutMs = 20_000,
): Promise<void> {
  const head = await logHead(prisma);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await server
      .gql(`{ projections { name position lag } }`)
      .catch((error: unknown): GraphQLResponse => ({ errors: [{ message: String(error) }] }));
    last = res;
    const rows: Array<{ position: string; lag: number }> = res.data?.projections ?? [];
    if (!res.errors && rows.length === PROJECTIONS.length && rows.every((p) => p.lag === 0 && p.position === head)) return;
    await sleep(50);
  }
  throw new Error(`projections had not caught up with ${head} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

const byId = <T extends { id: string }>(rows: T[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/**
 * Everything the header says, against `prisma`'s database (the read models
 * in `options.read`'s when they have one of their own); the replay runs in
 * `replay` with batches of `batchSize`.
 */
export async function auditStream(
  stream: CommandStream,
  prisma: PrismaClient,
  replay: ReplayDatabase,
  options: { batchSize: number; read?: PrismaClient },
): Promise<AuditReport> {
  const findings: Finding[] = [];
  const { sent } = stream;

  // Refused or unresolved commands: their loops' models are unsure, and so is everything below.
  for (const s of sent) {
    if (s.first.outcome === 'refused') findings.push({ kind: 'other', what: `a valid command was refused: ${describeSent(s)}` });
    else if (!s.final) findings.push({ kind: 'other', what: `outcome never resolved: ${describeSent(s)}` });
  }

  // ── Every acknowledged (or resolved) command's event exists exactly once, where its answer said.
  const events = await prisma.$queryRaw<Array<{ aggregate_id: string; aggregate_version: number; type: string; cursor: string }>>`
    SELECT aggregate_id::text, aggregate_version, type, tx_id::text || ':' || position::text AS cursor FROM event_log`;
  const eventAt = new Map<string, Array<(typeof events)[number]>>();
  for (const e of events) {
    const at = `${e.aggregate_id}@${e.aggregate_version}`;
    eventAt.set(at, [...(eventAt.get(at) ?? []), e]);
  }
  const resolved = sent.filter((s) => s.final);
  for (const s of resolved) {
    const found = eventAt.get(`${s.final!.id}@${s.final!.version}`) ?? [];
    const mine = found.filter((e) => e.type === EVENT_OF[s.mutation] && e.cursor === s.final!.position);
    if (mine.length === 0) {
      findings.push({ kind: 'lost', what: `no event where the answer said (found ${JSON.stringify(found)}): ${describeSent(s)}` });
    }
  }
  for (const [at, list] of eventAt) {
    if (list.length > 1) findings.push({ kind: 'duplicate', what: `more than one event at ${at}: ${JSON.stringify(list)}` });
  }

  // Each placed order exactly once: one OrderPlaced per acknowledged order id, and no other.
  const placedIds = resolved.filter((s) => s.mutation === 'placeOrder').map((s) => s.final!.id);
  if (new Set(placedIds).size !== placedIds.length) {
    findings.push({ kind: 'other', what: `an order id acknowledged for two commands: ${placedIds.join(', ')}` });
  }
  const placedEvents = new Set(events.filter((e) => e.type === 'OrderPlaced').map((e) => e.aggregate_id));
  for (const id of placedEvents) {
    if (!placedIds.includes(id)) findings.push({ kind: 'duplicate', what: `an order placed that no command was acknowledged for: ${id}` });
  }

  // ── The log and the keys match one to one: no retry wrote twice, nothing was written without its key.
  const keys = await prisma.$queryRaw<Array<{ key: string; command: string; result: Result }>>`
    SELECT key, command, result FROM idempotency_key`;
  const byKey = new Map(keys.map((k) => [k.key, k]));
  const sentKeys = new Set(sent.map((s) => s.key));
  for (const k of keys) {
    if (!sentKeys.has(k.key)) findings.push({ kind: 'other', what: `a stored idempotency key no command was sent with: ${JSON.stringify(k)}` });
  }
  for (const s of sent) {
    const stored = byKey.get(s.key);
    const expected = { key: s.key, command: s.mutation, result: s.final };
    if (!stored) {
      if (s.final) findings.push({ kind: 'lost', what: `no stored key for ${describeSent(s)}` });
    } else if (!isDeepStrictEqual(stored, expected)) {
      findings.push({ kind: 'other', what: `stored key ${JSON.stringify(stored)} differs from ${JSON.stringify(expected)}` });
    }
  }
  if (events.length > keys.length) {
    findings.push({ kind: 'duplicate', what: `${events.length} events in the log for ${keys.length} keyed commands` });
  } else if (events.length < keys.length) {
    findings.push({ kind: 'lost', what: `${events.length} events in the log for ${keys.length} keyed commands` });
  }

  // ── The write model holds what the loops' models say (no lost, no doubled transition).
  const orders = await prisma.$queryRaw<Array<{ id: string; status: string; version: number }>>`
    SELECT id::text, status::text AS status, version FROM orders`;
  const modelOrders = stream.modelOrders();
  if (!isDeepStrictEqual(byId(orders), byId(modelOrders))) {
    findings.push({ kind: 'other', what: `orders in the write model differ from the loops' models: ${diff(byId(orders), byId(modelOrders))}` });
  }
  const users = await prisma.$queryRaw<Array<{ id: string; name: string; version: number }>>`
    SELECT id::text, name, version FROM users`;
  if (!isDeepStrictEqual(byId(users), byId(stream.modelUsers()))) {
    findings.push({ kind: 'other', what: `users in the write model differ from the loops' models: ${diff(byId(users), byId(stream.modelUsers()))}` });
  }

  // ── Every projection equals a replay from zero (in a database of its own).
  const live = await readModelSnapshot(options.read ?? prisma);
  const rebuilt = await replay.replayFrom(prisma, options);
  for (const what of readModelDifferences(rebuilt, live)) findings.push({ kind: 'other', what });
  if (live.order_view!.length !== modelOrders.length) {
    findings.push({ kind: 'other', what: `${live.order_view!.length} orders projected, ${modelOrders.length} placed` });
  }

  return { findings, acknowledged: resolved.length, events: events.length };
}

/** The rows only on one side, as JSON. */
function diff<T>(actual: T[], expected: T[]): string {
  const text = (rows: T[]) => rows.map((r) => JSON.stringify(r));
  const [a, e] = [text(actual), text(expected)];
  return `only stored: ${a.filter((r) => !e.includes(r)).join(' ') || '(none)'}; only in the models: ${e.filter((r) => !a.includes(r)).join(' ') || '(none)'}`;
}
