/**
 * `adaptiveBatch`: batches by size or time, and adapts the size and the time from the measured latency
 * of the batches. See `docs/adaptiveBatch.md`.
 */
import {
  asyncScheduler,
  BehaviorSubject,
  distinctUntilChanged,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import {
  ConfigError,
  checkOptions,
  optionKeys,
  refuseNull,
  rejectUnknownKeys,
  shownText,
} from '../errors.js';
import { isFieldRecord } from '../streams/payload.js';
import { checkConfig, clockTime, scheduleLater, timerOption } from './internal/eventTime.js';
import { subscribeLinked } from './internal/linked.js';

/** The live batching parameters. */
export interface BatchConfig {
  /** A batch is emitted as soon as it holds this many items. */
  readonly maxSize: number;
  /** …or this long (ms, on the scheduler) after its first item arrived, whichever comes first. */
  readonly timeoutMs: number;
}

/** The bounds a policy adapts within. The controller clamps whatever a policy proposes into them. */
export interface BatchLimits {
  /** Lowest `maxSize` (the seed's `min_batch_size`). */
  readonly minSize: number;
  /** Highest `maxSize`. */
  readonly maxSizeLimit: number;
  readonly minTimeoutMs: number;
  readonly maxTimeoutMs: number;
}

/** What the batch processor reports after it has processed one batch. */
export interface BatchReport {
  /** How long processing the batch took, ms. */
  latencyMs: number;
  /** How many items the batch held. */
  size: number;
}

/** A report as the controller keeps it. */
export interface BatchSample extends BatchReport {
  /** When it was reported, on the scheduler's clock. */
  readonly at: number;
  /** `size / latency` in items per second of processing time (the seed's `events_per_second`). */
  readonly capacityPerSecond: number;
}

/** What a policy sees when it is asked to adapt. */
export interface BatchPolicyContext {
  /** The current configuration. */
  readonly config: BatchConfig;
  /**
   * The samples reported since the configuration last changed (measurements under an older
   * configuration say nothing about this one), oldest first, at most 100. A live view, valid during
   * the call: copy it to keep it.
   */
  readonly samples: readonly BatchSample[];
  /** The scheduler's clock. */
  readonly now: number;
  /** When the configuration last changed, or `undefined` if it never did. */
  readonly lastChangeAt: number | undefined;
  /**
   * Wall-clock throughput over `samples`: the items they report per second of scheduler time between
   * the first and the last, or `undefined` with fewer than two samples or no time between them.
   */
  readonly throughputPerSecond: number | undefined;
  readonly limits: BatchLimits;
}

/**
 * Decides the next configuration after each report. Return the fields to change (the controller clamps
 * them to the limits, `Infinity` and a negative included) or `undefined` to keep the configuration. An
 * exception is thrown out of `report`, and so is a `ConfigError` for a field that is not a number (`NaN`,
 * a string, `null`), a field of another name, or a proposal that is no object (as `setConfig`).
 */
export interface BatchPolicy {
  readonly name: string;
  adapt(context: BatchPolicyContext): { [K in keyof BatchConfig]?: BatchConfig[K] | undefined } | undefined;
}

/** Options of `seedPolicy`; the defaults are the seed's constants. */
export interface SeedPolicyOptions {
  /** No change within this long (ms, scheduler clock) of the last one. Default 30,000. */
  cooldownMs?: number | undefined;
  /** Samples needed (since the last change) before deciding; the decision averages the last this many. Default 10. */
  minSamples?: number | undefined;
  /** Average latency above which batches shrink. Default 150 ms. */
  slowLatencyMs?: number | undefined;
  /** Average latency below which batches may grow. Default 50 ms. */
  fastLatencyMs?: number | undefined;
  /** …when the average capacity is also below this many items/s. Default 100. */
  lowCapacityPerSecond?: number | undefined;
  /** Default 5. */
  shrinkSize?: number | undefined;
  /** Default 200 ms. */
  shrinkTimeoutMs?: number | undefined;
  /** Default 10. */
  growSize?: number | undefined;
  /** Default 500 ms. */
  growTimeoutMs?: number | undefined;
}

/** Options of `aimdPolicy`. */
export interface AimdPolicyOptions {
  /** The batch processing latency to stay under, ms. */
  targetLatencyMs: number;
  /** Items added to `maxSize` when latency is on target and batches fill up. Default 5. */
  increase?: number | undefined;
  /** `maxSize` is multiplied by this when latency is over target. Default 0.5. */
  decreaseFactor?: number | undefined;
  /** Samples (since the last change) averaged per decision. Default 5. */
  samples?: number | undefined;
  /** No change within this long (ms) of the last one. Default 0. */
  cooldownMs?: number | undefined;
}

/** Options of `adaptiveBatch`. */
export interface AdaptiveBatchOptions {
  /** Lowest `maxSize` a policy may set. Default 5. */
  minSize?: number | undefined;
  /** Starting `maxSize`. Default 50 (the seed's `max_batch_size`). */
  maxSize?: number | undefined;
  /** Highest `maxSize` a policy may set. Default 200. */
  maxSizeLimit?: number | undefined;
  /** Starting `timeoutMs`. Default 2,000. */
  timeoutMs?: number | undefined;
  /** Lowest `timeoutMs` a policy may set. Default 500. */
  minTimeoutMs?: number | undefined;
  /** Highest `timeoutMs` a policy may set. Default 5,000. */
  maxTimeoutMs?: number | undefined;
  /** How to adapt. Default `seedPolicy()`; `fixedPolicy` never adapts. */
  policy?: BatchPolicy | undefined;
  /** Timers and the clock of `report`. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/**
 * The operator `adaptiveBatch` returns: an `OperatorFunction<T, T[]>` that also carries its controller —
 * the live configuration and the feedback entry point, shared by every subscription of this operator.
 */
export interface AdaptiveBatchOperator<T> extends OperatorFunction<T, T[]> {
  /** The current configuration. */
  readonly config: BatchConfig;
  /** The configuration now and after every change (replays the current one to a new subscriber). */
  readonly config$: Observable<BatchConfig>;
  /** The limits the configuration is clamped to. */
  readonly limits: BatchLimits;
  /** The samples since the last change, oldest first. */
  readonly samples: readonly BatchSample[];
  /**
   * Feeds back one processed batch — call it when a batch emitted by this operator has been processed.
   * Runs the policy, which may change the configuration at once (open batches are re-cut to it).
   *
   * @throws RangeError on a negative or non-finite latency or size; whatever the policy throws; ConfigError
   *   when the policy proposes a field that is not a number, of another name, or no object.
   */
  report(report: BatchReport): void;
  /**
   * Sets the configuration by hand (clamped to the limits: `Infinity` is the upper one). A value that
   * differs counts as a change for the policy (samples cleared, `config$` emits); the values it has are
   * no change.
   *
   * @throws ConfigError when `config` is not an object, a key is neither `maxSize` nor `timeoutMs` (named
   *   with the nearest one), or a value is not a number (`NaN`, `'80'`, `null`).
   */
  setConfig(config: { [K in keyof BatchConfig]?: BatchConfig[K] | undefined }): void;
}

const HISTORY = 100;

const SEED_POLICY_KEYS = optionKeys<SeedPolicyOptions>({
  cooldownMs: true,
  minSamples: true,
  slowLatencyMs: true,
  fastLatencyMs: true,
  lowCapacityPerSecond: true,
  shrinkSize: true,
  shrinkTimeoutMs: true,
  growSize: true,
  growTimeoutMs: true,
});
const AIMD_POLICY_KEYS = optionKeys<AimdPolicyOptions>({
  targetLatencyMs: true,
  increase: true,
  decreaseFactor: true,
  samples: true,
  cooldownMs: true,
});
const ADAPTIVE_BATCH_KEYS = optionKeys<AdaptiveBatchOptions>({
  minSize: true,
  maxSize: true,
  maxSizeLimit: true,
  timeoutMs: true,
  minTimeoutMs: true,
  maxTimeoutMs: true,
  policy: true,
  scheduler: true,
});
const BATCH_CONFIG_KEYS = optionKeys<BatchConfig>({ maxSize: true, timeoutMs: true });

/** `where` names the function and the option (`seedPolicy: minSamples`), as the error shows it. */
function positiveInteger(where: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`${where} must be a positive integer, got ${shownText(value)}`);
  }
  return value;
}

function positiveNumber(where: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new ConfigError(`${where} must be a positive finite number, got ${shownText(value)}`);
  }
  return value;
}

function nonNegativeNumber(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new ConfigError(`${name} must be a finite number ≥ 0, got ${shownText(value)}`);
  }
  return value;
}

/** A number, ±Infinity included (it is clamped); not `NaN`. */
function isNumber(value: unknown): value is number {
  return typeof value === 'number' && !Number.isNaN(value);
}

/**
 * What `setConfig` takes and a policy proposes (`policy`: its name): an object of the fields to change,
 * each a number (clamped to the limits, ±Infinity too) or undefined. What apply() would pass over (NaN,
 * '80', null, a Map: no own fields, a mistyped field) is a ConfigError, rather than the configuration
 * left as it was without a word.
 */
function checkBatchConfig(config: unknown, policy?: unknown): asserts config is Partial<BatchConfig> {
  const where =
    policy === undefined ? 'adaptiveBatch: setConfig' : `adaptiveBatch: policy ${shownText(policy)}`;
  if (!isFieldRecord(config)) {
    throw new ConfigError(
      policy === undefined
        ? `${where} takes an object, got ${shownText(config)}`
        : `${where} must return the fields to change (an object) or undefined, got ${shownText(config)}`,
    );
  }
  rejectUnknownKeys(where, config, BATCH_CONFIG_KEYS, policy === undefined ? 'option' : 'field');
  for (const key of BATCH_CONFIG_KEYS) {
    const value = config[key];
    if (value === undefined || isNumber(value)) continue;
    throw new ConfigError(
      policy === undefined
        ? `${where} ${key} must be a number (clamped to the limits), got ${shownText(value)}`
        : `${where} proposed ${key} ${shownText(value)}: it must be a number (clamped to the limits); the configuration is left as it was`,
    );
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

/** The mean of `field` over the last `count` samples (all of them when fewer). */
function meanOfLast(
  samples: readonly BatchSample[],
  count: number,
  field: 'latencyMs' | 'capacityPerSecond',
): number {
  const from = Math.max(0, samples.length - count);
  let sum = 0;
  for (let i = from; i < samples.length; i++) sum += samples[i]![field];
  return samples.length === from ? 0 : sum / (samples.length - from);
}

/**
 * The seed's policy (`AdaptiveBatcher.adapt_configuration`): at most one change per `cooldownMs`
 * (30 s), once `minSamples` (10) samples were reported since the last change; over the last 10: if the
 * average latency is above 150 ms, `maxSize −5` and `timeoutMs −200`; if it is below 50 ms and the
 * average capacity (items per second of processing) is below 100, `maxSize +10` and `timeoutMs +500`.
 * The bounds (5..200, 500..5000 ms) are the operator's limits.
 *
 * Unlike the seed, samples taken under an older configuration are not counted, and every report is
 * kept (the seed discarded those arriving during the cooldown).
 */
export function seedPolicy(options: SeedPolicyOptions = {}): BatchPolicy {
  checkOptions('seedPolicy', options, SEED_POLICY_KEYS);
  const {
    cooldownMs = 30_000,
    minSamples = 10,
    slowLatencyMs = 150,
    fastLatencyMs = 50,
    lowCapacityPerSecond = 100,
    shrinkSize = 5,
    shrinkTimeoutMs = 200,
    growSize = 10,
    growTimeoutMs = 500,
  } = options;
  positiveInteger('seedPolicy: minSamples', minSamples);
  if (typeof cooldownMs !== 'number' || !(cooldownMs >= 0))
    throw new ConfigError(`seedPolicy: cooldownMs must be ≥ 0, got ${shownText(cooldownMs)}`);
  // A threshold or step that is not a number would make the policy never (or wrongly) adapt, silently.
  for (const [name, value] of Object.entries({
    slowLatencyMs,
    fastLatencyMs,
    lowCapacityPerSecond,
    shrinkSize,
    shrinkTimeoutMs,
    growSize,
    growTimeoutMs,
  })) {
    nonNegativeNumber(`seedPolicy: ${name}`, value);
  }
  return {
    name: 'seed',
    adapt({ config, samples, now, lastChangeAt }) {
      if (lastChangeAt !== undefined && now - lastChangeAt < cooldownMs) return undefined;
      if (samples.length < minSamples) return undefined;
      const latency = meanOfLast(samples, minSamples, 'latencyMs');
      const capacity = meanOfLast(samples, minSamples, 'capacityPerSecond');
      if (latency > slowLatencyMs) {
        return { maxSize: config.maxSize - shrinkSize, timeoutMs: config.timeoutMs - shrinkTimeoutMs };
      }
      if (latency < fastLatencyMs && capacity < lowCapacityPerSecond) {
        return { maxSize: config.maxSize + growSize, timeoutMs: config.timeoutMs + growTimeoutMs };
      }
      return undefined;
    },
  };
}

/**
 * Additive increase, multiplicative decrease towards a latency target, as adaptive request concurrency
 * does for in-flight requests: over the last `samples` reports since the last change, if the average
 * latency is above `targetLatencyMs`, `maxSize × decreaseFactor`; otherwise, if a batch filled up to
 * `maxSize` (so a bigger one would have been used), `maxSize + increase`. `timeoutMs` is left alone.
 */
export function aimdPolicy(options: AimdPolicyOptions): BatchPolicy {
  checkOptions('aimdPolicy', options, AIMD_POLICY_KEYS, true);
  const {
    targetLatencyMs,
    increase = 5,
    decreaseFactor = 0.5,
    samples: window = 5,
    cooldownMs = 0,
  } = options;
  positiveNumber('aimdPolicy: targetLatencyMs', targetLatencyMs);
  positiveInteger('aimdPolicy: increase', increase);
  positiveInteger('aimdPolicy: samples', window);
  if (typeof decreaseFactor !== 'number' || !(decreaseFactor > 0 && decreaseFactor < 1)) {
    throw new ConfigError(`aimdPolicy: decreaseFactor must be in (0, 1), got ${shownText(decreaseFactor)}`);
  }
  if (typeof cooldownMs !== 'number' || !(cooldownMs >= 0))
    throw new ConfigError(`aimdPolicy: cooldownMs must be ≥ 0, got ${shownText(cooldownMs)}`);
  return {
    name: 'aimd',
    adapt({ config, samples, now, lastChangeAt }) {
      if (lastChangeAt !== undefined && now - lastChangeAt < cooldownMs) return undefined;
      if (samples.length < window) return undefined;
      if (meanOfLast(samples, window, 'latencyMs') > targetLatencyMs) {
        return { maxSize: Math.floor(config.maxSize * decreaseFactor) };
      }
      for (let i = samples.length - window; i < samples.length; i++) {
        if (samples[i]!.size >= config.maxSize) return { maxSize: config.maxSize + increase };
      }
      return undefined;
    },
  };
}

/** A policy that never adapts: `adaptiveBatch` then behaves as a size-or-time batcher. */
export const fixedPolicy: BatchPolicy = Object.freeze({ name: 'fixed', adapt: () => undefined });

interface Controller {
  readonly limits: BatchLimits;
  readonly config$: BehaviorSubject<BatchConfig>;
  samples: BatchSample[];
  lastChangeAt: number | undefined;
}

/**
 * Collects items into arrays: a batch is emitted when it holds the current `maxSize` items, or
 * `timeoutMs` after its first item arrived, whichever comes first. Never emits an empty batch; on
 * complete the open batch is emitted before completion, and on error before the error.
 *
 * The configuration adapts from feedback: whoever processes the batches calls `report({ latencyMs,
 * size })` on the returned operator after each one, and the `policy` (default `seedPolicy()`, or
 * `aimdPolicy({ targetLatencyMs })`) moves `maxSize` and `timeoutMs` within the limits. The live
 * configuration is `config` / `config$`; an open batch is re-cut at once when it changes. The
 * configuration belongs to the operator (shared by its subscriptions, like a connection pool's
 * limits); the open batch and its timer belong to each subscription. Applied to two sources, the
 * operator is one controller: both pipelines' reports feed one policy, and a change re-cuts both. Make
 * one `adaptiveBatch()` per pipeline when they should adapt independently.
 *
 * The only buffer is the open batch, bounded by `maxSize`: items are never queued beyond it.
 *
 * A consumer that throws on a batch ends the output with that exception, whichever call emitted the
 * batch (the source's, the timer's, a configuration change's), instead of throwing it at the source or
 * the scheduler: the source is left, the batches still held (the items it pushed before it threw
 * included) are emitted, then the error. On the batch flushed before a source error, the source's error
 * ends the output.
 *
 * ```
 * maxSize 3, timeoutMs 5 (minSize 1, minTimeoutMs 1: the defaults' bounds are 5 and 500)
 * source:  -a-b-c-d----e--|
 * result:  -----x------y--(z|)     x = [a,b,c] (full), y = [d] (5 ms after d: e, arriving then, opens
 *                                  the next batch), z = [e] (complete)
 * ```
 *
 * ## Example
 * ```ts
 * const batcher = adaptiveBatch<Event>({ maxSize: 50, timeoutMs: 2000 });
 * events$.pipe(
 *   batcher,
 *   concatMap(async (batch) => {
 *     const start = performance.now();
 *     await store.append(batch);
 *     batcher.report({ latencyMs: performance.now() - start, size: batch.length });
 *   }),
 * );
 * batcher.config$.subscribe((config) => console.log('batching', config));
 * ```
 *
 * @param options starting configuration, limits, `policy` and `scheduler`.
 * @return the operator, carrying `config`, `config$`, `report` and `setConfig`.
 * @throws ConfigError when an option is out of range or `null` (`policy: null`: leave it out for the
 *   default), the limits do not hold the starting config, or an option's name is unknown (named with the
 *   nearest known one).
 */
export function adaptiveBatch<T>(options: AdaptiveBatchOptions = {}): AdaptiveBatchOperator<T> {
  options = checkConfig('adaptiveBatch', options, ADAPTIVE_BATCH_KEYS);
  refuseNull('adaptiveBatch', options, ADAPTIVE_BATCH_KEYS);
  const scheduler = options.scheduler ?? asyncScheduler;
  const policy = options.policy ?? seedPolicy();
  const limits: BatchLimits = Object.freeze({
    minSize: positiveInteger('adaptiveBatch: minSize', options.minSize ?? 5),
    maxSizeLimit: positiveInteger('adaptiveBatch: maxSizeLimit', options.maxSizeLimit ?? 200),
    minTimeoutMs: timerOption('adaptiveBatch: minTimeoutMs', options.minTimeoutMs ?? 500),
    maxTimeoutMs: timerOption('adaptiveBatch: maxTimeoutMs', options.maxTimeoutMs ?? 5000),
  });
  const maxSize = positiveInteger('adaptiveBatch: maxSize', options.maxSize ?? 50);
  const timeoutMs = timerOption('adaptiveBatch: timeoutMs', options.timeoutMs ?? 2000);
  if (limits.minSize > maxSize || maxSize > limits.maxSizeLimit) {
    throw new ConfigError(
      `adaptiveBatch: need minSize ≤ maxSize ≤ maxSizeLimit, got ${shownText(limits.minSize)} ≤ ${maxSize} ≤ ${limits.maxSizeLimit}`,
    );
  }
  if (limits.minTimeoutMs > timeoutMs || timeoutMs > limits.maxTimeoutMs) {
    throw new ConfigError(
      `adaptiveBatch: need minTimeoutMs ≤ timeoutMs ≤ maxTimeoutMs, got ${shownText(limits.minTimeoutMs)} ≤ ${timeoutMs} ≤ ${limits.maxTimeoutMs}`,
    );
  }
  if (typeof policy?.adapt !== 'function')
    throw new ConfigError('adaptiveBatch: policy must have an adapt()');

  const controller: Controller = {
    limits,
    config$: new BehaviorSubject<BatchConfig>(Object.freeze({ maxSize, timeoutMs })),
    samples: [],
    lastChangeAt: undefined,
  };

  const apply = (proposal: Partial<BatchConfig>) => {
    const current = controller.config$.getValue();
    // ±Infinity is clamped like any number out of the limits ("as large as allowed").
    const nextSize = isNumber(proposal.maxSize)
      ? Math.round(clamp(proposal.maxSize, limits.minSize, limits.maxSizeLimit))
      : current.maxSize;
    const nextTimeout = isNumber(proposal.timeoutMs)
      ? clamp(proposal.timeoutMs, limits.minTimeoutMs, limits.maxTimeoutMs)
      : current.timeoutMs;
    if (nextSize === current.maxSize && nextTimeout === current.timeoutMs) return;
    // Read before anything changes: a clock that gives no time is a ConfigError, the configuration kept.
    const now = clockTime(scheduler, 'adaptiveBatch');
    controller.samples = [];
    controller.lastChangeAt = now;
    controller.config$.next(Object.freeze({ maxSize: nextSize, timeoutMs: nextTimeout }));
  };

  // Typed here and cast below rather than cast as a whole: Stryker does not mutate what an `as` wraps
  // (stryker-js#6227), which hid this body, the batching itself, from every mutation run.
  const operate: OperatorFunction<T, T[]> = (source) =>
    new Observable<T[]>((subscriber) => {
      let buffer: T[] = [];
      let firstAt = 0;
      let timer: Subscription | undefined;

      const cancelTimer = () => {
        timer?.unsubscribe();
        timer = undefined;
      };

      // A batch above maxSize (after a shrink) being emitted in chunks: the chunks not yet emitted. They
      // are older than anything in `buffer`, so whatever flushes next — a re-entrant push that fills a
      // batch, or the source ending from inside a chunk's emission — emits them first.
      let chunks: { readonly items: T[]; next: number } | undefined;
      const emitChunks = () => {
        while (chunks !== undefined && chunks.next < chunks.items.length && !subscriber.closed) {
          const start = chunks.next;
          chunks.next += controller.config$.getValue().maxSize;
          deliver(chunks.items.slice(start, chunks.next));
        }
        chunks = undefined;
      };

      // Set once the output is ending with an error (the source's, or the consumer's first exception).
      let failed = false;
      let sourceSubscription: Subscription | undefined;

      // What the consumer throws on a batch ends the output, whichever call emitted it (the source's, a
      // timer's, a configuration change's): the source is left (what the consumer pushes after it is not
      // read), the batches still held — older chunks, the items it pushed before it threw — are emitted,
      // then the output errors with that first exception. Not thrown at the source or the scheduler.
      const deliver = (items: T[]) => {
        try {
          subscriber.next(items);
        } catch (error) {
          fail(error);
        }
      };
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        sourceSubscription?.unsubscribe();
        flush();
        subscriber.error(error);
      };

      // Emits a batch taken out of `buffer`, in chunks when it is above maxSize (after a shrink).
      const emitBatch = (items: T[]) => {
        if (items.length <= controller.config$.getValue().maxSize) {
          deliver(items);
          return;
        }
        chunks = { items, next: 0 };
        emitChunks();
      };

      // Batches an arriving item found due (taken out of `buffer`), waiting behind the older chunks: newer
      // than the chunks, older than anything in `buffer`. Held here rather than by that item's call, so
      // whatever flushes meanwhile — a consumer's exception on a chunk, which ends the output — emits them
      // in order (else lost, emitted after the error; or overtaken by a later one found due re-entrantly).
      const dueBatches: T[][] = [];
      const emitDue = () => {
        while (dueBatches.length > 0 && !subscriber.closed) emitBatch(dueBatches.shift()!);
        dueBatches.length = 0;
      };

      // Swap the buffer out before emitting: a re-entrant push lands in the fresh one.
      const flush = () => {
        cancelTimer();
        emitChunks();
        if (dueBatches.length > 0) emitDue();
        if (buffer.length === 0) return;
        const items = buffer;
        buffer = [];
        emitBatch(items);
      };

      const armTimer = () => {
        cancelTimer();
        // A batch already due (a change shortened its timeout) is a zero delay, which a scheduler may run at
        // once (queueScheduler): the spent action is not kept, as it would stand in for the timer a push
        // re-entrant from that flush armed, which then could be neither cancelled nor re-armed.
        // A scheduler whose schedule() throws, or whose now() gives no time, ends the output as the
        // consumer's exception does (the items held are emitted first): it was thrown at the source's
        // next, the item's batch left unsent.
        let action: Subscription | undefined;
        try {
          const delay = Math.max(
            0,
            firstAt + controller.config$.getValue().timeoutMs - clockTime(scheduler, 'adaptiveBatch'),
          );
          action = scheduleLater(scheduler, flush, delay, 'adaptiveBatch');
        } catch (error) {
          fail(error);
          return;
        }
        if (action !== undefined) timer = action;
      };

      // On a change, re-cut by the *current* configuration, not the value delivered: when a change is
      // made while another is being delivered (a consumer reacting to a re-cut batch), a subscription
      // further down the subject's list gets the newer value first and the older one last.
      const configSubscription = controller.config$.pipe(distinctUntilChanged()).subscribe(() => {
        if (buffer.length === 0) return;
        if (buffer.length >= controller.config$.getValue().maxSize) flush();
        else armTimer();
      });

      // Tied to the consumer before the source starts: a synchronous source stops when the consumer leaves.
      sourceSubscription = subscribeLinked(source, subscriber, {
        next(value) {
          // An item the consumer pushes into the source while the batches are flushed after its exception
          // (the input has stopped; the subscriber's error, which leaves the source, comes after the flush).
          if (failed) return;
          // A clock that gives no time (NaN, a string, Infinity) ends the output with a ConfigError, this
          // item emitted with those held first: NaN armed a timer that a virtual clock never ran and a real
          // one ran at once, and '5' cut the batch ~5,500 ms late ('5' + 500 - '5').
          let now: number;
          try {
            now = clockTime(scheduler, 'adaptiveBatch');
          } catch (error) {
            buffer.push(value);
            fail(error);
            return;
          }
          // An item arriving when its batch is due (on the very frame its timer runs, before it) opens the
          // next batch: "timeoutMs after its first item" must not depend on which of the two the scheduler
          // happens to run first. The item is held before the due batch is emitted, so a consumer ending
          // the source from that batch still gets it flushed.
          let due = false;
          if (buffer.length > 0 && now >= firstAt + controller.config$.getValue().timeoutMs) {
            cancelTimer();
            dueBatches.push(buffer);
            buffer = [];
            due = true;
          }
          buffer.push(value);
          if (buffer.length === 1) {
            firstAt = now;
            armTimer();
          }
          if (due) {
            emitChunks();
            emitDue();
          }
          if (buffer.length >= controller.config$.getValue().maxSize) flush();
        },
        error(error: unknown) {
          // It ends the output, also when the consumer throws on the batch flushed before it.
          failed = true;
          flush();
          subscriber.error(error);
        },
        complete() {
          flush();
          subscriber.complete();
        },
      });

      return () => {
        cancelTimer();
        configSubscription.unsubscribe();
        sourceSubscription?.unsubscribe();
      };
    });
  const operator = operate as AdaptiveBatchOperator<T>;

  const config$ = controller.config$.asObservable();
  Object.defineProperties(operator, {
    config: { get: () => controller.config$.getValue(), enumerable: true },
    config$: { value: config$, enumerable: true },
    limits: { value: limits, enumerable: true },
    samples: { get: () => controller.samples.slice(), enumerable: true },
    report: {
      value(report: BatchReport) {
        const { latencyMs, size } = report ?? ({} as BatchReport);
        if (typeof latencyMs !== 'number' || !(latencyMs >= 0) || !Number.isFinite(latencyMs)) {
          throw new RangeError(
            `adaptiveBatch.report: latencyMs must be finite and ≥ 0, got ${shownText(latencyMs)}`,
          );
        }
        if (typeof size !== 'number' || !(size >= 0) || !Number.isFinite(size)) {
          throw new RangeError(`adaptiveBatch.report: size must be finite and ≥ 0, got ${shownText(size)}`);
        }
        const sample: BatchSample = Object.freeze({
          latencyMs,
          size,
          // A clock that gives no time is a ConfigError thrown out of report, the sample not kept.
          at: clockTime(scheduler, 'adaptiveBatch'),
          capacityPerSecond: size / Math.max(latencyMs / 1000, 0.001),
        });
        controller.samples.push(sample);
        if (controller.samples.length > HISTORY) controller.samples.shift();
        const samples = controller.samples;
        const proposal: unknown = policy.adapt({
          config: controller.config$.getValue(),
          samples,
          now: sample.at,
          lastChangeAt: controller.lastChangeAt,
          get throughputPerSecond() {
            const span = samples.length < 2 ? 0 : samples[samples.length - 1]!.at - samples[0]!.at;
            if (span <= 0) return undefined;
            let items = 0;
            // The first sample's items were processed before the span began.
            for (let i = 1; i < samples.length; i++) items += samples[i]!.size;
            return items / (span / 1000);
          },
          limits,
        });
        if (proposal === undefined || proposal === null) return;
        // As setConfig: a field that is not a number (NaN, '80', null), a mistyped field or no object is a
        // ConfigError thrown out of report, the configuration left as it was; it was passed over, so a
        // policy that computed NaN never adapted again, without a word.
        checkBatchConfig(proposal, policy.name);
        apply(proposal);
      },
    },
    setConfig: {
      value: (config: Partial<BatchConfig>) => {
        checkBatchConfig(config);
        apply(config);
      },
    },
  });
  return operator;
}
