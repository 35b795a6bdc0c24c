/**
 * `temporalAggregate` throughput with 1,000 concurrent sessions, as a ratio to RxJS `bufferTime` on the
 * same input in the same run (goal: ratio ≥ 0.5).
 *
 * The input is a replay-like burst: events of 1,000 sessions interleaved round-robin, 40 % `tool.used`,
 * 30 % `file.modified`, 10 % `performance.metric` (windowed with the default 10 s / 5 s / 30 s windows)
 * and 20 % `tool.requested` (passed through). Both pipelines consume it synchronously with `from(array)`,
 * so the figure is CPU per event, not timer latency.
 *
 * The ratio depends on how many events share a window: `bufferTime` never reads an event and emits one
 * array, while `temporalAggregate` reads each event's type, time and session, and creates one event with
 * a summary per window. So two densities are measured:
 * - sparse: 1 event/s per session (each session's events 1 s of event time apart); its windows hold 5
 *   (`file.modified`), 10 (`tool.used`) and ~29 (`performance.metric`) events, 7.7 on average,
 *   about what a busy Claude Code session produces;
 * - dense: 10 events/s per session; its windows hold 50, 100 and 200 events, 76 on average.
 *
 * A row compares with `groupBy` (session, type) + `bufferTime`, the nearest RxJS composition of the
 * same grouping (in processing time, and losing its buffers on error), for context.
 *
 * The floor rows measure `floorSketch`: the least work any implementation must do per event and per
 * window on this input (look up the session and the type, buffer the event, summarize it, close windows
 * as event time passes and emit the same aggregates), with none of the rest of what the operator
 * guarantees: no idle rule, lateness, disorder, limits, priority or re-entrancy, and no RxJS operator
 * around it. It shows how much of the gap to `bufferTime` any implementation would keep.
 *
 * The live row feeds 5,000 sessions as they arrive live: one event per ms of scheduler time, event time =
 * arrival time (100 s of traffic for 100,000 events), default windows and the idle rule on, so windows
 * close on the idle timer and every tick has thousands of open sessions. The clock is a
 * `VirtualTimeScheduler`: the same scheduler actions and idle ticks as on `asyncScheduler`, without
 * waiting 100 s of wall time. Its baseline is `bufferTime(10 s)` on the same clock, fed the same way.
 */
import {
  bufferTime,
  from,
  groupBy,
  mergeMap,
  type OperatorFunction,
  type SchedulerLike,
  Subject,
  VirtualTimeScheduler,
} from 'rxjs';
import { createEvent, createEventId, type Event } from '../src/index.js';
import { tallyFor } from '../src/operators/internal/summaries.js';
import { temporalAggregate } from '../src/operators/temporalAggregate.js';
import { type BenchRow, type BenchSuite, byLength, compareThroughput } from './harness.js';

const SESSIONS = 1_000;

/** `perMs` events per ms of event time over all sessions: each session gets `perMs` events per second. */
function makeEvents(count: number, perMs: number, sessions = SESSIONS): Event[] {
  const events: Event[] = [];
  const start = 1_700_000_000_000;
  for (let i = 0; i < count; i++) {
    const sessionId = `session-${i % sessions}`;
    const kind = (i * 7) % 10;
    const timestamp = start + Math.floor(i / perMs);
    if (kind < 4) {
      events.push(
        createEvent({
          type: 'tool.used',
          timestamp,
          sessionId,
          data: { tool_name: kind % 2 === 0 ? 'Bash' : 'Edit', duration_ms: i % 300, success: i % 13 !== 0 },
        }),
      );
    } else if (kind < 7) {
      events.push(
        createEvent({
          type: 'file.modified',
          timestamp,
          sessionId,
          data: { file_path: `/repo/f${i % 50}.ts`, size: i % 999 },
        }),
      );
    } else if (kind < 8) {
      events.push(
        createEvent({
          type: 'performance.metric',
          timestamp,
          sessionId,
          data: { metric: 'latency_ms', value: i % 97 },
        }),
      );
    } else {
      events.push(createEvent({ type: 'tool.requested', timestamp, sessionId, data: { tool_name: 'Bash' } }));
    }
  }
  return events;
}

const LIVE_SESSIONS = 5_000;

interface SketchWindow {
  readonly type: string;
  readonly size: number;
  readonly tally: ReturnType<typeof tallyFor>;
  events: Event[];
  start: number;
}

interface SketchSession {
  readonly id: string;
  /** By type index. */
  readonly windows: SketchWindow[];
  /** The latest event time seen. */
  now: number;
}

/**
 * The floor: the default windows over in-order events, closed as soon as a later event of their session
 * is past their end (or at the end of the input), each emitted as an aggregate of the operator's shape
 * with the operator's own summaries (tallied as events arrive, as the operator does). Nothing else: a
 * session's windows in an array by type, looked at only when its event time moves on.
 */
function floorSketch(events: readonly Event[], sink: (value: unknown) => void): void {
  const types = new Map(
    Object.entries({ 'tool.used': 10_000, 'file.modified': 5_000, 'performance.metric': 30_000 }).map(
      ([type, size], index) => [type, { index, size }] as const,
    ),
  );
  const sessions = new Map<string, SketchSession>();
  const close = (w: SketchWindow, sessionId: string) => {
    const windowed = w.events;
    w.events = [];
    const first = windowed[0]!;
    const last = windowed[windowed.length - 1]!;
    const data = {
      source_type: w.type,
      event_count: windowed.length,
      time_span: { start: first.timestamp, end: last.timestamp },
      window: { start: w.start, end: w.start + w.size },
      part: 1,
      events: windowed,
      summary: w.tally!.finish(),
    };
    sink({
      id: createEventId(),
      type: `${w.type}.aggregated`,
      timestamp: last.timestamp,
      priority: 1,
      data,
      sessionId,
    });
  };
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const ts = event.timestamp;
    const sessionId = event.sessionId!;
    let session = sessions.get(sessionId);
    if (session === undefined) {
      session = { id: sessionId, windows: [], now: Number.NEGATIVE_INFINITY };
      sessions.set(sessionId, session);
    }
    if (ts > session.now) {
      session.now = ts;
      const windows = session.windows;
      for (let j = 0; j < windows.length; j++) {
        const w = windows[j];
        if (w !== undefined && w.events.length > 0 && w.start + w.size <= ts) close(w, sessionId);
      }
    }
    const spec = types.get(event.type);
    if (spec === undefined) {
      sink(event);
      continue;
    }
    let w = session.windows[spec.index];
    if (w === undefined) {
      w = { type: event.type, size: spec.size, tally: tallyFor(event.type), events: [], start: 0 };
      session.windows[spec.index] = w;
    }
    if (w.events.length === 0) w.start = ts;
    w.events.push(event);
    w.tally!.add(event);
  }
  for (const session of sessions.values())
    for (const w of session.windows) if (w !== undefined && w.events.length > 0) close(w, session.id);
}

/**
 * Feeds `events` (event time = arrival time, in ms from 0) one at a time at their time on a virtual
 * clock through `build(clock)`, then completes; returns the number of outputs.
 */
function feedLive(
  events: Event[],
  build: (clock: SchedulerLike) => OperatorFunction<Event, unknown>,
): number {
  const clock = new VirtualTimeScheduler();
  const input = new Subject<Event>();
  let outputs = 0;
  input.pipe(build(clock)).subscribe({
    next: () => {
      outputs++;
    },
  });
  let i = 0;
  const arrive = () => {
    input.next(events[i]!);
    i++;
    if (i < events.length) clock.schedule(arrive, events[i]!.timestamp - clock.now());
    else input.complete();
  };
  clock.schedule(arrive, events[0]!.timestamp);
  clock.flush();
  return outputs;
}

function drain(run: (sink: (value: unknown) => void) => void): number {
  let outputs = 0;
  run(() => {
    outputs++;
  });
  return outputs;
}

const suite: BenchSuite = {
  name: 'temporalAggregate',
  async run(options): Promise<BenchRow[]> {
    const { runs } = options;
    // 200,000 by default (500,000 with --long) keeps `npm run bench` under 5 minutes; docs/benchmarks.md.
    const count = byLength(options, { quick: 50_000, default: 200_000, long: 500_000 });
    const rows: BenchRow[] = [];
    for (const [label, perMs] of [
      ['sparse: 1 event/s per session, ~7.7 events per window', 1],
      ['dense: 10 events/s per session, ~76 events per window', 10],
    ] as const) {
      const events = makeEvents(count, perMs);
      let aggregates = 0;
      const subject = () => {
        aggregates = drain((sink) => from(events).pipe(temporalAggregate()).subscribe({ next: sink }));
      };
      const baseline = () => drain((sink) => from(events).pipe(bufferTime(10_000)).subscribe({ next: sink }));
      // The same extra JIT warm-up for both, beyond compareThroughput's single one.
      for (let i = 0; i < 2; i++) {
        subject();
        baseline();
      }
      const result = await compareThroughput(runs, count, subject, baseline);
      let sketched = 0;
      const floor = await compareThroughput(
        runs,
        count,
        () => {
          sketched = drain((sink) => floorSketch(events, sink));
        },
        baseline,
      );
      rows.push({
        suite: 'temporalAggregate',
        name: `temporalAggregate, ${SESSIONS.toLocaleString('en-US')} sessions, ${label}`,
        value: result.subject,
        unit: 'events/s',
        baseline: { name: 'bufferTime(10 s)', value: result.baseline },
        ratio: result.ratio,
        goal: 'ratio ≥ 0.5',
        met: result.ratio >= 0.5,
        runs,
        notes: `${count.toLocaleString('en-US')} events → ${aggregates.toLocaleString('en-US')} outputs; default windows, includeEvents`,
      });
      rows.push({
        suite: 'temporalAggregate',
        name: `floor sketch (least work, no guarantees), ${SESSIONS.toLocaleString('en-US')} sessions, ${label}`,
        value: floor.subject,
        unit: 'events/s',
        baseline: { name: 'bufferTime(10 s)', value: floor.baseline },
        ratio: floor.ratio,
        runs,
        notes: `context only: ${sketched.toLocaleString('en-US')} outputs; what the goal leaves for everything the operator adds (see the header)`,
      });
      if (perMs === 1) {
        const grouped = () =>
          drain((sink) =>
            from(events)
              .pipe(
                groupBy((e) => `${e.sessionId}\u0000${e.type}`),
                mergeMap((group) => group.pipe(bufferTime(10_000))),
              )
              .subscribe({ next: sink }),
          );
        const composed = await compareThroughput(runs, count, subject, grouped);
        rows.push({
          suite: 'temporalAggregate',
          name: `temporalAggregate vs groupBy + bufferTime, ${SESSIONS.toLocaleString('en-US')} sessions, ${label}`,
          value: composed.subject,
          unit: 'events/s',
          baseline: { name: 'groupBy(session, type) + bufferTime(10 s)', value: composed.baseline },
          ratio: composed.ratio,
          runs,
          notes: 'context only: the nearest RxJS composition (processing time; loses its buffers on error)',
        });
      }
    }
    // Live: one event per ms of arrival (and event) time, from 0.
    const liveCount = byLength(options, { quick: 20_000, default: 100_000, long: 250_000 });
    const live = makeEvents(liveCount, 1, LIVE_SESSIONS).map((event, i) => ({ ...event, timestamp: i }));
    let liveOutputs = 0;
    const liveSubject = () => {
      liveOutputs = feedLive(live, (scheduler) => temporalAggregate({ scheduler }));
    };
    const liveBaseline = () => feedLive(live, (scheduler) => bufferTime(10_000, scheduler));
    const liveResult = await compareThroughput(runs, liveCount, liveSubject, liveBaseline);
    rows.push({
      suite: 'temporalAggregate',
      name: `temporalAggregate live, ${LIVE_SESSIONS.toLocaleString('en-US')} sessions, one event per ms, idle rule on`,
      value: liveResult.subject,
      unit: 'events/s',
      baseline: { name: 'bufferTime(10 s), fed the same way', value: liveResult.baseline },
      ratio: liveResult.ratio,
      runs,
      notes: `${liveCount.toLocaleString('en-US')} events over ${(liveCount / 1000).toLocaleString('en-US')} s of virtual time → ${liveOutputs.toLocaleString('en-US')} outputs; default windows, includeEvents`,
    });
    return rows;
  },
};

export default suite;
