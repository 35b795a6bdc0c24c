/**
 * Crash safety of the store's own operations: a child calls `append` (big, small and many at once,
 * urgent), `startSession` and `deleteSession` directly and is SIGKILLed in the middle; the database is
 * reopened and checked against what the child reported, then written again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, type Event, openStore } from '../../src/index.js';
import { runChild } from '../helpers/child.js';
import { collect } from '../helpers/store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-crash-ops-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Call {
  sessions: string[];
  ids: string[];
  acked: boolean;
  /** Line number of the call, to order it against deletes. */
  at: number;
}

interface Report {
  calls: Call[];
  starts: Map<string, { meta: Record<string, unknown>; acked: boolean }>;
  deletes: Map<string, { at: number; acked: boolean }>;
}

function parse(lines: readonly string[]): Report {
  const report: Report = { calls: [], starts: new Map(), deletes: new Map() };
  const pending = new Map<string, Call>();
  lines.forEach((line, at) => {
    const [tag, first, second] = line.split(' ');
    if (tag === 'P') {
      const call: Call = { sessions: first!.split(','), ids: second!.split(','), acked: false, at };
      report.calls.push(call);
      pending.set(second!, call);
    } else if (tag === 'A') pending.get(first!)!.acked = true;
    else if (tag === 'S') report.starts.set(first!, { meta: JSON.parse(second!), acked: false });
    else if (tag === 'SA') report.starts.get(first!)!.acked = true;
    else if (tag === 'D') report.deletes.set(first!, { at, acked: false });
    else if (tag === 'DA') report.deletes.get(first!)!.acked = true;
  });
  return report;
}

/** Reopens the store and checks it against every report so far; then appends to every session. */
async function check(path: string, reports: Report[], what: string) {
  const store = await openStore({ path });
  try {
    const stored = new Map<string, { sessionId: string; event: Event }>();
    const infos = await store.sessions();
    for (const info of infos) {
      const entries = await collect(store.entries(info.sessionId));
      expect(
        entries.map((e) => e.seq),
        `${what}: seqs of ${info.sessionId}`,
      ).toEqual(entries.map((_, i) => i));
      expect(info.eventCount, `${what}: eventCount of ${info.sessionId}`).toBe(entries.length);
      expect(info.nextSeq, `${what}: nextSeq of ${info.sessionId}`).toBe(entries.length);
      const counts: Record<string, number> = {};
      for (const { event } of entries) {
        counts[event.type] = (counts[event.type] ?? 0) + 1;
        expect(stored.has(event.id), `${what}: ${event.id} stored twice`).toBe(false);
        stored.set(event.id, { sessionId: info.sessionId, event });
      }
      expect(info.typeCounts, `${what}: typeCounts of ${info.sessionId}`).toEqual(counts);
      expect((await collect(store.query(info.sessionId, { start: 0 }))).length).toBe(entries.length);
      expect(await store.session(info.sessionId)).toEqual(info);
    }
    expect(store.stats().corruptRecords).toBe(0);

    const called = new Set<string>();
    for (const report of reports) {
      for (const call of report.calls) {
        for (const id of call.ids) called.add(id);
        const present = call.ids.filter((id) => stored.has(id)).length;
        // Deleted afterwards (a delete of one of its sessions called after it, in the same child).
        const deleted = call.sessions
          .map((s) => report.deletes.get(s))
          .find((d) => d !== undefined && d.at > call.at);
        if (deleted?.acked) {
          expect(present, `${what}: events of a deleted session`).toBe(0);
          continue;
        }
        expect([0, call.ids.length], `${what}: a call half-written`).toContain(present);
        if (call.acked && deleted === undefined)
          expect(present, `${what}: acknowledged events lost`).toBe(call.ids.length);
      }
      for (const [sessionId, start] of report.starts) {
        const info = infos.find((i) => i.sessionId === sessionId);
        if (start.acked) expect(info?.meta, `${what}: started session ${sessionId}`).toEqual(start.meta);
        // Not acknowledged: there or not, but whole (its metadata, if any, is the one given).
        else if (info !== undefined && Object.keys(info.meta).length > 0)
          expect(info.meta).toEqual(start.meta);
      }
    }
    // Nothing on disk that no call wrote (but the events this check appended after each crash).
    const strays = [...stored.values()].filter(
      ({ event }) => event.type !== 'after.crash' && !called.has(event.id),
    );
    expect(strays, `${what}: never written`).toEqual([]);

    // Writing goes on at the right seq, in every session and in one whose delete was cut short.
    const ids = new Set([...infos.map((i) => i.sessionId), ...reports.flatMap((r) => [...r.deletes.keys()])]);
    for (const sessionId of ids) {
      const before = infos.find((i) => i.sessionId === sessionId)?.eventCount ?? 0;
      const [position] = await store.append([createEvent({ type: 'after.crash', sessionId, timestamp: 1 })]);
      expect(position!.seq, `${what}: next seq of ${sessionId}`).toBe(before);
      expect((await store.session(sessionId))?.eventCount).toBe(before + 1);
      expect((await collect(store.entries(sessionId))).length).toBe(before + 1);
    }
    return stored.size;
  } finally {
    await store.close();
  }
}

const MODES = ['big', 'small', 'urgent', 'delete', 'start'] as const;
const TRIALS_PER_MODE = 4;

describe('crash safety of append, startSession and deleteSession', () => {
  for (const mode of MODES) {
    it(`${mode}: a SIGKILL loses no acknowledged write, leaves no half, and writing goes on`, async () => {
      const path = join(dir, mode);
      const reports: Report[] = [];
      let acked = 0;
      for (let trial = 0; trial < TRIALS_PER_MODE; trial++) {
        const durability = trial % 2 === 0 ? 'process' : 'os';
        const child = runChild('crashOps.ts', [path, mode, durability, String(trial)]);
        await child.waitFor((line) => line === 'open');
        // Mid-operation: for `delete`, once the delete is called; otherwise once writes are flowing.
        if (mode === 'delete') await child.waitFor((line) => line.startsWith('D '));
        else if (mode === 'big') {
          // The second big append called: the first one written, this one queued or being written.
          let big = 0;
          await child.waitFor((line) => line.startsWith('P ') && line.length > 100_000 && ++big === 2);
        } else if (trial > 0) await child.waitFor((line) => line.startsWith('A '));
        await sleep([0, 20, 80, 250][trial]!);
        child.process.kill('SIGKILL');
        const { signal } = await child.exited;
        expect(signal, `${mode} trial ${trial}: ${child.stderr()}`).toBe('SIGKILL');
        const report = parse(child.lines);
        reports.push(report);
        acked += report.calls.filter((call) => call.acked).length;
        const stored = await check(path, reports, `${mode} trial ${trial} (${durability})`);
        if (process.env.CRASH_DEBUG) {
          const calls = report.calls.length;
          const done = report.calls.filter((call) => call.acked).length;
          const deletes = [...report.deletes.values()];
          const starts = [...report.starts.values()];
          process.stderr.write(
            `${mode} ${trial}: calls ${done}/${calls} acked, deletes ${deletes.filter((d) => d.acked).length}/${deletes.length}, starts ${starts.filter((s) => s.acked).length}/${starts.length}, stored ${stored}\n`,
          );
        }
      }
      expect(acked).toBeGreaterThan(0);
    }, 600_000);
  }
});
