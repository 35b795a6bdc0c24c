/**
 * @internal The type-specific summaries of `temporalAggregate`, built by tallies.
 *
 * A tally reads each event once, as it is added: `temporalAggregate` adds the events of a window as they
 * arrive, while each is still in cache, and reads the tally when the window closes, rather than reading
 * every event again at close, out of cache. A tally keeps its arrays from one window to the next, so a
 * window allocates only the summary it emits. Events are added in their canonical order (a window whose
 * events arrived out of order is summarized at close, from its sorted events), so that floating-point
 * sums, and so the summaries, are the same however the events arrived.
 *
 * `data` is read defensively: events from untyped sources may carry anything.
 */
import type { Event } from '../../event.js';
import type {
  FileModifiedSummary,
  NumericStats,
  PerformanceMetricSummary,
  ToolUsedSummary,
} from '../temporalAggregate.js';

export type Summary = FileModifiedSummary | ToolUsedSummary | PerformanceMetricSummary;

/** Accumulates the summary of one window: `add` each of its events in canonical order, then `finish`. */
export interface Tally {
  add(event: Event): void;
  /** The summary of the events added since the last `finish` or `reset`; starts the next one. */
  finish(): Summary;
  /** Forgets the events added so far. */
  reset(): void;
  /** Whether its arrays are small enough to keep for another window (see `RETAIN_LIMIT`). */
  retainable(): boolean;
}

/** A new tally for windows of `type`, or `undefined` for a type without a summary. */
export function tallyFor(type: string): Tally | undefined {
  switch (type) {
    case 'file.modified':
      return new FileTally();
    case 'tool.used':
      return new ToolTally();
    case 'performance.metric':
      return new MetricTally();
    default:
      return undefined;
  }
}

function dataOf(event: Event): Record<string, unknown> {
  const data = event.data as unknown;
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : EMPTY;
}

const EMPTY: Record<string, unknown> = Object.freeze({});

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Windows mostly have a few names: a linear scan finds one faster than a Map, which takes over beyond
// SCAN_LIMIT names.
const SCAN_LIMIT = 8;

/**
 * The arrays of a tally are used up to a count and overwritten from the start by the next window, not
 * emptied: emptying an array frees its storage, which the next window would allocate again. What they
 * keep is bounded by what a window can use, at most three entries per event (a tool's name and its
 * duration twice): at the end of a window that added fewer than a third of them (beyond SPARE entries)
 * the tally frees them all, so it never keeps more than SPARE + 3 × the events of its last window. A tally
 * that keeps more than RETAIN_LIMIT entries is not pooled for another window (see `Kept`).
 */
const SPARE = 64;
const RETAIN_LIMIT = 256;

/**
 * The distinct names of a window (`list[0 … size - 1]`) in first-seen order: `at` gives a name's
 * position, `size - 1` for a new one.
 */
class Names {
  readonly list: string[] = [];
  size = 0;
  private map: Map<string, number> | undefined = undefined;

  at(name: string): number {
    const list = this.list;
    const size = this.size;
    if (this.map === undefined) {
      for (let i = 0; i < size; i++) if (list[i] === name) return i;
      list[size] = name;
      this.size = size + 1;
      if (size + 1 > SCAN_LIMIT) {
        this.map = new Map();
        for (let i = 0; i <= size; i++) this.map.set(list[i]!, i);
      }
      return size;
    }
    const at = this.map.get(name);
    if (at !== undefined) return at;
    this.map.set(name, size);
    list[size] = name;
    this.size = size + 1;
    return size;
  }

  /** One entry per name, in name order: `entry(name, its position)`. */
  entries<T>(entry: (name: string, at: number) => T): T[] {
    const list = this.list;
    const order = new Array<number>(this.size);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (order.length > 1) order.sort((a, b) => byName(list[a]!, list[b]!));
    const entries = new Array<T>(order.length);
    for (let i = 0; i < order.length; i++) entries[i] = entry(list[order[i]!]!, order[i]!);
    return entries;
  }

  clear(): void {
    this.size = 0;
    this.map = undefined;
  }

  /** Also frees the names' storage. */
  release(): void {
    this.clear();
    this.list.length = 0;
  }
}

/**
 * What the tallies share: a window's names, with a count and a sum per name, and its numbers; and the
 * bounds on what they keep between windows. A subclass counts the events it adds (`added`) and resets its
 * own totals (`clearTotals`).
 */
abstract class Kept implements Tally {
  protected readonly names = new Names();
  /** By name position: its events, and the sum of an amount of theirs (a size, failures). */
  protected readonly counts: number[] = [];
  protected readonly sums: number[] = [];
  protected readonly values = new Values();
  protected added = 0;

  abstract add(event: Event): void;
  abstract finish(): Summary;
  protected abstract clearTotals(): void;

  /** Counts an event of `name` with `amount`; returns the name's position. */
  protected countName(name: string, amount: number): number {
    const known = this.names.size;
    const at = this.names.at(name);
    if (at === known) {
      this.counts[at] = 1;
      this.sums[at] = amount;
    } else {
      this.counts[at]!++;
      this.sums[at]! += amount;
    }
    return at;
  }

  reset(): void {
    if (this.kept() > SPARE + 3 * this.added) {
      this.names.release();
      this.counts.length = 0;
      this.sums.length = 0;
      this.values.release();
    } else {
      this.names.clear();
      this.values.size = 0;
    }
    this.clearTotals();
    this.added = 0;
  }

  retainable(): boolean {
    return this.kept() <= RETAIN_LIMIT;
  }

  /** Entries the arrays keep (their lengths). */
  private kept(): number {
    return this.names.list.length + this.values.kept();
  }
}

/**
 * Numbers in canonical order (`values[0 … size - 1]`), each with the position of its name, kept from
 * window to window: one pair of flat arrays rather than an array per name, so adding one touches two
 * arrays whatever the name.
 */
class Values {
  readonly values: number[] = [];
  readonly owners: number[] = [];
  size = 0;

  push(value: number, at: number): void {
    const i = this.size++;
    this.values[i] = value;
    this.owners[i] = at;
  }

  /** Stats of all of them, `undefined` when there are none. */
  all(): NumericStats | undefined {
    return this.size === 0 ? undefined : numericStats(this.values, this.size);
  }

  /** The values of each name position, in order (`undefined` for a name without any). */
  byOwner(): Array<number[] | undefined> {
    const groups: Array<number[] | undefined> = [];
    for (let i = 0; i < this.size; i++) {
      const at = this.owners[i]!;
      const group = groups[at];
      if (group === undefined) groups[at] = [this.values[i]!];
      else group.push(this.values[i]!);
    }
    return groups;
  }

  kept(): number {
    return this.values.length + this.owners.length;
  }

  release(): void {
    this.size = 0;
    this.values.length = 0;
    this.owners.length = 0;
  }
}

class FileTally extends Kept {
  private totalSize = 0;
  private withoutPath = 0;

  add(event: Event): void {
    this.added++;
    const data = dataOf(event);
    const size = finite(data.size) ?? 0;
    this.totalSize += size;
    const path = data.file_path;
    if (typeof path !== 'string') {
      this.withoutPath++;
      return;
    }
    this.countName(path, size);
  }

  finish(): FileModifiedSummary {
    const files = this.names.entries((path, at) => ({
      path,
      count: this.counts[at]!,
      total_size: this.sums[at]!,
    }));
    const summary = {
      files,
      file_count: files.length,
      total_size: this.totalSize,
      without_path: this.withoutPath,
    };
    this.reset();
    return summary;
  }

  protected clearTotals(): void {
    this.totalSize = 0;
    this.withoutPath = 0;
  }
}

type ToolEntry = ToolUsedSummary['tools'][number];

class ToolTally extends Kept {
  private failures = 0;

  add(event: Event): void {
    this.added++;
    const data = dataOf(event);
    const name = typeof data.tool_name === 'string' ? data.tool_name : 'unknown';
    const failed = data.success === false ? 1 : 0;
    this.failures += failed;
    const at = this.countName(name, failed);
    const duration = finite(data.duration_ms);
    if (duration !== undefined) this.values.push(duration, at);
  }

  finish(): ToolUsedSummary {
    const overall = this.values.all();
    // With one tool, its durations are all of them.
    const single = this.names.size === 1;
    const own = overall === undefined || single ? [] : this.values.byOwner();
    const tools = this.names.entries((name, at): ToolEntry => {
      const durations = own[at];
      const stats = single && overall !== undefined ? { ...overall } : durations && numericStats(durations);
      return stats === undefined
        ? { name, count: this.counts[at]!, failures: this.sums[at]! }
        : { name, count: this.counts[at]!, failures: this.sums[at]!, duration_ms: stats };
    });
    const summary: ToolUsedSummary =
      overall === undefined
        ? { tools, failures: this.failures }
        : { tools, failures: this.failures, duration_ms: overall };
    this.reset();
    return summary;
  }

  protected clearTotals(): void {
    this.failures = 0;
  }
}

class MetricTally extends Kept {
  private withoutValue = 0;

  add(event: Event): void {
    this.added++;
    const data = dataOf(event);
    const value = finite(data.value);
    const name = data.metric;
    if (typeof name !== 'string' || value === undefined) {
      this.withoutValue++;
      return;
    }
    this.values.push(value, this.names.at(name));
  }

  finish(): PerformanceMetricSummary {
    // With one metric, its values are all of them.
    const single = this.names.size === 1;
    const own = single ? [] : this.values.byOwner();
    const metrics = this.names.entries((name, at) => {
      const stats = single ? this.values.all()! : numericStats(own[at]!);
      return { name, count: stats.count, min: stats.min, avg: stats.avg, max: stats.max, p95: stats.p95 };
    });
    const summary = { metrics, without_value: this.withoutValue };
    this.reset();
    return summary;
  }

  protected clearTotals(): void {
    this.withoutValue = 0;
  }
}

/** Stats of `values[0 … n - 1]` (`n >= 1`, default all of them); p95 by nearest rank. */
export function numericStats(values: readonly number[], n: number = values.length): NumericStats {
  let min = values[0]!;
  let max = min;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  // Nearest rank: the ceil(0.95 n)-th smallest, which is the largest while n < 20.
  const rank = Math.ceil(0.95 * n);
  const p95 = rank >= n ? max : nthSmallest(values, n, rank);
  return { count: n, min, avg: sum / n, max, p95 };
}

/**
 * The `rank`-th smallest of `values` in the order of a sorted `Float64Array` (-0 before +0), without
 * sorting them all: near the top it is the (n - rank + 1)-th largest, found by keeping that many largest
 * values in a small sorted buffer (one comparison for most values).
 */
function nthSmallest(values: readonly number[], n: number, rank: number): number {
  const k = n - rank + 1;
  let value: number;
  if (k > 32) {
    const sorted = new Float64Array(n);
    for (let i = 0; i < n; i++) sorted[i] = values[i]!;
    value = sorted.sort()[rank - 1]!;
  } else {
    // top: the k largest so far, ascending.
    const top = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      const v = values[i]!;
      let j = i;
      while (j > 0 && top[j - 1]! > v) {
        top[j] = top[j - 1]!;
        j--;
      }
      top[j] = v;
    }
    for (let i = k; i < n; i++) {
      const v = values[i]!;
      if (v <= top[0]!) continue;
      let j = 1;
      while (j < k && top[j]! < v) {
        top[j - 1] = top[j]!;
        j++;
      }
      top[j - 1] = v;
    }
    value = top[0]!;
  }
  if (value !== 0) return value;
  // A zero: -0 when the values sorting before +0 (negatives and -0) reach the rank.
  let before = 0;
  for (let i = 0; i < n; i++) if (values[i]! < 0 || Object.is(values[i], -0)) before++;
  return before >= rank ? -0 : 0;
}
