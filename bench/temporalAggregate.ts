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
 * - sparse: 1 event/s per session (each session's events 1 s of event time apart), ~2.6 events per window,
 *   about what a busy Claude Code session produces;
 * - dense: 10 events/s per session, ~26 events per window.
 *
 * A last row compares with `groupBy` (session, type) + `bufferTime`, the nearest RxJS composition of the
 * same grouping (in processing time, and losing its buffers on error), for context.
 */
import { bufferTime, from, groupBy, mergeMap } from 'rxjs';
import { createEvent, type Event } from '../src/index.js';
import { temporalAggregate } from '../src/operators/temporalAggregate.js';
import { type BenchRow, type BenchSuite, byLength, compareThroughput } from './harness.js';

const SESSIONS = 1_000;

/** `perMs` events per ms of event time over all sessions: each session gets `perMs` events per second. */
function makeEvents(count: number, perMs: number): Event[] {
  const events: Event[] = [];
  const start = 1_700_000_000_000;
  for (let i = 0; i < count; i++) {
    const sessionId = `session-${i % SESSIONS}`;
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
      ['sparse: ~2.6 events per window', 1],
      ['dense: ~26 events per window', 10],
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
    return rows;
  },
};

export default suite;
