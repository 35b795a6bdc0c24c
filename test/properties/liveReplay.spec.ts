/**
 * correlate, property: a live run (the live clock on, each event arriving at its own event time on
 * virtual time) and its replay (the same events at once, no live clock) emit the same outputs in the
 * same ORDER, not only the same multiset. Live, an ending whose deadline D passes is emitted at the
 * first clock tick after D or the first event after D, whichever comes first: before that event's own
 * output either way. A replay must place it there too, whatever event (of whichever session) comes
 * first after D.
 */
import fc from 'fast-check';
import { from, type Observable, type OperatorFunction, Subject, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type ActivityData,
  type CorrelationGroup,
  correlate,
  type Event,
  type PatternMatchData,
  type PatternStep,
  type PatternTimeoutData,
  Priority,
  pattern,
} from '../../src/index.js';

const spec = fc.record({
  type: fc.constantFrom('x', 'y', 'z', 'session.ended'),
  session: fc.constantFrom('a', 'b', 'c'),
  /** Event time after the previous event's (arrival = event time: the input is in order). */
  gap: fc.integer({ min: 0, max: 25 }),
});
type Spec = typeof spec extends fc.Arbitrary<infer S> ? S : never;

function eventsOf(specs: readonly Spec[]): Event[] {
  let t = 0;
  return specs.map((s, i) => {
    t += s.gap;
    return {
      id: `e${i}`,
      type: s.type,
      timestamp: t,
      priority: Priority.NORMAL,
      data: {},
      sessionId: s.session,
    };
  });
}

/** Inputs by id; derived events by what they report (their own ids are random). */
function label(event: Event): string {
  const data = event.data as Record<string, unknown>;
  if (event.type.startsWith('activity.')) {
    const d = data as ActivityData;
    return `${event.type}:${event.sessionId}:${d.activity_type}:${d.event_ids}:${d.reason ?? ''}`;
  }
  if (event.type === 'pattern.matched') return `M:${(data as PatternMatchData).events.map((e) => e.id)}`;
  if (event.type === 'pattern.timeout') {
    const d = data as PatternTimeoutData;
    return `T:${d.events.map((e) => e.id)}:${d.expected}:${d.reason}`;
  }
  return event.id;
}

/** Each event pushed at its own time on virtual time; the input completes at the last one's. */
function live(
  events: readonly Event[],
  op: (scheduler: VirtualTimeScheduler) => OperatorFunction<Event, Event>,
) {
  const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
  const input = new Subject<Event>();
  const out: string[] = [];
  input.pipe(op(scheduler)).subscribe((e) => out.push(label(e)));
  for (const e of events) scheduler.schedule(() => input.next(e), e.timestamp);
  scheduler.schedule(() => input.complete(), events.at(-1)?.timestamp ?? 0);
  scheduler.flush();
  return out;
}

function replay(events: readonly Event[], op: OperatorFunction<Event, Event>) {
  const out: string[] = [];
  (from(events) as Observable<Event>).pipe(op).subscribe((e) => out.push(label(e)));
  return out;
}

describe('live run and replay property: the same outputs in the same order', () => {
  it('correlate', () => {
    const any = () => ({ confidence: 1 });
    const groups: CorrelationGroup[] = [
      { name: 'G', eventTypes: ['x', 'y'], windowMs: 40, rule: any },
      {
        name: 'H',
        eventTypes: ['y', 'z'],
        windowMs: 90,
        rule: (e) => (e.length >= 2 ? { confidence: 1 } : null),
      },
    ];
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
        (specs, maxSessions, updateIntervalMs) => {
          const events = eventsOf(specs);
          const options = { maxSessions, ...(updateIntervalMs === undefined ? {} : { updateIntervalMs }) };
          const expected = replay(events, correlate<Event>(groups, options));
          expect(
            live(events, (scheduler) => correlate<Event>(groups, { ...options, liveClock: true, scheduler })),
          ).toEqual(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('pattern', () => {
    const is = (type: string) => (e: Event) => e.type === type;
    const shapes: PatternStep[][] = [
      [is('x'), is('y'), is('z')],
      [is('x'), { match: is('y'), optional: true }, is('z')],
      // Leading optional steps: a partial match's deadline runs from its first required event.
      [{ match: is('x'), optional: true }, { match: is('y'), optional: true }, is('z')],
      [{ match: is('x'), optional: true }, is('y'), { notFollowedBy: is('z') }],
      [is('x'), { notFollowedBy: is('z') }],
      [is('x'), { notFollowedBy: is('y') }, is('z')],
    ];
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 30 }),
        fc.constantFrom(...shapes),
        fc.integer({ min: 40, max: 120 }),
        fc.integer({ min: 1, max: 4 }),
        (specs, steps, within, maxKeys) => {
          const events = eventsOf(specs);
          const expected = replay(events, pattern<Event>(steps, { within, maxKeys }));
          expect(
            live(events, (scheduler) =>
              pattern<Event>(steps, { within, maxKeys, liveClock: true, scheduler }),
            ),
          ).toEqual(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
