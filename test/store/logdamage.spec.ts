/**
 * A damaged LevelDB log: what a crash leaves (a copy of an open store's folder, its log not yet
 * compacted) with bytes flipped in the middle of the log. LevelDB (classic-level cannot turn on its
 * `paranoid_checks`) drops the damaged part of the log at open and only says so in the folder's `LOG`
 * file; the store must report it and rebuild the metadata so that it agrees with the events.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CorruptRecord, openStore, type SessionStore, StoreError } from '../../src/index.js';
import { behindItsBack, collect, ev } from '../helpers/store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-logdamage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BATCHES = 40;
const PER_BATCH = 50;

/**
 * Appends 40 batches of 50 events (two sessions, `s` and `u`, interleaved) and copies the store's folder
 * while it is open: the copy is what a crash leaves. Flips 16 bytes at `at` (a fraction of the log's
 * length) of the copy's log when `at` is given. Returns the copy's path.
 */
async function crashCopy(at: number | undefined): Promise<string> {
  const path = join(dir, 'db');
  const store = await openStore({ path });
  for (let b = 0; b < BATCHES; b++) {
    await store.append(
      Array.from({ length: PER_BATCH }, (_, i) =>
        ev(i % 3 === 0 ? 'file.modified' : 'tool.used', 1000 + b * PER_BATCH + i, i % 2 === 0 ? 's' : 'u', {
          pad: 'x'.repeat(100),
        }),
      ),
    );
  }
  const copy = join(dir, 'copy');
  await cp(path, copy, { recursive: true });
  await store.close();
  if (at !== undefined) {
    const logs = (await readdir(copy)).filter((name) => name.endsWith('.log'));
    expect(logs).toHaveLength(1);
    const file = join(copy, logs[0]!);
    const bytes = await readFile(file);
    const from = Math.floor(bytes.length * at);
    for (let i = 0; i < 16; i++) bytes[from + i]! ^= 0xff;
    await writeFile(file, bytes);
  }
  return copy;
}

/** Checks every session's metadata against its stored events; returns the sessions' event counts. */
async function expectConsistent(store: SessionStore): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const infos = await store.sessions();
  expect(infos.map((info) => info.sessionId).sort()).toEqual(['s', 'u']);
  for (const info of infos) {
    const entries = await collect(store.entries(info.sessionId));
    const typeCounts: Record<string, number> = {};
    for (const { event } of entries) typeCounts[event.type] = (typeCounts[event.type] ?? 0) + 1;
    const times = entries.map((e) => e.event.timestamp);
    expect(info.eventCount, `eventCount of ${info.sessionId}`).toBe(entries.length);
    expect({ ...info.typeCounts }, `typeCounts of ${info.sessionId}`).toEqual(typeCounts);
    expect(info.startTime).toBe(Math.min(...times));
    expect(info.lastEventTime).toBe(Math.max(...times));
    // Never behind the highest seq stored.
    expect(info.nextSeq).toBeGreaterThan(entries.at(-1)!.seq);
    expect(await store.session(info.sessionId)).toEqual(info);
    expect((await collect(store.query(info.sessionId, { start: 0 }))).length).toBe(entries.length);
    counts.set(info.sessionId, entries.length);
  }
  return counts;
}

describe('SessionStore: a damaged LevelDB log', () => {
  it('reports the dropped part of the log and rebuilds every session to agree with its events', async () => {
    const copy = await crashCopy(0.5);
    const reports: CorruptRecord[] = [];
    const store = await openStore({ path: copy, onCorruptRecord: (r) => reports.push(r) });
    try {
      const logReports = reports.filter((r) => r.kind === 'log');
      expect(logReports.length).toBeGreaterThan(0);
      for (const r of logReports) {
        expect(r.reason).toMatch(/dropping \d+ bytes/);
        expect(r.sessionId).toBe('');
        expect(r.seq).toBeUndefined();
        expect(r.error.code).toBe('STORE_READ_FAILED');
        expect(r.error.message).toContain(r.reason);
      }
      expect(store.stats().corruptRecords).toBe(reports.length);

      const counts = await expectConsistent(store);
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      // The damage dropped events (else this test shows nothing) but not the last batch.
      expect(total).toBeLessThan(BATCHES * PER_BATCH);
      const s = await collect(store.entries('s'));
      expect(s.at(-1)!.seq).toBe((BATCHES * PER_BATCH) / 2 - 1);
      // A gap stays a gap: the next seq is past the highest one stored.
      expect(await store.append([ev('tool.used', 9999, 's')])).toEqual([
        { sessionId: 's', seq: (BATCHES * PER_BATCH) / 2 },
      ]);
    } finally {
      await store.close();
    }

    // The rebuilt metadata was written: the next open (LevelDB has compacted the log away, its LOG says
    // nothing) reports nothing and still agrees.
    const again: CorruptRecord[] = [];
    const reopened = await openStore({ path: copy, onCorruptRecord: (r) => again.push(r) });
    try {
      expect(again).toEqual([]);
      await expectConsistent(reopened);
      expect((await reopened.session('s'))!.nextSeq).toBe((BATCHES * PER_BATCH) / 2 + 1);
    } finally {
      await reopened.close();
    }
  });

  it('gives a new session a number of its own when the batch that created the others was dropped', async () => {
    // The first block of the log holds the batches that created `s` and `u`: their id records and the
    // session counter go with them; their metadata, written again by every later batch, survives.
    const copy = await crashCopy(0.001);
    const reports: CorruptRecord[] = [];
    const store = await openStore({ path: copy, onCorruptRecord: (r) => reports.push(r) });
    try {
      expect(reports.filter((r) => r.kind === 'log').length).toBeGreaterThan(0);
      const before = await expectConsistent(store);
      expect((await collect(store.entries('s')))[0]!.seq).toBeGreaterThan(0);
      const fresh = ev('new.type', 5, 'n');
      expect(await store.append([fresh])).toEqual([{ sessionId: 'n', seq: 0 }]);
      expect(await collect(store.query('n'))).toEqual([fresh]);
      for (const id of ['s', 'u']) {
        const events = await collect(store.query(id));
        expect(events.some((e) => e.type === 'new.type')).toBe(false);
        expect(events).toHaveLength(before.get(id)!);
      }
    } finally {
      await store.close();
    }
  });

  it('reports nothing for an undamaged crash copy', async () => {
    const copy = await crashCopy(undefined);
    const reports: CorruptRecord[] = [];
    const store = await openStore({ path: copy, onCorruptRecord: (r) => reports.push(r) });
    try {
      expect(reports).toEqual([]);
      expect(store.stats().corruptRecords).toBe(0);
      const counts = await expectConsistent(store);
      expect([...counts.values()]).toEqual([(BATCHES * PER_BATCH) / 2, (BATCHES * PER_BATCH) / 2]);
    } finally {
      await store.close();
    }
  });

  it('finishes a rebuild that an earlier open began and did not finish (reporting its lines again)', async () => {
    const path = await pendingRepair(JSON.stringify(['(ignoring error) x/000003.log: dropping 10 bytes']));
    const reports: CorruptRecord[] = [];
    const reopened = await openStore({ path, onCorruptRecord: (r) => reports.push(r) });
    try {
      expect(reports).toMatchObject([
        { kind: 'log', reason: '(ignoring error) x/000003.log: dropping 10 bytes' },
      ]);
      expect(await reopened.session('s')).toMatchObject({
        eventCount: 2,
        nextSeq: 9,
        typeCounts: { a: 1, b: 1 },
      });
      expect(await reopened.session('u')).toMatchObject({ eventCount: 1, nextSeq: 1 });
    } finally {
      await reopened.close();
    }
    const again: CorruptRecord[] = [];
    const last = await openStore({ path, onCorruptRecord: (r) => again.push(r) });
    expect(again).toEqual([]);
    await last.close();
  });

  /**
   * A store with sessions `s` (2 events) and `u` (1) whose metadata of `s` is wrong (7 events), and a
   * `repair` record holding `record`: what an open that died during its rebuild leaves (the metadata
   * does not agree with the events, as after a dropped log block).
   */
  async function pendingRepair(record: string): Promise<string> {
    const path = join(dir, 'db');
    const store = await openStore({ path });
    await store.append([ev('a', 1, 's'), ev('b', 2, 's'), ev('a', 3, 'u')]);
    await behindItsBack(store, async (raw) => {
      const meta = JSON.parse((await raw.get('!s!s'))!);
      await raw.put('!s!s', JSON.stringify({ ...meta, eventCount: 7, nextSeq: 9, typeCounts: { a: 7 } }));
      await raw.put('!store!repair', record);
    });
    return path;
  }

  it('finishes a rebuild whose record is damaged, reporting only the lines it can read of it', async () => {
    const cases: Array<[string, string[]]> = [
      ['{"broken', []],
      ['"a line"', []],
      ['{"0":"a line"}', []],
      [JSON.stringify(['first', 5, null, ['x'], 'second']), ['first', 'second']],
    ];
    for (const [record, lines] of cases) {
      const path = await pendingRepair(record);
      const reports: CorruptRecord[] = [];
      const store = await openStore({ path, onCorruptRecord: (r) => reports.push(r) });
      try {
        expect(
          reports.map((r) => [r.kind, r.reason]),
          record,
        ).toEqual(lines.map((line) => ['log', line]));
        expect(await store.session('s')).toMatchObject({ eventCount: 2, typeCounts: { a: 1, b: 1 } });
      } finally {
        await store.close();
      }
      await rm(path, { recursive: true, force: true });
    }
  });

  it('refuses the open (STORE_NOT_OPEN) when writing the rebuild fails, and lets a later open finish it', async () => {
    const path = await pendingRepair(JSON.stringify(['(ignoring error) x/000003.log: dropping 10 bytes']));
    const { AbstractChainedBatch } = await import('abstract-level');
    const failure = new Error('disk full');
    const spy = vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(failure);
    const error = await openStore({ path }).catch((e: unknown) => e);
    spy.mockRestore();
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'STORE_NOT_OPEN', path, cause: failure });
    expect((error as StoreError).message).toBe(
      `Could not open the event store at ${path}: rebuilding the session metadata after LevelDB dropped part of its log failed: disk full`,
    );
    // Closed: the next open is not refused as locked; the rebuild's record is still there, so it finishes it.
    const reports: CorruptRecord[] = [];
    const store = await openStore({ path, onCorruptRecord: (r) => reports.push(r) });
    try {
      expect(reports.map((r) => r.reason)).toEqual(['(ignoring error) x/000003.log: dropping 10 bytes']);
      expect(await store.session('s')).toMatchObject({ eventCount: 2, typeCounts: { a: 1, b: 1 } });
    } finally {
      await store.close();
    }
  });

  it('opens and reports nothing when LevelDB could not create its LOG (a folder in its place)', async () => {
    const path = join(dir, 'db');
    const store = await openStore({ path });
    await store.append([ev('a', 1, 's')]);
    await store.close();
    // LevelDB moves LOG to LOG.old (here it cannot: a folder that is not empty) and then cannot create it.
    await rm(join(path, 'LOG'), { force: true });
    await rm(join(path, 'LOG.old'), { force: true });
    await mkdir(join(path, 'LOG'));
    await mkdir(join(path, 'LOG.old', 'x'), { recursive: true });
    const reports: CorruptRecord[] = [];
    const reopened = await openStore({ path, onCorruptRecord: (r) => reports.push(r) });
    try {
      expect(reports).toEqual([]);
      expect((await collect(reopened.query('s'))).map((e) => e.timestamp)).toEqual([1]);
      expect(await reopened.append([ev('a', 2, 's')])).toEqual([{ sessionId: 's', seq: 1 }]);
    } finally {
      await reopened.close();
    }
  });

  it('opens, reporting the session, when a session whose events a damaged table holds cannot be rebuilt', async () => {
    // A disk error can damage a table file beside the log: reading that block fails. Before the log
    // damage, the store opened and only reads of that block failed; the rebuild must not turn it into a
    // store that no open can open (its record of the pending rebuild kept each failed open failing).
    const path = join(dir, 'db');
    let store = await openStore({ path });
    const text = (b: number) => ({ pad: `batch ${b} `.repeat(40) }); // compressible: a block is snappy
    for (let b = 0; b < 20; b++) {
      await store.append(
        Array.from({ length: 100 }, (_, i) => ev('tool.used', b * 100 + i, i % 2 ? 'u' : 's', text(b))),
      );
    }
    await store.close();
    // Reopened, LevelDB writes the log to a table file; the next events go to a new log.
    store = await openStore({ path });
    for (let b = 20; b < 60; b++) {
      await store.append(
        Array.from({ length: 50 }, (_, i) => ev('tool.used', b * 100 + i, i % 2 ? 'u' : 's', text(b))),
      );
    }
    const copy = join(dir, 'copy');
    await cp(path, copy, { recursive: true });
    await store.close();
    const flip = async (suffix: string, at: number, n: number) => {
      const names = (await readdir(copy)).filter((name) => name.endsWith(suffix));
      expect(names).toHaveLength(1);
      const file = join(copy, names[0]!);
      const bytes = await readFile(file);
      const from = Math.floor(bytes.length * at);
      for (let i = 0; i < n; i++) bytes[from + i]! ^= 0xff;
      await writeFile(file, bytes);
    };
    await flip('.log', 0.5, 16);
    // Early in the table: the events of `s` (session 0), which come first.
    await flip('.ldb', 0.2, 64);

    for (let run = 0; run < 2; run++) {
      const reports: CorruptRecord[] = [];
      const opened = await openStore({ path: copy, onCorruptRecord: (r) => reports.push(r) });
      try {
        if (run === 0) {
          expect(reports.filter((r) => r.kind === 'log').length).toBeGreaterThan(0);
          expect(reports.filter((r) => r.kind === 'session').map((r) => r.sessionId)).toEqual(['s']);
        } else expect(reports).toEqual([]);
        // The other session was rebuilt and reads back whole; `s` fails where its block is damaged.
        const u = await collect(opened.entries('u'));
        expect((await opened.session('u'))!.eventCount).toBe(u.length);
        // A damaged table found after the open: the read fails as a failed read, not as a closed store.
        await expect(collect(opened.entries('s'))).rejects.toMatchObject({
          code: 'STORE_READ_FAILED',
          message: expect.stringMatching(/Corruption/),
        });
      } finally {
        await opened.close();
      }
    }
  });
});
