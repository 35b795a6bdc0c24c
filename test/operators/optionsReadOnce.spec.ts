/**
 * Options read once, at the call: each field's getter runs once, and the value checked is the value used
 * (a getter that gives another value at its next read cannot slip an unchecked one past the checks).
 */
import { asyncScheduler, firstValueFrom, from, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  aggregateHooks,
  bridgeHooks,
  chainHooks,
  correlate,
  createEvent,
  createFileState,
  createHookBridge,
  createModeSelector,
  type Event,
  EventFlowMetrics,
  fromFileWatcher,
  hybridProcess,
  isActivity,
  isPatternMatch,
  measure,
  Priority,
  pattern,
  persist,
  runHook,
  runHookAggregation,
  runHookChain,
  sessionWindows,
  systemLoad$,
  temporalAggregate,
  toEvents,
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

  it('the operators and sources that check their scheduler: each field is read once (the scheduler was read twice, select four times; the scheduler of persist and of the bridges twice)', () => {
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
      [
        'persist',
        { maxBatch: 10, maxDelayMs: 5, maxPending: 100, priorityLane: true, scheduler },
        (options) => persist({ append: async () => {} }, options),
      ],
      [
        'bridgeHooks',
        { maxPayloadBytes: 1_000, maxDepth: 10, maxRawLength: 100, maxAheadMs: 5, scheduler },
        bridgeHooks,
      ],
      [
        'createHookBridge',
        { maxPending: 10, maxPayloadBytes: 1_000, maxDepth: 10, maxRawLength: 100, maxAheadMs: 5, scheduler },
        createHookBridge,
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

  it('the hook runners: each run option is read once, and the checked one is used (timeoutMs, errorPolicy, maxOutputBytes were read twice)', async () => {
    const failing = { name: 'h', run: () => Promise.reject(new Error('no')) };
    const run = { scheduler: asyncScheduler, timeoutMs: 1_000, maxOutputBytes: 1_024, sessionId: 'S' };
    // At a second read, values the checks refuse.
    const invalid = { timeoutMs: Number.NaN, errorPolicy: 'sometimes', maxOutputBytes: -1 };
    const calls: Array<[string, Record<string, unknown>, (options: never) => unknown]> = [
      ['runHook', { ...run, errorPolicy: 'fail-open' }, (options) => runHook(failing, {}, options)],
      [
        'runHookChain',
        { ...run, errorPolicy: 'fail-open' },
        (options) => runHookChain({ name: 'c', hooks: [failing] }, {}, options),
      ],
      [
        'chainHooks',
        { ...run, errorPolicy: 'fail-open', concurrency: 1, maxQueued: 5 },
        (options) => chainHooks({ name: 'c', hooks: [failing] }, options),
      ],
      [
        'runHookAggregation',
        { ...run, name: 'a', deadlineMs: 1_000 },
        (options) => runHookAggregation([failing], {}, () => 0, options),
      ],
      [
        'aggregateHooks',
        { ...run, name: 'a', deadlineMs: 1_000, concurrency: 1, maxQueued: 5 },
        (options) => aggregateHooks([failing], () => 0, options),
      ],
    ];
    for (const [name, fields, call] of calls) {
      const { object, reads } = counted(fields, invalid);
      call(object as never);
      expect({ name, reads }).toEqual({
        name,
        reads: Object.fromEntries(Object.keys(fields).map((key) => [key, 1])),
      });
    }
    // The policy checked is the one the step reports.
    const { object } = counted({ errorPolicy: 'fail-open' }, invalid);
    const step = await firstValueFrom(runHook(failing, {}, object as never));
    expect([step.status, 'policy' in step && step.policy]).toEqual(['failed', 'fail-open']);
  });

  it("createModeSelector: each field, each threshold and each type of a list is read once, and the checked ones are used (thresholds were read four times, a list's types three)", () => {
    const thresholds = counted({ cpuPercent: 50, queueDepth: 10 }, { cpuPercent: -1, queueDepth: -1 });
    const config = counted(
      { thresholds: thresholds.object, minHighLoadIndicators: 2, lowPriority: 'async', highVolumeTypes: [] },
      { thresholds: 'none' as never, minHighLoadIndicators: 0, lowPriority: 'never' },
    );
    // A type list whose first entry is 'git.commit' at its first read, '' (refused) after.
    let typeReads = 0;
    const userBlocking: string[] = [];
    Object.defineProperty(userBlocking, 0, {
      enumerable: true,
      get: () => (++typeReads === 1 ? 'git.commit' : ''),
    });
    Object.defineProperty(config.object, 'userBlockingTypes', { enumerable: true, value: userBlocking });
    const select = createModeSelector(config.object as never);
    expect([config.reads, thresholds.reads, typeReads]).toEqual([
      { thresholds: 1, minHighLoadIndicators: 1, lowPriority: 1, highVolumeTypes: 1 },
      { cpuPercent: 1, queueDepth: 1 },
      1,
    ]);
    const commit = createEvent({ type: 'git.commit', priority: Priority.NORMAL });
    expect(select(commit, {})).toBe('immediate');
    // The thresholds checked (50 and 10), not -1: a load under both is no load.
    expect(select(commit, { cpuPercent: 40, queueDepth: 5 })).toBe('immediate');
    expect(select(commit, { cpuPercent: 60, queueDepth: 20 })).toBe('batched');
  });
  it('toEvents and createFileState: each field is read once (the null check read each a second time; toEvents read its limits twice)', () => {
    const limits = counted(
      { maxPayloadBytes: 1_000, maxDepth: 10, maxRawLength: 100, maxAheadMs: 5 },
      { maxDepth: -1 },
    );
    const [event] = toEvents('SessionStart', { session_id: 's', source: 'startup' }, T0, limits.object);
    expect([limits.reads, event?.type]).toEqual([
      { maxPayloadBytes: 1, maxDepth: 1, maxRawLength: 1, maxAheadMs: 1 },
      'session.started',
    ]);
    const state = counted({ recentWindowMs: 1_000, maxRecent: 5 }, { maxRecent: -1 });
    createFileState(state.object);
    expect(state.reads).toEqual({ recentWindowMs: 1, maxRecent: 1 });
  });
});
