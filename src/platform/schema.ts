import { Type, type TUnsafe } from 'typebox';

/** Shared schema pieces for routes: every field documented, types matching the services. */

/** An ISO 8601 timestamp on the wire; services may hand over a Date (serialised as ISO). */
export const DateTime = (opts: { description?: string } = {}): TUnsafe<Date | string> =>
  Type.Unsafe<Date | string>({ type: 'string', format: 'date-time', ...opts });

export const NullableDateTime = (opts: { description?: string } = {}): TUnsafe<Date | string | null> =>
  Type.Unsafe<Date | string | null>({ anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }], ...opts });

/** A string enum whose static type is the union of its values. */
export const Enum = <const T extends readonly string[]>(values: T, opts: { description?: string; default?: T[number] } = {}): TUnsafe<T[number]> =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...opts });
