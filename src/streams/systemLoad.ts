/**
 * `systemLoad$`: the machine's and the pipeline's load, sampled in the background and shared by every
 * subscriber. See `docs/systemLoad.md`.
 */
import { performance } from 'node:perf_hooks';
import { asyncScheduler, Observable, ReplaySubject, type SchedulerLike, type Subscription } from 'rxjs';
import { ConfigError, optionKeys, shownText } from '../errors.js';
import { checkConfig, MAX_TIMER_MS, schedulePeriodic, timerOption } from '../operators/internal/eventTime.js';
import { nextOrEnd } from '../operators/internal/linked.js';
import type { PipelineLoad } from '../operators/metrics.js';

/** One load sample, as `systemLoad$` emits it. */
export interface SystemLoad {
  /** System-wide CPU usage, % (node-os-utils; 0 until its first ~200 ms sample has landed). */
  cpuPercent: number;
  /** System memory usage, % (node-os-utils). */
  memoryPercent: number;
  /**
   * Mean event-loop delay since the previous sample, ms, net of the delay monitor's resolution (a
   * timer's lateness, as `perf_hooks.monitorEventLoopDelay` measures it) — see `docs/systemLoad.md`.
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
 * run where it is unavailable, or in tests. Calls never overlap: the next starts after the last settled,
 * also when several samplers use one probe object (other intervals, or a sampler started again while a
 * call of the one before is in flight). The default probes (one per sampler) wait for one another so too.
 */
export interface OsProbe {
  /** System CPU usage in %. May take a while (node-os-utils samples for ~200 ms); runs in the background. */
  cpuPercent(): Promise<number>;
  /** System memory usage in %. */
  memoryPercent(): Promise<number>;
  /** Releases the probe's resources when the last sampler using it stops. */
  dispose?: (() => void) | undefined;
}

/** Options of `systemLoad$`. */
export interface SystemLoadOptions {
  /** How often a sample is emitted, ms. Default 1,000. */
  intervalMs?: number | undefined;
  /**
   * The pipeline's own figures: an `EventFlowMetrics` (or anything with `load()`), or a function
   * returning `{ queueDepth?, avgLatencyMs? }`. Read once per sample.
   */
  metrics?: { load(): Partial<PipelineLoad> } | (() => Partial<PipelineLoad>) | undefined;
  /** Where CPU and memory come from. Default: node-os-utils. */
  probe?: OsProbe | undefined;
  /** Resolution of the event-loop delay monitor, ms (integer ≥ 1). Default 10. */
  eventLoopResolutionMs?: number | undefined;
  /** The scheduler of the sampling timer and of `timestamp`. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

const OPTION_KEYS = optionKeys<SystemLoadOptions>({
  intervalMs: true,
  metrics: true,
  probe: true,
  eventLoopResolutionMs: true,
  scheduler: true,
});

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

/** Where the calls of a probe wait for one another: one call in flight at a time. */
interface Lane {
  /** Settles once the call in flight (by any sampler) has, and the probe is free again. */
  inFlight: Promise<void> | undefined;
}

/**
 * A probe object across the samplers that use it (other intervals or schedulers, or a sampler started
 * again while its predecessor's call is in flight): its calls never overlap, and it is disposed when
 * the last of them stops.
 */
interface ProbeState {
  users: number;
  lane: Lane;
}

const probeStates = new WeakMap<OsProbe, ProbeState>();

/**
 * The lane of every default probe: each sampler has a node-os-utils probe of its own (made with it,
 * disposed with it), but their calls wait for one another as one probe's do. With a lane each, a sampler
 * started and stopped again and again (a pipeline with a `load$` per run) left a CPU sample running at
 * each start, none waiting for the one before: 200 starts, 200 samples at once, each with its ~200 ms
 * timer and a file of /proc open at times.
 */
const defaultLane: Lane = { inFlight: undefined };
const defaultProbes = new WeakSet<OsProbe>();

/** node-os-utils, imported on first use so that importing the library does not load it. */
function nodeOsUtilsProbe(): OsProbe {
  const os = import('node-os-utils').then(({ OSUtils }) => new OSUtils({ cacheEnabled: false }));
  const probe: OsProbe = {
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
  defaultProbes.add(probe);
  return probe;
}

function finiteOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** Event-loop delay since the last `take()`: the mean and the longest, ms, net of the resolution. */
interface DelayMonitor {
  take(): { meanMs: number; maxMs: number };
  stop(): void;
}

/**
 * Measures event-loop delay as the lateness of a timer that fires every `resolution` ms — what
 * `perf_hooks.monitorEventLoopDelay` does, minus its blind spot: a fresh or reset histogram drops its
 * first timer delta, so a stall just after a sample was lost whenever the sampling tick ran before the
 * monitor's first timer (a late loop runs every due timer in one batch, the others possibly first).
 * Here the timer is never reset: every gap between two of its runs is counted once, in the window of
 * the sample that follows it, so no stall falls between samples.
 *
 * The timer is a real one, not the scheduler's: it measures the real event loop (as `perf_hooks` does).
 * It is unref'd, so it never keeps the process alive, and cleared by `stop()`.
 */
function startDelayMonitor(resolution: number): DelayMonitor {
  let last = performance.now();
  let count = 0;
  let sum = 0;
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const late = Math.max(0, now - last - resolution);
    last = now;
    count++;
    sum += late;
    if (late > max) max = late;
  }, resolution);
  timer.unref();
  return {
    take() {
      const window = { meanMs: count === 0 ? 0 : sum / count, maxMs: max };
      count = 0;
      sum = 0;
      max = 0;
      return window;
    },
    stop() {
      clearInterval(timer);
    },
  };
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
  let queued = false;
  let stopped = false;
  let state = probeStates.get(probe);
  if (state === undefined) {
    state = { users: 0, lane: defaultProbes.has(probe) ? defaultLane : { inFlight: undefined } };
    probeStates.set(probe, state);
  }
  const probeState = state;
  const { lane } = state;
  probeState.users++;

  // The probe runs in the background; a tick only reads the figures of the last finished probe, so
  // a slow `cpu.usage()` never delays a sample (or anything else on the hot path).
  const probeOnce = () => {
    if (probing || stopped) return;
    if (lane.inFlight !== undefined) {
      // Another sampler's call: this one calls once it settled (calls of a probe never overlap).
      if (!queued) {
        queued = true;
        void lane.inFlight.then(() => {
          queued = false;
          probeOnce();
        });
      }
      return;
    }
    probing = true;
    // Each figure lands as soon as it is read (memory takes milliseconds, CPU ~200 ms). A failed read
    // keeps the last good figure: load sampling must never break the pipeline.
    // Called from a settled promise, so a probe that throws synchronously, or answers a plain number,
    // cannot break the tick (or the subscription, for the first probe).
    const cpu = Promise.resolve()
      .then(() => probe.cpuPercent())
      .then((value) => {
        cpuPercent = finiteOr(value, cpuPercent);
      });
    const memory = Promise.resolve()
      .then(() => probe.memoryPercent())
      .then((value) => {
        memoryPercent = finiteOr(value, memoryPercent);
      });
    lane.inFlight = Promise.allSettled([cpu, memory]).then(() => {
      probing = false;
      lane.inFlight = undefined;
    });
  };

  const delay = startDelayMonitor(resolution);
  let utilization = performance.eventLoopUtilization();

  const tick = () => {
    probeOnce();
    // The clock and the utilisation are read together, so `timestamp` bounds the utilisation's interval.
    const timestamp = scheduler.now();
    const next = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(next, utilization);
    utilization = next;
    const window = delay.take();
    const sample: MachineSample = {
      cpuPercent,
      memoryPercent,
      eventLoopDelayMs: window.meanMs,
      eventLoopDelayMaxMs: window.maxMs,
      eventLoopUtilization: finiteOr(delta.utilization, 0),
      timestamp,
    };
    samples.next(sample);
  };

  /** Lets go of the probe: another sampler may still use it, the last one disposes it. */
  const release = () => {
    probeState.users--;
    if (probeState.users > 0) return;
    try {
      probe.dispose?.();
    } catch {
      // A probe that fails to clean up must not break the unsubscription chain.
    }
  };

  probeOnce();
  let timer: Subscription;
  try {
    // A scheduler that runs the delay at once, inside schedule(), is refused: its ticks would loop forever.
    timer = schedulePeriodic(
      scheduler,
      function repeat() {
        tick();
        this.schedule(undefined, intervalMs);
      },
      intervalMs,
      'systemLoad$',
    );
  } catch (error) {
    // A scheduler that throws, or that runs the timer at once (the subscriber gets its error): nothing
    // of this sampler may stay, not its delay monitor, nor its count among the probe's users (the probe
    // would never be disposed).
    stopped = true;
    delay.stop();
    release();
    throw error;
  }

  return {
    samples,
    refCount: 0,
    stop() {
      stopped = true;
      timer.unsubscribe();
      delay.stop();
      samples.complete();
      samplers.delete(key);
      release();
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
 * starts with the first subscriber and stops (timers cleared, probe disposed) when the last one
 * unsubscribes. A subscriber joining a running sampler gets its latest sample at once. A failed probe
 * keeps the last good figure: only a `metrics` function that throws (or whose answer's getter does; an
 * answer that is no object has no figures: 0) errors the stream, and so does a consumer that throws on a
 * sample (with its exception: a `Subscriber` of its own, whose exception reaches the source), and a
 * `scheduler` whose `schedule()` throws at the start, or runs the delay at once, inside `schedule()` (a
 * `ConfigError`: its ticks would loop forever); its sampler then leaves nothing running, and lets go of
 * the probe.
 *
 * ```
 * intervalMs 5
 * subscribe:     ^
 * samples:       -----s----s----s----s-   one SystemLoad every intervalMs, the first one intervalMs after the start
 * late sub:      -------^
 * its samples:   -------s--s----s----s-   a subscriber joining at 7 gets the latest sample (of 5) at once
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
 * @throws ConfigError when `intervalMs` or `eventLoopResolutionMs` is not positive, or longer than
 *   setTimeout's limit (2,147,483,647 ms, which Node would turn into 1 ms), `scheduler` is not a
 *   `SchedulerLike`, `probe` lacks `cpuPercent()` or `memoryPercent()` (or has a `dispose` that is not a
 *   function), `metrics` is neither a function nor has `load()`, or an option's name is unknown (named
 *   with the nearest known one).
 */
export function systemLoad$(options: SystemLoadOptions = {}): Observable<SystemLoad> {
  // The scheduler too: one without schedule() failed at subscription, with the delay monitor started.
  options = checkConfig('systemLoad$', options, OPTION_KEYS);
  const {
    intervalMs = 1000,
    eventLoopResolutionMs = 10,
    scheduler = asyncScheduler,
    metrics,
    probe,
  } = options;
  // Timers: Node fires one longer than setTimeout's limit after 1 ms, so such a period is refused.
  timerOption('systemLoad$: intervalMs', intervalMs);
  if (
    !Number.isInteger(eventLoopResolutionMs) ||
    eventLoopResolutionMs < 1 ||
    eventLoopResolutionMs > MAX_TIMER_MS
  ) {
    throw new ConfigError(
      `systemLoad$: eventLoopResolutionMs must be a positive integer of ms up to ${MAX_TIMER_MS}, got ${shownText(eventLoopResolutionMs)}`,
    );
  }
  if (
    probe !== undefined &&
    (typeof probe?.cpuPercent !== 'function' || typeof probe.memoryPercent !== 'function')
  ) {
    // Its calls fail inside a promise, which keeps the last good figure: 0 % forever, without a word.
    throw new ConfigError(
      `systemLoad$: probe must have cpuPercent() and memoryPercent() functions, got ${shownText(probe)}`,
    );
  }
  if (probe?.dispose !== undefined && typeof probe.dispose !== 'function') {
    throw new ConfigError(
      `systemLoad$: the probe's dispose must be a function, got ${shownText(probe.dispose)}`,
    );
  }
  if (
    metrics !== undefined &&
    typeof metrics !== 'function' &&
    typeof (metrics as { load?: unknown } | null)?.load !== 'function'
  ) {
    throw new ConfigError(
      `systemLoad$: metrics must be an EventFlowMetrics (anything with load()) or a function, got ${shownText(metrics)}`,
    );
  }
  const readPipeline: () => Partial<PipelineLoad> =
    metrics === undefined ? () => ({}) : typeof metrics === 'function' ? metrics : () => metrics.load();
  const key = `${intervalMs}/${eventLoopResolutionMs}/${idOf(probe ?? DEFAULT_PROBE_KEY)}/${idOf(scheduler)}`;

  return new Observable<SystemLoad>((subscriber) => {
    let sampler = samplers.get(key);
    if (sampler === undefined) {
      sampler = startSampler(key, intervalMs, eventLoopResolutionMs, probe ?? nodeOsUtilsProbe(), scheduler);
      samplers.set(key, sampler);
    }
    const owner = sampler;
    owner.refCount++;
    const subscription = owner.samples.subscribe({
      next(sample) {
        let queueDepth: number;
        let avgLatencyMs: number;
        try {
          // An answer that is no object (a function without `return`: undefined) has no figures; its
          // fields are read here, so that a throwing getter errors the stream as a throwing function does
          // (thrown from this callback, either went unhandled and crashed the process).
          const pipeline: Partial<PipelineLoad> | null | undefined = readPipeline();
          const figures: Partial<PipelineLoad> =
            typeof pipeline === 'object' && pipeline !== null ? pipeline : {};
          queueDepth = finiteOr(figures.queueDepth, 0);
          avgLatencyMs = finiteOr(figures.avgLatencyMs, 0);
        } catch (error) {
          subscriber.error(error);
          return;
        }
        // A consumer that throws ends the stream and lets go of the sampler. Thrown here, it went unhandled
        // from the shared subject's callback, at every sample, and the sampler ran on.
        nextOrEnd(subscriber, { ...sample, queueDepth, avgLatencyMs });
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
