/**
 * The benchmark harness shared by every suite in `bench/`. A suite measures its subject and a raw
 * baseline in the same run, repeats both, and reports medians as a ratio — never a bare wall-clock
 * figure, since this machine is shared and noisy.
 */
import { cpus } from 'node:os';
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
  /** `value / baseline.value` (or its inverse for latencies: always "higher is better" when `higherIsBetter`). */
  ratio?: number;
  /** The goal, in words, e.g. `ratio ≥ 0.5`. */
  goal?: string;
  /** Whether the goal was met in this run. */
  met?: boolean;
  /** Number of runs the median is over. */
  runs: number;
  /** Anything a reader needs to interpret the figure. */
  notes?: string;
}

/** Options every suite receives from `bench/run.ts`. */
export interface BenchOptions {
  /** Runs per measurement (median reported). Default 3. */
  runs: number;
  /** `--quick`: smaller inputs for a smoke run. */
  quick: boolean;
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

export function machine() {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpu: cpu[0]?.model ?? 'unknown',
    node: process.version,
    platform: process.platform,
  };
}
