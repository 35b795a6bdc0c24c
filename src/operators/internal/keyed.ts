/**
 * @internal Pieces shared by the keyed, event-time operators (`correlate`, `pattern`): config errors from
 * zod issues, the per-key event clock, least-recently-active eviction, error-report rate limiting and a
 * re-entrancy guard. Not part of the public API.
 */
import { Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { z } from 'zod';
import { ConfigError, shownText } from '../../errors.js';
import { isFieldRecord } from '../../streams/payload.js';
import { clockTime, MAX_TIMER_MS, type Rearm, schedulePeriodic } from './eventTime.js';
import { subscribeLinked } from './linked.js';

// ---------------------------------------------------------------------------------------------------
// Config validation

/**
 * What each field of an argument must be, as a message says it (`an integer >= 1`), by field name; the
 * fields of its items (a group, a step) under `items`.
 */
export interface ConfigRules {
  /** The argument as its messages name it: `options`, `groups`, `steps`. */
  readonly argument: string;
  /** What the argument must be, for an issue of the argument as a whole. */
  readonly expected: string;
  /** Which argument it is, for an issue of the argument as a whole: `the first argument`. */
  readonly position: string;
  readonly fields: Readonly<Record<string, string>>;
  /** For an array argument: what each item must be (its fields are in `fields`). */
  readonly item?: string;
  /**
   * For an array argument: what a message adds when the argument is an object (the options, or one item,
   * given where the array goes), after what was passed: `the first argument is the groups (an array, one
   * group too: [group]); the options go second`.
   */
  readonly misplaced?: string;
}

/**
 * Validates `value` against `schema` and throws a `ConfigError` (code `INVALID_CONFIG`, zod's error as
 * its `cause`) in the form of the other operators' option checks: each bad field named with what it
 * must be and what it was (`correlate: maxSessions must be an integer >= 1, got 0`, `pattern: steps[1]
 * name must be a non-empty string, got ''`); an issue of a rule across fields (`params: { rule: true }`:
 * a duplicate name, a rule of the steps) keeps its words. Unknown keys are the callers' to refuse first (`rejectUnknownKeys`), with a
 * "did you mean". Returns nothing: callers keep their own values (zod would copy them, and rules are
 * compared by identity).
 */
export function validateConfig(
  operator: string,
  schema: z.ZodType,
  value: unknown,
  rules: ConfigRules,
): void {
  const result = schema.safeParse(value);
  if (result.success) return;
  const parts = result.error.issues.map((issue) => {
    const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
    const items = rules.item !== undefined && typeof path[0] === 'number';
    // The field is the last name in the path: `eventTypes` for an issue of `eventTypes[1]`.
    const last = path.findLastIndex((key) => typeof key === 'string');
    const fieldPath = last === -1 ? path.slice(0, items ? 1 : 0) : path.slice(0, last + 1);
    const where = items
      ? `${rules.argument}[${path[0]}]${fieldPath.length > 1 ? ` ${fieldPath.slice(1).join('.')}` : ''}`
      : fieldPath.length > 0
        ? fieldPath.join('.')
        : `${rules.argument} (${rules.position})`;
    const expected = last !== -1 ? rules.fields[path[last] as string] : items ? rules.item : rules.expected;
    // A rule across fields (a duplicate name, an optional last step) keeps its words.
    const rule = issue.code === 'custom' && issue.params?.rule === true;
    if (rule || expected === undefined) {
      return `${items || path.length === 0 ? where : path.join('.')}: ${issue.message}`;
    }
    const misplaced = path.length === 0 && rules.misplaced !== undefined && isPlainObject(value);
    return `${where} must be ${expected}, got ${shownText(valueAt(value, fieldPath))}${misplaced ? `: ${rules.misplaced}` : ''}`;
  });
  throw new ConfigError(`${operator}: ${parts.join('; ')}`, { cause: result.error });
}

/** Whether `value` is an object of fields (`isFieldRecord`), as options are; never throws (a revoked proxy). */
function isPlainObject(value: unknown): boolean {
  try {
    return isFieldRecord(value);
  } catch {
    return false;
  }
}

/** The value at `path` in `value`, as far as it can be read (a getter may throw). */
function valueAt(value: unknown, path: ReadonlyArray<string | number>): unknown {
  let current = value;
  try {
    for (const key of path) current = (current as Record<string | number, unknown> | undefined)?.[key];
  } catch {
    return undefined;
  }
  return current;
}

// ---------------------------------------------------------------------------------------------------
// Reading hostile input

/** The key an event is grouped by when it has no usable session id. */
export const ANONYMOUS = '';

/** A session id usable as a key: a non-empty string, else `ANONYMOUS`. */
export function sessionKeyOf(sessionId: unknown): string {
  return typeof sessionId === 'string' && sessionId.length > 0 ? sessionId : ANONYMOUS;
}

/**
 * The event time used for a key: the event's timestamp, never earlier than the key's previous one
 * (late events are treated as arriving at the key's latest time, so windows only slide forward), and
 * the previous one (or `fallback`) when the timestamp is not a finite number >= 0.
 */
export function clampTime(timestamp: unknown, previous: number, fallback: number): number {
  if (typeof timestamp === 'number' && timestamp >= 0 && timestamp >= previous && timestamp !== Infinity) {
    return timestamp;
  }
  return previous !== Number.NEGATIVE_INFINITY ? previous : fallback;
}

/** An event timestamp usable as event time (a finite number >= 0), or `undefined`. */
export function finiteTime(timestamp: unknown): number | undefined {
  return typeof timestamp === 'number' && timestamp >= 0 && timestamp !== Infinity ? timestamp : undefined;
}

/** An error as JSON-friendly event data. */
export function describeError(error: unknown): { name: string; message: string; code?: string } {
  try {
    if (error instanceof Error) {
      const code = (error as { code?: unknown }).code;
      return typeof code === 'string'
        ? { name: error.name, message: error.message, code }
        : { name: error.name, message: error.message };
    }
    return { name: 'Error', message: String(error) };
  } catch {
    return { name: 'Error', message: 'unprintable error' };
  }
}

// ---------------------------------------------------------------------------------------------------
// The first exception: a consumer that throws on one output does not stop the others

/**
 * Calls `each` on every item in order, also after it throws on an earlier one, then throws the first
 * exception. For the rare paths (a batch of ends, an eviction, a flush), never per input: the caller
 * makes `each`, a closure, at every call.
 */
export function forEachThenThrow<T>(items: readonly T[], each: (item: T, index: number) => void): void {
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < items.length; i++) {
    try {
      each(items[i]!, i);
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}

/**
 * Handles an input that cannot be read (a throwing getter): calls `report` (its error report), then
 * passes it through (`emit`; none without it), also when the consumer throws on the report; then throws
 * the first exception. For the rare path only: `report` is made (bound) at every call.
 */
export function reportThenPass<T>(
  report: () => void,
  emit: ((input: T) => void) | undefined,
  input: T,
): void {
  let failure: { error: unknown } | undefined;
  try {
    report();
  } catch (error) {
    failure = { error };
  }
  try {
    emit?.(input);
  } catch (error) {
    failure ??= { error };
  }
  if (failure !== undefined) throw failure.error;
}

// ---------------------------------------------------------------------------------------------------
// Bounded key maps

/** Per-key state that records when its key was last active (a sequence number, not a clock). */
export interface Recency {
  seen: number;
}

/**
 * Makes room in a full map by removing the least recently active eighth of its entries (at least one),
 * oldest first, calling `onEvict` for each once it is out of the map. Evicting a batch keeps the cost
 * amortized O(log n) per insertion instead of a scan per insertion. When `onEvict` throws, the rest of
 * the batch is still evicted (each entry leaves the map before its call, so none stays behind to be
 * evicted or flushed again), then the first exception is thrown.
 */
export function evictLeastRecent<K, V extends Recency>(
  map: Map<K, V>,
  onEvict: (key: K, value: V) => void,
): void {
  const count = Math.max(1, Math.ceil(map.size / 8));
  const entries = [...map.entries()].sort((a, b) => a[1].seen - b[1].seen).slice(0, count);
  forEachThenThrow(entries, ([key, value]) => {
    map.delete(key);
    onEvict(key, value);
  });
}

// ---------------------------------------------------------------------------------------------------
// Rate-limited error reports

/**
 * Decides which errors of one source (a group's rule, a pattern's predicates) are reported as events:
 * the first one, then at most one per `intervalMs` of event time, each carrying how many were
 * suppressed since the previous report. A rule that throws on every event cannot flood the stream.
 */
export class ErrorGate {
  private lastReport = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(private readonly intervalMs: number) {}

  /** The number of errors suppressed since the last report if this one is to be reported, else -1. */
  admit(now: number): number {
    if (now - this.lastReport >= this.intervalMs || this.lastReport === Number.NEGATIVE_INFINITY) {
      this.lastReport = now;
      const suppressed = this.suppressed;
      this.suppressed = 0;
      return suppressed;
    }
    this.suppressed++;
    return -1;
  }
}

// ---------------------------------------------------------------------------------------------------
// Re-entrancy

/** What `serializedOperator` drives: one engine per subscription (correlate's, pattern's). */
export interface SerialEngine<T> {
  /**
   * Handles one input: passes it through and emits what it derives. When the consumer throws on what
   * the input's handling emits before the input itself (the ends of a sweep it triggers, an eviction),
   * the input is still handled (passed through, kept in its state), then the first exception is thrown.
   */
  handle(event: T): void;
  /**
   * Emits what is still pending (open episodes, partial matches) before complete or error: each item
   * even if the consumer throws on an earlier one (each taken out of the state before it is emitted, so
   * nothing goes out twice), then throws the first exception.
   */
  flush(): void;
  /** Cancels timers and drops state on unsubscribe. */
  dispose(): void;
}

/**
 * The operator shell shared by `correlate` and `pattern`: a fresh engine per subscription, inputs
 * handled one at a time through a `TaskSerializer` (re-entrant pushes queue behind the current input),
 * pending state flushed before complete and before error. An exception (a consumer that throws, a
 * defect) fails the stream rather than throwing into the source: the inputs queued before it (pushed by
 * the consumer before it threw) are still handled, then the pending state is flushed and the output
 * errors with the first exception.
 */
export function serializedOperator<T, R>(
  createEngine: (emit: (output: T | R) => void, schedule: (task: () => void) => void) => SerialEngine<T>,
): OperatorFunction<T, T | R> {
  return (source) =>
    new Observable<T | R>((subscriber) => {
      const engine = createEngine(
        (output) => subscriber.next(output),
        (task) => serializer.task(task),
      );
      let flushed = false;
      /** The error the output ends with: the first exception, or the source's error if that came first. */
      let failure: { error: unknown } | undefined;
      let ending = false;
      /** Flushes once, then forwards `failure`, else the completion. */
      const end = (error?: { error: unknown }) => {
        if (subscriber.closed) return;
        failure ??= error;
        if (!flushed) {
          flushed = true;
          // The engine emits all it holds even if the consumer throws on some, then throws the first
          // exception: a failure too, and the output ends here with the first one (a failure that queued
          // this task has already set `ending`: nothing else would end it).
          try {
            engine.flush();
          } catch (error) {
            failure ??= { error };
          }
        }
        if (failure === undefined) subscriber.complete();
        else subscriber.error(failure.error);
      };
      const serializer = new TaskSerializer<T>(
        (event) => {
          // Inputs queued by a re-entrant push are dropped once the subscriber has gone.
          if (!subscriber.closed) engine.handle(event);
        },
        (error) => {
          if (subscriber.closed) return;
          failure ??= { error };
          if (ending) return;
          ending = true;
          // Behind the inputs already queued; the ones pushed from here on come after it and are dropped.
          serializer.task(end);
        },
      );
      // Tied to the consumer before the source starts: a synchronous source stops when the consumer leaves.
      const subscription = subscribeLinked(source, subscriber, {
        next: (event) => serializer.next(event),
        error: (error: unknown) => serializer.task(() => end({ error })),
        complete: () => serializer.task(end),
      });
      return () => {
        subscription.unsubscribe();
        engine.dispose();
      };
    });
}

/**
 * Handles inputs one at a time. An input that arrives while another is being handled (a downstream
 * subscriber pushing into the source from its `next`) is queued and handled right after, so each
 * input's outputs leave together and in input order. The common, non-re-entrant path allocates nothing.
 * What a handler or task throws goes to `onFailure`, never to the caller; the inputs and tasks queued
 * behind it (values a consumer pushed before it threw, a completion) are still run after it, in order,
 * each exception of theirs going to `onFailure` too: they are not dropped with the queue.
 *
 * `temporalAggregate` and `sessionWindows` use another trampoline, `Serializer` in `eventTime.ts`: signal
 * codes handed to one handler object.
 */
export class TaskSerializer<T> {
  private running = false;
  private readonly queue: Array<{ item: T } | { task: () => void }> = [];
  /** The next queue entry to run. */
  private head = 0;

  /**
   * @param onFailure called with what a handler or task threw; to end with it, queue a task here (it
   *   runs after the entries already queued).
   */
  constructor(
    private readonly handle: (item: T) => void,
    private readonly onFailure: (error: unknown) => void,
  ) {}

  /** Handles `item` now, or after the input being handled. */
  next(item: T): void {
    if (this.running) {
      this.queue.push({ item });
      return;
    }
    this.running = true;
    try {
      this.handle(item);
      this.drain();
    } catch (error) {
      this.recover(error);
    } finally {
      this.reset();
    }
  }

  /** Runs `task` (completion, a timer's sweep) now, or after the input being handled. */
  task(task: () => void): void {
    if (this.running) {
      this.queue.push({ task });
      return;
    }
    this.running = true;
    try {
      task();
      this.drain();
    } catch (error) {
      this.recover(error);
    } finally {
      this.reset();
    }
  }

  private drain(): void {
    const queue = this.queue;
    while (this.head < queue.length) {
      const entry = queue[this.head++]!;
      if ('task' in entry) entry.task();
      else this.handle(entry.item);
    }
  }

  /** Something threw `error`: reports it, then runs what is queued behind it, reporting each exception. */
  private recover(error: unknown): void {
    this.onFailure(error);
    for (;;) {
      try {
        this.drain();
        return;
      } catch (again) {
        this.onFailure(again);
      }
    }
  }

  private reset(): void {
    if (this.queue.length > 0) {
      this.queue.length = 0;
      this.head = 0;
    }
    this.running = false;
  }
}

// ---------------------------------------------------------------------------------------------------
// The live clock

/**
 * A periodic sweep on the scheduler, running only while `tick` says there is state left (so `never`
 * and idle operators hold no timer, and a virtual-time test terminates). `tick` receives
 * `scheduler.now()` and runs through `runTask`, in turn with the input.
 */
export class LiveTimer {
  private timer: Subscription | undefined = undefined;
  /** Set by `stop`: the engine is done (flushed or unsubscribed), and the timer never starts again. */
  private stopped = false;

  private readonly periodMs: number;

  /**
   * @param periodMs the sweep period; capped at setTimeout's limit (a quarter of a window of 100 days
   *   would otherwise fire every millisecond): a more frequent sweep only finds the same ends on time.
   * @param where what a `ConfigError` about the scheduler starts with: the operator and the option
   *   (`'pattern: liveClock'`).
   */
  constructor(
    private readonly scheduler: SchedulerLike,
    periodMs: number,
    private readonly tick: (now: number) => boolean,
    private readonly runTask: (task: () => void) => void,
    private readonly where: string,
  ) {
    this.periodMs = Math.min(periodMs, MAX_TIMER_MS);
  }

  /**
   * Starts the timer unless it runs or was stopped. An engine may still be handling an input when it is
   * disposed (a consumer unsubscribing from that input's pass-through): it must not leave a timer behind.
   */
  ensure(): void {
    if (this.timer === undefined && !this.stopped) this.start();
  }

  /**
   * Starts the timer. Kept out of `ensure`, which runs for every input: a function that makes a closure
   * has V8 allocate a context for it at every call, its early returns included.
   */
  private start(): void {
    const self = this;
    // A scheduler that runs the sweep at once is refused (ConfigError): its sweeps would loop forever.
    this.timer = schedulePeriodic(
      this.scheduler,
      function (this: Rearm) {
        self.runTask(() => {
          // Decided inside the task, before the inputs queued behind it run (a consumer feeding an event
          // back from what the sweep emitted): an input that brings state back then finds no timer and
          // starts a fresh one, instead of finding this one about to stop.
          // A clock that gives no time is a ConfigError thrown into the task, which ends the output after
          // the flush; the timer is not re-armed. NaN found nothing due and re-armed for ever (a virtual
          // flush never ended, no partial match expired), Infinity ended every one at the first sweep.
          if (self.tick(clockTime(self.scheduler, self.where))) this.schedule(undefined, self.periodMs);
          else self.timer = undefined;
        });
      },
      this.periodMs,
      this.where,
    );
  }

  /** Cancels the timer for good: after it, `ensure` does nothing. */
  stop(): void {
    this.stopped = true;
    this.timer?.unsubscribe();
    this.timer = undefined;
  }
}
