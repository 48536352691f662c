/**
 * PostgreSQL itself stops, crashes and comes back, under load: two server
 * processes on a private cluster (test/support/pg-cluster.ts), a steady
 * keyed command stream (test/support/command-stream.ts) and queries on both,
 * `ordersChanged` subscribers on both. The cluster is stopped with
 * `pg_ctl stop -m fast`, later with `-m immediate` (a crash: recovery at the
 * next start), and started again each time on the same port and data.
 *
 * Meanwhile the servers keep running (no restart); commands and queries
 * answer SERVICE_UNAVAILABLE (retryable) and nothing else; `/readyz` is 503
 * while `/healthz` stays 200. A command without a good answer is retried with
 * its idempotency key until it is acknowledged, as a client would.
 *
 * Within a few seconds of the database being back, without anyone's help:
 * `/readyz` 200, commands and queries answer on both servers, and each
 * projection's lease, lost with its session, is taken again by exactly one
 * of them. Afterwards: every acknowledged command exactly once and no
 * duplicate from a keyed retry, the write model as the clients' models say,
 * read models equal to a replay from zero (test/support/command-audit.ts);
 * one lease holder per projection; and a subscriber that reconnected with
 * `since` after each outage, like the one that stayed connected through
 * them, got exactly the order changes committed after its first `since`.
 *
 * PostgreSQL only (PGlite is in-process: it has no server to stop).
 */
import type { Client as WsClient } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/infrastructure/db/database.js';
import { withPgClient } from '../../src/infrastructure/db/pg-admin.js';
import { ADMIN, bearer } from '../support/auth.js';
import { auditStream, settle } from '../support/command-audit.js';
import { Client, CommandStream, sleep, type Sent } from '../support/command-stream.js';
import type { TestDatabase } from '../support/databases.js';
import { PgCluster, type StopMode } from '../support/pg-cluster.js';
import { LEASE_ACQUIRED, startServerProcess, stopAll, type ServerProcess } from '../support/process.js';
import { ReplayDatabase, logHead } from '../support/replay.js';
import { testDbKind } from '../support/server.js';
import { PROJECTIONS as REGISTERED } from '../../src/app.js';
import { wsClient } from '../support/ws.js';

/** Every registered projection's name, sorted. */
const PROJECTIONS = REGISTERED.map((p) => p.name).sort();
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Load before each outage, how long the database stays away, load after recovery. */
const BEFORE_MS = 1500;
const OUTAGE_MS = 3000;
const AFTER_MS = 1500;
/** "Within a few seconds": generous for a shared 2-core machine; the measured times are printed. */
const RECOVERY_LIMIT_MS = 10_000;

const LEASES_LOST = 'projection leases lost; stopping those projectors';
const CHANGED = `subscription($since: String) { ordersChanged(since: $since) { id status version position } }`;
const QUERY = `{ orders(pageSize: 5) { total orders { id status version } } }`;

type OrderChange = { id: string; status: string; version: number; position: string };

/** What an answer's errors say: the codes, and whether every one was `retryable: true`. */
function errorsOf(errors: Array<{ extensions?: Record<string, unknown> }> | undefined) {
  const list = errors ?? [];
  return { codes: list.map((e) => String(e.extensions?.code)), retryable: list.length > 0 && list.every((e) => e.extensions?.retryable === true) };
}
const unavailable = (e: { codes: readonly string[]; retryable: boolean }) => e.retryable && e.codes.length > 0 && e.codes.every((c) => c === 'SERVICE_UNAVAILABLE');

/**
 * An `ordersChanged` subscriber that keeps everything it received and, like a
 * real client, resubscribes with `since` = the last position it saw after an
 * error (a subscription started while the database is away fails) or after
 * `reconnect()`.
 */
function resumingSubscriber(httpUrl: string, since: string) {
  const received: OrderChange[] = [];
  const errors: unknown[] = [];
  let last = since;
  let client: WsClient | undefined;
  let wanted = false;
  let subscriptions = 0;
  let lastMessageAt = Date.now();
  const subscribe = () => {
    if (!wanted) return;
    subscriptions++;
    client ??= wsClient(httpUrl);
    const retry = (error: unknown) => {
      errors.push(error);
      setTimeout(subscribe, 200);
    };
    client.subscribe<{ ordersChanged: OrderChange }>(
      { query: CHANGED, variables: { since: last } },
      {
        next: (message) => {
          if (message.errors?.length || !message.data) return retry(message.errors);
          received.push(message.data.ordersChanged);
          last = message.data.ordersChanged.position;
          lastMessageAt = Date.now();
        },
        error: (error) => (wanted ? retry(error) : undefined),
        complete: () => undefined,
      },
    );
  };
  return {
    received,
    errors,
    get subscriptions() {
      return subscriptions;
    },
    connect() {
      wanted = true;
      subscribe();
    },
    /** Closes the socket, as a client losing its network would. */
    async disconnect() {
      wanted = false;
      const c = client;
      client = undefined;
      await c?.dispose();
    },
    /** Resolves once nothing arrived for `ms`. */
    async quiet(ms: number) {
      while (Date.now() - lastMessageAt < ms) await sleep(50);
    },
  };
}

describe.skipIf(testDbKind() !== 'postgres')('PostgreSQL stops, crashes and comes back', () => {
  let cluster: PgCluster | undefined;
  let database: TestDatabase | undefined;
  let replay: ReplayDatabase | undefined;
  let db: Database | undefined;
  const servers: ServerProcess[] = [];
  const subscribers: Array<ReturnType<typeof resumingSubscriber>> = [];

  afterAll(async () => {
    await Promise.allSettled(subscribers.map((s) => s.disconnect()));
    await stopAll(servers);
    await Promise.allSettled([db?.close(), replay?.dispose()]);
    await cluster?.destroy();
  }, 60_000);

  it('serves SERVICE_UNAVAILABLE while it is away, recovers by itself, and loses, doubles and misses nothing', async () => {
    try {
      await outages();
    } catch (error) {
      if (error instanceof Error) error.message = `[CRASH_SEED=${SEED}] ${error.message}`;
      throw error;
    }
  }, 200_000);

  async function outages() {
    cluster = await PgCluster.create();
    database = await cluster.createTestDatabase();
    const started = await Promise.allSettled([0, 1].map(() => startServerProcess({ databaseUrl: database!.databaseUrl! })));
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const pids = servers.map((s) => s.pid);
    const headers = await bearer(ADMIN);
    const clients = servers.map((s) => new Client(s.url, headers));

    const stream = new CommandStream({ seed: SEED });
    await stream.setUp(clients[0]!);
    await settle(a, (db = await openDatabase({ databaseUrl: database.databaseUrl!, poolSize: 2 })).prisma);
    const since = (await logHead(db.prisma))!;
    // The audit's own connections wait for the end; the servers' are what is under test.
    await db.close();
    db = undefined;

    // Subscribers: on A one that reconnects after each outage, on B one that stays connected through them.
    const [reconnecting, staying] = [resumingSubscriber(a.url, since), resumingSubscriber(b.url, since)];
    subscribers.push(reconnecting, staying);
    reconnecting.connect();
    staying.connect();

    // Queries and probes of /readyz and /healthz on both servers, all along.
    type Probe = { at: number; server: number; kind: 'query' | 'readyz' | 'healthz'; status: number; codes: string[]; retryable: boolean; body?: unknown };
    const probes: Probe[] = [];
    let probing = true;
    const probeLoops = servers.flatMap((server, index) => [
      (async () => {
        while (probing) {
          const res = await server.gql(QUERY).catch((error: unknown) => ({ errors: [{ message: String(error), extensions: { code: 'NO_ANSWER' } }] }));
          probes.push({ at: Date.now(), server: index, kind: 'query', status: res.errors ? 0 : 200, ...errorsOf(res.errors) });
          await sleep(50);
        }
      })(),
      (async () => {
        while (probing) {
          for (const kind of ['readyz', 'healthz'] as const) {
            const res = await fetch(new URL(`/${kind}`, server.url), { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
            const body = await res?.json().catch(() => undefined);
            probes.push({ at: Date.now(), server: index, kind, status: res?.status ?? 0, codes: [], retryable: false, body });
          }
          await sleep(100);
        }
      })(),
    ]);

    const report: string[] = [];
    const outage = async (cycle: number, mode: StopMode) => {
      let stopped = false;
      // Loops 0 and 2 send to A, 1 and 3 to B.
      const loops = stream.run({ cycle, clientOf: (loop) => clients[loop % 2]!, stopped: () => stopped, unknown: 'retry' });
      await sleep(BEFORE_MS);
      const marks = servers.map((s) => s.logs.length);
      const sentBefore = stream.sent.length;
      const stopAt = Date.now();
      await cluster!.stop(mode);
      const downAt = Date.now();

      // The reconnecting subscriber goes away too, once it has what was committed before.
      await reconnecting.quiet(500);
      await reconnecting.disconnect();
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
      const upAt = Date.now();
      await cluster!.start();
      const backAt = Date.now();
      reconnecting.connect();

      // Recovery, by itself: each of these happens on each server.
      const firstAfter = (server: number, kind: Probe['kind']) =>
        probes.find((p) => p.at > backAt && p.server === server && p.kind === kind && p.status === 200)?.at;
      const acknowledgedAfter = (server: number) =>
        stream.sent
          .filter((s) => s.cycle === cycle && s.loop % 2 === server && s.acknowledgedAt !== undefined && s.acknowledgedAt > backAt)
          .map((s) => s.acknowledgedAt!)
          .sort((x, y) => x - y)[0];
      const acquiredAfter = (projection: string) =>
        servers
          .flatMap((s, i) => s.logs.slice(marks[i]).filter((l) => l.msg === LEASE_ACQUIRED && l.projection === projection))
          .map((l) => l.receivedAt)[0];
      const recovered = () => {
        const times = [
          ...[0, 1].flatMap((i) => [firstAfter(i, 'readyz'), firstAfter(i, 'query'), acknowledgedAfter(i)]),
          ...PROJECTIONS.map(acquiredAfter),
        ];
        return times.every((t) => t !== undefined) ? Math.max(...(times as number[])) - backAt : undefined;
      };
      const deadline = backAt + RECOVERY_LIMIT_MS + 20_000;
      while (recovered() === undefined && Date.now() < deadline) await sleep(50);
      const recoveryMs = recovered();
      await sleep(AFTER_MS);
      stopped = true;
      await loops;

      // ── What was answered while the database was away (from the stop until it was back).
      const during = (p: Probe) => p.at > downAt && p.at < upAt;
      const thisCycle = stream.sent.slice(sentBefore).filter((s) => s.cycle === cycle);
      const failedAnswers = (s: Sent) =>
        [s.first, ...s.retries].flatMap((answer) => (answer.outcome === 'unknown' ? [{ server: s.loop % 2, ...answer }] : []));
      const commandFailures = stream.sent.filter((s) => s.cycle === cycle).flatMap(failedAnswers);
      const queryFailures = probes.filter((p) => p.kind === 'query' && p.at > stopAt && p.status !== 200);
      for (const [index] of servers.entries()) {
        const name = `server ${'AB'[index]} (pg_ctl stop -m ${mode})`;
        expect(
          commandFailures.filter((f) => f.server === index && unavailable(f)).length,
          `${name}: commands answered SERVICE_UNAVAILABLE`,
        ).toBeGreaterThan(0);
        expect(
          queryFailures.filter((p) => p.server === index && p.at < upAt && unavailable(p)).length,
          `${name}: queries answered SERVICE_UNAVAILABLE`,
        ).toBeGreaterThan(0);
        const notReady = probes.filter((p) => p.server === index && p.kind === 'readyz' && during(p));
        expect(notReady.length, `${name}: /readyz probes while the database was away`).toBeGreaterThan(0);
        expect(new Set(notReady.map((p) => JSON.stringify({ status: p.status, body: p.body }))), `${name}: /readyz`).toEqual(
          new Set([JSON.stringify({ status: 503, body: { status: 'not ready', reason: 'database unavailable' } })]),
        );
      }
      // Nothing but SERVICE_UNAVAILABLE (retryable): no INTERNAL_SERVER_ERROR, no dropped connection.
      expect(commandFailures.filter((f) => !unavailable(f)), 'command answers other than SERVICE_UNAVAILABLE').toEqual([]);
      expect(queryFailures.filter((p) => !unavailable(p)), 'query answers other than SERVICE_UNAVAILABLE').toEqual([]);
      expect(probes.filter((p) => p.kind === 'healthz' && p.status !== 200), '/healthz answers other than 200').toEqual([]);

      // ── The leases: lost with their sessions, then each taken by exactly one server.
      const logged = (kind: string) =>
        servers.flatMap((s, i) => s.logs.slice(marks[i]).filter((l) => l.msg === kind).map((l) => ({ server: 'AB'[i], l })));
      const lost = logged(LEASES_LOST).flatMap(({ server, l }) => (l.projections as string[]).map((projection) => ({ server, projection })));
      expect(lost.map((x) => x.projection).sort(), 'leases lost (each once)').toEqual(PROJECTIONS);
      const acquired = logged(LEASE_ACQUIRED).map(({ server, l }) => ({ server, projection: String(l.projection) }));
      expect(acquired.map((x) => x.projection).sort(), 'leases taken again (each by one server, once)').toEqual(PROJECTIONS);

      expect(recoveryMs, `recovered within ${RECOVERY_LIMIT_MS} ms of the database being back`).toBeLessThan(RECOVERY_LIMIT_MS);
      report.push(
        `pg_ctl stop -m ${mode}: stop took ${downAt - stopAt} ms, down ${upAt - downAt} ms, start took ${backAt - upAt} ms; ` +
          `recovered ${recoveryMs} ms after it was back; ${thisCycle.length} commands sent, ` +
          `${commandFailures.length} SERVICE_UNAVAILABLE answers to commands and ${queryFailures.length} to queries; ` +
          `leases lost by ${[...new Set(lost.map((x) => x.server))].join('')}, taken again: ` +
          acquired.map((x) => `${x.projection} by ${x.server}`).join(', '),
      );
    };

    await outage(1, 'fast');
    await outage(2, 'immediate');
    probing = false;
    await Promise.all(probeLoops);

    // ── The servers kept running: same processes, never exited.
    expect(servers.map((s) => ({ pid: s.pid, exited: s.exited }))).toEqual(pids.map((pid) => ({ pid, exited: undefined })));

    // ── Both have caught up; every command exactly once; read models equal a replay from zero.
    db = await openDatabase({ databaseUrl: database.databaseUrl!, poolSize: 2 });
    await settle(a, db.prisma);
    await settle(b, db.prisma);
    replay = await ReplayDatabase.create(() => cluster!.createTestDatabase());
    const audit = await auditStream(stream, db.prisma, replay, { batchSize: 17 });
    expect(audit.findings).toEqual([]);
    const retried = stream.sent.filter((s) => s.retries.length > 0);
    expect(retried.length, 'commands retried with their keys').toBeGreaterThan(0);

    // ── One lease holder per projection, as the database sees it.
    const holders = await withPgClient(database.databaseUrl!, async (c) =>
      (
        await c.query<{ name: string; holders: number }>(
          `SELECT n.name, count(l.pid)::int AS holders
           FROM unnest($1::text[]) AS n(name)
           LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.objid = ((hashtext('lease:' || n.name)::bigint) & 4294967295)::oid
           GROUP BY n.name ORDER BY n.name`,
          [PROJECTIONS],
        )
      ).rows,
    );
    expect(holders).toEqual(PROJECTIONS.map((name) => ({ name, holders: 1 })));

    // ── Subscribers: exactly the changes committed after `since`, in order, once each.
    const [sinceTx, sincePos] = since.split(':');
    const expected = await withPgClient(database.databaseUrl!, async (c) =>
      (
        await c.query<OrderChange>(
          `SELECT order_id::text AS id, view->>'status' AS status, (view->>'version')::int AS version, tx::text || ':' || pos::text AS position
           FROM order_view_change WHERE (tx, pos) > ($1::bigint, $2::bigint) ORDER BY tx, pos, order_id`,
          [sinceTx, sincePos],
        )
      ).rows,
    );
    expect(expected.length, 'order changes during the test').toBeGreaterThan(20);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && subscribers.some((s) => s.received.length < expected.length)) await sleep(50);
    await sleep(300); // and nothing more arrives
    for (const [name, s] of [['reconnecting', reconnecting], ['staying', staying]] as const) {
      expect(s.received, `the ${name} subscriber's messages`).toEqual(expected);
      for (const error of s.errors) expect(JSON.stringify(error), `the ${name} subscriber's errors`).toMatch(/"code":"SERVICE_UNAVAILABLE"/);
    }
    expect(reconnecting.subscriptions, 'subscriptions of the reconnecting subscriber').toBeGreaterThanOrEqual(3);

    console.log(
      [
        `PostgreSQL restart test (CRASH_SEED=${SEED}):`,
        ...report,
        `${audit.acknowledged} commands acknowledged (${retried.length} after retries with their keys), ${audit.events} events; ` +
          `${expected.length} order changes to each subscriber (the reconnecting one subscribed ${reconnecting.subscriptions} times, ` +
          `the staying one ${staying.subscriptions}; errors ${reconnecting.errors.length} and ${staying.errors.length})`,
      ].join('\n'),
    );
  }
});
