import { AlreadyExistsError, NotFoundError, ValidationError, assertNever } from './errors.js';
import { assertPlainText } from './text.js';
import type { Command, DomainEvent } from './messages.js';

/** The user aggregate as the write side knows it. */
export interface User {
  readonly id: string;
  readonly name: string;
  readonly email: string;
}

export type RegisterUser = Command<'RegisterUser', { userId: string; name: string; email: string }>;
export type UpdateUserProfile = Command<
  'UpdateUserProfile',
  { userId: string; name?: string | null; email?: string | null }
>;
export type UserCommand = RegisterUser | UpdateUserProfile;

export type UserRegistered = DomainEvent<'UserRegistered', { userId: string; name: string; email: string }>;
/** Carries the complete profile after the change, so readers need no history. */
export type UserProfileUpdated = DomainEvent<'UserProfileUpdated', { userId: string; name: string; email: string }>;
export type UserEvent = UserRegistered | UserProfileUpdated;

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export function validName(raw: string, field = 'name'): string {
  assertPlainText(field, raw);
  const name = raw.trim();
  if (name.length < 1 || name.length > 200) {
    throw new ValidationError(field, `expected 1–200 characters after trimming, got ${name.length}`);
  }
  return name;
}

export function validEmail(raw: string, field = 'email'): string {
  assertPlainText(field, raw);
  const email = raw.trim();
  if (email.length > 254 || !EMAIL.test(email)) {
    throw new ValidationError(field, `expected a valid email address, got "${email.slice(0, 254)}"`);
  }
  return email;
}

/** Pure: decides which events a command produces, or throws a DomainError. */
export function decideUser(command: UserCommand, state: User | null): UserEvent[] {
  switch (command.type) {
    case 'RegisterUser': {
      if (state) throw new AlreadyExistsError(`User ${command.data.userId} already exists`);
      const name = validName(command.data.name);
      const email = validEmail(command.data.email);
      return [{ type: 'UserRegistered', data: { userId: command.data.userId, name, email } }];
    }
    case 'UpdateUserProfile': {
      const { name, email } = command.data;
      if (name == null && email == null) {
        throw new ValidationError('name', 'expected at least one of name or email');
      }
      if (!state) throw new NotFoundError('User', [command.data.userId]);
      return [
        {
          type: 'UserProfileUpdated',
          data: {
            userId: state.id,
            name: name == null ? state.name : validName(name),
            email: email == null ? state.email : validEmail(email),
          },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

export function evolveUser(_state: User | null, event: UserEvent): User {
  switch (event.type) {
    case 'UserRegistered':
    case 'UserProfileUpdated':
      return { id: event.data.userId, name: event.data.name, email: event.data.email };
    default:
      return assertNever(event);
  }
}
