import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { MAX_PRICE_CENTS, centsFromDecimal, formatMoney, parseMoney } from '../../src/domain/money.js';
import { checkError } from './given.js';

function parseError(value: unknown, field = 'amount'): ValidationError {
  try {
    parseMoney(value, field);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  return expect.fail(`expected parseMoney(${String(value)}) to throw`);
}

describe('parseMoney', () => {
  it.each<[string, unknown, bigint]>([
    ['"39.98"', '39.98', 3998n],
    ['39.98 as a number', 39.98, 3998n],
    ['"5" as whole units', '5', 500n],
    ['"5.5" as fifty cents', '5.5', 550n],
    ['"5.05" keeping the leading zero of the cents', '5.05', 505n],
    ['5.5 as a number', 5.5, 550n],
    ['0', 0, 0n],
    ['-0 as a number (which prints as "0")', -0, 0n],
    ['"0.01"', '0.01', 1n],
    ['a padded string', '  12.30\n', 1230n],
    ['leading zeros', '0007.50', 750n],
    ['20 whole digits', '99999999999999999999.99', 10n ** 22n - 1n],
  ])('parses %s exactly', (_label, value, cents) => {
    expect(parseMoney(value, 'amount')).toBe(cents);
  });

  it.each<[string, unknown]>([
    ['a negative string', '-1.00'],
    ['negative zero as a string', '-0'],
    ['a negative number', -0.01],
    ['three decimals', '1.005'],
    ['three decimals as a number', 1.005],
    ['"abc"', 'abc'],
    ['an empty string', ''],
    ['a lone dot', '.'],
    ['".5"', '.5'],
    ['"5."', '5.'],
    ['"+5"', '+5'],
    ['"1e3"', '1e3'],
    ['"1,50"', '1,50'],
    ['"1 000"', '1 000'],
    ['"0x10"', '0x10'],
    ['21 whole digits', '100000000000000000000'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['a number that prints in exponent notation (1e21)', 1e21],
    ['a tiny number that prints in exponent notation (1e-7)', 1e-7],
    ['null', null],
    ['undefined', undefined],
    ['a bigint', 5n],
    ['an object', { amount: '1.00' }],
  ])('rejects %s as BAD_USER_INPUT naming the given field', (_label, value) => {
    const error = parseError(value, 'unitPrice');
    checkError(error, { code: 'BAD_USER_INPUT', field: 'unitPrice', message: /^unitPrice: expected / });
  });

  it('says what arrived when rejecting', () => {
    expect(parseError('1.005').message).toBe('amount: expected a decimal amount with at most two fraction digits, got "1.005"');
    expect(parseError(-3).message).toBe('amount: expected a non-negative amount, got -3');
    expect(parseError(Number.NaN).message).toBe('amount: expected a decimal amount, got NaN');
    expect(parseError(null).message).toContain('got object');
  });

  it('centsFromDecimal reads database decimals', () => {
    expect(centsFromDecimal('39.98')).toBe(3998n);
    expect(centsFromDecimal('999999999999900.00')).toBe(99_999_999_999_990_000n);
    expect(() => centsFromDecimal('-1.00')).toThrow(ValidationError);
  });
});

describe('formatMoney', () => {
  it.each<[bigint, string]>([
    [0n, '0.00'],
    [1n, '0.01'],
    [10n, '0.10'],
    [500n, '5.00'],
    [3998n, '39.98'],
    [MAX_PRICE_CENTS, '99999999999.99'],
    [99_999_999_999_990_000n, '999999999999900.00'],
  ])('formats %s cents as "%s"', (cents, text) => {
    expect(formatMoney(cents)).toBe(text);
  });

  it.each<[bigint, string]>([
    [-1n, '-0.01'],
    [-10n, '-0.10'],
    [-99n, '-0.99'],
    [-100n, '-1.00'],
    [-12345n, '-123.45'],
    [-MAX_PRICE_CENTS, '-99999999999.99'],
  ])('formats negative %s cents as "%s", sign before the whole part', (cents, text) => {
    expect(formatMoney(cents)).toBe(text);
  });

  it('formats zero without a sign', () => {
    expect(formatMoney(-0n)).toBe('0.00');
  });
});

describe('money round trips', () => {
  it.each(['0.00', '0.01', '5.50', '39.98', '99999999999.99', '12345678901234567890.12'])(
    'formatMoney(parseMoney("%s")) gives the same string back',
    (text) => {
      expect(formatMoney(parseMoney(text, 'amount'))).toBe(text);
    },
  );

  it('for any non-negative cents, parseMoney(formatMoney(c)) is c', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 22n - 1n }), (cents) => {
        expect(parseMoney(formatMoney(cents), 'amount')).toBe(cents);
      }),
      { numRuns: 1000 },
    );
  });

  it('for any negative cents, formatMoney is the positive form with a leading minus', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 22n }), (cents) => {
        expect(formatMoney(-cents)).toBe(`-${formatMoney(cents)}`);
      }),
    );
  });

  /** Any string parseMoney accepts: 1–20 digits, optionally "." and 1–2 digits, optionally padded. */
  const acceptedText = fc
    .tuple(
      fc.stringMatching(/^\d{1,20}$/),
      fc.option(fc.stringMatching(/^\d{1,2}$/), { nil: undefined }),
      fc.constantFrom('', ' ', '\t', '  '),
    )
    .map(([whole, fraction, pad]) => `${pad}${whole}${fraction === undefined ? '' : `.${fraction}`}${pad}`);

  it('formatMoney(parseMoney(x)) is stable: formatting is canonical and re-parses to the same amount', () => {
    fc.assert(
      fc.property(acceptedText, (text) => {
        const once = formatMoney(parseMoney(text, 'amount'));
        expect(once).toMatch(/^(0|[1-9]\d*)\.\d{2}$/);
        expect(formatMoney(parseMoney(once, 'amount'))).toBe(once);
        // Same value: compare as scaled integers without going through parseMoney.
        const [whole, fraction = ''] = text.trim().split('.');
        expect(once).toBe(formatMoney(BigInt(whole!) * 100n + BigInt(fraction.padEnd(2, '0'))));
      }),
      { numRuns: 1000 },
    );
  });

  it('any catalog-range amount given as a JS number n/100 parses to exactly n cents', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_PRICE_CENTS }), (cents) => {
        const asNumber = Number(cents) / 100;
        expect(parseMoney(asNumber, 'price')).toBe(cents);
      }),
      { numRuns: 2000 },
    );
  });
});
