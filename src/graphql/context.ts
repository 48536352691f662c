import type { Logger } from 'pino';
import type { Actor } from '../domain/access.js';
import type { Context } from '../observability/tracing.js';
import type { ReadModel } from '../projections/status.js';
import type { ProjectionOperations } from '../projections/operations.js';
import type { ProjectionProgress } from '../projections/progress.js';
import type { SubscriptionHub } from '../subscriptions/hub.js';
import type { CommandService } from '../write/commands.js';
import type { Loaders } from './loaders.js';

/** What every resolver receives. Built once per request. */
export interface GraphQLContext {
  readonly requestId: string;
  /**
   * Ties together everything one user action caused, across requests and
   * services: the client's `x-correlation-id`, or the request id.
   */
  readonly correlationId: string;
  /** Who is asking: from a verified bearer token, or anonymous. */
  readonly actor: Actor;
  readonly logger: Logger;
  readonly commands: CommandService;
  readonly read: ReadModel;
  readonly loaders: Loaders;
  readonly progress: ProjectionProgress;
  /** Operators' actions on projections (admin mutations). */
  readonly operations: ProjectionOperations;
  /** Live views for subscriptions. */
  readonly subscriptions: SubscriptionHub;
  /**
   * Makes this request's later reads show a read-database WAL position (a
   * replica that has replayed it, else the read primary; undefined: the
   * primary). Without replicas it does nothing.
   */
  readonly readAt: (lsn: bigint | undefined) => Promise<void>;
  /** How long a payload waits for its projection (read-your-writes). */
  readonly readYourWritesTimeoutMs: number;
  /** The operation's span (HTTP request or WebSocket operation): commands are traced as its children. */
  readonly traceContext: Context;
}
