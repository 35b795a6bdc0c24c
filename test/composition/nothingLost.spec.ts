/**
 * The whole chain, property: nothing lost, nothing twice. Random sessions of events (out of order within
 * and beyond the lateness, some CRITICAL, some without a session) go on a virtual clock through
 * temporalAggregate → correlate → pattern → one of the consumers apps put last (sessionWindows with its
 * events, adaptiveBatch, hybridProcess), with random limits; the input completes or errors. Every input
 * event id is then found exactly once in what came out: passed through, inside an aggregate, a late event
 * or a session window (however deep: a session window holds aggregates and late events), or as a batch's
 * item or an outcome's event. Derived events that only name or copy inputs (activities, pattern matches
 * and timeouts) are not counted. On an error, every input is out before the error, which is the source's.
 * The metrics on the side (`measure` at the head, `hybridProcess`'s `metrics`) count each input, and
 * each outcome, under its type.
 */
import fc from 'fast-check';
import {
  concatMap,
  map,
  type OperatorFunction,
  pipe,
  type SchedulerLike,
  Subject,
  VirtualTimeScheduler,
} from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  type CorrelationGroup,
  correlate,
  createEvent,
  type Event,
  EventFlowMetrics,
  hybridProcess,
  measure,
  type Priority,
  pattern,
  sessionWindows,
  temporalAggregate,
} from '../../src/index.js';

const spec = fc.record({
  type: fc.constantFrom('file.modified', 'tool.used', 'git.commit', 'test.run', 'x', 'session.ended'),
  session: fc.constantFrom('a', 'b', undefined),
  priority: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<Priority>,
  /** Event time after the previous event's… */
  gap: fc.integer({ min: 0, max: 30 }),
  /** …and when it arrives after its event time (disorder, within or beyond the lateness). */
  delay: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 })),
});

const tail = fc.constantFrom('sessionWindows', 'adaptiveBatch', 'hybridProcess');

const settings = fc.record({
  windowA: fc.integer({ min: 1, max: 20 }),
  windowB: fc.integer({ min: 1, max: 30 }),
  lateness: fc.integer({ min: 0, max: 15 }),
  idle: fc.constantFrom(0, 5, Number.POSITIVE_INFINITY),
  maxEvents: fc.integer({ min: 1, max: 6 }),
  maxOpenWindows: fc.integer({ min: 1, max: 4 }),
  gapMs: fc.integer({ min: 1, max: 25 }),
});
type Settings = typeof settings extends fc.Arbitrary<infer S> ? S : never;

const any = () => ({ confidence: 1 });
const groups: CorrelationGroup[] = [
  { name: 'edits', eventTypes: ['file.modified', 'tool.used'], windowMs: 20, rule: any },
  {
    name: 'fix',
    eventTypes: ['file.modified', 'git.commit'],
    windowMs: 50,
    rule: (w) => (w.length > 1 ? any() : null),
  },
];
const is = (type: string) => (e: Event) => e.type === type || e.type === `${type}.aggregated`;

/** `metrics.head`: `measure` at the head; `metrics.outcomes`: hybridProcess's own (the metrics on the side). */
interface Metrics {
  head: EventFlowMetrics;
  outcomes: EventFlowMetrics;
}

function chain(
  s: Settings,
  last: string,
  scheduler: SchedulerLike,
  metrics: Metrics,
): OperatorFunction<Event, Event> {
  const head = pipe(
    measure<Event>(metrics.head),
    temporalAggregate({
      windows: { 'file.modified': s.windowA, 'tool.used': s.windowB },
      allowedLatenessMs: s.lateness,
      idleFlushMs: s.idle,
      maxEvents: s.maxEvents,
      maxOpenWindows: s.maxOpenWindows,
      scheduler,
    }),
    correlate<Event>(groups, { maxSessions: 2 }),
    pattern<Event>([is('file.modified'), is('git.commit'), is('test.run')], { within: 40, maxKeys: 1 }),
  );
  switch (last) {
    case 'sessionWindows':
      return pipe(
        head,
        sessionWindows({
          gapMs: s.gapMs,
          includeEvents: true,
          maxEvents: s.maxEvents,
          idleFlushMs: s.idle,
          allowedLatenessMs: s.lateness,
          scheduler,
        }),
      );
    case 'adaptiveBatch':
      return pipe(
        head,
        adaptiveBatch<Event>({
          maxSize: s.maxEvents,
          timeoutMs: s.gapMs,
          minSize: 1,
          minTimeoutMs: 1,
          scheduler,
        }),
        concatMap((batch) => batch),
      );
    default:
      return pipe(
        head,
        hybridProcess<Event>({
          immediate: (e) => e,
          batch: (events) => events,
          batcher: { maxSize: s.maxEvents, timeoutMs: s.gapMs, minSize: 1, minTimeoutMs: 1 },
          metrics: metrics.outcomes,
          scheduler,
        }),
        map((outcome) => {
          expect(outcome.kind).toBe('result');
          return outcome.event;
        }),
      );
  }
}

/** Counts each input id in `event`, where it holds inputs (not in activities and pattern outputs). */
function count(event: Event, inputs: ReadonlySet<string>, seen: Map<string, number>): void {
  if (inputs.has(event.id)) {
    seen.set(event.id, (seen.get(event.id) ?? 0) + 1);
    return;
  }
  const data = event.data as { events?: Event[]; event?: Event };
  if (event.type.endsWith('.aggregated') || event.type === 'session.window') {
    for (const e of data.events ?? []) count(e, inputs, seen);
  } else if (event.type.endsWith('.late')) count(data.event!, inputs, seen);
}

describe('composition: nothing lost and nothing twice through the whole chain', () => {
  it('every input id is found exactly once at the end, on complete and on error', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 40 }),
        settings,
        tail,
        fc.constantFrom('complete', 'error'),
        (specs, s, last, ending) => {
          const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
          let t = 0;
          const timed = specs.map((e, i) => {
            t += e.gap;
            const event = createEvent({
              id: `E${String(i).padStart(4, '0')}`,
              type: e.type,
              timestamp: t,
              priority: e.priority,
              data: e.type === 'file.modified' ? { file_path: `f${i % 3}` } : {},
              ...(e.session === undefined ? {} : { sessionId: e.session }),
            });
            return { event, arrival: t + e.delay };
          });
          const input = new Subject<Event>();
          const out: Event[] = [];
          let ended: 'complete' | unknown;
          const metrics = { head: new EventFlowMetrics(), outcomes: new EventFlowMetrics() };
          // Nothing can come after the end: RxJS's subscriber drops a next made after it.
          input.pipe(chain(s, last, scheduler, metrics)).subscribe({
            next: (e) => out.push(e),
            complete: () => (ended = 'complete'),
            error: (error) => (ended = error),
          });
          for (const { event, arrival } of timed) scheduler.schedule(() => input.next(event), arrival);
          const failure = new Error('source failed');
          const end = Math.max(0, ...timed.map((x) => x.arrival));
          scheduler.schedule(() => (ending === 'complete' ? input.complete() : input.error(failure)), end);
          scheduler.flush();

          expect(ended).toBe(ending === 'complete' ? 'complete' : failure);
          const inputs = new Set(timed.map((x) => x.event.id));
          const seen = new Map<string, number>();
          for (const e of out) count(e, inputs, seen);
          const missing = [...inputs].filter((id) => seen.get(id) !== 1);
          expect(missing.map((id) => `${id}×${seen.get(id) ?? 0}`)).toEqual([]);

          // The metrics on the side counted every input at the head, under its type, and every outcome.
          const counts = (m: EventFlowMetrics) =>
            Object.fromEntries(Object.entries(m.summary()).map(([type, summary]) => [type, summary.count]));
          const inputTypes: Record<string, number> = {};
          for (const { event } of timed) inputTypes[event.type] = (inputTypes[event.type] ?? 0) + 1;
          expect(counts(metrics.head)).toEqual(inputTypes);
          if (last === 'hybridProcess') {
            const outTypes: Record<string, number> = {};
            for (const e of out) outTypes[e.type] = (outTypes[e.type] ?? 0) + 1;
            expect(counts(metrics.outcomes)).toEqual(outTypes);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
