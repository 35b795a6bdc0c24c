/**
 * `pattern`: sequence patterns over event time — "a test edit, then a source edit, then a passing test
 * run, within 10 minutes, in the same session" — with optional steps, negation and observable timeouts.
 */
import { asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { checkOptions, optionKeys, readFields, rejectUnknownKeys } from '../errors.js';
import { createEvent, type Event, type NarrowedEvent, Priority } from '../event.js';
import {
  DueQueue,
  dataOf,
  isErrorShape,
  isRange,
  isSchedulerLike,
  type Queued,
} from './internal/eventTime.js';
import {
  type ConfigRules,
  clampTime,
  describeError,
  ErrorGate,
  evictLeastRecent,
  finiteTime,
  forEachThenThrow,
  LiveTimer,
  type Recency,
  reportThenPass,
  type SerialEngine,
  serializedOperator,
  validateConfig,
} from './internal/keyed.js';

// ---------------------------------------------------------------------------------------------------
// Public types

/**
 * Whether an event is the one a step waits for: only `true` is a match (not another truthy value).
 * Synchronous: a Promise (an `async` predicate) is reported as `pattern.error` and is no match.
 */
export type EventPredicate<T extends Event<object> = Event> = (event: T) => boolean;

/** A step that an event must match, in order after the previous one (other events may come between). */
export interface MatchStep<T extends Event<object> = Event> {
  /** Names the step in matches and timeouts. Default: the predicate's function name, else `step <n>`. */
  name?: string;
  match: EventPredicate<T>;
  /**
   * The step may be skipped. Not allowed for the last step, nor next to a `notFollowedBy`. A leading
   * optional step (before the first required one) keeps its event in the match while the match fits
   * in `within`; the deadline runs from the first required event.
   */
  optional?: boolean;
}

/**
 * A negation: no event matching `notFollowedBy` may occur between the step before it and the step
 * after it. As the last step, no such event may occur until the pattern's `within` has passed since
 * its first required event: the match is then emitted at that deadline.
 */
export interface NegatedStep<T extends Event<object> = Event> {
  name?: string;
  notFollowedBy: EventPredicate<T>;
}

/**
 * A step: a predicate (a required step), a `MatchStep` or a `NegatedStep`. `T`: the type of the events
 * `pattern` is given, which its predicates see (`Event` by default).
 */
export type PatternStep<T extends Event<object> = Event> = EventPredicate<T> | MatchStep<T> | NegatedStep<T>;

/** Options of `pattern`. */
export interface PatternOptions<T extends Event<object> = Event> {
  /** The whole match must fit in this many ms of event time, from its first event to its last. */
  within: number;
  /**
   * What events are matched together. Default `event.sessionId`. A number key is read as its string, so
   * `1` and `'1'` are one key (`data.key` is `'1'` for both: kept apart, they would be reported alike).
   * Events whose key is not a string or a number (no session, say) are matched together under the key
   * `null`.
   */
  key?: ((event: T) => unknown) | undefined;
  /** Names the pattern in its output events (`data.pattern`). Default `'pattern'`. */
  name?: string | undefined;
  /** Emit every input event besides the derived ones. Default `true`; `false` emits derived events only. */
  passThrough?: boolean | undefined;
  /** Emit `pattern.timeout` events for partial matches that expire. Default `true`. */
  timeouts?: boolean | undefined;
  /**
   * Keys with partial matches tracked at once. When full, a new key that starts a partial match (not
   * one whose event is a whole match at once) first drops those whose partial matches the newest
   * timestamp seen has already ended (as a sweep would: visiting only the keys whose earliest deadline
   * has passed, not the whole map), then the least recently active eighth is evicted. Default 10,000.
   */
  maxKeys?: number | undefined;
  /**
   * Also let the scheduler's clock expire partial matches while the input is silent (live input whose
   * timestamps come from that clock only; never for replays). Default `false`.
   */
  liveClock?: boolean | undefined;
  /** The clock of `liveClock`. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** `data` of a `pattern.matched` event. `T`: the type of the events `pattern` was given. */
export interface PatternMatchData<T extends Event<object> = Event> extends Record<string, unknown> {
  pattern: string;
  key: string | null;
  /** The matched events, in step order (a skipped optional step has none). */
  events: T[];
  /** The name of the step each event matched, parallel to `events`. */
  steps: string[];
  /** Event time of the first and last matched event. */
  window: { start: number; end: number };
}

/** Why a partial match was given up (`data.reason` of `pattern.timeout`). */
export type PatternTimeoutReason =
  /** `within` passed since its first required event (see `deadline`). */
  | 'timeout'
  /** The input completed or errored first. */
  | 'flushed'
  /** Its key was evicted to stay within `maxKeys` (its deadline not yet passed by the newest timestamp). */
  | 'evicted';

/** `data` of a `pattern.timeout` event: a partial match that did not complete. */
export interface PatternTimeoutData<T extends Event<object> = Event> extends Record<string, unknown> {
  pattern: string;
  key: string | null;
  /** The events matched so far, in step order. */
  events: T[];
  steps: string[];
  /**
   * The next required step it was waiting for: an optional step it was also waiting for is not named,
   * since the match could have completed without it. For a trailing `notFollowedBy`: that step's name
   * (with several trailing ones, the first: all of them are in `forbidden`).
   */
  expected: string;
  /**
   * Only for a partial match cut short (`flushed`, `evicted`) while it waited out the trailing
   * `notFollowedBy` steps: the names of all of them, in step order (the wait ends as a match at the
   * deadline if none of them occurs). Absent for a partial match waiting for a required step.
   */
  forbidden?: string[];
  window: { start: number; end: number };
  /**
   * Its first required event's time + `within` (while it has only leading optional events: its latest
   * one's). Without leading optional events, `window.start + within`.
   */
  deadline: number;
  reason: PatternTimeoutReason;
}

/** `data` of a `pattern.error` event: a predicate or the key function threw. */
export interface PatternErrorData extends Record<string, unknown> {
  pattern: string;
  /** The step whose predicate threw, or `null` for the key function. */
  step: string | null;
  error: { name: string; message: string; code?: string };
  trigger_event_id: string | null;
  /** Errors not reported since the previous report (at most one report per `within` of event time). */
  suppressed: number;
}

/** What `pattern` emits besides its input; `T`: the type of the events it was given. */
export type PatternEvent<T extends Event<object> = Event> =
  | Event<PatternMatchData<T>>
  | Event<PatternTimeoutData<T>>
  | Event<PatternErrorData>;

/** The fields every `pattern.matched` and `pattern.timeout` has: `pattern`, `key`, `events`, `steps`, `window`. */
function isRunData(data: Record<string, unknown>): boolean {
  return (
    typeof data.pattern === 'string' &&
    (data.key === null || typeof data.key === 'string') &&
    Array.isArray(data.events) &&
    Array.isArray(data.steps) &&
    isRange(data.window)
  );
}

/**
 * Whether `event` is a match of `pattern` (`pattern.matched`), narrowing its `data` to
 * `PatternMatchData`. Checks the shape too (`pattern`, `key`, `events`, `steps`, `window`), so an event of
 * another producer that only shares the name is not taken for one.
 *
 * ```ts
 * events$.pipe(pattern(steps, { within: 600_000 }), filter(isPatternMatch)).subscribe((m) => log(m.data.steps));
 * ```
 */
export function isPatternMatch<E extends Event<object> = Event>(
  event: E | Readonly<Event<PatternMatchData>>,
): event is NarrowedEvent<
  E,
  PatternMatchData,
  Event<PatternTimeoutData<Event<object>>>,
  PatternMatchData<Event<object>>
> {
  const data = dataOf(event);
  return data !== undefined && event.type === 'pattern.matched' && isRunData(data);
}

/**
 * Whether `event` is a partial match of `pattern` given up (`pattern.timeout`), narrowing its `data` to
 * `PatternTimeoutData`. Checks the shape too (those of a match, `expected`, `deadline`, `reason`).
 */
export function isPatternTimeout<E extends Event<object> = Event>(
  event: E | Readonly<Event<PatternTimeoutData>>,
): event is NarrowedEvent<E, PatternTimeoutData, never, PatternTimeoutData<Event<object>>> {
  const data = dataOf(event);
  return (
    data !== undefined &&
    event.type === 'pattern.timeout' &&
    isRunData(data) &&
    typeof data.expected === 'string' &&
    typeof data.deadline === 'number' &&
    (data.reason === 'timeout' || data.reason === 'flushed' || data.reason === 'evicted')
  );
}

/**
 * Whether `event` is a `pattern.error` of `pattern` (a predicate or the key function threw), narrowing
 * its `data` to `PatternErrorData`. Checks the shape too (`pattern`, `step`, `error`, `suppressed`).
 */
export function isPatternError<E extends Event<object> = Event>(
  event: E | Readonly<Event<PatternErrorData>>,
): event is NarrowedEvent<E, PatternErrorData> {
  const data = dataOf(event);
  return (
    data !== undefined &&
    event.type === 'pattern.error' &&
    typeof data.pattern === 'string' &&
    (data.step === null || typeof data.step === 'string') &&
    isErrorShape(data.error) &&
    typeof data.suppressed === 'number'
  );
}

// ---------------------------------------------------------------------------------------------------
// Configuration

const isFunction = (value: unknown) => typeof value === 'function';
const predicate = z.custom<EventPredicate>(isFunction, { message: 'expected a function (event) => boolean' });

const MatchStepSchema = z.strictObject({
  name: z.string().min(1).optional(),
  match: predicate,
  optional: z.boolean().optional(),
});
const NegatedStepSchema = z.strictObject({ name: z.string().min(1).optional(), notFollowedBy: predicate });

const negated = (step: unknown) => typeof step === 'object' && step !== null && 'notFollowedBy' in step;
const optional = (step: unknown) =>
  typeof step === 'object' && step !== null && (step as MatchStep).optional === true;

/**
 * A step is checked against the one shape it has the look of (a function; an object with
 * `notFollowedBy`; any other object, a `MatchStep`), not against a union of the three: a union's issue
 * is zod's bare "Invalid input", which names no field (a misspelt `optinal`, an empty `name`).
 */
const StepSchema = z.unknown().superRefine((step, ctx) => {
  if (typeof step === 'function') return;
  if (typeof step !== 'object' || step === null) {
    ctx.addIssue({
      code: 'custom',
      message:
        'expected a function (event) => boolean, { match, name?, optional? } or { notFollowedBy, name? }',
      continue: false,
    });
    return;
  }
  const result = (negated(step) ? NegatedStepSchema : MatchStepSchema).safeParse(step);
  if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ ...issue, continue: false });
});

const StepsSchema = z
  .array(StepSchema)
  .min(1)
  .superRefine((steps, ctx) => {
    if (negated(steps[0])) {
      ctx.addIssue({
        code: 'custom',
        path: [0],
        message: 'a pattern cannot start with notFollowedBy',
        params: { rule: true },
      });
    }
    const positives = steps.map((step, index) => ({ step, index })).filter(({ step }) => !negated(step));
    const last = positives.at(-1);
    if (last !== undefined && optional(last.step)) {
      ctx.addIssue({
        code: 'custom',
        path: [last.index],
        message: 'the last step cannot be optional',
        params: { rule: true },
      });
    }
    steps.forEach((step, index) => {
      if (!negated(step)) return;
      if (optional(steps[index - 1]) || optional(steps[index + 1])) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: 'notFollowedBy cannot be next to an optional step',
          params: { rule: true },
        });
      }
    });
  });

const OptionsSchema = z.strictObject({
  within: z.number().positive().finite(),
  key: z.custom<(event: Event) => unknown>(isFunction, { message: 'expected a function' }).optional(),
  name: z.string().min(1).optional(),
  passThrough: z.boolean().optional(),
  timeouts: z.boolean().optional(),
  maxKeys: z.number().int().positive().optional(),
  liveClock: z.boolean().optional(),
  scheduler: z
    .custom<SchedulerLike>(isSchedulerLike, {
      message: 'expected a SchedulerLike',
    })
    .optional(),
});

interface Positive {
  readonly name: string;
  readonly match: EventPredicate;
  readonly optional: boolean;
}

interface Negative {
  readonly name: string;
  readonly match: EventPredicate;
}

interface Config {
  readonly name: string;
  readonly within: number;
  readonly key: (event: Event) => unknown;
  /** The steps an event must match, in order. */
  readonly positives: readonly Positive[];
  /** The index of the first required step in `positives`: the steps before it are leading optional ones. */
  readonly firstRequired: number;
  /** `negatives[q]`: the negations active while waiting for `positives[q]` (`q = P`: trailing). */
  readonly negatives: ReadonlyArray<readonly Negative[]>;
  /** `expected[p]`: the `expected` of a partial match waiting at `positives[p]` that times out. */
  readonly expected: readonly string[];
  /** The names of the trailing negations (`forbidden` of a trailing wait cut short), in step order. */
  readonly forbidden: readonly string[];
  readonly trailing: boolean;
  readonly passThrough: boolean;
  readonly timeouts: boolean;
  readonly maxKeys: number;
  readonly sweepEveryMs: number;
  readonly liveClock: boolean;
  readonly scheduler: SchedulerLike;
}

const defaultKey = (event: Event): unknown => event.sessionId;

const MATCH_STEP_KEYS = optionKeys<MatchStep>({ name: true, match: true, optional: true });
const NEGATED_STEP_KEYS = optionKeys<NegatedStep>({ name: true, notFollowedBy: true });

const OPTION_KEYS = optionKeys<PatternOptions>({
  within: true,
  key: true,
  name: true,
  passThrough: true,
  timeouts: true,
  maxKeys: true,
  liveClock: true,
  scheduler: true,
});

/** What each field must be, in the messages (as the schemas above check it). */
const STEP_RULES: ConfigRules = {
  argument: 'steps',
  position: 'the first argument',
  expected: 'a non-empty array of steps',
  item: 'a function (event) => boolean, { match, name?, optional? } or { notFollowedBy, name? }',
  misplaced:
    'the first argument is the steps (an array, one step too: [step]); the options ({ within }) go second',
  fields: {
    name: 'a non-empty string',
    match: 'a function (event) => boolean',
    notFollowedBy: 'a function (event) => boolean',
    optional: 'a boolean',
  },
};

const OPTION_RULES: ConfigRules = {
  argument: 'options',
  position: 'the second argument',
  expected: 'an object',
  fields: {
    within: 'a finite number > 0',
    key: 'a function (event) => key',
    name: 'a non-empty string',
    passThrough: 'a boolean',
    timeouts: 'a boolean',
    maxKeys: 'an integer >= 1',
    liveClock: 'a boolean',
    scheduler: 'a SchedulerLike (now() and schedule())',
  },
};

function compile(givenSteps: readonly PatternStep[], givenOptions: PatternOptions): Config {
  if (Array.isArray(givenSteps)) {
    givenSteps.forEach((step, index) => {
      if (typeof step !== 'object' || step === null) return;
      const keys = negated(step) ? NEGATED_STEP_KEYS : MATCH_STEP_KEYS;
      rejectUnknownKeys(`pattern: steps[${index}]`, step, keys, 'field');
    });
  }
  // Each field read once, here: what is checked is what is used, and a later change to the caller's
  // steps or options changes no operator made before it.
  const steps = Array.isArray(givenSteps)
    ? Array.from({ length: givenSteps.length }, (_, index) => {
        const step = givenSteps[index];
        return readFields(step, negated(step) ? NEGATED_STEP_KEYS : MATCH_STEP_KEYS);
      })
    : givenSteps;
  validateConfig('pattern', StepsSchema, steps, STEP_RULES);
  checkOptions('pattern', givenOptions, OPTION_KEYS, true);
  const options = readFields(givenOptions, OPTION_KEYS);
  validateConfig('pattern', OptionsSchema, options, OPTION_RULES);
  const positives: Positive[] = [];
  const negatives: Negative[][] = [[]];
  steps.forEach((step, index) => {
    const fallback = `step ${index + 1}`;
    if (typeof step === 'function') {
      positives.push({ name: step.name || fallback, match: step, optional: false });
      negatives.push([]);
    } else if ('notFollowedBy' in step) {
      negatives[positives.length]!.push({
        name: step.name ?? (step.notFollowedBy.name ? `not ${step.notFollowedBy.name}` : fallback),
        match: step.notFollowedBy,
      });
    } else {
      positives.push({
        name: step.name ?? (step.match.name || fallback),
        match: step.match,
        optional: !!step.optional,
      });
      negatives.push([]);
    }
  });
  // The next required step at or after each position (the last positive step is never optional), and
  // at the end the trailing negation.
  const expected: string[] = new Array<string>(positives.length + 1);
  expected[positives.length] = negatives[positives.length]![0]?.name ?? '';
  for (let p = positives.length - 1; p >= 0; p--) {
    expected[p] = positives[p]!.optional ? expected[p + 1]! : positives[p]!.name;
  }
  return {
    name: options.name ?? 'pattern',
    within: options.within,
    key: options.key ?? defaultKey,
    positives,
    firstRequired: positives.findIndex((positive) => !positive.optional),
    negatives,
    expected,
    forbidden: negatives[positives.length]!.map((negative) => negative.name),
    trailing: negatives[positives.length]!.length > 0,
    passThrough: options.passThrough ?? true,
    timeouts: options.timeouts ?? true,
    maxKeys: options.maxKeys ?? 10_000,
    // The live clock's period (event time sweeps at each advance of the watermark).
    sweepEveryMs: Math.max(1, options.within / 4),
    liveClock: options.liveClock ?? false,
    scheduler: options.scheduler ?? asyncScheduler,
  };
}

// ---------------------------------------------------------------------------------------------------
// State

/** A partial match: the events matched so far, waiting for `positives[position]`. */
class Run {
  constructor(
    readonly events: Event[],
    readonly steps: string[],
    readonly times: number[],
    /** How many of `events`, at the front, a leading optional step took (one before the first required). */
    readonly lead: number,
    /**
     * Its deadline is `within` after this: the time of its first required event, or while it has none,
     * of its latest (leading optional) event. A match's leading optional events do not shorten its time.
     */
    readonly anchor: number,
  ) {}

  /** Its first event's time (the start of its window). */
  get start(): number {
    return this.times[0]!;
  }

  /**
   * This run with `event` taken by the next step (`leading`: a leading optional step). The leading
   * optional events more than `within` before it no longer fit in a match with it: they are dropped
   * (their steps skipped), so a partial match, and the match, fits in `within`. (Its anchor is at most
   * `within` before `time`, else it would have ended: the latest leading event is never dropped while
   * the run has no required event.)
   */
  extend(event: Event, step: string, time: number, leading: boolean, within: number): Run {
    let drop = 0;
    while (drop < this.lead && time - this.times[drop]! > within) drop++;
    const events = this.events.slice(drop);
    const steps = this.steps.slice(drop);
    const times = this.times.slice(drop);
    events.push(event);
    steps.push(step);
    times.push(time);
    // Its first required event (or a leading one's) sets the anchor; a later event leaves it.
    const anchor = leading || this.lead === this.events.length ? time : this.anchor;
    return new Run(events, steps, times, this.lead - drop + (leading ? 1 : 0), anchor);
  }
}

/**
 * Whether `kept`, waiting at a step, stays there rather than `other`, which would take its place. The
 * later anchor stays (its deadline is later: whatever the other could still complete, it can); with the
 * same anchor, the one whose leading optional events came later, compared from the last one back, and
 * with those alike the one with more of them (the other's leading events and earlier ones): an optional
 * leading step that took an event is kept in the match. Still equal: the newer one (`other`).
 */
function prevails(kept: Run, other: Run): boolean {
  if (kept.anchor !== other.anchor) return kept.anchor > other.anchor;
  for (let i = kept.lead - 1, j = other.lead - 1; ; i--, j--) {
    if (j < 0) return i >= 0;
    if (i < 0) return false;
    if (kept.times[i] !== other.times[j]) return kept.times[i]! > other.times[j]!;
  }
}

class KeyState implements Recency, Queued {
  seen = 0;
  lastTime = Number.NEGATIVE_INFINITY;
  /**
   * In the engine's `due` queue: at most the earliest deadline of its partial matches. A key's new
   * partial match has the latest deadline (its event's time + `within`), and a partial match's deadline
   * never moves earlier (an event added to it leaves its anchor or moves it to the event's time), so it
   * is set when the key is tracked and by a sweep that visits it, and never needs lowering.
   */
  due = Number.NEGATIVE_INFINITY;
  slot = -1;
  /** `runs[p]`: the partial match waiting for `positives[p]` (`p = P`: a trailing negation's wait). */
  readonly runs: Array<Run | undefined>;
  live = 0;

  constructor(
    readonly key: string | null,
    positions: number,
  ) {
    this.runs = new Array<Run | undefined>(positions + 1).fill(undefined);
  }
}

const NO_TIME = Number.NEGATIVE_INFINITY;
/** Map key of events without a string or number key. */
const NULL_KEY = Symbol('no key');

// ---------------------------------------------------------------------------------------------------
// The engine: one per subscription

/** A partial match a sweep found past its deadline, to be ended in deadline order. */
interface Expired {
  readonly state: KeyState;
  /** The step it waited for (`P`: a trailing negation's wait). */
  readonly position: number;
  readonly run: Run;
}

/** Earliest deadline (anchor) first, then by key (strings in order, then `null`), then by step. */
function byDeadline(a: Expired, b: Expired): number {
  if (a.run.anchor !== b.run.anchor) return a.run.anchor - b.run.anchor;
  if (a.state.key !== b.state.key) {
    return keyOrder(a.state.key ?? NULL_KEY, b.state.key ?? NULL_KEY);
  }
  return a.position - b.position;
}

/** A total order of map keys (strings, then the symbol of events without a key), for ties. */
function keyOrder(a: string | symbol, b: string | symbol): number {
  if (typeof a === 'symbol') return typeof b === 'symbol' ? 0 : 1;
  if (typeof b === 'symbol') return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A kept latest time (see `KeptTimes`). */
interface Kept {
  readonly key: string | symbol;
  time: number;
  /** What the heap is ordered by: at most `time` (a later time is applied when it reaches the top). */
  heapTime: number;
  /** Its place in the heap. */
  slot: number;
}

/**
 * The latest times of keys without state (see `Matcher.lastTimes`): a map by key, and a binary min-heap
 * by time, then key (`keyOrder`), so the entries that no longer count and the earliest one are taken
 * from its top in O(log n), never by a scan. A key's later time (its next event, the common case) costs
 * no sift: the heap keeps the earlier one until the entry reaches the top.
 */
class KeptTimes {
  private readonly byKey = new Map<string | symbol, Kept>();
  private readonly heap: Kept[] = [];

  get size(): number {
    return this.byKey.size;
  }

  get(key: string | symbol): number | undefined {
    return this.byKey.get(key)?.time;
  }

  has(key: string | symbol): boolean {
    return this.byKey.has(key);
  }

  set(key: string | symbol, time: number): void {
    const kept = this.byKey.get(key);
    if (kept === undefined) {
      const added: Kept = { key, time, heapTime: time, slot: this.heap.length };
      this.byKey.set(key, added);
      this.heap.push(added);
      this.up(added.slot);
      return;
    }
    kept.time = time;
    // A key's time may also go back (a late event once its kept time no longer counted).
    if (time < kept.heapTime) {
      kept.heapTime = time;
      this.up(kept.slot);
    }
  }

  delete(key: string | symbol): void {
    const kept = this.byKey.get(key);
    if (kept !== undefined) this.remove(kept);
  }

  /** Deletes the entries with a time before `cutoff`. */
  deleteBefore(cutoff: number): void {
    // Every entry's time is at least the top's `heapTime`: nothing to delete (a sweep per event).
    if (this.heap.length === 0 || this.heap[0]!.heapTime >= cutoff) return;
    for (let top = this.top(); top !== undefined && top.time < cutoff; top = this.top()) this.remove(top);
  }

  /** Deletes the entry with the earliest time (the lowest key on a tie). */
  deleteEarliest(): void {
    const top = this.top();
    if (top !== undefined) this.remove(top);
  }

  /**
   * The entry with the earliest time (the lowest key on a tie): the heap's top once it is ordered by its
   * time. Every other entry's time is at least its `heapTime`, which is at least the top's.
   */
  private top(): Kept | undefined {
    const { heap } = this;
    while (heap.length > 0 && heap[0]!.heapTime !== heap[0]!.time) {
      heap[0]!.heapTime = heap[0]!.time;
      this.down(0);
    }
    return heap[0];
  }

  clear(): void {
    this.byKey.clear();
    this.heap.length = 0;
  }

  private remove(kept: Kept): void {
    this.byKey.delete(kept.key);
    const last = this.heap.pop()!;
    if (last === kept) return;
    this.heap[kept.slot] = last;
    last.slot = kept.slot;
    this.up(last.slot);
    this.down(last.slot);
  }

  private static before(a: Kept, b: Kept): boolean {
    return a.heapTime < b.heapTime || (a.heapTime === b.heapTime && keyOrder(a.key, b.key) < 0);
  }

  private up(slot: number): void {
    const { heap } = this;
    const kept = heap[slot]!;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      const above = heap[parent]!;
      if (!KeptTimes.before(kept, above)) break;
      heap[slot] = above;
      above.slot = slot;
      slot = parent;
    }
    heap[slot] = kept;
    kept.slot = slot;
  }

  private down(slot: number): void {
    const { heap } = this;
    const n = heap.length;
    const kept = heap[slot]!;
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= n) break;
      if (child + 1 < n && KeptTimes.before(heap[child + 1]!, heap[child]!)) child++;
      const below = heap[child]!;
      if (!KeptTimes.before(below, kept)) break;
      heap[slot] = below;
      below.slot = slot;
      slot = child;
    }
    heap[slot] = kept;
    kept.slot = slot;
  }
}

class Matcher implements SerialEngine<Event> {
  private readonly keys = new Map<string | symbol, KeyState>();
  /**
   * The tracked keys by `due`: a sweep visits only the keys whose earliest deadline has come, not the
   * whole map — a full map sweeps for every new key, which would otherwise be a scan per new key under
   * steady churn.
   */
  private readonly due = new DueQueue<KeyState>();
  /**
   * The latest time of keys without state (no partial match), so their late events are clamped as
   * those of a key with state. Bounded: at most `maxKeys` entries (when full, those that no longer count
   * go first, then the earliest time: see `rememberTime`), and an entry more than `within` behind the
   * watermark no longer counts (`forgottenTime`; sweeps delete such entries) — by then a late event of
   * the key can only start a partial match already past its deadline. Both rules are read against the
   * watermark, never the live clock, so a replay clamps like the live run whenever the sweeps ran.
   */
  private readonly lastTimes = new KeptTimes();
  private watermark = NO_TIME;
  private nextSweepAt = NO_TIME;
  private seq = 0;
  /** What the consumer threw on a predicate's report (see `test`), until `handle` throws it. */
  private reported: { error: unknown } | undefined = undefined;
  private readonly errors: ErrorGate;
  private readonly timer: LiveTimer | undefined;

  constructor(
    private readonly config: Config,
    private readonly emit: (event: Event) => void,
    runTask: (task: () => void) => void,
  ) {
    this.errors = new ErrorGate(config.within);
    this.timer = config.liveClock
      ? new LiveTimer(
          config.scheduler,
          config.sweepEveryMs,
          (now) => {
            this.sweep(Math.max(this.watermark, now));
            return this.keys.size > 0;
          },
          runTask,
          'pattern: liveClock',
        )
      : undefined;
  }

  handle(event: Event): void {
    const { config } = this;
    if (typeof event !== 'object' || event === null) {
      if (config.passThrough) this.emit(event);
      return;
    }
    let timestamp: unknown;
    let rawKey: unknown;
    try {
      timestamp = event.timestamp;
      rawKey = config.key(event);
    } catch (error) {
      // The event takes no part; it still passes through, also when the consumer throws on the report
      // (then the first exception is thrown after it).
      const at = finiteTime(timestamp) ?? Math.max(0, this.watermark);
      reportThenPass(
        this.reportError.bind(this, null, error, event, at),
        config.passThrough ? this.emit : undefined,
        event,
      );
      return;
    }
    // A consumer that throws on an end this event's handling emits before the event itself (what the
    // sweep its jump in event time runs ends, its key's partial matches past their deadline) or before
    // its partial match is kept (the keys its new key evicts) does not stop the handling there: the event
    // still passes through and takes its part (else, without passThrough, it would be lost: in no partial
    // match or output), then the first exception is thrown (the shell flushes, then errors with it). Nor
    // does one that throws on the event's own pass-through: the event still advances or starts its
    // partial match, so what is matched or flushed is what a run without the exception gives.
    // Only an exception allocates; a try/catch whose catch does not run costs nothing.
    let failure: { error: unknown } | undefined;
    const time = finiteTime(timestamp);
    if (time !== undefined && time > this.watermark) {
      this.watermark = time;
      // The partial matches due end on every advance of the watermark (one comparison here when none
      // is): one whose deadline has passed ends before the first event after it, whatever its key, as
      // live (where a clock tick may end it first, still before that event): a replay keeps the live
      // order. The kept latest times, which decide no output (see `forgottenTime`), are cleaned up at
      // most once per `within / 4`.
      if (time >= this.nextSweepAt) {
        try {
          this.sweep(time);
        } catch (error) {
          failure = { error };
        }
        this.nextSweepAt = time + config.sweepEveryMs;
      } else if (this.due.next <= time) {
        try {
          this.expireDue(time);
        } catch (error) {
          failure = { error };
        }
      }
    }
    const key = typeof rawKey === 'string' ? rawKey : typeof rawKey === 'number' ? String(rawKey) : null;
    const mapKey = key ?? NULL_KEY;
    let state = this.keys.get(mapKey);
    const previous = state?.lastTime ?? this.forgottenTime(mapKey);
    const t = clampTime(timestamp, previous, this.watermark === NO_TIME ? 0 : this.watermark);

    try {
      if (state !== undefined) {
        state.lastTime = t;
        state.seen = ++this.seq;
        try {
          this.expire(state, t);
        } catch (error) {
          failure ??= { error };
        }
        this.negate(state, event, t);
        if (this.reported !== undefined) {
          failure ??= this.reported;
          this.reported = undefined;
        }
      }
      if (config.passThrough) {
        // Also when the consumer throws on it: the event still takes its part (see above).
        try {
          this.emit(event);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (state === undefined || state.live === 0 || !this.advance(state, event, t)) {
        const run = this.begin(event, t);
        if (run !== undefined) {
          if (state === undefined) {
            state = new KeyState(key, config.positives.length);
            state.lastTime = t;
            // A new key's event that completes a match at once (a single step, or the last one after
            // optional first steps) leaves no partial match: it needs no room, and evicts no other key.
            if (run.position < config.positives.length || config.trailing) {
              try {
                this.makeRoom();
              } catch (error) {
                // A step's report the consumer threw on (`begin`'s, just before) came first.
                failure ??= this.reported ?? { error };
              }
              this.lastTimes.delete(mapKey);
              state.seen = ++this.seq;
              this.keys.set(mapKey, state);
              // Its only partial match starts now.
              this.due.set(state, t + config.within);
            }
          }
          this.place(state, run.run, run.position);
        }
      }
    } catch (error) {
      // The consumer threw on the match the event completed: it stops here, as before, but an exception
      // from before (an end, a report, the event's pass-through) stays the first.
      failure ??= this.reported ?? { error };
    }
    // Also after that exception (the match has already emptied the key): the inputs queued behind the
    // event find the map as a run without it does.
    if (state === undefined) {
      this.rememberTime(mapKey, t);
    } else if (state.live === 0) {
      // A key without partial matches needs no state: forget it at once, but for its latest time.
      this.keys.delete(mapKey);
      this.due.delete(state);
      this.rememberTime(mapKey, t);
    } else if (this.timer !== undefined) this.timer.ensure();
    if (this.reported !== undefined) {
      failure ??= this.reported;
      this.reported = undefined;
    }
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Makes room for a new key in a full map. First drops the keys whose partial matches the watermark
   * has already ended, as a sweep would: which keys are evicted must not depend on when the last sweep
   * ran (the live clock's). Only then evicts the least recently active: the whole batch, each key's
   * partial matches ended `evicted` (the sweep has ended those the watermark decided) and the key
   * dropped, even if the consumer throws on one of them; then throws the first exception. (The
   * kept latest times need no clean-up here: rememberTime drops those that no longer count.)
   */
  private makeRoom(): void {
    const { config } = this;
    if (this.keys.size < config.maxKeys) return;
    let failure: { error: unknown } | undefined;
    try {
      this.expireDue(this.watermark);
    } catch (error) {
      failure = { error };
    }
    if (this.keys.size >= config.maxKeys) {
      evictLeastRecent(this.keys, (evictedKey, evicted) => {
        this.due.delete(evicted);
        // What the watermark had decided of it (a deadline passed: a trailing negation matched, a run
        // timed out) the sweep above reported, also if the consumer threw there (a key's runs are taken
        // out before their ends go out): the rest ends `evicted`.
        try {
          this.giveUp(evicted, 'evicted');
        } catch (error) {
          failure ??= { error };
        }
        this.rememberTime(evictedKey, evicted.lastTime);
      });
    }
    if (failure !== undefined) throw failure.error;
  }

  /** The latest time of a key without state, while it counts (see `lastTimes`), else `NO_TIME`. */
  private forgottenTime(mapKey: string | symbol): number {
    const time = this.lastTimes.get(mapKey);
    return time !== undefined && time >= this.watermark - this.config.within ? time : NO_TIME;
  }

  /**
   * Keeps the latest time of a key left without state (see `lastTimes`). A new key past `maxKeys` is
   * kept first, then the ones that no longer count by the watermark go, then the one with the earliest
   * time (the lowest key on a tie), which may be the new key itself: what is forgotten depends on event
   * times only, never on the order the keys came in nor on when sweeps ran (the live clock's), so a
   * replay clamps as the live run did. Both are taken from the top of a heap, in O(log n) each: no scan
   * of the kept times.
   */
  private rememberTime(mapKey: string | symbol, time: number): void {
    const { lastTimes } = this;
    const added = !lastTimes.has(mapKey);
    lastTimes.set(mapKey, time);
    if (added && lastTimes.size > this.config.maxKeys) {
      lastTimes.deleteBefore(this.watermark - this.config.within);
      if (lastTimes.size > this.config.maxKeys) lastTimes.deleteEarliest();
    }
  }

  /** Ends the runs whose deadline has passed at `now`: trailing negations match, others time out. */
  private expire(state: KeyState, now: number): void {
    const expired = this.collectExpired(state, now, undefined);
    if (expired !== undefined) this.endExpired(expired);
  }

  /** Takes the key's runs whose deadline has passed at `now` out of it, into `expired` (made if needed). */
  private collectExpired(
    state: KeyState,
    now: number,
    expired: Expired[] | undefined,
  ): Expired[] | undefined {
    const { runs } = state;
    const { within } = this.config;
    for (let p = 1; p < runs.length; p++) {
      const run = runs[p];
      if (run !== undefined && now - run.anchor > within) {
        expired ??= [];
        expired.push({ state, position: p, run });
        runs[p] = undefined;
        state.live--;
      }
    }
    return expired;
  }

  /**
   * Ends `expired` runs (already out of their keys), earliest deadline first (so the output stays in
   * event-time order, across keys as the live clock finds them), then by key (strings in order, then
   * `null`), then by step: each even if the consumer throws on an earlier one, then throws the first
   * exception. Called only with runs to end: its closure is not made per input.
   */
  private endExpired(expired: Expired[]): void {
    if (expired.length > 1) expired.sort(byDeadline);
    forEachThenThrow(expired, ({ state, position, run }) => this.endRun(state, position, run));
  }

  /** Ends a run (out of its key) whose deadline has passed: a trailing negation matches, others time out. */
  private endRun(state: KeyState, position: number, run: Run): void {
    if (position === this.config.positives.length) this.matched(state, run, run.anchor + this.config.within);
    else this.timedOut(state, run, position, 'timeout');
  }

  /** Drops the runs an event matching an active `notFollowedBy` breaks. */
  private negate(state: KeyState, event: Event, t: number): void {
    const { runs } = state;
    const { negatives } = this.config;
    for (let p = 1; p < runs.length; p++) {
      if (runs[p] === undefined) continue;
      const forbidden = negatives[p]!;
      for (let i = 0; i < forbidden.length; i++) {
        if (this.test(forbidden[i]!, event, t)) {
          runs[p] = undefined;
          state.live--;
          break;
        }
      }
    }
  }

  /** Advances the runs `event` matches the next step of. True when it completed a match. */
  private advance(state: KeyState, event: Event, t: number): boolean {
    const { runs } = state;
    const { positives, firstRequired, within } = this.config;
    // Highest position first, so one event advances a run by one step only.
    for (let p = positives.length - 1; p >= 1; p--) {
      const run = runs[p];
      if (run === undefined) continue;
      const q = this.firstMatch(p, event, t);
      if (q < 0) continue;
      runs[p] = undefined;
      state.live--;
      const next = run.extend(event, positives[q]!.name, t, q < firstRequired, within);
      if (this.place(state, next, q + 1)) return true;
    }
    return false;
  }

  /** A new run `event` starts, if it matches the first step (or a step after optional first ones). */
  private begin(event: Event, t: number): { run: Run; position: number } | undefined {
    const q = this.firstMatch(0, event, t);
    if (q < 0) return undefined;
    const { positives, firstRequired } = this.config;
    return {
      run: new Run([event], [positives[q]!.name], [t], q < firstRequired ? 1 : 0, t),
      position: q + 1,
    };
  }

  /** The first step from `from` (skipping optional ones) that `event` matches, or -1. */
  private firstMatch(from: number, event: Event, t: number): number {
    const { positives } = this.config;
    for (let q = from; q < positives.length; q++) {
      const step = positives[q]!;
      if (this.test(step, event, t)) return q;
      if (!step.optional) return -1;
    }
    return -1;
  }

  /**
   * Puts `run` at `position`: a complete run clears the key's runs (matches never share events) and is
   * emitted as a match — cleared first, so that a consumer throwing on the match does not leave them to
   * the flush (as `flushed`, where they are dropped silently otherwise). At most one run waits per
   * position: the one that `prevails` (the later deadline first). True when a match was emitted. (An
   * event that completes several runs completes the one further along: `advance` goes from the highest
   * position down and stops at the first match.)
   */
  private place(state: KeyState, run: Run, position: number): boolean {
    const { config } = this;
    if (position === config.positives.length && !config.trailing) {
      state.runs.fill(undefined);
      state.live = 0;
      this.matched(state, run, run.times.at(-1)!);
      return true;
    }
    const existing = state.runs[position];
    if (existing === undefined) state.live++;
    else if (prevails(existing, run)) return false;
    state.runs[position] = run;
    return false;
  }

  /**
   * Whether `event` matches `step`. A predicate that throws counts as no match and is reported; if the
   * consumer throws on the report, the exception is kept in `reported` (thrown at the end of `handle`),
   * so the event's other steps and negations are still tried and the event still kept.
   */
  private test(step: Positive | Negative, event: Event, t: number): boolean {
    try {
      const result: unknown = step.match(event);
      if (result === true) return true;
      if (typeof result === 'object' && result !== null) asyncPredicate(result);
      return false;
    } catch (error) {
      try {
        this.reportError(step.name, error, event, t);
      } catch (thrown) {
        this.reported ??= { error: thrown };
      }
      return false;
    }
  }

  private matched(state: KeyState, run: Run, timestamp: number): void {
    const data: PatternMatchData = {
      pattern: this.config.name,
      key: state.key,
      events: run.events,
      steps: run.steps,
      window: { start: run.start, end: run.times.at(-1)! },
    };
    this.emit(createEvent({ type: 'pattern.matched', timestamp, data, ...sessionOf(run.events) }) as Event);
  }

  private timedOut(state: KeyState, run: Run, position: number, reason: PatternTimeoutReason): void {
    const { config } = this;
    if (!config.timeouts) return;
    const deadline = run.anchor + config.within;
    const data: PatternTimeoutData = {
      pattern: config.name,
      key: state.key,
      events: run.events,
      steps: run.steps,
      expected: config.expected[position]!,
      window: { start: run.start, end: run.times.at(-1)! },
      deadline,
      reason,
    };
    // A copy each: what one consumer does to its list is not the next timeout's.
    if (position === config.positives.length) data.forbidden = [...config.forbidden];
    const timestamp = reason === 'timeout' ? deadline : run.times.at(-1)!;
    this.emit(createEvent({ type: 'pattern.timeout', timestamp, data, ...sessionOf(run.events) }) as Event);
  }

  /**
   * Ends every partial match of the key with `reason` (eviction), earliest start first. They leave the
   * key before they go out, and each goes out even if the consumer throws on an earlier one (a flush
   * after the exception finds none of them again); then the first exception is thrown.
   */
  private giveUp(state: KeyState, reason: PatternTimeoutReason): void {
    const { runs } = state;
    const live: Array<[number, Run]> = [];
    for (let p = 1; p < runs.length; p++) if (runs[p] !== undefined) live.push([p, runs[p]!]);
    live.sort((a, b) => a[1].anchor - b[1].anchor);
    runs.fill(undefined);
    state.live = 0;
    forEachThenThrow(live, ([p, run]) => this.timedOut(state, run, p, reason));
  }

  /**
   * Expires the runs whose deadline has passed at `now` (event time), dropping keys left empty. What it
   * ends leaves in deadline order across keys (see `endExpired`), not in the map's: a replay's jump in
   * event time emits what the live clock's sweeps did.
   */
  sweep(now: number): void {
    this.expireDue(now);
    // Entries that no longer count by the watermark (not `now`, which may be the live clock's).
    this.lastTimes.deleteBefore(this.watermark - this.config.within);
  }

  /**
   * The partial matches part of `sweep`: visits only the keys whose due time has come (see
   * `KeyState.due`); each goes back with its exact due time once all are out (one due exactly now must
   * not be taken out again).
   */
  private expireDue(now: number): void {
    const { due } = this;
    if (due.next > now) return;
    const first = due.pop(now)!;
    // One key due (the common case at an advance of the watermark): no batch to gather.
    if (due.next > now) {
      this.expireKey(first, now);
      return;
    }
    const visited: KeyState[] = [first];
    for (let state = due.pop(now); state !== undefined; state = due.pop(now)) visited.push(state);
    let expired: Expired[] | undefined;
    for (const state of visited) {
      expired = this.collectExpired(state, now, expired);
      this.dropIfEmpty(state);
    }
    try {
      if (expired !== undefined) this.endExpired(expired);
    } finally {
      // Also when the consumer threw on one (after all of them went out): the keys left stay in the
      // queue, for the inputs handled before the output ends.
      for (const state of visited) if (state.live > 0) due.set(state, this.dueOf(state));
    }
  }

  /**
   * `expireDue` for one key due alone: the same ends in the same order (one key's by deadline, then
   * step), its one partial match (the common case) ended without a batch. Taken out of the queue by the
   * caller; it goes back, if it keeps partial matches, also when the consumer throws on one.
   */
  private expireKey(state: KeyState, now: number): void {
    const { runs } = state;
    const { within } = this.config;
    let position = -1;
    let count = 0;
    for (let p = 1; p < runs.length; p++) {
      const run = runs[p];
      if (run !== undefined && now - run.anchor > within) {
        position = p;
        count++;
      }
    }
    if (count !== 1) {
      // None (a due time already past no run's deadline) or several: the batch path.
      const expired = this.collectExpired(state, now, undefined);
      this.dropIfEmpty(state);
      try {
        if (expired !== undefined) this.endExpired(expired);
      } finally {
        if (state.live > 0) this.due.set(state, this.dueOf(state));
      }
      return;
    }
    const run = runs[position]!;
    runs[position] = undefined;
    state.live--;
    this.dropIfEmpty(state);
    try {
      this.endRun(state, position, run);
    } finally {
      if (state.live > 0) this.due.set(state, this.dueOf(state));
    }
  }

  /** Drops a key a sweep left without partial matches, keeping its latest time. */
  private dropIfEmpty(state: KeyState): void {
    if (state.live !== 0) return;
    const mapKey = state.key ?? NULL_KEY;
    this.keys.delete(mapKey);
    this.rememberTime(mapKey, state.lastTime);
  }

  /** The earliest deadline of the key's partial matches. */
  private dueOf(state: KeyState): number {
    let anchor = Number.POSITIVE_INFINITY;
    for (const run of state.runs) if (run !== undefined && run.anchor < anchor) anchor = run.anchor;
    return anchor + this.config.within;
  }

  /**
   * Gives up every partial match (input completed or errored) — after ending, as a sweep would, the ones
   * whose deadline the watermark has already passed (the sweep at each advance of the watermark has
   * ended them already; what the input has already decided must not depend on when the last one ran).
   * Those left go in the same order as a sweep's: by deadline, then key, then step. Each even if the
   * consumer throws on an earlier one (each is taken out of its key before it goes out: a second flush
   * emits nothing twice); then the first exception is thrown.
   */
  flush(): void {
    this.timer?.stop();
    let failure: { error: unknown } | undefined;
    try {
      if (this.watermark !== NO_TIME) this.sweep(this.watermark);
    } catch (error) {
      failure = { error };
    }
    // In deadline order like a sweep's, not the map's: a live sweep may have dropped a key that a replay
    // still tracks, and tracked it anew after the others when it came back.
    let left: Expired[] | undefined;
    for (const state of this.keys.values()) left = this.collectExpired(state, Number.POSITIVE_INFINITY, left);
    if (left !== undefined) {
      if (left.length > 1) left.sort(byDeadline);
      try {
        forEachThenThrow(left, ({ state, position, run }) => this.timedOut(state, run, position, 'flushed'));
      } catch (error) {
        failure ??= { error };
      }
    }
    this.keys.clear();
    this.due.clear();
    this.lastTimes.clear();
    if (failure !== undefined) throw failure.error;
  }

  dispose(): void {
    this.timer?.stop();
    this.keys.clear();
    this.due.clear();
    this.lastTimes.clear();
  }

  private reportError(step: string | null, error: unknown, event: Event, t: number): void {
    const suppressed = this.errors.admit(t);
    if (suppressed < 0) return;
    let id: unknown;
    try {
      id = event.id;
    } catch {
      id = undefined;
    }
    const data: PatternErrorData = {
      pattern: this.config.name,
      step,
      error: describeError(error),
      trigger_event_id: typeof id === 'string' ? id : null,
      suppressed,
    };
    const report = createEvent({
      type: 'pattern.error',
      priority: Priority.HIGH,
      timestamp: Math.max(0, t),
      data,
    });
    this.emit(report as Event);
  }
}

const ignore = () => undefined;

/**
 * Throws when a predicate's answer is a Promise (an async predicate, whose answer would come too late):
 * reported then as a throw is, rather than taken for no match without a word. Its rejection is handled:
 * left unhandled, it would end the process (Node's default), not just count as no match.
 */
function asyncPredicate(result: object): void {
  const { then } = result as { then?: unknown };
  if (typeof then !== 'function') return;
  then.call(result, undefined, ignore);
  throw new TypeError('predicate returned a Promise (a predicate is synchronous: it returns true or false)');
}

/** `{ sessionId }` when every event has the same session, else nothing. */
function sessionOf(events: readonly Event[]): { sessionId?: string } {
  let session: unknown;
  try {
    session = events[0]?.sessionId;
    if (typeof session !== 'string' || session.length === 0) return {};
    for (let i = 1; i < events.length; i++) if (events[i]!.sessionId !== session) return {};
  } catch {
    return {};
  }
  return { sessionId: session };
}

// ---------------------------------------------------------------------------------------------------

/**
 * Matches a sequence of steps in each key's events (by default, each session's) within `within` ms of
 * event time, and emits one `pattern.matched` event per match, carrying the matched events. Other
 * events may come between the steps. Input events pass through unchanged (unless `passThrough: false`).
 *
 * ```
 * steps:   [isTestEdit, isSourceEdit, isPassingTestRun], within 10 min
 * source:  -t--x--s----p----------t-----s--------------y---|
 *           0  1  2    3          20    21             40 min
 * result:  -t--x--s----(pM)-------t-----s--------------(Ty)|
 *             M = pattern.matched [t, s, p]
 *             T = pattern.timeout [t, s], expected isPassingTestRun, at 30 min — found by y
 * ```
 *
 * Semantics:
 * - **Time** is `event.timestamp` (a replay matches like the live run); a key's late event counts as
 *   arriving at the key's latest time, also once the key has no partial match left (that time is kept
 *   for at most `maxKeys` keys, and while at most `within` behind the newest timestamp seen).
 * - **Deadline**: a partial match has `within` from its first required event (while it has only leading
 *   optional events, from its latest one); the match itself fits in `within`, first to last event.
 * - **One run per step**: per key, at most one partial match waits for each step; when an event would
 *   start or advance a partial match to a step that already has one, the one with the later deadline
 *   is kept; on a tie, the one whose leading optional events came later (compared from the last one
 *   back), then the one with more of them; then the newer. So `t t s p` matches `[t₂, s, p]`, and
 *   partials are bounded by the steps. When one event completes two, the one further along (waiting
 *   at the later step) is the match.
 * - **Skip past the match**: a match clears the key's partial matches (before it goes out, also when the
 *   consumer throws on it; the key, left without any, is dropped then too), so matches never share
 *   events.
 * - **Optional steps** (`{ match, optional: true }`) may be skipped; an event matching the optional
 *   step is taken by it. A leading one (before the first required step) keeps its event in the match,
 *   as long as the match fits in `within` with it (an older leading event is dropped as an event is
 *   added to the partial match):
 *
 * ```
 * steps:   [{ match: isFailingTestRun, optional: true }, isSourceEdit, isPassingTestRun], within 10 min
 * source:  -f--s--p----f----s-----------p---|
 *           0  1  2    5    8           16 min
 * result:  -f--s--(pM)-f----s-----------(pN)|
 *             M = pattern.matched [f, s, p]: the partial match that took f is kept over the one that
 *                 started at s (same first required event, one more leading optional one)
 *             N = pattern.matched [s, p]: f is 11 min before p, left out; the deadline ran from s (18)
 * ```
 * - **Negation** (`{ notFollowedBy }`): an event it matches discards the partial matches waiting
 *   across it, silently. As the last step, the match is emitted at its first required event + `within`
 *   if no such event came (found by a later event, or by the live clock).
 * - **Timeouts** (side output, `timeouts: true` by default): a partial match whose `within` passes is
 *   emitted as `pattern.timeout` (`reason: 'timeout'`), stamped at its deadline, its `expected` naming
 *   the next required step it lacked (not an optional one before it; for a trailing negation's wait cut
 *   short, the first negation, and `forbidden` lists every trailing one); each advance of event time
 *   (the newest timestamp seen) first ends those past their deadline by then, whatever their key, so one
 *   goes out before the first event after its deadline, where the live clock (which may find it first)
 *   puts it too; those found together leave in deadline order across keys (ties by key), as the live
 *   clock finds them; on complete or error
 *   those whose deadline the newest timestamp seen has passed are ended so (a trailing negation
 *   matches), and the partial matches left are emitted with `reason: 'flushed'`; on eviction likewise,
 *   the ones left with `'evicted'`.
 * - A predicate or key function that throws counts as no match and is reported as `pattern.error`
 *   (priority HIGH, at most one per `within`, with a count of the suppressed ones). When the consumer
 *   throws on such a report (key function, step, `notFollowedBy`), the event is still handled (passed
 *   through, its other negations run and steps tried, its partial match kept).
 * - **Errors**: a source error is forwarded after the flush; a consumer that throws ends the output
 *   with its first exception, after the same flush. The partial matches a flush, a sweep or an eviction
 *   ends all go out even if the consumer throws on an earlier one, each once. An input whose handling
 *   ends partial matches before it (a sweep its jump in event time runs, its key's expired ones, an
 *   eviction its new key makes) is still handled when the consumer throws on one of those: passed
 *   through (with `passThrough`) and kept in its partial match, before the output ends. So is an input
 *   the consumer throws on as it passes through: it still advances or starts its partial match, so the
 *   match or the flush emits what it would without the exception.
 *
 * ## Examples
 * ```ts
 * const isTestEdit = (e: Event) => e.type === 'file.modified' && /\.test\./.test(String(e.data.file_path));
 * const isSourceEdit = (e: Event) => e.type === 'file.modified' && !/\.test\./.test(String(e.data.file_path));
 * const isPassingTestRun = (e: Event) => e.type === 'test.run' && e.data.passed === true;
 * const isFailingTestRun = (e: Event) => e.type === 'test.run' && e.data.passed === false;
 * events$.pipe(pattern([isTestEdit, isSourceEdit, isPassingTestRun], { within: 10 * 60_000, name: 'tdd' }));
 *
 * // Tests left red: a failing run not followed by a passing one within 15 minutes.
 * events$.pipe(pattern([isFailingTestRun, { notFollowedBy: isPassingTestRun }], { within: 15 * 60_000 }));
 * ```
 *
 * @param steps the sequence: predicates, `{ match, optional? }` and `{ notFollowedBy }` steps.
 * @param options `within` (required), `key`, `name`, pass-through, timeouts, bounds and the live clock.
 * @return an operator emitting the input events and `pattern.matched` / `pattern.timeout` /
 *   `pattern.error` events.
 * @throws ConfigError at construction when a step or option has the wrong shape (a pattern starting with
 *   `notFollowedBy`, an optional last step …) or a value is out of range (`within <= 0`).
 */
export function pattern<T extends Event<object> = Event>(
  steps: readonly PatternStep<NoInfer<T>>[],
  options: PatternOptions<NoInfer<T>> & { passThrough: false },
): OperatorFunction<T, PatternEvent<T>>;
export function pattern<T extends Event<object> = Event>(
  steps: readonly PatternStep<NoInfer<T>>[],
  options: PatternOptions<NoInfer<T>>,
): OperatorFunction<T, T | PatternEvent<T>>;
export function pattern<T extends Event = Event>(
  steps: readonly PatternStep<NoInfer<T>>[],
  options: PatternOptions<NoInfer<T>>,
): OperatorFunction<T, T | PatternEvent<T>> {
  // The predicates and the key see only the input events, each a T.
  const config = compile(steps as readonly PatternStep[], options as PatternOptions);
  return serializedOperator<T, PatternEvent<T>>(
    (emit, schedule) => new Matcher(config, (event) => emit(event as PatternEvent<T>), schedule),
  );
}
