import fc from 'fast-check';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { ZodError } from 'zod';
import { encodeTime, isPlainObject } from '../src/event.js';

const ENCODING = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

import {
  createEvent,
  createEventId,
  type Event,
  type EventInit,
  type EventSchema,
  eventFromJSON,
  eventIdTime,
  eventToJSON,
  InvalidEventError,
  Priority,
  parseEvent,
  safeParseEvent,
} from '../src/index.js';

// JSON has no -0: a JSON value is what survives JSON.stringify.
/** A new copy of the event module: its id state (last time, random part, clock) as in a new process. */
async function freshEventModule(): Promise<typeof import('../src/event.js')> {
  vi.resetModules();
  return import('../src/event.js');
}

const jsonValue = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);
// `__proto__` often: JSON.parse makes it an own key, and a record must keep it.
const recordKey = fc.oneof(fc.string(), fc.constant('__proto__'));

const arbitraryEvent = fc.record(
  {
    id: fc.string({ minLength: 1 }),
    type: fc.string({ minLength: 1 }),
    // Any finite time >= 0: fractions, the smallest double, past 2^53 and past Date's 8.64e15, the largest.
    timestamp: fc.oneof(
      fc.integer({ min: 0, max: 2 ** 47 }),
      fc.constantFrom(0, 1.5, Number.MIN_VALUE, 2 ** 53 + 2, 8.64e15 + 1, 1e300, Number.MAX_VALUE),
      fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).map((t) => t + 0),
    ),
    priority: fc.constantFrom(Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL),
    data: fc.dictionary(recordKey, jsonValue),
    context: fc.dictionary(recordKey, jsonValue),
    sessionId: fc.string({ minLength: 1 }),
  },
  { requiredKeys: ['id', 'type', 'timestamp', 'priority', 'data'] },
);

describe('Priority', () => {
  it('is numeric so the most urgent of several is their max', () => {
    expect([Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL]).toEqual([0, 1, 2, 3]);
    expect(Math.max(Priority.NORMAL, Priority.CRITICAL, Priority.LOW)).toBe(Priority.CRITICAL);
  });
});

describe('createEvent', () => {
  it('fills id, timestamp, priority and data', () => {
    const before = Date.now();
    const event = createEvent({ type: 'file.modified' });
    expect(event.type).toBe('file.modified');
    expect(event.priority).toBe(Priority.NORMAL);
    expect(event.data).toEqual({});
    expect(event.timestamp).toBeGreaterThanOrEqual(before);
    expect(event.timestamp).toBeLessThanOrEqual(Date.now());
    expect(event.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect('sessionId' in event).toBe(false);
    expect('context' in event).toBe(false);
    expect(parseEvent(event)).toEqual(event);
  });

  it('takes every priority', () => {
    for (const priority of [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL]) {
      expect(createEvent({ type: 'x', priority }).priority).toBe(priority);
    }
  });

  it('makes a timestamp of -0 a 0, as JSON gives it back', () => {
    const event = createEvent({ type: 'x', timestamp: -0 });
    expect(Object.is(event.timestamp, 0)).toBe(true);
    expect(eventFromJSON(eventToJSON(event))).toEqual(event);
    expect(Object.is(parseEvent({ ...event, timestamp: -0 }).timestamp, 0)).toBe(true);
    const parsed = safeParseEvent({ ...event, timestamp: -0 }) as { event: Event };
    expect(Object.is(parsed.event.timestamp, 0)).toBe(true);
  });

  it('takes data and context without a prototype', () => {
    const data = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    const event = createEvent({ type: 'x', data, context: data });
    expect(event.data).toBe(data);
    expect(parseEvent(event)).toEqual(event);
  });

  it('keeps what it is given', () => {
    const event = createEvent({
      type: 'tool.used',
      data: { tool_name: 'Bash' },
      priority: Priority.HIGH,
      timestamp: 1234,
      id: 'custom',
      context: { cwd: '/x' },
      sessionId: 's1',
    });
    expect(event).toEqual({
      id: 'custom',
      type: 'tool.used',
      timestamp: 1234,
      priority: Priority.HIGH,
      data: { tool_name: 'Bash' },
      context: { cwd: '/x' },
      sessionId: 's1',
    });
  });

  it.each([
    ['an empty type', { type: '' }, 'type'],
    ['a negative timestamp', { type: 'x', timestamp: -1 }, 'timestamp'],
    ['a NaN timestamp', { type: 'x', timestamp: Number.NaN }, 'timestamp'],
    ['an infinite timestamp', { type: 'x', timestamp: Number.POSITIVE_INFINITY }, 'timestamp'],
    ['a timestamp of -Infinity', { type: 'x', timestamp: Number.NEGATIVE_INFINITY }, 'timestamp'],
    ['a priority out of range', { type: 'x', priority: 7 as Priority }, 'priority'],
    ['an empty sessionId', { type: 'x', sessionId: '' }, 'sessionId'],
    ['a sessionId that is not a string', { type: 'x', sessionId: ['s'] as unknown as string }, 'sessionId'],
    ['a type that is not a string', { type: ['x'] as unknown as string }, 'type'],
    ['an empty id', { type: 'x', id: '' }, 'id'],
    ['an id that is not a string', { type: 'x', id: ['a'] as unknown as string }, 'id'],
    ['a null context', { type: 'x', context: null as unknown as Record<string, unknown> }, 'context'],
    [
      'a context that is not an object',
      { type: 'x', context: 5 as unknown as Record<string, unknown> },
      'context',
    ],
    // Not plain objects: parseEvent (a Map, a Date) or JSON (an inherited field) would not give them back.
    ['a Map as data', { type: 'x', data: new Map([['a', 1]]) as unknown as Record<string, unknown> }, 'data'],
    ['a Date as data', { type: 'x', data: new Date(0) as unknown as Record<string, unknown> }, 'data'],
    ['an array as data', { type: 'x', data: [1] as unknown as Record<string, unknown> }, 'data'],
    [
      'data inheriting its fields',
      { type: 'x', data: Object.create({ a: 1 }) as Record<string, unknown> },
      'data',
    ],
    ['a Map as context', { type: 'x', context: new Map() as unknown as Record<string, unknown> }, 'context'],
  ])('rejects %s with InvalidEventError naming the field', (_name, init, field) => {
    try {
      createEvent(init);
      expect.unreachable('createEvent should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidEventError);
      const invalid = error as InvalidEventError;
      expect(invalid.code).toBe('INVALID_EVENT');
      expect(invalid.issues.map((issue) => issue.path)).toEqual([[field]]);
    }
  });

  it("carries zod's error as the cause of a field zod refuses", () => {
    try {
      createEvent({ type: '' });
      expect.unreachable('createEvent should have thrown');
    } catch (error) {
      expect((error as InvalidEventError).cause).toBeInstanceOf(ZodError);
      expect(((error as InvalidEventError).cause as ZodError).issues).toEqual(
        (error as InvalidEventError).issues,
      );
    }
  });

  it('describes data or context that zod accepts but JSON would not give back as a custom issue on that field', () => {
    for (const field of ['data', 'context'] as const) {
      try {
        createEvent({ type: 'x', [field]: Object.create({ a: 1 }) as Record<string, unknown> });
        expect.unreachable('createEvent should have thrown');
      } catch (error) {
        expect((error as InvalidEventError).issues).toEqual([
          { code: 'custom', path: [field], message: expect.stringContaining('not a plain object') },
        ]);
      }
    }
  });
});

describe('isPlainObject', () => {
  it('is true only for an object whose prototype is Object.prototype or null', () => {
    expect(isPlainObject({ a: 1 })).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    for (const value of [undefined, null, 0, 'x', true, [], new Date(0), new Map(), () => ({})]) {
      expect(isPlainObject(value)).toBe(false);
    }
  });
});

describe('createEvent: unknown fields', () => {
  it('refuses a mistyped field, named with the nearest known one, rather than dropping it', () => {
    for (const [key, near] of [
      ['sessionID', 'sessionId'],
      ['timeStamp', 'timestamp'],
      ['payload', undefined],
    ] as const) {
      const init = { type: 'x', [key]: 's1' } as unknown as EventInit;
      try {
        createEvent(init);
        expect.unreachable('createEvent should have thrown');
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidEventError);
        const [issue] = (error as InvalidEventError).issues;
        expect(issue).toMatchObject({ code: 'unrecognized_keys', path: [key] });
        if (near === undefined) expect(issue!.message).not.toContain('did you mean');
        else expect(issue!.message).toContain(`(did you mean "${near}"?)`);
        expect(issue!.message).toContain('known: type, data, priority, timestamp, id, context, sessionId');
      }
    }
  });

  it('names a field with no known one near it as unknown, then the known ones, and nothing between', () => {
    expect(() => createEvent({ type: 'x', payload: 1 } as unknown as EventInit)).toThrow(
      new InvalidEventError([
        {
          code: 'unrecognized_keys',
          path: ['payload'],
          message: 'unknown field; known: type, data, priority, timestamp, id, context, sessionId',
        },
      ]),
    );
    expect(() => createEvent({ type: 'x', payload: 1 } as unknown as EventInit)).toThrow(
      'Invalid event: payload: unknown field; known: type, data, priority, timestamp, id, context, sessionId',
    );
  });

  it('refuses an init that is not an object with an InvalidEventError (its issue at the root), not a TypeError', () => {
    for (const init of [undefined, null, 'x', 5]) {
      let thrown: unknown;
      try {
        createEvent(init as unknown as EventInit);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(init)).toBeInstanceOf(InvalidEventError);
      expect((thrown as InvalidEventError).code).toBe('INVALID_EVENT');
      expect((thrown as InvalidEventError).issues).toEqual([
        expect.objectContaining({ code: 'invalid_type', path: [], expected: 'object' }),
      ]);
      // zod's error is its cause, as for a field zod refuses.
      expect((thrown as InvalidEventError).cause).toBeInstanceOf(ZodError);
      expect(((thrown as InvalidEventError).cause as ZodError).issues).toEqual(
        (thrown as InvalidEventError).issues,
      );
    }
  });

  it('takes every known field, an event spread into it, and known fields set to undefined', () => {
    const event = createEvent({ type: 'x', sessionId: 's', context: { a: 1 }, data: { b: 2 } });
    expect(createEvent({ ...event })).toEqual(event);
    expect(createEvent({ type: 'x', sessionId: undefined, context: undefined, id: 'i' })).toMatchObject({
      id: 'i',
      type: 'x',
    });
  });
});

describe('parseEvent', () => {
  it('throws InvalidEventError carrying zod issues', () => {
    let caught: unknown;
    try {
      parseEvent({ id: 'a', type: 'x', timestamp: 'yesterday', priority: 1, data: {} });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidEventError);
    expect((caught as InvalidEventError).issues).toEqual([
      expect.objectContaining({ code: 'invalid_type', path: ['timestamp'] }),
    ]);
    expect((caught as InvalidEventError).message).toContain('timestamp');
    expect((caught as InvalidEventError).cause).toBeInstanceOf(ZodError);
    const result = safeParseEvent({ id: 'a', type: 'x', timestamp: 'yesterday', priority: 1, data: {} });
    expect(result.success).toBe(false);
    expect((result as { error: InvalidEventError }).error.cause).toBeInstanceOf(ZodError);
  });

  it('gives a valid value back as a success', () => {
    const value = { id: 'a', type: 'x', timestamp: 1, priority: 2, data: { a: 1 } };
    expect(safeParseEvent(value)).toEqual({ success: true, event: value });
  });

  it.each([null, 'event', [], 42, {}])('rejects %j', (value) => {
    expect(() => parseEvent(value)).toThrow(InvalidEventError);
    expect(safeParseEvent(value).success).toBe(false);
  });

  it('strips unknown top-level keys', () => {
    const parsed = parseEvent({ id: 'a', type: 'x', timestamp: 1, priority: 0, data: {}, extra: true });
    expect('extra' in parsed).toBe(false);
  });

  it('keeps a __proto__ key of data and context as an own field, in a copy', () => {
    const value = JSON.parse(
      '{"id":"a","type":"x","timestamp":1,"priority":1,"data":{"a":1,"__proto__":{"x":1},"b":2},' +
        '"context":{"__proto__":null}}',
    ) as Record<string, unknown>;
    for (const event of [parseEvent(value), (safeParseEvent(value) as { event: Event }).event]) {
      expect(Object.keys(event.data)).toEqual(['a', '__proto__', 'b']);
      expect(Object.getOwnPropertyDescriptor(event.data, '__proto__')?.value).toEqual({ x: 1 });
      expect(Object.getPrototypeOf(event.data)).toBe(Object.prototype);
      expect(Object.keys(event.context!)).toEqual(['__proto__']);
      expect(event.data).not.toBe(value.data);
      expect(event).toEqual(value);
      // Its fields are ordinary ones: the copy can be changed like the value it was made from.
      event.data.a = 2;
      delete event.data.b;
      expect(Object.keys(event.data)).toEqual(['a', '__proto__']);
      expect(event.data.a).toBe(2);
    }
    expect(JSON.parse(eventToJSON(eventFromJSON(JSON.stringify(value))))).toEqual(value);
  });

  it('infers the Event type from the schema', () => {
    expectTypeOf(parseEvent).returns.toEqualTypeOf<Event>();
    expectTypeOf<Event['priority']>().toEqualTypeOf<0 | 1 | 2 | 3>();
    expectTypeOf<Event['sessionId']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ReturnType<typeof EventSchema.parse>['timestamp']>().toEqualTypeOf<number>();
  });
});

describe('JSON round trip', () => {
  it('eventFromJSON(eventToJSON(e)) equals e for any valid event', () => {
    fc.assert(
      fc.property(arbitraryEvent, (event) => {
        expect(eventFromJSON(eventToJSON(event))).toEqual(event);
      }),
    );
  });

  it('reports bad JSON as InvalidEventError', () => {
    expect(() => eventFromJSON('{nope')).toThrow(InvalidEventError);
    let syntaxError: unknown;
    try {
      JSON.parse('{nope');
    } catch (error) {
      syntaxError = error;
    }
    try {
      eventFromJSON('{nope');
      expect.unreachable('eventFromJSON should have thrown');
    } catch (error) {
      expect((error as InvalidEventError).issues).toEqual([
        { code: 'invalid_json', path: [], message: (syntaxError as Error).message },
      ]);
      expect((error as InvalidEventError).cause).toBeInstanceOf(SyntaxError);
    }
  });

  it('refuses an event object (already parsed) saying what it got, not that "[object Object]" is no JSON', () => {
    const event = createEvent({ type: 'tool.used', sessionId: 's', data: { tool: 'Read' } });
    let thrown: unknown;
    try {
      eventFromJSON(event as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidEventError);
    const [issue] = (thrown as InvalidEventError).issues;
    expect(issue?.code).toBe('invalid_type');
    expect(issue?.path).toEqual([]);
    expect((thrown as InvalidEventError).message).toMatch(/^Invalid event: \(root\): eventFromJSON takes /);
    expect(issue?.message).toMatch(
      /^eventFromJSON takes the JSON text of an event \(a string\), got \{ id: '.*', type: 'tool\.used', .*\}; parseEvent checks an event object$/,
    );
    // Bytes are text, read as before.
    expect(eventFromJSON(Buffer.from(eventToJSON(event)) as never)).toEqual(event);
  });

  it('reads null as JSON.parse does, as the text null: no event, the same error as for the text', () => {
    const errorOf = (json: unknown): unknown => {
      try {
        eventFromJSON(json as string);
      } catch (error) {
        return error;
      }
      return expect.unreachable('eventFromJSON should have thrown');
    };
    const fromNull = errorOf(null);
    expect(fromNull).toBeInstanceOf(InvalidEventError);
    expect((fromNull as InvalidEventError).issues).toEqual((errorOf('null') as InvalidEventError).issues);
    expect((fromNull as InvalidEventError).message).toBe(
      'Invalid event: (root): Invalid input: expected object, received null',
    );
  });
});

describe('createEventId', () => {
  it('makes 1,000,000 distinct ids, already sorted, in a tight loop', () => {
    const ids = new Array<string>(1_000_000);
    for (let i = 0; i < ids.length; i++) ids[i] = createEventId();
    let sorted = true;
    for (let i = 1; i < ids.length; i++) {
      if (!(ids[i - 1]! < ids[i]!)) {
        sorted = false;
        break;
      }
    }
    expect(sorted).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('encodes any 48-bit time so that it reads back and sorts like the number', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        (a, b) => {
          const encodedA = encodeTime(a);
          const encodedB = encodeTime(b);
          expect(eventIdTime(`${encodedA}${'0'.repeat(16)}`)).toBe(a);
          expect(encodedA < encodedB).toBe(a < b);
        },
      ),
    );
  });

  it('writes 26 Crockford base-32 digits: the time, then an 80-bit number that counts up by one', () => {
    const decode = (text: string) => [...text].reduce((n, c) => n * 32n + BigInt(ENCODING.indexOf(c)), 0n);
    const ids = Array.from({ length: 2_000 }, () => createEventId(0)); // the clock "steps back": one ms
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const time = ids[0]!.slice(0, 10);
    expect(ids.every((id) => id.slice(0, 10) === time)).toBe(true);
    expect(encodeTime(eventIdTime(ids[0]!)!)).toBe(time);
    const counts = ids.map((id) => decode(id.slice(10)));
    expect(counts.slice(1).map((n, i) => n - counts[i]!)).toEqual(ids.slice(1).map(() => 1n));
  });

  it('draws new random bits for every millisecond, across refills of its random pool', () => {
    // 3,000 milliseconds draw 30,000 random bytes: several refills of the 4 KiB pool.
    const start = 1_900_000_000_000;
    const ids = Array.from({ length: 3_000 }, (_, i) => createEventId(start + i));
    expect(ids.map((id) => eventIdTime(id))).toEqual(ids.map((_, i) => start + i));
    // The whole random part (79 bits: the low half's top bit is clear) is new in every millisecond: a
    // repeat among 3,000 by chance has a chance of about 1e-17.
    expect(new Set(ids.map((id) => id.slice(10))).size).toBe(ids.length);
    // And so is each half: 40 bits (high) and 39 (low) repeat by chance among 3,000 about once in 2e5 and
    // 1e5 runs, so one repeat is let pass; two (a chance of about 4e-11) are not. A half drawn stale, or
    // from a pool not refilled, repeats hundreds of times.
    const highs = new Set(ids.map((id) => id.slice(10, 18)));
    const lows = new Set(ids.map((id) => id.slice(18)));
    expect(highs.size).toBeGreaterThanOrEqual(ids.length - 1);
    expect(lows.size).toBeGreaterThanOrEqual(ids.length - 1);
  });

  it('sorts by creation time and stays monotonic when the clock steps back', () => {
    const a = createEventId(2_000_000_000_000);
    const b = createEventId(2_000_000_000_000);
    const c = createEventId(1_999_999_999_000); // clock stepped back
    const d = createEventId(2_000_000_000_001);
    expect([a, b, c, d]).toEqual([a, b, c, d].slice().sort());
    expect(new Set([a, b, c, d]).size).toBe(4);
    expect(eventIdTime(a)).toBe(2_000_000_000_000);
    expect(eventIdTime(d)).toBe(2_000_000_000_001);
    expect(eventIdTime('not-an-id')).toBeUndefined();
  });

  it('reads no time from a string that is not an id', () => {
    const id = createEventId();
    expect(eventIdTime(id)).toBeGreaterThan(0);
    for (const text of [
      `${id.slice(0, 10)}!!!!!!!!!!!!!!!!`, // the random part is not base 32
      `${id.slice(0, 25)}U`, // U is not a Crockford digit
      id.toLowerCase(),
      `8${id.slice(1)}`, // a time past 48 bits
      id.slice(0, 25),
      `${id}0`,
    ]) {
      expect(eventIdTime(text)).toBeUndefined();
    }
    // Not a string, though its string is an id.
    expect(eventIdTime([id] as unknown as string)).toBeUndefined();
    expect(eventIdTime(`7${'Z'.repeat(25)}`)).toBe(2 ** 48 - 1);
  });

  it('drops a fraction of a millisecond, and takes a time that is not a number as the same millisecond', () => {
    const ids = [
      createEventId(2_000_000_000_010.75),
      createEventId(2_000_000_000_010.25),
      createEventId(Number.NaN),
      createEventId(2_000_000_000_011.5),
    ];
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(ids.map((id) => eventIdTime(id))).toEqual([
      2_000_000_000_010, 2_000_000_000_010, 2_000_000_000_010, 2_000_000_000_011,
    ]);
    expect(ids.slice().sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('takes a time past 48 bits or not finite as the same millisecond, leaving later ids intact', async () => {
    const ids = [
      createEventId(2_000_000_000_020),
      createEventId(2 ** 50), // a time in µs by mistake
      createEventId(2 ** 48),
      createEventId(Number.POSITIVE_INFINITY),
      createEventId(Number.NEGATIVE_INFINITY),
      createEventId(2_000_000_000_021),
    ];
    for (const id of ids) expect(id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    expect(ids.map((id) => eventIdTime(id))).toEqual([
      2_000_000_000_020, 2_000_000_000_020, 2_000_000_000_020, 2_000_000_000_020, 2_000_000_000_020,
      2_000_000_000_021,
    ]);
    expect(ids.slice().sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // The largest time 10 digits hold is still a time of its own (in a fresh module: no id here may follow it).
    const fresh = await freshEventModule();
    expect(fresh.eventIdTime(fresh.createEventId(2 ** 48 - 1))).toBe(2 ** 48 - 1);
  });

  it("gives a process's first id the millisecond it is given, however early, and one without a usable time the time 0", async () => {
    const early = await freshEventModule();
    expect(early.eventIdTime(early.createEventId(1))).toBe(1);
    // No id before it to follow: it follows the time 0, and is still an id.
    const noTime = await freshEventModule();
    const id = noTime.createEventId(Number.NaN);
    expect(id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    expect(noTime.eventIdTime(id)).toBe(0);
    expect(noTime.createEventId(1) > id).toBe(true);
    // With a random part, as any other first id: not the same id in every process that starts so.
    const firsts = new Set([id]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -5, 2 ** 48]) {
      const fresh = await freshEventModule();
      const first = fresh.createEventId(bad);
      expect(fresh.eventIdTime(first)).toBe(0);
      firsts.add(first);
    }
    expect(firsts.size).toBe(5);
  });

  it("takes each new millisecond's random part from the next 10 bytes of one 4 KiB draw: 5 for the high half, 5 for the low", async () => {
    // A fresh module draws its pool from the system at its first id; byte i of each draw is i mod 256.
    const fresh = await freshEventModule();
    const random = vi.spyOn(crypto, 'getRandomValues').mockImplementation((array) => {
      const bytes = new Uint8Array(array.buffer);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
      return array;
    });
    // Eight base-32 digits of a 40-bit number made of five bytes, the first the most significant.
    const digits = (...bytes: number[]) => {
      let n = bytes.reduce((value, byte) => value * 256n + BigInt(byte), 0n);
      let text = '';
      for (let i = 0; i < 8; i++, n /= 32n) text = ENCODING[Number(n % 32n)]! + text;
      return text;
    };
    try {
      const ids = [fresh.createEventId(7_000), fresh.createEventId(7_001), fresh.createEventId(7_002)];
      // One draw for the three: bytes 0-9, 10-19, 20-29 (the low half's top bit is clear in each already).
      expect(random).toHaveBeenCalledTimes(1);
      expect(ids.map((id) => id.slice(10))).toEqual([
        digits(0, 1, 2, 3, 4) + digits(5, 6, 7, 8, 9),
        digits(10, 11, 12, 13, 14) + digits(15, 16, 17, 18, 19),
        digits(20, 21, 22, 23, 24) + digits(25, 26, 27, 28, 29),
      ]);
    } finally {
      random.mockRestore();
    }
  });

  it("gives a process's first id with a time before the epoch the time 0 and a drawn random part, as any other first id", async () => {
    for (const bad of [-5, -0.5, Number.NaN]) {
      const fresh = await freshEventModule();
      const random = vi.spyOn(crypto, 'getRandomValues').mockImplementation((array) => {
        new Uint8Array(array.buffer).fill(255);
        return array;
      });
      try {
        // Not the id after '0…0' (the count up from zero that a process's first id must not be).
        expect(fresh.createEventId(bad)).toBe(`0000000000${'ZZZZZZZZFZZZZZZZ'}`);
        expect(random).toHaveBeenCalledTimes(1);
      } finally {
        random.mockRestore();
      }
    }
  });

  it('starts the low half of the random part below 2^39, so a millisecond has room to count up', async () => {
    // A fresh module draws its first random bytes from the system; all of them 0xFF here.
    const fresh = await freshEventModule();
    const random = vi.spyOn(crypto, 'getRandomValues').mockImplementation((array) => {
      new Uint8Array(array.buffer).fill(255);
      return array;
    });
    try {
      const ids = [fresh.createEventId(5_000), fresh.createEventId(5_000), fresh.createEventId(4_000)];
      expect(random).toHaveBeenCalled();
      // The high half all ones; the low half 2^39 − 1, then counting up in the same millisecond.
      expect(ids.map((id) => id.slice(10))).toEqual([
        'ZZZZZZZZFZZZZZZZ',
        'ZZZZZZZZG0000000',
        'ZZZZZZZZG0000001',
      ]);
      expect(ids.map((id) => fresh.eventIdTime(id))).toEqual([5_000, 5_000, 5_000]);
    } finally {
      random.mockRestore();
    }
  });

  it('reads the clock once per 16 ids of a burst, and again in the next task', async () => {
    // Start in a fresh task, with the clock under control.
    await new Promise((resolve) => setTimeout(resolve, 0));
    let clock = 3_000_000_000_000;
    const now = vi.spyOn(Date, 'now').mockImplementation(() => clock++);
    try {
      const burst = Array.from({ length: 40 }, () => createEventId());
      // 40 ids read the clock 3 times: ids 0, 16 and 32. Each carries the reading of its run of 16.
      expect(now).toHaveBeenCalledTimes(3);
      expect(burst.map((id) => eventIdTime(id))).toEqual(
        burst.map((_, i) => 3_000_000_000_000 + Math.floor(i / 16)),
      );
      expect(burst.slice().sort()).toEqual(burst);
      // A microtask later the burst is over: the next id reads the clock, whatever the count.
      await Promise.resolve();
      clock = 3_000_000_001_000;
      const next = createEventId();
      expect(now).toHaveBeenCalledTimes(4);
      expect(eventIdTime(next)).toBe(3_000_000_001_000);
      // A time given is used as it is, and leaves the clock alone.
      expect(eventIdTime(createEventId(3_000_000_002_000))).toBe(3_000_000_002_000);
      expect(now).toHaveBeenCalledTimes(4);
    } finally {
      now.mockRestore();
    }
  });

  it('forgets the reading once per read, not again at a later read of the same burst (documented)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    let clock = 3_000_000_005_000;
    const now = vi.spyOn(Date, 'now').mockImplementation(() => clock++);
    try {
      let inner = '';
      let later = '';
      const first = createEventId(); // reads the clock, queues the reaction that forgets the reading
      // Runs once the reading is forgotten: reads the clock again, and queues a new forgetting.
      const queued = Promise.resolve().then(() => {
        inner = createEventId();
      });
      const burst = Array.from({ length: 16 }, () => createEventId()); // the last reads the clock
      // Queued before the new forgetting: takes the reading of `inner`, as any reaction queued before it.
      const queuedLater = Promise.resolve().then(() => {
        later = createEventId();
      });
      await Promise.all([queued, queuedLater]);
      expect([first, burst[14]!, burst[15]!, inner, later].map((id) => eventIdTime(id))).toEqual([
        3_000_000_005_000, 3_000_000_005_000, 3_000_000_005_001, 3_000_000_005_002, 3_000_000_005_002,
      ]);
      expect(now).toHaveBeenCalledTimes(3);
    } finally {
      now.mockRestore();
    }
  });

  it('lends the reading to a promise reaction queued before the first id of a task (documented)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    let clock = 3_000_000_010_000;
    const now = vi.spyOn(Date, 'now').mockImplementation(() => clock);
    try {
      let early = '';
      const queued = Promise.resolve().then(() => {
        clock += 60_000; // a minute of work in a reaction queued before the first id
        early = createEventId();
      });
      const first = createEventId(); // reads the clock, queues the reaction that forgets it
      await queued;
      expect(eventIdTime(first)).toBe(3_000_000_010_000);
      expect(eventIdTime(early)).toBe(3_000_000_010_000); // not the minute later: docs/event.md, Ids
      await Promise.resolve();
      expect(eventIdTime(createEventId())).toBe(3_000_000_070_000); // forgotten by now
    } finally {
      now.mockRestore();
    }
  });
});
