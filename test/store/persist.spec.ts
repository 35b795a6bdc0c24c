import fc from 'fast-check';
import {
  config,
  firstValueFrom,
  from,
  lastValueFrom,
  Observable,
  queueScheduler,
  Subject,
  type Subscription,
  tap,
  toArray,
} from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigError,
  createEvent,
  type Event,
  type PersistOptions,
  Priority,
  persist,
  type SessionInfo,
  type SessionStore,
  StoreError,
} from '../../src/index.js';
import { collect, ev, type TempStore, tempStore } from '../helpers/store.js';

/** Polls until `predicate` holds; the deadline only turns a hang into a failure, it is no threshold. */
async function waitFor(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

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

/**
 * Runs `events` (one synchronous burst) through `persist(t.store)`: what it emitted, and the
 * `STORE_INVALID_EVENT` its stream ended with.
 */
async function persistInvalid(events: Event[]): Promise<{ emitted: Event[]; error: StoreError }> {
  const emitted: Event[] = [];
  const error = await lastValueFrom(
    from(events).pipe(
      persist(t.store),
      tap((event) => emitted.push(event)),
    ),
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StoreError);
  expect((error as StoreError).code).toBe('STORE_INVALID_EVENT');
  return { emitted, error: error as StoreError };
}

describe('persist on a real store', () => {
  it('emits every event, in order, only after it is written', async () => {
    const events = Array.from({ length: 3000 }, (_, i) =>
      ev(i % 3 === 0 ? 'file.modified' : 'tool.used', i, `s${i % 4}`),
    );
    const emitted: Event[] = [];
    // Acknowledged means written: at each emission, the store has written at least as many events as
    // were emitted. Checked after the run (an expect in `next` would surface as an unhandled error).
    const ahead: Array<[emitted: number, written: number]> = [];
    await new Promise<void>((resolve, reject) => {
      bursts(events, 97)
        .pipe(persist(t.store, { maxBatch: 250 }))
        .subscribe({
          next: (event) => {
            emitted.push(event);
            const written = t.store.stats().eventsWritten;
            if (written < emitted.length) ahead.push([emitted.length, written]);
          },
          error: reject,
          complete: resolve,
        });
    });
    expect(ahead).toEqual([]);
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

  it('stops a synchronous source at maxPending: every event it handed over is written and emitted', async () => {
    const events = Array.from({ length: 300 }, (_, i) => ev(`e${i}`, i));
    let pulled = 0;
    const emitted: Event[] = [];
    const error = await new Promise<unknown>((resolve) => {
      from(events)
        .pipe(
          tap(() => pulled++),
          persist(t.store, { maxBatch: 100, maxPending: 100 }),
        )
        .subscribe({ next: (e) => emitted.push(e), error: resolve, complete: () => resolve(undefined) });
    });
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('BUFFER_OVERFLOW');
    // The source was stopped when it overflowed (before the fix it pushed all 300, and what came after
    // the overflow was neither written, emitted nor in the error).
    expect(pulled).toBeLessThan(events.length);
    expect(emitted).toEqual(events.slice(0, pulled));
    expect(await collect(t.store.query('s1'))).toEqual(events.slice(0, pulled));
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

  it('rejects, like append, an event whose data would not read back, after writing the ones before it', async () => {
    const cases = [
      new Date(0) as unknown as Record<string, unknown>,
      new Map([['k', 1]]) as unknown as Record<string, unknown>,
      { toJSON: () => 'x' },
    ];
    for (const [i, data] of cases.entries()) {
      const session = `p${i}`;
      const good = [ev('a', 1, session), ev('b', 2, session)];
      const bad = { ...ev('c', 3, session), data };
      const { emitted, error } = await persistInvalid([...good, bad, ev('d', 4, session)]);
      expect(error.events).toEqual([bad]);
      expect(error.issues[0]?.path).toEqual(['data']);
      // Emitted ("on disk") is exactly what reads back: the events before it.
      expect(emitted).toEqual(good);
      expect(await collect(t.store.query(session))).toEqual(good);
      expect((await t.store.session(session))?.eventCount).toBe(2);
    }
  });
  it('refuses itself (the source stopped, no write refused) an event whose context would not read back or whose toJSON throws', async () => {
    const boom = () => {
      throw new Error('boom');
    };
    const cases: Array<[Partial<Event>, string, RegExp]> = [
      [{ context: { toJSON: () => null } }, 'context', /toJSON\(\) does not return an object/],
      [{ data: { toJSON: boom } }, 'data', /toJSON\(\) or its serialization throws: .*boom/],
      [{ context: { toJSON: boom } }, 'context', /toJSON\(\) or its serialization throws: .*boom/],
    ];
    for (const [i, [override, field, message]] of cases.entries()) {
      const session = `c${i}`;
      // Events with a context that reads back are taken as any other.
      const good = [1, 2].map((n) => ({
        ...ev('a', n, session),
        context: { cwd: '/', toJSON: () => ({ n }) },
      }));
      const bad = { ...ev('c', 3, session), ...override };
      const { emitted, error } = await persistInvalid([...good, bad, ev('d', 4, session)]);
      // Found by persist: only that event, no store error as its cause.
      expect(error.events).toEqual([bad]);
      expect(error.cause).toBeUndefined();
      expect(error.issues).toEqual([
        { code: 'custom', path: [field], message: expect.stringMatching(message) },
      ]);
      expect(emitted).toEqual(good);
      expect((await collect(t.store.query(session))).map((e) => e.context)).toEqual([{ n: 1 }, { n: 2 }]);
    }
  });

  it('an event JSON cannot serialize (found by the write): writes the ones before it, errors with it and those after', async () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = { deep: cycle };
    for (const [i, data] of [{ n: 1n }, { a: cycle }].entries()) {
      const session = `j${i}`;
      const good = [ev('a', 1, session), ev('b', 2, session)];
      // It passes persist's own check: only JSON.stringify of the whole batch finds it.
      const bad = ev('c', 3, session, data as Record<string, unknown>);
      const after = [ev('d', 4, session), ev('e', 5, session)];
      // One synchronous burst: a, b, c, d and e share one batch, which the store refuses whole.
      const { emitted, error } = await persistInvalid([...good, bad, ...after]);
      // Every event received is either emitted (and stored) or in error.events, in order: the invalid one first.
      expect(error.events).toEqual([bad, ...after]);
      expect(error.issues[0]?.path).toEqual(['data']);
      expect((error.cause as StoreError).code).toBe('STORE_INVALID_EVENT');
      expect(emitted).toEqual(good);
      expect(await collect(t.store.query(session))).toEqual(good);
    }
  });

  it('an unserializable CRITICAL event: what came before it is written, and what came after it is not unless already being written', async () => {
    const session = 'jc';
    const normal = (type: string, at: number) => ev(type, at, session);
    const critical = (type: string, at: number, data: Record<string, unknown> = {}) =>
      ({ ...ev(type, at, session, data), priority: Priority.CRITICAL }) as Event;
    const a = normal('a', 1);
    const B = critical('B', 2);
    const bad = critical('C', 3, { n: 1n });
    const d = normal('d', 4);
    const E = critical('E', 5);
    const { emitted, error } = await persistInvalid([a, B, bad, d, E]);
    // d was received after the invalid event, but its NORMAL write (with a) was in flight when the
    // CRITICAL write found it: it is written. E, waiting in the lane, is not.
    expect(error.events).toEqual([bad, E]);
    expect(new Set(emitted)).toEqual(new Set([a, B, d]));
    expect(emitted).toHaveLength(3);
    expect(new Set(await collect(t.store.query(session)))).toEqual(new Set([a, B, d]));
  });
});

describe('persist options', () => {
  it("refuses a maxDelayMs beyond setTimeout's limit (Node would fire it after 1 ms), accepts the limit", () => {
    for (const maxDelayMs of [2_147_483_648, 1e12, Number.POSITIVE_INFINITY, Number.NaN, -1]) {
      expect(() => persist(t.store, { maxDelayMs }), String(maxDelayMs)).toThrow(ConfigError);
    }
    expect(() => persist(t.store, { maxDelayMs: 2_147_483_648 })).toThrow(
      'persist: maxDelayMs must be a number of ms ≥ 0 up to 2147483647, got 2147483648',
    );
    expect(() => persist(t.store, { maxDelayMs: 2_147_483_647 })).not.toThrow();
    expect(() => persist(t.store, { maxDelayMs: 0 })).not.toThrow();
  });

  it('keeps writing on a scheduler that runs its timer at once (queueScheduler): events that came during a write too', async () => {
    // queueScheduler runs a zero-delay task inside schedule() when none of its tasks is running.
    const input = new Subject<Event>();
    const emitted: Event[] = [];
    const subscription = input
      .pipe(persist(t.store, { scheduler: queueScheduler }))
      .subscribe((event) => emitted.push(event));
    const events = [ev('tool.used', 1, 'q'), ev('tool.used', 2, 'q'), ev('tool.used', 3, 'q')];
    // The first is written at once; the second comes while that write is in flight, and is written
    // after it; the third comes alone.
    input.next(events[0]!);
    input.next(events[1]!);
    await waitFor(() => emitted.length >= 2);
    input.next(events[2]!);
    await waitFor(() => emitted.length >= 3);
    subscription.unsubscribe();
    expect(emitted).toEqual(events);
    expect((await collect(t.store.entries('q'))).map((e) => e.event)).toEqual(events);
  });
});

/** Runs `events` through persist on `store` in bursts; resolves with the events in the order emitted. */
function run(store: SessionStore, events: Event[], burst: number, options: PersistOptions): Promise<Event[]> {
  const emitted: Event[] = [];
  return new Promise<Event[]>((resolve, reject) => {
    bursts(events, burst)
      .pipe(persist(store, options))
      .subscribe({
        next: (event) => {
          emitted.push(event);
          // Acknowledged means written, whichever lane it came through. Thrown here, the assertion's
          // error would go to RxJS (reported on a later task, after the test passed): the run fails with it.
          try {
            expect(store.stats().eventsWritten).toBeGreaterThanOrEqual(emitted.length);
          } catch (error) {
            reject(error);
          }
        },
        error: reject,
        complete: () => resolve(emitted),
      });
  });
}

/** A session's metadata without its wall-clock creation time. */
const comparable = ({ createdAt: _, ...info }: SessionInfo) => info;

let counter = 0;
function mixed(count: number, priorityOf: (i: number) => Priority, sessions: number, prefix = 'm'): Event[] {
  return Array.from({ length: count }, (_, i) => {
    const priority = priorityOf(i);
    return createEvent({
      id: `M${String(++counter).padStart(9, '0')}`,
      type: priority === Priority.CRITICAL ? 'workflow.failed' : i % 3 === 0 ? 'file.modified' : 'tool.used',
      timestamp: 1_000 + i,
      sessionId: `${prefix}${i % sessions}`,
      priority,
      data: { i },
    });
  });
}

/**
 * What must hold after a run: each event emitted once; each lane in source order; every event stored
 * once, each session's in the order emitted, with seqs 0..n-1; metadata that agrees with the events.
 */
async function checkRun(store: SessionStore, events: Event[], emitted: Event[]) {
  expect(emitted.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
  const critical = (e: Event) => e.priority === Priority.CRITICAL;
  expect(emitted.filter(critical)).toEqual(events.filter(critical));
  expect(emitted.filter((e) => !critical(e))).toEqual(events.filter((e) => !critical(e)));
  const sessions = [...new Set(events.map((e) => e.sessionId!))];
  for (const sessionId of sessions) {
    const entries = await collect(store.entries(sessionId));
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i));
    expect(entries.map((e) => e.event)).toEqual(emitted.filter((e) => e.sessionId === sessionId));
    const info = await store.session(sessionId);
    const counts: Record<string, number> = {};
    for (const { event } of entries) counts[event.type] = (counts[event.type] ?? 0) + 1;
    expect(info).toMatchObject({ eventCount: entries.length, nextSeq: entries.length, typeCounts: counts });
  }
}

describe('persist on a real store: the priority lane', () => {
  it('stores the same events and metadata as a run without the lane, each session in the order emitted', async () => {
    // Every 25th event CRITICAL, in the same sessions as the others.
    const events = mixed(4000, (i) => (i % 25 === 7 ? Priority.CRITICAL : Priority.NORMAL), 4);
    const emitted = await run(t.store, events, 97, { maxBatch: 250 });
    await checkRun(t.store, events, emitted);
    // CRITICAL events overtook NORMAL ones waiting in their burst.
    expect(emitted).not.toEqual(events);

    const plain = await tempStore();
    try {
      const unlaned = await run(plain.store, events, 97, { maxBatch: 250, priorityLane: false });
      expect(unlaned).toEqual(events);
      expect((await t.store.sessions()).map(comparable)).toEqual(
        (await plain.store.sessions()).map(comparable),
      );
      for (const sessionId of ['m0', 'm1', 'm2', 'm3']) {
        const laned = await collect(t.store.query(sessionId));
        const without = await collect(plain.store.query(sessionId));
        expect(laned.map((e) => e.id).sort()).toEqual(without.map((e) => e.id).sort());
        // Replayed by type, the lanes' own orders are the same.
        for (const type of ['workflow.failed', 'tool.used', 'file.modified']) {
          expect(laned.filter((e) => e.type === type)).toEqual(without.filter((e) => e.type === type));
        }
      }
      expect(await t.store.sessionContext('m1')).toEqual(await plain.store.sessionContext('m1'));
    } finally {
      await plain.cleanup();
    }
  });

  it('CRITICAL events get writes of their own, and overtake the NORMAL batch written with them', async () => {
    // A synchronous source: the NORMAL lane writes maxBatch at a time, the CRITICAL lane its own.
    const events = mixed(5000, (i) => (i % 500 === 250 ? Priority.CRITICAL : Priority.NORMAL), 2);
    const writes: Array<{ size: number; urgent: boolean }> = [];
    const writer = {
      append(batch: Event[], options?: { urgent?: boolean }) {
        writes.push({ size: batch.length, urgent: options?.urgent === true });
        return t.store.append(batch, options);
      },
    };
    const emitted = await lastValueFrom(
      from(events).pipe(persist(writer, { maxBatch: 1000, maxPending: Infinity }), toArray()),
    );
    await checkRun(t.store, events, emitted);
    // The first CRITICAL event is written at once; the other 9 arrive while it is in flight and share
    // the lane's next write.
    expect(writes.filter((w) => w.urgent).map((w) => w.size)).toEqual([1, 9]);
    expect(writes.filter((w) => !w.urgent).every((w) => w.size <= 1000)).toBe(true);
    // The first CRITICAL event (the 251st received) overtakes the NORMAL batch written with it.
    expect(emitted[0]!.priority).toBe(Priority.CRITICAL);
  });

  it('a CRITICAL event overtakes the NORMAL batch of its burst also after an earlier CRITICAL write', async () => {
    const mk = (i: number, priority: Priority) =>
      createEvent({ type: 'tool.used', timestamp: i, id: `e${i}`, sessionId: 's', priority });
    const source = new Subject<Event>();
    const emitted: string[] = [];
    let first: () => void = () => {};
    const firstEmitted = new Promise<void>((resolve) => {
      first = resolve;
    });
    const done = lastValueFrom(
      source.pipe(
        persist(t.store),
        tap((event) => {
          emitted.push(event.id);
          first();
        }),
        toArray(),
      ),
    );
    // A CRITICAL write, then the store idle again (nothing waited behind it).
    source.next(mk(0, Priority.CRITICAL));
    await firstEmitted;
    await new Promise((resolve) => setImmediate(resolve));
    // One burst: two NORMAL events, then a CRITICAL one. It is written at once, not after their batch.
    source.next(mk(1, Priority.NORMAL));
    source.next(mk(2, Priority.NORMAL));
    source.next(mk(3, Priority.CRITICAL));
    source.complete();
    await done;
    expect(emitted).toEqual(['e0', 'e3', 'e1', 'e2']);
    expect((await collect(t.store.query('s'))).map((event) => event.id)).toEqual(['e0', 'e3', 'e1', 'e2']);
  });

  it('property: with random priorities, every event is emitted exactly once and stored exactly once', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 3 }),
        async (priorities, burst, maxBatch, maxDelayMs, sessions) => {
          // Fresh sessions for each run, in the same store.
          const events = mixed(priorities.length, (i) => priorities[i]!, sessions, `p${++runs}-`);
          const emitted = await run(t.store, events, burst, { maxBatch, maxDelayMs });
          await checkRun(t.store, events, emitted);
        },
      ),
      { numRuns: 40 },
    );
  });
});

/**
 * Makes the store's next LevelDB write wait for `release()`, then fail (with `failure`). `started()`
 * resolves once that write has begun; `spy` takes further mocks and is restored by the caller.
 */
async function holdNextWriteThenFail(failure: unknown = new Error('disk error')) {
  const { AbstractChainedBatch } = await import('abstract-level');
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let begun = false;
  const spy = vi.spyOn(AbstractChainedBatch.prototype, 'write').mockImplementationOnce(async () => {
    begun = true;
    await gate;
    throw failure;
  });
  const started = async () => {
    while (!begun) await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { spy, release: () => release(), started };
}

describe('persist on a real store: writes after the subscriber left', () => {
  const saved = config.onUnhandledError;
  let unhandled: unknown[];
  beforeEach(() => {
    unhandled = [];
    config.onUnhandledError = (error) => unhandled.push(error);
  });
  afterEach(() => {
    config.onUnhandledError = saved;
  });

  /** Records each batch `store` is given (its `append` wrapped, on the instance: it is still the SessionStore). */
  function recording(store: SessionStore) {
    const batches: Event[][] = [];
    const writes: Array<Promise<unknown>> = [];
    const append = store.append.bind(store);
    store.append = (events, options) => {
      batches.push([...events] as Event[]); // persist appends Events
      const write = append(events, options);
      writes.push(write.catch(() => {}));
      return write;
    };
    /** Until no write is left to settle and the unhandled-error reports (on a later task) are in. */
    const settled = async () => {
      for (let seen = -1; seen !== writes.length; ) {
        seen = writes.length;
        await Promise.all(writes);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    };
    return { batches, settled };
  }

  const described = (error: unknown) =>
    error instanceof StoreError
      ? `${error.code}:${error.events.map((e) => e.type).join(',')}`
      : String(error);

  it('events the store refuses, left waiting at the teardown: each reported, the others written in order, in one write', async () => {
    const { batches, settled } = recording(t.store);
    // Every other event cannot be serialized: persist's own check lets it through, the store refuses it.
    const events = Array.from({ length: 40 }, (_, i) =>
      ev(`e${i}`, i, 'o2', i % 2 === 1 ? { n: BigInt(i) } : {}),
    );
    const good = events.filter((_, i) => i % 2 === 0);
    const source = new Subject<Event>();
    const subscription = source.pipe(persist(t.store, { maxBatch: 1000 })).subscribe();
    // One synchronous burst: all still wait (maxDelayMs 0 writes them on the next asap task).
    for (const event of events) source.next(event);
    subscription.unsubscribe();
    await settled();
    expect(unhandled.map(described)).toEqual(
      events.filter((_, i) => i % 2 === 1).map((e) => `STORE_INVALID_EVENT:${e.type}`),
    );
    expect(await collect(t.store.query('o2'))).toEqual(good);
    // One write of the events it takes, not one more write of all the others after each refusal (21
    // writes, 630 events handed over).
    expect(batches).toEqual([good]);
  });

  it('unsubscribe, then close, with a write in flight: the events left waiting are written too', async () => {
    const { settled } = recording(t.store);
    const [a, b] = [ev('a', 1, 'o4'), ev('b', 2, 'o4')];
    const source = new Subject<Event>();
    const subscription = source.pipe(persist(t.store, { maxBatch: 1 })).subscribe();
    source.next(a); // written at once (a full batch)
    source.next(b); // waits for it
    subscription.unsubscribe();
    await t.store.close();
    await settled();
    expect(unhandled).toEqual([]);
    expect(await collect((await t.reopen()).query('o4'))).toEqual([a, b]);
  });

  it('unsubscribe, then close: the events left waiting are written even when the store refuses one of them', async () => {
    const { settled } = recording(t.store);
    const [a, bad, c] = [ev('a', 1, 'o3'), ev('bad', 2, 'o3', { n: 1n }), ev('c', 3, 'o3')];
    const source = new Subject<Event>();
    const subscription = source.pipe(persist(t.store)).subscribe();
    for (const event of [a, bad, c]) source.next(event);
    // As docs/store.md says: unsubscribe before close().
    subscription.unsubscribe();
    await t.store.close();
    await settled();
    expect(unhandled.map(described)).toEqual(['STORE_INVALID_EVENT:bad']);
    expect(await collect((await t.reopen()).query('o3'))).toEqual([a, c]);
  });

  it('a write in flight that the store refused, when the subscriber left before hearing of it: its other events are written first, at once', async () => {
    for (const close of [false, true]) {
      const { batches, settled } = recording(t.store);
      unhandled = [];
      const session = `o5-${close}`;
      const [a, bad, c] = [ev('a', 1, session), ev('bad', 2, session, { n: 1n }), ev('c', 3, session)];
      const source = new Subject<Event>();
      const subscription = source.pipe(persist(t.store, { maxBatch: 2 })).subscribe();
      source.next(a);
      source.next(bad); // a and bad: a full batch, written at once; the store refuses it (its answer comes after a tick)
      source.next(c); // waits for it
      subscription.unsubscribe();
      if (close) await t.store.close();
      await settled();
      expect(batches.map((batch) => batch.map((e) => e.type))).toEqual([
        ['a', 'bad'],
        ['a', 'c'],
      ]);
      expect(unhandled.map(described)).toEqual(['STORE_INVALID_EVENT:bad']);
      // In the order received (replay depends on it), and before a close() that follows the unsubscribe.
      expect(await collect((close ? await t.reopen() : t.store).query(session))).toEqual([a, c]);
    }
  });

  it('the same with a CRITICAL event waiting: it keeps its place among the NORMAL ones written at the unsubscribe', async () => {
    const { batches, settled } = recording(t.store);
    const critical = (type: string, at: number): Event => ({
      ...ev(type, at, 'o7'),
      priority: Priority.CRITICAL,
    });
    const [Y, a, bad, X, c] = [
      critical('Y', 0),
      ev('a', 1, 'o7'),
      ev('bad', 2, 'o7', { n: 1n }),
      critical('X', 3),
      ev('c', 4, 'o7'),
    ];
    const source = new Subject<Event>();
    const subscription = source.pipe(persist(t.store, { maxBatch: 2 })).subscribe();
    source.next(Y); // the CRITICAL write in flight
    source.next(a);
    source.next(bad); // a full batch, written at once; the store refuses it (its answer comes after a tick)
    source.next(X); // waits for Y's write
    source.next(c);
    subscription.unsubscribe();
    await settled();
    expect(batches.map((batch) => batch.map((e) => e.type))).toEqual([['Y'], ['a', 'bad'], ['a', 'X', 'c']]);
    expect(unhandled.map(described)).toEqual(['STORE_INVALID_EVENT:bad']);
    expect(await collect(t.store.query('o7'))).toEqual([Y, a, X, c]);
  });

  it('the subscriber leaves as the write in flight completes, before persist heard of it: the events left waiting are written', async () => {
    const [a, b] = [ev('a', 1, 'o8'), ev('b', 2, 'o8')];
    const source = new Subject<Event>();
    let subscription: Subscription | undefined;
    let thrown: unknown;
    const writes: Array<Promise<unknown>> = [];
    let left: () => void = () => undefined;
    const gone = new Promise<void>((resolve) => (left = resolve));
    const append = t.store.append.bind(t.store);
    // Leaves on the first write's completion, heard before persist hears of it (a callback registered first).
    t.store.append = (events, options) => {
      const write = append(events, options);
      writes.push(write.catch(() => {}));
      if (writes.length === 1) {
        void write.then(() => {
          try {
            subscription?.unsubscribe();
          } catch (error) {
            thrown = error;
          }
          left();
        });
      }
      return write;
    };
    subscription = source.pipe(persist(t.store, { maxBatch: 1 })).subscribe();
    source.next(a); // written at once (a full batch)
    source.next(b); // waits for it
    await gone;
    await Promise.all(writes);
    await new Promise((resolve) => setTimeout(resolve, 10)); // RxJS reports on a later task
    expect(thrown).toBeUndefined();
    expect(writes).toHaveLength(2);
    expect(unhandled).toEqual([]);
    expect(await collect(t.store.query('o8'))).toEqual([a, b]);
  });

  it('a write in flight that fails (a LevelDB error) after the subscriber left: made again before the events left waiting', async () => {
    for (const [i, { close, lane }] of [
      { close: false, lane: Priority.NORMAL },
      { close: true, lane: Priority.NORMAL },
      { close: true, lane: Priority.CRITICAL },
    ].entries()) {
      const { batches, settled } = recording(t.store);
      unhandled = [];
      const session = `o7-${i}`;
      const [a, b, c] = [ev('a', 1, session), ev('b', 2, session), ev('c', 3, session)].map(
        (event) => ({ ...event, priority: lane }) as Event,
      );
      // The first LevelDB write (a's) fails, once its caller has moved on: nothing of it is written.
      const { spy, release, started } = await holdNextWriteThenFail();
      const source = new Subject<Event>();
      const subscription = source.pipe(persist(t.store, { maxBatch: 1 })).subscribe();
      source.next(a); // written at once (a full batch)
      await started();
      source.next(b); // b and c wait for a's write
      source.next(c);
      // The documented (and the CLI's) order: unsubscribe, then close.
      subscription.unsubscribe();
      const closing = close ? t.store.close() : undefined;
      release();
      await closing;
      await settled();
      spy.mockRestore();
      const store = close ? await t.reopen() : t.store;
      // In the order received (seq order is what a replay gives), each once, nothing reported.
      expect(await collect(store.query(session))).toEqual([a, b, c]);
      expect((await collect(store.entries(session))).map((entry) => entry.seq)).toEqual([0, 1, 2]);
      expect(unhandled.map(described)).toEqual([]);
      // persist handed a to the store once: the store makes it again, in its place in the queue.
      expect(batches.map((batch) => batch.map((e) => e.type))).toEqual([['a'], ['b', 'c']]);
    }
  });

  it('the same when the subscriber leaves after the store failed the write in flight, before persist heard of it', async () => {
    const { AbstractChainedBatch } = await import('abstract-level');
    const spy = vi
      .spyOn(AbstractChainedBatch.prototype, 'write')
      .mockRejectedValueOnce(new Error('disk error'));
    const { batches, settled } = recording(t.store);
    const [x, a, b, c] = [ev('x', 0, 'o8'), ev('a', 1, 'o8'), ev('b', 2, 'o8'), ev('c', 3, 'o8')];
    const source = new Subject<Event>();
    const subscription = source.pipe(persist(t.store, { maxBatch: 1 })).subscribe();
    // x and a share the store's first LevelDB write, which fails. x's caller hears of it first, and has
    // the subscriber leave then: a's failure is still on its way to persist.
    const xWrite = t.store.append([x]).catch(() => subscription.unsubscribe());
    source.next(a); // written at once (a full batch)
    source.next(b); // b and c wait for a's write
    source.next(c);
    await xWrite;
    expect(subscription.closed).toBe(true);
    await t.store.close();
    await settled();
    spy.mockRestore();
    const store = await t.reopen();
    expect(await collect(store.query('o8'))).toEqual([a, b, c]);
    expect(unhandled.map(described)).toEqual([]);
    expect(batches.map((batch) => batch.map((e) => e.type))).toEqual([['x'], ['a'], ['b', 'c']]);
  });

  it('the same when a deleteSession of its session was queued meanwhile: made again in its place, before it', async () => {
    // The store's first LevelDB write (x and a) fails, once the next jobs are queued.
    const { spy, release, started } = await holdNextWriteThenFail();
    const { settled } = recording(t.store);
    const [x, a, b, c] = [ev('x', 0, 'o11'), ev('a', 1, 'o11'), ev('b', 2, 'o11'), ev('c', 3, 'o11')];
    const source = new Subject<Event>();
    const subscription = source.pipe(persist(t.store, { maxBatch: 1 })).subscribe();
    // x's caller hears of the failure first and has the subscriber leave: a's is still on its way.
    const xWrite = t.store.append([x]).catch(() => subscription.unsubscribe());
    source.next(a); // with x, in the failing write
    await started();
    source.next(b); // b and c wait for a's write
    source.next(c);
    // Called after a's append, before b's and c's (appended at the teardown): y's write is taken next
    // (the queue stops at the delete), then the deletion.
    const y = t.store.append([ev('y', 4, 'o11-other')]);
    const deleted = t.store.deleteSession('o11');
    release();
    await xWrite;
    expect(subscription.closed).toBe(true);
    await y;
    await deleted;
    await t.store.close();
    await settled();
    spy.mockRestore();
    expect(unhandled.map(described)).toEqual([]);
    // a, made again in its place (called before the deletion), is deleted with the session; b and c,
    // appended after it, start the session again. Queued behind the deletion, a outlived it: [a, b, c].
    expect(await collect((await t.reopen()).query('o11'))).toEqual([b, c]);
  });

  it('a write in flight made again by the store that fails again: reported with its events, as the others', async () => {
    // a's write fails once its caller has moved on; the next one (a made again, with b and c) fails too.
    const { spy, release, started } = await holdNextWriteThenFail();
    spy.mockRejectedValueOnce(new Error('disk error again'));
    const { settled } = recording(t.store);
    const [a, b, c] = [ev('a', 1, 'o9'), ev('b', 2, 'o9'), ev('c', 3, 'o9')];
    const source = new Subject<Event>();
    const subscription = source.pipe(persist(t.store, { maxBatch: 1 })).subscribe();
    source.next(a);
    await started();
    source.next(b);
    source.next(c);
    subscription.unsubscribe();
    const closing = t.store.close();
    release();
    await closing;
    await settled();
    spy.mockRestore();
    expect(unhandled.map(described)).toEqual(['STORE_WRITE_FAILED:a', 'STORE_WRITE_FAILED:b,c']);
    expect((unhandled[0] as StoreError).events).toEqual([a]);
    expect(await collect((await t.reopen()).query('o9'))).toEqual([]);
  });

  it('a write in flight that LevelDB itself fails (a full disk) after the subscriber left: made again and refused, reported with its events, as the events left waiting', async () => {
    // LevelDB's error for a log write that failed: the store takes no more writes (docs/store.md).
    const failure = Object.assign(new Error('IO error: 000003.log: No space left on device'), {
      code: 'LEVEL_IO_ERROR',
    });
    const { spy, release, started } = await holdNextWriteThenFail(failure);
    const { batches, settled } = recording(t.store);
    const [a, b, c] = [ev('a', 1, 'o12'), ev('b', 2, 'o12'), ev('c', 3, 'o12')];
    const source = new Subject<Event>();
    const subscription = source.pipe(persist(t.store, { maxBatch: 1 })).subscribe();
    source.next(a);
    await started();
    source.next(b);
    source.next(c);
    subscription.unsubscribe();
    release();
    await settled();
    spy.mockRestore();
    // Each event in one error, caused by LevelDB's; none written, though LevelDB would now take them.
    expect(unhandled.map(described)).toEqual(['STORE_WRITE_FAILED:a', 'STORE_WRITE_FAILED:b,c']);
    // a's write is made again, and refused, as b's and c's: the store's refusals, caused by LevelDB's error.
    for (const error of unhandled) {
      const refusal = (error as StoreError).cause as StoreError;
      expect(refusal.message).toMatch(/^write refused: an earlier LevelDB write of this store failed at /);
      expect(refusal.cause).toBe(failure);
    }
    expect(batches.map((batch) => batch.map((e) => e.type))).toEqual([['a'], ['b', 'c']]);
    expect(await collect((await t.reopen()).query('o12'))).toEqual([]);
  });

  it('the same for a CRITICAL write in flight, when a close() follows the unsubscribe', async () => {
    const { batches, settled } = recording(t.store);
    const critical = (type: string, at: number, data: Record<string, unknown> = {}) =>
      ({ ...ev(type, at, 'o6', data), priority: Priority.CRITICAL }) as Event;
    const [A, B, bad, D] = [
      critical('A', 1),
      critical('B', 2),
      critical('bad', 3, { n: 1n }),
      critical('D', 4),
    ];
    const source = new Subject<Event>();
    let closing: Promise<void> | undefined;
    const subscription = source.pipe(persist(t.store)).subscribe((event) => {
      if (event !== A) return;
      // B and bad waited for A's write; the lane writes them next, after this emission. The subscriber
      // leaves, and the store is closed, before the store's refusal of that write comes back.
      queueMicrotask(() => {
        subscription.unsubscribe();
        closing = t.store.close();
      });
    });
    source.next(A); // written at once
    source.next(B);
    source.next(bad);
    source.next(D);
    await settled();
    await closing;
    expect(batches.map((batch) => batch.map((e) => e.type))).toEqual([['A'], ['B', 'bad', 'D'], ['B', 'D']]);
    expect(unhandled.map(described)).toEqual(['STORE_INVALID_EVENT:bad']);
    expect(await collect((await t.reopen()).query('o6'))).toEqual([A, B, D]);
  });
});
