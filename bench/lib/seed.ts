/**
 * Bench data, written straight into PostgreSQL (not through the API) so that
 * seeding takes seconds: write-model rows and their events, in the exact
 * shapes the command side writes (see src/write-model/stores.ts,
 * src/eventlog/append.ts and the domain events in src/domain/). Projections
 * then build the read models from these events as they would from real ones.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** A small deterministic PRNG (mulberry32), so every run seeds the same shapes. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function money(cents: bigint): string {
  const whole = cents / 100n;
  return `${whole}.${(cents % 100n).toString().padStart(2, '0')}`;
}

export interface EventRow {
  event_id: string;
  type: string;
  schema_version: number;
  aggregate_type: 'User' | 'Product' | 'Order';
  aggregate_id: string;
  aggregate_version: number;
  data: unknown;
  metadata: { correlationId: string; requestId: string };
  occurred_at: string;
}

interface UserState {
  id: string;
  name: string;
  email: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}
interface ProductState {
  id: string;
  name: string;
  price: bigint;
  version: number;
  createdAt: string;
  updatedAt: string;
}
interface OrderState {
  id: string;
  userId: string;
  status: 'PENDING' | 'CONFIRMED' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED';
  reason: string | null;
  total: bigint;
  version: number;
  createdAt: string;
  updatedAt: string;
  lines: Array<{ productId: string; productName: string; unitPrice: bigint; quantity: number }>;
}

type Step = 'OrderConfirmed' | 'OrderShipped' | 'OrderDelivered' | 'OrderCancelled';

/** The world the events describe; folds into write-model rows. */
export class World {
  readonly users: UserState[] = [];
  readonly products: ProductState[] = [];
  readonly orders = new Map<string, OrderState>();
  readonly events: EventRow[] = [];
  /** The customer of `WorldPlan.heavyCustomerOrders`, if any. */
  heavyCustomer: UserState | undefined;
  private clock = Date.parse('2026-01-01T00:00:00.000Z');
  private readonly random: () => number;

  constructor(seed = 42) {
    this.random = rng(seed);
  }

  private tick(): string {
    this.clock += 7;
    return new Date(this.clock).toISOString();
  }

  private emit(type: string, aggregateType: EventRow['aggregate_type'], id: string, version: number, data: unknown, at: string) {
    const correlationId = randomUUID();
    this.events.push({
      event_id: randomUUID(),
      type,
      schema_version: 1,
      aggregate_type: aggregateType,
      aggregate_id: id,
      aggregate_version: version,
      data,
      metadata: { correlationId, requestId: correlationId },
      occurred_at: at,
    });
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  registerUser(): UserState {
    const n = this.users.length + 1;
    const at = this.tick();
    const user = { id: randomUUID(), name: `Bench User ${n}`, email: `user${n}.${process.pid}@bench.example`, version: 1, createdAt: at, updatedAt: at };
    this.users.push(user);
    this.emit('UserRegistered', 'User', user.id, 1, { userId: user.id, name: user.name, email: user.email }, at);
    return user;
  }

  updateProfile(user: UserState): void {
    const at = this.tick();
    user.version++;
    user.name = `Bench User ${user.id.slice(0, 8)} v${user.version}`;
    user.updatedAt = at;
    this.emit('UserProfileUpdated', 'User', user.id, user.version, { userId: user.id, name: user.name, email: user.email }, at);
  }

  addProduct(): ProductState {
    const n = this.products.length + 1;
    const at = this.tick();
    const price = BigInt(100 + Math.floor(this.random() * 9900));
    const product = { id: randomUUID(), name: `Bench Product ${n}`, price, version: 1, createdAt: at, updatedAt: at };
    this.products.push(product);
    this.emit('ProductAdded', 'Product', product.id, 1, { productId: product.id, name: product.name, price: money(price) }, at);
    return product;
  }

  updateProduct(product: ProductState): void {
    const at = this.tick();
    product.version++;
    product.price += 1n;
    product.updatedAt = at;
    this.emit('ProductUpdated', 'Product', product.id, product.version, { productId: product.id, name: product.name, price: money(product.price) }, at);
  }

  /** OrderPlaced with `lineCount` distinct products. */
  placeOrder(user: UserState, lineCount = 3): OrderState {
    const at = this.tick();
    const chosen = new Set<ProductState>();
    while (chosen.size < Math.min(lineCount, this.products.length)) chosen.add(this.pick(this.products));
    const lines = [...chosen].map((p) => ({ productId: p.id, productName: p.name, unitPrice: p.price, quantity: 1 + Math.floor(this.random() * 5) }));
    const total = lines.reduce((sum, l) => sum + l.unitPrice * BigInt(l.quantity), 0n);
    const order: OrderState = { id: randomUUID(), userId: user.id, status: 'PENDING', reason: null, total, version: 1, createdAt: at, updatedAt: at, lines };
    this.orders.set(order.id, order);
    this.emit(
      'OrderPlaced',
      'Order',
      order.id,
      1,
      {
        orderId: order.id,
        userId: user.id,
        items: lines.map((l) => ({
          productId: l.productId,
          productName: l.productName,
          quantity: l.quantity,
          unitPrice: money(l.unitPrice),
          subtotal: money(l.unitPrice * BigInt(l.quantity)),
        })),
        total: money(total),
      },
      at,
    );
    return order;
  }

  step(order: OrderState, type: Step): void {
    const at = this.tick();
    order.version++;
    order.updatedAt = at;
    if (type === 'OrderCancelled') {
      order.status = 'CANCELLED';
      order.reason = 'Changed my mind';
      this.emit(type, 'Order', order.id, order.version, { orderId: order.id, reason: order.reason }, at);
      return;
    }
    order.status = type === 'OrderConfirmed' ? 'CONFIRMED' : type === 'OrderShipped' ? 'SHIPPED' : 'DELIVERED';
    this.emit(type, 'Order', order.id, order.version, { orderId: order.id }, at);
  }

  /** A random life after placement: confirm 70%, ship 60% of those, deliver 70% of those; 10% cancelled. */
  lifecycle(): Step[] {
    const r = this.random;
    if (r() < 0.1) return ['OrderCancelled'];
    if (r() > 0.7) return [];
    const steps: Step[] = ['OrderConfirmed'];
    if (r() < 0.6) {
      steps.push('OrderShipped');
      if (r() < 0.7) steps.push('OrderDelivered');
    } else if (r() < 0.15) {
      steps.push('OrderCancelled');
    }
    return steps;
  }
}

export interface WorldPlan {
  readonly users: number;
  readonly products: number;
  /** Orders per user (ignored when totalEvents is given). */
  readonly ordersPerUser?: number;
  /** Stop at exactly this many events, placing orders until then. */
  readonly totalEvents?: number;
  readonly profileUpdates?: number;
  readonly productUpdates?: number;
  readonly seed?: number;
  /** One more customer, registered last, with this many orders placed after everything else (kept PENDING). */
  readonly heavyCustomerOrders?: number;
}

/**
 * Users and products first, then orders in waves of 500; each order's later
 * steps land in the following waves, profile and price updates are spread in
 * between: the log interleaves aggregates as real traffic would.
 */
export function buildWorld(plan: WorldPlan): World {
  const world = new World(plan.seed);
  for (let i = 0; i < plan.products; i++) world.addProduct();
  for (let i = 0; i < plan.users; i++) world.registerUser();
  const limit = plan.totalEvents ?? Infinity;
  const orderCount = plan.totalEvents ? Infinity : plan.users * (plan.ordersPerUser ?? 0);
  const profileUpdates = plan.profileUpdates ?? 0;
  const productUpdates = plan.productUpdates ?? 0;
  const wave = 500;
  const pending: Array<{ order: OrderState; steps: Step[] }> = [];
  let placed = 0;
  let waves = 0;
  const expectedWaves = plan.totalEvents ? Math.ceil(plan.totalEvents / (wave * 2.2)) : Math.ceil(orderCount / wave);
  const full = () => world.events.length >= limit;
  while (!full() && (placed < orderCount || pending.length > 0)) {
    waves++;
    for (let i = 0; i < wave && placed < orderCount && !full(); i++, placed++) {
      const order = world.placeOrder(plan.totalEvents ? world.pick(world.users) : world.users[placed % world.users.length]!);
      pending.push({ order, steps: world.lifecycle() });
    }
    // Advance every pending order by one step (they were placed in earlier waves or just now).
    for (let i = pending.length - 1; i >= 0 && !full(); i--) {
      const entry = pending[i]!;
      const next = entry.steps.shift();
      if (next) world.step(entry.order, next);
      if (entry.steps.length === 0) pending.splice(i, 1);
    }
    for (let i = 0; i < Math.ceil(profileUpdates / expectedWaves) && !full(); i++) world.updateProfile(world.pick(world.users));
    for (let i = 0; i < Math.ceil(productUpdates / expectedWaves) && !full(); i++) world.updateProduct(world.pick(world.products));
    if (plan.totalEvents && placed > 10_000_000) throw new Error('runaway world');
  }
  if (plan.heavyCustomerOrders) {
    const heavy = world.registerUser();
    world.heavyCustomer = heavy;
    for (let i = 0; i < plan.heavyCustomerOrders; i++) world.placeOrder(heavy);
  }
  return world;
}

const BATCH = 2000;

async function insertJson(client: pg.Client | pg.PoolClient, sql: string, rows: readonly unknown[]): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) {
    await client.query(sql, [JSON.stringify(rows.slice(i, i + BATCH))]);
  }
}

/** Appends the world's events to event_log in log order, BATCH rows per statement (each its own transaction). */
export async function insertEvents(client: pg.Client, events: readonly EventRow[]): Promise<void> {
  await insertJson(
    client,
    `INSERT INTO event_log (event_id, type, schema_version, aggregate_type, aggregate_id, aggregate_version, data, metadata, occurred_at)
     SELECT x.event_id, x.type, x.schema_version, x.aggregate_type, x.aggregate_id, x.aggregate_version, x.data, x.metadata, x.occurred_at
     FROM jsonb_to_recordset($1::jsonb) AS x(seq int, event_id uuid, type text, schema_version int, aggregate_type text,
       aggregate_id uuid, aggregate_version int, data jsonb, metadata jsonb, occurred_at timestamptz)
     ORDER BY x.seq`,
    events.map((e, seq) => ({ seq, ...e })),
  );
}

/** Writes the world's final state into the write-model tables (what the command side loads). */
export async function insertWriteModel(client: pg.Client, world: World): Promise<void> {
  await insertJson(
    client,
    `INSERT INTO users (id, name, email, email_key, version, created_at, updated_at)
     SELECT id, name, email, lower(email), version, created_at, updated_at
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, name text, email text, version int, created_at timestamptz, updated_at timestamptz)`,
    world.users.map((u) => ({ id: u.id, name: u.name, email: u.email, version: u.version, created_at: u.createdAt, updated_at: u.updatedAt })),
  );
  await insertJson(
    client,
    `INSERT INTO products (id, name, price, version, created_at, updated_at)
     SELECT id, name, price, version, created_at, updated_at
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, name text, price numeric, version int, created_at timestamptz, updated_at timestamptz)`,
    world.products.map((p) => ({ id: p.id, name: p.name, price: money(p.price), version: p.version, created_at: p.createdAt, updated_at: p.updatedAt })),
  );
  const orders = [...world.orders.values()];
  await insertJson(
    client,
    `INSERT INTO orders (id, user_id, status, cancellation_reason, total, version, created_at, updated_at)
     SELECT id, user_id, status::"OrderStatus", cancellation_reason, total, version, created_at, updated_at
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, user_id uuid, status text, cancellation_reason text, total numeric,
       version int, created_at timestamptz, updated_at timestamptz)`,
    orders.map((o) => ({
      id: o.id, user_id: o.userId, status: o.status, cancellation_reason: o.reason, total: money(o.total),
      version: o.version, created_at: o.createdAt, updated_at: o.updatedAt,
    })),
  );
  await insertJson(
    client,
    `INSERT INTO order_lines (order_id, line_no, product_id, product_name, unit_price, quantity)
     SELECT order_id, line_no, product_id, product_name, unit_price, quantity
     FROM jsonb_to_recordset($1::jsonb) AS x(order_id uuid, line_no int, product_id uuid, product_name text, unit_price numeric, quantity int)`,
    orders.flatMap((o) =>
      o.lines.map((l, i) => ({
        order_id: o.id, line_no: i + 1, product_id: l.productId, product_name: l.productName, unit_price: money(l.unitPrice), quantity: l.quantity,
      })),
    ),
  );
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
