/**
 * Flow control benchmarks:
 * 1. CRITICAL-event latency (p50, p99) through `hybridProcess` while an open-loop generator pushes
 *    50,000 NORMAL events/s into it; baseline: the same load through a hand-rolled RxJS split
 *    (`filter` + `map` for CRITICAL, `bufferCount(50)` + `mergeMap` for the rest), in the same run.
 * 2. `adaptiveBatch` throughput against a fixed `bufferCount` of the same size, in the same run.
 *
 * Open loop: every event has an intended send time (NORMAL k at k / rate, CRITICAL j every 10 ms) and
 * its latency is measured from that time, so a generator held up by the pipeline is counted against the
 * pipeline (no coordinated omission).
 */
import { performance } from 'node:perf_hooks';
import { bufferCount, filter, map, merge, mergeMap, type Observable, range, Subject } from 'rxjs';
import {
  adaptiveBatch,
  createEvent,
  type Event,
  fixedPolicy,
  hybridProcess,
  Priority,
} from '../src/index.js';
import {
  type BenchRow,
  type BenchSuite,
  byLength,
  compareThroughput,
  median,
  percentile,
} from './harness.js';

const NORMAL_RATE = 50_000;
const CRITICAL_EVERY_MS = 10;
const BATCH = 50;

interface LoadRun {
  /** From each CRITICAL event's intended send time to its outcome, ms. */
  criticalLatencies: number[];
  /** From the `next` call that emits each CRITICAL event to its outcome (what the pipeline adds), ms. */
  criticalInPipeline: number[];
  normalSent: number;
  normalDone: number;
  criticalSent: number;
  criticalDone: number;
  seconds: number;
}

/** The work of a batch: serialise it and hand it to "I/O" (the next turn of the event loop). */
function writeBatch(events: readonly Event[]): Promise<number[]> {
  const bytes = JSON.stringify(events).length;
  return new Promise((resolve) => setImmediate(() => resolve(events.map(() => bytes))));
}

/** The work of an immediate event: serialise it. */
function notify(event: Event): number {
  return JSON.stringify(event).length;
}

/**
 * Drives `pipeline` open-loop for `seconds`: NORMAL `tool.used` events at NORMAL_RATE, a CRITICAL
 * `workflow.failed` every CRITICAL_EVERY_MS, each at its intended time.
 */
function runLoad(
  seconds: number,
  pipeline: (input: Observable<Event>) => Observable<{ event: Event }>,
  normalRate = NORMAL_RATE,
): Promise<LoadRun> {
  return new Promise((resolve, reject) => {
    const input = new Subject<Event>();
    const intended = new Map<Event, number>();
    const emitted = new Map<Event, number>();
    const run: LoadRun = {
      criticalLatencies: [],
      criticalInPipeline: [],
      normalSent: 0,
      normalDone: 0,
      criticalSent: 0,
      criticalDone: 0,
      seconds,
    };
    pipeline(input).subscribe({
      next({ event }) {
        if (event.priority === Priority.CRITICAL) {
          run.criticalDone++;
          const now = performance.now();
          run.criticalLatencies.push(now - intended.get(event)!);
          run.criticalInPipeline.push(now - emitted.get(event)!);
          intended.delete(event);
          emitted.delete(event);
        } else {
          run.normalDone++;
        }
      },
      error: reject,
      complete: () => resolve(run),
    });

    const start = performance.now();
    const end = start + seconds * 1000;
    const tick = () => {
      const now = Math.min(performance.now(), end);
      // Everything due by now, in intended-time order.
      const normalDue = Math.floor(((now - start) / 1000) * normalRate);
      const criticalDue = Math.floor((now - start) / CRITICAL_EVERY_MS);
      while (run.normalSent < normalDue || run.criticalSent < criticalDue) {
        const nextNormalAt = start + (run.normalSent / normalRate) * 1000;
        const nextCriticalAt = start + (run.criticalSent + 1) * CRITICAL_EVERY_MS;
        if (
          run.criticalSent < criticalDue &&
          (run.normalSent >= normalDue || nextCriticalAt <= nextNormalAt)
        ) {
          const event = createEvent({
            type: 'workflow.failed',
            priority: Priority.CRITICAL,
            data: { n: run.criticalSent },
          });
          intended.set(event, nextCriticalAt);
          run.criticalSent++;
          emitted.set(event, performance.now());
          input.next(event);
        } else {
          run.normalSent++;
          input.next(createEvent({ type: 'tool.used', data: { tool_name: 'Edit', n: run.normalSent } }));
        }
      }
      if (now >= end) input.complete();
      else setImmediate(tick);
    };
    setImmediate(tick);
  });
}

const viaHybrid = (input: Observable<Event>) =>
  input.pipe(
    hybridProcess({
      immediate: notify,
      batch: writeBatch,
      batcher: { maxSize: BATCH },
      concurrency: { batched: 4 },
    }),
  );

const viaRawSplit = (input: Observable<Event>) =>
  merge(
    input.pipe(
      filter((event) => event.priority === Priority.CRITICAL),
      map((event) => ({ event, result: notify(event) })),
    ),
    input.pipe(
      filter((event) => event.priority !== Priority.CRITICAL),
      bufferCount(BATCH),
      mergeMap(async (batch) => {
        await writeBatch(batch);
        return batch;
      }, 4),
      mergeMap((batch) => batch.map((event) => ({ event }))),
    ),
  );

function drain(source: Observable<unknown>): Promise<void> {
  return new Promise((resolve, reject) => source.subscribe({ error: reject, complete: resolve }));
}

const suite: BenchSuite = {
  name: 'flow',
  async run(options) {
    const { runs } = options;
    const rows: BenchRow[] = [];
    // 1.5 s per run by default (4 with --long) keeps `npm run bench` under 5 minutes; docs/benchmarks.md.
    const seconds = byLength(options, { quick: 0.5, default: 1.5, long: 4 });

    // --- CRITICAL latency under load -----------------------------------------------------------------
    await runLoad(0.5, viaHybrid); // warm-up
    await runLoad(0.5, viaRawSplit);
    const hybrid: LoadRun[] = [];
    const raw: LoadRun[] = [];
    const idle: LoadRun[] = [];
    for (let i = 0; i < runs; i++) {
      idle.push(await runLoad(seconds, viaHybrid, 0));
      raw.push(await runLoad(seconds, viaRawSplit));
      hybrid.push(await runLoad(seconds, viaHybrid));
    }
    // The machine's floor: the same CRITICAL events with no NORMAL load (timer and scheduling noise).
    const floor = (p: number) => median(idle.map((r) => percentile(r.criticalLatencies, p)));
    const lost = hybrid.some((r) => r.normalDone !== r.normalSent || r.criticalDone !== r.criticalSent);
    const rate = median(hybrid.map((r) => r.normalDone / r.seconds));
    for (const p of [50, 99]) {
      const subject = median(hybrid.map((r) => percentile(r.criticalLatencies, p)));
      const baseline = median(raw.map((r) => percentile(r.criticalLatencies, p)));
      rows.push({
        suite: 'flow',
        name: `hybridProcess CRITICAL latency p${p}, ${NORMAL_RATE.toLocaleString('en-US')} NORMAL/s open loop`,
        value: subject,
        unit: 'ms',
        baseline: { name: 'raw RxJS split (filter/map + bufferCount/mergeMap)', value: baseline },
        ratio: baseline / subject,
        ...(p === 99 ? { goal: 'p99 < 5 ms', met: subject < 5 } : {}),
        runs,
        notes: `${seconds} s per run, ${hybrid[0]!.criticalSent} CRITICAL per run; NORMAL processed ${Math.round(rate).toLocaleString('en-US')}/s; ${lost ? 'EVENTS LOST' : 'every event had its outcome'}; without NORMAL load p${p} is ${floor(p).toFixed(2)} ms on this machine`,
      });
    }

    const inPipeline = median(hybrid.map((r) => percentile(r.criticalInPipeline, 99)));
    rows.push({
      suite: 'flow',
      name: 'hybridProcess CRITICAL emit-to-outcome p99 under that load (the pipeline alone)',
      value: inPipeline,
      unit: 'ms',
      baseline: {
        name: 'raw RxJS split',
        value: median(raw.map((r) => percentile(r.criticalInPipeline, 99))),
      },
      ratio: median(raw.map((r) => percentile(r.criticalInPipeline, 99))) / inPipeline,
      runs,
      notes:
        'from the next() call that emits the CRITICAL event to its outcome: excludes the time the generator waited for the event loop',
    });

    // --- adaptiveBatch throughput vs bufferCount -----------------------------------------------------
    const items = byLength(options, { quick: 100_000, default: 500_000, long: 1_000_000 });
    const fixed = await compareThroughput(
      runs,
      items,
      () => drain(range(0, items).pipe(adaptiveBatch({ maxSize: BATCH, policy: fixedPolicy }))),
      () => drain(range(0, items).pipe(bufferCount(BATCH))),
    );
    rows.push({
      suite: 'flow',
      name: `adaptiveBatch (maxSize ${BATCH}, fixed policy) throughput`,
      value: fixed.subject,
      unit: 'items/s',
      baseline: { name: `bufferCount(${BATCH})`, value: fixed.baseline },
      ratio: fixed.ratio,
      goal: 'ratio ≥ 0.5',
      met: fixed.ratio >= 0.5,
      runs,
      notes: `${items.toLocaleString('en-US')} items, synchronous source; adaptiveBatch also arms and cancels a timeout per batch`,
    });

    const adaptive = adaptiveBatch<number>({ maxSize: BATCH });
    const withFeedback = await compareThroughput(
      runs,
      items,
      () =>
        drain(
          range(0, items).pipe(
            adaptive,
            map((batch) => {
              adaptive.report({ latencyMs: 0.05, size: batch.length });
              return batch;
            }),
          ),
        ),
      () => drain(range(0, items).pipe(bufferCount(BATCH))),
    );
    rows.push({
      suite: 'flow',
      name: `adaptiveBatch (seed policy, a report per batch) throughput`,
      value: withFeedback.subject,
      unit: 'items/s',
      baseline: { name: `bufferCount(${BATCH})`, value: withFeedback.baseline },
      ratio: withFeedback.ratio,
      runs,
      notes: `final config ${JSON.stringify(adaptive.config)}`,
    });
    return rows;
  },
};

export default suite;
