/**
 * Session numbers and seqs at the end of their range: a store whose counter reaches past
 * Number.MAX_SAFE_INTEGER (a damaged or forged record holds that number) refuses new sessions rather than
 * give two of them the same number (2 ** 53 + 1 === 2 ** 53: one key space, their events mixed), and goes
 * on for the others; a session whose seqs reach past it refuses appends rather than give two events the
 * same seq (the second overwriting the first, both acknowledged).
 */
import type { Level } from 'level';
import { from, lastValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Event, persist, type SessionStore, StoreError } from '../../src/index.js';
import { storeInternals } from '../../src/store/SessionStore.js';
import { behindItsBack, collect, ev, type TempStore, tempStore } from '../helpers/store.js';

const LAST = Number.MAX_SAFE_INTEGER;

let t: TempStore;
beforeEach(async () => {
  t = await tempStore();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await t.cleanup();
});

/**
 * Gives session `sessionId` number `n` behind the store's back, as a forged or garbled record would: its
 * metadata and id record hold `n`, and its events and index entries move to `n`'s key space.
 */
async function renumber(raw: Level<string, string>, sessionId: string, n: number): Promise<void> {
  const meta = JSON.parse((await raw.get(`!s!${sessionId}`))!) as { n: number };
  const from = meta.n.toString(36);
  const to = n.toString(36);
  for (const space of ['e', 'i']) {
    const prefix = `!${space}!${from}\x00`;
    for await (const [key, value] of raw.iterator({ gte: prefix, lt: `!${space}!${from}\x01` })) {
      await raw.del(key);
      await raw.put(`!${space}!${to}\x00${key.slice(prefix.length)}`, value);
    }
  }
  await raw.put(`!s!${sessionId}`, JSON.stringify({ ...meta, n }));
  await raw.put(`!n!${sessionId}`, String(n));
}

/** What `promise` rejected with (fails the test if it resolved). */
async function refusal(promise: Promise<unknown>): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(StoreError);
  return error as StoreError;
}

/** Checks a refusal of new session `sessionId`: its code, what it carries, what its message names. */
function expectRefused(error: StoreError, store: SessionStore, sessionId: string, events: Event[]): void {
  expect(error).toMatchObject({ code: 'STORE_WRITE_FAILED', path: store.path, events });
  const unwritten = `${events.length} event(s) were not written`;
  for (const part of [store.path, `'${sessionId}'`, 'no session number is left', String(LAST), unwritten]) {
    expect(error.message).toContain(part);
  }
}

/** Every session's events, read back one session at a time. */
async function eventsOf(store: SessionStore, ids: readonly string[]): Promise<Record<string, Event[]>> {
  const out: Record<string, Event[]> = {};
  for (const id of ids) out[id] = await collect(store.query(id));
  return out;
}

/** Stores `a` (session 'a') and `b` (session 'b', renumbered to the last number), with no counter record. */
async function exhausted(a: Event[], b: Event[]): Promise<SessionStore> {
  await t.store.append([...a, ...b]);
  await behindItsBack(t.store, async (raw) => {
    await renumber(raw, 'b', LAST);
    await raw.del('!store!nextSession');
  });
  return t.reopen();
}

describe('session numbers past Number.MAX_SAFE_INTEGER', () => {
  it('refuses a new session when the counter record is gone and a record holds the last number; the stored sessions go on', async () => {
    const a = [ev('x', 1, 'a'), ev('x', 2, 'a')];
    const b = [ev('x', 1, 'b'), ev('x', 2, 'b'), ev('x', 3, 'b')];
    await t.store.append([...a, ...b]);
    await behindItsBack(t.store, async (raw) => {
      await renumber(raw, 'b', LAST);
      await raw.del('!store!nextSession');
    });
    const store = await t.reopen();
    const c = [ev('y', 4, 'c')];
    expectRefused(await refusal(store.append(c)), store, 'c', c);
    expectRefused(await refusal(store.startSession('d', { k: 1 })), store, 'd', []);
    // Refused again, not given a number on a second try.
    const e = [ev('y', 5, 'e'), ev('y', 6, 'a')];
    expectRefused(await refusal(store.append(e)), store, 'e', e);
    // The session holding the last number, and the others, still take events.
    const more = [ev('z', 7, 'a'), ev('z', 8, 'b')];
    expect(await store.append(more)).toEqual([
      { sessionId: 'a', seq: 2 },
      { sessionId: 'b', seq: 3 },
    ]);
    const expected = { a: [...a, more[0]!], b: [...b, more[1]!], c: [], d: [], e: [] };
    expect(await eventsOf(store, Object.keys(expected))).toEqual(expected);
    expect((await store.sessions()).map((info) => info.sessionId)).toEqual(['a', 'b']);
    // A group whose jobs are all refused writes no batch: only the last append was written.
    expect(store.stats()).toMatchObject({ writes: 1, eventsWritten: 2 });
    // Still so once reopened: the counter the store wrote is past the range, so it is counted again.
    const reopened = await t.reopen();
    expectRefused(await refusal(reopened.append(c)), reopened, 'c', c);
    expect(await eventsOf(reopened, Object.keys(expected))).toEqual(expected);
  });

  it('refuses a new session when only event keys hold the last number (no record names their session)', async () => {
    const stored = [ev('x', 1, 'a'), ev('x', 2, 'b')];
    await t.store.append(stored);
    await behindItsBack(t.store, async (raw) => {
      await renumber(raw, 'b', LAST);
      await raw.del('!s!b');
      await raw.del('!n!b');
      await raw.put('!store!nextSession', 'garbage');
    });
    const store = await t.reopen();
    const c = [ev('y', 3, 'c')];
    expectRefused(await refusal(store.append(c)), store, 'c', c);
    const more = ev('y', 4, 'a');
    expect(await store.append([more])).toEqual([{ sessionId: 'a', seq: 1 }]);
    expect(await eventsOf(store, ['a', 'c'])).toEqual({ a: [stored[0]!, more], c: [] });
  });

  it('gives the last number once when the counter holds it, then refuses: no two sessions share a number', async () => {
    const a = [ev('x', 1, 'a')];
    await t.store.append(a);
    await behindItsBack(t.store, async (raw) => {
      await raw.put('!store!nextSession', String(LAST));
    });
    const store = await t.reopen();
    const c = [ev('y', 2, 'c')];
    expect(await store.append(c)).toEqual([{ sessionId: 'c', seq: 0 }]);
    const d = [ev('y', 3, 'd')];
    const e = [ev('y', 4, 'e')];
    expectRefused(await refusal(store.append(d)), store, 'd', d);
    expectRefused(await refusal(store.append(e)), store, 'e', e);
    expect(await store.session('c')).toMatchObject({ eventCount: 1, nextSeq: 1 });
    const expected = { a, c, d: [], e: [] };
    expect(await eventsOf(store, Object.keys(expected))).toEqual(expected);
    const reopened = await t.reopen();
    expectRefused(await refusal(reopened.append(d)), reopened, 'd', d);
    expect(await eventsOf(reopened, Object.keys(expected))).toEqual(expected);
  });

  it('refuses only the jobs that need a new session in a batch shared with others', async () => {
    const a = [ev('x', 1, 'a')];
    const b = [ev('x', 2, 'b')];
    await t.store.append([...a, ...b]);
    await behindItsBack(t.store, async (raw) => {
      await renumber(raw, 'b', LAST);
      await raw.del('!store!nextSession');
    });
    const store = await t.reopen();
    // Called in one tick: one group, written as one batch.
    const first = [ev('y', 3, 'a')];
    const refused = [ev('y', 4, 'new'), ev('y', 5, 'b')];
    const last = [ev('y', 6, 'b')];
    const results = await Promise.allSettled([
      store.append(first),
      store.startSession('other'),
      store.append(refused),
      store.startSession('a', { kept: true }),
      store.append(last),
    ]);
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expectRefused((results[1] as PromiseRejectedResult).reason as StoreError, store, 'other', []);
    expectRefused((results[2] as PromiseRejectedResult).reason as StoreError, store, 'new', refused);
    expect(results[4]).toEqual({ status: 'fulfilled', value: [{ sessionId: 'b', seq: 1 }] });
    expect(await store.session('a')).toMatchObject({ eventCount: 2, meta: { kept: true } });
    const expected = { a: [...a, ...first], b: [...b, ...last], new: [], other: [] };
    expect(await eventsOf(store, Object.keys(expected))).toEqual(expected);
  });

  it('refuses a new session after the repair at open found a session holding the last number', async () => {
    const a = [ev('x', 1, 'a')];
    const b = [ev('x', 2, 'b')];
    await t.store.append([...a, ...b]);
    await behindItsBack(t.store, async (raw) => {
      // The batch that wrote the counter past `b` was lost, `b`'s metadata survived.
      await renumber(raw, 'b', LAST);
      await raw.put('!store!nextSession', '2');
      await raw.put('!store!repair', JSON.stringify(['(ignoring error) x/000003.log: dropping 10 bytes']));
    });
    const store = await t.reopen({ onCorruptRecord: () => {} });
    const c = [ev('y', 3, 'c')];
    const d = [ev('y', 4, 'd')];
    expectRefused(await refusal(store.append(c)), store, 'c', c);
    expectRefused(await refusal(store.append(d)), store, 'd', d);
    const more = ev('z', 5, 'a');
    expect(await store.append([more])).toEqual([{ sessionId: 'a', seq: 1 }]);
    const expected = { a: [...a, more], b, c: [], d: [] };
    expect(await eventsOf(store, Object.keys(expected))).toEqual(expected);
  });

  it('refuses the second try persist asks for (appendAgain) as it refused the first', async () => {
    const store = await exhausted([ev('x', 1, 'a')], [ev('x', 2, 'b')]);
    const c = [ev('y', 3, 'c')];
    const appended = store.append(c);
    const again = storeInternals.appendAgain(store, c);
    expect(again).toBeInstanceOf(Promise);
    const [first, second] = await Promise.all([refusal(appended), refusal(again!)]);
    expectRefused(first, store, 'c', c);
    expect(second).toBe(first);
    expect(await collect(store.query('c'))).toEqual([]);
  });

  it('fails persist with STORE_WRITE_FAILED, the events not written attached, when its batch needs a new session', async () => {
    const a = [ev('x', 1, 'a')];
    const store = await exhausted(a, [ev('x', 2, 'b')]);
    const batch = [ev('y', 3, 'a'), ev('y', 4, 'c'), ev('y', 5, 'a')];
    const error = await refusal(lastValueFrom(from(batch).pipe(persist(store))));
    expect(error).toMatchObject({ code: 'STORE_WRITE_FAILED', events: batch });
    expectRefused(error.cause as StoreError, store, 'c', batch);
    // Nothing of the batch was written; a pipeline of the stored sessions' events goes on.
    const more = [ev('z', 6, 'a'), ev('z', 7, 'b')];
    expect(await lastValueFrom(from(more).pipe(persist(store)))).toEqual(more[1]);
    expect(await eventsOf(store, ['a', 'c'])).toEqual({ a: [...a, more[0]!], c: [] });
  });

  it('takes new sessions again once the session holding the last number is deleted and the store reopened', async () => {
    const a = [ev('x', 1, 'a')];
    let store = await exhausted(a, [ev('x', 2, 'b')]);
    const c = [ev('y', 3, 'c')];
    expectRefused(await refusal(store.append(c)), store, 'c', c);
    expect(await store.deleteSession('b')).toBe(true);
    store = await t.reopen();
    const d = [ev('y', 4, 'd')];
    expect(await store.append([...c, ...d])).toEqual([
      { sessionId: 'c', seq: 0 },
      { sessionId: 'd', seq: 0 },
    ]);
    const expected = { a, b: [], c, d };
    expect(await eventsOf(store, Object.keys(expected))).toEqual(expected);
  });

  it('writes no counter record with a batch that creates no session: a missing one is counted again at the next open', async () => {
    const a = [ev('x', 1, 'a')];
    await t.store.append([...a, ev('x', 2, 'b')]);
    await behindItsBack(t.store, async (raw) => {
      await renumber(raw, 'b', LAST - 1);
      await raw.del('!store!nextSession');
    });
    let store = await t.reopen();
    // Counted at open: one number left. A write to a stored session only, then the one near the end deleted.
    const more = [ev('y', 3, 'a')];
    expect(await store.append(more)).toEqual([{ sessionId: 'a', seq: 1 }]);
    expect(await store.deleteSession('b')).toBe(true);
    store = await t.reopen();
    // Counted again from the records left (docs/store.md, "Key layout"): numbers for both new sessions.
    const c = [ev('z', 4, 'c'), ev('z', 5, 'd')];
    expect(await store.append(c)).toEqual([
      { sessionId: 'c', seq: 0 },
      { sessionId: 'd', seq: 0 },
    ]);
    const expected = { a: [...a, ...more], b: [], c: c.slice(0, 1), d: c.slice(1) };
    expect(await eventsOf(store, Object.keys(expected))).toEqual(expected);
  });
});

/** Checks a refusal of an append to `sessionId`, whose seqs are used up. */
function expectSeqsRefused(error: StoreError, store: SessionStore, sessionId: string, events: Event[]): void {
  expect(error).toMatchObject({ code: 'STORE_WRITE_FAILED', path: store.path, events });
  const unwritten = `${events.length} event(s) were not written`;
  for (const part of [
    store.path,
    `'${sessionId}'`,
    'sequence numbers are used up',
    String(LAST),
    unwritten,
  ]) {
    expect(error.message).toContain(part);
  }
}

/** A session's stored entries as [seq, type]. */
async function entriesOf(store: SessionStore, sessionId: string): Promise<Array<[number, string]>> {
  return (await collect(store.entries(sessionId))).map(({ seq, event }) => [seq, event.type]);
}

/** The key of event `seq` of session number 0 (the store's first session). */
const firstSessionKey = (seq: string) => `!e!0\x00${seq.padStart(16, '0')}`;

describe('sequence numbers past Number.MAX_SAFE_INTEGER', () => {
  for (const forged of [String(LAST), '9999999999999999']) {
    it(`refuses appends to a session one of whose event keys holds seq ${forged}; no event overwrites another`, async () => {
      await t.store.append([ev('x', 1, 'a'), ev('x', 2, 'b')]);
      await behindItsBack(t.store, async (raw) => {
        await raw.put(firstSessionKey(forged), (await raw.get(firstSessionKey('0')))!);
      });
      const store = await t.reopen({ onCorruptRecord: () => {} });
      const before = await entriesOf(store, 'a');
      expect(before).toHaveLength(2);
      const y = [ev('y', 3, 'a')];
      const z = [ev('z', 4, 'b'), ev('z', 5, 'a')];
      expectSeqsRefused(await refusal(store.append(y)), store, 'a', y);
      expectSeqsRefused(await refusal(store.append(z)), store, 'a', z);
      // The other sessions, a new one included, still take events.
      expect(await store.append([ev('w', 6, 'b'), ev('w', 7, 'c')])).toEqual([
        { sessionId: 'b', seq: 1 },
        { sessionId: 'c', seq: 0 },
      ]);
      expect(await entriesOf(store, 'a')).toEqual(before);
      expect(await entriesOf(store, 'b')).toEqual([
        [0, 'x'],
        [1, 'w'],
      ]);
    });
  }

  it('gives the last seq once when the metadata holds it, then refuses; a reopen reads that metadata as sound', async () => {
    await t.store.append([ev('x', 1, 'a'), ev('x', 2, 'b')]);
    await behindItsBack(t.store, async (raw) => {
      const meta = JSON.parse((await raw.get('!s!a'))!) as Record<string, unknown>;
      await raw.put('!s!a', JSON.stringify({ ...meta, nextSeq: LAST }));
    });
    let store = await t.reopen();
    // Two events where one seq is left: refused whole.
    const two = [ev('y', 3, 'a'), ev('y', 4, 'a')];
    expectSeqsRefused(await refusal(store.append(two)), store, 'a', two);
    expect(await store.append([ev('y', 5, 'a')])).toEqual([{ sessionId: 'a', seq: LAST }]);
    // Called in one tick (one batch): only the append to 'a' is refused.
    const z = [ev('z', 6, 'a')];
    const results = await Promise.allSettled([
      store.append([ev('w', 7, 'b')]),
      store.append(z),
      store.append([ev('w', 8, 'b')]),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expectSeqsRefused((results[1] as PromiseRejectedResult).reason as StoreError, store, 'a', z);
    // The refused events are not counted as written: one append before, one batch of two here.
    expect(store.stats()).toMatchObject({ writes: 2, eventsWritten: 3 });
    const reports: unknown[] = [];
    store = await t.reopen({ onCorruptRecord: (record) => reports.push(record) });
    expectSeqsRefused(await refusal(store.append(z)), store, 'a', z);
    expect(reports).toEqual([]);
    expect(await store.session('a')).toMatchObject({ eventCount: 2, nextSeq: LAST + 1 });
    expect(await entriesOf(store, 'a')).toEqual([
      [0, 'x'],
      [LAST, 'y'],
    ]);
    expect(await entriesOf(store, 'b')).toEqual([
      [0, 'x'],
      [1, 'w'],
      [2, 'w'],
    ]);
  });
});

/**
 * Stores sessions 'a', 'b' and 'c' (numbers 0, 1, 2), then behind the store's back: an event key of 'a' at
 * the last seq (its seqs used up), 'c' renumbered to the last number and no counter record (no number
 * left). Reopens.
 */
async function usedUpAndExhausted(): Promise<SessionStore> {
  await t.store.append([ev('x', 1, 'a'), ev('x', 2, 'b'), ev('x', 3, 'c')]);
  await behindItsBack(t.store, async (raw) => {
    await raw.put(firstSessionKey(String(LAST)), (await raw.get(firstSessionKey('0')))!);
    await renumber(raw, 'c', LAST);
    await raw.del('!store!nextSession');
  });
  return t.reopen({ onCorruptRecord: () => {} });
}

/** Pushes to `log` how `promise` settled: `label` and 'ok', or the kind of its refusal or failure. */
function settled(log: string[], label: string, promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => log.push(`${label} ok`),
    (error: StoreError) => {
      const kind = error.message.includes('sequence numbers are used up')
        ? 'seqs used up'
        : error.message.includes('no session number is left')
          ? 'no number'
          : `${error.code} ${String(error.cause)}`;
      log.push(`${label} ${kind}`);
    },
  );
}

describe('a batch with refused jobs', () => {
  it('settles its jobs in the order queued, after notifying tails of the events written', async () => {
    const store = await usedUpAndExhausted();
    const log: string[] = [];
    storeInternals.watch(store, 'b', {
      next: (entries) =>
        log.push(`tail ${entries.map(({ seq, event }) => `${seq}:${event.type}`).join(' ')}`),
      complete: () => {},
    });
    // Called in one tick: one group.
    await Promise.all([
      settled(log, 'A', store.append([ev('y', 4, 'a')])),
      settled(log, 'B', store.append([ev('B', 5, 'b')])),
      settled(log, 'C', store.append([ev('y', 6, 'b'), ev('y', 7, 'a')])),
      settled(log, 'D', store.startSession('d')),
      settled(log, 'E', store.append([ev('E', 8, 'b')])),
    ]);
    expect(log).toEqual(['tail 1:B 2:E', 'A seqs used up', 'B ok', 'C seqs used up', 'D no number', 'E ok']);
  });

  it('rejects its jobs in the order queued when its write fails, each refused one with its refusal', async () => {
    const store = await usedUpAndExhausted();
    const { AbstractChainedBatch } = await import('abstract-level');
    vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(new Error('disk full'));
    const log: string[] = [];
    const first = store.append([ev('y', 4, 'a')]);
    const b = [ev('B', 5, 'b')];
    const appended = store.append(b);
    // Made again once, in its place, as persist asks when its subscriber left: written then.
    const again = storeInternals.appendAgain(store, b)!;
    await Promise.all([
      settled(log, 'A', first),
      settled(log, 'B', appended),
      settled(log, 'C', store.append([ev('y', 6, 'new')])),
      settled(log, 'D', store.append([ev('D', 7, 'b')])),
    ]);
    expect(log).toEqual([
      'A seqs used up',
      'B STORE_WRITE_FAILED Error: disk full',
      'C no number',
      'D STORE_WRITE_FAILED Error: disk full',
    ]);
    expect(await again).toEqual([{ sessionId: 'b', seq: 1 }]);
    expect(await entriesOf(store, 'b')).toEqual([
      [0, 'x'],
      [1, 'B'],
    ]);
    await store.close();
  });

  it('keeps no refused job of a failed write for a second try: appendAgain after the failure makes only the failed one again', async () => {
    const store = await usedUpAndExhausted();
    const { AbstractChainedBatch } = await import('abstract-level');
    vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(new Error('disk full'));
    const usedUp = [ev('y', 4, 'a')];
    const failed = [ev('B', 5, 'b')];
    const noNumber = [ev('y', 6, 'new')];
    const results = await Promise.allSettled([
      store.append(usedUp),
      store.append(failed),
      store.append(noNumber),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    // Asked in the task that heard of the failure, as persist does: the refused ones would be refused again.
    expect(storeInternals.appendAgain(store, usedUp)).toBeUndefined();
    expect(storeInternals.appendAgain(store, noNumber)).toBeUndefined();
    const again = storeInternals.appendAgain(store, failed);
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toEqual([{ sessionId: 'b', seq: 1 }]);
    await store.close();
  });

  it('gives no session number to a job it refuses for its seqs: the next new session takes the last one', async () => {
    const a = [ev('x', 1, 'a')];
    await t.store.append(a);
    await behindItsBack(t.store, async (raw) => {
      await raw.put(firstSessionKey(String(LAST)), (await raw.get(firstSessionKey('0')))!);
      await raw.put('!store!nextSession', String(LAST));
    });
    let store = await t.reopen({ onCorruptRecord: () => {} });
    // 'c' is new: it would take the last number, but the append is refused for the seqs of 'a'.
    const refused = [ev('y', 2, 'c'), ev('y', 3, 'a')];
    expectSeqsRefused(await refusal(store.append(refused)), store, 'a', refused);
    const d = [ev('y', 4, 'd')];
    expect(await store.append(d)).toEqual([{ sessionId: 'd', seq: 0 }]);
    const e = [ev('y', 5, 'e')];
    expectRefused(await refusal(store.append(e)), store, 'e', e);
    store = await t.reopen({ onCorruptRecord: () => {} });
    expectRefused(await refusal(store.append(refused.slice(0, 1))), store, 'c', refused.slice(0, 1));
    expect(await eventsOf(store, ['c', 'd', 'e'])).toEqual({ c: [], d, e: [] });
  });

  it('gives the numbers left to the jobs in the order queued: one needing more than are left gets none', async () => {
    await t.store.append([ev('x', 1, 'a')]);
    await behindItsBack(t.store, async (raw) => {
      await raw.put('!store!nextSession', String(LAST - 1));
    });
    const store = await t.reopen();
    // Two numbers left. Called in one tick: one group.
    const first = [ev('y', 2, 'c')];
    const tooMany = [ev('y', 3, 'd'), ev('y', 4, 'c'), ev('y', 5, 'e')];
    const last = [ev('y', 6, 'f')];
    const results = await Promise.allSettled([
      store.append(first),
      store.append(tooMany),
      store.append(last),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // 'c' has its number: 'd' takes the one left, 'e' gets none.
    expectRefused((results[1] as PromiseRejectedResult).reason as StoreError, store, 'e', tooMany);
    expect(await store.append([ev('z', 7, 'd')]).catch((error: StoreError) => error.message)).toContain(
      'no session number is left',
    );
    expect(await eventsOf(store, ['c', 'd', 'e', 'f'])).toEqual({ c: first, d: [], e: [], f: last });
  });
});
