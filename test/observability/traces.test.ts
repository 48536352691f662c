import type { Client } from 'graphql-ws';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LINKS, causeLinks } from '../../src/observability/tracing.js';
import { startTracing, type Tracing } from '../../src/observability/tracing-setup.js';
import { addProduct, placeOrder, registerUser, uniqueEmail } from '../support/operations.js';
import { KIND, STATUS, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { openSubscriptions } from '../support/subscriber-queues.js';
import { record, wsClient } from '../support/ws.js';

/**
 * The trace of a mutation, exported by OTLP/HTTP to a receiver started here:
 * the HTTP (or WebSocket) operation, its command with load, decide and save,
 * the projector batch that applies the command's events (linked to the
 * command through the events' metadata) and the subscription message it
 * causes (linked through the change history). Nothing personal in any of it.
 */

const SERVICE = 'orders-graphql-traces-test';
const NAME = 'Perdita Tracewell';
const EMAIL = uniqueEmail('perdita.tracewell');
const REASON = 'Perdita changed her mind about the delivery address';

let receiver: OtlpReceiver;
let tracing: Tracing | undefined;
let server: TestServer;
let client: Client;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // As main.ts does, with the configuration it would read from OTEL_* variables.
  tracing = await startTracing(
    { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined, OTEL_SDK_DISABLED: false, OTEL_SERVICE_NAME: SERVICE },
    pino({ level: 'silent' }),
  );
  server = await startTestServer();
  client = wsClient(server.url);
});

afterAll(async () => {
  await client?.dispose();
  await server?.stop();
  await tracing?.shutdown();
  await receiver?.close();
});

const STATUS_SUB = `subscription OrderStatus($id: ID!) { orderStatusChanged(orderId: $id) { id status version position } }`;
const PROFILE_SUB = `subscription Profile($id: ID!) { userProfileChanged(userId: $id) { id name version position } }`;
const ORDERS_SUB = `subscription CustomerOrders($userId: ID!) { ordersChanged(filter: { userId: $userId }) { id userName version position } }`;

const CONFIRM = `mutation ConfirmOrder($id: ID!, $v: Int) { confirmOrder(input: { orderId: $id, expectedVersion: $v }) { version position } }`;
const CANCEL = `mutation CancelOrder($id: ID!, $reason: String!) { cancelOrder(input: { orderId: $id, reason: $reason }) { version position } }`;
const CONFIRM_KEYED = `mutation($id: ID!, $key: String) { confirmOrder(input: { orderId: $id, idempotencyKey: $key }) { version position } }`;
const SHIP = `mutation ShipOrder($id: ID!) { shipOrder(input: { orderId: $id }) { version position } }`;
const RENAME = `mutation Rename($id: ID!, $v: Int!, $name: String!) { updateUserProfile(input: { userId: $id, expectedVersion: $v, name: $name }) { version position } }`;

/** A W3C traceparent as a client would send it. */
function clientTraceparent() {
  const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

async function post(query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await server.gql(query, variables, headers);
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  return response.data;
}

const named = (spans: readonly ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);
/** The children of `parent`, in the order they started. */
const childrenOf = (spans: readonly ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
const linksTo = (span: ReceivedSpan, to: ReceivedSpan) => span.links.filter((l) => l.traceId === to.traceId && l.spanId === to.spanId);

/** The command span of a mutation (by command type and resulting position), once exported. */
function commandAt(type: string, position: string) {
  return receiver.until(
    (spans) => spans.find((s) => s.name === `command ${type}` && s.attributes['event.position'] === position),
    15_000,
    `the span of ${type} at ${position}`,
  );
}

/** The message span sent for a change at `position` by `field`, once exported. */
function messageAt(field: string, position: string) {
  return receiver.until(
    (spans) => spans.find((s) => s.name === `send ${field}` && s.attributes['subscription.position'] === position),
    15_000,
    `the message of ${field} at ${position}`,
  );
}

describe('traces', () => {
  let userId: string;
  let orderId: string;
  let placed: string;

  beforeAll(async () => {
    ({ userId } = await registerUser(server, NAME, EMAIL));
    const product = await addProduct(server, 'Traced lamp', '12.50');
    ({ orderId, position: placed } = await placeOrder(server, userId, [{ productId: product.productId, quantity: 2 }]));
  });

  it('follow a mutation from its HTTP operation through its command to the projector batch and the subscriber’s message', async () => {
    const sub = record(client, STATUS_SUB, { id: orderId });
    await sub.next(1);
    // The client's own trace: the operation continues it.
    const caller = clientTraceparent();
    const { confirmOrder } = await post(CONFIRM, { id: orderId, v: 1 }, { traceparent: caller.header });
    await sub.next(2);
    expect(sub.data().map((d: any) => d.orderStatusChanged.position)).toEqual([placed, confirmOrder.position]);
    sub.dispose();
    await tracing!.flush();

    // ── The HTTP operation, in the caller's trace.
    const command = await commandAt('confirmOrder', confirmOrder.position);
    const spans = receiver.spans;
    const operation = spans.find((s) => s.spanId === command.parentSpanId)!;
    expect(operation).toMatchObject({
      name: 'mutation ConfirmOrder',
      kind: KIND.SERVER,
      traceId: caller.traceId,
      parentSpanId: caller.spanId,
      attributes: {
        'graphql.operation.name': 'ConfirmOrder',
        'graphql.operation.type': 'mutation',
        'network.protocol.name': 'http',
        'http.request.method': 'POST',
        'http.response.status_code': 200,
        outcome: 'ok',
      },
      resource: { 'service.name': SERVICE },
    });
    expect(operation.resource['service.instance.id']).toEqual(expect.any(String));

    // ── The command, its child, with load, decide and save.
    expect(command).toMatchObject({
      traceId: caller.traceId,
      kind: KIND.INTERNAL,
      attributes: {
        'command.type': 'confirmOrder',
        'aggregate.type': 'Order',
        'aggregate.id': orderId,
        'command.expected_version': 1,
        'aggregate.version': 2,
        'event.position': confirmOrder.position,
        outcome: 'ok',
      },
      status: { code: STATUS.UNSET },
    });
    const steps = childrenOf(spans, command);
    expect(steps.map((s) => s.name)).toEqual(['command.load', 'command.decide', 'command.save']);
    expect(steps.map((s) => s.attributes)).toEqual([
      { 'command.attempt': 1, 'aggregate.version': 1, outcome: 'ok' },
      { 'command.attempt': 1, 'event.count': 1, outcome: 'ok' },
      { 'command.attempt': 1, 'aggregate.version': 1, 'event.count': 1, outcome: 'ok' },
    ]);

    // ── The command's trace context is stored with its event.
    const [event] = await server.app.db.sql.$queryRaw<Array<{ metadata: Record<string, unknown> }>>`
      SELECT metadata FROM event_log WHERE aggregate_id = ${orderId}::uuid AND type = 'OrderConfirmed'`;
    expect(event!.metadata.traceparent).toBe(`00-${command.traceId}-${command.spanId}-01`);

    // ── The orders projector's batch: a trace of its own, linked to the command.
    const batch = await receiver.until(
      (all) => all.find((s) => s.name === 'projection orders' && linksTo(s, command).length > 0),
      15_000,
      'the orders batch linked to the command',
    );
    expect(batch.traceId).not.toBe(command.traceId);
    expect(batch).toMatchObject({
      kind: KIND.CONSUMER,
      parentSpanId: '',
      attributes: { 'projection.name': 'orders', outcome: 'ok' },
    });
    expect(linksTo(batch, command)).toEqual([{ traceId: command.traceId, spanId: command.spanId, attributes: { 'link.type': 'cause' } }]);
    const [fromTx, fromPos] = String(batch.attributes['projection.from']).split(':').map(BigInt);
    const [toTx, toPos] = String(batch.attributes['projection.to']).split(':').map(BigInt);
    const [eventTx, eventPos] = confirmOrder.position.split(':').map(BigInt);
    // The batch read after `from` up to and including `to`: the event lies in between.
    expect(fromTx! < eventTx! || (fromTx === eventTx && fromPos! < eventPos!)).toBe(true);
    expect(toTx! > eventTx! || (toTx === eventTx && toPos! >= eventPos!)).toBe(true);
    expect(batch.attributes['event.count']).toBeGreaterThanOrEqual(1);
    expect(batch.attributes['projection.applied']).toBeGreaterThanOrEqual(1);

    // ── The subscriber's message: linked to the command, and to its subscription.
    const message = await messageAt('orderStatusChanged', confirmOrder.position);
    expect(message).toMatchObject({
      kind: KIND.PRODUCER,
      parentSpanId: '',
      attributes: {
        'subscription.field': 'orderStatusChanged',
        'subscription.position': confirmOrder.position,
        'graphql.operation.name': 'OrderStatus',
        outcome: 'ok',
      },
    });
    const cause = message.links.filter((l) => l.attributes['link.type'] === 'cause');
    expect(cause).toEqual([{ traceId: command.traceId, spanId: command.spanId, attributes: { 'link.type': 'cause' } }]);
    const [subscribed] = message.links.filter((l) => l.attributes['link.type'] === 'subscription');
    const subscription = spans.find((s) => s.spanId === subscribed?.spanId)!;
    expect(subscription).toMatchObject({
      name: 'subscription OrderStatus',
      kind: KIND.SERVER,
      attributes: { 'network.protocol.name': 'websocket', 'graphql.operation.type': 'subscription', outcome: 'ok' },
    });

    // The first message was the order as it stood: caused by no change, linked to nothing but its subscription.
    const snapshot = await messageAt('orderStatusChanged', placed);
    expect(snapshot.links.map((l) => l.attributes['link.type'])).toEqual(['subscription']);
  });

  it('record a refused command with its error code on every span it reached', async () => {
    const { cancelOrder } = await post(CANCEL, { id: orderId, reason: REASON });
    const refused = await server.gql(CONFIRM, { id: orderId });
    expect(refused.errors?.[0]?.extensions?.code).toBe('INVALID_TRANSITION');
    await tracing!.flush();

    await commandAt('cancelOrder', cancelOrder.position);
    const command = await receiver.until(
      (spans) => spans.find((s) => s.name === 'command confirmOrder' && s.attributes.outcome === 'INVALID_TRANSITION'),
      15_000,
      'the refused command',
    );
    expect(command).toMatchObject({
      attributes: { 'aggregate.id': orderId, 'error.type': 'INVALID_TRANSITION' },
      status: { code: STATUS.ERROR },
    });
    expect(command.status.message).toBeUndefined();
    const spans = receiver.spans;
    const steps = childrenOf(spans, command);
    expect(steps.map((s) => [s.name, s.attributes.outcome])).toEqual([
      ['command.load', 'ok'],
      ['command.decide', 'INVALID_TRANSITION'],
    ]);
    expect(spans.find((s) => s.spanId === command.parentSpanId)).toMatchObject({
      name: 'mutation ConfirmOrder',
      attributes: { outcome: 'INVALID_TRANSITION', 'error.type': 'INVALID_TRANSITION' },
      status: { code: STATUS.ERROR },
    });
  });

  it('mark a retry answered by its idempotency key as a replay of the first command', async () => {
    const key = `trace-${crypto.randomUUID()}`;
    const other = await placeOrder(server, userId, [{ productId: (await addProduct(server, 'Keyed lamp', '1.00')).productId, quantity: 1 }]);
    const once = await post(CONFIRM_KEYED, { id: other.orderId, key });
    const again = await post(CONFIRM_KEYED, { id: other.orderId, key });
    expect(again).toEqual(once);
    await tracing!.flush();
    const commands = await receiver.until((spans) => {
      const found = spans.filter((s) => s.name === 'command confirmOrder' && s.attributes['event.position'] === once.confirmOrder.position);
      return found.length === 2 ? found : undefined;
    }, 15_000, 'both attempts');
    expect(commands.map((c) => [c.attributes['command.idempotent_replay'] ?? false, childrenOf(receiver.spans, c).length, c.attributes.outcome])).toEqual([
      [false, 3, 'ok'],
      [true, 0, 'ok'],
    ]);
  });

  it('trace a mutation sent over the WebSocket as a child of its WebSocket operation', async () => {
    const other = await placeOrder(server, userId, [{ productId: (await addProduct(server, 'Socket lamp', '3.00')).productId, quantity: 1 }]);
    await post(CONFIRM, { id: other.orderId });
    const ship = record(client, SHIP, { id: other.orderId });
    await ship.next(1);
    const { position } = (ship.data()[0] as any).shipOrder;
    await tracing!.flush();

    const command = await commandAt('shipOrder', position);
    expect(receiver.spans.find((s) => s.spanId === command.parentSpanId)).toMatchObject({
      name: 'mutation ShipOrder',
      kind: KIND.SERVER,
      traceId: command.traceId,
      attributes: { 'network.protocol.name': 'websocket', 'graphql.operation.name': 'ShipOrder', outcome: 'ok' },
    });
  });

  it('link a rename to every message it causes: the profile’s and each of the customer’s orders’', async () => {
    const { orders: { total } } = await post(`query($id: ID!) { orders(filter: { userId: $id }) { total } }`, { id: userId });
    expect(total).toBeGreaterThanOrEqual(2);
    const profile = record(client, PROFILE_SUB, { id: userId });
    const orders = record(client, ORDERS_SUB, { userId });
    await profile.next(1);
    await openSubscriptions(server.app, 2, 2);
    const { updateUserProfile } = await post(RENAME, { id: userId, v: 1, name: `${NAME} Jr.` });
    await profile.next(2);
    // Every one of the customer's orders is renamed (set-wise: none is in the rename's batch).
    await orders.next(total);
    profile.dispose();
    orders.dispose();
    await tracing!.flush();

    const command = await commandAt('updateUserProfile', updateUserProfile.position);
    const messages = [
      await messageAt('userProfileChanged', updateUserProfile.position),
      ...(await receiver.until((spans) => {
        const found = spans.filter((s) => s.name === 'send ordersChanged' && s.attributes['subscription.position'] === updateUserProfile.position);
        return found.length === total ? found : undefined;
      }, 15_000, 'every order message')),
    ];
    for (const message of messages) expect(linksTo(message, command)).toHaveLength(1);
    const history = await server.app.db.sql.$queryRaw<Array<{ trace: { traceparent: string } | null }>>`
      SELECT trace_context AS trace FROM order_view_change
      WHERE view->>'user_id' = ${userId} AND (tx::text || ':' || pos::text) = ${updateUserProfile.position}`;
    expect(history.map((h) => h.trace)).toEqual(Array(total).fill({ traceparent: `00-${command.traceId}-${command.spanId}-01` }));
  });

  it('never export personal data: no name, email or free text in any span', async () => {
    await tracing!.flush();
    expect(receiver.spans.length).toBeGreaterThan(20);
    expect(receiver.refused).toEqual([]);
    const exported = receiver.bodies.join('\n');
    for (const secret of [NAME, EMAIL, REASON, 'Tracewell', 'Perdita']) expect(exported).not.toContain(secret);
  });
});

describe('links to causes', () => {
  it('link each causing span once, and at most MAX_LINKS of them, counting the rest', () => {
    const carrier = (i: number) => ({ traceparent: `00-${'a'.repeat(24)}${i.toString(16).padStart(8, '0')}-${'b'.repeat(8)}${i.toString(16).padStart(8, '0')}-01` });
    const carriers = Array.from({ length: MAX_LINKS + 8 }, (_, i) => carrier(i + 1));
    const { links, dropped } = causeLinks([...carriers, ...carriers, null, undefined, { traceparent: 'not a traceparent' }]);
    expect(links).toHaveLength(MAX_LINKS);
    expect(dropped).toBe(8);
    expect(new Set(links.map((l) => l.context.spanId)).size).toBe(MAX_LINKS);
    expect(links[0]).toMatchObject({ context: { traceId: `${'a'.repeat(24)}00000001`, spanId: `${'b'.repeat(8)}00000001` }, attributes: { 'link.type': 'cause' } });
  });
});
