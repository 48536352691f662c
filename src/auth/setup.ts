import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULTS, type Config } from '../config.js';
import { TokenVerifier, mintToken, type Role } from './tokens.js';

/** How this process authenticates callers. */
export interface Auth {
  readonly verifier: TokenVerifier;
  /**
   * Mints tokens the verifier accepts; only with a shared secret (with a JWKS,
   * tokens come from the identity provider that holds the private key).
   */
  readonly mint?: (userId: string, role: Role, expiresInSec: number) => Promise<string>;
  /** True when the secret is the embedded default's generated development secret. */
  readonly development: boolean;
  /**
   * On the embedded development default only: mints a fresh development admin
   * token (valid {@link DEV_TOKEN_TTL_SEC}), printed at start and put into the
   * IDE of a browser on this machine.
   */
  readonly devToken?: () => Promise<string>;
}

/** Lifetime of a development admin token. */
export const DEV_TOKEN_TTL_SEC = DEFAULTS.DEV_TOKEN_TTL_S;

/**
 * Where the embedded default keeps its generated secret: beside the PGlite
 * directory, so a server and `npm run token` on the same data agree.
 */
export function devSecretPath(config: Pick<Config, 'PGLITE_DIR'>): string {
  return join(dirname(resolve(config.PGLITE_DIR)), 'dev-auth-secret');
}

function devSecret(path: string): string {
  const read = () => readFileSync(path, 'utf8').trim();
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  try {
    // Readable by the owner only; `wx`: a concurrent first start keeps the other's secret.
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return read();
    throw error;
  }
}

/**
 * Resolves the configured token verification. There is no way to turn it off:
 * a PostgreSQL deployment (or NODE_ENV=production) must configure
 * AUTH_JWT_SECRET or AUTH_JWKS; the embedded development default generates a
 * secret once and keeps it beside its data.
 */
export function resolveAuth(config: Config): Auth {
  const claims = { issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, clockToleranceSec: config.AUTH_CLOCK_TOLERANCE_S };
  if (config.AUTH_JWT_SECRET && config.AUTH_JWKS) {
    throw new Error('Invalid configuration: set AUTH_JWT_SECRET (HS256) or AUTH_JWKS (RS256/ES256), not both');
  }
  if (config.AUTH_JWKS) {
    return { verifier: new TokenVerifier({ jwks: config.AUTH_JWKS, ...claims }), development: false };
  }
  let secret = config.AUTH_JWT_SECRET;
  const development = !secret;
  if (!secret) {
    if (config.DATABASE_URL || config.NODE_ENV === 'production') {
      throw new Error(
        'Invalid configuration: authentication needs AUTH_JWT_SECRET (HS256, at least 32 characters) ' +
          'or AUTH_JWKS (a JWKS file or URL for RS256/ES256). Only the embedded development database generates its own.',
      );
    }
    secret = devSecret(devSecretPath(config));
  }
  const key = secret;
  const mint: NonNullable<Auth['mint']> = (userId, role, expiresInSec) =>
    mintToken({ secret: key, userId, role, expiresInSec, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE });
  return {
    verifier: new TokenVerifier({ secret: key, ...claims }),
    mint,
    development,
    devToken: development ? () => mint('dev-admin', 'admin', DEV_TOKEN_TTL_SEC) : undefined,
  };
}
