/**
 * The library's error classes. Every error carries a stable, uppercase `code` (match on it, never on the
 * message text, which may change) and, where another error caused it, a `cause`.
 *
 * See `docs/errors.md` for the list of codes and what to do about each.
 */
import { isRecord } from './streams/payload.js';

/** Every code an error of this library can carry. */
export type ErrorCode =
  /** A value did not match `EventSchema` (see `InvalidEventError.issues`). */
  | 'INVALID_EVENT'
  /** An option passed to an operator or factory is out of range or of the wrong type. */
  | 'INVALID_CONFIG'
  /** `createHookBridge().push()` was called after `complete()`. */
  | 'BRIDGE_CLOSED'
  /** `createHookBridge().push()` found its pre-subscription buffer full. */
  | 'BRIDGE_BUFFER_FULL'
  /** A source could not read its input (a file that vanished, a directory that cannot be watched). */
  | 'SOURCE_FAILED'
  /** The LevelDB store is locked by another process. */
  | 'STORE_LOCKED'
  /** The store was used after `close()`, or could not be opened. */
  | 'STORE_NOT_OPEN'
  /** A write to the store failed (or needed a session number or a seq past the last one); the unwritten events are attached. */
  | 'STORE_WRITE_FAILED'
  /** An event passed to `append` does not match `EventSchema`. */
  | 'STORE_INVALID_EVENT'
  /** A store read failed. */
  | 'STORE_READ_FAILED'
  /** A hook did not answer within its timeout. */
  | 'HOOK_TIMEOUT'
  /** A hook failed: it threw or errored, its process could not start, crashed, or exited non-zero other than 2. */
  | 'HOOK_FAILED'
  /**
   * A hook blocks: a command hook exited with code 2 (its stderr is the reason), or a hook answered
   * `decision: 'block'` or a deny in `hookSpecificOutput` (`permissionDecision: 'deny'`,
   * `decision.behavior: 'deny'`).
   */
  | 'HOOK_BLOCKED'
  /**
   * A hook's output is not a `HookResult`: not JSON, or JSON that fails `HookResultSchema` (see `issues`),
   * or an answer that threw while it was read (a getter, a proxy trap; the thrown value is the `cause`).
   */
  | 'HOOK_INVALID_OUTPUT'
  /** A command hook wrote more than `maxOutputBytes` to stdout; it was killed. */
  | 'HOOK_OUTPUT_TOO_LARGE'
  /**
   * A buffer reached its limit under the `error` overflow policy; for `chainHooks` / `aggregateHooks`,
   * the `error` of the result of a context that was not run because `maxQueued` contexts waited.
   */
  | 'BUFFER_OVERFLOW'
  /** An event was dropped from a full queue under the `drop-oldest` / `drop-newest` overflow policy. */
  | 'EVENT_DROPPED'
  /** A batch handler did not return one result per event of its batch (wrong length, not an array). */
  | 'BATCH_RESULT_MISMATCH'
  /** A `select` callback returned something that is not a `ProcessingMode`. */
  | 'INVALID_MODE'
  /** A `hybridProcess` handler did not settle within its lane's `timeoutMs`. */
  | 'HANDLER_TIMEOUT'
  /**
   * An event reached a `hybridProcess` lane that had stopped: a custom `batcher` that completed early.
   */
  | 'LANE_CLOSED';

/** Base class of every error this library throws or forwards. */
export class VibespecError extends Error {
  override readonly name: string = 'VibespecError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A zod issue in the shape this library reports it: where, which check, and why. */
export interface EventIssue {
  readonly code: string;
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

/** Thrown by `parseEvent` when a value is not a valid `Event`. `issues` are zod's, unchanged. */
export class InvalidEventError extends VibespecError {
  override readonly name = 'InvalidEventError';
  declare readonly code: 'INVALID_EVENT';
  readonly issues: ReadonlyArray<EventIssue>;

  constructor(issues: ReadonlyArray<EventIssue>, options?: { cause?: unknown }) {
    super('INVALID_EVENT', `Invalid event: ${formatIssues(issues)}`, options);
    this.issues = issues;
  }
}

/** Thrown synchronously by an operator or factory given a bad option: fail at construction, not later. */
export class ConfigError extends VibespecError {
  override readonly name = 'ConfigError';
  declare readonly code: 'INVALID_CONFIG';

  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_CONFIG', message, options);
  }
}

/** Formats zod issues as `path: message; path: message` for error messages. */
export function formatIssues(issues: ReadonlyArray<EventIssue>): string {
  return issues
    .map(
      (issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`,
    )
    .join('; ');
}

/** The codes a `HookError` carries. */
export type HookErrorCode = Extract<
  ErrorCode,
  'HOOK_TIMEOUT' | 'HOOK_FAILED' | 'HOOK_BLOCKED' | 'HOOK_INVALID_OUTPUT' | 'HOOK_OUTPUT_TOO_LARGE'
>;

/** What a `HookError` knows about the run that failed, besides its code and message. */
export interface HookErrorDetails {
  /** The hook's name. */
  hook: string;
  /** A command hook's exit code, when it exited. */
  exitCode?: number;
  /** The signal that ended a command hook's process, when one did. */
  signal?: string;
  /** A command hook's stderr (capped, see `docs/hooks.md`). */
  stderr?: string;
  /** Why the output is not a `HookResult` (`HOOK_INVALID_OUTPUT` from schema validation). */
  issues?: ReadonlyArray<EventIssue>;
  cause?: unknown;
}

/**
 * Why a hook run did not give a result: it timed out, failed, blocked, or wrote output that is not a
 * `HookResult`. Hook runners never throw it at the caller: it is recorded in the run's step (and its
 * `hook.failed` / `hook.timed_out` event). A function hook may throw one with code `HOOK_BLOCKED`
 * to block.
 */
export class HookError extends VibespecError {
  override readonly name = 'HookError';
  declare readonly code: HookErrorCode;
  readonly hook: string;
  readonly exitCode?: number;
  readonly signal?: string;
  readonly stderr?: string;
  readonly issues?: ReadonlyArray<EventIssue>;

  constructor(code: HookErrorCode, message: string, details: HookErrorDetails) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.hook = details.hook;
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
    if (details.signal !== undefined) this.signal = details.signal;
    if (details.stderr !== undefined) this.stderr = details.stderr;
    if (details.issues !== undefined) this.issues = details.issues;
  }
}

/** At most this many characters of a value are shown after "got" in a message. */
const SHOWN_LENGTH = 200;

/**
 * @internal `textOf`, cut to its first 200 characters (and its length) when longer: for "…, got X" in a
 * message, where X is what the caller passed: a 1.6 MB string given where an iterable was expected must
 * not make a 1.6 MB message. A string is shown between single quotes, so that `'5'` given for a number
 * does not read as the number 5, nor `''` as nothing; an array between brackets, its strings quoted, so
 * that `['db']` given for a path does not read as the string `db`; an object whose text is only its tag
 * (`[object Object]`, `[object Map]`) by its fields, `{ within: 10 }` (or `Name { … }` for a class
 * instance), a `Map` or a `Set` by its size: what was passed, not its tag.
 */
export function shownText(value: unknown): string {
  const items = arrayOrUndefined(value);
  if (items !== undefined) return shownArray(items);
  const quote = typeof value === 'string' ? "'" : '';
  const text = textOf(value);
  if (typeof value === 'object' && value !== null && TAG.test(text)) {
    const fields = shownObject(value);
    if (fields !== undefined) return fields;
  }
  return cutText(text, quote, quote, `${text.length.toLocaleString('en-US')} characters`);
}

/** The text `Object.prototype.toString` gives, which says nothing of what an object holds. */
const TAG = /^\[object [^\]]*\]$/;

/** An item of an array or a field of an object: a string quoted, an array `[…]`, a tagged object `{…}`. */
function shownItem(item: unknown): string {
  if (typeof item === 'string') return `'${item}'`;
  if (arrayOrUndefined(item)) return '[…]';
  const text = textOf(item);
  return typeof item === 'object' && item !== null && TAG.test(text) ? '{…}' : text;
}

/**
 * `{ a: 1, b: 'x' }` (its own enumerable string keys, no recursion: an object inside is `{…}`), prefixed
 * by its class's name when it has one other than `Object`; `a Map (2 entries)`, `a Set (1 item)`; cut as
 * `shownArray` cuts. Undefined when reading it throws (a proxy, a getter): the caller shows its tag then.
 */
function shownObject(value: object): string | undefined {
  try {
    if (value instanceof Map) return `a Map (${plural(value.size, 'entry', 'entries')})`;
    if (value instanceof Set) return `a Set (${plural(value.size, 'item', 'items')})`;
    const keys = Object.keys(value);
    let text = '';
    for (let i = 0; i < keys.length && text.length <= SHOWN_LENGTH; i++) {
      if (i > 0) text += ', ';
      text += `${keys[i]}: ${shownItem((value as Record<string, unknown>)[keys[i]!])}`;
    }
    const prototype: unknown = Object.getPrototypeOf(value);
    const name =
      prototype === null || prototype === Object.prototype
        ? ''
        : (prototype as { constructor?: { name?: unknown } }).constructor?.name;
    const prefix = typeof name === 'string' && name !== '' && name !== 'Object' ? `${shortName(name)} ` : '';
    if (keys.length === 0) return `${prefix}{}`;
    return prefix + cutText(text, '{ ', ' }', plural(keys.length, 'field', 'fields'));
  } catch {
    return undefined;
  }
}

/** At most this many characters of a class's name are shown before its fields. */
const NAME_LENGTH = 60;

/**
 * A class's name, cut (`Name…`) when longer than `NAME_LENGTH`: a name is any string (`static name =
 * …`, a getter), and the message must stay short whatever it is.
 */
function shortName(name: string): string {
  if (name.length <= NAME_LENGTH) return name;
  // Not between the two halves of a surrogate pair.
  const code = name.charCodeAt(NAME_LENGTH - 1);
  return `${name.slice(0, code >= 0xd800 && code <= 0xdbff ? NAME_LENGTH - 1 : NAME_LENGTH)}…`;
}

function plural(count: number, one: string, many: string): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}

/** `value` when it is an array; undefined when not, or when asking throws (a revoked proxy). */
function arrayOrUndefined(value: unknown): readonly unknown[] | undefined {
  try {
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `['a', 1, […]]`: its items until the text is long enough to be cut, a string quoted, an array inside
 * as `[…]` (no recursion: an array may hold itself); cut, with its number of items, when longer.
 */
function shownArray(items: readonly unknown[]): string {
  let text = '';
  let length = 0;
  try {
    length = items.length;
    for (let i = 0; i < length && text.length <= SHOWN_LENGTH; i++) {
      const item = items[i];
      if (i > 0) text += ', ';
      text += shownItem(item);
    }
  } catch {
    // Reading the array threw (a proxy's getter): shown as far as it was read.
    text += '…';
  }
  return cutText(text, '[', ']', `${length.toLocaleString('en-US')} ${length === 1 ? 'item' : 'items'}`);
}

/** `text` between `open` and `close`, or its first 200 characters and then its size when longer. */
function cutText(text: string, open: string, close: string, size: string): string {
  if (text.length <= SHOWN_LENGTH) return `${open}${text}${close}`;
  // Not between the two halves of a surrogate pair.
  const code = text.charCodeAt(SHOWN_LENGTH - 1);
  const cut = code >= 0xd800 && code <= 0xdbff ? SHOWN_LENGTH - 1 : SHOWN_LENGTH;
  return `${open}${text.slice(0, cut)}…${close} (${size})`;
}

/**
 * @internal A value as text for a message, never throwing: an `Error`'s message, else `String(value)`;
 * failing that (a null-prototype object, a `toString` that throws) `Object.prototype.toString`'s tag,
 * or a fixed placeholder. For the values a caller passed that are not what was expected (a bad option,
 * a thrown value): `${value}` in a template throws on a Symbol or a null-prototype object, and a
 * `TypeError` would hide the `ConfigError` the caller should get.
 */
export function textOf(value: unknown): string {
  try {
    return value instanceof Error ? String(value.message) : String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      // A revoked proxy, or a Symbol.toStringTag getter that throws.
      return '(a value that cannot be converted to a string)';
    }
  }
}

/**
 * @internal Throws a `ConfigError` when `options`, an options object, has an own key not in `known`:
 * a mistyped option (`windowMS`, `dir`) would otherwise be ignored without a word and its default used.
 * The message names `where` (the function), the unknown key, the known ones, and the nearest known
 * name when one is close (the same but for case, or at most 2 edits away). A key whose value is
 * `undefined` counts too (TypeScript allows `undefined` for known keys only). Does nothing when
 * `options` is not an object: the callers check that themselves, with their own message. Where the
 * options are read: at construction, never per event (`toEvents`, which takes options at each call,
 * checks them at each call that passes some).
 */
export function rejectUnknownKeys(
  where: string,
  options: unknown,
  known: readonly string[],
  what = 'option',
): void {
  if (typeof options !== 'object' || options === null) return;
  // A Map or a Set has no own fields: its entries would be ignored, without a word.
  if (options instanceof Map || options instanceof Set) {
    throw new ConfigError(
      `${where}: the ${what}s must be an object, got a ${options instanceof Map ? 'Map' : 'Set'}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = nearestName(key, known);
    throw new ConfigError(
      `${where}: unknown ${what} "${key}"${near === undefined ? '' : ` (did you mean "${near}"?)`}; known: ${known.join(', ')}`,
    );
  }
}

/**
 * @internal The check of a function's options object: it must be an object (absent is fine unless
 * `required`), and every key in it known (`rejectUnknownKeys`). Throws a `ConfigError` naming `where`.
 */
export function checkOptions(
  where: string,
  options: unknown,
  known: readonly string[],
  required = false,
): void {
  if ((options !== undefined || required) && !isRecord(options)) {
    throw new ConfigError(`${where}: the options must be an object, got ${shownText(options)}`);
  }
  rejectUnknownKeys(where, options, known);
}

/**
 * @internal The library's rule for `null`: an option left out, or `undefined`, takes its default; `null`
 * is no value of any option and is refused, as a value of the wrong type is. Throws a `ConfigError`
 * naming `where` and the first of `keys` whose value in `options` is `null`: for the options whose checks
 * would otherwise read it as absent (`options.policy ?? seedPolicy()`) and use the default without a word.
 */
export function refuseNull(where: string, options: unknown, keys: readonly string[]): void {
  if (!isRecord(options)) return;
  for (const key of keys) {
    if (options[key] === null) {
      throw new ConfigError(
        `${where}: ${key} must not be null (leave it out, or undefined, for its default), got null`,
      );
    }
  }
}

/**
 * @internal The fields `keys` of an options object, each read once, in a plain object (a field absent
 * from `value` stays absent; one it inherits is read too), or `value` itself when it is no object of
 * fields (which its checks refuse). Read before the checks, and used after them: a getter runs once, and
 * one that gives another value at each read cannot give the checks one value and the function another.
 */
export function readFields<T>(value: T, keys: readonly string[]): T {
  if (!isRecord(value)) return value;
  const read: Record<string, unknown> = {};
  for (const key of keys) if (key in value) read[key] = value[key];
  return read as T;
}

/** @internal The known name closest to `key`: one equal but for case, else one at most 2 edits away. */
export function nearestName(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameCase = known.find((name) => name.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of known) {
    const distance = editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance (insertions, deletions, substitutions); short option names only. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * @internal The keys of an options type `T`, as a list for `rejectUnknownKeys`, from a record naming
 * each once: the compiler refuses a record that misses a key of `T` or names one `T` does not have, so
 * the list cannot drift from the interface (inherited keys included).
 */
export function optionKeys<T>(keys: Record<keyof T & string, true>): readonly string[] {
  return Object.freeze(Object.keys(keys));
}
