import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Level } from 'level';
import { lastValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  ConfigError,
  type CorruptRecord,
  DEFAULT_SESSION,
  type Event,
  openStore,
  type QueryOptions,
  replay,
  StoreError,
  toEvents,
} from '../../src/index.js';
import { behindItsBack, collect, ev, type TempStore, tempStore } from '../helpers/store.js';

let t: TempStore;
beforeEach(async () => {
  t = await tempStore();
});
afterEach(async () => {
  await t.cleanup();
});

async function storeError(promise: Promise<unknown>): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreError);
  return error as StoreError;
}

/**
 * Records, from now on to the end of the test, the sessions whose metadata record the store reads (it
 * loads a session not in memory from it): returns the function that gives their ids so far, in order.
 */
async function metadataReads(): Promise<() => string[]> {
  const { AbstractLevel, AbstractSublevel } = await import('abstract-level');
  const spy = vi.spyOn(AbstractLevel.prototype, 'getMany');
  onTestFinished(() => spy.mockRestore());
  // The metadata sublevel's own calls (it passes them on to the database with its prefix added).
  return () =>
    spy.mock.calls
      .filter((_, i) => spy.mock.contexts[i] instanceof AbstractSublevel)
      .flatMap(([keys]) => keys as string[]);
}

describe('SessionStore: append, get, query', () => {
  it('round-trips events per session, in append order, with seqs from 0', async () => {
    const a = [
      ev('tool.used', 10, 'a'),
      ev('file.modified', 5, 'a', { file_path: '/x' }),
      ev('git.commit', 20, 'a'),
    ];
    const b = [ev('tool.used', 1, 'b'), ev('tool.used', 2, 'b')];
    const positions = await t.store.append([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!]);
    expect(positions).toEqual([
      { sessionId: 'a', seq: 0 },
      { sessionId: 'b', seq: 0 },
      { sessionId: 'a', seq: 1 },
      { sessionId: 'b', seq: 1 },
      { sessionId: 'a', seq: 2 },
    ]);
    expect(await collect(t.store.query('a'))).toEqual(a);
    expect(await collect(t.store.query('b'))).toEqual(b);
    expect(await collect(t.store.entries('a'))).toEqual(a.map((event, seq) => ({ seq, event })));
    expect(await t.store.get('a', 1)).toEqual(a[1]);
    expect(await t.store.get('a', 3)).toBeUndefined();
    expect(await t.store.get('nope', 0)).toBeUndefined();
    expect(await collect(t.store.query('nope'))).toEqual([]);
  });

  it('stores exactly the schema fields (unknown keys dropped, as parseEvent does)', async () => {
    const event = { ...ev('tool.used', 1), extra: 'x' } as Event;
    await t.store.append([event]);
    const [stored] = await collect(t.store.query('s1'));
    expect(stored).not.toHaveProperty('extra');
    expect(stored).toEqual({ ...event, extra: undefined });
  });

  it('puts events without a sessionId in the default session, unchanged', async () => {
    const event = ev('tool.used', 1, null);
    expect(await t.store.append([event])).toEqual([{ sessionId: DEFAULT_SESSION, seq: 0 }]);
    const [stored] = await collect(t.store.query(DEFAULT_SESSION));
    expect(stored).toEqual(event);
    expect(stored).not.toHaveProperty('sessionId');
  });

  it('appends nothing for an empty array', async () => {
    expect(await t.store.append([])).toEqual([]);
    expect(t.store.stats().writes).toBe(0);
  });

  it('serializes concurrent appends: seqs are unique and contiguous, each call keeps its order', async () => {
    const calls = Array.from({ length: 50 }, (_, c) =>
      Array.from({ length: 1 + (c % 7) }, (_, i) =>
        ev('tool.used', c * 10 + i, c % 2 === 0 ? 'even' : 'odd'),
      ),
    );
    const results = await Promise.all(calls.map((events) => t.store.append(events)));
    for (const [c, positions] of results.entries()) {
      const seqs = positions.map((p) => p.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(positions.every((p) => p.sessionId === (c % 2 === 0 ? 'even' : 'odd'))).toBe(true);
    }
    for (const session of ['even', 'odd']) {
      const entries = await collect(t.store.entries(session));
      expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i));
      const expected = calls.filter((_, c) => (c % 2 === 0 ? 'even' : 'odd') === session).flat();
      expect(entries.map((e) => e.event)).toEqual(expected);
    }
    // Appends made while a write was in flight were committed together (group commit).
    expect(t.store.stats().writes).toBeLessThan(calls.length);
  });

  it('keeps sessions whose ids share prefixes or contain separator-like characters apart', async () => {
    const ids = ['a', 'a\x00', 'a\x00b', 'a\x01', 'ab', '\uD800', '\uD801', 'x\uD83D\uDE00', 'a!b', 'a/b'];
    await t.store.append(ids.flatMap((id, i) => [ev('t\x00x', i, id), ev('t', i + 100, id)]));
    for (const [i, id] of ids.entries()) {
      const events = await collect(t.store.query(id));
      expect(events.map((e) => e.timestamp)).toEqual([i, i + 100]);
      expect((await collect(t.store.query(id, { types: ['t\x00x'] }))).map((e) => e.timestamp)).toEqual([i]);
      expect((await collect(t.store.query(id, { types: ['t'] }))).map((e) => e.timestamp)).toEqual([i + 100]);
    }
    expect((await t.store.sessions()).map((s) => s.sessionId).sort()).toEqual([...ids].sort());
  });
});

describe('SessionStore: keys that are JavaScript property names', () => {
  it('counts and queries types such as __proto__ and constructor like any other', async () => {
    const events = [ev('__proto__', 1), ev('constructor', 2), ev('__proto__', 3), ev('toString', 4)];
    await t.store.append(events);
    const info = await t.store.session('s1');
    expect(Object.entries(info!.typeCounts).sort()).toEqual([
      ['__proto__', 2],
      ['constructor', 1],
      ['toString', 1],
    ]);
    expect(Object.hasOwn(info!.typeCounts, '__proto__')).toBe(true);
    expect((await collect(t.store.query('s1', { types: ['__proto__'] }))).map((e) => e.timestamp)).toEqual([
      1, 3,
    ]);
    expect((await collect(t.store.query('s1', { start: 0 }))).map((e) => e.timestamp)).toEqual([1, 2, 3, 4]);
    await t.reopen();
    await t.store.append([ev('__proto__', 5)]);
    expect(
      Object.getOwnPropertyDescriptor((await t.store.session('s1'))!.typeCounts, '__proto__')?.value,
    ).toBe(3);
    expect(
      Object.getOwnPropertyDescriptor((await t.store.sessionContext('s1')).activitySummary, 'constructor')
        ?.value,
    ).toBe(1);
  });
});

describe('SessionStore: invalid input', () => {
  it('rejects an invalid event with STORE_INVALID_EVENT naming it and the zod issue; writes nothing', async () => {
    const good = ev('tool.used', 1);
    const bad = { ...ev('tool.used', 2), timestamp: -5 };
    const error = await storeError(t.store.append([good, bad]));
    expect(error.code).toBe('STORE_INVALID_EVENT');
    expect(error.message).toContain('event 1');
    expect(error.message).toContain(bad.id);
    expect(error.message).toContain('timestamp');
    expect(error.issues[0]?.path).toEqual(['timestamp']);
    expect(error.events).toEqual([bad]);
    expect(await collect(t.store.query('s1'))).toEqual([]);
  });

  it('rejects events that cannot be serialized', async () => {
    const bad = ev('tool.used', 1, 's1', { n: 10n });
    const error = await storeError(t.store.append([bad]));
    expect(error.code).toBe('STORE_INVALID_EVENT');
    expect(error.message).toMatch(/serializ/);
  });

  it('names the field that cannot be serialized, data or context, with the error as cause', async () => {
    const boom = new Error('boom');
    const throwing = {
      toJSON() {
        throw boom;
      },
    };
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    // JSON's TypeError (a BigInt, a cycle), or what a toJSON threw.
    const cases: Array<[Partial<Event>, string, (cause: unknown) => void]> = [
      [{ data: { n: 1n } }, 'data', (cause) => expect(cause).toBeInstanceOf(TypeError)],
      [{ data: throwing }, 'data', (cause) => expect(cause).toBe(boom)],
      [{ context: { n: 1n } }, 'context', (cause) => expect(cause).toBeInstanceOf(TypeError)],
      [{ context: throwing }, 'context', (cause) => expect(cause).toBe(boom)],
      [{ context: { a: cycle } }, 'context', (cause) => expect(cause).toBeInstanceOf(TypeError)],
      // Both: data's, the first one serialized.
      [{ data: throwing, context: { n: 1n } }, 'data', (cause) => expect(cause).toBe(boom)],
    ];
    for (const [override, field, checkCause] of cases) {
      const error = await storeError(
        t.store.append([ev('tool.used', 0), { ...ev('tool.used', 1), ...override }]),
      );
      expect(error.code).toBe('STORE_INVALID_EVENT');
      expect(error.issues).toEqual([
        { code: 'custom', path: [field], message: expect.stringMatching(/^not serializable: /) },
      ]);
      expect(error.message).toContain(`is not a valid event: ${field}: not serializable: `);
      checkCause(error.cause);
    }
    expect(t.store.stats().eventsWritten).toBe(0);
  });

  it('rejects (nothing written) an event whose data or context would not read back as the same event', async () => {
    const bad: Array<[string, Partial<Event>]> = [
      ['data', { data: new Date(0) as unknown as Record<string, unknown> }],
      ['data', { data: new Map([['k', 1]]) as unknown as Record<string, unknown> }],
      ['data', { data: Object.create({ inherited: 1 }) as Record<string, unknown> }],
      ['data', { data: { toJSON: () => 'x' } }],
      ['data', { data: { toJSON: () => [1] } }],
      ['context', { context: { toJSON: () => null } }],
      // JSON.stringify gives no text at all: still context's issue, not a serialization failure of data.
      ['context', { context: { toJSON: () => undefined } }],
      ['context', { context: new Date(0) as unknown as Record<string, unknown> }],
    ];
    for (const [field, override] of bad) {
      const event = { ...ev('tool.used', 1), ...override };
      const error = await storeError(t.store.append([ev('tool.used', 0), event]));
      expect(error.code).toBe('STORE_INVALID_EVENT');
      expect(error.message).toContain('event 1');
      expect(error.issues[0]?.path).toEqual([field]);
      expect(error.events).toEqual([event]);
    }
    expect(await t.store.session('s1')).toBeUndefined();
    expect(await collect(t.store.query('s1'))).toEqual([]);
    expect(t.store.stats().eventsWritten).toBe(0);
  });

  it('gives one issue per field that would not read back, saying why (zod accepts these events)', async () => {
    // Zod's record takes an object that inherits its properties (not a Date or a Map: those are its issues).
    const inherits = Object.create({ inherited: 1 }) as Record<string, unknown>;
    const notPlain = expect.stringContaining('not a plain object');
    const noObject = expect.stringContaining('toJSON() does not return an object');
    const cases: Array<[Partial<Event>, Array<[string, unknown]>]> = [
      // A valid context (or none) adds no issue.
      [{ data: inherits }, [['data', notPlain]]],
      [{ data: inherits, context: { cwd: '/' } }, [['data', notPlain]]],
      [{ context: { toJSON: () => 'x' } }, [['context', noObject]]],
      // JSON.stringify gives no text at all.
      [{ context: { toJSON: () => undefined } }, [['context', noObject]]],
      [
        { data: { toJSON: () => 1 }, context: inherits },
        [
          ['data', noObject],
          ['context', notPlain],
        ],
      ],
    ];
    for (const [override, issues] of cases) {
      const error = await storeError(t.store.append([{ ...ev('tool.used', 1), ...override }]));
      expect(error.issues).toEqual(
        issues.map(([field, message]) => ({ code: 'custom', path: [field], message })),
      );
    }
  });

  it('stores data and context as JSON gives them back: a toJSON returning an object, no prototype', async () => {
    const noProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    const withToJSON = { ...ev('tool.used', 1), data: { secret: 1, toJSON: () => ({ shown: 2 }) } };
    await t.store.append([{ ...ev('tool.used', 2), data: noProto, context: noProto }, withToJSON]);
    const stored = await collect(t.store.query('s1'));
    expect(stored.map((e) => [e.data, e.context])).toEqual([
      [{ a: 1 }, { a: 1 }],
      [{ shown: 2 }, undefined],
    ]);
    expect((await t.store.session('s1'))?.eventCount).toBe(2);
  });

  it('rejects non-events of every shape', async () => {
    for (const bad of [null, 1, 'x', [], {}, { ...ev('a', 1), priority: 7 }, { ...ev('a', 1), data: [] }]) {
      const error = await storeError(t.store.append([bad as Event]));
      expect(error.code).toBe('STORE_INVALID_EVENT');
    }
  });

  it('names a non-event in its message by what it is, or by its type and id where it has them', async () => {
    const cases: Array<[unknown, string]> = [
      [null, '(null)'],
      [[], '(an array)'],
      [5, '(number)'],
      ['x', '(string)'],
      [{}, '(an object without id and type)'],
      [{ id: 7, type: 8 }, '(an object without id and type)'],
      [{ type: 'tool.used' }, '(tool.used (no id))'],
      [{ type: 'tool.used', id: 7 }, '(tool.used (no id))'],
      [{ id: 'E1' }, '((no type) E1)'],
      [{ id: 'E1', type: 7 }, '((no type) E1)'],
      [{ ...ev('tool.used', 1), id: 'E2', timestamp: -1 }, '(tool.used E2)'],
    ];
    for (const [bad, named] of cases) {
      const error = await storeError(t.store.append([ev('a', 0), bad as Event]));
      expect(error.message, JSON.stringify(bad)).toContain(
        `append(): event 1 ${named} is not a valid event: `,
      );
    }
  });

  it('says what is wrong with the whole value at the root for a non-object', async () => {
    for (const bad of [null, 5, []]) {
      const error = await storeError(t.store.append([bad as unknown as Event]));
      expect(error.issues[0]?.path, JSON.stringify(bad)).toEqual([]);
      expect(error.message).toContain('is not a valid event: (root): ');
    }
  });

  it('rejects an event with any one field wrong, naming that field (the hand check agrees with the schema)', async () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['id', { id: '' }],
      ['id', { id: 7 }],
      // Not strings, though they have a length.
      ['id', { id: ['a'] }],
      ['type', { type: ['a'] }],
      ['sessionId', { sessionId: ['s'] }],
      ['type', { type: '' }],
      ['type', { type: 7 }],
      ['timestamp', { timestamp: '5' }],
      ['timestamp', { timestamp: Number.NaN }],
      ['timestamp', { timestamp: Number.POSITIVE_INFINITY }],
      ['priority', { priority: 1.5 }],
      ['priority', { priority: '1' }],
      ['priority', { priority: -1 }],
      ['sessionId', { sessionId: '' }],
      ['sessionId', { sessionId: 5 }],
      ['context', { context: [1] }],
      ['data', { data: null }],
    ];
    for (const [field, override] of bad) {
      const event = { ...ev('tool.used', 1), ...override } as Event;
      const error = await storeError(t.store.append([ev('tool.used', 0), event]));
      expect(error.code, field).toBe('STORE_INVALID_EVENT');
      expect(error.issues[0]?.path, JSON.stringify(override)).toEqual([field]);
      expect(error.events).toEqual([event]);
    }
    expect(t.store.stats().eventsWritten).toBe(0);
  });

  it('validates query options and ids synchronously with ConfigError', () => {
    expect(() => t.store.query('')).toThrow(ConfigError);
    expect(() => t.store.query('s', { limit: -1 })).toThrow(ConfigError);
    expect(() => t.store.query('s', { fromSeq: 1.5 })).toThrow(ConfigError);
    expect(() => t.store.query('s', { types: [''] })).toThrow(ConfigError);
    expect(() => t.store.query('s', { start: Number.NaN })).toThrow(ConfigError);
  });

  it('names the bad query option or id in its ConfigError and shows the value given (a string quoted)', () => {
    const cases: Array<[unknown, string]> = [
      [5, 'query options must be an object'],
      [null, 'query options must be an object'],
      [
        { revers: true },
        'query: unknown option "revers" (did you mean "reverse"?); known: types, start, end, fromSeq, limit, reverse',
      ],
      [{ types: 'a' }, 'query option types must be an array of non-empty strings'],
      // Not a string, though it has a length (and reads as 'a' in a key).
      [{ types: [['a']] }, 'query option types must be an array of non-empty strings'],
      [{ start: '5' }, "query option start must be a number (ms since epoch), got '5'"],
      [{ end: Number.NaN }, 'query option end must be a number (ms since epoch), got NaN'],
      [{ fromSeq: 1.5 }, 'query option fromSeq must be an integer ≥ 0, got 1.5'],
      [{ fromSeq: '1' }, "query option fromSeq must be an integer ≥ 0, got '1'"],
      [{ limit: -1 }, 'query option limit must be an integer ≥ 0 or Infinity, got -1'],
      [{ reverse: 'yes' }, 'query option reverse must be a boolean'],
    ];
    for (const [options, message] of cases) {
      expect(() => t.store.query('s', options as QueryOptions), message).toThrow(
        expect.objectContaining({ name: 'ConfigError', code: 'INVALID_CONFIG', message }),
      );
    }
    for (const [id, message] of [
      ['', "sessionId must be a non-empty string, got ''"],
      [5, 'sessionId must be a non-empty string, got 5'],
    ] as const) {
      expect(() => t.store.query(id as string), message).toThrow(
        expect.objectContaining({ name: 'ConfigError', message }),
      );
    }
  });

  it('refuses to work after close with STORE_NOT_OPEN', async () => {
    await t.store.close();
    expect(t.store.status).toBe('closed');
    expect((await storeError(t.store.append([ev('a', 1)]))).code).toBe('STORE_NOT_OPEN');
    expect((await storeError(t.store.sessions())).code).toBe('STORE_NOT_OPEN');
    expect((await storeError(collect(t.store.query('s1')))).code).toBe('STORE_NOT_OPEN');
    await t.store.close(); // idempotent
  });

  const starting: Array<[string, QueryOptions | undefined, boolean]> = [
    ['by seq', undefined, false],
    ['by type', { types: ['a'] }, false],
    ['by time, over every type', { start: 1 }, false],
    ['over two types, newest first', { types: ['a', 'b'], reverse: true }, false],
    ['by time, metadata damaged (types listed from the index)', { start: 1 }, true],
  ];
  for (const [name, options, damaged] of starting) {
    it(`fails a query (or replay) starting when close() begins with STORE_NOT_OPEN, not a LevelDB error: ${name}`, async () => {
      await t.store.append([ev('a', 1), ev('b', 2)]);
      if (damaged) {
        await t.store.close();
        const raw = new Level<string, string>(t.store.path);
        await raw.put('!s!s1', 'garbage');
        await raw.close();
      }
      const store = await t.reopen();
      // close() waits for this write to finish, then closes LevelDB: after the query has read the
      // session's metadata (its snapshot is taken) and before it creates its iterators.
      await store.append([ev('x', 1, 'other')]);
      const first = store.query('s1', options)[Symbol.asyncIterator]().next();
      const replayed = lastValueFrom(replay(store, 's1', options));
      const closing = store.close();
      // Both handled at once: awaited one after the other, the second could reject while the first is
      // awaited, with no handler yet (an unhandled rejection, which fails the run).
      for (const error of await Promise.all([storeError(first), storeError(replayed)])) {
        expect(error.code).toBe('STORE_NOT_OPEN');
        expect(error.path).toBe(store.path);
      }
      await closing;
    });
  }

  it('rejects bad openStore options with ConfigError', async () => {
    await expect(openStore({ path: t.dir, durability: 'disk' as 'os' })).rejects.toBeInstanceOf(ConfigError);
    await expect(openStore({ path: '' })).rejects.toBeInstanceOf(ConfigError);
  });

  it('rejects openStore options that are not an object, and a path that is not a string, with ConfigError', async () => {
    // Not taken for no options: without the check, a number would open the default store.
    for (const options of [5, 'x', null, [], true]) {
      await expect(openStore(options as never), JSON.stringify(options)).rejects.toThrow(
        new ConfigError('openStore() options must be an object'),
      );
    }
    for (const [path, shown] of [
      [5, '5'],
      [null, 'null'],
    ] as const) {
      await expect(openStore({ path: path as never })).rejects.toThrow(
        new ConfigError(`openStore: path must be a non-empty string, got ${shown}`),
      );
    }
  });
});

describe('SessionStore: sessions, metadata, context', () => {
  it('keeps session metadata in step with the events', async () => {
    const started = await t.store.startSession('s1', { project: 'acme' });
    expect(started).toMatchObject({ sessionId: 's1', eventCount: 0, nextSeq: 0, meta: { project: 'acme' } });
    await t.store.append([ev('tool.used', 30), ev('file.modified', 10), ev('tool.used', 20)]);
    await t.store.startSession('s1', { branch: 'main' });
    await t.store.append([ev('x', 1, 's2')]);
    const sessions = await t.store.sessions();
    expect(sessions.map((s) => s.sessionId)).toEqual(['s1', 's2']);
    expect(sessions[0]).toMatchObject({
      sessionId: 's1',
      startTime: 10,
      lastEventTime: 30,
      eventCount: 3,
      nextSeq: 3,
      typeCounts: { 'tool.used': 2, 'file.modified': 1 },
      meta: { project: 'acme', branch: 'main' },
    });
    expect(await t.store.session('s2')).toMatchObject({ eventCount: 1, startTime: 1, lastEventTime: 1 });
    expect(await t.store.session('nope')).toBeUndefined();
  });

  it('startSession returns the session as of its place in the queue, not after the writes called later', async () => {
    // Called in one tick, written in one batch: each start sees only what was called before it.
    const first = t.store.startSession('s', { x: 1 });
    const second = t.store.startSession('s', { x: 2, y: 2 });
    const appended = t.store.append([ev('tool.used', 5, 's')]);
    const third = t.store.startSession('s', { z: 3 });
    expect(await first).toMatchObject({ meta: { x: 1 }, eventCount: 0, nextSeq: 0, startTime: undefined });
    expect(await second).toMatchObject({ meta: { x: 2, y: 2 }, eventCount: 0, nextSeq: 0 });
    expect(await appended).toEqual([{ sessionId: 's', seq: 0 }]);
    expect(await third).toMatchObject({
      meta: { x: 2, y: 2, z: 3 },
      eventCount: 1,
      nextSeq: 1,
      startTime: 5,
      typeCounts: { 'tool.used': 1 },
    });
    expect(await t.store.session('s')).toMatchObject({ meta: { x: 2, y: 2, z: 3 }, eventCount: 1 });
  });

  it('startSession resolves with a copy: changing a value nested in its meta changes nothing stored', async () => {
    const first = await t.store.startSession('s', { project: { name: 'acme' }, tags: ['a'] });
    (first.meta.project as { name: string }).name = 'changed';
    (first.meta.tags as string[]).push('b');
    await t.store.append([ev('tool.used', 1, 's')]);
    const again = await t.store.startSession('s', { branch: 'main' });
    (again.meta.project as { name: string }).name = 'changed again';
    await t.store.startSession('s', { x: 1 });
    const stored = { project: { name: 'acme' }, tags: ['a'], branch: 'main', x: 1 };
    expect((await t.store.session('s'))?.meta).toEqual(stored);
    await t.reopen();
    expect((await t.store.session('s'))?.meta).toEqual(stored);
  });

  it('makes up a session id when none is given', async () => {
    const a = await t.store.startSession();
    const b = await t.store.startSession();
    expect(a.sessionId).not.toBe(b.sessionId);
    expect((await t.store.sessions()).length).toBe(2);
  });

  it('makes up ids that sort in the order they were made, also within one millisecond', async () => {
    // The same millisecond throughout: only the counter orders them, past 36 (two base-36 digits) too.
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 0, 1));
    try {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) ids.push((await t.store.startSession()).sessionId);
      expect(new Set(ids).size).toBe(40);
      // sessions() lists in key order: the order they were made.
      expect((await t.store.sessions()).map((info) => info.sessionId)).toEqual(ids);
    } finally {
      now.mockRestore();
    }
  });

  it('builds the seed context: counts, time span, files, agents, workflows — from the index only', async () => {
    const events = [
      ev('session.started', 1000),
      ev('file.created', 1001, 's1', { file_path: '/a.ts' }),
      ev('file.modified', 1002, 's1', { file_path: '/b.ts' }),
      ev('file.modified', 1003, 's1', { file_path: '/a.ts' }),
      ev('agent.completed', 1004, 's1', { agent: 'reviewer' }),
      ev('agent.completed', 1005, 's1', { agent: 'tester' }),
      ev('workflow.started', 1006, 's1', { workflow: 'release' }),
      ...Array.from({ length: 100 }, (_, i) => ev('tool.used', 1010 + i)),
    ];
    await t.store.append(events);
    const before = t.store.stats().eventsRead;
    const context = await t.store.sessionContext('s1');
    expect(context).toEqual({
      sessionId: 's1',
      eventCount: 107,
      timeSpan: { start: 1000, end: 1109 },
      activitySummary: {
        'session.started': 1,
        'file.created': 1,
        'file.modified': 2,
        'agent.completed': 2,
        'workflow.started': 1,
        'tool.used': 100,
      },
      filesModified: ['/a.ts', '/b.ts'],
      agentsUsed: ['reviewer', 'tester'],
      workflowsExecuted: ['release'],
    });
    // Only the 6 file/agent/workflow events were decoded, not the 100 tool.used ones.
    expect(t.store.stats().eventsRead - before).toBe(6);
    expect(await t.store.sessionContext('nope')).toEqual({
      sessionId: 'nope',
      eventCount: 0,
      timeSpan: undefined,
      activitySummary: {},
      filesModified: [],
      agentsUsed: [],
      workflowsExecuted: [],
    });
  });

  it("lists a Claude Code subagent's run under its start's type, though its SubagentStop says agent_type ''", async () => {
    const base = { session_id: 's1', cwd: '/w', transcript_path: '/w/s1.jsonl' };
    await t.store.append([
      ...toEvents('SubagentStart', { ...base, agent_id: 'acad711', agent_type: 'general-purpose' }, 1_000),
      ...toEvents(
        'SubagentStop',
        { ...base, stop_hook_active: false, agent_id: 'acad711', agent_type: '' },
        2_000,
      ),
      // An end whose start was not seen goes by the bridge's name: its id.
      ...toEvents(
        'SubagentStop',
        { ...base, stop_hook_active: false, agent_id: 'b0b0b0b', agent_type: '' },
        3_000,
      ),
      ...toEvents('SubagentStart', { ...base, agent_id: 'c1c1c1c', agent_type: 'Explore' }, 4_000),
    ]);
    expect((await t.store.sessionContext('s1')).agentsUsed).toEqual([
      'general-purpose',
      'b0b0b0b',
      'Explore',
    ]);
  });

  it('deletes a session: events, index and metadata; a new session of that id starts at seq 0', async () => {
    await t.store.append([ev('a', 1), ev('b', 2), ev('a', 3, 'other')]);
    expect(await t.store.deleteSession('s1')).toBe(true);
    expect(await t.store.deleteSession('s1')).toBe(false);
    expect(await collect(t.store.query('s1'))).toEqual([]);
    expect(await collect(t.store.query('s1', { types: ['a'] }))).toEqual([]);
    expect((await t.store.sessions()).map((s) => s.sessionId)).toEqual(['other']);
    expect(await t.store.append([ev('c', 4)])).toEqual([{ sessionId: 's1', seq: 0 }]);
    await t.reopen();
    expect((await collect(t.store.query('s1'))).map((e) => e.type)).toEqual(['c']);
    expect((await collect(t.store.query('other'))).map((e) => e.type)).toEqual(['a']);
  });
});

describe('SessionStore: session numbers', () => {
  it('gives a deleted and recreated session a new number, never the one it had (docs: Key layout)', async () => {
    await t.store.append([ev('a', 1, 's1'), ev('a', 2, 'other'), ev('b', 3, 's1')]);
    const keys = async () => {
      const out: Record<string, string> = {};
      await behindItsBack(t.store, async (raw) => {
        for await (const [key, value] of raw.iterator()) out[key] = value;
      });
      await t.reopen();
      return out;
    };
    const before = await keys();
    expect(before['!n!s1']).toBe('0');
    expect(await t.store.deleteSession('s1')).toBe(true);
    await t.store.append([ev('c', 4, 's1')]);
    const after = await keys();
    // Numbers 0 (s1) and 1 (other) were given: the new s1 gets 2, and no key of number 0 is left.
    expect(after['!n!s1']).toBe('2');
    const of = (prefix: string) => Object.keys(after).filter((k) => k.startsWith(prefix));
    expect([...of('!e!0\0'), ...of('!i!0\0')]).toEqual([]);
    expect(of('!e!2\0')).toHaveLength(1);
    expect(of('!i!2\0')).toHaveLength(1);
    expect((await collect(t.store.query('s1'))).map((e) => e.type)).toEqual(['c']);
  });
});

describe('SessionStore: persistence and recovery', () => {
  it('keeps everything across close and reopen, and continues the seqs', async () => {
    const first = [ev('tool.used', 1), ev('git.commit', 2)];
    await t.store.append(first);
    await t.store.startSession('s1', { note: 'kept' });
    await t.reopen();
    expect(await collect(t.store.query('s1'))).toEqual(first);
    const next = ev('tool.used', 3);
    expect(await t.store.append([next])).toEqual([{ sessionId: 's1', seq: 2 }]);
    expect(await t.store.session('s1')).toMatchObject({ eventCount: 3, nextSeq: 3, meta: { note: 'kept' } });
    expect(await collect(t.store.query('s1', { types: ['tool.used'] }))).toEqual([first[0], next]);
  });

  it('appends from seq 0 to a session started without events, after a reopen', async () => {
    await t.store.startSession('empty', { note: 'kept' });
    const store = await t.reopen();
    const first = ev('a', 1, 'empty');
    expect(await store.append([first])).toEqual([{ sessionId: 'empty', seq: 0 }]);
    expect(await collect(store.query('empty'))).toEqual([first]);
    expect(await store.session('empty')).toMatchObject({ eventCount: 1, nextSeq: 1, meta: { note: 'kept' } });
  });

  it('works with durability "os" (sync writes) the same way', async () => {
    const store = await t.reopen({ durability: 'os' });
    expect(store.durability).toBe('os');
    const events = Array.from({ length: 20 }, (_, i) => ev('tool.used', i));
    await Promise.all(events.map((e) => store.append([e])));
    expect(await collect(store.query('s1'))).toEqual(events);
    expect(store.stats().writes).toBeLessThan(20);
  });

  it('closes only after queued writes are written', async () => {
    const pending = t.store.append([ev('a', 1), ev('b', 2)]);
    await t.store.close();
    await expect(pending).resolves.toHaveLength(2);
    const store = await t.reopen();
    expect(await collect(store.query('s1'))).toHaveLength(2);
  });

  it('skips, counts and reports records that cannot be decoded', async () => {
    await t.store.append([ev('a', 1), ev('b', 2), ev('a', 3)]);
    // Damage seq 1 behind the store's back.
    await behindItsBack(t.store, async (raw) => {
      const key = (await raw.keys().all()).find((k) => k.startsWith('!e!') && k.endsWith('1'))!;
      await raw.put(key, '{"broken');
    });

    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    expect((await collect(store.query('s1'))).map((e) => e.timestamp)).toEqual([1, 3]);
    expect((await collect(store.query('s1', { types: ['b'] }))).map((e) => e.timestamp)).toEqual([]);
    expect(await store.get('s1', 1)).toBeUndefined();
    expect(store.stats().corruptRecords).toBe(3);
    expect(reports[0]).toMatchObject({ sessionId: 's1', seq: 1, kind: 'event' });
    expect(reports[0]!.error.code).toBe('STORE_READ_FAILED');
    expect(reports[0]!.reason).toMatch(/not JSON/);
  });

  it('skips and reports stored records that are JSON but not an event, saying what is wrong', async () => {
    const events = [ev('a', 1), ev('a', 2), ev('a', 3), ev('a', 4), ev('a', 5), ev('a', 6)];
    await t.store.append(events);
    const { priority: _, ...noPriority } = events[4]!;
    const records = ['5', 'null', '[1]', JSON.stringify(noPriority), '{"id":"x"}'];
    await behindItsBack(t.store, async (raw) => {
      const keys = (await raw.keys().all()).filter((k) => k.startsWith('!e!'));
      expect(keys).toHaveLength(6);
      // Seqs 1 to 5 replaced.
      for (const [i, record] of records.entries()) await raw.put(keys[i + 1]!, record);
    });

    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    expect(await collect(store.query('s1'))).toEqual([events[0]]);
    expect(reports.map((r) => [r.seq, r.kind])).toEqual([
      [1, 'event'],
      [2, 'event'],
      [3, 'event'],
      [4, 'event'],
      [5, 'event'],
    ]);
    for (const r of reports.slice(0, 3)) expect(r.reason).toMatch(/^not an event: \(root\): /);
    expect(reports[3]!.reason).toMatch(/^not an event: priority: /);
    expect(reports[3]!.reason).not.toContain('(root)');
    // Every issue, one after the other.
    expect(reports[4]!.reason).toMatch(
      /^not an event: type: [^;]+; timestamp: [^;]+; priority: [^;]+; data: /,
    );
  });

  it('rebuilds damaged session metadata from the events and never reuses a seq', async () => {
    await t.store.append([ev('a', 1), ev('b', 2)]);
    await behindItsBack(t.store, async (raw) => {
      await raw.put('!s!s1', 'garbage');
    });

    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    // The query still reads the events, and reports the metadata.
    expect((await collect(store.query('s1'))).map((e) => e.type)).toEqual(['a', 'b']);
    expect((await collect(store.query('s1', { start: 0 }))).map((e) => e.type)).toEqual(['a', 'b']);
    expect(await store.append([ev('c', 3)])).toEqual([{ sessionId: 's1', seq: 2 }]);
    expect(await store.session('s1')).toMatchObject({
      eventCount: 3,
      nextSeq: 3,
      typeCounts: { a: 1, b: 1, c: 1 },
    });
    expect(reports.every((r) => r.kind === 'session')).toBe(true);
    expect(reports.length).toBeGreaterThan(0);
  });

  it('finds a session whose metadata record is missing through its number, and rebuilds the metadata', async () => {
    await t.store.append([ev('a', 1), ev('b', 2)]);
    await behindItsBack(t.store, async (raw) => {
      await raw.del('!s!s1');
    });

    const store = await t.reopen();
    expect((await collect(store.query('s1'))).map((e) => e.type)).toEqual(['a', 'b']);
    expect(await store.get('s1', 1)).toMatchObject({ type: 'b' });
    expect(await store.append([ev('c', 3)])).toEqual([{ sessionId: 's1', seq: 2 }]);
    expect(await store.session('s1')).toMatchObject({ eventCount: 3, nextSeq: 3 });
  });

  it('reads damaged or missing session metadata as rebuilt from the events, before any write', async () => {
    // Ids that need escaping, and one sorting between them, so the listing's order is checked too.
    const damaged = 'd\x00\uD800';
    const missing = 'm\u{1F600}';
    await t.store.append([
      ev('file.modified', 1, damaged, { file_path: 'a.ts' }),
      ev('tool.used', 2, damaged),
      ev('tool.used', 3, damaged),
      ev('tool.used', 5, missing),
      ev('x', 1, 'k'),
      ev('x', 1, 'z'),
    ]);
    const before = await t.store.sessions();
    const expected = (await Promise.all([damaged, missing].map((id) => t.store.session(id)))).map((info) => ({
      ...info!,
      createdAt: expect.any(Number),
      meta: {},
    }));
    await behindItsBack(t.store, async (raw) => {
      const keys = await raw.keys({ gte: '!s!', lt: '!s"' }).all();
      await raw.put(keys.find((k) => k.startsWith('!s!d'))!, '{"broken');
      await raw.del(keys.find((k) => k.startsWith('!s!m'))!);
    });

    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    expect(await store.session(damaged)).toEqual(expected[0]);
    expect(await store.session(missing)).toEqual(expected[1]);
    expect((await store.sessions()).map((info) => info.sessionId)).toEqual(
      before.map((info) => info.sessionId),
    );
    expect((await store.sessions()).find((info) => info.sessionId === damaged)).toEqual(expected[0]);
    const context = await store.sessionContext(damaged);
    expect(context).toMatchObject({ eventCount: 3, timeSpan: { start: 1, end: 3 }, filesModified: ['a.ts'] });
    expect(reports.some((r) => r.kind === 'session' && r.sessionId === damaged)).toBe(true);
    // Reading wrote nothing: the next write still rebuilds and stores the metadata.
    expect(await store.append([ev('tool.used', 6, damaged)])).toEqual([{ sessionId: damaged, seq: 3 }]);
    expect(await store.session(damaged)).toMatchObject({ eventCount: 4, nextSeq: 4 });
  });

  it('takes metadata that is JSON of the wrong shape for damaged: any one field missing or of the wrong type', async () => {
    type Fields = { [key: string]: unknown };
    // Each applied to a session's good record; `1e400` (read back as Infinity) is no finite time.
    const damages: Array<[string, (meta: Fields) => string]> = [
      ['null', () => 'null'],
      ['an array', (meta) => JSON.stringify([meta])],
      ['a number', () => '5'],
      ['no sessionId', ({ sessionId: _, ...meta }) => JSON.stringify(meta)],
      ['sessionId not a string', (meta) => JSON.stringify({ ...meta, sessionId: 5 })],
      ['no n', ({ n: _, ...meta }) => JSON.stringify(meta)],
      ['n negative', (meta) => JSON.stringify({ ...meta, n: -1 })],
      ['n a string', (meta) => JSON.stringify({ ...meta, n: String(meta.n) })],
      ['n a fraction', (meta) => JSON.stringify({ ...meta, n: 0.5 })],
      ['eventCount a string', (meta) => JSON.stringify({ ...meta, eventCount: '2' })],
      ['eventCount negative', (meta) => JSON.stringify({ ...meta, eventCount: -2 })],
      ['no nextSeq', ({ nextSeq: _, ...meta }) => JSON.stringify(meta)],
      ['nextSeq a string', (meta) => JSON.stringify({ ...meta, nextSeq: '2' })],
      ['createdAt a string', (meta) => JSON.stringify({ ...meta, createdAt: '2026-01-01' })],
      ['no createdAt', ({ createdAt: _, ...meta }) => JSON.stringify(meta)],
      ['startTime a string', (meta) => JSON.stringify({ ...meta, startTime: '1' })],
      ['startTime null', (meta) => JSON.stringify({ ...meta, startTime: null })],
      [
        'startTime infinite',
        (meta) => JSON.stringify({ ...meta, startTime: 0 }).replace(/"startTime":0/, '"startTime":1e400'),
      ],
      ['lastEventTime a string', (meta) => JSON.stringify({ ...meta, lastEventTime: '2' })],
      [
        'lastEventTime infinite',
        (meta) =>
          JSON.stringify({ ...meta, lastEventTime: 0 }).replace(/"lastEventTime":0/, '"lastEventTime":1e400'),
      ],
      ['no typeCounts', ({ typeCounts: _, ...meta }) => JSON.stringify(meta)],
      ['typeCounts an array', (meta) => JSON.stringify({ ...meta, typeCounts: [1, 1] })],
      ['a count a string', (meta) => JSON.stringify({ ...meta, typeCounts: { x: '1', y: 1 } })],
      ['a count negative', (meta) => JSON.stringify({ ...meta, typeCounts: { x: 1, y: -1 } })],
      ['no meta', ({ meta: _, ...meta }) => JSON.stringify(meta)],
      ['meta null', (meta) => JSON.stringify({ ...meta, meta: null })],
      ['meta a string', (meta) => JSON.stringify({ ...meta, meta: 'ab' })],
      [
        'a tombstone whose n is a string',
        (meta) => JSON.stringify({ sessionId: meta.sessionId, n: String(meta.n), deleting: true }),
      ],
    ];
    const ids = damages.map((_, i) => `v${String(i).padStart(2, '0')}`);
    for (const [i, id] of ids.entries()) await t.store.append([ev('x', i + 1, id), ev('y', i + 2, id)]);
    const expected = new Map<string, unknown>();
    for (const id of ids)
      expected.set(id, { ...(await t.store.session(id))!, createdAt: expect.any(Number) });
    await behindItsBack(t.store, async (raw) => {
      for (const [i, [, damage]] of damages.entries()) {
        const key = `!s!${ids[i]}`;
        await raw.put(key, damage(JSON.parse((await raw.get(key))!) as Fields));
      }
    });

    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    for (const [i, id] of ids.entries()) {
      const what = damages[i]![0];
      // Read as rebuilt from its 2 events, and reported: not taken as it is stored.
      expect(await store.session(id), what).toEqual(expected.get(id));
      expect(
        reports.some((r) => r.kind === 'session' && r.sessionId === id),
        what,
      ).toBe(true);
    }
    expect(await store.sessions()).toEqual(ids.map((id) => expected.get(id)));
    // A write to one (its record had no number) goes on after its 2 events.
    expect(await store.append([ev('z', 99, ids[5]!)])).toEqual([{ sessionId: ids[5], seq: 2 }]);
  });

  it('ignores an event key whose number is past the safe integers (damage) when the counter record is gone', async () => {
    await t.store.append([ev('x', 1, 'a')]);
    await behindItsBack(t.store, async (raw) => {
      // 2^60 in base 36 reads back as exactly 2^60, but 2^60 + 1 is 2^60 again: taken, it would give every
      // new session the same number.
      await raw.put(`!e!${(2 ** 60).toString(36)}\x00${'0'.repeat(16)}`, '{}');
      await raw.del('!store!nextSession');
    });
    const store = await t.reopen();
    const [c, d] = [ev('y', 2, 'c'), ev('z', 3, 'd')];
    await store.append([c]);
    await store.append([d]);
    expect(await collect(store.query('c'))).toEqual([c]);
    expect(await collect(store.query('d'))).toEqual([d]);
  });

  it('deleteSession says a session with damaged metadata and no events existed, as session() does', async () => {
    await t.store.startSession('empty', { owner: 'me' });
    await behindItsBack(t.store, async (raw) => {
      await raw.put('!s!empty', '{"broken');
    });
    const store = await t.reopen();
    expect(await store.session('empty')).toMatchObject({ sessionId: 'empty', eventCount: 0 });
    expect(await store.deleteSession('empty')).toBe(true);
    expect(await store.session('empty')).toBeUndefined();
    expect(await store.sessions()).toEqual([]);
    expect(await store.deleteSession('empty')).toBe(false);
  });

  it('finishes a deleteSession interrupted by a crash (tombstone left behind)', async () => {
    await t.store.append([ev('a', 1), ev('b', 2), ev('x', 1, 'other')]);
    await behindItsBack(t.store, async (raw) => {
      const meta = JSON.parse((await raw.get('!s!s1'))!) as { n: number };
      await raw.put('!s!s1', JSON.stringify({ sessionId: 's1', n: meta.n, deleting: true }));
    });

    const store = await t.reopen();
    expect((await store.sessions()).map((s) => s.sessionId)).toEqual(['other']);
    // Until a write finishes the job, the session reads as absent everywhere, get() included.
    expect(await store.session('s1')).toBeUndefined();
    expect(await collect(store.query('s1'))).toEqual([]);
    expect(await collect(store.query('s1', { types: ['a'] }))).toEqual([]);
    expect(await store.get('s1', 0)).toBeUndefined();
    expect(await store.append([ev('c', 3)])).toEqual([{ sessionId: 's1', seq: 0 }]);
    expect((await collect(store.query('s1'))).map((e) => e.type)).toEqual(['c']);
    expect((await store.get('s1', 0))?.type).toBe('c');
    expect((await collect(store.query('other'))).map((e) => e.type)).toEqual(['x']);
  });

  it('reloads evicted session counters from their metadata without reusing a seq', async () => {
    const store = await t.reopen({ maxCachedSessions: 2 });
    const ids = ['a', 'b', 'c', 'd', 'e'];
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        ids.map((id, i) => store.append([ev('x', round * 10 + i, id), ev('y', round * 10 + i, id)])),
      );
    }
    // From their metadata: not by reading their events again (as for damaged metadata).
    expect(store.stats().eventsRead).toBe(0);
    for (const id of ids) {
      const entries = await collect(store.entries(id));
      expect(entries.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(await store.session(id)).toMatchObject({
        eventCount: 8,
        nextSeq: 8,
        typeCounts: { x: 4, y: 4 },
      });
    }
  });

  it('keeps the maxCachedSessions sessions written last in memory: only a write to another reads its metadata', async () => {
    const store = await t.reopen({ maxCachedSessions: 2 });
    const reads = await metadataReads();
    for (const id of ['a', 'b', 'c']) await store.append([ev('x', 1, id)]);
    expect(reads()).toEqual(['a', 'b', 'c']);
    // b and c are in memory, a was dropped; a write to a drops b, written least recently.
    const positions = [];
    for (const id of ['b', 'c', 'a', 'b']) positions.push(...(await store.append([ev('x', 2, id)])));
    expect(reads()).toEqual(['a', 'b', 'c', 'a', 'b']);
    expect(positions.map((p) => p.seq)).toEqual([1, 1, 1, 2]);
  });

  it('drops as many sessions as needed after a batch that writes more new ones than maxCachedSessions', async () => {
    const store = await t.reopen({ maxCachedSessions: 2 });
    const ids = ['p', 'q', 'r', 's'];
    const reads = await metadataReads();
    await store.append(ids.map((id) => ev('x', 1, id)));
    expect(reads()).toEqual(ids);
    // The first two written are dropped: the next write reads their metadata again, not the others'.
    expect(await store.append(ids.map((id) => ev('x', 2, id)))).toEqual(
      ids.map((sessionId) => ({ sessionId, seq: 1 })),
    );
    expect(reads()).toEqual([...ids, 'p', 'q']);
  });

  it('reports no damaged metadata for sessions it has no metadata of yet, nor for reloaded ones', async () => {
    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ maxCachedSessions: 1, onCorruptRecord: (r) => reports.push(r) });
    for (const id of ['a', 'b', 'a', 'b']) await store.append([ev('x', 1, id)]);
    expect(await store.session('a')).toMatchObject({ eventCount: 2, nextSeq: 2 });
    expect(reports).toEqual([]);
    expect(store.stats().corruptRecords).toBe(0);
  });

  it('refuses a database of another format with STORE_NOT_OPEN', async () => {
    await behindItsBack(t.store, async (raw) => {
      await raw.put('!store!format', '99');
    });
    const error = await openStore({ path: t.store.path }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STORE_NOT_OPEN', path: t.store.path });
    // Said as it is: not wrapped in a "could not open" around a cause.
    expect((error as Error).message).toBe(
      `The event store at ${t.store.path} has format 99; this version of vibespec-streams reads format 1.`,
    );
    expect((error as StoreError).cause).toBeUndefined();
    await behindItsBack(t.store, async (raw) => {
      await raw.put('!store!format', '1');
    });
  });

  it('rejects session metadata that is not JSON-serializable, with the JSON error as its cause', async () => {
    const error = await t.store.startSession('s', { n: 1n }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).cause).toBeInstanceOf(TypeError);
    expect(await t.store.session('s')).toBeUndefined();
  });

  it('rejects session metadata that JSON would not give back as the object given: nothing stored', async () => {
    // A Map or a Set: no own fields (JSON gives {}); a Date: a string; a toJSON: whatever it returns,
    // which the merge spread into the metadata one field per character or element.
    const metas: Array<[unknown, string]> = [
      [new Map([['project', 'acme']]), 'must be an object (not an array, a Map or a Set)'],
      [new Set(['acme']), 'must be an object (not an array, a Map or a Set)'],
      [['acme'], 'must be an object (not an array, a Map or a Set)'],
      // (The Date as text depends on the time zone: only its JSON is checked.)
      [new Date(0), 'must read back from JSON as an object, got '],
      [new Date(0), "(JSON: '1970-01-01T00:00:00.000Z')"],
      [{ toJSON: () => 'acme' }, "(JSON: 'acme')"],
      [{ toJSON: () => ['a', 'b'] }, "(JSON: ['a', 'b'])"],
      [{ toJSON: () => null }, '(JSON: null)'],
    ];
    for (const [meta, message] of metas) {
      const error = await t.store.startSession('s', meta as Record<string, unknown>).catch((e: unknown) => e);
      expect(error, String(meta)).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain(message);
    }
    expect(await t.store.session('s')).toBeUndefined();
    // An object whose JSON is an object is taken as JSON gives it back: a class instance's own fields,
    // a toJSON's object.
    class Owner {
      name = 'me';
    }
    expect((await t.store.startSession('s', { owner: new Owner(), when: new Date(0) })).meta).toEqual({
      owner: { name: 'me' },
      when: '1970-01-01T00:00:00.000Z',
    });
    expect((await t.store.startSession('s', { toJSON: () => ({ kind: 'json' }) })).meta).toMatchObject({
      kind: 'json',
    });
  });
});

describe('SessionStore: urgent appends', () => {
  it('writes an urgent append before the appends queued without it, in a batch of its own', async () => {
    const a = [ev('tool.used', 1, 's'), ev('tool.used', 2, 's')];
    const b = [ev('tool.used', 3, 's')];
    const c = ev('workflow.failed', 4, 's');
    const resolved: string[] = [];
    const writesBefore = t.store.stats().writes;
    // All three queue in the same tick: the urgent one overtakes a and b, which share a batch.
    await Promise.all([
      t.store.append(a).then((positions) => resolved.push(`a:${positions.map((p) => p.seq)}`)),
      t.store.append(b).then((positions) => resolved.push(`b:${positions.map((p) => p.seq)}`)),
      t.store.append([c], { urgent: true }).then((positions) => resolved.push(`c:${positions[0]!.seq}`)),
    ]);
    expect(resolved).toEqual(['c:0', 'a:1,2', 'b:3']);
    expect(t.store.stats().writes - writesBefore).toBe(2);
    // Stored in the order written, and the metadata agrees.
    expect(await collect(t.store.query('s'))).toEqual([c, ...a, ...b]);
    const info = await t.store.session('s');
    expect(info).toMatchObject({
      eventCount: 4,
      nextSeq: 4,
      typeCounts: { 'tool.used': 3, 'workflow.failed': 1 },
    });
  });

  it('lets the appends waiting without urgent go first right after an urgent batch (no starvation)', async () => {
    const a = ev('tool.used', 1, 's');
    const u1 = ev('workflow.failed', 2, 's');
    const u2 = ev('workflow.failed', 3, 's');
    const u3 = ev('workflow.failed', 4, 's');
    const resolved: string[] = [];
    let second: Promise<unknown> = Promise.resolve();
    let third: Promise<unknown> = Promise.resolve();
    const first = t.store.append([u1], { urgent: true }).then(() => {
      resolved.push('u1');
      // Queued while a waits: a goes first now, then u2.
      second = t.store.append([u2], { urgent: true }).then(() => {
        resolved.push('u2');
        third = t.store.append([u3], { urgent: true }).then(() => resolved.push('u3'));
      });
    });
    const normal = t.store.append([a]).then(() => resolved.push('a'));
    await Promise.all([first, normal]);
    await second;
    await third;
    expect(resolved).toEqual(['u1', 'a', 'u2', 'u3']);
    expect(await collect(t.store.query('s'))).toEqual([u1, a, u2, u3]);
  });

  it('overtakes the queued appends again once the store went idle after an urgent batch', async () => {
    // An urgent batch, then nothing queued: the store is idle, no append waited behind it.
    const u1 = ev('workflow.failed', 1, 's');
    await t.store.append([u1], { urgent: true });
    // Later, a normal append and an urgent one queue in the same tick: the urgent one goes first, as on a
    // store that never wrote an urgent batch (the fairness rule is for appends kept waiting by one).
    const a = [ev('tool.used', 2, 's'), ev('tool.used', 3, 's')];
    const u2 = ev('workflow.failed', 4, 's');
    const resolved: string[] = [];
    await Promise.all([
      t.store.append(a).then((positions) => resolved.push(`a:${positions.map((p) => p.seq)}`)),
      t.store.append([u2], { urgent: true }).then((positions) => resolved.push(`u2:${positions[0]!.seq}`)),
    ]);
    expect(resolved).toEqual(['u2:1', 'a:2,3']);
    expect(await collect(t.store.query('s'))).toEqual([u1, u2, ...a]);
  });

  it('never overtakes a deleteSession or startSession queued before it', async () => {
    const old = ev('tool.used', 1, 's');
    await t.store.append([old]);
    const c = ev('workflow.failed', 2, 's');
    const deleted = t.store.deleteSession('s');
    const appended = t.store.append([c], { urgent: true });
    expect(await deleted).toBe(true);
    expect(await appended).toEqual([{ sessionId: 's', seq: 0 }]);
    expect(await collect(t.store.query('s'))).toEqual([c]);

    const started = t.store.startSession('u', { owner: 'me' });
    const d = ev('workflow.failed', 3, 'u');
    const urgent = t.store.append([d], { urgent: true });
    expect((await started).meta).toEqual({ owner: 'me' });
    expect(await urgent).toEqual([{ sessionId: 'u', seq: 0 }]);
    expect(await t.store.session('u')).toMatchObject({ eventCount: 1, meta: { owner: 'me' } });
  });

  it('overtakes the appends queued after a startSession it cannot overtake, in a batch of its own', async () => {
    const n1 = ev('tool.used', 1, 's');
    const n2 = ev('tool.used', 2, 's');
    const u = ev('workflow.failed', 3, 's');
    const writesBefore = t.store.stats().writes;
    // Queued in one tick: n1, then a start (u never overtakes it), then n2 and the urgent u.
    const [p1, started, p2, pu] = await Promise.all([
      t.store.append([n1]),
      t.store.startSession('other', { owner: 'me' }),
      t.store.append([n2]),
      t.store.append([u], { urgent: true }),
    ]);
    expect(started.meta).toEqual({ owner: 'me' });
    // u goes after the start (and n1, written with it), before n2, queued before u without urgent.
    expect([p1[0]!.seq, pu[0]!.seq, p2[0]!.seq]).toEqual([0, 1, 2]);
    expect(await collect(t.store.query('s'))).toEqual([n1, u, n2]);
    // n1 and the start; u alone; n2.
    expect(t.store.stats().writes - writesBefore).toBe(3);
  });

  it('writes the appends and starts queued between two startSessions in one batch, an urgent append behind them in the next', async () => {
    const n1 = ev('tool.used', 1, 's');
    const u = ev('workflow.failed', 2, 's');
    const writesBefore = t.store.stats().writes;
    // Queued in one tick: u cannot overtake either start, so the first batch runs up to the second start.
    const [first, p1, second, pu] = await Promise.all([
      t.store.startSession('a', { owner: 'me' }),
      t.store.append([n1]),
      t.store.startSession('b'),
      t.store.append([u], { urgent: true }),
    ]);
    expect([first.sessionId, second.sessionId]).toEqual(['a', 'b']);
    expect([p1[0]!.seq, pu[0]!.seq]).toEqual([0, 1]);
    expect(await collect(t.store.query('s'))).toEqual([n1, u]);
    // The start of a, n1 and the start of b; then u.
    expect(t.store.stats().writes - writesBefore).toBe(2);
  });

  it('keeps seqs and metadata consistent over many interleaved urgent and normal appends', async () => {
    const normal = Array.from({ length: 40 }, (_, i) => ev('tool.used', i, `s${i % 3}`));
    const urgent = Array.from({ length: 10 }, (_, i) => ev('workflow.failed', 100 + i, `s${i % 3}`));
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 10; i++) {
      calls.push(t.store.append(normal.slice(i * 4, i * 4 + 4)));
      calls.push(t.store.append([urgent[i]!], { urgent: true }));
      if (i % 3 === 0) await Promise.resolve();
    }
    await Promise.all(calls);
    for (const sessionId of ['s0', 's1', 's2']) {
      const entries = await collect(t.store.entries(sessionId));
      expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i));
      const mine = [...normal, ...urgent].filter((e) => e.sessionId === sessionId);
      expect(entries.map((e) => e.event.id).sort()).toEqual(mine.map((e) => e.id).sort());
      // Each kind keeps its own order.
      for (const type of ['tool.used', 'workflow.failed']) {
        expect(entries.filter((e) => e.event.type === type).map((e) => e.event)).toEqual(
          mine.filter((e) => e.type === type),
        );
      }
      const info = await t.store.session(sessionId);
      expect(info?.eventCount).toBe(entries.length);
      expect(info?.nextSeq).toBe(entries.length);
    }
  });

  it('keeps call order among urgent appends when one does not fit the batch (MAX_GROUP_EVENTS)', async () => {
    // 9,000 + 2,000 exceeds a batch's 10,000 events: the 2,000 wait for the next batch, and so must the
    // 500 queued after them, or they would take their seqs first.
    const sizes = [9_000, 2_000, 500];
    const calls = sizes.map((size, k) =>
      t.store.append(
        Array.from({ length: size }, (_, i) => ev('workflow.failed', k * 10_000 + i, 's')),
        { urgent: true },
      ),
    );
    const positions = await Promise.all(calls);
    expect(positions.map((p) => p[0]!.seq)).toEqual([0, 9_000, 11_000]);
    const entries = await collect(t.store.entries('s'));
    expect(entries.map((e) => e.event.timestamp)).toEqual(
      entries.map((e) => e.event.timestamp).sort((a, b) => a - b),
    );
  });

  it('keeps call order among the normal appends taken right after an urgent batch', async () => {
    const batch = (size: number, base: number) =>
      Array.from({ length: size }, (_, i) => ev('tool.used', base + i, 's'));
    const first = t.store.append([ev('workflow.failed', 0, 's')], { urgent: true });
    // Queued while the urgent write is in flight, with another urgent one: the normal ones go first.
    await Promise.resolve();
    await Promise.resolve();
    const rest = [
      t.store.append(batch(9_000, 100_000)),
      t.store.append(batch(2_000, 200_000)),
      t.store.append(batch(500, 300_000)),
      t.store.append([ev('workflow.failed', 1, 's')], { urgent: true }),
    ];
    await first;
    const positions = await Promise.all(rest);
    // u1 at 0; the 9,000 (alone: the 2,000 do not fit); the second urgent one overtakes the rest; then
    // the 2,000 and the 500, in call order.
    expect(positions.map((p) => p[0]!.seq)).toEqual([1, 9_002, 11_002, 9_001]);
  });

  it('writes a long queue of small appends in call order, in batches of at most 10,000 events, around a delete and a start', async () => {
    // 25,000 single-event appends queued at once (the rest of the queue is taken a batch at a time), with a
    // deleteSession and a startSession queued between them: neither is overtaken nor overtakes.
    await t.store.append([ev('tool.used', 0, 'gone')]);
    const writesBefore = t.store.stats().writes;
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 25_000; i++) {
      calls.push(t.store.append([ev('tool.used', i, i % 2 === 0 ? 'a' : 'gone')]));
      if (i === 12_345) calls.push(t.store.deleteSession('gone'));
      if (i === 17_000) calls.push(t.store.startSession('late', { at: i }));
    }
    calls.push(t.store.append([ev('tool.used', 99_999, 'late')]));
    const results = await Promise.all(calls);
    expect(results[12_346]).toBe(true);
    const a = await collect(t.store.entries('a'));
    expect(a.map((e) => e.event.timestamp)).toEqual(Array.from({ length: 12_500 }, (_, k) => 2 * k));
    expect(a.map((e) => e.seq)).toEqual(a.map((_, k) => k));
    // 'gone' starts over after its delete: only the appends called after it are kept, seqs from 0.
    const gone = await collect(t.store.entries('gone'));
    expect(gone[0]).toEqual({ seq: 0, event: expect.objectContaining({ timestamp: 12_347 }) });
    expect(gone.map((e) => e.seq)).toEqual(gone.map((_, k) => k));
    expect(gone).toHaveLength((25_000 - 12_347 + 1) / 2);
    expect(await t.store.session('late')).toMatchObject({ eventCount: 1, meta: { at: 17_000 } });
    // At most 10,000 events a batch: the 25,000 appends and the delete take at least 4 writes.
    expect(t.store.stats().writes - writesBefore).toBeGreaterThanOrEqual(4);
  });

  it('validates the options', async () => {
    await expect(t.store.append([ev('a', 1)], { urgent: 'yes' as never })).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(t.store.append([ev('a', 1)], 5 as never)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('SessionStore: urgent appends, failures and close (review)', () => {
  it('never reuses a seq when a write reached LevelDB but reported a failure', async () => {
    const { AbstractChainedBatch } = await import('abstract-level');
    await t.store.append([ev('tool.used', 1, 's'), ev('tool.used', 2, 's')]);
    const original = AbstractChainedBatch.prototype.write;
    // The urgent batch is applied, then its write reports a failure (e.g. an fsync error afterwards).
    const spy = vi.spyOn(AbstractChainedBatch.prototype, 'write').mockImplementationOnce(async function (
      this: InstanceType<typeof AbstractChainedBatch>,
      options?: unknown,
    ) {
      await original.call(this, options as never);
      throw new Error('fsync failed');
    });
    const u = ev('workflow.failed', 3, 's');
    const failed = await storeError(t.store.append([u], { urgent: true }));
    expect(failed.code).toBe('STORE_WRITE_FAILED');
    spy.mockRestore();
    const after = await t.store.append([ev('tool.used', 4, 's')]);
    // u took seq 2 on disk: the next append must not take it again.
    expect(after).toEqual([{ sessionId: 's', seq: 3 }]);
    const entries = await collect(t.store.entries('s'));
    expect(entries.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(entries[2]!.event).toEqual(u);
    expect(await t.store.session('s')).toMatchObject({ eventCount: 4, nextSeq: 4 });
  });

  it('gives the seqs of a failed urgent write to the next append (no gap) when nothing was written', async () => {
    const { AbstractChainedBatch } = await import('abstract-level');
    await t.store.append([ev('tool.used', 1, 's')]);
    const spy = vi
      .spyOn(AbstractChainedBatch.prototype, 'write')
      .mockRejectedValueOnce(new Error('disk full'));
    const normal = t.store.append([ev('tool.used', 2, 's')]);
    const urgent = t.store.append([ev('workflow.failed', 3, 's')], { urgent: true });
    expect((await storeError(urgent)).code).toBe('STORE_WRITE_FAILED');
    expect(await normal).toEqual([{ sessionId: 's', seq: 1 }]);
    spy.mockRestore();
    const entries = await collect(t.store.entries('s'));
    expect(entries.map((e) => e.seq)).toEqual([0, 1]);
    expect(await t.store.session('s')).toMatchObject({ eventCount: 2, nextSeq: 2 });
  });

  it('lets go of a failed append once its caller has heard, though the caller keeps its array', async () => {
    // A caller that keeps its events to try again later: the store kept its own copies of them (and
    // their JSON), for persist's _appendAgain, as long as the caller kept its array.
    const { AbstractChainedBatch } = await import('abstract-level');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const spy = vi
      .spyOn(AbstractChainedBatch.prototype, 'write')
      .mockRejectedValueOnce(new Error('disk full'));
    const kept = [ev('tool.used', 1, 's'), ev('tool.used', 2, 's')];
    // In a function of its own, so that no local variable keeps the error (and its events) alive.
    const fail = async () => new WeakRef((await storeError(t.store.append(kept))).events);
    const copies = await fail();
    spy.mockRestore();
    // WeakRef targets stay alive until the current job ends.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(copies.deref()).toBeUndefined();
    // The caller tries again: written once.
    expect(await t.store.append(kept)).toEqual([
      { sessionId: 's', seq: 0 },
      { sessionId: 's', seq: 1 },
    ]);
    expect(await collect(t.store.query('s'))).toEqual(kept);
  });

  it('hands back the events of a failed write as they were to be stored: schema fields only, 0 for -0', async () => {
    const { AbstractChainedBatch } = await import('abstract-level');
    const spy = vi
      .spyOn(AbstractChainedBatch.prototype, 'write')
      .mockRejectedValueOnce(new Error('disk full'));
    const given = { ...ev('tool.used', 0, null), timestamp: -0, extra: 1 };
    const error = await storeError(t.store.append([given]));
    spy.mockRestore();
    expect(error.code).toBe('STORE_WRITE_FAILED');
    // No sessionId key for the default session, as a replay gives it back; JSON has no -0.
    const { extra: _, ...stored } = { ...given, timestamp: 0 };
    expect(error.events).toStrictEqual([stored]);
    expect(Object.keys(error.events[0]!)).not.toContain('sessionId');
  });

  it('rejects the appends of a write that failed with a value that throws when read (a revoked proxy), as with any cause', async () => {
    // textOf names such a value; the check for LevelDB's "not open" code read its `code` and threw:
    // the batch's appends never settled (an unhandled rejection instead), close() did not wait for them.
    const { AbstractChainedBatch } = await import('abstract-level');
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const spy = vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(proxy);
    const first = t.store.append([ev('tool.used', 1, 's')]);
    const second = t.store.append([ev('tool.used', 2, 's')]);
    const error = await storeError(first);
    spy.mockRestore();
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.message).toContain('1 event(s) were not written');
    // Not taken for LevelDB's "not open" code, which the message would then claim.
    expect(error.message).not.toContain('the database is not open');
    expect((await storeError(second)).code).toBe('STORE_WRITE_FAILED');
    // The store goes on.
    expect(await t.store.append([ev('tool.used', 3, 's')])).toEqual([{ sessionId: 's', seq: 0 }]);
  });

  it('settles every queued append (urgent, normal, start, delete) before close() resolves', async () => {
    const settled: string[] = [];
    const track = (name: string, promise: Promise<unknown>) =>
      promise.then(
        () => settled.push(name),
        () => settled.push(`${name}!`),
      );
    const calls = [
      track('n1', t.store.append([ev('tool.used', 1, 's')])),
      track('start', t.store.startSession('s2', { a: 1 })),
      track('u1', t.store.append([ev('workflow.failed', 2, 's')], { urgent: true })),
      track('del', t.store.deleteSession('s3')),
      track('n2', t.store.append([ev('tool.used', 3, 's')])),
      track('u2', t.store.append([ev('workflow.failed', 4, 's')], { urgent: true })),
    ];
    await t.store.close();
    expect([...settled].sort()).toEqual(['del', 'n1', 'n2', 'start', 'u1', 'u2']);
    await Promise.all(calls);
  });

  it('a tail sees interleaved urgent and normal appends in seq order, without gaps', async () => {
    const { tail } = await import('../../src/index.js');
    const seen: number[] = [];
    const sub = tail(t.store, 's').subscribe((entry) => seen.push(entry.seq));
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 30; i++) {
      calls.push(t.store.append([ev('tool.used', i, 's'), ev('tool.used', i, 's')]));
      if (i % 4 === 0) calls.push(t.store.append([ev('workflow.failed', i, 's')], { urgent: true }));
      if (i % 5 === 0) await Promise.resolve();
    }
    await Promise.all(calls);
    // The tail emits what it buffered once its first read ends, which a loaded machine can delay:
    // poll for it (the deadline only turns a hang into a failure).
    for (const deadline = Date.now() + 30_000; seen.length < 68 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    sub.unsubscribe();
    expect(seen).toEqual(seen.map((_, i) => i));
    expect(seen).toHaveLength(68);
  });
});
