import { firstValueFrom, from, lastValueFrom, Observable, Subject, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Event, persist, StoreError } from '../../src/index.js';
import { collect, ev, type TempStore, tempStore } from '../helpers/store.js';

let t: TempStore;
beforeEach(async () => {
  t = await tempStore();
});
afterEach(async () => {
  await t.cleanup();
});

/** Emits `events` in bursts of `burst`, one burst per macrotask, like a live hook source. */
function bursts(events: Event[], burst: number): Observable<Event> {
  return new Observable<Event>((subscriber) => {
    let at = 0;
    let timer: NodeJS.Timeout | undefined;
    const step = () => {
      for (const end = Math.min(at + burst, events.length); at < end; at++) subscriber.next(events[at]!);
      if (at < events.length) timer = setTimeout(step, 0);
      else subscriber.complete();
    };
    timer = setTimeout(step, 0);
    return () => clearTimeout(timer);
  });
}

describe('persist on a real store', () => {
  it('emits every event, in order, only after it is written', async () => {
    const events = Array.from({ length: 3000 }, (_, i) =>
      ev(i % 3 === 0 ? 'file.modified' : 'tool.used', i, `s${i % 4}`),
    );
    const emitted: Event[] = [];
    await new Promise<void>((resolve, reject) => {
      bursts(events, 97)
        .pipe(persist(t.store, { maxBatch: 250 }))
        .subscribe({
          next: (event) => {
            // Acknowledged means written: the store has written at least as many events as were emitted.
            emitted.push(event);
            expect(t.store.stats().eventsWritten).toBeGreaterThanOrEqual(emitted.length);
          },
          error: reject,
          complete: resolve,
        });
    });
    expect(emitted).toEqual(events);
    for (let s = 0; s < 4; s++) {
      expect(await collect(t.store.query(`s${s}`))).toEqual(events.filter((e) => e.sessionId === `s${s}`));
    }
    // Group commit: far fewer writes than events.
    expect(t.store.stats().writes).toBeLessThan(events.length / 50);
  });

  it('handles a large synchronous source', async () => {
    const events = Array.from({ length: 20_000 }, (_, i) => ev('tool.used', i));
    const out = await lastValueFrom(from(events).pipe(persist(t.store, { maxPending: Infinity }), toArray()));
    expect(out).toEqual(events);
    expect((await t.store.session('s1'))?.eventCount).toBe(20_000);
  });

  it('on a failed write, errors with the unwritten events: acknowledged + unwritten = everything, nothing twice', async () => {
    const events = Array.from({ length: 2000 }, (_, i) => ev('tool.used', i));
    const subject = new Subject<Event>();
    const acked: Event[] = [];
    const done = firstValueFrom(
      new Observable<StoreError>((subscriber) => {
        subject.pipe(persist(t.store, { maxBatch: 100 })).subscribe({
          next: (event) => acked.push(event),
          error: (error: StoreError) => subscriber.next(error),
          complete: () => subscriber.error(new Error('completed without error')),
        });
      }),
    );
    for (const [i, event] of events.entries()) {
      subject.next(event);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 0));
      // Close the store under the running pipeline.
      if (i === 1000) void t.store.close();
    }
    const error = await done;
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.events.length).toBeGreaterThan(0);
    const store = await t.reopen();
    const stored = await collect(store.query('s1'));
    expect(stored).toEqual(acked);
    // What was received = acknowledged, then unwritten, in order.
    expect([...acked, ...error.events]).toEqual(events.slice(0, acked.length + error.events.length));
  });

  it('rejects an invalid event with STORE_INVALID_EVENT after writing the ones before it', async () => {
    const good = [ev('a', 1), ev('b', 2)];
    const bad = { ...ev('c', 3), priority: 9 } as unknown as Event;
    const error = await lastValueFrom(from([...good, bad, ev('d', 4)]).pipe(persist(t.store))).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe('STORE_INVALID_EVENT');
    expect(error.events).toEqual([bad]);
    expect(await collect(t.store.query('s1'))).toEqual(good);
  });
});
