/**
 * temporalAggregate and sessionWindows, property: nothing lost with adversarial input the marble specs'
 * properties do not generate — timestamps at and beyond the edges (fractions, 0, 2^53 − 1, 2^53, −1, NaN,
 * ±Infinity), values that are not events, input of an `.aggregated`/`.late`/`session.window` type,
 * a key function that throws or gives odd keys, and a subscriber that pushes more input from inside next
 * (re-entrant) — with random limits, on virtual time; the input completes, errors or goes on.
 */
import fc from 'fast-check';
import { type Observable, Subject, tap, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createEvent, type Event, sessionWindows, temporalAggregate } from '../../src/index.js';

const timestamp = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 300 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      0.5,
      12.25,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER - 1,
      2 ** 53,
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ),
  },
);

const spec = fc.record({
  kind: fc.constantFrom('event', 'event', 'event', 'event', 'event', 'event', 'string', 'number', 'array'),
  type: fc.constantFrom(
    'tool.used',
    'file.modified',
    'x',
    'tool.used.aggregated',
    'x.late',
    'session.window',
  ),
  session: fc.constantFrom('a', 'b', undefined),
  timestamp,
  arrival: fc.integer({ min: 0, max: 300 }),
  /** When this one comes out (alone or inside a window), the subscriber pushes one more event. */
  echo: fc.boolean(),
});

type Spec = typeof spec extends fc.Arbitrary<infer S> ? S : never;

const ending = fc.constantFrom('complete', 'error', 'none');

/** Every input found in the outputs: passed through, inside a window, or as a late event's `event`. */
function found(outputs: unknown[], isWindow: (type: string) => boolean, isLate: (value: unknown) => boolean) {
  const out: unknown[] = [];
  for (const value of outputs) {
    const event = value as Event | null;
    if (event !== null && typeof event === 'object' && !Array.isArray(event) && isWindow(event.type)) {
      if (Array.isArray(event.data?.events)) {
        out.push(...(event.data.events as unknown[]));
        continue;
      }
    }
    if (isLate(value)) out.push((event!.data as { event: unknown }).event);
    else out.push(value);
  }
  return out;
}

interface Result {
  inputs: unknown[];
  outputs: unknown[];
  terminal?: 'complete' | 'error';
}

/**
 * Feeds the specs on a virtual clock through `operator`, with re-entrant echoes; returns every value that
 * went in and every one that came out.
 */
function run(
  specs: Spec[],
  end: string,
  build: (scheduler: VirtualTimeScheduler) => (source: Observable<unknown>) => Observable<unknown>,
  isWindow: (type: string) => boolean,
  isLate: (value: unknown) => boolean,
): Result {
  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<unknown>();
  const inputs: unknown[] = [];
  const outputs: unknown[] = [];
  const echoing = new Set<unknown>();
  let made = 0;
  const make = (s: Spec): unknown => {
    // Distinct values, so that each can be counted.
    if (s.kind === 'string') return `value ${made++}`;
    if (s.kind === 'number') return made++;
    if (s.kind === 'array') return [made++];
    const event = createEvent({
      type: s.type,
      timestamp: 0,
      ...(s.session === undefined ? {} : { sessionId: s.session }),
    });
    // createEvent refuses odd timestamps: set afterwards, as a careless producer would.
    (event as { timestamp: number }).timestamp = s.timestamp;
    return event;
  };
  let ended = false;
  const push = (value: unknown) => {
    // Pushed while the input completes or errors: the Subject drops it.
    if (ended) return;
    input.next(value);
  };
  const result: Result = { inputs, outputs };
  // What the operator received: after a key function failed, it has left the input.
  build(scheduler)(input.pipe(tap((value) => inputs.push(value)))).subscribe({
    next: (value) => {
      outputs.push(value);
      for (const inner of found([value], isWindow, isLate)) {
        if (echoing.has(inner)) {
          echoing.delete(inner);
          // Re-entrant: one more event while the operator is emitting.
          push(createEvent({ type: 'tool.used', timestamp: scheduler.now(), sessionId: 'a' }));
        }
      }
    },
    error: () => (result.terminal = 'error'),
    complete: () => (result.terminal = 'complete'),
  });
  for (const s of specs) {
    const value = make(s);
    if (s.echo) echoing.add(value);
    scheduler.schedule(() => push(value), s.arrival);
  }
  if (end !== 'none') {
    scheduler.schedule(() => {
      ended = true;
      if (end === 'error') input.error(new Error('end'));
      else input.complete();
    }, 1_000);
  }
  scheduler.flush();
  return result;
}

function expectEachOnce(r: Result, outs: unknown[], closed: boolean) {
  const count = (list: unknown[], v: unknown) => list.filter((x) => x === v).length;
  for (const v of outs) expect(r.inputs).toContain(v);
  for (const v of r.inputs) {
    if (closed) expect(count(outs, v)).toBe(1);
    else expect(count(outs, v)).toBeLessThanOrEqual(1);
  }
}

const lateOf = (suffix: (type: string) => boolean) => (value: unknown) => {
  const event = value as Event | null;
  if (event === null || typeof event !== 'object' || typeof event.type !== 'string') return false;
  if (!suffix(event.type)) return false;
  const inner = (event.data as { event?: unknown } | undefined)?.event;
  // An input of a `.late` type is no late event of the operator's: it has no `event` of ours.
  return inner !== undefined && typeof inner === 'object';
};

describe('window operators property: nothing lost, whatever the input', () => {
  it('temporalAggregate emits every input exactly once, with odd timestamps, non-events and re-entrant input', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 40 }),
        fc.record({
          allowedLatenessMs: fc.integer({ min: 0, max: 50 }),
          idleFlushMs: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(Number.POSITIVE_INFINITY)),
          maxEvents: fc.integer({ min: 1, max: 5 }),
          maxOpenWindows: fc.integer({ min: 1, max: 4 }),
          maxIdleSessions: fc.integer({ min: 0, max: 2 }),
        }),
        ending,
        (specs, options, end) => {
          const isWindow = (type: string) => type.endsWith('.aggregated');
          // Only the operator's late events are unwrapped: an input of a `.late` type has no inner event.
          const isLate = lateOf((type) => type.endsWith('.late'));
          const r = run(
            specs,
            end,
            (scheduler) =>
              temporalAggregate({
                ...options,
                windows: { 'tool.used': 10, 'file.modified': 5, x: 1 },
                scheduler,
              }) as never,
            isWindow,
            isLate,
          );
          const outs = found(r.outputs, isWindow, isLate);
          const closed = end !== 'none' || options.idleFlushMs !== Number.POSITIVE_INFINITY;
          if (end !== 'none') expect(r.terminal).toBe(end);
          expectEachOnce(r, outs, closed);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sessionWindows emits every input exactly once, with odd timestamps and keys, non-events and re-entrant input', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 40 }),
        fc.record({
          gapMs: fc.integer({ min: 1, max: 30 }),
          allowedLatenessMs: fc.integer({ min: 0, max: 50 }),
          idleFlushMs: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(Number.POSITIVE_INFINITY)),
          maxEvents: fc.integer({ min: 1, max: 5 }),
          maxOpenWindows: fc.integer({ min: 1, max: 4 }),
          maxIdleKeys: fc.integer({ min: 0, max: 2 }),
        }),
        fc.constantFrom('session', 'type', 'throws-on-b', 'odd'),
        ending,
        (specs, options, keyKind, end) => {
          const key =
            keyKind === 'session'
              ? undefined
              : keyKind === 'type'
                ? (e: Event) => e.type
                : keyKind === 'throws-on-b'
                  ? (e: Event) => {
                      if (e.sessionId === 'b') throw new Error('key');
                      return e.sessionId;
                    }
                  : (e: Event) => (e.sessionId === 'a' ? '' : e.sessionId === 'b' ? 'constructor' : null);
          const isWindow = (type: string) => type === 'session.window';
          const isLate = lateOf((type) => type.endsWith('.late'));
          const r = run(
            specs,
            end,
            (scheduler) =>
              sessionWindows({
                ...options,
                ...(key === undefined ? {} : { key: key as (e: Event) => string | undefined }),
                includeEvents: true,
                scheduler,
              }) as never,
            isWindow,
            isLate,
          );
          const outs = found(r.outputs, isWindow, isLate);
          const keyFailed = keyKind === 'throws-on-b' && r.terminal === 'error';
          const closed = end !== 'none' || options.idleFlushMs !== Number.POSITIVE_INFINITY || keyFailed;
          if (end !== 'none' && !keyFailed) expect(r.terminal).toBe(end);
          expectEachOnce(r, outs, closed);
        },
      ),
      { numRuns: 300 },
    );
  });
});
