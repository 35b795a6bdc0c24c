import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  aimdPolicy,
  bridgeHooks,
  ConfigError,
  correlate,
  createFileState,
  createFlowGate,
  createHookBridge,
  createModeSelector,
  EventFlowMetrics,
  fromFileWatcher,
  fromHookFile,
  fromJsonLines,
  hybridProcess,
  measure,
  pattern,
  persist,
  pullFrom,
  runHook,
  seedPolicy,
  sessionWindows,
  systemLoad$,
  tail,
  temporalAggregate,
} from '../src/index.js';

/**
 * Values no option accepts, including two that cannot be put in a message with a template literal or
 * `String()` (a Symbol throws in a template, a null-prototype object in both): a bad option is a
 * `ConfigError` whatever it is, never a `TypeError` from formatting the message.
 */
const BAD: ReadonlyArray<readonly [string, unknown]> = [
  ['a Symbol', Symbol('bad')],
  ['a null-prototype object', Object.create(null)],
  [
    'an object whose toString throws',
    {
      toString: () => {
        throw new Error('no');
      },
    },
  ],
  ['a string', 'ten'],
  ['NaN', Number.NaN],
];

const HANDLERS = { immediate: () => 1, batch: (events: unknown[]) => events.map(() => 1) };

/** Each option with a value it accepts, so that a factory failing for another reason fails the test. */
const FACTORIES: ReadonlyArray<readonly [string, unknown, (value: unknown) => unknown]> = [
  ['temporalAggregate allowedLatenessMs', 0, (v) => temporalAggregate({ allowedLatenessMs: v as number })],
  ['sessionWindows gapMs', 1000, (v) => sessionWindows({ gapMs: v as number })],
  ['correlate updateIntervalMs', 1000, (v) => correlate(undefined, { updateIntervalMs: v as number })],
  ['correlate maxSessions', 10, (v) => correlate(undefined, { maxSessions: v as number })],
  [
    'pattern within',
    1000,
    (v) => pattern([(e) => e.type === 'a', (e) => e.type === 'b'], { within: v as number }),
  ],
  [
    'hybridProcess concurrency.async',
    2,
    (v) => hybridProcess({ ...HANDLERS, concurrency: { async: v as number } }),
  ],
  [
    'hybridProcess timeoutMs.batched',
    1000,
    (v) => hybridProcess({ ...HANDLERS, timeoutMs: { batched: v as number } }),
  ],
  ['adaptiveBatch maxSize', 50, (v) => adaptiveBatch({ maxSize: v as number })],
  ['adaptiveBatch timeoutMs', 1000, (v) => adaptiveBatch({ timeoutMs: v as number })],
  ['seedPolicy cooldownMs', 0, (v) => seedPolicy({ cooldownMs: v as number })],
  [
    'aimdPolicy decreaseFactor',
    0.5,
    (v) => aimdPolicy({ targetLatencyMs: 100, decreaseFactor: v as number }),
  ],
  ['EventFlowMetrics maxTypes', 10, (v) => new EventFlowMetrics({ maxTypes: v as number })],
  ['EventFlowMetrics summary$ intervalMs', 1000, (v) => new EventFlowMetrics().summary$(v as number)],
  ['createModeSelector lowPriority', 'batched', (v) => createModeSelector({ lowPriority: v as 'async' })],
  ['systemLoad$ intervalMs', 1000, (v) => systemLoad$({ intervalMs: v as number })],
  ['fromHookFile pollIntervalMs', 100, (v) => fromHookFile('x.jsonl', { pollIntervalMs: v as number })],
  ['fromHookFile resumeFrom', 0, (v) => fromHookFile('x.jsonl', { resumeFrom: v as number })],
  ['fromJsonLines maxLineLength', 100, (v) => fromJsonLines([], { maxLineLength: v as number })],
  ['fromFileWatcher debounceMs', 10, (v) => fromFileWatcher('.', { debounceMs: v as number })],
  ['bridgeHooks maxDepth', 10, (v) => bridgeHooks({ maxDepth: v as number })],
  ['createHookBridge maxPending', 10, (v) => createHookBridge({ maxPending: v as number })],
  ['persist maxDelayMs', 10, (v) => persist({ append: async () => undefined }, { maxDelayMs: v as number })],
  ['createFileState maxRecent', 10, (v) => createFileState({ maxRecent: v as number })],
  ['createFileState recentWindowMs', 10, (v) => createFileState({ recentWindowMs: v as number })],
  ['tail fromSeq', 0, (v) => tail({} as never, 's', { fromSeq: v as number })],
  ['runHook timeoutMs', 1000, (v) => runHook({ name: 'h', run: () => ({}) }, {}, { timeoutMs: v as number })],
];

describe('a bad argument is a ConfigError at construction', () => {
  it('pullFrom and measure', () => {
    for (const bad of [null, undefined, 42, 'text', {}]) {
      expect(() => pullFrom(bad as never, createFlowGate())).toThrow(ConfigError);
      expect(() => pullFrom([1], bad as never)).toThrow(ConfigError);
      expect(() => measure(bad as never)).toThrow(ConfigError);
    }
    expect(() => pullFrom([1], createFlowGate())).not.toThrow();
    expect(() => measure(new EventFlowMetrics())).not.toThrow();
  });
});

describe('a bad option value of any kind is a ConfigError', () => {
  it('hybridProcess: select and modes together (modes would be ignored)', () => {
    expect(() => hybridProcess({ ...HANDLERS, select: () => 'immediate' as never, modes: {} })).toThrow(
      new ConfigError('hybridProcess: give select or modes, not both (modes configures the default select)'),
    );
    expect(() => hybridProcess({ ...HANDLERS, modes: {} })).not.toThrow();
    expect(() => hybridProcess({ ...HANDLERS, select: () => 'immediate' as never })).not.toThrow();
  });

  it('hybridProcess: a per-lane option that is neither a number nor an object of lanes', () => {
    for (const value of ['4', Symbol('4'), null, true]) {
      expect(() => hybridProcess({ ...HANDLERS, concurrency: value as unknown as number })).toThrow(
        ConfigError,
      );
      expect(() => hybridProcess({ ...HANDLERS, maxQueued: value as unknown as number })).toThrow(
        ConfigError,
      );
      expect(() => hybridProcess({ ...HANDLERS, timeoutMs: value as unknown as number })).toThrow(
        ConfigError,
      );
    }
  });

  for (const [factory, good, make] of FACTORIES) {
    it(`${factory}: accepts ${String(good)}`, () => {
      expect(() => make(good)).not.toThrow();
    });
    for (const [what, value] of BAD) {
      it(`${factory}: ${what}`, () => {
        expect(() => make(value)).toThrow(ConfigError);
      });
    }
  }
});

/**
 * Timer lengths past `setTimeout`'s range: Node runs `Infinity` or a delay above 2,147,483,647 ms after
 * 1 ms, so a poll or flush timer would spin. Each such option refuses them, with the shared message.
 */
const TIMERS: ReadonlyArray<readonly [string, (value: number) => unknown]> = [
  ['fromHookFile: pollIntervalMs', (v) => fromHookFile('x.jsonl', { pollIntervalMs: v })],
  ['fromFileWatcher: debounceMs', (v) => fromFileWatcher('.', { debounceMs: v })],
  ['persist: maxDelayMs', (v) => persist({ append: async () => undefined }, { maxDelayMs: v })],
  ['systemLoad$: intervalMs', (v) => systemLoad$({ intervalMs: v })],
  ['adaptiveBatch: maxTimeoutMs', (v) => adaptiveBatch({ maxTimeoutMs: v })],
];

describe('a timer length past setTimeout range is a ConfigError', () => {
  for (const [where, make] of TIMERS) {
    it(`${where}: accepts 2147483647, refuses more`, () => {
      expect(() => make(2_147_483_647)).not.toThrow();
      for (const value of [2_147_483_648, 1e12, Number.POSITIVE_INFINITY]) {
        expect(() => make(value)).toThrow(ConfigError);
        expect(() => make(value)).toThrow(
          new RegExp(`^${where.replace('$', '\\$')} must be .* up to 2147483647, got `),
        );
      }
    });
  }
});
