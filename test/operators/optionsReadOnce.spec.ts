/**
 * Options read once, at the call: each field's getter runs once, and the value checked is the value used
 * (a getter that gives another value at its next read cannot slip an unchecked one past the checks).
 */
import { asyncScheduler, firstValueFrom, from, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  correlate,
  type Event,
  EventFlowMetrics,
  fromFileWatcher,
  hybridProcess,
  isActivity,
  isPatternMatch,
  measure,
  Priority,
  pattern,
  sessionWindows,
  systemLoad$,
  temporalAggregate,
} from '../../src/index.js';

const T0 = 1_800_000_000_000;
const ev = (id: string, type: string, at: number): Event => ({
  id,
  type,
  timestamp: T0 + at,
  priority: Priority.NORMAL,
  data: {},
  sessionId: 'A',
});

/**
 * `fields` as getters that count their reads: each gives its value at the first read and `later` (when
 * given for it) at every read after.
 */
function counted<T extends Record<string, unknown>>(fields: T, later: Partial<T> = {}) {
  const reads: Record<string, number> = {};
  const object = {} as T;
  for (const [key, value] of Object.entries(fields)) {
    reads[key] = 0;
    Object.defineProperty(object, key, {
      enumerable: true,
      get() {
        reads[key]!++;
        return reads[key] === 1 || !(key in later) ? value : later[key];
      },
    });
  }
  return { object, reads };
}

const events = [ev('a', 'tool.used', 0), ev('b', 'file.modified', 500)];
const run = <T>(operator: (source: ReturnType<typeof from<Event[]>>) => import('rxjs').Observable<T>) =>
  firstValueFrom(operator(from(events)).pipe(toArray()));

describe('options read once', () => {
  it("correlate: each field of a group and of the options is read once, and the checked one is used (a group's windowMs, eventTypes)", async () => {
    const rule = (window: readonly Event[]) => (window.length >= 2 ? { confidence: 1 } : null);
    // At a second read: a window of 1 ms, which drops the first event before the second; no types.
    const group = counted(
      { name: 'g', eventTypes: ['tool.used', 'file.modified'], windowMs: 1_000, rule, description: 'd' },
      { windowMs: 1, eventTypes: [] as string[] },
    );
    const options = counted(
      {
        passThrough: false,
        maxSessions: 10,
        maxWindowEvents: 10,
        maxEventIds: 10,
        maxFiles: 10,
        liveClock: false,
      },
      { passThrough: true },
    );
    const operator = correlate([group.object], options.object);
    expect(group.reads).toEqual({ name: 1, eventTypes: 1, windowMs: 1, rule: 1, description: 1 });
    expect(options.reads).toEqual({
      passThrough: 1,
      maxSessions: 1,
      maxWindowEvents: 1,
      maxEventIds: 1,
      maxFiles: 1,
      liveClock: 1,
    });
    const outputs = await run(operator);
    expect(outputs.filter((e) => isActivity(e)).map((e) => e.type)).toEqual([
      'activity.detected',
      'activity.ended',
    ]);
    expect(outputs.filter((e) => e.type === 'tool.used')).toEqual([]); // passThrough: false, as checked
  });

  it('pattern: each field of a step and of the options is read once, and the checked one is used (within)', async () => {
    const first = counted({ name: 'x', match: (e: Event) => e.type === 'tool.used', optional: false });
    const second = counted({ name: 'y', match: (e: Event) => e.type === 'file.modified' });
    // At a second read: a `within` of 1 ms, shorter than the 500 ms between the two events.
    const options = counted(
      { within: 1_000, name: 'p', passThrough: false, timeouts: false, maxKeys: 10, liveClock: false },
      { within: 1 },
    );
    const operator = pattern([first.object, second.object], options.object);
    expect([first.reads, second.reads]).toEqual([
      { name: 1, match: 1, optional: 1 },
      { name: 1, match: 1 },
    ]);
    expect(options.reads).toEqual({
      within: 1,
      name: 1,
      passThrough: 1,
      timeouts: 1,
      maxKeys: 1,
      liveClock: 1,
    });
    const outputs = await run(operator);
    expect(outputs.filter((e) => isPatternMatch(e)).map((e) => e.type)).toEqual(['pattern.matched']);
  });

  it('the operators and sources that check their scheduler: each field is read once (the scheduler was read twice, select four times)', () => {
    const scheduler = asyncScheduler;
    const calls: Array<[string, Record<string, unknown>, (options: never) => unknown]> = [
      [
        'temporalAggregate',
        { windows: { 'tool.used': 5 }, idleFlushMs: 10, maxEvents: 5, scheduler },
        temporalAggregate,
      ],
      ['sessionWindows', { gapMs: 5, maxEvents: 5, scheduler }, sessionWindows],
      ['adaptiveBatch', { minSize: 1, maxSize: 2, timeoutMs: 600, scheduler }, adaptiveBatch],
      [
        'hybridProcess',
        {
          immediate: () => 1,
          batch: () => [],
          select: () => 'immediate',
          batcher: { minSize: 1 },
          scheduler,
        },
        hybridProcess,
      ],
      [
        'EventFlowMetrics',
        { now: () => 0, maxTypes: 5, scheduler },
        (options) => new EventFlowMetrics(options),
      ],
      ['measure', { type: 'x' }, (options) => measure(new EventFlowMetrics(), options)],
      ['systemLoad$', { intervalMs: 1_000, eventLoopResolutionMs: 10, scheduler }, systemLoad$],
      [
        'fromFileWatcher',
        { recursive: false, ignore: /x/, debounceMs: 5, scheduler },
        (options) => fromFileWatcher('.', options),
      ],
    ];
    for (const [name, fields, call] of calls) {
      const { object, reads } = counted(fields);
      call(object as never);
      expect({ name, reads }).toEqual({
        name,
        reads: Object.fromEntries(Object.keys(fields).map((key) => [key, 1])),
      });
    }
  });
});
