/**
 * `hybridProcess`: routes each event to an immediate, a batched or a background lane (by `selectMode`),
 * with per-lane concurrency and bounded queues, and yields one outcome per event. See
 * `docs/hybridProcess.md` and `docs/buffers.md`.
 */
import { performance } from 'node:perf_hooks';
import {
  asyncScheduler,
  EmptyError,
  isObservable,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  Subject,
  Subscription,
  take,
} from 'rxjs';
import { ConfigError, optionKeys, refuseNull, shownText, VibespecError } from '../errors.js';
import { createEvent, type Event, Priority } from '../event.js';
import { isFieldRecord } from '../streams/payload.js';
import type { FlowGate } from '../streams/pullFrom.js';
import type { LoadSnapshot } from '../streams/systemLoad.js';
import { type AdaptiveBatchOperator, type AdaptiveBatchOptions, adaptiveBatch } from './adaptiveBatch.js';
import {
  cancellable,
  checkConfig,
  clockError,
  MAX_TIMER_MS,
  priorityOf,
  scheduleLater,
} from './internal/eventTime.js';
import { linkedInput, startLinked } from './internal/linked.js';
import type { EventFlowMetrics } from './metrics.js';
import { createModeSelector, isProcessingMode, ProcessingMode, type SelectModeConfig } from './selectMode.js';

/** What a handler may return: the value, a promise of it, or an Observable whose first value is it. */
export type HandlerResult<R> = R | PromiseLike<R> | Observable<R>;

/**
 * What a bounded queue does when it is full:
 * - `block` (default): hold the `gate` at the high-water mark (half the limit) so a `pullFrom` source
 *   stops pulling; an event that still arrives at a full queue (a push source ignores the gate) gets an
 *   error outcome with code `BUFFER_OVERFLOW`.
 * - `drop-oldest`: evict the oldest queued event of the lowest priority present (the incoming one
 *   included) to make room; the evicted event gets a `dropped` outcome carrying an `events.dropped` event.
 * - `drop-newest`: the newest event of the lowest priority present (usually the incoming one) is dropped,
 *   the same way.
 * - `error`: the incoming event gets an error outcome with code `BUFFER_OVERFLOW`.
 */
export type OverflowPolicy = 'block' | 'drop-oldest' | 'drop-newest' | 'error';

/** Per-lane figures (`immediate`, `batched`, `async`); a number sets all three. */
export type PerLane<T> = T | { immediate?: T | undefined; batched?: T | undefined; async?: T | undefined };

/** Options of `hybridProcess`. */
export interface HybridProcessOptions<R, T extends Event<object> = Event> {
  /** Processes an IMMEDIATE event. Also processes ASYNC events unless `background` is given. */
  immediate: (event: T) => HandlerResult<R>;
  /** Processes a batch of BATCHED events; must yield one result per event, in the batch's order. */
  batch: (events: T[]) => HandlerResult<readonly R[]>;
  /** Processes an ASYNC event. Default: `immediate`. */
  background?: ((event: T) => HandlerResult<R>) | undefined;
  /**
   * The current load (`systemLoad$()`); the latest value is used, with `queueDepth` and `avgLatencyMs`
   * raised to the pipeline's own live figures (its own where a figure of it is missing or `NaN`). A figure
   * that is no number (`'0.5'`, `null`) is read as missing. Without it, only those own figures are known.
   */
  load$?: Observable<LoadSnapshot> | undefined;
  /** Chooses the mode of an event. Default: `selectMode` with `modes`. */
  select?: ((event: T, load: LoadSnapshot) => ProcessingMode) | undefined;
  /** The `selectMode` configuration of the default `select` (a `ConfigError` beside a `select`). */
  modes?: SelectModeConfig | undefined;
  /**
   * The batcher of the BATCHED lane: an `adaptiveBatch()` operator (share it to watch its `config$`; its
   * adaptation is then shared by every subscription it serves), or its options (a batcher per
   * subscription). hybridProcess reports each batch's processing latency to it. Each batch it emits must
   * be the oldest events given to it and not yet batched, themselves and in order (as adaptiveBatch's
   * are): any other (one emitted before its input, a copy, another object) is the batcher's error, a
   * `ConfigError` naming what it emitted. An empty batch (`[]`, as `bufferTime` emits on a quiet
   * interval) is skipped: `batch` is never called with no events, and nothing is reported for it. An
   * operator without `report()` (a plain `bufferCount(2)`), or options that are no object, are a
   * `ConfigError` at construction.
   */
  batcher?: AdaptiveBatchOperator<T> | AdaptiveBatchOptions | undefined;
  /** How many events (immediate, async) or batches (batched) each lane processes at once. Default 16 / 1 / 1. */
  concurrency?: PerLane<number> | undefined;
  /** How many events may wait in each lane's queue. Default 10,000. */
  maxQueued?: PerLane<number> | undefined;
  /** What a full queue does. Default `'block'`. */
  overflow?: OverflowPolicy | undefined;
  /**
   * How long, in ms on the scheduler, a handler may take to settle: per event in the IMMEDIATE and
   * ASYNC lanes, per batch in the BATCHED lane. Past it the handler is cancelled (an Observable is
   * unsubscribed; a promise is abandoned, its late value ignored), its slot is freed, and its event —
   * or every event of its batch — gets an error outcome with code `HANDLER_TIMEOUT`. Default `Infinity`
   * (no timeout): a handler that never settles then holds its events, its slot and the completion.
   */
  timeoutMs?: PerLane<number> | undefined;
  /** The gate `block` holds at the high-water mark; pass the one your `pullFrom` source honours. */
  gate?: FlowGate | undefined;
  /**
   * Receives every event's processing time (by type), errors, drops, and a queue-depth gauge. The time
   * recorded runs from when the event could be processed — its arrival, or for a BATCHED event the cut of
   * its batch — to its outcome: a wait for a free slot counts, the batcher's own wait does not (it would
   * keep `avgLatencyMs`, a load figure, high on a trickle of events). An outcome's `latencyMs` counts it.
   * Its busy time (`events_per_second`'s) is its handler's time alone, for a BATCHED event its share.
   * A `record` (or `recordError`, `recordDropped`) that throws ends the output as a consumer's exception.
   */
  metrics?: EventFlowMetrics | undefined;
  /**
   * Timers, `events.dropped` timestamps, and — when given — the clock of latencies (without one,
   * latencies use `performance.now()`). Default `asyncScheduler`. A given one whose `now()` gives no
   * finite number ends the output with a `ConfigError`, every event received given its outcome first.
   */
  scheduler?: SchedulerLike | undefined;
}

const OPTION_KEYS = optionKeys<HybridProcessOptions<unknown>>({
  immediate: true,
  batch: true,
  background: true,
  load$: true,
  select: true,
  modes: true,
  batcher: true,
  concurrency: true,
  maxQueued: true,
  overflow: true,
  timeoutMs: true,
  gate: true,
  metrics: true,
  scheduler: true,
});

interface OutcomeBase<T extends Event<object> = Event> {
  /** The input event. */
  event: T;
  /** The lane it went through. */
  mode: ProcessingMode;
  /** From arrival to outcome, ms. */
  latencyMs: number;
}

/** The event was processed; `result` is what its handler returned for it. */
export interface HybridResult<R, T extends Event<object> = Event> extends OutcomeBase<T> {
  kind: 'result';
  result: R;
}

/**
 * The event was not processed: its handler threw, rejected or timed out (`HANDLER_TIMEOUT`), its batch
 * failed, `select` failed, or its queue was full (`BUFFER_OVERFLOW`).
 */
export interface HybridError<T extends Event<object> = Event> extends OutcomeBase<T> {
  kind: 'error';
  error: unknown;
}

/** `data` of an `events.dropped` event. */
export interface EventsDroppedData extends Record<string, unknown> {
  lane: ProcessingMode;
  policy: 'drop-oldest' | 'drop-newest';
  /** The lane's queue limit. */
  limit: number;
  event_id: string;
  event_type: string;
  /** The priority class it was queued in: its priority, or LOW when that is not a valid `Priority`. */
  event_priority: Priority;
  /** Events this subscription has dropped so far, this one included. */
  total: number;
}

/** The event was dropped by an overflow policy; `dropped` is the `events.dropped` event to persist. */
export interface HybridDropped<T extends Event<object> = Event> extends OutcomeBase<T> {
  kind: 'dropped';
  /** A `VibespecError` with code `EVENT_DROPPED`. */
  error: VibespecError;
  dropped: Event<EventsDroppedData>;
}

/** Exactly one of these is emitted per input event. */
export type HybridOutput<R, T extends Event<object> = Event> =
  | HybridResult<R, T>
  | HybridError<T>
  | HybridDropped<T>;

// ---------------------------------------------------------------------------------------------------

const DEFAULT_CONCURRENCY = { immediate: 16, batched: 1, async: 1 } as const;
const DEFAULT_MAX_QUEUED = 10_000;
// The background lane yields to the event loop after this many starts, so a long queue of synchronous
// background work cannot hold up IMMEDIATE events for long.
const BACKGROUND_SLICE = 64;
const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['block', 'drop-oldest', 'drop-newest', 'error'];

/** A per-lane option is a number or an object of lanes: anything else (a string) is not read as "no lanes". */
function checkPerLane(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'number' && (typeof value !== 'object' || value === null)) {
    throw new ConfigError(
      `hybridProcess: ${name} must be a number or an object of lanes (immediate, batched, async), got ${shownText(value)}`,
    );
  }
  // A misspelt lane would silently leave that lane at its default.
  if (typeof value === 'object') {
    for (const key of Object.keys(value)) {
      if (key !== 'immediate' && key !== 'batched' && key !== 'async') {
        throw new ConfigError(
          `hybridProcess: ${name} has an unknown lane "${key}" (known: immediate, batched, async)`,
        );
      }
    }
  }
}

function perLane(
  name: string,
  value: PerLane<number> | undefined,
  defaults: Record<'immediate' | 'batched' | 'async', number>,
): Record<ProcessingMode, number> {
  checkPerLane(name, value);
  const pick = (lane: 'immediate' | 'batched' | 'async'): number => {
    const v = typeof value === 'number' ? value : (value?.[lane] ?? defaults[lane]);
    if (typeof v !== 'number' || !(v >= 1) || (!Number.isInteger(v) && v !== Number.POSITIVE_INFINITY)) {
      throw new ConfigError(
        `hybridProcess: ${name}.${lane} must be a positive integer or Infinity, got ${shownText(v)}`,
      );
    }
    return v;
  };
  return { immediate: pick('immediate'), batched: pick('batched'), async: pick('async') };
}

function laneTimeouts(value: PerLane<number> | undefined): Record<ProcessingMode, number> {
  checkPerLane('timeoutMs', value);
  const pick = (lane: 'immediate' | 'batched' | 'async'): number => {
    const v = typeof value === 'number' ? value : (value?.[lane] ?? Number.POSITIVE_INFINITY);
    if (typeof v !== 'number' || !(v > 0) || (v > MAX_TIMER_MS && v !== Number.POSITIVE_INFINITY)) {
      // Node fires a longer timer at once rather than never: refuse it instead of timing out everything.
      throw new ConfigError(
        `hybridProcess: timeoutMs.${lane} must be a positive number of ms up to ${MAX_TIMER_MS}, or Infinity, got ${shownText(v)}`,
      );
    }
    return v;
  };
  return { immediate: pick('immediate'), batched: pick('batched'), async: pick('async') };
}

/** A FIFO with O(1) shift and pop. */
class Deque<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  pop(): T | undefined {
    return this.length > 0 ? this.#items.pop() : undefined;
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** The `index`th item from the head. */
  at(index: number): T | undefined {
    return this.#items[this.#head + index];
  }
}

/**
 * What is wrong with a batch a batcher emitted, said for a message; `undefined` when it is the oldest
 * `events.length` of the events given to it and not yet batched, in order (`waiting`), as a batch must be.
 */
function batchMisfit<T>(events: unknown, waiting: Deque<{ readonly event: T }>): string | undefined {
  if (!Array.isArray(events)) return `${shownText(events)}, not an array of the events given to it`;
  if (events.length > waiting.length) {
    return `a batch of ${events.length} event${events.length === 1 ? '' : 's'} when ${
      waiting.length === 0 ? 'none' : waiting.length
    } of those given to it ${waiting.length <= 1 ? 'was' : 'were'} waiting`;
  }
  for (let i = 0; i < events.length; i++) {
    if (events[i] !== waiting.at(i)!.event) {
      return `a batch whose item #${i} (${shownText(events[i])}) is not the event given to it at that place`;
    }
  }
  return undefined;
}

interface Pending<T extends Event<object> = Event> {
  event: T;
  arrivedAt: number;
  /**
   * When it was ready to be processed: its arrival, or for a BATCHED event the cut of its batch. What
   * `metrics` records is the time from here to the outcome: the batcher's deliberate wait is not a sign of
   * load, and counted in `metrics.avgLatencyMs` it kept the load figure high on a trickle of events.
   */
  readyAt: number;
}

/**
 * The queue class of an event: its priority when NORMAL, HIGH or CRITICAL, else LOW — events from untyped
 * sources may carry anything (7, `undefined`, `NaN`, `'3'`), and such an event must still be queued.
 */
function classOf(event: Event): Priority {
  return priorityOf(event.priority, Priority.LOW);
}

/** One FIFO per priority class (`classOf`); dequeues the most urgent first. */
class PriorityQueue<P extends Pending> {
  readonly #classes = [new Deque<P>(), new Deque<P>(), new Deque<P>(), new Deque<P>()];
  length = 0;

  push(item: P): void {
    this.#classes[classOf(item.event)]!.push(item);
    this.length++;
  }

  shift(): P | undefined {
    for (let p = 3; p >= 0; p--) {
      if (this.#classes[p]!.length > 0) {
        this.length--;
        return this.#classes[p]!.shift();
      }
    }
    return undefined;
  }

  /** The lowest priority that has a queued event, or 4 when empty. */
  lowest(): number {
    for (let p = 0; p <= 3; p++) if (this.#classes[p]!.length > 0) return p;
    return 4;
  }

  shiftOf(priority: number): P | undefined {
    const item = this.#classes[priority]!.shift();
    if (item !== undefined) this.length--;
    return item;
  }

  popOf(priority: number): P | undefined {
    const item = this.#classes[priority]!.pop();
    if (item !== undefined) this.length--;
    return item;
  }

  drain(): P[] {
    const all: P[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) all.push(item);
    return all;
  }
}

type Settle = (failed: boolean, value: unknown) => void;

/** A handler's time limit: after `ms` on `scheduler`, it settles as failed with `error()`. */
interface Limit {
  readonly ms: number;
  readonly scheduler: SchedulerLike;
  readonly error: () => unknown;
  /** A scheduler that cannot time the handler (its `schedule()` threw or gave no `Subscription`). */
  readonly broken: (error: unknown) => void;
}

/**
 * Calls a handler and settles exactly once with its value or failure: synchronously for a plain value
 * or a synchronous Observable, later for a promise, or at `limit` — whichever comes first; the rest is
 * cancelled (an Observable unsubscribed, the timer cleared) or ignored (a promise). Returns what to
 * cancel on unsubscribe, or `undefined` when it settled synchronously.
 */
function invoke<R>(
  call: () => HandlerResult<R>,
  settle: Settle,
  limit: Limit | undefined,
): Subscription | undefined {
  let out: HandlerResult<R>;
  try {
    out = call();
  } catch (error) {
    settle(true, error);
    return undefined;
  }
  if (isObservable(out)) return settleLater(out, settle, limit);
  if (out !== null && typeof out === 'object' && typeof (out as PromiseLike<R>).then === 'function') {
    return settleLater(out as PromiseLike<R>, settle, limit);
  }
  // The hot path — a synchronous handler — allocates nothing.
  settle(false, out);
  return undefined;
}

/** `invoke` for a handler that answered an Observable or a promise: settles once, racing `limit`. */
function settleLater<R>(
  out: Observable<R> | PromiseLike<R>,
  settle: Settle,
  limit: Limit | undefined,
): Subscription | undefined {
  let handle: Subscription | undefined;
  let done = false;
  const once: Settle = (failed, value) => {
    if (done) return;
    done = true;
    handle?.unsubscribe();
    settle(failed, value);
  };
  if (isObservable(out)) {
    let got = false;
    const subscription = out.pipe(take(1)).subscribe({
      next(value) {
        got = true;
        once(false, value);
      },
      error: (error: unknown) => once(true, error),
      complete() {
        if (!got) once(true, new EmptyError());
      },
    });
    if (done) return undefined;
    handle = subscription;
  } else {
    handle = new Subscription();
    Promise.resolve(out).then(
      (value) => once(false, value),
      (error: unknown) => once(true, error),
    );
  }
  if (limit !== undefined) {
    try {
      handle.add(
        cancellable(
          limit.scheduler.schedule(() => once(true, limit.error()), limit.ms),
          'hybridProcess',
        ),
      );
    } catch (error) {
      // The handler is stopped and its event failed with the scheduler's error, which then ends the output.
      limit.broken(error);
      once(true, error);
      return undefined;
    }
  }
  return handle;
}

/** The figures of a `LoadSnapshot` (a `SystemLoad`'s fields). */
const LOAD_FIGURES: readonly (keyof LoadSnapshot)[] = [
  'cpuPercent',
  'memoryPercent',
  'eventLoopDelayMs',
  'eventLoopDelayMaxMs',
  'eventLoopUtilization',
  'queueDepth',
  'avgLatencyMs',
  'timestamp',
];

/**
 * A copy of a `load$` value without the figures that are no number (`'0.5'`, `null`), which are read as
 * missing, as `NaN` is read as not high: they reached `select` as they were (a string for a number),
 * and the default rule compared `'95'` as 95. Other keys (a custom field) are kept.
 */
function numbersOnly(snapshot: LoadSnapshot): LoadSnapshot {
  const copy: Record<string, unknown> = { ...snapshot };
  for (const figure of LOAD_FIGURES) {
    if (figure in copy && typeof copy[figure] !== 'number') delete copy[figure];
  }
  return copy as LoadSnapshot;
}

/**
 * Processes each event in the lane `selectMode` chooses for it, and emits exactly one outcome per event:
 * its result, an error, or — under a drop policy — a `dropped` outcome. Nothing vanishes, on complete
 * or on error: the source's error is forwarded only after every event received has its outcome. A
 * consumer that throws on an outcome ends the output the same way: the input stops (the source is left; a
 * synchronous source still inside `subscribe` is not read further), every event received still gets its
 * outcome, then the first failure errors the output (not thrown at the source, a timer or a handler's
 * promise).
 *
 * - IMMEDIATE: `immediate(event)` is called at once (up to `concurrency.immediate` in flight; waiting
 *   events are started most urgent first; a priority that is not a valid `Priority` counts as LOW). It
 *   never waits behind a batch: the lanes are independent.
 * - BATCHED: events go through `adaptiveBatch`; each batch is passed to `batch(events)` (up to
 *   `concurrency.batched` batches in flight) and its processing latency is reported back to the batcher.
 * - ASYNC: `background(event)` is called individually but never inside the source's emission — it is
 *   started from a scheduler task, `concurrency.async` at a time, in slices that yield to the event loop.
 *
 * Handlers may return a value, a promise or an Observable (its first value). A synchronous handler
 * settles synchronously, so an IMMEDIATE event with a synchronous handler is done before `next` returns.
 * With `timeoutMs`, a handler that has not settled in time is cancelled and its events get error
 * outcomes (`HANDLER_TIMEOUT`); without it, a handler that never settles holds its events forever.
 *
 * ```
 * batcher maxSize 10, timeoutMs 5 (minSize 1, minTimeoutMs 1); a, b NORMAL tool.used (BATCHED); C CRITICAL
 * (IMMEDIATE)
 * source:  -a-b-C----|
 * result:  -----C(ab)|       C overtakes the pending batch [a, b], emitted 5 ms after a
 * ```
 *
 * ## Example
 * ```ts
 * const metrics = new EventFlowMetrics();
 * events$.pipe(
 *   hybridProcess({
 *     immediate: (event) => notify(event),
 *     batch: (events) => store.append(events).then(() => events.map(() => 'stored')),
 *     load$: systemLoad$({ intervalMs: 1000, metrics }),
 *     metrics,
 *   }),
 * ).subscribe((outcome) => outcome.kind !== 'result' && log(outcome));
 * ```
 *
 * @param options the handlers, `load$`, `select`/`modes`, `batcher`, `concurrency`, `maxQueued`,
 *   `overflow`, `timeoutMs`, `gate`, `metrics` and `scheduler`.
 * @return an operator from events (`T`, the source's type, which the handlers and outcomes keep) to one
 *   `HybridOutput` per event.
 * @throws ConfigError at construction when a handler is missing, an option is out of range, a per-lane
 *   option names an unknown lane, `select`, `load$`, `metrics`, `gate`, `batcher` or `scheduler` is not
 *   what it must be, or an option's name is unknown (named with the nearest known one; in the `batcher` options
 *   and `modes` too).
 */
export function hybridProcess<R, T extends Event<object> = Event>(
  options: HybridProcessOptions<R, T>,
): OperatorFunction<T, HybridOutput<R, T>>;
export function hybridProcess<R, T extends Event = Event>(
  options: HybridProcessOptions<R, T>,
): OperatorFunction<T, HybridOutput<R, T>> {
  options = checkConfig('hybridProcess', options ?? null, OPTION_KEYS) as HybridProcessOptions<R, T>;
  refuseNull('hybridProcess', options, ['background', 'overflow']);
  const { immediate, batch, load$, metrics, gate } = options;
  if (typeof immediate !== 'function') throw new ConfigError('hybridProcess: immediate must be a function');
  if (typeof batch !== 'function') throw new ConfigError('hybridProcess: batch must be a function');
  const background = options.background ?? immediate;
  if (typeof background !== 'function') throw new ConfigError('hybridProcess: background must be a function');
  const scheduler = options.scheduler ?? asyncScheduler;
  if (options.select !== undefined && typeof options.select !== 'function') {
    throw new ConfigError(`hybridProcess: select must be a function, got ${shownText(options.select)}`);
  }
  if (options.select !== undefined && options.modes !== undefined) {
    // `modes` configures the default `select` only: with both, it would be ignored.
    throw new ConfigError(
      'hybridProcess: give select or modes, not both (modes configures the default select)',
    );
  }
  const select = options.select ?? createModeSelector(options.modes);
  // What is used of them, checked now: otherwise a TypeError at subscribe, or every event failing.
  if (
    load$ !== undefined &&
    typeof (load$ as Partial<Observable<LoadSnapshot>> | null)?.subscribe !== 'function'
  ) {
    throw new ConfigError(
      `hybridProcess: load$ must be an Observable of LoadSnapshot, got ${shownText(load$)}`,
    );
  }
  if (
    metrics !== undefined &&
    (typeof metrics?.record !== 'function' ||
      typeof metrics.recordError !== 'function' ||
      typeof metrics.recordDropped !== 'function' ||
      typeof metrics.gauge !== 'function')
  ) {
    throw new ConfigError(`hybridProcess: metrics must be an EventFlowMetrics, got ${shownText(metrics)}`);
  }
  if (gate !== undefined && (typeof gate?.hold !== 'function' || typeof gate.release !== 'function')) {
    throw new ConfigError(
      `hybridProcess: gate must be a FlowGate (createFlowGate()), got ${shownText(gate)}`,
    );
  }
  const concurrency = perLane('concurrency', options.concurrency, DEFAULT_CONCURRENCY);
  const maxQueued = perLane('maxQueued', options.maxQueued, {
    immediate: DEFAULT_MAX_QUEUED,
    batched: DEFAULT_MAX_QUEUED,
    async: DEFAULT_MAX_QUEUED,
  });
  const timeoutMs = laneTimeouts(options.timeoutMs);
  const overflow = options.overflow ?? 'block';
  if (!OVERFLOW_POLICIES.includes(overflow)) {
    throw new ConfigError(
      `hybridProcess: overflow must be one of ${OVERFLOW_POLICIES.join(', ')}, got ${shownText(overflow)}`,
    );
  }
  // A batcher passed as an operator is the caller's to share (to watch its config$). One made from
  // options is per subscription, like every other piece of state: two sources through the same
  // operator must not adapt each other's batches. This one is made only to check the options now.
  // What is used of an operator (its report()) is checked now too: a plain operator (bufferTime(…)) was a
  // TypeError out of the first batch's report, and options that are no object (5, true, null, an
  // array, a Map) were spread into none, the default batcher used without a word.
  const givenBatcher: unknown = options.batcher;
  if (
    givenBatcher !== undefined &&
    (typeof givenBatcher === 'function'
      ? typeof (givenBatcher as Partial<AdaptiveBatchOperator<T>>).report !== 'function'
      : !isFieldRecord(givenBatcher))
  ) {
    throw new ConfigError(
      `hybridProcess: batcher must be an adaptiveBatch() operator (with its report()) or its options (an object), got ${
        typeof givenBatcher === 'function' ? 'a function without report()' : shownText(givenBatcher)
      }`,
    );
  }
  const batcherOptions = typeof options.batcher === 'function' ? undefined : (options.batcher ?? {});
  const makeBatcher = (): AdaptiveBatchOperator<T> =>
    batcherOptions === undefined
      ? (options.batcher as AdaptiveBatchOperator<T>)
      : adaptiveBatch<T>({ scheduler, ...batcherOptions });
  makeBatcher();

  return (source) =>
    new Observable<HybridOutput<R, T>>((subscriber) => {
      const owner = {};
      const batcher = makeBatcher();
      const inFlight = new Set<Subscription>();
      let closed = false;
      let inputDone = false;
      let batcherDone = false;
      let failure: { error: unknown } | undefined;
      let droppedTotal = 0;
      // Events received whose outcome has not been emitted yet. The stream ends only at 0: lanes can be
      // idle while outcomes are still owed — a batch's outcomes are emitted one by one after its slot
      // is freed, and a consumer may end the source from the first of them.
      let owed = 0;

      // ---- load -----------------------------------------------------------------------------------
      let external: LoadSnapshot = {};
      let load: LoadSnapshot = {};
      // The larger of load$'s figure and the pipeline's own; a load$ figure that is missing, NaN or no
      // number ('5000', null) is the pipeline's own (Math.max gave NaN, which never counts as high: a
      // flooded pipeline passed for idle; '5000' > 3 compared as numbers and reached select as a string).
      const raised = (figure: unknown, own: number) =>
        typeof figure === 'number' && figure > own ? figure : own;
      const currentLoad = (): LoadSnapshot => {
        load.queueDepth = raised(external.queueDepth, queueDepth());
        load.avgLatencyMs = raised(external.avgLatencyMs, metrics?.avgLatencyMs ?? 0);
        return load;
      };

      // ---- clock -----------------------------------------------------------------------------------
      // The latencies are read on the scheduler given, else on performance.now(). A given one whose now()
      // gives no finite number (NaN, a string, Infinity) ends the output with a ConfigError, as the
      // other operators' clocks do, every event received still given its outcome, its times then the last
      // finite reading (0 before one): NaN latencies reached the batcher, whose report() threw a RangeError
      // that ended the output, and an `events.dropped` stamped NaN was an InvalidEventError thrown at the
      // source. One check of each reading, the one place the clock is read.
      let lastNow = 0;
      const clock =
        options.scheduler === undefined
          ? () => performance.now()
          : () => {
              const now: unknown = scheduler.now();
              if (Number.isFinite(now)) {
                lastNow = now as number;
              } else {
                endWith(clockError('hybridProcess', now));
              }
              return lastNow;
            };

      // ---- outcomes -------------------------------------------------------------------------------
      /** Of the outcome being emitted: from its event's `readyAt` to now (see `Pending.readyAt`). */
      let processingMs = 0;
      /** Of the outcome being emitted: its handler's time, its share of it for a batch (see `succeed`). */
      let busyMs = 0;
      const emit = (outcome: HybridOutput<R, T>) => {
        owed--;
        let metricsFailed = false;
        if (metrics !== undefined) {
          try {
            if (outcome.kind === 'result') metrics.record(outcome.event.type, processingMs, busyMs);
            else if (outcome.kind === 'error') metrics.recordError(outcome.event.type);
            else metrics.recordDropped(outcome.event.type);
          } catch (error) {
            // As a consumer's exception (below), after the outcome: thrown on, it lost the outcome.
            failure ??= { error };
            metricsFailed = true;
          }
        }
        try {
          subscriber.next(outcome);
        } catch (error) {
          // A consumer that throws on an outcome ends the output as a source error does: the input stops
          // (what it pushes afterwards is not read), every event received still gets its outcome, then
          // the first failure errors the output. Thrown on, it would skip the lane's bookkeeping (the next
          // queued event never started) and reach whoever settled the handler (a promise: unhandled).
          failure ??= { error };
          stopInput();
          return;
        }
        if (metricsFailed) stopInput();
      };
      /**
       * `busy` is what `metrics` counts as the stage's work on the event (`events_per_second`): its
       * handler's time, without its wait for a free slot; for a BATCHED event, its share of its batch's.
       */
      const succeed = (mode: ProcessingMode, item: Pending<T>, result: R, busy: number, now = clock()) => {
        processingMs = Math.max(0, now - item.readyAt);
        busyMs = busy;
        emit({
          kind: 'result',
          event: item.event,
          mode,
          result,
          latencyMs: Math.max(0, now - item.arrivedAt),
        });
      };
      const fail = (mode: ProcessingMode, item: Pending<T>, error: unknown) =>
        emit({
          kind: 'error',
          event: item.event,
          mode,
          error,
          latencyMs: Math.max(0, clock() - item.arrivedAt),
        });
      const drop = (mode: ProcessingMode, item: Pending<T>, policy: 'drop-oldest' | 'drop-newest') => {
        droppedTotal++;
        const { event } = item;
        const dropped = createEvent<EventsDroppedData>({
          type: 'events.dropped',
          priority: Priority.HIGH,
          // The scheduler given's time, checked (see `clock`); else asyncScheduler's, the epoch's ms.
          timestamp: options.scheduler === undefined ? scheduler.now() : clock(),
          data: {
            lane: mode,
            policy,
            limit: maxQueued[mode],
            event_id: event.id,
            event_type: event.type,
            event_priority: classOf(event),
            total: droppedTotal,
          },
          ...(event.sessionId === undefined ? {} : { sessionId: event.sessionId }),
        });
        emit({
          kind: 'dropped',
          event,
          mode,
          latencyMs: Math.max(0, clock() - item.arrivedAt),
          error: new VibespecError(
            'EVENT_DROPPED',
            `hybridProcess: ${mode} queue full (${maxQueued[mode]}), ${event.type} ${event.id} dropped (${policy})`,
          ),
          dropped,
        });
      };
      /**
       * A failure that ends the output (the source's, `load$`'s, the scheduler's): the input stops, every
       * event received still gets its outcome, then the first failure errors the output.
       */
      const endWith = (error: unknown) => {
        failure ??= { error };
        stopInput();
      };
      const limitOf = (mode: ProcessingMode): Limit | undefined =>
        Number.isFinite(timeoutMs[mode])
          ? {
              ms: timeoutMs[mode],
              scheduler,
              error: () =>
                new VibespecError(
                  'HANDLER_TIMEOUT',
                  `hybridProcess: the ${mode} handler did not settle within ${timeoutMs[mode]} ms (timeoutMs)`,
                ),
              broken: endWith,
            }
          : undefined;
      const limits: Record<ProcessingMode, Limit | undefined> = {
        immediate: limitOf(ProcessingMode.IMMEDIATE),
        batched: limitOf(ProcessingMode.BATCHED),
        async: limitOf(ProcessingMode.ASYNC),
      };
      const overflowError = (mode: ProcessingMode) =>
        new VibespecError(
          'BUFFER_OVERFLOW',
          `hybridProcess: ${mode} queue full (${maxQueued[mode]} events, overflow '${overflow}')`,
        );

      // ---- event lanes (IMMEDIATE and ASYNC) ---------------------------------------------------------
      interface EventLane {
        readonly mode: ProcessingMode;
        readonly handler: (event: T) => HandlerResult<R>;
        readonly queue: PriorityQueue<Pending<T>>;
        active: number;
        draining: boolean;
        /** ASYNC: the scheduled drain task, if one is pending. */
        task: Subscription | undefined;
      }
      const immediateLane: EventLane = {
        mode: ProcessingMode.IMMEDIATE,
        handler: immediate,
        queue: new PriorityQueue<Pending<T>>(),
        active: 0,
        draining: false,
        task: undefined,
      };
      const asyncLane: EventLane = {
        mode: ProcessingMode.ASYNC,
        handler: background,
        queue: new PriorityQueue<Pending<T>>(),
        active: 0,
        draining: false,
        task: undefined,
      };

      const start = (lane: EventLane, item: Pending<T>) => {
        lane.active++;
        // Read only for metrics: the clock is the costliest part of the hot path.
        const startedAt = metrics === undefined ? 0 : clock();
        let settled = false;
        let subscription: Subscription | undefined;
        subscription = invoke(
          () => lane.handler(item.event),
          (failed, value) => {
            if (settled || closed) return;
            settled = true;
            lane.active--;
            if (subscription !== undefined) inFlight.delete(subscription);
            if (failed) fail(lane.mode, item, value);
            else {
              const now = clock();
              succeed(lane.mode, item, value as R, Math.max(0, now - startedAt), now);
            }
            afterSettle(lane);
          },
          limits[lane.mode],
        );
        if (subscription !== undefined && !settled && !subscription.closed) inFlight.add(subscription);
        else subscription = undefined;
      };

      const drainLane = (lane: EventLane, budget: number) => {
        if (lane.draining) return;
        lane.draining = true;
        try {
          while (!closed && lane.active < concurrency[lane.mode] && lane.queue.length > 0 && budget-- > 0) {
            start(lane, lane.queue.shift()!);
          }
        } finally {
          lane.draining = false;
        }
        updateGate();
      };

      const scheduleAsync = () => {
        if (asyncLane.task !== undefined || closed || asyncLane.queue.length === 0) return;
        // No free slot: the settling handler reschedules.
        if (asyncLane.active >= concurrency.async) return;
        // A scheduler may run the task at once (queueScheduler outside another of its actions): kept, the
        // spent task would stand for a pending one (over the one it scheduled itself) and no later task
        // would ever be scheduled.
        let task: Subscription | undefined;
        try {
          task = scheduleLater(
            scheduler,
            () => {
              asyncLane.task = undefined;
              drainLane(asyncLane, BACKGROUND_SLICE);
              scheduleAsync();
              checkDone();
            },
            0,
            'hybridProcess',
          );
        } catch (error) {
          // No task can run the lane: each waiting event fails with the scheduler's error (was thrown at
          // the source's next, the event lost), which then ends the output.
          endWith(error);
          while (asyncLane.queue.length > 0) fail(ProcessingMode.ASYNC, asyncLane.queue.shift()!, error);
          updateGate();
          checkDone();
          return;
        }
        if (task !== undefined) asyncLane.task = task;
      };

      const afterSettle = (lane: EventLane) => {
        if (lane === immediateLane) drainLane(lane, Number.POSITIVE_INFINITY);
        else scheduleAsync();
        checkDone();
      };

      /**
       * Queues an event in an event lane, applying the overflow policy when the queue is full. The queue
       * is updated before any outcome is emitted, so a re-entrant event sees a consistent lane.
       */
      const enqueue = (lane: EventLane, item: Pending<T>) => {
        if (lane.queue.length < maxQueued[lane.mode]) {
          lane.queue.push(item);
          return;
        }
        if (overflow === 'block' || overflow === 'error') {
          fail(lane.mode, item, overflowError(lane.mode));
          return;
        }
        // The victim is of the lowest priority present, the incoming event included (it is the newest of
        // its class): a full queue never drops a CRITICAL event to keep a LOW one.
        const lowest = lane.queue.lowest();
        const priority = classOf(item.event);
        let victim = item;
        if (overflow === 'drop-oldest' ? lowest <= priority : lowest < priority) {
          victim = (overflow === 'drop-oldest' ? lane.queue.shiftOf(lowest) : lane.queue.popOf(lowest))!;
          lane.queue.push(item);
        }
        drop(lane.mode, victim, overflow);
      };

      const routeToLane = (lane: EventLane, item: Pending<T>) => {
        if (lane === immediateLane && lane.active < concurrency.immediate && lane.queue.length === 0) {
          start(lane, item);
          return;
        }
        enqueue(lane, item);
        if (lane === immediateLane) drainLane(lane, Number.POSITIVE_INFINITY);
        else scheduleAsync();
        updateGate();
      };

      // ---- the batched lane -----------------------------------------------------------------------
      const batchQueue = new Deque<Pending<T>[]>();
      const batchArrival = new Deque<Pending<T>>();
      let batchQueued = 0;
      let batchActive = 0;
      let batchDraining = false;
      let openBatch = 0;
      let batchSubscription: Subscription | undefined;

      const runBatch = (items: Pending<T>[]) => {
        batchActive++;
        const startedAt = clock();
        let settled = false;
        let subscription: Subscription | undefined;
        subscription = invoke(
          () => batch(items.map((item) => item.event)),
          (failed, value) => {
            if (settled || closed) return;
            settled = true;
            batchActive--;
            if (subscription !== undefined) inFlight.delete(subscription);
            let error: unknown = failed ? value : undefined;
            const results = value as readonly R[];
            if (!failed && (!Array.isArray(results) || results.length !== items.length)) {
              error = new VibespecError(
                'BATCH_RESULT_MISMATCH',
                `hybridProcess: batch() must return one result per event (${items.length}), got ${
                  Array.isArray(results) ? `${results.length} results` : typeof results
                }`,
              );
            }
            // The batch's latency is the handler's, taken before its outcomes go downstream.
            const latencyMs = Math.max(0, clock() - startedAt);
            for (let i = 0; i < items.length && !closed; i++) {
              if (error === undefined)
                succeed(ProcessingMode.BATCHED, items[i]!, results[i]!, latencyMs / items.length);
              else fail(ProcessingMode.BATCHED, items[i]!, error);
            }
            // Reported after its outcomes: a policy that shrinks the batch re-cuts the open one at once,
            // and a synchronous handler would emit that newer batch's outcomes before these.
            if (error === undefined && !closed) {
              try {
                batcher.report({ latencyMs, size: items.length });
              } catch (policyError) {
                failure ??= { error: policyError };
              }
            }
            if (failure !== undefined) stopInput();
            drainBatches();
            checkDone();
          },
          limits.batched,
        );
        if (subscription !== undefined && !settled && !subscription.closed) inFlight.add(subscription);
      };

      const drainBatches = () => {
        if (batchDraining) return;
        batchDraining = true;
        try {
          while (!closed && batchActive < concurrency.batched && batchQueue.length > 0) {
            const next = batchQueue.shift()!;
            batchQueued -= next.length;
            runBatch(next);
          }
        } finally {
          batchDraining = false;
        }
        updateGate();
      };

      const enqueueBatch = (items: Pending<T>[]) => {
        if (items.length === 0) return;
        batchQueue.push(items);
        batchQueued += items.length;
      };

      const onBatch = (events: T[]) => {
        // Once the batcher has failed (or been refused), nothing it emits is read.
        if (batcherDone) return;
        // A batch is the oldest routed events, in order (adaptiveBatch's are). A custom batcher's that is
        // not (one emitted before its input, or holding another object) threw a TypeError here, from
        // `batchArrival.shift()` undefined; it is refused as the batcher's error, every event still
        // waiting for a batch given an error outcome.
        const misfit = batchMisfit(events, batchArrival);
        if (misfit !== undefined) {
          // Refused inside its subscribe (a batch emitted at once), it is left by the teardown, the
          // output having ended then.
          batchSubscription?.unsubscribe();
          batcherFailed(
            new ConfigError(
              `hybridProcess: the batcher emitted ${misfit}; a batch must be the oldest events given to it ` +
                'and not yet batched, in order',
            ),
          );
          return;
        }
        // An empty batch (a `bufferTime` on a quiet interval) holds no event: `batch` is not called with
        // it, and no latency is reported for it (a policy would read a batch of 0 processed in 0 ms).
        if (events.length === 0) return;
        const items: Pending<T>[] = [];
        const cutAt = clock();
        for (let i = 0; i < events.length; i++) {
          const item = batchArrival.shift()!;
          item.readyAt = cutAt;
          items.push(item);
        }
        openBatch -= events.length;
        if (batchActive < concurrency.batched && batchQueue.length === 0) {
          runBatch(items);
          return;
        }
        const room = Math.max(0, maxQueued.batched - batchQueued);
        let rejected: Pending<T>[] = [];
        if (items.length <= room) {
          enqueueBatch(items);
        } else if (overflow === 'drop-oldest') {
          // The batched lane is FIFO: evict the oldest queued events, then the oldest incoming ones.
          let excess = items.length - room;
          while (excess > 0 && batchQueue.length > 0) {
            const head = batchQueue.peek()!;
            const evicted = head.splice(0, Math.min(excess, head.length));
            if (head.length === 0) batchQueue.shift();
            batchQueued -= evicted.length;
            excess -= evicted.length;
            rejected.push(...evicted);
          }
          rejected.push(...items.slice(0, excess));
          enqueueBatch(items.slice(excess));
        } else {
          enqueueBatch(items.slice(0, room));
          rejected = items.slice(room);
        }
        // Outcomes only after the queue is consistent (an outcome may push a re-entrant event).
        for (const item of rejected) {
          if (overflow === 'drop-oldest' || overflow === 'drop-newest')
            drop(ProcessingMode.BATCHED, item, overflow);
          else fail(ProcessingMode.BATCHED, item, overflowError(ProcessingMode.BATCHED));
        }
        drainBatches();
        checkDone();
      };

      /** The batcher failed, or was refused: every event it still held gets an error outcome. */
      const batcherFailed = (error: unknown) => {
        batcherDone = true;
        failure ??= { error };
        for (let item = batchArrival.shift(); item !== undefined; item = batchArrival.shift()) {
          fail(ProcessingMode.BATCHED, item, error);
        }
        openBatch = 0;
        stopInput();
        checkDone();
      };

      const batchInput = new Subject<T>();
      const routeToBatch = (item: Pending<T>) => {
        if (batcherDone) {
          fail(
            ProcessingMode.BATCHED,
            item,
            failure?.error ??
              new VibespecError(
                'LANE_CLOSED',
                'hybridProcess: the batcher completed; this event was not batched',
              ),
          );
          // Its outcome may be the last one owed: the input stopped at its arrival (a bad clock reading).
          checkDone();
          return;
        }
        batchArrival.push(item);
        openBatch++;
        batchInput.next(item.event);
      };

      // ---- queue depth, gate, completion ------------------------------------------------------------
      const queueDepth = () => immediateLane.queue.length + asyncLane.queue.length + batchQueued + openBatch;
      const unregisterGauge = metrics?.gauge(queueDepth);

      const updateGate = () => {
        if (gate === undefined || overflow !== 'block') return;
        const full =
          immediateLane.queue.length >= maxQueued.immediate / 2 ||
          asyncLane.queue.length >= maxQueued.async / 2 ||
          batchQueued >= maxQueued.batched / 2;
        if (full && !closed) gate.hold(owner);
        else gate.release(owner);
      };

      const idle = () =>
        immediateLane.active === 0 &&
        immediateLane.queue.length === 0 &&
        asyncLane.active === 0 &&
        asyncLane.queue.length === 0 &&
        batchActive === 0 &&
        batchQueue.length === 0;

      const checkDone = () => {
        if (closed || !inputDone || !batcherDone || owed > 0 || !idle()) return;
        if (failure !== undefined) subscriber.error(failure.error);
        else subscriber.complete();
      };

      let sourceSubscription: Subscription | undefined;
      let stopSourceEarly = false;
      /**
       * No more input: the source is left (held from before it started, so a synchronous source still
       * inside `subscribe` is not read further), the batcher flushed; outcomes of what was received
       * still come.
       */
      const stopInput = () => {
        if (inputDone) return;
        inputDone = true;
        if (sourceSubscription !== undefined) sourceSubscription.unsubscribe();
        else stopSourceEarly = true;
        batchInput.complete();
        checkDone();
      };

      // Subscribed once `checkDone` and `stopInput` exist: a batcher that completes or fails at once, inside
      // this subscribe, calls them (before, in their temporal dead zone: a ReferenceError reported as
      // unhandled, and a failing one did not stop the input). Failed at once, it stops the input before the
      // source starts, as a `load$` that fails at once does.
      batchSubscription = batchInput.pipe(batcher).subscribe({
        next: onBatch,
        error: batcherFailed,
        complete() {
          batcherDone = true;
          checkDone();
        },
      });

      // Not when the batcher failed at once: the output has ended, and a load$ (a `systemLoad$()` starts
      // its sampler) was subscribed for nothing, then left by the teardown.
      const loadSubscription = stopSourceEarly
        ? undefined
        : load$?.subscribe({
            next(value) {
              external = value ?? {};
              load = numbersOnly(external);
            },
            error: endWith,
          });

      // A `load$` or batcher that failed at once stopped the input before it started: the source is not read at all
      // (its events would come after the output ended, and get no outcome).
      if (!stopSourceEarly) {
        // Tied to the consumer before the source starts: a synchronous source stops when the consumer
        // leaves (its later events would be processed for nobody), and when a failure stops the input
        // while the consumer stays for the outcomes still owed (the consumer's exception, a load$ or
        // batcher error): its later events would get error outcomes for that failure.
        const input = linkedInput<T>(subscriber, {
          next(event) {
            owed++;
            const arrivedAt = clock();
            const item: Pending<T> = { event, arrivedAt, readyAt: arrivedAt };
            let mode: unknown;
            try {
              mode = select(event, currentLoad());
            } catch (error) {
              // A throwing select fails this event (reported as IMMEDIATE, the lane that reports at once).
              fail(ProcessingMode.IMMEDIATE, item, error);
              return;
            }
            if (!isProcessingMode(mode)) {
              const error = new VibespecError(
                'INVALID_MODE',
                `hybridProcess: select returned ${shownText(mode)}`,
              );
              fail(ProcessingMode.IMMEDIATE, item, error);
              return;
            }
            if (mode === ProcessingMode.IMMEDIATE) routeToLane(immediateLane, item);
            else if (mode === ProcessingMode.BATCHED) routeToBatch(item);
            else routeToLane(asyncLane, item);
          },
          error: endWith,
          complete: () => stopInput(),
        });
        sourceSubscription = input;
        startLinked(source, input);
      }

      return () => {
        closed = true;
        sourceSubscription?.unsubscribe();
        loadSubscription?.unsubscribe();
        batchSubscription.unsubscribe();
        asyncLane.task?.unsubscribe();
        for (const subscription of inFlight) subscription.unsubscribe();
        inFlight.clear();
        immediateLane.queue.drain();
        asyncLane.queue.drain();
        unregisterGauge?.();
        gate?.release(owner);
      };
    });
}
