import { ValidationError } from './errors.js';

/**
 * Money is held as an exact integer number of cents (`bigint`), so sums and
 * products are exact. It crosses boundaries as a decimal string with exactly
 * two fraction digits ("39.98").
 */
export type Cents = bigint;

/** The largest catalog price accepted (fits NUMERIC(14,2)). */
export const MAX_PRICE_CENTS: Cents = 99_999_999_999_99n;

const DECIMAL = /^(\d{1,20})(?:\.(\d{1,2}))?$/;

/**
 * Parses a non-negative amount with at most two decimals from a string
 * ("39.98", "5", "5.5") or a finite number (39.98). Throws ValidationError
 * naming `field` otherwise.
 */
export function parseMoney(value: unknown, field: string): Cents {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValidationError(field, `expected a decimal amount, got ${value}`);
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw new ValidationError(field, `expected a decimal amount as a string or number, got ${typeof value}`);
  }
  if (text.startsWith('-')) throw new ValidationError(field, `expected a non-negative amount, got ${text}`);
  const match = DECIMAL.exec(text);
  if (!match) {
    throw new ValidationError(field, `expected a decimal amount with at most two fraction digits, got "${text}"`);
  }
  const whole = BigInt(match[1]!);
  const fraction = BigInt((match[2] ?? '').padEnd(2, '0'));
  return whole * 100n + fraction;
}

/** Formats cents as "123.45". */
export function formatMoney(cents: Cents): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  const whole = abs / 100n;
  const fraction = (abs % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/** Parses a decimal string as stored by the database (e.g. "39.98"). */
export function centsFromDecimal(text: string): Cents {
  return parseMoney(text, 'amount');
}
