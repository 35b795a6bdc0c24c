/**
 * temporalAggregate then pattern: the windows of several types that one arrival closes go out in the order
 * of their ends, as the live run's idle rule closes them (each at its end), not in the order of the types
 * in `windows`. The pattern downstream reads an aggregate behind its key's latest time as arriving then,
 * so an aggregate that came after a later one changed the deadline of the partial match it started.
 */
import { from, map, pipe, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type Event, type PatternTimeoutData, pattern, temporalAggregate } from '../../src/index.js';
import { ev, label } from '../helpers/windows.js';

// file.modified is the first type of the windows, tool.used the second; tool.used's window ends first.
const windows = { 'file.modified': 5, 'tool.used': 10 };
const t = ev('tool.used', 0, 's');
const f = ev('file.modified', 6, 's');
const x = ev('session.idle', 11, 's');

const is = (type: string) => (e: Event) => e.type === type;
const chain = (options: Parameters<typeof temporalAggregate>[0]) =>
  pipe(
    temporalAggregate(options),
    pattern<Event>([is('tool.used.aggregated'), is('git.commit')], { within: 20 }),
    map((e) =>
      e.type === 'pattern.timeout'
        ? `timeout, deadline ${(e.data as PatternTimeoutData).deadline}`
        : label(e),
    ),
  );

const expected = [
  'tool.used.aggregated s [0,10) n=1',
  'file.modified.aggregated s [6,11) n=1',
  'session.idle@11',
  'timeout, deadline 20',
];

describe('composition: windows one arrival closes, then pattern', () => {
  it('live (the idle rule closes each window at its end)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const source = cold('t-----f----x----|', { t, f, x });
      const values = Object.fromEntries(expected.map((v, i) => [String.fromCharCode(97 + i), v]));
      // The source completes at 16: the partial match is flushed then, with its deadline.
      expectObservable(source.pipe(chain({ windows, idleFlushMs: 0 }))).toBe('----------a(bc)-(d|)', values);
    });
  });

  it('replayed all at once: the same outputs in the same order', () => {
    let out: string[] = [];
    from([t, f, x])
      .pipe(chain({ windows, idleFlushMs: Number.POSITIVE_INFINITY }), toArray())
      .subscribe((values) => {
        out = values;
      });
    expect(out).toEqual(expected);
  });
});
