/**
 * The live path's benchmark (`bench/live.ts`): its figures (percentiles, lines matched by order, rows),
 * its writer's lines against `record`'s, its runs on tiny inputs, and a `--quick` run of the suite through
 * `npm run bench`'s runner. Never a timing (DESIGN: no timed assertions in tests): what is checked is
 * that every line written is accounted for, and that the rows say what they measured.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BenchRow } from '../../bench/harness.js';
import {
  fixturePayloads,
  hookLine,
  hookName,
  latencyRows,
  latencyStats,
  lineLatencies,
  pollRows,
  runTail,
  type TailRun,
  type Target,
  Writer,
} from '../../bench/live.js';
import { runMain } from '../helpers/main.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

describe('the figures', () => {
  it('latencyStats: nearest-rank percentiles', () => {
    const values = Array.from({ length: 200 }, (_, i) => 200 - i); // 200 … 1, unsorted
    expect(latencyStats(values)).toEqual({ count: 200, p50: 100, p95: 190, p99: 198, max: 200 });
    expect(latencyStats([7])).toEqual({ count: 1, p50: 7, p95: 7, p99: 7, max: 7 });
    expect(latencyStats([]).p99).toBeNaN();
  });

  it('lineLatencies: the i-th line reached is the i-th written; the warm-up and lines not reached left out', () => {
    const writer = { instants: [10, 20, 30, 40], timestamps: [1, 1, 2, 3] };
    expect(lineLatencies(writer, [15, 27, 31], [1, 1, 2], 20)).toEqual({
      latencies: [7, 1],
      misaligned: 0,
    });
    expect(lineLatencies(writer, [15, 27, 31, 44], [1, 1, 2, 3])).toEqual({
      latencies: [5, 7, 1, 4],
      misaligned: 0,
    });
  });

  it('lineLatencies: a line read back with another timestamp, or read and never written, is misaligned', () => {
    const writer = { instants: [10, 20], timestamps: [1, 2] };
    expect(lineLatencies(writer, [11, 21], [2, 1]).misaligned).toBe(2);
    expect(lineLatencies(writer, [11, 21, 31], [1, 2, 3]).misaligned).toBe(1);
  });

  const run = (latencies: number[], over: Partial<TailRun> = {}): TailRun => ({
    rate: 100,
    seconds: 1,
    written: latencies.length,
    reached: latencies.length,
    misaligned: 0,
    latencies,
    readDelays: latencies.map((latency) => latency / 4),
    eventsPerLine: 1,
    maxLateMs: 0.5,
    ...over,
  });
  const byName = (rows: Array<Omit<BenchRow, 'suite'>>, part: string) =>
    rows.find((row) => row.name.startsWith(part))!;

  it('latencyRows: p50, p95, p99 and max of the runs pooled, each against the tail, times oriented baseline ÷ value', () => {
    const subject = [run([1, 2, 3, 4]), run([5, 6, 7, 8])];
    const baseline = [run([0.5, 1]), run([1.5, 2])];
    const rows = latencyRows(100, subject, baseline, true);
    expect(rows.map((row) => row.name)).toEqual([
      'latency p50, line written → persisted ack, 100 lines/s offered',
      'latency p95, line written → persisted ack, 100 lines/s offered',
      'latency p99, line written → persisted ack, 100 lines/s offered',
      'latency max, line written → persisted ack, 100 lines/s offered',
    ]);
    const p50 = byName(rows, 'latency p50');
    expect(p50).toMatchObject({ value: 4, unit: 'ms', runs: 2, baseline: { value: 1 }, ratio: 0.25 });
    expect(p50.goal).toBeUndefined();
    const p99 = byName(rows, 'latency p99');
    expect(p99).toMatchObject({ value: 8, baseline: { value: 2 }, goal: 'p99 < 100 ms', met: true });
    expect(p99.notes).toContain('8 of 8 lines reached');
    expect(p99.notes).toContain('read by fromHookFileMarked p50 1,'); // a quarter of 4
    expect(p99.notes).toContain('read → persisted ack (bridge, persist, LevelDB) p50 3,');
    expect(p99.detail).toMatchObject({
      pipeline: [{ p99: 4, written: 4 }, { p99: 8 }],
      tail: [{ p99: 1 }, { p99: 2 }],
    });
    expect(byName(rows, 'latency max').value).toBe(8);
  });

  it('latencyRows: the goal is missed at p99 ≥ 100 ms, or when lines were not reached, and only asked where told', () => {
    const slow = latencyRows(10, [run([50, 100])], [run([1])], true);
    expect(byName(slow, 'latency p99')).toMatchObject({ value: 100, met: false });
    const behind = latencyRows(10, [run([1, 2], { written: 3, reached: 2 })], [run([1])], true);
    expect(byName(behind, 'latency p99').met).toBe(false);
    expect(byName(behind, 'latency p99').notes).toContain('DID NOT KEEP UP');
    const misaligned = latencyRows(10, [run([1], { misaligned: 2 })], [run([1])], true);
    expect(byName(misaligned, 'latency p99').notes).toContain('2 LINES MISALIGNED');
    const none = latencyRows(20_000, [run([500])], [run([1])], false);
    expect(byName(none, 'latency p99').goal).toBeUndefined();
    expect(byName(none, 'latency p99').met).toBeUndefined();
  });

  it('pollRows: p50, p99 and max, each against the same rate with fs.watch, and no goal', () => {
    const rows = pollRows(100, [run([100, 240])], [run([1, 2])], 250);
    expect(rows.map((row) => row.name)).toEqual([
      'latency p50 without fs.watch (polling only), 100 lines/s offered',
      'latency p99 without fs.watch (polling only), 100 lines/s offered',
      'latency max without fs.watch (polling only), 100 lines/s offered',
    ]);
    expect(rows[1]).toMatchObject({ value: 240, baseline: { value: 2 }, ratio: 2 / 240 });
    expect(rows.every((row) => row.goal === undefined && row.met === undefined)).toBe(true);
    expect(rows[1]!.notes).toContain('every 250 ms');
    expect(rows[1]!.notes).toContain('p99 over the 100 ms goal');
    expect(pollRows(100, [run([10, 20])], [run([1])], 25)[1]!.notes).toContain('p99 under the 100 ms goal');
  });
});

describe("the writer's lines", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vibespec-test-live-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("are record's lines, byte for byte (but the time)", async () => {
    const log = join(dir, 'hooks.jsonl');
    const payloads = fixturePayloads();
    expect(payloads).toHaveLength(133);
    for (const { output } of payloads.slice(0, 40)) {
      expect((await runMain(['record', '--log', log], [JSON.stringify(output)])).code).toBe(0);
    }
    const lines = (await readFile(log, 'utf8')).split(/(?<=\n)/);
    expect(lines).toHaveLength(40);
    lines.forEach((line, i) => {
      const { timestamp } = JSON.parse(line) as { timestamp: number };
      expect(line).toBe(hookLine(payloads[i]!.hook, payloads[i]!.output, timestamp));
    });
    expect(hookName({ hook_event_name: 'Stop' })).toBe('Stop');
    expect(hookName({})).toBe('unknown');
    expect(hookName('not json')).toBe('unknown');
  });
});

describe('the runs', () => {
  /** Temp folders of the suite left in `dir`. */
  const leftovers = async (dir: string) =>
    (await readdir(dir)).filter((name) => name.startsWith('vibespec-bench-live-'));

  it('each consumer reaches every line written, in order, and the temp folders and the writer are gone after', async () => {
    // The suite's temp folders go to a folder of this test's own (os.tmpdir() reads TMPDIR at each call;
    // each test file has a process of its own): in the shared one, the folder of another run of the
    // suite at the same time (another checkout's tests) was counted as this run's leftover.
    const own = await mkdtemp(join(tmpdir(), 'vibespec-live-spec-'));
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = own;
    expect(tmpdir()).toBe(own);
    const writer = await Writer.start(fixturePayloads());
    try {
      for (const target of ['pipeline', 'tail', 'poll'] as Target[]) {
        const result = await runTail(writer, target, 200, 0.2, 0);
        expect(result.written).toBe(40);
        expect(result.reached).toBe(40);
        expect(result.misaligned).toBe(0);
        expect(result.latencies).toHaveLength(40);
        if (target === 'tail') expect(result.readDelays).toEqual([]);
        else {
          expect(result.readDelays).toHaveLength(40);
          expect(result.eventsPerLine).toBeGreaterThanOrEqual(1);
          // Read before persisted, and written before read.
          result.readDelays.forEach((read, i) => {
            expect(read).toBeGreaterThanOrEqual(0);
            expect(read).toBeLessThanOrEqual(result.latencies[i]!);
          });
        }
      }
    } finally {
      await writer.close();
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    expect(writer.running).toBe(false);
    try {
      expect(await leftovers(own)).toEqual([]);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('a run asked of a writer that has exited rejects, saying so (no uncaught error, no wait forever)', async () => {
    const writer = await Writer.start(fixturePayloads().slice(0, 2));
    await writer.close();
    await expect(writer.run(join(tmpdir(), 'never-written.jsonl'), 10, 0.1)).rejects.toThrow(
      'bench/liveWriter.ts exited',
    );
  });

  it('npm run bench -- --quick live: rows for each rate, polling only, and record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vibespec-test-live-'));
    try {
      const out = join(dir, 'results.json');
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out, 'live'],
          { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        child.stderr.resume();
        child.on('error', reject);
        child.on('close', resolve);
      });
      expect(code).toBe(0);
      const { rows, quick } = JSON.parse(await readFile(out, 'utf8')) as { rows: BenchRow[]; quick: boolean };
      expect(quick).toBe(true);
      expect(rows.every((row) => row.suite === 'live')).toBe(true);
      for (const rate of ['10', '100', '1,000', '20,000']) {
        const mine = rows.filter(
          (row) => row.name.endsWith(`, ${rate} lines/s offered`) && !row.name.includes('fs.watch'),
        );
        expect(mine.map((row) => row.name.split(',')[0])).toEqual([
          'latency p50',
          'latency p95',
          'latency p99',
          'latency max',
        ]);
        const p99 = mine[2]!;
        expect(p99.goal).toBe(rate === '20,000' ? undefined : 'p99 < 100 ms');
        expect(p99.notes).not.toContain('MISALIGNED');
        for (const row of mine) {
          expect(row.value).toBeGreaterThan(0);
          expect(row.ratio).toBeCloseTo(row.baseline!.value / row.value, 10);
        }
      }
      expect(rows.filter((row) => row.name.includes('without fs.watch'))).toHaveLength(3);
      const record = rows.find((row) => row.name.startsWith('record: hook run time'))!;
      expect(record.baseline?.name).toBe("node -e '' with the same stdin");
      expect(record.value).toBeGreaterThan(0);
      expect(record.notes).toContain('tsc -p tsconfig.build.json');
      expect(rows.find((row) => row.name.startsWith("context: record's append"))).toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
