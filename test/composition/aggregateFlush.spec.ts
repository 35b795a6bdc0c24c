/**
 * temporalAggregate's flush keeps the live run's order: on complete, a replay (every event at once, no
 * idle rule) emits the windows still open earliest end first, as the idle rule closes them live, also
 * when a key holds a later window within the lateness. Property: one session, two windowed types and one
 * passed through, each event delivered late by at most the lateness (none is late), live on a virtual
 * clock and replayed in the same arrival order: the same aggregates in the same order.
 */
import fc from 'fast-check';
import { from, Subject, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createEvent, type Event, temporalAggregate } from '../../src/index.js';
import { label } from '../helpers/windows.js';

const windows = { a: 4, b: 7 };

function live(arrivals: ReadonlyArray<{ event: Event; arrival: number }>, lateness: number): string[] {
  const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
  const input = new Subject<Event>();
  const out: string[] = [];
  input
    .pipe(temporalAggregate({ windows, allowedLatenessMs: lateness, idleFlushMs: 0, scheduler: clock }))
    .subscribe((e) => out.push(label(e)));
  for (const { event, arrival } of arrivals) clock.schedule(() => input.next(event), arrival);
  clock.schedule(() => input.complete(), arrivals.at(-1)?.arrival ?? 0);
  clock.flush();
  return out;
}

function replayed(events: readonly Event[], lateness: number): string[] {
  const out: string[] = [];
  from(events)
    .pipe(temporalAggregate({ windows, allowedLatenessMs: lateness, idleFlushMs: Number.POSITIVE_INFINITY }))
    .subscribe((e) => out.push(label(e)));
  return out;
}

const at = (type: string, t: number, i: number) =>
  createEvent({ id: `E${String(i).padStart(3, '0')}`, type, timestamp: t, sessionId: 's' });

describe('composition: temporalAggregate flushes in the live run’s order', () => {
  it('a key’s later window after another key’s earlier one', () => {
    // a [0,4) closes live at 6 (its end + the lateness 2); on complete at 7, b [0,7) ends before a [5,9).
    const arrivals = [
      { event: at('b', 0, 0), arrival: 0 },
      { event: at('a', 0, 1), arrival: 0 },
      { event: at('a', 3, 2), arrival: 3 },
      { event: at('a', 5, 3), arrival: 7 },
    ];
    const expected = ['a.aggregated s [0,4) n=2', 'b.aggregated s [0,7) n=1', 'a.aggregated s [5,9) n=1'];
    expect(live(arrivals, 2)).toEqual(expected);
    // Replayed, a [0,4) and a [5,9) went out together, before b [0,7).
    expect(
      replayed(
        arrivals.map((x) => x.event),
        2,
      ),
    ).toEqual(expected);
  });

  it('property: the same aggregates in the same order, live and replayed', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            type: fc.constantFrom('a', 'b', 'x'),
            gap: fc.integer({ min: 0, max: 6 }),
            delay: fc.integer({ min: 0, max: 10 }),
          }),
          { maxLength: 14 },
        ),
        fc.integer({ min: 0, max: 10 }),
        (specs, lateness) => {
          let t = 0;
          const arrivals = specs
            .map((s, i) => {
              t += s.gap;
              return { event: at(s.type, t, i), arrival: t + Math.min(s.delay, lateness) };
            })
            .sort((x, y) => x.arrival - y.arrival);
          // Aggregates only: an event passed through (x) may come before a window live closed at its end
          // plus the lateness, which the replay's watermark (the highest time minus the lateness) has not
          // reached yet (docs/temporalAggregate.md, Determinism: the same aggregates).
          const windowsOf = (out: string[]) => out.filter((l) => l.includes('.aggregated'));
          const events = arrivals.map((x) => x.event);
          expect(windowsOf(replayed(events, lateness))).toEqual(windowsOf(live(arrivals, lateness)));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('composition: temporalAggregate flushes many sessions by end, ties as the idle rule breaks them', () => {
  const windows2 = { a: 5, b: 5 };
  const ev2 = (type: string, t: number, session: string) =>
    createEvent({ type, timestamp: t, sessionId: session });

  it('equal ends: the session whose window opened first, then the type first in windows', () => {
    // Opened B.b, A.a, A.b, B.a: all end at 5. Live, the tick at 5 takes the sessions in the order they
    // became active, and each session's types in the order of `windows`.
    const events = [ev2('b', 0, 'B'), ev2('a', 0, 'A'), ev2('b', 0, 'A'), ev2('a', 0, 'B')];
    const expected = [
      'a.aggregated B [0,5) n=1',
      'b.aggregated B [0,5) n=1',
      'a.aggregated A [0,5) n=1',
      'b.aggregated A [0,5) n=1',
    ];
    const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: string[] = [];
    input
      .pipe(temporalAggregate({ windows: windows2, idleFlushMs: 0, scheduler: clock }))
      .subscribe((e) => live.push(label(e)));
    for (const e of events) clock.schedule(() => input.next(e), 0);
    clock.schedule(() => input.complete(), 10);
    clock.flush();
    expect(live).toEqual(expected);
    const flushed: string[] = [];
    from(events)
      .pipe(temporalAggregate({ windows: windows2, idleFlushMs: Number.POSITIVE_INFINITY }))
      .subscribe((e) => flushed.push(label(e)));
    expect(flushed).toEqual(expected);
  });

  it('windows of many sessions opened in any order go out by end', () => {
    const starts = [7, 3, 9, 1, 8, 2, 6, 0, 5, 4];
    const out: string[] = [];
    from(starts.map((t, i) => ev2('a', t, `s${i}`)))
      .pipe(temporalAggregate({ windows: windows2, idleFlushMs: Number.POSITIVE_INFINITY }))
      .subscribe((e) => out.push(label(e)));
    expect(out).toEqual(
      [...starts].sort((x, y) => x - y).map((t) => `a.aggregated s${starts.indexOf(t)} [${t},${t + 5}) n=1`),
    );
  });
});
