/**
 * @internal How an event becomes a stored record and back. The hot path checks the fields by hand (as
 * `createEvent` does) and only asks zod to describe an event that fails the check.
 */
import type { EventIssue } from '../errors.js';
import { type Event, EventSchema } from '../event.js';

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `EventSchema`, checked by hand: true when `value` is an event as zod would accept it. */
export function isEventShape(value: unknown): value is Event {
  if (!isPlainRecord(value)) return false;
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
    isPlainRecord(data) &&
    (context === undefined || isPlainRecord(context)) &&
    (sessionId === undefined || (typeof sessionId === 'string' && sessionId.length > 0))
  );
}

/** zod's issues for a value that failed `isEventShape` (or a generic one if zod accepts it). */
export function describeInvalid(value: unknown): EventIssue[] {
  const result = EventSchema.safeParse(value);
  if (!result.success) return result.error.issues;
  return [{ code: 'custom', path: [], message: 'not a plain event object' }];
}

/** An event reduced to the schema's fields, in the schema's order (unknown keys dropped, as zod does). */
export function canonical(event: Event): Event {
  const out: Event = {
    id: event.id,
    type: event.type,
    timestamp: event.timestamp,
    priority: event.priority,
    data: event.data,
  };
  if (event.context !== undefined) out.context = event.context;
  if (event.sessionId !== undefined) out.sessionId = event.sessionId;
  return out;
}

/** Short description of a value that should have been an event, for error messages. */
export function describeEvent(value: unknown): string {
  if (!isPlainRecord(value))
    return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
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
