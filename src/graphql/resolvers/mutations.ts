import { requireAdmin } from '../../domain/access.js';
import type { EventMetadata } from '../../eventlog/types.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import type { CommandContext, CommandResult } from '../../write/commands.js';
import type { GraphQLContext } from '../context.js';
import type { PayloadModel } from '../mappers.js';

function payload(result: CommandResult): PayloadModel {
  return { id: result.id, version: result.version, position: result.position };
}

/** What every event this request records carries (audit, tracing). */
function eventMetadata(ctx: GraphQLContext): EventMetadata {
  const { actor } = ctx;
  return {
    correlationId: ctx.correlationId,
    // The request is what caused these events.
    causationId: ctx.requestId,
    requestId: ctx.requestId,
    actor: actor.role === 'anonymous' ? { role: actor.role } : { role: actor.role, userId: actor.userId },
  };
}

function commandContext(ctx: GraphQLContext): CommandContext {
  return { actor: ctx.actor, traceContext: ctx.traceContext, metadata: eventMetadata(ctx) };
}

/**
 * Mutations are commands: each dispatches to the command service, nothing
 * else. Who may run which command is decided there (src/write/commands.ts).
 */
export const Mutation: MutationResolvers = {
  registerUser: async (_, { input }, ctx) => payload(await ctx.commands.registerUser(input, commandContext(ctx))),
  updateUserProfile: async (_, { input }, ctx) =>
    payload(await ctx.commands.updateUserProfile(input, commandContext(ctx))),
  addProduct: async (_, { input }, ctx) => payload(await ctx.commands.addProduct(input, commandContext(ctx))),
  updateProduct: async (_, { input }, ctx) => payload(await ctx.commands.updateProduct(input, commandContext(ctx))),
  placeOrder: async (_, { input }, ctx) => payload(await ctx.commands.placeOrder(input, commandContext(ctx))),
  confirmOrder: async (_, { input }, ctx) => payload(await ctx.commands.confirmOrder(input, commandContext(ctx))),
  shipOrder: async (_, { input }, ctx) => payload(await ctx.commands.shipOrder(input, commandContext(ctx))),
  deliverOrder: async (_, { input }, ctx) => payload(await ctx.commands.deliverOrder(input, commandContext(ctx))),
  cancelOrder: async (_, { input }, ctx) => payload(await ctx.commands.cancelOrder(input, commandContext(ctx))),
  // Operations on the read side, not commands: staff only.
  async retryDeadLetters(_, { projection, aggregateId }, ctx) {
    requireAdmin(ctx.actor);
    ctx.logger.info({ projection, aggregateId, actor: ctx.actor }, 'dead letters: retry requested');
    return ctx.operations.redrive(projection, aggregateId, 'RETRY', eventMetadata(ctx));
  },
  async skipDeadLetter(_, { projection, aggregateId }, ctx) {
    requireAdmin(ctx.actor);
    ctx.logger.warn({ projection, aggregateId, actor: ctx.actor }, 'dead letters: skip requested');
    return ctx.operations.redrive(projection, aggregateId, 'SKIP', eventMetadata(ctx));
  },
};
