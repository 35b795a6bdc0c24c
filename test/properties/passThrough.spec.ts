/**
 * correlate and pattern, property: every input passes through exactly once, in the order received, on
 * virtual time with the live clock on, when the input completes, errors or goes on, and when the
 * subscriber pushes more input from inside next (re-entrant: while an input or a derived event goes out).
 * Every activity detected ends exactly once when the input completes or errors.
 */
import fc from 'fast-check';
import { type Observable, Subject, tap, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type ActivityData,
  correlate,
  createEvent,
  DEFAULT_CORRELATION_GROUPS,
  type Event,
  type PatternStep,
  pattern,
} from '../../src/index.js';

const SEC = 1_000;

const spec = fc.record({
  type: fc.constantFrom('file.modified', 'test.run', 'tool.used', 'git.commit', 'session.ended'),
  session: fc.constantFrom('a', 'b', undefined),
  /** Event time: the arrival time, plus some skew. */
  skew: fc.integer({ min: -2 * SEC, max: 2 * SEC }),
  arrival: fc.integer({ min: 0, max: 120 }).map((t) => t * SEC),
  path: fc.constantFrom('/src/a.ts', '/src/a.test.ts'),
  passed: fc.boolean(),
  /** When it goes out, the subscriber pushes one more event (re-entrant). */
  echo: fc.boolean(),
  /** When a derived event goes out right after it, the subscriber pushes one more event too. */
  echoDerived: fc.boolean(),
});
type Spec = typeof spec extends fc.Arbitrary<infer S> ? S : never;

const ending = fc.constantFrom('complete', 'error', 'none');

interface Result {
  received: Event[];
  out: Event[];
  terminal?: 'complete' | 'error';
}

function run(
  specs: Spec[],
  end: string,
  build: (scheduler: VirtualTimeScheduler) => (source: Observable<Event>) => Observable<Event>,
): Result {
  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<Event>();
  const received: Event[] = [];
  const out: Event[] = [];
  const result: Result = { received, out };
  const echo = new Set<Event>();
  let echoNextDerived = false;
  let made = 0;
  const make = (s: Spec, at: number) =>
    createEvent({
      id: `e${String(made++).padStart(4, '0')}`,
      type: s.type,
      timestamp: Math.max(0, at + s.skew),
      ...(s.session === undefined ? {} : { sessionId: s.session }),
      data:
        s.type === 'test.run'
          ? { passed: s.passed, file_path: s.path }
          : s.type === 'file.modified'
            ? { file_path: s.path }
            : { tool_name: 'Edit' },
    });
  let ended = false;
  const push = (event: Event) => {
    if (!ended) input.next(event);
  };
  const byEvent = new Map<Event, Spec>();
  build(scheduler)(input.pipe(tap((event) => received.push(event)))).subscribe({
    next: (event) => {
      out.push(event);
      const s = byEvent.get(event);
      if (s === undefined) {
        // A derived event.
        if (echoNextDerived) {
          echoNextDerived = false;
          push(make({ ...specs[0]!, type: 'file.modified', skew: 0 }, scheduler.now()));
        }
        return;
      }
      echoNextDerived = s.echoDerived;
      if (echo.delete(event)) {
        const again = make({ ...s, skew: 0 }, scheduler.now());
        byEvent.set(again, { ...s, echo: false, echoDerived: false });
        push(again);
      }
    },
    error: () => (result.terminal = 'error'),
    complete: () => (result.terminal = 'complete'),
  });
  for (const s of specs) {
    scheduler.schedule(() => {
      const event = make(s, scheduler.now());
      byEvent.set(event, s);
      if (s.echo) echo.add(event);
      push(event);
    }, s.arrival);
  }
  if (end !== 'none') {
    scheduler.schedule(() => {
      ended = true;
      if (end === 'error') input.error(new Error('end'));
      else input.complete();
    }, 121 * SEC);
  }
  scheduler.flush();
  return result;
}

function expectPassedThrough(r: Result) {
  const inputs = new Set<Event>(r.received);
  const passed = r.out.filter((e) => inputs.has(e));
  expect(passed).toEqual(r.received);
}

describe('pass-through operators property: every input once, in order', () => {
  it('correlate passes every input through once, in order, and ends every activity on complete and error', () => {
    const groups = [
      ...DEFAULT_CORRELATION_GROUPS,
      {
        name: 'any-two',
        eventTypes: ['file.modified', 'tool.used'],
        windowMs: 10 * SEC,
        rule: (events: readonly Event[]) => (events.length >= 2 ? { confidence: 0.5 } : null),
      },
    ];
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 40 }),
        fc.record({
          updateIntervalMs: fc.option(
            fc.integer({ min: 1, max: 20 }).map((s) => s * SEC),
            { nil: undefined },
          ),
          maxSessions: fc.integer({ min: 1, max: 3 }),
          maxWindowEvents: fc.integer({ min: 1, max: 5 }),
          maxEventIds: fc.integer({ min: 1, max: 5 }),
        }),
        ending,
        (specs, options, end) => {
          const r = run(specs, end, (scheduler) =>
            correlate(groups, {
              ...(options.updateIntervalMs === undefined
                ? {}
                : { updateIntervalMs: options.updateIntervalMs }),
              maxSessions: options.maxSessions,
              maxWindowEvents: options.maxWindowEvents,
              maxEventIds: options.maxEventIds,
              liveClock: true,
              scheduler,
            }),
          );
          if (end !== 'none') expect(r.terminal).toBe(end);
          expectPassedThrough(r);
          const ids = new Set(r.received.map((e) => e.id));
          const state = new Map<string, number>();
          for (const e of r.out) {
            if (!e.type.startsWith('activity.')) continue;
            const d = e.data as ActivityData;
            for (const id of d.event_ids) expect(ids.has(id)).toBe(true);
            if (e.type === 'activity.detected') {
              expect(state.has(d.activity_id)).toBe(false);
              state.set(d.activity_id, 1);
            } else {
              expect(state.get(d.activity_id)).toBe(1);
              if (e.type === 'activity.ended') state.set(d.activity_id, 2);
            }
          }
          if (end !== 'none') expect([...state.values()].every((s) => s === 2)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('pattern passes every input through once, in order, and matches only inputs', () => {
    const isTestEdit = (e: Event) =>
      e.type === 'file.modified' && String(e.data.file_path).includes('.test.');
    const isSourceEdit = (e: Event) =>
      e.type === 'file.modified' && !String(e.data.file_path).includes('.test.');
    const failing = (e: Event) => e.type === 'test.run' && e.data.passed === false;
    const passing = (e: Event) => e.type === 'test.run' && e.data.passed === true;
    const shapes: PatternStep[][] = [
      [isTestEdit, failing, isSourceEdit, passing],
      [isTestEdit, { match: failing, optional: true }, passing],
      [failing, { notFollowedBy: passing }],
      [isTestEdit, { notFollowedBy: failing }, isSourceEdit],
    ];
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 40 }),
        fc.constantFrom(...shapes),
        fc.integer({ min: 1, max: 30 }).map((s) => s * SEC),
        fc.integer({ min: 1, max: 3 }),
        ending,
        (specs, steps, within, maxKeys, end) => {
          const r = run(specs, end, (scheduler) =>
            pattern(steps, { within, maxKeys, liveClock: true, scheduler }),
          );
          if (end !== 'none') expect(r.terminal).toBe(end);
          expectPassedThrough(r);
          const inputs = new Set<Event>(r.received);
          for (const e of r.out) {
            if (e.type !== 'pattern.matched' && e.type !== 'pattern.timeout') continue;
            for (const matched of (e.data as { events: Event[] }).events)
              expect(inputs.has(matched)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
