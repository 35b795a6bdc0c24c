/**
 * persist, property: nothing is lost, whatever the writer does — writes that succeed, fail, throw, refuse
 * an event, settle synchronously or after random delays (so the two lanes settle out of order) — with
 * random limits (maxBatch, maxPending, maxDelayMs), a source that completes, errors or never ends, a
 * subscriber that pushes more events from inside next (re-entrant), and one that unsubscribes early.
 * Virtual time throughout; only the unhandled-error reports of an early unsubscribe wait for a real tick.
 */
import fc from 'fast-check';
import {
  config,
  EMPTY,
  mergeMap,
  type Observable,
  Subject,
  type Subscription,
  tap,
  throwError,
  timer,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createEvent, type Event, type EventWriter, Priority, persist, StoreError } from '../../src/index.js';

type Outcome = 'ok' | 'fail' | 'throw';

/** One write: frames until it settles (-1: synchronously), and how. */
const writePlan = fc.record({
  delay: fc.integer({ min: -1, max: 4 }),
  outcome: fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'ok', 'fail', 'throw'),
});

const arrival = fc.record({
  at: fc.integer({ min: 0, max: 30 }),
  priority: fc.constantFrom(
    Priority.LOW,
    Priority.NORMAL,
    Priority.HIGH,
    Priority.CRITICAL,
    Priority.CRITICAL,
  ),
  /** refused: the writer refuses every batch holding it; malformed: not an event at all. */
  kind: fc.constantFrom(
    'good',
    'good',
    'good',
    'good',
    'good',
    'good',
    'good',
    'good',
    'refused',
    'malformed',
  ),
  /** Pushes one more event into the source, from inside next, when this one is emitted. */
  echo: fc.boolean(),
});

const scenario = fc.record({
  arrivals: fc.array(arrival, { maxLength: 25 }),
  plans: fc.array(writePlan, { minLength: 1, maxLength: 6 }),
  maxBatch: fc.integer({ min: 1, max: 4 }),
  extraPending: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(Infinity)),
  maxDelayMs: fc.integer({ min: 0, max: 3 }),
  priorityLane: fc.boolean(),
  end: fc.constantFrom('complete', 'error', 'never'),
  endAt: fc.integer({ min: 0, max: 32 }),
  /** Frame at which the subscriber unsubscribes, if any. */
  leaveAt: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

interface Run {
  received: unknown[];
  emitted: Event[];
  written: Event[];
  terminal: { kind: 'complete' } | { kind: 'error'; error: unknown } | undefined;
  unhandled: unknown[];
}

const sourceError = new Error('source failed');

async function run(s: Scenario): Promise<Run> {
  const scheduler = new TestScheduler(() => undefined);
  const refused = new Set<Event>();
  let made = 0;
  const make = (at: number, priority: Priority, kind: string): unknown => {
    const event = createEvent({ id: `e${made++}`, type: 't', timestamp: at, sessionId: 's', priority });
    if (kind === 'malformed') return { ...event, timestamp: -1 };
    if (kind === 'refused') refused.add(event);
    return event;
  };
  const echoes = new Set<unknown>();

  const written: Event[] = [];
  let writes = 0;
  const writer: EventWriter = {
    append(batch) {
      const plan = s.plans[writes++ % s.plans.length]!;
      if (plan.outcome === 'throw') throw new Error('append threw');
      const bad = batch.find((event) => refused.has(event));
      const settle = (): Observable<unknown> => {
        if (bad !== undefined)
          return throwError(() => new StoreError('STORE_INVALID_EVENT', 'refused', { events: [bad] }));
        if (plan.outcome === 'fail') return throwError(() => new Error('write failed'));
        written.push(...batch);
        return EMPTY;
      };
      return plan.delay < 0 ? settle() : timer(plan.delay, scheduler).pipe(mergeMap(settle));
    },
  };

  const source = new Subject<unknown>();
  const received: unknown[] = [];
  const emitted: Event[] = [];
  let terminal: Run['terminal'];
  const unhandled: unknown[] = [];
  config.onUnhandledError = (error) => unhandled.push(error);

  const maxPending = s.extraPending === Infinity ? Infinity : s.maxBatch + s.extraPending;
  let subscription: Subscription | undefined;
  scheduler.schedule(() => {
    subscription = (source as Subject<Event>)
      .pipe(
        tap((event) => received.push(event)),
        persist(writer, {
          maxBatch: s.maxBatch,
          maxPending,
          maxDelayMs: s.maxDelayMs,
          priorityLane: s.priorityLane,
          scheduler,
        }),
      )
      .subscribe({
        next: (event) => {
          emitted.push(event);
          const arrivalOf = s.arrivals[Number(event.id.slice(1))];
          if (arrivalOf?.echo && !echoes.has(event)) {
            echoes.add(event);
            // Re-entrant: a new event pushed into the source while persist is emitting.
            source.next(make(scheduler.now(), Priority.NORMAL, 'good'));
          }
        },
        error: (error) => (terminal = { kind: 'error', error }),
        complete: () => (terminal = { kind: 'complete' }),
      });
  }, 0);
  // Made up front so that ids e0… are the arrivals' (echo events come after).
  const events = s.arrivals.map((a) => make(a.at, a.priority, a.kind));
  s.arrivals.forEach((a, i) => {
    scheduler.schedule(() => source.next(events[i]), a.at);
  });
  if (s.end !== 'never')
    scheduler.schedule(() => (s.end === 'error' ? source.error(sourceError) : source.complete()), s.endAt);
  if (s.leaveAt !== undefined) scheduler.schedule(() => subscription?.unsubscribe(), s.leaveAt);
  scheduler.flush();
  // Reports of errors nobody was left to handle are made on a later (real) task.
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { received, emitted, written, terminal, unhandled };
}

const count = <T>(items: readonly T[], item: T) => items.filter((x) => x === item).length;
const eventsOf = (error: unknown): readonly Event[] =>
  error instanceof StoreError && error.code !== 'BUFFER_OVERFLOW' ? error.events : [];

describe('persist property: nothing lost', () => {
  const saved = config.onUnhandledError;
  afterEach(() => {
    config.onUnhandledError = saved;
  });

  it('emits every event received exactly once or hands it back in the error, whatever the writer does', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario.map((s) => ({ ...s, leaveAt: undefined })),
        async (s) => {
          const r = await run(s);
          expect(r.unhandled).toEqual([]);
          const returned = r.terminal?.kind === 'error' ? eventsOf(r.terminal.error) : [];
          for (const event of r.received) {
            expect(count(r.emitted, event as Event) + count(returned, event as Event)).toBe(1);
          }
          // Nothing comes out that did not go in.
          for (const event of [...r.emitted, ...returned]) expect(r.received).toContain(event);
          // Emitted only once written; handed back only if not written.
          for (const event of r.emitted) expect(count(r.written, event)).toBe(1);
          for (const event of returned) expect(count(r.written, event)).toBe(0);
          // Each lane keeps its order.
          const lane = (critical: boolean) => (e: unknown) =>
            s.priorityLane && (e as Event).priority === Priority.CRITICAL ? critical : !critical;
          for (const critical of [false, true]) {
            const order = r.received.filter(lane(critical));
            const out = r.emitted.filter(lane(critical));
            expect(out).toEqual(order.slice(0, out.length));
          }
          // The stream ends once the source has ended (or been stopped), with everything settled.
          if (s.end !== 'never') expect(r.terminal).toBeDefined();
          if (r.terminal?.kind === 'complete') expect(r.emitted).toHaveLength(r.received.length);
          if (r.terminal === undefined) expect(r.emitted).toHaveLength(r.received.length);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('writes every event received and not emitted after an early unsubscribe, or reports it unhandled', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario.filter((s) => s.leaveAt !== undefined),
        async (s) => {
          const r = await run(s);
          const reported = r.unhandled.flatMap(eventsOf);
          const returned = r.terminal?.kind === 'error' ? eventsOf(r.terminal.error) : [];
          for (const event of r.received) {
            const e = event as Event;
            expect(count(r.emitted, e)).toBeLessThanOrEqual(1);
            // Emitted, handed back in the error, written after the subscriber left, or reported.
            expect(
              count(r.emitted, e) + count(returned, e) + count(r.written, e) + count(reported, e),
            ).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
