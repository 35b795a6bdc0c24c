import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEvent, type Event, Priority, type QueryOptions } from '../../src/index.js';
import { collect, ev, expectedQuery, type TempStore, tempStore } from '../helpers/store.js';

let t: TempStore;
beforeAll(async () => {
  t = await tempStore();
});
afterAll(async () => {
  await t.cleanup();
});

const TYPES = ['a', 'b', 'c', 'file.modified', 'a.b', 'a\x00b'];

// Few distinct times, so that equal timestamps (ordered by seq) are common; fractions and a far future too.
const timestamp = fc
  .oneof(
    fc.integer({ min: 0, max: 40 }),
    fc.double({ min: 0, max: 40, noNaN: true }),
    fc.constant(1_795_165_200_000.5),
    fc.constant(0),
  )
  .map((n) => n + 0);

const eventInput = (types: readonly string[]) => fc.record({ type: fc.constantFrom(...types), timestamp });

const query = (types: readonly string[]): fc.Arbitrary<QueryOptions> =>
  fc.record(
    {
      types: fc.subarray([...types, 'zz']),
      start: fc.oneof(timestamp, fc.constant(-5)),
      end: fc.oneof(timestamp, fc.constant(Infinity), fc.constant(-5)),
      fromSeq: fc.integer({ min: 0, max: 40 }),
      limit: fc.integer({ min: 0, max: 40 }),
      reverse: fc.boolean(),
    },
    { requiredKeys: [] },
  );

let run = 0;

describe('query: each event read back as appended', () => {
  it('takes and gives back an event of every priority, LOW (0) included, by seq, by type and by get', async () => {
    const session = 'priorities';
    const events = Object.values(Priority).map((priority, i) =>
      createEvent({ type: `p${priority}`, timestamp: i, priority, sessionId: session, data: { i } }),
    );
    expect(events.map((event) => event.priority)).toEqual([0, 1, 2, 3]);
    await t.store.append(events);
    expect(await collect(t.store.query(session))).toEqual(events);
    expect(await collect(t.store.query(session, { types: ['p0', 'p3'] }))).toEqual([events[0], events[3]]);
    expect(await t.store.get(session, 0)).toEqual(events[0]);
  });
});

describe('query: checked against a brute-force filter on random data', () => {
  it('returns exactly what the brute-force filter returns, in order', async () => {
    await againstBruteForce(TYPES, 0);
  });

  it('does so too over many types with few events each (the whole index read once, not a range per type)', async () => {
    // 16 types or more, at most 32 events per type: SessionStore's WHOLE_SCAN_TYPES, WHOLE_SCAN_PER_TYPE.
    await againstBruteForce([...TYPES, ...Array.from({ length: 18 }, (_, i) => `t${i}`)], 40);
  });
});

async function againstBruteForce(types: readonly string[], minEvents: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.array(eventInput(types), { minLength: minEvents, maxLength: 60 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 6 }),
      fc.array(query(types), { minLength: 1, maxLength: 8 }),
      async (inputs, splits, queries) => {
        const session = `prop-${run++}`;
        const events = inputs.map(({ type, timestamp }, i) =>
          createEvent({ type, timestamp, id: `${session}-${i}`, sessionId: session, data: { i } }),
        );
        // Neighbours whose keys share the prefix must never leak in.
        const noise = [`${session}x`, `${session}\x00`, session.slice(0, -1)].map((id) =>
          createEvent({ type: 'a', timestamp: 1, sessionId: id }),
        );
        // Append in a few calls (some concurrent), interleaved with the neighbours.
        const calls: Event[][] = [];
        let at = 0;
        for (const [i, size] of splits.entries()) {
          const chunk = events.slice(at, i === splits.length - 1 ? events.length : at + size * 5);
          at += chunk.length;
          calls.push([...chunk, noise[i % noise.length]!]);
        }
        await Promise.all(calls.map((call) => t.store.append(call)));
        const stored = events.map((event, seq) => ({ seq, event }));
        for (const q of queries) {
          const actual = await collect(t.store.entries(session, q));
          expect(actual).toEqual(expectedQuery(stored, q));
        }
      },
    ),
    { numRuns: 80 },
  );
}

describe('query: a session with many types', () => {
  it('reads its index once for a time range, not one range (an iterator) per type', async () => {
    // 300 types, one event each, their times out of order: a query by time only opened 300 iterators (a
    // session with 20,000 types took seconds for 100 events); the whole index is now read once.
    const session = 'many-types';
    const events = Array.from({ length: 300 }, (_, i) => ev(`type.${i}`, 1_000 + ((i * 37) % 300), session));
    await t.store.append(events);
    const { AbstractIterator, AbstractLevel } = await import('abstract-level');
    const attach = vi.spyOn(AbstractLevel.prototype, 'attachResource');
    const stored = events.map((event, seq) => ({ seq, event }));
    const before = t.store.stats();
    try {
      for (const q of [
        { start: 1_100, end: 1_149 },
        { end: 1_010, reverse: true },
        { start: 1_290, limit: 3 },
      ]) {
        expect(await collect(t.store.entries(session, q))).toEqual(expectedQuery(stored, q));
      }
      const iterators = attach.mock.calls.filter(([resource]) => resource instanceof AbstractIterator);
      expect(iterators).toHaveLength(3);
    } finally {
      attach.mockRestore();
    }
    // Each reads the session's 300 index entries, and only the records in its range.
    expect(t.store.stats().indexEntriesRead - before.indexEntriesRead).toBe(900);
    expect(t.store.stats().eventsRead - before.eventsRead).toBe(50 + 11 + 3);
  });
});

describe('query: served by key ranges', () => {
  const session = 'big';
  const types = Array.from({ length: 10 }, (_, i) => `type.${i}`);
  beforeAll(async () => {
    // 2,000 events, 10 types round robin, one per ms: type.7 has 200 events.
    const events = Array.from({ length: 2000 }, (_, i) => ev(types[i % 10]!, 10_000 + i, session));
    await t.store.append(events);
  });

  async function cost(q: QueryOptions) {
    const before = t.store.stats();
    const events = await collect(t.store.query(session, q));
    const after = t.store.stats();
    return {
      events: events.length,
      decoded: after.eventsRead - before.eventsRead,
      indexed: after.indexEntriesRead - before.indexEntriesRead,
    };
  }

  it('a type query reads only that type', async () => {
    expect(await cost({ types: ['type.7'] })).toEqual({ events: 200, decoded: 200, indexed: 200 });
  });

  it('a time query reads only that time range', async () => {
    expect(await cost({ start: 10_500, end: 10_549 })).toEqual({ events: 50, decoded: 50, indexed: 50 });
  });

  it('a type and time query reads only that type within that range', async () => {
    expect(await cost({ types: ['type.3', 'type.4'], start: 11_000, end: 11_099 })).toEqual({
      events: 20,
      decoded: 20,
      indexed: 20,
    });
  });

  it('a limited query decodes no more than the limit', async () => {
    expect((await cost({ limit: 5 })).decoded).toBe(5);
    expect((await cost({ limit: 5, reverse: true })).decoded).toBe(5);
    expect((await cost({ types: ['type.1'], limit: 3 })).decoded).toBe(3);
    expect((await cost({ fromSeq: 1990 })).decoded).toBe(10);
  });

  it('an unknown type or an empty range reads nothing', async () => {
    expect(await cost({ types: ['nope'] })).toEqual({ events: 0, decoded: 0, indexed: 0 });
    expect(await cost({ types: [] })).toEqual({ events: 0, decoded: 0, indexed: 0 });
    expect(await cost({ start: 50_000 })).toEqual({ events: 0, decoded: 0, indexed: 0 });
    expect(await cost({ start: 10_010, end: 10_000 })).toEqual({ events: 0, decoded: 0, indexed: 0 });
    // No event time is negative: a negative end matches nothing (its IEEE 754 bits sort above every time).
    expect(await cost({ end: -1 })).toEqual({ events: 0, decoded: 0, indexed: 0 });
    expect(await cost({ types: ['type.1'], end: -Infinity })).toEqual({ events: 0, decoded: 0, indexed: 0 });
  });

  it('stops reading when the consumer stops', async () => {
    const before = t.store.stats().eventsRead;
    for await (const _ of t.store.query(session)) break;
    expect(t.store.stats().eventsRead - before).toBeLessThanOrEqual(256);
  });
});
