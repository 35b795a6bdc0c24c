import fc from 'fast-check';
import { asyncScheduler, from, mergeMap, type SchedulerLike, Subject, take, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { bridgeHooks, type Event, type HookOutput, toEvents } from '../../src/index.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { rxjsUnhandled } from '../helpers/unhandled.js';

const SESSION = 'sess-1';
const write: HookOutput = {
  hook: 'PostToolUse',
  output: {
    session_id: SESSION,
    tool_name: 'Write',
    tool_input: { file_path: '/r/a.ts', content: 'x' },
    tool_response: { type: 'create' },
  },
  timestamp: 1,
};
const end = (timestamp: number): HookOutput => ({
  hook: 'SessionEnd',
  output: { session_id: SESSION, reason: 'x' },
  timestamp,
});
const bad = (timestamp: number): HookOutput => ({ hook: 'PostToolUse', output: null, timestamp });
const key = (event: Event) => `${event.type}@${event.timestamp}`;
const expected = (outputs: HookOutput[]) =>
  outputs.flatMap((o) => toEvents(o.hook, o.output, o.timestamp)).map(key);

describe('bridgeHooks re-entrancy review', () => {
  it('non-re-entrant: sync, and pushed from a timer, are the outputs mapped one by one, in order', async () => {
    const outputs = fc.sample(fc.oneof(fc.constant(write), fc.nat(1000).map(end), fc.nat(1000).map(bad)), {
      numRuns: 200,
      seed: 7,
    });
    const seen: string[] = [];
    from(outputs)
      .pipe(bridgeHooks())
      .subscribe((e) => seen.push(key(e)));
    expect(seen).toEqual(expected(outputs));
    const fromTimer: string[] = [];
    await new Promise<void>((resolve) =>
      timer(0, 1)
        .pipe(
          take(outputs.length),
          mergeMap((i) => [outputs[i]!]),
          bridgeHooks(),
        )
        .subscribe({ next: (e) => fromTimer.push(key(e)), complete: resolve }),
    );
    expect(fromTimer).toEqual(expected(outputs));
  });

  it('a chain of 10,000 pushes, each from the last event of the one before, comes out once each, in order, without overflowing the stack', () => {
    const input = new Subject<HookOutput>();
    const seen: number[] = [];
    let error: unknown;
    input.pipe(bridgeHooks()).subscribe({
      next: (e) => {
        seen.push(e.timestamp);
        if (e.timestamp < 10_000) input.next(end(e.timestamp + 1));
      },
      error: (e) => (error = e),
    });
    input.next(end(0));
    expect(error).toBeUndefined();
    expect(seen).toHaveLength(10_001);
    expect(seen.every((t, i) => t === i)).toBe(true);
  });

  it('leaving in the middle of the queued outputs emits nothing more and throws nothing', async () => {
    const input = new Subject<HookOutput>();
    const seen: string[] = [];
    const unhandled = await rxjsUnhandled(() => {
      const subscription = input.pipe(bridgeHooks()).subscribe((e) => {
        seen.push(key(e));
        if (seen.length === 1) {
          input.next(end(2));
          input.next(bad(3));
          input.next(end(4));
        }
        if (seen.length === 4) {
          subscription.unsubscribe();
          input.next(end(5)); // after leaving: nobody reads it
        }
      });
      expect(() => input.next(write)).not.toThrow();
      expect(() => input.next(end(6))).not.toThrow();
    });
    expect(seen).toEqual(['tool.used@1', 'file.created@1', 'session.ended@2', 'hook.rejected@3']);
    expect(input.observed).toBe(false);
    expect(unhandled).toEqual([]);
  });

  it('rejected events of bad payloads pushed re-entrantly keep their place, and the limits apply to them', () => {
    const input = new Subject<HookOutput>();
    const seen: string[] = [];
    const big: HookOutput = { ...end(6), output: { session_id: SESSION, reason: 'x'.repeat(5_000) } };
    input.pipe(bridgeHooks({ maxPayloadBytes: 1_000 })).subscribe((e) => {
      seen.push(key(e));
      if (e.type === 'tool.used') {
        input.next(bad(2));
        input.next(end(3));
        input.next(bad(4));
        input.next(big);
      }
    });
    input.next(write);
    input.next(bad(5));
    expect(seen).toEqual([
      'tool.used@1',
      'file.created@1',
      'hook.rejected@2',
      'session.ended@3',
      'hook.rejected@4',
      'hook.rejected@6',
      'hook.rejected@5',
    ]);
  });

  it.each([
    ['completes', (input: Subject<HookOutput>) => input.complete()],
    ['errors', (input: Subject<HookOutput>) => input.error(new Error('source'))],
  ])(
    'a consumer leaving at a queued event after the source %s from inside gets no end and nothing is reported',
    async (_, endIt) => {
      const input = new Subject<HookOutput>();
      const seen: string[] = [];
      const unhandled = await rxjsUnhandled(() => {
        const subscription = input.pipe(bridgeHooks()).subscribe({
          next: (e) => {
            seen.push(key(e));
            if (seen.length === 1) {
              input.next(end(2));
              input.next(end(3));
              endIt(input);
            }
            if (seen.length === 3) subscription.unsubscribe();
          },
          error: (e: Error) => seen.push(`error ${e.message}`),
          complete: () => seen.push('|'),
        });
        expect(() => input.next(write)).not.toThrow();
      });
      expect(seen).toEqual(['tool.used@1', 'file.created@1', 'session.ended@2']);
      expect(unhandled).toEqual([]);
    },
  );

  it('a clock failure on the very first push errors with nothing emitted; the next subscription works', () => {
    const clock: SchedulerLike = {
      now: () => Number.NaN,
      schedule: asyncScheduler.schedule.bind(asyncScheduler),
    };
    const input = new Subject<HookOutput>();
    const got: string[] = [];
    input.pipe(bridgeHooks({ scheduler: clock })).subscribe({
      next: (e) => got.push(e.type),
      error: (e: Error) => got.push(e.name),
    });
    input.next({ hook: 'SessionEnd', output: { session_id: SESSION } });
    expect(got).toEqual(['InvalidEventError']);
    expect(input.observed).toBe(false);
  });

  it('a consumer that throws and then unsubscribes itself gets nothing more', () => {
    const input = new Subject<HookOutput>();
    const consumer = new ThrowingConsumer<Event>((e) => {
      if (e.type !== 'tool.used') return false;
      input.next(end(2));
      consumer.unsubscribe();
      return true;
    }, key);
    input.pipe(bridgeHooks()).subscribe(consumer);
    expect(() => input.next(write)).not.toThrow();
    expect(consumer.got.map((g) => (typeof g === 'string' ? g : key(g)))).toEqual(['tool.used@1']);
    expect(input.observed).toBe(false);
  });
});
