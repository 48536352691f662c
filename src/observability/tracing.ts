import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
} from '@opentelemetry/api';
import type { TraceCarrier } from '../eventlog/types.js';

/**
 * Tracing as the code sees it: the OpenTelemetry API, nothing else. Until an
 * SDK is registered (tracing-setup.ts, at start, and only when an OTLP
 * endpoint is configured) every span is the API's non-recording one: nothing
 * is recorded, stored with events or sent, and a span costs an allocation.
 *
 * Spans name what happened by ids, types, positions and outcomes only —
 * never a document, variables, a view or an error message, which may hold
 * personal data.
 */
export const tracer = trace.getTracer('orders-graphql');

export { ROOT_CONTEXT, SpanKind, trace, type Context, type Span };

/** The context of the span running now (ROOT_CONTEXT when none is): the parent when a caller passes none. */
export const activeContext = (): Context => context.active();

const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** The span in `ctx` (default: the active one); a non-recording one when there is none. */
export const spanIn = (ctx: Context = context.active()): Span => trace.getSpan(ctx) ?? NO_SPAN;

/** Attribute names (OpenTelemetry semantic conventions where they exist). */
export const ATTR = {
  /** `ok`, or the error code a caller sees (`INVALID_TRANSITION`…), or an error's type. */
  outcome: 'outcome',
  errorType: 'error.type',
  operationName: 'graphql.operation.name',
  operationType: 'graphql.operation.type',
  protocol: 'network.protocol.name',
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  urlPath: 'url.path',
  /** The command (mutation) name, e.g. `placeOrder`. */
  commandType: 'command.type',
  /** Set when an idempotency key answered with the first result. */
  commandReplayed: 'command.idempotent_replay',
  /** The version the client pinned (`expectedVersion`), when it did. */
  commandExpectedVersion: 'command.expected_version',
  commandAttempt: 'command.attempt',
  aggregateType: 'aggregate.type',
  /** Ids are random UUIDs: they identify, but say nothing about anyone. */
  aggregateId: 'aggregate.id',
  /** The version loaded (load), decided on (save), or reached (command). */
  aggregateVersion: 'aggregate.version',
  eventCount: 'event.count',
  /** The event-log position (`"<tx>:<pos>"`) of a command's last event. */
  eventPosition: 'event.position',
  projection: 'projection.name',
  projectionFrom: 'projection.from',
  projectionTo: 'projection.to',
  /** Events of the batch the projection applies (the rest only move its checkpoint). */
  projectionApplied: 'projection.applied',
  subscriptionField: 'subscription.field',
  /** The change's position, as the message's `position` field shows it. */
  subscriptionPosition: 'subscription.position',
  /** Causes beyond MAX_LINKS, not linked. */
  linksDropped: 'links.dropped',
  /** What a link points to: `cause` (the command a change came from) or `subscription`. */
  linkType: 'link.type',
} as const;

export const OK = 'ok';

/**
 * Most links a span gets (a projector batch applies events of up to
 * hundreds of commands); the others are counted in `links.dropped`. The
 * SDK's own limit (OTEL_SPAN_LINK_COUNT_LIMIT, 128) is the outer bound.
 */
export const MAX_LINKS = 32;

/**
 * Records the outcome and ends the span: `ok`, or an error code (which also
 * becomes `error.type` and the span's ERROR status — without a message).
 */
export function endSpan(span: Span, outcome: string): void {
  span.setAttribute(ATTR.outcome, outcome);
  if (outcome !== OK) {
    span.setAttribute(ATTR.errorType, outcome);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * Runs `work` in a span (a child of `parent`), active while it runs, and ends
 * it: `ok` when `work` resolves, `outcomeOf(error)` when it throws (the error
 * is rethrown). `work` receives the span and the context holding it, to pass
 * on to what it calls.
 */
export function inSpan<T>(
  name: string,
  options: SpanOptions,
  parent: Context,
  outcomeOf: (error: unknown) => string,
  work: (span: Span, context: Context) => T,
): T {
  return tracer.startActiveSpan(name, options, parent, (span) => {
    const ended = (outcome: string) => endSpan(span, outcome);
    let result: T;
    try {
      result = work(span, trace.setSpan(parent, span));
    } catch (error) {
      ended(outcomeOf(error));
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => (ended(OK), value),
        (error: unknown) => {
          ended(outcomeOf(error));
          throw error;
        },
      ) as T;
    }
    ended(OK);
    return result;
  });
}

/** An error's outcome when it carries no code the caller sees: its type (never its message). */
export function errorTypeOf(error: unknown): string {
  return error instanceof Error ? error.constructor.name : typeof error;
}

/**
 * The trace context of the span in `context`, to be stored with what it
 * causes (events, change-history rows) — only when that span is recorded:
 * otherwise (no SDK, or not sampled) nothing. Written through the registered
 * propagator (W3C trace context), keeping only its two headers.
 */
export function traceCarrier(ctx: Context): TraceCarrier | undefined {
  if (!trace.getSpan(ctx)?.isRecording()) return undefined;
  const carrier: { traceparent?: string; tracestate?: string } = {};
  propagation.inject(ctx, carrier, {
    set(target, key, value) {
      if (key === 'traceparent' || key === 'tracestate') target[key] = value;
    },
  });
  return carrier.traceparent ? { traceparent: carrier.traceparent, ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}) } : undefined;
}

/**
 * The caller's trace from request headers (a W3C `traceparent`), to continue
 * it; ROOT_CONTEXT when there is none (or no SDK).
 */
export function remoteParent(headers: Readonly<Record<string, string | string[] | undefined>>): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** The span a stored trace context names, or undefined (none stored, unreadable, or no SDK to read it). */
export function spanContextOf(carrier: Partial<TraceCarrier> | null | undefined): SpanContext | undefined {
  if (!carrier?.traceparent) return undefined;
  const headers = { traceparent: carrier.traceparent, ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}) };
  const found = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers));
  return found && trace.isSpanContextValid(found) ? found : undefined;
}

/**
 * Links to the spans that caused something (each event's command, each
 * change's), once per span, at most `max` of them; `dropped` counts the
 * distinct ones left out.
 */
export function causeLinks(
  carriers: Iterable<Partial<TraceCarrier> | null | undefined>,
  max: number = MAX_LINKS,
): { links: Link[]; dropped: number } {
  const links: Link[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  for (const carrier of carriers) {
    const cause = spanContextOf(carrier);
    if (!cause) continue;
    const key = `${cause.traceId}-${cause.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (links.length < max) links.push({ context: cause, attributes: { [ATTR.linkType]: 'cause' } });
    else dropped++;
  }
  return { links, dropped };
}

/** A link to a span of this process (none when `to` is no real span: no SDK). */
export function linkTo(to: SpanContext, type: string): Link | undefined {
  return trace.isSpanContextValid(to) ? { context: to, attributes: { [ATTR.linkType]: type } } : undefined;
}

/** Attributes to set only on a recorded span: computing them is wasted otherwise. */
export function setRecorded(span: Span, attributes: () => Attributes): void {
  if (span.isRecording()) span.setAttributes(attributes());
}
