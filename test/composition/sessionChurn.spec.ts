/**
 * State that grows with session churn: a long-running subscriber (a dashboard) sees thousands of sessions
 * a day, each a few minutes long, many never ending with a `session.ended` (the terminal was closed). Each
 * stateful operator keeps something per session; what it keeps must grow with the sessions open, not with
 * the sessions ever seen (docs/buffers.md, "State kept per session").
 *
 * Each part is driven through 100,000 short sessions, none ended, events in event-time order, pushed in one
 * synchronous loop (the event loop never turns, as with a source read from memory: temporalAggregate's and
 * sessionWindows' run of arrivals held every session of it, see `MAX_RUN` in internal/eventTime.ts), and
 * the heap used after a full gc is compared between 10,000 sessions and 100,000. Its bounds are lowered (1,000
 * sessions, keys or windows) so that the state is at its bound well before the first reading; the 90,000
 * sessions after it must then leave the heap where it was, give or take a few MB (an unbounded map of
 * sessions grows by tens of MB over them, see the control test). No clock is read.
 */
import { type OperatorFunction, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  correlate,
  DEFAULT_CORRELATION_GROUPS,
  type Event,
  EventFlowMetrics,
  measure,
  Priority,
  pattern,
  sessionWindows,
  temporalAggregate,
} from '../../src/index.js';
import { heapAfterGc } from '../helpers/heap.js';

const FIRST = 10_000;
const SESSIONS = 100_000;
/** How much more heap 90,000 more sessions may leave: a fraction of what an unbounded map of them takes. */
const SLACK_BYTES = 6 * 1024 * 1024;
const START = 1_700_000_000_000;
/**
 * Longer than the churn's event time (100,000 sessions 60 s apart: 69 days): with correlate's windows and
 * pattern's `within` at their defaults or a day, a session quiet for that long is dropped anyway, and
 * their bounds were never reached (the test passed with maxSessions and maxKeys taken out).
 */
const YEAR = 365 * 86_400_000;

/** One short session's events: a tool use, two file edits, a test run, 1 s of event time apart each. */
function sessionEvents(i: number): Event[] {
  const sessionId = `session-${i}-${'x'.repeat(24)}`;
  const at = START + i * 60_000;
  const base = { sessionId, priority: Priority.NORMAL } as const;
  return [
    { ...base, id: `${i}-t`, type: 'tool.used', timestamp: at, data: { tool_name: 'Bash', duration_ms: 5 } },
    {
      ...base,
      id: `${i}-f`,
      type: 'file.modified',
      timestamp: at + 1_000,
      data: { file_path: `/r/f${i}.ts` },
    },
    {
      ...base,
      id: `${i}-g`,
      type: 'file.created',
      timestamp: at + 2_000,
      data: { file_path: `/r/g${i}.ts` },
    },
    { ...base, id: `${i}-r`, type: 'test.run', timestamp: at + 3_000, data: { passed: false } },
  ];
}

/**
 * Pushes `SESSIONS` sessions through `operator`, outputs counted and dropped; returns the heap used after
 * `FIRST` sessions and after all, and the outputs.
 */
function churn(operator: OperatorFunction<Event, unknown>): { first: number; last: number; outputs: number } {
  const input = new Subject<Event>();
  let outputs = 0;
  let failure: { error: unknown } | undefined;
  const subscription = input.pipe(operator).subscribe({
    next: () => {
      outputs++;
    },
    error: (error: unknown) => {
      failure = { error };
    },
  });
  let first = 0;
  for (let i = 0; i < SESSIONS; i++) {
    for (const event of sessionEvents(i)) input.next(event);
    if (i === FIRST - 1) first = heapAfterGc();
  }
  const last = heapAfterGc();
  subscription.unsubscribe();
  if (failure !== undefined) throw failure.error;
  return { first, last, outputs };
}

const BOUNDED: Array<[string, () => OperatorFunction<Event, unknown>]> = [
  [
    'temporalAggregate (maxOpenWindows, maxIdleSessions)',
    () => temporalAggregate({ maxOpenWindows: 1_000, maxIdleSessions: 1_000 }),
  ],
  [
    'sessionWindows (maxOpenWindows, maxIdleKeys)',
    () => sessionWindows({ maxOpenWindows: 1_000, maxIdleKeys: 1_000 }),
  ],
  [
    'sessionWindows with includeEvents (maxOpenWindows × maxEvents)',
    () => sessionWindows({ includeEvents: true, maxOpenWindows: 1_000, maxIdleKeys: 1_000 }),
  ],
  [
    // Windows of a year: no session is quiet for a window, only maxSessions bounds them.
    'correlate (maxSessions)',
    () =>
      correlate(
        DEFAULT_CORRELATION_GROUPS.map((group) => ({ ...group, windowMs: YEAR })),
        { maxSessions: 1_000 },
      ),
  ],
  [
    // A partial match per session that never completes, within a year: only maxKeys bounds the keys.
    'pattern (maxKeys): a partial match per session, never completed',
    () =>
      pattern([(e) => e.type === 'file.modified', (e) => e.type === 'git.commit'], {
        within: YEAR,
        key: (e) => e.sessionId,
        maxKeys: 1_000,
      }),
  ],
  [
    'measure, a type per session (maxTypes)',
    () =>
      measure(new EventFlowMetrics({ maxTypes: 1_000 }), { type: (e: Event) => `${e.type}:${e.sessionId}` }),
  ],
];

describe('session churn: 100,000 sessions, none ended', () => {
  it.each(BOUNDED)('%s: the heap after 100,000 is that after 10,000', (_, operator) => {
    const { first, last, outputs } = churn(operator());
    expect(outputs).toBeGreaterThan(0);
    expect(last - first).toBeLessThan(SLACK_BYTES);
  });

  it('control: with bounds above the sessions seen, the same churn leaves the heap tens of MB higher', () => {
    // What the comparison above would see of a part that keeps every session: the check can fail.
    const { first, last } = churn(temporalAggregate({ maxOpenWindows: 1_000, maxIdleSessions: 1_000_000 }));
    expect(last - first).toBeGreaterThan(4 * SLACK_BYTES);
  });
});
