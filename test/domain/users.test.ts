import { describe, expect, it } from 'vitest';
import { AlreadyExistsError, NotFoundError, ValidationError } from '../../src/domain/errors.js';
import {
  decideUser,
  evolveUser,
  validName,
  type RegisterUser,
  type UpdateUserProfile,
  type UserEvent,
  type UserRegistered,
} from '../../src/domain/users.js';
import { deciderSpec } from './given.js';

const spec = deciderSpec({ decide: decideUser, evolve: evolveUser });

const USER_ID = '0b0f3c4e-1d2a-4f5b-8c6d-7e8f9a0b1c2d';

function register(name: string, email: string, userId = USER_ID): RegisterUser {
  return { type: 'RegisterUser', data: { userId, name, email } };
}

function update(data: Omit<UpdateUserProfile['data'], 'userId'>, userId = USER_ID): UpdateUserProfile {
  return { type: 'UpdateUserProfile', data: { userId, ...data } };
}

function registered(name = 'Ada Lovelace', email = 'ada@example.com', userId = USER_ID): UserRegistered {
  return { type: 'UserRegistered', data: { userId, name, email } };
}

const ada: UserEvent[] = [registered()];

describe('registering a user', () => {
  it('records UserRegistered with the name and email trimmed', () => {
    spec
      .given([])
      .when(register('  Ada Lovelace \t', '\n ada@example.com  '))
      .then([registered('Ada Lovelace', 'ada@example.com')]);
  });

  it('keeps inner spaces of the name as they are', () => {
    spec.given([]).when(register('Ada  King,  Countess', 'ada@example.com')).then([registered('Ada  King,  Countess')]);
  });

  describe('name length is counted after trimming and must be 1–200 characters', () => {
    it.each([
      ['an empty name (0 characters)', ''],
      ['a whitespace-only name (0 characters after trimming)', '   \t  '],
      ['a 201-character name', 'n'.repeat(201)],
      ['a 201-character name even with surrounding spaces', `  ${'n'.repeat(201)}  `],
    ])('rejects %s as BAD_USER_INPUT on `name`', (_label, name) => {
      const error = spec
        .given([])
        .when(register(name, 'ada@example.com'))
        .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'name', message: '1–200 characters' });
      expect(error.message).toContain(`got ${name.trim().length}`);
    });

    it.each([
      ['a 1-character name', 'A', 'A'],
      ['a 200-character name', 'n'.repeat(200), 'n'.repeat(200)],
      ['a name that is 200 characters once its padding is trimmed', `   ${'n'.repeat(200)}   `, 'n'.repeat(200)],
    ])('accepts %s', (_label, name, stored) => {
      spec.given([]).when(register(name, 'ada@example.com')).then([registered(stored)]);
    });
  });

  describe('email must be a valid address', () => {
    it.each([
      'ada@example.com',
      'first.last+tag@mail.example.co.uk',
      'x@y.io',
      'ADA@EXAMPLE.COM',
    ])('accepts %s unchanged', (email) => {
      spec.given([]).when(register('Ada', email)).then([registered('Ada', email)]);
    });

    it.each([
      ['an empty string', ''],
      ['whitespace only', '   '],
      ['no @ at all', 'plainaddress'],
      ['nothing before the @', '@example.com'],
      ['nothing after the @', 'ada@'],
      ['a domain without a dot', 'ada@localhost'],
      ['two @ signs', 'ada@@example.com'],
      ['a space inside', 'ada lovelace@example.com'],
      ['a domain starting with a dot', 'ada@.example.com'],
      ['a domain ending with a dot', 'ada@example.com.'],
      ['an empty domain label', 'ada@example..com'],
      ['more than 254 characters', `${'a'.repeat(64)}@${'b'.repeat(186)}.com`],
    ])('rejects %s as BAD_USER_INPUT on `email`', (_label, email) => {
      spec
        .given([])
        .when(register('Ada', email))
        .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'email', message: 'valid email address' });
    });

    it('accepts an address of exactly 254 characters', () => {
      const email = `${'a'.repeat(64)}@${'b'.repeat(185)}.com`;
      expect(email).toHaveLength(254);
      spec.given([]).when(register('Ada', email)).then([registered('Ada', email)]);
    });
  });

  it('registering an id that already exists is refused with ALREADY_EXISTS naming the id', () => {
    spec
      .given(ada)
      .when(register('Someone Else', 'else@example.com'))
      .thenThrows(AlreadyExistsError, { code: 'ALREADY_EXISTS', message: USER_ID });
  });

  it('an existing id is refused even after the profile has been updated', () => {
    spec
      .given([...ada, { type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada K', email: 'k@example.com' } }])
      .when(register('Ada', 'ada@example.com'))
      .thenThrows(AlreadyExistsError, { code: 'ALREADY_EXISTS' });
  });
});

describe('updating a user profile', () => {
  it('changing only the name keeps the email', () => {
    spec
      .given(ada)
      .when(update({ name: '  Ada King  ' }))
      .then([{ type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada King', email: 'ada@example.com' } }]);
  });

  it('changing only the email keeps the name', () => {
    spec
      .given(ada)
      .when(update({ email: ' countess@example.org ' }))
      .then([{ type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada Lovelace', email: 'countess@example.org' } }]);
  });

  it('a null field counts as unchanged', () => {
    spec
      .given(ada)
      .when(update({ name: null, email: 'countess@example.org' }))
      .then([{ type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada Lovelace', email: 'countess@example.org' } }]);
  });

  it('changing both records the complete new profile', () => {
    spec
      .given(ada)
      .when(update({ name: 'Ada King', email: 'countess@example.org' }))
      .then([{ type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada King', email: 'countess@example.org' } }]);
  });

  it('the profile carried by the event builds on the latest update, not on registration', () => {
    spec
      .given([...ada, { type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada King', email: 'ada@example.com' } }])
      .when(update({ email: 'countess@example.org' }))
      .then([{ type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada King', email: 'countess@example.org' } }]);
  });

  it.each([
    ['both omitted', {}],
    ['both null', { name: null, email: null }],
  ])('an update with neither name nor email (%s) is BAD_USER_INPUT', (_label, data) => {
    spec
      .given(ada)
      .when(update(data))
      .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'name', message: 'at least one of name or email' });
  });

  it('an empty-string name is not "unchanged": it is validated and rejected', () => {
    spec.given(ada).when(update({ name: '' })).thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'name' });
  });

  it('a whitespace-only name is rejected on `name`', () => {
    spec.given(ada).when(update({ name: '   ' })).thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'name' });
  });

  it('a 201-character name is rejected on update, a 200-character one accepted', () => {
    spec
      .given(ada)
      .when(update({ name: 'n'.repeat(201) }))
      .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'name', message: 'got 201' });
    spec
      .given(ada)
      .when(update({ name: 'n'.repeat(200) }))
      .then([{ type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'n'.repeat(200), email: 'ada@example.com' } }]);
  });

  it('an invalid new email is rejected on `email`', () => {
    spec
      .given(ada)
      .when(update({ email: 'not-an-email' }))
      .thenThrows(ValidationError, { code: 'BAD_USER_INPUT', field: 'email' });
  });

  it('updating a user that does not exist is NOT_FOUND naming the user id', () => {
    spec
      .given([])
      .when(update({ name: 'Ada' }))
      .thenThrows(NotFoundError, { code: 'NOT_FOUND', message: `User not found: ${USER_ID}` });
  });
});

describe('evolving a user', () => {
  it('no events means no user', () => {
    expect(spec.given([]).state).toBeNull();
  });

  it('registration creates the user', () => {
    expect(spec.given(ada).state).toEqual({ id: USER_ID, name: 'Ada Lovelace', email: 'ada@example.com' });
  });

  it('the latest profile update wins', () => {
    const state = spec.given([
      ...ada,
      { type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada King', email: 'ada@example.com' } },
      { type: 'UserProfileUpdated', data: { userId: USER_ID, name: 'Ada King', email: 'countess@example.org' } },
    ]).state;
    expect(state).toEqual({ id: USER_ID, name: 'Ada King', email: 'countess@example.org' });
  });
});

describe('text that cannot be stored', () => {
  it.each([
    ['a NUL character', 'Ada\u0000Lovelace', 'expected text without control characters (such as NUL)'],
    ['an escape character', 'Ada\u001bLovelace', 'expected text without control characters (such as NUL)'],
    ['an unpaired surrogate', 'Ada\ud800Lovelace', 'expected valid Unicode text (it holds an unpaired surrogate)'],
  ])('a name with %s is BAD_USER_INPUT on `name`', (_label, name, message) => {
    expect(() => validName(name)).toThrow(message);
    expect(() => validName(name)).toThrow(ValidationError);
  });

  it('tabs, new lines and emoji (paired surrogates) are fine', () => {
    expect(validName('Ada\tLovelace 👩‍💻\n')).toBe('Ada\tLovelace 👩‍💻');
  });
});
