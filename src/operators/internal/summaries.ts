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
import { arrayOf, emptyArray, plainConstructor } from './plain.js';

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
 * Up to this many names, a window's entries are put in name order by an insertion sort, and its stats
 * per name are summed in the scratch arrays below rather than in arrays of their own.
 */
const FEW_NAMES = 12;

// Scratch of `Kept.entries` and `Kept.tallyOwners`. A tally's `finish` calls no code but its own and runs
// to its end before another starts, so one set serves every tally.
const ORDER = new Uint32Array(FEW_NAMES);
const OWN_COUNT = new Uint32Array(FEW_NAMES);
const OWN_MIN = new Float64Array(FEW_NAMES);
const OWN_MAX = new Float64Array(FEW_NAMES);
const OWN_SUM = new Float64Array(FEW_NAMES);

/**
 * The arrays of a tally are used up to a count and overwritten from the start by the next window, not
 * emptied: emptying an array frees its storage, which the next window would allocate again. What they
 * keep is bounded by what a window can use, at most five entries per event (a number and its name's
 * position, a new name, its count and sum): at the end of a window that added fewer than a fifth of them
 * (beyond SPARE entries) the tally frees them all, so it never keeps more than SPARE + 5 × the events of
 * its last window. A tally that keeps more than RETAIN_LIMIT entries is not pooled for another window
 * (see `Kept`).
 */
const SPARE = 64;
const RETAIN_LIMIT = 256;

/**
 * The distinct names of a window after its first (see `Kept`), in first-seen order: `at` gives a
 * name's index in `list[0 … size - 1]`, `size - 1` for a new one.
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

/** The kinds of tally: what `Kept.add` reads from an event's `data`. */
const FILE = 0;
const TOOL = 1;
const METRIC = 2;
type Kind = typeof FILE | typeof TOOL | typeof METRIC;

/**
 * What the tallies share: a window's names, with a count and a sum per name, and its numbers; the
 * window's totals; and the bounds on what they keep between windows. A subclass makes the summary.
 *
 * One `add` serves the three kinds, switching on `kind`, rather than one per subclass: the call in
 * `temporalAggregate`'s handler then has a single target, which V8 inlines there (three targets, with
 * what each calls, did not fit V8's inlining budget: a call per event, ~2–6 ns on the bench's sparse
 * input, see docs/temporalAggregate-performance.md).
 *
 * Most windows have one name (one file, one tool, one metric), so the first name of a window and its
 * count and sum are fields of the tally, and its numbers one array: adding an event touches the tally
 * and that array. The names after the first (`others`, at positions 1, 2, …) and the name position of
 * each number (`owners`) are kept only once a window has a second name.
 */
abstract class Kept implements Tally {
  /** The window's first name (position 0), with its events and the sum of an amount of theirs. */
  protected first: string | undefined = undefined;
  protected firstCount = 0;
  protected firstSum = 0;
  /** The names after the first, with their counts and sums (by index in `others`, position - 1). */
  private readonly others = new Names();
  private readonly counts: number[] = [];
  private readonly sums: number[] = [];
  /** The window's numbers in canonical order (`values[0 … size - 1]`), kept from window to window. */
  protected readonly values: number[] = [];
  protected size = 0;
  /** The name position of each number, while the window has several names (else `undefined`). */
  private owners: number[] | undefined = undefined;
  /** `owners`' storage, kept from window to window like `values`. */
  private ownerStore: number[] | undefined = undefined;
  protected added = 0;
  /**
   * The sum of the amounts of all the window's events: the sizes written (`file.modified`, those without a
   * path included) or the failures (`tool.used`).
   */
  protected total = 0;
  /**
   * Events without a name: without a path (`file.modified`), or without a metric or a value
   * (`performance.metric`).
   */
  protected unnamed = 0;

  constructor(private readonly kind: Kind) {}

  abstract finish(): Summary;

  /**
   * Adds an event: its name (a path, a tool, a metric), an amount summed per name and over the window (a
   * size, a failure), and a number whose stats are kept (a duration, a metric's value).
   */
  add(event: Event): void {
    this.added++;
    const data = dataOf(event);
    let name: unknown;
    let amount = 0;
    let value: number | undefined;
    const kind = this.kind;
    if (kind === TOOL) {
      name = typeof data.tool_name === 'string' ? data.tool_name : 'unknown';
      amount = data.success === false ? 1 : 0;
      value = finite(data.duration_ms);
    } else if (kind === FILE) {
      amount = finite(data.size) ?? 0;
      name = data.file_path;
    } else {
      value = finite(data.value);
      // A metric without a value is not counted by name.
      name = value === undefined ? undefined : data.metric;
    }
    this.total += amount;
    if (typeof name !== 'string') {
      this.unnamed++;
      return;
    }
    const at = this.countName(name, amount);
    if (value !== undefined) {
      const i = this.size++;
      this.values[i] = value;
      if (this.owners !== undefined) this.owners[i] = at;
    }
  }

  /** Counts an event of `name` with `amount`; returns the name's position. */
  protected countName(name: string, amount: number): number {
    if (name === this.first) {
      this.firstCount++;
      this.firstSum += amount;
      return 0;
    }
    if (this.first === undefined) {
      this.first = name;
      this.firstCount = 1;
      this.firstSum = amount;
      return 0;
    }
    return this.countOther(name, amount);
  }

  private countOther(name: string, amount: number): number {
    const others = this.others;
    if (others.size === 0) {
      // The numbers so far are all of the first name.
      this.ownerStore ??= [];
      const owners = this.ownerStore;
      for (let i = 0; i < this.size; i++) owners[i] = 0;
      this.owners = owners;
    }
    const known = others.size;
    const at = others.at(name);
    if (at === known) {
      this.counts[at] = 1;
      this.sums[at] = amount;
    } else {
      this.counts[at]!++;
      this.sums[at]! += amount;
    }
    return at + 1;
  }

  /** Stats of all the numbers, `undefined` when there are none. */
  protected all(): NumericStats | undefined {
    return this.size === 0 ? undefined : numericStats(this.values, this.size);
  }

  /** Whether the window has more than one name. */
  protected several(): boolean {
    return this.others.size > 0;
  }

  /**
   * While the window has several names: prepares `ownerStats`. With a few names, each one's count, min,
   * max and sum are summed in one pass into the scratch arrays (so its p95 is its max while it has fewer
   * than 20 numbers, no array is made), and it returns `undefined`; else, or when one has 20 numbers or
   * more, it returns them grouped by name position.
   */
  protected tallyOwners(): Array<number[] | undefined> | undefined {
    const names = this.others.size + 1;
    if (names > FEW_NAMES) return this.byOwner();
    OWN_COUNT.fill(0, 0, names);
    const owners = this.owners!;
    const values = this.values;
    let most = 0;
    for (let i = 0; i < this.size; i++) {
      const at = owners[i]!;
      const v = values[i]!;
      const count = OWN_COUNT[at]!;
      // In the order and with the comparisons of `numericStats`, so the stats are the same.
      if (count === 0) {
        OWN_MIN[at] = v;
        OWN_MAX[at] = v;
        OWN_SUM[at] = 0 + v;
      } else {
        OWN_SUM[at] = OWN_SUM[at]! + v;
        if (v < OWN_MIN[at]! || (v === 0 && OWN_MIN[at] === 0 && Object.is(v, -0))) OWN_MIN[at] = v;
        if (v > OWN_MAX[at]! || (v === 0 && OWN_MAX[at] === 0 && Object.is(OWN_MAX[at], -0))) OWN_MAX[at] = v;
      }
      OWN_COUNT[at] = count + 1;
      if (count + 1 > most) most = count + 1;
    }
    return most >= 20 ? this.byOwner() : undefined;
  }

  /**
   * Stats of the numbers of the name at position `at`, `undefined` if none: from `groups` when
   * `tallyOwners` returned them, else from the scratch arrays it filled.
   */
  protected ownerStats(
    at: number,
    groups: Array<number[] | undefined> | undefined,
  ): NumericStats | undefined {
    if (groups !== undefined) {
      const group = groups[at];
      return group === undefined ? undefined : numericStats(group);
    }
    const n = OWN_COUNT[at]!;
    if (n === 0) return undefined;
    let avg = OWN_SUM[at]! / n;
    if (avg === Number.POSITIVE_INFINITY || avg === Number.NEGATIVE_INFINITY) {
      avg = 0;
      const owners = this.owners!;
      for (let i = 0; i < this.size; i++) if (owners[i] === at) avg += this.values[i]! / n;
    }
    // Fewer than 20 numbers: the nearest-rank p95 is the largest.
    return new Stats(n, OWN_MIN[at]!, avg, OWN_MAX[at]!, OWN_MAX[at]!);
  }

  /** The numbers of each name position, in order (`undefined` for a name without any). */
  private byOwner(): Array<number[] | undefined> {
    const groups = emptyArray<number[] | undefined>();
    const owners = this.owners!;
    for (let i = 0; i < this.size; i++) {
      const at = owners[i]!;
      const group = groups[at];
      if (group === undefined) groups[at] = arrayOf(this.values[i]!);
      else group.push(this.values[i]!);
    }
    return groups;
  }

  /**
   * One entry per name, in name order: `entry(name, its position, its count, its sum)`; none when the
   * window has no name.
   */
  protected entries<T>(entry: (name: string, at: number, count: number, sum: number) => T): T[] {
    const first = this.first;
    if (first === undefined) return emptyArray();
    const others = this.others;
    if (others.size === 0) return arrayOf(entry(first, 0, this.firstCount, this.firstSum));
    return this.sortedEntries(first, entry);
  }

  /** The name at position `at` of a window with a first name. */
  private nameAt(at: number): string {
    return at === 0 ? this.first! : this.others.list[at - 1]!;
  }

  /** `entries` of a window with several names. */
  private sortedEntries<T>(
    first: string,
    entry: (name: string, at: number, count: number, sum: number) => T,
  ): T[] {
    const list = this.others.list;
    const n = this.others.size + 1;
    // The name positions in name order. The names are distinct, so any sort gives the same order; for a
    // few, an insertion sort costs a fraction of a comparator sort's set-up (which was ~55 % of a
    // two-name window's summary).
    const order = n <= FEW_NAMES ? ORDER : new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    if (n <= FEW_NAMES) {
      for (let i = 1; i < n; i++) {
        const at = order[i]!;
        const name = this.nameAt(at);
        let j = i;
        while (j > 0 && this.nameAt(order[j - 1]!) > name) {
          order[j] = order[j - 1]!;
          j--;
        }
        order[j] = at;
      }
    } else {
      order.sort((a, b) => byName(this.nameAt(a), this.nameAt(b)));
    }
    const entries = emptyArray<T>();
    for (let i = 0; i < n; i++) {
      const at = order[i]!;
      entries.push(
        at === 0
          ? entry(first, 0, this.firstCount, this.firstSum)
          : entry(list[at - 1]!, at, this.counts[at - 1]!, this.sums[at - 1]!),
      );
    }
    return entries;
  }

  reset(): void {
    if (this.kept() > SPARE + 5 * this.added) {
      this.values.length = 0;
      this.counts.length = 0;
      this.sums.length = 0;
      this.ownerStore = undefined;
      this.others.release();
    } else {
      this.others.clear();
    }
    this.first = undefined;
    this.owners = undefined;
    this.size = 0;
    this.total = 0;
    this.unnamed = 0;
    this.added = 0;
  }

  retainable(): boolean {
    return this.kept() <= RETAIN_LIMIT;
  }

  /** Entries the arrays keep (their lengths). */
  private kept(): number {
    return (
      this.values.length +
      this.counts.length +
      this.sums.length +
      (this.ownerStore?.length ?? 0) +
      this.others.list.length
    );
  }
}

// The summaries' objects are made by constructors, not literals: see `plainConstructor`. Fields in the
// documented order; an optional one only when given.

type FileEntry = FileModifiedSummary['files'][number];
const FileEntry = plainConstructor(function (
  this: FileEntry,
  path: string,
  count: number,
  totalSize: number,
) {
  this.path = path;
  this.count = count;
  this.total_size = totalSize;
});

const FileSummary = plainConstructor(function (
  this: FileModifiedSummary,
  files: FileEntry[],
  totalSize: number,
  withoutPath: number,
) {
  this.files = files;
  this.file_count = files.length;
  this.total_size = totalSize;
  this.without_path = withoutPath;
});

type ToolEntry = ToolUsedSummary['tools'][number];
const ToolEntry = plainConstructor(function (
  this: ToolEntry,
  name: string,
  count: number,
  failures: number,
  durations: NumericStats | undefined,
) {
  this.name = name;
  this.count = count;
  this.failures = failures;
  if (durations !== undefined) this.duration_ms = durations;
});

const ToolSummary = plainConstructor(function (
  this: ToolUsedSummary,
  tools: ToolEntry[],
  failures: number,
  durations: NumericStats | undefined,
) {
  this.tools = tools;
  this.failures = failures;
  if (durations !== undefined) this.duration_ms = durations;
});

type MetricEntry = PerformanceMetricSummary['metrics'][number];
const MetricEntry = plainConstructor(function (this: MetricEntry, name: string, stats: NumericStats) {
  this.name = name;
  this.count = stats.count;
  this.min = stats.min;
  this.avg = stats.avg;
  this.max = stats.max;
  this.p95 = stats.p95;
});

const MetricSummary = plainConstructor(function (
  this: PerformanceMetricSummary,
  metrics: MetricEntry[],
  withoutValue: number,
) {
  this.metrics = metrics;
  this.without_value = withoutValue;
});

const Stats = plainConstructor(function (
  this: NumericStats,
  count: number,
  min: number,
  avg: number,
  max: number,
  p95: number,
) {
  this.count = count;
  this.min = min;
  this.avg = avg;
  this.max = max;
  this.p95 = p95;
});

class FileTally extends Kept {
  constructor() {
    super(FILE);
  }

  finish(): FileModifiedSummary {
    // `+ 0`: a sum of sizes that are all -0 is 0, as the window's `total_size` (summed from 0) is; a
    // name's sum starts at its first size instead, which keeps -0.
    const files = this.entries((path, _at, count, totalSize) => new FileEntry(path, count, totalSize + 0));
    const summary = new FileSummary(files, this.total, this.unnamed);
    this.reset();
    return summary;
  }
}

class ToolTally extends Kept {
  constructor() {
    super(TOOL);
  }

  finish(): ToolUsedSummary {
    const overall = this.all();
    // With one tool, its durations are all of them.
    const own = overall !== undefined && this.several();
    const groups = own ? this.tallyOwners() : undefined;
    const tools = this.entries((name, at, count, failures) => {
      const stats = own ? this.ownerStats(at, groups) : overall && copyStats(overall);
      return new ToolEntry(name, count, failures, stats);
    });
    const summary = new ToolSummary(tools, this.total, overall);
    this.reset();
    return summary;
  }
}

class MetricTally extends Kept {
  constructor() {
    super(METRIC);
  }

  finish(): PerformanceMetricSummary {
    // With one metric, its values are all of them.
    const own = this.several();
    const groups = own ? this.tallyOwners() : undefined;
    const metrics = this.entries((name, at) => {
      // Every metric name has a value (an event without one is not counted by name).
      const stats = own ? this.ownerStats(at, groups)! : this.all()!;
      return new MetricEntry(name, stats);
    });
    const summary = new MetricSummary(metrics, this.unnamed);
    this.reset();
    return summary;
  }
}

/**
 * A copy of `stats`, field by field: an object spread is cloned by an inline cache that goes generic once
 * it has seen a few shapes of `NumericStats` (Smi or double fields), and then costs ~300 ns a window.
 */
function copyStats(stats: NumericStats): NumericStats {
  return new Stats(stats.count, stats.min, stats.avg, stats.max, stats.p95);
}

/**
 * Stats of `values[0 … n - 1]` (`n >= 1`, default all of them); p95 by nearest rank. Zeros are ordered as
 * the p95 orders them (a sorted `Float64Array`: -0 before +0), whatever order they came in.
 */
export function numericStats(values: readonly number[], n: number = values.length): NumericStats {
  let min = values[0]!;
  let max = min;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    sum += v;
    if (v < min || (v === 0 && min === 0 && Object.is(v, -0))) min = v;
    if (v > max || (v === 0 && max === 0 && Object.is(max, -0))) max = v;
  }
  // Nearest rank: the ceil(0.95 n)-th smallest, which is the largest while n < 20.
  const rank = Math.ceil(0.95 * n);
  const p95 = rank >= n ? max : nthSmallest(values, n, rank);
  let avg = sum / n;
  if (avg === Number.POSITIVE_INFINITY || avg === Number.NEGATIVE_INFINITY) avg = overflowedMean(values, n);
  return new Stats(n, min, avg, max, p95);
}

/**
 * The mean of `values[0 … n - 1]` (finite numbers) whose sum overflowed to ±Infinity (beyond
 * ±1.8e308): summed as `v / n`, in the same order, so it stays between their min and max.
 */
function overflowedMean(values: readonly number[], n: number): number {
  let avg = 0;
  for (let i = 0; i < n; i++) avg += values[i]! / n;
  return avg;
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
