import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { DomainError } from '../domain/errors.js';
import { formatMoney, parseMoney, type Cents } from '../domain/money.js';

function badInput(error: unknown): GraphQLError {
  const message = error instanceof Error ? error.message : String(error);
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function parse(value: unknown): Cents {
  try {
    return parseMoney(value, 'Money');
  } catch (error) {
    throw error instanceof DomainError ? badInput(error) : error;
  }
}

/** Two-decimal strings out; strings or numbers in, parsed to exact cents. */
export const MoneyScalar = new GraphQLScalarType<Cents, string>({
  name: 'Money',
  description: 'A decimal amount with exactly two fraction digits, as a string.',
  serialize(value) {
    if (typeof value === 'bigint') return formatMoney(value);
    if (typeof value === 'string' && /^-?\d+\.\d{2}$/.test(value)) return value;
    throw new GraphQLError(`Money cannot represent ${String(value)}`);
  },
  parseValue: parse,
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) {
      return parse(ast.kind === Kind.STRING ? ast.value : Number(ast.value));
    }
    throw badInput(`Money: expected a string or number literal, got ${ast.kind}`);
  },
});

/** ISO-8601 UTC strings. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError(`DateTime cannot represent ${String(value)}`);
    return date.toISOString();
  },
  parseValue(value) {
    const date = typeof value === 'string' ? new Date(value) : new Date(NaN);
    if (Number.isNaN(date.getTime())) throw badInput(`DateTime: expected an ISO-8601 string, got ${JSON.stringify(value)}`);
    return date;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badInput(`DateTime: expected a string, got ${ast.kind}`);
    return this.parseValue!(ast.value) as Date;
  },
});
