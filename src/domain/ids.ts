import { randomUUID } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are opaque strings to clients; internally they are UUIDs. */
export function isId(value: string): boolean {
  return UUID.test(value);
}

export function newId(): string {
  return randomUUID();
}
