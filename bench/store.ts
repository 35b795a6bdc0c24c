/**
 * Benchmark of the session store (`npm run bench -- store`):
 * - `persist` throughput as a ratio to a bare classic-level chained-batch write of the same events
 *   (same run, fresh databases, medians) — goal ≥ 0.7;
 * - end-to-end acknowledgement latency (event offered → emitted by `persist`) at 10,000 events/s offered
 *   open-loop (latency counted from each event's scheduled time, so a stall cannot hide behind fewer
 *   sends) — goal p99 < 20 ms in `process` durability;
 * - the same two figures with `os` durability (one fsync per batch);
 * - the latency of a CRITICAL event every 10 ms among 10,000 NORMAL events/s, with `persist`'s priority
 *   lane and, as the baseline, without it (`priorityLane: false`), runs alternating;
 * - the ack time of a CRITICAL event received behind a backlog of 20,000 NORMAL events, with and without
 *   the lane (a measure of what it waits for, which CPU contention scales alike on both sides);
 * - `reconstruct(store, session, fileState)` over a session of file events touching 1,000 distinct files,
 *   as a ratio to reading the same events with a bare `store.query` loop (no reducer);
 * - appends of one event each, all called at once (a queue of tens of thousands of jobs), as a ratio to
 *   one append of the same events.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'hdr-histogram-js';
import { Level } from 'level';
import { from, lastValueFrom, Subject } from 'rxjs';
import {
  createEvent,
  type Durability,
  type Event,
  fileState,
  openStore,
  Priority,
  persist,
  reconstruct,
} from '../src/index.js';
import {
  type BenchRow,
  type BenchSuite,
  byLength,
  compareThroughput,
  median,
  withTempDir,
} from './harness.js';

const TYPES = ['tool.used', 'file.modified', 'tool.requested', 'file.created', 'agent.completed'];
const SESSIONS = ['3b9e1c4a-7d2f-4e6b-9a1c-5f8e2d7b0c13', '8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f'];

/** Events shaped like the bridge's (PostToolUse of Edit): about 400 bytes of JSON each. */
function makeEvents(count: number, t0 = 1_795_165_200_000): Event[] {
  return Array.from({ length: count }, (_, i) => makeEvent(i, t0));
}

function makeEvent(i: number, t0 = 1_795_165_200_000): Event {
  return createEvent({
    type: TYPES[i % TYPES.length]!,
    timestamp: t0 + i,
    sessionId: SESSIONS[i % SESSIONS.length]!,
    data: {
      tool_name: 'Edit',
      tool_use_id: `toolu_${i}`,
      file_path: `/home/user/acme-shop/src/orders/OrdersPage${i % 50}.tsx`,
      edits: 3,
      duration_ms: 12,
      success: true,
    },
    context: {
      hook: 'PostToolUse',
      cwd: '/home/user/acme-shop',
      transcript_path: '/home/user/.claude/projects/-home-user-acme-shop/3b9e1c4a.jsonl',
      permission_mode: 'acceptEdits',
    },
  });
}

const BATCH = 1_000;

const FILES = 1_000;

/**
 * `count` appends of one event each, called at once, against one append of the same events: the cost of
 * the write queue per call (a fresh database each run, `process` durability).
 */
async function singleAppendsRow(options: Parameters<BenchSuite['run']>[0], runs: number): Promise<BenchRow> {
  const count = byLength(options, { quick: 10_000, default: 30_000, long: 100_000 });
  const events = makeEvents(count);
  const inFreshStore = (write: (store: Awaited<ReturnType<typeof openStore>>) => Promise<unknown>) => () =>
    withTempDir('store', async (dir) => {
      const store = await openStore({ path: dir });
      try {
        await write(store);
      } finally {
        await store.close();
      }
    });
  const result = await compareThroughput(
    runs,
    count,
    inFreshStore((store) => Promise.all(events.map((event) => store.append([event])))),
    inFreshStore((store) => store.append(events)),
  );
  return {
    suite: 'store',
    name: `${count.toLocaleString('en-US')} appends of one event each, called at once`,
    value: result.subject,
    unit: 'events/s',
    baseline: { name: 'one append of the same events', value: result.baseline },
    ratio: result.ratio,
    runs,
    notes:
      'the write queue takes the waiting appends a batch (≤ 10,000 events) at a time; opening and closing the store inside both clocks',
  };
}

/**
 * `reconstruct` with `fileState` over one session of file events spread over FILES distinct paths, against
 * the same query loop doing nothing with the events: what the fold adds to reading the session.
 */
async function reconstructRow(options: Parameters<BenchSuite['run']>[0], runs: number): Promise<BenchRow> {
  const count = byLength(options, { quick: 10_000, default: 30_000, long: 100_000 });
  const events = Array.from({ length: count }, (_, i) =>
    createEvent({
      type: i % 5 === 0 ? 'file.created' : 'file.modified',
      timestamp: 1_795_165_200_000 + i,
      sessionId: SESSIONS[0]!,
      data: { file_path: `/home/user/acme-shop/src/module${i % FILES}/index.ts`, tool_name: 'Edit' },
    }),
  );
  return withTempDir('store', async (dir) => {
    const store = await openStore({ path: dir });
    try {
      for (let i = 0; i < events.length; i += BATCH) await store.append(events.slice(i, i + BATCH));
      let files = 0;
      const result = await compareThroughput(
        runs,
        count,
        async () => {
          files = Object.keys((await reconstruct(store, SESSIONS[0]!, fileState)).files).length;
        },
        async () => {
          for await (const _ of store.query(SESSIONS[0]!)) {
            // reading only
          }
        },
      );
      return {
        suite: 'store',
        name: `reconstruct(fileState), ${count.toLocaleString('en-US')} file events over ${FILES.toLocaleString('en-US')} files`,
        value: result.subject,
        unit: 'events/s',
        baseline: { name: 'the same store.query loop, no reducer', value: result.baseline },
        ratio: result.ratio,
        runs,
        notes: `${files.toLocaleString('en-US')} files in the state; the fold updates its own records in place (reduce copies them at each change, O(files) per event)`,
      };
    } finally {
      await store.close();
    }
  });
}

/** The baseline: the same events, JSON-encoded, one key each, in chained batches of BATCH, written in turn. */
async function bareChainedBatch(events: Event[]): Promise<number> {
  return withTempDir('store', async (dir) => {
    const db = new Level<string, string>(dir);
    await db.open();
    const start = performance.now();
    const seqs = new Map<string, number>();
    for (let i = 0; i < events.length; i += BATCH) {
      const batch = db.batch();
      for (let j = i; j < Math.min(i + BATCH, events.length); j++) {
        const event = events[j]!;
        const session = event.sessionId!;
        const seq = seqs.get(session) ?? 0;
        seqs.set(session, seq + 1);
        batch.put(`${session}\x00${String(seq).padStart(16, '0')}`, JSON.stringify(event));
      }
      await batch.write();
    }
    const ms = performance.now() - start;
    await db.close();
    return events.length / (ms / 1000);
  });
}

async function persistThroughput(events: Event[], durability: Durability): Promise<number> {
  return withTempDir('store', async (dir) => {
    const store = await openStore({ path: join(dir, 'db'), durability });
    const start = performance.now();
    await lastValueFrom(from(events).pipe(persist(store, { maxBatch: BATCH, maxPending: Infinity })));
    const ms = performance.now() - start;
    await store.close();
    return events.length / (ms / 1000);
  });
}

/**
 * Offers `rate` events/s for `seconds` open-loop and returns the acknowledgement latencies (ms) of the
 * events after the first `warmupSeconds`.
 */
async function ackLatency(
  durability: Durability,
  rate: number,
  seconds: number,
  warmupSeconds: number,
  critical?: { everyMs: number; priorityLane: boolean },
) {
  return withTempDir('store', async (dir) => {
    const store = await openStore({ path: join(dir, 'db'), durability });
    const total = Math.round(rate * seconds);
    const histogram = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    const criticalHistogram = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    const skip = Math.round(rate * warmupSeconds);
    const interval = 1000 / rate;
    const source = new Subject<Event>();
    // persist emits the very objects it is given: this finds each one's scheduled time.
    const indexOf = new WeakMap<Event, number>();
    /** CRITICAL events' scheduled times (ms since start). */
    const criticalAt = new WeakMap<Event, number>();
    let start = 0;
    let acked = 0;
    const done = new Promise<void>((resolve, reject) => {
      source
        .pipe(persist(store, { maxBatch: BATCH, priorityLane: critical?.priorityLane ?? true }))
        .subscribe({
          next: (event) => {
            const at = criticalAt.get(event);
            if (at !== undefined) {
              if (at >= warmupSeconds * 1000)
                criticalHistogram.recordValue(
                  Math.max(1, Math.round((performance.now() - (start + at)) * 1000)),
                );
              return;
            }
            const i = indexOf.get(event)!;
            acked++;
            // Latency from when the event was due to be offered, not from when it was.
            if (i >= skip)
              histogram.recordValue(
                Math.max(1, Math.round((performance.now() - (start + i * interval)) * 1000)),
              );
          },
          error: reject,
          complete: resolve,
        });
    });
    start = performance.now();
    let sent = 0;
    let criticalSent = 0;
    const criticalTotal = critical === undefined ? 0 : Math.floor((seconds * 1000) / critical.everyMs);
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now() - start;
        const due = Math.min(total, Math.floor(now / interval) + 1);
        const criticalDue =
          critical === undefined ? 0 : Math.min(criticalTotal, Math.floor(now / critical.everyMs));
        // Events are made as they are offered, like the bridge does: no pre-built backlog on the heap.
        // A CRITICAL event goes in at its scheduled place among the NORMAL ones.
        while (sent < due || criticalSent < criticalDue) {
          const nextCritical = critical === undefined ? Infinity : (criticalSent + 1) * critical.everyMs;
          if (criticalSent < criticalDue && (sent >= due || nextCritical <= sent * interval)) {
            const event = createEvent({
              type: 'workflow.failed',
              priority: Priority.CRITICAL,
              timestamp: 1_795_165_200_000 + nextCritical,
              sessionId: SESSIONS[0]!,
              data: { workflow_id: `wf-${criticalSent}`, reason: 'build broke on main' },
            });
            criticalAt.set(event, nextCritical);
            criticalSent++;
            source.next(event);
            continue;
          }
          const event = makeEvent(sent);
          indexOf.set(event, sent++);
          source.next(event);
        }
        if (sent < total) setTimeout(tick, 0);
        else resolve();
      };
      tick();
    });
    source.complete();
    await done;
    await store.close();
    const result = {
      p50: histogram.getValueAtPercentile(50) / 1000,
      p99: histogram.getValueAtPercentile(99) / 1000,
      max: histogram.maxValue / 1000,
      acked,
      critical: {
        p50: criticalHistogram.getValueAtPercentile(50) / 1000,
        p99: criticalHistogram.getValueAtPercentile(99) / 1000,
        max: criticalHistogram.maxValue / 1000,
        count: criticalHistogram.totalCount,
      },
    };
    histogram.destroy();
    criticalHistogram.destroy();
    return result;
  });
}

/**
 * Pushes `backlog` NORMAL events synchronously, then one CRITICAL event, then completes: the time (ms)
 * from the CRITICAL event's push to its emission by persist, and to the completion (everything written).
 */
async function criticalBehindBacklog(backlog: Event[], priorityLane: boolean) {
  return withTempDir('store', async (dir) => {
    const store = await openStore({ path: join(dir, 'db') });
    const critical = createEvent({
      type: 'workflow.failed',
      priority: Priority.CRITICAL,
      timestamp: 1_795_165_200_000,
      sessionId: SESSIONS[0]!,
      data: { workflow_id: 'wf-0', reason: 'build broke on main' },
    });
    const source = new Subject<Event>();
    let pushed = 0;
    let ackedAt = 0;
    const done = new Promise<void>((resolve, reject) => {
      source.pipe(persist(store, { maxBatch: BATCH, maxPending: Infinity, priorityLane })).subscribe({
        next: (event) => {
          if (event === critical) ackedAt = performance.now();
        },
        error: reject,
        complete: resolve,
      });
    });
    for (const event of backlog) source.next(event);
    pushed = performance.now();
    source.next(critical);
    source.complete();
    await done;
    const result = { critical: ackedAt - pushed, total: performance.now() - pushed };
    await store.close();
    return result;
  });
}

const suite: BenchSuite = {
  name: 'store',
  async run(options) {
    const { runs } = options;
    const rows: BenchRow[] = [];
    const latencyRows: BenchRow[] = [];
    // Latency first, on a small heap: the throughput runs below leave a large one whose collections would
    // show up as the store's latency.
    // 2 s per run by default (5 with --long) keeps `npm run bench` under 5 minutes; docs/benchmarks.md.
    const seconds = byLength(options, { quick: 1, default: 2, long: 5 });
    const warmup = 0.5;
    for (const durability of ['process', 'os'] as const) {
      const p50: number[] = [];
      const p99: number[] = [];
      const max: number[] = [];
      for (let r = 0; r < runs; r++) {
        const result = await ackLatency(durability, 10_000, seconds, warmup);
        p50.push(result.p50);
        p99.push(result.p99);
        max.push(result.max);
      }
      const p99Median = median(p99);
      latencyRows.push({
        suite: 'store',
        name: `ack latency p50 at 10,000 events/s, durability ${durability}`,
        value: median(p50),
        unit: 'ms',
        runs,
        notes: `open-loop, ${seconds} s per run, first ${warmup} s excluded`,
      });
      latencyRows.push({
        suite: 'store',
        name: `ack latency p99 at 10,000 events/s, durability ${durability}`,
        value: p99Median,
        unit: 'ms',
        ...(durability === 'process' ? { goal: 'p99 < 20 ms', met: p99Median < 20 } : {}),
        runs,
        notes: `max over runs ${Math.max(...max).toFixed(1)} ms`,
      });
    }
    // CRITICAL latency, with and without the priority lane, alternating.
    const CRITICAL_RATE = 10_000;
    const laned: Array<{ p50: number; p99: number; max: number; count: number }> = [];
    const unlaned: typeof laned = [];
    for (let r = 0; r < runs; r++) {
      for (const priorityLane of [true, false]) {
        const result = await ackLatency('process', CRITICAL_RATE, seconds, warmup, {
          everyMs: 10,
          priorityLane,
        });
        (priorityLane ? laned : unlaned).push(result.critical);
      }
    }
    for (const p of ['p50', 'p99'] as const) {
      const value = median(laned.map((r) => r[p]));
      const baseline = median(unlaned.map((r) => r[p]));
      latencyRows.push({
        suite: 'store',
        name: `CRITICAL ack latency ${p} among ${CRITICAL_RATE.toLocaleString('en-US')} events/s, priority lane`,
        value,
        unit: 'ms',
        baseline: { name: 'the same without the lane (priorityLane: false)', value: baseline },
        ratio: baseline / value,
        runs,
        notes:
          p === 'p99'
            ? `a CRITICAL event every 10 ms, durability process, maxBatch ${BATCH}; ${median(laned.map((r) => r.count))} per run; ` +
              `max over runs ${Math.max(...laned.map((r) => r.max)).toFixed(1)} ms (without the lane ${Math.max(...unlaned.map((r) => r.max)).toFixed(1)} ms)`
            : "latency from the event's scheduled time to its emission by persist",
      });
    }

    const backlog = makeEvents(20_000);
    const behind: Array<{ critical: number; total: number }> = [];
    const behindUnlaned: typeof behind = [];
    for (let r = 0; r < runs; r++) {
      behind.push(await criticalBehindBacklog(backlog, true));
      behindUnlaned.push(await criticalBehindBacklog(backlog, false));
    }
    const behindValue = median(behind.map((r) => r.critical));
    const behindBaseline = median(behindUnlaned.map((r) => r.critical));
    latencyRows.push({
      suite: 'store',
      name: 'CRITICAL ack behind a backlog of 20,000 events, priority lane',
      value: behindValue,
      unit: 'ms',
      baseline: { name: 'the same without the lane (priorityLane: false)', value: behindBaseline },
      ratio: behindBaseline / behindValue,
      runs,
      notes:
        `20,000 NORMAL events pushed synchronously, then the CRITICAL one: with the lane it waits at most for the ` +
        `LevelDB write in progress (maxBatch ${BATCH}), without it for the whole backlog; writing all of it took ` +
        `${median(behind.map((r) => r.total)).toFixed(0)} ms (without the lane ${median(behindUnlaned.map((r) => r.total)).toFixed(0)} ms)`,
    });

    const count = byLength(options, { quick: 10_000, default: 30_000, long: 100_000 });
    const events = makeEvents(count);

    // Warm-up, then alternate subject and baseline so drift on this shared machine hits both.
    await persistThroughput(makeEvents(5_000), 'process');
    await bareChainedBatch(makeEvents(5_000));
    const bare: number[] = [];
    const proc: number[] = [];
    const os: number[] = [];
    for (let r = 0; r < runs; r++) {
      bare.push(await bareChainedBatch(events));
      proc.push(await persistThroughput(events, 'process'));
      os.push(await persistThroughput(events, 'os'));
    }
    const bareRate = median(bare);
    const procRate = median(proc);
    const osRate = median(os);
    rows.push({
      suite: 'store',
      name: `persist throughput, ${count.toLocaleString('en-US')} events, durability process`,
      value: procRate,
      unit: 'events/s',
      baseline: { name: 'bare classic-level chained batch', value: bareRate },
      ratio: procRate / bareRate,
      goal: 'ratio ≥ 0.7',
      met: procRate / bareRate >= 0.7,
      runs,
      notes:
        `maxBatch ${BATCH}; the store writes 2 keys per event (record + (type, time) index) and 1 metadata ` +
        'record per session per batch; the baseline writes 1 key per event.',
    });
    rows.push({
      suite: 'store',
      name: `persist throughput, ${count.toLocaleString('en-US')} events, durability os`,
      value: osRate,
      unit: 'events/s',
      baseline: { name: 'persist, durability process', value: procRate },
      ratio: osRate / procRate,
      runs,
      notes: 'one fsync per batch of up to 1,000 events',
    });

    rows.push(await reconstructRow(options, runs));
    rows.push(await singleAppendsRow(options, runs));

    return [...rows, ...latencyRows];
  },
};

export default suite;
