/**
 * The event model: the `Event` every stream and operator carries, its zod schema, priorities,
 * id generation and the JSON round trip.
 */
import { z } from 'zod';
import { type EventIssue, InvalidEventError, nearestName, shownText } from './errors.js';

/**
 * How urgent an event is. Numeric, so `Math.max` over priorities gives the most urgent one.
 * `CRITICAL` events never wait behind a batch (see `hybridProcess`).
 */
export const Priority = { LOW: 0, NORMAL: 1, HIGH: 2, CRITICAL: 3 } as const;
/** One of `Priority.LOW` (0), `NORMAL` (1), `HIGH` (2), `CRITICAL` (3). */
export type Priority = (typeof Priority)[keyof typeof Priority];

/** zod schema of a `Priority`. */
export const PrioritySchema = z.literal([Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL]);

/**
 * zod schema of an `Event`; the `Event` type is inferred from it.
 * Unknown top-level keys are stripped, so a parsed event has exactly these fields.
 *
 * Validate with `parseEvent` / `safeParseEvent` rather than `EventSchema.parse`: zod's record drops a
 * `__proto__` key of `data` or `context` (an own field, as `JSON.parse` and the bridge make it), and they
 * put it back.
 */
export const EventSchema = z.object({
  /** Unique, sortable by creation time (see `createEventId`). */
  id: z.string().min(1),
  /** Dotted event type, e.g. `file.modified`, `tool.used`, `file.modified.aggregated`. */
  type: z.string().min(1),
  /** Event time in milliseconds since the Unix epoch. Operators window on this, not on the wall clock. */
  timestamp: z.number().nonnegative(),
  priority: PrioritySchema,
  /** The payload; its shape depends on `type` (see `docs/bridge.md`). */
  data: z.record(z.string(), z.unknown()),
  /** Where the event came from (cwd, transcript, hook name …); never needed to interpret `data`. */
  context: z.record(z.string(), z.unknown()).optional(),
  /** The coding-agent session the event belongs to (Claude Code's `session_id`). */
  sessionId: z.string().min(1).optional(),
});

type EventShape = z.infer<typeof EventSchema>;

/**
 * A typed event. `D` narrows `data` for a known event type: an object type, an interface too (the
 * operators take any `Event<object>`; an interface, having no index signature, is no `Record`).
 */
export type Event<D = Record<string, unknown>> = Omit<EventShape, 'data'> & { data: D };

/**
 * What a guard for derived events of data `D` (`isAggregated`, `isSessionWindow`, `isLateEvent`…)
 * narrows an event type `E` to: the members of `E` whose data is a `D`, so that the stream of
 * `temporalAggregate<T>()`, `T | Event<AggregatedData<T>> | Event<LateEventData<T>>`, gives
 * `Event<AggregatedData<T>>` and keeps its `T`. When `E` has none (a stream of `Event`, or of events the
 * guard's producer did not make): `Event<D>`, or `E & Event<D>` where `E` does not take an `Event<D>`.
 * `Not`: members of `E` left out though their data is a `D` too (a `PatternTimeoutData` has every field of
 * a `PatternMatchData`). `Like`: the data a member of `E` must have to be kept, `D` by default; a guard of
 * data that carries the input's events gives `D` over `Event<object>` (`AggregatedData<Event<object>>`),
 * so that it keeps the members whose events' data is an interface, which are no `Event`s.
 */
export type NarrowedEvent<
  E extends Event<object>,
  D extends Record<string, unknown>,
  Not = never,
  Like extends Record<string, unknown> = D,
> = [Extract<Exclude<E, Not>, Event<Like>>] extends [never]
  ? Event extends Exclude<E, Not>
    ? Event<D>
    : Exclude<E, Not> & Event<D>
  : Extract<Exclude<E, Not>, Event<Like>>;

/** What `createEvent` needs: a type; everything else has a default. */
export interface EventInit<D = Record<string, unknown>> {
  type: string;
  data?: D | undefined;
  /** Defaults to `Priority.NORMAL`. */
  priority?: Priority | undefined;
  /** Event time, ms since epoch. Defaults to `Date.now()`. */
  timestamp?: number | undefined;
  /** Defaults to a fresh `createEventId()`. */
  id?: string | undefined;
  context?: Record<string, unknown> | undefined;
  sessionId?: string | undefined;
}

// ---------------------------------------------------------------------------------------------------
// Ids: ULID layout (10 chars of 48-bit ms time + 16 chars of 80-bit randomness, Crockford base 32),
// monotonic: within one millisecond (or when the clock steps back) the random part is incremented, so
// ids made in a tight loop are distinct and already in lexicographic order.

const ENCODING = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TWO_POW_40 = 2 ** 40;
/** The last millisecond 10 digits hold (48 bits, the year 10889). */
const MAX_TIME = 2 ** 48 - 1;

let lastTime = -1;
// The 80 random bits as two 40-bit halves, each exactly representable in a double.
let randHi = 0;
let randLo = 0;
/**
 * The character codes of the id's first 18 characters: 10 of time, 8 of the high half. Within a
 * millisecond only the low half changes. The id is made in one `String.fromCharCode`, a flat 26-byte
 * string: concatenating cached pieces leaves a rope of three (~90 bytes instead of ~48) that every stored,
 * windowed or correlated event keeps, and is no faster.
 */
const head: number[] = new Array<number>(18).fill(48);
const CODES: readonly number[] = Array.from(ENCODING, (c) => c.charCodeAt(0));
/** The codes of the first and the second base-32 digit of every 10-bit value. */
const FIRST: readonly number[] = Array.from({ length: 1024 }, (_, n) => CODES[n >> 5]!);
const SECOND: readonly number[] = Array.from({ length: 1024 }, (_, n) => CODES[n & 31]!);

/**
 * Writes the character codes of the last `2 × pairs` base-32 digits of the integer `value` into `codes`,
 * ending before `end`: ten bits (two digits) per step, by the tables, with a division by a power of two
 * (exact) rather than a floating-point remainder (~15 ns each).
 */
function writeDigits(codes: number[], value: number, end: number, pairs: number): void {
  let v = value;
  for (let i = end - 2; i >= end - 2 * pairs; i -= 2) {
    const rest = Math.floor(v / 1024);
    const ten = v - rest * 1024;
    codes[i] = FIRST[ten]!;
    codes[i + 1] = SECOND[ten]!;
    v = rest;
  }
}

/** @internal The 10-character time prefix of an id made at `ms`. */
export function encodeTime(ms: number): string {
  const codes = new Array<number>(10);
  writeDigits(codes, Math.floor(ms), 10, 5);
  return String.fromCharCode(...codes);
}

/**
 * Random bytes are drawn from the system 4 KiB at a time, as Node's own `crypto.randomUUID` caches
 * them: one `getRandomValues` call costs microseconds whatever its size, and a live stream, whose events
 * are mostly a millisecond or more apart, draws 10 bytes for almost every id.
 */
const randomPool = new Uint8Array(4096);
let randomAt = randomPool.length;

/** 40 random bits (5 bytes of the pool), as a number. */
function random40(): number {
  if (randomAt + 5 > randomPool.length) {
    crypto.getRandomValues(randomPool);
    randomAt = 0;
  }
  // Multiply rather than shift, since JS bit operations are 32-bit.
  let n = 0;
  for (let i = 0; i < 5; i++) n = n * 256 + randomPool[randomAt + i]!;
  randomAt += 5;
  return n;
}

/**
 * The clock of `createEventId`. A clock read costs ~40 ns on this machine, as much as the rest of an id,
 * and ids are mostly made in bursts (a payload's events, a window's aggregates, a replay): so `Date.now()`
 * is read by the first id of a burst and then again every `CLOCK_REUSE` ids, and the burst ends when a
 * promise reaction, queued by the read, forgets the reading. That reaction runs after every microtask
 * already queued at the read: an id made in such a microtask — a promise reaction queued earlier in the
 * same task, before its first id — still takes the reading, however long the code in between ran (up to
 * `CLOCK_REUSE - 1` ids in all). So the first id of a task reads the clock, and an id made once the
 * reading is forgotten (in a later task, or a microtask queued after the read) reads it again; an id deep
 * in a synchronous burst, or made in a microtask queued before the burst began, may carry an older time.
 * The order is exact either way: ids are monotonic.
 */
const CLOCK_REUSE = 16;
let clockMs = 0;
/** Ids that may still use `clockMs`: 0 when the clock must be read. */
let clockUses = 0;
let clockForgetting = false;
const settled = Promise.resolve();

function forgetClock(): void {
  clockUses = 0;
  clockForgetting = false;
}

function burstNow(): number {
  if (clockUses === 0) {
    clockMs = Date.now();
    clockUses = CLOCK_REUSE;
    if (!clockForgetting) {
      clockForgetting = true;
      void settled.then(forgetClock);
    }
  }
  clockUses--;
  return clockMs;
}

/**
 * A new event id: 26 characters, unique within the process and sortable by creation time.
 * Ids made within the same millisecond sort in the order they were made.
 *
 * @param now the creation time in ms since the epoch; by default the clock, read once per 16 ids made in
 *   one burst (and always by the first id of a task), so an id deep in a burst may carry the time of an id
 *   a few before it — and an id made in a promise reaction queued before the burst began (which runs before
 *   the reading is forgotten) the time of the burst's first id, however long ago that was. A fraction of a
 *   ms is dropped (so `performance.timeOrigin + performance.now()` works), and a time that is not after the
 *   last id's (the clock stepped back), not a finite number, or beyond 2^48 − 1 ms (the 10 digits' limit: a
 *   time in µs by mistake) counts as the same millisecond: the id follows the last one, and later ids are
 *   unaffected. The process's first id, with no id to follow, takes the time 0 for such a time, and a
 *   random part as any other.
 */
export function createEventId(now: number = burstNow()): string {
  let ms = Math.floor(now);
  // The first id has no id to follow: without a usable time it takes the time 0 and a random part (it
  // would otherwise count up from zero, the same id in every process that starts so).
  if (lastTime < 0 && !(ms >= 0 && ms <= MAX_TIME)) ms = 0;
  // NaN fails the first comparison, Infinity and a time past 48 bits the second.
  if (ms > lastTime && ms <= MAX_TIME) {
    lastTime = ms;
    writeDigits(head, ms, 10, 5);
    // Keep the top bit of the low half clear so a millisecond has 2^39 increments of headroom.
    randHi = random40();
    writeDigits(head, randHi, 18, 4);
    randLo = random40() % (TWO_POW_40 / 2);
  } else {
    randLo += 1;
    if (randLo >= TWO_POW_40) {
      randLo = 0;
      randHi += 1;
      if (randHi >= TWO_POW_40) {
        // 2^80 ids in one millisecond cannot happen; move the logical clock on rather than wrap.
        lastTime += 1;
        writeDigits(head, lastTime, 10, 5);
        randHi = 0;
      }
      writeDigits(head, randHi, 18, 4);
    }
  }
  const high = Math.floor(randLo / 1_048_576);
  const low = randLo - high * 1_048_576;
  const a = high >> 10;
  const b = high & 1023;
  const c = low >> 10;
  const d = low & 1023;
  // biome-ignore format: one id, 26 characters
  return String.fromCharCode(
    head[0]!, head[1]!, head[2]!, head[3]!, head[4]!, head[5]!, head[6]!, head[7]!, head[8]!, head[9]!,
    head[10]!, head[11]!, head[12]!, head[13]!, head[14]!, head[15]!, head[16]!, head[17]!,
    FIRST[a]!, SECOND[a]!, FIRST[b]!, SECOND[b]!, FIRST[c]!, SECOND[c]!, FIRST[d]!, SECOND[d]!,
  );
}

/** What `createEventId` makes: 26 upper-case Crockford base-32 digits, a 48-bit time first (so ≤ `7`). */
const EVENT_ID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/**
 * The creation time (ms since epoch) encoded in an id made by `createEventId`, or `undefined` when `id`
 * is not one: not 26 upper-case Crockford base-32 digits, or a first digit above `7` (a time past 48 bits).
 */
export function eventIdTime(id: string): number | undefined {
  if (typeof id !== 'string' || !EVENT_ID.test(id)) return undefined;
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ENCODING.indexOf(id[i]!);
  return t;
}

// ---------------------------------------------------------------------------------------------------

function isPriority(value: unknown): value is Priority {
  return value === 0 || value === 1 || value === 2 || value === 3;
}

/**
 * @internal An object JSON gives back with the same properties: its prototype is `Object.prototype` or
 * `null`. (Not exported from the package.)
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Why `createEvent` refused `event`: zod's issues, or ours for a `data` or `context` zod accepts. */
function invalidInit(event: Event<unknown>): InvalidEventError {
  const result = EventSchema.safeParse(event);
  if (!result.success) return new InvalidEventError(result.error.issues, { cause: result.error });
  const issues: EventIssue[] = [];
  for (const field of ['data', 'context'] as const) {
    if (event[field] !== undefined && !isPlainObject(event[field])) {
      issues.push({
        code: 'custom',
        path: [field],
        message: 'not a plain object (prototype Object.prototype or null)',
      });
    }
  }
  return new InvalidEventError(issues);
}

/**
 * Creates an event, filling in id, timestamp, priority and data. Cheap enough for the hot path:
 * it checks the fields it is given and only falls back to the zod schema to describe a bad one.
 * `data` and `context` must be plain objects (prototype `Object.prototype` or `null`), which JSON gives
 * back as they are: not a `Map`, a `Date`, an array or a class instance. A `timestamp` of `-0` becomes `0`.
 * A field it does not know (`sessionID` for `sessionId`) is refused, not dropped.
 *
 * @throws InvalidEventError when `init` is not an object, or a given field is invalid (an empty type, a negative timestamp, a `Map` as
 *   `data` …) or unknown (named with the nearest known one), with an issue whose path is the field.
 */
export function createEvent<D extends object = Record<string, unknown>>(init: EventInit<D>): Event<D> {
  // No init, or not an object (`createEvent()` from JavaScript): an InvalidEventError as for a bad
  // field, zod's issue at the root, not the TypeError of reading a field of undefined.
  if (typeof init !== 'object' || init === null) throw notAnInit(init);
  const event = makeEvent(init);
  // After makeEvent, which reads init's fields first.
  for (const key in init) if (!isInitKey(key)) throw unknownInitField(key);
  return event;
}

/** The error of an `init` that is not an object: zod's issue for it, at the root. */
function notAnInit(init: unknown): InvalidEventError {
  const { error } = z.object({}).safeParse(init);
  return new InvalidEventError(error?.issues ?? [], { cause: error });
}

/** The fields of `EventInit` (a switch: a few pointer comparisons per field, no hashing). */
function isInitKey(key: string): boolean {
  switch (key) {
    case 'type':
    case 'data':
    case 'priority':
    case 'timestamp':
    case 'id':
    case 'context':
    case 'sessionId':
      return true;
    default:
      return false;
  }
}

const INIT_KEYS: ReadonlyArray<keyof EventInit> = [
  'type',
  'data',
  'priority',
  'timestamp',
  'id',
  'context',
  'sessionId',
];

function unknownInitField(key: string): InvalidEventError {
  const near = nearestName(key, INIT_KEYS);
  return new InvalidEventError([
    {
      code: 'unrecognized_keys',
      path: [key],
      message: `unknown field${near === undefined ? '' : ` (did you mean "${near}"?)`}; known: ${INIT_KEYS.join(', ')}`,
    },
  ]);
}

/**
 * @internal `createEvent` without its check of unknown fields, for the library's own callers (the
 * bridge, per event), whose inits have only known ones. (Not exported from the package.)
 */
export function makeEvent<D extends object = Record<string, unknown>>(init: EventInit<D>): Event<D> {
  let timestamp = init.timestamp ?? Date.now();
  // JSON has no -0: an event made with -0 would read back with 0, and not deep-equal itself.
  if (timestamp === 0) timestamp = 0;
  const priority = init.priority ?? Priority.NORMAL;
  const event: Event<D> = {
    id: init.id ?? createEventId(),
    type: init.type,
    timestamp,
    priority,
    data: init.data ?? ({} as D),
  };
  if (init.context !== undefined) event.context = init.context;
  if (init.sessionId !== undefined) event.sessionId = init.sessionId;
  const valid =
    typeof event.type === 'string' &&
    event.type.length > 0 &&
    typeof timestamp === 'number' &&
    Number.isFinite(timestamp) &&
    timestamp >= 0 &&
    isPriority(priority) &&
    typeof event.id === 'string' &&
    event.id.length > 0 &&
    isPlainObject(event.data) &&
    (event.context === undefined || isPlainObject(event.context)) &&
    (event.sessionId === undefined || (typeof event.sessionId === 'string' && event.sessionId.length > 0));
  if (!valid) throw invalidInit(event);
  return event;
}

/**
 * @internal `record` — zod's copy of the record `input` — or, when `input` has an own enumerable
 * `__proto__` key, which zod's record drops (an assignment would set the copy's prototype instead), a
 * copy that keeps it: every key of `input` defined, in its order. (Not exported from the package.)
 */
export function withProtoKey(
  input: Record<string, unknown>,
  record: Record<string, unknown>,
): Record<string, unknown> {
  if (!Object.prototype.propertyIsEnumerable.call(input, '__proto__')) return record;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(input)) setOwn(copy, key, input[key]);
  return copy;
}

/**
 * @internal Sets `record[key] = value` as an own data property, whatever `key` is: an assignment of
 * `__proto__` would set the prototype instead, and the field would be lost. (Not exported from the
 * package.)
 */
export function setOwn(record: object, key: string, value: unknown): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * zod's output for `value`, a valid event, as it reads back from JSON: the `__proto__` keys of `data` and
 * `context` kept, and a `timestamp` of `-0` made `0` (JSON has no -0).
 */
function asParsed(value: unknown, event: Event): Event {
  const input = value as Event;
  if (event.timestamp === 0) event.timestamp = 0;
  event.data = withProtoKey(input.data, event.data);
  if (event.context !== undefined) event.context = withProtoKey(input.context!, event.context);
  return event;
}

/**
 * Validates an unknown value as an `Event`: a new object with the schema's fields, whose `data` and
 * `context` are shallow copies of the value's (a `__proto__` key included, as an own field). A `timestamp`
 * of `-0` becomes `0`, as JSON gives it back.
 *
 * @throws InvalidEventError carrying zod's issues when the value is not an event.
 */
export function parseEvent(value: unknown): Event {
  const result = EventSchema.safeParse(value);
  if (!result.success) throw new InvalidEventError(result.error.issues, { cause: result.error });
  return asParsed(value, result.data);
}

/** `parseEvent` without the throw: the event, or the issues that make it invalid. */
export function safeParseEvent(
  value: unknown,
): { success: true; event: Event } | { success: false; error: InvalidEventError } {
  const result = EventSchema.safeParse(value);
  return result.success
    ? { success: true, event: asParsed(value, result.data) }
    : { success: false, error: new InvalidEventError(result.error.issues, { cause: result.error }) };
}

/** Serializes an event to JSON text. `eventFromJSON(eventToJSON(e))` deep-equals `e`. */
export function eventToJSON(event: Event<unknown>): string {
  return JSON.stringify(event);
}

/**
 * Parses and validates JSON text written by `eventToJSON`.
 *
 * @throws InvalidEventError when the text is not JSON or not an event, or is no text but an object (an
 *   event already parsed: `parseEvent` checks one).
 */
export function eventFromJSON(json: string): Event {
  // An object (an event already parsed) was read as the text of String(), '[object Object]': "not valid
  // JSON", which hid what was passed. Bytes (a Buffer) are text, as JSON.parse reads them.
  if (typeof json === 'object' && json !== null && !ArrayBuffer.isView(json)) {
    throw new InvalidEventError([
      {
        code: 'invalid_type',
        path: [],
        message: `eventFromJSON takes the JSON text of an event (a string), got ${shownText(json)}; parseEvent checks an event object`,
      },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new InvalidEventError([{ code: 'invalid_json', path: [], message: (error as Error).message }], {
      cause: error,
    });
  }
  return parseEvent(value);
}
