import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { asyncScheduler, NEVER } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nearestName } from '../src/errors.js';
import {
  adaptiveBatch,
  aggregateHooks,
  aimdPolicy,
  bridgeHooks,
  ConfigError,
  chainHooks,
  correlate,
  createEvent,
  createFileState,
  createFlowGate,
  createHookBridge,
  createModeSelector,
  EventFlowMetrics,
  fileState,
  fixedPolicy,
  fromFileWatcher,
  fromHookFile,
  fromHookFileMarked,
  fromJsonLines,
  hookDirectory,
  hybridProcess,
  measure,
  openStore,
  pattern,
  persist,
  pullFrom,
  reconstruct,
  replay,
  runHook,
  runHookAggregation,
  runHookChain,
  type SessionStore,
  seedPolicy,
  selectMode,
  sessionWindows,
  systemLoad$,
  tail,
  temporalAggregate,
  toEvents,
} from '../src/index.js';
import { type TempStore, tempStore } from './helpers/store.js';

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

describe('a message shows at most the first 200 characters of a bad value', () => {
  const caught = (make: () => unknown): string => {
    try {
      make();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('no error');
  };

  it('fromJsonLines given the text itself (not [text]): its start and its length, not 1 MB of it', () => {
    const text = `{"hook":"Stop"}\n${'x'.repeat(1_000_000)}`;
    const message = caught(() => fromJsonLines(text as never));
    expect(message).toBe(
      'fromJsonLines: input must be a Readable or an (async) iterable object of strings or bytes ' +
        `(a string: pass [text]), got '${text.slice(0, 200)}…' (1,000,016 characters)`,
    );
  });

  it('a store method given a session id that is no string: a ConfigError, its value cut too (never a TypeError)', async () => {
    const temp = await tempStore();
    const store = temp.store;
    try {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const [id, shown] of [
        [['x'.repeat(1_000_000)], `['${'x'.repeat(199)}…] (1 item)`],
        [10n, '10'],
        [cyclic, '{ self: {…} }'],
        ['', "''"],
      ] as const) {
        await expect(store.get(id as never, 0)).rejects.toThrow(
          new ConfigError(`sessionId must be a non-empty string, got ${shown}`),
        );
      }
    } finally {
      await temp.cleanup();
    }
  });

  it('an object is shown by its fields, a Map or a Set by its size: never by its tag, [object Object]', () => {
    class Gate {
      isOpen = 'yes';
    }
    const bare = Object.create(null) as Record<string, unknown>;
    bare.n = 1;
    const unreadable = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no');
        },
      },
    );
    for (const [value, shown] of [
      [
        { within: 10, name: 'x', steps: [1], inner: { a: 1 } },
        "{ within: 10, name: 'x', steps: […], inner: {…} }",
      ],
      [{}, '{}'],
      [bare, '{ n: 1 }'],
      [new Gate(), "Gate { isOpen: 'yes' }"],
      [new Map([['a', 1]]), 'a Map (1 entry)'],
      [new Set([1, 2]), 'a Set (2 items)'],
      [[{ a: 1 }], '[{…}]'],
      // Its fields cannot be read: its tag, as before.
      [unreadable, '[object Object]'],
      // A string that reads as a tag is a string: quoted, never shown by its characters as fields.
      ['[object Object]', "'[object Object]'"],
    ] as const) {
      expect(() => adaptiveBatch({ minSize: value as never })).toThrow(
        new ConfigError(`adaptiveBatch: minSize must be a positive integer, got ${shown}`),
      );
    }
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`field${i}`, i]));
    expect(caught(() => adaptiveBatch({ minSize: many as never }))).toMatch(
      /got \{ field0: 0, .*… } \(100 fields\)$/,
    );
    // A class's name is any string: cut too, so that the message stays short (it was shown whole).
    const Long = { [`L${'o'.repeat(100_000)}ng`]: class {} }[`L${'o'.repeat(100_000)}ng`]!;
    expect(caught(() => adaptiveBatch({ minSize: new Long() as never }))).toMatch(
      new RegExp(`got L${'o'.repeat(59)}… \\{\\}$`),
    );
  });

  it('a count says entry or entries, item or items, field or fields by the number; a class name of 60 characters is shown whole; fields of 200 characters with more to come are cut', () => {
    expect(
      caught(() =>
        adaptiveBatch({
          minSize: new Map([
            ['a', 1],
            ['b', 2],
          ]) as never,
        }),
      ),
    ).toMatch(/got a Map \(2 entries\)$/);
    expect(caught(() => adaptiveBatch({ minSize: new Set([1]) as never }))).toMatch(/got a Set \(1 item\)$/);
    // One field longer than the 200 characters shown: cut, and its count says one field.
    expect(caught(() => adaptiveBatch({ minSize: { a: 'x'.repeat(300) } as never }))).toMatch(
      /got \{ a: 'x+… \} \(1 field\)$/,
    );
    // Fields whose text reaches 200 characters exactly with more to come: cut, never shown as if whole.
    expect(caught(() => adaptiveBatch({ minSize: { a: 'x'.repeat(195), b: 1 } as never }))).toMatch(
      /got \{ a: 'x{195}'… \} \(2 fields\)$/,
    );
    const name = `N${'a'.repeat(58)}e`; // 60 characters: the most shown whole
    const Sixty = { [name]: class {} }[name]!;
    expect(caught(() => adaptiveBatch({ minSize: new Sixty() as never }))).toMatch(
      new RegExp(`got ${name} \\{\\}$`),
    );
  });

  it('a value of exactly 200 characters is shown whole; a surrogate pair is never cut in half', () => {
    const exact = 'y'.repeat(200);
    expect(caught(() => adaptiveBatch({ minSize: exact as never }))).toMatch(new RegExp(`got '${exact}'$`));
    // The first and the last high surrogate at 199 (U+10000, U+10FFFF): cut before the pair; a character
    // above the surrogates (U+FB00) is no half of a pair: the 200th character is shown.
    for (const [char, shown] of [
      ['\u{10000}', ''],
      ['\u{10FFFF}', ''],
      ['\uFB00', '\uFB00'],
    ]) {
      expect(caught(() => adaptiveBatch({ minSize: `${'z'.repeat(199)}${char}more` as never }))).toMatch(
        new RegExp(`got '${'z'.repeat(199)}${shown}…' \\(${199 + char!.length + 4} characters\\)$`, 'u'),
      );
    }
    const emoji = `${'z'.repeat(199)}😀 and more`; // the pair at 199–200: cut before it
    expect(caught(() => adaptiveBatch({ minSize: emoji as never }))).toMatch(
      new RegExp(`got '${'z'.repeat(199)}…' \\(210 characters\\)$`),
    );
  });

  it('an array is shown between brackets, its strings quoted: never as the text of its items', async () => {
    expect(caught(() => adaptiveBatch({ minSize: ['5'] as never }))).toMatch(/got \['5'\]$/);
    expect(caught(() => adaptiveBatch({ minSize: [] as never }))).toMatch(/got \[\]$/);
    // An array or an object inside is not opened (it may hold itself); other items as `textOf` shows them.
    const cyclic: unknown[] = [1, null];
    cyclic.push(cyclic, { a: 1 }, 2n, '');
    expect(caught(() => adaptiveBatch({ minSize: cyclic as never }))).toMatch(
      /got \[1, null, \[…\], \{…\}, 2, ''\]$/,
    );
    // A long array: its first items, cut at 200 characters, and how many it holds; never all of them.
    const long = Array.from({ length: 1_000_000 }, (_, i) => i);
    const shown = caught(() => adaptiveBatch({ minSize: long as never }));
    expect(shown).toMatch(/got \[0, 1, 2, 3, .*…\] \(1,000,000 items\)$/);
    expect(shown.slice(shown.indexOf('got [') + 4)).toHaveLength(
      '['.length + 200 + '…]'.length + ' (1,000,000 items)'.length,
    );
    // An array whose items cannot be read: as far as they were, never a TypeError.
    const throwing = new Proxy(['a', 'b'], {
      get: (target, key) => {
        if (key === '1') throw new Error('no');
        return Reflect.get(target, key);
      },
    });
    expect(caught(() => adaptiveBatch({ minSize: throwing as never }))).toMatch(/got \['a'…\]$/);
    // A revoked proxy (Array.isArray throws on it) is shown as textOf shows it.
    const { proxy, revoke } = Proxy.revocable([], {});
    revoke();
    expect(caught(() => adaptiveBatch({ minSize: proxy as never }))).toMatch(/got \(a value that cannot/);
    // openStore({ path: ['db'] }): the case that read `got db`, as if a string had been given.
    await expect(openStore({ path: ['db'] as never })).rejects.toThrow(
      "openStore: path must be a non-empty string, got ['db']",
    );
  });
});

describe("a message starts with the name of the function given the bad option, and names a mark's wrong field", () => {
  it.each([
    [
      () => fromHookFileMarked('x.jsonl', { resumeFrom: -1 }),
      'fromHookFileMarked: resumeFrom must be a byte offset (a non-negative safe integer) or a mark',
    ],
    [
      () => fromHookFileMarked('x.jsonl', { resumeFrom: { ino: 1, head: '' } as never }),
      'fromHookFileMarked: resumeFrom.end must be a byte offset (a non-negative safe integer), got undefined',
    ],
    [
      () => fromHookFile('x.jsonl', { resumeFrom: { end: 0, ino: -1, head: '' } }),
      "fromHookFile: resumeFrom.ino must be the file's inode number (a non-negative integer), got -1",
    ],
    [
      () => fromHookFileMarked('x.jsonl', { resumeFrom: { end: 1, ino: 7, head: 'zz' } }),
      "fromHookFileMarked: resumeFrom.head must be the lowercase hex of the file's first min(256, end) bytes (2 digits), got 'zz'",
    ],
    [() => fromHookFileMarked('', {}), 'fromHookFileMarked: path must be a non-empty path, got '],
    [() => fromHookFileMarked('x.jsonl', { maxLineLength: 0 }), 'fromHookFileMarked: maxLineLength must be'],
    [() => fromHookFile('x.jsonl', { maxLineLength: 0 }), 'fromHookFile: maxLineLength must be'],
    [() => fromJsonLines([], { maxLineLength: 1.5 }), 'fromJsonLines: maxLineLength must be'],
    [() => bridgeHooks({ maxDepth: 0 }), 'bridgeHooks: maxDepth must be a positive integer, got 0'],
    [
      () => createHookBridge({ maxRawLength: 1.5 }),
      'createHookBridge: maxRawLength must be a positive integer',
    ],
    [
      () => createHookBridge({ maxPending: 2.5 }),
      'createHookBridge: maxPending must be a non-negative integer, got 2.5',
    ],
    [
      () => toEvents('Stop', {}, 0, { maxPayloadBytes: -1 }),
      'toEvents: maxPayloadBytes must be a positive integer',
    ],
    [() => runHookAggregation([], {}, 'x' as never), 'runHookAggregation: aggregator must be a function'],
    [
      () => runHookAggregation([], {}, () => 1, { name: '' }),
      'runHookAggregation: name must be a non-empty string',
    ],
    [
      () => runHookAggregation([{ name: 'x' } as never], {}, () => 1, { name: 'review' }),
      'runHookAggregation "review": ',
    ],
    [
      () => runHookAggregation([], {}, () => 1, { deadlineMs: 0 }),
      'runHookAggregation: deadlineMs must be a positive number of ms (or Infinity), got 0',
    ],
    [() => aggregateHooks([], 'x' as never), 'aggregateHooks: aggregator must be a function'],
    [() => aggregateHooks([], () => 1, { concurrency: 0 }), 'aggregateHooks: concurrency must be'],
    [() => aggregateHooks([], () => 1, { maxQueued: -1 }), 'aggregateHooks: maxQueued must be'],
    [() => runHook({ name: 'h', run: () => ({}) }, {}, { timeoutMs: 0 }), 'runHook: timeoutMs must be'],
    [() => runHookChain(null as never, {}), 'runHookChain: chain must be { name, hooks }'],
    [() => runHookChain({ name: '', hooks: [] }, {}), 'runHookChain: chain.name must be a non-empty string'],
    [() => runHookChain({ name: 'c', hooks: [{ name: 'x' } as never] }, {}), 'runHookChain "c": '],
    [
      () => runHookChain({ name: 'c', hooks: [null] as never }, {}),
      'runHookChain "c": hook #0 must be an object, got null',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'a', run: () => ({}) }, 5] as never }, {}),
      'runHookChain "c": hook #1 must be an object, got number',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ run: () => ({}) }] as never }, {}),
      'runHookChain "c": hook #0 needs a non-empty string name',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: '', run: () => ({}) }] as never }, {}),
      'runHookChain "c": hook #0 needs a non-empty string name',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', run: () => ({}), command: 'x' }] as never }, {}),
      'runHookChain "c": hook "h" must have either a run function or a command, not both',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h' }] as never }, {}),
      'runHookChain "c": hook "h" must have either a run function or a command, not neither',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 5 }] as never }, {}),
      'runHookChain "c": hook "h": command must be a non-empty string',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: '' }] as never }, {}),
      'runHookChain "c": hook "h": command must be a non-empty string',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', args: ['a', 1] }] as never }, {}),
      'runHookChain "c": hook "h": args must be an array of strings',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', args: 'a' }] as never }, {}),
      'runHookChain "c": hook "h": args must be an array of strings',
    ],
    [
      () =>
        runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', env: { A: 'x', B: 1 } }] as never }, {}),
      'runHookChain "c": hook "h": env must be a record of strings (an object, not an array, a Map or a Set)',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', env: 'A=1' }] as never }, {}),
      'runHookChain "c": hook "h": env must be a record of strings (an object, not an array, a Map or a Set)',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', env: null }] as never }, {}),
      'runHookChain "c": hook "h": env must be a record of strings (an object, not an array, a Map or a Set)',
    ],
    [
      // Spread into the environment, it would set a variable named "0".
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', env: ['A=1'] }] as never }, {}),
      'runHookChain "c": hook "h": env must be a record of strings (an object, not an array, a Map or a Set)',
    ],
    [
      // Spread into the environment, it would set nothing.
      () =>
        runHookChain(
          { name: 'c', hooks: [{ name: 'h', command: 'x', env: new Map([['A', '1']]) }] as never },
          {},
        ),
      'runHookChain "c": hook "h": env must be a record of strings (an object, not an array, a Map or a Set)',
    ],
    [
      // Nor a Set: its entries are no own fields, so it set no variables.
      () =>
        runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', env: new Set(['A=1']) }] as never }, {}),
      'runHookChain "c": hook "h": env must be a record of strings (an object, not an array, a Map or a Set)',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', cwd: 1 }] as never }, {}),
      'runHookChain "c": hook "h": cwd must be a non-empty string',
    ],
    [
      // Node would run the hook in the parent's directory.
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', cwd: '' }] }, {}),
      'runHookChain "c": hook "h": cwd must be a non-empty string',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', shell: 1 }] as never }, {}),
      'runHookChain "c": hook "h": shell must be a boolean or a shell\'s path (a non-empty string)',
    ],
    [
      // Node would run no shell, taking the command line for a program's name.
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'echo {} | cat', shell: '' }] }, {}),
      'runHookChain "c": hook "h": shell must be a boolean or a shell\'s path (a non-empty string)',
    ],
    [
      () =>
        runHookChain({ name: 'c', hooks: [{ name: 'h', command: 'x', maxOutputBytes: 1.5 }] as never }, {}),
      'runHookChain "c": hook "h": maxOutputBytes must be a positive integer, got 1.5',
    ],
    [
      () =>
        runHookChain(
          { name: 'c', hooks: [{ name: 'h', run: () => ({}), timeoutMs: Number.NaN }] as never },
          {},
        ),
      'runHookChain "c": hook "h": timeoutMs must be a positive number of ms (or Infinity), got NaN',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [{ name: 'h', run: () => ({}), timeoutMs: '5' }] as never }, {}),
      'runHookChain "c": hook "h": timeoutMs must be a positive number of ms (or Infinity), got \'5\'',
    ],
    [
      () =>
        runHookChain(
          { name: 'c', hooks: [{ name: 'h', run: () => ({}), errorPolicy: 'open' }] as never },
          {},
        ),
      "runHookChain \"c\": hook \"h\": errorPolicy must be 'fail-open' or 'fail-closed', got 'open'",
    ],
    [
      () => runHookChain({ name: 'c', hooks: [] }, {}, { errorPolicy: 'closed' as never }),
      "runHookChain: errorPolicy must be 'fail-open' or 'fail-closed', got 'closed'",
    ],
    [
      () => runHookChain({ name: 'c', hooks: [] }, {}, { maxOutputBytes: 0 }),
      'runHookChain: maxOutputBytes must be a positive integer, got 0',
    ],
    [
      () =>
        runHookAggregation(
          [
            { name: 'a', run: () => ({}) },
            { name: 'a', command: 'x' },
          ],
          {},
          () => 1,
        ),
      'runHookAggregation "aggregation": two hooks are named "a"; names must be unique',
    ],
    [
      () => runHookAggregation('a' as never, {}, () => 1),
      'runHookAggregation "aggregation": hooks must be an array',
    ],
    [
      () => runHookChain({ name: 'c', hooks: [] }, {}, { sessionId: 5 as never }),
      'runHookChain: sessionId must be a non-empty string',
    ],
    [
      () => runHookAggregation([], {}, () => 1, { name: 5 as never }),
      'runHookAggregation: name must be a non-empty string',
    ],
    [
      () => runHookAggregation([], {}, () => 1, { deadlineMs: 'soon' as never }),
      "runHookAggregation: deadlineMs must be a positive number of ms (or Infinity), got 'soon'",
    ],
  ] as const)('%#: %s', (make, start) => {
    let thrown: unknown;
    try {
      make();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message.startsWith(start)).toBe(true);
  });

  it.each([
    [{ path: '' }, "openStore: path must be a non-empty string, got ''"],
    [{ durability: 'fast' }, "openStore: durability must be 'process' or 'os', got 'fast'"],
    [{ onCorruptRecord: 1 }, 'openStore: onCorruptRecord must be a function, got 1'],
    [{ maxCachedSessions: 0 }, 'openStore: maxCachedSessions must be a positive integer, got 0'],
  ])('openStore(%j) rejects: %s', async (options, message) => {
    await expect(openStore(options as never)).rejects.toThrow(new ConfigError(message));
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

/**
 * Unknown option names. Each public function that takes an options object refuses a key it does not
 * know, at construction, with a `ConfigError` naming the function, the key, the known keys and the
 * nearest one: before, `openStore({ dir })` opened the default store without a word, and so on.
 */
describe('an unknown option is a ConfigError naming it, the known ones and the nearest', () => {
  let temp: TempStore;
  const folder = mkdtempSync(join(tmpdir(), 'vibespec-options-'));
  const store = (): SessionStore => temp.store;
  beforeAll(async () => {
    temp = await tempStore();
    await temp.store.append([createEvent({ type: 'a', sessionId: 's', timestamp: 1 })]);
  });
  afterAll(async () => {
    await temp.cleanup();
    await rm(folder, { recursive: true, force: true });
  });

  const hook = { name: 'h', run: () => ({}) };
  const probe = { cpuPercent: async () => 1, memoryPercent: async () => 1 };
  type Options = Record<string, unknown>;

  interface Case {
    /** The function, as its messages name it. */
    fn: string;
    make: (options: Options) => unknown;
    /** Its option names as its docs page lists them (not the code's list: a key it forgot fails). */
    documented: readonly string[];
    /** Option objects that together use every documented key, each accepted. */
    accepts: readonly Options[];
    /** A mistyped key, and the name the message suggests (`undefined`: none is close). */
    typo: readonly [string, string | undefined];
    /** Settles its checks in a promise (an async function). */
    async?: boolean;
  }

  const RUN = ['scheduler', 'timeoutMs', 'errorPolicy', 'maxOutputBytes', 'sessionId'];
  const RUN_VALUES = { scheduler: asyncScheduler, timeoutMs: 1000, maxOutputBytes: 1000, sessionId: 's' };
  const QUERY = ['types', 'start', 'end', 'fromSeq', 'limit', 'reverse'];
  const QUERY_VALUES = { types: ['a'], start: 0, end: 10, fromSeq: 0, limit: 5, reverse: true };
  const LIMITS = { maxPayloadBytes: 1000, maxDepth: 8, maxRawLength: 100 };

  const CASES: readonly Case[] = [
    {
      fn: 'temporalAggregate', // docs/temporalAggregate.md, Options
      make: (o) => temporalAggregate(o),
      documented: ['windows', 'allowedLatenessMs', 'idleFlushMs', 'maxEvents', 'maxOpenWindows'].concat([
        'maxIdleSessions',
        'includeEvents',
        'scheduler',
      ]),
      accepts: [
        {
          windows: { a: 10 },
          allowedLatenessMs: 0,
          idleFlushMs: 0,
          maxEvents: 5,
          maxOpenWindows: 5,
          maxIdleSessions: 5,
          includeEvents: false,
          scheduler: asyncScheduler,
        },
      ],
      typo: ['windowz', 'windows'],
    },
    {
      fn: 'sessionWindows', // docs/sessionWindows.md
      make: (o) => sessionWindows(o),
      documented: ['gapMs', 'key', 'allowedLatenessMs', 'idleFlushMs', 'maxEvents', 'maxOpenWindows'].concat([
        'maxIdleKeys',
        'includeEvents',
        'scheduler',
      ]),
      accepts: [
        {
          gapMs: 10,
          key: () => 'k',
          allowedLatenessMs: 0,
          idleFlushMs: 0,
          maxEvents: 5,
          maxOpenWindows: 5,
          maxIdleKeys: 5,
          includeEvents: true,
          scheduler: asyncScheduler,
        },
      ],
      typo: ['GapMS', 'gapMs'],
    },
    {
      // correlate and pattern said zod's `options (the second argument): Unrecognized key: "maxSession"`.
      fn: 'correlate', // docs/correlate.md, Options
      make: (o) => correlate(undefined, o),
      documented: ['passThrough', 'updateIntervalMs', 'maxSessions', 'maxWindowEvents', 'maxEventIds'].concat(
        ['maxFiles', 'liveClock', 'scheduler'],
      ),
      accepts: [
        {
          passThrough: false,
          updateIntervalMs: 10,
          maxSessions: 5,
          maxWindowEvents: 5,
          maxEventIds: 0,
          maxFiles: 0,
          liveClock: true,
          scheduler: asyncScheduler,
        },
      ],
      typo: ['maxSession', 'maxSessions'],
    },
    {
      fn: 'pattern', // docs/pattern.md, Options
      make: (o) => pattern([() => true], { within: 10, ...o }),
      documented: ['within', 'key', 'name', 'passThrough', 'timeouts', 'maxKeys', 'liveClock', 'scheduler'],
      accepts: [
        {
          within: 5,
          key: () => 'k',
          name: 'p',
          passThrough: false,
          timeouts: false,
          maxKeys: 5,
          liveClock: true,
          scheduler: asyncScheduler,
        },
      ],
      typo: ['timeout', 'timeouts'],
    },
    {
      fn: 'adaptiveBatch', // docs/adaptiveBatch.md, Options
      make: (o) => adaptiveBatch(o),
      documented: ['maxSize', 'timeoutMs', 'minSize', 'maxSizeLimit', 'minTimeoutMs', 'maxTimeoutMs'].concat([
        'policy',
        'scheduler',
      ]),
      accepts: [
        {
          maxSize: 10,
          timeoutMs: 1000,
          minSize: 1,
          maxSizeLimit: 20,
          minTimeoutMs: 10,
          maxTimeoutMs: 2000,
          policy: fixedPolicy,
          scheduler: asyncScheduler,
        },
      ],
      typo: ['maxsize', 'maxSize'],
    },
    {
      fn: 'adaptiveBatch: setConfig', // docs/adaptiveBatch.md: setConfig({ maxSize?, timeoutMs? })
      make: (o) => adaptiveBatch().setConfig(o),
      documented: ['maxSize', 'timeoutMs'],
      accepts: [{ maxSize: 10, timeoutMs: 1000 }],
      typo: ['timeout', 'timeoutMs'],
    },
    {
      fn: 'seedPolicy', // docs/adaptiveBatch.md, seedPolicy
      make: (o) => seedPolicy(o),
      documented: ['cooldownMs', 'minSamples', 'slowLatencyMs', 'shrinkSize', 'shrinkTimeoutMs'].concat([
        'fastLatencyMs',
        'lowCapacityPerSecond',
        'growSize',
        'growTimeoutMs',
      ]),
      accepts: [
        {
          cooldownMs: 0,
          minSamples: 1,
          slowLatencyMs: 100,
          shrinkSize: 1,
          shrinkTimeoutMs: 10,
          fastLatencyMs: 10,
          lowCapacityPerSecond: 10,
          growSize: 1,
          growTimeoutMs: 10,
        },
      ],
      typo: ['coolDownMs', 'cooldownMs'],
    },
    {
      fn: 'aimdPolicy', // docs/adaptiveBatch.md, aimdPolicy
      make: (o) => aimdPolicy({ targetLatencyMs: 10, ...o }),
      documented: ['targetLatencyMs', 'increase', 'decreaseFactor', 'samples', 'cooldownMs'],
      accepts: [{ targetLatencyMs: 10, increase: 1, decreaseFactor: 0.5, samples: 2, cooldownMs: 0 }],
      typo: ['sample', 'samples'],
    },
    {
      fn: 'hybridProcess', // docs/hybridProcess.md, Options
      make: (o) => hybridProcess({ ...HANDLERS, ...o }),
      documented: ['immediate', 'batch', 'background', 'load$', 'select', 'modes', 'batcher'].concat([
        'concurrency',
        'maxQueued',
        'overflow',
        'timeoutMs',
        'gate',
        'metrics',
        'scheduler',
      ]),
      accepts: [
        {
          ...HANDLERS,
          background: () => 1,
          load$: NEVER,
          select: () => 'immediate',
          batcher: { maxSize: 10 },
          concurrency: 2,
          maxQueued: 10,
          overflow: 'error',
          timeoutMs: 1000,
          gate: createFlowGate(),
          metrics: new EventFlowMetrics(),
          scheduler: asyncScheduler,
        },
        { modes: { lowPriority: 'batched' } },
      ],
      typo: ['overflowPolicy', undefined],
    },
    {
      fn: 'EventFlowMetrics', // docs/metrics.md, options of new EventFlowMetrics()
      make: (o) => new EventFlowMetrics(o),
      documented: ['now', 'scheduler', 'maxTypes', 'recentSamples', 'precision'],
      accepts: [{ now: () => 0, scheduler: asyncScheduler, maxTypes: 2, recentSamples: 2, precision: 3 }],
      typo: ['maxType', 'maxTypes'],
    },
    {
      fn: 'measure', // docs/metrics.md: measure(metrics, { type })
      make: (o) => measure(new EventFlowMetrics(), o),
      documented: ['type'],
      accepts: [{ type: 'stage' }],
      typo: ['Type', 'type'],
    },
    {
      fn: 'selectMode', // docs/selectMode.md, the config (createModeSelector)
      make: (o) => createModeSelector(o),
      documented: ['thresholds', 'minHighLoadIndicators', 'userBlockingTypes', 'highVolumeTypes'].concat([
        'backgroundTypes',
        'lowPriority',
      ]),
      accepts: [
        {
          thresholds: {
            cpuPercent: 1,
            memoryPercent: 1,
            queueDepth: 1,
            avgLatencyMs: 1,
            eventLoopDelayMs: 1,
            eventLoopUtilization: 0.5,
          },
          minHighLoadIndicators: 1,
          userBlockingTypes: ['a'],
          highVolumeTypes: ['b'],
          backgroundTypes: [],
          lowPriority: 'batched',
        },
      ],
      typo: ['lowPriorty', 'lowPriority'],
    },
    {
      fn: 'selectMode', // the same config passed to selectMode, compiled and cached per object
      make: (o) => selectMode(createEvent({ type: 'a' }), {}, o),
      documented: ['thresholds', 'minHighLoadIndicators', 'userBlockingTypes', 'highVolumeTypes'].concat([
        'backgroundTypes',
        'lowPriority',
      ]),
      accepts: [
        {
          thresholds: { cpuPercent: 1 },
          minHighLoadIndicators: 1,
          userBlockingTypes: ['a'],
          highVolumeTypes: ['b'],
          backgroundTypes: [],
          lowPriority: 'async',
        },
      ],
      typo: ['minHighLoadIndicator', 'minHighLoadIndicators'],
    },
    {
      fn: 'systemLoad$', // docs/systemLoad.md, Options
      make: (o) => systemLoad$(o),
      documented: ['intervalMs', 'metrics', 'probe', 'eventLoopResolutionMs', 'scheduler'],
      accepts: [
        {
          intervalMs: 1000,
          metrics: () => ({}),
          probe,
          eventLoopResolutionMs: 10,
          scheduler: asyncScheduler,
        },
      ],
      typo: ['interval', 'intervalMs'],
    },
    {
      fn: 'bridgeHooks', // docs/bridge.md, options of the bridge
      make: (o) => bridgeHooks(o),
      documented: ['maxPayloadBytes', 'maxDepth', 'maxRawLength', 'maxAheadMs', 'scheduler'],
      accepts: [{ ...LIMITS, maxAheadMs: 60_000, scheduler: asyncScheduler }],
      typo: ['maxdepth', 'maxDepth'],
    },
    {
      fn: 'createHookBridge', // docs/bridge.md: the bridge's options and maxPending
      make: (o) => createHookBridge(o),
      documented: ['maxPayloadBytes', 'maxDepth', 'maxRawLength', 'maxAheadMs', 'scheduler', 'maxPending'],
      accepts: [{ ...LIMITS, maxAheadMs: 60_000, scheduler: asyncScheduler, maxPending: 5 }],
      typo: ['maxPendng', 'maxPending'],
    },
    {
      fn: 'toEvents', // docs/bridge.md: the limits
      make: (o) => toEvents('PostToolUse', {}, 1, o),
      documented: ['maxPayloadBytes', 'maxDepth', 'maxRawLength', 'maxAheadMs'],
      accepts: [{ ...LIMITS, maxAheadMs: 60_000 }],
      typo: ['maxPayloadByte', 'maxPayloadBytes'],
    },
    {
      fn: 'fromHookFile', // docs/bridge.md: fromHookFile(path, { follow?, pollIntervalMs?, resumeFrom?, hook?, maxLineLength? })
      make: (o) => fromHookFile('x.jsonl', o),
      documented: ['follow', 'pollIntervalMs', 'resumeFrom', 'hook', 'maxLineLength'],
      accepts: [{ follow: true, pollIntervalMs: 10, resumeFrom: 0, hook: 'h', maxLineLength: 100 }],
      typo: ['pollIntervalMS', 'pollIntervalMs'],
    },
    {
      fn: 'fromHookFileMarked', // docs/bridge.md: the same options as fromHookFile
      make: (o) => fromHookFileMarked('x.jsonl', o),
      documented: ['follow', 'pollIntervalMs', 'resumeFrom', 'hook', 'maxLineLength'],
      accepts: [{ follow: true, pollIntervalMs: 10, resumeFrom: 0, hook: 'h', maxLineLength: 100 }],
      typo: ['resumeForm', 'resumeFrom'],
    },
    {
      fn: 'fromJsonLines', // docs/bridge.md: options.hook, maxLineLength
      make: (o) => fromJsonLines([], o),
      documented: ['hook', 'maxLineLength'],
      accepts: [{ hook: 'h', maxLineLength: 100 }],
      typo: ['maxLineLenght', 'maxLineLength'],
    },
    {
      fn: 'fromFileWatcher', // docs/bridge.md: fromFileWatcher(dir, { recursive?, ignore?, debounceMs?, scheduler? })
      make: (o) => fromFileWatcher('.', o),
      documented: ['recursive', 'ignore', 'debounceMs', 'scheduler'],
      accepts: [{ recursive: false, ignore: /x/, debounceMs: 10, scheduler: asyncScheduler }],
      typo: ['debounce', 'debounceMs'],
    },
    {
      fn: 'runHook', // docs/hooks.md: the run's options
      make: (o) => runHook(hook, {}, o),
      documented: RUN,
      accepts: [{ ...RUN_VALUES, errorPolicy: 'fail-open' }],
      typo: ['timeout', 'timeoutMs'],
    },
    {
      fn: 'runHookChain', // docs/hooks.md
      make: (o) => runHookChain({ name: 'c', hooks: [hook] }, {}, o),
      documented: RUN,
      accepts: [{ ...RUN_VALUES, errorPolicy: 'fail-open' }],
      typo: ['errorpolicy', 'errorPolicy'],
    },
    {
      fn: 'chainHooks', // docs/hooks.md: the run's options, concurrency and maxQueued
      make: (o) => chainHooks({ name: 'c', hooks: [hook] }, o),
      documented: [...RUN, 'concurrency', 'maxQueued'],
      accepts: [{ ...RUN_VALUES, errorPolicy: 'fail-open', concurrency: 2, maxQueued: 5 }],
      typo: ['maxQueue', 'maxQueued'],
    },
    {
      fn: 'runHookAggregation', // docs/hooks.md: { name?, deadlineMs?, scheduler?, … } (no errorPolicy)
      make: (o) => runHookAggregation([hook], {}, () => 1, o),
      documented: ['name', 'deadlineMs', 'scheduler', 'timeoutMs', 'maxOutputBytes', 'sessionId'],
      accepts: [{ ...RUN_VALUES, name: 'agg', deadlineMs: 1000 }],
      typo: ['deadline', 'deadlineMs'],
    },
    {
      fn: 'aggregateHooks', // docs/hooks.md: those, concurrency and maxQueued
      make: (o) => aggregateHooks([hook], () => 1, o),
      documented: ['name', 'deadlineMs', 'scheduler', 'timeoutMs', 'maxOutputBytes', 'sessionId'].concat([
        'concurrency',
        'maxQueued',
      ]),
      accepts: [{ ...RUN_VALUES, name: 'agg', deadlineMs: 1000, concurrency: 2, maxQueued: 5 }],
      typo: ['Concurrency', 'concurrency'],
    },
    {
      fn: 'runHook: hook "c"', // docs/hooks.md, Command hooks: a command hook's fields
      make: (o) => runHook({ name: 'c', command: 'true', ...o } as never, {}),
      documented: ['name', 'command', 'args', 'env', 'cwd', 'shell', 'timeoutMs', 'maxOutputBytes'].concat([
        'errorPolicy',
      ]),
      accepts: [
        {
          name: 'c',
          command: 'true',
          args: ['x'],
          env: { A: 'b' },
          cwd: '.',
          shell: false,
          timeoutMs: 1000,
          maxOutputBytes: 100,
          errorPolicy: 'fail-open',
        },
      ],
      typo: ['arg', 'args'],
    },
    {
      fn: 'hookDirectory', // docs/hooks.md: options (timeoutMs, env, cwd, maxOutputBytes, errorPolicy); no shell
      make: (o) => hookDirectory('.', o),
      documented: ['timeoutMs', 'env', 'cwd', 'maxOutputBytes', 'errorPolicy'],
      accepts: [
        { timeoutMs: 1000, env: { A: 'b' }, cwd: '.', maxOutputBytes: 100, errorPolicy: 'fail-open' },
      ],
      typo: ['enV', 'env'],
    },
    {
      fn: 'persist', // docs/store.md, persist
      make: (o) => persist({ append: async () => undefined }, o),
      documented: ['maxBatch', 'maxDelayMs', 'maxPending', 'scheduler', 'priorityLane'],
      accepts: [
        { maxBatch: 5, maxDelayMs: 10, maxPending: 10, scheduler: asyncScheduler, priorityLane: false },
      ],
      typo: ['maxbatch', 'maxBatch'],
    },
    {
      fn: 'createFileState', // docs/store.md: createFileState({ recentWindowMs, maxRecent })
      make: (o) => createFileState(o),
      documented: ['recentWindowMs', 'maxRecent'],
      accepts: [{ recentWindowMs: 10, maxRecent: 5 }],
      typo: ['maxRecents', 'maxRecent'],
    },
    {
      fn: 'tail', // docs/store.md: tail(store, sessionId, { fromSeq, maxBuffer })
      make: (o) => tail(store(), 's', o),
      documented: ['fromSeq', 'maxBuffer'],
      accepts: [{ fromSeq: 1, maxBuffer: 5 }],
      typo: ['fromseq', 'fromSeq'],
    },
    {
      fn: 'replay', // docs/store.md: the query options
      make: (o) => replay(store(), 's', o),
      documented: QUERY,
      accepts: [QUERY_VALUES],
      typo: ['type', 'types'],
    },
    {
      fn: 'query', // docs/store.md: the query options (store.query and store.entries)
      make: (o) => store().query('s', o),
      documented: QUERY,
      accepts: [QUERY_VALUES],
      typo: ['typs', 'types'],
    },
    {
      fn: 'query', // store.entries reads the same options
      make: (o) => store().entries('s', o),
      documented: QUERY,
      accepts: [QUERY_VALUES],
      typo: ['Reverse', 'reverse'],
    },
    {
      fn: 'append()', // docs/store.md: append(events, { urgent })
      make: (o) => store().append([createEvent({ type: 'a', sessionId: 'appended', timestamp: 2 })], o),
      documented: ['urgent'],
      accepts: [{ urgent: true }],
      typo: ['urgnet', 'urgent'],
      async: true,
    },
    {
      fn: 'reconstruct', // docs/store.md: the query options
      make: (o) => reconstruct(store(), 's', fileState, o),
      documented: QUERY,
      accepts: [QUERY_VALUES],
      typo: ['limt', 'limit'],
      async: true,
    },
    {
      fn: 'openStore', // docs/store.md, openStore(options?)
      // A path of its own: before this check, the typo opened the default store in the working folder.
      make: async (o) => (await openStore({ path: join(folder, 'typo'), ...o })).close(),
      documented: ['path', 'durability', 'onCorruptRecord', 'maxCachedSessions'],
      accepts: [
        {
          path: join(folder, 'store'),
          durability: 'os',
          onCorruptRecord: () => undefined,
          maxCachedSessions: 5,
        },
      ],
      typo: ['dir', undefined],
      async: true,
    },
  ];

  /** Runs `make(options)`: a sync one must throw at once, an async one reject. */
  async function refusal(c: Case, options: Options): Promise<unknown> {
    if (c.async) {
      return (c.make(options) as Promise<unknown>).then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    try {
      c.make(options);
    } catch (error) {
      return error;
    }
    return undefined;
  }

  const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  for (const c of CASES) {
    it(`${c.fn}: a mistyped ${c.typo[0]} is refused${c.typo[1] ? `, suggesting ${c.typo[1]}` : ''}`, async () => {
      const [typo, near] = c.typo;
      const error = await refusal(c, { [typo]: 1 });
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('INVALID_CONFIG');
      const message = (error as Error).message;
      expect(message).toMatch(
        new RegExp(`^${escapeRegExp(c.fn)}: unknown (option|field) "${escapeRegExp(typo)}"`),
      );
      if (near === undefined) expect(message).not.toContain('did you mean');
      else expect(message).toContain(`(did you mean "${near}"?)`);
      // Every documented key is named among the known ones.
      const known = message.slice(message.indexOf('known: ') + 'known: '.length).split(', ');
      expect(known).toEqual(expect.arrayContaining([...c.documented]));
      // A key whose value is undefined is still a typo (TypeScript allows undefined for known keys only).
      expect(await refusal(c, { [typo]: undefined })).toBeInstanceOf(ConfigError);
    });

    it(`${c.fn}: accepts every documented option`, async () => {
      const used = new Set(c.accepts.flatMap((options) => Object.keys(options)));
      expect([...used].sort()).toEqual([...new Set(c.documented)].sort());
      for (const options of c.accepts) {
        expect(await refusal(c, options)).toBeUndefined();
      }
    });
  }

  it('persist, tail, createFileState, toEvents and hookDirectory: options that are not an object are a ConfigError (null was a TypeError, a number ignored)', () => {
    const writer = { append: async () => undefined };
    for (const bad of [null, 5, 'fast', [1]]) {
      for (const [fn, make] of [
        ['persist', () => persist(writer, bad as never)],
        ['tail', () => tail(store(), 's', bad as never)],
        ['createFileState', () => createFileState(bad as never)],
        ['toEvents', () => toEvents('Stop', {}, 1, bad as never)],
        ['hookDirectory', () => hookDirectory('.', bad as never)],
      ] as const) {
        expect(make).toThrow(ConfigError);
        expect(make).toThrow(new RegExp(`^${fn}: the options must be an object, got `));
      }
    }
  });

  it('every other function: options given as a Map or a Set are a ConfigError (their entries are no own keys: they were ignored)', async () => {
    const writer = { append: async () => undefined };
    const hooks = [hook];
    for (const bad of [new Map([['limit', 1]]), new Set(['limit'])]) {
      const kind = bad instanceof Map ? 'a Map' : 'a Set';
      const options = bad as never;
      const calls: ReadonlyArray<readonly [string, () => unknown]> = [
        ['bridgeHooks', () => bridgeHooks(options)],
        ['createHookBridge', () => createHookBridge(options)],
        ['toEvents', () => toEvents('Stop', {}, 1, options)],
        ['fromHookFile', () => fromHookFile(join(folder, 'x.jsonl'), options)],
        ['fromHookFileMarked', () => fromHookFileMarked(join(folder, 'x.jsonl'), options)],
        ['fromJsonLines', () => fromJsonLines(Readable.from([]), options)],
        ['seedPolicy', () => seedPolicy(options)],
        ['aimdPolicy', () => aimdPolicy(options)],
        ['selectMode', () => createModeSelector(options)],
        ['selectMode', () => createModeSelector({ thresholds: options })],
        ['persist', () => persist(writer, options)],
        ['tail', () => tail(store(), 's', options)],
        ['replay', () => replay(store(), 's', options)],
        ['createFileState', () => createFileState(options)],
        ['hookDirectory', () => hookDirectory('.', options)],
        ['runHook', () => runHook(hook, {}, options)],
        ['runHookChain', () => runHookChain({ name: 'c', hooks }, {}, options)],
        ['chainHooks', () => chainHooks({ name: 'c', hooks }, options)],
        ['runHookAggregation', () => runHookAggregation(hooks, {}, fileState as never, options)],
        ['aggregateHooks', () => aggregateHooks(hooks, fileState as never, options)],
        ['query', () => store().query('s', options)],
        ['reconstruct', () => reconstruct(store(), 's', fileState, options)],
        ['append()', () => store().append([], options)],
        ['openStore', () => openStore(options)],
      ];
      for (const [fn, call] of calls) {
        let error: unknown;
        try {
          await call();
        } catch (thrown) {
          error = thrown;
        }
        expect(error, fn).toBeInstanceOf(ConfigError);
        expect((error as Error).message, fn).toMatch(
          new RegExp(`^${escapeRegExp(fn)}: the (options|thresholds?) must be an object, got ${kind}$`),
        );
      }
    }
  });

  it('the operators: a config that is a Map or a Set is a ConfigError (its entries are no own fields: they were ignored)', () => {
    for (const bad of [new Map([['maxEvents', 0]]), new Set(['gapMs'])]) {
      const kind = bad instanceof Map ? 'a Map' : 'a Set';
      for (const [fn, make] of [
        ['temporalAggregate', () => temporalAggregate(bad as never)],
        ['sessionWindows', () => sessionWindows(bad as never)],
        ['adaptiveBatch', () => adaptiveBatch(bad as never)],
        ['hybridProcess', () => hybridProcess(bad as never)],
        ['measure', () => measure(new EventFlowMetrics(), bad as never)],
        ['EventFlowMetrics', () => new EventFlowMetrics(bad as never)],
      ] as const) {
        expect(make).toThrow(ConfigError);
        expect(make).toThrow(`${fn}: the config must be an object, got ${kind}`);
      }
    }
  });

  it('correlate and pattern: a bad value, group or step field in the house form (the field, what is allowed, what was given)', () => {
    // They said zod's words: `correlate: invalid configuration: maxSessions: Invalid input: expected
    // number, received string`, `0: Unrecognized key: "descripton"`; and correlate ignored a Map.
    const rule = () => null;
    const cases: ReadonlyArray<readonly [() => unknown, string]> = [
      [
        () => correlate(undefined, { maxSessions: 'ten' } as never),
        "correlate: maxSessions must be an integer >= 1, got 'ten'",
      ],
      [() => correlate(undefined, { maxFiles: -1 }), 'correlate: maxFiles must be an integer >= 0, got -1'],
      [
        () => correlate(undefined, { updateIntervalMs: 0 }),
        'correlate: updateIntervalMs must be a finite number > 0, got 0',
      ],
      [
        () => correlate(undefined, { passThrough: 1 } as never),
        'correlate: passThrough must be a boolean, got 1',
      ],
      [
        () => correlate(undefined, new Map([['passThrough', false]]) as never),
        'correlate: the options must be an object, got a Map',
      ],
      [
        () => correlate([{ name: 'g', eventTypes: ['a'], windowMs: 1, rule, descripton: 'x' }] as never),
        'correlate: groups[0]: unknown field "descripton" (did you mean "description"?); known: name, eventTypes, windowMs, rule, description',
      ],
      [
        () => correlate([{ name: 'g', eventTypes: ['a', ''], windowMs: 1, rule }]),
        "correlate: groups[0] eventTypes must be a non-empty array of non-empty strings, got ['a', '']",
      ],
      [
        () => correlate([7] as never),
        'correlate: groups[0] must be an object { name, eventTypes, windowMs, rule, description? }, got 7',
      ],
      [() => pattern([() => true], { within: -1 }), 'pattern: within must be a finite number > 0, got -1'],
      [
        () => pattern([() => true], { within: 1, maxKeys: 1.5 }),
        'pattern: maxKeys must be an integer >= 1, got 1.5',
      ],
      [
        () => pattern([() => true], { within: 1, name: '' }),
        "pattern: name must be a non-empty string, got ''",
      ],
      [() => pattern([() => true], new Map() as never), 'pattern: the options must be an object, got a Map'],
      [
        () => pattern([{ match: () => true, nmae: 'x' }] as never, { within: 1 }),
        'pattern: steps[0]: unknown field "nmae" (did you mean "name"?); known: name, match, optional',
      ],
      [
        () =>
          pattern([() => true, { notFollowedBy: () => true, optonal: true }, () => true] as never, {
            within: 1,
          }),
        'pattern: steps[1]: unknown field "optonal"; known: name, notFollowedBy',
      ],
    ];
    for (const [make, message] of cases) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(new ConfigError(message));
    }
    // Values no template can show are a ConfigError all the same.
    for (const [, bad] of BAD) {
      expect(() => correlate(undefined, { maxSessions: bad } as never)).toThrow(
        /^correlate: maxSessions must be an integer >= 1, got /,
      );
      expect(() => pattern([() => true], { within: bad } as never)).toThrow(
        /^pattern: within must be a finite number > 0, got /,
      );
    }
  });

  it('keeps undefined options, and known keys set to undefined, working', () => {
    expect(() => temporalAggregate(undefined)).not.toThrow();
    expect(() => bridgeHooks(undefined)).not.toThrow();
    expect(() => toEvents('Stop', {}, 1, undefined)).not.toThrow();
    expect(() => replay(store(), 's', undefined)).not.toThrow();
    expect(() => sessionWindows({ gapMs: undefined, key: undefined })).not.toThrow();
    expect(() => persist({ append: async () => undefined }, { maxBatch: undefined })).not.toThrow();
  });

  it('reads options spread from a bigger object as their own keys (the case TypeScript misses)', () => {
    const settings = { gapMs: 1000, logLevel: 'debug' };
    expect(() => sessionWindows({ ...settings })).toThrow(
      /^sessionWindows: unknown option "logLevel"; known: gapMs, key, /,
    );
  });

  it('selectMode: a config is compiled once per object; a frozen config works, a bad one is refused each time', () => {
    const event = createEvent({ type: 'git.commit' });
    const config = Object.freeze({ lowPriority: 'batched' as const });
    expect(selectMode(event, {}, config)).toBe('immediate');
    expect(selectMode(event, {}, config)).toBe('immediate');
    const bad = { lowpriority: 'batched' } as never;
    expect(() => selectMode(event, {}, bad)).toThrow(/did you mean "lowPriority"/);
    expect(() => selectMode(event, {}, bad)).toThrow(/did you mean "lowPriority"/);
  });

  it('selectMode: an unknown threshold is named with the nearest one, as an unknown option is', () => {
    expect(() => createModeSelector({ thresholds: { cpuPercnt: 50 } as never })).toThrow(
      /^selectMode: unknown threshold "cpuPercnt" \(did you mean "cpuPercent"\?\); known: cpuPercent, /,
    );
  });

  it('hybridProcess: checks the options of its batcher and modes too', () => {
    expect(() => hybridProcess({ ...HANDLERS, batcher: { maxsize: 5 } as never })).toThrow(
      /^adaptiveBatch: unknown option "maxsize" \(did you mean "maxSize"\?\)/,
    );
    expect(() => hybridProcess({ ...HANDLERS, modes: { lowpriority: 'async' } as never })).toThrow(
      /^selectMode: unknown option "lowpriority"/,
    );
  });
});

describe('nearestName', () => {
  it('of two known names as near as each other, names the first of the list', () => {
    // 'windowMx' is one edit from each: the one listed first is named.
    expect(nearestName('windowMx', ['windowMs', 'windowMa'])).toBe('windowMs');
    expect(nearestName('windowMx', ['windowMa', 'windowMs'])).toBe('windowMa');
  });
});
