import { filter, lastValueFrom, type Observable, of, toArray } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type ActivityData,
  type CorrelationErrorData,
  correlate,
  createEvent,
  type Event,
  isActivity,
  isCorrelationError,
  isPatternError,
  isPatternMatch,
  isPatternTimeout,
  type PatternErrorData,
  type PatternMatchData,
  type PatternTimeoutData,
  pattern,
} from '../../src/index.js';

const at = (type: string, timestamp: number) => createEvent({ type, timestamp, sessionId: 's1' });
const run = (events: Event[], operator: (source: Observable<Event>) => Observable<Event>) =>
  lastValueFrom(of(...events).pipe(operator, toArray()));

/** The guards that say true of `event`. */
const guards = { isActivity, isCorrelationError, isPatternMatch, isPatternTimeout, isPatternError };
const taking = (event: Event) =>
  Object.entries(guards)
    .filter(([, guard]) => guard(event))
    .map(([name]) => name);

describe('isActivity, isCorrelationError', () => {
  const group = (rule: () => { confidence: number }) => ({
    name: 'g',
    eventTypes: ['x'],
    windowMs: 100,
    rule,
  });

  it('take correlate activities and errors, each only its own', async () => {
    const out = await run([at('x', 1), at('y', 2)], correlate([group(() => ({ confidence: 0.9 }))]));
    expect(out.map((e) => [e.type, taking(e)])).toEqual([
      ['x', []],
      ['activity.detected', ['isActivity']],
      ['y', []],
      ['activity.ended', ['isActivity']],
    ]);
    const failed = await run(
      [at('x', 1)],
      correlate([
        group(() => {
          throw new Error('no');
        }),
      ]),
    );
    expect(failed.map((e) => [e.type, taking(e)])).toEqual([
      ['x', []],
      ['correlation.error', ['isCorrelationError']],
    ]);
  });

  it('check the shape, not only the name', () => {
    const activity = {
      activity_id: 'a',
      activity_type: 'g',
      confidence: 1,
      event_count: 1,
      window: { start: 1, end: 1 },
    };
    expect(isActivity(createEvent({ type: 'activity.updated', data: activity }))).toBe(true);
    expect(isActivity(createEvent({ type: 'activity.started', data: activity }))).toBe(false);
    for (const field of Object.keys(activity)) {
      const data: Record<string, unknown> = { ...activity, [field]: 'x' };
      if (field !== 'activity_id' && field !== 'activity_type') {
        expect(isActivity(createEvent({ type: 'activity.detected', data })), field).toBe(false);
      }
    }
    expect(
      isActivity(createEvent({ type: 'activity.detected', data: { ...activity, activity_id: 1 } })),
    ).toBe(false);
    expect(
      isActivity(createEvent({ type: 'activity.detected', data: { ...activity, activity_type: 1 } })),
    ).toBe(false);
    const error = { group: null, error: { name: 'Error', message: 'm' }, suppressed: 0 };
    expect(isCorrelationError(createEvent({ type: 'correlation.error', data: error }))).toBe(true);
    expect(
      isCorrelationError(createEvent({ type: 'correlation.error', data: { ...error, group: 'g' } })),
    ).toBe(true);
    for (const data of [
      { ...error, group: 1 },
      { ...error, error: 'm' },
      { ...error, error: null },
      { ...error, error: { name: 'Error' } },
      { ...error, error: { message: 'm' } },
      { ...error, suppressed: '0' },
    ]) {
      expect(isCorrelationError(createEvent({ type: 'correlation.error', data })), JSON.stringify(data)).toBe(
        false,
      );
    }
    expect(isCorrelationError(createEvent({ type: 'pattern.error', data: error }))).toBe(false);
  });

  it('narrow a stream to the data of each', () => {
    const out$ = of(at('x', 1)).pipe(correlate());
    expectTypeOf(out$.pipe(filter(isActivity))).toEqualTypeOf<Observable<Event<ActivityData>>>();
    expectTypeOf(out$.pipe(filter(isCorrelationError))).toEqualTypeOf<
      Observable<Event<CorrelationErrorData>>
    >();
  });
});

describe('isPatternMatch, isPatternTimeout, isPatternError', () => {
  const isA = (e: Event) => e.type === 'a';
  const isB = (e: Event) => e.type === 'b';

  it('take pattern matches, timeouts and errors, each only its own', async () => {
    const out = await run([at('a', 1), at('b', 2), at('a', 3)], pattern([isA, isB], { within: 10 }));
    expect(out.map((e) => [e.type, taking(e)])).toEqual([
      ['a', []],
      ['b', []],
      ['pattern.matched', ['isPatternMatch']],
      ['a', []],
      ['pattern.timeout', ['isPatternTimeout']],
    ]);
    const thrown = (e: Event): boolean => {
      if (e.type === 'b') throw new Error('no');
      return false;
    };
    const failed = await run(
      [at('a', 1), at('b', 2)],
      pattern([isA, thrown], { within: 10, passThrough: false }),
    );
    expect(failed.map((e) => [e.type, taking(e)])).toEqual([
      ['pattern.error', ['isPatternError']],
      ['pattern.timeout', ['isPatternTimeout']],
    ]);
  });

  it('check the shape, not only the name', () => {
    const match = { pattern: 'p', key: 's1', events: [], steps: [], window: { start: 1, end: 1 } };
    expect(isPatternMatch(createEvent({ type: 'pattern.matched', data: match }))).toBe(true);
    expect(isPatternMatch(createEvent({ type: 'pattern.matched', data: { ...match, key: null } }))).toBe(
      true,
    );
    expect(isPatternMatch(createEvent({ type: 'pattern.match', data: match }))).toBe(false);
    for (const field of Object.keys(match)) {
      const data: Record<string, unknown> = { ...match, [field]: 1 };
      expect(isPatternMatch(createEvent({ type: 'pattern.matched', data })), field).toBe(false);
    }
    const timeout = { ...match, expected: 'b', deadline: 11, reason: 'timeout' };
    expect(isPatternTimeout(createEvent({ type: 'pattern.timeout', data: timeout }))).toBe(true);
    for (const reason of ['flushed', 'evicted']) {
      expect(isPatternTimeout(createEvent({ type: 'pattern.timeout', data: { ...timeout, reason } }))).toBe(
        true,
      );
    }
    expect(isPatternTimeout(createEvent({ type: 'pattern.matched', data: timeout }))).toBe(false);
    for (const field of Object.keys(timeout)) {
      const data: Record<string, unknown> = { ...timeout, [field]: field === 'deadline' ? '11' : 1 };
      expect(isPatternTimeout(createEvent({ type: 'pattern.timeout', data })), field).toBe(false);
    }
    expect(
      isPatternTimeout(createEvent({ type: 'pattern.timeout', data: { ...timeout, reason: 'late' } })),
    ).toBe(false);
    const error = { pattern: 'p', step: 'b', error: { name: 'Error', message: 'm' }, suppressed: 0 };
    expect(isPatternError(createEvent({ type: 'pattern.error', data: error }))).toBe(true);
    expect(isPatternError(createEvent({ type: 'pattern.error', data: { ...error, step: null } }))).toBe(true);
    expect(isPatternError(createEvent({ type: 'correlation.error', data: error }))).toBe(false);
    for (const data of [
      { ...error, pattern: 1 },
      { ...error, step: 1 },
      { ...error, error: 'm' },
      { ...error, error: null },
      { ...error, error: { name: 'Error' } },
      { ...error, error: { message: 'm' } },
      { ...error, suppressed: '0' },
    ]) {
      expect(isPatternError(createEvent({ type: 'pattern.error', data })), JSON.stringify(data)).toBe(false);
    }
    expect(isPatternMatch(createEvent({ type: 'pattern.matched' }))).toBe(false);
    // A function is no error object, though it has a name.
    const fn = Object.assign(() => undefined, { message: 'm' });
    expect(isPatternError(createEvent({ type: 'pattern.error', data: { ...error, error: fn } }))).toBe(false);
    expect(
      isCorrelationError(
        createEvent({ type: 'correlation.error', data: { group: null, error: fn, suppressed: 0 } }),
      ),
    ).toBe(false);
  });

  it('say false, without a throw, of an event without data', () => {
    for (const type of [
      'activity.detected',
      'correlation.error',
      'pattern.matched',
      'pattern.timeout',
      'pattern.error',
    ]) {
      for (const data of [undefined, null, 'x']) {
        expect(taking({ ...createEvent({ type }), data } as unknown as Event), `${type} ${data}`).toEqual([]);
      }
    }
  });

  it('narrow a stream to the data of each', () => {
    const out$ = of(at('a', 1)).pipe(pattern([isA], { within: 1 }));
    expectTypeOf(out$.pipe(filter(isPatternMatch))).toEqualTypeOf<Observable<Event<PatternMatchData>>>();
    expectTypeOf(out$.pipe(filter(isPatternTimeout))).toEqualTypeOf<Observable<Event<PatternTimeoutData>>>();
    expectTypeOf(out$.pipe(filter(isPatternError))).toEqualTypeOf<Observable<Event<PatternErrorData>>>();
  });
});
