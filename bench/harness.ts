/**
 * The benchmark harness shared by every suite in `bench/`. A suite measures its subject and a raw
 * baseline in the same run, repeats both, and reports medians as a ratio — never a bare wall-clock
 * figure, since this machine is shared and noisy.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** One line of the report. */
export interface BenchRow {
  /** The suite (a file in bench/) that produced the row. */
  suite: string;
  /** What was measured, e.g. `temporalAggregate, 1,000 sessions`. */
  name: string;
  /** Median over the runs. */
  value: number;
  /** `events/s`, `ms`, `MB` … */
  unit: string;
  /** The raw baseline measured in the same run, when the figure is a ratio. */
  baseline?: { name: string; value: number };
  /**
   * Subject against baseline, oriented so that above 1 is better than the baseline: `value / baseline`
   * for rates, `baseline / value` for times and sizes.
   */
  ratio?: number;
  /** The goal, in words, e.g. `ratio ≥ 0.5`. */
  goal?: string;
  /** Whether the goal was met in this run. */
  met?: boolean;
  /** Number of runs the median is over. */
  runs: number;
  /** Anything a reader needs to interpret the figure. */
  notes?: string;
  /** Structured extras (per-run values, a curve …), written to results.json, not printed. */
  detail?: Record<string, unknown>;
}

/** Options every suite receives from `bench/run.ts`. */
export interface BenchOptions {
  /** Runs per measurement (median reported). Default 3. */
  runs: number;
  /** `--quick`: smaller inputs for a smoke run. */
  quick: boolean;
  /**
   * `--long`: the full lengths — issue #8's for the pipeline suite (10 s per offered load, 5,000,000
   * events for the memory curve), and the component suites' original sizes. Several minutes more.
   */
  long?: boolean;
}

/** The input size (or duration) for this run: `--quick`, default, or `--long`. */
export function byLength<T>(options: BenchOptions, sizes: { quick: T; default: T; long: T }): T {
  return options.quick ? sizes.quick : options.long ? sizes.long : sizes.default;
}

export interface BenchSuite {
  name: string;
  run(options: BenchOptions): Promise<BenchRow[]>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile of `values` (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/**
 * Runs `fn` in a fresh folder of the OS's temp folder (`vibespec-bench-<suite>-…`), removed after it,
 * whether `fn` resolves or rejects.
 */
export async function withTempDir<T>(suite: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `vibespec-bench-${suite}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Times `fn` once, in ms. */
export async function time(fn: () => unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/**
 * Runs `subject` and `baseline` alternately `runs` times (after one warm-up of each) and returns the
 * median throughput of both in items/s, for `items` items per run.
 */
export async function compareThroughput(
  runs: number,
  items: number,
  subject: () => unknown,
  baseline: () => unknown,
): Promise<{ subject: number; baseline: number; ratio: number }> {
  await subject();
  await baseline();
  const s: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    b.push(items / ((await time(baseline)) / 1000));
    s.push(items / ((await time(subject)) / 1000));
  }
  const subjectRate = median(s);
  const baselineRate = median(b);
  return { subject: subjectRate, baseline: baselineRate, ratio: subjectRate / baselineRate };
}

/**
 * Median rates (items/s) of `configs` — each a function giving the seconds one run of `items` items
 * took — measured round-robin, so that drift on a shared machine hits them all alike: one warm-up round,
 * then `runs` rounds.
 */
export async function roundRobinRates(
  runs: number,
  items: number,
  configs: Record<string, () => number | Promise<number>>,
): Promise<Record<string, number>> {
  const seen: Record<string, number[]> = {};
  for (const name of Object.keys(configs)) seen[name] = [];
  for (let r = -1; r < runs; r++) {
    for (const [name, seconds] of Object.entries(configs)) {
      const s = await seconds();
      if (r >= 0) seen[name]!.push(items / s); // r = -1: warm-up
    }
  }
  const out: Record<string, number> = {};
  for (const [name, values] of Object.entries(seen)) out[name] = median(values);
  return out;
}

export function machine() {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpu: cpu[0]?.model ?? 'unknown',
    node: process.version,
    platform: process.platform,
    memoryGB: Math.round(totalmem() / 2 ** 30),
  };
}

/**
 * A number for the report: thousands separators from 100 up (`1,234,567`), three significant digits
 * below (`12.3`, `0.0041`), never a misleading `0.00`.
 */
export function formatNumber(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '';
  if (!Number.isFinite(n)) return n > 0 ? '∞' : '-∞';
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 100) return Math.round(n).toLocaleString('en-US');
  if (abs < 1e-4) return n.toExponential(2);
  return String(Number(n.toPrecision(3)));
}

/**
 * Runs `fn` with `fs.watch` throwing, as it does on a filesystem that cannot be watched (some network
 * and container mounts): `fromHookFileMarked` then finds new lines by its poll alone. Used by the live
 * suite's polling row and by the CLI's `--poll-ms` tests.
 */
export async function withoutWatch<T>(fn: () => Promise<T>): Promise<T> {
  const real = fs.watch;
  fs.watch = (() => {
    throw new Error('fs.watch made to fail');
  }) as typeof fs.watch;
  syncBuiltinESMExports(); // the named export `watch` the library imported follows
  try {
    return await fn();
  } finally {
    fs.watch = real;
    syncBuiltinESMExports();
  }
}
