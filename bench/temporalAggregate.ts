/**
 * `temporalAggregate` throughput with 1,000 concurrent sessions, as a ratio to RxJS `bufferTime` on the
 * same input in the same run (goal: ratio ≥ 0.5).
 *
 * The input is a replay-like burst: events of 1,000 sessions interleaved round-robin, 1 ms of event time
 * apart, 40 % `tool.used`, 30 % `file.modified`, 10 % `performance.metric` (all windowed with the default
 * 10 s / 5 s / 30 s windows) and 20 % `tool.requested` (passed through). Both pipelines consume it
 * synchronously with `from(array)`, so the figure is CPU per event, not timer latency.
 *
 * A second row measures `groupBy` (session, type) + `bufferTime` per group, the nearest RxJS composition
 * doing the same grouping, for context.
 */
import { bufferTime, from, groupBy, mergeMap } from 'rxjs';
import { createEvent, type Event } from '../src/index.js';
import { temporalAggregate } from '../src/operators/temporalAggregate.js';
import { type BenchRow, type BenchSuite, compareThroughput } from './harness.js';

const SESSIONS = 1_000;

function makeEvents(count: number): Event[] {
  const events: Event[] = [];
  const start = 1_700_000_000_000;
  for (let i = 0; i < count; i++) {
    const sessionId = `session-${i % SESSIONS}`;
    const kind = (i * 7) % 10;
    const timestamp = start + i;
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
  async run({ runs, quick }): Promise<BenchRow[]> {
    const count = quick ? 100_000 : 500_000;
    const events = makeEvents(count);
    const subject = () => drain((sink) => from(events).pipe(temporalAggregate()).subscribe({ next: sink }));
    const baseline = () => drain((sink) => from(events).pipe(bufferTime(10_000)).subscribe({ next: sink }));
    const grouped = () =>
      drain((sink) =>
        from(events)
          .pipe(
            groupBy((e) => `${e.sessionId}\u0000${e.type}`),
            mergeMap((group) => group.pipe(bufferTime(10_000))),
          )
          .subscribe({ next: sink }),
      );

    const plain = await compareThroughput(runs, count, subject, baseline);
    const composed = await compareThroughput(runs, count, subject, grouped);
    const notes = `${count.toLocaleString('en-US')} events, ${SESSIONS} sessions, default windows, includeEvents`;
    return [
      {
        suite: 'temporalAggregate',
        name: `temporalAggregate, ${SESSIONS.toLocaleString('en-US')} sessions`,
        value: plain.subject,
        unit: 'events/s',
        baseline: { name: 'bufferTime(10 s)', value: plain.baseline },
        ratio: plain.ratio,
        goal: 'ratio ≥ 0.5',
        met: plain.ratio >= 0.5,
        runs,
        notes,
      },
      {
        suite: 'temporalAggregate',
        name: `temporalAggregate vs groupBy + bufferTime, ${SESSIONS.toLocaleString('en-US')} sessions`,
        value: composed.subject,
        unit: 'events/s',
        baseline: { name: 'groupBy(session, type) + bufferTime(10 s)', value: composed.baseline },
        ratio: composed.ratio,
        runs,
        notes: `${notes}; context only: the nearest RxJS composition (processing time, loses windows on error)`,
      },
    ];
  },
};

export default suite;
