/**
 * The Emmett peer behind HTTP for the peers-writes scenario: bare `node:http`,
 * `POST /placeOrder` with the same GraphQL request body our API gets (only
 * `variables.input` is read), which appends one OrderPlaced to a new stream
 * "order-<new id>" (expected version STREAM_DOES_NOT_EXIST) through an event
 * store with an inline Pongo projection: the order document is written in
 * the append's transaction (bench/peers/emmett.ts). Answers like our API,
 * with Emmett's global position: {"data":{"placeOrder":{"orderId","version":1,"position"}}}.
 *
 *   PORT=… DATABASE_URL=… BENCH_CATALOG=<file> node --import tsx bench/peers/emmett-server.ts
 *
 * BENCH_CATALOG holds the products ({id, name, priceCents}) and user ids the
 * orders may name: kept in memory, so this side reads nothing per request
 * (ours loads the customer and the products from the write model). Tokens
 * are not verified (like the raw baselines).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { emmettStore, STREAM_DOES_NOT_EXIST, type OrderPlaced, type PlacedLine } from './emmett.js';

const catalog = JSON.parse(readFileSync(process.env.BENCH_CATALOG!, 'utf8')) as {
  products: Array<{ id: string; name: string; priceCents: string }>;
  userIds: string[];
};
const products = new Map(catalog.products.map((p) => [p.id, { ...p, price: BigInt(p.priceCents) }]));
const users = new Set(catalog.userIds);
const money = (cents: bigint) => `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
const store = emmettStore(process.env.DATABASE_URL!, true);

/** Our decide's outcome for a valid order (src/domain/orders.ts), from the in-memory catalog. */
function decide(input: { userId: string; items: Array<{ productId: string; quantity: number }> }): OrderPlaced {
  if (!users.has(input.userId)) throw new Error(`unknown user ${input.userId}`);
  let total = 0n;
  const items = input.items.map((item): PlacedLine => {
    const product = products.get(item.productId);
    if (!product) throw new Error(`unknown product ${item.productId}`);
    const subtotal = product.price * BigInt(item.quantity);
    total += subtotal;
    return { productId: product.id, productName: product.name, quantity: item.quantity, unitPrice: money(product.price), subtotal: money(subtotal) };
  });
  return { type: 'OrderPlaced', data: { orderId: randomUUID(), userId: input.userId, items, total: money(total) } };
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') return void res.end('ok');
  if (req.method !== 'POST' || !req.url?.startsWith('/placeOrder')) return void res.writeHead(404).end();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      try {
        const { variables } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variables: { input: Parameters<typeof decide>[0] } };
        const event = decide(variables.input);
        const result = await store.appendToStream(`order-${event.data.orderId}`, [event], { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
        if (!result.createdNewStream || result.nextExpectedStreamVersion !== 1n) throw new Error('the stream was not created at version 1');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: { placeOrder: { orderId: event.data.orderId, version: 1, position: result.lastEventGlobalPosition.toString() } } }));
      } catch (error) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: error instanceof Error ? error.message : String(error) }] }));
      }
    })();
  });
});
await store.schema.migrate();
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => {
  server.close();
  void store.close().finally(() => process.exit(0));
});
