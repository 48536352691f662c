import { ProxyTracerProvider, propagation, trace } from '@opentelemetry/api';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startTracing, tracesUrl } from '../../src/observability/tracing-setup.js';
import { addProduct, placeOrder, registerUser } from '../support/operations.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Without an OTLP endpoint (or with OTEL_SDK_DISABLED) tracing is off: no SDK
 * is registered, the API's tracer records nothing, nothing is stored with
 * events or changes, and nothing is sent anywhere.
 */

const silent = pino({ level: 'silent' });
const config = (env: Record<string, string>) => loadConfig(env);

describe('which OTEL_* variables turn tracing on', () => {
  it('exports to the traces endpoint as given, or to the endpoint with /v1/traces appended; to nowhere without either', () => {
    expect(tracesUrl(config({}))).toBeUndefined();
    expect(tracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }))).toBeUndefined();
    expect(tracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }))).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/otlp/' }))).toBe('http://collector:4318/otlp/v1/traces');
    expect(
      tracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/ingest' })),
    ).toBe('https://traces.example.com/ingest');
    for (const disabled of ['true', 'TRUE', ' True ']) {
      expect(tracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: disabled }))).toBeUndefined();
    }
    expect(tracesUrl(config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'false' }))).toBeDefined();
    expect(config({}).OTEL_SERVICE_NAME).toBe('orders-graphql');
    expect(() => config({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});

describe('with tracing off', () => {
  let receiver: OtlpReceiver;
  let server: TestServer;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it('registers no SDK: the global tracer provider has no delegate, spans record nothing, no propagator is set', async () => {
    expect(await startTracing(config({}), silent)).toBeUndefined();
    expect(await startTracing(config({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' }), silent)).toBeUndefined();
    const provider = trace.getTracerProvider();
    expect(provider).toBeInstanceOf(ProxyTracerProvider);
    expect((provider as ProxyTracerProvider).getDelegateTracer('orders-graphql')).toBeUndefined();
    const span = trace.getTracer('orders-graphql').startSpan('probe');
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
    span.end();
    expect(propagation.fields()).toEqual([]);
  });

  it('stores no trace context with events or changes, even when the client sends one, and sends nothing', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const { userId } = await registerUser(server);
    const { productId } = await addProduct(server);
    const { orderId } = await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    const confirmed = await server.gql(`mutation($id: ID!) { confirmOrder(input: { orderId: $id }) { version order { status } } }`, { id: orderId }, { traceparent });
    expect(confirmed.data?.confirmOrder).toEqual({ version: 2, order: { status: 'CONFIRMED' } });

    const events = await server.app.db.sql.$queryRaw<Array<{ type: string; metadata: Record<string, unknown> }>>`
      SELECT type, metadata FROM event_log ORDER BY position`;
    expect(events.map((e) => e.type)).toEqual(['UserRegistered', 'ProductAdded', 'OrderPlaced', 'OrderConfirmed']);
    for (const { metadata } of events) expect(Object.keys(metadata).sort()).toEqual(['actor', 'causationId', 'correlationId', 'requestId']);
    const changes = await server.app.db.sql.$queryRaw<Array<{ trace: unknown }>>`
      SELECT trace_context AS trace FROM order_view_change UNION ALL SELECT trace_context FROM user_view_change`;
    expect(changes.length).toBeGreaterThanOrEqual(4);
    expect(changes.every((c) => c.trace === null)).toBe(true);
    expect(receiver.bodies).toEqual([]);
    expect(receiver.refused).toEqual([]);
  });
});
