/**
 * The sales report end to end: orders placed on several UTC days through the
 * real command path (a command service on the server's database with a clock
 * of the test's choosing), projected by the running server, read through the
 * API. Follows later cancellations, refuses bad ranges and non-staff callers,
 * equals a replay from zero, and survives a blue/green rebuild.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import { EventLogReader } from '../../src/eventlog/reader.js';
import { rebuildBlueGreen } from '../../src/projections/rebuild.js';
import { salesProjection } from '../../src/read-models/sales/projection.js';
import { CommandService, type CommandContext } from '../../src/write/commands.js';
import { sqlWriteModel } from '../../src/write-model/stores.js';
import { customer } from '../support/auth.js';
import { codes } from '../support/operations.js';
import { ReplayDatabase, expectSameReadModels, readModelSnapshot, waitUntilCaughtUp } from '../support/replay.js';
import { startTestServer, testDbKind, type TestServer } from '../support/server.js';

const REPORT = `query($from: Date!, $to: Date!) {
  salesReport(from: $from, to: $to) { date ordersPlaced byStatus { status count } revenue topProducts { productId productName units } }
}`;

const STAFF: AuthenticatedActor = { role: 'admin', userId: 'sales-test' };
const ctx: CommandContext = { actor: STAFF, metadata: { correlationId: 'sales-report-test' } };

let server: TestServer;
let now = new Date('2026-03-01T12:00:00Z');
let commands: CommandService;
let userId: string;
let lamp: string;
let desk: string;
const orders: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestServer();
  // The real write path, at the times the test says.
  commands = new CommandService(sqlWriteModel(server.app.db.sql), { clock: () => now });
  ({ id: userId } = await commands.registerUser({ name: 'Sales Customer', email: 'sales@example.com' }, ctx));
  ({ id: lamp } = await commands.addProduct({ name: 'Lamp', price: '10.00' }, ctx));
  ({ id: desk } = await commands.addProduct({ name: 'Desk', price: '150.25' }, ctx));
  const place = async (name: string, at: string, items: Array<{ productId: string; quantity: number }>) => {
    now = new Date(at);
    orders[name] = (await commands.placeOrder({ userId, items }, ctx)).id;
  };
  await place('a', '2026-03-01T00:00:00.000Z', [{ productId: lamp, quantity: 2 }]); // 20.00
  await place('b', '2026-03-01T23:59:59.999Z', [{ productId: desk, quantity: 1 }, { productId: lamp, quantity: 1 }]); // 160.25
  await place('c', '2026-03-02T08:00:00.000Z', [{ productId: desk, quantity: 2 }]); // 300.50
  await place('d', '2026-03-05T09:00:00.000Z', [{ productId: lamp, quantity: 7 }]); // 70.00
  // Later: a is confirmed and shipped, b cancelled (on another day), c confirmed; the lamp is renamed.
  now = new Date('2026-03-06T10:00:00Z');
  await commands.confirmOrder({ orderId: orders.a! }, ctx);
  await commands.shipOrder({ orderId: orders.a! }, ctx);
  await commands.cancelOrder({ orderId: orders.b!, reason: 'Changed my mind' }, ctx);
  await commands.confirmOrder({ orderId: orders.c! }, ctx);
  await commands.updateProduct({ productId: lamp, expectedVersion: 1, name: 'Desk Lamp' }, ctx);
  now = new Date('2026-03-07T10:00:00Z');
  await place('e', '2026-03-05T18:00:00.000Z', [{ productId: lamp, quantity: 1 }]); // 10.00, bought as "Desk Lamp"
  await waitUntilCaughtUp(server);
}, 120_000);
afterAll(() => server?.stop());

const EXPECTED = [
  {
    date: '2026-03-01',
    ordersPlaced: 2,
    byStatus: [{ status: 'SHIPPED', count: 1 }, { status: 'CANCELLED', count: 1 }],
    revenue: '20.00',
    topProducts: [{ productId: 'lamp', productName: 'Lamp', units: 2 }],
  },
  {
    date: '2026-03-02',
    ordersPlaced: 1,
    byStatus: [{ status: 'CONFIRMED', count: 1 }],
    revenue: '300.50',
    topProducts: [{ productId: 'desk', productName: 'Desk', units: 2 }],
  },
  {
    date: '2026-03-05',
    ordersPlaced: 2,
    byStatus: [{ status: 'PENDING', count: 2 }],
    revenue: '80.00',
    topProducts: [
      { productId: 'lamp', productName: 'Lamp', units: 7 },
      { productId: 'lamp', productName: 'Desk Lamp', units: 1 },
    ],
  },
];

/** EXPECTED with the products' real ids. */
const expected = () =>
  EXPECTED.map((day) => ({ ...day, topProducts: day.topProducts.map((p) => ({ ...p, productId: p.productId === 'lamp' ? lamp : desk })) }));

describe('salesReport', () => {
  it('reports each UTC day with orders, ascending, as its orders are now: a later cancellation leaves its day', async () => {
    const data = await server.ok(REPORT, { from: '2026-02-01', to: '2026-03-31' });
    expect(data.salesReport).toEqual(expected());
  });

  it('covers only the days asked for, both ends included', async () => {
    const data = await server.ok(REPORT, { from: '2026-03-02', to: '2026-03-05' });
    expect(data.salesReport.map((d: { date: string }) => d.date)).toEqual(['2026-03-02', '2026-03-05']);
    expect((await server.ok(REPORT, { from: '2026-03-03', to: '2026-03-04' })).salesReport).toEqual([]);
  });

  it('accepts 366 days and refuses 367, or an end before the start, as BAD_USER_INPUT', async () => {
    expect((await server.gql(REPORT, { from: '2025-03-01', to: '2026-03-01' })).errors).toBeUndefined();
    for (const range of [{ from: '2025-02-28', to: '2026-03-01' }, { from: '2026-03-02', to: '2026-03-01' }]) {
      const response = await server.gql(REPORT, range);
      expect(codes(response), JSON.stringify(range)).toEqual(['BAD_USER_INPUT']);
      expect(response.data ?? null).toBeNull();
    }
  });

  it('refuses dates that are not calendar days, as variables and as literals', async () => {
    for (const from of ['2026-02-30', '2026-3-01', '2026-03-01T00:00:00Z', '']) {
      expect(codes(await server.gql(REPORT, { from, to: '2026-03-31' })), from).toEqual(['BAD_USER_INPUT']);
    }
    const literal = await server.gql(`{ salesReport(from: "2026-13-01", to: "2026-12-31") { date } }`);
    expect(codes(literal)).toEqual(['BAD_USER_INPUT']);
  });

  it('is for staff only', async () => {
    expect(codes(await server.as(customer(userId)).gql(REPORT, { from: '2026-03-01', to: '2026-03-31' }))).toEqual(['FORBIDDEN']);
    expect(codes(await server.as('anonymous').gql(REPORT, { from: '2026-03-01', to: '2026-03-31' }))).toEqual(['UNAUTHENTICATED']);
  });

  it('is the same after a blue/green rebuild while the server serves it', async () => {
    const reader = new EventLogReader(server.app.db.sql);
    const replayed = await rebuildBlueGreen(server.app.db.sql, reader, [salesProjection]);
    expect(replayed).toBeGreaterThan(10);
    const data = await server.ok(REPORT, { from: '2026-02-01', to: '2026-03-31' });
    expect(data.salesReport).toEqual(expected());
  });

  it.runIf(testDbKind() === 'postgres')('equals a replay of the event log from zero', async () => {
    const replay = await ReplayDatabase.create();
    try {
      const rebuilt = await replay.replayFrom(server.app.db.prisma, { batchSize: 3 });
      expectSameReadModels(rebuilt, await readModelSnapshot(server.app.db.prisma));
      expect(rebuilt.sales_day).toHaveLength(3);
    } finally {
      await replay.dispose();
    }
  });
});
