/**
 * `selectMode`: the pure decision of how an event is processed — at once, in a batch, or in the
 * background. See `docs/selectMode.md`.
 */
import { ConfigError, optionKeys, readFields, refuseNull, rejectUnknownKeys, shownText } from '../errors.js';
import { type Event, Priority } from '../event.js';
import { isRecord } from '../streams/payload.js';
import type { LoadSnapshot } from '../streams/systemLoad.js';

/**
 * How `hybridProcess` processes an event.
 * - `IMMEDIATE`: at once, individually, in the latency lane; never waits behind a batch.
 * - `BATCHED`: collected by `adaptiveBatch` and processed with other events.
 * - `ASYNC`: individually, in the background lane: never inside the source's emitting call, with its
 *   own (small) concurrency, so it neither blocks the latency lane nor waits for a batch to fill.
 */
export const ProcessingMode = { IMMEDIATE: 'immediate', BATCHED: 'batched', ASYNC: 'async' } as const;
/** One of `ProcessingMode.IMMEDIATE`, `BATCHED`, `ASYNC`. */
export type ProcessingMode = (typeof ProcessingMode)[keyof typeof ProcessingMode];

/**
 * Above which value a load figure counts as a high-load indicator (strictly greater). Each is a finite
 * number ≥ 0 (every figure is), or `Infinity`, which disables an indicator.
 */
export interface LoadThresholds {
  /** System CPU usage, %. Default 80 (the seed's `cpu_high`). */
  cpuPercent: number;
  /** System memory usage, %. Default 85 (the seed's `memory_high`). */
  memoryPercent: number;
  /** Events waiting in the pipeline's queues. Default 1,000 (the seed's `queue_high`). */
  queueDepth: number;
  /** Recent average processing latency, ms. Default 200 (the seed's `latency_high`). */
  avgLatencyMs: number;
  /**
   * Mean event-loop delay, ms. Default 100 — the library's whole latency budget. Not in the seed: for
   * a Node pipeline a delayed event loop is the most direct sign of overload.
   */
  eventLoopDelayMs: number;
  /** Event-loop utilisation, 0..1. Default 0.9. Not in the seed (see `eventLoopDelayMs`). */
  eventLoopUtilization: number;
}

/** Options of `selectMode` and `createModeSelector`. Every field is optional. */
export interface SelectModeConfig {
  /** Thresholds of the high-load indicators; missing ones keep their default. */
  thresholds?: { [K in keyof LoadThresholds]?: LoadThresholds[K] | undefined } | undefined;
  /** How many indicators must be high for the system to count as loaded. Default 2 (the seed's rule). */
  minHighLoadIndicators?: number | undefined;
  /**
   * Types a user waits on: IMMEDIATE unless the system is loaded. Default `git.commit`,
   * `agent.completed`, `workflow.failed`. Entries are exact types or `*` globs (`workflow.*`).
   */
  userBlockingTypes?: readonly string[] | undefined;
  /** Types that come in floods: BATCHED. Default `file.modified`, `tool.used`, `performance.metric`. */
  highVolumeTypes?: readonly string[] | undefined;
  /**
   * Types nobody waits on: ASYNC (after the HIGH rule). Default `*.aggregated` — aggregates are already
   * coalesced, so batching them again only adds latency. Pass `[]` to disable.
   */
  backgroundTypes?: readonly string[] | undefined;
  /** Where LOW-priority events go when no earlier rule matched. Default `'async'`; `'batched'` is the seed. */
  lowPriority?: 'async' | 'batched' | undefined;
}

/**
 * A compiled `SelectModeConfig`: `(event, load) => ProcessingMode`. A missing or `null` load is no
 * load: no figure counts as high.
 */
export type ModeSelector = (event: Event<object>, load?: LoadSnapshot | null) => ProcessingMode;

/** The seed's four thresholds plus the two event-loop ones. */
export const DEFAULT_LOAD_THRESHOLDS: Readonly<LoadThresholds> = Object.freeze({
  cpuPercent: 80,
  memoryPercent: 85,
  queueDepth: 1000,
  avgLatencyMs: 200,
  eventLoopDelayMs: 100,
  eventLoopUtilization: 0.9,
});

const DEFAULT_USER_BLOCKING = ['git.commit', 'agent.completed', 'workflow.failed'] as const;
const DEFAULT_HIGH_VOLUME = ['file.modified', 'tool.used', 'performance.metric'] as const;
const DEFAULT_BACKGROUND = ['*.aggregated'] as const;
const INDICATORS = Object.keys(DEFAULT_LOAD_THRESHOLDS) as Array<keyof LoadThresholds>;
const CONFIG_KEYS = optionKeys<SelectModeConfig>({
  thresholds: true,
  minHighLoadIndicators: true,
  userBlockingTypes: true,
  highVolumeTypes: true,
  backgroundTypes: true,
  lowPriority: true,
});

/** Matches an event type against exact names (a Set lookup) and `*` globs (compiled once). */
function typeMatcher(given: readonly string[], option: string): (type: string) => boolean {
  // A copy, each entry read once: the entries checked are the ones compiled.
  const patterns: readonly string[] = Array.isArray(given) ? Array.prototype.slice.call(given) : given;
  if (!Array.isArray(patterns) || patterns.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw new ConfigError(
      `selectMode: ${option} must be an array of non-empty strings, got ${shownText(given)}`,
    );
  }
  const exact = new Set(patterns.filter((p) => !p.includes('*')));
  // `s`: a `*` matches any characters, line breaks too (`*.aggregated` and a type with a newline).
  const globs = patterns
    .filter((p) => p.includes('*'))
    .map((p) => new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`, 's'));
  if (globs.length === 0) return (type) => exact.has(type);
  return (type) => exact.has(type) || globs.some((glob) => glob.test(type));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles a `SelectModeConfig` into a selector. Use it (or pass the same config object to
 * `selectMode`, which caches the compiled form) rather than re-creating configs per event.
 *
 * @throws ConfigError when the config or its `thresholds` is not an object, a threshold is not a
 *   finite number ≥ 0 or `Infinity` (`NaN`, a negative one: its indicator would be high on any figure),
 *   `minHighLoadIndicators` is not an integer from 1 to 6 (the number of indicators), a type list is
 *   not an array of non-empty strings, or the name of an option or a threshold is unknown (named with
 *   the nearest known one).
 */
export function createModeSelector(givenConfig: SelectModeConfig = {}): ModeSelector {
  if (!isRecord(givenConfig as unknown)) {
    throw new ConfigError(`selectMode: the config must be an object, got ${shownText(givenConfig)}`);
  }
  rejectUnknownKeys('selectMode', givenConfig, CONFIG_KEYS);
  // Each field read once, and each threshold: the value checked is the value used (see `readFields`).
  const config = readFields(givenConfig, CONFIG_KEYS);
  refuseNull('selectMode', config, CONFIG_KEYS);
  if (config.thresholds !== undefined && !isRecord(config.thresholds as unknown)) {
    throw new ConfigError(`selectMode: thresholds must be an object, got ${shownText(config.thresholds)}`);
  }
  rejectUnknownKeys('selectMode', config.thresholds, INDICATORS, 'threshold');
  const thresholds: LoadThresholds = { ...DEFAULT_LOAD_THRESHOLDS };
  for (const [key, value] of Object.entries(readFields(config.thresholds ?? {}, INDICATORS))) {
    if (value === undefined) continue;
    // Infinity disables an indicator. Every figure is >= 0 (%, a depth, ms, a share), so a negative
    // threshold (-Infinity too) would make its indicator high on any figure, an idle 0 included.
    if (typeof value !== 'number' || !(value >= 0)) {
      throw new ConfigError(
        `selectMode: threshold ${key} must be a non-negative number or Infinity, got ${shownText(value)}`,
      );
    }
    thresholds[key as keyof LoadThresholds] = value;
  }
  const minIndicators = config.minHighLoadIndicators ?? 2;
  // More than there are indicators would never count the system as loaded, without a word (20 for 2):
  // the load rule is turned off with Infinity thresholds instead.
  if (!Number.isInteger(minIndicators) || minIndicators < 1 || minIndicators > INDICATORS.length) {
    throw new ConfigError(
      `selectMode: minHighLoadIndicators must be an integer from 1 to ${INDICATORS.length} (the number of indicators), got ${shownText(minIndicators)}; to turn the load rule off, set the thresholds to Infinity`,
    );
  }
  const lowPriority = config.lowPriority ?? 'async';
  if (lowPriority !== 'async' && lowPriority !== 'batched') {
    throw new ConfigError(
      `selectMode: lowPriority must be 'async' or 'batched', got ${shownText(lowPriority)}`,
    );
  }
  const lowMode = lowPriority === 'async' ? ProcessingMode.ASYNC : ProcessingMode.BATCHED;
  const isUserBlocking = typeMatcher(config.userBlockingTypes ?? DEFAULT_USER_BLOCKING, 'userBlockingTypes');
  const isHighVolume = typeMatcher(config.highVolumeTypes ?? DEFAULT_HIGH_VOLUME, 'highVolumeTypes');
  const isBackground = typeMatcher(config.backgroundTypes ?? DEFAULT_BACKGROUND, 'backgroundTypes');
  const { cpuPercent, memoryPercent, queueDepth, avgLatencyMs, eventLoopDelayMs, eventLoopUtilization } =
    thresholds;

  // `>` is false for undefined and NaN, so a missing figure never counts as high (the seed's `get(…, 0)`);
  // nor does one that is no number ('99', null), as hybridProcess reads it: `'99' > 80` compared as numbers.
  const above = (figure: unknown, threshold: number): boolean =>
    typeof figure === 'number' && figure > threshold;
  const loaded = (load: LoadSnapshot): boolean => {
    let high = 0;
    if (above(load.cpuPercent, cpuPercent)) high++;
    if (above(load.memoryPercent, memoryPercent)) high++;
    if (above(load.queueDepth, queueDepth)) high++;
    if (above(load.avgLatencyMs, avgLatencyMs)) high++;
    if (above(load.eventLoopDelayMs, eventLoopDelayMs)) high++;
    if (above(load.eventLoopUtilization, eventLoopUtilization)) high++;
    return high >= minIndicators;
  };

  return (event, load) => {
    // The seed's rules, in its order. ASYNC only ever replaces the seed's final "else BATCHED".
    if (event.priority === Priority.CRITICAL) return ProcessingMode.IMMEDIATE;
    // A null load (no snapshot yet) is no load, as a missing one is: no figure counts as high.
    if (load != null && loaded(load)) return ProcessingMode.BATCHED;
    if (isUserBlocking(event.type)) return ProcessingMode.IMMEDIATE;
    if (isHighVolume(event.type)) return ProcessingMode.BATCHED;
    if (event.priority === Priority.HIGH) return ProcessingMode.IMMEDIATE;
    if (isBackground(event.type)) return ProcessingMode.ASYNC;
    if (event.priority === Priority.LOW) return lowMode;
    return ProcessingMode.BATCHED;
  };
}

const DEFAULT_SELECTOR = createModeSelector();
const compiled = new WeakMap<SelectModeConfig, ModeSelector>();

/**
 * Chooses how to process `event` under `load`. Pure: the same event, load and config always give the
 * same mode. The rules, first match wins:
 *
 * 1. `CRITICAL` priority → `IMMEDIATE`
 * 2. two or more high-load indicators (`thresholds`) → `BATCHED`
 * 3. a user-blocking type (`git.commit`, `agent.completed`, `workflow.failed`) → `IMMEDIATE`
 * 4. a high-volume type (`file.modified`, `tool.used`, `performance.metric`) → `BATCHED`
 * 5. `HIGH` priority → `IMMEDIATE`
 * 6. a background type (`*.aggregated`) → `ASYNC`
 * 7. `LOW` priority → `ASYNC` (`lowPriority: 'batched'` makes it `BATCHED`, as in the seed)
 * 8. otherwise → `BATCHED`
 *
 * Rules 1–5 and 8 are the seed's; rules 6 and 7 split its final "else BATCHED", so with
 * `{ backgroundTypes: [], lowPriority: 'batched' }` and the event-loop thresholds at `Infinity` this is
 * exactly the seed's selector.
 *
 * ## Example
 * ```ts
 * selectMode(createEvent({ type: 'git.commit' }), { cpuPercent: 12 }); // 'immediate'
 * selectMode(createEvent({ type: 'git.commit' }), { cpuPercent: 95, queueDepth: 5000 }); // 'batched'
 * ```
 *
 * @param event the event to route.
 * @param load the current load (`systemLoad$` emits it); missing figures, and figures that are no
 *   number (`'99'`), count as not high, and a missing or `null` load as no load at all.
 * @param config thresholds and type lists; compiled once per config object and cached.
 * @return the processing mode.
 * @throws ConfigError when `config` is invalid (see `createModeSelector`); an invalid config is not
 *   cached, so it throws at each call.
 */
export function selectMode(
  event: Event<object>,
  load: LoadSnapshot | null = {},
  config?: SelectModeConfig,
): ProcessingMode {
  if (config === undefined) return DEFAULT_SELECTOR(event, load);
  let selector = compiled.get(config);
  if (selector === undefined) {
    selector = createModeSelector(config);
    compiled.set(config, selector);
  }
  return selector(event, load);
}

/** Whether `value` is one of the three processing modes. */
export function isProcessingMode(value: unknown): value is ProcessingMode {
  return (
    value === ProcessingMode.IMMEDIATE || value === ProcessingMode.BATCHED || value === ProcessingMode.ASYNC
  );
}
