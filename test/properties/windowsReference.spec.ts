/**
 * temporalAggregate and sessionWindows, property: what they emit equals a plain reference that sorts the
 * events of each partition and cuts them by the definition (tumbling windows from each window's first
 * event; gaps of `gapMs` or more), run live on virtual time with random disorder within the lateness,
 * times with fractions (one decimal: where `a + gap` and `b - gap` round apart), equal times, custom keys
 * and, for events that arrive in order, parts at `maxEvents`. The marble specs' properties compare a live
 * run with a burst of the same operator, which share any mistake; this compares with the definition.
 */
import fc from 'fast-check';
import type { SchedulerLike } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type AggregatedData,
  createEvent,
  type Event,
  type SessionWindowData,
  sessionWindows,
  temporalAggregate,
} from '../../src/index.js';
import { collect, type Timed } from '../helpers/windows.js';

const canonical = (a: Event, b: Event) =>
  a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** What both operators say of a window (or part), compared field by field with the reference's. */
interface Window {
  key: string;
  part: number;
  ids: string[];
  timestamp: number;
  priority: number;
  context: unknown;
  sessionId: string | undefined;
  span: [number, number];
  extra: unknown;
}

/** The reference's window of `chunk` (sorted), with `extra` (the range, or the types). */
function windowOf(key: string, part: number, chunk: Event[], extra: unknown): Window {
  const last = chunk[chunk.length - 1]!;
  const sessions = new Set(chunk.map((e) => e.sessionId));
  return {
    key,
    part,
    ids: chunk.map((e) => e.id),
    timestamp: last.timestamp,
    priority: Math.max(...chunk.map((e) => e.priority)),
    context: last.context,
    sessionId: sessions.size === 1 ? [...sessions][0] : undefined,
    span: [chunk[0]!.timestamp, last.timestamp],
    extra,
  };
}

function byPartition(
  events: readonly Event[],
  keyOf: (e: Event) => string | undefined,
): Map<string, Event[]> {
  const partitions = new Map<string, Event[]>();
  for (const e of events) {
    const key = keyOf(e);
    if (key === undefined) continue;
    const list = partitions.get(key);
    if (list === undefined) partitions.set(key, [e]);
    else list.push(e);
  }
  for (const list of partitions.values()) list.sort(canonical);
  return partitions;
}

/** `events` (one window, sorted) in parts of `maxEvents`. */
function parts(events: Event[], maxEvents: number): Event[][] {
  const out: Event[][] = [];
  for (let i = 0; i < events.length; i += maxEvents) out.push(events.slice(i, i + maxEvents));
  return out;
}

const sorted = (windows: Window[]) =>
  windows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.ids[0]! < b.ids[0]! ? -1 : 1));

function referenceAggregates(events: readonly Event[], sizes: Record<string, number>, maxEvents: number) {
  const out: Window[] = [];
  const partitions = byPartition(events, (e) =>
    e.type in sizes ? `${e.sessionId ?? '-'} ${e.type}` : undefined,
  );
  for (const [key, list] of partitions) {
    const size = sizes[list[0]!.type]!;
    for (let i = 0; i < list.length; ) {
      const start = list[i]!.timestamp;
      const window: Event[] = [];
      while (i < list.length && list[i]!.timestamp < start + size) window.push(list[i++]!);
      parts(window, maxEvents).forEach((chunk, p) => {
        out.push(windowOf(key, p + 1, chunk, [start, start + size]));
      });
    }
  }
  return sorted(out);
}

function aggregatesIn(outputs: ReadonlyArray<Timed<Event>>): Window[] {
  return sorted(
    outputs
      .map((o) => o.value)
      .filter((e) => e.type.endsWith('.aggregated'))
      .map((e) => {
        const data = e.data as AggregatedData;
        return {
          key: `${e.sessionId ?? '-'} ${data.source_type}`,
          part: data.part,
          ids: data.events!.map((x) => x.id),
          timestamp: e.timestamp,
          priority: e.priority,
          context: e.context,
          sessionId: e.sessionId,
          span: [data.time_span.start, data.time_span.end],
          extra: [data.window.start, data.window.end],
        };
      }),
  );
}

function referenceWindows(
  events: readonly Event[],
  gapMs: number,
  maxEvents: number,
  keyOf: (e: Event) => string | undefined,
) {
  const out: Window[] = [];
  for (const [key, list] of byPartition(events, keyOf)) {
    let window: Event[] = [];
    const close = () => {
      parts(window, maxEvents).forEach((chunk, p) => {
        const types: Record<string, number> = {};
        for (const type of chunk.map((e) => e.type).sort()) types[type] = (types[type] ?? 0) + 1;
        out.push(windowOf(key, p + 1, chunk, types));
      });
      window = [];
    };
    for (const e of list) {
      // Less than gapMs apart: the earlier time plus the gap is beyond the later one.
      if (window.length > 0 && window[window.length - 1]!.timestamp + gapMs <= e.timestamp) close();
      window.push(e);
    }
    close();
  }
  return sorted(out);
}

function windowsIn(outputs: ReadonlyArray<Timed<Event>>): Window[] {
  return sorted(
    outputs
      .map((o) => o.value)
      .filter((e) => e.type === 'session.window')
      .map((e) => {
        const data = e.data as SessionWindowData;
        return {
          key: data.key,
          part: data.part,
          ids: data.events!.map((x) => x.id),
          timestamp: e.timestamp,
          priority: e.priority,
          context: e.context,
          sessionId: e.sessionId,
          span: [data.time_span.start, data.time_span.end],
          extra: data.types,
        };
      }),
  );
}

const spec = fc.record({
  type: fc.constantFrom('tool.used', 'file.modified', 'x'),
  session: fc.constantFrom('a', 'b', undefined),
  /** Event time after the previous event's. */
  step: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(0), {
    weight: 3,
    arbitrary: fc.integer({ min: 0, max: 60 }).map((n) => n / 10),
  }),
  /** Arrival time after the event time: they differ by at most the lateness, 30. */
  delay: fc.integer({ min: 0, max: 30 }),
  priority: fc.constantFrom(0, 1, 2, 3),
  cwd: fc.constantFrom('/a', '/b', undefined),
});
const size = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 10 }) },
  fc.integer({ min: 11, max: 40 }),
  fc.integer({ min: 10, max: 400 }).map((n) => n / 10),
);

type Spec = typeof spec extends fc.Arbitrary<infer S> ? S : never;

/**
 * The arrivals of `specs`: in event-time order (ties by id) when `ordered`, else each `delay` after its
 * time (disorder within the lateness).
 */
function arrivalsOf(specs: readonly Spec[], ordered: boolean): Array<Timed<Event>> {
  let t = 0;
  const arrivals = specs.map((s) => {
    t += s.step;
    const value = createEvent({
      type: s.type,
      timestamp: t,
      priority: s.priority,
      ...(s.session === undefined ? {} : { sessionId: s.session }),
      ...(s.cwd === undefined ? {} : { context: { cwd: s.cwd } }),
    });
    return { time: t + (ordered ? 0 : s.delay), value };
  });
  return arrivals.sort((a, b) => a.time - b.time || (ordered ? canonical(a.value, b.value) : 0));
}

const lateIn = (outputs: ReadonlyArray<Timed<Event>>) =>
  outputs.map((o) => o.value).filter((e) => e.type.endsWith('.late'));

describe('window operators property: the windows of the definition', () => {
  it('temporalAggregate: tumbling windows from each first event, per session and type', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.boolean(),
        size,
        size,
        fc.integer({ min: 1, max: 4 }),
        (specs, idleFlushMs, ordered, toolMs, fileMs, parted) => {
          const arrivals = arrivalsOf(specs, ordered);
          const windows = { 'tool.used': toolMs, 'file.modified': fileMs };
          // Parts are cut in arrival order: compared with the reference's only for events in order.
          const maxEvents = ordered ? parted : 1_000;
          const live = collect(
            arrivals,
            (scheduler: SchedulerLike) =>
              temporalAggregate({ windows, allowedLatenessMs: 30, idleFlushMs, maxEvents, scheduler }),
            { time: 10_000 },
          );
          expect(lateIn(live.out)).toEqual([]);
          expect(aggregatesIn(live.out)).toEqual(
            referenceAggregates(
              arrivals.map((a) => a.value),
              windows,
              maxEvents,
            ),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sessionWindows: events less than gapMs apart share a window, per key (custom keys too)', () => {
    const keys: Array<(e: Event) => string | undefined> = [
      (e) => e.sessionId,
      (e) => e.type,
      (e) => e.context?.cwd as string | undefined,
    ];
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.boolean(),
        size,
        fc.constantFrom(0, 1, 2),
        fc.integer({ min: 1, max: 4 }),
        (specs, idleFlushMs, ordered, gapMs, keyIndex, parted) => {
          const arrivals = arrivalsOf(specs, ordered);
          const key = keys[keyIndex]!;
          const maxEvents = ordered ? parted : 1_000;
          const live = collect(
            arrivals,
            (scheduler: SchedulerLike) =>
              sessionWindows({
                gapMs,
                key,
                allowedLatenessMs: 30,
                idleFlushMs,
                maxEvents,
                includeEvents: true,
                scheduler,
              }),
            { time: 10_000 },
          );
          expect(lateIn(live.out)).toEqual([]);
          expect(windowsIn(live.out)).toEqual(
            referenceWindows(
              arrivals.map((a) => a.value),
              gapMs,
              maxEvents,
              key,
            ),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
