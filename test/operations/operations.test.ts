/**
 * The example operations in operations/*.graphql, as the typed document nodes
 * codegen generates from them (src/generated/operations.ts), run against a
 * started server: every operation in those files is executed and its result
 * checked. Also: codegen rejects an operation that does not fit the schema,
 * so a schema change that breaks an example fails the build.
 */
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { generate } from '@graphql-codegen/cli';
import { Kind, parse, print } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import codegenConfig from '../../codegen.js';
import * as ops from '../../src/generated/operations.js';
import { addProduct, cancel, placeOrder, registerUser } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { record, wsClient } from '../support/ws.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OPERATIONS_DIR = join(ROOT, 'operations');

/** Every operation defined in operations/*.graphql: name → file. */
function operationsInFiles(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of readdirSync(OPERATIONS_DIR).filter((f) => f.endsWith('.graphql'))) {
    for (const def of parse(readFileSync(join(OPERATIONS_DIR, file), 'utf8')).definitions) {
      if (def.kind === Kind.OPERATION_DEFINITION && def.name) found.set(def.name.value, file);
    }
  }
  return found;
}

function operationName(doc: TypedDocumentNode<any, any>): string {
  const op = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (!op || op.kind !== Kind.OPERATION_DEFINITION || !op.name) throw new Error('document without a named operation');
  return op.name.value;
}

let server: TestServer;
let client: Client;
/** The operations the running test executed (reset before each test). */
const executed = new Set<string>();

/** Runs a typed operation over HTTP; fails on any GraphQL error. */
async function run<TData, TVariables>(doc: TypedDocumentNode<TData, TVariables>, variables?: TVariables): Promise<TData> {
  executed.add(operationName(doc));
  return server.ok<TData>(print(doc), variables as Record<string, unknown> | undefined);
}

/** Subscribes with a typed operation over graphql-ws. */
function subscribe<TData, TVariables>(doc: TypedDocumentNode<TData, TVariables>, variables?: TVariables) {
  executed.add(operationName(doc));
  return record<TData>(client, print(doc), variables as Record<string, unknown> | undefined);
}

beforeAll(async () => {
  server = await startTestServer();
  client = wsClient(server.url);
});
afterAll(async () => {
  await client?.dispose();
  await server?.stop();
});

const email = (name: string) => `${name}.${process.pid}.${Date.now().toString(36)}@example.com`;

/** Which test below runs which operations: together, every operation in operations/*.graphql. */
const COVERS = {
  users: ['RegisterUser', 'UpdateUserProfile', 'User', 'Users', 'UsersConnection', 'UserProfileChanged'],
  products: ['AddProduct', 'UpdateProduct', 'Product', 'Products'],
  orders: ['PlaceOrder', 'ConfirmOrder', 'ShipOrder', 'DeliverOrder', 'CancelOrder', 'Order', 'Orders', 'OrderStatusChanged', 'OrdersChanged', 'OrdersConnection', 'UserOrdersConnection'],
  status: ['Projections'],
  sales: ['SalesReport'],
} as const;

describe('operations/*.graphql against the server', () => {
  beforeEach(() => executed.clear());
  const expectRan = (group: keyof typeof COVERS) => expect([...executed].sort()).toEqual([...COVERS[group]].sort());
  const total = async (list: 'users' | 'products') => (await server.ok(`{ ${list}(pageSize: 1) { total } }`))[list].total as number;

  it(`users: ${COVERS.users.join(', ')}`, async () => {
    const before = await total('users');
    const registered = await run(ops.RegisterUserDocument, { name: 'Grace Hopper', email: email('grace') });
    expect(registered.registerUser.user).toMatchObject({ name: 'Grace Hopper', version: 1, orderCount: 0, totalSpent: '0.00' });
    const userId = registered.registerUser.userId;
    const otherUserId = (await run(ops.RegisterUserDocument, { name: 'Alan Turing', email: email('alan') })).registerUser.userId;

    const profile = subscribe(ops.UserProfileChangedDocument, { userId });
    await profile.next(1);
    const updated = await run(ops.UpdateUserProfileDocument, { userId, expectedVersion: 1, name: 'Rear Admiral Grace Hopper' });
    expect(updated.updateUserProfile).toMatchObject({ version: 2, user: { name: 'Rear Admiral Grace Hopper', version: 2 } });
    await profile.next(2);
    expect(profile.data().map((d) => d.userProfileChanged.name)).toEqual(['Grace Hopper', 'Rear Admiral Grace Hopper']);
    profile.dispose();

    const { user } = await run(ops.UserDocument, { id: userId });
    expect(user).toMatchObject({ id: userId, name: 'Rear Admiral Grace Hopper', orders: { total: 0, orders: [] } });
    const { users } = await run(ops.UsersDocument, { pageSize: 100 });
    expect(users.users.map((u) => u.id)).toEqual(expect.arrayContaining([userId, otherUserId]));
    expect(users).toMatchObject({ page: 1, pageSize: 100, total: before + 2, totalPages: Math.ceil((before + 2) / 100) });

    const first = (await run(ops.UsersConnectionDocument, { first: 1 })).usersConnection;
    expect(first).toMatchObject({ totalCount: before + 2, pageInfo: { hasNextPage: true, hasPreviousPage: false } });
    const next = (await run(ops.UsersConnectionDocument, { first: 1, after: first.pageInfo.endCursor })).usersConnection;
    expect(next.pageInfo).toMatchObject({ hasNextPage: before > 0, hasPreviousPage: true });
    // Newest first: the two users just registered.
    expect([...first.edges, ...next.edges].map((e) => e.node.id).sort()).toEqual([userId, otherUserId].sort());
    expectRan('users');
  });

  it(`products: ${COVERS.products.join(', ')}`, async () => {
    const before = await total('products');
    const added = await run(ops.AddProductDocument, { name: 'Nanosecond wire', price: '0.30' });
    expect(added.addProduct.product).toMatchObject({ name: 'Nanosecond wire', price: '0.30', version: 1 });
    const productId = added.addProduct.productId;
    const otherProductId = (await run(ops.AddProductDocument, { name: 'COBOL manual', price: 24.5 })).addProduct.productId;

    const updated = await run(ops.UpdateProductDocument, { productId, expectedVersion: 1, price: '0.35' });
    expect(updated.updateProduct.product).toMatchObject({ price: '0.35', version: 2 });
    expect((await run(ops.ProductDocument, { id: otherProductId })).product).toMatchObject({ name: 'COBOL manual', price: '24.50' });
    const { products } = await run(ops.ProductsDocument, {});
    expect(products.total).toBe(before + 2);
    // Newest first.
    expect(products.products.slice(0, 2).map((p) => [p.id, p.name, p.price])).toEqual([
      [otherProductId, 'COBOL manual', '24.50'],
      [productId, 'Nanosecond wire', '0.35'],
    ]);
    expectRan('products');
  });

  it(`orders: ${COVERS.orders.join(', ')}`, async () => {
    const { userId } = await registerUser(server, 'Grace Hopper');
    const { productId } = await addProduct(server, 'Nanosecond wire', '0.35');
    const { productId: otherProductId, position: beforeOrders } = await addProduct(server, 'COBOL manual', '24.50');
    // `since`: replays every matching change after that position, then goes live,
    // so nothing is missed however long subscribing takes.
    const changes = subscribe(ops.OrdersChangedDocument, { filter: { userId }, since: beforeOrders });
    const placed = await run(ops.PlaceOrderDocument, {
      userId,
      items: [
        { productId, quantity: 3 },
        { productId: otherProductId, quantity: 1 },
      ],
    });
    const order = placed.placeOrder.order!;
    expect(order).toMatchObject({ status: 'PENDING', statusDisplay: 'Pending', total: '25.55', itemCount: 2, version: 1 });
    expect(order.items).toEqual(
      expect.arrayContaining([
        { productId, productName: 'Nanosecond wire', quantity: 3, price: '0.35', subtotal: '1.05' },
        expect.objectContaining({ productName: 'COBOL manual', subtotal: '24.50' }),
      ]),
    );
    const orderId = placed.placeOrder.orderId;

    const status = subscribe(ops.OrderStatusChangedDocument, { orderId });
    await status.next(1);
    expect((await run(ops.ConfirmOrderDocument, { orderId, expectedVersion: 1 })).confirmOrder.order?.status).toBe('CONFIRMED');
    expect((await run(ops.ShipOrderDocument, { orderId })).shipOrder.order?.status).toBe('SHIPPED');
    expect((await run(ops.DeliverOrderDocument, { orderId })).deliverOrder.order).toMatchObject({ status: 'DELIVERED', version: 4 });
    await status.next(4);
    expect(status.data().map((d) => d.orderStatusChanged.status)).toEqual(['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED']);
    status.dispose();

    const second = await run(ops.PlaceOrderDocument, { userId, items: [{ productId: otherProductId, quantity: 2 }] });
    const cancelled = await run(ops.CancelOrderDocument, { orderId: second.placeOrder.orderId, reason: 'Ordered twice' });
    expect(cancelled.cancelOrder.order).toMatchObject({
      status: 'CANCELLED',
      statusDisplay: 'Cancelled (Ordered twice)',
      cancellationReason: 'Ordered twice',
    });

    // OrdersChanged: every change of this user's orders, in order.
    await changes.next(6);
    expect(changes.data().map((d) => [d.ordersChanged.id, d.ordersChanged.status])).toEqual([
      [orderId, 'PENDING'],
      [orderId, 'CONFIRMED'],
      [orderId, 'SHIPPED'],
      [orderId, 'DELIVERED'],
      [second.placeOrder.orderId, 'PENDING'],
      [second.placeOrder.orderId, 'CANCELLED'],
    ]);
    changes.dispose();

    const { order: read } = await run(ops.OrderDocument, { id: orderId });
    expect(read).toMatchObject({ id: orderId, status: 'DELIVERED', user: { id: userId, orderCount: 2, totalSpent: '25.55' } });
    expect(read?.items.map((i) => i.product?.name).sort()).toEqual(['COBOL manual', 'Nanosecond wire']);

    const { orders } = await run(ops.OrdersDocument, { filter: { userId, status: 'CANCELLED' } });
    expect(orders).toMatchObject({ total: 1, orders: [{ id: second.placeOrder.orderId, user: { name: 'Grace Hopper' } }] });
    // Cursor pages, newest first: the second order, then the first.
    const page1 = (await run(ops.OrdersConnectionDocument, { filter: { userId }, first: 1 })).ordersConnection;
    expect(page1).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: true, hasPreviousPage: false } });
    expect(page1.edges.map((e) => e.node.id)).toEqual([second.placeOrder.orderId]);
    const page2 = (await run(ops.OrdersConnectionDocument, { filter: { userId }, first: 1, after: page1.pageInfo.endCursor })).ordersConnection;
    expect(page2.edges.map((e) => [e.node.id, e.node.status])).toEqual([[orderId, 'DELIVERED']]);
    expect(page2.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const back = (await run(ops.OrdersConnectionDocument, { filter: { userId }, last: 1, before: page2.pageInfo.startCursor })).ordersConnection;
    expect(back.edges.map((e) => e.node.id)).toEqual([second.placeOrder.orderId]);

    const { user } = await run(ops.UserOrdersConnectionDocument, { id: userId, first: 1 });
    expect(user?.ordersConnection).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: true } });
    const rest = await run(ops.UserOrdersConnectionDocument, { id: userId, first: 1, after: user?.ordersConnection.pageInfo.endCursor });
    expect(rest.user?.ordersConnection.edges.map((e) => e.node.id)).toEqual([orderId]);
    expectRan('orders');
  });

  it(`status: ${COVERS.status.join(', ')}`, async () => {
    const { position: head } = await registerUser(server, 'Status check');
    for (const projector of server.app.projectors) await projector.catchUp();
    const { projections } = await run(ops.ProjectionsDocument);
    expect([...projections].sort((x, y) => x.name.localeCompare(y.name))).toEqual(
      ['orders', 'products', 'sales', 'users'].map((name) => ({ name, position: head, headPosition: head, lag: 0 })),
    );
    expectRan('status');
  });

  it(`sales: ${COVERS.sales.join(', ')}`, async () => {
    const { userId } = await registerUser(server, 'Sales check');
    const { productId } = await addProduct(server, 'Sales check lamp', '12.50');
    await placeOrder(server, userId, [{ productId, quantity: 3 }]);
    const cancelled = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    await cancel(server, cancelled.orderId, 'Sales check');
    for (const projector of server.app.projectors) await projector.catchUp();
    // Yesterday too: the suite may cross midnight UTC.
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const { salesReport } = await run(ops.SalesReportDocument, { from: day(-1), to: day(0) });
    const { orders } = await server.ok(`{ orders(pageSize: 1) { total } }`);
    expect(salesReport.reduce((n, d) => n + d.ordersPlaced, 0)).toBe(orders.total);
    const lamp = salesReport.flatMap((d) => d.topProducts).filter((p) => p.productId === productId);
    expect(lamp).toEqual([{ productId, productName: 'Sales check lamp', units: 3 }]);
    expectRan('sales');
  });

  it('every operation in operations/*.graphql has a typed document and one of the tests above runs it', () => {
    const inFiles = operationsInFiles();
    expect(inFiles.size).toBeGreaterThanOrEqual(19);
    for (const name of inFiles.keys()) expect(ops).toHaveProperty(`${name}Document`);
    expect(Object.values(COVERS).flat().sort()).toEqual([...inFiles.keys()].sort());
  });
});

describe('codegen validates the operations against schema.graphql', () => {
  const target = codegenConfig.generates['src/generated/operations.ts'] as Record<string, unknown>;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'orders-codegen-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const codegen = (schema: string, documents: string[]) =>
    generate(
      {
        ...codegenConfig,
        cwd: ROOT,
        silent: true,
        schema,
        generates: { [join(dir, 'operations.ts')]: { ...target, documents } },
      } as Parameters<typeof generate>[0],
      false,
    );

  it('generates typed documents for the operations as they are', async () => {
    const [output] = await codegen('schema.graphql', ['operations/*.graphql']);
    expect(output?.content).toContain('export const OrderStatusChangedDocument');
  });

  it('fails on an operation that asks for a field the schema does not have', async () => {
    const broken = join(dir, 'broken.graphql');
    writeFileSync(broken, 'query Broken { orders { orders { id shippingLabel } } }\n');
    await expect(codegen('schema.graphql', ['operations/*.graphql', broken])).rejects.toThrow(/shippingLabel/);
  });

  it('fails when a schema change breaks an example operation', async () => {
    const schema = readFileSync(join(ROOT, 'schema.graphql'), 'utf8');
    const changed = join(dir, 'schema.graphql');
    writeFileSync(changed, schema.replace(/^\s*statusDisplay: String!\n/m, '\n'));
    expect(readFileSync(changed, 'utf8')).not.toContain('statusDisplay: String!');
    await expect(codegen(changed, ['operations/*.graphql'])).rejects.toThrow(/statusDisplay/);
  });
});
