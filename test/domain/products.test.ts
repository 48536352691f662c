import { describe, expect, it } from 'vitest';
import { AlreadyExistsError, NotFoundError, ValidationError } from '../../src/domain/errors.js';
import type { Cents } from '../../src/domain/money.js';
import {
  decideProduct,
  evolveProduct,
  type AddProduct,
  type ProductAdded,
  type ProductEvent,
  type UpdateProduct,
} from '../../src/domain/products.js';
import { deciderSpec } from './given.js';

const spec = deciderSpec({ decide: decideProduct, evolve: evolveProduct });

const PRODUCT_ID = '5a7c1e2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d';

function add(name: string, price: Cents | string | number, productId = PRODUCT_ID): AddProduct {
  return { type: 'AddProduct', data: { productId, name, price } };
}

function update(data: Omit<UpdateProduct['data'], 'productId'>, productId = PRODUCT_ID): UpdateProduct {
  return { type: 'UpdateProduct', data: { productId, ...data } };
}

function added(name = 'Widget', price = '19.99', productId = PRODUCT_ID): ProductAdded {
  return { type: 'ProductAdded', data: { productId, name, price } };
}

function updated(name: string, price: string): ProductEvent {
  return { type: 'ProductUpdated', data: { productId: PRODUCT_ID, name, price } };
}

const widget: ProductEvent[] = [added()];

describe('adding a product', () => {
  it('records ProductAdded with the name trimmed and the price as a two-decimal string', () => {
    spec.given([]).when(add('  Widget  ', '19.99')).then([added('Widget', '19.99')]);
  });

  describe('name length is counted after trimming and must be 1–200 characters', () => {
    it.each([
      ['an empty name (0 characters)', ''],
      ['a whitespace-only name', ' \t '],
      ['a 201-character name', 'p'.repeat(201)],
    ])('rejects %s as BAD_USER_INPUT on `name`', (_label, name) => {
      spec
        .given([])
        .when(add(name, '1.00'))
        .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'name', message: `got ${name.trim().length}` });
    });

    it.each([
      ['a 1-character name', 'P', 'P'],
      ['a 200-character name', 'p'.repeat(200), 'p'.repeat(200)],
      ['a padded name that is 200 characters after trimming', ` ${'p'.repeat(200)} `, 'p'.repeat(200)],
    ])('accepts %s', (_label, name, stored) => {
      spec.given([]).when(add(name, '1.00')).then([added(stored, '1.00')]);
    });
  });

  describe('price parsing', () => {
    it.each<[string, Cents | string | number, string]>([
      ['the string "39.98"', '39.98', '39.98'],
      ['the number 39.98', 39.98, '39.98'],
      ['the string "5" as 5.00', '5', '5.00'],
      ['the string "5.5" as 5.50', '5.5', '5.50'],
      ['the number 5 as 5.00', 5, '5.00'],
      ['the number 5.5 as 5.50', 5.5, '5.50'],
      ['a padded string " 12.30 "', ' 12.30 ', '12.30'],
      ['leading zeros "007.10" as 7.10', '007.10', '7.10'],
      ['zero as a string', '0', '0.00'],
      ['zero as a number', 0, '0.00'],
      ['an already-parsed amount in cents (3998n)', 3998n, '39.98'],
      ['the largest catalog price "99999999999.99"', '99999999999.99', '99999999999.99'],
      ['the largest catalog price as a number', 99999999999.99, '99999999999.99'],
    ])('accepts %s', (_label, price, stored) => {
      spec.given([]).when(add('Widget', price)).then([added('Widget', stored)]);
    });

    it.each<[string, unknown]>([
      ['a negative string "-1.00"', '-1.00'],
      ['a negative cent "-0.01"', '-0.01'],
      ['a negative number', -5],
      ['a negative amount in cents', -1n],
      ['three decimals as a string "1.999"', '1.999'],
      ['three decimals as a number 1.999', 1.999],
      ['an inexact float sum 0.1 + 0.2', 0.1 + 0.2],
      ['a non-numeric string "abc"', 'abc'],
      ['an empty string', ''],
      ['a thousands separator "1,000.00"', '1,000.00'],
      ['exponent notation "1e3"', '1e3'],
      ['a leading plus "+5"', '+5'],
      ['a bare fraction ".5"', '.5'],
      ['a trailing dot "5."', '5.'],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
      ['a number too large for plain notation (1e21)', 1e21],
      ['null', null],
      ['a boolean', true],
      ['one cent above the largest catalog price', '100000000000.00'],
      ['one cent above the largest catalog price in cents', 99_999_999_999_99n + 1n],
    ])('rejects %s as BAD_USER_INPUT naming `price`', (_label, price) => {
      spec
        .given([])
        .when(add('Widget', price as string))
        .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'price', message: /^price: / });
    });

    it('names the largest accepted price when refusing a price above it', () => {
      spec
        .given([])
        .when(add('Widget', '100000000000'))
        .thenThrows(ValidationError, { field: 'price', message: 'expected at most 99999999999.99, got 100000000000.00' });
    });
  });

  it('adding a product whose id already exists is refused with ALREADY_EXISTS naming the id', () => {
    spec
      .given(widget)
      .when(add('Another', '1.00'))
      .thenThrows(AlreadyExistsError, { code: 'ALREADY_EXISTS', message: PRODUCT_ID });
  });
});

describe('updating a product', () => {
  it('changing only the name keeps the price', () => {
    spec.given(widget).when(update({ name: '  Super Widget ' })).then([updated('Super Widget', '19.99')]);
  });

  it('changing only the price keeps the name', () => {
    spec.given(widget).when(update({ price: '24.5' })).then([updated('Widget', '24.50')]);
  });

  it('changing both records the complete new product', () => {
    spec.given(widget).when(update({ name: 'Gizmo', price: 7 })).then([updated('Gizmo', '7.00')]);
  });

  it('a price of zero is a change, not an omission', () => {
    spec.given(widget).when(update({ price: 0 })).then([updated('Widget', '0.00')]);
    spec.given(widget).when(update({ price: 0n })).then([updated('Widget', '0.00')]);
  });

  it('builds on the latest update, not on the original addition', () => {
    spec
      .given([...widget, updated('Gizmo', '1.00')])
      .when(update({ price: '2.00' }))
      .then([updated('Gizmo', '2.00')]);
  });

  it.each([
    ['both omitted', {}],
    ['both null', { name: null, price: null }],
  ])('an update with neither name nor price (%s) is BAD_USER_INPUT', (_label, data) => {
    spec
      .given(widget)
      .when(update(data))
      .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', message: 'at least one of name or price' });
  });

  it.each<[string, unknown]>([
    ['a negative price', '-1'],
    ['three decimals', '1.001'],
    ['"abc"', 'abc'],
    ['NaN', Number.NaN],
    ['an empty string (which is not an omission)', ''],
  ])('an update to %s is BAD_USER_INPUT naming `price`', (_label, price) => {
    spec
      .given(widget)
      .when(update({ price: price as string }))
      .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'price' });
  });

  it('an update to an empty or 201-character name is BAD_USER_INPUT naming `name`', () => {
    spec.given(widget).when(update({ name: '' })).thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'name' });
    spec
      .given(widget)
      .when(update({ name: 'p'.repeat(201) }))
      .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'name' });
  });

  it('updating a product that does not exist is NOT_FOUND naming the product id', () => {
    spec
      .given([])
      .when(update({ price: '1.00' }))
      .thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `Product not found: ${PRODUCT_ID}` });
  });
});

describe('evolving a product', () => {
  it('no events means no product', () => {
    expect(spec.given([]).state).toBeNull();
  });

  it('holds the price as exact cents', () => {
    expect(spec.given(widget).state).toEqual({ id: PRODUCT_ID, name: 'Widget', price: 1999n });
  });

  it('the latest update wins', () => {
    expect(spec.given([...widget, updated('Gizmo', '0.10'), updated('Gizmo', '99999999999.99')]).state).toEqual({
      id: PRODUCT_ID,
      name: 'Gizmo',
      price: 99_999_999_999_99n,
    });
  });
});
