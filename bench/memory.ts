/**
 * The memory figure of `bench/pipeline.ts`, run in a child process:
 * `node --expose-gc --import tsx bench/memory.ts <events> <every> <sessions> <bareEvents>`.
 *
 * 1. The baseline: payloads from the generator (`bench/payloads.ts`) through a bare
 *    `Subject → map → subscribe`, for `bareEvents` events' worth of payloads — the generator's own
 *    footprint (its 10,000 sessions' scripts) and the process's. Then it is dropped.
 * 2. The subject: a fresh generator (same seed) through the in-memory pipeline (`bridgeHooks` →
 *    `temporalAggregate` → `correlate` → `measure`, default options) for `events` bridged events.
 *
 * Payloads are made as they are offered (no input held on the heap), and the loop yields to the event
 * loop every 1,000 payloads, as a live process would (timers run: the idle rule of `temporalAggregate`
 * can fire). Every `every` events (a fifth of `bareEvents` for the baseline) it runs two full
 * collections and prints one JSON line: `{ mode, events, payloads, heapMB, heapTotalMB, rssMB, seconds }`.
 */
import { performance } from 'node:perf_hooks';
import { map, Subject } from 'rxjs';
import { EventFlowMetrics, type HookOutput } from '../src/index.js';
import { payloadStream } from './payloads.js';
import { inMemoryPipeline } from './pipeline.js';

const [eventsArg = '5000000', everyArg = '500000', sessionsArg = '10000', bareArg = '500000'] =
  process.argv.slice(2);
const sessions = Number(sessionsArg);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** Feeds `input` until `counter()` reaches `total`, sampling every `every`. */
async function feed(
  mode: string,
  input: Subject<HookOutput>,
  counter: () => number,
  total: number,
  every: number,
) {
  const next = payloadStream({ sessions, seed: 5 });
  const start = performance.now();
  let payloads = 0;
  let nextSample = every;
  while (counter() < total) {
    for (let i = 0; i < 1_000 && counter() < total; i++) {
      input.next(next());
      payloads++;
      if (counter() >= nextSample) {
        gc!();
        gc!();
        const usage = process.memoryUsage();
        process.stdout.write(
          `${JSON.stringify({
            mode,
            events: nextSample,
            payloads,
            heapMB: mb(usage.heapUsed),
            heapTotalMB: mb(usage.heapTotal),
            rssMB: mb(usage.rss),
            seconds: Math.round((performance.now() - start) / 100) / 10,
          })}\n`,
        );
        nextSample += every;
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  input.complete();
}

// 1. The baseline. The bridge makes ~1.19 events per payload of this stream: the baseline counts its
// payloads at that rate, so both curves are sampled at about the same inputs.
{
  const bareEvents = Number(bareArg);
  const input = new Subject<HookOutput>();
  let events = 0;
  input.pipe(map((payload) => payload.hook)).subscribe(() => {
    events += 1.19;
  });
  await feed('bare', input, () => events, bareEvents, bareEvents / 5);
}

// 2. The pipeline.
{
  const input = new Subject<HookOutput>();
  let events = 0;
  input.pipe(inMemoryPipeline(new EventFlowMetrics(), { bridged: () => events++ })).subscribe();
  await feed('pipeline', input, () => events, Number(eventsArg), Number(everyArg));
}
