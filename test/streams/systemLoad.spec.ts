import { config, firstValueFrom, map, take, takeWhile, toArray, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigError,
  EventFlowMetrics,
  type OsProbe,
  type SystemLoad,
  systemLoad$,
} from '../../src/index.js';
import { runningSamplers } from '../../src/streams/systemLoad.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { atOnceScheduler } from '../helpers/schedulers.js';
import { until } from '../helpers/until.js';

/** A probe that answers at once and counts its calls. */
function countingProbe(cpu = 42, memory = 64) {
  const probe = {
    cpuCalls: 0,
    memoryCalls: 0,
    disposed: 0,
    async cpuPercent() {
      probe.cpuCalls++;
      return cpu;
    },
    async memoryPercent() {
      probe.memoryCalls++;
      return memory;
    },
    dispose() {
      probe.disposed++;
    },
  } satisfies OsProbe & Record<string, unknown>;
  return probe;
}

/** A probe whose CPU reads wait until released (`pending.shift()?.()`), counting them. */
function heldProbe() {
  const held = {
    calls: 0,
    pending: [] as Array<() => void>,
    probe: {
      cpuPercent() {
        held.calls++;
        return new Promise<number>((resolve) => held.pending.push(() => resolve(10)));
      },
      memoryPercent: async () => 20,
    } satisfies OsProbe,
  };
  return held;
}

/** Lets the promise callbacks queued so far run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps the event loop busy for `ms`. */
function busy(ms: number): void {
  const start = performance.now();
  while (performance.now() - start < ms) {
    // blocking on purpose
  }
}

const BLOCK_MS = 60;

afterEach(() => {
  expect(runningSamplers()).toBe(0);
});

describe('systemLoad$', () => {
  it('samples the real machine and event loop (node-os-utils, perf_hooks)', async () => {
    const metrics = new EventFlowMetrics();
    metrics.gauge(() => 7);
    metrics.record('x', 12);
    // Real sampling: every sample has the full shape; the probe's figures land in the background (the
    // CPU one takes ~200 ms), so sample until memory has and a few samples went by (bounded; no speed is asserted).
    const samples = await firstValueFrom(
      systemLoad$({ intervalMs: 100, metrics }).pipe(
        takeWhile((sample, index) => !(sample.memoryPercent > 0 && index >= 4), true),
        take(100),
        toArray(),
      ),
    );
    expect(samples.length).toBeGreaterThan(0);
    for (const sample of samples) {
      expect(Object.keys(sample).sort()).toEqual(
        [
          'avgLatencyMs',
          'cpuPercent',
          'eventLoopDelayMaxMs',
          'eventLoopDelayMs',
          'eventLoopUtilization',
          'memoryPercent',
          'queueDepth',
          'timestamp',
        ].sort(),
      );
      expect(sample.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(sample.cpuPercent).toBeLessThanOrEqual(100);
      expect(sample.eventLoopUtilization).toBeGreaterThanOrEqual(0);
      expect(sample.eventLoopUtilization).toBeLessThanOrEqual(1);
      expect(sample.eventLoopDelayMs).toBeGreaterThanOrEqual(0);
      expect(sample.eventLoopDelayMaxMs).toBeGreaterThanOrEqual(sample.eventLoopDelayMs);
      expect(sample.queueDepth).toBe(7);
      expect(sample.avgLatencyMs).toBe(12);
    }
    const last = samples.at(-1)!;
    expect(last.memoryPercent).toBeGreaterThan(0);
    expect(last.memoryPercent).toBeLessThanOrEqual(100);
    const timestamps = samples.map((s) => s.timestamp);
    expect([...timestamps].sort((a, b) => a - b)).toEqual(timestamps);
  });

  /**
   * Runs a sampler every 50 ms and blocks the event loop for 60 ms inside the callback of the second
   * sample; `before` runs in the first sample's callback. Returns the samples 1..5.
   */
  async function blockAfterSecondSample(before: () => void = () => undefined): Promise<SystemLoad[]> {
    const probe = countingProbe();
    const samples: SystemLoad[] = [];
    await new Promise<void>((resolve) => {
      const subscription = systemLoad$({ intervalMs: 50, probe }).subscribe((sample) => {
        samples.push(sample);
        if (samples.length === 1) before();
        if (samples.length === 2) busy(BLOCK_MS);
        if (samples.length === 5) {
          subscription.unsubscribe();
          resolve();
        }
      });
    });
    return samples;
  }

  /**
   * What the sampler must observe of a 60 ms block, however loaded the machine: one timer of the delay
   * monitor (resolution 10 ms) was at least 60 ms late, i.e. a delay of at least 50 ms in a sample after
   * the block; and the sample whose interval holds the block counts its 60 ms as busy time (up to the
   * 1 ms resolution of the timestamps). Load only makes delays longer and busy time longer.
   */
  function expectStallSeen(samples: SystemLoad[]): void {
    const after = samples.slice(2);
    expect(Math.max(...after.map((s) => s.eventLoopDelayMaxMs))).toBeGreaterThanOrEqual(BLOCK_MS - 10);
    const [before, during] = [samples[1]!, samples[2]!];
    const busyMs = during.eventLoopUtilization * (during.timestamp - before.timestamp + 2);
    expect(busyMs).toBeGreaterThanOrEqual(BLOCK_MS * 0.9);
  }

  it('sees a stall, even one right after a sample', async () => {
    // Inside the sample's own callback: the case a monitor that is reset at each sample misses.
    expectStallSeen(await blockAfterSecondSample());
  });

  it('sees a stall right after a sample when the loop runs late and other timers run first', async () => {
    // What a loaded machine does: the process gets the CPU late, so the sampling tick, the delay
    // monitor's timer and an unrelated timer that fell due first all run in one batch — the unrelated
    // one first, then the sampling tick (whose callback blocks), and only then the monitor's timer.
    expectStallSeen(
      await blockAfterSecondSample(() => {
        setTimeout(() => undefined, 1);
        busy(70);
      }),
    );
  });

  it('shares one sampler between all subscribers of the same options, across calls', async () => {
    const probe = countingProbe();
    const a: SystemLoad[] = [];
    const b: SystemLoad[] = [];
    // Waits for three samples rather than sleeping for them: a loaded machine may run fewer ticks in
    // a given time (a late loop runs an interval timer once, however many periods it missed).
    let threeSamples: () => void = () => undefined;
    const sampled = new Promise<void>((resolve) => {
      threeSamples = resolve;
    });
    const first = systemLoad$({ intervalMs: 20, probe }).subscribe((s) => {
      a.push(s);
      if (a.length === 3) threeSamples();
    });
    const second = systemLoad$({ intervalMs: 20, probe }).subscribe((s) => b.push(s));
    expect(runningSamplers()).toBe(1);
    await sampled;
    first.unsubscribe();
    second.unsubscribe();
    expect(a).toHaveLength(3);
    // Same samples (same timestamps), one probe per tick (plus the one at start), not one per subscriber.
    expect(b.map((s) => s.timestamp)).toEqual(a.map((s) => s.timestamp));
    expect(probe.cpuCalls).toBeLessThanOrEqual(a.length + 1);
    expect(a[0]).toMatchObject({ cpuPercent: 42, memoryPercent: 64 });
  });

  it('never overlaps calls of one probe, nor disposes it, while another sampler uses it', async () => {
    // Calls of a probe never overlap, as documented, also between two samplers of one probe (other
    // intervals) and a sampler restarted while its predecessor's call is in flight; it is disposed when
    // the last sampler using it stops. Each sampler started its own calls and disposed it on its stop.
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    let disposed = 0;
    const pending: Array<() => void> = [];
    const probe: OsProbe = {
      cpuPercent() {
        calls++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise((resolve) =>
          pending.push(() => {
            inFlight--;
            resolve(10);
          }),
        );
      },
      memoryPercent: async () => 20,
      dispose() {
        disposed++;
      },
    };
    // Its ticks never run: only the calls at the samplers' start are made.
    const scheduler = new VirtualTimeScheduler();
    const fast = systemLoad$({ intervalMs: 10, probe, scheduler }).subscribe();
    const slow = systemLoad$({ intervalMs: 25, probe, scheduler }).subscribe();
    await settle();
    expect(runningSamplers()).toBe(2);
    expect([calls, maxInFlight]).toEqual([1, 1]);
    fast.unsubscribe();
    expect(disposed).toBe(0);
    const again = systemLoad$({ intervalMs: 10, probe, scheduler }).subscribe();
    await settle();
    expect(calls).toBe(1);
    // Each waiting sampler calls once the call before it settled: one at a time.
    while (pending.length > 0) {
      pending.shift()!();
      await settle();
    }
    expect([calls, maxInFlight]).toEqual([3, 1]);
    slow.unsubscribe();
    expect(disposed).toBe(0);
    again.unsubscribe();
    expect(disposed).toBe(1);
  });

  it('lets go of the probe when its scheduler throws at the start, so the last sampler disposes it', async () => {
    // A sampler whose scheduler threw in schedule() still counted as a user of the probe: the samplers
    // after it never disposed it (and its delay monitor kept running).
    const probe = countingProbe();
    const broken = {
      now: () => 0,
      schedule(): never {
        throw new Error('scheduler closed');
      },
    };
    const errors: unknown[] = [];
    systemLoad$({ intervalMs: 10, probe, scheduler: broken }).subscribe({ error: (e) => errors.push(e) });
    expect(errors).toEqual([new Error('scheduler closed')]);
    expect(runningSamplers()).toBe(0);
    expect(probe.disposed).toBe(1);
    const working = systemLoad$({ intervalMs: 10, probe, scheduler: new VirtualTimeScheduler() }).subscribe();
    await new Promise((resolve) => setImmediate(resolve));
    expect(probe.cpuCalls).toBe(2);
    working.unsubscribe();
    expect(probe.disposed).toBe(2);
  });

  it('refuses a scheduler that runs its interval at once, inside schedule(): the ticks looped forever', () => {
    // A user scheduler that drains its queue inside schedule(), every delay at once: each tick re-armed
    // the next at once, and the subscription never returned (a recursive one overflowed the stack).
    const probe = countingProbe();
    const scheduler = atOnceScheduler();
    const errors: unknown[] = [];
    systemLoad$({ intervalMs: 10, probe, scheduler }).subscribe({ error: (e) => errors.push(e) });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect((errors[0] as Error).message).toMatch(/^systemLoad\$: the scheduler ran a timer of 10 ms at once/);
    expect(scheduler.ran()).toBe(1);
    // As for a scheduler that throws: nothing of the sampler is left running.
    expect(runningSamplers()).toBe(0);
    expect(probe.disposed).toBe(1);
  });

  it('gives a late subscriber the latest sample at once', async () => {
    const probe = countingProbe();
    const first = systemLoad$({ intervalMs: 20, probe }).subscribe();
    await sleep(50);
    const late = await firstValueFrom(systemLoad$({ intervalMs: 20, probe }));
    expect(late.cpuPercent).toBe(42);
    first.unsubscribe();
  });

  it('stops sampling when the last subscriber unsubscribes, and restarts on the next', async () => {
    const probe = countingProbe();
    const load$ = systemLoad$({ intervalMs: 10, probe });
    const subscription = load$.subscribe();
    await sleep(50);
    subscription.unsubscribe();
    expect(runningSamplers()).toBe(0);
    expect(probe.disposed).toBe(1);
    const calls = probe.cpuCalls;
    await sleep(50);
    expect(probe.cpuCalls).toBe(calls);
    const again = await firstValueFrom(load$);
    expect(again.cpuPercent).toBe(42);
    expect(probe.disposed).toBe(2);
  });

  it('emits every intervalMs on the scheduler and tears down on unsubscribe (virtual time)', () => {
    const probe = countingProbe();
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ expectObservable }) => {
      const load$ = systemLoad$({ intervalMs: 10, probe, scheduler });
      expectObservable(load$.pipe(map((s) => s.timestamp)), '35ms !').toBe('10ms a 9ms b 9ms c', {
        a: 10,
        b: 20,
        c: 30,
      });
    });
    expect(runningSamplers()).toBe(0);
  });

  it('keeps the last good figure when the probe fails', async () => {
    let fail = false;
    const probe: OsProbe = {
      cpuPercent: async () => {
        if (fail) throw new Error('no /proc');
        return 33;
      },
      memoryPercent: async () => (fail ? Number.NaN : 44),
    };
    const samples: SystemLoad[] = [];
    const subscription = systemLoad$({ intervalMs: 15, probe }).subscribe((s) => samples.push(s));
    // A good sample first, then samples taken while the probe fails (40 and 60 ms pauses stood for them:
    // a loaded machine may run no tick in 40 ms, and then there was no last good figure to keep).
    await until(() => samples.length > 0);
    const good = samples.length;
    fail = true;
    await until(() => samples.length >= good + 2);
    subscription.unsubscribe();
    expect(samples.length).toBeGreaterThanOrEqual(good + 2);
    expect(samples.at(-1)).toMatchObject({ cpuPercent: 33, memoryPercent: 44 });
  });

  it('never errors for a probe that throws synchronously (also in dispose) or answers without a promise', async () => {
    // An OsProbe written without `async`: its throw must not escape the sampler (nor its timer), and a
    // plain number is as good as a promise of one.
    const probe = {
      cpuPercent: () => {
        throw new Error('no /proc/stat');
      },
      memoryPercent: () => 55,
      dispose() {
        throw new Error('already closed');
      },
    } as unknown as OsProbe;
    const samples = await firstValueFrom(
      systemLoad$({ intervalMs: 5, probe }).pipe(
        takeWhile((sample) => sample.memoryPercent !== 55, true),
        take(200),
        toArray(),
      ),
    );
    expect(samples.at(-1)).toMatchObject({ cpuPercent: 0, memoryPercent: 55 });
  });

  it('takes the pipeline figures from a function too', async () => {
    const probe = countingProbe();
    const sample = await firstValueFrom(
      systemLoad$({ intervalMs: 5, probe, metrics: () => ({ queueDepth: 3, avgLatencyMs: Number.NaN }) }),
    );
    expect(sample.queueDepth).toBe(3);
    expect(sample.avgLatencyMs).toBe(0);
  });

  it('keeps one sampler per probe and per scheduler, also at the same interval', async () => {
    // Every probe and every scheduler counts in the sampler's identity: a second probe at the same
    // interval reads its own figures, and a second scheduler keeps its own clock.
    const scheduler = new VirtualTimeScheduler(undefined, 10);
    const other = new VirtualTimeScheduler(undefined, 30);
    const probe = countingProbe(1);
    const seen: Record<string, Array<Pick<SystemLoad, 'cpuPercent' | 'timestamp'>>> = { a: [], b: [], c: [] };
    const record = (name: string) => (s: SystemLoad) =>
      seen[name]!.push({ cpuPercent: s.cpuPercent, timestamp: s.timestamp });
    const a = systemLoad$({ intervalMs: 10, probe, scheduler }).subscribe(record('a'));
    const b = systemLoad$({ intervalMs: 10, probe: countingProbe(2), scheduler }).subscribe(record('b'));
    const c = systemLoad$({ intervalMs: 10, probe, scheduler: other }).subscribe(record('c'));
    const running = runningSamplers();
    await new Promise((resolve) => setImmediate(resolve));
    scheduler.flush();
    other.flush();
    a.unsubscribe();
    b.unsubscribe();
    c.unsubscribe();
    expect(running).toBe(3);
    expect(seen).toEqual({
      a: [{ cpuPercent: 1, timestamp: 10 }],
      b: [{ cpuPercent: 2, timestamp: 10 }],
      c: [10, 20, 30].map((timestamp) => ({ cpuPercent: 1, timestamp })),
    });
  });

  it('measures event-loop delay as the lateness of its monitor timer, per sample window', () => {
    // The monitor's timer (resolution 10 ms) and the clock it reads are faked: it runs once on time and
    // once 60 ms late, then not at all before the second sample.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let clock = 1_000;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const scheduler = new VirtualTimeScheduler(undefined, 100);
      const samples: SystemLoad[] = [];
      const subscription = systemLoad$({
        intervalMs: 100,
        eventLoopResolutionMs: 10,
        probe: countingProbe(),
        scheduler,
      }).subscribe((s) => samples.push(s));
      expect(vi.getTimerCount()).toBe(1);
      clock += 10;
      vi.advanceTimersByTime(10);
      clock += 70;
      vi.advanceTimersByTime(10);
      scheduler.flush();
      scheduler.maxFrames = 200;
      scheduler.flush();
      subscription.unsubscribe();
      // Stopped with the sampler: no timer of the monitor is left running.
      expect(vi.getTimerCount()).toBe(0);
      expect(samples.map((s) => [s.eventLoopDelayMs, s.eventLoopDelayMaxMs])).toEqual([
        [30, 60],
        [0, 0],
      ]);
    } finally {
      now.mockRestore();
      vi.useRealTimers();
    }
  });

  it('skips a tick while its own probe call is in flight, and calls no more once stopped', async () => {
    // "Started at subscription and at every tick unless one is still running": a tick during a call
    // adds no call after it; and a sampler that stopped while waiting for another's call makes none.
    const held = heldProbe();
    const { probe, pending } = held;
    const scheduler = new VirtualTimeScheduler(undefined, 30);
    const own = systemLoad$({ intervalMs: 10, probe, scheduler }).subscribe();
    scheduler.flush();
    await settle();
    const callsDuringTicks = held.calls;
    pending.shift()!();
    await settle();
    const callsAfterSettled = held.calls;
    // Another sampler waits for the call of this one's next tick, and stops before it settled.
    scheduler.maxFrames = 40;
    scheduler.flush();
    await settle();
    const callsAtNextTick = held.calls;
    const waiting = systemLoad$({ intervalMs: 25, probe, scheduler }).subscribe();
    waiting.unsubscribe();
    own.unsubscribe();
    pending.shift()!();
    await settle();
    expect([callsDuringTicks, callsAfterSettled, callsAtNextTick, held.calls]).toEqual([1, 1, 2, 2]);
  });

  it('reads node-os-utils by default, afresh at each probe, keeps the last good figure of a failed read and destroys it on stop', async () => {
    // A stand-in for node-os-utils with its documented contract: each read answers { success, data } or
    // { success: false, error }; its cache is on unless `cacheEnabled: false` (a cached read answers the
    // previous result again); `destroy()` releases its timers.
    const instances: Array<{ destroyed: number }> = [];
    let reads = 0;
    let onRead: () => void = () => undefined;
    class FakeOsUtils {
      destroyed = 0;
      constructor(config: { cacheEnabled?: boolean } = {}) {
        instances.push(this);
        // Per monitor: a good read, a failed one, a good one.
        const monitor = <T>(readings: Array<T | undefined>) => {
          let next = 0;
          let last: { success: true; data: T } | { success: false; error: Error } | undefined;
          return async () => {
            reads++;
            onRead();
            if (last !== undefined && config.cacheEnabled !== false) return last;
            const data = readings[next++];
            last =
              data === undefined ? { success: false, error: new Error('no /proc') } : { success: true, data };
            return last;
          };
        };
        this.cpu = { usage: monitor([30, undefined, 50]) };
        this.memory = { info: monitor([{ usagePercentage: 40 }, undefined, { usagePercentage: 60 }]) };
      }
      cpu: { usage(): Promise<unknown> };
      memory: { info(): Promise<unknown> };
      destroy() {
        this.destroyed++;
      }
    }
    vi.doMock('node-os-utils', () => ({ OSUtils: FakeOsUtils }));
    // The module is imported on first use: waits until both reads of a probe were made, then for their figures.
    const readsLanded = async (count: number) => {
      if (reads < count) {
        await new Promise<void>((resolve) => {
          onRead = () => {
            if (reads >= count) resolve();
          };
        });
      }
      await settle();
    };
    try {
      const scheduler = new VirtualTimeScheduler(undefined, 0);
      const samples: SystemLoad[] = [];
      const subscription = systemLoad$({ intervalMs: 10, scheduler }).subscribe((s) => samples.push(s));
      for (const frame of [10, 20, 30]) {
        await readsLanded(frame / 5);
        scheduler.maxFrames = frame;
        scheduler.flush();
      }
      subscription.unsubscribe();
      await settle();
      expect(samples.map((s) => [s.cpuPercent, s.memoryPercent])).toEqual([
        [30, 40],
        [30, 40],
        [50, 60],
      ]);
      expect(instances.map((i) => i.destroyed)).toEqual([1]);
    } finally {
      vi.doUnmock('node-os-utils');
    }
  });

  it("a sampler that waited for another sampler's call waits again the next time it finds the probe busy", async () => {
    // Each time a tick finds the probe in another sampler's call, this sampler calls once that one settled.
    const held = heldProbe();
    const { probe, pending } = held;
    const scheduler = new VirtualTimeScheduler(undefined, 0);
    const calledAfter = async (resolveOne: boolean, frame?: number) => {
      if (resolveOne) pending.shift()?.();
      if (frame !== undefined) {
        scheduler.maxFrames = frame;
        scheduler.flush();
      }
      await settle();
      return held.calls;
    };
    const fast = systemLoad$({ intervalMs: 10, probe, scheduler }).subscribe();
    const slow = systemLoad$({ intervalMs: 25, probe, scheduler }).subscribe();
    const counts = [
      await calledAfter(false), // fast's call at start; slow waits for it
      await calledAfter(true), // slow's deferred call
      await calledAfter(false, 10), // fast's tick finds slow's call in flight: waits
      await calledAfter(true), // fast's deferred call
      await calledAfter(false, 25), // slow's tick finds fast's call in flight: waits (fast's tick at 20 skipped)
      await calledAfter(true), // slow's deferred call, again
    ];
    fast.unsubscribe();
    slow.unsubscribe();
    expect(counts).toEqual([1, 2, 2, 3, 3, 4]);
  });

  it('a sampler whose scheduler threw makes no call later, not even one it was waiting for', async () => {
    const held = heldProbe();
    const { probe, pending } = held;
    const broken = {
      now: () => 0,
      schedule(): never {
        throw new Error('scheduler closed');
      },
    };
    const working = systemLoad$({ intervalMs: 10, probe, scheduler: new VirtualTimeScheduler() }).subscribe();
    await settle();
    const errors: unknown[] = [];
    systemLoad$({ intervalMs: 10, probe, scheduler: broken }).subscribe({ error: (e) => errors.push(e) });
    pending.shift()!();
    await settle();
    working.unsubscribe();
    expect(errors).toEqual([new Error('scheduler closed')]);
    expect(held.calls).toBe(1);
  });

  it('keeps sampling for the other subscribers when one unsubscribes (virtual time)', () => {
    const probe = countingProbe();
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ expectObservable }) => {
      const load$ = systemLoad$({ intervalMs: 10, probe, scheduler }).pipe(map((s) => s.timestamp));
      expectObservable(load$, '15ms !').toBe('10ms a', { a: 10 });
      expectObservable(load$, '35ms !').toBe('10ms a 9ms b 9ms c', { a: 10, b: 20, c: 30 });
    });
    expect(probe.disposed).toBe(1);
  });

  it('errors with the error of a metrics function that throws, and stops sampling', () => {
    const probe = countingProbe();
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const failure = new Error('metrics broken');
    let reads = 0;
    scheduler.run(({ expectObservable }) => {
      const load$ = systemLoad$({
        intervalMs: 10,
        probe,
        scheduler,
        metrics: () => {
          reads++;
          if (reads === 2) throw failure;
          return { queueDepth: reads };
        },
      });
      expectObservable(load$.pipe(map((s) => s.queueDepth))).toBe('10ms a 9ms #', { a: 1 }, failure);
    });
    expect(probe.disposed).toBe(1);
  });

  it('takes a metrics answer that is no object as no figures, and errors with the error of a throwing getter', () => {
    // Read outside the try, a null or undefined answer (a function without `return`) threw a TypeError
    // from the sample's callback, unhandled: the process crashed; a throwing getter likewise.
    const probe = countingProbe();
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const failure = new Error('getter broken');
    const answers: unknown[] = [
      undefined,
      null,
      5,
      { queueDepth: 3, avgLatencyMs: Number.NaN },
      {
        get queueDepth(): number {
          throw failure;
        },
      },
    ];
    let reads = 0;
    scheduler.run(({ expectObservable }) => {
      const load$ = systemLoad$({
        intervalMs: 10,
        probe,
        scheduler,
        metrics: (() => answers[reads++]) as never,
      });
      expectObservable(load$.pipe(map((s) => [s.queueDepth, s.avgLatencyMs]))).toBe(
        '10ms a 9ms a 9ms a 9ms b 9ms #',
        { a: [0, 0], b: [3, 0] },
        failure,
      );
    });
    expect(probe.disposed).toBe(1);
  });

  it('ends with the exception of a consumer that throws on a sample, and stops sampling (virtual time)', async () => {
    // Thrown from the shared subject's callback, the exception went unhandled at every sample (a crash,
    // in Node), and the sampler ran on, its timers with it, for a stream that never ended.
    const probe = countingProbe();
    const scheduler = new VirtualTimeScheduler();
    const consumer = new ThrowingConsumer<SystemLoad>(
      (sample) => sample.timestamp === 20,
      (sample) => String(sample.timestamp),
    );
    const unhandled: unknown[] = [];
    const before = config.onUnhandledError;
    config.onUnhandledError = (error) => unhandled.push(error);
    try {
      systemLoad$({ intervalMs: 10, probe, scheduler }).subscribe(consumer);
      scheduler.maxFrames = 50;
      scheduler.flush();
      await sleep(5); // RxJS reports an unhandled error on a later task
    } finally {
      config.onUnhandledError = before;
    }
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.timestamp))).toEqual([
      10,
      20,
      'error consumer on 20',
    ]);
    expect(unhandled).toEqual([]);
    expect(runningSamplers()).toBe(0);
    expect(scheduler.actions).toHaveLength(0);
    expect(probe.disposed).toBe(1);
  });

  it('validates its options', () => {
    expect(() => systemLoad$({ intervalMs: 0 })).toThrow(ConfigError);
    expect(() => systemLoad$({ intervalMs: Number.POSITIVE_INFINITY })).toThrow(ConfigError);
    // Longer than setTimeout's limit: Node would sample every millisecond.
    expect(() => systemLoad$({ intervalMs: 2_147_483_648 })).toThrow(/up to 2147483647/);
    expect(() => systemLoad$({ eventLoopResolutionMs: 2_147_483_648 })).toThrow(ConfigError);
    expect(() => systemLoad$({ intervalMs: 2_147_483_647 })).not.toThrow();
    expect(() => systemLoad$({ eventLoopResolutionMs: 0.5 })).toThrow(ConfigError);
    expect(() => systemLoad$({ eventLoopResolutionMs: 0 })).toThrow(
      /eventLoopResolutionMs must be a positive integer/,
    );
    expect(() => systemLoad$({ eventLoopResolutionMs: -1 })).toThrow(ConfigError);
    expect(() => systemLoad$({ eventLoopResolutionMs: 1 })).not.toThrow();
    expect(() => systemLoad$({ eventLoopResolutionMs: 2_147_483_647 })).not.toThrow();
  });

  it('refuses a scheduler, probe or metrics of the wrong shape at the call, before any timer starts', () => {
    // They were taken as given: a scheduler without schedule() threw a TypeError at subscription, after
    // the delay monitor's interval had started (never cleared) and the probe been called (never
    // disposed); a probe without cpuPercent() gave 0 % forever; metrics without load() errored the
    // stream at the first sample, though only a throwing metrics function is documented to.
    const probe = countingProbe();
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ scheduler: {} }, /scheduler must be a SchedulerLike/],
      [{ scheduler: { now: () => 0 } }, /scheduler must be a SchedulerLike/],
      [{ probe: {} }, /probe must have cpuPercent\(\) and memoryPercent\(\)/],
      [{ probe: { cpuPercent: async () => 1, memoryPercent: 5 } }, /probe must have/],
      [{ probe: { ...probe, dispose: 'yes' } }, /probe's dispose must be a function/],
      [{ probe: null }, /probe must have/],
      [{ metrics: {} }, /metrics must be an EventFlowMetrics/],
      [{ metrics: 7 }, /metrics must be an EventFlowMetrics/],
      [{ metrics: null }, /metrics must be an EventFlowMetrics/],
    ];
    for (const [options, message] of bad) {
      expect(() => systemLoad$({ probe, ...options } as never)).toThrow(ConfigError);
      expect(() => systemLoad$({ probe, ...options } as never)).toThrow(message);
    }
    expect(probe.cpuCalls + probe.memoryCalls).toBe(0);
    expect(runningSamplers()).toBe(0);
    // The shapes the docs name are accepted.
    expect(() => systemLoad$({ probe: countingProbe(), metrics: new EventFlowMetrics() })).not.toThrow();
    expect(() => systemLoad$({ probe: countingProbe(), metrics: () => ({}) })).not.toThrow();
    expect(() => systemLoad$({ probe: { ...countingProbe(), dispose: undefined } })).not.toThrow();
  });
});
