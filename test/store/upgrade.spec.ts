/**
 * A store written by an earlier version, read and written by this one. The fixture is every key and value
 * of a store that the code at 82e9475 (2026-11-24, the first layout of format 1 that is still read) wrote
 * with the workload below — the same bytes this version writes for it (test/store/bytes.spec.ts guards
 * the writes) — loaded into a fresh LevelDB. Checks the read side: a change to how metadata, events or
 * index keys are decoded that no longer reads what was stored fails here.
 *
 * The workload (ids ID0001…, `Date.now()` 1_795_000_000_000): startSession('meta-only', { project:
 * 'acme', tags: ['x'] }); for each of 's1', 'a', 'a\0b', '__proto__', '\ud800x' an append of 8 events then
 * one of 3 (types round robin over TYPES, times 1000 + (i × 5 mod 11) + (i mod 2) / 4); startSession('s1',
 * { run: 1 }); 3 events of 'gone', deleteSession('gone'), 2 more of 'gone'; close, reopen, 2 more of 's1'.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  agentState,
  type Event,
  fileState,
  openStore,
  reconstruct,
  type SessionStore,
  type StateReducer,
  sessionState,
} from '../../src/index.js';
import { behindItsBack, collect, expectedQuery, type TempStore, tempStore } from '../helpers/store.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '__fixtures__/store-82e9475.txt');
const TYPES = [
  'file.modified',
  'agent.started',
  'constructor',
  '__proto__',
  'toString',
  'agent.completed',
  'a\0b',
];

let t: TempStore;
let store: SessionStore;
const corrupt: string[] = [];
beforeEach(async () => {
  t = await tempStore();
  await t.store.close();
  const raw = new Level<string, string>(t.store.path);
  await raw.open();
  const batch = raw.batch();
  for (const line of (await readFile(FIXTURE, 'utf8')).split('\n')) {
    if (line === '') continue;
    const [key, value] = JSON.parse(`[${line.replace('" "', '","')}]`) as [string, string];
    batch.put(key, value);
  }
  await batch.write();
  await raw.close();
  corrupt.length = 0;
  store = t.store = await openStore({ path: t.store.path, onCorruptRecord: (r) => corrupt.push(r.reason) });
});
afterEach(async () => {
  await t.cleanup();
});

/** What the workload appended for `count` events of a session from its i-th, ids from `first`. */
function workload(sessionId: string, from: number, count: number, first: number) {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      id: `ID${String(first + k).padStart(4, '0')}`,
      type: TYPES[i % TYPES.length],
      timestamp: 1_000 + ((i * 5) % 11) + (i % 2) / 4,
      priority: i % 4,
      data: { n: first + k, file_path: `/f${i % 3}`, agent: 'Explore', agent_id: `a${i % 2}` },
      ...(i % 3 === 0 ? {} : { context: { i } }),
      sessionId,
    };
  });
}

it('reads every session, its metadata and its events as they were stored', async () => {
  const sessions = await store.sessions();
  // In key order: the escaped id of '\ud800x' (\x01\x03d800x) first.
  expect(sessions.map((s) => [s.sessionId, s.eventCount, s.nextSeq, s.meta])).toEqual([
    ['\ud800x', 11, 11, {}],
    ['__proto__', 11, 11, {}],
    ['a', 11, 11, {}],
    ['a\0b', 11, 11, {}],
    ['gone', 2, 2, {}],
    ['meta-only', 0, 0, { project: 'acme', tags: ['x'] }],
    ['s1', 13, 13, { run: 1 }],
  ]);
  expect(sessions.every((s) => s.createdAt === 1_795_000_000_000)).toBe(true);
  const ids = ['s1', 'a', 'a\0b', '__proto__', '\ud800x'];
  for (const [k, id] of ids.entries()) {
    const first = 1 + k * 11;
    const expected = [...workload(id, 0, 8, first), ...workload(id, 8, 3, first + 8)];
    if (id === 's1') expected.push(...workload(id, 11, 2, 61));
    const entries = await collect(store.entries(id));
    expect(entries.map((e) => e.seq)).toEqual(expected.map((_, seq) => seq));
    expect(entries.map((e) => e.event)).toEqual(expected);
    const info = (await store.session(id))!;
    expect(Object.keys(info.typeCounts).sort()).toEqual([...TYPES].sort());
    expect(info.typeCounts.constructor).toBe(expected.filter((e) => e.type === 'constructor').length);
    for (const q of [
      { types: ['constructor', '__proto__'] },
      { start: 1_003, end: 1_006.25 },
      { reverse: true, start: 1_005 },
    ]) {
      expect(await collect(store.entries(id, q))).toEqual(expectedQuery(entries, q));
    }
    const events = entries.map((e) => e.event);
    for (const reducer of [fileState, agentState, sessionState] as StateReducer<unknown>[]) {
      expect(await reconstruct(store, id, reducer)).toEqual(events.reduce(reducer.reduce, reducer.initial));
    }
  }
  // The deleted session started over (at seq 0) with the events appended after its deletion.
  expect((await collect(store.entries('gone'))).map((e) => [e.seq, e.event.id])).toEqual([
    [0, 'ID0059'],
    [1, 'ID0060'],
  ]);
  expect(corrupt).toEqual([]);
});

it('appends after them: seqs go on, and a new session gets keys of its own', async () => {
  const before = await collect(store.entries('a'));
  const s1 = workload('s1', 13, 1, 100);
  const fresh = workload('new', 0, 2, 200);
  expect(await store.append([...s1, ...fresh] as Event[])).toEqual([
    { sessionId: 's1', seq: 13 },
    { sessionId: 'new', seq: 0 },
    { sessionId: 'new', seq: 1 },
  ]);
  await t.reopen();
  store = t.store;
  expect((await collect(store.entries('s1'))).map((e) => e.seq)).toEqual([...Array(14).keys()]);
  expect((await collect(store.entries('new'))).map((e) => e.event)).toEqual(fresh);
  expect(await collect(store.entries('a'))).toEqual(before);
  expect((await store.sessions()).length).toBe(8);
});

it('refuses a store of the first layout (2b22442: sublevels events, index, sessions) rather than open it empty', async () => {
  // What that build wrote for a session s1 with one event (format 1 too): it opened as an empty store, its
  // sessions out of sight, and a new append to s1 started it again at seq 0 beside them.
  const path = store.path;
  await behindItsBack(store, async (raw) => {
    await raw.clear();
    await raw.batch([
      { type: 'put', key: '!store!format', value: '1' },
      {
        type: 'put',
        key: '!sessions!s1',
        value: JSON.stringify({
          sessionId: 's1',
          createdAt: 1_796_626_229_715,
          startTime: 1_000,
          lastEventTime: 1_000,
          eventCount: 1,
          nextSeq: 1,
          typeCounts: { 'tool.used': 1 },
          meta: {},
        }),
      },
      {
        type: 'put',
        key: '!events!s1\x000000000000000000',
        value: '{"id":"E1","type":"tool.used","timestamp":1000,"priority":1,"data":{},"sessionId":"s1"}',
      },
      { type: 'put', key: '!index!s1\x00tool.used\x00408f4000000000000000000000000000', value: '' },
    ]);
  });
  for (let i = 0; i < 2; i++) {
    // Refused each time (the database closed again, not left locked), nothing written.
    const error = await openStore({ path }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STORE_NOT_OPEN', path });
    expect((error as Error).message).toContain('development build of 2026-11-23');
  }
  const raw = new Level<string, string>(path);
  await raw.open();
  expect((await raw.keys().all()).length).toBe(4);
  await raw.close();
  // The store the other tests use is closed: cleanup closes it again.
});
