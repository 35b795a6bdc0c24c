/**
 * The end-to-end benchmark (`npm run bench -- pipeline`, issue #8): realistic Claude Code hook payloads
 * (`bench/payloads.ts`) through the library's recommended pipelines, each figure next to a baseline
 * measured in the same run. See docs/benchmarks.md for what each figure means and the latest results.
 *
 * 1. In-memory: payloads → `bridgeHooks` → `temporalAggregate` → `correlate` → `measure`, against a bare
 *    `Subject → map → subscribe` over the same payloads. Both count input payloads per second.
 * 2. Persisted (write-ahead, as DESIGN.md recommends): payloads → `bridgeHooks` → `persist` →
 *    `temporalAggregate` → `correlate` → `measure`, against a bare classic-level chained batch of the same
 *    bridged events (JSON encoded before the clock starts, same batch size). Payloads per second.
 * 3. Latency under load: payloads offered open-loop at fixed rates (sent on schedule in bursts every
 *    millisecond, whether or not the pipeline keeps up; latency counted from each payload's intended
 *    send time, so a stalled pipeline cannot hide behind fewer sends) to the persisted pipeline; per
 *    event, from payload in to persisted ack (emitted by `persist`). CRITICAL events are merged in
 *    after the bridge, every 10 ms, and take `persist`'s priority lane.
 * 4. Memory: heap and RSS along 3,000,000 events (5,000,000 with --long) with default windows and 10,000
 *    sessions, in a child process run with `--expose-gc` so each sample follows a full collection
 *    (`bench/memory.ts`); judged bounded after a warm-up in which the sessions' state fills.
 * 5. Durability cost: `os` against `process` durability, throughput and p99 latency.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { build, type Histogram } from 'hdr-histogram-js';
import { Level } from 'level';
import { map, merge, type Observable, type OperatorFunction, Subject, tap } from 'rxjs';
import {
  bridgeHooks,
  correlate,
  createEvent,
  type Durability,
  type Event,
  EventFlowMetrics,
  type EventWriter,
  type HookOutput,
  measure,
  openStore,
  type PersistOptions,
  Priority,
  persist,
  type SessionStore,
  StoreError,
  temporalAggregate,
} from '../src/index.js';
import {
  type BenchRow,
  type BenchSuite,
  byLength,
  formatNumber,
  median,
  roundRobinRates,
  withTempDir,
} from './harness.js';
import { countSessions, makePayloads } from './payloads.js';

/** `persist`'s batch size, and the baseline's. */
export const BATCH = 1_000;
/** Sessions running at once in the throughput and latency inputs. */
export const SESSIONS = 1_000;

// --- the pipelines ------------------------------------------------------------------------------------

/** Hooks into a pipeline for counting and latency; the timed throughput runs pass none. */
export interface PipelineTaps {
  /** Each event as the bridge emits it. */
  bridged?: (event: Event) => void;
  /** Each event as `persist` emits it: written (the persisted pipeline only). */
  acked?: (event: Event) => void;
  /** Events merged in after the bridge (the latency runs' CRITICAL events). */
  inject?: Observable<Event>;
}

/** payloads → `bridgeHooks` → `temporalAggregate` → `correlate` → `measure`. */
export function inMemoryPipeline(
  metrics: EventFlowMetrics,
  taps: PipelineTaps = {},
): OperatorFunction<HookOutput, Event> {
  return (source) => {
    let events = source.pipe(bridgeHooks());
    if (taps.bridged) events = events.pipe(tap(taps.bridged));
    return events.pipe(temporalAggregate(), correlate(), measure(metrics));
  };
}

/** payloads → `bridgeHooks` → `persist` → `temporalAggregate` → `correlate` → `measure` (write-ahead). */
export function persistedPipeline(
  store: EventWriter,
  metrics: EventFlowMetrics,
  taps: PipelineTaps = {},
  options: PersistOptions = {},
): OperatorFunction<HookOutput, Event> {
  return (source) => {
    let events = source.pipe(bridgeHooks());
    if (taps.bridged) events = events.pipe(tap(taps.bridged));
    if (taps.inject) events = merge(events, taps.inject);
    let written = events.pipe(persist(store, { maxBatch: BATCH, ...options }));
    if (taps.acked) written = written.pipe(tap(taps.acked));
    return written.pipe(temporalAggregate(), correlate(), measure(metrics));
  };
}

/** What a run saw. */
export interface RunCounts {
  payloads: number;
  /** Events the bridge made (counted only when `count` is set). */
  bridged: number;
  /** Events `persist` emitted (persisted runs with `count`). */
  acked: number;
  /** Values leaving the pipeline: pass-throughs, aggregates, late events, activities. */
  outputs: number;
  seconds: number;
}

/** Options of the runs; the timed runs set none of them. */
export interface RunOptions {
  /** Count bridged and acked events (adds a `tap` after the bridge and after `persist`). */
  count?: boolean;
  /** Sees each bridged event (implies a tap, like `count`). */
  bridged?: (event: Event) => void;
  /** Sees each event `persist` emits. */
  acked?: (event: Event) => void;
  /** Sees each output. */
  collect?: (output: unknown) => void;
}

/**
 * Pushes `payloads` synchronously through a `Subject` into `pipeline` and resolves when it completes.
 */
async function drive(
  payloads: readonly HookOutput[],
  pipeline: (taps: PipelineTaps) => OperatorFunction<HookOutput, unknown>,
  options: RunOptions = {},
): Promise<RunCounts> {
  const counts: RunCounts = { payloads: payloads.length, bridged: 0, acked: 0, outputs: 0, seconds: 0 };
  const taps: PipelineTaps = {};
  if (options.count || options.bridged) {
    const user = options.bridged;
    taps.bridged = (event) => {
      counts.bridged++;
      user?.(event);
    };
  }
  if (options.count || options.acked) {
    const user = options.acked;
    taps.acked = (event) => {
      counts.acked++;
      user?.(event);
    };
  }
  const collect = options.collect;
  const input = new Subject<HookOutput>();
  const done = new Promise<void>((resolve, reject) => {
    input.pipe(pipeline(taps)).subscribe({
      next: (output) => {
        counts.outputs++;
        collect?.(output);
      },
      error: reject,
      complete: resolve,
    });
  });
  const start = performance.now();
  for (let i = 0; i < payloads.length; i++) input.next(payloads[i]!);
  input.complete();
  await done;
  counts.seconds = (performance.now() - start) / 1000;
  return counts;
}

/** The in-memory pipeline over `payloads`. */
export function runInMemory(payloads: readonly HookOutput[], options: RunOptions = {}): Promise<RunCounts> {
  const metrics = new EventFlowMetrics();
  return drive(payloads, (taps) => inMemoryPipeline(metrics, taps), options);
}

/** A prefix of the in-memory pipeline (for the stage breakdown). */
export function runStage(
  payloads: readonly HookOutput[],
  stage: () => OperatorFunction<HookOutput, unknown>,
): Promise<RunCounts> {
  return drive(payloads, stage);
}

/** The baseline of the in-memory pipeline: `Subject → map → subscribe`. */
export function runBareRx(payloads: readonly HookOutput[]): Promise<RunCounts> {
  return drive(payloads, () => map((payload) => payload.output));
}

/**
 * The persisted pipeline over `payloads` into `store` (or a fresh store in a temp dir). The source is
 * synchronous, like a replay of a hook log, so `persist` may hold everything: `maxPending` is unbounded
 * here (with the default 100,000 a larger burst is refused with BUFFER_OVERFLOW, by design).
 */
export async function runPersisted(
  payloads: readonly HookOutput[],
  options: RunOptions & { durability?: Durability; store?: SessionStore } = {},
): Promise<RunCounts> {
  const metrics = new EventFlowMetrics();
  const run = (store: SessionStore) =>
    drive(payloads, (taps) => persistedPipeline(store, metrics, taps, { maxPending: Infinity }), options);
  if (options.store) return run(options.store);
  return withTempDir('pipeline', async (dir) => {
    const store = await openStore({ path: join(dir, 'db'), durability: options.durability ?? 'process' });
    try {
      return await run(store);
    } finally {
      await store.close();
    }
  });
}

/** The bridged events of `payloads` (outside any timing). */
export function bridge(payloads: readonly HookOutput[]): Event[] {
  const events: Event[] = [];
  const input = new Subject<HookOutput>();
  input.pipe(bridgeHooks()).subscribe((event) => events.push(event));
  for (const payload of payloads) input.next(payload);
  input.complete();
  return events;
}

/**
 * The baseline of the persisted pipeline: the same bridged events, JSON-encoded before the clock starts,
 * one key each (`session \0 seq`), written in chained batches of BATCH, one after another. Returns the
 * seconds the writes took.
 */
export async function bareChainedBatch(events: readonly Event[]): Promise<number> {
  const seqs = new Map<string, number>();
  const entries = events.map((event) => {
    const session = event.sessionId ?? 'default';
    const seq = seqs.get(session) ?? 0;
    seqs.set(session, seq + 1);
    return [`${session}\x00${String(seq).padStart(16, '0')}`, JSON.stringify(event)] as const;
  });
  return withTempDir('pipeline', async (dir) => {
    const db = new Level<string, string>(join(dir, 'db'));
    await db.open();
    const start = performance.now();
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = db.batch();
      const end = Math.min(i + BATCH, entries.length);
      for (let j = i; j < end; j++) batch.put(entries[j]![0], entries[j]![1]);
      await batch.write();
    }
    const seconds = (performance.now() - start) / 1000;
    await db.close();
    return seconds;
  });
}

// --- open-loop latency --------------------------------------------------------------------------------

export interface LoadOptions {
  /** Payloads offered per second. */
  rate: number;
  seconds: number;
  /** Latencies of payloads due in the first `warmupSeconds` are not recorded (JIT, first writes). */
  warmupSeconds: number;
  /** Payloads to offer, cycled; each is re-stamped with its intended send time (live event time). */
  pool: readonly HookOutput[];
  /** A CRITICAL event every this many ms, merged in after the bridge (0: none). */
  criticalEveryMs: number;
  durability: Durability;
  /** `pipeline`: the persisted pipeline; `bare`: a hand-rolled group commit of the raw payloads. */
  target: 'pipeline' | 'bare';
}

export interface LoadResult {
  /** Latency (µs) of every non-CRITICAL record, intended send → persisted ack. */
  latency: Histogram;
  /** Latency (µs) of the CRITICAL events. */
  critical: Histogram;
  sent: number;
  criticalSent: number;
  /** Records accepted: bridged events and CRITICAL events (raw payloads for `bare`). */
  records: number;
  acked: number;
  /** Acks of records that were not (or no longer) waiting: must be 0. */
  unexpected: number;
  /**
   * Seconds into the run at which the backlog passed its bound (persist's `maxPending`, 100,000 by
   * default; the same bound for `bare`) and the source was refused: the run then stops offering.
   */
  overflowAt: number | undefined;
  /** Records of the payload being offered when the source was refused (never accepted, not lost). */
  refused: number;
  /** Payloads per second from the first send to the last ack. */
  achieved: number;
  /** Records sent but not yet acked, at most, sampled every tick. */
  maxBacklog: number;
  /** From the end of the sending to the last ack, ms. */
  drainMs: number;
  /** CPU the whole process used (all threads, LevelDB's included), in cores, from the first send to the end. */
  cpuCores: number;
  /** The event loop's delay p99 over the run, ms: how long the main thread was busy without a break. */
  loopDelayP99: number;
  /** Garbage collection over the run: total and longest pause, ms. */
  gcMs: number;
  gcMaxMs: number;
}

function histogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** The backlog bound of the bare baseline: persist's default `maxPending`. */
const BARE_MAX_PENDING = 100_000;

/**
 * A bare group commit, the latency baseline: each raw payload is JSON-encoded on arrival and queued;
 * one classic-level chained batch of up to BATCH entries is in flight at a time; entries are acked when
 * their batch is written. What `persist` does, minus the bridge, the event model, validation, the index,
 * session metadata and the derived operators.
 */
class BareGroupCommit {
  #pending: Array<{ key: string; value: string; token: unknown }> = [];
  #inFlight = false;
  #scheduled = false;
  #seq = 0;
  #idle: (() => void) | undefined;
  overflowed = false;

  constructor(
    private readonly db: Level<string, string>,
    private readonly sync: boolean,
    private readonly ack: (token: unknown) => void,
  ) {}

  push(session: string, value: string, token: unknown): void {
    this.#pending.push({ key: `${session}\x00${String(this.#seq++).padStart(16, '0')}`, value, token });
    if (this.#pending.length > BARE_MAX_PENDING) this.overflowed = true;
    if (!this.#inFlight && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#pump();
      });
    }
  }

  #pump(): void {
    if (this.#inFlight) return;
    if (this.#pending.length === 0) {
      this.#idle?.();
      return;
    }
    const items = this.#pending.length <= BATCH ? this.#pending : this.#pending.slice(0, BATCH);
    this.#pending = this.#pending.length <= BATCH ? [] : this.#pending.slice(BATCH);
    const batch = this.db.batch();
    for (const item of items) batch.put(item.key, item.value);
    this.#inFlight = true;
    batch.write({ sync: this.sync }).then(() => {
      this.#inFlight = false;
      for (const item of items) this.ack(item.token);
      this.#pump();
    });
  }

  /** Resolves once everything pushed is written. */
  drain(): Promise<void> {
    if (!this.#inFlight && !this.#scheduled && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }
}

/** Offers `options.rate` payloads/s for `options.seconds`, open-loop. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { rate, seconds, warmupSeconds, pool, criticalEveryMs, durability, target } = options;
  return withTempDir('pipeline', async (dir) => {
    const latency = histogram();
    const critical = histogram();
    const waiting = new Map<unknown, number>(); // record → intended send time (performance.now() ms)
    const result: LoadResult = {
      latency,
      critical,
      sent: 0,
      criticalSent: 0,
      records: 0,
      acked: 0,
      unexpected: 0,
      overflowAt: undefined,
      refused: 0,
      achieved: 0,
      maxBacklog: 0,
      drainMs: 0,
      cpuCores: 0,
      loopDelayP99: 0,
      gcMs: 0,
      gcMaxMs: 0,
    };
    let start = 0;
    let lastAck = 0;
    let intendedNow = 0; // the intended send time of the payload being offered
    const recordFrom = () => start + warmupSeconds * 1000;
    const onAck = (record: unknown) => {
      const intended = waiting.get(record);
      if (intended === undefined) {
        result.unexpected++;
        return;
      }
      waiting.delete(record);
      result.acked++;
      lastAck = performance.now();
      if (intended < recordFrom()) return;
      const us = Math.max(1, Math.round((lastAck - intended) * 1000));
      if (target === 'pipeline' && (record as Event).priority === Priority.CRITICAL) critical.recordValue(us);
      else latency.recordValue(us);
    };

    const input = new Subject<HookOutput>();
    const criticals = new Subject<Event>();
    let finished: Promise<void>;
    let close: () => Promise<void>;
    /** Whether the pipeline still takes input (false once it refused with BUFFER_OVERFLOW). */
    let open: () => boolean;
    if (target === 'pipeline') {
      const store = await openStore({ path: join(dir, 'db'), durability });
      const metrics = new EventFlowMetrics();
      finished = new Promise<void>((resolve, reject) => {
        input
          .pipe(
            persistedPipeline(store, metrics, {
              bridged: (event) => {
                waiting.set(event, intendedNow);
                result.records++;
              },
              acked: onAck,
              inject: criticals,
            }),
          )
          .subscribe({
            // Refused input is part of the result; anything else is a failure of the benchmark.
            error: (error: unknown) =>
              error instanceof StoreError && error.code === 'BUFFER_OVERFLOW' ? resolve() : reject(error),
            complete: resolve,
          });
      });
      // persist unsubscribes from its source (the bridge, hence the Subject) when its backlog passes maxPending.
      open = () => input.observed;
      close = () => store.close();
    } else {
      const db = new Level<string, string>(join(dir, 'db'));
      await db.open();
      const writer = new BareGroupCommit(db, durability === 'os', onAck);
      finished = new Promise<void>((resolve) => {
        input.subscribe({
          next: (payload) => {
            waiting.set(payload, intendedNow);
            result.records++;
            writer.push(
              String((payload.output as { session_id?: unknown }).session_id),
              JSON.stringify(payload),
              payload,
            );
          },
          complete: () => resolve(writer.drain()),
        });
      });
      open = () => !writer.overflowed;
      close = () => db.close();
    }

    const total = Math.round(rate * seconds);
    const interval = 1000 / rate;
    const criticalTotal = criticalEveryMs > 0 ? Math.floor((seconds * 1000) / criticalEveryMs) : 0;
    const epoch = Date.now();
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const gcs = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        result.gcMs += entry.duration;
        if (entry.duration > result.gcMaxMs) result.gcMaxMs = entry.duration;
      }
    });
    gcs.observe({ entryTypes: ['gc'] });
    const cpuStart = process.cpuUsage();
    start = performance.now();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const due = Math.min(total, Math.floor((now - start) / interval) + 1);
        const criticalDue =
          criticalEveryMs > 0 ? Math.min(criticalTotal, Math.floor((now - start) / criticalEveryMs)) : 0;
        // Everything due by now, in intended-time order.
        while ((result.sent < due || result.criticalSent < criticalDue) && open()) {
          const nextAt = start + result.sent * interval;
          const criticalAt = start + (result.criticalSent + 1) * criticalEveryMs;
          if (result.criticalSent < criticalDue && (result.sent >= due || criticalAt <= nextAt)) {
            const event = createEvent({
              type: 'workflow.failed',
              priority: Priority.CRITICAL,
              timestamp: epoch + (criticalAt - start),
              sessionId: 'critical-monitor',
              data: { workflow_id: `wf-${result.criticalSent}`, reason: 'build broke on main' },
            });
            waiting.set(event, criticalAt);
            result.records++;
            result.criticalSent++;
            criticals.next(event);
          } else {
            const template = pool[result.sent % pool.length]!;
            intendedNow = nextAt;
            result.sent++;
            input.next({ hook: template.hook, timestamp: epoch + (nextAt - start), output: template.output });
          }
        }
        const backlog = result.records - result.acked;
        if (backlog > result.maxBacklog) result.maxBacklog = backlog;
        if (!open()) {
          result.overflowAt = (performance.now() - start) / 1000;
          resolve();
        } else if (result.sent < total || result.criticalSent < criticalTotal) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    const sendEnd = performance.now();
    input.complete();
    criticals.complete();
    await finished;
    await close();
    if (result.overflowAt !== undefined) {
      // The records of the payload that was being offered when the source was refused: never accepted.
      result.refused = waiting.size;
      result.records -= waiting.size;
    }
    const cpu = process.cpuUsage(cpuStart);
    loopDelay.disable();
    gcs.disconnect();
    result.cpuCores = (cpu.user + cpu.system) / 1000 / (performance.now() - start);
    result.loopDelayP99 = loopDelay.percentile(99) / 1e6;
    result.drainMs = Math.max(0, lastAck - sendEnd);
    result.achieved = result.sent / ((lastAck - start) / 1000);
    return result;
  });
}

// --- memory (child process) ---------------------------------------------------------------------------

export interface MemorySample {
  mode: 'bare' | 'pipeline';
  events: number;
  payloads: number;
  heapMB: number;
  heapTotalMB: number;
  rssMB: number;
  seconds: number;
}

/**
 * Runs `bench/memory.ts` in a child `node --expose-gc --import tsx`: the bare baseline for `bareEvents`,
 * then the in-memory pipeline for `events`, sampled every `every` events.
 */
export function memoryRun(events: number, every: number, sessions: number, bareEvents: number) {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'memory.ts');
  return new Promise<{ bare: MemorySample[]; pipeline: MemorySample[] }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        script,
        String(events),
        String(every),
        String(sessions),
        String(bareEvents),
      ],
      // `--import tsx` resolves from the working directory: the repository's.
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: join(dirname(fileURLToPath(import.meta.url)), '..') },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`bench/memory.ts exited with ${code}`));
        return;
      }
      const samples = out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as MemorySample);
      resolve({
        bare: samples.filter((sample) => sample.mode === 'bare'),
        pipeline: samples.filter((sample) => sample.mode === 'pipeline'),
      });
    });
  });
}

// --- the suite ------------------------------------------------------------------------------------------

const fmtRate = (n: number) => `${formatNumber(n)}/s`;
const ms = (h: Histogram, p: number) => h.getValueAtPercentile(p) / 1000;

const suite: BenchSuite = {
  name: 'pipeline',
  async run(options) {
    const { runs, quick } = options;
    const rows: BenchRow[] = [];
    const add = (row: Omit<BenchRow, 'suite' | 'runs'> & { runs?: number }) =>
      rows.push({ suite: 'pipeline', runs, ...row });

    // The latency runs come first, on a small heap: the throughput inputs below would make every
    // major collection longer, and show up as the pipeline's latency.
    const pool = makePayloads(quick ? 5_000 : 20_000, SESSIONS, 11);
    // Issue #8 asks for 10 s per load (--long); 3 s keeps `npm run bench` under 5 minutes on the 2-core
    // machine (docs/benchmarks.md). The baseline's runs are shorter by default: it only sets the floor.
    const loadSeconds = byLength(options, { quick: 1, default: 3, long: 10 });
    const bareSeconds = byLength(options, { quick: 0.5, default: 1.5, long: loadSeconds });
    const warmupSeconds = quick ? 0.2 : 0.5;
    const loads = [1_000, 10_000, 50_000];
    const latencyRuns = new Map<string, LoadResult[]>();
    const key = (target: string, rate: number, durability: Durability) => `${target} ${rate} ${durability}`;
    const plan: Array<{
      target: 'pipeline' | 'bare';
      rate: number;
      durability: Durability;
      seconds: number;
    }> = [];
    // 50,000/s is beyond this machine's capacity: the backlog grows until the window ends (or persist's
    // maxPending refuses more, ~2.5 s in), then takes seconds to drain. A 2 s window by default bounds
    // that; its percentiles measure the backlog, and grow with any window.
    const overloadSeconds = byLength(options, { quick: 0.5, default: 2, long: 10 });
    const windowOf = (rate: number, seconds: number) =>
      rate > 10_000 ? Math.min(seconds, overloadSeconds) : seconds;
    for (const rate of loads) {
      plan.push({ target: 'bare', rate, durability: 'process', seconds: windowOf(rate, bareSeconds) });
      plan.push({ target: 'pipeline', rate, durability: 'process', seconds: windowOf(rate, loadSeconds) });
    }
    plan.push({ target: 'pipeline', rate: 10_000, durability: 'os', seconds: loadSeconds });
    // A short warm-up of both targets (JIT, LevelDB's first files).
    const warm = { rate: 5_000, seconds: 0.5, warmupSeconds: 0, pool, durability: 'process' } as const;
    await runLoad({ ...warm, criticalEveryMs: 10, target: 'pipeline' });
    await runLoad({ ...warm, criticalEveryMs: 0, target: 'bare' });
    // A smoke run (--quick) makes one run of each: its figures are not for reading.
    const latencyRunCount = quick ? 1 : runs;
    for (let r = 0; r < latencyRunCount; r++) {
      for (const step of plan) {
        const result = await runLoad({
          rate: step.rate,
          seconds: step.seconds,
          warmupSeconds,
          pool,
          criticalEveryMs: step.target === 'pipeline' ? 10 : 0,
          durability: step.durability,
          target: step.target,
        });
        const k = key(step.target, step.rate, step.durability);
        latencyRuns.set(k, [...(latencyRuns.get(k) ?? []), result]);
      }
    }
    const med = (k: string, f: (r: LoadResult) => number) => median(latencyRuns.get(k)!.map(f));
    const latencyRow = (row: Omit<BenchRow, 'suite' | 'runs'>) => add({ ...row, runs: latencyRunCount });
    /** Each run's figures, for results.json. */
    const perRun = (k: string) =>
      latencyRuns.get(k)!.map((r) => ({
        p50: ms(r.latency, 50),
        p99: ms(r.latency, 99),
        max: ms(r.latency, 100),
        criticalP99: r.criticalSent > 0 ? ms(r.critical, 99) : undefined,
        achieved: r.achieved,
        sent: r.sent,
        records: r.records,
        acked: r.acked,
        overflowAt: r.overflowAt,
        maxBacklog: r.maxBacklog,
        drainMs: r.drainMs,
        cpuCores: r.cpuCores,
        loopDelayP99: r.loopDelayP99,
        gcMs: r.gcMs,
        gcMaxMs: r.gcMaxMs,
      }));
    /** What a reader needs to trust a latency figure: did it keep up, was anything lost or refused. */
    const describe = (k: string, rate: number, seconds: number) => {
      const all = latencyRuns.get(k)!;
      const lost = all.some((r) => r.acked !== r.records || r.unexpected > 0);
      const overflows = all.filter((r) => r.overflowAt !== undefined);
      const achieved = med(k, (r) => r.achieved);
      return (
        `open loop, ${seconds} s per run, first ${warmupSeconds} s not recorded; ` +
        `${formatNumber(med(k, (r) => r.records / r.sent))} events per payload; ` +
        `achieved ${fmtRate(achieved)} of ${fmtRate(rate)} offered ` +
        `(${achieved >= 0.97 * rate ? 'kept up' : 'DID NOT KEEP UP'}), max backlog ` +
        `${formatNumber(med(k, (r) => r.maxBacklog))} events, drain after the last send ` +
        `${formatNumber(med(k, (r) => r.drainMs))} ms; process CPU ${formatNumber(med(k, (r) => r.cpuCores * 100))} % ` +
        `of a core; event-loop delay p99 ${formatNumber(med(k, (r) => r.loopDelayP99))} ms; GC ` +
        `${formatNumber(med(k, (r) => r.gcMs))} ms, longest pause ${formatNumber(med(k, (r) => r.gcMaxMs))} ms; ` +
        (overflows.length > 0
          ? `in ${overflows.length} of ${all.length} runs the backlog passed maxPending (100,000 events) after ` +
            `${formatNumber(median(overflows.map((r) => r.overflowAt!)))} s (median): the source was refused with ` +
            'BUFFER_OVERFLOW and offering stopped there, so these percentiles cover only that window and grow with it; '
          : '') +
        `${lost ? 'EVENTS LOST OR DUPLICATED' : 'every accepted event acked exactly once'}`
      );
    };
    for (const rate of loads) {
      const subject = key('pipeline', rate, 'process');
      const bare = key('bare', rate, 'process');
      const achieved = med(subject, (r) => r.achieved);
      const keptUp = achieved >= 0.97 * rate;
      for (const p of [50, 95, 99, 100]) {
        const value = med(subject, (r) => ms(r.latency, p));
        const baseline = med(bare, (r) => ms(r.latency, p));
        const label = p === 100 ? 'max' : `p${p}`;
        latencyRow({
          name: `latency ${label}, payload in → persisted ack, ${formatNumber(rate)} payloads/s offered`,
          value,
          unit: 'ms',
          baseline: { name: 'bare group commit of the raw payloads', value: baseline },
          ratio: baseline / value,
          ...(p === 99 && rate === 10_000 ? { goal: 'p99 < 20 ms', met: value < 20 } : {}),
          ...(p === 99
            ? {
                notes: `${describe(subject, rate, windowOf(rate, loadSeconds))}. Baseline: ${describe(bare, rate, windowOf(rate, bareSeconds))}`,
                detail: { pipeline: perRun(subject), bare: perRun(bare) },
              }
            : {}),
        });
      }
      latencyRow({
        name: `achieved rate at ${formatNumber(rate)} payloads/s offered`,
        value: achieved,
        unit: 'payloads/s',
        baseline: { name: 'offered', value: rate },
        ratio: achieved / rate,
        goal: 'keeps up (≥ 0.97 of offered)',
        met: keptUp,
        notes: `payloads offered ÷ time from the first send to the last ack; bare group commit: ${fmtRate(med(bare, (r) => r.achieved))}`,
      });
    }
    const heavy = key('pipeline', 50_000, 'process');
    const light = key('pipeline', 1_000, 'process');
    for (const [label, k] of [
      ['50,000', heavy],
      ['10,000', key('pipeline', 10_000, 'process')],
    ] as const) {
      for (const p of [50, 99]) {
        const value = med(k, (r) => ms(r.critical, p));
        const baseline = med(light, (r) => ms(r.critical, p));
        latencyRow({
          name: `CRITICAL latency p${p} under ${label} payloads/s, event in → persisted ack`,
          value,
          unit: 'ms',
          baseline: { name: 'the same CRITICAL events under 1,000 payloads/s', value: baseline },
          ratio: baseline / value,
          ...(p === 99 && k === heavy
            ? {
                goal: 'p99 < 5 ms',
                met: value < 5,
                notes:
                  "a CRITICAL workflow.failed event every 10 ms, merged in after the bridge, takes persist's " +
                  'priority lane: written at once beside the batch in flight (an urgent append: it waits for the ' +
                  'LevelDB write in progress, not for the batch in flight to be acked nor for the backlog), and ' +
                  'acked as soon as its own write is; it still shares the event loop with the bridge, so it ' +
                  `waits behind the work queued before it; ${formatNumber(med(k, (r) => r.criticalSent))} per run; max ` +
                  `${formatNumber(med(k, (r) => ms(r.critical, 100)))} ms`,
              }
            : {}),
        });
      }
    }

    // --- throughput ---------------------------------------------------------------------------------
    const count = byLength(options, { quick: 5_000, default: 30_000, long: 100_000 });
    const payloads = makePayloads(count, SESSIONS, 8);
    const sessionsSeen = countSessions(payloads);
    const counted = await runInMemory(payloads, { count: true });
    const perPayload = counted.bridged / count;

    // In memory: the pipeline, its prefixes (where the time goes) and the baseline, round-robin so that
    // drift on this shared machine hits them all alike. The baseline makes BARE_PASSES passes over the
    // payloads per timed run: one pass takes a few ms, too short to time on its own.
    const BARE_PASSES = 20;
    const rates = await roundRobinRates(runs, count, {
      pipeline: async () => (await runInMemory(payloads)).seconds,
      bare: async () => {
        let seconds = 0;
        for (let i = 0; i < BARE_PASSES; i++) seconds += (await runBareRx(payloads)).seconds;
        return seconds / BARE_PASSES;
      },
      bridgeHooks: async () => (await runStage(payloads, () => bridgeHooks())).seconds,
      'bridgeHooks → temporalAggregate': async () =>
        (await runStage(payloads, () => (s) => s.pipe(bridgeHooks(), temporalAggregate()))).seconds,
      'bridgeHooks → temporalAggregate → correlate': async () =>
        (await runStage(payloads, () => (s) => s.pipe(bridgeHooks(), temporalAggregate(), correlate())))
          .seconds,
    });
    const inMemoryRate = rates.pipeline!;
    const bareRxRate = rates.bare!;
    add({
      name: `in-memory pipeline (bridge → temporalAggregate → correlate → measure)`,
      value: inMemoryRate,
      unit: 'payloads/s',
      baseline: { name: 'Subject → map → subscribe', value: bareRxRate },
      ratio: inMemoryRate / bareRxRate,
      goal: 'ratio ≥ 0.3',
      met: inMemoryRate / bareRxRate >= 0.3,
      notes:
        `${formatNumber(count)} payloads of ${formatNumber(sessionsSeen)} sessions (${formatNumber(SESSIONS)} at a time), ` +
        `${formatNumber(perPayload)} events per payload (${fmtRate(inMemoryRate * perPayload)} events, ` +
        `${formatNumber(1e6 / inMemoryRate)} µs per payload); ${formatNumber(counted.outputs)} outputs; ` +
        'both count input payloads per second, pushed synchronously into a Subject',
    });
    for (const [label, rate] of Object.entries(rates).slice(2)) {
      add({
        name: `stage: ${label}`,
        value: rate,
        unit: 'payloads/s',
        baseline: { name: 'Subject → map → subscribe', value: bareRxRate },
        ratio: rate / bareRxRate,
        notes: `context: ${formatNumber(1e6 / rate)} µs per payload (the full pipeline: ${formatNumber(1e6 / inMemoryRate)})`,
      });
    }

    // Persisted: the pipeline with `process` and `os` durability, against a bare chained batch.
    const persistedCount = byLength(options, { quick: 5_000, default: 20_000, long: 50_000 });
    const toPersist = payloads.slice(0, persistedCount);
    if (toPersist.length !== persistedCount)
      throw new Error('bench: too few payloads for the persisted runs');
    const events = bridge(toPersist);
    await runPersisted(toPersist.slice(0, 5_000));
    await bareChainedBatch(events.slice(0, 5_000));
    const persisted: number[] = [];
    const persistedOs: number[] = [];
    const bareLevel: number[] = [];
    for (let r = 0; r < runs; r++) {
      bareLevel.push(persistedCount / (await bareChainedBatch(events)));
      persisted.push(persistedCount / (await runPersisted(toPersist)).seconds);
      persistedOs.push(persistedCount / (await runPersisted(toPersist, { durability: 'os' })).seconds);
    }
    const persistedRate = median(persisted);
    const bareLevelRate = median(bareLevel);
    const osRate = median(persistedOs);
    add({
      name: 'persisted pipeline (bridge → persist → temporalAggregate → correlate → measure), process',
      value: persistedRate,
      unit: 'payloads/s',
      baseline: { name: 'bare classic-level chained batch of the bridged events', value: bareLevelRate },
      ratio: persistedRate / bareLevelRate,
      goal: 'ratio ≥ 0.7',
      met: persistedRate / bareLevelRate >= 0.7,
      notes:
        `${formatNumber(persistedCount)} payloads → ${formatNumber(events.length)} events, maxBatch ${formatNumber(BATCH)}; ` +
        `the baseline writes the same events, JSON-encoded before its clock starts, one key each, in batches of ` +
        `${formatNumber(BATCH)}; the store writes 2 keys per event + 1 metadata record per session per batch, ` +
        `after validating and encoding; both count input payloads per second`,
    });

    // --- durability cost ------------------------------------------------------------------------------
    add({
      name: 'durability os: persisted pipeline throughput',
      value: osRate,
      unit: 'payloads/s',
      baseline: { name: 'durability process', value: persistedRate },
      ratio: osRate / persistedRate,
      notes: 'os: one fsync per LevelDB batch (group commit), never one per event',
    });
    const osKey = key('pipeline', 10_000, 'os');
    const procKey = key('pipeline', 10_000, 'process');
    for (const p of [50, 99]) {
      const value = med(osKey, (r) => ms(r.latency, p));
      const baseline = med(procKey, (r) => ms(r.latency, p));
      latencyRow({
        name: `durability os: latency p${p} at 10,000 payloads/s`,
        value,
        unit: 'ms',
        baseline: { name: 'durability process', value: baseline },
        ratio: baseline / value,
        ...(p === 99 ? { notes: describe(osKey, 10_000, loadSeconds), detail: { os: perRun(osKey) } } : {}),
      });
    }

    // --- memory ---------------------------------------------------------------------------------------
    // Issue #8 asks for 5,000,000 events (--long): about 130-420 s on the shared 2-core machine, more than
    // the rest of `npm run bench` together. 3,000,000 by default (55-250 s).
    //
    // "Bounded" is judged after a warm-up. The generator starts its 10,000 sessions together and they
    // live long (at 2,000,000 events ~1,200 of them have ended, at 5,000,000 ~4,300), so for ~2,000,000 events
    // the pipeline holds a growing population of ageing sessions whose state legitimately fills up to
    // its bounds (correlate's open episodes list up to 100 ids each). That growth is not a leak and it
    // levels off (heap MB, 2026-12-04: 1M: 142, 2M: 168, 2.5M to 5M: 170 to 174). A
    // leak proportional to the events keeps growing after it, so the growth from the first sample at
    // or after the warm-up to the end is what must stay under 10 % (over 1,000,000 events by default,
    // 3,000,000 with --long); the whole curve is reported.
    const memoryEvents = byLength(options, { quick: 200_000, default: 3_000_000, long: 5_000_000 });
    const warmup = byLength(options, { quick: 100_000, default: 2_000_000, long: 2_000_000 });
    const every = memoryEvents / 10;
    const memSessions = 10_000;
    // The bare curve is the generator's own footprint (10,000 sessions' scripts): flat after the first
    // 100,000 events, so it runs for 500,000 and its last sample is the baseline.
    const bareEvents = Math.min(memoryEvents, 500_000);
    const { bare: bareCurve, pipeline: subjectCurve } = await memoryRun(
      memoryEvents,
      every,
      memSessions,
      bareEvents,
    );
    const end = subjectCurve.at(-1)!;
    const from = subjectCurve.find((sample) => sample.events >= warmup) ?? subjectCurve[0]!;
    const bareEnd = bareCurve.at(-1)!;
    const growth = (field: 'heapMB' | 'rssMB') => (end[field] - from[field]) / from[field];
    const perMillion = (field: 'heapMB' | 'rssMB') =>
      formatNumber((end[field] - from[field]) / ((end.events - from.events) / 1e6));
    const curve = (samples: MemorySample[], field: 'heapMB' | 'heapTotalMB' | 'rssMB') =>
      samples.map((s) => `${formatNumber(s.events / 1e6)}M: ${formatNumber(s[field])}`).join(', ');
    const span = `from ${formatNumber(from.events / 1e6)}M to ${formatNumber(end.events / 1e6)}M events`;
    // A --quick run is a smoke run: its span is inside the warm-up, its verdict is not for reading.
    const bounded = `bounded: < 10 % growth ${span}${options.quick ? '' : " (after the sessions' state has filled)"}`;
    const bareName = `Subject → map over the same payloads (${formatNumber(bareEnd.events / 1e6)}M events)`;
    add({
      name: `heap after ${formatNumber(memoryEvents)} events, 10,000 sessions, default windows (after gc)`,
      value: end.heapMB,
      unit: 'MB',
      baseline: { name: bareName, value: bareEnd.heapMB },
      ratio: bareEnd.heapMB / end.heapMB,
      goal: bounded,
      met: growth('heapMB') < 0.1,
      runs: 1,
      notes:
        'one run in a child process (node --expose-gc), in-memory pipeline, heapUsed after two full collections; ' +
        `growth ${span} ${formatNumber(growth('heapMB') * 100)} % (${perMillion('heapMB')} MB per million events); ` +
        `heap MB ${curve(subjectCurve, 'heapMB')}; ` +
        `heapTotal MB ${curve(subjectCurve, 'heapTotalMB')}; baseline (the generator's 10,000 sessions) ` +
        `${curve(bareCurve, 'heapMB')}; ${formatNumber(end.payloads)} payloads in ${formatNumber(end.seconds)} s`,
      detail: { pipeline: subjectCurve, bare: bareCurve },
    });
    add({
      name: `RSS after ${formatNumber(memoryEvents)} events, 10,000 sessions, default windows`,
      value: end.rssMB,
      unit: 'MB',
      baseline: { name: bareName, value: bareEnd.rssMB },
      ratio: bareEnd.rssMB / end.rssMB,
      goal: bounded,
      met: growth('rssMB') < 0.1,
      runs: 1,
      notes: `growth ${span} ${formatNumber(growth('rssMB') * 100)} % (${perMillion('rssMB')} MB per million events); RSS MB ${curve(subjectCurve, 'rssMB')}; baseline ${curve(bareCurve, 'rssMB')}`,
    });
    return rows;
  },
};

export default suite;
