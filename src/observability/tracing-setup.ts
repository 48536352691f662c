import type { Logger } from 'pino';
import type { Config } from '../config.js';

/** The OpenTelemetry SDK, while it runs. */
export interface Tracing {
  /** Where spans go (the OTLP/HTTP traces URL). */
  readonly url: string;
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and unregisters the SDK: the API is a no-op again afterwards. */
  shutdown(): Promise<void>;
}

export type TracingConfig = Pick<
  Config,
  'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_SDK_DISABLED' | 'OTEL_SERVICE_NAME'
>;

/**
 * The URL spans are exported to, or undefined when tracing is off: neither
 * endpoint set, or OTEL_SDK_DISABLED. As the OTLP exporter specification
 * says, the traces endpoint is used as given and the general one gets
 * `/v1/traces` appended.
 */
export function tracesUrl(config: TracingConfig): string | undefined {
  if (config.OTEL_SDK_DISABLED) return undefined;
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/**
 * Starts the OpenTelemetry SDK when an endpoint is configured (see
 * `tracesUrl`), and registers it with the API (src/observability/tracing.ts):
 * spans are batched and exported by OTLP/HTTP (JSON), the W3C trace context
 * is the propagator, and `service.name` is OTEL_SERVICE_NAME (default
 * `orders-graphql`), with a random `service.instance.id` unless
 * OTEL_RESOURCE_ATTRIBUTES names one. The SDK reads its other standard
 * variables itself (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION,
 * OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_SPAN_*_LIMIT…).
 *
 * Resolves with undefined when tracing is off: then no SDK module is even
 * loaded. Call once per process, before anything is traced, and `shutdown`
 * last (it flushes). Export failures are logged as warnings.
 */
export async function startTracing(config: TracingConfig, logger: Logger): Promise<Tracing | undefined> {
  const url = tracesUrl(config);
  if (!url) return undefined;
  const [api, { NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { W3CTraceContextPropagator }, resources] =
    await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
    ]);
  const log = logger.child({ component: 'tracing' });
  api.diag.setLogger(
    {
      error: (message, ...args) => log.warn({ args }, message),
      warn: (message, ...args) => log.warn({ args }, message),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    api.DiagLogLevel.WARN,
  );
  // Later ones win: the configured name over the SDK's default, the environment's resource attributes over both.
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': config.OTEL_SERVICE_NAME }))
    .merge(resources.detectResources({ detectors: [resources.serviceInstanceIdDetector, resources.envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  log.info({ url, serviceName: config.OTEL_SERVICE_NAME }, 'tracing: exporting spans by OTLP/HTTP');

  let stopped: Promise<void> | undefined;
  return {
    url,
    flush: () => provider.forceFlush(),
    shutdown: () =>
      (stopped ??= provider.shutdown().finally(() => {
        api.trace.disable();
        api.propagation.disable();
        api.context.disable();
        api.diag.disable();
      })),
  };
}
