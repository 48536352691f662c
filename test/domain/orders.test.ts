import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import {
  AlreadyExistsError,
  ForbiddenError,
  InvalidTransitionError,
  NotFoundError,
  ValidationError,
} from '../../src/domain/errors.js';
import { MAX_PRICE_CENTS, formatMoney, parseMoney } from '../../src/domain/money.js';
import {
  decideOrder,
  evolveOrder,
  type OrderCommand,
  type OrderEvent,
  type OrderLineRequest,
  type OrderPlaced,
  type OrderStatus,
  type PlaceOrder,
} from '../../src/domain/orders.js';
import type { Product } from '../../src/domain/products.js';
import type { User } from '../../src/domain/users.js';
import { deciderSpec } from './given.js';

const spec = deciderSpec({ decide: decideOrder, evolve: evolveOrder });

const ORDER_ID = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a';
const USER_ID = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';

const customer: User = { id: USER_ID, name: 'Ada Lovelace', email: 'ada@example.com' };

/** A product id that is a valid UUID and distinct per index. */
function productId(index: number): string {
  return `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

const widget: Product = { id: productId(1), name: 'Widget', price: 1999n };
const gadget: Product = { id: productId(2), name: 'Gadget', price: 550n };

function place(
  items: readonly OrderLineRequest[],
  overrides: Partial<Omit<PlaceOrder['data'], 'items'>> = {},
): PlaceOrder {
  return {
    type: 'PlaceOrder',
    data: { orderId: ORDER_ID, userId: USER_ID, items, customer, products: [widget, gadget], ...overrides },
  };
}

const confirm: OrderCommand = { type: 'ConfirmOrder', data: { orderId: ORDER_ID } };
const ship: OrderCommand = { type: 'ShipOrder', data: { orderId: ORDER_ID } };
const deliver: OrderCommand = { type: 'DeliverOrder', data: { orderId: ORDER_ID } };
const STAFF = { role: 'admin', userId: 'staff-1' } as const;
const cancel = (reason = 'Customer changed their mind', requestedBy: AuthenticatedActor = STAFF): OrderCommand => ({
  type: 'CancelOrder',
  data: { orderId: ORDER_ID, reason, requestedBy },
});

const placed: OrderPlaced = {
  type: 'OrderPlaced',
  data: {
    orderId: ORDER_ID,
    userId: USER_ID,
    items: [
      { productId: widget.id, productName: 'Widget', quantity: 2, unitPrice: '19.99', subtotal: '39.98' },
      { productId: gadget.id, productName: 'Gadget', quantity: 1, unitPrice: '5.50', subtotal: '5.50' },
    ],
    total: '45.48',
  },
};
const confirmed: OrderEvent = { type: 'OrderConfirmed', data: { orderId: ORDER_ID } };
const shipped: OrderEvent = { type: 'OrderShipped', data: { orderId: ORDER_ID } };
const delivered: OrderEvent = { type: 'OrderDelivered', data: { orderId: ORDER_ID } };
const cancelled = (reason = 'Customer changed their mind', cancelledBy: 'customer' | 'staff' = 'staff'): OrderEvent => ({
  type: 'OrderCancelled',
  data: { orderId: ORDER_ID, reason, cancelledBy },
});

/** Event histories that leave the order in each status. */
const history: Record<OrderStatus, OrderEvent[]> = {
  PENDING: [placed],
  CONFIRMED: [placed, confirmed],
  SHIPPED: [placed, confirmed, shipped],
  DELIVERED: [placed, confirmed, shipped, delivered],
  CANCELLED: [placed, confirmed, cancelled()],
};

describe('placing an order', () => {
  it('records OrderPlaced with catalog names, unit prices, subtotals and the total', () => {
    spec
      .given([])
      .when(place([{ productId: widget.id, quantity: 2 }, { productId: gadget.id, quantity: 1 }]))
      .then([placed]);
  });

  it('a new order is PENDING, with exact cents and no cancellation reason', () => {
    expect(spec.given([placed]).state).toEqual({
      id: ORDER_ID,
      userId: USER_ID,
      status: 'PENDING',
      lines: [
        { productId: widget.id, productName: 'Widget', unitPrice: 1999n, quantity: 2 },
        { productId: gadget.id, productName: 'Gadget', unitPrice: 550n, quantity: 1 },
      ],
      total: 4548n,
      cancellationReason: null,
    });
  });

  it('the unit price is the catalog price, whatever the request claims', () => {
    const sneaky = { productId: widget.id, quantity: 1, unitPrice: '0.01', price: 0 } as OrderLineRequest;
    spec
      .given([])
      .when(place([sneaky]))
      .then([
        {
          type: 'OrderPlaced',
          data: {
            orderId: ORDER_ID,
            userId: USER_ID,
            items: [{ productId: widget.id, productName: 'Widget', quantity: 1, unitPrice: '19.99', subtotal: '19.99' }],
            total: '19.99',
          },
        },
      ]);
  });

  it('lines keep the order in which they were requested, not catalog order', () => {
    spec
      .given([])
      .when(place([{ productId: gadget.id, quantity: 3 }, { productId: widget.id, quantity: 1 }]))
      .then([
        {
          type: 'OrderPlaced',
          data: {
            orderId: ORDER_ID,
            userId: USER_ID,
            items: [
              { productId: gadget.id, productName: 'Gadget', quantity: 3, unitPrice: '5.50', subtotal: '16.50' },
              { productId: widget.id, productName: 'Widget', quantity: 1, unitPrice: '19.99', subtotal: '19.99' },
            ],
            total: '36.49',
          },
        },
      ]);
  });

  it('placing an order whose id already exists is refused with ALREADY_EXISTS', () => {
    spec
      .given([placed])
      .when(place([{ productId: widget.id, quantity: 1 }]))
      .thenThrows(AlreadyExistsError, { code: 'ALREADY_EXISTS', message: ORDER_ID });
  });

  describe('an order has 1–100 lines', () => {
    const catalog = Array.from({ length: 101 }, (_, i): Product => ({ id: productId(i + 1), name: `P${i + 1}`, price: 100n }));
    const lines = (n: number) => catalog.slice(0, n).map((p) => ({ productId: p.id, quantity: 1 }));

    it('an order with no lines is BAD_USER_INPUT on `items`', () => {
      spec
        .given([])
        .when(place([], { products: catalog }))
        .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'items', message: 'got 0' });
    });

    it('an order with 101 lines is BAD_USER_INPUT on `items`', () => {
      spec
        .given([])
        .when(place(lines(101), { products: catalog }))
        .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'items', message: 'expected 1–100 lines, got 101' });
    });

    it('an order with exactly 100 lines is accepted', () => {
      const [event] = decideOrder(place(lines(100), { products: catalog }), null);
      expect(event?.type).toBe('OrderPlaced');
      const data = (event as OrderPlaced).data;
      expect(data.items).toHaveLength(100);
      expect(data.total).toBe('100.00');
    });

    it('an order with exactly 1 line is accepted', () => {
      const [event] = decideOrder(place(lines(1), { products: catalog }), null);
      expect((event as OrderPlaced).data.items).toHaveLength(1);
    });
  });

  it('ordering the same product twice is BAD_USER_INPUT on the repeated line', () => {
    spec
      .given([])
      .when(
        place([
          { productId: widget.id, quantity: 1 },
          { productId: gadget.id, quantity: 1 },
          { productId: widget.id, quantity: 3 },
        ]),
      )
      .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'items[2].productId', message: widget.id });
  });

  describe('quantity is an integer from 1 to 10000', () => {
    it.each([
      ['zero', 0],
      ['negative', -1],
      ['10001', 10_001],
      ['fractional 1.5', 1.5],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
    ])('a quantity of %s is BAD_USER_INPUT on `items[0].quantity`', (_label, quantity) => {
      spec
        .given([])
        .when(place([{ productId: widget.id, quantity }]))
        .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'items[0].quantity', message: 'integer from 1 to 10000' });
    });

    it('the field names the index of the offending line', () => {
      spec
        .given([])
        .when(place([{ productId: widget.id, quantity: 1 }, { productId: gadget.id, quantity: 0 }]))
        .thenThrows(ValidationError, { field: 'items[1].quantity', message: 'got 0' });
    });

    it.each([1, 10_000])('a quantity of %i is accepted', (quantity) => {
      const [event] = decideOrder(place([{ productId: gadget.id, quantity }]), null);
      expect((event as OrderPlaced).data.items[0]?.quantity).toBe(quantity);
    });
  });

  it('a missing customer is NOT_FOUND naming the user id', () => {
    spec
      .given([])
      .when(place([{ productId: widget.id, quantity: 1 }], { customer: null }))
      .thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `User not found: ${USER_ID}` });
  });

  it('missing products are NOT_FOUND naming every missing id and only those', () => {
    const ghost1 = productId(0xdead);
    const ghost2 = productId(0xbeef);
    const error = spec
      .given([])
      .when(
        place([
          { productId: ghost1, quantity: 1 },
          { productId: widget.id, quantity: 1 },
          { productId: ghost2, quantity: 1 },
        ]),
      )
      .thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `Product not found: ${ghost1}, ${ghost2}` });
    expect(error.message).not.toContain(widget.id);
  });

  describe('the total is the exact sum of unit price × quantity', () => {
    it('0.10 × 3 + 0.20 × 3 is exactly 0.90', () => {
      const dime: Product = { id: productId(10), name: 'Dime', price: parseMoney('0.1', 'price') };
      const twenty: Product = { id: productId(20), name: 'Twenty', price: parseMoney(0.2, 'price') };
      const [event] = decideOrder(
        place(
          [
            { productId: dime.id, quantity: 3 },
            { productId: twenty.id, quantity: 3 },
          ],
          { products: [dime, twenty] },
        ),
        null,
      );
      const data = (event as OrderPlaced).data;
      expect(data.items.map((l) => [l.unitPrice, l.subtotal])).toEqual([
        ['0.10', '0.30'],
        ['0.20', '0.60'],
      ]);
      expect(data.total).toBe('0.90');
    });

    it('the largest price × the largest quantity has no floating-point error', () => {
      const dear: Product = { id: productId(99), name: 'Dear', price: MAX_PRICE_CENTS };
      const [event] = decideOrder(place([{ productId: dear.id, quantity: 10_000 }], { products: [dear] }), null);
      const data = (event as OrderPlaced).data;
      expect(data.items[0]?.unitPrice).toBe('99999999999.99');
      expect(data.items[0]?.subtotal).toBe('999999999999900.00');
      expect(data.total).toBe('999999999999900.00');
      expect(spec.given([event!]).state?.total).toBe(99_999_999_999_990_000n);
    });

    it('100 lines at the largest price and quantity still add up exactly', () => {
      const catalog = Array.from({ length: 100 }, (_, i): Product => ({ id: productId(i + 1), name: `P${i}`, price: MAX_PRICE_CENTS }));
      const items = catalog.map((p) => ({ productId: p.id, quantity: 10_000 }));
      const [event] = decideOrder(place(items, { products: catalog }), null);
      expect((event as OrderPlaced).data.total).toBe('99999999999990000.00');
    });

    it('a free product contributes 0.00', () => {
      const freebie: Product = { id: productId(7), name: 'Sticker', price: 0n };
      const [event] = decideOrder(
        place([{ productId: freebie.id, quantity: 5 }, { productId: gadget.id, quantity: 2 }], {
          products: [freebie, gadget],
        }),
        null,
      );
      expect((event as OrderPlaced).data.items[0]?.subtotal).toBe('0.00');
      expect((event as OrderPlaced).data.total).toBe('11.00');
    });

    it('for random catalogs and quantities the total equals Σ subtotals equals Σ price × quantity', () => {
      const line = fc.record({ price: fc.bigInt({ min: 0n, max: MAX_PRICE_CENTS }), quantity: fc.integer({ min: 1, max: 10_000 }) });
      fc.assert(
        fc.property(fc.array(line, { minLength: 1, maxLength: 100 }), (lines) => {
          const products = lines.map((l, i): Product => ({ id: productId(i + 1), name: `P${i}`, price: l.price }));
          const items = lines.map((l, i) => ({ productId: productId(i + 1), quantity: l.quantity }));
          const [event] = decideOrder(place(items, { products }), null);
          const data = (event as OrderPlaced).data;
          const expected = lines.reduce((sum, l) => sum + l.price * BigInt(l.quantity), 0n);
          expect(parseMoney(data.total, 'total')).toBe(expected);
          expect(data.items.reduce((sum, l) => sum + parseMoney(l.subtotal, 'subtotal'), 0n)).toBe(expected);
          data.items.forEach((l, i) => {
            expect(l.unitPrice).toBe(formatMoney(lines[i]!.price));
          });
        }),
        { numRuns: 200 },
      );
    });
  });
});

describe('order lifecycle', () => {
  it('confirming a pending order records OrderConfirmed', () => {
    spec.given(history.PENDING).when(confirm).then([confirmed]);
    expect(spec.given([...history.PENDING, confirmed]).state?.status).toBe('CONFIRMED');
  });

  it('shipping a confirmed order records OrderShipped', () => {
    spec.given(history.CONFIRMED).when(ship).then([shipped]);
    expect(spec.given([...history.CONFIRMED, shipped]).state?.status).toBe('SHIPPED');
  });

  it('delivering a shipped order records OrderDelivered', () => {
    spec.given(history.SHIPPED).when(deliver).then([delivered]);
    expect(spec.given([...history.SHIPPED, delivered]).state?.status).toBe('DELIVERED');
  });

  it('lifecycle events leave the lines, total and customer untouched', () => {
    const state = spec.given(history.DELIVERED).state;
    const initial = spec.given(history.PENDING).state;
    expect(state).toEqual({ ...initial, status: 'DELIVERED' });
  });

  const wrongTransitions: Array<[string, OrderCommand, OrderStatus, OrderStatus]> = [
    ['confirming', confirm, 'CONFIRMED', 'CONFIRMED'],
    ['confirming', confirm, 'SHIPPED', 'CONFIRMED'],
    ['confirming', confirm, 'DELIVERED', 'CONFIRMED'],
    ['confirming', confirm, 'CANCELLED', 'CONFIRMED'],
    ['shipping', ship, 'PENDING', 'SHIPPED'],
    ['shipping', ship, 'SHIPPED', 'SHIPPED'],
    ['shipping', ship, 'DELIVERED', 'SHIPPED'],
    ['shipping', ship, 'CANCELLED', 'SHIPPED'],
    ['delivering', deliver, 'PENDING', 'DELIVERED'],
    ['delivering', deliver, 'CONFIRMED', 'DELIVERED'],
    ['delivering', deliver, 'DELIVERED', 'DELIVERED'],
    ['delivering', deliver, 'CANCELLED', 'DELIVERED'],
  ];

  it.each(wrongTransitions)(
    '%s an order that is %s is an invalid transition naming both statuses',
    (_verb, command, current, requested) => {
      const error = spec
        .given(history[current])
        .when(command)
        .thenThrows(InvalidTransitionError, {
          code: 'INVALID_TRANSITION',
          message: `Cannot change an order from ${current} to ${requested}`,
        });
      expect(error.current).toBe(current);
      expect(error.requested).toBe(requested);
      expect(error.details).toEqual({ currentStatus: current, requestedStatus: requested });
    },
  );

  describe('cancelling', () => {
    it.each<OrderStatus>(['PENDING', 'CONFIRMED', 'SHIPPED'])('a %s order can be cancelled', (status) => {
      spec.given(history[status]).when(cancel('Out of stock')).then([cancelled('Out of stock')]);
    });

    it('a cancelled order is CANCELLED and remembers the reason', () => {
      const state = spec.given([...history.SHIPPED, cancelled('Lost in transit')]).state;
      expect(state?.status).toBe('CANCELLED');
      expect(state?.cancellationReason).toBe('Lost in transit');
    });

    it('cancelling a delivered order is an invalid transition naming both statuses', () => {
      const error = spec
        .given(history.DELIVERED)
        .when(cancel())
        .thenThrows(InvalidTransitionError, {
          code: 'INVALID_TRANSITION',
          message: 'Cannot change an order from DELIVERED to CANCELLED',
        });
      expect(error.details).toEqual({ currentStatus: 'DELIVERED', requestedStatus: 'CANCELLED' });
    });

    it('cancelling an already cancelled order is an invalid transition naming both statuses', () => {
      spec
        .given([placed, cancelled('first')])
        .when(cancel('second'))
        .thenThrows(InvalidTransitionError, {
          code: 'INVALID_TRANSITION',
          message: 'Cannot change an order from CANCELLED to CANCELLED',
        });
    });

    it('the reason is trimmed', () => {
      spec.given(history.PENDING).when(cancel('  \t Out of stock \n')).then([cancelled('Out of stock')]);
    });

    it.each([
      ['empty', ''],
      ['whitespace only', '   \n\t '],
      ['501 characters', 'r'.repeat(501)],
    ])('a %s reason is BAD_USER_INPUT on `reason`', (_label, reason) => {
      spec
        .given(history.PENDING)
        .when(cancel(reason))
        .thenThrows(ValidationError, {
          code: 'BAD_USER_INPUT',
          field: 'reason',
          message: `expected 1–500 characters, got ${reason.trim().length}`,
        });
    });

    it.each([
      ['1 character', 'x', 'x'],
      ['500 characters', 'r'.repeat(500), 'r'.repeat(500)],
      ['500 characters once its padding is trimmed', `  ${'r'.repeat(500)}  `, 'r'.repeat(500)],
    ])('a reason of %s is accepted', (_label, reason, stored) => {
      spec.given(history.CONFIRMED).when(cancel(reason)).then([cancelled(stored)]);
    });
  });

  describe('cancelling as the customer', () => {
    const owner: AuthenticatedActor = { role: 'customer', userId: USER_ID };
    const stranger: AuthenticatedActor = { role: 'customer', userId: '00000000-0000-4000-8000-00000000beef' };

    it.each<OrderStatus>(['PENDING', 'CONFIRMED'])('the owner can cancel their %s order', (status) => {
      spec.given(history[status]).when(cancel('Too late', owner)).then([cancelled('Too late', 'customer')]);
    });

    it('the owner cannot cancel a SHIPPED order (staff can): FORBIDDEN naming the status', () => {
      spec.given(history.SHIPPED).when(cancel('Too late', owner)).thenThrows(ForbiddenError, {
        code: 'FORBIDDEN',
        message: 'Customers may cancel an order only while it is PENDING or CONFIRMED; it is SHIPPED',
      });
    });

    it.each<OrderStatus>(['PENDING', 'SHIPPED', 'DELIVERED'])(
      "someone else's %s order looks exactly like a missing one: NOT_FOUND",
      (status) => {
        spec
          .given(history[status])
          .when(cancel('Mine now', stranger))
          .thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `Order not found: ${ORDER_ID}` });
        spec
          .given([])
          .when(cancel('Mine now', stranger))
          .thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `Order not found: ${ORDER_ID}` });
      },
    );
  });

  describe('commands on an order that does not exist', () => {
    it.each<[string, OrderCommand]>([
      ['confirming', confirm],
      ['shipping', ship],
      ['delivering', deliver],
      ['cancelling', cancel()],
    ])('%s a missing order is NOT_FOUND naming the order id', (_verb, command) => {
      spec
        .given([])
        .when(command)
        .thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `Order not found: ${ORDER_ID}` });
    });
  });

  it('a lifecycle event before OrderPlaced cannot be folded', () => {
    expect(() => spec.given([confirmed])).toThrow(/OrderConfirmed .* arrived before OrderPlaced/);
  });
});

describe('order state machine (property)', () => {
  /** The reference model: which command moves which status where. */
  const ALLOWED: Record<OrderCommand['type'], { from: readonly OrderStatus[]; to: OrderStatus }> = {
    PlaceOrder: { from: [], to: 'PENDING' },
    ConfirmOrder: { from: ['PENDING'], to: 'CONFIRMED' },
    ShipOrder: { from: ['CONFIRMED'], to: 'SHIPPED' },
    DeliverOrder: { from: ['SHIPPED'], to: 'DELIVERED' },
    CancelOrder: { from: ['PENDING', 'CONFIRMED', 'SHIPPED'], to: 'CANCELLED' },
  };
  const EDGES = new Set(['PENDING>CONFIRMED', 'CONFIRMED>SHIPPED', 'SHIPPED>DELIVERED', 'PENDING>CANCELLED', 'CONFIRMED>CANCELLED', 'SHIPPED>CANCELLED']);
  const TERMINAL: ReadonlySet<OrderStatus> = new Set(['DELIVERED', 'CANCELLED']);

  const reason = fc
    .tuple(fc.string({ maxLength: 3 }).map((s) => s.replace(/\S/g, ' ')), fc.string({ minLength: 1, maxLength: 500 }))
    .filter(([, core]) => core.trim().length > 0)
    .map(([pad, core]) => pad + core + pad);

  const command: fc.Arbitrary<OrderCommand> = fc.oneof(
    fc.constant(confirm),
    fc.constant(ship),
    fc.constant(deliver),
    reason.map((r) => cancel(r)),
  );

  it('random valid command sequences only follow the state machine and never leave a terminal state', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 25 }), (commands) => {
        let events: OrderEvent[] = [placed];
        let status: OrderStatus = 'PENDING';
        for (const cmd of commands) {
          const state = spec.given(events).state;
          expect(state?.status).toBe(status);
          const rule = ALLOWED[cmd.type];
          let decided: OrderEvent[] | undefined;
          let error: unknown;
          try {
            decided = decideOrder(cmd, state);
          } catch (e) {
            error = e;
          }
          if (rule.from.includes(status)) {
            expect(error).toBeUndefined();
            expect(decided).toHaveLength(1);
            events = [...events, ...decided!];
            const next = spec.given(events).state!.status;
            expect(next).toBe(rule.to);
            expect(EDGES.has(`${status}>${next}`)).toBe(true);
            if (cmd.type === 'CancelOrder') {
              expect(spec.given(events).state!.cancellationReason).toBe(cmd.data.reason.trim());
            }
            status = next;
          } else {
            expect(error).toBeInstanceOf(InvalidTransitionError);
            expect((error as InvalidTransitionError).message).toBe(`Cannot change an order from ${status} to ${rule.to}`);
          }
        }
        // Once terminal, every further command is refused and the status stays put.
        if (TERMINAL.has(status)) {
          const state = spec.given(events).state;
          for (const cmd of [confirm, ship, deliver, cancel('again')]) {
            expect(() => decideOrder(cmd, state)).toThrow(InvalidTransitionError);
          }
          expect(state?.status).toBe(status);
        }
        // The totals and lines never change along the way.
        const final = spec.given(events).state!;
        expect(final.total).toBe(4548n);
        expect(final.lines).toEqual(spec.given([placed]).state!.lines);
      }),
      { numRuns: 500 },
    );
  });
});
