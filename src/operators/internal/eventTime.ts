/**
 * @internal Event-time machinery shared by `temporalAggregate` and `sessionWindows`: option checks, the
 * per-partition watermark (observed from event times, and estimated from the scheduler clock while the
 * partition is quiet), arrival times read once per run (`ArrivalClock`), the due queue of partitions
 * (`DueQueue`), the single idle timer, the re-entrancy trampoline and the late-event factory.
 * Nothing here is part of the public API.
 */
import { type SchedulerAction, type SchedulerLike, Subscription } from 'rxjs';
import { ConfigError, readFields, rejectUnknownKeys, shownText } from '../../errors.js';
import { createEvent, type Event, isPlainObject, type NarrowedEvent, Priority } from '../../event.js';
import { isFieldRecord, isRecord } from '../../streams/payload.js';

// ---------------------------------------------------------------------------------------------------
// Option checks: fail at construction, with the operator and option named.

interface NumberRule {
  /** Smallest allowed value. */
  min: number;
  integer?: boolean;
  /** `Infinity` is allowed (it means "never" / "no limit"). */
  infinity?: boolean;
}

function describe(rule: NumberRule): string {
  // "A number >= 0, got Infinity" would refuse what it asks for: a rule without Infinity says finite.
  const kind = rule.integer ? 'an integer' : rule.infinity ? 'a number' : 'a finite number';
  return `${kind} >= ${rule.min}${rule.infinity ? ' (or Infinity)' : ''}`;
}

/** Reads a numeric option, or its default when absent; throws `ConfigError` when it breaks `rule`. */
export function numberOption(
  operator: string,
  name: string,
  value: unknown,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (value === Number.POSITIVE_INFINITY
      ? rule.infinity === true
      : Number.isFinite(value) && value >= rule.min && (!rule.integer || Number.isInteger(value)));
  if (!ok) {
    throw new ConfigError(`${operator}: ${name} must be ${describe(rule)}, got ${shownText(value)}`);
  }
  return value as number;
}

/** Reads a boolean option, or its default when absent. */
export function booleanOption(operator: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new ConfigError(`${operator}: ${name} must be a boolean, got ${typeof value}`);
  }
  return value;
}

/**
 * Checks the config object itself, its keys (when `known` is given: an unknown one is a `ConfigError`,
 * see `rejectUnknownKeys`) and its `scheduler`. Returns the config to use: with `known`, its fields each
 * read once (`readFields`), so that a getter runs once and the scheduler checked is the one used.
 */
export function checkConfig<C>(operator: string, config: C, known?: readonly string[]): C {
  // A Map or a Set has no own fields: its options would be ignored, without a word.
  if (config !== undefined && !isFieldRecord(config)) {
    throw new ConfigError(`${operator}: the config must be an object, got ${describeValue(config)}`);
  }
  if (known !== undefined) rejectUnknownKeys(operator, config, known);
  const read = known === undefined ? config : readFields(config, known);
  checkScheduler(operator, (read as { scheduler?: unknown } | undefined)?.scheduler);
  return read;
}

/** Whether `value` has the two methods of a `SchedulerLike`, `now()` and `schedule()`. */
export function isSchedulerLike(value: unknown): value is SchedulerLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SchedulerLike).now === 'function' &&
    typeof (value as SchedulerLike).schedule === 'function'
  );
}

/** A `scheduler` option, when given, must be a `SchedulerLike`; else a `ConfigError` starting with `where`. */
export function checkScheduler(where: string, scheduler: unknown): void {
  if (scheduler !== undefined && !isSchedulerLike(scheduler)) {
    throw new ConfigError(`${where}: scheduler must be a SchedulerLike (now() and schedule())`);
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'a Map';
  if (value instanceof Set) return 'a Set';
  return typeof value;
}

// ---------------------------------------------------------------------------------------------------
// Watermarks.

/**
 * The event-time progress of one partition (a session for `temporalAggregate`, a key for
 * `sessionWindows`). Watermarks are per partition so that one session's clock (or replay) never makes
 * another session's events late.
 */
export interface Partition {
  /** Highest event time seen (`-Infinity` before the first event). */
  maxTs: number;
  /**
   * The watermark: windows whose close point is `<=` it are closed. It is the higher of
   * `maxTs - allowedLatenessMs` and the last idle estimate; it never goes back.
   */
  wm: number;
  /** Scheduler time of the partition's latest arrival. */
  lastArrival: number;
}

/** Records the event time `ts` of an arrival (its scheduler time is recorded by an `ArrivalClock`). */
export function advance(p: Partition, ts: number, latenessMs: number): void {
  if (ts > p.maxTs) {
    p.maxTs = ts;
    const wm = ts - latenessMs;
    if (wm > p.wm) p.wm = wm;
  }
}

/**
 * The idle rule. Once the partition has been quiet for `idleFlushMs` of scheduler time, event time is
 * assumed to have moved on as fast as the scheduler clock since the latest arrival:
 * `wm = max(wm, maxTs - allowedLatenessMs + (now - lastArrival))`.
 */
export function estimate(p: Partition, now: number, latenessMs: number, idleFlushMs: number): void {
  const quiet = now - p.lastArrival;
  if (quiet < idleFlushMs) return;
  const wm = p.maxTs - latenessMs + quiet;
  if (wm > p.wm) p.wm = wm;
}

/** The scheduler time at which `estimate` will have moved the watermark to `closeAt`. */
export function dueAt(p: Partition, closeAt: number, latenessMs: number, idleFlushMs: number): number {
  return p.lastArrival + idleOffset(p, closeAt, latenessMs, idleFlushMs);
}

/** `dueAt` less the last arrival time: how long after it `estimate` reaches `closeAt`. */
export function idleOffset(p: Partition, closeAt: number, latenessMs: number, idleFlushMs: number): number {
  return Math.max(idleFlushMs, closeAt + latenessMs - p.maxTs);
}

// ---------------------------------------------------------------------------------------------------
// The idle timer: one scheduler action per subscription, whatever the number of partitions.

/**
 * setTimeout's limit, in ms: Node fires a longer timer at once (after 1 ms) rather than never. A timer
 * option above it is refused (`ConfigError`); a later due time is reached in several hops.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Reads a timer length option: a number of ms above 0 (from 0 with `allowZero`) up to `MAX_TIMER_MS`.
 * Anything else — `Infinity`, which Node would turn into 1 ms, included — is a `ConfigError` whose
 * message starts with `where` (`'persist: maxDelayMs'`).
 */
export function timerOption(where: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !(allowZero ? value >= 0 : value > 0) || value > MAX_TIMER_MS) {
    throw new ConfigError(
      `${where} must be ${allowZero ? 'a number of ms ≥ 0' : 'a positive number of ms'} up to ${MAX_TIMER_MS}, got ${shownText(value)}`,
    );
  }
  return value;
}

/**
 * @internal `scheduler.now()`, which must be a finite number of ms: `NaN`, a string or `±Infinity` is a
 * `ConfigError` starting with `where` (the operator, or the operator and its option). Read so only where
 * the clock places a timer or a time, never per event: a `NaN` due time re-armed a timer for ever, a
 * string was added to as text (a batch cut ~5,500 ms late on `'5'`), and `Infinity` ended every partial
 * match at the first sweep.
 */
export function clockTime(scheduler: SchedulerLike, where: string): number {
  const now: unknown = scheduler.now();
  if (typeof now !== 'number' || !Number.isFinite(now)) throw clockError(where, now);
  return now;
}

/** @internal The `ConfigError` of a `scheduler.now()` that gave `now`, no finite number (see `clockTime`). */
export function clockError(where: string, now: unknown): ConfigError {
  return new ConfigError(
    `${where}: the scheduler's now() must give a finite number of ms, got ${shownText(now)}`,
  );
}

/**
 * @internal The `ConfigError` of a scheduler that ran a timer of `delayMs` (> 0) at once, inside
 * `schedule()`: it is no clock. `why` says what would follow.
 */
export function ranAtOnce(where: string, delayMs: number, why: string): ConfigError {
  return new ConfigError(
    `${where}: the scheduler ran a timer of ${delayMs} ms at once, inside schedule(): ${why}; pass one that runs a delay later (asyncScheduler, a VirtualTimeScheduler, a TestScheduler)`,
  );
}

/**
 * @internal What `schedule()` returned, which must cancel the action: a value without `unsubscribe()`
 * (`undefined`, `{}`) is a `ConfigError` starting with `where`, the operator that armed it (it was a
 * TypeError, inside an `UnsubscriptionError`, when the timer was cancelled: thrown at whoever
 * unsubscribed).
 */
export function cancellable(value: unknown, where: string): Subscription {
  if (typeof (value as Subscription | null | undefined)?.unsubscribe !== 'function') {
    throw new ConfigError(
      `${where}: the scheduler's schedule() must return a Subscription (with unsubscribe()), got ${typeof value === 'object' && value !== null ? 'an object without unsubscribe()' : shownText(value)}`,
    );
  }
  return value as Subscription;
}

/**
 * @internal `scheduler.schedule(work, delay)`, or `undefined` when the scheduler ran `work` at once — as
 * `queueScheduler` does for a zero delay outside another of its actions — so that a caller does not keep
 * a spent action. With `rearms`, for a timer whose work may re-arm it, a scheduler that runs a positive
 * `delay` at once, inside `schedule()`, is no clock (the timer would fire before its time, and re-armed
 * from its work loop for ever): the work is not run, the action is cancelled, and a `ConfigError`
 * (`ranAtOnce`, starting with `where`) is thrown out of this call, as `schedulePeriodic` does. Without
 * it (a one-shot timer: a batch's timeout, a debounce) such a scheduler runs the work at once. An action
 * kept must be a `Subscription` (`cancellable`, its `ConfigError` starting with `where`: the operator).
 */
export function scheduleLater(
  scheduler: SchedulerLike,
  work: () => void,
  delay: number,
  where: string,
  rearms = false,
): Subscription | undefined {
  let inside = true;
  let ran = false;
  let early = false;
  let subscription: Subscription;
  try {
    subscription = scheduler.schedule(() => {
      if (inside && delay > 0 && rearms) {
        early = true;
        return;
      }
      if (inside) ran = true;
      work();
    }, delay);
  } finally {
    inside = false;
  }
  if (early) {
    subscription?.unsubscribe?.();
    throw ranAtOnce(where, delay, 'its timer would fire before its time and re-arm itself for ever');
  }
  return ran ? undefined : cancellable(subscription, where);
}

/** What the work of `schedulePeriodic` re-arms itself with: its action, or a stand-in (see there). */
export interface Rearm {
  schedule(state?: undefined, delay?: number): unknown;
}

/**
 * @internal `scheduler.schedule(work, delayMs)` for a periodic timer (`delayMs` > 0), whose `work`
 * re-arms itself with `this.schedule(undefined, delay)`. A scheduler that runs a positive delay at once,
 * inside `schedule()` (calling the work there, or from a queue it drains before returning), is no clock:
 * each tick would re-arm the next at once, and the timer would loop forever, holding the process. It is
 * refused with a `ConfigError` (`'<where>: …'`), thrown out of that `schedule()` call, before the work
 * runs. A scheduler that calls the work without its action as `this` (a plain object wrapping another,
 * calling `work()`) gets each next run scheduled anew: `this.schedule` was a TypeError there, thrown from
 * the timer (uncaught, for a source). One whose `schedule()` returns no `Subscription` is refused
 * (`cancellable`). The subscription returned cancels whichever run is pending.
 */
export function schedulePeriodic(
  scheduler: SchedulerLike,
  work: (this: Rearm) => void,
  delayMs: number,
  where: string,
): Subscription {
  const timer = new Subscription();
  let pending: Subscription | undefined;
  let inside = true;
  const rearm: Rearm = {
    schedule(_state, delay) {
      if (timer.closed) return;
      if (pending !== undefined) timer.remove(pending);
      pending = scheduler.schedule(run, delay);
      timer.add(pending);
    },
  };
  function run(this: SchedulerAction<unknown> | undefined): void {
    if (inside) {
      throw ranAtOnce(where, delayMs, 'its timer would loop forever');
    }
    work.call(typeof this?.schedule === 'function' ? this : rearm);
  }
  try {
    pending = cancellable(scheduler.schedule(run, delayMs), where);
    timer.add(pending);
  } finally {
    inside = false;
  }
  return timer;
}

/**
 * One pending scheduler action that fires at the earliest due time asked for. The owner re-arms it
 * from its `fire` callback with the next due time.
 */
export class IdleTimer {
  private subscription: Subscription | undefined = undefined;
  private due = Number.POSITIVE_INFINITY;
  private armedAt = Number.NaN;
  /** The clock time the pending action is due at: when it was armed plus the delay it was armed with. */
  private firesAt = Number.NaN;
  /**
   * The scheduled work, made once: a closure made inside `request` would have V8 allocate a context for
   * it at every call, the early returns included.
   */
  private readonly expire = () => {
    this.subscription = undefined;
    this.due = Number.POSITIVE_INFINITY;
    this.fire(this.firesAt);
  };

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly idleFlushMs: number,
    /**
     * The tick, given the clock time its action was due at (the time it was armed at plus its delay): a
     * clock read then may show less, when it went back while the action waited.
     */
    private readonly fire: (firesAt: number) => void,
    /** What a `ConfigError` of a scheduler that runs the timer at once starts with (the operator). */
    private readonly where: string,
  ) {}

  /**
   * Asks for a tick at `due` or earlier. For an arrival (`arrival` true) `due >= now + idleFlushMs` holds
   * (every due time computed at an arrival is), which lets a burst of arrivals at one instant re-arm the
   * timer at most twice: once exactly, then once at that lower bound, which covers every later request of
   * the instant. A tick re-arming the timer passes `arrival` false and always gets its exact time.
   */
  request(due: number, now: number, arrival: boolean): void {
    if (due >= this.due) return;
    let at = due;
    if (arrival && this.armedAt === now) {
      at = now + this.idleFlushMs;
      if (at >= this.due) return;
    }
    this.subscription?.unsubscribe();
    this.armedAt = now;
    this.due = at;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - now));
    // Set before scheduling: a scheduler may run a zero delay at once.
    this.firesAt = now + delay;
    // Kept only if not run already: a synchronous `fire` may have armed the next one.
    const subscription = scheduleLater(this.scheduler, this.expire, delay, this.where, true);
    if (subscription !== undefined) this.subscription = subscription;
  }

  cancel(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.due = Number.POSITIVE_INFINITY;
  }
}

// ---------------------------------------------------------------------------------------------------
// Arrival times: one clock read per run of arrivals.

/** A partition whose arrival time an `ArrivalClock` records. */
export interface Arriving extends Partition {
  /** Arrived in the current run: `lastArrival` is read at its end. */
  arriving: boolean;
}

/**
 * The most partitions a run of arrivals holds before it is settled: one clock read per this many, and no
 * more partitions kept alive by a run than this, however many a synchronous source reaches.
 */
const MAX_RUN = 1_024;

/**
 * Records the scheduler time of arrivals with one clock read per run of arrivals rather than one per
 * event: the clock of a real scheduler is a system call (`Date.now()`, ~40-70 ns), more than the rest of
 * the work of most events. An arrival marks its partition and asks, once per run, for a zero-delay action
 * on the scheduler; that action (or an idle tick, whichever runs first) reads the clock once and settles
 * the run: every partition that had an arrival gets that time as its `lastArrival`.
 *
 * On a virtual clock the action runs at the instant of the arrivals, so `lastArrival` is exactly the
 * arrival time, as before. On a real clock it is the end of the synchronous run the event came in (the
 * action runs after it), or, for the first `MAX_RUN` partitions of a longer run, the end of the event that
 * made the `MAX_RUN`th arrive: never earlier than the arrival, so the idle rule waits at least
 * `idleFlushMs` from the real arrival and never closes a window earlier than per-event reads would.
 *
 * The idle timer requests of the run are kept as offsets from the arrival time. Only a request below all
 * earlier ones of the run can change the timer (`IdleTimer.request`: a request at or after its due time
 * is a no-op, and each one re-arms it at a time no later than the request), so the strictly decreasing
 * ones are kept and replayed in order when the run settles: the timer ends up armed as if each request
 * had been made at its arrival.
 */
export class ArrivalClock<P extends Arriving> {
  private readonly run: P[] = [];
  private readonly offsets: number[] = [];
  private action: Subscription | undefined = undefined;
  /**
   * The end-of-run action, made once: `arrive` runs for every event, and a closure made inside it would
   * have V8 allocate a context for it at every call (~40 bytes and ~15 ns an event), returns included.
   */
  private readonly ended = () => {
    this.action = undefined;
    this.endOfRun();
  };

  constructor(
    private readonly scheduler: SchedulerLike,
    /** Called (by the scheduler) at the end of a run; the owner settles it through its serializer. */
    private readonly endOfRun: () => void,
    /**
     * Given what the scheduler threw when the end of a run was scheduled (its `schedule()` threw, or
     * returned no `Subscription`): the owner ends its output with it, once the arriving event is handled.
     */
    private readonly failed: (error: unknown) => void = (error) => {
      throw error;
    },
    /** What a `ConfigError` about the scheduler starts with (the operator). */
    private readonly where: string,
  ) {}

  /**
   * An arrival in `p`, now. A run of `MAX_RUN` partitions is settled at once (the end-of-run action still
   * settles what arrives after): a source that pushes without letting the event loop turn (an array, a
   * loop over a `Subject`) made one run of every partition it reached, each held until the run ended,
   * those the operator had forgotten (`maxIdleSessions`, `maxIdleKeys`) too: 100,000 sessions so pushed
   * held ~50 MB more than 10,000.
   */
  arrive(p: P): void {
    if (p.arriving) return;
    p.arriving = true;
    if (this.run.push(p) === MAX_RUN) this.endOfRun();
    if (this.action === undefined) this.startRun();
  }

  /** The first arrival of a run: schedules its end (out of `arrive`, which is inlined per event). */
  private startRun(): void {
    // Kept only if not run already: the run is then settled, and a spent action would block every later
    // run (while a run that `endOfRun` started may have scheduled its own).
    // Thrown from here, it cut the arriving event's handling short: that event was lost.
    let action: Subscription | undefined;
    try {
      action = scheduleLater(this.scheduler, this.ended, 0, this.where);
    } catch (error) {
      this.failed(error);
      return;
    }
    if (action !== undefined) this.action = action;
  }

  /** Asks for an idle tick `offset` ms after the current arrival. */
  request(offset: number): void {
    const n = this.offsets.length;
    if (n === 0 || offset < this.offsets[n - 1]!) this.offsets.push(offset);
  }

  /** Whether arrivals await their time. */
  get pending(): boolean {
    return this.run.length > 0;
  }

  /**
   * Gives the run's partitions the arrival time `now`, calls `each` on them, and replays the run's
   * timer requests on `timer` (an idle tick passes none: it re-arms the timer itself).
   */
  settle(now: number, each: (p: P) => void, timer: IdleTimer | undefined): void {
    const run = this.run;
    for (let i = 0; i < run.length; i++) {
      const p = run[i]!;
      p.lastArrival = now;
      p.arriving = false;
      each(p);
    }
    run.length = 0;
    if (timer !== undefined) {
      const offsets = this.offsets;
      for (let i = 0; i < offsets.length; i++) timer.request(now + offsets[i]!, now, true);
    }
    this.offsets.length = 0;
  }

  cancel(): void {
    this.action?.unsubscribe();
    this.action = undefined;
    for (let i = 0; i < this.run.length; i++) this.run[i]!.arriving = false;
    this.run.length = 0;
    this.offsets.length = 0;
  }
}

// ---------------------------------------------------------------------------------------------------
// Due queue: the partitions with an open window, by the time the idle rule makes one due.

/** An entry of a `DueQueue`. */
export interface Queued {
  /** The scheduler time it is due at (its key). */
  due: number;
  /** Its place in the queue, -1 when not in it. */
  slot: number;
}

/**
 * A binary min-heap of partitions by due time, with update and removal in O(log n): a tick takes out
 * only the due partitions instead of visiting every open one, and the earliest due time is its top.
 */
export class DueQueue<T extends Queued> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The earliest due time, `Infinity` when empty. */
  get next(): number {
    return this.heap.length === 0 ? Number.POSITIVE_INFINITY : this.heap[0]!.due;
  }

  /** Puts `item` in the queue, or moves it, with due time `due`. */
  set(item: T, due: number): void {
    if (item.slot < 0) {
      item.due = due;
      item.slot = this.heap.length;
      this.heap.push(item);
      this.up(item.slot);
    } else if (due < item.due) {
      item.due = due;
      this.up(item.slot);
    } else if (due > item.due) {
      item.due = due;
      this.down(item.slot);
    }
  }

  delete(item: T): void {
    const slot = item.slot;
    if (slot < 0) return;
    item.slot = -1;
    const last = this.heap.pop()!;
    if (last === item) return;
    this.heap[slot] = last;
    last.slot = slot;
    this.up(slot);
    this.down(last.slot);
  }

  /** Takes out and returns the earliest item if it is due at or before `time`. */
  pop(time: number): T | undefined {
    const top = this.heap[0];
    if (top === undefined || top.due > time) return undefined;
    this.delete(top);
    return top;
  }

  clear(): void {
    for (const item of this.heap) item.slot = -1;
    this.heap.length = 0;
  }

  /** The items for which `test` holds, in no order (a copy: `set` may be called on each). */
  filter(test: (item: T) => boolean): T[] {
    return this.heap.filter(test);
  }

  private up(slot: number): void {
    const heap = this.heap;
    const item = heap[slot]!;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      const above = heap[parent]!;
      if (above.due <= item.due) break;
      heap[slot] = above;
      above.slot = slot;
      slot = parent;
    }
    heap[slot] = item;
    item.slot = slot;
  }

  private down(slot: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[slot]!;
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.due < heap[child]!.due) child++;
      const below = heap[child]!;
      if (below.due >= item.due) break;
      heap[slot] = below;
      below.slot = slot;
      slot = child;
    }
    heap[slot] = item;
    item.slot = slot;
  }
}

// ---------------------------------------------------------------------------------------------------
// Re-entrancy: an emission can make a downstream consumer push into the source synchronously. Inputs
// that arrive while one is being handled are queued and handled after it, so the outputs of input n
// always precede those of input n + 1 and no handler ever runs inside another.

export const NEXT = 0;
export const ERROR = 1;
export const COMPLETE = 2;
export const TICK = 3;
/** The end of a run of arrivals (`ArrivalClock`). */
export const SETTLE = 4;
export type Signal = typeof NEXT | typeof ERROR | typeof COMPLETE | typeof TICK | typeof SETTLE;

/**
 * What a `Serializer` hands its signals to: an object with methods rather than callbacks, so that the
 * calls keep one target across subscriptions (see `Aggregation` in `temporalAggregate.ts`).
 */
export interface SerialHandler {
  /** An input value. */
  onValue(value: unknown): void;
  /** Any other signal, with its value. */
  onSignal(signal: Signal, value: unknown): void;
  /**
   * A handler threw `error`. The signals queued behind the one that failed are still handled after this
   * call, in order (an exception from one of them comes here too): what they carry is not lost. To end
   * with the error, queue a signal for it here (`WindowShell` queues `ERROR` and leaves its source).
   */
  onFailure(error: unknown): void;
}

/**
 * Runs signals one at a time: a signal that arrives while one is being handled is queued and handled
 * after it. An exception thrown by a handler (a user callback, a bug, a consumer that throws) goes to
 * `onFailure`, never out of the source's `next`; the signals queued behind the failed one (values a
 * consumer pushed re-entrantly before it threw, a `COMPLETE` or `ERROR`, ticks) are then still handled,
 * in order, each exception of theirs going to `onFailure` too: they are not dropped with the queue. An
 * input value (`next`, the hot path) goes straight to `onValue`; the other signals to `onSignal`.
 * (`correlate` and `pattern` use `TaskSerializer` in `keyed.ts`, which queues closures and hands an
 * exception to a callback the same way.)
 */
export class Serializer {
  private busy = false;
  private readonly queue: unknown[] = [];

  constructor(private readonly handler: SerialHandler) {}

  /** An input value (`NEXT`). */
  next(value: unknown): void {
    if (this.busy) this.queue.push(NEXT, value);
    else this.enter(NEXT, value);
  }

  /** Any signal. */
  signal(signal: Signal, value?: unknown): void {
    if (this.busy) this.queue.push(signal, value);
    else this.enter(signal, value);
  }

  private enter(signal: Signal, value: unknown): void {
    this.busy = true;
    const queue = this.queue;
    // The queue entry being handled (-2: the signal passed in), for the failure path.
    let i = -2;
    try {
      this.run(signal, value);
      for (i = 0; i < queue.length; i += 2) this.run(queue[i] as Signal, queue[i + 1]);
    } catch (error) {
      this.recover(error, i + 2);
    } finally {
      if (queue.length > 0) queue.length = 0;
      this.busy = false;
    }
  }

  /**
   * A handler threw `error`: reports it, then handles the signals queued behind the failed one, from
   * `from` on (and those they queue in turn), each exception reported too. Out of `enter`, whose normal
   * flow is per-event code.
   */
  private recover(error: unknown, from: number): void {
    const queue = this.queue;
    this.report(error);
    for (let i = from; i < queue.length; i += 2) {
      try {
        this.run(queue[i] as Signal, queue[i + 1]);
      } catch (again) {
        this.report(again);
      }
    }
  }

  /**
   * Hands `error` to `onFailure`. What `onFailure` throws (leaving a source whose teardown throws) is
   * handed to it in turn, so that it cannot cut the queued signals off.
   */
  private report(error: unknown): void {
    try {
      this.handler.onFailure(error);
    } catch (again) {
      this.handler.onFailure(again);
    }
  }

  private run(signal: Signal, value: unknown): void {
    if (signal === NEXT) this.handler.onValue(value);
    else this.handler.onSignal(signal, value);
  }
}

// ---------------------------------------------------------------------------------------------------
// Events.

/**
 * The canonical order of events inside a window: by event time, then by id. It does not depend on the
 * arrival order, which is what makes a live run and a replay produce identical windows.
 */
export function canonicalOrder(a: Event, b: Event): number {
  return a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Whether an event `id` of `value` can be compared with `<` (windows order their events by time, then
 * id): a null-prototype object or a Symbol cannot.
 */
export function isComparable(value: unknown): boolean {
  try {
    // The comparison's result does not matter, only that it can be made.
    (value as string) < '';
    return true;
  } catch {
    return false;
  }
}

/** Whether `b` may follow `a` in canonical order. */
export function inOrder(a: Event, b: Event): boolean {
  return a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.id <= b.id);
}

/** A valid priority, or `fallback` (events from untyped sources may carry anything). */
export function priorityOf(value: unknown, fallback: Priority = Priority.NORMAL): Priority {
  return value === 0 || value === 1 || value === 2 || value === 3 ? value : fallback;
}

/** A session id `createEvent` accepts, or `undefined`. */
export function sessionIdOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * A context `createEvent` accepts (a plain object: prototype `Object.prototype` or `null`), or
 * `undefined`. Any other object (a `Map`, a class instance) is left out of what the operators make: a
 * late event built with it failed `createEvent`, which errored the output and lost the late event.
 */
export function contextOf(value: unknown): Record<string, unknown> | undefined {
  return isPlainObject(value) ? value : undefined;
}

/** Why an event was judged late. */
export type LateReason = 'window_closed' | 'behind_watermark';

/**
 * `data` of a late event: the original event, untouched, and why it missed its window. `T`: the type of
 * the operator's input events (`Event` by default).
 */
export interface LateEventData<T extends Event<object> = Event> extends Record<string, unknown> {
  /** The input event, as it arrived. */
  event: T;
  /**
   * `window_closed`: the window its time falls in was already emitted. `behind_watermark`: it would
   * open a window whose close point the watermark had already reached.
   */
  reason: LateReason;
  /** The watermark of its partition when it arrived. */
  watermark: number;
}

/** `event.data` when `event` is an object with an object `data` (a guard's first check), else undefined. */
export function dataOf(event: unknown): Record<string, unknown> | undefined {
  if (!isRecord(event)) return undefined;
  const data = event.data;
  return isRecord(data) ? data : undefined;
}

/** Whether `value` is a `{ start, end }` of numbers (`time_span`, `window`). */
export function isRange(value: unknown): value is { start: number; end: number } {
  return isRecord(value) && typeof value.start === 'number' && typeof value.end === 'number';
}

/** Whether `value` is a `{ name, message }` of strings: the `error` of `correlation.error` and `pattern.error`. */
export function isErrorShape(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { name, message } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof message === 'string';
}

/**
 * Whether `event` is a late event of `temporalAggregate` (`<type>.late`) or `sessionWindows`
 * (`session.window.late`), narrowing its `data` to `LateEventData`: the input event it carries, why it
 * was late and the watermark. Checks the type's suffix and the shape of `data`. On the output of
 * `temporalAggregate<T>()` or `sessionWindows<T>()` it narrows to `Event<LateEventData<T>>`, keeping `T`
 * (`NarrowedEvent`); the parameter's `Readonly<Event<LateEventData>>` only lets it name that default.
 *
 * ```ts
 * events$.pipe(temporalAggregate(), filter(isLateEvent)).subscribe((late) => log(late.data.event));
 * ```
 */
export function isLateEvent<E extends Event<object> = Event>(
  event: E | Readonly<Event<LateEventData>>,
): event is NarrowedEvent<E, LateEventData, never, LateEventData<Event<object>>> {
  const data = dataOf(event);
  if (data === undefined || typeof event.type !== 'string' || !event.type.endsWith('.late')) return false;
  const inner = data.event;
  if (!isRecord(inner)) return false;
  const innerType = inner.type;
  return (
    (data.reason === 'window_closed' || data.reason === 'behind_watermark') &&
    typeof data.watermark === 'number' &&
    // sessionWindows' carries an event of any type; temporalAggregate's, one of the type it names.
    (event.type === 'session.window.late' ||
      (typeof innerType === 'string' && event.type === `${innerType}.late`))
  );
}

/** Wraps a late input event as a new event of type `type`, keeping its time, priority and session. */
export function lateEvent(
  type: string,
  event: Event,
  reason: LateReason,
  watermark: number,
): Event<LateEventData> {
  const sessionId = sessionIdOf(event.sessionId);
  const context = contextOf(event.context);
  return createEvent<LateEventData>({
    type,
    data: { event, reason, watermark },
    priority: priorityOf(event.priority),
    timestamp: event.timestamp,
    ...(context === undefined ? {} : { context }),
    ...(sessionId === undefined ? {} : { sessionId }),
  });
}
