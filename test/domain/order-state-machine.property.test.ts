/**
 * Properties of the order aggregate (src/domain/orders.ts), checked against a
 * reference model written from the rules rather than from the code:
 *
 *   PENDING ─confirm→ CONFIRMED ─ship→ SHIPPED ─deliver→ DELIVERED
 *      └──────────────────┴──────────────┴─cancel→ CANCELLED
 *
 * Staff may cancel until the order is delivered; a customer only their own
 * order, and only while it is PENDING or CONFIRMED; to anyone else a customer's
 * order does not exist. DELIVERED and CANCELLED are final.
 *
 * fast-check drives random command sequences (fc.commands) against a randomly
 * placed order. After every command the events folded with `evolveOrder` must
 * equal the model's order, and the number of events is the order's version.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  ForbiddenError,
  InvalidTransitionError,
  NotFoundError,
  ValidationError,
} from '../../src/domain/errors.js';
import { MAX_PRICE_CENTS } from '../../src/domain/money.js';
import {
  MAX_ORDER_LINES,
  MAX_QUANTITY,
  MAX_REASON_LENGTH,
  decideOrder,
  evolveOrder,
  type CancelOrder,
  type Order,
  type OrderCommand,
  type OrderEvent,
  type OrderLineRequest,
  type OrderStatus,
  type PlaceOrder,
} from '../../src/domain/orders.js';
import type { Product } from '../../src/domain/products.js';
import type { User } from '../../src/domain/users.js';
import { deciderSpec } from './given.js';

const spec = deciderSpec({ decide: decideOrder, evolve: evolveOrder });

const ORDER_ID = '5b1e8a52-3c1f-4d0e-9a7b-2c4d6e8f0a1b';
const OWNER_ID = 'c0ffee00-1111-4222-8333-444455556666';
const STRANGER_ID = 'deadbeef-1111-4222-8333-444455556666';
const customer: User = { id: OWNER_ID, name: 'Grace Hopper', email: 'grace@example.com' };

type Requester = CancelOrder['data']['requestedBy'];
const REQUESTERS = {
  staff: { role: 'admin', userId: 'staff-7' },
  owner: { role: 'customer', userId: OWNER_ID },
  stranger: { role: 'customer', userId: STRANGER_ID },
} as const satisfies Record<string, Requester>;
type RequesterName = keyof typeof REQUESTERS;

/** A product id that is a valid UUID and distinct per index. */
function productId(index: number): string {
  return `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

/**
 * Cents as the API shows them ("1234.05"), written independently of
 * formatMoney so that the two can disagree.
 */
function decimal(cents: bigint): string {
  const digits = cents.toString().padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

// ───────────────────────────── The reference model ─────────────────────────────

/** Which lifecycle command moves the order from where to where, recording what. */
const LIFECYCLE = {
  ConfirmOrder: { from: 'PENDING', to: 'CONFIRMED', event: 'OrderConfirmed' },
  ShipOrder: { from: 'CONFIRMED', to: 'SHIPPED', event: 'OrderShipped' },
  DeliverOrder: { from: 'SHIPPED', to: 'DELIVERED', event: 'OrderDelivered' },
} as const;
type LifecycleCommand = keyof typeof LIFECYCLE;

/** From where each kind of requester may cancel (their own order, for customers). */
const CANCELLABLE: Record<Requester['role'], readonly OrderStatus[]> = {
  admin: ['PENDING', 'CONFIRMED', 'SHIPPED'],
  customer: ['PENDING', 'CONFIRMED'],
};
const TERMINAL: readonly OrderStatus[] = ['DELIVERED', 'CANCELLED'];

/** One catalog entry and how many of it the customer asks for. */
interface BasketLine {
  readonly name: string;
  readonly price: bigint;
  readonly quantity: number;
}

/** What the model knows about the order: everything the folded events must reproduce. */
interface OrderModel {
  readonly placed: Omit<Order, 'status' | 'cancellationReason'>;
  status: OrderStatus;
  cancellationReason: string | null;
  /** Events recorded so far, OrderPlaced included. */
  version: number;
}

/** The system under test: the event history, appended to only with decided events. */
interface History {
  readonly events: OrderEvent[];
}

function expectedOrder(model: OrderModel): Order {
  return { ...model.placed, status: model.status, cancellationReason: model.cancellationReason };
}

/** The order folded from the history is exactly the model's, and it took `version` events. */
function expectHistoryMatchesModel(model: OrderModel, history: History): void {
  expect(history.events.length, 'version (events recorded)').toBe(model.version);
  const state = spec.given(history.events).state;
  expect(state?.status, 'status').toBe(model.status);
  expect(state?.cancellationReason, 'cancellation reason').toBe(model.cancellationReason);
  expect(state?.total, 'total in cents').toBe(model.placed.total);
  expect(state, 'the whole order').toEqual(expectedOrder(model));
}

// ───────────────────────────── Commands for fc.commands ─────────────────────────────

class Lifecycle implements fc.Command<OrderModel, History> {
  constructor(readonly type: LifecycleCommand) {}

  check(): boolean {
    return true; // invalid transitions are part of what is tested
  }

  run(model: OrderModel, history: History): void {
    const rule = LIFECYCLE[this.type];
    const command = { type: this.type, data: { orderId: ORDER_ID } } as OrderCommand;
    const when = spec.given(history.events).when(command);
    if (model.status === rule.from) {
      const event = { type: rule.event, data: { orderId: ORDER_ID } } as OrderEvent;
      when.then([event]);
      history.events.push(event);
      model.status = rule.to;
      model.version++;
    } else {
      const error = when.thenThrows(InvalidTransitionError, {
        code: 'INVALID_TRANSITION',
        message: `Cannot change an order from ${model.status} to ${rule.to}`,
      });
      expect([error.current, error.requested]).toEqual([model.status, rule.to]);
      expect(error.details).toEqual({ currentStatus: model.status, requestedStatus: rule.to });
    }
    expectHistoryMatchesModel(model, history);
  }

  toString(): string {
    return this.type;
  }
}

class Cancel implements fc.Command<OrderModel, History> {
  constructor(
    readonly reason: ReasonCase,
    readonly requester: RequesterName,
  ) {}

  check(): boolean {
    return true;
  }

  run(model: OrderModel, history: History): void {
    const requestedBy = REQUESTERS[this.requester];
    const { reason, stored, length } = this.reason;
    const command: CancelOrder = { type: 'CancelOrder', data: { orderId: ORDER_ID, reason, requestedBy } };
    const when = spec.given(history.events).when(command);
    if (stored === null) {
      // The reason is checked first, whoever asks and whatever the status.
      when.thenThrows(ValidationError, {
        code: 'BAD_USER_INPUT',
        field: 'reason',
        message: `expected 1–${MAX_REASON_LENGTH} characters, got ${length}`,
      });
    } else if (requestedBy.role === 'customer' && requestedBy.userId !== model.placed.userId) {
      when.thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `Order not found: ${ORDER_ID}` });
    } else if (TERMINAL.includes(model.status)) {
      const error = when.thenThrows(InvalidTransitionError, {
        code: 'INVALID_TRANSITION',
        message: `Cannot change an order from ${model.status} to CANCELLED`,
      });
      expect(error.details).toEqual({ currentStatus: model.status, requestedStatus: 'CANCELLED' });
    } else if (!CANCELLABLE[requestedBy.role].includes(model.status)) {
      when.thenThrows(ForbiddenError, { code: 'FORBIDDEN', message: `it is ${model.status}` });
    } else {
      const cancelledBy = requestedBy.role === 'customer' ? 'customer' : 'staff';
      const event: OrderEvent = { type: 'OrderCancelled', data: { orderId: ORDER_ID, reason: stored, cancelledBy } };
      when.then([event]);
      history.events.push(event);
      model.status = 'CANCELLED';
      model.cancellationReason = stored;
      model.version++;
    }
    expectHistoryMatchesModel(model, history);
  }

  toString(): string {
    return `Cancel(${JSON.stringify(this.reason.reason)} by ${this.requester})`;
  }
}

// ───────────────────────────── Arbitraries ─────────────────────────────

/** Mostly printable ASCII, with some non-ASCII letters and a no-break space inside. */
const textChar = fc.oneof(
  { weight: 9, arbitrary: fc.string({ minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom('é', 'ß', '名', '—', '\u00a0') },
);
const isTrimmed = (s: string) => s.length > 0 && s.trim() === s;
/** Whitespace a client may send around a reason (what JavaScript's trim removes, a sample of it). */
const padding = fc
  .array(fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2003', '\u3000', '\ufeff'), { maxLength: 3 })
  .map((chars) => chars.join(''));

/**
 * A reason as a client may send it, with what must be recorded: the trimmed
 * text, or null when it is refused; `length` is its length once trimmed.
 */
interface ReasonCase {
  readonly reason: string;
  readonly stored: string | null;
  readonly length: number;
}
const padded = (core: fc.Arbitrary<string>, valid: boolean): fc.Arbitrary<ReasonCase> =>
  fc
    .tuple(padding, core.filter(isTrimmed), padding)
    .map(([l, text, r]) => ({ reason: l + text + r, stored: valid ? text : null, length: text.length }));

const reasonArb: fc.Arbitrary<ReasonCase> = fc.oneof(
  { weight: 6, arbitrary: padded(fc.string({ unit: textChar, minLength: 1, maxLength: 40 }), true) },
  // At the upper bound: 490–500 characters once trimmed.
  { weight: 1, arbitrary: padded(fc.string({ unit: textChar, minLength: 490, maxLength: MAX_REASON_LENGTH }), true) },
  // Blank: nothing but whitespace, or nothing at all.
  { weight: 1, arbitrary: padding.map((reason) => ({ reason, stored: null, length: 0 })) },
  // Too long once trimmed.
  { weight: 1, arbitrary: padded(fc.string({ unit: textChar, minLength: MAX_REASON_LENGTH + 1, maxLength: 520 }), false) },
);

const requesterArb = fc.constantFrom<RequesterName>('staff', 'staff', 'owner', 'stranger');

const commandsArb = fc.commands(
  [
    fc.constantFrom<LifecycleCommand>('ConfirmOrder', 'ShipOrder', 'DeliverOrder').map((type) => new Lifecycle(type)),
    fc.tuple(reasonArb, requesterArb).map(([reason, who]) => new Cancel(reason, who)),
  ],
  { maxCommands: 30 },
);

/** Prices in cents: mostly everyday ones, sometimes anything up to the largest accepted. */
const priceArb = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 100_000n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: MAX_PRICE_CENTS }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, MAX_PRICE_CENTS) },
);
const quantityArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: MAX_QUANTITY }) },
  { weight: 1, arbitrary: fc.constantFrom(1, MAX_QUANTITY) },
);
const basketLineArb: fc.Arbitrary<BasketLine> = fc.record({
  name: fc.string({ unit: textChar, minLength: 1, maxLength: 20 }),
  price: priceArb,
  quantity: quantityArb,
});

/**
 * A basket of `min`–`max` distinct products. `catalogOrder` is a permutation:
 * the catalog hands the products over in a different order than requested.
 */
function basketArb(min = 1, max = 12) {
  return fc.array(basketLineArb, { minLength: min, maxLength: max }).chain((lines) =>
    fc.record({
      lines: fc.constant(lines),
      catalogOrder: fc.shuffledSubarray(
        lines.map((_, i) => i),
        { minLength: lines.length, maxLength: lines.length },
      ),
    }),
  );
}
type Basket = { lines: BasketLine[]; catalogOrder: number[] };

function catalogOf({ lines, catalogOrder }: Basket): Product[] {
  return catalogOrder.map((i) => ({ id: productId(i + 1), name: lines[i]!.name, price: lines[i]!.price }));
}

function requestOf({ lines }: Basket): OrderLineRequest[] {
  return lines.map((l, i) => ({ productId: productId(i + 1), quantity: l.quantity }));
}

function place(items: readonly OrderLineRequest[], products: readonly Product[], who: User | null = customer): PlaceOrder {
  return { type: 'PlaceOrder', data: { orderId: ORDER_ID, userId: OWNER_ID, items, customer: who, products } };
}

/** The order the model expects from placing `basket`: every sum in exact cents. */
function placedFrom(basket: Basket): OrderModel['placed'] {
  const lines = basket.lines.map((l, i) => ({
    productId: productId(i + 1),
    productName: l.name,
    unitPrice: l.price,
    quantity: l.quantity,
  }));
  const total = basket.lines.reduce((sum, l) => sum + l.price * BigInt(l.quantity), 0n);
  return { id: ORDER_ID, userId: OWNER_ID, lines, total };
}

/** Places the basket through the decider and returns the model and history of the new order. */
function placeOrder(basket: Basket): { model: OrderModel; real: History } {
  const events = decideOrder(place(requestOf(basket), catalogOf(basket)), null);
  expect(events.map((e) => e.type)).toEqual(['OrderPlaced']);
  return {
    model: { placed: placedFrom(basket), status: 'PENDING', cancellationReason: null, version: 1 },
    real: { events: [...events] },
  };
}

// ───────────────────────────── Properties ─────────────────────────────

describe('the order state machine (model-based)', () => {
  it('any sequence of confirm/ship/deliver/cancel records exactly what the model predicts and refuses the rest with the right error', () => {
    fc.assert(
      fc.property(basketArb(), commandsArb, (basket, commands) => {
        fc.modelRun(() => placeOrder(basket), commands);
      }),
      { numRuns: 300 },
    );
  });

  it('the generated sequences take every transition of the state machine', () => {
    // Guards the generator: sequences that never reached DELIVERED, or never
    // had staff cancel a SHIPPED order, would leave the property above vacuous there.
    const reached = new Set<string>();
    fc.assert(
      fc.property(basketArb(1, 3), commandsArb, (basket, commands) => {
        const setup = placeOrder(basket);
        fc.modelRun(() => setup, commands);
        const { events } = setup.real;
        const statuses = events.map((_, i) => spec.given(events.slice(0, i + 1)).state!.status);
        statuses.slice(1).forEach((to, i) => reached.add(`${statuses[i]}>${to}`));
      }),
      { numRuns: 300, seed: 4242 },
    );
    expect([...reached].sort()).toEqual([
      'CONFIRMED>CANCELLED',
      'CONFIRMED>SHIPPED',
      'PENDING>CANCELLED',
      'PENDING>CONFIRMED',
      'SHIPPED>CANCELLED',
      'SHIPPED>DELIVERED',
    ]);
  });

  describe('final states', () => {
    const reason = (text: string): ReasonCase => ({ reason: text, stored: text, length: text.length });
    /** Every way into a final state, as the commands that lead there. */
    const pathsToTheEnd: Array<[OrderStatus, fc.Command<OrderModel, History>[]]> = [
      ['DELIVERED', [new Lifecycle('ConfirmOrder'), new Lifecycle('ShipOrder'), new Lifecycle('DeliverOrder')]],
      ['CANCELLED', [new Cancel(reason('Changed my mind'), 'owner')]],
      ['CANCELLED', [new Lifecycle('ConfirmOrder'), new Cancel(reason('Out of stock'), 'owner')]],
      [
        'CANCELLED',
        [new Lifecycle('ConfirmOrder'), new Lifecycle('ShipOrder'), new Cancel(reason('Lost in transit'), 'staff')],
      ],
    ];

    const REFUSALS = { InvalidTransitionError, NotFoundError, ValidationError };
    /** Any command, with the error it must get on a final order. */
    type Attempt = { command: OrderCommand; refusal: keyof typeof REFUSALS };
    const anyCommand: fc.Arbitrary<Attempt> = fc.oneof(
      fc.constantFrom<LifecycleCommand>('ConfirmOrder', 'ShipOrder', 'DeliverOrder').map(
        (type): Attempt => ({ command: { type, data: { orderId: ORDER_ID } } as OrderCommand, refusal: 'InvalidTransitionError' }),
      ),
      fc.tuple(reasonArb, requesterArb).map(
        ([{ reason, stored }, who]): Attempt => ({
          command: { type: 'CancelOrder', data: { orderId: ORDER_ID, reason, requestedBy: REQUESTERS[who] } },
          refusal: stored === null ? 'ValidationError' : who === 'stranger' ? 'NotFoundError' : 'InvalidTransitionError',
        }),
      ),
    );

    it('once DELIVERED or CANCELLED, every command from anyone is refused and the order never changes again', () => {
      fc.assert(
        fc.property(
          basketArb(1, 3),
          fc.constantFrom(...pathsToTheEnd),
          fc.array(anyCommand, { minLength: 1, maxLength: 20 }),
          (basket, [final, path], attempts) => {
            const { model, real } = placeOrder(basket);
            for (const step of path) step.run(model, real);
            expect(model.status).toBe(final);
            const before = spec.given(real.events).state;
            for (const { command, refusal } of attempts) {
              let decided: OrderEvent[] | undefined;
              let error: unknown;
              try {
                decided = decideOrder(command, before);
              } catch (e) {
                error = e;
              }
              expect(decided, `${command.type} on a ${final} order recorded ${JSON.stringify(decided)}`).toBeUndefined();
              expect(error).toBeInstanceOf(REFUSALS[refusal]);
              if (error instanceof InvalidTransitionError) expect(error.current).toBe(final);
            }
            expect(spec.given(real.events).state).toEqual(before);
            expect(before?.status).toBe(final);
          },
        ),
        { numRuns: 200 },
      );
    });
  });
});

describe('placing an order (properties)', () => {
  it('records one OrderPlaced: lines in request order with catalog names and prices, total the exact sum of price × quantity', () => {
    fc.assert(
      fc.property(basketArb(1, MAX_ORDER_LINES), (basket) => {
        const [event, ...more] = decideOrder(place(requestOf(basket), catalogOf(basket)), null);
        expect(more).toEqual([]);
        let sum = 0n;
        const items = basket.lines.map((l, i) => {
          const subtotal = l.price * BigInt(l.quantity);
          sum += subtotal;
          return {
            productId: productId(i + 1),
            productName: l.name,
            quantity: l.quantity,
            unitPrice: decimal(l.price),
            subtotal: decimal(subtotal),
          };
        });
        expect(event).toEqual({
          type: 'OrderPlaced',
          data: { orderId: ORDER_ID, userId: OWNER_ID, items, total: decimal(sum) },
        });
        // Folding the event gives the same order in exact cents, PENDING and with no reason.
        expect(spec.given([event!]).state).toEqual({
          ...placedFrom(basket),
          status: 'PENDING',
          cancellationReason: null,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('ordering a product twice is refused on the first repeated line, wherever the repeat is', () => {
    fc.assert(
      fc.property(
        basketArb(1, MAX_ORDER_LINES - 1).chain((basket) =>
          fc.record({
            basket: fc.constant(basket),
            source: fc.nat({ max: basket.lines.length - 1 }),
            offset: fc.nat({ max: basket.lines.length - 1 }),
            quantity: quantityArb,
          }),
        ),
        ({ basket, source, offset, quantity }) => {
          const items = requestOf(basket);
          // Insert a second line for the product of `source` somewhere after it.
          const at = Math.min(source + 1 + offset, items.length);
          const repeated = items[source]!.productId;
          items.splice(at, 0, { productId: repeated, quantity });
          spec
            .given([])
            .when(place(items, catalogOf(basket)))
            .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: `items[${at}].productId`, message: repeated });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a quantity that is not an integer from 1 to 10000 is refused on its line, and the bounds themselves are accepted', () => {
    const badQuantity = fc.oneof(
      fc.integer({ min: -1_000_000, max: 0 }),
      fc.integer({ min: MAX_QUANTITY + 1, max: 2 ** 31 - 1 }),
      fc.double({ min: 0, max: MAX_QUANTITY + 1, noNaN: true }).filter((q) => !Number.isInteger(q)),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    );
    fc.assert(
      fc.property(
        basketArb(1, 20).chain((basket) =>
          fc.record({
            basket: fc.constant(basket),
            at: fc.nat({ max: basket.lines.length - 1 }),
            quantity: badQuantity,
          }),
        ),
        ({ basket, at, quantity }) => {
          const items = requestOf(basket).map((item, i) => (i === at ? { ...item, quantity } : item));
          spec
            .given([])
            .when(place(items, catalogOf(basket)))
            .thenThrows(ValidationError, {
              code: 'BAD_USER_INPUT',
              field: `items[${at}].quantity`,
              message: `got ${quantity}`,
            });
          // The same basket with the bound instead of the bad quantity is accepted.
          const bound = quantity < 1 ? 1 : MAX_QUANTITY;
          const fixed = items.map((item, i) => (i === at ? { ...item, quantity: bound } : item));
          expect(decideOrder(place(fixed, catalogOf(basket)), null).map((e) => e.type)).toEqual(['OrderPlaced']);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an order needs 1–100 lines: none, or more than 100 distinct ones, is refused on `items`', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(0), fc.integer({ min: MAX_ORDER_LINES + 1, max: 150 })), (count) => {
        const products = Array.from({ length: count }, (_, i): Product => ({
          id: productId(i + 1),
          name: `P${i}`,
          price: 100n,
        }));
        const items = products.map((p) => ({ productId: p.id, quantity: 1 }));
        spec
          .given([])
          .when(place(items, products))
          .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'items', message: `got ${count}` });
      }),
    );
  });

  it('an unknown customer, or products missing from the catalog, are NOT_FOUND naming exactly what is missing', () => {
    fc.assert(
      fc.property(
        basketArb(1, 12).chain((basket) =>
          fc.record({
            basket: fc.constant(basket),
            missing: fc.subarray(basket.lines.map((_, i) => i)),
            customerKnown: fc.boolean(),
          }),
        ),
        ({ basket, missing, customerKnown }) => {
          const catalog = catalogOf(basket).filter((p) => !missing.some((i) => productId(i + 1) === p.id));
          const when = spec.given([]).when(place(requestOf(basket), catalog, customerKnown ? customer : null));
          if (!customerKnown) {
            when.thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `User not found: ${OWNER_ID}` });
          } else if (missing.length > 0) {
            const ids = [...missing].sort((a, b) => a - b).map((i) => productId(i + 1));
            const error = when.thenThrows(NotFoundError, { code: 'NOT_FOUND' });
            expect(error.message).toBe(`Product not found: ${ids.join(', ')}`);
          } else {
            expect(decideOrder(place(requestOf(basket), catalog), null).map((e) => e.type)).toEqual(['OrderPlaced']);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('placing an order under an id that already exists is ALREADY_EXISTS, whatever the request and the order\'s status', () => {
    const anyItems = fc.array(fc.record({ productId: fc.uuid(), quantity: fc.integer() }), { maxLength: 3 });
    fc.assert(
      fc.property(basketArb(1, 3), commandsArb, anyItems, (basket, commands, items) => {
        const setup = placeOrder(basket);
        fc.modelRun(() => setup, commands);
        spec
          .given(setup.real.events)
          .when(place(items, catalogOf(basket)))
          .thenThrows(AlreadyExistsError, { code: 'ALREADY_EXISTS', message: ORDER_ID });
      }),
      { numRuns: 100 },
    );
  });
});
