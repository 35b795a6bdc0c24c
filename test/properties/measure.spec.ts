/**
 * measure, property: the stream passes through unchanged — every value once, in order, re-entrant ones
 * included — and a `type` function or clock that fails errors it after the failing value went
 * downstream; every value that went downstream before a failure is recorded, once.
 */
import fc from 'fast-check';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createEvent, type Event, EventFlowMetrics, measure } from '../../src/index.js';

describe('measure property: nothing lost', () => {
  it('passes every value through once, in order, records each one measured, and fails after the value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.constantFrom('a', 'b'), echo: fc.boolean() }), { maxLength: 20 }),
        /** The n-th call of `type` throws, if set. */
        fc.option(fc.integer({ min: 1, max: 25 }), { nil: undefined }),
        /** The n-th reading of the clock fails (throws, or gives NaN), if set. */
        fc.option(fc.record({ at: fc.integer({ min: 2, max: 50 }), how: fc.constantFrom('throw', 'nan') }), {
          nil: undefined,
        }),
        fc.constantFrom('complete', 'error'),
        (specs, typeFailsAt, clockFails, end) => {
          let readings = 0;
          let time = 0;
          let ended = false;
          // Readings 1 and later: the metrics' own start time is reading 1.
          const metrics = new EventFlowMetrics({
            now: () => {
              readings++;
              if (clockFails?.at === readings && !ended) {
                if (clockFails.how === 'throw') throw new Error('clock');
                return Number.NaN;
              }
              time += 1;
              return time;
            },
          });
          let typeCalls = 0;
          const input = new Subject<Event>();
          const received: Event[] = [];
          const out: Event[] = [];
          let terminal: string | undefined;
          const echo = new Set<Event>();
          input
            .pipe(
              measure(metrics, {
                type: (event) => {
                  received.push(event);
                  if (++typeCalls === typeFailsAt) throw new Error('type');
                  return event.type;
                },
              }),
            )
            .subscribe({
              next: (event) => {
                out.push(event);
                if (echo.delete(event) && !ended) input.next(createEvent({ type: event.type, timestamp: 0 }));
              },
              error: (error: Error) => (terminal = error.message),
              complete: () => (terminal = 'complete'),
            });
          for (const s of specs) {
            const event = createEvent({ type: s.type, timestamp: 0 });
            if (s.echo) echo.add(event);
            input.next(event);
          }
          const last = readings;
          ended = true;
          if (end === 'error') input.error(new Error('end'));
          else input.complete();
          // The clock failed only while measuring (summary() reads it too).
          if (clockFails !== undefined && clockFails.at > last) expect(terminal).not.toBe('clock');
          // Everything measure took went downstream once, in the order taken.
          expect(out).toEqual(received);
          expect(new Set(out).size).toBe(out.length);
          const failed = terminal === 'type' || terminal === 'clock' || terminal?.startsWith('measure:');
          if (!failed) expect(terminal).toBe(end === 'error' ? 'end' : 'complete');
          const recorded = Object.values(metrics.summary()).reduce((n, s) => n + s.count, 0);
          // All but the ones that failed are recorded: one, or two when a value pushed re-entrantly by the
          // consumer of a failing one fails too (the type and the clock each fail once).
          if (!failed) expect(recorded).toBe(out.length);
          else {
            expect(recorded).toBeLessThanOrEqual(out.length - 1);
            expect(recorded).toBeGreaterThanOrEqual(out.length - 2);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
