/**
 * A projector's batch goes out as one statement with its checkpoint's move
 * (guarded by the checkpoint it read from). When someone else moved the
 * checkpoint meanwhile — a blue/green rebuild swapped its tables in, another
 * process ran the projection — the batch must leave nothing behind: no view,
 * no history row, the other's checkpoint as it was.
 *
 * PostgreSQL server only: the projector runs in a database of its own, on a
 * copy of a live server's log (see test/support/replay.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import { EventLogReader } from '../../src/eventlog/reader.js';
import { CheckpointMovedError, Projector } from '../../src/projections/projector.js';
import { readCheckpoint } from '../../src/projections/status.js';
import { ordersProjection } from '../../src/read-models/orders/projection.js';
import { addProduct, placeOrder, registerUser } from '../support/operations.js';
import { ReplayDatabase, waitUntilCaughtUp } from '../support/replay.js';
import { startTestServer, testDbKind, type TestServer } from '../support/server.js';

const postgres = testDbKind() === 'postgres';

describe.runIf(postgres)('a batch whose checkpoint someone else moved', () => {
  let server: TestServer;
  let replay: ReplayDatabase;
  beforeAll(async () => {
    [server, replay] = await Promise.all([startTestServer(), ReplayDatabase.create()]);
    const { userId } = await registerUser(server, 'Guarded customer');
    const { productId } = await addProduct(server, 'Guarded product', '4.50');
    for (let i = 0; i < 3; i++) await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    await waitUntilCaughtUp(server);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([server?.stop(), replay?.dispose()]);
  });

  it('writes none of its views and histories, and leaves the checkpoint where the other put it', async () => {
    const events = await replay.copyLog(server.app.db.prisma);
    const count = async (table: string) =>
      (await replay.sql.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM ${Prisma.raw(table)}`)[0]!.n;
    const reader = new EventLogReader(replay.sql);
    const projector = new Projector(replay.sql, reader, ordersProjection, { batchSize: 100 });
    const from = await projector.currentPosition(); // read now; the batch below is guarded by it
    const [first] = await reader.readAfter(from, 1);
    await replay.sql.$executeRaw`
      INSERT INTO projection_checkpoint (name, last_tx, last_pos, updated_at)
      VALUES ('orders', ${first!.cursor.tx}, ${first!.cursor.pos}, now())`;

    await expect(projector.catchUp()).rejects.toBeInstanceOf(CheckpointMovedError);
    expect(events).toBeGreaterThan(3);
    expect(await count('order_view')).toBe(0);
    expect(await count('order_view_change')).toBe(0);
    expect(await count('order_view_user')).toBe(0);
    expect(await readCheckpoint(replay.sql, 'orders')).toEqual(first!.cursor);

    // Where the checkpoint now stands, the projector goes on: the same batch, applied once.
    projector.resetCheckpoint();
    expect(await projector.catchUp()).toBe(events - 1);
    expect(await count('order_view')).toBe(3);
  });
});
