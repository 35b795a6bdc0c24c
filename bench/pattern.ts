/**
 * `pattern` throughput: events/s through the TDD red → green pattern of docs/pattern.md (a test edit,
 * then a source edit, then a passing test run, keyed by session) over 1,000 interleaved sessions, each
 * against a bare RxJS pipeline (`from(array) → map → subscribe`) over the same events in the same run.
 *
 * Two rows:
 * - `within` 5 min, default `maxKeys`: every session's partial matches are tracked; the row's work is
 *   the per-event path (key lookup, each step's predicate, a partial match started, advanced or
 *   completed, the pass-through) and the sweeps every `within / 4` of event time, which visit only the
 *   keys whose earliest deadline has passed (the due queue). With ~100 events per session in 5 min
 *   nearly every partial match completes or is replaced by a later one before its deadline;
 * - capacity: `within` 10 s and `maxKeys` 320, a little under the most sessions that have a partial
 *   match younger than `within` at once (340–360 in this input), and a sweep only every 2.5 s: so the
 *   map fills between sweeps, and a new key that finds it full first ends, through the due queue, the
 *   partial matches the newest timestamp has passed the deadline of, and evicts the least recently
 *   active eighth (40 keys) only if that freed no room. The sessions without a partial match but active
 *   within 10 s outnumber `maxKeys`, so the kept latest times stay full too, and each one added drops
 *   one from their heap. The notes count the timeouts and the evictions.
 *
 * Each session gets an event every ~3 s of event time (one every 3 ms over all), the sessions in random
 * order: a third of its events are file edits (a third of those to a test file), a tenth test runs
 * (60 % passing), the rest tool calls and prompts — so partial matches start, advance and complete all
 * through the run (and, in the capacity row, time out or are evicted).
 */
import { from, map, type OperatorFunction } from 'rxjs';
import { createEvent, type Event, pattern } from '../src/index.js';
import { type BenchRow, type BenchSuite, byLength, compareThroughput } from './harness.js';
import { prng } from './payloads.js';

export const SESSIONS = 1_000;
const STEP_MS = 3;

/** `count` events of `sessions` interleaved sessions, one every 3 ms of event time, deterministic. */
export function generateEvents(count: number, sessions = SESSIONS): Event[] {
  const random = prng(7);
  const ids = Array.from({ length: sessions }, (_, i) => `session-${String(i).padStart(4, '0')}`);
  const t0 = 1_800_000_000_000;
  const events: Event[] = [];
  for (let i = 0; i < count; i++) {
    const s = Math.floor(random() * sessions);
    const timestamp = t0 + i * STEP_MS;
    const r = random();
    let type: string;
    const data: Record<string, unknown> = {};
    if (r < 0.33) {
      type = 'file.modified';
      const module = `/repo/src/module${s % 50}/file${Math.floor(random() * 20)}`;
      data.file_path = random() < 1 / 3 ? `${module}.test.ts` : `${module}.ts`;
    } else if (r < 0.43) {
      type = 'test.run';
      data.passed = random() < 0.6;
    } else if (r < 0.9) {
      type = 'tool.used';
      data.tool_name = random() < 0.5 ? 'Read' : 'Bash';
    } else type = 'prompt.submitted';
    events.push(createEvent({ type, timestamp, sessionId: ids[s]!, data }));
  }
  return events;
}

const isTestEdit = (e: Event) => e.type === 'file.modified' && /\.test\./.test(String(e.data.file_path));
const isSourceEdit = (e: Event) => e.type === 'file.modified' && !/\.test\./.test(String(e.data.file_path));
const isPassingTestRun = (e: Event) => e.type === 'test.run' && e.data.passed === true;

/** The TDD pattern of docs/pattern.md, keyed by session (the default key). */
export function tdd(within: number, maxKeys?: number): OperatorFunction<Event, Event> {
  return pattern([isTestEdit, isSourceEdit, isPassingTestRun], {
    within,
    name: 'tdd',
    ...(maxKeys === undefined ? {} : { maxKeys }),
  });
}

/** The rows' two configurations. */
export const WITHIN_MS = 5 * 60_000;
export const CAPACITY = { within: 10_000, maxKeys: 320 } as const;

/** What a run emitted, by kind: counted outside the timed runs. */
export interface PatternCounts {
  outputs: number;
  passed: number;
  matched: number;
  timeout: number;
  evicted: number;
  flushed: number;
  errors: number;
}

/** Pushes `events` through `operator` synchronously; returns the number of outputs. */
function drain(events: readonly Event[], operator: OperatorFunction<Event, unknown>): number {
  let outputs = 0;
  from(events)
    .pipe(operator)
    .subscribe(() => {
      outputs++;
    });
  return outputs;
}

/** Runs `events` through `operator` once and counts its outputs by kind. */
export function countOutputs(
  events: readonly Event[],
  operator: OperatorFunction<Event, Event>,
): PatternCounts {
  const counts: PatternCounts = {
    outputs: 0,
    passed: 0,
    matched: 0,
    timeout: 0,
    evicted: 0,
    flushed: 0,
    errors: 0,
  };
  from(events)
    .pipe(operator)
    .subscribe((event) => {
      counts.outputs++;
      if (event.type === 'pattern.matched') counts.matched++;
      else if (event.type === 'pattern.timeout') {
        const reason = event.data.reason as 'timeout' | 'evicted' | 'flushed';
        counts[reason === 'timeout' ? 'timeout' : reason]++;
      } else if (event.type === 'pattern.error') counts.errors++;
      else counts.passed++;
    });
  return counts;
}

const n = (value: number) => value.toLocaleString('en-US');

const suite: BenchSuite = {
  name: 'pattern',
  async run(options) {
    const { runs } = options;
    const count = byLength(options, { quick: 50_000, default: 300_000, long: 1_000_000 });
    const events = generateEvents(count);
    const baseline = () =>
      drain(
        events,
        map((event) => event),
      );
    const rows: BenchRow[] = [];

    const tddRun = await compareThroughput(runs, count, () => drain(events, tdd(WITHIN_MS)), baseline);
    const tddCounts = countOutputs(events, tdd(WITHIN_MS));
    rows.push({
      suite: 'pattern',
      name: `pattern, TDD red → green within 5 min, ${n(SESSIONS)} sessions`,
      value: tddRun.subject,
      unit: 'events/s',
      baseline: { name: 'from → map', value: tddRun.baseline },
      ratio: tddRun.ratio,
      runs,
      notes:
        `${n(count)} events (${n((count * STEP_MS) / 1000)} s of event time); ` +
        `${n(tddCounts.matched)} matched, ${n(tddCounts.timeout)} timed out, ${n(tddCounts.flushed)} flushed at the end`,
    });

    const capacity = await compareThroughput(
      runs,
      count,
      () => drain(events, tdd(CAPACITY.within, CAPACITY.maxKeys)),
      baseline,
    );
    const capacityCounts = countOutputs(events, tdd(CAPACITY.within, CAPACITY.maxKeys));
    rows.push({
      suite: 'pattern',
      name: `pattern, capacity: within 10 s, maxKeys ${n(CAPACITY.maxKeys)}, ${n(SESSIONS)} sessions`,
      value: capacity.subject,
      unit: 'events/s',
      baseline: { name: 'from → map', value: capacity.baseline },
      ratio: capacity.ratio,
      runs,
      notes:
        `${n(count)} events, the same as the row above; partial matches ended on a full map or by sweeps: ` +
        `${n(capacityCounts.matched)} matched, ${n(capacityCounts.timeout)} timed out, ` +
        `${n(capacityCounts.evicted)} evicted, ${n(capacityCounts.flushed)} flushed at the end`,
    });
    return rows;
  },
};

export default suite;
