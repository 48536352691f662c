/**
 * Idempotent commands: every mutation input takes an optional
 * `idempotencyKey`. A retry with the same key and input answers with the
 * first result and writes nothing — also when the attempts run at the same
 * time; another input under the same key is IDEMPOTENCY_KEY_REUSED; keys
 * belong to their caller and expire.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customer } from '../support/auth.js';
import { addProduct, registerUser } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';

const PLACE = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { orderId version position order { id status } } }`;
const CONFIRM = `mutation($input: OrderCommandInput!) { confirmOrder(input: $input) { orderId version position } }`;

let server: TestServer;
let userId: string;
let productId: string;
beforeAll(async () => {
  server = await startTestServer();
  ({ userId } = await registerUser(server, 'Idem Potent'));
  ({ productId } = await addProduct(server, 'Retry-safe widget', '5.00'));
});
afterAll(() => server?.stop());

async function eventCount(type?: string): Promise<number> {
  const rows = await server.app.db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
    `SELECT count(*)::int AS n FROM event_log ${type ? `WHERE type = '${type}'` : ''}`,
  );
  return rows[0]!.n;
}

const order = (key: string, quantity = 1) => ({ input: { userId, items: [{ productId, quantity }], idempotencyKey: key } });

describe('idempotency keys', () => {
  it('a retry with the same key and input returns the first payload and writes nothing', async () => {
    const first = await server.ok(PLACE, order('order-retry-1'));
    const events = await eventCount();
    const again = await server.ok(PLACE, order('order-retry-1'));
    expect(again).toEqual(first);
    expect(await eventCount()).toBe(events);
    // The key is not part of the event.
    const [event] = await server.app.db.prisma.$queryRawUnsafe<Array<{ data: Record<string, unknown> }>>(
      `SELECT data FROM event_log WHERE aggregate_id = '${first.placeOrder.orderId}'::uuid`,
    );
    expect(JSON.stringify(event!.data)).not.toContain('order-retry-1');
  });

  it('the same key with a different input is IDEMPOTENCY_KEY_REUSED, and nothing is written', async () => {
    await server.ok(PLACE, order('order-retry-2', 1));
    const events = await eventCount();
    const other = await server.gql(PLACE, order('order-retry-2', 2));
    expect(other.errors?.[0]).toMatchObject({ extensions: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(other.errors?.[0]?.message).toMatch(/already used for a different placeOrder input/);
    // …and for another command.
    const confirm = await server.gql(CONFIRM, { input: { orderId: (await server.ok(PLACE, order('fresh'))).placeOrder.orderId, idempotencyKey: 'order-retry-2' } });
    expect(confirm.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await eventCount()).toBe(events + 1);
  });

  it('concurrent attempts with one key place exactly one order, and all get its result', async () => {
    const before = await eventCount('OrderPlaced');
    const results = await Promise.all(Array.from({ length: 12 }, () => server.gql(PLACE, order('order-burst'))));
    for (const r of results) expect(r.errors).toBeUndefined();
    const ids = new Set(results.map((r) => r.data.placeOrder.orderId));
    expect(ids.size).toBe(1);
    expect(new Set(results.map((r) => r.data.placeOrder.position)).size).toBe(1);
    expect(await eventCount('OrderPlaced')).toBe(before + 1);
  });

  it('concurrent retries of a state change apply it once: no INVALID_TRANSITION for the losers', async () => {
    const { orderId } = (await server.ok(PLACE, order('to-confirm'))).placeOrder;
    const results = await Promise.all(
      Array.from({ length: 8 }, () => server.gql(CONFIRM, { input: { orderId, idempotencyKey: 'confirm-burst' } })),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => JSON.stringify(r.data.confirmOrder)))).toEqual(
      new Set([JSON.stringify({ orderId, version: 2, position: results[0]!.data.confirmOrder.position })]),
    );
    const confirmed = await server.app.db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM event_log WHERE type = 'OrderConfirmed' AND aggregate_id = '${orderId}'::uuid`,
    );
    expect(confirmed[0]!.n).toBe(1);
    // Without a key, a repeat is the domain's answer.
    const plain = await server.gql(CONFIRM, { input: { orderId } });
    expect(plain.errors?.[0]?.extensions?.code).toBe('INVALID_TRANSITION');
  });

  it("keys belong to their caller: another customer's identical key is a different command", async () => {
    const other = await registerUser(server, 'Other Customer');
    const mine = await server.as(customer(userId)).ok(PLACE, order('shared-key'));
    const theirs = await server
      .as(customer(other.userId))
      .ok(PLACE, { input: { userId: other.userId, items: [{ productId, quantity: 1 }], idempotencyKey: 'shared-key' } });
    expect(theirs.placeOrder.orderId).not.toBe(mine.placeOrder.orderId);
  });

  it('sign-ups are idempotent too: a retried registerUser returns the same user, not ALREADY_EXISTS', async () => {
    const input = { name: 'Retrying Rita', email: 'rita.retry@example.com', idempotencyKey: 'signup-rita' };
    const REGISTER = `mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId version user { name } } }`;
    const first = await server.as('anonymous').ok(REGISTER, { input });
    const again = await server.as('anonymous').ok(REGISTER, { input });
    expect(again).toEqual(first);
  });

  it.each([
    ['empty', ''],
    ['201 characters', 'k'.repeat(201)],
    ['a control character', 'key\nwith newline'],
  ])('a key that is %s is BAD_USER_INPUT on idempotencyKey, and nothing is written', async (_label, key) => {
    const events = await eventCount();
    const res = await server.gql(PLACE, order(key));
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });
    expect(await eventCount()).toBe(events);
  });
});

describe('expired idempotency keys', () => {
  it('are forgotten after IDEMPOTENCY_KEY_TTL_HOURS: the same key then runs the command again', async () => {
    const short = await startTestServer({ IDEMPOTENCY_KEY_TTL_HOURS: 1 / 3600 }); // one second
    try {
      const { userId: u } = await registerUser(short, 'Shortlived');
      const { productId: p } = await addProduct(short, 'Ephemeral', '1.00');
      const input = { input: { userId: u, items: [{ productId: p, quantity: 1 }], idempotencyKey: 'short' } };
      const first = await short.ok(PLACE, input);
      expect((await short.ok(PLACE, input)).placeOrder.orderId).toBe(first.placeOrder.orderId);
      await new Promise((r) => setTimeout(r, 1200));
      const later = await short.ok(PLACE, input);
      expect(later.placeOrder.orderId).not.toBe(first.placeOrder.orderId);
    } finally {
      await short.stop();
    }
  });
});
