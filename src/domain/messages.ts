/**
 * Commands and events are discriminated unions of `{ type, data }`.
 * Commands are imperative ("PlaceOrder"), events past tense ("OrderPlaced").
 */
export interface Command<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

/** What a decider needs from the outside world, passed in to keep it pure. */
export interface DecisionContext {
  readonly now: Date;
}
