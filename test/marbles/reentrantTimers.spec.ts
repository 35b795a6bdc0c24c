/**
 * The operators whose timers emit several outputs in one flush (the idle tick of temporalAggregate and
 * sessionWindows, the live-clock sweep of correlate and pattern, an adaptiveBatch shrink cut in chunks,
 * summary$), when the consumer acts from inside the first of them: it unsubscribes (nothing more comes out, no
 * scheduled work is left), completes or errors the source (the rest of that flush and what is still
 * open come out once, then the end, and no work is left), or pushes a chain of 100 inputs (each comes out
 * once, after the outputs of the flush).
 */
import {
  type OperatorFunction,
  type SchedulerLike,
  Subject,
  type Subscription,
  VirtualTimeScheduler,
} from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  correlate,
  type Event,
  EventFlowMetrics,
  fixedPolicy,
  Priority,
  pattern,
  sessionWindows,
  temporalAggregate,
} from '../../src/index.js';
import { countingScheduler, ev } from '../helpers/windows.js';

const MIN = 60_000;
const SEC = 1_000;

type Act = 'unsubscribe' | 'complete' | 'error';

interface Case {
  /** The operator on `scheduler`. */
  operator: (scheduler: SchedulerLike) => OperatorFunction<Event, Event>;
  /** When (scheduler and event time) a fourth session is opened: still open after the first flush. */
  later: number;
  /** What opens state in session `s` at event time `at` (the timer then emits one output for it). */
  open: (s: string, at: number) => Event[];
  /** Whether an output is one the timer emits (one per session opened). */
  timed: (e: Event) => boolean;
}

const file = (id: string, at: number, path: string, s: string): Event => ({
  id,
  type: 'file.modified',
  timestamp: at,
  priority: Priority.NORMAL,
  data: { file_path: path },
  sessionId: s,
});
const tool = (id: string, at: number, s: string): Event => ({
  id,
  type: 'tool.used',
  timestamp: at,
  priority: Priority.NORMAL,
  data: { tool_name: 'Edit' },
  sessionId: s,
});

const CASES: Record<string, Case> = {
  temporalAggregate: {
    operator: (scheduler) => temporalAggregate({ windows: { 'tool.used': 5 }, scheduler, idleFlushMs: 10 }),
    open: (s, at) => [ev('tool.used', at, s)],
    timed: (e) => e.type === 'tool.used.aggregated',
    later: 5,
  },
  sessionWindows: {
    operator: (scheduler) => sessionWindows({ gapMs: 5, scheduler, idleFlushMs: 10 }),
    open: (s, at) => [ev('x', at, s)],
    timed: (e) => e.type === 'session.window',
    later: 5,
  },
  correlate: {
    operator: (scheduler) => correlate(undefined, { liveClock: true, scheduler, passThrough: false }),
    // A feature-development episode (3 file events, 2 tool uses), ended by the sweep once quiet.
    open: (s, at) => [
      file(`${s}${at}f1`, at, `/r/${s}a.ts`, s),
      tool(`${s}${at}t1`, at + 30 * SEC, s),
      file(`${s}${at}f2`, at + MIN, `/r/${s}b.ts`, s),
      tool(`${s}${at}t2`, at + 90 * SEC, s),
      file(`${s}${at}f3`, at + 2 * MIN, `/r/${s}a.ts`, s),
    ],
    timed: (e) => e.type === 'activity.ended',
    later: MIN,
  },
  pattern: {
    operator: (scheduler) =>
      pattern([(e) => e.type === 'file.modified', (e) => e.type === 'test.run'], {
        within: 10 * MIN,
        liveClock: true,
        scheduler,
        passThrough: false,
      }),
    open: (s, at) => [file(`${s}${at}`, at, '/r/a.ts', s)],
    timed: (e) => e.type === 'pattern.timeout',
    later: MIN,
  },
};

/** An output as `session:type`, a timed one marked with `*`. */
function show(c: Case, e: Event): string {
  return `${c.timed(e) ? '*' : ''}${e.sessionId}:${e.type}`;
}

describe.each(Object.entries(CASES))('%s: a consumer acting inside a timer’s flush', (_, c) => {
  it.each<Act>(['unsubscribe', 'complete', 'error'])('%s from the first of three timed outputs', (act) => {
    const clock = new VirtualTimeScheduler();
    const { scheduler, fired } = countingScheduler(clock);
    const input = new Subject<Event>();
    const seen: string[] = [];
    let acted = false;
    /** Scheduled work run by the time the output ended or was left: none may run after. */
    let firedAtEnd = Number.NaN;
    const subscription: Subscription = input.pipe(c.operator(scheduler)).subscribe({
      next: (e) => {
        seen.push(show(c, e));
        if (acted || !c.timed(e)) return;
        acted = true;
        if (act === 'unsubscribe') {
          subscription.unsubscribe();
          firedAtEnd = fired();
        } else if (act === 'complete') input.complete();
        else input.error(new Error('source'));
      },
      error: (error: Error) => {
        seen.push(`error ${error.message}`);
        firedAtEnd = fired();
      },
      complete: () => {
        seen.push('|');
        firedAtEnd = fired();
      },
    });
    for (const s of ['a', 'b', 'c']) for (const e of c.open(s, 0)) input.next(e);
    // Open when the first three flush: the operator's timer is still wanted for it.
    clock.schedule(() => {
      for (const e of c.open('d', c.later)) input.next(e);
    }, c.later);
    const before = seen.length;
    clock.flush();
    const flushed = seen.slice(before);
    const timed = flushed.filter((x) => x.startsWith('*'));
    if (act === 'unsubscribe') expect(flushed.slice(flushed.indexOf(timed[0]!))).toEqual([timed[0]]);
    else {
      // Each session's output once (the fourth's flushed by the end), then the end.
      expect(timed.map((x) => x.split(':')[0]).sort()).toEqual(['*a', '*b', '*c', '*d']);
      expect(flushed.at(-1)).toBe(act === 'complete' ? '|' : 'error source');
      expect(flushed.filter((x) => x === '|' || x.startsWith('error'))).toHaveLength(1);
    }
    expect(fired()).toBe(firedAtEnd);
  });

  it('takes a chain of 100 inputs pushed from the timed outputs, each once', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<Event>();
    const seen: string[] = [];
    let pushed = 0;
    input.pipe(c.operator(scheduler)).subscribe({
      next: (e) => {
        seen.push(show(c, e));
        // Each timed output opens the next session, at the scheduler's time: 100 in all.
        if (c.timed(e) && pushed < 100) {
          pushed++;
          for (const x of c.open(`p${pushed}`, scheduler.now())) input.next(x);
        }
      },
      complete: () => seen.push('|'),
    });
    for (const s of ['a', 'b']) for (const e of c.open(s, 0)) input.next(e);
    scheduler.flush();
    input.complete();
    const timed = seen.filter((x) => x.startsWith('*')).map((x) => x.split(':')[0]);
    expect(timed).toHaveLength(102);
    expect(new Set(timed).size).toBe(102);
    expect(seen.at(-1)).toBe('|');
    expect(scheduler.actions).toHaveLength(0);
  });
});

describe('adaptiveBatch: a consumer acting inside its flushes', () => {
  const batcher = (scheduler: SchedulerLike) =>
    adaptiveBatch<number>({
      minSize: 1,
      maxSize: 4,
      maxSizeLimit: 4,
      timeoutMs: 5,
      minTimeoutMs: 1,
      maxTimeoutMs: 10,
      policy: fixedPolicy,
      scheduler,
    });

  it.each<Act>(['unsubscribe', 'complete', 'error'])(
    '%s from the first chunk of a batch a shrink cuts',
    (act) => {
      const clock = new VirtualTimeScheduler();
      const { scheduler, fired } = countingScheduler(clock);
      const operator = batcher(scheduler);
      const input = new Subject<number>();
      const seen: string[] = [];
      let acted = false;
      let firedAtEnd = Number.NaN;
      const subscription: Subscription = input.pipe(operator).subscribe({
        next: (batch) => {
          seen.push(`${clock.now()} [${batch.join(',')}]`);
          if (acted) return;
          acted = true;
          if (act === 'unsubscribe') {
            subscription.unsubscribe();
            firedAtEnd = fired();
            return;
          }
          // It fills a batch: that flush emits the chunks still owed first (from inside this call).
          input.next(9);
          if (act === 'complete') input.complete();
          else input.error(new Error('source'));
        },
        error: (error: Error) => {
          seen.push(`error ${error.message}`);
          firedAtEnd = fired();
        },
        complete: () => {
          seen.push('|');
          firedAtEnd = fired();
        },
      });
      for (const item of [1, 2, 3]) input.next(item);
      // At 1, the batch of 3 goes out on the change, in chunks of 1: one flush, three outputs. Its timer
      // (for 5) is cancelled then.
      clock.schedule(() => operator.setConfig({ maxSize: 1 }), 1);
      clock.flush();
      if (act === 'unsubscribe') expect(seen).toEqual(['1 [1]']);
      else
        expect(seen).toEqual(['1 [1]', '1 [2]', '1 [3]', '1 [9]', act === 'complete' ? '|' : 'error source']);
      expect(fired()).toBe(firedAtEnd);
    },
  );

  it('takes a chain of 100 items pushed from its batches, each once and in order', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const seen: string[] = [];
    input.pipe(batcher(scheduler)).subscribe({
      next: (batch) => {
        seen.push(`${scheduler.now()} [${batch.join(',')}]`);
        // Each batch's items push the next one: it waits for its timeout.
        for (const item of batch) if (item < 100) input.next(item + 1);
      },
      complete: () => seen.push('|'),
    });
    input.next(0);
    scheduler.flush();
    input.complete();
    expect(seen).toEqual([...Array.from({ length: 101 }, (_, i) => `${5 * (i + 1)} [${i}]`), '|']);
  });
});

describe('EventFlowMetrics.summary$: a consumer leaving from inside a summary', () => {
  it('gets no more summaries, and leaves no timer', () => {
    const scheduler = new VirtualTimeScheduler();
    const metrics = new EventFlowMetrics({ scheduler });
    let summaries = 0;
    const subscription: Subscription = metrics.summary$(10, scheduler).subscribe(() => {
      summaries++;
      subscription.unsubscribe();
    });
    scheduler.flush();
    expect(summaries).toBe(1);
    // Nothing left to run: a timer re-armed after the unsubscribe would run for ever (maxFrames).
    expect(scheduler.now()).toBe(10);
  });
});
