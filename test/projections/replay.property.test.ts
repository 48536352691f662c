/**
 * Property: for random sequences of commands, valid and invalid, some of them
 * racing each other, sent to the real server over GraphQL,
 *
 *   1. every response is what a reference model of the service predicts
 *      (accepted with the right version, or refused with the right code);
 *      racing commands must be explained by some order of running them one by one;
 *   2. once the projections have caught up, what the API shows for every
 *      user, product and order equals the model;
 *   3. the event log holds exactly one event per accepted command; and
 *   4. every read-model table equals a replay of the event log from zero
 *      (in a separate database, with a random batch size), whether replayed
 *      as a server catches up or as the rebuild command replays it.
 *
 * Each run adds its own users, products and orders to the same server, so the
 * replay check covers everything sent so far. The model only tracks the
 * current run's entities (emails carry a per-run tag), which keeps runs
 * independent and lets fast-check shrink a failing sequence.
 *
 * The seed is fixed (FC_SEED overrides it); fast-check prints it, and the
 * shrunk sequence, on failure.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type GraphQLResponse, type TestServer } from '../support/server.js';
import { ReplayDatabase, expectSameReadModels, readModelSnapshot, waitUntilCaughtUp } from '../support/replay.js';

const SEED = Number(process.env.FC_SEED ?? 1123);
const NUM_RUNS = 8;

const MAX_PRICE_CENTS = 99_999_999_999_99n;
const MALFORMED_ID = 'not-a-uuid';
/** A well-formed id that no entity has. */
const NOBODY_ID = '00000000-0000-4000-8000-00000000beef';

let server: TestServer;
let replay: ReplayDatabase;
beforeAll(async () => {
  [server, replay] = await Promise.all([startTestServer(), ReplayDatabase.create()]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), replay?.dispose()]);
});

// ───────────────────────────── Inputs, as generated ─────────────────────────────

/** Text as sent, and as it must be stored (trimmed), or null when it must be refused. */
interface TextCase {
  readonly sent: string;
  readonly stored: string | null;
}
interface PriceCase {
  readonly sent: string | number;
  /** The price in cents, or null when it is not acceptable. */
  readonly cents: bigint | null;
  /** False when the Money scalar itself rejects it (before any resolver runs). */
  readonly coercible: boolean;
}
interface QuantityCase {
  readonly sent: number;
  readonly valid: boolean;
  /** False when GraphQL's Int rejects it (before any resolver runs). */
  readonly coercible: boolean;
}
/** An email made of a per-run tag: equal tags collide (case-insensitively). */
type EmailCase = { kind: 'tagged'; tag: number; upper: boolean; padded: boolean } | { kind: 'invalid'; sent: string };
/** Which entity a command is about: one of this run's (by index), an unknown id, or not an id at all. */
type Ref = { kind: 'existing'; index: number } | { kind: 'unknown'; id: string } | { kind: 'malformed' };
/** The expectedVersion sent: the entity's version when the command is issued, or a wrong one. */
type VersionPick = 'current' | 'stale' | 'ahead';
type OrderStep = 'confirmOrder' | 'shipOrder' | 'deliverOrder';

type OddLine = 'repeated product' | 'unknown product' | 'malformed product id' | 'no lines';
type Op =
  | { t: 'registerUser'; name: TextCase; email: EmailCase }
  | { t: 'updateUserProfile'; user: Ref; version: VersionPick; name?: TextCase; email?: EmailCase }
  | { t: 'addProduct'; name: TextCase; price: PriceCase }
  | { t: 'updateProduct'; product: Ref; version: VersionPick; name?: TextCase; price?: PriceCase }
  | {
      t: 'placeOrder';
      user: Ref;
      /** One line per quantity, for distinct products of this run starting at `first`… */
      first: number;
      quantities: QuantityCase[];
      /** …plus, sometimes, a line that should not be there, or no lines at all. */
      odd: OddLine | null;
    }
  | { t: OrderStep; order: Ref; version: VersionPick | 'none' }
  | { t: 'cancelOrder'; order: Ref; reason: TextCase; version: VersionPick | 'none' };
type Step = Op | { t: 'concurrently'; ops: Op[] };

// ───────────────────────────── Arbitraries ─────────────────────────────

const padding = fc.constantFrom('', '', ' ', '  \t', '\n ');
const textCase = (valid: fc.Arbitrary<string>, invalid: fc.Arbitrary<string>): fc.Arbitrary<TextCase> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.tuple(padding, valid, padding).map(([l, core, r]) => ({ sent: l + core + r, stored: core })) },
    { weight: 1, arbitrary: invalid.map((sent) => ({ sent, stored: null })) },
  );
const trimmed = (s: string) => s.length > 0 && s.trim() === s;

/** Names of 1–200 characters once trimmed. */
const nameArb = textCase(
  fc.oneof(
    fc.constantFrom('Ada Lovelace', 'Grace Hopper', 'Zoë Ünïcode', 'Desk Lamp', "O'Brien & Sons", '李小龍'),
    fc.string({ minLength: 1, maxLength: 30 }).filter(trimmed),
    fc.constant('n'.repeat(200)),
  ),
  fc.constantFrom('', '   ', 'n'.repeat(201)),
);
/** Cancellation reasons of 1–500 characters once trimmed. */
const reasonArb = textCase(
  fc.oneof(
    fc.constantFrom('Out of stock', 'Ordered twice', 'Lost in transit'),
    fc.string({ minLength: 1, maxLength: 40 }).filter(trimmed),
    fc.constant('r'.repeat(500)),
  ),
  fc.constantFrom('', ' \n\t ', 'r'.repeat(501)),
);
const emailArb: fc.Arbitrary<EmailCase> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('tagged' as const),
      tag: fc.nat({ max: 12 }),
      upper: fc.boolean(),
      padded: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('invalid' as const),
      sent: fc.constantFrom('not-an-email', 'a@b', 'two@@example.com', '', '  '),
    }),
  },
);

function decimal(cents: bigint): string {
  const digits = cents.toString().padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
}
const centsArb = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 0n, max: 100_000n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, MAX_PRICE_CENTS) },
);
const priceArb: fc.Arbitrary<PriceCase> = fc.oneof(
  { weight: 5, arbitrary: centsArb.map((cents) => ({ sent: decimal(cents), cents, coercible: true })) },
  // As a JSON number, and as whole units ("5" is 5.00).
  { weight: 2, arbitrary: centsArb.map((cents) => ({ sent: Number(cents) / 100, cents, coercible: true })) },
  {
    weight: 1,
    arbitrary: fc
      .bigInt({ min: 0n, max: 1000n })
      .map((units) => ({ sent: units.toString(), cents: units * 100n, coercible: true })),
  },
  // Not money at all: the scalar refuses it.
  {
    weight: 1,
    arbitrary: fc.constantFrom('-1.00', '1.005', 'abc', '').map((sent) => ({ sent, cents: null, coercible: false })),
  },
  // Money, but above the largest price.
  { weight: 1, arbitrary: fc.constant({ sent: '100000000000.00', cents: null, coercible: true }) },
);
const quantityArb: fc.Arbitrary<QuantityCase> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 4 }).map((sent) => ({ sent, valid: true, coercible: true })) },
  { weight: 1, arbitrary: fc.constant({ sent: 10_000, valid: true, coercible: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -2, 10_001).map((sent) => ({ sent, valid: false, coercible: true })) },
  { weight: 1, arbitrary: fc.constant({ sent: 2.5, valid: false, coercible: false }) },
);
const refArb: fc.Arbitrary<Ref> = fc.oneof(
  { weight: 12, arbitrary: fc.nat({ max: 50 }).map((index) => ({ kind: 'existing' as const, index })) },
  { weight: 1, arbitrary: fc.uuid().map((id) => ({ kind: 'unknown' as const, id })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'malformed' as const }) },
);
const versionArb = fc.constantFrom<VersionPick>('current', 'current', 'current', 'current', 'stale', 'ahead');
const optionalVersionArb = fc.constantFrom<VersionPick | 'none'>('none', 'none', 'none', 'current', 'current', 'stale');

const registerUserArb = fc.record({ t: fc.constant('registerUser' as const), name: nameArb, email: emailArb });
const addProductArb = fc.record({ t: fc.constant('addProduct' as const), name: nameArb, price: priceArb });
const orderStepArb = (order: fc.Arbitrary<Ref>): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({
      t: fc.constantFrom<OrderStep>('confirmOrder', 'shipOrder', 'deliverOrder'),
      order,
      version: optionalVersionArb,
    }),
    fc.record({ t: fc.constant('cancelOrder' as const), order, reason: reasonArb, version: optionalVersionArb }),
  );

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: registerUserArb },
  {
    weight: 2,
    arbitrary: fc.record(
      { t: fc.constant('updateUserProfile' as const), user: refArb, version: versionArb, name: nameArb, email: emailArb },
      { requiredKeys: ['t', 'user', 'version'] },
    ),
  },
  { weight: 2, arbitrary: addProductArb },
  {
    weight: 2,
    arbitrary: fc.record(
      { t: fc.constant('updateProduct' as const), product: refArb, version: versionArb, name: nameArb, price: priceArb },
      { requiredKeys: ['t', 'product', 'version'] },
    ),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('placeOrder' as const),
      user: refArb,
      first: fc.nat({ max: 50 }),
      quantities: fc.array(quantityArb, { minLength: 1, maxLength: 3 }),
      odd: fc.oneof(
        { weight: 5, arbitrary: fc.constant(null) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<OddLine>('repeated product', 'unknown product', 'malformed product id', 'no lines'),
        },
      ),
    }),
  },
  { weight: 7, arbitrary: orderStepArb(refArb) },
);

/** Two or three commands at once: anything, or a race on one order or one user. */
const concurrentArb: fc.Arbitrary<Step> = fc
  .oneof(
    fc.array(opArb, { minLength: 2, maxLength: 3 }),
    fc.nat({ max: 50 }).chain((index) =>
      fc.array(orderStepArb(fc.constant({ kind: 'existing' as const, index })), { minLength: 2, maxLength: 3 }),
    ),
    fc.nat({ max: 50 }).chain((index) =>
      fc.array(
        fc.record({
          t: fc.constant('updateUserProfile' as const),
          user: fc.constant({ kind: 'existing' as const, index }),
          version: fc.constantFrom<VersionPick>('current'),
          name: nameArb,
        }),
        { minLength: 2, maxLength: 3 },
      ),
    ),
    fc.array(registerUserArb, { minLength: 2, maxLength: 3 }),
  )
  .map((ops) => ({ t: 'concurrently' as const, ops }));

/** An order taken along its workflow, one command after the other, as far as it gets; sometimes cancelled there. */
const workflowArb: fc.Arbitrary<Step[]> = fc
  .tuple(fc.nat({ max: 50 }), fc.integer({ min: 0, max: 3 }), fc.boolean())
  .map(([index, length, cancel]) => {
    const order: Ref = { kind: 'existing', index };
    const steps = (['confirmOrder', 'shipOrder', 'deliverOrder'] as const)
      .slice(0, length)
      .map((t): Step => ({ t, order, version: 'none' }));
    const reason = { sent: 'Changed plans', stored: 'Changed plans' };
    return cancel || length === 0 ? [...steps, { t: 'cancelOrder', order, reason, version: 'none' }] : steps;
  });

/** A chunk of steps: mostly one command, sometimes commands racing each other, sometimes an order's workflow. */
const stepsArb: fc.Arbitrary<Step[]> = fc.oneof(
  { weight: 6, arbitrary: opArb.map((op) => [op]) },
  { weight: 1, arbitrary: concurrentArb.map((step) => [step]) },
  { weight: 2, arbitrary: workflowArb },
);

/** Valid users, products and orders that each run starts with, so that most later commands have something to act on. */
const validName = fc.constantFrom('Ada Lovelace', 'Grace Hopper', 'Zoë Ünïcode', '李小龍').map((n) => ({ sent: n, stored: n }));
const setupArb = fc.tuple(
  fc.uniqueArray(fc.nat({ max: 12 }), { minLength: 2, maxLength: 3 }).chain((tags) =>
    fc.tuple(
      ...tags.map((tag) =>
        validName.map((name): Op => ({ t: 'registerUser', name, email: { kind: 'tagged', tag, upper: false, padded: false } })),
      ),
    ),
  ),
  fc.array(
    fc.record({
      t: fc.constant('addProduct' as const),
      name: validName,
      price: centsArb.map((cents) => ({ sent: decimal(cents), cents, coercible: true })),
    }),
    { minLength: 2, maxLength: 4 },
  ),
  fc.array(
    fc.record({
      t: fc.constant('placeOrder' as const),
      user: fc.nat({ max: 50 }).map((index): Ref => ({ kind: 'existing', index })),
      first: fc.nat({ max: 50 }),
      quantities: fc.array(
        fc.integer({ min: 1, max: 4 }).map((sent) => ({ sent, valid: true, coercible: true })),
        { minLength: 1, maxLength: 3 },
      ),
      odd: fc.constant(null),
    }),
    { minLength: 1, maxLength: 3 },
  ),
);

/** A run: its setup, then random steps; and the batch size of its replay. */
const runArb = fc.record({
  setup: setupArb.map(([users, products, orders]): Op[] => [...users, ...products, ...orders]),
  steps: fc.array(stepsArb, { minLength: 8, maxLength: 25 }).map((chunks) => chunks.flat()),
  replayBatchSize: fc.oneof(
    { weight: 1, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.integer({ min: 2, max: 10 }) },
    { weight: 2, arbitrary: fc.constant(500) },
  ),
});

// ───────────────────────────── The reference model ─────────────────────────────

type OrderStatus = 'PENDING' | 'CONFIRMED' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED';
interface UserM { id: string; name: string; email: string; version: number }
interface ProductM { id: string; name: string; price: bigint; version: number }
interface LineM { productId: string; productName: string; price: bigint; quantity: number }
interface OrderM {
  id: string;
  userId: string;
  status: OrderStatus;
  lines: LineM[];
  total: bigint;
  reason: string | null;
  version: number;
}
/** This run's entities, in creation order. */
interface Model { users: UserM[]; products: ProductM[]; orders: OrderM[] }

const STEPS: Record<OrderStep, { from: OrderStatus; to: OrderStatus }> = {
  confirmOrder: { from: 'PENDING', to: 'CONFIRMED' },
  shipOrder: { from: 'CONFIRMED', to: 'SHIPPED' },
  deliverOrder: { from: 'SHIPPED', to: 'DELIVERED' },
};
/** As staff (the test server's default token) may cancel. */
const CANCELLABLE: readonly OrderStatus[] = ['PENDING', 'CONFIRMED', 'SHIPPED'];

/** A command with its ids and versions filled in, ready to send. */
type Resolved =
  | { t: 'registerUser'; name: TextCase; email: TextCase }
  | { t: 'updateUserProfile'; userId: string; expectedVersion: number; name?: TextCase; email?: TextCase }
  | { t: 'addProduct'; name: TextCase; price: PriceCase }
  | { t: 'updateProduct'; productId: string; expectedVersion: number; name?: TextCase; price?: PriceCase }
  | { t: 'placeOrder'; userId: string; lines: Array<{ productId: string; quantity: QuantityCase }> }
  | { t: OrderStep; orderId: string; expectedVersion?: number }
  | { t: 'cancelOrder'; orderId: string; reason: TextCase; expectedVersion?: number };

function resolve(op: Op, model: Model, runTag: string): Resolved {
  const id = (ref: Ref, list: ReadonlyArray<{ id: string }>): string => {
    if (ref.kind === 'malformed') return MALFORMED_ID;
    if (ref.kind === 'unknown') return ref.id;
    return list.length ? list[ref.index % list.length]!.id : NOBODY_ID;
  };
  const version = (pick: VersionPick, entityId: string, list: ReadonlyArray<{ id: string; version: number }>) => {
    const current = list.find((e) => e.id === entityId)?.version ?? 1;
    return pick === 'current' ? current : pick === 'stale' ? current - 1 : current + 1;
  };
  const email = (e: EmailCase): TextCase => {
    if (e.kind === 'invalid') return { sent: e.sent, stored: null };
    const address = `user.${runTag}.${e.tag}@example.com`;
    const stored = e.upper ? address.toUpperCase() : address;
    return { sent: e.padded ? ` ${stored}\n` : stored, stored };
  };
  switch (op.t) {
    case 'registerUser':
      return { t: op.t, name: op.name, email: email(op.email) };
    case 'updateUserProfile': {
      const userId = id(op.user, model.users);
      return {
        t: op.t,
        userId,
        expectedVersion: version(op.version, userId, model.users),
        ...(op.name && { name: op.name }),
        ...(op.email && { email: email(op.email) }),
      };
    }
    case 'addProduct':
      return op;
    case 'updateProduct': {
      const productId = id(op.product, model.products);
      return {
        t: op.t,
        productId,
        expectedVersion: version(op.version, productId, model.products),
        ...(op.name && { name: op.name }),
        ...(op.price && { price: op.price }),
      };
    }
    case 'placeOrder': {
      const products = model.products;
      const count = Math.min(op.quantities.length, products.length);
      const lines = op.quantities.slice(0, Math.max(count, 1)).map((quantity, k) => ({
        productId: products.length ? products[(op.first + k) % products.length]!.id : NOBODY_ID,
        quantity,
      }));
      const one = { sent: 1, valid: true, coercible: true };
      if (op.odd === 'repeated product') lines.push({ productId: lines[lines.length - 1]!.productId, quantity: one });
      if (op.odd === 'unknown product') lines.push({ productId: NOBODY_ID, quantity: one });
      if (op.odd === 'malformed product id') lines.push({ productId: MALFORMED_ID, quantity: one });
      return { t: op.t, userId: id(op.user, model.users), lines: op.odd === 'no lines' ? [] : lines };
    }
    case 'confirmOrder':
    case 'shipOrder':
    case 'deliverOrder':
    case 'cancelOrder': {
      const orderId = id(op.order, model.orders);
      const expectedVersion = op.version === 'none' ? undefined : version(op.version, orderId, model.orders);
      return op.t === 'cancelOrder'
        ? { t: op.t, orderId, reason: op.reason, expectedVersion }
        : { t: op.t, orderId, expectedVersion };
    }
  }
}

/** What the service answers: 'OK' or an error code, the version, and for a placed order its lines and total. */
interface Outcome {
  code: string;
  version?: number;
  placed?: { total: string; items: ItemView[] };
}
interface ItemView {
  productId: string;
  productName: string;
  quantity: number;
  price: string;
  subtotal: string;
}
interface Prediction extends Outcome {
  /** Applies an accepted command to the model (`id`: the id the server gave a new entity). */
  commit?: (model: Model, id: string) => void;
  /** For an accepted order command, the transition it makes ("SHIPPED>CANCELLED"). */
  edge?: string;
}

const refuse = (code: string): Prediction => ({ code });

/**
 * The service's rules, in the order it checks them: GraphQL input coercion,
 * malformed ids, existence, the pinned version, then the domain rules.
 */
function predict(model: Model, c: Resolved): Prediction {
  const user = (id: string) => model.users.find((u) => u.id === id);
  const product = (id: string) => model.products.find((p) => p.id === id);
  const order = (id: string) => model.orders.find((o) => o.id === id);
  const emailTaken = (email: string, except?: string) =>
    model.users.some((u) => u.id !== except && u.email.toLowerCase() === email.toLowerCase());

  switch (c.t) {
    case 'registerUser': {
      const { name, email } = c;
      if (name.stored === null || email.stored === null) return refuse('BAD_USER_INPUT');
      if (emailTaken(email.stored)) return refuse('ALREADY_EXISTS');
      return {
        code: 'OK',
        version: 1,
        commit: (m, id) => void m.users.push({ id, name: name.stored!, email: email.stored!, version: 1 }),
      };
    }
    case 'updateUserProfile': {
      if (c.userId === MALFORMED_ID) return refuse('NOT_FOUND');
      const current = user(c.userId);
      if (!current) return refuse(c.name || c.email ? 'NOT_FOUND' : 'BAD_USER_INPUT');
      if (c.expectedVersion !== current.version) return refuse('VERSION_CONFLICT');
      if (!c.name && !c.email) return refuse('BAD_USER_INPUT');
      if (c.name?.stored === null || c.email?.stored === null) return refuse('BAD_USER_INPUT');
      if (c.email && emailTaken(c.email.stored!, current.id)) return refuse('ALREADY_EXISTS');
      return {
        code: 'OK',
        version: current.version + 1,
        commit: (m) => {
          const u = m.users.find((x) => x.id === c.userId)!;
          if (c.name) u.name = c.name.stored!;
          if (c.email) u.email = c.email.stored!;
          u.version++;
        },
      };
    }
    case 'addProduct': {
      const { name, price } = c;
      if (name.stored === null || price.cents === null) return refuse('BAD_USER_INPUT');
      return {
        code: 'OK',
        version: 1,
        commit: (m, id) => void m.products.push({ id, name: name.stored!, price: price.cents!, version: 1 }),
      };
    }
    case 'updateProduct': {
      if (c.price && !c.price.coercible) return refuse('BAD_USER_INPUT');
      if (c.productId === MALFORMED_ID) return refuse('NOT_FOUND');
      const current = product(c.productId);
      if (!current) return refuse(c.name || c.price ? 'NOT_FOUND' : 'BAD_USER_INPUT');
      if (c.expectedVersion !== current.version) return refuse('VERSION_CONFLICT');
      if (!c.name && !c.price) return refuse('BAD_USER_INPUT');
      if (c.name?.stored === null || c.price?.cents === null) return refuse('BAD_USER_INPUT');
      return {
        code: 'OK',
        version: current.version + 1,
        commit: (m) => {
          const p = m.products.find((x) => x.id === c.productId)!;
          if (c.name) p.name = c.name.stored!;
          if (c.price) p.price = c.price.cents!;
          p.version++;
        },
      };
    }
    case 'placeOrder': {
      const ids = c.lines.map((l) => l.productId);
      if (c.lines.some((l) => !l.quantity.coercible)) return refuse('BAD_USER_INPUT');
      if (c.lines.length < 1 || c.lines.length > 100) return refuse('BAD_USER_INPUT');
      if (new Set(ids).size !== ids.length || c.lines.some((l) => !l.quantity.valid)) return refuse('BAD_USER_INPUT');
      if (!user(c.userId)) return refuse('NOT_FOUND');
      if (ids.some((id) => !product(id))) return refuse('NOT_FOUND');
      const lines = c.lines.map((l): LineM => {
        const p = product(l.productId)!;
        return { productId: p.id, productName: p.name, price: p.price, quantity: l.quantity.sent };
      });
      const total = lines.reduce((sum, l) => sum + l.price * BigInt(l.quantity), 0n);
      return {
        code: 'OK',
        version: 1,
        placed: { total: decimal(total), items: lines.map(itemView) },
        commit: (m, id) =>
          void m.orders.push({ id, userId: c.userId, status: 'PENDING', lines, total, reason: null, version: 1 }),
      };
    }
    case 'confirmOrder':
    case 'shipOrder':
    case 'deliverOrder':
    case 'cancelOrder': {
      if (c.orderId === MALFORMED_ID) return refuse('NOT_FOUND');
      const current = order(c.orderId);
      const pinned = c.expectedVersion !== undefined;
      if (current && pinned && c.expectedVersion !== current.version) return refuse('VERSION_CONFLICT');
      let to: OrderStatus;
      let reason: string | null = null;
      if (c.t === 'cancelOrder') {
        if (c.reason.stored === null) return refuse('BAD_USER_INPUT');
        if (!current) return refuse('NOT_FOUND');
        if (!CANCELLABLE.includes(current.status)) return refuse('INVALID_TRANSITION');
        to = 'CANCELLED';
        reason = c.reason.stored;
      } else {
        if (!current) return refuse('NOT_FOUND');
        if (current.status !== STEPS[c.t].from) return refuse('INVALID_TRANSITION');
        to = STEPS[c.t].to;
      }
      return {
        code: 'OK',
        version: current.version + 1,
        edge: `${current.status}>${to}`,
        commit: (m) => {
          const o = m.orders.find((x) => x.id === c.orderId)!;
          o.status = to;
          o.reason = reason;
          o.version++;
        },
      };
    }
  }
}

function itemView(l: LineM): ItemView {
  return {
    productId: l.productId,
    productName: l.productName,
    quantity: l.quantity,
    price: decimal(l.price),
    subtotal: decimal(l.price * BigInt(l.quantity)),
  };
}

// ───────────────────────────── Talking to the server ─────────────────────────────

const ITEMS = 'items { productId productName quantity price subtotal }';

function request(c: Resolved): { query: string; input: Record<string, unknown> } {
  switch (c.t) {
    case 'registerUser':
      return {
        query: `mutation($i: RegisterUserInput!) { registerUser(input: $i) { id: userId version } }`,
        input: { name: c.name.sent, email: c.email.sent },
      };
    case 'updateUserProfile':
      return {
        query: `mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { id: userId version } }`,
        input: { userId: c.userId, expectedVersion: c.expectedVersion, name: c.name?.sent, email: c.email?.sent },
      };
    case 'addProduct':
      return {
        query: `mutation($i: AddProductInput!) { addProduct(input: $i) { id: productId version } }`,
        input: { name: c.name.sent, price: c.price.sent },
      };
    case 'updateProduct':
      return {
        query: `mutation($i: UpdateProductInput!) { updateProduct(input: $i) { id: productId version } }`,
        input: { productId: c.productId, expectedVersion: c.expectedVersion, name: c.name?.sent, price: c.price?.sent },
      };
    case 'placeOrder':
      return {
        query: `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id: orderId version } }`,
        input: { userId: c.userId, items: c.lines.map((l) => ({ productId: l.productId, quantity: l.quantity.sent })) },
      };
    case 'confirmOrder':
    case 'shipOrder':
    case 'deliverOrder':
      return {
        query: `mutation($i: OrderCommandInput!) { ${c.t}(input: $i) { id: orderId version } }`,
        input: { orderId: c.orderId, expectedVersion: c.expectedVersion },
      };
    case 'cancelOrder':
      return {
        query: `mutation($i: CancelOrderInput!) { cancelOrder(input: $i) { id: orderId version } }`,
        input: { orderId: c.orderId, reason: c.reason.sent, expectedVersion: c.expectedVersion },
      };
  }
}

interface Sent {
  readonly command: Resolved;
  readonly outcome: Outcome;
  readonly id?: string;
}

async function send(command: Resolved): Promise<Sent> {
  const { query, input } = request(command);
  const response: GraphQLResponse = await server.gql(query, { i: input });
  if (response.errors?.length) return { command, outcome: { code: String(response.errors[0]!.extensions?.code) } };
  const payload = response.data![command.t] as { id: string; version: number };
  const outcome: Outcome = { code: 'OK', version: payload.version };
  if (command.t === 'placeOrder') outcome.placed = await placedLines(payload.id);
  return { command, outcome, id: payload.id };
}

/**
 * What an accepted PlaceOrder recorded: which names and prices it took from
 * the catalog (a product updated at the same moment may go either way). Read
 * from the event log, so the answer does not wait for a projection; the API
 * shows the same order once the projections have caught up (checked later).
 */
async function placedLines(orderId: string): Promise<Outcome['placed']> {
  type Placed = { total: string; items: Array<Omit<ItemView, 'price'> & { unitPrice: string }> };
  const [event] = await server.app.db.prisma.$queryRaw<Array<{ data: Placed }>>`
    SELECT data FROM event_log WHERE aggregate_id = ${orderId}::uuid AND type = 'OrderPlaced'`;
  if (!event) return undefined;
  const { total, items } = event.data;
  return {
    total,
    items: items.map((i) => ({
      productId: i.productId,
      productName: i.productName,
      quantity: i.quantity,
      price: i.unitPrice,
      subtotal: i.subtotal,
    })),
  };
}

/** Compares an answer with a prediction; returns what differs, or null. */
function mismatch(predicted: Prediction, actual: Outcome): string | null {
  const { commit: _commit, edge: _edge, ...expected } = predicted;
  if (isDeepStrictEqual(expected, actual)) return null;
  return `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

/** What the server accepted over the whole test (all runs), counted from its answers. */
interface Tally {
  events: number;
  users: number;
  products: number;
  orders: number;
  /** Every answer code seen, 'OK' included. */
  codes: Set<string>;
  /** Every order transition made ("PENDING>CONFIRMED"). */
  edges: Set<string>;
}

function describeCommand(c: Resolved): string {
  return JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/**
 * Runs one step. Concurrent commands are sent at once; their answers must be
 * those of running them one after another in some order, and the model moves
 * on along that order.
 */
async function runStep(step: Step, model: Model, runTag: string, tally: Tally): Promise<Model> {
  const ops = step.t === 'concurrently' ? step.ops : [step];
  const commands = ops.map((op) => resolve(op, model, runTag));
  const answers = await Promise.all(commands.map(send));
  for (const { command, outcome } of answers) {
    tally.codes.add(outcome.code);
    if (outcome.code !== 'OK') continue;
    tally.events++;
    if (command.t === 'registerUser') tally.users++;
    if (command.t === 'addProduct') tally.products++;
    if (command.t === 'placeOrder') tally.orders++;
  }
  const explanations: string[] = [];
  for (const order of permutations(answers.map((_, i) => i))) {
    const candidate = structuredClone(model);
    const edges: string[] = [];
    let failure: string | null = null;
    for (const i of order) {
      const { command, outcome, id } = answers[i]!;
      const predicted = predict(candidate, command);
      failure = mismatch(predicted, outcome);
      if (failure) {
        failure = `${command.t} ${failure}`;
        break;
      }
      predicted.commit?.(candidate, id!);
      if (predicted.edge) edges.push(predicted.edge);
    }
    if (!failure) {
      edges.forEach((edge) => tally.edges.add(edge));
      return candidate;
    }
    explanations.push(`in the order ${order.join(',')}: ${failure}`);
  }
  return expect.fail(
    `the answers to ${commands.map(describeCommand).join(' ‖ ')} are not what the model predicts:\n` +
      `  ${explanations.join('\n  ')}`,
  );
}

function permutations(items: number[]): number[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

// ───────────────────────────── What users see, and what the log holds ─────────────────────────────

const DISPLAY: Record<OrderStatus, string> = {
  PENDING: 'Pending',
  CONFIRMED: 'Confirmed',
  SHIPPED: 'Shipped',
  DELIVERED: 'Delivered',
  CANCELLED: 'Cancelled',
};

/** Deep equality whose failure message carries both values whole (it survives fast-check's report). */
function expectShown(what: string, actual: unknown, expected: unknown): void {
  if (isDeepStrictEqual(actual, expected)) return;
  expect.fail(`${what}: the API shows ${JSON.stringify(actual)}, the model expects ${JSON.stringify(expected)}`);
}

async function expectApiShowsModel(model: Model): Promise<void> {
  const byId = new Map(model.users.map((u) => [u.id, u]));
  await Promise.all([
    ...model.users.map(async (u) => {
      const own = model.orders.filter((o) => o.userId === u.id);
      const spent = own.filter((o) => o.status !== 'CANCELLED').reduce((sum, o) => sum + o.total, 0n);
      const data = await server.ok(`query($id: ID!) { user(id: $id) { id name email version orderCount totalSpent } }`, {
        id: u.id,
      });
      expectShown(`user ${u.id}`, data.user, {
        id: u.id,
        name: u.name,
        email: u.email,
        version: u.version,
        orderCount: own.length,
        totalSpent: decimal(spent),
      });
    }),
    ...model.products.map(async (p) => {
      const data = await server.ok(`query($id: ID!) { product(id: $id) { id name price version } }`, { id: p.id });
      expectShown(`product ${p.id}`, data.product, {
        id: p.id,
        name: p.name,
        price: decimal(p.price),
        version: p.version,
      });
    }),
    ...model.orders.map(async (o) => {
      const customer = byId.get(o.userId)!;
      const data = await server.ok(
        `query($id: ID!) { order(id: $id) {
          id userId userName userEmail status statusDisplay cancellationReason total itemCount version ${ITEMS} } }`,
        { id: o.id },
      );
      expectShown(`order ${o.id}`, data.order, {
        id: o.id,
        userId: o.userId,
        // Orders follow their customer's profile; product names stay as bought.
        userName: customer.name,
        userEmail: customer.email,
        status: o.status,
        statusDisplay: o.status === 'CANCELLED' ? `Cancelled (${o.reason})` : DISPLAY[o.status],
        cancellationReason: o.reason,
        total: decimal(o.total),
        itemCount: o.lines.length,
        version: o.version,
        items: o.lines.map(itemView),
      });
    }),
  ]);
}

/** One event per accepted command, in all; and per entity of this run, as many as its version. */
async function expectEventLogMatches(model: Model, acceptedSoFar: number): Promise<void> {
  const db = server.app.db.prisma;
  const [row] = await db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM event_log`;
  expect(row?.n, 'events in the log vs. commands accepted so far').toBe(acceptedSoFar);
  const entities = [...model.users, ...model.products, ...model.orders];
  const rows = await db.$queryRaw<Array<{ id: string; n: number; last: number }>>`
    SELECT aggregate_id::text AS id, count(*)::int AS n, max(aggregate_version)::int AS last
    FROM event_log WHERE aggregate_id::text = ANY(${entities.map((e) => e.id)}) GROUP BY aggregate_id`;
  const versions = Object.fromEntries(rows.map((r) => [r.id, [r.n, r.last]]));
  expect(versions).toEqual(Object.fromEntries(entities.map((e) => [e.id, [e.version, e.version]])));
}

// ───────────────────────────── The property ─────────────────────────────

describe('projections (property)', () => {
  it(
    'after any sequence of commands, the API shows what the model predicts and every read model equals a replay of the event log from zero',
    async () => {
      const tally: Tally = { events: 0, users: 0, products: 0, orders: 0, codes: new Set(), edges: new Set() };
      let run = 0;
      await fc.assert(
        fc.asyncProperty(runArb, async ({ setup, steps, replayBatchSize }) => {
          const runTag = `r${run++}`;
          let model: Model = { users: [], products: [], orders: [] };
          for (const step of [...setup, ...steps]) model = await runStep(step, model, runTag, tally);

          await waitUntilCaughtUp(server, 30_000);
          await expectApiShowsModel(model);
          await expectEventLogMatches(model, tally.events);

          const lists = await server.ok(`{ users { total } products { total } orders { total } }`);
          expect(lists, 'list totals: everything accepted so far').toEqual({
            users: { total: tally.users },
            products: { total: tally.products },
            orders: { total: tally.orders },
          });

          const live = await readModelSnapshot(server.app.db.prisma);
          // Everything ever accepted is in the read models: the comparison below is not between empty tables.
          expect([live.user_view?.length, live.product_view?.length, live.order_view?.length]).toEqual([
            tally.users,
            tally.products,
            tally.orders,
          ]);
          // Both ways of replaying: as a server catches up (a read of the log per projection) and as the rebuild
          // command does (one read for all); every run checks both.
          expectSameReadModels(await replay.replayFrom(server.app.db.prisma, { batchSize: replayBatchSize }), live);
          expectSameReadModels((await replay.rebuildFrom(server.app.db.prisma, { batchSize: replayBatchSize })).readModels, live);
        }),
        // Bounded: a run that cannot finish in time fails rather than hanging the suite.
        { numRuns: NUM_RUNS, seed: SEED, interruptAfterTimeLimit: 90_000, markInterruptAsFailure: true },
      );
      // The committed seed exercises what the property is about: every kind of
      // answer, every transition, many orders. (Other seeds explore; they need not.)
      if (process.env.FC_SEED !== undefined) return;
      expect([...tally.codes].sort()).toEqual(
        ['ALREADY_EXISTS', 'BAD_USER_INPUT', 'INVALID_TRANSITION', 'NOT_FOUND', 'OK', 'VERSION_CONFLICT'].sort(),
      );
      expect([...tally.edges].sort()).toEqual([
        'CONFIRMED>CANCELLED',
        'CONFIRMED>SHIPPED',
        'PENDING>CANCELLED',
        'PENDING>CONFIRMED',
        'SHIPPED>CANCELLED',
        'SHIPPED>DELIVERED',
      ]);
      expect(tally.orders).toBeGreaterThan(NUM_RUNS);
    },
    150_000,
  );
});
