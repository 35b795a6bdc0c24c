/**
 * @internal How an event becomes a stored record and back. The hot path checks the fields by hand (as
 * `createEvent` does) and only asks zod to describe an event that fails the check.
 *
 * What is stored must read back as the same event, so `data` and `context` are held to what JSON gives
 * back as an object: a plain object (prototype `Object.prototype` or `null`), whose `toJSON`, if it has
 * one, returns an object. zod's record accepts a little more (an object inheriting its properties, one with
 * such a `toJSON`), which JSON would turn into something else or into nothing.
 */
import { type EventIssue, textOf } from '../errors.js';
import { type Event, EventSchema, isPlainObject } from '../event.js';
import { isRecord } from '../streams/payload.js';

/**
 * `EventSchema`, checked by hand: true when `value` is an event as zod would accept it, and whose `data`
 * and `context` are plain objects (see above; not a `Date`, a `Map`, an array or a class instance). A
 * `toJSON` on them is checked by `jsonObject`, which calls it.
 */
export function isEventShape(value: unknown): value is Event {
  if (!isRecord(value)) return false;
  const { id, type, timestamp, priority, data, context, sessionId } = value;
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    typeof type === 'string' &&
    type.length > 0 &&
    typeof timestamp === 'number' &&
    Number.isFinite(timestamp) &&
    timestamp >= 0 &&
    (priority === 0 || priority === 1 || priority === 2 || priority === 3) &&
    isPlainObject(data) &&
    (context === undefined || isPlainObject(context)) &&
    (sessionId === undefined || (typeof sessionId === 'string' && sessionId.length > 0))
  );
}

/**
 * What JSON gives back for `record` (an event's `data` or `context`, a plain object): `record` itself —
 * the hot path, one property lookup — or, when it has a `toJSON`, the object that returns, read back from
 * its JSON; undefined when that is not a JSON object. Throws what `toJSON` or `JSON.stringify` throws.
 */
export function jsonObject(record: Record<string, unknown>): Record<string, unknown> | undefined {
  if (typeof record.toJSON !== 'function') return record;
  const text: unknown = JSON.stringify(record);
  // 0x7b is '{': the JSON of an object. toJSON may return a string, a number, null, an array, undefined.
  if (typeof text !== 'string' || text.charCodeAt(0) !== 0x7b) return undefined;
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * Whether the `data` and `context` of `event` (which passed `isEventShape`) read back from JSON as objects
 * (see `jsonObject`); false when a `toJSON` returns anything else, or throws. Values JSON cannot hold at
 * all (a `BigInt`, a cycle) are only found when the whole event is serialized.
 */
export function hasJsonObjects(event: Event): boolean {
  try {
    return (
      jsonObject(event.data) !== undefined &&
      (event.context === undefined || jsonObject(event.context) !== undefined)
    );
  } catch {
    return false;
  }
}

/**
 * zod's issues for a value that failed `isEventShape` or `hasJsonObjects`, or ours where zod accepts it
 * (`data` or `context` that JSON would not give back), or a generic one.
 */
export function describeInvalid(value: unknown): EventIssue[] {
  const result = EventSchema.safeParse(value);
  if (!result.success) return result.error.issues;
  const issues: EventIssue[] = [];
  for (const field of ['data', 'context'] as const) {
    const record = (value as Record<string, unknown>)[field];
    if (record === undefined) continue;
    if (!isPlainObject(record)) {
      issues.push({
        code: 'custom',
        path: [field],
        message: 'not a plain object (prototype Object.prototype or null): JSON would not give it back',
      });
      continue;
    }
    let message = 'its toJSON() does not return an object: it would not read back as an event';
    try {
      if (jsonObject(record) !== undefined) continue;
    } catch (error) {
      message = `its toJSON() or its serialization throws: ${textOf(error)}`;
    }
    issues.push({ code: 'custom', path: [field], message });
  }
  return issues.length > 0 ? issues : [{ code: 'custom', path: [], message: 'not a plain event object' }];
}

/**
 * An event reduced to the schema's fields, in the schema's order (unknown keys dropped, as zod does), with
 * `data` and `context` as JSON gives them back (see `jsonObject`); undefined when one of them would not
 * read back as an object. Throws what a `toJSON` throws.
 */
export function canonical(event: Event): Event | undefined {
  const data = jsonObject(event.data);
  if (data === undefined) return undefined;
  const out: Event = {
    id: event.id,
    type: event.type,
    // JSON has no -0: stored as the 0 it reads back as.
    timestamp: event.timestamp + 0,
    priority: event.priority,
    data,
  };
  if (event.context !== undefined) {
    const context = jsonObject(event.context);
    if (context === undefined) return undefined;
    out.context = context;
  }
  if (event.sessionId !== undefined) out.sessionId = event.sessionId;
  return out;
}

/** Short description of a value that should have been an event, for error messages. */
export function describeEvent(value: unknown): string {
  if (!isRecord(value)) return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  const id = typeof value.id === 'string' ? value.id : undefined;
  const type = typeof value.type === 'string' ? value.type : undefined;
  if (id === undefined && type === undefined) return 'an object without id and type';
  return `${type ?? '(no type)'} ${id ?? '(no id)'}`;
}

/** Result of decoding a stored record. */
export type Decoded = { ok: true; event: Event } | { ok: false; reason: string; cause?: unknown };

/** Parses a stored record; never throws. */
export function decodeEvent(text: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}`, cause: error };
  }
  if (!isEventShape(value)) {
    const issues = describeInvalid(value);
    return {
      ok: false,
      reason: `not an event: ${issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    };
  }
  return { ok: true, event: value };
}
