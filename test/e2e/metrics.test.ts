/**
 * GET /metrics (Prometheus text format, prom-client): commands by name and
 * outcome, events appended, each projection's position and lag (in events and
 * in seconds), open subscriptions and messages sent — what an operator needs
 * to see that the service is healthy or falling behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customer } from '../support/auth.js';
import { addProduct, placeOrder, registerUser } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sample } from '../support/metrics.js';
import { record, wsClient } from '../support/ws.js';

async function scrape(server: TestServer): Promise<string> {
  const res = await fetch(new URL('/metrics', server.url));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('metrics', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('count commands by name and outcome, time them, and count the events they appended', async () => {
    const before = await scrape(server);
    const { userId } = await registerUser(server, 'Grace');
    const { productId } = await addProduct(server, 'Compiler', '10.00');
    await placeOrder(server, userId, [{ productId, quantity: 1 }]);
    // A refusal is counted under its code, and appends nothing.
    const refused = await server
      .as(customer(userId))
      .gql('mutation($id: ID!) { confirmOrder(input: { orderId: $id }) { version } }', { id: productId });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const after = await scrape(server);
    const delta = (name: string, labels: Record<string, string>) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    expect(delta('orders_commands_total', { command: 'registerUser', outcome: 'ok' })).toBe(1);
    expect(delta('orders_commands_total', { command: 'placeOrder', outcome: 'ok' })).toBe(1);
    expect(delta('orders_commands_total', { command: 'confirmOrder', outcome: 'FORBIDDEN' })).toBe(1);
    expect(delta('orders_command_duration_seconds_count', { command: 'placeOrder', outcome: 'ok' })).toBe(1);
    expect(sample(after, 'orders_command_duration_seconds_bucket', { command: 'placeOrder', outcome: 'ok', le: '+Inf' })).toBeGreaterThanOrEqual(1);
    expect(delta('orders_events_appended_total', { aggregate: 'User' })).toBe(1);
    expect(delta('orders_events_appended_total', { aggregate: 'Product' })).toBe(1);
    expect(delta('orders_events_appended_total', { aggregate: 'Order' })).toBe(1);
    // Process metrics come along.
    expect(sample(after, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('show each projection caught up at the head of the log', async () => {
    for (const projector of server.app.projectors) await projector.catchUp();
    const text = await scrape(server);
    const { projections } = await server.ok('{ projections { name position lag lagSeconds } }');
    for (const p of projections) {
      expect(sample(text, 'orders_projection_lag_events', { projection: p.name })).toBe(0);
      expect(sample(text, 'orders_projection_lag_seconds', { projection: p.name })).toBe(0);
      expect(sample(text, 'orders_projection_position', { projection: p.name })).toBe(Number(p.position.split(':')[1]));
      expect(p.lagSeconds).toBe(0);
    }
  });

  it('count open subscriptions and the messages sent to them', async () => {
    const { userId } = await registerUser(server, 'Linus');
    const client = wsClient(server.url);
    try {
      const before = await scrape(server);
      const sub = record(client, 'subscription($id: ID!) { userProfileChanged(userId: $id) { name } }', { id: userId });
      await sub.next(1);
      const during = await scrape(server);
      expect(sample(during, 'orders_subscriptions_open')).toBe(1);
      expect((sample(during, 'orders_subscription_messages_sent_total') ?? 0) - (sample(before, 'orders_subscription_messages_sent_total') ?? 0)).toBe(1);
      sub.dispose();
      await expect.poll(async () => sample(await scrape(server), 'orders_subscriptions_open')).toBe(0);
    } finally {
      await client.dispose();
    }
  });
});

describe('cache metrics', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('count hits, misses and invalidations per layer and view, and the entries and bytes held', async () => {
    const delta = async (step: () => Promise<unknown>) => {
      const before = await scrape(server);
      await step();
      const after = await scrape(server);
      return (name: string, labels: Record<string, string>) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    };
    const memory = { layer: 'memory', view: 'users' };
    // The payload's entity is read once the projection has it: a miss, which fills the cache.
    let userId = '';
    let d = await delta(async () => ({ userId } = await registerUser(server, 'Barbara')));
    expect(d('orders_cache_misses_total', memory)).toBe(1);
    d = await delta(() => server.ok('query($id: ID!) { user(id: $id) { name } }', { id: userId }));
    expect(d('orders_cache_hits_total', memory)).toBe(1);
    expect(d('orders_cache_misses_total', memory)).toBe(0);
    // A change invalidates it (and the payload reads it afresh).
    d = await delta(() =>
      server.ok('mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { user { name } } }', {
        i: { userId, expectedVersion: 1, name: 'Barbara L.' },
      }),
    );
    expect(d('orders_cache_invalidations_total', memory)).toBe(1);
    expect(d('orders_cache_misses_total', memory)).toBe(1);
    const text = await scrape(server);
    expect(sample(text, 'orders_cache_entries', { layer: 'memory' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'orders_cache_bytes', { layer: 'memory' })).toBeGreaterThan(50);
    // No Redis configured: no figures for it.
    expect(sample(text, 'orders_cache_entries', { layer: 'redis' })).toBeUndefined();
  });
});

describe('metrics of a projection that is behind', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Projectors not running: every event stays unapplied.
    server = await startTestServer({ runProjectors: false });
  });
  afterAll(() => server?.stop());

  it('report the unapplied events and the age of the oldest, in /metrics and the projections query', async () => {
    await server.gql('mutation { registerUser(input: { name: "Waiting", email: "waiting@example.com" }) { userId } }');
    await server.gql('mutation { registerUser(input: { name: "Also", email: "also@example.com" }) { userId } }');
    await new Promise((r) => setTimeout(r, 1100));
    const text = await scrape(server);
    expect(sample(text, 'orders_projection_lag_events', { projection: 'users' })).toBe(2);
    expect(sample(text, 'orders_projection_lag_seconds', { projection: 'users' })).toBeGreaterThanOrEqual(1);
    // Every projection reads the whole log, relevant to it or not.
    expect(sample(text, 'orders_projection_lag_events', { projection: 'products' })).toBe(2);
    const { projections } = await server.ok('{ projections { name lag lagSeconds } }');
    const users = projections.find((p: { name: string }) => p.name === 'users');
    expect(users.lag).toBe(2);
    expect(users.lagSeconds).toBeGreaterThanOrEqual(1);
    expect(users.lagSeconds).toBeLessThan(60);
  });
});

describe('with METRICS_ENABLED=false', () => {
  it('serves no /metrics', async () => {
    const server = await startTestServer({ METRICS_ENABLED: false });
    try {
      expect((await fetch(new URL('/metrics', server.url))).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
