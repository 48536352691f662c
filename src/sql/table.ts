import { Prisma } from '../generated/prisma/client.js';
import { ident } from './fragments.js';

/**
 * One definition per table, from which everything that has to agree with it
 * is derived: the column list a query selects, the row a query returns, the
 * view (JavaScript value) it maps to and back, the JSON record a batch write
 * or a change history stores, and the SQL that builds that same JSON.
 *
 * A definition is checked against Prisma's generated model type (the schema
 * is the source of truth): it must name every field of the model, with the
 * model's nullability, and nothing else. A column added in schema.prisma
 * fails the type check here until the definition says how it travels.
 */

/** How one column travels between SQL, rows, JSON records and views. */
export interface Column<V, N extends boolean = boolean> {
  /** The SQL column name. */
  readonly name: string;
  /** Its SQL type, as `jsonb_to_recordset` and parameter casts name it. */
  readonly sqlType: string;
  readonly nullable: N;
  /** The select expression for `ref` (cast where drivers would disagree). */
  select(ref: string): string;
  /** A SQL expression that builds the JSON value `encode` returns. */
  json(ref: string): string;
  /** A selected value → the view's value. */
  fromRow(value: unknown): V;
  /** The view's value → its JSON value (records, batch writes). */
  encode(value: V): unknown;
  /** A JSON value (as `encode` or `json` made it) → the view's value. */
  decode(value: unknown): V;
}

const same = <V>(value: unknown) => value as V;

function column<V>(
  name: string,
  sqlType: string,
  parts: Partial<Omit<Column<V>, 'name' | 'sqlType' | 'nullable'>> = {},
): Column<V, false> {
  return {
    name,
    sqlType,
    nullable: false,
    select: (ref) => ref,
    json: (ref) => ref,
    fromRow: same,
    encode: (value) => value,
    decode: same,
    ...parts,
  };
}

export const uuid = (name: string) => column<string>(name, 'uuid', { select: (ref) => `${ref}::text` });
export const text = <T extends string = string>(name: string) => column<T>(name, 'text');
export const int = (name: string) => column<number>(name, 'int');
export const boolean = (name: string) => column<boolean>(name, 'boolean');
/** A PostgreSQL enum, as its label. */
export const enumOf = <T extends string>(name: string, type: string) =>
  column<T>(name, `"${type}"`, { select: (ref) => `${ref}::text` });
/** int8, exact: text in SQL and JSON, bigint in views. */
export const bigint = (name: string) =>
  column<bigint>(name, 'bigint', {
    select: (ref) => `${ref}::text`,
    json: (ref) => `${ref}::text`,
    fromRow: (v) => BigInt(v as string),
    encode: (v) => v.toString(),
    decode: (v) => BigInt(v as string),
  });
/** numeric money, exact: a two-decimal string everywhere. */
export const money = (name: string) =>
  column<string>(name, 'numeric', {
    select: (ref) => `${ref}::text`,
    json: (ref) => `${ref}::text`,
    decode: (v) => (typeof v === 'number' ? v.toFixed(2) : String(v)),
  });
/** timestamptz: a Date in views, ISO-8601 UTC with milliseconds in JSON. */
export const timestamptz = (name: string) =>
  column<Date>(name, 'timestamptz', {
    json: (ref) => `to_char(${ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
    fromRow: (v) => (v instanceof Date ? v : new Date(v as string)),
    encode: (v) => v.toISOString(),
    decode: (v) => new Date(v as string),
  });
/** A date (no time): `YYYY-MM-DD` everywhere. */
export const date = (name: string) =>
  column<string>(name, 'date', { select: (ref) => `${ref}::text`, json: (ref) => `${ref}::text` });
export const jsonb = <T>(name: string) => column<T>(name, 'jsonb');

/** The same column, allowing NULL. */
export function nullable<V>(col: Column<V, false>): Column<V | null, true> {
  return {
    ...col,
    nullable: true,
    fromRow: (v) => (v == null ? null : col.fromRow(v)),
    encode: (v) => (v === null ? null : col.encode(v)),
    decode: (v) => (v == null ? null : col.decode(v)),
  } as Column<V | null, true>;
}

type Columns = Record<string, Column<any, boolean>>;

/** The view a table's rows map to: each field's value, as its column says. */
export type ViewOf<C extends Columns> = { readonly [K in keyof C]: C[K] extends Column<infer V, boolean> ? V : never };

/**
 * Whether a column of this model type must be nullable. Prisma types a JSON
 * column as `JsonValue`, which includes null whether or not the column does:
 * either is accepted there.
 */
type NullableIn<T> = null extends T ? (Exclude<T, null> extends string | number | boolean | bigint | Date | Prisma.Decimal ? true : boolean) : false;

/**
 * What a definition must match: every field of the Prisma model, nullable
 * exactly where the model is, and no other field.
 */
type Matching<Model, C> = {
  readonly [K in keyof Model]-?: Column<unknown, NullableIn<Model[K]>>;
} & { readonly [K in Exclude<keyof C, keyof Model>]: never };

export class Table<C extends Columns> {
  /** Column SQL names, in definition order. */
  readonly columnNames: readonly string[];
  private readonly fields: ReadonlyArray<[field: string, column: Column<unknown, boolean>]>;

  constructor(
    readonly name: string,
    /** The conflict target of upserts: the primary key's column(s), e.g. `id` or `tx, pos, order_id`. */
    readonly key: readonly string[],
    readonly columns: C,
  ) {
    this.fields = Object.entries(columns);
    this.columnNames = this.fields.map(([, c]) => c.name);
  }

  /** The table's name, quoted, optionally in a schema. */
  ref(schema?: string): Prisma.Sql {
    return schema ? ident(schema, this.name) : ident(this.name);
  }

  /** `col::text AS "field", …`: what `fromRow` reads. `alias` qualifies the columns. */
  selectList(alias?: string): Prisma.Sql {
    const prefix = alias ? `${alias}.` : '';
    return Prisma.raw(this.fields.map(([field, c]) => `${c.select(`${prefix}"${c.name}"`)} AS "${field}"`).join(', '));
  }

  fromRow(row: Record<string, unknown>): ViewOf<C> {
    const view: Record<string, unknown> = {};
    for (const [field, c] of this.fields) view[field] = c.fromRow(row[field]);
    return view as ViewOf<C>;
  }

  /** The view as a JSON record keyed by column name (batch writes, change histories). */
  toRecord(view: ViewOf<C>): Record<string, unknown> {
    const record: Record<string, unknown> = {};
    for (const [field, c] of this.fields) record[c.name] = c.encode((view as Record<string, unknown>)[field]);
    return record;
  }

  fromRecord(record: Record<string, unknown>): ViewOf<C> {
    const view: Record<string, unknown> = {};
    for (const [field, c] of this.fields) view[field] = c.decode(record[c.name]);
    return view as ViewOf<C>;
  }

  /**
   * `jsonb_build_object(…)` of the row `alias` — the same JSON as `toRecord`
   * would make of its view — with some columns replaced by other expressions.
   */
  recordJson(alias: string, replace: Partial<Record<keyof C, Prisma.Sql>> = {}): Prisma.Sql {
    const pairs = this.fields.map(([field, c]) => {
      const value = replace[field as keyof C] ?? Prisma.raw(c.json(`${alias}."${c.name}"`));
      return Prisma.sql`${Prisma.raw(`'${c.name}'`)}, ${value}`;
    });
    return Prisma.sql`jsonb_build_object(${Prisma.join(pairs, ', ')})`;
  }

  /** `"a" type, "b" type, …`: the record type of `jsonb_to_recordset`. */
  recordType(): Prisma.Sql {
    return Prisma.raw(this.fields.map(([, c]) => `"${c.name}" ${c.sqlType}`).join(', '));
  }

  /** `"a", "b", …` (`alias."a", …` with an alias). */
  columnList(alias?: string): Prisma.Sql {
    const prefix = alias ? `${alias}.` : '';
    return Prisma.raw(this.columnNames.map((n) => `${prefix}"${n}"`).join(', '));
  }

  /** `($1::type, $2::type, …)`: one row of values for `INSERT … (columnList()) VALUES`. */
  values(view: ViewOf<C>): Prisma.Sql {
    const values = this.fields.map(([field, c]) => Prisma.sql`${c.encode((view as Record<string, unknown>)[field])}::${Prisma.raw(c.sqlType)}`);
    return Prisma.sql`(${Prisma.join(values, ', ')})`;
  }

  /** The SQL name of a field's column. */
  column(field: keyof C & string): string {
    return this.columns[field]!.name;
  }
}

/**
 * Defines a table against its Prisma model: `defineTable<OrderViewModel>()('order_view', ['id'], { … })`.
 * (Two calls, so that the model is given and the columns are inferred.)
 */
export function defineTable<Model>() {
  return <const C extends Columns>(name: string, key: readonly string[], columns: C & Matching<Model, C>): Table<C> =>
    new Table(name, key, columns);
}
