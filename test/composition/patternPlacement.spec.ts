/**
 * pattern beside temporalAggregate, as docs/pattern.md#before-or-after-temporalaggregate says: pattern
 * reads events as they come, so below temporalAggregate its predicates see `file.modified.aggregated`,
 * never a `file.modified` (the TDD example of the docs matches nothing there); above it, it matches, and
 * its `pattern.matched` passes through temporalAggregate, which windows the events it holds as they passed.
 */
import { from, type OperatorFunction, pipe, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type AggregatedData,
  correlate,
  createEvent,
  type Event,
  type PatternMatchData,
  pattern,
  temporalAggregate,
} from '../../src/index.js';

const isTestEdit = (e: Event) => e.type === 'file.modified' && /\.test\./.test(String(e.data.file_path));
const isSourceEdit = (e: Event) => e.type === 'file.modified' && !/\.test\./.test(String(e.data.file_path));
const isPassingTestRun = (e: Event) => e.type === 'test.run' && e.data.passed === true;
const tdd = () =>
  pattern<Event>([isTestEdit, isSourceEdit, isPassingTestRun], { within: 10 * 60_000, name: 'tdd' });

const s = (type: string, minute: number, data: Record<string, unknown>) =>
  createEvent({ type, timestamp: minute * 60_000, sessionId: 's', data });
const events = [
  s('file.modified', 0, { file_path: 'src/csv.test.ts' }),
  s('file.modified', 2, { file_path: 'src/csv.ts' }),
  s('test.run', 3, { passed: true }),
];

function run(chain: OperatorFunction<Event, Event>): Event[] {
  let out: Event[] = [];
  from(events)
    .pipe(chain, toArray())
    .subscribe((all) => {
      out = all;
    });
  return out;
}

describe('composition: pattern beside temporalAggregate', () => {
  it('below temporalAggregate, predicates on raw types see aggregates and match nothing', () => {
    const out = run(pipe(temporalAggregate(), correlate<Event>(), tdd()));
    expect(out.map((e) => e.type)).toEqual([
      'file.modified.aggregated',
      'file.modified.aggregated',
      'test.run',
    ]);
  });

  it('above it, the match is found and passes through, and the edits are windowed as before', () => {
    const out = run(pipe(tdd(), temporalAggregate(), correlate<Event>()));
    const match = out.find((e) => e.type === 'pattern.matched') as Event<PatternMatchData>;
    expect(match.data.events).toEqual(events);
    const windows = out.filter((e) => e.type === 'file.modified.aggregated') as Event<AggregatedData>[];
    expect(windows.flatMap((w) => w.data.events!)).toEqual(events.slice(0, 2));
    // Each edit's 5 s window is closed by the next event (a minute later); the match follows the run.
    expect(out.map((e) => e.type)).toEqual([
      'file.modified.aggregated',
      'file.modified.aggregated',
      'test.run',
      'pattern.matched',
    ]);
  });
});
