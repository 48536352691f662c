/**
 * A tiny given/when/then harness for pure deciders, in the spirit of Emmett's
 * DeciderSpecification:
 *
 *   const spec = deciderSpec({ decide: decideOrder, evolve: evolveOrder });
 *   spec.given([placed]).when(confirm).then([confirmed]);
 *   spec.given([]).when(confirm).thenThrows(NotFoundError, { code: 'NOT_FOUND' });
 *
 * `given` folds the events with `evolve`, starting from `null` (no events means
 * no aggregate). The state and the command are deep-frozen before `decide` runs,
 * so a decider that mutates its inputs fails loudly instead of passing by luck.
 */
import { expect } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';

export interface Decider<Command, Event, State> {
  decide(command: Command, state: State | null): Event[];
  evolve(state: State | null, event: Event): State;
}

/** What a thrown DomainError must look like; every key given is checked. */
export interface ErrorExpectation {
  /** `extensions.code`, e.g. 'BAD_USER_INPUT'. */
  readonly code?: string;
  /** For ValidationError: the offending input field, e.g. 'items[0].quantity'. */
  readonly field?: string;
  /** A substring the message must contain, or a pattern it must match. */
  readonly message?: string | RegExp;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

export interface WhenClause<Event> {
  /** The decider accepts the command and records exactly these events. */
  then(expected: readonly Event[]): void;
  /** The decider refuses the command with this error; returns it for further checks. */
  thenThrows<E extends Error>(errorClass: ErrorClass<E>, expectation?: ErrorExpectation): E;
}

export interface GivenClause<Command, Event, State> {
  /** The state folded from the given events (null when there were none). */
  readonly state: State | null;
  when(command: Command): WhenClause<Event>;
}

export interface DeciderSpecification<Command, Event, State> {
  given(events?: readonly Event[]): GivenClause<Command, Event, State>;
}

export function deciderSpec<Command, Event, State>(
  decider: Decider<Command, Event, State>,
): DeciderSpecification<Command, Event, State> {
  return {
    given(events = []) {
      const state = events.reduce<State | null>((s, e) => decider.evolve(s, e), null);
      deepFreeze(state);
      return {
        state,
        when(command) {
          deepFreeze(command);
          const run = () => decider.decide(command, state);
          return {
            then(expected) {
              const actual = run();
              expect(actual).toEqual(expected);
              // Pure: the same command on the same state decides the same events.
              expect(run()).toEqual(actual);
            },
            thenThrows(errorClass, expectation = {}) {
              let thrown: unknown;
              let decided: unknown[] | undefined;
              try {
                decided = run() as unknown[];
              } catch (error) {
                thrown = error;
              }
              if (decided !== undefined) {
                expect.fail(`expected ${errorClass.name} to be thrown, but the decider recorded ${show(decided)}`);
              }
              expect(thrown).toBeInstanceOf(errorClass);
              const error = thrown as InstanceType<typeof errorClass>;
              checkError(error, expectation);
              return error;
            },
          };
        },
      };
    },
  };
}

/** Asserts that `error` matches every part of `expectation`. */
export function checkError(error: Error, expectation: ErrorExpectation): void {
  if (expectation.code !== undefined) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(expectation.code);
  }
  if (expectation.field !== undefined) {
    expect((error as { field?: unknown }).field).toBe(expectation.field);
    expect((error as DomainError).details.field).toBe(expectation.field);
  }
  if (expectation.message !== undefined) {
    if (typeof expectation.message === 'string') expect(error.message).toContain(expectation.message);
    else expect(error.message).toMatch(expectation.message);
  }
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
}

function show(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}
