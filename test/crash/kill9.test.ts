/**
 * Crash safety (issue 5, section 6): `kill -9` the server at random moments
 * during a stream of commands, over many cycles, on one PostgreSQL database.
 *
 * Each cycle starts the real server process, runs several concurrent client
 * loops (placeOrder; confirm/ship/deliver/cancel of the loop's own orders;
 * renames of the loop's own user), every command with a fresh idempotency key
 * and an expected version, and SIGKILLs the server after a random delay. The
 * next server on the same database then gets every command whose outcome is
 * unknown (no response: the connection died) again, with the same key and
 * input, plus a sample of acknowledged ones:
 *
 *   - an acknowledged command's retry answers with its first result, exactly;
 *   - an unknown one's retry answers with the committed attempt's result, or
 *     runs it now — and either way its key then names exactly one event.
 *
 * Every loop owns its user and orders, so its model of them is exact and every
 * command it sends is valid: a refusal (VERSION_CONFLICT, INVALID_TRANSITION…)
 * means a write was lost or applied twice.
 *
 * At the end, with the projections caught up (`projections { lag }` = 0):
 *   - each acknowledged command's event exists exactly once, at the version
 *     and log position its answer gave;
 *   - the event log and the idempotency keys match one to one (every command,
 *     the seed included, is keyed and appends exactly one event), so no retry
 *     wrote a second time;
 *   - the write model's orders and users are what the loops' models say;
 *   - every read-model table equals a replay of the log from zero.
 *
 * The commands and kill delays come from seeded generators; CRASH_SEED=<n>
 * repeats a run's choices as far as timing allows (where a kill lands varies).
 * The seed is printed on failure, and with the per-cycle summary.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECTIONS } from '../../src/app.js';
import type { PrismaClient } from '../../src/generated/prisma/client.js';
import { openDatabase, type Database } from '../../src/infrastructure/db/database.js';
import { ADMIN, bearer } from '../support/auth.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { uniqueEmail } from '../support/operations.js';
import { startServerProcess, stopAll, type ServerProcess } from '../support/process.js';
import { ReplayDatabase, expectSameReadModels, logHead, readModelSnapshot } from '../support/replay.js';
import { testDbKind } from '../support/server.js';

const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CYCLES = 10;
/** Client loops per cycle, each with its own user and orders. */
const LOOPS = 4;
/** The kill comes this long after the loops start (uniformly random). */
const KILL_DELAY_MS: readonly [number, number] = [0, 1500];
/** Acknowledged commands retried per cycle (at most). */
const ACKED_RETRIES_PER_CYCLE = 8;
/** No new cycle starts after this long (the slowest machines run fewer cycles, never fewer than MIN_CYCLES). */
const CYCLE_BUDGET_MS = 65_000;
const MIN_CYCLES = 5;

const PRODUCTS = 5;

/** mulberry32: small, seedable, good enough to pick commands and delays. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}
type Random = ReturnType<typeof prng>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ───────────────────────────── Commands ─────────────────────────────

type Mutation =
  | 'registerUser'
  | 'addProduct'
  | 'updateUserProfile'
  | 'placeOrder'
  | 'confirmOrder'
  | 'shipOrder'
  | 'deliverOrder'
  | 'cancelOrder';

const DOCUMENTS: Record<Mutation, string> = {
  registerUser: `mutation($input: RegisterUserInput!) { registerUser(input: $input) { id: userId version position } }`,
  addProduct: `mutation($input: AddProductInput!) { addProduct(input: $input) { id: productId version position } }`,
  updateUserProfile: `mutation($input: UpdateUserProfileInput!) { updateUserProfile(input: $input) { id: userId version position } }`,
  placeOrder: `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id: orderId version position } }`,
  confirmOrder: `mutation($input: OrderCommandInput!) { confirmOrder(input: $input) { id: orderId version position } }`,
  shipOrder: `mutation($input: OrderCommandInput!) { shipOrder(input: $input) { id: orderId version position } }`,
  deliverOrder: `mutation($input: OrderCommandInput!) { deliverOrder(input: $input) { id: orderId version position } }`,
  cancelOrder: `mutation($input: CancelOrderInput!) { cancelOrder(input: $input) { id: orderId version position } }`,
};

/** The one event each command appends. */
const EVENT_OF: Record<Mutation, string> = {
  registerUser: 'UserRegistered',
  addProduct: 'ProductAdded',
  updateUserProfile: 'UserProfileUpdated',
  placeOrder: 'OrderPlaced',
  confirmOrder: 'OrderConfirmed',
  shipOrder: 'OrderShipped',
  deliverOrder: 'OrderDelivered',
  cancelOrder: 'OrderCancelled',
};

/** Error codes that are the service's answer to the command itself (it ran, and was refused). */
const REFUSALS = new Set([
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'INVALID_TRANSITION',
  'VERSION_CONFLICT',
  'ALREADY_EXISTS',
  'IDEMPOTENCY_KEY_REUSED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
]);

interface Result {
  readonly id: string;
  readonly version: number;
  readonly position: string;
}

type Answer =
  | { readonly outcome: 'acknowledged'; readonly result: Result }
  /** A GraphQL error with a domain code: the command ran and was refused. */
  | { readonly outcome: 'refused'; readonly detail: string }
  /** No answer (connection reset, refused, timed out) or a retryable one (SERVICE_UNAVAILABLE…). */
  | { readonly outcome: 'unknown'; readonly detail: string };

interface Sent {
  readonly key: string;
  readonly mutation: Mutation;
  readonly input: Record<string, unknown>;
  readonly cycle: number;
  readonly loop: number;
  /** The first attempt's answer. */
  readonly first: Answer;
  /** Where the command's event is, once known (acknowledged first or resolved by a retry). */
  final?: Result;
  /** Retries sent, with their answers. */
  readonly retries: Answer[];
}

class Client {
  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string>,
  ) {}

  async send(mutation: Mutation, input: Record<string, unknown>): Promise<Answer> {
    let status: number;
    let body: { data?: Record<string, Result | null> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.headers },
        body: JSON.stringify({ query: DOCUMENTS[mutation], variables: { input } }),
        signal: AbortSignal.timeout(15_000),
      });
      status = res.status;
      body = (await res.json()) as typeof body;
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { outcome: 'unknown', detail: `${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}` };
    }
    const result = body.data?.[mutation];
    if (status === 200 && result && !body.errors?.length) return { outcome: 'acknowledged', result };
    const codes = (body.errors ?? []).map((e) => e.extensions?.code ?? '?');
    const detail = `HTTP ${status}: ${JSON.stringify(body.errors ?? body)}`;
    if (codes.length > 0 && codes.every((c) => REFUSALS.has(c))) return { outcome: 'refused', detail };
    return { outcome: 'unknown', detail };
  }
}

// ───────────────────────────── The loops' models ─────────────────────────────

type Status = 'PENDING' | 'CONFIRMED' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED';
interface OrderModel {
  readonly id: string;
  status: Status;
  version: number;
}
interface LoopModel {
  readonly index: number;
  readonly userId: string;
  userVersion: number;
  userName: string;
  readonly orders: OrderModel[];
  renames: number;
}

const NEXT: Record<Status, Array<'confirmOrder' | 'shipOrder' | 'deliverOrder' | 'cancelOrder'>> = {
  PENDING: ['confirmOrder', 'confirmOrder', 'cancelOrder'],
  CONFIRMED: ['shipOrder', 'shipOrder', 'cancelOrder'],
  SHIPPED: ['deliverOrder', 'deliverOrder', 'cancelOrder'],
  DELIVERED: [],
  CANCELLED: [],
};
const STATUS_AFTER: Record<string, Status> = {
  confirmOrder: 'CONFIRMED',
  shipOrder: 'SHIPPED',
  deliverOrder: 'DELIVERED',
  cancelOrder: 'CANCELLED',
};

/** The next command of a loop: always valid for the loop's (exact) model. */
function nextCommand(random: Random, loop: LoopModel, productIds: readonly string[]): { mutation: Mutation; input: Record<string, unknown> } {
  const open = loop.orders.filter((o) => NEXT[o.status].length > 0);
  const roll = random.next();
  if (roll < 0.15) {
    loop.renames++;
    const name = `Crash loop ${loop.index} rename ${loop.renames}`;
    return { mutation: 'updateUserProfile', input: { userId: loop.userId, expectedVersion: loop.userVersion, name } };
  }
  if (roll < 0.5 || open.length === 0) {
    const count = random.int(1, 3);
    const products = [...productIds].sort(() => random.next() - 0.5).slice(0, count);
    return {
      mutation: 'placeOrder',
      input: { userId: loop.userId, items: products.map((productId) => ({ productId, quantity: random.int(1, 5) })) },
    };
  }
  const order = random.pick(open);
  const mutation = random.pick(NEXT[order.status]);
  const input: Record<string, unknown> = { orderId: order.id, expectedVersion: order.version };
  if (mutation === 'cancelOrder') input.reason = `Crash test, from ${order.status.toLowerCase()}`;
  return { mutation, input };
}

/** Applies a command's known result to its loop's model. */
function apply(loop: LoopModel, sent: Sent, result: Result) {
  if (sent.mutation === 'updateUserProfile') {
    loop.userVersion = result.version;
    loop.userName = String(sent.input.name);
  } else if (sent.mutation === 'placeOrder') {
    loop.orders.push({ id: result.id, status: 'PENDING', version: result.version });
  } else {
    const order = loop.orders.find((o) => o.id === result.id)!;
    order.status = STATUS_AFTER[sent.mutation]!;
    order.version = result.version;
  }
}

// ───────────────────────────── The test ─────────────────────────────

describe.skipIf(testDbKind() !== 'postgres')('kill -9 during a stream of commands', () => {
  let database: TestDatabase | undefined;
  let db: Database | undefined;
  let replay: ReplayDatabase | undefined;
  let server: ServerProcess | undefined;

  afterAll(async () => {
    await stopAll([server]);
    await Promise.all([db?.close(), replay?.dispose()]);
    await database?.dispose();
  }, 60_000);

  it('every acknowledged command exactly once, no duplicate from a retry, read models equal a replay from zero', async () => {
    const started = Date.now();
    try {
      await crashCycles();
    } catch (error) {
      if (error instanceof Error) error.message = `[CRASH_SEED=${SEED}] ${error.message}`;
      throw error;
    }
    console.log(`kill -9 test: seed ${SEED}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 170_000);

  async function crashCycles() {
    // One generator for the kills and samples, one per loop for its commands,
    // so that a loop's choices do not depend on how the loops interleave.
    const random = prng(SEED);
    const loopRandom = Array.from({ length: LOOPS }, (_, i) => prng(SEED + 7919 * (i + 1)));
    database = await createTestDatabase('postgres');
    [db, replay] = await Promise.all([
      openDatabase({ databaseUrl: database.databaseUrl!, poolSize: 2 }),
      ReplayDatabase.create(),
    ]);
    const prisma = db.prisma;
    const headers = await bearer(ADMIN);
    const start = () => startServerProcess({ databaseUrl: database!.databaseUrl! });

    const sent: Sent[] = [];
    /** Sends a command (fresh key) and records it. */
    const run = async (client: Client, mutation: Mutation, input: Record<string, unknown>, cycle: number, loop: number) => {
      const key = `crash-${SEED}-${cycle}-${loop}-${randomUUID()}`;
      const keyed = { ...input, idempotencyKey: key };
      const first = await client.send(mutation, keyed);
      const record: Sent = { key, mutation, input: keyed, cycle, loop, first, retries: [] };
      if (first.outcome === 'acknowledged') record.final = first.result;
      sent.push(record);
      return record;
    };

    // ── Setup: users and products, keyed like everything else.
    server = await start();
    let client = new Client(server.url, headers);
    const productIds: string[] = [];
    const loops: LoopModel[] = [];
    for (let i = 0; i < PRODUCTS; i++) {
      const r = await run(client, 'addProduct', { name: `Crash product ${i}`, price: `${random.int(1, 99)}.${random.int(10, 99)}` }, 0, -1);
      expect(r.first, 'seed: addProduct').toMatchObject({ outcome: 'acknowledged' });
      productIds.push(r.final!.id);
    }
    for (let i = 0; i < LOOPS; i++) {
      const name = `Crash loop ${i}`;
      const r = await run(client, 'registerUser', { name, email: uniqueEmail(`crash${i}`) }, 0, -1);
      expect(r.first, 'seed: registerUser').toMatchObject({ outcome: 'acknowledged' });
      loops.push({ index: i, userId: r.final!.id, userVersion: r.final!.version, userName: name, orders: [], renames: 0 });
    }

    // ── The cycles.
    const summary: string[] = [];
    const cyclesStarted = Date.now();
    let cycle = 0;
    while (cycle < CYCLES && (cycle < MIN_CYCLES || Date.now() - cyclesStarted < CYCLE_BUDGET_MS)) {
      cycle++;
      const before = sent.length;
      let stopped = false;
      const loopRuns = loops.map(async (loop) => {
        while (!stopped) {
          const { mutation, input } = nextCommand(loopRandom[loop.index]!, loop, productIds);
          const record = await run(client, mutation, input, cycle, loop.index);
          if (record.first.outcome === 'acknowledged') apply(loop, record, record.first.result);
          // Without an answer (or with a refusal) the model is unsure until the retry: this loop stops.
          else return;
        }
      });
      const delay = random.int(...KILL_DELAY_MS);
      await sleep(delay);
      stopped = true;
      await server.kill('SIGKILL');
      await Promise.all(loopRuns);
      const thisCycle = sent.slice(before);
      const refused = thisCycle.filter((s) => s.first.outcome === 'refused');
      expect(refused.map(describeSent), `cycle ${cycle}: valid commands refused`).toEqual([]);

      // ── Restart on the same database; resolve the unknown, re-ask some acknowledged.
      server = await start();
      client = new Client(server.url, headers);
      const unknown = thisCycle.filter((s) => s.first.outcome === 'unknown');
      const acked = thisCycle.filter((s) => s.first.outcome === 'acknowledged');
      const sample = [...acked].sort(() => random.next() - 0.5).slice(0, ACKED_RETRIES_PER_CYCLE);
      let committedBefore = 0;
      for (const s of unknown) {
        if (await storedResult(prisma, s.key)) committedBefore++;
      }
      // Two retries at once, as a client that gave up on the first might send
      // them: both must get the one result, whether it committed before the
      // kill, or now by one of them.
      await Promise.all(unknown.flatMap((s) => [retry(client, s), retry(client, s)]));
      for (const s of unknown) {
        const answers = s.retries.filter((a) => a.outcome !== 'unknown');
        expect(answers, `retries of an unknown command: ${describeSent(s)}`).toEqual([
          { outcome: 'acknowledged', result: expect.anything() },
          { outcome: 'acknowledged', result: (answers[0] as { result?: Result } | undefined)?.result },
        ]);
        s.final = (answers[0] as { result: Result }).result;
        apply(loops[s.loop]!, s, s.final);
      }
      for (const s of sample) {
        expect(await retry(client, s), `retry of an acknowledged command: ${describeSent(s)}`).toEqual({
          outcome: 'acknowledged',
          result: s.final,
        });
      }
      // Each retried key names exactly the result its retry answered with.
      for (const s of [...unknown, ...sample]) {
        expect(await storedResult(prisma, s.key), `stored result of ${describeSent(s)}`).toEqual(s.final);
      }
      summary.push(
        `cycle ${cycle}: kill after ${delay} ms, ${thisCycle.length} sent, ${acked.length} acknowledged, ` +
          `${unknown.length} unknown (${committedBefore} had committed), ${sample.length} acknowledged retried`,
      );
    }
    console.log([`kill -9 test, CRASH_SEED=${SEED}:`, ...summary].join('\n'));
    expect(
      sent.filter((s) => s.first.outcome === 'unknown').length,
      'commands cut off by a kill (none: the kills never hit the stream)',
    ).toBeGreaterThan(0);

    // ── Settle: the final server's projections catch up.
    await settle(server, prisma);

    // ── Every acknowledged (or resolved) command's event exists exactly once, where its answer said.
    const events = await prisma.$queryRaw<
      Array<{ aggregate_id: string; aggregate_version: number; type: string; cursor: string }>
    >`SELECT aggregate_id::text, aggregate_version, type, tx_id::text || ':' || position::text AS cursor FROM event_log`;
    const eventAt = new Map<string, Array<(typeof events)[number]>>();
    for (const e of events) {
      const at = `${e.aggregate_id}@${e.aggregate_version}`;
      eventAt.set(at, [...(eventAt.get(at) ?? []), e]);
    }
    const resolved = sent.filter((s) => s.final);
    expect(resolved.length).toBe(sent.length); // nothing left unknown (refusals would have failed above)
    for (const s of resolved) {
      const found = eventAt.get(`${s.final!.id}@${s.final!.version}`) ?? [];
      expect(
        found.map((e) => ({ type: e.type, cursor: e.cursor })),
        `the event of ${describeSent(s)}`,
      ).toEqual([{ type: EVENT_OF[s.mutation], cursor: s.final!.position }]);
    }
    const duplicates = [...eventAt.entries()].filter(([, list]) => list.length > 1).map(([at]) => at);
    expect(duplicates, 'aggregate versions with more than one event').toEqual([]);

    // Each placed order exactly once: one OrderPlaced per acknowledged order id, and no other.
    const placedIds = sent.filter((s) => s.mutation === 'placeOrder').map((s) => s.final!.id);
    expect(new Set(placedIds).size, 'distinct order ids acknowledged').toBe(placedIds.length);
    const placedEvents = events.filter((e) => e.type === 'OrderPlaced').map((e) => e.aggregate_id);
    expect([...placedEvents].sort(), 'OrderPlaced events').toEqual([...placedIds].sort());

    // ── The log and the keys match one to one: no retry wrote twice, nothing was written without its key.
    const keys = await prisma.$queryRaw<Array<{ key: string; command: string; result: Result }>>`
      SELECT key, command, result FROM idempotency_key`;
    expect(keys.map((k) => k.key).sort(), 'stored idempotency keys').toEqual(sent.map((s) => s.key).sort());
    const byKey = new Map(keys.map((k) => [k.key, k]));
    for (const s of sent) {
      expect(byKey.get(s.key), `stored key of ${describeSent(s)}`).toEqual({ key: s.key, command: s.mutation, result: s.final });
    }
    expect(events.length, 'events in the log = keyed commands that committed').toBe(keys.length);

    // ── The write model holds what the loops' models say (no lost, no doubled transition).
    const byId = <T extends { id: string }>(rows: T[]) => rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const orders = await prisma.$queryRaw<Array<{ id: string; status: Status; version: number }>>`
      SELECT id::text, status::text AS status, version FROM orders`;
    const modelOrders = loops.flatMap((l) => l.orders.map(({ id, status, version }) => ({ id, status, version })));
    expect(byId(orders), 'orders in the write model').toEqual(byId(modelOrders));
    const users = await prisma.$queryRaw<Array<{ id: string; name: string; version: number }>>`
      SELECT id::text, name, version FROM users`;
    expect(byId(users), 'users in the write model').toEqual(
      byId(loops.map((l) => ({ id: l.userId, name: l.userName, version: l.userVersion }))),
    );

    // ── Every projection equals a replay from zero (in a database of its own).
    const live = await readModelSnapshot(prisma);
    const rebuilt = await replay!.replayFrom(prisma, { batchSize: random.int(1, 50) });
    expectSameReadModels(rebuilt, live);
    expect(live.order_view!.length, 'orders projected').toBe(modelOrders.length);

    console.log(
      `kill -9 test: ${cycle} cycles, ${sent.length} commands (${sent.filter((s) => s.first.outcome === 'unknown').length} unknown at the kill, ` +
        `${sent.filter((s) => s.retries.length > 0).length} retried), ${events.length} events`,
    );
  }

  /** Sends `s` again, same key and input; a retryable answer (SERVICE_UNAVAILABLE, a slow start) is tried again, bounded. */
  async function retry(client: Client, s: Sent): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      const answer = await client.send(s.mutation, s.input);
      s.retries.push(answer);
      if (answer.outcome !== 'unknown' || attempt === 4) return answer;
      await sleep(100 * 2 ** attempt);
    }
  }
});

/** The result stored under an idempotency key, or null when its command has not committed. */
async function storedResult(prisma: PrismaClient, key: string): Promise<Result | null> {
  const [row] = await prisma.$queryRaw<Array<{ result: Result }>>`SELECT result FROM idempotency_key WHERE key = ${key}`;
  return row?.result ?? null;
}

/** Waits until every projection reports lag 0 and has reached the newest event in the log. */
async function settle(server: ServerProcess, prisma: PrismaClient, timeoutMs = 20_000) {
  const head = await logHead(prisma);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await server.gql<{ projections: Array<{ name: string; position: string; lag: number }> }>(
      `{ projections { name position lag } }`,
    );
    last = res;
    const rows = res.data?.projections ?? [];
    if (!res.errors && rows.length === PROJECTIONS.length && rows.every((p) => p.lag === 0 && p.position === head)) return;
    await sleep(50);
  }
  expect.fail(`projections had not caught up with ${head} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

function describeSent(s: Sent): string {
  return (
    `${s.mutation} (cycle ${s.cycle}, loop ${s.loop}, key ${s.key}) ${JSON.stringify(s.input)} → first ${JSON.stringify(s.first)}` +
    (s.retries.length ? `, retries ${JSON.stringify(s.retries)}` : '')
  );
}
