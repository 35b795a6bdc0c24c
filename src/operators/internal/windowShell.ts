/**
 * @internal The operator shell shared by `temporalAggregate` and `sessionWindows`: the subscription to the
 * source through the re-entrancy trampoline, the idle timer and its ticks over a due queue of partitions,
 * arrival times read once per run, and the flush on complete, before an error and on a failure. Each
 * operator keeps only what differs: how an event is windowed, when a partition is due and what closing
 * and flushing emit.
 */
import { type Observable, type SchedulerLike, Subscriber, type TeardownLogic } from 'rxjs';
import type { Event } from '../../event.js';
import {
  ArrivalClock,
  type Arriving,
  COMPLETE,
  clockTime,
  DueQueue,
  ERROR,
  estimate,
  IdleTimer,
  type Queued,
  SETTLE,
  type SerialHandler,
  Serializer,
  type Signal,
  TICK,
} from './eventTime.js';

/** A partition (session, key) as the shell tracks it. */
export interface ShellPartition extends Arriving, Queued {
  /** When it last got an open window (a counter): ticks visit due partitions in this order. */
  activeSince: number;
  /** The last idle tick its watermark estimate accounts for (see `WindowShell.catchUp`). */
  caughtTick: number;
}

/** What an operator plugs into the shell. */
export interface WindowHooks<P extends ShellPartition> {
  /** Handles one input value. */
  next(event: Event): void;
  /** Whether `p` has an open window. */
  isOpen(p: P): boolean;
  /** The scheduler time at which the idle rule makes `p` due (it has an open window). */
  dueOf(p: P): number;
  /** At a tick, once `p`'s watermark is estimated: closes the windows it reached. */
  closeDue(p: P): void;
  /** Emits every open window: on complete, before an error, on a failure. */
  flushAll(): void;
  /** Drops the operator's state (on unsubscribe). */
  clear(): void;
}

export interface ShellOptions {
  /** The operator's name, which its errors start with. */
  operator: string;
  scheduler: SchedulerLike;
  latenessMs: number;
  /** `Infinity` turns the idle rule (and so the timer and arrival times) off. */
  idleFlushMs: number;
}

/** One per subscription, created inside the subscribe function. */
export class WindowShell<P extends ShellPartition> implements SerialHandler {
  /** Completed, errored or unsubscribed: nothing more may be emitted. */
  done = false;
  /** Idle ticks so far (a new partition starts with `caughtTick = ticks`). */
  ticks = 0;
  /** Partitions with an open window. */
  activeCount = 0;

  private lastTick = 0;
  /** The latest time of a run of arrivals or a tick: a clock read below it went back. */
  private latest = Number.NEGATIVE_INFINITY;
  private activations = 0;
  private readonly idle: boolean;
  private readonly queue = new DueQueue<P>();
  private readonly timer: IdleTimer;
  private readonly clock: ArrivalClock<P>;
  private readonly serializer: Serializer;
  private hooks!: WindowHooks<P>;
  private input?: SourceSubscriber;
  /** `fail` was called: the source is left; this error ends the output once the queued values are handled. */
  private failure?: { value: unknown };
  private readonly requeueEach = (p: P) => this.requeue(p);
  /** Set before `queue.filter(this.ahead)`: the time a clock that went back reads. */
  private pullTo = 0;
  private readonly ahead = (p: P) => p.lastArrival > this.pullTo;

  constructor(
    private readonly subscriber: Subscriber<Event>,
    private readonly options: ShellOptions,
  ) {
    this.idle = options.idleFlushMs !== Number.POSITIVE_INFINITY;
    this.serializer = new Serializer(this);
    this.timer = new IdleTimer(
      options.scheduler,
      options.idleFlushMs,
      (firesAt) => this.serializer.signal(TICK, firesAt),
      options.operator,
    );
    this.clock = new ArrivalClock<P>(
      options.scheduler,
      () => this.serializer.signal(SETTLE),
      (error) => this.fail(error),
      options.operator,
    );
  }

  /** Subscribes to `source` with `hooks`; returns the teardown of the operator's Observable. */
  connect(source: Observable<Event>, hooks: WindowHooks<P>): TeardownLogic {
    this.hooks = hooks;
    const input = new SourceSubscriber(this.serializer);
    this.input = input;
    // Tied to the consumer before the source starts: a synchronous source (`from(generator)`) stops as
    // soon as the consumer unsubscribes (`take(1)`) instead of being read to its end, since the teardown
    // below only exists once `subscribe` returns.
    this.subscriber.add(input);
    // A source of another copy of RxJS takes `input` as a plain observer: its own subscription is ended
    // too (for this copy's sources it is `input`).
    const subscription = source.subscribe(input);
    return () => {
      this.done = true;
      this.timer.cancel();
      this.clock.cancel();
      input.unsubscribe();
      subscription.unsubscribe();
      this.queue.clear();
      hooks.clear();
    };
  }

  /** `SerialHandler`: an input event. */
  onValue(value: unknown): void {
    if (!this.done) this.hooks.next(value as Event);
  }

  /** `SerialHandler`: the other signals. */
  onSignal(signal: Signal, value: unknown): void {
    if (this.done) return;
    // A failure the handler reported ends the output with its error, also when the source ended first.
    if (signal === ERROR) this.finish(this.failure ?? { value });
    else if (signal === COMPLETE) this.finish(this.failure);
    else if (signal === SETTLE) this.settle();
    else this.tick(value as number);
  }

  /**
   * `SerialHandler`: a handler threw (a consumer that throws, a bug). As `fail`: the values received
   * before the exception — pushed re-entrantly by the consumer, waiting in the serializer — are still
   * handled, then the output is flushed and errors with the first exception.
   */
  onFailure(error: unknown): void {
    this.fail(error);
  }

  /**
   * A handler's value-level failure (a key function that threw), from inside the handler: the source is
   * left at once, and the output errors with `error` (after the flush) once the values received before
   * it — pushed re-entrantly, waiting in the serializer — are handled: they are not lost. Only the first
   * failure counts.
   */
  fail(error: unknown): void {
    if (this.failure !== undefined || this.done) return;
    this.failure = { value: error };
    // Queued first: leaving the source runs its teardown, which may throw.
    this.serializer.signal(ERROR, error);
    this.input?.unsubscribe();
  }

  emit(event: Event): void {
    if (!this.subscriber.closed) this.subscriber.next(event);
  }

  /** An arrival in `p`: call before reading or changing its watermark. */
  arrive(p: P): void {
    if (p.caughtTick !== this.ticks) this.catchUp(p);
    if (this.idle) this.clock.arrive(p);
  }

  /**
   * A tick estimates the watermark of the due partitions only; for the others, which would not close a
   * window, the estimate of the latest tick is applied when the partition is next looked at (and before
   * it stops being active), which is the same: an estimate only grows with the tick time.
   */
  catchUp(p: P): void {
    if (p.caughtTick !== this.ticks) {
      if (this.hooks.isOpen(p)) estimate(p, this.lastTick, this.options.latenessMs, this.options.idleFlushMs);
      p.caughtTick = this.ticks;
    }
  }

  /** `p` got its first open window. It is queued when its arrival time is known. */
  activated(p: P): void {
    this.activeCount++;
    p.activeSince = ++this.activations;
  }

  /** `p` has no open window any more (call `catchUp` before closing it). */
  deactivated(p: P): void {
    this.activeCount--;
    this.queue.delete(p);
  }

  /** Puts `p`, whose first window or arrival time changed, back in the due queue (or out of it). */
  requeue(p: P): void {
    if (!this.idle) return;
    if (this.hooks.isOpen(p)) this.queue.set(p, this.hooks.dueOf(p));
    else this.queue.delete(p);
  }

  /** Asks for an idle tick `offset` ms after the current arrival (`dueAt` minus the arrival time). */
  requestIdle(offset: number): void {
    if (this.idle && !this.done) this.clock.request(offset);
  }

  /** The end of a run of arrivals: their time is now; the timer is armed as each arrival asked. */
  private settle(): void {
    const now = this.now();
    if (now < this.latest) this.wentBack(now, true);
    this.latest = now;
    this.clock.settle(now, this.requeueEach, this.timer);
  }

  /**
   * The clock went back: it reads `now`, less than a time the shell has seen. An open window whose last
   * arrival was read later than `now` (on the clock before the step) gets `now` as its arrival time, its
   * due time moved back by as much: it waits its idle time again from `now`, by the clock as it reads now.
   * Kept on the clock it was read by, it waited for the clock to pass that time again: as long as the step,
   * or for ever on a clock that reads less at each read; and an arrival after the step (of any key) re-armed
   * the timer by the clock read then, which held the others for the step. The windows read at or before
   * `now` keep their times (a time read before a step back waited longer than the clock shows, so none
   * closes early; one read before a brief jump forward, undone since, is not moved back by it). With
   * `rearm` (at a run of arrivals) the timer is re-armed for the earliest due time; a tick re-arms it once
   * it has closed what is due.
   */
  private wentBack(now: number, rearm: boolean): void {
    this.pullTo = now;
    const ahead = this.queue.filter(this.ahead);
    for (let i = 0; i < ahead.length; i++) {
      const p = ahead[i]!;
      p.lastArrival = now;
      this.requeue(p);
    }
    if (this.lastTick > now) this.lastTick = now;
    if (!rearm || ahead.length === 0) return;
    this.timer.cancel();
    const next = this.queue.next;
    if (next !== Number.POSITIVE_INFINITY) this.timer.request(next > now ? next : now + 1, now, false);
  }

  /**
   * The scheduler's time. One that is no finite number (`NaN`, a string, `Infinity`) is a `ConfigError`:
   * a `NaN` due time re-armed the idle timer at once for ever, holding the process.
   */
  private now(): number {
    return clockTime(this.options.scheduler, this.options.operator);
  }

  /**
   * An idle tick, whose action was due at clock time `firesAt`. A clock that reads less than it did
   * before went back: the tick's time is then `firesAt` (its timer waited its delay), so that the windows
   * it was armed for close now, and those read later than that time are moved back to it (`wentBack`).
   * Read as it was, nothing was due, and on a clock that keeps going back (a virtual one read backwards)
   * the timer re-armed for ever, each time further ahead: a virtual flush never ended, and a real clock
   * stepped back held the windows for as long as the step.
   */
  private tick(firesAt: number): void {
    const read = this.now();
    const now = read < this.latest && firesAt > read ? firesAt : read;
    if (now < this.latest) this.wentBack(now, false);
    this.latest = now;
    // Arrivals whose run has not settled yet came by now (and asked for no tick before this one).
    if (this.clock.pending) this.clock.settle(now, this.requeueEach, undefined);
    this.ticks++;
    this.lastTick = now;
    // The due partitions, in the order they became active. A partition closes a window when its
    // estimate reaches the window's close point, which is `dueOf`; the 1 ms of slack covers rounding.
    const due: P[] = [];
    for (let p = this.queue.pop(now + 1); p !== undefined; p = this.queue.pop(now + 1)) due.push(p);
    if (due.length > 1) due.sort((a, b) => a.activeSince - b.activeSince);
    for (let i = 0; i < due.length; i++) {
      const p = due[i]!;
      estimate(p, now, this.options.latenessMs, this.options.idleFlushMs);
      p.caughtTick = this.ticks;
      this.hooks.closeDue(p);
      if (this.done) return;
      this.requeue(p);
    }
    const next = this.queue.next;
    // At its due time, even less than 1 ms away (a partition the slack took out early and put back);
    // `now + 1` only guards against a due time that rounding put at or before now.
    if (next !== Number.POSITIVE_INFINITY) this.timer.request(next > now ? next : now + 1, now, false);
  }

  private finish(error?: { value: unknown }): void {
    if (this.done) return;
    this.timer.cancel();
    this.clock.cancel();
    try {
      this.hooks.flushAll();
    } catch (flushError) {
      // Flushing itself failed (a bug): report the first error.
      error ??= { value: flushError };
    }
    this.done = true;
    if (error === undefined) this.subscriber.complete();
    else this.subscriber.error(error.value);
  }
}

/**
 * The shell's subscription to its source. A `Subscriber` is used by `subscribe` as it is, where a partial
 * observer is wrapped in a `SafeSubscriber` and a consumer observer that catches what its callbacks
 * throw: two more calls an event (~10 ns). The serializer already catches whatever a handler throws.
 */
class SourceSubscriber extends Subscriber<Event> {
  constructor(private readonly serializer: Serializer) {
    super();
  }

  protected override _next(event: Event): void {
    this.serializer.next(event);
  }

  protected override _error(error: unknown): void {
    try {
      this.serializer.signal(ERROR, error);
    } finally {
      this.unsubscribe();
    }
  }

  protected override _complete(): void {
    try {
      this.serializer.signal(COMPLETE);
    } finally {
      this.unsubscribe();
    }
  }
}
