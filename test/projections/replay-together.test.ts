/**
 * Replaying several projections from one read of the log (`replayTogether`,
 * which `rebuildInPlace` and `rebuildBlueGreen` use): the rebuilt read models
 * equal what the server projected, the log is read once per batch whatever
 * the number of projections, a redrive request in the log is carried out at
 * its place, and a failing projection stops the replay without undoing what
 * the others committed.
 *
 * PostgreSQL server only: the replay runs in a database of its own, on a copy
 * of the live server's log (see test/support/replay.ts).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROJECTIONS } from '../../src/app.js';
import { LOG_START, formatCursor } from '../../src/eventlog/cursor.js';
import { EventLogReader } from '../../src/eventlog/reader.js';
import type { StoredEvent } from '../../src/eventlog/types.js';
import { Projector } from '../../src/projections/projector.js';
import { resetProjection } from '../../src/projections/rebuild.js';
import { replayTogether } from '../../src/projections/replay.js';
import { readCheckpoint } from '../../src/projections/status.js';
import { addProduct, cancel, placeOrder, registerUser, transition } from '../support/operations.js';
import { ReplayDatabase, expectSameReadModels, readModelSnapshot, waitUntilCaughtUp } from '../support/replay.js';
import { startTestServer, testDbKind, type TestServer } from '../support/server.js';

const postgres = testDbKind() === 'postgres';

/** Which (aggregate, event type) pairs the server's orders projection refuses to apply. */
const poisoned = new Map<string, string>();
function fault(projection: string, event: StoredEvent) {
  if (projection === 'orders' && poisoned.get(event.aggregateId) === event.type) throw new Error(`cannot project ${event.type} (test fault)`);
}

const RETRY = `mutation($a: ID!) { retryDeadLetters(projection: "orders", aggregateId: $a) { status deadLetterCount } }`;
const RENAME = `mutation($id: ID!, $v: Int!, $name: String!) { updateUserProfile(input: { userId: $id, expectedVersion: $v, name: $name }) { version } }`;
const STATUS = `{ projections { name deadLetterCount } }`;

describe.runIf(postgres)('replaying all projections from one read of the log', () => {
  let server: TestServer;
  let replay: ReplayDatabase;
  let redriven: string;
  beforeAll(async () => {
    [server, replay] = await Promise.all([startTestServer({ projectionFault: fault }), ReplayDatabase.create()]);
    const users = await Promise.all(Array.from({ length: 3 }, (_, i) => registerUser(server, `Replayed customer ${i}`)));
    const products = await Promise.all(Array.from({ length: 3 }, (_, i) => addProduct(server, `Replayed product ${i}`, `${i + 2}.25`)));
    const orders: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { orderId } = await placeOrder(server, users[i % 3]!.userId, [{ productId: products[i % 3]!.productId, quantity: 1 + (i % 2) }]);
      orders.push(orderId);
    }
    // A renamed customer: the orders projection renames their orders, in memory and set-wise.
    await server.ok(RENAME, { id: users[0]!.userId, v: users[0]!.version, name: 'Renamed customer' });
    // A dead letter, redriven: the log holds an operator's request, which a replay (where nothing fails) passes over.
    redriven = orders[1]!;
    poisoned.set(redriven, 'OrderConfirmed');
    await transition(server, 'confirmOrder', orders[1]!);
    const letters = async () => (await server.ok(STATUS)).projections.find((p: { name: string }) => p.name === 'orders').deadLetterCount;
    await vi.waitFor(async () => expect(await letters()).toBe(1), { timeout: 10_000, interval: 50 });
    poisoned.clear();
    expect((await server.ok(RETRY, { a: orders[1] })).retryDeadLetters).toEqual({ status: 'RUNNING', deadLetterCount: 0 });
    for (const orderId of orders.slice(2, 6)) await transition(server, 'confirmOrder', orderId);
    await cancel(server, orders[2]!, 'changed my mind');
    await waitUntilCaughtUp(server);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.stop(), replay?.dispose()]);
  });

  it('rebuilds what a catch-up replay builds, reading each batch once for every projection', async () => {
    const requests = await server.app.db.prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM event_log WHERE type = 'RedriveRequested'`;
    expect(requests[0]!.n, 'a redrive request lies in the replayed log').toBe(1);
    const batchSize = 4;
    const caughtUp = await replay.replayFrom(server.app.db.prisma, { batchSize });
    const { readModels, events, logReads } = await replay.rebuildFrom(server.app.db.prisma, { batchSize });
    expectSameReadModels(readModels, caughtUp);
    // Once per batch (the last one short or empty), not once per projection and batch.
    expect(PROJECTIONS.length).toBeGreaterThan(1);
    expect(logReads).toBe(Math.floor(events / batchSize) + 1);
    // And what the server projected, but for the redriven order: live, its event was applied at the request's
    // place in the log; a replay in which nothing fails applies it where it stands.
    const without = (snapshot: Record<string, string[]>) =>
      Object.fromEntries(Object.entries(snapshot).map(([table, rows]) => [table, rows.filter((r) => !r.includes(redriven))]));
    const live = await readModelSnapshot(server.app.db.prisma);
    expect(live.order_view!.filter((r) => r.includes(redriven)), 'the redriven order is compared apart').toHaveLength(1);
    expect(readModels.order_view!.find((r) => r.includes(redriven))).not.toEqual(live.order_view!.find((r) => r.includes(redriven)));
    expectSameReadModels(without(readModels), without(live));
  });

  it('stops at a batch a projection fails to apply, with its error; the others keep that batch, nothing after it is applied', async () => {
    const events = await replay.copyLog(server.app.db.prisma);
    const reader = new EventLogReader(replay.sql);
    const batchSize = 5;
    const failing = 'orders';
    // The 3rd batch fails for the orders projection (its first event that projection applies).
    const all = await reader.readAfter(LOG_START, events);
    const end = (batches: number) => all[batches * batchSize - 1]!.cursor;
    let thrown = 0;
    const projectors = PROJECTIONS.map(
      (projection) =>
        new Projector(replay.sql, reader, projection, {
          batchSize,
          beforeApply: (name, event) => {
            if (name !== failing) return;
            const index = all.findIndex((e) => e.eventId === event.eventId);
            if (index >= 2 * batchSize && index < 3 * batchSize) {
              thrown++;
              throw new Error('cannot project this batch (test fault)');
            }
          },
        }),
    );
    await expect(replayTogether(reader, projectors, { batchSize })).rejects.toThrow('cannot project this batch (test fault)');
    expect(thrown, 'the fault was injected').toBeGreaterThan(0);
    for (const projection of PROJECTIONS) {
      const at = formatCursor(await readCheckpoint(replay.sql, projection.name));
      expect(at, projection.name).toBe(formatCursor(end(projection.name === failing ? 2 : 3)));
    }
  });

  it('refuses projectors that stand at different checkpoints, before reading or applying anything', async () => {
    // As the test before left them: orders two batches in, the others three.
    const reader = new EventLogReader(replay.sql);
    const before = await Promise.all(PROJECTIONS.map((p) => readCheckpoint(replay.sql, p.name)));
    expect(new Set(before.map(formatCursor)).size, 'the checkpoints differ').toBe(2);
    const projectors = PROJECTIONS.map((projection) => new Projector(replay.sql, reader, projection, { batchSize: 5 }));
    const replaying = replayTogether(reader, projectors, { batchSize: 5 });
    await expect(replaying).rejects.toThrow(/replayTogether: every projector must stand at the same checkpoint; \w+ stands at \d+:\d+, \w+ at \d+:\d+/);
    expect(await Promise.all(PROJECTIONS.map((p) => readCheckpoint(replay.sql, p.name)))).toEqual(before);
  });

  it('refuses events not read right after the projector’s checkpoint, and applies none of them', async () => {
    const reader = new EventLogReader(replay.sql);
    const users = PROJECTIONS.find((p) => p.name === 'users')!;
    await resetProjection(replay.sql, users);
    const projector = new Projector(replay.sql, reader, users, { batchSize: 5 });
    const first = await reader.readAfter(LOG_START, 5);
    const later = await reader.readAfter(first[4]!.cursor, 5);
    await expect(projector.applyRead(first[4]!.cursor, later)).rejects.toThrow(
      `Projector.applyRead: events must be given right after the projector's checkpoint; users stands at 0:0, and the events given were read after ${formatCursor(first[4]!.cursor)}`,
    );
    expect(formatCursor(await readCheckpoint(replay.sql, 'users'))).toBe('0:0');
    expect(await replay.sql.$queryRaw<unknown[]>`SELECT id FROM user_view`).toEqual([]);
    // What it was given right after its checkpoint, it applies.
    expect(await projector.applyRead(LOG_START, first)).toBe(5);
    expect(formatCursor(await readCheckpoint(replay.sql, 'users'))).toBe(formatCursor(first[4]!.cursor));
  });
});
