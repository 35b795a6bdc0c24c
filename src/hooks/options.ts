/**
 * Internal: checking hooks and run options at construction (a bad option throws `ConfigError` at once,
 * not on the first run) and resolving each hook's effective settings.
 */
import { types } from 'node:util';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { ConfigError, optionKeys, rejectUnknownKeys, shownText } from '../errors.js';
import { isFieldRecord } from '../streams/payload.js';
import type { CommandHook, ErrorPolicy, Hook, HookContext, HookRunOptions } from './types.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1_048_576;
export const DEFAULT_MAX_QUEUED = 10_000;

/** The keys of `HookRunOptions` (`runHook`, `runHookChain`; the others add theirs). */
export const RUN_OPTION_KEYS = optionKeys<HookRunOptions>({
  scheduler: true,
  timeoutMs: true,
  errorPolicy: true,
  maxOutputBytes: true,
  sessionId: true,
});

/**
 * The keys of a `CommandHook`. A function hook's are not checked: it may be a class instance, with
 * fields of its own beside its `run` method.
 */
export const COMMAND_HOOK_KEYS = optionKeys<CommandHook>({
  name: true,
  timeoutMs: true,
  errorPolicy: true,
  command: true,
  args: true,
  env: true,
  cwd: true,
  shell: true,
  maxOutputBytes: true,
});

/** The run's defaults, checked and filled in. */
export interface RunDefaults {
  readonly scheduler: SchedulerLike;
  readonly timeoutMs: number;
  readonly errorPolicy: ErrorPolicy;
  readonly maxOutputBytes: number;
  readonly sessionId: string | undefined;
}

export function isCommandHook(hook: Hook): hook is CommandHook {
  return typeof (hook as CommandHook).command === 'string';
}

function checkTimeout(where: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new ConfigError(
      `${where}: timeoutMs must be a positive number of ms (or Infinity), got ${shownText(value)}`,
    );
  }
}

function checkPolicy(where: string, value: unknown): void {
  if (value !== undefined && value !== 'fail-open' && value !== 'fail-closed') {
    throw new ConfigError(
      `${where}: errorPolicy must be 'fail-open' or 'fail-closed', got ${shownText(value)}`,
    );
  }
}

function checkBytes(where: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)) {
    throw new ConfigError(`${where}: maxOutputBytes must be a positive integer, got ${shownText(value)}`);
  }
}

/** Checks `options` and fills in the defaults. */
export function runDefaults(where: string, options: HookRunOptions | undefined): RunDefaults {
  checkTimeout(where, options?.timeoutMs);
  checkPolicy(where, options?.errorPolicy);
  checkBytes(where, options?.maxOutputBytes);
  const sessionId = options?.sessionId;
  if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId.length === 0)) {
    throw new ConfigError(`${where}: sessionId must be a non-empty string`);
  }
  return {
    scheduler: options?.scheduler ?? asyncScheduler,
    timeoutMs: options?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    errorPolicy: options?.errorPolicy ?? 'fail-closed',
    maxOutputBytes: options?.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    sessionId,
  };
}

/**
 * Checks one hook's shape; throws `ConfigError` naming the hook and what is wrong. `name`, when
 * given, stands for the hook's own (a resolver's hooks are renamed, so they need none). `fieldsLabel`, when
 * given, is what the messages of its fields begin with instead of `where: hook "name"`: options checked
 * as a hook's fields (`hookDirectory`'s) are said as options (`hookDirectory: timeoutMs must be…`).
 */
export function checkHook(
  where: string,
  hook: unknown,
  index: number,
  name?: string,
  fieldsLabel?: string,
): asserts hook is Hook {
  if (typeof hook !== 'object' || hook === null) {
    throw new ConfigError(
      `${where}: hook #${index} must be an object, got ${hook === null ? 'null' : typeof hook}`,
    );
  }
  const h = hook as Record<string, unknown>;
  const hookName = name ?? h.name;
  if (typeof hookName !== 'string' || hookName.length === 0) {
    throw new ConfigError(`${where}: hook #${index} needs a non-empty string name`);
  }
  checkVisible(where, hookName, `hook #${index}'s name`);
  const label = fieldsLabel ?? `${where}: hook "${hookName}"`;
  const isFunction = typeof h.run === 'function';
  const isCommand = h.command !== undefined;
  if (isFunction === isCommand) {
    throw new ConfigError(
      `${label} must have either a run function or a command, not ${isFunction ? 'both' : 'neither'}`,
    );
  }
  if (isCommand) {
    if (typeof h.command !== 'string' || h.command.length === 0) {
      throw new ConfigError(`${label}: command must be a non-empty string`);
    }
    if (h.args !== undefined && (!Array.isArray(h.args) || !h.args.every((arg) => typeof arg === 'string'))) {
      throw new ConfigError(`${label}: args must be an array of strings`);
    }
    if (
      h.env !== undefined &&
      // Spread into the environment, an array (['A=1']) would set "0", a Map or a Set nothing at all.
      (!isFieldRecord(h.env) || !Object.values(h.env).every((v) => typeof v === 'string'))
    ) {
      throw new ConfigError(
        `${label}: env must be a record of strings (an object, not an array, a Map or a Set)`,
      );
    }
    // An empty cwd or shell would not be an error at spawn: Node would ignore it, running the hook in
    // the parent's directory, or without a shell (its command line then taken for a program's name).
    if (h.cwd !== undefined && (typeof h.cwd !== 'string' || h.cwd.length === 0))
      throw new ConfigError(`${label}: cwd must be a non-empty string`);
    if (
      h.shell !== undefined &&
      typeof h.shell !== 'boolean' &&
      (typeof h.shell !== 'string' || h.shell.length === 0)
    ) {
      throw new ConfigError(`${label}: shell must be a boolean or a shell's path (a non-empty string)`);
    }
    checkBytes(label, h.maxOutputBytes);
    rejectUnknownKeys(label, h, COMMAND_HOOK_KEYS, 'field');
  }
  checkTimeout(label, h.timeoutMs);
  checkPolicy(label, h.errorPolicy);
}

/** Checks a list of hooks; `unique` also requires distinct names (aggregations key results by name). */
export function checkHooks(where: string, hooks: unknown, unique: boolean): readonly Hook[] {
  if (!Array.isArray(hooks)) throw new ConfigError(`${where}: hooks must be an array`);
  const names = new Set<string>();
  // By index, not forEach: forEach skips the holes of a sparse array (`[lint, , test]`), which then ran
  // as undefined hooks and errored the run with a TypeError instead of failing here.
  for (let index = 0; index < hooks.length; index++) {
    const hook: unknown = hooks[index];
    checkHook(where, hook, index);
    if (unique && names.has(hook.name)) {
      throw new ConfigError(`${where}: two hooks are named "${hook.name}"; names must be unique`);
    }
    names.add(hook.name);
  }
  // A copy, so that changing the caller's array later does not change runs already set up.
  return [...hooks];
}

/**
 * The context a run is given: `null` or `undefined` is the empty one, `{}`; any other object whose data
 * is its own fields is taken as it is (a plain object, a null-prototype one, a class instance). Anything
 * else (a string, a number, an array, a function) is a `ConfigError`: a function hook was given it spread
 * into an object (`'ab'` as `{ 0: 'a', 1: 'b' }`) and a command hook as its JSON (`"ab"`), two hooks of
 * one run seeing two contexts. So is a revoked proxy, which no hook can read (asking whether it is an
 * array threw a `TypeError`), and a built-in object whose data is in no own field (see `SLOTTED`):
 * every hook is given the context's own fields, so a `Map` or a `Date` reached it as `{}`, its entries
 * or its time lost without a word (a `WeakRef`, an iterator or a generator object too), and `new String('ab')` or a `Uint8Array` as the index fields an
 * array is refused for. Nothing of the context's runs: no iterator is advanced, no proxy trap is run (a
 * proxy is taken as its traps will show it to the hooks, whatever its target).
 */
export function checkContext(where: string, context: unknown): HookContext {
  if (context === undefined || context === null) return {};
  if (typeof context !== 'object' || isArrayOrRevoked(context)) {
    throw new ConfigError(
      `${where}: the context must be an object (or null or undefined, read as {}), got ${shownText(context)}`,
    );
  }
  const kind = slottedKind(context);
  if (kind !== undefined) {
    throw new ConfigError(
      `${where}: the context must be an object whose data is in its own fields (a plain object, a class ` +
        `instance), not ${kind}: a hook is given the context's own fields and would see none of its data`,
    );
  }
  return context as HookContext;
}

/**
 * The built-in objects (and instances of classes extending them) whose data is in internal slots, not in
 * own fields, or (an arguments object) in index fields, as an array's is. Brand checks: a
 * `Symbol.toStringTag` cannot fool them, and no proxy is one.
 */
const SLOTTED: ReadonlyArray<readonly [(value: object) => boolean, string]> = [
  [types.isStringObject, 'a String object'],
  [types.isNumberObject, 'a Number object'],
  [types.isBooleanObject, 'a Boolean object'],
  [types.isSymbolObject, 'a Symbol object'],
  [types.isBigIntObject, 'a BigInt object'],
  [types.isArrayBuffer, 'an ArrayBuffer'],
  [types.isSharedArrayBuffer, 'a SharedArrayBuffer'],
  [types.isTypedArray, 'a typed array'],
  [types.isDataView, 'a DataView'],
  [types.isArgumentsObject, 'an arguments object'],
  [types.isMap, 'a Map'],
  [types.isSet, 'a Set'],
  [types.isWeakMap, 'a WeakMap'],
  [types.isWeakSet, 'a WeakSet'],
  [types.isDate, 'a Date'],
  [types.isRegExp, 'a RegExp'],
  [types.isPromise, 'a Promise'],
  [types.isMapIterator, 'a Map iterator'],
  [types.isSetIterator, 'a Set iterator'],
  [types.isGeneratorObject, 'a generator object'],
];

/**
 * Brand checks `node:util` has none for: each method throws a `TypeError` for any other receiver. A throw
 * costs tens of µs (its stack is captured), so `slottedKind` runs one only for an object with the kind's
 * prototype in its chain: a plain object or a class instance pays none.
 */
function isWeakRef(value: object): boolean {
  return returns(() => WeakRef.prototype.deref.call(value));
}

function isFinalizationRegistry(value: object): boolean {
  // A fresh token was never registered: nothing is unregistered.
  return returns(() => FinalizationRegistry.prototype.unregister.call(value, {}));
}

/** Whether `check` returns rather than throws. */
function returns(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

const SEGMENTS_CONTAINING = segmentsContaining();

function segmentsContaining(): ((this: object, index: number) => unknown) | undefined {
  if (typeof Intl.Segmenter !== 'function') return undefined;
  const segments = new Intl.Segmenter().segment('');
  return (Object.getPrototypeOf(segments) as { containing: (this: object, index: number) => unknown })
    .containing;
}

/** `containing` reads the segments' own string (in a slot), or throws for another receiver. */
function isSegments(value: object): boolean {
  const containing = SEGMENTS_CONTAINING;
  return containing !== undefined && returns(() => containing.call(value, 0));
}

/**
 * The prototypes of the built-in iterators that have no brand check but their `next`, which advances
 * them (and reads the array or string they walk: a proxy's traps ran): each is told by its prototype,
 * taken here once. Map and Set iterators and generator objects have brand checks (`SLOTTED`). The
 * iterator helpers and `Iterator.from`'s wrappers are there only where the runtime has them (Node 22).
 */
const ITERATOR_KINDS: ReadonlyMap<object, string> = new Map(
  (
    [
      [() => [][Symbol.iterator](), 'an Array iterator'],
      [() => ''[Symbol.iterator](), 'a String iterator'],
      [() => ''.matchAll(/(?:)/g), 'a RegExp String iterator'],
      [() => new Intl.Segmenter().segment('')[Symbol.iterator](), 'a Segmenter iterator'],
      [
        () => iteratorGlobal()?.prototype.map.call([][Symbol.iterator](), (x: unknown) => x),
        'an iterator helper',
      ],
      [
        () => iteratorGlobal()?.from({ next: () => ({ done: true, value: undefined }) }),
        'an Iterator.from wrapper',
      ],
    ] as const
  ).flatMap(([make, kind]): Array<[object, string]> => {
    try {
      const made: unknown = make();
      return typeof made === 'object' && made !== null ? [[Object.getPrototypeOf(made) as object, kind]] : [];
    } catch {
      return []; // not in this runtime
    }
  }),
);

interface IteratorGlobal {
  readonly prototype: { readonly map: (this: object, mapper: (x: unknown) => unknown) => object };
  readonly from: (iterator: object) => object;
}

function iteratorGlobal(): IteratorGlobal | undefined {
  const global = (globalThis as { Iterator?: IteratorGlobal }).Iterator;
  return typeof global?.prototype?.map === 'function' && typeof global.from === 'function'
    ? global
    : undefined;
}

/**
 * What `value` is when it is one of `SLOTTED`, or a built-in iterator of `ITERATOR_KINDS` (its prototype
 * is one of theirs: an object made with `Object.create` from one is refused as one, as nothing tells it
 * apart without advancing the iterator); `undefined` for any other object. Nothing user-visible runs: the
 * brand checks run no code of the value's, and a proxy's prototype is not asked (that would run its
 * `getPrototypeOf` trap, which a hook's reading never does).
 */
function slottedKind(value: object): string | undefined {
  const kind = SLOTTED.find(([is]) => is(value))?.[1];
  if (kind !== undefined || types.isProxy(value)) return kind;
  const prototype = Object.getPrototypeOf(value) as object | null;
  return (
    (prototype === null ? undefined : ITERATOR_KINDS.get(prototype)) ?? thrownBrandKind(value, prototype)
  );
}

/** The kinds told by a throwing brand check, each with its prototype (`undefined`: not in this runtime). */
type ThrownBrand = readonly [prototype: object | undefined, is: (value: object) => boolean, kind: string];

const THROWN_BRANDS: ReadonlyArray<ThrownBrand> = [
  [WeakRef.prototype, isWeakRef, 'a WeakRef'],
  [FinalizationRegistry.prototype, isFinalizationRegistry, 'a FinalizationRegistry'],
  [
    SEGMENTS_CONTAINING === undefined ? undefined : segmentsPrototype(),
    isSegments,
    "an Intl.Segmenter's segments",
  ],
];

function segmentsPrototype(): object {
  return Object.getPrototypeOf(new Intl.Segmenter().segment('')) as object;
}

/**
 * `value`'s kind among `THROWN_BRANDS`, checked only for the kinds whose prototype is in its chain (all of
 * them when a proxy is in the chain: asking a proxy for its prototype would run its trap). One of these
 * objects given another prototype with `Object.setPrototypeOf` is taken as its own fields.
 */
function thrownBrandKind(value: object, prototype: object | null): string | undefined {
  let candidates: ThrownBrand[] = [];
  for (let p = prototype; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    if (types.isProxy(p)) {
      candidates = [...THROWN_BRANDS];
      break;
    }
    const brand = THROWN_BRANDS.find(([proto]) => proto === p);
    if (brand !== undefined) candidates.push(brand);
  }
  return candidates.find(([, is]) => is(value))?.[2];
}

/** Whether `value` is an array, or a revoked proxy (asking throws a `TypeError`; no hook could read it). */
function isArrayOrRevoked(value: object): boolean {
  try {
    return Array.isArray(value);
  } catch {
    return true;
  }
}

/**
 * For the operators (`chainHooks`, `aggregateHooks`): the context as it came, once `checkContext` has
 * found it to be one; a throw in the source's `map` ends the input as a source's error does.
 */
export function contextChecked<C>(where: string): (context: C) => C {
  return (context) => {
    checkContext(where, context);
    return context;
  };
}

export function checkName(where: string, name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ConfigError(`${where}: ${what} must be a non-empty string`);
  }
  checkVisible(where, name, what);
  return name;
}

/**
 * Characters a name may not hold: controls (a newline, a tab, DEL), line and paragraph separators,
 * format characters and the other default-ignorable ones (a zero-width space U+200B, a word joiner
 * U+2060, a soft hyphen, bidi marks and overrides, a byte-order mark, a Hangul filler), and lone
 * surrogates. Each shows as nothing, or moves the text around it, so `rejected\u200b` reads as
 * `rejected`, and `lint` and `lint\u2060` as one hook, in messages, events and results.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;

/** The joiner, variation selectors and tags of an emoji sequence: they show as part of their emoji. */
const EMOJI_PART = /^[\u200d\ufe0e\ufe0f\u{e0020}-\u{e007f}]$/u;
/** A grapheme that is an emoji: a pictograph's (👨‍👩‍👧, ❤️, 🏴 with tags), or a keycap (1️⃣). */
const EMOJI = /\p{Extended_Pictographic}|^[0-9#*]\ufe0f\u20e3$/u;
const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

// Letters of the scripts whose letters join (Arabic, Syriac, N'Ko, Mongolian, …), between which a zero-width
// non-joiner shows: می‌خواهم (Persian), کتاب‌ها, نہ‌یں (Urdu) are not میخواهم, کتابها, نہیں.
const JOINING_LETTER =
  /^[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Mongolian}\p{Script=Mandaic}\p{Script=Manichaean}\p{Script=Psalter_Pahlavi}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Sogdian}\p{Script=Old_Uyghur}\p{Script=Phags_Pa}]$/u;
// Of those, the letters that join none (hamza ء) or only the letter before them (ا د ذ ر ز و ژ ە ۀ ے, Syriac's
// ܐ ܕ ܗ ܘ ܙ ܨ ܪ ܬ): a non-joiner after one of them shows nothing (ا‌ب reads as اب).
const NOT_JOINING_AFTER =
  /^[\u0621-\u0625\u0627\u0629\u062f-\u0632\u0648\u0671-\u0677\u0688-\u0699\u06c0\u06c3-\u06cb\u06cd\u06cf\u06d2-\u06d5\u06ee\u06ef\u0710\u0715-\u0719\u071e\u0728\u072a\u072c\u072f\u074d\u0759-\u075b\u076b\u076c\u0771\u0773\u0774\u0778\u0779]$/u;
const NOT_JOINING_BEFORE = /^[\u0621\u0674]$/u;
// The viramas (a conjunct's halant) of the Indic scripts and their kin, after which a joiner or a non-joiner
// shows: क्‍ष (a half form), क्‌ष (the virama shown), ന്‍ (Malayalam's chillu), ශ්‍ය (Sinhala's yansaya).
const VIRAMA =
  /^[\u094d\u09cd\u0a4d\u0acd\u0b4d\u0bcd\u0c4d\u0ccd\u0d3b\u0d3c\u0d4d\u0dca\u0e3a\u0f84\u1039\u103a\u1714\u1715\u1734\u17d2\u1a60\u1b44\u1baa\u1bab\u1bf2\u1bf3\ua806\ua82c\ua8c4\ua953\ua9c0\uaaf6\uabed\u{10a3f}\u{11046}\u{11070}\u{1107f}\u{110b9}\u{11133}\u{11134}\u{111c0}\u{11235}\u{112ea}\u{1134d}\u{11442}\u{114c2}\u{115bf}\u{1163f}\u{116b6}\u{1172b}\u{11839}\u{1193d}\u{1193e}\u{119e0}\u{11a34}\u{11a47}\u{11a99}\u{11c3f}\u{11d44}\u{11d45}\u{11d97}]$/u;
// The scripts of those viramas: a joiner beside one shows only after a letter of its script (a Latin `l`
// before `\u094d\u200d` is no conjunct).
const VIRAMA_SCRIPTS = [
  'Devanagari Bengali Gurmukhi Gujarati Oriya Tamil Telugu Kannada Malayalam Sinhala Thai Tibetan Myanmar',
  'Tagalog Hanunoo Khmer Tai_Tham Balinese Sundanese Batak Syloti_Nagri Saurashtra Rejang Javanese',
  'Meetei_Mayek Kharoshthi Brahmi Kaithi Chakma Sharada Khojki Khudawadi Grantha Newa Tirhuta Siddham Modi',
  'Takri Ahom Dogra Dives_Akuru Nandinagari Zanabazar_Square Soyombo Bhaiksuki Masaram_Gondi Gunjala_Gondi',
]
  .join(' ')
  .split(' ')
  .map((script) => new RegExp(`^\\p{Script_Extensions=${script}}$`, 'u'));
/** Whether `letter` is a letter of the script of the virama `virama`. */
function conjunct(letter: string, virama: string): boolean {
  return LETTER.test(letter) && VIRAMA_SCRIPTS.some((script) => script.test(virama) && script.test(letter));
}
const MARK = /^\p{M}$/u;
const LETTER = /^\p{L}$/u;
const MONGOLIAN_LETTER = /^[\u1820-\u1878\u1880-\u18aa]$/u;
const MONGOLIAN_SELECTOR = /^[\u180b-\u180d\u180f]$/u;
const IDEOGRAPH_SELECTOR = /^[\u{e0100}-\u{e01ef}]$/u;
const IDEOGRAPH = /^\p{Ideographic}$/u;

/**
 * Whether the hidden character at `i` of `chars` changes how the letters around it show, as UAX #31 (2.3)
 * has it for identifiers, so the name reads as no other: a non-joiner between two joining letters (Persian's
 * می‌خواهم), a joiner or non-joiner after a virama (क्‍ष, ന്‍) or a joiner before one (Bengali's র‍্য), a
 * Mongolian free variation selector or vowel separator after a Mongolian letter, an ideographic variation
 * selector after an ideograph (葛󠄀). Elsewhere (lint\u200c, ا\u200cب) it shows nothing.
 */
function shapes(chars: readonly string[], i: number): boolean {
  const char = chars[i]!;
  let before = i - 1;
  while (before >= 0 && MARK.test(chars[before]!) && !VIRAMA.test(chars[before]!)) before--;
  let after = i + 1;
  while (after < chars.length && MARK.test(chars[after]!)) after++;
  const previous = chars[before] ?? '';
  const next = chars[after] ?? '';
  if (char === '\u200c' || char === '\u200d') {
    const virama = chars[i - 1] ?? '';
    if (VIRAMA.test(virama) && conjunct(chars[i - 2] ?? '', virama)) return true;
    if (char === '\u200d')
      return VIRAMA.test(chars[i + 1] ?? '') && conjunct(chars[i - 1] ?? '', chars[i + 1]!);
    return (
      JOINING_LETTER.test(previous) &&
      LETTER.test(previous) &&
      !NOT_JOINING_AFTER.test(previous) &&
      JOINING_LETTER.test(next) &&
      LETTER.test(next) &&
      !NOT_JOINING_BEFORE.test(next)
    );
  }
  if (MONGOLIAN_SELECTOR.test(char)) return MONGOLIAN_LETTER.test(chars[i - 1] ?? '');
  if (char === '\u180e') return MONGOLIAN_LETTER.test(previous) && MONGOLIAN_LETTER.test(next);
  if (IDEOGRAPH_SELECTOR.test(char)) return IDEOGRAPH.test(chars[i - 1] ?? '');
  return false;
}

export interface Hidden {
  /** The first hidden character: what it is, and its code point (`200B`). */
  readonly what: string;
  readonly code: string;
  /** The name with each hidden character written as its code point (`rejected\u{200B}`). */
  readonly escaped: string;
  /** The name as it shows, its hidden characters left out (`rejected`). */
  readonly shown: string;
}

/**
 * The characters of `name` that show as nothing; `undefined` when it has none. The bridge writes an
 * unknown hook's type by it (`hook.rejected\u200b` would pass for `hook.rejected`), as `checkVisible` refuses.
 */
export function hiddenIn(name: string): Hidden | undefined {
  if (!HIDDEN.test(name)) return undefined;
  let first: string | undefined;
  let escaped = '';
  let shown = '';
  // By grapheme: 👨‍👩‍👧's joiners and ❤️'s selector are part of what shows; lint\u200d's are not.
  const chars: string[] = [];
  const inEmoji: boolean[] = [];
  for (const { segment } of GRAPHEMES.segment(name)) {
    const emoji = EMOJI.test(segment);
    for (const char of segment) {
      chars.push(char);
      inEmoji.push(emoji);
    }
  }
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i]!;
    if (!HIDDEN.test(char) || (inEmoji[i] && EMOJI_PART.test(char)) || shapes(chars, i)) {
      escaped += char;
      shown += char;
    } else {
      first ??= char;
      escaped += `\\u{${codePoint(char)}}`;
    }
  }
  if (first === undefined) return undefined;
  const what = /\p{Cs}/u.test(first)
    ? 'a lone surrogate'
    : /[\p{Cc}\p{Zl}\p{Zp}]/u.test(first)
      ? 'a control character'
      : 'an invisible character';
  return { what, code: codePoint(first), escaped, shown };
}

function codePoint(char: string): string {
  return (char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

/**
 * Throws `ConfigError` when `name` (a hook's, a chain's, an aggregation's) holds a character that shows
 * as nothing (see `HIDDEN`): it would read as another name, a reserved one (`rejected\u200b`) or another
 * hook's (`lint\u2060` beside `lint`), in messages, events and the results keyed by it. An emoji's
 * joiners and selectors are part of it (`👨‍👩‍👧 review`, `❤️` are names).
 */
export function checkVisible(where: string, name: string, what: string): void {
  const hidden = hiddenIn(name);
  if (hidden === undefined) return;
  throw new ConfigError(
    `${where}: ${what} '${hidden.escaped}' has ${hidden.what} (U+${hidden.code}): it would read as ` +
      `'${hidden.shown}'; a name must be made of characters that show`,
  );
}

export function checkPositiveInteger(where: string, field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (
    value !== Number.POSITIVE_INFINITY &&
    (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
  ) {
    throw new ConfigError(
      `${where}: ${field} must be a positive integer (or Infinity), got ${shownText(value)}`,
    );
  }
  return value as number;
}

export function checkCount(where: string, field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (
    value !== Number.POSITIVE_INFINITY &&
    (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
  ) {
    throw new ConfigError(
      `${where}: ${field} must be a non-negative integer (or Infinity), got ${shownText(value)}`,
    );
  }
  return value as number;
}

export function checkDuration(where: string, field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new ConfigError(
      `${where}: ${field} must be a positive number of ms (or Infinity), got ${shownText(value)}`,
    );
  }
  return value;
}
