/**
 * `sessionWindows`: inactivity-gap windows per key in event time, emitted as `session.window` events.
 * See `docs/sessionWindows.md`.
 */
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscriber } from 'rxjs';
import { ConfigError, optionKeys, refuseNull } from '../errors.js';
import { createEventId, type Event, type NarrowedEvent, Priority } from '../event.js';
import { isRecord } from '../streams/payload.js';
import {
  advance,
  booleanOption,
  canonicalOrder,
  checkConfig,
  contextOf,
  dataOf,
  dueAt,
  idleOffset,
  inOrder,
  isComparable,
  isRange,
  type LateEventData,
  lateEvent,
  numberOption,
  priorityOf,
  sessionIdOf,
} from './internal/eventTime.js';
import { type ShellPartition, type WindowHooks, WindowShell } from './internal/windowShell.js';

/**
 * Options of `sessionWindows`. Every one is optional. `T`: the type of its input events (`Event` by
 * default), which `key` is given.
 */
export interface SessionWindowsConfig<T extends Event<object> = Event> {
  /**
   * The inactivity gap in ms: events of one key less than `gapMs` apart (in event time) share a window,
   * and a window closes once the watermark is `gapMs` past its last event. At least 1: a smaller gap may
   * add nothing to an event time (below its precision: 2^-12 ms for a time in 2026), and then every event
   * was late. Default 300,000 (5 minutes).
   */
  gapMs?: number | undefined;
  /**
   * The key windows are kept per. Default: the event's `sessionId`, when it is a non-empty string (as
   * `temporalAggregate` reads it; any other is none). Events whose key is `undefined` (or
   * `null`) pass through at once, unchanged. An exception thrown here, or a key that cannot be made a
   * string (`String(key)` throws), passes the event through too, then errors the output (after the open
   * windows are flushed): the source is left at once, and events the consumer pushed while that event
   * went through are still windowed and flushed.
   */
  key?: ((event: T) => string | undefined) | undefined;
  /**
   * How far behind the highest event time of its key an event may arrive and still join (or merge) its
   * window. The watermark is `max event time - allowedLatenessMs`. Default 0.
   */
  allowedLatenessMs?: number | undefined;
  /**
   * How long a key must be quiet (scheduler time) before its watermark is advanced by the scheduler clock,
   * so that a live window closes `gapMs` after its last event even when no later event comes. Default 0.
   * `Infinity` disables the idle rule: do so for a replay, whose pauses between reads are no quiet. Quiet
   * is counted from the arrival time, which is read once per run of synchronous arrivals: on a real
   * clock, the end of the run the event came in.
   */
  idleFlushMs?: number | undefined;
  /**
   * A window emits its events so far as a `part` after this many events, and stays open. Default 1,000
   * with `includeEvents`, otherwise `Infinity` (without the events a window holds O(distinct types)).
   */
  maxEvents?: number | undefined;
  /**
   * At most this many windows are open at once. Opening one more first emits the window opened the
   * longest ago (with any earlier windows of its key; later events of its range are then late). Default
   * 10,000. Memory is bounded by `maxOpenWindows × maxEvents` events with `includeEvents`.
   */
  maxOpenWindows?: number | undefined;
  /**
   * The watermark and late-event horizon of up to this many keys without an open window are remembered;
   * beyond it, those whose latest event time is oldest are forgotten. Default 10,000.
   */
  maxIdleKeys?: number | undefined;
  /** Put the window's events in `data.events`. Default false. */
  includeEvents?: boolean | undefined;
  /** The clock of the idle rule. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/**
 * `data` of a `session.window` event. `T`: the type of the operator's input events (`Event` by default),
 * which `events` holds.
 */
export interface SessionWindowData<T extends Event<object> = Event> extends Record<string, unknown> {
  /** The window's key (by default its session id). */
  key: string;
  event_count: number;
  /** Event times of the first and last event in this window (or part). */
  time_span: { start: number; end: number };
  /** The inactivity gap the window was cut with. */
  gap_ms: number;
  /**
   * Event count per event type, keys sorted (as object keys go: a type that is a whole number, `'10'`,
   * would come first, in numeric order; event types have dots and never are).
   */
  types: Record<string, number>;
  /**
   * 1, or 2, 3 … for the further parts of a window that reached `maxEvents`. Windows merged by a bridging
   * event number their parts on from every part either had emitted, so the last part's number is how
   * many parts the window went out in.
   */
  part: number;
  /** The events, in event-time order (ties by id), when `includeEvents`. */
  events?: T[];
}

/**
 * Whether `event` is a window of `sessionWindows` (`session.window`), narrowing its `data` to
 * `SessionWindowData`. Checks the shape too (`key`, `event_count`, `time_span`, `gap_ms`, `types`, `part`).
 * On the output of `sessionWindows<T>()` it narrows to `Event<SessionWindowData<T>>`, keeping `T`
 * (`NarrowedEvent`); the parameter's `Readonly<Event<SessionWindowData>>` only lets it name that default.
 *
 * ```ts
 * events$.pipe(sessionWindows(), filter(isSessionWindow)).subscribe((w) => log(w.data.key, w.data.types));
 * ```
 */
export function isSessionWindow<E extends Event<object> = Event>(
  event: E | Readonly<Event<SessionWindowData>>,
): event is NarrowedEvent<E, SessionWindowData, never, SessionWindowData<Event<object>>> {
  const data = dataOf(event);
  return (
    data !== undefined &&
    event.type === 'session.window' &&
    typeof data.key === 'string' &&
    typeof data.event_count === 'number' &&
    typeof data.gap_ms === 'number' &&
    typeof data.part === 'number' &&
    isRecord(data.types) &&
    isRange(data.time_span)
  );
}

const OPERATOR = 'sessionWindows';
const CONFIG_KEYS = optionKeys<SessionWindowsConfig>({
  gapMs: true,
  key: true,
  allowedLatenessMs: true,
  idleFlushMs: true,
  maxEvents: true,
  maxOpenWindows: true,
  maxIdleKeys: true,
  includeEvents: true,
  scheduler: true,
});
const WINDOW = 'session.window';
const LATE = 'session.window.late';

interface KeyState extends ShellPartition {
  readonly key: string;
  /** Open windows, by event time; consecutive ones are at least `gapMs` apart. */
  windows: SessionWindow[];
  /** Events before this time are late: they would have merged with an emitted window. */
  horizon: number;
}

interface SessionWindow {
  readonly owner: KeyState;
  /** Event-time extent over all its events, parts already emitted included. */
  first: number;
  last: number;
  // The current part:
  count: number;
  spanStart: number;
  spanEnd: number;
  types: Map<string, number>;
  priority: Priority;
  /** The last event in canonical order (its context and time stamp the output). */
  lastEvent: Event | undefined;
  /** The session all its events share, `undefined` if none or mixed. */
  sessionId: string | undefined;
  mixedSessions: boolean;
  events: Event[] | undefined;
  /** Parts emitted early. */
  emitted: number;
}

/**
 * The default key: a sessionId that is no non-empty string is none (an object without a string form
 * errored the output, '' or a number made windows of their own without a sessionId).
 */
const sessionIdKey = (event: Event): string | undefined => sessionIdOf(event.sessionId);

/** Whether `String(value)` succeeds. */
function hasStringForm(value: unknown): boolean {
  try {
    String(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Groups the events of each key (by default each session) into inactivity-gap windows measured in event
 * time, and emits one `session.window` event per window: count, time span, the types seen with their
 * counts, the highest priority, the last event's context and (with `includeEvents`) the events.
 *
 * A window stays open while its key's events keep coming less than `gapMs` apart; an event that arrives
 * out of order (within `allowedLatenessMs`) and bridges two open windows merges them. A window is emitted
 * when its key's watermark (highest event time minus `allowedLatenessMs`) is `gapMs` past its last event;
 * while the key is quiet, the watermark advances with the scheduler clock (see `idleFlushMs`). Open
 * windows are emitted on complete and before an error is forwarded. An event that would have joined an
 * emitted window is never dropped: it is emitted as a `session.window.late` event carrying it. Events
 * without a key pass through at once. A consumer that throws ends the output the same way as an error:
 * the events it pushed into the source before it threw are handled first, every open window is emitted
 * (each even if it throws on another; an event that bridges two windows whose parts reach `maxEvents`
 * joins the merged window before those parts go out), then the output errors with the first exception.
 *
 * As with `temporalAggregate`, windows depend only on event times: a replay yields the same windows as
 * the live run (ids aside), given `idleFlushMs: Infinity` for the replay: the idle rule would take its
 * pauses between reads for quiet.
 *
 * ```
 * gapMs: 3, key: sessionId, times in ms, event time = arrival time
 * source:  -a-b------c-d---|     (a at 1, b 3, c 10, d 12: one session)
 * result:  ------W--------V|
 *   W = session.window [1,3], 2 events: at 6 (3 + gap, the session quiet)
 *   V = [10,12], 2 events: at 15
 * ```
 *
 * ## Examples
 * ```ts
 * bridge.events$.pipe(sessionWindows({ gapMs: 10 * 60_000 })).subscribe(showSessionSummary);
 * events$.pipe(sessionWindows({ key: (e) => e.context?.cwd as string | undefined, includeEvents: true }));
 * ```
 *
 * @param config gap, key, lateness, idle rule, limits and scheduler; see `SessionWindowsConfig`.
 * @return an operator that replaces keyed events by `session.window` events (and late ones by
 *   `session.window.late` events) and passes events without a key through.
 * @throws ConfigError (code `INVALID_CONFIG`) at construction when an option is invalid or its name
 *   unknown (the message names the nearest known one).
 */
export function sessionWindows<T extends Event<object> = Event>(
  config?: SessionWindowsConfig<T>,
): OperatorFunction<T, T | Event<SessionWindowData<T>> | Event<LateEventData<T>>>;
export function sessionWindows<T extends Event = Event>(
  config?: SessionWindowsConfig<T>,
): OperatorFunction<T, T | Event<SessionWindowData<T>> | Event<LateEventData<T>>> {
  config = checkConfig(OPERATOR, config, CONFIG_KEYS);
  refuseNull(OPERATOR, config, ['key']);
  // At least 1 ms: then `ts + gapMs > ts` for every windowable `ts` (up to 2^53), so that events of the
  // same time share a window (a gap below the precision of `ts` added nothing: each event was late).
  const gapMs = numberOption(OPERATOR, 'gapMs', config?.gapMs, 300_000, { min: 1 });
  const keyOf = (config?.key as Settings['keyOf'] | undefined) ?? sessionIdKey;
  if (typeof keyOf !== 'function') throw new ConfigError(`${OPERATOR}: key must be a function`);
  const latenessMs = numberOption(OPERATOR, 'allowedLatenessMs', config?.allowedLatenessMs, 0, { min: 0 });
  const idleFlushMs = numberOption(OPERATOR, 'idleFlushMs', config?.idleFlushMs, 0, {
    min: 0,
    infinity: true,
  });
  const includeEvents = booleanOption(OPERATOR, 'includeEvents', config?.includeEvents, false);
  const maxEvents = numberOption(
    OPERATOR,
    'maxEvents',
    config?.maxEvents,
    includeEvents ? 1_000 : Number.POSITIVE_INFINITY,
    { min: 1, integer: true, infinity: true },
  );
  const maxOpenWindows = numberOption(OPERATOR, 'maxOpenWindows', config?.maxOpenWindows, 10_000, {
    min: 1,
    integer: true,
  });
  const maxIdleKeys = numberOption(OPERATOR, 'maxIdleKeys', config?.maxIdleKeys, 10_000, {
    min: 0,
    integer: true,
  });
  const scheduler = config?.scheduler ?? asyncScheduler;

  const settings: Settings = {
    operator: OPERATOR,
    gapMs,
    keyOf,
    latenessMs,
    idleFlushMs,
    includeEvents,
    maxEvents,
    maxOpenWindows,
    maxIdleKeys,
    scheduler,
  };

  // Typed as it behaves: an event passes through as it came, and windows and late events carry the input
  // events as they came (the windows hold them as `Event`s).
  return (source) =>
    new Observable<T | Event<SessionWindowData<T>> | Event<LateEventData<T>>>((subscriber) => {
      const windows = new Sessionizer(subscriber as Subscriber<Event>, settings);
      return windows.shell.connect(source, windows);
    });
}

/** What `sessionWindows` read from its config: the same for all its subscriptions. */
interface Settings {
  operator: string;
  gapMs: number;
  keyOf: (event: Event) => string | undefined;
  latenessMs: number;
  idleFlushMs: number;
  includeEvents: boolean;
  maxEvents: number;
  maxOpenWindows: number;
  maxIdleKeys: number;
  scheduler: SchedulerLike;
}

/**
 * One subscription of `sessionWindows`: its windows and how it handles events, plugged into a
 * `WindowShell`. A class rather than closures made at each subscription, as `temporalAggregate`'s
 * `Aggregation` (see there): the calls between its methods keep their targets across subscriptions.
 */
class Sessionizer implements WindowHooks<KeyState> {
  readonly shell: WindowShell<KeyState>;
  private readonly keys = new Map<string, KeyState>();
  /** Open windows in the order they opened (the capacity policy). */
  private readonly open = new Set<SessionWindow>();

  constructor(
    subscriber: Subscriber<Event>,
    private readonly settings: Settings,
  ) {
    this.shell = new WindowShell<KeyState>(subscriber, settings);
  }

  isOpen(k: KeyState): boolean {
    return k.windows.length > 0;
  }

  dueOf(k: KeyState): number {
    return dueAt(
      k,
      k.windows[0]!.last + this.settings.gapMs,
      this.settings.latenessMs,
      this.settings.idleFlushMs,
    );
  }

  clear(): void {
    this.keys.clear();
    this.open.clear();
  }

  private stateOf(key: string): KeyState {
    let k = this.keys.get(key);
    if (k === undefined) {
      k = {
        key,
        maxTs: Number.NEGATIVE_INFINITY,
        wm: Number.NEGATIVE_INFINITY,
        lastArrival: 0,
        arriving: false,
        due: Number.POSITIVE_INFINITY,
        slot: -1,
        windows: [],
        horizon: Number.NEGATIVE_INFINITY,
        activeSince: 0,
        caughtTick: this.shell.ticks,
      };
      this.keys.set(key, k);
      if (this.keys.size - this.shell.activeCount > this.settings.maxIdleKeys) this.forgetIdleKeys(k);
    }
    return k;
  }

  // Forgets the idle keys with the oldest event time, down to 90 % of the cap so the work amortizes.
  private forgetIdleKeys(keep: KeyState) {
    const target = this.settings.maxIdleKeys - Math.floor(this.settings.maxIdleKeys / 10);
    const idleKeys: KeyState[] = [];
    for (const k of this.keys.values()) if (k.windows.length === 0 && k !== keep) idleKeys.push(k);
    idleKeys.sort((a, b) => a.maxTs - b.maxTs);
    for (let i = 0; i < idleKeys.length && this.keys.size - this.shell.activeCount > target; i++)
      this.keys.delete(idleKeys[i]!.key);
  }

  private newWindow(k: KeyState, ts: number): SessionWindow {
    return {
      owner: k,
      first: ts,
      last: ts,
      count: 0,
      spanStart: ts,
      spanEnd: ts,
      types: new Map(),
      priority: Priority.LOW,
      lastEvent: undefined,
      sessionId: undefined,
      mixedSessions: false,
      events: this.settings.includeEvents ? [] : undefined,
      emitted: 0,
    };
  }

  private add(w: SessionWindow, event: Event, ts: number) {
    if (ts < w.first) w.first = ts;
    if (ts > w.last) w.last = ts;
    const sessionId = sessionIdOf(event.sessionId);
    if (w.count === 0) {
      w.spanStart = ts;
      w.spanEnd = ts;
      w.sessionId = sessionId;
      w.mixedSessions = false;
    } else {
      if (ts < w.spanStart) w.spanStart = ts;
      if (ts > w.spanEnd) w.spanEnd = ts;
      if (sessionId !== w.sessionId) w.mixedSessions = true;
    }
    w.count++;
    const type = typeof event.type === 'string' ? event.type : String(event.type);
    w.types.set(type, (w.types.get(type) ?? 0) + 1);
    const priority = priorityOf(event.priority, Priority.LOW);
    if (priority > w.priority) w.priority = priority;
    if (w.lastEvent === undefined || inOrder(w.lastEvent, event)) w.lastEvent = event;
    w.events?.push(event);
  }

  /**
   * Folds `b` (later) into `a`; both hold a part with fewer than `maxEvents` events together. The count
   * of parts emitted (`emitted`) is the caller's to combine.
   */
  private merge(a: SessionWindow, b: SessionWindow) {
    if (b.first < a.first) a.first = b.first;
    if (b.last > a.last) a.last = b.last;
    if (b.count === 0) return;
    if (a.count === 0) {
      a.spanStart = b.spanStart;
      a.spanEnd = b.spanEnd;
      a.sessionId = b.sessionId;
      a.mixedSessions = b.mixedSessions;
    } else {
      if (b.spanStart < a.spanStart) a.spanStart = b.spanStart;
      if (b.spanEnd > a.spanEnd) a.spanEnd = b.spanEnd;
      if (b.mixedSessions || b.sessionId !== a.sessionId) a.mixedSessions = true;
    }
    a.count += b.count;
    for (const [type, n] of b.types) a.types.set(type, (a.types.get(type) ?? 0) + n);
    if (b.priority > a.priority) a.priority = b.priority;
    if (a.lastEvent === undefined || (b.lastEvent !== undefined && inOrder(a.lastEvent, b.lastEvent))) {
      a.lastEvent = b.lastEvent;
    }
    if (a.events !== undefined && b.events !== undefined) {
      for (let i = 0; i < b.events.length; i++) a.events.push(b.events[i]!);
    }
  }

  /** The current part of `w` as a `session.window` event (`w.count > 0`). */
  private output(w: SessionWindow): Event<SessionWindowData> {
    const names = [...w.types.keys()];
    if (names.length > 1) names.sort();
    // fromEntries defines own properties: a type named `__proto__` stays a plain key.
    const types: Record<string, number> = Object.fromEntries(names.map((name) => [name, w.types.get(name)!]));
    const data: SessionWindowData = {
      key: w.owner.key,
      event_count: w.count,
      time_span: { start: w.spanStart, end: w.spanEnd },
      gap_ms: this.settings.gapMs,
      types,
      part: w.emitted + 1,
    };
    if (w.events !== undefined) data.events = w.events.sort(canonicalOrder);
    const last = w.lastEvent!;
    // Built directly rather than through createEvent: every field is valid by construction.
    const event: Event<SessionWindowData> = {
      id: createEventId(),
      type: WINDOW,
      timestamp: last.timestamp,
      priority: w.priority,
      data,
    };
    const context = contextOf(last.context);
    if (context !== undefined) event.context = context;
    if (w.sessionId !== undefined && !w.mixedSessions) event.sessionId = w.sessionId;
    return event;
  }

  /** Emits the current part of `w` early; `w` stays open with an empty part. */
  private emitPart(w: SessionWindow) {
    const event = this.cutPart(w);
    if (event !== undefined) this.shell.emit(event);
  }

  /** Takes the current part of `w` out as its output event (none when empty); `w` stays open. */
  private cutPart(w: SessionWindow): Event | undefined {
    if (w.count === 0) return undefined;
    const event = this.output(w);
    w.emitted++;
    w.count = 0;
    w.types = new Map();
    w.priority = Priority.LOW;
    w.lastEvent = undefined;
    w.sessionId = undefined;
    w.mixedSessions = false;
    if (w.events !== undefined) w.events = [];
    return event;
  }

  /**
   * Merges the windows `ws[i + 1 … j - 1]` into `ws[i]`, bridged by an event. Returns the parts to emit
   * (when the merged windows together reach `maxEvents`), which the caller emits once the event is in.
   */
  private mergeWindows(ws: SessionWindow[], i: number, j: number): Event[] | undefined {
    const target = ws[i]!;
    let parts: Event[] | undefined;
    for (let m = i + 1; m < j; m++) {
      const other = ws[m]!;
      // The merged window's parts number on from every part either window has emitted: no number
      // repeats from here on, and the last part's number is how many parts the window went out in.
      target.emitted += other.emitted;
      if (target.count + other.count >= this.settings.maxEvents) {
        parts ??= [];
        const first = this.cutPart(target);
        if (first !== undefined) parts.push(first);
        // Numbered after target's part, as a part of the merged window.
        other.emitted = target.emitted;
        const second = this.cutPart(other);
        if (second !== undefined) parts.push(second);
        target.emitted = other.emitted;
      }
      this.merge(target, other);
      this.open.delete(other);
    }
    ws.splice(i + 1, j - i - 1);
    return parts;
  }

  /**
   * Emits the parts a merge cut, once the merge is done: a consumer that throws on one still gets the
   * others, and the first exception is thrown at the end.
   */
  private emitParts(parts: readonly Event[]) {
    let failure: { error: unknown } | undefined;
    for (const part of parts) {
      try {
        this.shell.emit(part);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }

  /** Emits the first open window of `k` and forgets it. */
  private closeFirst(k: KeyState) {
    this.shell.catchUp(k);
    const w = k.windows.shift()!;
    this.open.delete(w);
    if (k.windows.length === 0) this.shell.deactivated(k);
    // Its due time follows its first window (a key with a pending arrival is requeued as it settles).
    else this.shell.requeue(k);
    const closeAt = w.last + this.settings.gapMs;
    if (closeAt > k.horizon) k.horizon = closeAt;
    if (w.count > 0) this.shell.emit(this.output(w));
  }

  /** Closes the windows of `k` whose close point (last event + gap) the watermark has reached. */
  closeDue(k: KeyState): void {
    while (k.windows.length > 0 && k.windows[0]!.last + this.settings.gapMs <= k.wm && !this.shell.done)
      this.closeFirst(k);
  }

  /** `WindowHooks.next`: handles one input event. */
  next(event: Event): void {
    const ts = event?.timestamp;
    if (typeof ts !== 'number' || !(ts >= 0) || ts > Number.MAX_SAFE_INTEGER) {
      // No usable event time (not an event at all, or a bad timestamp): it cannot be windowed. Beyond
      // 2^53 (a timestamp in ns, say) the gap may add nothing to it.
      this.shell.emit(event);
      return;
    }
    // A type that cannot be made a string (a null-prototype object) cannot be counted, nor an id that
    // cannot be compared ordered (a Symbol too): the event passes through, as one without an event time
    // does (it was counted, then lost with a TypeError).
    if (
      (typeof event.type !== 'string' && !hasStringForm(event.type)) ||
      (typeof event.id !== 'string' && !isComparable(event.id))
    ) {
      this.shell.emit(event);
      return;
    }
    let key: string | undefined;
    try {
      // Called as a plain function, without a `this`.
      const keyOf = this.settings.keyOf;
      const rawKey: unknown = keyOf(event);
      // Made a string here too: a key without one (a null-prototype object) fails like a throwing key.
      key =
        rawKey === undefined || rawKey === null
          ? undefined
          : typeof rawKey === 'string'
            ? rawKey
            : String(rawKey);
    } catch (error) {
      // The event cannot be keyed: it passes through, as an event without a key does, so that it is
      // not lost; then the exception ends the output (after the flush), once the values received before
      // it (pushed by the consumer as it went through) are handled.
      this.shell.emit(event);
      this.shell.fail(error);
      return;
    }
    if (key === undefined) {
      this.shell.emit(event);
      return;
    }
    const k = this.stateOf(key);
    this.shell.arrive(k);
    advance(k, ts, this.settings.latenessMs);
    let late: Event<LateEventData> | undefined;
    let target: SessionWindow | undefined;
    if (ts < k.horizon) {
      late = lateEvent(LATE, event, 'window_closed', k.wm);
    } else {
      const ws = k.windows;
      let i = 0;
      while (i < ws.length && ws[i]!.last + this.settings.gapMs <= ts) i++;
      let j = i;
      // Both tests add the gap to the earlier time, as closing a window does (`last + gapMs`): `first -
      // gapMs < ts` rounds otherwise (7.1 - 5 < 2.1, while 2.1 + 5 is 7.1), and joined out of order events
      // that arrived in order were a gap apart.
      while (j < ws.length && ts + this.settings.gapMs > ws[j]!.first) j++;
      if (j > i) {
        // Within the gap of one window, or bridging two (out of order): merge them.
        target = ws[i]!;
        const parts = j - i > 1 ? this.mergeWindows(ws, i, j) : undefined;
        this.add(target, event, ts);
        // After the event is in its window: a consumer that throws on a part loses nothing.
        if (parts !== undefined) this.emitParts(parts);
      } else if (ts + this.settings.gapMs <= k.wm) {
        late = lateEvent(LATE, event, 'behind_watermark', k.wm);
      } else {
        target = this.newWindow(k, ts);
        this.add(target, event, ts);
        ws.splice(i, 0, target);
        this.open.add(target);
        if (ws.length === 1) this.shell.activated(k);
        if (this.open.size > this.settings.maxOpenWindows) this.evictOldest(target);
      }
    }
    this.closeDue(k);
    if (late !== undefined) this.shell.emit(late);
    // `target` may be gone: closed by the capacity policy (as an earlier window of its key).
    else if (
      target !== undefined &&
      target.count >= this.settings.maxEvents &&
      this.open.has(target) &&
      !this.shell.done
    )
      this.emitPart(target);
    // The idle tick for this key, `dueAt` from its arrival time (read when the run settles).
    if (k.windows.length > 0) {
      const closeAt = k.windows[0]!.last + this.settings.gapMs;
      this.shell.requestIdle(idleOffset(k, closeAt, this.settings.latenessMs, this.settings.idleFlushMs));
    }
  }

  /** The capacity policy: emits the window opened the longest ago, with the earlier ones of its key. */
  private evictOldest(keep: SessionWindow) {
    const oldest = this.open.values().next().value!;
    if (oldest === keep) return;
    const k = oldest.owner;
    while (k.windows.includes(oldest) && !this.shell.done) this.closeFirst(k);
  }

  /**
   * Emits every open window, earliest close point first (per key, in order). A consumer that throws on
   * one window still gets the others, and the first exception is thrown at the end (the shell then errors
   * with it): `closeFirst` settles a window's state before emitting it. A window that failed before it was
   * taken out (a bug) is not tried again.
   */
  flushAll(): void {
    let failure: { error: unknown } | undefined;
    const windows = [...this.open].sort((a, b) => a.last - b.last);
    for (const w of windows) {
      if (this.shell.done) break;
      const k = w.owner;
      while (k.windows.includes(w) && !this.shell.done) {
        const before = k.windows.length;
        try {
          this.closeFirst(k);
        } catch (error) {
          failure ??= { error };
          if (k.windows.length === before) break;
        }
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}
