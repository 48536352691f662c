import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testDbKind, type TestServer } from '../support/server.js';
import { addProduct } from '../support/operations.js';

/**
 * Sequences commit out of order: a transaction can take a low position and
 * commit after one with a higher position. A projector that trusted
 * `position > checkpoint` would skip it. These tests hold such a transaction
 * open on a second connection (PostgreSQL only: PGlite has one connection).
 */
describe.skipIf(testDbKind() !== 'postgres')('event log reading with transactions in flight', () => {
  let server: TestServer;
  let held: pg.Client;
  beforeAll(async () => {
    server = await startTestServer();
    held = new pg.Client({ connectionString: server.database.databaseUrl });
    await held.connect();
  });
  afterAll(async () => {
    await held?.end();
    await server?.stop();
  });

  async function insertProductAdded(client: pg.Client, name: string) {
    const id = randomUUID();
    const { rows } = await client.query<{ position: string }>(
      `INSERT INTO event_log (event_id, type, schema_version, aggregate_type, aggregate_id, aggregate_version, data, metadata, occurred_at)
       VALUES ($1, 'ProductAdded', 1, 'Product', $2, 1, $3, '{"correlationId":"test"}', now()) RETURNING position::text`,
      [randomUUID(), id, JSON.stringify({ productId: id, name, price: '1.00' })],
    );
    return { id, position: BigInt(rows[0]!.position) };
  }

  const productView = async (id: string) =>
    (await server.ok(`query($id: ID!) { product(id: $id) { name } }`, { id })).product;

  /**
   * Catches up until the view appears. Transactions anywhere on the server
   * (other test files run in parallel) also hold the horizon back for a moment.
   */
  async function eventually(id: string, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const projector of server.app.projectors) await projector.catchUp();
      const view = await productView(id);
      if (view || Date.now() > deadline) return view;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('does not pass a low position whose transaction is still open, and projects it once it commits', async () => {
    await held.query('BEGIN');
    const low = await insertProductAdded(held, 'Held back');
    // A later command commits with a higher position while `low` is in flight.
    const product = server.gql(`mutation { addProduct(input: {name: "Committed", price: "2.00"}) { productId position } }`);
    const committed = (await product).data.addProduct;
    expect(BigInt(committed.position.split(':')[1])).toBeGreaterThan(low.position);
    for (const projector of server.app.projectors) await projector.catchUp();
    expect(await productView(low.id)).toBeNull();
    expect(await productView(committed.productId)).toBeNull(); // read-back waits for the horizon too
    await held.query('COMMIT');
    expect(await eventually(low.id)).toEqual({ name: 'Held back' });
    expect(await eventually(committed.productId)).toEqual({ name: 'Committed' });
  });

  it('projects a low position committed AFTER a higher one from an older transaction', async () => {
    const older = new pg.Client({ connectionString: server.database.databaseUrl });
    await older.connect();
    try {
      // `older` takes its transaction id first, `held` takes the lower position, `older` commits first.
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()');
      await held.query('BEGIN');
      const low = await insertProductAdded(held, 'Low position, late commit');
      const high = await insertProductAdded(older, 'High position, early commit');
      expect(high.position).toBeGreaterThan(low.position);
      await older.query('COMMIT');
      // `older` took its transaction id before `held`, so its higher position
      // is readable (and read) while the lower one is still in flight...
      expect(await eventually(high.id)).toEqual({ name: 'High position, early commit' });
      expect(await productView(low.id)).toBeNull();
      // ...and the lower position, committed later, is still projected.
      await held.query('COMMIT');
      expect(await eventually(low.id)).toEqual({ name: 'Low position, late commit' });
      const [{ n }] = (await server.app.db.prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM product_view`) as [{ n: number }];
      const [{ m }] = (await server.app.db.prisma.$queryRaw<Array<{ m: number }>>`
        SELECT count(DISTINCT aggregate_id)::int AS m FROM event_log WHERE aggregate_type = 'Product'`) as [{ m: number }];
      expect(n).toBe(m);
    } finally {
      await older.end();
    }
  });

  it('answers read-your-writes once the horizon passes', async () => {
    const p = await addProduct(server, 'Plain', '3.00');
    expect(p.product).toMatchObject({ name: 'Plain', price: '3.00' });
  });
});
