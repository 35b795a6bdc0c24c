/**
 * Flow metrics: `EventFlowMetrics` collects per-type processing times, `measure` times a stage of a
 * pipeline. See `docs/metrics.md`.
 */
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { asyncScheduler, type MonoTypeOperatorFunction, Observable, type SchedulerLike } from 'rxjs';
import { ConfigError, optionKeys, shownText } from '../errors.js';
import { checkConfig, schedulePeriodic, timerOption } from './internal/eventTime.js';
import { nextOrEnd, subscribeLinked } from './internal/linked.js';

/** Options of `new EventFlowMetrics()`. */
export interface EventFlowMetricsOptions {
  /**
   * The clock, in ms. Default: `scheduler.now()` when a `scheduler` is given, else `performance.now()`
   * (sub-millisecond, monotonic — what a processing time needs).
   */
  now?: (() => number) | undefined;
  /** A scheduler whose clock is used when `now` is not given; also the default of `summary$`. */
  scheduler?: SchedulerLike | undefined;
  /**
   * At most this many event types get their own statistics; later types are counted under `'(other)'`
   * (nothing is dropped), so at most `maxTypes + 1` entries are kept. Bounds memory. Default 256.
   */
  maxTypes?: number | undefined;
  /** How many of the most recent processing times (all types) `avgLatencyMs` averages. Default 100. */
  recentSamples?: number | undefined;
  /**
   * Significant decimal digits of the percentile histograms: 2 (default) keeps every percentile within
   * 1 % of the exact value in ~19 KB per type; 3 keeps it within 0.1 % in ~133 KB per type. Times are held
   * in whole nanoseconds, so below 50 ns (500 ns at precision 3) the bound is 0.5 ns instead.
   */
  precision?: 1 | 2 | 3 | undefined;
}

const METRICS_KEYS = optionKeys<EventFlowMetricsOptions>({
  now: true,
  scheduler: true,
  maxTypes: true,
  recentSamples: true,
  precision: true,
});

/** The statistics of one event type, in the seed's shape (snake_case keys, times in ms). */
export interface TypeFlowSummary {
  /** Events processed (recorded with `record`). */
  count: number;
  avg_processing_time_ms: number;
  min_processing_time_ms: number;
  max_processing_time_ms: number;
  p50_processing_time_ms: number;
  p95_processing_time_ms: number;
  p99_processing_time_ms: number;
  /**
   * The seed's figure: `count / total busy seconds` — the capacity of one slot of the stage if it did
   * nothing else, not the rate events actually arrived at. An event's busy time is its processing time
   * unless `record` was given a share of it (an event of a batch of N handled in T ms: T / N).
   */
  events_per_second: number;
  /** True throughput: `count` over the wall-clock seconds since the metrics were created or `reset()`. */
  wall_clock_events_per_second: number;
  /** Events whose processing failed (`recordError`). */
  errors: number;
  /** Events dropped by an overflow policy (`recordDropped`). */
  dropped: number;
}

/** `summary()`: one entry per event type. */
export type FlowSummary = Record<string, TypeFlowSummary>;

/** What `systemLoad$` reads from the pipeline: its queue depth and recent latency. */
export interface PipelineLoad {
  queueDepth: number;
  avgLatencyMs: number;
}

/** The type under which statistics of types beyond `maxTypes` are counted. */
export const OTHER_TYPE = '(other)';

// Histograms hold whole nanoseconds: a stage of a few µs is common, and whole µs were up to 17 % off
// there. One hour is plenty to start with, and autoResize covers the rest up to 2^53 ns (104 days); a
// longer time is recorded as that, and percentiles never leave min..max anyway.
const NS_PER_MS = 1_000_000;
const INITIAL_HIGHEST_NS = 3_600_000_000_000;

/** `avgLatencyMs`'s running sum is taken again from its ring once it falls below this share of its peak. */
const RECOUNT_BELOW_PEAK = 1 / 1024;

function isDuration(ms: unknown): ms is number {
  return typeof ms === 'number' && ms >= 0 && ms !== Number.POSITIVE_INFINITY;
}

function sumOf(values: Float64Array): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum;
}

/**
 * The most times an `Int32Histogram` can hold: its counts are a `Uint32Array`, and a bucket past 2^32 − 1
 * wraps to 0 (hdr-histogram-js does not check), its percentiles then wrong. No bucket holds more than the
 * histogram's total.
 */
const INT32_COUNTS = 2 ** 32 - 1;

/** @internal Exported for tests. */
export class TypeStats {
  count = 0;
  sumMs = 0;
  /** The sum of the busy times (`events_per_second`'s seconds). */
  busyMs = 0;
  minMs = Number.POSITIVE_INFINITY;
  maxMs = 0;
  errors = 0;
  dropped = 0;
  histogram: hdr.JsHistogram;

  constructor(precision: 1 | 2 | 3) {
    this.histogram = new hdr.Int32Histogram(1, INITIAL_HIGHEST_NS, precision);
    this.histogram.autoResize = true;
  }

  record(ms: number, busyMs = ms): void {
    this.count++;
    this.sumMs += ms;
    this.busyMs += busyMs;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
    if (this.histogram.totalCount >= INT32_COUNTS && this.histogram instanceof hdr.Int32Histogram)
      this.#widen();
    this.histogram.recordValue(Math.min(Math.round(ms * NS_PER_MS), Number.MAX_SAFE_INTEGER));
  }

  /**
   * Copies the histogram into one with 64-bit float counts (exact up to 2^53): a type past 2^32 − 1 times
   * (a day and more at 50,000 events/s) takes twice the memory, the others keep 32-bit counts.
   */
  #widen(): void {
    const wide = new hdr.Float64Histogram(
      1,
      this.histogram.highestTrackableValue,
      this.histogram.numberOfSignificantValueDigits,
    );
    wide.autoResize = true;
    wide.add(this.histogram);
    this.histogram = wide;
  }

  percentile(p: number): number {
    if (this.count === 0) return 0;
    // HDR's answer is the highest value of the bucket holding the percentile (within the precision);
    // never report outside the exact min and max.
    const value = this.histogram.getValueAtPercentile(p) / NS_PER_MS;
    return Math.min(Math.max(value, this.minMs), this.maxMs);
  }
}

/**
 * Collects event-flow metrics: per event type the count and the min / avg / max / p50 / p95 / p99
 * processing time, the seed's capacity figure and the true wall-clock throughput, errors and drops;
 * plus the pipeline's queue depth (from registered gauges) and its recent average latency, which
 * `systemLoad$({ metrics })` merges into the load that `selectMode` decides on.
 *
 * Memory is bounded: one HDR histogram per type, at most `maxTypes` plus `'(other)'` (~19 KB at
 * precision 2, up to ~25 KB once a time over an hour is recorded, twice that once a type is recorded more
 * than 2^32 − 1 times: its counts are widened to 64 bits), a ring of the last `recentSamples`
 * times, and no per-event history. Percentiles are within 1 % (precision 2), or 0.5 ns for times under
 * 50 ns; a time over 2^53 ns (~104 days) counts as that in them.
 *
 * ## Example
 * ```ts
 * const metrics = new EventFlowMetrics();
 * events$.pipe(measure(metrics), tap(handle)).subscribe();
 * metrics.summary$(5_000).subscribe((summary) => console.table(summary));
 * ```
 */
export class EventFlowMetrics {
  /** The clock (ms) that times stages and throughput. */
  readonly now: () => number;
  readonly #scheduler: SchedulerLike;
  readonly #maxTypes: number;
  readonly #precision: 1 | 2 | 3;
  readonly #types = new Map<string, TypeStats>();
  readonly #recent: Float64Array;
  #recentNext = 0;
  #recentCount = 0;
  #recentSum = 0;
  /** The largest `#recentSum` since it was last taken from the ring (the scale of its rounding error). */
  #recentPeak = 0;
  #startedAt: number;
  readonly #gauges = new Set<() => number>();

  /**
   * @throws ConfigError when an option is out of range, `now` not a function, `scheduler` not a
   *   `SchedulerLike`, or an option's name is unknown (named with the nearest known one).
   */
  constructor(options: EventFlowMetricsOptions = {}) {
    options = checkConfig('EventFlowMetrics', options, METRICS_KEYS);
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new ConfigError(
        `EventFlowMetrics: now must be a function () => ms, got ${shownText(options.now)}`,
      );
    }
    const { scheduler, maxTypes = 256, recentSamples = 100, precision = 2 } = options;
    if (!Number.isInteger(maxTypes) || maxTypes < 1) {
      throw new ConfigError(
        `EventFlowMetrics: maxTypes must be a positive integer, got ${shownText(maxTypes)}`,
      );
    }
    if (!Number.isInteger(recentSamples) || recentSamples < 1) {
      throw new ConfigError(
        `EventFlowMetrics: recentSamples must be a positive integer, got ${shownText(recentSamples)}`,
      );
    }
    if (precision !== 1 && precision !== 2 && precision !== 3) {
      throw new ConfigError(`EventFlowMetrics: precision must be 1, 2 or 3, got ${shownText(precision)}`);
    }
    this.#scheduler = scheduler ?? asyncScheduler;
    this.now = options.now ?? (scheduler ? () => scheduler.now() : () => performance.now());
    this.#maxTypes = maxTypes;
    this.#precision = precision;
    this.#recent = new Float64Array(recentSamples);
    this.#startedAt = this.now();
  }

  #stats(type: string): TypeStats {
    let stats = this.#types.get(type);
    if (stats !== undefined) return stats;
    // Keyed by its text, as the summary is: a type that is not a string (a JavaScript caller's, or a
    // `type` function's) is one with its text, not a second entry under the same summary key.
    const name = typeof type === 'string' ? type : String(type);
    // maxTypes named types, plus OTHER_TYPE once a type beyond them (or OTHER_TYPE itself) is recorded.
    const named = this.#types.size - (this.#types.has(OTHER_TYPE) ? 1 : 0);
    const key = this.#types.has(name) || named < this.#maxTypes || name === OTHER_TYPE ? name : OTHER_TYPE;
    stats = this.#types.get(key);
    if (stats === undefined) {
      stats = new TypeStats(this.#precision);
      this.#types.set(key, stats);
    }
    return stats;
  }

  /**
   * Records that one event of `type` took `ms` to process. A `type` that is not a string counts under
   * its text (`String(type)`), the summary's key, here and in `recordError` / `recordDropped`.
   *
   * `busyMs` (default `ms`) is the part of that time the stage spent on this event alone, which
   * `events_per_second` counts: for each event of a batch of N handled in one call of T ms, T / N (its
   * `ms` is T); without a wait for a free slot, which is in `ms` but is no work.
   *
   * @throws RangeError when `ms` or `busyMs` is negative, NaN or infinite.
   */
  record(type: string, ms: number, busyMs: number = ms): void {
    if (!isDuration(ms)) {
      throw new RangeError(
        `EventFlowMetrics.record: ms must be a finite non-negative number, got ${shownText(ms)}`,
      );
    }
    if (!isDuration(busyMs)) {
      throw new RangeError(
        `EventFlowMetrics.record: busyMs must be a finite non-negative number, got ${shownText(busyMs)}`,
      );
    }
    this.#stats(type).record(ms, busyMs);
    const recent = this.#recent;
    const evicted = this.#recentCount === recent.length ? recent[this.#recentNext]! : 0;
    recent[this.#recentNext] = ms;
    const sum = this.#recentSum + (ms - evicted);
    // Times added while far larger ones were in the sum were rounded off it: once the sum has fallen
    // far below its peak (an outlier left, or large times left one by one, none larger than what
    // remained), it is taken again from the ring, else the error would stay for good. Rare (the sum
    // must have grown 1,024-fold first), so the running sum stays O(1) per record; the error it keeps
    // is at most ~recentSamples x 2^-43 of the sum. A sum that overflowed (times near Number.MAX_VALUE)
    // is taken again too: Infinity minus the times leaving it would stay Infinity for good.
    if (sum > this.#recentPeak) {
      this.#recentSum = this.#recentPeak = sum;
    } else if (sum < this.#recentPeak * RECOUNT_BELOW_PEAK || sum === Number.POSITIVE_INFINITY) {
      this.#recentSum = this.#recentPeak = sumOf(recent);
    } else {
      this.#recentSum = sum;
    }
    this.#recentNext = (this.#recentNext + 1) % recent.length;
    if (this.#recentCount < recent.length) this.#recentCount++;
  }

  /** Counts a failed event of `type` (it does not enter the processing-time statistics). */
  recordError(type: string): void {
    this.#stats(type).errors++;
  }

  /** Counts an event of `type` dropped by an overflow policy. */
  recordDropped(type: string): void {
    this.#stats(type).dropped++;
  }

  /**
   * Registers a queue-depth gauge (a function read when the load is sampled; cheap, no per-event cost).
   * `queueDepth` is the sum of all gauges. Returns the function that unregisters it.
   */
  gauge(read: () => number): () => void {
    this.#gauges.add(read);
    return () => {
      this.#gauges.delete(read);
    };
  }

  /** Events waiting in the queues of every registered gauge. */
  get queueDepth(): number {
    let depth = 0;
    for (const read of this.#gauges) depth += read();
    return depth;
  }

  /**
   * Average of the last `recentSamples` processing times (all types), ms; 0 before any. A running sum,
   * taken again from the window once it falls 1,024-fold below its peak (huge times that left, at once
   * or one by one), so it stays within ~`recentSamples` x 2^-43 of the window's own sum.
   */
  get avgLatencyMs(): number {
    return this.#recentCount === 0 ? 0 : Math.max(0, this.#recentSum / this.#recentCount);
  }

  /** The pipeline's own load figures, as `systemLoad$` merges them. */
  load(): PipelineLoad {
    return { queueDepth: this.queueDepth, avgLatencyMs: this.avgLatencyMs };
  }

  /**
   * A snapshot of the statistics of every type seen since creation or `reset()`: one own key per type,
   * whatever its name (`__proto__` included).
   */
  summary(): FlowSummary {
    const seconds = Math.max(this.now() - this.#startedAt, 1) / 1000;
    const summary: FlowSummary = {};
    for (const [type, stats] of this.#types) {
      const count = stats.count;
      // Defined, not assigned: a type named `__proto__` would set the summary's prototype instead.
      Object.defineProperty(summary, type, {
        enumerable: true,
        writable: true,
        configurable: true,
        value: {
          count,
          avg_processing_time_ms: count === 0 ? 0 : stats.sumMs / count,
          min_processing_time_ms: count === 0 ? 0 : stats.minMs,
          max_processing_time_ms: stats.maxMs,
          p50_processing_time_ms: stats.percentile(50),
          p95_processing_time_ms: stats.percentile(95),
          p99_processing_time_ms: stats.percentile(99),
          // The seed's max(total, 1 ms) guard keeps an all-zero stage finite.
          events_per_second: count / Math.max(stats.busyMs / 1000, 0.001),
          wall_clock_events_per_second: count / seconds,
          errors: stats.errors,
          dropped: stats.dropped,
        } satisfies TypeFlowSummary,
      });
    }
    return summary;
  }

  /**
   * `summary()` every `intervalMs` (the first after one interval), for dashboards. Cold: each
   * subscriber gets its own timer, cancelled on unsubscribe. A consumer that throws on a summary (a
   * `Subscriber` of its own, whose exception reaches the source) ends the stream with its exception.
   *
   * @throws ConfigError unless `intervalMs` is a positive number of ms up to 2,147,483,647 (setTimeout's
   *   limit: `Infinity` is refused, not turned into a 1 ms interval), or when `scheduler` is not a
   *   `SchedulerLike`; a `scheduler` that runs the delay at once, inside `schedule()`, errors the
   *   subscription with a `ConfigError` (its timer would loop forever).
   */
  summary$(intervalMs: number, scheduler: SchedulerLike = this.#scheduler): Observable<FlowSummary> {
    // Node fires a longer timer at once rather than never: Infinity would be a 1 ms interval.
    timerOption('summary$: intervalMs', intervalMs);
    checkConfig('summary$', { scheduler });
    const metrics = this;
    // interval() on a scheduler that runs the delay at once, inside schedule(), looped forever: refused.
    return new Observable<FlowSummary>((subscriber) =>
      schedulePeriodic(
        scheduler,
        function () {
          let summary: FlowSummary;
          try {
            summary = metrics.summary();
          } catch (error) {
            subscriber.error(error);
            return;
          }
          // A consumer that throws ends the stream: thrown on, it came out of the scheduler (uncaught, from a
          // real timer) and the timer stopped, for a stream that never ended.
          if (!nextOrEnd(subscriber, summary)) return;
          this.schedule(undefined, intervalMs);
        },
        intervalMs,
        'summary$',
      ),
    );
  }

  /** Forgets every statistic and restarts the throughput clock. Gauges stay registered. */
  reset(): void {
    this.#types.clear();
    this.#recent.fill(0);
    this.#recentNext = 0;
    this.#recentCount = 0;
    this.#recentSum = 0;
    this.#recentPeak = 0;
    this.#startedAt = this.now();
  }
}

/** Options of `measure`. */
export interface MeasureOptions<T> {
  /**
   * The type each value is recorded under: a fixed name or a function of the value. Default: the
   * value's `type` when it is a string (an `Event`), else `'value'`.
   */
  type?: string | ((value: T) => string) | undefined;
}

const MEASURE_KEYS = optionKeys<MeasureOptions<unknown>>({ type: true });

/** A reading of `metrics.now()`. @throws RangeError when it is not a finite number. */
function clockTime(metrics: EventFlowMetrics): number {
  const time = metrics.now();
  if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw new RangeError(
      `measure: the clock (metrics.now) must give a finite number, got ${shownText(time)}`,
    );
  }
  return time;
}

function defaultType(value: unknown): string {
  const type = (value as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : 'value';
}

/**
 * Times the stage that follows it: for each value, the time the downstream operators and subscriber
 * take to handle it synchronously, recorded into `metrics` under the value's type. The stream passes
 * through unchanged — same values, same order, same errors and completion; nothing is buffered.
 *
 * The stage ends at the first asynchronous boundary (a promise, a scheduler hop): to time an
 * asynchronous stage, record its duration with `metrics.record` where it settles (as `hybridProcess`
 * does).
 *
 * A `type` function or a clock that fails (throws, or gives a time that is not a finite number: a
 * `RangeError`) errors the stream, after the value went downstream, without recording it (a consumer
 * that throws on that value does not change this: the first failure ends the stream). A consumer that
 * throws on a value errors the stream with its exception (not thrown at the source); the value is
 * counted with `recordError`, not timed.
 *
 * ```
 * source:  --a---b---c--|
 * result:  --a---b---c--|     metrics: a, b, c recorded under their types
 * ```
 *
 * ## Example
 * ```ts
 * events$.pipe(measure(metrics), map(enrich), tap(write)).subscribe(); // times map + tap + subscriber
 * ```
 *
 * @param metrics where the times go; its clock (`metrics.now`) times the stage.
 * @param options the `type` to record under.
 * @return an operator that mirrors its source.
 * @throws ConfigError at construction when `metrics` is not an `EventFlowMetrics`, `type` neither a
 *   string nor a function, or an option's name is unknown (named with the nearest known one).
 */
export function measure<T>(
  metrics: EventFlowMetrics,
  options: MeasureOptions<T> = {},
): MonoTypeOperatorFunction<T> {
  // What `measure` uses of it (not `instanceof`: a second copy of the package makes its own class).
  if (typeof metrics?.record !== 'function' || typeof metrics.now !== 'function') {
    throw new ConfigError(`measure: metrics must be an EventFlowMetrics, got ${shownText(metrics)}`);
  }
  options = checkConfig('measure', options, MEASURE_KEYS);
  const typeOption = options.type;
  if (typeOption !== undefined && typeof typeOption !== 'string' && typeof typeOption !== 'function') {
    // It would error the stream at the first value.
    throw new ConfigError(`measure: type must be a string or a function, got ${shownText(typeOption)}`);
  }
  const typeOf: (value: T) => string =
    typeof typeOption === 'string' ? () => typeOption : (typeOption ?? defaultType);
  return (source) =>
    new Observable<T>((subscriber) => {
      // `type` or the clock failed on `value`: it still goes downstream, then that failure (the first)
      // errors the stream — also when the consumer throws on it, whose exception is not thrown at the source.
      const passThenFail = (value: T, failure: unknown) => {
        try {
          subscriber.next(value);
        } catch {
          // The stage's failure came first: it ends the output.
        }
        subscriber.error(failure);
      };
      // Tied to the consumer before the source starts: a synchronous source stops when the consumer leaves.
      return subscribeLinked(source, subscriber, {
        next(value) {
          // `type` and the clock (`now`) are user callbacks: a failure errors the stream, after the value
          // went downstream (nothing is lost), rather than being thrown at the source.
          let type: string;
          try {
            type = typeOf(value);
          } catch (error) {
            passThenFail(value, error);
            return;
          }
          let start: number;
          try {
            start = clockTime(metrics);
          } catch (error) {
            passThenFail(value, error);
            return;
          }
          try {
            subscriber.next(value);
          } catch (error) {
            // The stage failed on it (a consumer that throws): counted as an error, not timed, and the
            // output ends with the exception rather than it being thrown at the source.
            try {
              metrics.recordError(type);
            } catch {
              // The consumer's exception, the first failure, ends the output.
            }
            subscriber.error(error);
            return;
          }
          try {
            // A clock stepping back gives 0; one giving a non-finite time errors (it would record 0 too).
            metrics.record(type, Math.max(0, clockTime(metrics) - start));
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
