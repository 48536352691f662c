import { MAX_PRICE_CENTS, formatMoney, parseMoney, type Cents } from './money.js';
import { AlreadyExistsError, NotFoundError, ValidationError, assertNever } from './errors.js';
import { assertPlainText } from './text.js';
import type { Command, DomainEvent } from './messages.js';

export interface Product {
  readonly id: string;
  readonly name: string;
  readonly price: Cents;
}

/** Prices arrive already parsed by the API's Money scalar, or as raw strings. */
export type AddProduct = Command<'AddProduct', { productId: string; name: string; price: Cents | string | number }>;
export type UpdateProduct = Command<
  'UpdateProduct',
  { productId: string; name?: string | null; price?: Cents | string | number | null }
>;
export type ProductCommand = AddProduct | UpdateProduct;

/** Money in events is a decimal string ("39.98"): exact and JSON-friendly. */
export type ProductAdded = DomainEvent<'ProductAdded', { productId: string; name: string; price: string }>;
export type ProductUpdated = DomainEvent<'ProductUpdated', { productId: string; name: string; price: string }>;
export type ProductEvent = ProductAdded | ProductUpdated;

function validProductName(raw: string): string {
  assertPlainText('name', raw);
  const name = raw.trim();
  if (name.length < 1 || name.length > 200) {
    throw new ValidationError('name', `expected 1–200 characters after trimming, got ${name.length}`);
  }
  return name;
}

function validPrice(raw: Cents | string | number): Cents {
  const cents = typeof raw === 'bigint' ? raw : parseMoney(raw, 'price');
  if (cents < 0n) throw new ValidationError('price', `expected a non-negative amount, got ${formatMoney(cents)}`);
  if (cents > MAX_PRICE_CENTS) {
    throw new ValidationError('price', `expected at most ${formatMoney(MAX_PRICE_CENTS)}, got ${formatMoney(cents)}`);
  }
  return cents;
}

export function decideProduct(command: ProductCommand, state: Product | null): ProductEvent[] {
  switch (command.type) {
    case 'AddProduct': {
      if (state) throw new AlreadyExistsError(`Product ${command.data.productId} already exists`);
      const name = validProductName(command.data.name);
      const price = validPrice(command.data.price);
      return [{ type: 'ProductAdded', data: { productId: command.data.productId, name, price: formatMoney(price) } }];
    }
    case 'UpdateProduct': {
      const { name, price } = command.data;
      if (name == null && price == null) {
        throw new ValidationError('name', 'expected at least one of name or price');
      }
      if (!state) throw new NotFoundError('Product', [command.data.productId]);
      return [
        {
          type: 'ProductUpdated',
          data: {
            productId: state.id,
            name: name == null ? state.name : validProductName(name),
            price: formatMoney(price == null ? state.price : validPrice(price)),
          },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

export function evolveProduct(_state: Product | null, event: ProductEvent): Product {
  switch (event.type) {
    case 'ProductAdded':
    case 'ProductUpdated':
      return { id: event.data.productId, name: event.data.name, price: parseMoney(event.data.price, 'price') };
    default:
      return assertNever(event);
  }
}
