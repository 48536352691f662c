import { DEFAULTS } from '../config.js';
import { readFileSync } from 'node:fs';
import {
  SignJWT,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwksCache,
  jwtVerify,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import type { AuthenticatedActor } from '../domain/access.js';
import { AuthenticationError } from '../domain/errors.js';

/** Roles a token may carry in its `role` claim. */
export const ROLES = ['customer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** How tokens are checked. Exactly one of `secret` (HS256) and `jwks` (RS256/ES256). */
export interface TokenVerifierOptions {
  /** Shared secret for HS256. */
  readonly secret?: string;
  /** A JWKS: path of a JSON file, or an http(s) URL (fetched and cached by jose). */
  readonly jwks?: string;
  /** When set, the `iss` claim must equal it. */
  readonly issuer?: string;
  /** When set, the `aud` claim must contain it. */
  readonly audience?: string;
  /** Seconds of clock skew tolerated on `exp`/`nbf`. */
  readonly clockToleranceSec?: number;
  /**
   * JWKS URL only: seconds after a fetch of the key set before a token naming
   * a key it lacks makes it fetch again (a rotation). The set is also fetched
   * again once it is 10 minutes old.
   */
  readonly jwksCooldownSec?: number;
}

/** A token that passed every check. */
export interface VerifiedToken {
  readonly actor: AuthenticatedActor;
  /** When the token stops being valid; long-lived sockets are closed then. */
  readonly expiresAt: Date;
}

/** The token from an `Authorization: Bearer <token>` value; undefined when there is none. */
export function bearerToken(header: unknown): string | undefined {
  if (header === undefined || header === null || header === '') return undefined;
  if (typeof header !== 'string') throw new AuthenticationError('Invalid authorization: expected "Bearer <token>"');
  const match = /^Bearer +([\w-]+\.[\w-]+\.[\w-]*)$/i.exec(header.trim());
  if (!match) throw new AuthenticationError('Invalid authorization: expected "Bearer <token>"');
  return match[1];
}

/** Why a token was refused, in words a client developer can act on (nothing secret). */
function reason(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim "${error.claim}" is not valid (${error.reason})`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm this server does not accept';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key in the key set matches the token';
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) return 'the key set could not be loaded';
  // Anything that is not jose's own complaint about the token: fetching the key set failed.
  if (!(error instanceof joseErrors.JOSEError)) return 'the key set could not be loaded';
  return 'the token is malformed';
}

/** How many verified tokens are remembered, and for how long at most. */
const MAX_REMEMBERED_TOKENS = 10_000;
const REMEMBER_TOKENS_MS = 60_000;

/**
 * Verifies bearer JWTs with jose: signature (HS256 with a shared secret, or
 * RS256/ES256 against a JWKS), `exp` (required), `nbf`, and `iss`/`aud` when
 * configured. Claims: `sub` = user id, `role` = customer | admin.
 */
export class TokenVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly options: JWTVerifyOptions;
  /**
   * The key material now in use: the same object until it is replaced (a
   * JWKS URL's set fetched again), so a token remembered under another one is
   * verified afresh — a key removed from the set stops being honoured with it.
   */
  private readonly keyMaterial: () => unknown;
  /**
   * Tokens verified recently, by their exact text (signature included), until
   * they expire and at most a minute, and only while the key material they
   * were verified with is in use: a client sends the same token with every
   * request, and verifying a signature is the costly part (bench/README.md).
   * Only the expiry depends on the time; it is checked on
   * every use.
   */
  private readonly verified = new Map<string, { readonly result: VerifiedToken; readonly until: number; readonly keys: unknown }>();

  constructor(options: TokenVerifierOptions) {
    if (Boolean(options.secret) === Boolean(options.jwks)) {
      throw new Error('Token verification needs exactly one of a shared secret (HS256) and a JWKS (RS256/ES256)');
    }
    if (options.secret) {
      // Imported once: given raw bytes, jose imports the HMAC key again for every token (half its cost).
      const hmac = crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(options.secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      this.key = () => hmac;
      this.keyMaterial = () => hmac;
    } else if (/^https?:\/\//i.test(options.jwks!)) {
      // jose records each fetched set here (`jwks` is a new object per fetch).
      const fetched: { jwks?: unknown } = {};
      this.key = createRemoteJWKSet(new URL(options.jwks!), {
        timeoutDuration: 5000,
        cooldownDuration: (options.jwksCooldownSec ?? 30) * 1000,
        [jwksCache]: fetched as Record<string, never>,
      });
      this.keyMaterial = () => fetched.jwks;
    } else {
      // A file is read once, at start.
      const local = createLocalJWKSet(JSON.parse(readFileSync(options.jwks!, 'utf8')));
      this.key = local;
      this.keyMaterial = () => local;
    }
    this.options = {
      algorithms: options.secret ? ['HS256'] : ['RS256', 'ES256'],
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.clockToleranceSec ?? DEFAULTS.AUTH_CLOCK_TOLERANCE_S,
      requiredClaims: ['exp', 'sub'],
    };
  }

  /** Resolves with the actor, or rejects with UNAUTHENTICATED saying why. */
  async verify(token: string): Promise<VerifiedToken> {
    // Read before verifying: a set replaced meanwhile leaves this entry stale, verified again on its next use.
    const keys = this.keyMaterial();
    const known = this.verified.get(token);
    if (known && known.keys === keys && Date.now() < known.until) return known.result;
    const result = await this.verifyNow(token);
    if (this.verified.size >= MAX_REMEMBERED_TOKENS) this.verified.clear();
    this.verified.set(token, { result, keys, until: Math.min(result.expiresAt.getTime(), Date.now() + REMEMBER_TOKENS_MS) });
    return result;
  }

  private async verifyNow(token: string): Promise<VerifiedToken> {
    let payload;
    try {
      payload = (await jwtVerify(token, this.key as JWTVerifyGetKey, this.options)).payload;
    } catch (error) {
      throw new AuthenticationError(`Invalid token: ${reason(error)}`);
    }
    const { sub, role, exp } = payload;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 200) {
      throw new AuthenticationError('Invalid token: expected a "sub" claim with the user id');
    }
    if (!ROLES.includes(role as Role)) {
      throw new AuthenticationError(`Invalid token: expected a "role" claim of ${ROLES.join(' or ')}, got ${JSON.stringify(role ?? null)}`);
    }
    return { actor: { role: role as Role, userId: sub }, expiresAt: new Date(exp! * 1000) };
  }
}

export interface MintOptions {
  readonly secret: string;
  readonly userId: string;
  readonly role: Role;
  /** Lifetime in seconds. */
  readonly expiresInSec: number;
  readonly issuer?: string;
  readonly audience?: string;
}

/** Signs an HS256 token the verifier accepts (dev tokens, `npm run token`, tests). */
export function mintToken(options: MintOptions): Promise<string> {
  let jwt = new SignJWT({ role: options.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.expiresInSec);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
