import { createHash } from 'node:crypto';
import type { Actor } from '../domain/access.js';
import { DomainError, ValidationError } from '../domain/errors.js';
import type { IdempotencyRecord, IdempotencyStore } from './ports.js';

export class IdempotencyKeyReusedError extends DomainError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  constructor(command: string) {
    super(`This idempotency key was already used for a different ${command} input (or another command); use a new key`);
  }
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** Whose keys these are: a key never matches another caller's. */
export function idempotencyScope(actor: Actor): string {
  return actor.role === 'anonymous' ? 'anonymous' : `${actor.role}:${actor.userId}`;
}

/** JSON with sorted object keys (and bigints as strings): equal inputs, equal text. */
function canonical(value: unknown): string {
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** SHA-256 of a command's input, without its idempotency key. */
export function requestHash(input: object): string {
  const { idempotencyKey: _key, ...rest } = input as { idempotencyKey?: unknown };
  return createHash('sha256').update(canonical(rest)).digest('hex');
}

/** The record to store with a command's events, or undefined without a key. Validates the key. */
export function idempotencyRecord(
  command: string,
  input: { idempotencyKey?: string | null },
  actor: Actor,
  now: Date,
  ttlMs: number,
): IdempotencyRecord | undefined {
  const key = input.idempotencyKey;
  if (key == null) return undefined;
  if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || /[\u0000-\u001f]/.test(key)) {
    throw new ValidationError('idempotencyKey', `expected 1–${MAX_IDEMPOTENCY_KEY_LENGTH} printable characters, got ${key.length}`);
  }
  return { scope: idempotencyScope(actor), key, command, requestHash: requestHash(input), expiresAt: new Date(now.getTime() + ttlMs) };
}

/**
 * What a keyed command answers when its key is already known: the first
 * result for the same input, IDEMPOTENCY_KEY_REUSED for another; null when
 * the key is unknown (the command runs).
 */
export async function rememberedResult(store: IdempotencyStore, record: IdempotencyRecord, now: Date) {
  const found = await store.find(record.scope, record.key, now);
  if (!found) return null;
  if (found.command !== record.command || found.requestHash !== record.requestHash) {
    throw new IdempotencyKeyReusedError(record.command);
  }
  return found.result;
}
