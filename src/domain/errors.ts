/**
 * The domain's error hierarchy. Each error carries a stable `code` that the API
 * layer exposes as `extensions.code`; messages say what was expected and what
 * arrived, and never contain internals.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  /** Extra, safe-to-expose details (become GraphQL `extensions`). */
  readonly details: Record<string, unknown> = {};
}

/** Input that breaks a rule; `field` names the offending input field. */
export class ValidationError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.details.field = field;
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(entity: string, ids: readonly string[]) {
    super(`${entity} not found: ${ids.join(', ')}`);
  }
}

export class InvalidTransitionError extends DomainError {
  readonly code = 'INVALID_TRANSITION';
  constructor(
    readonly current: string,
    readonly requested: string,
  ) {
    super(`Cannot change an order from ${current} to ${requested}`);
    this.details.currentStatus = current;
    this.details.requestedStatus = requested;
  }
}

export class VersionConflictError extends DomainError {
  readonly code = 'VERSION_CONFLICT';
  constructor(
    readonly expectedVersion: number,
    readonly currentVersion: number,
  ) {
    super(`Expected version ${expectedVersion}, but the current version is ${currentVersion}`);
    this.details.currentVersion = currentVersion;
  }
}

export class AlreadyExistsError extends DomainError {
  readonly code = 'ALREADY_EXISTS';
  constructor(message: string) {
    super(message);
  }
}

/** The caller must authenticate (no token, or one that is not valid). */
export class AuthenticationError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'Authentication required: send a valid bearer token') {
    super(message);
  }
}

/**
 * The caller may not do this. The message is deliberately generic: a refusal
 * must not reveal whether the thing asked for exists.
 */
export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  constructor(message = 'Not allowed') {
    super(message);
  }
}

/** Compile-time exhaustiveness check for `switch` statements over unions. */
export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
