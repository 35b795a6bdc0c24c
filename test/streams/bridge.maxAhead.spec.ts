/**
 * `maxAheadMs`, the bridge's opt-in guard against a clock far ahead: one output of a live session stamped
 * by a skewed machine (the year 2099) moved its session's watermark so far that every later event of the
 * session was late, and ended other sessions' `correlate` episodes at once. With the guard such a time
 * is the clock's, marked `context.timestamp_replaced`; without it (the default) nothing is judged by the
 * clock, so a virtual clock starting at 0 keeps real epoch times.
 */
import { asyncScheduler, from, lastValueFrom, type Observable, toArray, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  bridgeHooks,
  ConfigError,
  correlate,
  createHookBridge,
  type Event,
  InvalidEventError,
  isActivity,
  isLateEvent,
  sessionWindows,
  temporalAggregate,
  toEvents,
} from '../../src/index.js';

const NOW = 1_790_000_000_000;
const Y2099 = Date.UTC(2099, 0, 1);
const scheduler = { now: () => NOW, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
const stop = { session_id: 's', hook_event_name: 'Stop' };

/** The time and mark of the event of one push of `stop` at `timestamp`, on a bridge whose clock says NOW. */
function pushed(timestamp: number, options: { maxAheadMs?: number } = {}) {
  const bridge = createHookBridge({ scheduler, ...options });
  const seen: Event[] = [];
  bridge.events$.subscribe((e) => seen.push(e));
  bridge.push('Stop', stop, timestamp);
  return seen.map((e) => [e.timestamp, e.context?.timestamp_replaced]);
}

describe('maxAheadMs: a time further ahead of the clock than that is the clock’s, marked', () => {
  it('push: up to maxAheadMs ahead is kept; past it, the clock, marked; behind (a day, a year) kept', () => {
    const guard = { maxAheadMs: 60_000 };
    expect(pushed(NOW + 60_000, guard)).toEqual([[NOW + 60_000, undefined]]);
    expect(pushed(NOW + 60_001, guard)).toEqual([[NOW, String(NOW + 60_001)]]);
    expect(pushed(Y2099, guard)).toEqual([[NOW, String(Y2099)]]);
    expect(pushed(NOW - 86_400_000, guard)).toEqual([[NOW - 86_400_000, undefined]]);
    expect(pushed(NOW - 365 * 86_400_000, guard)).toEqual([[NOW - 365 * 86_400_000, undefined]]);
    expect(pushed(NOW + 1, { maxAheadMs: 0 })).toEqual([[NOW, String(NOW + 1)]]);
    // A time that is no time is replaced and marked as before.
    expect(pushed(Number.NaN, guard)).toEqual([[NOW, 'NaN']]);
  });

  it('is off by default (and with Infinity): a time ahead is kept, and a virtual clock at 0 keeps real times', () => {
    expect(pushed(Y2099)).toEqual([[Y2099, undefined]]);
    expect(pushed(Y2099, { maxAheadMs: Number.POSITIVE_INFINITY })).toEqual([[Y2099, undefined]]);
    const atZero = { now: () => 0, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
    const events: Event[] = [];
    from([{ hook: 'Stop', output: stop, timestamp: NOW }])
      .pipe(bridgeHooks({ scheduler: atZero }))
      .subscribe((e) => events.push(e));
    expect(events.map((e) => [e.timestamp, e.context?.timestamp_replaced])).toEqual([[NOW, undefined]]);
  });

  it('bridgeHooks and toEvents take it too (toEvents judges by Date.now())', () => {
    const events: Event[] = [];
    from([
      { hook: 'Stop', output: stop, timestamp: Y2099 },
      { hook: 'Stop', output: stop, timestamp: NOW - 5 },
    ])
      .pipe(bridgeHooks({ scheduler, maxAheadMs: 1_000 }))
      .subscribe((e) => events.push(e));
    expect(events.map((e) => [e.timestamp, e.context?.timestamp_replaced])).toEqual([
      [NOW, String(Y2099)],
      [NOW - 5, undefined],
    ]);
    const before = Date.now();
    const [event] = toEvents('Stop', stop, Y2099, { maxAheadMs: 60_000 });
    const after = Date.now();
    expect(event!.context).toMatchObject({ timestamp_replaced: String(Y2099) });
    expect(event!.timestamp).toBeGreaterThanOrEqual(before);
    expect(event!.timestamp).toBeLessThanOrEqual(after);
    expect(toEvents('Stop', stop, Y2099)[0]!.timestamp).toBe(Y2099);
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])(
    'a clock that gives %s cannot judge: the output errors with InvalidEventError, as one to stamp does',
    async (_, time) => {
      const broken = { now: () => time, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
      await expect(
        lastValueFrom(
          from([{ hook: 'Stop', output: stop, timestamp: NOW }]).pipe(
            bridgeHooks({ scheduler: broken, maxAheadMs: 1_000 }),
          ),
        ),
      ).rejects.toThrow(InvalidEventError);
    },
  );

  it('without it, the clock is not read for an output that has a time (as before)', async () => {
    let reads = 0;
    const counted = {
      now: () => {
        reads++;
        return Number.NaN;
      },
      schedule: asyncScheduler.schedule.bind(asyncScheduler),
    };
    const events = await lastValueFrom(
      from([{ hook: 'Stop', output: stop, timestamp: NOW }]).pipe(
        bridgeHooks({ scheduler: counted }),
        toArray(),
      ),
    );
    expect([reads, events.map((e) => e.timestamp)]).toEqual([0, [NOW]]);
  });

  it.each([
    [-1, '-1'],
    [Number.NaN, 'NaN'],
    ['5', "'5'"],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ])('%s is a ConfigError naming the function and the option', (value, shown) => {
    const message = (where: string) =>
      `${where}: maxAheadMs must be a number of ms >= 0 (Infinity, or left out, for no limit), got ${shown}`;
    const options = { maxAheadMs: value as number };
    expect(() => createHookBridge(options)).toThrow(ConfigError);
    expect(() => createHookBridge(options)).toThrow(message('createHookBridge'));
    expect(() => bridgeHooks(options)).toThrow(message('bridgeHooks'));
    expect(() => toEvents('Stop', stop, NOW, options)).toThrow(message('toEvents'));
  });
});

describe('one event of a live session from a machine in 2099 (two sessions, a tool use each second)', () => {
  const T0 = Date.UTC(2026, 11, 7, 6);
  /** 120 s of s1 and s2 on a virtual clock reading T0 + frame; s1's 31st output says 2099. */
  function live(
    operator: (events$: Observable<Event>, clock: VirtualTimeScheduler) => Observable<Event>,
    maxAheadMs?: number,
  ) {
    const clock = new VirtualTimeScheduler();
    clock.now = () => T0 + clock.frame;
    const bridge = createHookBridge({ scheduler: clock, maxAheadMs });
    const out: Event[] = [];
    operator(bridge.events$, clock).subscribe((e) => out.push(e));
    for (let i = 0; i < 120; i++) {
      for (const session_id of ['s1', 's2']) {
        const payload = {
          session_id,
          tool_name: 'Read',
          tool_input: { file_path: `/r/${i}.ts` },
          tool_response: {},
        };
        const time = session_id === 's1' && i === 30 ? Y2099 : T0 + i * 1_000;
        clock.schedule(() => bridge.push('PostToolUse', payload, time), i * 1_000);
      }
    }
    clock.schedule(() => bridge.complete(), 120_000);
    clock.flush();
    return out;
  }
  const late = (out: Event[]) => out.filter(isLateEvent).length;

  it('temporalAggregate: every later event of the session is late without the guard (89 of 89), none with it', () => {
    const op = (events$: Observable<Event>, clock: VirtualTimeScheduler) =>
      events$.pipe(temporalAggregate({ scheduler: clock }));
    expect(late(live(op))).toBe(89);
    const guarded = live(op, 60_000);
    expect(late(guarded)).toBe(0);
    // Nothing lost: 240 tool uses in the aggregates, the replaced one at the clock's time (30 s).
    const aggregated = guarded.filter((e) => e.type === 'tool.used.aggregated');
    expect(aggregated.reduce((n, e) => n + (e.data.events as Event[]).length, 0)).toBe(240);
    const replaced = aggregated
      .flatMap((e) => e.data.events as Event[])
      .filter((e) => e.context?.timestamp_replaced !== undefined);
    expect(replaced.map((e) => [e.sessionId, e.timestamp])).toEqual([['s1', T0 + 30_000]]);
  });

  it('sessionWindows: likewise (89 late without, one window per session with)', () => {
    const op = (events$: Observable<Event>, clock: VirtualTimeScheduler) =>
      events$.pipe(sessionWindows({ gapMs: 30_000, scheduler: clock }));
    expect(late(live(op))).toBe(89);
    const guarded = live(op, 60_000);
    expect(late(guarded)).toBe(0);
    expect(guarded.map((e) => [e.sessionId, e.type, e.data.event_count])).toEqual([
      ['s1', 'session.window', 120],
      ['s2', 'session.window', 120],
    ]);
  });

  it('correlate: the other session’s episode is ended quiet by the jump and begun again without the guard; one episode each with it', () => {
    const group = {
      name: 'reading',
      eventTypes: ['tool.used'],
      windowMs: 60_000,
      rule: (events: readonly Event[]) => (events.length >= 3 ? { confidence: 1 } : null),
    };
    const op = (events$: Observable<Event>) => events$.pipe(correlate([group], { passThrough: false }));
    // Each session's activities: detected, then how each ended.
    const activities = (out: Event[]) =>
      out
        .filter(isActivity)
        .map((e) => `${e.sessionId} ${e.type === 'activity.detected' ? 'detected' : e.data.reason}`);
    expect(activities(live(op))).toEqual([
      's1 detected',
      's2 detected',
      's1 quiet',
      's2 quiet', // ended by s1's jump to 2099, though s2 went on each second
      's1 detected',
      's2 detected',
      's2 quiet', // at the end, as a sweep at 2099 finds it
      's1 flushed',
    ]);
    expect(activities(live(op, 60_000))).toEqual(['s1 detected', 's2 detected', 's1 flushed', 's2 flushed']);
  });
});
