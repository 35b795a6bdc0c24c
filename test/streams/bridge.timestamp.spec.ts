/**
 * The time a hook output carries, at the bridge's edges (`createHookBridge().push`, `bridgeHooks`,
 * `toEvents`): one that is no time in ms is replaced by the clock's, and its events say so.
 */
import { asyncScheduler, from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  bridgeHooks,
  createHookBridge,
  type Event,
  fromJsonLines,
  type HookOutput,
  MAX_TIMESTAMP,
  temporalAggregate,
  toEvents,
} from '../../src/index.js';

const stop = { session_id: 's', hook_event_name: 'Stop' };
const read = {
  hook_event_name: 'PostToolUse',
  session_id: 's',
  tool_name: 'Read',
  tool_input: { file_path: '/r/a.ts' },
  tool_response: {},
};
const NOW = 1_790_000_000_000;
const scheduler = { now: () => NOW, schedule: asyncScheduler.schedule.bind(asyncScheduler) };

/** The events `bridgeHooks` makes of one output, on a clock that says NOW. */
function createEvents(output: HookOutput): Event[] {
  const events: Event[] = [];
  from([output])
    .pipe(bridgeHooks({ scheduler }))
    .subscribe((e) => events.push(e));
  return events;
}

/** The events of one push of `stop` at `timestamp`, on a bridge whose clock says NOW. */
function pushed(timestamp: unknown): Event[] {
  const bridge = createHookBridge({ scheduler });
  const seen: Event[] = [];
  bridge.events$.subscribe((e) => seen.push(e));
  bridge.push('Stop', stop, timestamp as number);
  return seen;
}

describe('a hook output whose timestamp is no time in ms', () => {
  it.each([
    ['NaN', Number.NaN, 'NaN'],
    ['negative', -5, '-5'],
    ['infinite', Number.POSITIVE_INFINITY, 'Infinity'],
    ['an ISO string with an offset', '2026-12-07T06:00:00+01:00', "'2026-12-07T06:00:00+01:00'"],
    ['a numeric string', '1790000000000', "'1790000000000'"],
    ['in microseconds', 1.79e15, '1790000000000000'],
    ['in nanoseconds', 1.79e18, '1790000000000000000'],
    ['one past MAX_TIMESTAMP', MAX_TIMESTAMP + 1, String(MAX_TIMESTAMP + 1)],
  ])(
    'push: %s is replaced by the clock, and the event says so in context.timestamp_replaced',
    (_, given, text) => {
      const [event] = pushed(given);
      expect(event).toMatchObject({ type: 'session.stopped', timestamp: NOW });
      expect(event!.context).toMatchObject({ hook: 'Stop', timestamp_replaced: text });
    },
  );

  it.each([
    ['0', 0],
    ['a time in ms', 1_700_000_000_123],
    ['a fraction of a ms', 12.5],
    ['MAX_TIMESTAMP (9999-12-31T23:59:59.999Z)', MAX_TIMESTAMP],
  ])('push: %s is kept, unmarked', (_, given) => {
    const [event] = pushed(given);
    expect(event!.timestamp).toBe(given);
    expect(event!.context).not.toHaveProperty('timestamp_replaced');
    expect(new Date(MAX_TIMESTAMP).toISOString()).toBe('9999-12-31T23:59:59.999Z');
  });

  it('push: -0 is kept as 0 (JSON has no -0), unmarked', () => {
    const [event] = pushed(-0);
    expect(Object.is(event!.timestamp, 0)).toBe(true);
    expect(event!.context).not.toHaveProperty('timestamp_replaced');
  });

  it('the events of one output still share one context once marked', () => {
    const write = { ...read, tool_name: 'Write', tool_input: { file_path: '/r/b.ts', content: 'x' } };
    const events = toEvents('PostToolUse', write, Number.NaN);
    expect(events.map((e) => e.type)).toEqual(['tool.used', 'file.modified']);
    expect(events[1]!.context).toBe(events[0]!.context);
    expect(events[0]!.context).toMatchObject({ timestamp_replaced: 'NaN' });
  });

  it('push without a timestamp is stamped by the clock, unmarked', () => {
    const [event] = pushed(undefined);
    expect(event!.timestamp).toBe(NOW);
    expect(event!.context).not.toHaveProperty('timestamp_replaced');
  });

  it('toEvents and a rejection are marked too', () => {
    const events = toEvents('PostToolUse', read, Number.NaN);
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(e.context).toMatchObject({ timestamp_replaced: 'NaN' });
    const bridge = createHookBridge({ scheduler });
    const seen: Event[] = [];
    bridge.events$.subscribe((e) => seen.push(e));
    bridge.push('Stop', null, -1);
    expect(seen).toMatchObject([
      { type: 'hook.rejected', timestamp: NOW, context: { timestamp_replaced: '-1' } },
    ]);
  });

  it("fromJsonLines → bridgeHooks: a line's timestamp that is no time (a string, null) is replaced and said so, as a pushed one; an ISO time with its offset is taken", async () => {
    const lines = [
      { hook: 'Stop', output: stop, timestamp: 'soon' },
      { hook_event_name: 'Stop', payload: stop, timestamp: '2026-12-07T06:00:00' },
      { hook: 'Stop', output: stop, timestamp: null },
      { hook: 'Stop', output: stop, timestamp: '2026-12-07T06:00:00Z' },
      { hook: 'Stop', output: stop },
    ];
    const events = await lastValueFrom(
      fromJsonLines([`${lines.map((line) => JSON.stringify(line)).join('\n')}\n`]).pipe(
        bridgeHooks({ scheduler }),
        toArray(),
      ),
    );
    expect(events.map((e) => [e.timestamp, e.context?.timestamp_replaced])).toEqual([
      [NOW, "'soon'"],
      [NOW, "'2026-12-07T06:00:00'"],
      [NOW, 'null'],
      [Date.UTC(2026, 11, 7, 6), undefined],
      [NOW, undefined],
    ]);
  });

  it('givenTimestamp is marked whenever it is not undefined (a valid timestamp beside it is the time a source gave in its place)', () => {
    const events = [
      ...createEvents({ hook: 'Stop', output: stop, timestamp: 5, givenTimestamp: 'x' }),
      ...createEvents({ hook: 'Stop', output: stop, timestamp: -5, givenTimestamp: 'x' }),
      ...createEvents({ hook: 'Stop', output: stop, givenTimestamp: undefined }),
    ];
    expect(events.map((e) => [e.timestamp, e.context?.timestamp_replaced])).toEqual([
      [5, "'x'"],
      [NOW, '-5'],
      [NOW, undefined],
    ]);
  });

  it("fromJsonLines → bridgeHooks: in a log read an hour later, a line whose time is none takes the line before's, marked; no later event of its session is late", async () => {
    const T0 = NOW - 3_600_000;
    for (const bad of [1.7e15, -5, '2026-12-07T06:00:00', '2016-12-31T23:59:60Z', null]) {
      const lines = Array.from({ length: 60 }, (_, i) =>
        JSON.stringify({ hook: 'PostToolUse', output: read, timestamp: i === 20 ? bad : T0 + i * 1_000 }),
      );
      const events = await lastValueFrom(
        fromJsonLines([`${lines.join('\n')}\n`]).pipe(
          bridgeHooks({ scheduler }),
          temporalAggregate({ idleFlushMs: Number.POSITIVE_INFINITY }),
          toArray(),
        ),
      );
      // Stamped NOW, an hour ahead of the lines after it, the 21st line made all 39 late.
      expect(events.filter((e) => e.type.endsWith('.late'))).toEqual([]);
      const windowed = events.flatMap((e) => (e.data.events as Event[] | undefined) ?? []);
      expect(windowed).toHaveLength(60);
      const marked = windowed.filter((e) => e.context?.timestamp_replaced !== undefined);
      expect(marked.map((e) => [e.timestamp, e.context?.timestamp_replaced])).toEqual([
        [T0 + 19_000, typeof bad === 'string' ? `'${bad}'` : String(bad)],
      ]);
    }
    // A bad first line has no line before it: the clock's time, marked, as before.
    const first = await lastValueFrom(
      fromJsonLines([`${JSON.stringify({ hook: 'Stop', output: stop, timestamp: -5 })}\n`]).pipe(
        bridgeHooks({ scheduler }),
        toArray(),
      ),
    );
    expect(first.map((e) => [e.timestamp, e.context?.timestamp_replaced])).toEqual([[NOW, '-5']]);
  });

  it('bridgeHooks: one output in µs no longer makes every later event of temporalAggregate late', async () => {
    const outputs = [
      { hook: 'PostToolUse', output: read, timestamp: NOW },
      { hook: 'PostToolUse', output: read, timestamp: NOW * 1000 },
      { hook: 'PostToolUse', output: read, timestamp: NOW + 10 },
      { hook: 'PostToolUse', output: read, timestamp: NOW + 20 },
    ];
    const events = await lastValueFrom(
      from(outputs).pipe(
        bridgeHooks({ scheduler }),
        temporalAggregate({ idleFlushMs: Number.POSITIVE_INFINITY }),
        toArray(),
      ),
    );
    expect(events.filter((e) => e.type.endsWith('.late'))).toEqual([]);
    expect(events.every((e) => e.timestamp < MAX_TIMESTAMP)).toBe(true);
  });
});
