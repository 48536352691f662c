/**
 * The raw baseline: what the same work costs with no framework at all — a
 * bare `node:http` handler and `pg` (no GraphQL, no Apollo/express, no
 * Prisma, no DataLoader). Same PostgreSQL server, same migrated schema, same
 * pool size as the API under test, same request bodies, and responses with
 * the same JSON shape as the API's.
 *
 *   POST /placeOrder  body { variables: { input: { userId, items } } }
 *     reads the user and the products (2 statements in parallel, as the API
 *     does), then in ONE transaction (BEGIN; INSERT orders; INSERT order_lines
 *     (one multi-row statement); INSERT event_log … RETURNING; COMMIT) writes
 *     the same rows and the same OrderPlaced event. With `?notify=1`, the
 *     transaction also sends NOTIFY bench_orders '<orderId>' (the lag baseline).
 *   POST /placeOrder?statements=1   as the API writes: ONE read (user and
 *     products together), then ONE statement (data-modifying CTEs) for the
 *     order, its lines and its event.
 *   POST /order       body { variables: { id } }       order_view → user_view + product_view
 *   POST /user        body { variables: { id } }       user_view
 *   POST /orders      body { variables: { userId } }   page of 20 + count → user_view + product_view
 *   POST /user?memo=1, /order?memo=1   the same answer from a Map filled by the
 *     first read of each id and never invalidated: what a Node server with a
 *     perfect cache and no GraphQL at all can do on this machine — a ceiling,
 *     not a correct cache (it would serve stale views after a write).
 *
 * Env: DATABASE_URL, PORT, DB_POOL_SIZE (default 10, like the API).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_SIZE ?? 10) });
pool.on('error', () => undefined);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function cents(text: string): bigint {
  const [whole, fraction = ''] = text.split('.');
  return BigInt(whole!) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2));
}
function money(value: bigint): string {
  return `${value / 100n}.${(value % 100n).toString().padStart(2, '0')}`;
}

class BadInput extends Error {}

function send(res: http.ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(new BadInput(String(error)));
      }
    });
    req.on('error', reject);
  });
}

type OrderInput = { userId: string; items: Array<{ productId: string; quantity: number }> };

/** The API's input rules for placeOrder (one user, 1–100 distinct products, quantities 1–10,000): its items, or BadInput. */
function validItems(input: OrderInput): OrderInput['items'] {
  const items = input?.items ?? [];
  if (!UUID.test(input?.userId ?? '') || items.length < 1 || items.length > 100) throw new BadInput('bad input');
  const seen = new Set<string>();
  for (const item of items) {
    if (!UUID.test(item.productId) || seen.has(item.productId)) throw new BadInput('bad productId');
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > 10_000) throw new BadInput('bad quantity');
    seen.add(item.productId);
  }
  return items;
}

/** Each line priced from the catalog as the API prices it (cents, no floats), and the order's total in cents. */
function priceLines(items: OrderInput['items'], catalog: Map<string, { id: string; name: string; price: string }>) {
  let total = 0n;
  const lines = items.map((item) => {
    const product = catalog.get(item.productId);
    if (!product) throw new BadInput('product not found');
    const unit = cents(product.price);
    const subtotal = unit * BigInt(item.quantity);
    total += subtotal;
    return { productId: product.id, productName: product.name, quantity: item.quantity, unitPrice: money(unit), subtotal: money(subtotal) };
  });
  return { lines, total };
}

async function placeOrder(input: OrderInput, notify: boolean) {
  const items = validItems(input);
  const [user, products] = await Promise.all([
    pool.query('SELECT id FROM users WHERE id = $1', [input.userId]),
    pool.query<{ id: string; name: string; price: string }>('SELECT id, name, price::text FROM products WHERE id = ANY($1::uuid[])', [
      items.map((i) => i.productId),
    ]),
  ]);
  if (user.rowCount === 0) throw new BadInput('user not found');
  const catalog = new Map(products.rows.map((p) => [p.id, p]));
  const { lines, total } = priceLines(items, catalog);
  const orderId = randomUUID();
  const now = new Date();
  const requestId = randomUUID();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO orders (id, user_id, status, cancellation_reason, total, version, created_at, updated_at)
       VALUES ($1, $2, 'PENDING', NULL, $3, 1, $4, $4)`,
      [orderId, input.userId, money(total), now],
    );
    const values: unknown[] = [orderId];
    const tuples = lines.map((l, i) => {
      values.push(i + 1, l.productId, l.productName, l.unitPrice, l.quantity);
      const b = i * 5;
      return `($1, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
    });
    await client.query(
      `INSERT INTO order_lines (order_id, line_no, product_id, product_name, unit_price, quantity) VALUES ${tuples.join(', ')}`,
      values,
    );
    const event = await client.query<{ tx: string; pos: string }>(
      `INSERT INTO event_log (event_id, type, schema_version, aggregate_type, aggregate_id, aggregate_version, data, metadata, occurred_at)
       VALUES ($1, 'OrderPlaced', 1, 'Order', $2, 1, $3, $4, $5) RETURNING tx_id::text AS tx, position::text AS pos`,
      [
        randomUUID(),
        orderId,
        JSON.stringify({ orderId, userId: input.userId, items: lines, total: money(total) }),
        JSON.stringify({ correlationId: requestId, requestId }),
        now,
      ],
    );
    if (notify) await client.query(`SELECT pg_notify('bench_orders', $1)`, [orderId]);
    await client.query('COMMIT');
    const row = event.rows[0]!;
    return { data: { placeOrder: { orderId, version: 1, position: `${row.tx}:${row.pos}` } } };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The same command as the API sends it to PostgreSQL: one combined read, one write statement. */
async function placeOrderOneStatement(input: OrderInput) {
  const items = validItems(input);
  const read = await pool.query<{ user_found: boolean; products: Array<{ id: string; name: string; price: string }> }>(
    `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS user_found,
       coalesce((SELECT json_agg(json_build_object('id', id, 'name', name, 'price', price::text)) FROM products WHERE id = ANY($2::uuid[])), '[]') AS products`,
    [input.userId, items.map((i) => i.productId)],
  );
  const { user_found, products } = read.rows[0]!;
  if (!user_found) throw new BadInput('user not found');
  const catalog = new Map(products.map((p) => [p.id, p]));
  const { lines, total } = priceLines(items, catalog);
  const orderId = randomUUID();
  const now = new Date();
  const requestId = randomUUID();
  const rows = lines.map((l, i) => ({ line_no: i + 1, product_id: l.productId, product_name: l.productName, unit_price: l.unitPrice, quantity: l.quantity }));
  const event = await pool.query<{ tx: string; pos: string }>(
    `WITH o AS (
       INSERT INTO orders (id, user_id, status, cancellation_reason, total, version, created_at, updated_at)
       VALUES ($1, $2, 'PENDING', NULL, $3, 1, $4, $4)
     ), l AS (
       INSERT INTO order_lines (order_id, line_no, product_id, product_name, unit_price, quantity)
       SELECT $1, x.line_no, x.product_id, x.product_name, x.unit_price, x.quantity
       FROM jsonb_to_recordset($5::jsonb) AS x(line_no int, product_id uuid, product_name text, unit_price numeric, quantity int)
     )
     INSERT INTO event_log (event_id, type, schema_version, aggregate_type, aggregate_id, aggregate_version, data, metadata, occurred_at)
     VALUES ($6, 'OrderPlaced', 1, 'Order', $1, 1, $7, $8, $4) RETURNING tx_id::text AS tx, position::text AS pos`,
    [
      orderId,
      input.userId,
      money(total),
      now,
      JSON.stringify(rows),
      randomUUID(),
      JSON.stringify({ orderId, userId: input.userId, items: lines, total: money(total) }),
      JSON.stringify({ correlationId: requestId, requestId }),
    ],
  );
  const row = event.rows[0]!;
  return { data: { placeOrder: { orderId, version: 1, position: `${row.tx}:${row.pos}` } } };
}

const DISPLAY: Record<string, string> = { PENDING: 'Pending', CONFIRMED: 'Confirmed', SHIPPED: 'Shipped', DELIVERED: 'Delivered' };

interface OrderRow {
  id: string;
  user_id: string;
  status: string;
  cancellation_reason: string | null;
  total: string;
  item_count: number;
  items: Array<{ productId: string; productName: string; quantity: number; price: string; subtotal: string }>;
  last_tx: string;
  last_pos: string;
  created_at: Date;
  updated_at: Date;
}

async function productsById(ids: Iterable<string>) {
  const { rows } = await pool.query<{ id: string; name: string; price: string }>(
    'SELECT id, name, price::text FROM product_view WHERE id = ANY($1::uuid[])',
    [[...new Set(ids)]],
  );
  return new Map(rows.map((p) => [p.id, { id: p.id, name: p.name, price: p.price }]));
}

async function order(id: string) {
  if (!UUID.test(id ?? '')) return { data: { order: null } };
  const { rows } = await pool.query<OrderRow>(
    `SELECT id, user_id, status::text, cancellation_reason, total::text, item_count, items, last_tx::text, last_pos::text, created_at, updated_at
     FROM order_view WHERE id = $1`,
    [id],
  );
  const o = rows[0];
  if (!o) return { data: { order: null } };
  const [users, products] = await Promise.all([
    pool.query<{ id: string; name: string; email: string; order_count: number; total_spent: string }>(
      'SELECT id, name, email, order_count, total_spent::text FROM user_view WHERE id = $1',
      [o.user_id],
    ),
    productsById(o.items.map((i) => i.productId)),
  ]);
  const u = users.rows[0];
  return {
    data: {
      order: {
        id: o.id,
        status: o.status,
        statusDisplay: o.status === 'CANCELLED' ? `Cancelled (${o.cancellation_reason ?? ''})` : DISPLAY[o.status],
        total: o.total,
        itemCount: o.item_count,
        position: `${o.last_tx}:${o.last_pos}`,
        createdAt: o.created_at.toISOString(),
        updatedAt: o.updated_at.toISOString(),
        user: u ? { id: u.id, name: u.name, email: u.email, orderCount: u.order_count, totalSpent: u.total_spent } : null,
        items: o.items.map((i) => ({
          productId: i.productId,
          productName: i.productName,
          quantity: i.quantity,
          price: i.price,
          subtotal: i.subtotal,
          product: products.get(i.productId) ?? null,
        })),
      },
    },
  };
}

async function user(id: string) {
  if (!UUID.test(id ?? '')) return { data: { user: null } };
  const { rows } = await pool.query<{
    id: string; name: string; email: string; order_count: number; total_spent: string; last_tx: string; last_pos: string; created_at: Date; updated_at: Date;
  }>(
    `SELECT id, name, email, order_count, total_spent::text, last_tx::text, last_pos::text, created_at, updated_at FROM user_view WHERE id = $1`,
    [id],
  );
  const u = rows[0];
  return {
    data: {
      user: u
        ? {
            id: u.id, name: u.name, email: u.email, orderCount: u.order_count, totalSpent: u.total_spent,
            position: `${u.last_tx}:${u.last_pos}`, createdAt: u.created_at.toISOString(), updatedAt: u.updated_at.toISOString(),
          }
        : null,
    },
  };
}

async function orders(userId: string) {
  if (!UUID.test(userId ?? '')) return { data: { orders: { total: 0, totalPages: 0, orders: [] } } };
  const [page, count] = await Promise.all([
    pool.query<Pick<OrderRow, 'id' | 'user_id' | 'status' | 'total' | 'created_at' | 'items'>>(
      `SELECT id, user_id, status::text, total::text, created_at, items FROM order_view
       WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20`,
      [userId],
    ),
    pool.query<{ n: number }>('SELECT count(*)::int AS n FROM order_view WHERE user_id = $1', [userId]),
  ]);
  const userIds = [...new Set(page.rows.map((o) => o.user_id))];
  const [users, products] = await Promise.all([
    pool.query<{ id: string; name: string }>('SELECT id, name FROM user_view WHERE id = ANY($1::uuid[])', [userIds]),
    productsById(page.rows.flatMap((o) => o.items.map((i) => i.productId))),
  ]);
  const usersById = new Map(users.rows.map((u) => [u.id, { id: u.id, name: u.name }]));
  const total = count.rows[0]!.n;
  return {
    data: {
      orders: {
        total,
        totalPages: Math.ceil(total / 20),
        orders: page.rows.map((o) => ({
          id: o.id,
          status: o.status,
          total: o.total,
          createdAt: o.created_at.toISOString(),
          user: usersById.get(o.user_id) ?? null,
          items: o.items.map((i) => ({ productId: i.productId, quantity: i.quantity, product: products.get(i.productId) ?? null })),
        })),
      },
    },
  };
}

/** A handler's result when it has answered itself. */
const SENT = Symbol('sent');

/** The ?memo=1 answers, by path and id, as sent (see the header). */
const memo = new Map<string, string>();

function memoized(key: string, answer: () => Promise<unknown>): Promise<string> {
  const hit = memo.get(key);
  if (hit !== undefined) return Promise.resolve(hit);
  return answer().then((result) => {
    const text = JSON.stringify(result);
    memo.set(key, text);
    return text;
  });
}

function sendText(res: http.ServerResponse, text: string): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
  if (req.method !== 'POST') return send(res, 404, { error: 'not found' });
  readBody(req)
    .then((body): Promise<unknown> | null => {
      const variables = body?.variables ?? {};
      if (url.searchParams.get('memo') === '1' && (url.pathname === '/user' || url.pathname === '/order')) {
        const id = String(variables.id);
        return memoized(`${url.pathname}:${id}`, () => (url.pathname === '/user' ? user(id) : order(id))).then((text) => {
          sendText(res, text);
          return SENT;
        });
      }
      switch (url.pathname) {
        case '/placeOrder':
          return url.searchParams.get('statements') === '1'
            ? placeOrderOneStatement(variables.input)
            : placeOrder(variables.input, url.searchParams.get('notify') === '1');
        case '/order':
          return order(variables.id);
        case '/orders':
          return orders(variables.userId);
        case '/user':
          return user(variables.id);
        default:
          return null;
      }
    })
    .then(
      (result) => (result === SENT ? undefined : result ? send(res, 200, result) : send(res, 404, { error: 'not found' })),
      (error: unknown) =>
        send(res, error instanceof BadInput ? 400 : 500, { errors: [{ message: error instanceof Error ? error.message : String(error) }] }),
    );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ msg: 'baseline listening', port: typeof address === 'object' && address ? address.port : 0 }));
});
const shutdown = () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
