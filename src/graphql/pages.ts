import { ValidationError } from '../domain/errors.js';

export const MAX_PAGE_SIZE = 100;

/** `page` starts at 1; `pageSize` is 1–100. */
export function checkPage(page: number, pageSize: number): void {
  if (!Number.isInteger(page) || page < 1) throw new ValidationError('page', `expected an integer ≥ 1, got ${page}`);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new ValidationError('pageSize', `expected an integer from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`);
  }
}

type PageFields<K extends string> = { readonly [F in K]: <T>(p: { readonly items: readonly T[] }) => T[] } & {
  readonly totalPages: (p: { readonly total: number; readonly pageSize: number }) => number;
};

/** A page type's fields: its items under `field`, and the number of pages. */
export function pageFields<K extends string>(field: K): PageFields<K> {
  return {
    [field]: <T>(p: { readonly items: readonly T[] }) => p.items as T[],
    totalPages: (p: { readonly total: number; readonly pageSize: number }) => Math.ceil(p.total / p.pageSize),
  } as PageFields<K>;
}
