import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { requireAdmin } from '../../domain/access.js';
import { ValidationError } from '../../domain/errors.js';
import type { Resolvers } from '../../generated/graphql.js';
import { salesDays } from './queries.js';
import { reportOf } from './view.js';

/** The longest range one report covers, in days (both ends included). */
export const MAX_REPORT_DAYS = 366;

const DAY_MS = 86_400_000;

function badDate(value: unknown): GraphQLError {
  return new GraphQLError(`Date: expected a calendar day as "YYYY-MM-DD", got ${JSON.stringify(value)}`, {
    extensions: { code: 'BAD_USER_INPUT' },
  });
}

/** `YYYY-MM-DD` that names a real day (no 2026-02-30). */
function parseDate(value: unknown): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw badDate(value);
  const time = Date.parse(`${value}T00:00:00Z`);
  if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== value) throw badDate(value);
  return value;
}

export const DateScalar = new GraphQLScalarType<string, string>({
  name: 'Date',
  description: 'A calendar day, `YYYY-MM-DD` (days are UTC days).',
  serialize: (value) => parseDate(value),
  parseValue: parseDate,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badDate(ast.kind);
    return parseDate(ast.value);
  },
});

/** The days a report covers: `to` not before `from`, at most MAX_REPORT_DAYS. */
function checkRange(from: string, to: string): void {
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  if (days < 1) throw new ValidationError('to', `expected a day on or after from (${from}), got ${to}`);
  if (days > MAX_REPORT_DAYS) {
    throw new ValidationError('to', `expected a range of at most ${MAX_REPORT_DAYS} days, got ${days} (${from} to ${to})`);
  }
}

export const salesResolvers: Resolvers = {
  Date: DateScalar,
  Query: {
    async salesReport(_, { from, to }, { read, actor }) {
      requireAdmin(actor);
      checkRange(from, to);
      return (await salesDays(read.db, from, to)).map(reportOf);
    },
  },
};
