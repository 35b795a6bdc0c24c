/**
 * `systemLoad$`: the machine's and the pipeline's load, sampled in the background and shared by every
 * subscriber. See `docs/systemLoad.md`.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { asyncScheduler, Observable, ReplaySubject, type SchedulerLike, type Subscription } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { PipelineLoad } from '../operators/metrics.js';

/** One load sample, as `systemLoad$` emits it. */
export interface SystemLoad {
  /** System-wide CPU usage, % (node-os-utils; 0 until its first ~200 ms sample has landed). */
  cpuPercent: number;
  /** System memory usage, % (node-os-utils). */
  memoryPercent: number;
  /**
   * Mean event-loop delay, ms, net of the monitor's resolution (`perf_hooks.monitorEventLoopDelay`),
   * over the last two intervals (the first sample: the first interval) — see `docs/systemLoad.md`.
   */
  eventLoopDelayMs: number;
  /** Longest event-loop delay over the same window, ms — a stall the mean hides. */
  eventLoopDelayMaxMs: number;
  /** Share of the last interval the event loop was busy, 0..1 (`performance.eventLoopUtilization`). */
  eventLoopUtilization: number;
  /** Events waiting in the pipeline's queues (from `metrics`; 0 without). */
  queueDepth: number;
  /** The pipeline's recent average processing latency, ms (from `metrics`; 0 without). */
  avgLatencyMs: number;
  /** When the sample was taken, on the scheduler's clock (ms). */
  timestamp: number;
}

/**
 * The load `selectMode` accepts: any subset of a `SystemLoad`. A missing figure counts as not high.
 */
export type LoadSnapshot = Partial<SystemLoad>;

/**
 * Reads the operating system's CPU and memory usage. The default uses `node-os-utils`; pass your own to
 * run where it is unavailable, or in tests. Calls never overlap: the next starts after the last settled.
 */
export interface OsProbe {
  /** System CPU usage in %. May take a while (node-os-utils samples for ~200 ms); runs in the background. */
  cpuPercent(): Promise<number>;
  /** System memory usage in %. */
  memoryPercent(): Promise<number>;
  /** Releases the probe's resources when its sampler stops. */
  dispose?(): void;
}

/** Options of `systemLoad$`. */
export interface SystemLoadOptions {
  /** How often a sample is emitted, ms. Default 1,000. */
  intervalMs?: number;
  /**
   * The pipeline's own figures: an `EventFlowMetrics` (or anything with `load()`), or a function
   * returning `{ queueDepth?, avgLatencyMs? }`. Read once per sample.
   */
  metrics?: { load(): Partial<PipelineLoad> } | (() => Partial<PipelineLoad>);
  /** Where CPU and memory come from. Default: node-os-utils. */
  probe?: OsProbe;
  /** Resolution of the event-loop delay monitor, ms (integer ≥ 1). Default 10. */
  eventLoopResolutionMs?: number;
  /** The scheduler of the sampling timer and of `timestamp`. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** The part of a sample that one sampler shares between all its subscribers. */
type MachineSample = Omit<SystemLoad, 'queueDepth' | 'avgLatencyMs'>;

interface Sampler {
  readonly samples: ReplaySubject<MachineSample>;
  refCount: number;
  stop(): void;
}

const samplers = new Map<string, Sampler>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

function idOf(value: object): number {
  let id = objectIds.get(value);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(value, id);
  }
  return id;
}

const DEFAULT_PROBE_KEY = {};

/** node-os-utils, imported on first use so that importing the library does not load it. */
function nodeOsUtilsProbe(): OsProbe {
  const os = import('node-os-utils').then(({ OSUtils }) => new OSUtils({ cacheEnabled: false }));
  return {
    async cpuPercent() {
      const result = await (await os).cpu.usage();
      if (!result.success) throw result.error;
      return result.data;
    },
    async memoryPercent() {
      const result = await (await os).memory.info();
      if (!result.success) throw result.error;
      return result.data.usagePercentage;
    },
    dispose() {
      void os.then((utils) => utils.destroy()).catch(() => undefined);
    },
  };
}

function finiteOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function startSampler(
  key: string,
  intervalMs: number,
  resolution: number,
  probe: OsProbe,
  scheduler: SchedulerLike,
): Sampler {
  const samples = new ReplaySubject<MachineSample>(1);
  let cpuPercent = 0;
  let memoryPercent = 0;
  let probing = false;
  let stopped = false;

  // The probe runs in the background; a tick only reads the figures of the last finished probe, so
  // a slow `cpu.usage()` never delays a sample (or anything else on the hot path).
  const probeOnce = () => {
    if (probing || stopped) return;
    probing = true;
    // Each figure lands as soon as it is read (memory takes milliseconds, CPU ~200 ms). A failed read
    // keeps the last good figure: load sampling must never break the pipeline.
    const cpu = probe.cpuPercent().then((value) => {
      cpuPercent = finiteOr(value, cpuPercent);
    });
    const memory = probe.memoryPercent().then((value) => {
      memoryPercent = finiteOr(value, memoryPercent);
    });
    Promise.allSettled([cpu, memory]).finally(() => {
      probing = false;
    });
  };

  // A fresh (or reset) delay monitor never records its first timer delta, so a stall right after a
  // reset would be lost. Two overlapping monitors, each started one interval after the other and read
  // when it covers two intervals, leave no gap: what one misses at its start, the other has.
  const startMonitor = () => {
    const monitor = monitorEventLoopDelay({ resolution });
    monitor.enable();
    return monitor;
  };
  let older: ReturnType<typeof monitorEventLoopDelay> | undefined;
  let newer = startMonitor();
  let utilization = performance.eventLoopUtilization();

  const tick = () => {
    probeOnce();
    const next = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(next, utilization);
    utilization = next;
    const window = older ?? newer;
    // The monitor records timer delays including its resolution; subtract it (as under-pressure does).
    const hasDelay = window.count > 0;
    const sample: MachineSample = {
      cpuPercent,
      memoryPercent,
      eventLoopDelayMs: hasDelay ? Math.max(0, window.mean / 1e6 - resolution) : 0,
      eventLoopDelayMaxMs: hasDelay ? Math.max(0, window.max / 1e6 - resolution) : 0,
      eventLoopUtilization: finiteOr(delta.utilization, 0),
      timestamp: scheduler.now(),
    };
    older?.disable();
    older = newer;
    newer = startMonitor();
    samples.next(sample);
  };

  probeOnce();
  const timer: Subscription = scheduler.schedule(function repeat() {
    tick();
    this.schedule(undefined, intervalMs);
  }, intervalMs);

  return {
    samples,
    refCount: 0,
    stop() {
      stopped = true;
      timer.unsubscribe();
      older?.disable();
      newer.disable();
      samples.complete();
      samplers.delete(key);
      probe.dispose?.();
    },
  };
}

/**
 * The load of the machine and of the pipeline, every `intervalMs`: CPU and memory usage (node-os-utils,
 * probed in the background and cached, so a sample never waits for the ~200 ms CPU measurement),
 * event-loop delay and utilisation (`perf_hooks`, the signal that matters most for a Node pipeline),
 * and the pipeline's own queue depth and average latency (`metrics`). Feed it to `hybridProcess` as
 * `load$`, or to `selectMode`.
 *
 * One sampler serves every subscriber with the same interval, probe and scheduler, across calls; it
 * starts with the first subscriber and stops (timer cleared, event-loop monitor disabled, probe
 * disposed) when the last one unsubscribes. A subscriber joining a running sampler gets its latest
 * sample at once. It never errors: a failed probe keeps the last good figure.
 *
 * ```
 * subscribe:  ^
 * samples:    ----s----s----s----s--   (s every intervalMs; c = cpu %, m = memory %, …)
 * ```
 *
 * ## Example
 * ```ts
 * const metrics = new EventFlowMetrics();
 * events$.pipe(hybridProcess({ immediate, batch, metrics, load$: systemLoad$({ intervalMs: 1000, metrics }) }));
 * ```
 *
 * @param options `intervalMs`, the pipeline `metrics`, the OS `probe` and the `scheduler`.
 * @return a shared Observable of `SystemLoad`.
 * @throws ConfigError when `intervalMs` or `eventLoopResolutionMs` is not positive.
 */
export function systemLoad$(options: SystemLoadOptions = {}): Observable<SystemLoad> {
  const { intervalMs = 1000, eventLoopResolutionMs = 10, scheduler = asyncScheduler, metrics } = options;
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
    throw new ConfigError(`systemLoad$: intervalMs must be a positive number, got ${intervalMs}`);
  }
  if (!Number.isInteger(eventLoopResolutionMs) || eventLoopResolutionMs < 1) {
    throw new ConfigError(
      `systemLoad$: eventLoopResolutionMs must be a positive integer, got ${eventLoopResolutionMs}`,
    );
  }
  const readPipeline: () => Partial<PipelineLoad> =
    metrics === undefined ? () => ({}) : typeof metrics === 'function' ? metrics : () => metrics.load();
  const key = `${intervalMs}/${eventLoopResolutionMs}/${idOf(options.probe ?? DEFAULT_PROBE_KEY)}/${idOf(scheduler)}`;

  return new Observable<SystemLoad>((subscriber) => {
    let sampler = samplers.get(key);
    if (sampler === undefined) {
      sampler = startSampler(
        key,
        intervalMs,
        eventLoopResolutionMs,
        options.probe ?? nodeOsUtilsProbe(),
        scheduler,
      );
      samplers.set(key, sampler);
    }
    const owner = sampler;
    owner.refCount++;
    const subscription = owner.samples.subscribe({
      next(sample) {
        let pipeline: Partial<PipelineLoad>;
        try {
          pipeline = readPipeline();
        } catch (error) {
          subscriber.error(error);
          return;
        }
        subscriber.next({
          ...sample,
          queueDepth: finiteOr(pipeline.queueDepth, 0),
          avgLatencyMs: finiteOr(pipeline.avgLatencyMs, 0),
        });
      },
    });
    return () => {
      subscription.unsubscribe();
      owner.refCount--;
      if (owner.refCount === 0) owner.stop();
    };
  });
}

/** How many samplers are running (for tests of teardown). @internal */
export function runningSamplers(): number {
  return samplers.size;
}
