/**
 * Complete, error and unsubscribe through composed operators: a source error is forwarded only after
 * BOTH buffering operators have flushed (temporalAggregate's windows into sessionWindows, whose window
 * then holds them); an unsubscribe leaves no timer of any operator behind; and persist at the head, on a
 * real store, writes every event before the error reaches the windows, which flush them.
 */
import { concat, from, lastValueFrom, pipe, Subject, throwError, toArray, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AggregatedData,
  adaptiveBatch,
  correlate,
  createEvent,
  type Event,
  isAggregated,
  isSessionWindow,
  Priority,
  pattern,
  persist,
  replay,
  type SessionWindowData,
  sessionWindows,
  temporalAggregate,
} from '../../src/index.js';
import { type TempStore, tempStore } from '../helpers/store.js';
import { countingScheduler } from '../helpers/windows.js';

/** The input ids in session windows, through their aggregates. */
function idsIn(outputs: readonly Event[]): string[] {
  return outputs.flatMap((w) =>
    isSessionWindow(w)
      ? (w.data as SessionWindowData).events!.flatMap((e) =>
          isAggregated(e) ? (e.data as AggregatedData).events!.map((x) => x.id) : [e.id],
        )
      : [w.id],
  );
}

/** A session window without the fresh ids of the window and of the aggregates in it. */
function withoutIds(w: Event): unknown {
  const data = w.data as SessionWindowData;
  return {
    ...w,
    id: undefined,
    data: { ...data, events: data.events?.map((e) => (isAggregated(e) ? { ...e, id: undefined } : e)) },
  };
}

const at = (type: string, t: number, n: number, priority: Priority = Priority.NORMAL) =>
  createEvent({ type, timestamp: t, sessionId: 's', priority, context: { n }, data: { tool_name: 'Bash' } });

describe('composition: complete, error and unsubscribe through the chain', () => {
  it('flushes temporalAggregate, then sessionWindows with the aggregate in it, then errors', () => {
    const a = at('tool.used', 1, 1, Priority.HIGH);
    const b = at('tool.used', 3, 2);
    new TestScheduler((x, y) => expect(x).toEqual(y)).run(({ cold, expectObservable }) => {
      const out = cold('-a-b-#', { a, b }, new Error('source')).pipe(
        temporalAggregate({ windows: { 'tool.used': 10 } }),
        sessionWindows({ gapMs: 5, includeEvents: true }),
      );
      const window = expect.objectContaining({
        type: 'session.window',
        sessionId: 's',
        timestamp: 3,
        priority: Priority.HIGH,
        context: { n: 2 },
        data: expect.objectContaining({
          event_count: 1,
          types: { 'tool.used.aggregated': 1 },
          events: [
            expect.objectContaining({
              type: 'tool.used.aggregated',
              sessionId: 's',
              timestamp: 3,
              priority: Priority.HIGH,
              context: { n: 2 },
              data: expect.objectContaining({ event_count: 2, events: [a, b] }),
            }),
          ],
        }),
      });
      expectObservable(out).toBe('-----(w#)', { w: window }, new Error('source'));
    });
  });

  it('leaves no timer of any operator behind when unsubscribed, and reads nothing after', () => {
    const clock = new VirtualTimeScheduler(undefined, 1_000_000);
    const { scheduler, fired } = countingScheduler(clock);
    const input = new Subject<Event>();
    const out: Event[][] = [];
    const subscription = input
      .pipe(
        temporalAggregate({ windows: { 'tool.used': 10 }, scheduler }),
        correlate<Event>(undefined, { liveClock: true, scheduler }),
        pattern<Event>([(e) => e.type === 'git.commit', (e) => e.type === 'test.run'], {
          within: 50,
          liveClock: true,
          scheduler,
        }),
        sessionWindows({ gapMs: 20, idleFlushMs: 0, scheduler }),
        adaptiveBatch<Event>({ maxSize: 10, timeoutMs: 30, minSize: 1, minTimeoutMs: 1, scheduler }),
      )
      .subscribe((batch) => out.push(batch));
    // At 40 every operator holds something with a timer: temporalAggregate nothing (its tool.used window
    // closed at 11), correlate the session (its live clock), pattern the commit (due at 52), sessionWindows
    // nothing (its window closed at 22), adaptiveBatch that window (due at 52).
    clock.schedule(() => input.next(at('tool.used', 1, 1)), 1);
    clock.schedule(() => input.next(at('git.commit', 2, 2)), 2);
    clock.schedule(() => subscription.unsubscribe(), 40);
    clock.flush();
    const firedAtUnsubscribe = fired();
    expect(input.observed).toBe(false);
    clock.schedule(() => input.next(at('tool.used', 100, 3)), 100);
    clock.flush();
    expect(fired()).toBe(firedAtUnsubscribe);
    expect(out).toEqual([]);
  });

  describe('persist at the head, on a real store', () => {
    let temp: TempStore | undefined;
    afterEach(async () => {
      await temp?.cleanup();
      temp = undefined;
    });

    it('writes every event, then the windows flush them, then the error; a replay gives the same windows', async () => {
      temp = await tempStore();
      const events = [
        at('tool.used', 1_000, 1),
        at('file.modified', 1_500, 2),
        at('tool.used', 2_000, 3, Priority.CRITICAL),
        at('git.commit', 2_500, 4),
        at('tool.used', 30_000, 5),
      ];
      const failure = new Error('source');
      const chain = () =>
        pipe(
          temporalAggregate({ idleFlushMs: Number.POSITIVE_INFINITY }),
          sessionWindows({ gapMs: 60_000, includeEvents: true, idleFlushMs: Number.POSITIVE_INFINITY }),
        );
      const live: Event[] = [];
      const error = await new Promise<unknown>((resolve) => {
        concat(
          from(events),
          throwError(() => failure),
        )
          .pipe(persist(temp!.store, { maxBatch: 2 }), chain())
          .subscribe({ next: (e) => live.push(e), error: resolve, complete: () => resolve('completed') });
      });
      expect(error).toBe(failure);
      expect(idsIn(live).sort()).toEqual(events.map((e) => e.id).sort());
      const stored = await lastValueFrom(replay(temp.store, 's').pipe(toArray()));
      expect(stored.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
      // Replayed (to its end, no error), the same windows: the error lost none of them.
      const replayed = await lastValueFrom(replay(temp.store, 's').pipe(chain(), toArray()));
      expect(replayed.map(withoutIds)).toEqual(live.map(withoutIds));
    });
  });
});
