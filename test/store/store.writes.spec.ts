/**
 * The store's write queue (docs/store.md, "Writes"): group commit up to 10,000 events a batch, when the
 * appends of a write are resolved relative to the next write, urgent appends. Tests added where a
 * mutation of the write path went unnoticed.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, type CorruptRecord, type Event, StoreError, tail } from '../../src/index.js';
import { storeInternals } from '../../src/store/SessionStore.js';
import { behindItsBack, collect, ev, type TempStore, tempStore } from '../helpers/store.js';

let t: TempStore;
beforeEach(async () => {
  t = await tempStore();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await t.cleanup();
});

/** `size` events of session `s` at times base, base + 1, ... */
function run(size: number, base: number, type = 'tool.used'): Event[] {
  return Array.from({ length: size }, (_, i) => ev(type, base + i, 's'));
}

describe('SessionStore writes: at most 10,000 events a batch', () => {
  for (const urgent of [false, true]) {
    const options = urgent ? { urgent: true } : undefined;
    const kind = urgent ? 'urgent' : 'normal';

    it(`merges ${kind} appends queued together that make exactly 10,000 events into one write; one more event takes two`, async () => {
      let before = t.store.stats();
      const full = await Promise.all([
        t.store.append(run(9_000, 0), options),
        t.store.append(run(1_000, 9_000), options),
      ]);
      expect(t.store.stats().writes - before.writes).toBe(1);
      expect(t.store.stats().eventsWritten - before.eventsWritten).toBe(10_000);
      expect(full.map((p) => p[0]!.seq)).toEqual([0, 9_000]);

      before = t.store.stats();
      const over = await Promise.all([
        t.store.append(run(9_000, 10_000), options),
        t.store.append(run(1_001, 19_000), options),
      ]);
      expect(t.store.stats().writes - before.writes).toBe(2);
      expect(t.store.stats().eventsWritten - before.eventsWritten).toBe(10_001);
      expect(over.map((p) => p[0]!.seq)).toEqual([10_000, 19_000]);
      expect(await t.store.session('s')).toMatchObject({ eventCount: 20_001, nextSeq: 20_001 });
    });

    it(`writes a single ${kind} append of more than 10,000 events as one batch`, async () => {
      const before = t.store.stats().writes;
      const positions = await t.store.append(run(10_001, 0), options);
      expect(t.store.stats().writes - before).toBe(1);
      expect(positions.map((p) => p.seq)).toEqual(positions.map((_, i) => i));
      expect(await t.store.session('s')).toMatchObject({ eventCount: 10_001, nextSeq: 10_001 });
    });
  }
});

describe('SessionStore writes: when appends are resolved', () => {
  /** Counts the LevelDB batch writes started from now on (each still written). */
  async function countWrites(onWrite?: (n: number) => void): Promise<() => number> {
    const { AbstractChainedBatch } = await import('abstract-level');
    const original = AbstractChainedBatch.prototype.write;
    let started = 0;
    vi.spyOn(AbstractChainedBatch.prototype, 'write').mockImplementation(function (
      this: InstanceType<typeof AbstractChainedBatch>,
      options?: unknown,
    ) {
      started++;
      onWrite?.(started);
      return original.call(this, options as never);
    });
    return () => started;
  }

  it('starts the next write before resolving the appends just written (their callers run meanwhile)', async () => {
    await t.store.append(run(1, 0));
    let second: Promise<unknown> | undefined;
    // b is queued while a's write is in flight.
    const writes = await countWrites((n) => {
      if (n === 1) second = t.store.append(run(1, 2));
    });
    let seenByA = -1;
    const first = t.store.append(run(1, 1)).then(() => {
      seenByA = writes();
    });
    await first;
    await second;
    expect(seenByA).toBe(2);
    expect((await collect(t.store.entries('s'))).map((e) => e.seq)).toEqual([0, 1, 2]);
  });

  it('resolves an urgent append before building the next batch: its caller runs first', async () => {
    await t.store.append(run(1, 0));
    const writes = await countWrites();
    let seenByU = -1;
    // In one tick: u overtakes a, which waits for the next write.
    const urgent = t.store.append(run(1, 1, 'workflow.failed'), { urgent: true }).then(() => {
      seenByU = writes();
    });
    const normal = t.store.append(run(1, 2));
    await Promise.all([urgent, normal]);
    expect(seenByU).toBe(1);
    expect(writes()).toBe(2);
  });
});

describe('SessionStore writes: damaged session metadata', () => {
  // Each field of a metadata record made wrong in turn (docs/store.md, "Errors": damaged metadata is
  // rebuilt from the session's events, and reported): none may be taken as it is.
  const damage: Array<[string, (meta: Record<string, unknown>) => unknown]> = [
    ['not an object', () => [1]],
    ['sessionId a number', (m) => ({ ...m, sessionId: 5 })],
    ['n negative', (m) => ({ ...m, n: -1 })],
    ['n a string', (m) => ({ ...m, n: String(m.n) })],
    ['eventCount negative', (m) => ({ ...m, eventCount: -1 })],
    ['nextSeq 1.5', (m) => ({ ...m, nextSeq: 1.5 })],
    ['createdAt a string', (m) => ({ ...m, createdAt: '2026' })],
    ['startTime null', (m) => ({ ...m, startTime: null })],
    ['lastEventTime a string', (m) => ({ ...m, lastEventTime: '2' })],
    ['typeCounts an array', (m) => ({ ...m, typeCounts: [] })],
    ['a type count negative', (m) => ({ ...m, typeCounts: { a: 1, b: -1 } })],
    ['meta null', (m) => ({ ...m, meta: null })],
  ];

  it('reads and appends to a session whose metadata has any one field wrong as rebuilt from its events, reporting it', async () => {
    // Session i gets the damage i.
    const ids = damage.map((_, i) => `s${i}`);
    for (const id of ids) {
      await t.store.startSession(id, { owner: 'me' });
      // Not in time order: the earliest and latest events are neither the first nor the last.
      await t.store.append([ev('a', 1, id), ev('b', 3, id), ev('a', 2, id)]);
    }
    await behindItsBack(t.store, async (raw) => {
      for (const [i, id] of ids.entries()) {
        const good = JSON.parse((await raw.get(`!s!${id}`))!) as Record<string, unknown>;
        await raw.put(`!s!${id}`, JSON.stringify(damage[i]![1](good)));
      }
    });
    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    const rebuilt = (sessionId: string) => ({
      sessionId,
      createdAt: expect.any(Number),
      startTime: 1,
      lastEventTime: 3,
      eventCount: 3,
      nextSeq: 3,
      typeCounts: { a: 2, b: 1 },
      // The events do not hold it: a rebuilt session has none.
      meta: {},
    });
    for (const [i, id] of ids.entries()) {
      const name = damage[i]![0];
      expect({ name, info: await store.session(id) }).toEqual({ name, info: rebuilt(id) });
      expect({ name, reports: reports.filter((r) => r.sessionId === id).map((r) => r.kind) }).toEqual({
        name,
        reports: ['session'],
      });
      // The next write rebuilds it too (its seqs go on), and stores it.
      expect(await store.append([ev('c', 0, id), ev('c', 2, id)])).toEqual([
        { sessionId: id, seq: 3 },
        { sessionId: id, seq: 4 },
      ]);
      expect({ name, info: await store.session(id) }).toEqual({
        name,
        info: { ...rebuilt(id), startTime: 0, eventCount: 5, nextSeq: 5, typeCounts: { a: 2, b: 1, c: 2 } },
      });
    }
  });

  it('rebuilds over an event record that cannot be decoded: reported, not counted, its seq never reused', async () => {
    await t.store.append([ev('a', 1, 's'), ev('b', 2, 's'), ev('a', 3, 's')]);
    await behindItsBack(t.store, async (raw) => {
      const last = (await raw.keys({ gte: '!e!', lt: '!e"' }).all()).at(-1)!;
      await raw.put(last, '{"broken');
      await raw.put('!s!s', 'garbage');
    });
    const reports: CorruptRecord[] = [];
    const store = await t.reopen({ onCorruptRecord: (r) => reports.push(r) });
    expect(await store.session('s')).toMatchObject({
      eventCount: 2,
      nextSeq: 3,
      typeCounts: { a: 1, b: 1 },
      startTime: 1,
      lastEventTime: 2,
    });
    expect(reports.map((r) => [r.kind, r.seq])).toEqual([
      ['session', undefined],
      ['event', 2],
    ]);
    expect(await store.append([ev('c', 4, 's')])).toEqual([{ sessionId: 's', seq: 3 }]);
    expect(await store.session('s')).toMatchObject({ eventCount: 3, nextSeq: 4 });
  });

  it('never reuses a seq when the metadata is one write behind the events (its nextSeq is the last seq stored)', async () => {
    // What a crash between two writes cannot leave, but a damaged or restored disk can: the session's
    // next seq is checked against its last stored key, and the metadata rebuilt, keeping its meta.
    await t.store.startSession('s', { owner: 'me' });
    await t.store.append([ev('a', 1, 's'), ev('a', 2, 's')]);
    await t.store.close();
    const raw = new Level<string, string>(t.store.path);
    await raw.open();
    const behind = (await raw.get('!s!s'))!;
    await raw.close();
    let store = await t.reopen();
    const third = ev('b', 3, 's');
    expect(await store.append([third])).toEqual([{ sessionId: 's', seq: 2 }]);
    await store.close();
    await raw.open();
    await raw.put('!s!s', behind);
    await raw.close();

    store = await t.reopen();
    const fourth = ev('c', 4, 's');
    expect(await store.append([fourth])).toEqual([{ sessionId: 's', seq: 3 }]);
    expect((await collect(store.entries('s'))).map((e) => e.event)).toEqual([
      expect.objectContaining({ type: 'a' }),
      expect.objectContaining({ type: 'a' }),
      third,
      fourth,
    ]);
    expect(await store.session('s')).toMatchObject({
      eventCount: 4,
      nextSeq: 4,
      typeCounts: { a: 2, b: 1, c: 1 },
      startTime: 1,
      lastEventTime: 4,
      meta: { owner: 'me' },
    });
  });
});

describe('SessionStore writes: a batch with a startSession in it', () => {
  it('rejects every job of a failed write, a startSession among them, with STORE_WRITE_FAILED and its unwritten events', async () => {
    const { AbstractChainedBatch } = await import('abstract-level');
    vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(new Error('disk full'));
    const events = [ev('a', 1, 's'), ev('b', 2, 's')];
    // Queued in one tick: one batch, which fails.
    const outcomes = await Promise.allSettled([
      t.store.startSession('s', { owner: 'me' }),
      t.store.append(events),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    const [started, appended] = outcomes.map((o) => (o as PromiseRejectedResult).reason as StoreError);
    expect(started).toBeInstanceOf(StoreError);
    expect(started!.code).toBe('STORE_WRITE_FAILED');
    expect(started!.events).toEqual([]);
    expect(appended!.code).toBe('STORE_WRITE_FAILED');
    expect(appended!.events).toEqual(events);
    // The message says which failure it was (docs/errors.md): the write, not a refusal.
    expect(appended!.message).toContain(
      `LevelDB write failed at ${t.store.path}; 2 event(s) were not written: `,
    );
    // The database was open: the message ends with LevelDB's error, and claims nothing more.
    expect(appended!.message.endsWith('disk full')).toBe(true);
    expect(started!.message).toContain('0 event(s) were not written');
    // Nothing was written; the store goes on.
    expect(await t.store.session('s')).toBeUndefined();
    expect(await t.store.append(events)).toEqual([
      { sessionId: 's', seq: 0 },
      { sessionId: 's', seq: 1 },
    ]);
  });

  it('a tail sees the events of a batch that also holds a startSession of its session', async () => {
    const seen: number[] = [];
    const sub = tail(t.store, 's').subscribe((entry) => seen.push(entry.event.timestamp));
    const [info, positions] = await Promise.all([
      t.store.startSession('s', { owner: 'me' }),
      t.store.append([ev('a', 1, 's'), ev('a', 2, 's')]),
      t.store.startSession('s', { more: 1 }),
    ]);
    expect(info).toMatchObject({ eventCount: 0, meta: { owner: 'me' } });
    expect(positions).toEqual([
      { sessionId: 's', seq: 0 },
      { sessionId: 's', seq: 1 },
    ]);
    for (const deadline = Date.now() + 30_000; seen.length < 2 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    sub.unsubscribe();
    expect(seen).toEqual([1, 2]);
  });
});

describe('SessionStore writes: reading the metadata of a session not in memory fails', () => {
  it('rejects the appends of that batch with STORE_WRITE_FAILED, their events and the read error, and goes on', async () => {
    const { AbstractLevel } = await import('abstract-level');
    const readError = new Error('read error');
    vi.spyOn(AbstractLevel.prototype, 'getMany').mockRejectedValueOnce(readError);
    const events = [ev('a', 1, 'new'), ev('b', 2, 'new')];
    const [first, second] = await Promise.allSettled([
      t.store.append(events.slice(0, 1)),
      t.store.append(events.slice(1)),
    ]);
    for (const [outcome, written] of [
      [first, events.slice(0, 1)],
      [second, events.slice(1)],
    ] as const) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as StoreError;
      expect(error).toBeInstanceOf(StoreError);
      expect(error.code).toBe('STORE_WRITE_FAILED');
      expect(error.events).toEqual(written);
      // LevelDB's failure, not one of the store's own that followed from it; the message says which.
      expect(error.cause).toBe(readError);
      expect(error.message).toContain(`could not read session metadata at ${t.store.path}`);
    }
    expect(t.store.stats().writes).toBe(0);
    expect(await t.store.append(events)).toEqual([
      { sessionId: 'new', seq: 0 },
      { sessionId: 'new', seq: 1 },
    ]);
  });
});

describe('SessionStore writes: LevelDB refuses to begin a batch', () => {
  it('rejects the appends of that batch with STORE_WRITE_FAILED caused by the LevelDB error, and goes on', async () => {
    const { AbstractLevel } = await import('abstract-level');
    expect(await t.store.append([ev('a', 1, 's')])).toEqual([{ sessionId: 's', seq: 0 }]);
    const refused = Object.assign(new Error('Database is not open'), { code: 'LEVEL_DATABASE_NOT_OPEN' });
    vi.spyOn(AbstractLevel.prototype, 'batch').mockImplementationOnce(() => {
      throw refused;
    });
    const events = [ev('b', 2, 's'), ev('c', 3, 's')];
    const error = await t.store.append(events).catch((e: unknown) => e as StoreError);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'STORE_WRITE_FAILED', events });
    // LevelDB's failure, not one of the store's own that followed from it; the message reads its code.
    expect((error as StoreError).cause).toBe(refused);
    expect((error as StoreError).message).toContain('(the database is not open)');
    // Nothing was written, no seq taken.
    expect(await t.store.append(events)).toEqual([
      { sessionId: 's', seq: 1 },
      { sessionId: 's', seq: 2 },
    ]);
  });
});

describe('SessionStore writes: bad arguments', () => {
  it('refuses what is not an array of events, a bad session id or meta with ConfigError, writing nothing', async () => {
    const refused = [
      t.store.append('abc' as never),
      t.store.append({ length: 1, 0: ev('a', 1, 's') } as never),
      t.store.append([ev('a', 1, 's')], null as never),
      t.store.append([ev('a', 1, 's')], [] as never),
      t.store.startSession(''),
      t.store.startSession(5 as never),
      t.store.startSession(null as never),
      t.store.startSession('s', null as never),
      t.store.startSession('s', [1] as never),
      t.store.startSession('s', 'meta' as never),
      t.store.deleteSession(''),
      t.store.deleteSession(undefined as never),
    ];
    for (const [i, call] of refused.entries()) {
      expect({ i, error: await call.catch((e: unknown) => e) }).toEqual({
        i,
        error: expect.any(ConfigError),
      });
    }
    expect(await t.store.sessions()).toEqual([]);
    expect(t.store.stats().writes).toBe(0);
    // A null id is a missing one (a lookup that found none), not a request for a fresh id.
    expect(await t.store.startSession(null as never).catch((e: unknown) => e)).toMatchObject({
      message: 'sessionId must be a non-empty string, got null',
    });
    expect((await t.store.startSession(undefined, { a: 1 })).sessionId).toMatch(/^session-/);
  });

  it('refuses startSession and deleteSession after close() with STORE_NOT_OPEN', async () => {
    await t.store.close();
    for (const call of [t.store.startSession('s'), t.store.deleteSession('s'), t.store.startSession()]) {
      expect(await call.catch((e: unknown) => e)).toMatchObject({ code: 'STORE_NOT_OPEN' });
    }
  });
});

describe('SessionStore writes: urgent appends', () => {
  it('lets an urgent append overtake again once the appends an urgent batch kept waiting are written', async () => {
    const [u1, a] = [ev('workflow.failed', 1, 's'), ev('tool.used', 2, 's')];
    // u1 overtakes a; a, kept waiting by it, is written next.
    const first = await Promise.all([t.store.append([u1], { urgent: true }), t.store.append([a])]);
    expect(first.map((p) => p[0]!.seq)).toEqual([0, 1]);
    // The fairness rule was for a, written now: u2 overtakes b, queued with it.
    const [b, u2] = [ev('tool.used', 3, 's'), ev('workflow.failed', 4, 's')];
    const second = await Promise.all([t.store.append([b]), t.store.append([u2], { urgent: true })]);
    expect(second.map((p) => p[0]!.seq)).toEqual([3, 2]);
    expect(await collect(t.store.query('s'))).toEqual([u1, a, u2, b]);
  });

  it('never overtakes a deleteSession or startSession queued behind the urgent append written first', async () => {
    await t.store.append([ev('tool.used', 0, 's')]);
    const [u1, u2, u3] = [1, 2, 3].map((time) => ev('workflow.failed', time, 's'));
    // Queued in one tick: u1 goes alone (the delete stops its batch); u2 and u3, though urgent like u1,
    // wait for the delete and the start called before them.
    const [p1, deleted, p2, started, p3] = await Promise.all([
      t.store.append([u1], { urgent: true }),
      t.store.deleteSession('s'),
      t.store.append([u2], { urgent: true }),
      t.store.startSession('s', { owner: 'me' }),
      t.store.append([u3], { urgent: true }),
    ]);
    expect(p1).toEqual([{ sessionId: 's', seq: 1 }]);
    expect(deleted).toBe(true);
    // s starts over after the delete: u2 first, then the start (which sees u2 only), then u3.
    expect(p2).toEqual([{ sessionId: 's', seq: 0 }]);
    expect(started).toMatchObject({ eventCount: 1, nextSeq: 1, meta: { owner: 'me' } });
    expect(p3).toEqual([{ sessionId: 's', seq: 1 }]);
    expect(await collect(t.store.query('s'))).toEqual([u2, u3]);
  });
});

describe('SessionStore writes: an append made again (appendAgain, for persist at its teardown)', () => {
  it('takes only the pending append given that very array, once; not one written already or never made', async () => {
    const a = run(2, 0);
    const b = run(2, 10);
    const appendedA = t.store.append(a);
    const appendedB = t.store.append(b);
    // Events like b's, in another array: not b's append.
    expect(storeInternals.appendAgain(t.store, run(2, 10))).toBeUndefined();
    const againB = storeInternals.appendAgain(t.store, b);
    expect(againB).toBeInstanceOf(Promise);
    expect(storeInternals.appendAgain(t.store, b)).toBeUndefined();
    const positions = await appendedB;
    expect(await againB).toEqual(positions);
    expect(await appendedA).toEqual([
      { sessionId: 's', seq: 0 },
      { sessionId: 's', seq: 1 },
    ]);
    expect(storeInternals.appendAgain(t.store, a)).toBeUndefined();
    expect((await collect(t.store.query('s'))).map((event) => event.timestamp)).toEqual([0, 1, 10, 11]);
  });

  it('makes a failed append again while close() drains the queue, and close() waits for it', async () => {
    const { AbstractChainedBatch } = await import('abstract-level');
    const a = run(2, 0);
    const c = run(1, 20);
    let appendedC!: Promise<unknown>;
    let closing!: Promise<void>;
    // While a's write is in flight: c is appended and close() called; then a's write fails.
    vi.spyOn(AbstractChainedBatch.prototype, 'write').mockImplementationOnce(async () => {
      appendedC = t.store.append(c);
      closing = t.store.close();
      throw new Error('disk full');
    });
    let again: Promise<unknown> | undefined;
    // Its caller hears of the failure once c's write has started, and asks for it again while close()
    // waits for that write.
    const failed = await t.store.append(a).catch((error: unknown) => {
      again = storeInternals.appendAgain(t.store, a);
      return error;
    });
    expect(failed).toMatchObject({ code: 'STORE_WRITE_FAILED' });
    expect(again).toBeInstanceOf(Promise);
    await closing;
    expect(await appendedC).toEqual([{ sessionId: 's', seq: 0 }]);
    expect(await again).toEqual([
      { sessionId: 's', seq: 1 },
      { sessionId: 's', seq: 2 },
    ]);
    const store = await t.reopen();
    expect(await collect(store.query('s'))).toEqual([...c, ...a]);
    // Once the store is closed, there is nothing to make again, though the failed append is still
    // remembered (its caller may ask within the task it heard in; held here by stopping the timers).
    vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(new Error('disk full'));
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const lateEvents = run(1, 30);
      const late = store.append(lateEvents).catch(async () => {
        await store.close();
        return storeInternals.appendAgain(store, lateEvents);
      });
      expect(await late).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('SessionStore writes: after a write LevelDB itself failed (an I/O error, corruption)', () => {
  /** An error as classic-level gives it for a failed log write (docs/store.md, "A failed write"). */
  const engineError = (code: string) =>
    Object.assign(new Error(`IO error: ${t.store.path}/000003.log: No space left on device`), { code });

  for (const code of ['LEVEL_IO_ERROR', 'LEVEL_CORRUPTION']) {
    it(`${code}: refuses every later append, startSession and deleteSession with STORE_WRITE_FAILED (cause: that error) until the store is opened again`, async () => {
      const { AbstractChainedBatch } = await import('abstract-level');
      await t.store.append([ev('a', 1, 's')]);
      const failure = engineError(code);
      vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(failure);
      const failed = (await t.store.append([ev('b', 2, 's')]).catch((e: unknown) => e)) as StoreError;
      expect(failed.code).toBe('STORE_WRITE_FAILED');
      expect(failed.cause).toBe(failure);
      expect(failed.message).toBe(
        `LevelDB write failed at ${t.store.path}; 1 event(s) were not written: ${failure.message}. The store ` +
          'takes no more writes until it is closed and opened again (the writes after a failed one could be ' +
          'dropped at the next open): close it, make room (or fix the disk), open it again and write these ' +
          'events again',
      );
      // LevelDB would take these now (the mock failed one write): the store refuses them.
      const later = [ev('c', 3, 's'), ev('d', 4, 'new')];
      const outcomes = await Promise.allSettled([
        t.store.append(later),
        t.store.append([ev('e', 5, 's')], { urgent: true }),
        t.store.startSession('other', { owner: 'me' }),
        t.store.deleteSession('s'),
      ]);
      const reasons = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as StoreError) : o.value));
      for (const reason of reasons) {
        expect(reason).toBeInstanceOf(StoreError);
        expect((reason as StoreError).code).toBe('STORE_WRITE_FAILED');
        expect((reason as StoreError).cause).toBe(failure);
      }
      const [appended, urgent, started, deleted] = reasons as StoreError[];
      expect(appended!.events).toEqual(later);
      expect(urgent!.events).toHaveLength(1);
      expect(started!.events).toEqual([]);
      expect(appended!.message).toBe(
        `write refused: an earlier LevelDB write of this store failed at ${t.store.path}; 2 event(s) were not ` +
          `written: ${failure.message}. The store takes no more writes until it is closed and opened again ` +
          '(the writes after a failed one could be dropped at the next open): close it, make room (or fix the ' +
          'disk), open it again and write these events again',
      );
      expect(deleted!.message).toBe(
        `deleting session s at ${t.store.path} failed: write refused: an earlier LevelDB write of this store ` +
          `failed: ${failure.message}. The store takes no more writes until it is closed and opened again ` +
          '(the writes after a failed one could be dropped at the next open): close it, make room (or fix the ' +
          'disk), open it again and write these events again',
      );
      // Reads go on; nothing refused was written; opened again, the store takes writes where it stopped.
      expect((await collect(t.store.query('s'))).map((e) => e.type)).toEqual(['a']);
      expect(t.store.stats().writes).toBe(1);
      const store = await t.reopen();
      expect(await store.append([ev('c', 3, 's')])).toEqual([{ sessionId: 's', seq: 1 }]);
      expect(await store.deleteSession('s')).toBe(true);
    });
  }

  it('a failure that is not LevelDB’s own (the database closed, an error before the write reached it) leaves the store writing', async () => {
    const { AbstractChainedBatch } = await import('abstract-level');
    for (const failure of [
      new Error('disk full'),
      Object.assign(new Error('Database is not open'), { code: 'LEVEL_DATABASE_NOT_OPEN' }),
    ]) {
      const spy = vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(failure);
      const failed = (await t.store.append([ev('x', 1, 's')]).catch((e: unknown) => e)) as StoreError;
      spy.mockRestore();
      expect(failed.cause).toBe(failure);
      expect(failed.message).not.toContain('takes no more writes');
    }
    expect(await t.store.append([ev('a', 1, 's')])).toEqual([{ sessionId: 's', seq: 0 }]);
    expect(await t.store.deleteSession('s')).toBe(true);
  });

  it('a deleteSession whose write LevelDB fails stops the writes too; one whose read fails does not', async () => {
    const { AbstractLevel } = await import('abstract-level');
    await t.store.append([ev('a', 1, 's'), ev('a', 2, 'r')]);
    // The read of the session's records fails (LevelDB's code for it): nothing written, the store goes on.
    const readFailure = engineError('LEVEL_IO_ERROR');
    const get = vi.spyOn(AbstractLevel.prototype, 'get').mockRejectedValueOnce(readFailure);
    const unread = (await t.store.deleteSession('r').catch((e: unknown) => e)) as StoreError;
    get.mockRestore();
    expect(unread.cause).toBe(readFailure);
    expect(await t.store.append([ev('b', 3, 'r')])).toEqual([{ sessionId: 'r', seq: 1 }]);
    // The tombstone's write fails: the store takes no more writes.
    const writeFailure = engineError('LEVEL_IO_ERROR');
    const put = vi.spyOn(AbstractLevel.prototype, 'put').mockRejectedValueOnce(writeFailure);
    const unwritten = (await t.store.deleteSession('s').catch((e: unknown) => e)) as StoreError;
    put.mockRestore();
    expect(unwritten.cause).toBe(writeFailure);
    // It says it stopped the writes, as a failed append does.
    expect(unwritten.message).toBe(
      `deleting session s at ${t.store.path} failed: ${writeFailure.message}. The store takes no more ` +
        'writes until it is closed and opened again (the writes after a failed one could be dropped at the ' +
        'next open): close it, make room (or fix the disk), open it again and write these events again',
    );
    const refused = (await t.store.append([ev('c', 4, 'r')]).catch((e: unknown) => e)) as StoreError;
    expect(refused.code).toBe('STORE_WRITE_FAILED');
    expect(refused.cause).toBe(writeFailure);
    expect(refused.message).toContain('write refused: an earlier LevelDB write of this store failed');
    expect((await collect(t.store.query('r'))).map((e) => e.type)).toEqual(['a', 'b']);
  });

  it('a deletion an earlier deleteSession left unfinished, finished by the next write, whose clear LevelDB fails with an I/O error, stops the writes', async () => {
    const { AbstractLevel } = await import('abstract-level');
    await t.store.append([ev('a', 1, 's'), ev('a', 2, 'u')]);
    // The deletion stops after its tombstone (a failure that is not LevelDB's own: the store goes on).
    const clear = vi.spyOn(AbstractLevel.prototype, 'clear').mockRejectedValueOnce(new Error('stopped'));
    await expect(t.store.deleteSession('s')).rejects.toMatchObject({ code: 'STORE_WRITE_FAILED' });
    expect(await t.store.append([ev('b', 3, 'u')])).toEqual([{ sessionId: 'u', seq: 1 }]);
    // The next append to `s` finishes the deletion first: its clear writes, and that write fails.
    const failure = engineError('LEVEL_IO_ERROR');
    clear.mockRejectedValueOnce(failure);
    const failed = (await t.store.append([ev('c', 4, 's')]).catch((e: unknown) => e)) as StoreError;
    expect(failed.code).toBe('STORE_WRITE_FAILED');
    expect(failed.cause).toBe(failure);
    // What that write left in LevelDB's log is unknown: no later write is acknowledged (one was).
    const refused = (await t.store.append([ev('d', 5, 'u')]).catch((e: unknown) => e)) as StoreError;
    expect(refused.code).toBe('STORE_WRITE_FAILED');
    expect(refused.cause).toBe(failure);
    expect(failed.message).toMatch(/^LevelDB write failed at .*\. The store takes no more writes until/);
    clear.mockRestore();
    const store = await t.reopen();
    expect(await store.append([ev('d', 5, 'u')])).toEqual([{ sessionId: 'u', seq: 2 }]);
    expect(await collect(store.query('s'))).toEqual([]);
  });

  it('a deleteSession whose clear reads a damaged table file (LEVEL_CORRUPTION, a read) leaves the store writing', async () => {
    // Two sessions in one table file (written from the log when the store is opened again), compressible:
    // bytes flipped early in it damage a block of `s`'s events (session 0, first), which clear() reads.
    const text = (b: number) => ({ pad: `batch ${b} `.repeat(40) });
    for (let b = 0; b < 20; b++) {
      await t.store.append(
        Array.from({ length: 100 }, (_, i) => ev('tool.used', b * 100 + i, i % 2 ? 'u' : 's', text(b))),
      );
    }
    await t.reopen();
    await t.store.close();
    const tables = (await readdir(t.store.path)).filter((name) => name.endsWith('.ldb'));
    expect(tables).toHaveLength(1);
    const file = join(t.store.path, tables[0]!);
    const bytes = await readFile(file);
    const from = Math.floor(bytes.length * 0.2);
    for (let i = 0; i < 64; i++) bytes[from + i]! ^= 0xff;
    await writeFile(file, bytes);
    const store = await t.reopen();
    const unread = (await store.deleteSession('s').catch((e: unknown) => e)) as StoreError;
    expect(unread.code).toBe('STORE_WRITE_FAILED');
    expect((unread.cause as { code?: string }).code).toBe('LEVEL_CORRUPTION');
    expect(unread.message).not.toContain('takes no more writes');
    // No log write failed: the other session takes events (they were refused, the store stopped).
    expect(await store.append([ev('tool.used', 5000, 'u')])).toEqual([{ sessionId: 'u', seq: 1000 }]);
    expect(await store.startSession('v')).toMatchObject({ sessionId: 'v' });
  });
});
