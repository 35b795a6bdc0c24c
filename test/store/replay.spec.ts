import { firstValueFrom, lastValueFrom, type Observable, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createFlowGate,
  type Event,
  hybridProcess,
  ProcessingMode,
  pullFrom,
  replay,
  type StoredEvent,
  StoreError,
  tail,
} from '../../src/index.js';
import { storeInternals } from '../../src/store/SessionStore.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { collect, ev, type TempStore, tempStore } from '../helpers/store.js';

let t: TempStore;
beforeEach(async () => {
  t = await tempStore();
});
afterEach(async () => {
  await t.cleanup();
});

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Resolves once `received` holds `count` entries. */
async function until(received: unknown[], count: number): Promise<void> {
  for (let i = 0; received.length < count; i++) {
    if (i > 20_000) throw new Error(`only ${received.length} of ${count} received`);
    await tick();
  }
}

/** Counts the `next` and `return` calls made on the iterators of `store.query` from now on. */
function countQueryCalls(store: TempStore['store']): { nexts: number; returned: number } {
  const query = store.query.bind(store);
  const calls = { nexts: 0, returned: 0 };
  store.query = (sessionId, options) => {
    const real = query(sessionId, options)[Symbol.asyncIterator]();
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          calls.nexts++;
          return real.next();
        },
        return: (value?: unknown) => {
          calls.returned++;
          return real.return!(value);
        },
      }),
    } as ReturnType<typeof query>;
  };
  return calls;
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; release: () => void } {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { opened, release };
}

/**
 * Makes the first catch-up read of `store` end only when the returned `release` is called; counts the reads.
 * `readAll` resolves once that read has given all it had (its LevelDB iteration over), held at the gate.
 */
function gateFirstRead(store: TempStore['store']): {
  release: () => void;
  reads: () => number;
  readAll: Promise<void>;
} {
  const { opened, release } = gate();
  const held = gate();
  const entries = store.entries.bind(store);
  let reads = 0;
  store.entries = (sessionId, options) => {
    const real = entries(sessionId, options);
    if (++reads > 1) return real;
    return {
      async *[Symbol.asyncIterator]() {
        yield* real;
        held.release();
        await opened;
      },
    };
  };
  return { release, reads: () => reads, readAll: held.opened };
}

/** Subscribes to a tail (or a replay): what it emitted so far, and how it ended ('complete' or its error) once it has. */
function watch<T>(tail$: Observable<T>): { received: T[]; outcome: unknown } {
  const watched: { received: T[]; outcome: unknown } = { received: [], outcome: undefined };
  tail$.subscribe({
    next: (entry) => watched.received.push(entry),
    error: (error) => {
      watched.outcome = error;
    },
    complete: () => {
      watched.outcome = 'complete';
    },
  });
  return watched;
}

describe('replay', () => {
  it('emits the stored events in seq order and completes', async () => {
    const events = [ev('a', 3), ev('b', 1), ev('a', 2)];
    await t.store.append(events);
    expect(await lastValueFrom(replay(t.store, 's1').pipe(toArray()))).toEqual(events);
    expect(await lastValueFrom(replay(t.store, 's1', { types: ['a'] }).pipe(toArray()))).toEqual([
      events[2],
      events[0],
    ]);
    expect(await lastValueFrom(replay(t.store, 'none').pipe(toArray()))).toEqual([]);
  });

  it('runs the query afresh for each subscription and stops reading on unsubscribe', async () => {
    await t.store.append(Array.from({ length: 1000 }, (_, i) => ev('a', i)));
    const replay$ = replay(t.store, 's1');
    const before = t.store.stats().eventsRead;
    expect((await lastValueFrom(replay$.pipe(take(3), toArray()))).map((e) => e.timestamp)).toEqual([
      0, 1, 2,
    ]);
    expect(t.store.stats().eventsRead - before).toBeLessThanOrEqual(256);
    await t.store.append([ev('a', 1000)]);
    expect(await lastValueFrom(replay$.pipe(toArray()))).toHaveLength(1001);
  });

  it("returns the query's iterator on unsubscribe (its finally closes the LevelDB iterators), and reads no further", async () => {
    await t.store.append(Array.from({ length: 1000 }, (_, i) => ev('a', i)));
    const store = t.store;
    const calls = countQueryCalls(store);
    expect(await lastValueFrom(replay(store, 's1').pipe(take(3), toArray()))).toHaveLength(3);
    expect(calls.returned).toBe(1);
    for (let i = 0; i < 10; i++) await tick();
    expect(calls.nexts).toBeLessThanOrEqual(4);
  });

  it('unsubscribed while its first read is pending, asks the query for nothing more and returns its iterator', async () => {
    await t.store.append(Array.from({ length: 10 }, (_, i) => ev('a', i)));
    const store = t.store;
    const calls = countQueryCalls(store);
    const received: Event[] = [];
    replay(store, 's1')
      .subscribe((event) => received.push(event))
      .unsubscribe();
    for (let i = 0; i < 10; i++) await tick();
    expect({ ...calls, received }).toEqual({ nexts: 1, returned: 1, received: [] });
  });

  it('pushes as fast as it reads: a slower hybridProcess lane overflows; with its gate, none does', async () => {
    // docs/store.md#replay: without a gate replay() is a push source; live the same events, spread over
    // time, never queue. With the gate hybridProcess holds, the read waits while the lane is full.
    await t.store.append(Array.from({ length: 400 }, (_, i) => ev('tool.used', i * 1000)));
    const options = {
      immediate: (e: Event) => new Promise<string>((resolve) => setTimeout(() => resolve(e.id), 0)),
      batch: (events: Event[]) => events.map((e) => e.id),
      select: () => ProcessingMode.IMMEDIATE,
      concurrency: 1,
      maxQueued: 20,
    };
    const kinds = (outcomes: ReadonlyArray<{ kind: string; error?: unknown }>) =>
      new Set(outcomes.map((o) => (o.kind === 'error' ? (o.error as { code: string }).code : o.kind)));
    const pushed = await lastValueFrom(replay(t.store, 's1').pipe(hybridProcess(options), toArray()));
    expect(pushed).toHaveLength(400);
    expect(kinds(pushed)).toEqual(new Set(['result', 'BUFFER_OVERFLOW']));
    const gate = createFlowGate();
    const gated = await lastValueFrom(
      replay(t.store, 's1', { gate }).pipe(hybridProcess({ ...options, gate }), toArray()),
    );
    expect(gated.map((o) => o.kind === 'result' && o.result)).toEqual(
      (await collect(t.store.query('s1'))).map((e) => e.id),
    );
    // pullFrom over the query, for other iterables, does the same.
    const pulled = await lastValueFrom(
      pullFrom(t.store.query('s1'), gate).pipe(hybridProcess({ ...options, gate }), toArray()),
    );
    expect(pulled.map((o) => o.kind === 'result' && o.result)).toEqual(
      gated.map((o) => o.kind === 'result' && o.result),
    );
  });

  describe('with a gate', () => {
    it('gives what the query gives, its options beside the gate', async () => {
      const events = [ev('a', 3), ev('b', 1), ev('a', 2), ev('a', 5)];
      await t.store.append(events);
      const gate = createFlowGate();
      const read = (query: Parameters<typeof replay>[2]) =>
        lastValueFrom(replay(t.store, 's1', query).pipe(toArray()));
      expect(await read({ gate })).toEqual(events);
      expect(await read({ gate, types: ['a'], reverse: true, limit: 2 })).toEqual([events[3], events[0]]);
      expect(await read({ gate, fromSeq: 3 })).toEqual([events[3]]);
      // An explicit undefined gate is no gate.
      expect(await read({ gate: undefined, limit: 1 })).toEqual([events[0]]);
    });

    it('reads nothing while the gate is held, and the rest once it opens', async () => {
      await t.store.append(Array.from({ length: 600 }, (_, i) => ev('a', i)));
      const gate = createFlowGate();
      const owner = {};
      const received: Event[] = [];
      let completed = false;
      const before = t.store.stats().eventsRead;
      gate.hold(owner);
      replay(t.store, 's1', { gate }).subscribe({
        next: (event) => {
          received.push(event);
          // Held again after the 300th: the read stops there.
          if (received.length === 300) gate.hold(owner);
        },
        complete: () => {
          completed = true;
        },
      });
      for (let i = 0; i < 10; i++) await tick();
      expect({ received: received.length, read: t.store.stats().eventsRead - before }).toEqual({
        received: 0,
        read: 0,
      });
      gate.release(owner);
      await until(received, 300);
      for (let i = 0; i < 10; i++) await tick();
      expect(received).toHaveLength(300);
      expect(completed).toBe(false);
      // What LevelDB read: the 300 and one read-ahead chunk (256 records) at most.
      expect(t.store.stats().eventsRead - before).toBeLessThanOrEqual(512);
      gate.release(owner);
      await until(received, 600);
      for (let i = 0; !completed && i < 100; i++) await tick();
      expect(completed).toBe(true);
      expect(received.map((e) => e.timestamp)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    });

    it("unsubscribed, returns the query's iterator and reads no further, also while it waits at a held gate", async () => {
      await t.store.append(Array.from({ length: 1000 }, (_, i) => ev('a', i)));
      const store = t.store;
      const calls = countQueryCalls(store);
      const gate = createFlowGate();
      expect(await lastValueFrom(replay(store, 's1', { gate }).pipe(take(3), toArray()))).toHaveLength(3);
      for (let i = 0; i < 10; i++) await tick();
      expect(calls).toEqual({ nexts: 3, returned: 1 });
      // Waiting at a held gate: unsubscribed, it asks the query for nothing, not even once the gate opens.
      const owner = {};
      gate.hold(owner);
      const received: Event[] = [];
      replay(store, 's1', { gate })
        .subscribe((event) => received.push(event))
        .unsubscribe();
      gate.release(owner);
      for (let i = 0; i < 10; i++) await tick();
      expect({ ...calls, received }).toEqual({ nexts: 3, returned: 2, received: [] });
    });

    it("ends with the error of the gate's whenOpen, rejected or thrown, having read nothing past it", async () => {
      await t.store.append([ev('a', 1), ev('a', 2)]);
      const failure = new Error('the gate failed');
      // Held from the start: the replay waits for it before its first read, and that wait fails.
      const failing = (fail: () => Promise<void>) => ({
        isOpen: false,
        hold: () => {},
        release: () => {},
        whenOpen: fail,
      });
      const calls = countQueryCalls(t.store);
      for (const gate of [
        failing(() => Promise.reject(failure)),
        failing(() => {
          throw failure;
        }),
      ]) {
        const watched = watch(replay(t.store, 's1', { gate }));
        for (let i = 0; watched.outcome === undefined && i < 100; i++) await tick();
        expect(watched).toEqual({ received: [], outcome: failure });
      }
      expect(calls.nexts).toBe(0);
    });

    it('ends with STORE_NOT_OPEN when the store closes while it waits at a held gate', async () => {
      await t.store.append(Array.from({ length: 1000 }, (_, i) => ev('a', i)));
      const gate = createFlowGate();
      const owner = {};
      const received: Event[] = [];
      let outcome: unknown;
      replay(t.store, 's1', { gate }).subscribe({
        next: (event) => {
          received.push(event);
          if (received.length === 3) gate.hold(owner);
        },
        error: (error) => {
          outcome = error;
        },
        complete: () => {
          outcome = 'complete';
        },
      });
      await until(received, 3);
      await t.store.close();
      gate.release(owner);
      for (let i = 0; outcome === undefined && i < 1000; i++) await tick();
      expect(outcome).toBeInstanceOf(StoreError);
      expect(outcome).toMatchObject({ code: 'STORE_NOT_OPEN' });
      // What it emitted is the session's start, in order: what it had read before the close (one
      // read-ahead chunk), no more.
      expect(received.length).toBeLessThanOrEqual(256);
      expect(received.map((e) => e.timestamp)).toEqual(received.map((_, i) => i));
    });

    it('throws ConfigError at once for a gate that is not a FlowGate, and for a mistyped gate option', () => {
      const cases: Array<[unknown, string]> = [
        [null, 'replay: gate must be a FlowGate (createFlowGate()), got null'],
        [{}, 'replay: gate must be a FlowGate (createFlowGate()), got {}'],
        ['open', "replay: gate must be a FlowGate (createFlowGate()), got 'open'"],
        [() => {}, 'replay: gate must be a FlowGate (createFlowGate()), got'],
        [{ whenOpen: true }, 'replay: gate must be a FlowGate (createFlowGate()), got'],
        // No isOpen: the replay would wait at it for ever (it never says open), reading nothing.
        [{ whenOpen: () => Promise.resolve() }, 'replay: gate must be a FlowGate (createFlowGate()), got'],
        [
          { isOpen: 'yes', whenOpen: () => Promise.resolve() },
          'replay: gate must be a FlowGate (createFlowGate()), got',
        ],
        // A function, even with a gate's methods, as pullFrom refuses it.
        [
          Object.assign(() => {}, { isOpen: true, whenOpen: () => Promise.resolve() }),
          'replay: gate must be a FlowGate (createFlowGate()), got',
        ],
      ];
      for (const [gate, message] of cases) {
        const call = () => replay(t.store, 's1', { gate } as never);
        expect(call).toThrow(ConfigError);
        expect(call).toThrow(message);
      }
      expect(() => replay(t.store, 's1', { gat: createFlowGate() } as never)).toThrow(
        'replay: unknown option "gat" (did you mean "gate"?)',
      );
      // Options that are no object: the query's ConfigError, as before the gate (not a TypeError of `in`).
      expect(() => replay(t.store, 's1', null as never)).toThrow('query options must be an object');
      expect(() => replay(t.store, 's1', 5 as never)).toThrow('query options must be an object');
      // The query's own options are checked beside a gate, as without one.
      expect(() => replay(t.store, 's1', { gate: createFlowGate(), limit: -1 })).toThrow(
        'query option limit must be an integer ≥ 0 or Infinity, got -1',
      );
      expect(() => replay(t.store, 's1', { gate: createFlowGate(), revers: true } as never)).toThrow(
        'replay: unknown option "revers" (did you mean "reverse"?)',
      );
    });
  });

  it('throws ConfigError for bad options at once, and errors with STORE_NOT_OPEN on a closed store', async () => {
    expect(() => replay(t.store, 's1', { revers: true } as never)).toThrow(
      'replay: unknown option "revers" (did you mean "reverse"?)',
    );
    expect(() => replay(t.store, 's1', { limit: -1 })).toThrow(ConfigError);
    await t.store.close();
    await expect(lastValueFrom(replay(t.store, 's1'))).rejects.toMatchObject({ code: 'STORE_NOT_OPEN' });
  });
});

describe('tail', () => {
  it('emits the stored events, then live appends, with their seqs', async () => {
    await t.store.append([ev('a', 1), ev('b', 2)]);
    const received: StoredEvent[] = [];
    const sub = tail(t.store, 's1').subscribe((entry) => received.push(entry));
    await until(received, 2);
    const live = [ev('c', 3), ev('d', 4)];
    await t.store.append(live);
    await t.store.append([ev('x', 5, 'other')]);
    expect(received.map((e) => [e.seq, e.event.type])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
    ]);
    // Live events arrive synchronously with the write's acknowledgement.
    expect(received[2]!.event).toEqual(live[0]);
    sub.unsubscribe();
  });

  it('hands over from stored to live with no gap and no duplicate while appends run concurrently', async () => {
    for (const maxBuffer of [10_000, 7]) {
      const session = `hand-over-${maxBuffer}`;
      const stored = Array.from({ length: 3000 }, (_, i) => ev('tool.used', i, session));
      await t.store.append(stored);
      const received: StoredEvent[] = [];
      const sub = tail(t.store, session, { maxBuffer }).subscribe((entry) => received.push(entry));
      // Appends start at once, so many land while the tail is still reading the stored events.
      const live: Event[] = [];
      const appends: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++) {
        const batch = Array.from({ length: 1 + (i % 5) }, (_, j) =>
          ev('file.modified', 10_000 + i * 10 + j, session),
        );
        live.push(...batch);
        appends.push(t.store.append(batch));
        if (i % 20 === 0) await tick();
      }
      await Promise.all(appends);
      await until(received, stored.length + live.length);
      await tick();
      sub.unsubscribe();
      expect(received.map((e) => e.seq)).toEqual(received.map((_, i) => i));
      expect(received.map((e) => e.event)).toEqual(await collect(t.store.query(session)));
      expect(received).toHaveLength(stored.length + live.length);
    }
  });

  it('lets a client resume from its last seq and see every event exactly once', async () => {
    await t.store.append(Array.from({ length: 10 }, (_, i) => ev('a', i)));
    const first = await firstValueFrom(tail(t.store, 's1').pipe(take(4), toArray()));
    const last = first.at(-1)!.seq;
    await t.store.append(Array.from({ length: 5 }, (_, i) => ev('b', 100 + i)));
    const received: StoredEvent[] = [];
    const sub = tail(t.store, 's1', { fromSeq: last + 1 }).subscribe((entry) => received.push(entry));
    await until(received, 11);
    await t.store.append([ev('c', 200)]);
    sub.unsubscribe();
    expect([...first, ...received].map((e) => e.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it('delivers live exactly what a replay gives back (values JSON changes, a caller changing its object)', async () => {
    const received: StoredEvent[] = [];
    const subscription = tail(t.store, 's1').subscribe((entry) => received.push(entry));
    // A nested Date and NaN, a key set to undefined, a -0 timestamp: JSON gives back a string, null, no
    // key and 0. And a caller that changes its object once append() has it.
    const odd = { ...ev('a', 1, 's1', { at: new Date(5), n: Number.NaN, u: undefined }), timestamp: -0 };
    const reused = ev('b', 2, 's1', { n: 1 });
    const written = t.store.append([odd, reused]);
    (reused.data as { n: number }).n = 2;
    await written;
    await until(received, 2);
    subscription.unsubscribe();
    const stored = await collect(t.store.query('s1'));
    expect(received.map((entry) => entry.event)).toStrictEqual(stored);
    expect(stored[1]!.data).toEqual({ n: 1 });
    expect(Object.is(stored[0]!.timestamp, 0)).toBe(true);
  });

  it('follows a session that does not exist yet', async () => {
    const received: StoredEvent[] = [];
    const sub = tail(t.store, 'later').subscribe((entry) => received.push(entry));
    await tick();
    await t.store.append([ev('a', 1, 'later')]);
    await until(received, 1);
    sub.unsubscribe();
    expect(received.map((e) => e.seq)).toEqual([0]);
  });

  it('completes when the session is deleted or the store closes', async () => {
    await t.store.append([ev('a', 1), ev('a', 1, 's2')]);
    const deleted = lastValueFrom(tail(t.store, 's1').pipe(toArray()));
    const closed = lastValueFrom(tail(t.store, 's2').pipe(toArray()));
    await tick();
    await t.store.deleteSession('s1');
    expect((await deleted).map((e) => e.seq)).toEqual([0]);
    await t.store.close();
    expect((await closed).map((e) => e.seq)).toEqual([0]);
  });

  it('completes, rather than erroring, when the store closes as an overflowed catch-up starts reading again', async () => {
    await t.store.append([ev('a', 1)]);
    // The first catch-up read ends only when `release` is called (the store itself is real).
    const store = t.store;
    const { release, readAll } = gateFirstRead(store);
    const watched = watch(tail(store, 's1', { maxBuffer: 1 }));
    // Two live events while the catch-up reads: beyond maxBuffer, so it must read again.
    await store.append([ev('b', 2), ev('c', 3)]);
    // The first read over (else, slow, it could still be reading when close() completes the tail, and the
    // tail would end without reading again: the case this test is about would not be reached).
    await readAll;
    const pending = store.append([ev('d', 4)]);
    const closing = store.close();
    // The read ends while close() waits for d's write: the second read starts on a closing store.
    release();
    await closing;
    await pending;
    await tick();
    expect(watched.outcome).toBe('complete');
    // What the first read gave; the appends the overflow dropped were to be read again, which close() refused.
    expect(watched.received.map((entry) => entry.seq)).toEqual([0]);
  });

  it('completes with what it read when the store closed while an overflowed catch-up was reading', async () => {
    await t.store.append([ev('a', 1)]);
    const store = t.store;
    const { release } = gateFirstRead(store);
    const watched = watch(tail(store, 's1', { maxBuffer: 1 }));
    await until(watched.received, 1);
    // Beyond maxBuffer while the catch-up reads: the buffer is dropped; then the store closes.
    await store.append([ev('b', 2), ev('c', 3)]);
    await store.close();
    release();
    for (let i = 0; watched.outcome === undefined && i < 100; i++) await tick();
    expect(watched.outcome).toBe('complete');
    // The dropped appends are not made up: only what the read gave (a prefix of the session).
    expect(watched.received).toEqual([{ seq: 0, event: expect.objectContaining({ type: 'a' }) }]);
  });

  it('errors with a read that fails for another reason while the store closes (not a completion)', async () => {
    await t.store.append([ev('a', 1)]);
    // The catch-up read yields the stored event, then fails with STORE_READ_FAILED once `release` is called.
    const { opened, release } = gate();
    const store = t.store;
    const entries = store.entries.bind(store);
    const failure = new StoreError('STORE_READ_FAILED', 'the disk failed');
    store.entries = (sessionId, options) => ({
      async *[Symbol.asyncIterator]() {
        yield* entries(sessionId, options);
        await opened;
        throw failure;
      },
    });
    const watched = watch(tail(store, 's1'));
    await until(watched.received, 1);
    // close() waits for this write: the read fails while the store is closing, its watchers not yet ended.
    const pending = store.append([ev('b', 2)]);
    const closing = store.close();
    release();
    await closing;
    await pending;
    await tick();
    expect(watched.outcome).toBe(failure);
  });

  it('caught by close() at the end of its read, emits the live events that follow straight on before completing', async () => {
    // `stored` events, of which the catch-up read yields `read` before close() catches it: all of them
    // (the end of its read), or the first (the rest of its first chunk of 256 is in memory and goes out;
    // the buffered event then does not follow on).
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    for (const [stored, read, session, expected] of [
      [2, 2, 's1', range(3)],
      [300, 1, 's2', range(256)],
    ] as const) {
      const store = session === 's1' ? t.store : await t.reopen();
      await store.append(range(stored).map((i) => ev('a', i, session)));
      // The catch-up read yields `read` stored events, then goes on only once `release` is called: by
      // then close() has closed LevelDB, and the read fails (the store itself is real).
      const { opened, release } = gate();
      const entries = store.entries.bind(store);
      store.entries = (sessionId, options) => {
        const real = entries(sessionId, options)[Symbol.asyncIterator]();
        return {
          async *[Symbol.asyncIterator]() {
            for (let i = 0; i < read; i++) yield (await real.next()).value as StoredEvent;
            await opened;
            for (let r = await real.next(); r.done !== true; r = await real.next()) yield r.value;
          },
        };
      };
      const watched = watch(tail(store, session));
      await until(watched.received, read);
      // Written while the tail reads: buffered, seq `stored`.
      await store.append([ev('b', stored, session)]);
      await store.close();
      release();
      for (let i = 0; watched.outcome === undefined && i < 1000; i++) await tick();
      expect(watched.outcome).toBe('complete');
      // At the end of its read: every event of the session, as a live tail closed by close() gives (it
      // gave the stored ones only). In the middle: a prefix, never a gap.
      expect(watched.received.map((entry) => entry.seq)).toEqual(expected);
    }
  });

  it('subscribed while the store closes, or once it is closed, errors with STORE_NOT_OPEN (nothing emitted)', async () => {
    await t.store.append([ev('a', 1)]);
    const outcome = (subscribed: ReturnType<typeof tail>) =>
      new Promise<{ received: number; error: unknown }>((resolve) => {
        let received = 0;
        subscribed.subscribe({
          next: () => received++,
          error: (error) => resolve({ received, error }),
          complete: () => resolve({ received, error: 'completed' }),
        });
      });
    // close() waits for this write: the store is closing, not closed, when the first tail subscribes.
    const pending = t.store.append([ev('b', 2)]);
    const closing = t.store.close();
    expect(t.store.status).toBe('closing');
    const whileClosing = outcome(tail(t.store, 's1'));
    await closing;
    await pending;
    const whenClosed = outcome(tail(t.store, 's1'));
    for (const result of [await whileClosing, await whenClosed]) {
      expect(result.received).toBe(0);
      expect(result.error).toBeInstanceOf(StoreError);
      expect((result.error as StoreError).code).toBe('STORE_NOT_OPEN');
    }
  });

  it('emits nothing before fromSeq, live appends included (a client resuming ahead of the session)', async () => {
    await t.store.append([ev('a', 1)]);
    const received: StoredEvent[] = [];
    const sub = tail(t.store, 's1', { fromSeq: 2 }).subscribe((entry) => received.push(entry));
    await tick();
    await t.store.append([ev('b', 2), ev('c', 3)]);
    await t.store.append([ev('d', 4)]);
    sub.unsubscribe();
    expect(received.map((e) => [e.seq, e.event.type])).toEqual([
      [2, 'c'],
      [3, 'd'],
    ]);
  });

  it('stops watching the session on unsubscribe', async () => {
    const store = t.store;
    const watch = storeInternals.watch;
    let watching = 0;
    storeInternals.watch = (of, sessionId, watcher) => {
      watching++;
      const stop = watch(of, sessionId, watcher);
      return () => {
        watching--;
        stop();
      };
    };
    try {
      const sub = tail(store, 's1').subscribe();
      expect(watching).toBe(1);
      sub.unsubscribe();
      expect(watching).toBe(0);
    } finally {
      storeInternals.watch = watch;
    }
  });

  it('two tails of one session each receive every live append, the one left too once the other unsubscribed', async () => {
    await t.store.append([ev('a', 1)]);
    const first = watch(tail(t.store, 's1'));
    const second: StoredEvent[] = [];
    const sub = tail(t.store, 's1').subscribe((entry) => second.push(entry));
    await until(first.received, 1);
    await until(second, 1);
    await t.store.append([ev('b', 2)]);
    expect(first.received.map((e) => e.seq)).toEqual([0, 1]);
    expect(second.map((e) => e.seq)).toEqual([0, 1]);
    sub.unsubscribe();
    await t.store.append([ev('c', 3)]);
    expect(first.received.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(second.map((e) => e.seq)).toEqual([0, 1]);
    await t.store.close();
    expect(first.outcome).toBe('complete');
  });

  it('two tails of one session are given live events of their own: a consumer changing one changes not the other', async () => {
    await t.store.append([ev('a', 1, 's1', { n: 0 })]);
    const changed: StoredEvent[] = [];
    const changer = tail(t.store, 's1').subscribe((entry) => {
      changed.push(entry);
      entry.event.data.seen = 'by the first tail';
      entry.seq = -1;
    });
    const other = watch(tail(t.store, 's1'));
    // Both live (past their catch-up read), the first one called first on each append.
    await until(changed, 1);
    await until(other.received, 1);
    await t.store.append([ev('b', 2, 's1', { n: 1 }), ev('c', 3, 's1', { n: 2 })]);
    changer.unsubscribe();
    expect(changed).toHaveLength(3);
    expect(other.received.map((entry) => [entry.seq, entry.event.data])).toEqual([
      [0, { n: 0 }],
      [1, { n: 1 }],
      [2, { n: 2 }],
    ]);
    expect(other.received).toEqual(await collect(t.store.entries('s1')));
  });

  it('a watcher that throws fails neither the write nor the other watchers, and the appends after it are written', async () => {
    const heard: number[][] = [];
    storeInternals.watch(t.store, 's1', {
      next: () => {
        throw new Error('watcher failed');
      },
      complete: () => {},
    });
    storeInternals.watch(t.store, 's1', {
      next: (entries) => heard.push(entries.map((e) => e.seq)),
      complete: () => {},
    });
    // Called in one tick: one batch, then the next.
    const [first, second] = await Promise.all([t.store.append([ev('x', 1)]), t.store.append([ev('x', 2)])]);
    expect([first, second]).toEqual([[{ sessionId: 's1', seq: 0 }], [{ sessionId: 's1', seq: 1 }]]);
    expect(await t.store.append([ev('x', 3)])).toEqual([{ sessionId: 's1', seq: 2 }]);
    expect(heard.flat()).toEqual([0, 1, 2]);
  });

  it('a watcher stopped hears no later append nor the close, the other watchers of its session still do', async () => {
    const heard: Array<[string, number[] | 'complete']> = [];
    const watcher = (name: string) => ({
      next: (entries: readonly StoredEvent[]) => heard.push([name, entries.map((e) => e.seq)]),
      complete: () => heard.push([name, 'complete']),
    });
    const stopA = storeInternals.watch(t.store, 's1', watcher('a'));
    const stopB = storeInternals.watch(t.store, 's1', watcher('b'));
    await t.store.append([ev('x', 1)]);
    stopA();
    stopA();
    await t.store.append([ev('x', 2)]);
    stopB();
    await t.store.append([ev('x', 3)]);
    // Watching again after all stopped.
    storeInternals.watch(t.store, 's1', watcher('c'));
    await t.store.append([ev('x', 4)]);
    await t.store.close();
    expect(heard).toEqual([
      ['a', [0]],
      ['b', [0]],
      ['b', [1]],
      ['c', [3]],
      ['c', 'complete'],
    ]);
  });

  it('completes when the session is deleted while it catches up', async () => {
    await t.store.append([ev('a', 1)]);
    const { release } = gateFirstRead(t.store);
    const received: StoredEvent[] = [];
    let completed = false;
    tail(t.store, 's1').subscribe({
      next: (entry) => received.push(entry),
      complete: () => {
        completed = true;
      },
    });
    await until(received, 1);
    await t.store.deleteSession('s1');
    release();
    for (let i = 0; !completed && i < 1000; i++) await tick();
    expect(completed).toBe(true);
    expect(received.map((e) => e.seq)).toEqual([0]);
  });

  it('reads the store again only when more than maxBuffer appends arrive while it catches up', async () => {
    for (const [appends, reads] of [
      [2, 1],
      [3, 2],
    ] as const) {
      const session = `buffered-${appends}`;
      await t.store.append([ev('a', 0, session)]);
      const before = t.store.stats().eventsRead;
      const gated = gateFirstRead(t.store);
      const received: StoredEvent[] = [];
      const sub = tail(t.store, session, { maxBuffer: 2 }).subscribe((entry) => received.push(entry));
      await until(received, 1);
      for (let i = 1; i <= appends; i++) await t.store.append([ev('b', i, session)]);
      gated.release();
      await until(received, 1 + appends);
      sub.unsubscribe();
      expect(received.map((e) => e.seq)).toEqual(Array.from({ length: 1 + appends }, (_, i) => i));
      expect(gated.reads(), `${appends} appends`).toBe(reads);
      // The second read starts where the first got to (seq 1): the first event is read once.
      expect(t.store.stats().eventsRead - before, `${appends} appends`).toBe(reads === 1 ? 1 : 1 + appends);
    }
  });

  it('validates its options at once, saying which and what it got', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => tail(t.store, 's1', { fromSeq: -1 }), 'tail: fromSeq must be an integer ≥ 0, got -1'],
      [() => tail(t.store, 's1', { fromSeq: 1.5 }), 'tail: fromSeq must be an integer ≥ 0, got 1.5'],
      [() => tail(t.store, '', {}), 'tail: sessionId must be a non-empty string'],
      [() => tail(t.store, 42 as never), 'tail: sessionId must be a non-empty string'],
      [() => tail(t.store, 's1', { maxBuffer: 0 }), 'tail: maxBuffer must be a positive integer, got 0'],
      [
        () => tail(t.store, 's1', { maxBufer: 5 } as never),
        'tail: unknown option "maxBufer" (did you mean "maxBuffer"?)',
      ],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(ConfigError);
      expect(call).toThrow(message);
    }
  });

  it('unsubscribed while it catches up, reads the stored events no further', async () => {
    await t.store.append(Array.from({ length: 2000 }, (_, i) => ev('a', i)));
    const before = t.store.stats().eventsRead;
    const first = await firstValueFrom(tail(t.store, 's1'));
    expect(first.seq).toBe(0);
    for (let i = 0; i < 20; i++) await tick();
    // One read-ahead chunk (256 records) at most, not the 2,000.
    expect(t.store.stats().eventsRead - before).toBeLessThanOrEqual(256);
  });
});

describe('tail: a consumer that throws on an entry', () => {
  /** Records the entries as `seq:type` and how the tail ended; throws on the entry of type `bad`. */
  const throwingOn = (bad: string) =>
    new ThrowingConsumer<StoredEvent>(
      (entry) => entry.event.type === bad,
      (entry) => `${entry.seq}`,
    );
  const labels = (got: Array<StoredEvent | string>) =>
    got.map((o) => (typeof o === 'string' ? o : `${o.seq}:${o.event.type}`));

  it('live: errors with its exception (it was swallowed, and the rest of the append skipped: a gap)', async () => {
    // The store ignores a watcher's exception: the tail went on after the entries of the batch it skipped.
    await t.store.append([ev('a', 1)]);
    const consumer = throwingOn('c');
    tail(t.store, 's1').subscribe(consumer);
    await until(consumer.got, 1);
    await t.store.append([ev('b', 2), ev('c', 3), ev('d', 4)]);
    await t.store.append([ev('e', 5)]);
    // Live entries arrive synchronously with the write's acknowledgement.
    expect(labels(consumer.got)).toEqual(['0:a', '1:b', '2:c', 'error consumer on 2']);
  });

  it('catching up: errors with its exception, the read stopped', async () => {
    await t.store.append([ev('a', 1), ev('b', 2), ev('c', 3)]);
    const consumer = throwingOn('b');
    tail(t.store, 's1').subscribe(consumer);
    await consumer.ended;
    expect(labels(consumer.got)).toEqual(['0:a', '1:b', 'error consumer on 1']);
  });
});

describe('tail: a store of another copy of the package', () => {
  it('follows a store opened by another copy of the package (two installs, or src and dist), as its own', async () => {
    // A second copy of SessionStore.ts: its class is another class, as in a second install of the package.
    const copy = '../../src/store/SessionStore.ts?another-copy';
    const other = (await import(/* @vite-ignore */ copy)) as typeof import('../../src/store/SessionStore.js');
    const theirs = await other.openStore({ path: `${t.dir}/theirs` });
    try {
      expect(theirs).not.toBeInstanceOf((await import('../../src/store/SessionStore.js')).SessionStore);
      await theirs.append([ev('a', 1)]);
      const tailed = watch(tail(theirs, 's1'));
      for (let i = 0; i < 20_000 && tailed.received.length === 0 && tailed.outcome === undefined; i++) {
        await tick();
      }
      // It errored: TypeError 'Receiver must be an instance of class SessionStore' (tail reached the
      // store's watchers through its own copy's class).
      expect(tailed.outcome).toBeUndefined();
      await theirs.append([ev('b', 2)]);
      expect(tailed.outcome).toBeUndefined();
      expect(tailed.received.map((e) => [e.seq, e.event.type])).toEqual([
        [0, 'a'],
        [1, 'b'],
      ]);
      await theirs.close();
      expect(tailed.outcome).toBe('complete');
    } finally {
      await theirs.close();
    }
  });
});
