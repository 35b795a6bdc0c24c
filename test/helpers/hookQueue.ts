/**
 * A reference model of the bounded queue of `chainHooks` / `aggregateHooks`, for property tests: which
 * contexts run and which are rejected, and at which frame each yields its final record.
 */
import fc from 'fast-check';
import {
  EMPTY,
  from,
  map,
  merge,
  mergeMap,
  type Observable,
  type SchedulerLike,
  throwError,
  timer,
} from 'rxjs';

/** A context arriving at frame `at`, whose run takes `duration` (≥ 1) frames. */
export interface Arrival {
  readonly at: number;
  readonly duration: number;
}

/** What becomes of a context: rejected on arrival, or run; `end` is the frame of its final record. */
export interface Fate {
  readonly rejected: boolean;
  readonly end: number;
}

/** Arrival patterns: bursts (gap 0) and pauses, runs of 1 to 5 frames. */
export const arrivalsArbitrary: fc.Arbitrary<Arrival[]> = fc
  .array(fc.record({ gap: fc.integer({ min: 0, max: 3 }), duration: fc.integer({ min: 1, max: 5 }) }), {
    maxLength: 14,
  })
  .map((specs) => {
    let at = 0;
    return specs.map(({ gap, duration }) => {
      at += gap;
      return { at, duration };
    });
  });

/** How the source ends: `gap` frames after its last arrival (or after 0), by completing or erroring. */
export interface Ending {
  readonly gap: number;
  readonly error: boolean;
}

/** Endings at the last arrival or a little later, half of them errors. */
export const endingArbitrary: fc.Arbitrary<Ending> = fc.record({
  gap: fc.integer({ min: 0, max: 3 }),
  error: fc.boolean(),
});

/** The frame at which the source ends. */
export function endOf(arrivals: readonly Arrival[], ending: Ending): number {
  return (arrivals.at(-1)?.at ?? 0) + ending.gap;
}

/** The error a source ends with when its `Ending` says `error`. */
export const SOURCE_ERROR = new Error('the source failed');

/**
 * The contexts `{ i }` arriving on `scheduler` as `arrivals` says, then the end (by default: complete
 * with the last arrival). Every arrival, and the end, is scheduled at subscription, so at a given frame
 * the arrivals come first, then the end, then the run ends due then (as in the model).
 */
export function arriving(
  arrivals: readonly Arrival[],
  scheduler: SchedulerLike,
  ending: Ending = { gap: 0, error: false },
): Observable<{ i: number }> {
  return merge(
    from(arrivals.map((arrival, i) => ({ arrival, i }))).pipe(
      mergeMap(({ arrival, i }) => timer(arrival.at, scheduler).pipe(map(() => ({ i })))),
    ),
    timer(endOf(arrivals, ending), scheduler).pipe(
      mergeMap(() => (ending.error ? throwError(() => SOURCE_ERROR) : EMPTY)),
    ),
  );
}

/**
 * The model: a context that finds a free run starts at once; else it waits if fewer than `maxQueued`
 * wait; else it is rejected at once. At a frame, the arrivals come first, then the runs that end then
 * (in the order they started), each starting the longest-waiting context.
 */
export function queueModel(arrivals: readonly Arrival[], concurrency: number, maxQueued: number): Fate[] {
  const fates = new Array<Fate>(arrivals.length);
  const active: Array<{ i: number; end: number; seq: number }> = [];
  const queue: number[] = [];
  let seq = 0;
  let next = 0;
  const start = (i: number, t: number) => active.push({ i, end: t + arrivals[i]!.duration, seq: seq++ });
  while (next < arrivals.length || active.length > 0) {
    const t = Math.min(
      ...(next < arrivals.length ? [arrivals[next]!.at] : []),
      ...active.map((run) => run.end),
    );
    while (next < arrivals.length && arrivals[next]!.at === t) {
      const i = next++;
      if (active.length < concurrency) start(i, t);
      else if (queue.length < maxQueued) queue.push(i);
      else fates[i] = { rejected: true, end: t };
    }
    const ending = active.filter((run) => run.end === t).sort((a, b) => a.seq - b.seq);
    for (const run of ending) {
      active.splice(active.indexOf(run), 1);
      fates[run.i] = { rejected: false, end: t };
      const waiting = queue.shift();
      if (waiting !== undefined) start(waiting, t);
    }
  }
  return fates;
}
