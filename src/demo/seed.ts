/**
 * Demo data: realistic users, products and orders in every status, created
 * by sending commands through the CommandService — never by inserting rows —
 * so the write model, the event log and every projection agree, exactly as if
 * a client had sent the same mutations.
 *
 * The content is deterministic (fixed names, a seeded random generator for
 * baskets and statuses); ids and timestamps are whatever the commands assign.
 * Used by `npm run seed` (scripts/seed.ts) and by `SEED=1 npm start`.
 */
import type { Logger } from 'pino';
import type { OrderStatus } from '../domain/orders.js';
import { formatCursor, LOG_START, maxCursor, parseCursor } from '../eventlog/cursor.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { ProjectionProgress } from '../projections/progress.js';
import type { CommandContext, CommandResult, CommandService } from '../write/commands.js';

export const DEMO_USERS: ReadonlyArray<{ name: string; email: string }> = [
  ['Amara Okafor', 'amara.okafor'],
  ['Lukas Schneider', 'lukas.schneider'],
  ['Sofia Rossi', 'sofia.rossi'],
  ['Hiroshi Tanaka', 'hiroshi.tanaka'],
  ['Priya Raman', 'priya.raman'],
  ['Mateo García', 'mateo.garcia'],
  ['Emma Johansson', 'emma.johansson'],
  ['Kwame Mensah', 'kwame.mensah'],
  ['Chloé Dubois', 'chloe.dubois'],
  ['Noah Williams', 'noah.williams'],
  ['Aisha Rahman', 'aisha.rahman'],
  ['Jakub Nowak', 'jakub.nowak'],
  ['Mei Lin', 'mei.lin'],
  ['Oliver Brown', 'oliver.brown'],
  ['Fatima Haddad', 'fatima.haddad'],
  ['Lars Nilsen', 'lars.nilsen'],
  ['Isabella Costa', 'isabella.costa'],
  ['Ethan Murphy', 'ethan.murphy'],
  ['Yuki Sato', 'yuki.sato'],
  ['Zanele Dlamini', 'zanele.dlamini'],
].map(([name, local]) => ({ name: name!, email: `${local}@example.com` }));

export const DEMO_PRODUCTS: ReadonlyArray<{ name: string; price: string }> = [
  ['Ceramic Pour-Over Coffee Dripper', '24.90'],
  ['Stainless Steel French Press, 1 l', '34.50'],
  ['Ethiopian Yirgacheffe Coffee Beans, 500 g', '16.75'],
  ['Bamboo Cutting Board Set', '29.99'],
  ['Cast Iron Skillet, 26 cm', '39.00'],
  ["Chef's Knife, 20 cm", '89.00'],
  ['Linen Tea Towels, Set of 3', '18.50'],
  ['Glass Food Storage Containers, 10 pcs', '32.99'],
  ['Wireless Ergonomic Mouse', '44.90'],
  ['Mechanical Keyboard, Brown Switches', '119.00'],
  ['27-inch 4K Monitor', '329.00'],
  ['USB-C Docking Station', '149.99'],
  ['Noise-Cancelling Headphones', '229.00'],
  ['Aluminium Laptop Stand', '39.95'],
  ['LED Desk Lamp with Dimmer', '49.00'],
  ['A5 Dotted Notebook', '12.50'],
  ['Fountain Pen, Medium Nib', '27.00'],
  ['Walnut Desk Organizer', '36.00'],
  ['Merino Wool Beanie', '29.00'],
  ['Waterproof Hiking Jacket', '189.00'],
  ['Trail Running Shoes', '134.95'],
  ['Insulated Water Bottle, 750 ml', '27.50'],
  ['Yoga Mat, 6 mm', '45.00'],
  ['Resistance Bands, Set of 5', '19.99'],
  ['Organic Cotton T-Shirt', '22.00'],
  ['Canvas Weekender Bag', '98.00'],
  ['Cedar Scented Soy Candle', '21.00'],
  ['Monstera Deliciosa, 30 cm Pot', '38.00'],
  ['Wool Throw Blanket', '79.00'],
  ['The Pragmatic Programmer (Paperback)', '42.99'],
].map(([name, price]) => ({ name: name!, price: price! }));

/** How many orders end in each status; cancellations happen from pending, confirmed and shipped. */
const ORDER_PLAN: ReadonlyArray<{ status: OrderStatus; cancelledFrom?: OrderStatus; count: number }> = [
  { status: 'PENDING', count: 16 },
  { status: 'CONFIRMED', count: 14 },
  { status: 'SHIPPED', count: 12 },
  { status: 'DELIVERED', count: 24 },
  { status: 'CANCELLED', cancelledFrom: 'PENDING', count: 6 },
  { status: 'CANCELLED', cancelledFrom: 'CONFIRMED', count: 5 },
  { status: 'CANCELLED', cancelledFrom: 'SHIPPED', count: 3 },
];

const CANCELLATION_REASONS: Record<string, readonly string[]> = {
  PENDING: [
    'Ordered twice by mistake',
    'Found a better price elsewhere',
    'Payment was declined',
    'Customer changed their mind',
  ],
  CONFIRMED: [
    'Delivery date too late for the customer',
    'Shipping address could not be verified',
    'Item no longer needed',
  ],
  SHIPPED: ['Parcel lost in transit; refunded', 'Damaged in transit; customer refunded'],
};

/** Catalog changes after the first half of the orders: orders keep the price they were placed at. */
const PRODUCT_UPDATES: ReadonlyArray<{ index: number; name?: string; price?: string }> = [
  { index: 10, price: '299.00' },
  { index: 12, price: '249.00' },
  { index: 2, name: 'Ethiopian Yirgacheffe Coffee Beans, 500 g (Fresh Roast)', price: '17.50' },
];

/** Profile changes, likewise halfway through. */
const PROFILE_UPDATES: ReadonlyArray<{ index: number; name?: string; email?: string }> = [
  { index: 2, name: 'Sofia Rossi-Bianchi' },
  { index: 12, email: 'mei.lin@example.org' },
];

/** Orders whose commands run at the same time (each order's own commands stay in order). */
const SEED_CONCURRENCY = 4;

/** mulberry32: a small deterministic PRNG, so every seed produces the same baskets. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface DemoDataSummary {
  readonly users: number;
  readonly products: number;
  readonly orders: number;
  readonly ordersByStatus: Readonly<Record<OrderStatus, number>>;
  readonly commands: number;
  /** Event-log position of the last command (opaque cursor). */
  readonly position: string;
}

/** Sends the demo data's commands (about 300). Fails on the first error, e.g. on an email that already exists. */
export async function seedDemoData(
  commands: CommandService,
  onProgress: (message: string) => void = () => undefined,
): Promise<DemoDataSummary> {
  const next = random(20261123);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  // The seed acts as staff: it runs the whole order workflow.
  const actor = { role: 'admin', userId: 'seed' } as const;
  const ctx = (correlationId: string): CommandContext => ({
    actor,
    metadata: { correlationId, requestId: 'seed', actor },
  });
  let last = LOG_START;
  let sent = 0;
  const track = (result: CommandResult): CommandResult => {
    sent++;
    last = maxCursor(last, parseCursor(result.position) ?? LOG_START);
    return result;
  };

  const users: Array<{ id: string; version: number }> = [];
  for (const [i, user] of DEMO_USERS.entries()) {
    const result = track(await commands.registerUser(user, ctx(`seed:user-${i + 1}`)));
    users.push({ id: result.id, version: result.version });
  }
  onProgress(`registered ${users.length} users`);

  const products: Array<{ id: string; version: number }> = [];
  for (const [i, product] of DEMO_PRODUCTS.entries()) {
    const result = track(await commands.addProduct(product, ctx(`seed:product-${i + 1}`)));
    products.push({ id: result.id, version: result.version });
  }
  onProgress(`added ${products.length} products`);

  // Shuffle the plan (Fisher-Yates) so statuses are spread over time.
  const plan = ORDER_PLAN.flatMap((p) => Array.from({ length: p.count }, () => p));
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [plan[i], plan[j]] = [plan[j]!, plan[i]!];
  }

  // Draw every order up front, so the data does not depend on timing.
  const orders = plan.map((target, i) => {
    const basket = new Map<number, number>();
    const lines = 1 + Math.floor(next() * next() * 5); // mostly 1–2 lines, sometimes up to 5
    while (basket.size < lines) basket.set(Math.floor(next() * products.length), next() < 0.75 ? 1 : 2 + Math.floor(next() * 3));
    const user = Math.floor(next() * users.length);
    const reason = target.cancelledFrom ? pick(CANCELLATION_REASONS[target.cancelledFrom]!) : undefined;
    return { n: i + 1, target, basket, user, reason };
  });

  const lifecycle: OrderStatus[] = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED'];
  const ordersByStatus: Record<OrderStatus, number> = { PENDING: 0, CONFIRMED: 0, SHIPPED: 0, DELIVERED: 0, CANCELLED: 0 };
  let placedCount = 0;
  /** One order's whole life: placed, then moved on to its target status (or cancelled on the way). */
  const live = async ({ n, target, basket, user, reason }: (typeof orders)[number]) => {
    const correlation = ctx(`seed:order-${n}`);
    const items = [...basket].map(([product, quantity]) => ({ productId: products[product]!.id, quantity }));
    const { id: orderId } = track(await commands.placeOrder({ userId: users[user]!.id, items }, correlation));
    const until = lifecycle.indexOf(target.cancelledFrom ?? target.status);
    for (const step of lifecycle.slice(1, until + 1)) {
      if (step === 'CONFIRMED') track(await commands.confirmOrder({ orderId }, correlation));
      if (step === 'SHIPPED') track(await commands.shipOrder({ orderId }, correlation));
      if (step === 'DELIVERED') track(await commands.deliverOrder({ orderId }, correlation));
    }
    if (reason) track(await commands.cancelOrder({ orderId, reason }, correlation));
    ordersByStatus[target.status]++;
    if (++placedCount % 20 === 0) onProgress(`placed ${placedCount} of ${orders.length} orders`);
  };
  /** A few orders at a time: each order's commands stay in sequence. */
  const liveAll = async (batch: typeof orders) => {
    const queue = [...batch];
    const worker = async () => {
      for (let order = queue.shift(); order; order = queue.shift()) await live(order);
    };
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
  };

  const half = Math.floor(orders.length / 2);
  await liveAll(orders.slice(0, half));
  // Halfway: the catalog and some profiles change; earlier orders keep what they were placed with.
  for (const update of PRODUCT_UPDATES) {
    const product = products[update.index]!;
    const { index: _, ...changes } = update;
    const result = track(
      await commands.updateProduct(
        { productId: product.id, expectedVersion: product.version, ...changes },
        ctx(`seed:product-${update.index + 1}`),
      ),
    );
    product.version = result.version;
  }
  for (const update of PROFILE_UPDATES) {
    const user = users[update.index]!;
    const { index: _, ...changes } = update;
    const result = track(
      await commands.updateUserProfile(
        { userId: user.id, expectedVersion: user.version, ...changes },
        ctx(`seed:user-${update.index + 1}`),
      ),
    );
    user.version = result.version;
  }
  onProgress('updated some prices and profiles');
  await liveAll(orders.slice(half));

  return {
    users: users.length,
    products: products.length,
    orders: plan.length,
    ordersByStatus,
    commands: sent,
    position: formatCursor(last),
  };
}

/** How many events the log holds: 0 means a fresh database. */
export async function eventCount(prisma: PrismaClient): Promise<number> {
  const [row] = await prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM event_log`;
  return row?.n ?? 0;
}

/** Waits until every projection has applied the log up to `position`. */
export async function waitForProjections(
  progress: ProjectionProgress,
  projections: readonly string[],
  position: string,
  timeoutMs = 60_000,
): Promise<void> {
  const cursor = parseCursor(position);
  if (!cursor) throw new Error(`Not a log position: ${position}`);
  await Promise.all(projections.map((name) => progress.waitFor(name, cursor, timeoutMs)));
}

/** What seeding needs of a started app (structurally: the composition root's App). */
export interface SeedTarget {
  readonly db: { readonly kind: 'postgres' | 'pglite'; readonly prisma: PrismaClient };
  readonly commands: CommandService;
  readonly progress: ProjectionProgress;
  readonly projectors: ReadonlyArray<{ readonly name: string }>;
}

/**
 * At startup: on an empty database, seed it when asked (`SEED=1`), or — on the
 * embedded database — say how to. Never touches a database that has events.
 */
export async function seedOnFirstStart(app: SeedTarget, options: { seed: boolean; logger: Logger }): Promise<void> {
  const { logger } = options;
  if ((await eventCount(app.db.prisma)) > 0) {
    if (options.seed) logger.info('SEED=1: the database already has data; not seeding');
    return;
  }
  if (!options.seed) {
    if (app.db.kind === 'pglite') {
      logger.info(
        'The database is empty. For demo data (users, products, orders in every status), ' +
          'stop the server and run `npm run seed`, or start it with `SEED=1 npm start`.',
      );
    }
    return;
  }
  logger.info('SEED=1: seeding demo data');
  const summary = await seedDemoData(app.commands, (message) => logger.info(`seed: ${message}`));
  await waitForProjections(app.progress, app.projectors.map((p) => p.name), summary.position);
  logger.info({ ...summary }, 'seed: demo data ready');
}
