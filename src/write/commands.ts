import { canSeeOwnedBy, requireAdmin, requireAuthenticated, requireSelfOrAdmin, type Actor } from '../domain/access.js';
import { NotFoundError } from '../domain/errors.js';
import { isId, newId } from '../domain/ids.js';
import type { Cents } from '../domain/money.js';
import {
  decideOrder,
  evolveOrder,
  validateOrderLines,
  type Order,
  type OrderCommand,
  type OrderLineRequest,
} from '../domain/orders.js';
import { decideProduct, evolveProduct, type ProductCommand } from '../domain/products.js';
import { decideUser, evolveUser, type UserCommand } from '../domain/users.js';
import { ATTR, SpanKind, activeContext, inSpan, setRecorded, spanIn, traceCarrier, type Context } from '../observability/tracing.js';
import { handleCommand, outcomeOf } from './command-handler.js';
import { IdempotencyKeyReusedError, idempotencyRecord, rememberedResult } from './idempotency.js';
import type { AggregateStore, Appended, CommandObserver, EventMetadata, IdempotencyRecord, WriteModel } from './ports.js';
import type { AnyDomainEvent } from '../domain/events.js';

export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

/** Commands that create an aggregate under a freshly generated id. */
const CREATES = new Set(['RegisterUser', 'AddProduct', 'PlaceOrder']);

const USER = { decide: decideUser, evolve: evolveUser };
const PRODUCT = { decide: decideProduct, evolve: evolveProduct };
const ORDER = { decide: decideOrder, evolve: evolveOrder };

/** What every command call carries besides its input. */
export interface CommandContext {
  readonly metadata: EventMetadata;
  /** Who asks; each command checks what this actor may do before anything is read or written. */
  readonly actor: Actor;
  /** Set by the service for a keyed command: stored with its events. */
  readonly idempotency?: IdempotencyRecord;
  /**
   * The caller's trace (e.g. the GraphQL operation's span): the command's
   * span is its child (default: the active context). Inside the service,
   * the command's own span.
   */
  readonly traceContext?: Context;
}

export interface CommandServiceOptions {
  /** The time commands are decided at (default: the system clock). */
  readonly clock?: () => Date;
  /**
   * Called after every committed command, e.g. to wake projectors at once
   * (default: nothing). Must not throw; the command is committed either way.
   */
  readonly onCommitted?: (result: CommandResult) => void;
  /** How long an idempotency key is remembered (default DEFAULT_IDEMPOTENCY_TTL_MS, 24 h). */
  readonly idempotencyTtlMs?: number;
  /** Told of every command's outcome and of the events it appended (default: nobody). */
  readonly observer?: CommandObserver;
}

export interface CommandResult extends Appended {
  readonly id: string;
}

/** Folds events onto a state with an aggregate's evolve function. */
function fold<S, E>(evolve: (s: S | null, e: E) => S, state: S | null, events: readonly E[]): S {
  const next = events.reduce<S | null>(evolve, state);
  if (next === null) throw new Error('A decision produced no state');
  return next;
}

/** Malformed ids cannot exist: they are NOT_FOUND, never an internal error. */
function existingId(entity: string, id: string): string {
  if (!isId(id)) throw new NotFoundError(entity, [id]);
  return id;
}

/**
 * The write side's entry point: one method per command. It knows neither
 * GraphQL nor Prisma — only the domain and the WriteModel port.
 *
 * Authorization lives here (and, where it depends on the aggregate's state,
 * in the decider), so every transport gets the same rules:
 * anyone may register; customers act on themselves and their own orders;
 * the catalog and the order workflow (confirm/ship/deliver) are staff-only.
 */
export class CommandService {
  private readonly clock: () => Date;
  private readonly onCommitted: (result: CommandResult) => void;
  private readonly idempotencyTtlMs: number;
  private readonly observer: CommandObserver | undefined;

  constructor(
    private readonly model: WriteModel,
    options: CommandServiceOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.onCommitted = options.onCommitted ?? (() => undefined);
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
    this.observer = options.observer;
  }

  /**
   * Every command's entry: runs it (under its idempotency key, if any) in a
   * span of its own, and reports its outcome and duration — refusals
   * included, which happen before anything is written. The span's trace
   * context goes into the events' metadata, for the projections that apply
   * them and the subscription messages they cause to link back to.
   */
  private async keyed(
    command: string,
    input: { idempotencyKey?: string | null },
    ctx: CommandContext,
    execute: (ctx: CommandContext) => Promise<CommandResult>,
  ): Promise<CommandResult> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      const options = { kind: SpanKind.INTERNAL, attributes: { [ATTR.commandType]: command } };
      return await inSpan(`command ${command}`, options, ctx.traceContext ?? activeContext(), outcomeOf, async (span, traceContext) => {
        const metadata = { ...ctx.metadata, ...traceCarrier(traceContext) };
        const result = await this.idempotent(command, input, { ...ctx, metadata, traceContext }, execute);
        setRecorded(span, () => ({
          [ATTR.aggregateId]: result.id,
          [ATTR.aggregateVersion]: result.version,
          [ATTR.eventPosition]: result.position,
        }));
        return result;
      });
    } catch (error) {
      outcome = outcomeOf(error);
      throw error;
    } finally {
      this.observer?.commandHandled(command, outcome, (performance.now() - started) / 1000);
    }
  }

  /**
   * Runs a command under its idempotency key, if it has one: a known key
   * answers with the first result (or IDEMPOTENCY_KEY_REUSED for another
   * input) and writes nothing; a new key is stored with the command's events,
   * in the same statement. When the command fails, another attempt with the
   * same key may have committed meanwhile (concurrently, or just before a
   * crash): its result is then the answer.
   */
  private async idempotent(
    command: string,
    input: { idempotencyKey?: string | null },
    ctx: CommandContext,
    execute: (ctx: CommandContext) => Promise<CommandResult>,
  ): Promise<CommandResult> {
    const now = this.clock();
    const record = idempotencyRecord(command, input, ctx.actor, now, this.idempotencyTtlMs);
    if (!record) return execute(ctx);
    const known = await rememberedResult(this.model.idempotency, record, now);
    if (known) {
      spanIn(ctx.traceContext).setAttribute(ATTR.commandReplayed, true);
      return known;
    }
    try {
      return await execute({ ...ctx, idempotency: record });
    } catch (error) {
      let winner;
      try {
        winner = await rememberedResult(this.model.idempotency, record, this.clock());
      } catch (lookup) {
        if (lookup instanceof IdempotencyKeyReusedError) throw lookup;
        throw error;
      }
      if (winner) return winner;
      throw error;
    }
  }

  /** Runs one command through the generic handler with an aggregate's decide/evolve pair. */
  private run<S, C, E extends AnyDomainEvent>(
    store: AggregateStore<S, E>,
    aggregate: { decide: (c: C, s: S | null) => E[]; evolve: (s: S | null, e: E) => S },
    id: string,
    command: C,
    ctx: CommandContext,
    expectedVersion?: number | null,
    visible?: (state: S) => boolean,
  ): Promise<CommandResult> {
    const isNew = CREATES.has((command as { type: string }).type);
    setRecorded(spanIn(ctx.traceContext), () => ({
      [ATTR.aggregateType]: store.aggregateType,
      [ATTR.aggregateId]: id,
      ...(expectedVersion != null ? { [ATTR.commandExpectedVersion]: expectedVersion } : {}),
    }));
    // What the last decision (the one that was saved) appended.
    let decided = 0;
    return handleCommand(
      store,
      id,
      (state: S | null) => {
        const events = aggregate.decide(command, state);
        decided = events.length;
        return { events, state: fold(aggregate.evolve, state, events) };
      },
      {
        expectedVersion,
        metadata: ctx.metadata,
        now: this.clock,
        isNew,
        visible: visible as ((state: unknown) => boolean) | undefined,
        idempotency: ctx.idempotency,
        traceContext: ctx.traceContext,
      },
    ).then((appended) => {
      const result = { id, ...appended };
      this.observer?.eventsAppended(store.aggregateType, decided);
      this.onCommitted(result);
      return result;
    });
  }

  private user(id: string, command: UserCommand, ctx: CommandContext, expectedVersion?: number | null) {
    return this.run(this.model.users, USER, id, command, ctx, expectedVersion);
  }

  private product(id: string, command: ProductCommand, ctx: CommandContext, expectedVersion?: number | null) {
    return this.run(this.model.products, PRODUCT, id, command, ctx, expectedVersion);
  }

  /** To a customer, someone else's order does not exist — for every order command, before any version check. */
  private order(id: string, command: OrderCommand, ctx: CommandContext, expectedVersion?: number | null) {
    const visible = (order: Order) => canSeeOwnedBy(ctx.actor, order.userId);
    return this.run(this.model.orders, ORDER, id, command, ctx, expectedVersion, visible);
  }

  /** Sign-up: open to anonymous callers. */
  registerUser(input: { idempotencyKey?: string | null; name: string; email: string }, ctx: CommandContext): Promise<CommandResult> {
    return this.keyed('registerUser', input, ctx, (ctx) => {
      const userId = newId();
      return this.user(userId, { type: 'RegisterUser', data: { userId, name: input.name, email: input.email } }, ctx);
    });
  }

  updateUserProfile(
    input: { idempotencyKey?: string | null; userId: string; expectedVersion: number; name?: string | null; email?: string | null },
    ctx: CommandContext,
  ): Promise<CommandResult> {
    return this.keyed('updateUserProfile', input, ctx, (ctx) => {
      const { userId, expectedVersion, name, email } = input;
      requireSelfOrAdmin(ctx.actor, userId);
      return this.user(
        existingId('User', userId),
        { type: 'UpdateUserProfile', data: { userId, name, email } },
        ctx,
        expectedVersion,
      );
    });
  }

  addProduct(input: { idempotencyKey?: string | null; name: string; price: Cents | string | number }, ctx: CommandContext): Promise<CommandResult> {
    return this.keyed('addProduct', input, ctx, (ctx) => {
      requireAdmin(ctx.actor);
      const productId = newId();
      return this.product(productId, { type: 'AddProduct', data: { productId, name: input.name, price: input.price } }, ctx);
    });
  }

  updateProduct(
    input: { idempotencyKey?: string | null; productId: string; expectedVersion: number; name?: string | null; price?: Cents | string | number | null },
    ctx: CommandContext,
  ): Promise<CommandResult> {
    return this.keyed('updateProduct', input, ctx, (ctx) => {
      const { productId, expectedVersion, name, price } = input;
      requireAdmin(ctx.actor);
      return this.product(
        existingId('Product', productId),
        { type: 'UpdateProduct', data: { productId, name, price } },
        ctx,
        expectedVersion,
      );
    });
  }

  placeOrder(
    input: { idempotencyKey?: string | null; userId: string; items: readonly OrderLineRequest[] },
    ctx: CommandContext,
  ): Promise<CommandResult> {
    return this.keyed('placeOrder', input, ctx, async (ctx) => {
      requireSelfOrAdmin(ctx.actor, input.userId);
      // Cheap shape checks first, so a hostile 10,000-line order loads nothing.
      validateOrderLines(input.items);
      const productIds = input.items.map((i) => i.productId).filter(isId);
      const { customer, products } = await inSpan('command.load', { attributes: { [ATTR.aggregateType]: 'User, Product' } }, ctx.traceContext ?? activeContext(), outcomeOf, () =>
        this.model.orderReferences.load(isId(input.userId) ? input.userId : null, productIds),
      );
      const orderId = newId();
      return this.order(
        orderId,
        {
          type: 'PlaceOrder',
          data: { orderId, userId: input.userId, items: input.items, customer: customer?.state ?? null, products },
        },
        ctx,
      );
    });
  }

  confirmOrder(input: { idempotencyKey?: string | null; orderId: string; expectedVersion?: number | null }, ctx: CommandContext) {
    return this.keyed('confirmOrder', input, ctx, (ctx) => {
      requireAdmin(ctx.actor);
      const orderId = existingId('Order', input.orderId);
      return this.order(orderId, { type: 'ConfirmOrder', data: { orderId } }, ctx, input.expectedVersion);
    });
  }

  shipOrder(input: { idempotencyKey?: string | null; orderId: string; expectedVersion?: number | null }, ctx: CommandContext) {
    return this.keyed('shipOrder', input, ctx, (ctx) => {
      requireAdmin(ctx.actor);
      const orderId = existingId('Order', input.orderId);
      return this.order(orderId, { type: 'ShipOrder', data: { orderId } }, ctx, input.expectedVersion);
    });
  }

  deliverOrder(input: { idempotencyKey?: string | null; orderId: string; expectedVersion?: number | null }, ctx: CommandContext) {
    return this.keyed('deliverOrder', input, ctx, (ctx) => {
      requireAdmin(ctx.actor);
      const orderId = existingId('Order', input.orderId);
      return this.order(orderId, { type: 'DeliverOrder', data: { orderId } }, ctx, input.expectedVersion);
    });
  }

  /** Customers: their own orders, before shipping (the decider checks, as it knows the order). */
  cancelOrder(input: { idempotencyKey?: string | null; orderId: string; reason: string; expectedVersion?: number | null }, ctx: CommandContext) {
    return this.keyed('cancelOrder', input, ctx, (ctx) => {
      const requestedBy = requireAuthenticated(ctx.actor);
      const orderId = existingId('Order', input.orderId);
      return this.order(
        orderId,
        { type: 'CancelOrder', data: { orderId, reason: input.reason, requestedBy } },
        ctx,
        input.expectedVersion,
      );
    });
  }
}
