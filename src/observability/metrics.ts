import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AggregateType } from '../domain/events.js';
import type { CacheLayerName, CacheObserver } from '../read-models/cache/observer.js';
import type { CommandObserver } from '../write/ports.js';

/** What the metrics read at scrape time. */
export interface MetricsSources {
  /** Each projection's checkpoint and lag (the `projections` query's data). */
  readonly projections: () => Promise<
    ReadonlyArray<{ name: string; position: string; lag: number; lagSeconds: number; deadLetterCount: number; status: string }>
  >;
  /** Subscriptions open in this process. */
  readonly openSubscriptions: () => number;
  /** Each read replica as its last check saw it (none without READ_REPLICA_URLS). */
  readonly replicas?: () => ReadonlyArray<{ name: string; usable: boolean; lagMs: number }>;
  /** Each cache layer's entries and bytes (the in-process layer's own count; Redis's server figures). */
  readonly cache?: () => Promise<Partial<Record<CacheLayerName, { entries: number; bytes: number }>>>;
}

/**
 * The service's Prometheus metrics (prom-client), in a registry of its own so
 * that several app instances in one process (tests) do not collide. Names
 * follow Prometheus conventions: `_total` counters, `_seconds` units.
 */
export class Metrics {
  readonly registry = new Registry();

  private readonly commands = new Counter({
    name: 'orders_commands_total',
    help: 'Commands handled, by command name and outcome (ok, or the error code).',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly commandDuration = new Histogram({
    name: 'orders_command_duration_seconds',
    help: 'Time to handle a command (decide and commit), by command name and outcome.',
    labelNames: ['command', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  private readonly eventsAppended = new Counter({
    name: 'orders_events_appended_total',
    help: 'Domain events appended to the event log by this process, by aggregate type.',
    labelNames: ['aggregate'] as const,
    registers: [this.registry],
  });

  private readonly messagesSent = new Counter({
    name: 'orders_subscription_messages_sent_total',
    help: 'Subscription messages sent to clients.',
    registers: [this.registry],
  });

  private readonly messagesDropped = new Counter({
    name: 'orders_subscription_messages_dropped_total',
    help: 'Changes not delivered one by one: conflated into a later state or dropped with SLOW_CONSUMER.',
    registers: [this.registry],
  });

  private readonly cacheCounter = (what: string, help: string) =>
    new Counter({ name: `orders_cache_${what}_total`, help, labelNames: ['layer', 'view'] as const, registers: [this.registry] });

  private readonly cacheHits = this.cacheCounter('hits', 'Views by id a cache layer answered, by layer (memory, redis) and view.');
  private readonly cacheMisses = this.cacheCounter('misses', 'Views by id a cache layer did not hold (or held older than a read-your-writes read needs).');
  private readonly cacheRefused = this.cacheCounter('fills_refused', 'Fills a cache layer refused as older: it held newer content, or a change was invalidated after the read began.');
  private readonly cacheInvalidations = this.cacheCounter('invalidations', 'Entries a cache layer dropped because their view changed.');
  private readonly cacheFallbacks = this.cacheCounter('fallbacks', 'Views read from the database because Redis failed, timed out or was taking a new epoch.');
  private readonly cacheFlushes = new Counter({
    name: 'orders_cache_flushes_total',
    help: 'Times a cache layer dropped all of a view (a rebuild, a redrive, missed signals; for Redis each new epoch).',
    labelNames: ['layer'] as const,
    registers: [this.registry],
  });

  private readonly replicaWait = new Histogram({
    name: 'orders_read_replica_wait_seconds',
    help: 'How long a read that must see a position (read-your-writes, x-min-position) waited for a replica, by where it then read (replica, or primary when the wait ran out or none was usable).',
    labelNames: ['source'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry });
    type Status = Awaited<ReturnType<MetricsSources['projections']>>[number];
    const projectionGauge = (name: string, help: string, value: (p: Status) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['projection'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const p of await sources.projections()) this.set({ projection: p.name }, value(p));
        },
      });
    projectionGauge('orders_projection_position', 'Event-log position (sequence number) of the last event each projection applied.', (p) =>
      Number(p.position.split(':')[1] ?? 0),
    );
    projectionGauge('orders_projection_lag_events', 'Readable events each projection has not applied yet.', (p) => p.lag);
    projectionGauge('orders_projection_lag_seconds', 'Age of the oldest event each projection has not applied yet (0 when caught up).', (p) => p.lagSeconds);
    projectionGauge('orders_projection_dead_letters', 'Events each projection has parked as dead letters (failed, and waiting behind a failed one).', (p) => p.deadLetterCount);
    projectionGauge('orders_projection_stalled', '1 while a projection retries a failing batch (STALLED), else 0.', (p) => (p.status === 'STALLED' ? 1 : 0));
    const cacheGauge = (name: string, help: string, value: (s: { entries: number; bytes: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['layer'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          const layers = (await sources.cache?.()) ?? {};
          for (const [layer, stats] of Object.entries(layers)) if (stats) this.set({ layer }, value(stats));
        },
      });
    cacheGauge('orders_cache_entries', 'Entries a cache layer holds (for redis: the keys of its database, DBSIZE).', (s) => s.entries);
    cacheGauge('orders_cache_bytes', 'Bytes a cache layer holds (memory: the entries\' JSON size; redis: used_memory of the server).', (s) => s.bytes);
    const replicaGauge = (name: string, help: string, value: (r: { usable: boolean; lagMs: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['replica'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const r of sources.replicas?.() ?? []) this.set({ replica: r.name }, value(r));
        },
      });
    replicaGauge('orders_read_replica_usable', '1 while a read replica is used (reachable, a standby, within READ_REPLICA_MAX_LAG_MS), else 0.', (r) => (r.usable ? 1 : 0));
    replicaGauge('orders_read_replica_lag_seconds', 'How far a read replica\'s replay was behind the read primary at its last check (-1: unreachable).', (r) =>
      Number.isFinite(r.lagMs) ? r.lagMs / 1000 : -1,
    );
    new Gauge({
      name: 'orders_subscriptions_open',
      help: 'Subscriptions open in this process.',
      registers: [this.registry],
      collect() {
        this.set(sources.openSubscriptions());
      },
    });
  }

  /** The command service's observer: counts and times every command, and counts the events appended. */
  readonly commandObserver: CommandObserver = {
    commandHandled: (command, outcome, seconds) => {
      this.commandDuration.observe({ command, outcome }, seconds);
      this.commands.inc({ command, outcome });
    },
    eventsAppended: (aggregate: AggregateType, count) => this.eventsAppended.inc({ aggregate }, count),
  };

  /** The cache's observer: counts per layer and view. */
  readonly cacheObserver: CacheObserver = {
    hits: (layer, view, n) => this.cacheHits.inc({ layer, view }, n),
    misses: (layer, view, n) => this.cacheMisses.inc({ layer, view }, n),
    refused: (layer, view, n) => this.cacheRefused.inc({ layer, view }, n),
    invalidated: (layer, view, n) => this.cacheInvalidations.inc({ layer, view }, n),
    fallbacks: (view, n) => this.cacheFallbacks.inc({ layer: 'redis', view }, n),
    flushed: (layer) => this.cacheFlushes.inc({ layer }),
  };

  /** A read that must see a position found its source after `seconds` (ReplicaRouter's onCovered). */
  replicaWaited(seconds: number, source: 'replica' | 'primary'): void {
    this.replicaWait.observe({ source }, seconds);
  }

  messageSent(): void {
    this.messagesSent.inc();
  }

  messagesDroppedBy(count: number): void {
    this.messagesDropped.inc(count);
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
