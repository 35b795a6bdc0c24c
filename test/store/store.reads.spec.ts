/**
 * The store's reads (get, query/entries, sessions, session, sessionContext) and the repair at open,
 * checked where a mutation of the code went unnoticed: an event skipped or returned twice, a bound off by
 * one, a session listed twice or left out.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type CorruptRecord,
  createEvent,
  type Event,
  openStore,
  type QueryOptions,
  StoreError,
} from '../../src/index.js';
import {
  collect,
  behindItsBack as editBehind,
  ev,
  expectedQuery,
  resourcesOf,
  type TempStore,
  tempStore,
} from '../helpers/store.js';

let t: TempStore;
beforeEach(async () => {
  t = await tempStore();
});
afterEach(async () => {
  await t.cleanup();
});

/** `behindItsBack` of the test's store. */
const behindItsBack = (edit: (raw: Level<string, string>) => Promise<void>) => editBehind(t.store, edit);

/** `count` events of `sessionId`, types taken in turn from `types`, at times from `t0` on (one per ms). */
function events(sessionId: string, types: readonly string[], count: number, t0 = 100): Event[] {
  return Array.from({ length: count }, (_, i) =>
    createEvent({ type: types[i % types.length]!, timestamp: t0 + i, sessionId, data: { i } }),
  );
}

describe('query of a session whose metadata is damaged or missing (types read from the index)', () => {
  // Types that are prefixes of one another, and one that needs escaping: the skip from type to type
  // must land on the next type, not inside or past one.
  const TYPES = ['a', 'a.b', 'ab', 'a\x00b', 'b'];

  for (const damage of ['damaged', 'missing'] as const) {
    it(`a time query without types returns each event once, in time order (metadata ${damage})`, async () => {
      // Another session first, whose type `s` does not have: its index entries come before those of `s`.
      await t.store.append(events('first', ['zz'], 3));
      const stored = events('s', TYPES, 23).map((event, seq) => ({ seq, event }));
      await t.store.append(stored.map(({ event }) => event));
      await t.store.append(events('last', ['a'], 3));
      await behindItsBack(async (raw) => {
        if (damage === 'damaged') await raw.put('!s!s', '{"broken');
        else await raw.del('!s!s');
      });
      const store = await t.reopen({ onCorruptRecord: () => {} });
      const queries: QueryOptions[] = [
        { start: 0 },
        { end: 1000 },
        { start: 105, end: 117 },
        { start: 101, reverse: true },
        { end: 110, limit: 4 },
        // With types: those types only, whatever the index holds.
        { types: ['a.b'] },
        { types: ['b', 'a'], start: 103 },
      ];
      for (const q of queries) {
        const before = store.stats().indexEntriesRead;
        const expected = expectedQuery(stored, q);
        expect(await collect(store.entries('s', q)), JSON.stringify(q)).toEqual(expected);
        // Every index entry read is counted (those listing the types too).
        expect(store.stats().indexEntriesRead - before).toBeGreaterThanOrEqual(expected.length);
      }
    });
  }
});

/** Every key of the raw database, prefixes and separators made visible. */
async function rawKeys(raw: Level<string, string>): Promise<string[]> {
  return (await raw.keys().all()).map((key) => key.replaceAll('\x00', '|'));
}

describe('deleteSession', () => {
  it("leaves none of the session's keys behind (events, index entries, metadata, id record), and the others' all", async () => {
    await t.store.append([...events('s', ['a', 'b'], 5), ...events('other', ['a'], 2)]);
    let before: string[] = [];
    let otherKeys: string[] = [];
    await behindItsBack(async (raw) => {
      before = await rawKeys(raw);
      const n = JSON.parse((await raw.get('!s!other'))!).n as number;
      otherKeys = before.filter((key) => key.includes(`!${n.toString(36)}|`) || key.endsWith('!other'));
    });
    // 2 events, 2 index entries, metadata and id record.
    expect(otherKeys).toHaveLength(6);
    const store = await t.reopen();
    expect(await store.deleteSession('s')).toBe(true);
    await behindItsBack(async (raw) => {
      const after = await rawKeys(raw);
      expect(after.filter((key) => !key.startsWith('!store!')).sort()).toEqual([...otherKeys].sort());
    });
  });
});

describe('deleteSession of a session that reads as absent', () => {
  it('writes nothing for a session that never existed', async () => {
    await t.store.append(events('other', ['a'], 2));
    let before: string[] = [];
    await behindItsBack(async (raw) => {
      before = await rawKeys(raw);
    });
    const store = await t.reopen();
    expect(await store.deleteSession('nope')).toBe(false);
    await behindItsBack(async (raw) => {
      expect(await rawKeys(raw)).toEqual(before);
    });
  });

  it('finishes an interrupted deletion (tombstone) and removes damaged metadata without a number, saying neither existed', async () => {
    await t.store.append([
      ...events('s', ['a', 'b'], 4),
      ...events('d', ['a'], 2),
      ...events('other', ['a'], 2),
    ]);
    let kept: string[] = [];
    await behindItsBack(async (raw) => {
      const meta = JSON.parse((await raw.get('!s!s'))!) as { n: number };
      await raw.put('!s!s', JSON.stringify({ sessionId: 's', n: meta.n, deleting: true }));
      // `d`: damaged metadata and no id record: its events cannot be found (nor deleted), its record can.
      const d = Number(await raw.get('!n!d')).toString(36);
      await raw.put('!s!d', '{"broken');
      await raw.del('!n!d');
      const other = Number(await raw.get('!n!other')).toString(36);
      kept = (await rawKeys(raw)).filter(
        (key) => key.endsWith('!other') || key.includes(`!${other}|`) || key.includes(`!${d}|`),
      );
    });
    const store = await t.reopen({ onCorruptRecord: () => {} });
    expect(await store.deleteSession('s')).toBe(false);
    expect(await store.deleteSession('d')).toBe(false);
    await behindItsBack(async (raw) => {
      const after = (await rawKeys(raw)).filter((key) => !key.startsWith('!store!'));
      expect(after.sort()).toEqual(kept.sort());
    });
  });
});

describe('the repair at open (a damaged log reported by LevelDB, or a rebuild left unfinished)', () => {
  /** What an open that died during its rebuild leaves: the record of the rebuild with `lines`. */
  const pendingRepair = (lines: unknown) => async (raw: Level<string, string>) => {
    await raw.put('!store!repair', typeof lines === 'string' ? lines : JSON.stringify(lines));
  };

  it('keeps a tombstone: a session whose deletion was interrupted stays deleted, and its next write starts it over', async () => {
    await t.store.append([...events('s', ['a'], 3), ...events('u', ['a'], 2)]);
    await behindItsBack(async (raw) => {
      const meta = JSON.parse((await raw.get('!s!s'))!) as { n: number };
      await raw.put('!s!s', JSON.stringify({ sessionId: 's', n: meta.n, deleting: true }));
      await pendingRepair(['(ignoring error) x/000003.log: dropping 10 bytes'])(raw);
    });
    const store = await t.reopen({ onCorruptRecord: () => {} });
    expect(await store.session('s')).toBeUndefined();
    expect((await store.sessions()).map((info) => info.sessionId)).toEqual(['u']);
    expect(await collect(store.query('s'))).toEqual([]);
    expect(await store.get('s', 0)).toBeUndefined();
    expect(await store.append([ev('b', 9, 's')])).toEqual([{ sessionId: 's', seq: 0 }]);
    expect((await collect(store.query('s'))).map((e) => e.type)).toEqual(['b']);
    expect(await store.session('s')).toMatchObject({ eventCount: 1, nextSeq: 1 });
  });

  it("writes back each session's id record and rebuilt metadata, whichever of the two the log lost", async () => {
    // `m` lost its metadata, `i` its id record, `d` has damaged metadata, `x` damaged metadata and no id
    // record (its events cannot be found: it stays as it is, and takes no part in the session counter).
    await t.store.append([
      ...events('d', ['a', 'b'], 3),
      ...events('i', ['a'], 2),
      ...events('m', ['c'], 4),
      ...events('x', ['c'], 1),
    ]);
    await behindItsBack(async (raw) => {
      await raw.del('!s!m');
      await raw.del('!n!i');
      await raw.put('!s!d', '{"broken');
      await raw.put('!s!x', '{"broken');
      await raw.del('!n!x');
      await pendingRepair(['(ignoring error) x/000003.log: dropping 10 bytes'])(raw);
    });
    const reports: CorruptRecord[] = [];
    await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    expect(reports.map((r) => [r.kind, r.sessionId])).toEqual([
      ['log', ''],
      ['session', 'd'],
      ['session', 'x'],
    ]);
    await behindItsBack(async (raw) => {
      for (const id of ['d', 'i', 'm']) {
        const meta = JSON.parse((await raw.get(`!s!${id}`))!) as { n: number; eventCount: number };
        expect(meta.eventCount, id).toBe({ d: 3, i: 2, m: 4 }[id]);
        expect(await raw.get(`!n!${id}`), id).toBe(String(meta.n));
      }
      expect(await raw.get('!s!x')).toBe('{"broken');
      expect(await raw.get('!store!repair')).toBeUndefined();
      // Found by its number once its metadata is gone again.
      await raw.del('!s!i');
    });
    const store = await t.reopen({ onCorruptRecord: () => {} });
    expect((await store.sessions()).map((info) => [info.sessionId, info.eventCount])).toEqual([
      ['d', 3],
      ['i', 2],
      ['m', 4],
    ]);
    // A new session gets a number of its own.
    const fresh = ev('c', 1, 'new');
    await store.append([fresh]);
    expect(await collect(store.query('new'))).toEqual([fresh]);
    for (const [id, count] of [
      ['d', 3],
      ['i', 2],
      ['m', 4],
    ] as const) {
      expect(await collect(store.query(id)), id).toHaveLength(count);
    }
  });

  it('gives a new session a number past every session it rebuilt, when the session counter is behind them', async () => {
    // The batch that created `b` (its id record and the counter past it) was lost; a later one of `b`
    // (its metadata, holding its number) was not.
    const stored = events('b', ['x'], 3);
    await t.store.append([...events('a', ['x'], 2), ...stored]);
    await behindItsBack(async (raw) => {
      const { n } = JSON.parse((await raw.get('!s!b'))!) as { n: number };
      await raw.put('!store!nextSession', String(n));
      await raw.del('!n!b');
      await pendingRepair(['(ignoring error) x/000003.log: dropping 10 bytes'])(raw);
    });
    const store = await t.reopen({ onCorruptRecord: () => {} });
    const fresh = ev('y', 1, 'c');
    await store.append([fresh]);
    expect(await collect(store.query('c'))).toEqual([fresh]);
    expect(await collect(store.query('b'))).toEqual(stored);
  });

  it('writes the record of its rebuild, the rebuilt records and its end with sync (durability process), and leaves no iterator open', async () => {
    const { AbstractChainedBatch, AbstractLevel } = await import('abstract-level');
    await t.store.append([...events('a', ['x'], 2), ...events('b', ['x'], 3)]);
    await behindItsBack(async (raw) => {
      await raw.del('!n!b');
      await pendingRepair(['(ignoring error) x/000003.log: dropping 10 bytes'])(raw);
    });
    const put = vi.spyOn(AbstractLevel.prototype, 'put');
    const write = vi.spyOn(AbstractChainedBatch.prototype, 'write');
    try {
      const used = await resourcesOf(() => t.reopen({ durability: 'process', onCorruptRecord: () => {} }));
      expect(used.open).toBe(0);
      // The record of the rebuild, then a batch per chunk of sessions (two key spaces), then its end.
      expect(put.mock.calls.map(([key, , options]) => [key, options])).toEqual([
        ['!store!repair', { sync: true }],
      ]);
      expect(write.mock.calls.length).toBeGreaterThanOrEqual(2);
      for (const [options] of write.mock.calls) expect(options).toEqual({ sync: true });
    } finally {
      put.mockRestore();
      write.mockRestore();
    }
    expect(await t.store.session('b')).toMatchObject({ eventCount: 3 });
  });

  it('fails the open with STORE_NOT_OPEN when the rebuild fails, and the next open finishes it', async () => {
    const { AbstractLevel } = await import('abstract-level');
    await t.store.append(events('s', ['a'], 2));
    await behindItsBack(async (raw) => {
      await raw.del('!s!s');
      await pendingRepair(['(ignoring error) x/000003.log: dropping 10 bytes'])(raw);
    });
    const disk = new Error('disk error');
    const put = vi.spyOn(AbstractLevel.prototype, 'put').mockRejectedValueOnce(disk);
    let error: unknown;
    try {
      error = await openStore({ path: t.store.path }).catch((e: unknown) => e);
    } finally {
      put.mockRestore();
    }
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'STORE_NOT_OPEN', path: t.store.path, cause: disk });
    // The failed open let go of the folder; the next one reports the line again and rebuilds.
    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    expect(reports.map((r) => r.kind)).toEqual(['log']);
    expect(await store.session('s')).toMatchObject({ eventCount: 2 });
  });

  it('reports the lines of an unfinished rebuild that are strings, and rebuilds whatever its record holds', async () => {
    for (const [record, reported] of [
      [
        ['first line', 5, null, 'second line'],
        ['first line', 'second line'],
      ],
      [{ lines: ['x'] }, []],
      ['not json', []],
    ] as const) {
      await t.store.append(events('s', ['a'], 2));
      await behindItsBack(async (raw) => {
        const meta = JSON.parse((await raw.get('!s!s'))!);
        await raw.put('!s!s', JSON.stringify({ ...meta, eventCount: 99, typeCounts: { a: 99 } }));
        await pendingRepair(record)(raw);
      });
      const reports: CorruptRecord[] = [];
      const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
      expect(
        reports.map((r) => r.reason),
        JSON.stringify(record),
      ).toEqual(reported);
      expect(reports.every((r) => r.kind === 'log')).toBe(true);
      const count = (await collect(store.query('s'))).length;
      expect(await store.session('s')).toMatchObject({ eventCount: count, typeCounts: { a: count } });
      // Finished: the next open has nothing to report or rebuild.
      const again: CorruptRecord[] = [];
      await t.reopen({ onCorruptRecord: (r) => again.push(r) });
      expect(again).toEqual([]);
    }
  });
});

describe('query across read chunks, with records that cannot be read among them', () => {
  // More events than one fetch of records by index (128) or one scan of records by seq (256) reads.
  const COUNT = 600;
  const TYPES = ['a', 'b', 'c'];
  const limits = [1, 127, 128, 129, 255, 256, 257, 300, undefined];

  it('returns what a brute-force filter returns, whatever the limit and fromSeq', async () => {
    const stored = events('s', TYPES, COUNT).map((event, seq) => ({ seq, event }));
    await t.store.append(stored.map(({ event }) => event));
    for (const limit of limits) {
      for (const base of [{}, { types: ['a', 'b'] }, { start: 150 }, { types: ['c'], end: 500 }]) {
        for (const fromSeq of [undefined, 130]) {
          for (const reverse of [false, true]) {
            const q: QueryOptions = { ...base, limit, fromSeq, reverse };
            expect(await collect(t.store.entries('s', q)), JSON.stringify(q)).toEqual(
              expectedQuery(stored, q),
            );
          }
        }
      }
    }
  });

  it('skips an undecodable record or an index entry without its record, and still fills the limit', async () => {
    const all = events('s', TYPES, COUNT).map((event, seq) => ({ seq, event }));
    await t.store.append(all.map(({ event }) => event));
    // Around the chunk boundaries: undecodable records, and records gone (their index entries stay).
    const broken = [0, 5, 127, 128, 255, 256, 257, 400];
    const gone = [1, 129, 300, 599];
    await behindItsBack(async (raw) => {
      const keys = (await raw.keys({ gte: '!e!', lt: '!e"' }).all()).sort();
      expect(keys).toHaveLength(COUNT);
      for (const seq of broken) await raw.put(keys[seq]!, '{"broken');
      for (const seq of gone) await raw.del(keys[seq]!);
    });
    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    const stored = all.filter(({ seq }) => !broken.includes(seq) && !gone.includes(seq));
    for (const limit of limits) {
      for (const base of [{}, { types: ['a', 'b', 'c'] }, { start: 0 }]) {
        for (const reverse of [false, true]) {
          const q: QueryOptions = { ...base, limit, reverse };
          reports.length = 0;
          const got = await collect(store.entries('s', q));
          expect(got, JSON.stringify(q)).toEqual(expectedQuery(stored, q));
          // Each record skipped is reported once, as what it is.
          const skipped = reports.map((r) => [r.seq, r.kind]);
          const last = got.at(-1)?.seq;
          const passed = (seq: number) =>
            limit === undefined || last === undefined || (reverse ? seq > last : seq < last);
          const expected = [
            ...broken.filter(passed).map((seq) => [seq, 'event']),
            ...(q.start === undefined && q.types === undefined
              ? []
              : gone.filter(passed).map((seq) => [seq, 'index'])),
          ];
          expect(skipped.sort(), JSON.stringify(q)).toEqual(expected.sort());
        }
      }
    }
  });
});

describe('sessionContext', () => {
  it('names a workflow by workflow, else workflow_type, else workflow_id (non-empty strings), and skips a file or agent event that names none', async () => {
    await t.store.append([
      ev('workflow.started', 1, 's', { workflow: 'release', workflow_type: 'no', workflow_id: 'no' }),
      ev('workflow.started', 2, 's', { workflow: '', workflow_type: 'feature', workflow_id: 'no' }),
      ev('workflow.completed', 3, 's', { workflow: 5, workflow_id: 'w3' }),
      ev('workflow.failed', 4, 's', { workflow_type: '', workflow_id: '' }),
      ev('file.modified', 5, 's', { file_path: '' }),
      ev('file.created', 6, 's', { file_path: 42 }),
      ev('file.created', 7, 's', { file_path: '/x.ts' }),
      ev('agent.started', 8, 's', { agent: '' }),
      ev('agent.completed', 9, 's', { agent: 'tester' }),
      // Types that only look like file, agent or workflow types: not read.
      ev('files.modified', 10, 's', { file_path: '/no.ts' }),
      ev('agent', 11, 's', { agent: 'no' }),
      ev('xworkflow.started', 12, 's', { workflow: 'no' }),
    ]);
    const before = t.store.stats().eventsRead;
    expect(await t.store.sessionContext('s')).toMatchObject({
      eventCount: 12,
      timeSpan: { start: 1, end: 12 },
      filesModified: ['/x.ts'],
      agentsUsed: ['tester'],
      workflowsExecuted: ['release', 'feature', 'w3'],
    });
    expect(t.store.stats().eventsRead - before).toBe(9);
  });

  it('has no time span and empty lists for a session without events', async () => {
    await t.store.startSession('s', { owner: 'me' });
    expect(await t.store.sessionContext('s')).toEqual({
      sessionId: 's',
      eventCount: 0,
      timeSpan: undefined,
      activitySummary: {},
      filesModified: [],
      agentsUsed: [],
      workflowsExecuted: [],
    });
  });
});

describe('openStore options', () => {
  it('accepts maxCachedSessions 1 (a store that caches one session) and refuses 0, 1.5, a string and NaN', async () => {
    const store = await t.reopen({ maxCachedSessions: 1 });
    // Two sessions written in turn: each write reloads the other one's counters, no seq is reused.
    for (let round = 0; round < 3; round++) {
      await store.append([ev('a', round, 'x')]);
      await store.append([ev('a', round, 'y')]);
    }
    for (const id of ['x', 'y']) {
      expect((await collect(store.entries(id))).map((e) => e.seq)).toEqual([0, 1, 2]);
    }
    for (const bad of [0, 1.5, '5', Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      await expect(t.reopen({ maxCachedSessions: bad as number }), String(bad)).rejects.toMatchObject({
        name: 'ConfigError',
        message: expect.stringMatching(/maxCachedSessions/),
      });
    }
  });

  it('refuses options that are not an object, and an onCorruptRecord that is not a function', async () => {
    await t.store.close();
    for (const bad of [null, 'path', [], 5]) {
      await expect(openStore(bad as never), String(bad)).rejects.toMatchObject({ name: 'ConfigError' });
    }
    await expect(openStore({ path: t.store.path, onCorruptRecord: 'log' as never })).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/onCorruptRecord/),
    });
    for (const path of [5, null]) {
      await expect(openStore({ path: path as never }), String(path)).rejects.toMatchObject({
        name: 'ConfigError',
        message: expect.stringMatching(/path/),
      });
    }
  });
});

describe('openStore: a store that cannot be opened', () => {
  it('fails with STORE_NOT_OPEN naming the folder that cannot be created, with the mkdir error as cause', async () => {
    const file = join(t.dir, 'a-file');
    await writeFile(file, '');
    const error = await openStore({ path: join(file, 'db', 'deeper') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({
      code: 'STORE_NOT_OPEN',
      path: join(file, 'db', 'deeper'),
      cause: { code: 'ENOTDIR' },
      message: expect.stringContaining(join(file, 'db')),
    });
  });

  it('fails with STORE_NOT_OPEN (not STORE_LOCKED), LevelDB error as cause, when LevelDB refuses the folder; opens once it is mended', async () => {
    const stored = events('s', ['a'], 2);
    await t.store.append(stored);
    await t.store.close();
    const current = join(t.store.path, 'CURRENT');
    const text = await readFile(current, 'utf8');
    await writeFile(current, 'garbage');
    const error = await openStore({ path: t.store.path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'STORE_NOT_OPEN', path: t.store.path, cause: expect.any(Error) });
    // Neither this process nor LevelDB holds the folder after the failure.
    await writeFile(current, text);
    const store = await t.reopen();
    expect(await collect(store.query('s'))).toEqual(stored);
  });

  it('writes the format record of a new store with sync under durability os only', async () => {
    const { AbstractLevel } = await import('abstract-level');
    for (const durability of ['os', 'process'] as const) {
      const put = vi.spyOn(AbstractLevel.prototype, 'put');
      try {
        const store = await openStore({ path: join(t.dir, durability), durability });
        await store.close();
        expect(put.mock.calls).toEqual([['!store!format', '1', { sync: durability === 'os' }]]);
      } finally {
        put.mockRestore();
      }
    }
  });
});

describe('close during a read', () => {
  for (const [name, q] of [
    ['by seq', undefined],
    ['by type', { types: ['a', 'b'] }],
  ] as const) {
    it(`fails a query still reading with STORE_NOT_OPEN once close() began: ${name}`, async () => {
      await t.store.append(events('s', ['a', 'b'], 600));
      const iterator = t.store.entries('s', q)[Symbol.asyncIterator]();
      expect((await iterator.next()).value).toMatchObject({ seq: 0 });
      await t.store.close();
      const rest = async () => {
        for (;;) if ((await iterator.next()).done) return;
      };
      const error = await rest().then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toMatchObject({ name: 'StoreError', code: 'STORE_NOT_OPEN' });
      // LevelDB's own error is the cause, not another StoreError around it.
      expect((error as StoreError).cause).not.toBeInstanceOf(StoreError);
      expect((error as StoreError).cause).toMatchObject({ code: expect.stringMatching(/^LEVEL_/) });
      // And every call after it, naming the store.
      await expect(t.store.get('s', 0)).rejects.toMatchObject({ code: 'STORE_NOT_OPEN', path: t.store.path });
    });
  }
});

describe('sessions', () => {
  it('lists each session once, in key order, whichever of its two records is there, damaged or gone', async () => {
    // One session per case, named so that the cases interleave in key order.
    // The sessions with no number to find their events by (damaged metadata and no id record or one
    // holding no number; no metadata and such an id record) cannot be found: left out, not listed with
    // the events of the session whose id record comes next, nor as undefined.
    const ids = [
      'a-ok',
      'b-no-id',
      'c-damaged-no-id',
      'c-no-meta',
      'c1-damaged-bad-number',
      'd-damaged',
      'e-deleting',
      'f-ok',
      'g-no-meta',
      'h-no-id',
      'i-bad-number',
      'j-no-meta',
      'k-no-id',
    ];
    for (const [i, id] of ids.entries()) await t.store.append(events(id, ['x', 'y'], i + 1));
    const before = new Map((await t.store.sessions()).map((info) => [info.sessionId, info]));
    await behindItsBack(async (raw) => {
      for (const id of ids) {
        if (id.endsWith('no-id')) await raw.del(`!n!${id}`);
        if (id.endsWith('no-meta')) await raw.del(`!s!${id}`);
        if (id.endsWith('bad-number')) {
          await raw.put(`!n!${id}`, 'x');
          await raw.del(`!s!${id}`);
        }
        if (id.includes('damaged')) await raw.put(`!s!${id}`, '{"broken');
        if (id.endsWith('deleting')) {
          const meta = JSON.parse((await raw.get(`!s!${id}`))!) as { n: number };
          await raw.put(`!s!${id}`, JSON.stringify({ sessionId: id, n: meta.n, deleting: true }));
        }
      }
    });
    const store = await t.reopen({ onCorruptRecord: () => {} });
    const listed = await store.sessions();
    const lost = ['c-damaged-no-id', 'c1-damaged-bad-number', 'e-deleting', 'i-bad-number'];
    const expected = ids.filter((id) => !lost.includes(id));
    expect(listed.map((info) => info.sessionId)).toEqual(expected);
    for (const info of listed) {
      const rebuilt = /no-meta|damaged/.test(info.sessionId);
      expect(info).toEqual({
        ...before.get(info.sessionId)!,
        ...(rebuilt ? { createdAt: expect.any(Number), meta: {} } : {}),
      });
      expect(await store.session(info.sessionId)).toEqual({ ...info, createdAt: expect.any(Number) });
    }
    for (const id of lost) expect(await store.session(id), id).toBeUndefined();
    // The last key is now an id record (of `j-no-meta`), no longer a metadata record (of `k-no-id`).
    expect(await store.deleteSession('k-no-id')).toBe(true);
    expect((await store.sessions()).map((info) => info.sessionId)).toEqual(expected.slice(0, -1));
  });

  it('takes one snapshot and leaves nothing open, a session rebuilt from its events among those it lists', async () => {
    await t.store.append([...events('a', ['x'], 2), ...events('b', ['x'], 3), ...events('c', ['x'], 1)]);
    await behindItsBack(async (raw) => {
      await raw.del('!s!b');
    });
    const store = await t.reopen();
    let listed: Awaited<ReturnType<typeof store.sessions>> = [];
    expect(
      await resourcesOf(async () => {
        listed = await store.sessions();
      }),
    ).toEqual({ snapshots: 1, open: 0 });
    expect(listed.map((info) => [info.sessionId, info.eventCount])).toEqual([
      ['a', 2],
      ['b', 3],
      ['c', 1],
    ]);
  });
});

describe('metadata rebuilt from the events', () => {
  it('takes the earliest and latest times whatever their seq order, counts the events read, and leaves nothing open', async () => {
    const stored = [50, 10, 70, 30, 60].map((time, i) => ev(['a', 'b'][i % 2]!, time, 's'));
    await t.store.append(stored);
    const expected = await t.store.session('s');
    expect(expected).toMatchObject({ startTime: 10, lastEventTime: 70, eventCount: 5 });
    await behindItsBack(async (raw) => {
      await raw.del('!s!s');
    });
    const store = await t.reopen();
    const before = store.stats().eventsRead;
    let info: Awaited<ReturnType<typeof store.session>>;
    expect(
      await resourcesOf(async () => {
        info = await store.session('s');
      }),
    ).toEqual({ snapshots: 1, open: 0 });
    expect(info).toEqual({ ...expected!, createdAt: expect.any(Number), meta: {} });
    expect(store.stats().eventsRead - before).toBe(5);
    // Rebuilt for the next write too.
    await store.append([ev('a', 20, 's')]);
    expect(await store.session('s')).toMatchObject({
      startTime: 10,
      lastEventTime: 70,
      eventCount: 6,
      nextSeq: 6,
    });
  });
});

describe('get', () => {
  it('reads the event at a seq, counting each record read (a corrupt one too), refusing a seq that is not a count', async () => {
    const stored = events('s', ['a'], 3);
    await t.store.append(stored);
    await t.store.append(events('u', ['b'], 1));
    const read = async (seq: number, store = t.store) => {
      const before = store.stats().eventsRead;
      const event = await store.get('s', seq);
      return [event, store.stats().eventsRead - before];
    };
    // Written in this run (cached) and after a reopen (found by its metadata).
    expect(await read(1)).toEqual([stored[1], 1]);
    expect(await read(3)).toEqual([undefined, 0]);
    await behindItsBack(async (raw) => {
      const keys = (await raw.keys({ gte: '!e!', lt: '!e"' }).all()).sort();
      await raw.put(keys[2]!, '{"broken');
    });
    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    expect(await read(0, store)).toEqual([stored[0], 1]);
    expect(await read(2, store)).toEqual([undefined, 1]);
    expect(reports).toMatchObject([{ sessionId: 's', seq: 2, kind: 'event' }]);
    // The error reported names the store and keeps why the record could not be decoded.
    expect(reports[0]!.error).toMatchObject({ code: 'STORE_READ_FAILED', path: store.path });
    expect(reports[0]!.error.cause).toBeInstanceOf(Error);
    expect(await store.get('nope', 0)).toBeUndefined();
    for (const bad of [-1, 1.5, Number.NaN, '1']) {
      await expect(store.get('s', bad as number), String(bad)).rejects.toMatchObject({ name: 'ConfigError' });
    }
  });
});

describe('query bounds and limits', () => {
  it('a time range of one instant (start = end) returns the events at that time; limit 0 returns none', async () => {
    // Three events at each time, two types.
    const stored = events('s', ['a', 'b'], 30).map(({ type, data, sessionId }, seq) => ({
      seq,
      event: createEvent({ type, data, sessionId, timestamp: 100 + Math.floor(seq / 3) }),
    }));
    await t.store.append(stored.map(({ event }) => event));
    const queries: QueryOptions[] = [
      { start: 104, end: 104 },
      { start: 104, end: 104, types: ['a'] },
      { start: 100, end: 100, reverse: true },
      { start: 109, end: 109 },
    ];
    for (const q of queries) {
      const got = await collect(t.store.entries('s', q));
      expect(got.length, JSON.stringify(q)).toBeGreaterThan(0);
      expect(got, JSON.stringify(q)).toEqual(expectedQuery(stored, q));
    }
    for (const q of [
      {},
      { types: ['a'] },
      { start: 0 },
      { end: 200 },
      { types: ['a', 'b'], reverse: true },
    ]) {
      const before = t.store.stats();
      expect(await collect(t.store.entries('s', { ...q, limit: 0 })), JSON.stringify(q)).toEqual([]);
      expect(t.store.stats().eventsRead).toBe(before.eventsRead);
    }
  });

  it('a time range ending at 0 (or -0) returns the events at time 0', async () => {
    const stored = [ev('a', 0, 's'), ev('b', 0, 's'), ev('a', 1, 's')].map((event, seq) => ({ seq, event }));
    await t.store.append(stored.map(({ event }) => event));
    for (const q of [{ end: 0 }, { end: -0 }, { start: 0, end: 0 }, { types: ['a'], end: 0 }]) {
      expect(await collect(t.store.entries('s', q)), JSON.stringify(q)).toEqual(
        expectedQuery(stored, { ...q, end: 0 }),
      );
    }
    expect(expectedQuery(stored, { end: 0 })).toHaveLength(2);
  });

  it('a limited type query stops reading the index too', async () => {
    await t.store.append(events('s', ['a'], 1000));
    const before = t.store.stats();
    expect(await collect(t.store.query('s', { types: ['a'], limit: 3 }))).toHaveLength(3);
    const after = t.store.stats();
    expect(after.eventsRead - before.eventsRead).toBe(3);
    expect(after.indexEntriesRead - before.indexEntriesRead).toBeLessThan(1000);
    // A limit that the read-ahead of one type covers (256 keys: docs/store.md, "Limits") reads no more.
    expect(await collect(t.store.query('s', { types: ['a'], limit: 256 }))).toHaveLength(256);
    const last = t.store.stats();
    expect(last.indexEntriesRead - after.indexEntriesRead).toBe(256);
    expect(last.eventsRead - after.eventsRead).toBe(256);
  });
});

/**
 * Holds the first LevelDB `get` made from now on until `gate` resolves, then makes it. Armed just before a
 * query's first `next()`, that `get` is the query's read of the session's metadata, made right after its
 * snapshot is taken: what is written meanwhile lands between the snapshot and every read of the query.
 */
async function holdFirstGet(gate: Promise<unknown>) {
  const { AbstractLevel } = await import('abstract-level');
  const get = AbstractLevel.prototype.get;
  let held = false;
  return vi.spyOn(AbstractLevel.prototype, 'get').mockImplementation(async function (
    this: unknown,
    ...args: unknown[]
  ) {
    if (!held) {
      held = true;
      await gate;
    }
    return (get as (...a: unknown[]) => Promise<unknown>).apply(this, args);
  } as never);
}

describe('a consistent snapshot per iteration', () => {
  for (const [name, q] of [
    ['by seq', undefined],
    ['by type', { types: ['a', 'b'] }],
    ['by time', { start: 0 }],
  ] as const) {
    it(`a query that began before a deleteSession reads the session as it was: ${name}`, async () => {
      const stored = events('s', ['a', 'b'], 700);
      await t.store.append(stored);
      const reports: CorruptRecord[] = [];
      const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
      const iterator = store.query('s', q)[Symbol.asyncIterator]();
      const got: Event[] = [(await iterator.next()).value as Event];
      expect(await store.deleteSession('s')).toBe(true);
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) got.push(next.value);
      expect(got).toEqual(stored);
      expect(reports).toEqual([]);
      expect(await collect(store.query('s', q))).toEqual([]);
    });

    it(`a query reads none of the events appended after it began: ${name}`, async () => {
      const stored = events('s', ['a', 'b'], 700);
      await t.store.append(stored);
      const store = await t.reopen();
      const iterator = store.query('s', q)[Symbol.asyncIterator]();
      const got: Event[] = [(await iterator.next()).value as Event];
      const later = events('s', ['a', 'b'], 300, 5_000);
      await store.append(later);
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) got.push(next.value);
      expect(got).toEqual(stored);
      expect(await collect(store.query('s', q))).toEqual([...stored, ...later]);
    });
  }

  // The metadata is read through the snapshot, and so are the index (the list of types too, when the
  // metadata is gone) and the event records: a write landing after the snapshot changes none of them.
  for (const [name, q, metadata] of [
    ['by seq', undefined, 'kept'],
    ['by type', { types: ['a', 'b'] }, 'kept'],
    ['by time', { start: 0 }, 'kept'],
    ['by time, types read from the index', { start: 0 }, 'missing'],
  ] as const) {
    for (const write of ['an append', 'a deleteSession'] as const) {
      it(`a query reads the session as it was when it began, ${write} landing before its first read: ${name} (metadata ${metadata})`, async () => {
        const stored = events('s', ['a', 'b'], 5);
        await t.store.append(stored);
        if (metadata === 'missing') {
          await behindItsBack(async (raw) => {
            await raw.del('!s!s');
          });
        }
        const store = await t.reopen();
        const later = events('s', ['a', 'b'], 3, 5_000);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const spy = await holdFirstGet(gate);
        let got: Promise<Event[]>;
        try {
          got = collect(store.query('s', q));
          if (write === 'an append') await store.append(later);
          else expect(await store.deleteSession('s')).toBe(true);
        } finally {
          release();
          spy.mockRestore();
        }
        expect(await got).toEqual(stored);
        expect(await collect(store.query('s', q))).toEqual(
          write === 'an append' ? [...stored, ...later] : [],
        );
      });
    }
  }
});

describe('session(): metadata rebuilt from a consistent snapshot', () => {
  for (const write of ['an append', 'a deleteSession'] as const) {
    it(`rebuilds missing metadata as the session was when the read began, ${write} landing before its first read`, async () => {
      const stored = events('s', ['a', 'b'], 5);
      await t.store.append(stored);
      const expected = await t.store.session('s');
      await behindItsBack(async (raw) => {
        await raw.del('!s!s');
      });
      const store = await t.reopen();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const spy = await holdFirstGet(gate);
      let info: ReturnType<typeof store.session>;
      try {
        info = store.session('s');
        if (write === 'an append') await store.append(events('s', ['c'], 3, 5_000));
        else expect(await store.deleteSession('s')).toBe(true);
      } finally {
        release();
        spy.mockRestore();
      }
      expect(await info).toEqual({ ...expected!, createdAt: expect.any(Number), meta: {} });
    });
  }
});

describe('a query closes its snapshot (and iterators)', () => {
  const endings: Array<[string, QueryOptions, (events: AsyncIterable<Event>) => Promise<unknown>]> = [
    ['when it reaches the end', {}, collect],
    ['when it reaches its limit', { limit: 2 }, collect],
    [
      'when its consumer breaks',
      {},
      async (events) => {
        for await (const _ of events) break;
      },
    ],
    [
      'when its consumer throws',
      {},
      async (events) => {
        const error = new Error('consumer failed');
        await expect(
          (async () => {
            for await (const _ of events) throw error;
          })(),
        ).rejects.toBe(error);
      },
    ],
  ];
  for (const [name, q, metadata] of [
    ['by seq', {}, 'kept'],
    ['by type', { types: ['a', 'b'] }, 'kept'],
    ['by time', { start: 0 }, 'kept'],
    ['by time, types read from the index', { start: 0 }, 'missing'],
  ] as const) {
    it(`${name} (metadata ${metadata}): at its end, its limit, a break or a throw, and for a session not stored`, async () => {
      await t.store.append(events('s', ['a', 'b'], 300));
      if (metadata === 'missing') {
        await behindItsBack(async (raw) => {
          await raw.del('!s!s');
        });
      }
      const store = await t.reopen();
      for (const [ending, options, read] of endings) {
        const used = await resourcesOf(() => read(store.query('s', { ...q, ...options })));
        expect({ ending, ...used }).toEqual({ ending, snapshots: 1, open: 0 });
      }
      expect(await resourcesOf(() => collect(store.query('nope', q)))).toEqual({ snapshots: 1, open: 0 });
      // The store closes and opens again.
      await t.reopen();
      expect(await collect(t.store.query('s', q))).toHaveLength(300);
    });
  }
});

describe('nothing to report', () => {
  it('reads of a session that does not exist, or whose metadata is missing (not damaged), report nothing', async () => {
    await t.store.append([...events('m', ['a'], 3), ...events('k', ['a'], 1)]);
    await behindItsBack(async (raw) => {
      await raw.del('!s!m');
    });
    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    for (const id of ['nope', 'm', 'k']) {
      await store.get(id, 0);
      await collect(store.query(id));
      await collect(store.query(id, { types: ['a'] }));
      await store.session(id);
      await store.sessionContext(id);
    }
    await store.sessions();
    expect(await store.deleteSession('nope')).toBe(false);
    expect(reports).toEqual([]);
    expect(store.stats().corruptRecords).toBe(0);
  });
});

describe('deleteSession writes', () => {
  for (const durability of ['os', 'process'] as const) {
    it(`writes its tombstone with sync: ${durability === 'os'} under durability '${durability}'`, async () => {
      const { AbstractLevel } = await import('abstract-level');
      const store = await t.reopen({ durability });
      await store.append(events('s', ['a'], 2));
      const put = vi.spyOn(AbstractLevel.prototype, 'put');
      try {
        expect(await store.deleteSession('s')).toBe(true);
        const tombstones = put.mock.calls.filter(([, value]) => String(value).includes('"deleting":true'));
        expect(tombstones).toHaveLength(1);
        expect(tombstones[0]![2]).toEqual({ sync: durability === 'os' });
      } finally {
        put.mockRestore();
      }
    });
  }

  it('rejects with STORE_WRITE_FAILED (cause, path) when its write fails, the session left as it was', async () => {
    const { AbstractLevel } = await import('abstract-level');
    const stored = events('s', ['a'], 2);
    await t.store.append(stored);
    const disk = new Error('disk error');
    const put = vi.spyOn(AbstractLevel.prototype, 'put').mockRejectedValueOnce(disk);
    try {
      const error = await t.store.deleteSession('s').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'STORE_WRITE_FAILED', cause: disk, path: t.store.path });
    } finally {
      put.mockRestore();
    }
    expect(await collect(t.store.query('s'))).toEqual(stored);
    expect(await t.store.deleteSession('s')).toBe(true);
    expect(await t.store.session('s')).toBeUndefined();
  });
});

describe('reporting corrupt records', () => {
  it('counts a skipped record without an onCorruptRecord, and an onCorruptRecord that throws fails no read', async () => {
    const stored = events('s', ['a'], 3);
    await t.store.append(stored);
    await behindItsBack(async (raw) => {
      const keys = (await raw.keys({ gte: '!e!', lt: '!e"' }).all()).sort();
      await raw.put(keys[1]!, '{"broken');
    });
    let store = await t.reopen();
    expect(await collect(store.query('s'))).toEqual([stored[0], stored[2]]);
    expect(store.stats().corruptRecords).toBe(1);
    let calls = 0;
    store = await t.reopen({
      onCorruptRecord: () => {
        calls++;
        throw new Error('reporter failed');
      },
    });
    expect(await collect(store.query('s'))).toEqual([stored[0], stored[2]]);
    expect(await collect(store.query('s', { types: ['a'] }))).toEqual([stored[0], stored[2]]);
    expect(await store.get('s', 1)).toBeUndefined();
    expect(calls).toBe(3);
    expect(store.stats().corruptRecords).toBe(3);
  });

  it('reports a record with its session, seq, kind and reason, and an error naming the record and the store', async () => {
    await t.store.append(events('s', ['a'], 3));
    await behindItsBack(async (raw) => {
      const keys = (await raw.keys({ gte: '!e!', lt: '!e"' }).all()).sort();
      await raw.put(keys[1]!, '{"broken');
      await raw.put('!s!s', '{"broken');
    });
    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    // The metadata first (read to find the session), then the event, rebuilding it.
    expect(await store.session('s')).toMatchObject({ eventCount: 2, nextSeq: 3 });
    expect(reports).toMatchObject([
      { sessionId: 's', seq: undefined, kind: 'session', reason: expect.stringMatching(/cannot be decoded/) },
      { sessionId: 's', seq: 1, kind: 'event', reason: expect.stringMatching(/not JSON/) },
    ]);
    for (const [report, record] of [
      [reports[0]!, '(s)'],
      [reports[1]!, '(s#1)'],
    ] as const) {
      expect(report.error).toBeInstanceOf(StoreError);
      expect(report.error.code).toBe('STORE_READ_FAILED');
      expect(report.error.path).toBe(store.path);
      for (const part of [record, store.path, report.reason]) expect(report.error.message).toContain(part);
    }
    expect(store.stats().corruptRecords).toBe(2);
  });
});

describe('openStore: the session counter', () => {
  it('gives a new session a number no stored session has when the counter record is gone', async () => {
    await t.store.append([...events('a', ['x'], 2), ...events('b', ['x'], 3)]);
    await behindItsBack(async (raw) => {
      await raw.del('!store!nextSession');
    });
    const store = await t.reopen();
    const fresh = ev('y', 1, 'c');
    expect(await store.append([fresh])).toEqual([{ sessionId: 'c', seq: 0 }]);
    expect(await collect(store.query('c'))).toEqual([fresh]);
    expect(await collect(store.query('b'))).toHaveLength(3);
    expect((await store.sessions()).map((info) => [info.sessionId, info.eventCount])).toEqual([
      ['a', 2],
      ['b', 3],
      ['c', 1],
    ]);
  });

  it('gives a new session a number of its own when the counter record is gone and the only session has number 0, leaving no iterator open', async () => {
    const stored = events('a', ['x'], 2);
    await t.store.append(stored);
    await behindItsBack(async (raw) => {
      expect(await raw.get('!n!a')).toBe('0');
      await raw.del('!store!nextSession');
    });
    let store = t.store;
    expect((await resourcesOf(async () => (store = await t.reopen()))).open).toBe(0);
    const fresh = ev('y', 1, 'c');
    await store.append([fresh]);
    expect(await collect(store.query('c'))).toEqual([fresh]);
    expect(await collect(store.query('a'))).toEqual(stored);
  });

  // Numbers are read from every record that holds one when the counter is gone or unreadable: the id
  // records, the metadata (a deletion's tombstone too) and the event keys.
  const cases: Array<[string, (raw: Level<string, string>, n: string) => Promise<void>]> = [
    [
      // A deleteSession that died after removing the events and the id record: only the tombstone is
      // left, and the next load of 'b' clears number n's events, whoever has it by then.
      'a deletion interrupted after its id record went (only its tombstone holds the number)',
      async (raw, n) => {
        await raw.put('!s!b', JSON.stringify({ sessionId: 'b', n: Number.parseInt(n, 36), deleting: true }));
        await raw.del('!n!b');
        for await (const key of raw.keys({ gte: `!e!${n}\x00`, lt: `!e!${n}\x01` })) await raw.del(key);
        for await (const key of raw.keys({ gte: `!i!${n}\x00`, lt: `!i!${n}\x01` })) await raw.del(key);
      },
    ],
    [
      // Events left with no record naming their session (a damaged table file took both).
      'events whose metadata and id record are gone',
      async (raw) => {
        await raw.del('!s!b');
        await raw.del('!n!b');
      },
    ],
  ];
  for (const [what, edit] of cases) {
    it(`never gives a new session the number of ${what}`, async () => {
      await t.store.append([...events('a', ['x'], 2), ...events('b', ['x'], 3)]);
      await behindItsBack(async (raw) => {
        const { n } = JSON.parse((await raw.get('!s!b'))!) as { n: number };
        await raw.put('!store!nextSession', 'garbage');
        await edit(raw, n.toString(36));
      });
      const store = await t.reopen();
      const fresh = ev('y', 1, 'c');
      expect(await store.append([fresh])).toEqual([{ sessionId: 'c', seq: 0 }]);
      // A write to 'b' finishes its deletion (the tombstone) or starts it afresh: 'c' keeps its event.
      await store.append([ev('w', 5, 'b')]);
      const reopened = await t.reopen();
      expect(await collect(reopened.query('c'))).toEqual([fresh]);
      expect(await reopened.session('c')).toMatchObject({ eventCount: 1, nextSeq: 1 });
    });
  }
});

describe('close during a get', () => {
  it('fails a get that close() overtook with STORE_NOT_OPEN, not with undefined', async () => {
    await t.store.append(events('s', ['a'], 2));
    // Reopened: the session is not cached, so the get reads its metadata before its event.
    const store = await t.reopen();
    const got = store.get('s', 1);
    const closing = store.close();
    await expect(got).rejects.toMatchObject({ name: 'StoreError', code: 'STORE_NOT_OPEN', path: store.path });
    await closing;
  });
});

describe('close during sessions() or session()', () => {
  for (const when of ['right after the open', 'once the store has read'] as const) {
    it(`fails a listing or a session read that close() overtook with STORE_NOT_OPEN, not a partial answer: ${when}`, async () => {
      // Right after the open, the store's key spaces had not finished opening: a listing's first read
      // waited for them and close() for the listing's snapshot, each for the other, forever.
      // Session `a` has no metadata: session('a') reads again (its id record) once close() began.
      await t.store.append([...events('a', ['x'], 2), ...events('b', ['x'], 2)]);
      await behindItsBack(async (raw) => {
        await raw.del('!s!a');
      });
      for (const read of ['sessions', 'session'] as const) {
        const store = await t.reopen();
        if (when === 'once the store has read') expect(await store.session('b')).toBeDefined();
        const reading = read === 'sessions' ? store.sessions() : store.session('a');
        const closing = store.close();
        const error = await reading.then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect({ read, error }).toMatchObject({
          read,
          error: { name: 'StoreError', code: 'STORE_NOT_OPEN', path: store.path },
        });
        // LevelDB's own error is the cause, not another StoreError around it.
        expect((error as StoreError).cause).not.toBeInstanceOf(StoreError);
        expect((error as StoreError).cause).toMatchObject({ code: expect.stringMatching(/^LEVEL_/) });
        await closing;
      }
    });
  }
});

describe('close, called again', () => {
  it('does nothing: not even once the store was opened again at its path, whose new store keeps it', async () => {
    const first = t.store;
    await Promise.all([first.close(), first.close()]);
    const second = await openStore({ path: first.path });
    try {
      await first.close();
      // The second store still holds the path: another open of this process is refused before LevelDB is
      // asked (no cause), and the second store goes on.
      const error = await openStore({ path: first.path }).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toMatchObject({ name: 'StoreError', code: 'STORE_LOCKED' });
      expect((error as StoreError).cause).toBeUndefined();
      await second.append([ev('a', 1, 's')]);
      expect(await collect(second.query('s'))).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});
