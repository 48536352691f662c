import type { Client } from 'graphql-ws';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { ORDER_FIELDS, PLACE_ORDER, PRODUCT_FIELDS, USER_FIELDS, uniqueEmail } from '../support/operations.js';
import { LEASE_ACQUIRED, startServerProcess, stopAll, type ServerProcess } from '../support/process.js';
import { testDbKind } from '../support/server.js';
import { record, wsClient } from '../support/ws.js';

/**
 * Several server processes on one PostgreSQL database: commands and queries on
 * any instance, subscriptions fed by another instance's projector, one
 * projector per projection (leases), and failover after `kill -9`.
 */

const PROJECTIONS = ['users', 'products', 'orders', 'sales'] as const;

const STATUS = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { id status version position } }`;
const CHANGED = `subscription($f: OrderFilter, $since: String) { ordersChanged(filter: $f, since: $since) { id userId status version position } }`;
const ORDER_QUERY = `query($id: ID!) { order(id: $id) { id status version position } }`;
const LAG = `{ projections { name position headPosition lag } }`;

type Recorder = ReturnType<typeof record<any>>;
type OrderState = { id: string; status: string; version: number; position: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function registerUser(server: ServerProcess, name: string) {
  const data = await server.ok(
    `mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId version position user { ${USER_FIELDS} } } }`,
    { input: { name, email: uniqueEmail('multi') } },
  );
  return data.registerUser as { userId: string; position: string };
}

async function addProduct(server: ServerProcess, name: string, price: string) {
  const data = await server.ok(
    `mutation($input: AddProductInput!) { addProduct(input: $input) { productId version position product { ${PRODUCT_FIELDS} } } }`,
    { input: { name, price } },
  );
  return data.addProduct as { productId: string; position: string };
}

async function placeOrder(server: ServerProcess, userId: string, productId: string) {
  const data = await server.ok(PLACE_ORDER, { input: { userId, items: [{ productId, quantity: 1 }] } });
  return data.placeOrder as { orderId: string; version: number; position: string; order: any };
}

function orderCommand(server: ServerProcess, mutation: 'confirmOrder' | 'shipOrder' | 'deliverOrder', orderId: string) {
  return server.gql(
    `mutation($input: OrderCommandInput!) { ${mutation}(input: $input) { orderId version position order { ${ORDER_FIELDS} } } }`,
    { input: { orderId } },
  );
}

/** Polls `projections { lag }` on `server` until every projection has lag 0. */
async function settle(server: ServerProcess, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await server.gql(LAG);
    last = res;
    const rows = (res.data?.projections ?? []) as Array<{ lag: number }>;
    if (!res.errors && rows.length === PROJECTIONS.length && rows.every((p) => p.lag === 0)) return rows;
    await sleep(100);
  }
  throw new Error(`projections did not catch up within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** Polls until `check` passes (it throws while not), bounded. */
async function eventually(check: () => void | Promise<void>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await sleep(100);
    }
  }
}

/**
 * What a client sees of a server killed under it: fetch fails because the
 * socket was closed mid-request or the port refuses connections.
 */
function isConnectionFailure(error: unknown): boolean {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return error instanceof TypeError && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'].includes(String(code));
}

function parseCursor(text: string): [bigint, bigint] {
  const [tx, pos] = text.split(':');
  return [BigInt(tx!), BigInt(pos!)];
}

describe.skipIf(testDbKind() !== 'postgres')('several server processes on one PostgreSQL database', () => {
  let database: TestDatabase | undefined;
  let sql: pg.Client | undefined;
  let a: ServerProcess | undefined;
  let b: ServerProcess | undefined;
  let c: ServerProcess | undefined;
  const clients: Client[] = [];

  const processes = () => [a!, b!];
  const holdersOf = (projection: string) => processes().filter((p) => p.acquiredProjections().includes(projection));

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    sql = new pg.Client({ connectionString: database.databaseUrl });
    await sql.connect();
    // Started together, so that the leases may end up on either process or split.
    const started = await Promise.allSettled([
      startServerProcess({ databaseUrl: database.databaseUrl! }),
      startServerProcess({ databaseUrl: database.databaseUrl! }),
    ]);
    [a, b] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await stopAll([a, b, c]);
    await sql?.end().catch(() => undefined);
    await database?.dispose();
  }, 60_000);

  it('serves commands and queries on both instances; a subscriber on B sees a change made through A', async () => {
    // Writes on either instance, reads on the other.
    const user = await registerUser(b!, 'Cross Instance');
    const product = await addProduct(a!, 'Cross item', '7.50');
    const placed = await placeOrder(a!, user.userId, product.productId);
    expect(placed.order).toMatchObject({ id: placed.orderId, status: 'PENDING', version: 1, userName: 'Cross Instance' });
    // Read-your-writes on A waited for the orders projection only, and on A's
    // behalf: once every projection has caught up, both instances read the same.
    await settle(b!);
    for (const server of [a!, b!]) {
      const data = await server.ok(`query($o: ID!, $u: ID!, $p: ID!) {
        order(id: $o) { id status version } user(id: $u) { id name orderCount } product(id: $p) { id name price } }`, {
        o: placed.orderId, u: user.userId, p: product.productId,
      });
      expect(data).toEqual({
        order: { id: placed.orderId, status: 'PENDING', version: 1 },
        user: { id: user.userId, name: 'Cross Instance', orderCount: 1 },
        product: { id: product.productId, name: 'Cross item', price: '7.50' },
      });
    }

    const client = wsClient(b!.url);
    clients.push(client);
    const sub = record(client, STATUS, { id: placed.orderId });
    await sub.next(1);
    const confirmed = await orderCommand(a!, 'confirmOrder', placed.orderId);
    expect(confirmed.errors).toBeUndefined();
    expect(confirmed.data.confirmOrder).toMatchObject({ version: 2, order: { status: 'CONFIRMED', version: 2 } });
    await sub.next(2);
    await sleep(300); // nothing more arrives
    expect(sub.error).toBeUndefined();
    expect(sub.data().map((d: any) => d.orderStatusChanged)).toEqual([
      { id: placed.orderId, status: 'PENDING', version: 1, position: placed.position },
      { id: placed.orderId, status: 'CONFIRMED', version: 2, position: confirmed.data.confirmOrder.position },
    ]);
    sub.dispose();
  }, 30_000);

  it('runs each projection on exactly one instance', async () => {
    for (const projection of PROJECTIONS) {
      const holders = holdersOf(projection);
      expect(holders.map((p) => p.pid), `holders of ${projection}`).toHaveLength(1);
      // … and acquired it once.
      expect(holders[0]!.acquiredProjections().filter((n) => n === projection)).toHaveLength(1);
    }
    for (const p of processes()) {
      expect(p.logs.filter((l) => String(l.msg).includes('leases lost'))).toEqual([]);
    }
    // The database agrees: one advisory lock per projection, granted to one session.
    const { rows } = await sql!.query<{ name: string; holders: number }>(
      `SELECT n.name, count(l.pid)::int AS holders
       FROM unnest($1::text[]) AS n(name)
       LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND l.objid = ((hashtext('lease:' || n.name)::bigint) & 4294967295)::oid
       GROUP BY n.name ORDER BY n.name`,
      [PROJECTIONS],
    );
    expect(rows).toEqual([...PROJECTIONS].sort().map((name) => ({ name, holders: 1 })));
    console.log(
      'leases:',
      processes().map((p) => `pid ${p.pid}: ${p.acquiredProjections().join(', ') || '(none)'}`).join('; '),
    );
  }, 15_000);

  it('fails over after kill -9 of the orders projector: every event projected exactly once, subscribers end on the final state', async () => {
    const [victim] = holdersOf('orders');
    expect(victim).toBeDefined();
    const survivor = processes().find((p) => p !== victim)!;
    const victimHeld = PROJECTIONS.filter((n) => victim!.acquiredProjections().includes(n));

    // ── Set up on the survivor: tracked orders and their subscribers.
    const user = await registerUser(survivor, 'Failover Customer');
    const victimUser = await registerUser(survivor, 'Victim Customer');
    const product = await addProduct(survivor, 'Failover item', '3.25');
    const since = product.position;
    const tracked: string[] = [];
    for (let i = 0; i < 4; i++) tracked.push((await placeOrder(survivor, user.userId, product.productId)).orderId);

    const client = wsClient(survivor.url);
    clients.push(client);
    const statusSubs = new Map<string, Recorder>(tracked.map((id) => [id, record(client, STATUS, { id })]));
    const userSub = record(client, CHANGED, { f: { userId: user.userId }, since });
    const allSub = record(client, CHANGED, { since });
    await Promise.all([...statusSubs.values()].map((s) => s.next(1)));
    await Promise.all([userSub.next(tracked.length), allSub.next(tracked.length)]);

    // ── Commands in flight: a loop on the survivor, and one on the victim (which may fail once it is killed).
    let running = true;
    const acked: Array<{ orderId: string; version: number; via: 'survivor' | 'victim' }> = [];
    let survivorErrors = 0;
    // Moves a tracked order one step along: confirm, ship, deliver.
    const steps = ['confirmOrder', 'shipOrder', 'deliverOrder'] as const;
    const stepOf = new Map(tracked.map((id) => [id, 0]));
    const advance = async (id: string) => {
      const step = steps[stepOf.get(id)!];
      if (!step) return false;
      const moved = await orderCommand(survivor, step, id);
      if (moved.data?.[step]) {
        acked.push({ ...moved.data[step], via: 'survivor' });
        stepOf.set(id, stepOf.get(id)! + 1);
      } else survivorErrors++;
      return true;
    };
    const survivorLoop = (async () => {
      for (let i = 0; running; i++) {
        try {
          const placed = await placeOrder(survivor, user.userId, product.productId);
          acked.push({ orderId: placed.orderId, version: placed.version, via: 'survivor' });
          const confirmed = await orderCommand(survivor, 'confirmOrder', placed.orderId);
          if (confirmed.data?.confirmOrder) acked.push({ ...confirmed.data.confirmOrder, via: 'survivor' });
          else survivorErrors++;
          await advance(tracked[i % tracked.length]!);
        } catch (error) {
          survivorErrors++;
          console.log('survivor command failed:', error);
        }
      }
    })();
    // The victim's loop ends at its first failure: after the kill, a request
    // cut off or refused is what must happen; anything else fails the test.
    let killed = false;
    let victimCutOff: unknown;
    let victimUnexpected: unknown;
    const victimLoop = (async () => {
      try {
        while (running) {
          const placed = await placeOrder(victim!, victimUser.userId, product.productId);
          acked.push({ orderId: placed.orderId, version: placed.version, via: 'victim' });
          const confirmed = await orderCommand(victim!, 'confirmOrder', placed.orderId);
          if (!confirmed.data?.confirmOrder) throw new Error(`confirmOrder failed on the victim: ${JSON.stringify(confirmed.errors)}`);
          acked.push({ ...confirmed.data.confirmOrder, via: 'victim' });
        }
      } catch (error) {
        if (killed && isConnectionFailure(error)) victimCutOff = error;
        else victimUnexpected = error;
      }
    })();

    // ── kill -9 the holder of the orders lease mid-stream.
    await sleep(1500);
    const mark = survivor.logs.length;
    const killedAt = Date.now();
    killed = true;
    await victim!.kill('SIGKILL');
    const takeovers = await Promise.all(
      victimHeld.map((name) =>
        survivor.waitForLog((l, i) => i >= mark && l.msg === LEASE_ACQUIRED && l.projection === name, 5_000),
      ),
    );
    const ordersTakeover = takeovers[victimHeld.indexOf('orders')]!;
    const takeoverMs = (ordersTakeover.time ?? ordersTakeover.receivedAt) - killedAt;
    console.log(
      `takeover of the orders projection: ${takeoverMs} ms after kill -9 ` +
        `(seen by the test after ${ordersTakeover.receivedAt - killedAt} ms; LEASE_RETRY_MS=300); ` +
        `victim held: ${victimHeld.join(', ')}`,
    );
    expect(takeoverMs).toBeLessThan(5_000);

    await sleep(2000);
    running = false;
    await Promise.all([survivorLoop, victimLoop]);
    expect(victimUnexpected).toBeUndefined();
    // The kill did cut the victim off from its client.
    expect(victimCutOff, 'the victim kept answering after kill -9').toBeDefined();
    // Tracked orders the loop did not get to the end with.
    for (const id of tracked) while (survivorErrors < 10 && (await advance(id)));
    const ackedOrders = new Set(acked.map((c) => c.orderId));
    console.log(
      `acknowledged commands: ${acked.length} (${acked.filter((c) => c.via === 'survivor').length} via survivor, ` +
        `${acked.filter((c) => c.via === 'victim').length} via victim), orders: ${ackedOrders.size}; ` +
        `survivor errors: ${survivorErrors}; the victim's client saw: ${String((victimCutOff as Error).cause ?? victimCutOff)}`,
    );
    expect(survivorErrors).toBe(0);
    expect(acked.filter((c) => c.via === 'survivor').length).toBeGreaterThan(10);

    await settle(survivor);

    // ── Every event projected exactly once.
    const q = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => (await sql!.query<R>(text, values)).rows;
    const orderHeads = await q<{ id: string; version: number }>(
      `SELECT aggregate_id::text AS id, max(aggregate_version) AS version FROM event_log
       WHERE aggregate_type = 'Order' GROUP BY aggregate_id ORDER BY aggregate_id`,
    );
    const orderViews = await q<{ id: string; version: number }>(`SELECT id::text, version FROM order_view ORDER BY id`);
    expect(orderViews).toEqual(orderHeads);
    const [counts] = await q<{ views: number; aggregates: number; changes: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM order_view) AS views,
              (SELECT count(DISTINCT aggregate_id)::int FROM event_log WHERE aggregate_type = 'Order') AS aggregates,
              (SELECT count(*)::int FROM order_view_change) AS changes,
              (SELECT count(*)::int FROM event_log WHERE aggregate_type = 'Order') AS events`,
    );
    expect(counts!.views).toBe(counts!.aggregates);
    // No renames in this file: one change row per order event, at that event's cursor.
    expect(counts!.changes).toBe(counts!.events);
    const notOnce = await q(
      `SELECT e.aggregate_id::text AS id, e.aggregate_version AS version, count(c.order_id)::int AS n
       FROM event_log e
       LEFT JOIN order_view_change c
         ON c.order_id = e.aggregate_id AND c.version = e.aggregate_version
        AND c.tx = e.tx_id::text::bigint AND c.pos = e.position
       WHERE e.aggregate_type = 'Order'
       GROUP BY e.aggregate_id, e.aggregate_version HAVING count(c.order_id) <> 1`,
    );
    expect(notOnce).toEqual([]);
    // Every acknowledged command is in the read model.
    const viewVersion = new Map(orderViews.map((v) => [v.id, v.version]));
    for (const c of acked) expect(viewVersion.get(c.orderId), `order ${c.orderId}`).toBeGreaterThanOrEqual(c.version);
    // The other projections, too.
    expect(
      await q(`SELECT aggregate_id::text AS id, max(aggregate_version) AS version FROM event_log
               WHERE aggregate_type = 'User' GROUP BY aggregate_id ORDER BY aggregate_id`),
    ).toEqual(await q(`SELECT id::text, version FROM user_view ORDER BY id`));
    expect(
      await q(`SELECT aggregate_id::text AS id, max(aggregate_version) AS version FROM event_log
               WHERE aggregate_type = 'Product' GROUP BY aggregate_id ORDER BY aggregate_id`),
    ).toEqual(await q(`SELECT id::text, version FROM product_view ORDER BY id`));
    // Order counts per customer: an order event applied twice by the users projection would show here.
    expect(await q(`SELECT id::text, order_count FROM user_view WHERE order_count > 0 ORDER BY id`)).toEqual(
      await q(`SELECT user_id::text AS id, count(*)::int AS order_count FROM order_view GROUP BY user_id ORDER BY user_id`),
    );
    // Every checkpoint is at the head of the log.
    const [head] = await q<{ tx: string; pos: string }>(
      `SELECT tx_id::text AS tx, position::text AS pos FROM event_log ORDER BY tx_id DESC, position DESC LIMIT 1`,
    );
    expect(await q(`SELECT name, last_tx::text AS tx, last_pos::text AS pos FROM projection_checkpoint ORDER BY name`)).toEqual(
      [...PROJECTIONS].sort().map((name) => ({ name, tx: head!.tx, pos: head!.pos })),
    );

    // ── Every subscriber ends on the final read-model state, having seen each version once, in order.
    const finalState = new Map<string, OrderState>();
    const stateOf = async (id: string) => {
      const data = await survivor.ok(ORDER_QUERY, { id });
      finalState.set(id, data.order);
      return data.order as OrderState;
    };
    const contiguous = (versions: number[], from: number) => versions.every((v, i) => v === from + i);
    for (const [id, sub] of statusSubs) {
      const final = await stateOf(id);
      expect(final.status).toBe('DELIVERED');
      await eventually(() => expect(sub.data().at(-1)?.orderStatusChanged).toEqual(final), 5_000);
      const versions = sub.data().map((d: any) => d.orderStatusChanged.version as number);
      expect(contiguous(versions, versions[0]!), `versions seen for ${id}: ${versions}`).toBe(true);
      expect(sub.error).toBeUndefined();
    }

    // ordersChanged since a position before every order of this test: each order from version 1 to its final state.
    const [sinceTx, sincePos] = parseCursor(since);
    const expected = await q<{ id: string; user_id: string }>(
      `SELECT aggregate_id::text AS id, data->>'userId' AS user_id FROM event_log
       WHERE type = 'OrderPlaced' AND (tx_id::text::bigint, position) > ($1::bigint, $2::bigint) ORDER BY aggregate_id`,
      [sinceTx.toString(), sincePos.toString()],
    );
    for (const { id } of expected) if (!finalState.has(id)) await stateOf(id);
    const check = (sub: Recorder, ids: string[]) => {
      const byOrder = new Map<string, any[]>();
      for (const d of sub.data() as any[]) byOrder.set(d.ordersChanged.id, [...(byOrder.get(d.ordersChanged.id) ?? []), d.ordersChanged]);
      expect([...byOrder.keys()].sort()).toEqual([...ids].sort());
      for (const id of ids) {
        const seen = byOrder.get(id)!;
        const { status, version, position } = seen.at(-1);
        expect({ id, status, version, position }, `last message for ${id}`).toEqual(finalState.get(id));
        expect(contiguous(seen.map((s) => s.version), 1), `versions of ${id}: ${seen.map((s) => s.version)}`).toBe(true);
      }
    };
    const userOrders = expected.filter((o) => o.user_id === user.userId).map((o) => o.id);
    const allOrders = expected.map((o) => o.id);
    await eventually(() => check(userSub, userOrders), 5_000);
    await eventually(() => check(allSub, allOrders), 5_000);
    expect(userSub.error).toBeUndefined();
    expect(allSub.error).toBeUndefined();
    const failedBatches = survivor.logs.filter((l) => l.msg === 'projection batch failed; will retry');
    console.log(`survivor: ${failedBatches.length} failed projection batch(es) after the takeover; events in log: ${counts!.events} order events`);
  }, 45_000);

  it('hands the leases over on a graceful stop (SIGTERM) of the instances holding them', async () => {
    // Both instances, or the survivor of the failover test.
    const holders = processes().filter((p) => !p.exited);
    expect(holders.flatMap((p) => p.acquiredProjections()).sort()).toEqual([...PROJECTIONS].sort());
    c = await startServerProcess({ databaseUrl: database!.databaseUrl! });
    await sleep(700); // a couple of lease retries: the holders keep them
    expect(c.acquiredProjections()).toEqual([]);
    const user = await registerUser(c, 'Handover');

    const stoppedAt = Date.now();
    await Promise.all(holders.map((p) => p.stop()));
    for (const holder of holders) {
      expect(holder.exited).toEqual({ code: 0, signal: null });
      expect(holder.logs.some((l) => l.msg === 'server stopped')).toBe(true);
    }
    await Promise.all(
      PROJECTIONS.map((name) => c!.waitForLog((l) => l.msg === LEASE_ACQUIRED && l.projection === name, 5_000)),
    );
    console.log(`handover after SIGTERM: all leases on the new instance ${Date.now() - stoppedAt} ms after the stop began`);
    const product = await addProduct(c, 'Handover item', '1.00');
    const placed = await placeOrder(c, user.userId, product.productId);
    expect(placed.order).toMatchObject({ status: 'PENDING', version: 1, userName: 'Handover' });
    await settle(c);
  }, 30_000);
});
