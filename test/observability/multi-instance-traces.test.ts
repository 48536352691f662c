import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { PLACE_ORDER, uniqueEmail } from '../support/operations.js';
import { KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { startServerProcess, stopAll, type ServerProcess } from '../support/process.js';
import { testDbKind } from '../support/server.js';
import { record, wsClient } from '../support/ws.js';

/**
 * Two server processes on one PostgreSQL database, started with the standard
 * OTEL_* variables (as an operator would) and exporting to one receiver: a
 * mutation on instance B, applied by the orders projector on instance A, and
 * the message it causes sent by B. The chain holds across the processes
 * through what the database carries: the event's metadata (B → A) and the
 * change-history row (A → B). The spans are exported when each process shuts
 * down gracefully, not before (the batch delay is longer than the test).
 */

const PROJECTIONS = 4;
const NAME = 'Quentin Crossinstance';
const EMAIL = uniqueEmail('quentin.crossinstance');
const STATUS_SUB = `subscription OrderStatus($id: ID!) { orderStatusChanged(orderId: $id) { id status version position } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(testDbKind() !== 'postgres')('traces across two server processes', () => {
  let receiver: OtlpReceiver;
  let database: TestDatabase | undefined;
  let a: ServerProcess | undefined;
  let b: ServerProcess | undefined;
  let client: Client | undefined;

  const otel = (instance: string) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
    OTEL_SDK_DISABLED: undefined,
    OTEL_SERVICE_NAME: undefined,
    OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${instance}`,
    // Nothing is exported on a timer during the test: only the graceful shutdown sends the spans.
    OTEL_BSP_SCHEDULE_DELAY: '600000',
  });

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    database = await createTestDatabase('postgres');
    // A first, so that it takes every projection's lease; B then runs none.
    a = await startServerProcess({ databaseUrl: database.databaseUrl!, env: otel('instance-a') });
    const deadline = Date.now() + 20_000;
    while (a.acquiredProjections().length < PROJECTIONS) {
      if (Date.now() > deadline) throw new Error(`instance A holds only ${a.acquiredProjections().join(', ')}`);
      await sleep(50);
    }
    b = await startServerProcess({ databaseUrl: database.databaseUrl!, env: otel('instance-b') });
  }, 90_000);

  afterAll(async () => {
    await client?.dispose();
    await stopAll([a, b]);
    await database?.dispose();
    await receiver?.close();
  }, 60_000);

  it('link a mutation on one instance to the projector batch on another and to the message sent back on the first', async () => {
    expect(b!.acquiredProjections()).toEqual([]);
    for (const [server, instance] of [[a!, 'instance-a'], [b!, 'instance-b']] as const) {
      const started = server.logs.find((l) => l.msg === 'tracing: exporting spans by OTLP/HTTP');
      expect(started, instance).toMatchObject({ url: `${receiver.url}/v1/traces`, serviceName: 'orders-graphql' });
    }

    const { registerUser } = await b!.ok(`mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId } }`, {
      input: { name: NAME, email: EMAIL },
    });
    const { addProduct } = await b!.ok(`mutation { addProduct(input: { name: "Cross lamp", price: "9.00" }) { productId } }`);
    const { placeOrder } = await b!.ok(PLACE_ORDER, { input: { userId: registerUser.userId, items: [{ productId: addProduct.productId, quantity: 1 }] } });
    client = wsClient(b!.url);
    const sub = record(client, STATUS_SUB, { id: placeOrder.orderId });
    await sub.next(1);
    const { confirmOrder } = await b!.ok(`mutation ConfirmOrder($id: ID!) { confirmOrder(input: { orderId: $id }) { position } }`, {
      id: placeOrder.orderId,
    });
    await sub.next(2);
    expect(sub.data().map((d: any) => d.orderStatusChanged.status)).toEqual(['PENDING', 'CONFIRMED']);
    sub.dispose();
    await client.dispose();
    client = undefined;

    // Batched: nothing has been sent yet.
    expect(receiver.spans).toEqual([]);
    await stopAll([a, b]);
    for (const server of [a!, b!]) expect(server.exited, `pid ${server.pid}`).toEqual({ code: 0, signal: null });

    const spans = receiver.spans;
    const on = (instance: string) => (s: ReceivedSpan) => s.resource['service.instance.id'] === instance;
    expect(spans.every((s) => s.resource['service.name'] === 'orders-graphql')).toBe(true);
    const command = spans.find((s) => s.name === 'command confirmOrder' && s.attributes['event.position'] === confirmOrder.position)!;
    expect(command).toBeDefined();
    expect(on('instance-b')(command)).toBe(true);
    expect(spans.find((s) => s.spanId === command.parentSpanId)).toMatchObject({
      name: 'mutation ConfirmOrder',
      traceId: command.traceId,
      kind: KIND.SERVER,
      resource: { 'service.instance.id': 'instance-b' },
    });

    const linked = (s: ReceivedSpan) => s.links.some((l) => l.traceId === command.traceId && l.spanId === command.spanId);
    const batches = spans.filter((s) => s.name.startsWith('projection ') && linked(s));
    expect(batches.length).toBeGreaterThanOrEqual(1);
    expect(batches.every(on('instance-a'))).toBe(true);
    expect(batches.find((s) => s.name === 'projection orders')).toMatchObject({ kind: KIND.CONSUMER, attributes: { outcome: 'ok' } });

    const messages = spans.filter((s) => s.name === 'send orderStatusChanged' && linked(s));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      kind: KIND.PRODUCER,
      resource: { 'service.instance.id': 'instance-b' },
      attributes: { 'subscription.position': confirmOrder.position, outcome: 'ok' },
    });

    const exported = receiver.bodies.join('\n');
    for (const secret of [NAME, EMAIL]) expect(exported).not.toContain(secret);
  }, 90_000);
});
