/**
 * `temporalAggregate`: per (session, type) tumbling windows in event time, emitted as
 * `<type>.aggregated` events. See `docs/temporalAggregate.md`.
 */
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { ConfigError } from '../errors.js';
import { createEventId, type Event, Priority } from '../event.js';
import {
  advance,
  booleanOption,
  canonicalOrder,
  checkConfig,
  contextOf,
  dueAt,
  idleOffset,
  inOrder,
  type LateEventData,
  lateEvent,
  numberOption,
  priorityOf,
  sessionIdOf,
} from './internal/eventTime.js';
import { type ShellPartition, WindowShell } from './internal/windowShell.js';

export type { LateEventData, LateReason } from './internal/eventTime.js';

/** The windows `temporalAggregate` uses when given none: the seed's sizes, in ms. */
export const DEFAULT_AGGREGATE_WINDOWS: Readonly<Record<string, number>> = Object.freeze({
  'file.modified': 5_000,
  'tool.used': 10_000,
  'performance.metric': 30_000,
});

/** Options of `temporalAggregate`. Every one is optional. */
export interface TemporalAggregateConfig {
  /**
   * The event types to aggregate and their window size in ms. Replaces the defaults
   * (`DEFAULT_AGGREGATE_WINDOWS`: `file.modified` 5 s, `tool.used` 10 s, `performance.metric` 30 s);
   * spread them to extend: `{ ...DEFAULT_AGGREGATE_WINDOWS, 'git.commit': 60_000 }`.
   * Events of other types pass through at once, unchanged.
   */
  windows?: Readonly<Record<string, number>>;
  /**
   * How far behind the highest event time of its session an event may arrive and still join its window.
   * The watermark is `max event time - allowedLatenessMs`. Default 0 (events of a session arrive in
   * event-time order, as the hook bridge produces them).
   */
  allowedLatenessMs?: number;
  /**
   * How long a session must be quiet (scheduler time) before its watermark is advanced by the scheduler
   * clock, so that a live window closes at its end even when no later event comes. Default 0: as soon as
   * the estimate passes the end. `Infinity` disables the idle rule (windows then close only on later
   * events, `maxEvents`, capacity, complete or error). Quiet is counted from the arrival time, which is
   * read once per run of synchronous arrivals: on a real clock, the end of the run the event came in.
   */
  idleFlushMs?: number;
  /**
   * At most this many events are buffered per (session, type); reaching it emits the window's events so
   * far early, as a `part` (the window stays open for the rest of its range). Default 1,000.
   */
  maxEvents?: number;
  /**
   * At most this many (session, type) windows are open at once. Opening one more first emits the window
   * opened the longest ago (all of its buffered events; later events of its range are then late).
   * Default 10,000. Memory is bounded by `maxOpenWindows × maxEvents` buffered events.
   */
  maxOpenWindows?: number;
  /**
   * The watermark and late-event horizons of up to this many sessions without an open window are
   * remembered; beyond it, those whose latest event time is oldest are forgotten (an event of a forgotten
   * session is treated as its first, so it cannot be recognized as late). Default 10,000.
   */
  maxIdleSessions?: number;
  /** Put the original events in `data.events` of each aggregate. Default true. */
  includeEvents?: boolean;
  /** The clock of the idle rule. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** Min, average, max and 95th percentile (nearest rank) of a set of numbers. */
export interface NumericStats {
  count: number;
  min: number;
  avg: number;
  max: number;
  p95: number;
}

/** `summary` of a `file.modified.aggregated` event. */
export interface FileModifiedSummary {
  /** One entry per `data.file_path`, sorted by path. */
  files: Array<{ path: string; count: number; total_size: number }>;
  /** Number of distinct files. */
  file_count: number;
  /** Sum of `data.size` (bytes written, when the hook knew it) over the window. */
  total_size: number;
  /** Events without a string `data.file_path`. */
  without_path: number;
}

/** `summary` of a `tool.used.aggregated` event. */
export interface ToolUsedSummary {
  /** One entry per `data.tool_name` (`unknown` when absent), sorted by name. */
  tools: Array<{ name: string; count: number; failures: number; duration_ms?: NumericStats }>;
  /** Events with `data.success === false`. */
  failures: number;
  /** Over every event with a numeric `data.duration_ms`; absent when none has one. */
  duration_ms?: NumericStats;
}

/** `summary` of a `performance.metric.aggregated` event. */
export interface PerformanceMetricSummary {
  /** One entry per `data.metric` name with its numeric `data.value`s, sorted by name. */
  metrics: Array<{ name: string } & NumericStats>;
  /** Events without a string `data.metric` or a finite `data.value`. */
  without_value: number;
}

/** `data` of a `<type>.aggregated` event. */
export interface AggregatedData extends Record<string, unknown> {
  /** The aggregated type, e.g. `tool.used`. */
  source_type: string;
  event_count: number;
  /** Event times of the first and last event in the aggregate. */
  time_span: { start: number; end: number };
  /** The window's range `[start, end)` in event time: start is the time of its first event. */
  window: { start: number; end: number };
  /**
   * 1, or 2, 3 … for the further parts of a window that reached `maxEvents` (the parts of one window
   * share its `window`).
   */
  part: number;
  /** The events, in event-time order (ties by id), when `includeEvents`. */
  events?: Event[];
  /** For `file.modified`, `tool.used` and `performance.metric`. */
  summary?: FileModifiedSummary | ToolUsedSummary | PerformanceMetricSummary;
}

const OPERATOR = 'temporalAggregate';

/** One (session, type) key: the events buffered for its current and any later windows. */
interface WindowKey {
  readonly session: SessionState;
  readonly type: string;
  readonly size: number;
  /** `<type>.aggregated` */
  readonly aggregated: string;
  /** Not yet emitted, all with `timestamp >= horizon`. Sorted canonically when `sorted`. */
  pending: Event[];
  /** Their timestamps, in the same order: windows are cut on this flat array, not on the events. */
  times: number[];
  sorted: boolean;
  /**
   * The highest priority in `pending`, and in `pending` but its last event (-1 when none): read as each
   * event arrives, so a window that closes whole (or all but the event that closed it) is not read again.
   */
  priority: number;
  priorityBeforeLast: number;
  /** Least event time in `pending` (`Infinity` when empty). */
  minTs: number;
  /** Whether the current window's start is fixed (a part of it was emitted at `maxEvents`). */
  fixed: boolean;
  fixedStart: number;
  /** The part number the current window emits next. */
  part: number;
  /** Events before this time are late: their range was emitted. */
  horizon: number;
  open: boolean;
}

interface SessionState extends ShellPartition {
  readonly id: string | undefined;
  /** By index of the type in `windows`. */
  readonly keys: Array<WindowKey | undefined>;
  /** Open keys. */
  open: number;
  /** A lower bound of the earliest end among its open windows (`Infinity` when none). */
  minEnd: number;
}

interface TypeSpec {
  index: number;
  size: number;
  aggregated: string;
  late: string;
}

/**
 * Aggregates events into per (session, type) tumbling windows measured in event time, and emits one
 * `<type>.aggregated` event per window: count, time span, window range, highest priority, the session,
 * the last event's context, a type-specific `summary` and (by default) the events themselves. Events of
 * types without a window pass through at once, unchanged.
 *
 * A window starts at its first event's time and covers `[start, start + size)`. It is emitted when the
 * session's watermark (its highest event time minus `allowedLatenessMs`) reaches its end; while the
 * session is quiet, the watermark advances with the scheduler clock (see `idleFlushMs`), so a live window
 * is emitted on time. Windows also close early at `maxEvents`, and every open window is emitted on
 * complete and before an error is forwarded. An event whose window was already emitted is never dropped:
 * it is emitted as a `<type>.late` event carrying it.
 *
 * Because windows depend only on event times, a session replayed in milliseconds yields the same
 * aggregates as the live run (ids aside).
 *
 * ```
 * windows: { 'tool.used': 5 }, times in ms, event time = arrival time, t = tool.used, x = session.started
 * source:  -t-t-x-t--------t-|          (t at 1, 3, 7 and 16)
 * result:  -----xA-----B-----(C|)
 *   A = tool.used.aggregated [1,6), 2 events: at 6, the session quiet since 5 (idle rule)
 *   B = [7,12), 1 event, at 12;  C = [16,21), 1 event, flushed on complete
 * ```
 *
 * ## Examples
 * ```ts
 * bridge.events$.pipe(temporalAggregate()).subscribe(render);
 * replay(store, id).pipe(temporalAggregate({ windows: { 'tool.used': 60_000 }, includeEvents: false }));
 * ```
 *
 * @param config windows, lateness, idle rule, limits and scheduler; see `TemporalAggregateConfig`.
 * @return an operator that replaces windowed events by their aggregates (and late events by
 *   `<type>.late` events) and passes every other event through.
 * @throws ConfigError (code `INVALID_CONFIG`) at construction when an option is invalid.
 */
export function temporalAggregate(config?: TemporalAggregateConfig): OperatorFunction<Event, Event> {
  checkConfig(OPERATOR, config);
  const types = readWindows(config?.windows);
  const latenessMs = numberOption(OPERATOR, 'allowedLatenessMs', config?.allowedLatenessMs, 0, { min: 0 });
  const idleFlushMs = numberOption(OPERATOR, 'idleFlushMs', config?.idleFlushMs, 0, {
    min: 0,
    infinity: true,
  });
  const maxEvents = numberOption(OPERATOR, 'maxEvents', config?.maxEvents, 1_000, { min: 1, integer: true });
  const maxOpenWindows = numberOption(OPERATOR, 'maxOpenWindows', config?.maxOpenWindows, 10_000, {
    min: 1,
    integer: true,
  });
  const maxIdleSessions = numberOption(OPERATOR, 'maxIdleSessions', config?.maxIdleSessions, 10_000, {
    min: 0,
    integer: true,
  });
  const includeEvents = booleanOption(OPERATOR, 'includeEvents', config?.includeEvents, true);
  const scheduler = config?.scheduler ?? asyncScheduler;
  const typeCount = types.size;

  return (source) =>
    new Observable<Event>((subscriber) => {
      const shell = new WindowShell<SessionState>(subscriber, { scheduler, latenessMs, idleFlushMs });
      const emit = (event: Event) => shell.emit(event);
      const sessions = new Map<string | undefined, SessionState>();
      // Open keys in the order they opened (the capacity policy).
      const openKeys = new Set<WindowKey>();

      // Events of one session tend to come in runs: remember the last one looked up.
      let lastSession: SessionState | undefined;
      const sessionOf = (id: string | undefined): SessionState => {
        if (lastSession !== undefined && lastSession.id === id) return lastSession;
        let s = sessions.get(id);
        if (s === undefined) {
          s = {
            id,
            maxTs: Number.NEGATIVE_INFINITY,
            wm: Number.NEGATIVE_INFINITY,
            lastArrival: 0,
            arriving: false,
            due: Number.POSITIVE_INFINITY,
            slot: -1,
            keys: new Array(typeCount),
            open: 0,
            minEnd: Number.POSITIVE_INFINITY,
            activeSince: 0,
            caughtTick: shell.ticks,
          };
          sessions.set(id, s);
          if (sessions.size - shell.activeCount > maxIdleSessions) forgetIdleSessions(s);
        }
        lastSession = s;
        return s;
      };

      // Forgets the idle sessions with the oldest event time, down to 90 % of the cap so the work amortizes
      // (event time rather than arrival order, so a replay forgets the same sessions as the live run).
      const forgetIdleSessions = (keep: SessionState) => {
        const target = maxIdleSessions - Math.floor(maxIdleSessions / 10);
        const candidates: SessionState[] = [];
        for (const s of sessions.values()) if (s.open === 0 && s !== keep) candidates.push(s);
        candidates.sort((a, b) => a.maxTs - b.maxTs);
        for (let i = 0; i < candidates.length && sessions.size - shell.activeCount > target; i++) {
          sessions.delete(candidates[i]!.id);
          if (lastSession === candidates[i]) lastSession = undefined;
        }
      };

      const markOpen = (k: WindowKey) => {
        k.open = true;
        openKeys.add(k);
        const s = k.session;
        if (s.open++ === 0) shell.activated(s);
        if (openKeys.size > maxOpenWindows) {
          const oldest = openKeys.values().next().value!;
          if (oldest !== k) flushKey(oldest);
        }
      };

      const markClosed = (k: WindowKey) => {
        k.open = false;
        openKeys.delete(k);
        const s = k.session;
        shell.catchUp(s);
        if (--s.open === 0) shell.deactivated(s);
      };

      const sortPending = (k: WindowKey) => {
        if (!k.sorted) {
          k.pending.sort(canonicalOrder);
          k.times = k.pending.map((e) => e.timestamp);
          k.sorted = true;
          recountPriority(k);
        }
      };

      /** Takes the first `n` pending events out of `k`. */
      const take = (k: WindowKey, n: number): Event[] => {
        const pending = k.pending;
        if (n === pending.length) {
          k.pending = [];
          // The timestamps are never handed out: keep their array (and its capacity) for the next window.
          k.times.length = 0;
          k.minTs = Number.POSITIVE_INFINITY;
          k.priority = -1;
          k.priorityBeforeLast = -1;
          return pending;
        }
        // Shifted in place: allocating a removed part that nobody reads is most of a splice's cost.
        const times = k.times;
        const rest = times.length - n;
        for (let i = 0; i < rest; i++) times[i] = times[i + n]!;
        times.length = rest;
        k.minTs = times[0]!;
        const chunk = pending.splice(0, n);
        recountPriority(k);
        return chunk;
      };

      /** The highest priority among the first `n` pending events of `k`. */
      const priorityOfFirst = (k: WindowKey, n: number): Priority => {
        const pending = k.pending;
        if (n === pending.length) return k.priority as Priority;
        if (n === pending.length - 1) return k.priorityBeforeLast as Priority;
        let priority: Priority = Priority.LOW;
        for (let i = 0; i < n; i++) {
          const p = priorityOf(pending[i]!.priority, Priority.LOW);
          if (p > priority) priority = p;
        }
        return priority;
      };

      const aggregate = (
        k: WindowKey,
        events: Event[],
        start: number,
        part: number,
        priority: Priority,
      ): Event => {
        const last = events[events.length - 1]!;
        const summary = summarize(k.type, events);
        const data = aggregatedData(k.type, events, start, start + k.size, part, includeEvents, summary);
        // Built directly rather than through createEvent: every field is valid by construction.
        return aggregatedEvent(
          k.aggregated,
          last.timestamp,
          priority,
          data,
          contextOf(last.context),
          k.session.id,
        );
      };

      /** Emits the current window of `k`, which ends at `end`; later pending events form the next. */
      const closeWindow = (k: WindowKey, end: number) => {
        const start = startOf(k);
        const part = k.part;
        sortPending(k);
        const times = k.times;
        let n = 0;
        while (n < times.length && times[n]! < end) n++;
        const priority = n > 0 ? priorityOfFirst(k, n) : Priority.LOW;
        const chunk = take(k, n);
        k.horizon = end;
        k.fixed = false;
        k.part = 1;
        if (k.pending.length === 0) markClosed(k);
        if (chunk.length > 0) emit(aggregate(k, chunk, start, part, priority));
      };

      /** Closes every window of `s` whose end the watermark has reached. */
      const closeDue = (s: SessionState) => {
        let minEnd = Number.POSITIVE_INFINITY;
        for (let i = 0; i < typeCount; i++) {
          const k = s.keys[i];
          while (k?.open) {
            const end = startOf(k) + k.size;
            if (end > s.wm) {
              if (end < minEnd) minEnd = end;
              break;
            }
            closeWindow(k, end);
            if (shell.done) return;
          }
        }
        s.minEnd = minEnd;
      };

      /** Emits every window of `k`, whatever the watermark. */
      const flushKey = (k: WindowKey) => {
        while (k.open && !shell.done) closeWindow(k, startOf(k) + k.size);
      };

      /** `maxEvents` reached: emits the current window's events so far as a part. */
      const emitParts = (k: WindowKey) => {
        while (k.pending.length >= maxEvents && !shell.done) {
          sortPending(k);
          const start = startOf(k);
          const end = start + k.size;
          const times = k.times;
          let n = 0;
          while (n < times.length && n < maxEvents && times[n]! < end) n++;
          if (n === 0) {
            // A continuation that got nothing more while later windows filled the buffer: close it.
            closeWindow(k, end);
            continue;
          }
          const priority = priorityOfFirst(k, n);
          const chunk = take(k, n);
          const part = k.part++;
          k.fixed = true;
          k.fixedStart = start;
          k.horizon = start;
          emit(aggregate(k, chunk, start, part, priority));
        }
      };

      const onNext = (event: Event) => {
        const ts = event?.timestamp;
        if (typeof ts !== 'number' || !(ts >= 0) || ts === Number.POSITIVE_INFINITY) {
          // No usable event time (not an event at all, or a bad timestamp): it cannot be windowed.
          emit(event);
          return;
        }
        const spec = types.get(event.type);
        const s = sessionOf(sessionIdOf(event.sessionId));
        shell.arrive(s);
        advance(s, ts, latenessMs);
        let late: Event<LateEventData> | undefined;
        if (spec !== undefined) {
          let k = s.keys[spec.index];
          if (k === undefined) {
            k = {
              session: s,
              type: event.type,
              size: spec.size,
              aggregated: spec.aggregated,
              pending: [],
              times: [],
              sorted: true,
              priority: -1,
              priorityBeforeLast: -1,
              minTs: Number.POSITIVE_INFINITY,
              fixed: false,
              fixedStart: 0,
              part: 1,
              horizon: Number.NEGATIVE_INFINITY,
              open: false,
            };
            s.keys[spec.index] = k;
          }
          if (ts < k.horizon) {
            late = lateEvent(spec.late, event, 'window_closed', s.wm);
          } else if ((!k.open || ts < startOf(k)) && ts + k.size <= s.wm) {
            late = lateEvent(spec.late, event, 'behind_watermark', s.wm);
          } else {
            const pending = k.pending;
            const last = pending.length - 1;
            if (last >= 0 && k.sorted) {
              const lastTs = k.times[last]!;
              if (ts < lastTs || (ts === lastTs && !inOrder(pending[last]!, event))) k.sorted = false;
            }
            pending.push(event);
            k.times.push(ts);
            const p = priorityOf(event.priority, Priority.LOW);
            k.priorityBeforeLast = k.priority;
            if (p > k.priority) k.priority = p;
            if (ts < k.minTs) {
              k.minTs = ts;
              if (!k.fixed && ts + k.size < s.minEnd) s.minEnd = ts + k.size;
            }
            if (!k.open) markOpen(k);
          }
        }
        if (s.wm >= s.minEnd) closeDue(s);
        if (spec === undefined) emit(event);
        else if (late !== undefined) emit(late);
        else {
          const k = s.keys[spec.index]!;
          if (k.pending.length >= maxEvents) emitParts(k);
        }
        // The idle tick for this session, `dueAt` from its arrival time (read when the run settles).
        if (s.open > 0) shell.requestIdle(idleOffset(s, s.minEnd, latenessMs, idleFlushMs));
      };

      /**
       * Emits every open window: keys in the order of their current window's end, each with its later
       * windows. On complete, before an error, and on a failure.
       */
      const flushAll = () => {
        const keys = [...openKeys].sort((a, b) => startOf(a) + a.size - (startOf(b) + b.size));
        for (const k of keys) {
          flushKey(k);
          if (shell.done) return;
        }
      };

      return shell.connect(source, {
        next: onNext,
        isOpen: (s) => s.open > 0,
        dueOf: (s) => dueAt(s, s.minEnd, latenessMs, idleFlushMs),
        closeDue: (s) => {
          if (s.wm >= s.minEnd) closeDue(s);
        },
        flushAll,
        clear: () => {
          sessions.clear();
          lastSession = undefined;
          openKeys.clear();
        },
      });
    });
}

/**
 * `data` of an aggregate, as one object literal per shape (an optional field added later would move
 * each object through a chain of hidden classes).
 */
function aggregatedData(
  type: string,
  events: Event[],
  start: number,
  end: number,
  part: number,
  includeEvents: boolean,
  summary: AggregatedData['summary'],
): AggregatedData {
  const eventCount = events.length;
  const timeSpan = { start: events[0]!.timestamp, end: events[eventCount - 1]!.timestamp };
  const window = { start, end };
  if (includeEvents) {
    return summary === undefined
      ? { source_type: type, event_count: eventCount, time_span: timeSpan, window, part, events }
      : { source_type: type, event_count: eventCount, time_span: timeSpan, window, part, events, summary };
  }
  return summary === undefined
    ? { source_type: type, event_count: eventCount, time_span: timeSpan, window, part }
    : { source_type: type, event_count: eventCount, time_span: timeSpan, window, part, summary };
}

/** An aggregate event, as one object literal per shape (see `aggregatedData`). */
function aggregatedEvent(
  type: string,
  timestamp: number,
  priority: Priority,
  data: AggregatedData,
  context: Record<string, unknown> | undefined,
  sessionId: string | undefined,
): Event<AggregatedData> {
  const id = createEventId();
  if (context === undefined) {
    return sessionId === undefined
      ? { id, type, timestamp, priority, data }
      : { id, type, timestamp, priority, data, sessionId };
  }
  return sessionId === undefined
    ? { id, type, timestamp, priority, data, context }
    : { id, type, timestamp, priority, data, context, sessionId };
}

/** Recomputes the priorities `WindowKey` keeps of its pending events (after a sort or a partial take). */
function recountPriority(k: WindowKey): void {
  const pending = k.pending;
  let priority = -1;
  let beforeLast = -1;
  for (let i = 0; i < pending.length; i++) {
    beforeLast = priority;
    const p = priorityOf(pending[i]!.priority, Priority.LOW);
    if (p > priority) priority = p;
  }
  k.priority = priority;
  k.priorityBeforeLast = beforeLast;
}

/** Start of the current window of an open key: its first event, unless a part fixed it. */
function startOf(k: WindowKey): number {
  return k.fixed ? k.fixedStart : k.minTs;
}

function readWindows(windows: unknown): Map<string, TypeSpec> {
  const source = windows === undefined ? DEFAULT_AGGREGATE_WINDOWS : windows;
  if (typeof source !== 'object' || source === null || Array.isArray(source)) {
    throw new ConfigError(`${OPERATOR}: windows must be an object of event type → window size in ms`);
  }
  const types = new Map<string, TypeSpec>();
  for (const [type, size] of Object.entries(source)) {
    if (type.length === 0) throw new ConfigError(`${OPERATOR}: windows has an empty event type`);
    numberOption(OPERATOR, `windows['${type}']`, size, 0, { min: 0, exclusive: true });
    types.set(type, {
      index: types.size,
      size: size as number,
      aggregated: `${type}.aggregated`,
      late: `${type}.late`,
    });
  }
  return types;
}

// ---------------------------------------------------------------------------------------------------
// Type-specific summaries. They read `data` defensively: events from untyped sources may carry anything.

function summarize(
  type: string,
  events: readonly Event[],
): FileModifiedSummary | ToolUsedSummary | PerformanceMetricSummary | undefined {
  switch (type) {
    case 'file.modified':
      return summarizeFiles(events);
    case 'tool.used':
      return summarizeTools(events);
    case 'performance.metric':
      return summarizeMetrics(events);
    default:
      return undefined;
  }
}

function dataOf(event: Event): Record<string, unknown> {
  const data = event.data as unknown;
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** @internal Stats of `values` (not empty); p95 by nearest rank. Exported for tests. */
export function numericStats(values: readonly number[]): NumericStats {
  const n = values.length;
  let min = values[0]!;
  let max = min;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  // Nearest rank: the ceil(0.95 n)-th smallest, which is the largest while n < 20.
  const rank = Math.ceil(0.95 * n);
  const p95 = rank >= n ? max : nthSmallest(values, rank);
  return { count: n, min, avg: sum / n, max, p95 };
}

/**
 * The `rank`-th smallest of `values` in the order of a sorted `Float64Array` (-0 before +0), without
 * sorting them all: near the top it is the (n - rank + 1)-th largest, found by keeping that many largest
 * values in a small sorted buffer (one comparison for most values).
 */
function nthSmallest(values: readonly number[], rank: number): number {
  const n = values.length;
  const k = n - rank + 1;
  let value: number;
  if (k > 32) value = new Float64Array(values).sort()[rank - 1]!;
  else {
    // top: the k largest so far, ascending.
    const top = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      const v = values[i]!;
      let j = i;
      while (j > 0 && top[j - 1]! > v) {
        top[j] = top[j - 1]!;
        j--;
      }
      top[j] = v;
    }
    for (let i = k; i < n; i++) {
      const v = values[i]!;
      if (v <= top[0]!) continue;
      let j = 1;
      while (j < k && top[j]! < v) {
        top[j - 1] = top[j]!;
        j++;
      }
      top[j - 1] = v;
    }
    value = top[0]!;
  }
  if (value !== 0) return value;
  // A zero: -0 when the values sorting before +0 (negatives and -0) reach the rank.
  let before = 0;
  for (let i = 0; i < n; i++) if (values[i]! < 0 || Object.is(values[i], -0)) before++;
  return before >= rank ? -0 : 0;
}

// Windows are mostly small: a linear scan finds one of a few entries faster than building a Map, which
// takes over beyond SCAN_LIMIT entries.
const SCAN_LIMIT = 8;

/** The position of the entry whose `field` is `value`, -1 when none: a linear scan. */
function scanAt<T, K extends keyof T>(entries: readonly T[], field: K, value: T[K]): number {
  for (let i = 0; i < entries.length; i++) if (entries[i]![field] === value) return i;
  return -1;
}

/** The positions of the entries by their `field`, once there are more than SCAN_LIMIT of them. */
function positions<T, K extends keyof T>(entries: readonly T[], field: K): Map<T[K], number> {
  const map = new Map<T[K], number>();
  for (let i = 0; i < entries.length; i++) map.set(entries[i]![field], i);
  return map;
}

function summarizeFiles(events: readonly Event[]): FileModifiedSummary {
  const files: FileModifiedSummary['files'] = [];
  let byPath: Map<string, number> | undefined;
  let totalSize = 0;
  let withoutPath = 0;
  for (let i = 0; i < events.length; i++) {
    const data = dataOf(events[i]!);
    const size = finite(data.size) ?? 0;
    totalSize += size;
    const path = data.file_path;
    if (typeof path !== 'string') {
      withoutPath++;
      continue;
    }
    const at = byPath === undefined ? scanAt(files, 'path', path) : (byPath.get(path) ?? -1);
    if (at < 0) {
      files.push({ path, count: 1, total_size: size });
      if (byPath !== undefined) byPath.set(path, files.length - 1);
      else if (files.length > SCAN_LIMIT) byPath = positions(files, 'path');
    } else {
      const file = files[at]!;
      file.count++;
      file.total_size += size;
    }
  }
  if (files.length > 1) files.sort((a, b) => byName(a.path, b.path));
  return { files, file_count: files.length, total_size: totalSize, without_path: withoutPath };
}

type ToolEntry = ToolUsedSummary['tools'][number];

function summarizeTools(events: readonly Event[]): ToolUsedSummary {
  const tools: ToolEntry[] = [];
  // The durations of tools[i], when it has any (an array beside the entries, not a field added later).
  const toolDurations: Array<number[] | undefined> = [];
  let toolsByName: Map<string, number> | undefined;
  let durations: number[] | undefined;
  let failures = 0;
  for (let i = 0; i < events.length; i++) {
    const data = dataOf(events[i]!);
    const name = typeof data.tool_name === 'string' ? data.tool_name : 'unknown';
    let at = toolsByName === undefined ? scanAt(tools, 'name', name) : (toolsByName.get(name) ?? -1);
    if (at < 0) {
      at = tools.length;
      tools.push({ name, count: 0, failures: 0 });
      toolDurations.push(undefined);
      if (toolsByName !== undefined) toolsByName.set(name, at);
      else if (tools.length > SCAN_LIMIT) toolsByName = positions(tools, 'name');
    }
    const tool = tools[at]!;
    tool.count++;
    if (data.success === false) {
      tool.failures++;
      failures++;
    }
    const duration = finite(data.duration_ms);
    if (duration !== undefined) {
      const own = toolDurations[at];
      if (own === undefined) toolDurations[at] = [duration];
      else own.push(duration);
      if (durations === undefined) durations = [duration];
      else durations.push(duration);
    }
  }
  for (let i = 0; i < tools.length; i++) {
    const own = toolDurations[i];
    if (own !== undefined) tools[i]!.duration_ms = numericStats(own);
  }
  if (tools.length > 1) tools.sort((a, b) => byName(a.name, b.name));
  return durations === undefined
    ? { tools, failures }
    : { tools, failures, duration_ms: numericStats(durations) };
}

function summarizeMetrics(events: readonly Event[]): PerformanceMetricSummary {
  const names: string[] = [];
  const byMetric = new Map<string, number[]>();
  let withoutValue = 0;
  for (let i = 0; i < events.length; i++) {
    const data = dataOf(events[i]!);
    const value = finite(data.value);
    const name = data.metric;
    if (typeof name !== 'string' || value === undefined) {
      withoutValue++;
      continue;
    }
    const values = byMetric.get(name);
    if (values === undefined) {
      byMetric.set(name, [value]);
      names.push(name);
    } else values.push(value);
  }
  if (names.length > 1) names.sort(byName);
  const metrics: PerformanceMetricSummary['metrics'] = new Array(names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const stats = numericStats(byMetric.get(name)!);
    metrics[i] = { name, count: stats.count, min: stats.min, avg: stats.avg, max: stats.max, p95: stats.p95 };
  }
  return { metrics, without_value: withoutValue };
}
