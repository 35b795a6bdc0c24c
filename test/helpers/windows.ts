/**
 * Helpers for the event-time window specs: event factories, readable labels for marble values, and a
 * virtual-time runner that feeds `[{ time, value }]` arrivals and collects `[{ time, value }]` outputs.
 */
import { type OperatorFunction, type SchedulerLike, Subject, VirtualTimeScheduler } from 'rxjs';
import { createEvent, type Event, Priority } from '../../src/index.js';
import { ThrowingConsumer } from './consumer.js';

/** An event at event time `timestamp`. */
export function ev(
  type: string,
  timestamp: number,
  sessionId?: string,
  data: Record<string, unknown> = {},
  priority: Priority = Priority.NORMAL,
): Event {
  return createEvent({ type, timestamp, data, priority, ...(sessionId === undefined ? {} : { sessionId }) });
}

/**
 * A short, id-free description of an output event, for marble values:
 * `tool.used.aggregated s1 [1,6) n=2`, `tool.used.late window_closed @2`, or `session.started@5`.
 */
export function label(event: Event): string {
  const data = event.data as Record<string, unknown>;
  if (event.type.endsWith('.aggregated')) {
    const w = data.window as { start: number; end: number };
    const part = data.part === 1 ? '' : ` part=${String(data.part)}`;
    return `${event.type} ${event.sessionId ?? '-'} [${w.start},${w.end}) n=${String(data.event_count)}${part}`;
  }
  if (event.type === 'session.window') {
    const span = data.time_span as { start: number; end: number };
    const part = data.part === 1 ? '' : ` part=${String(data.part)}`;
    return `session.window ${String(data.key)} [${span.start},${span.end}] n=${String(data.event_count)}${part}`;
  }
  if (event.type.endsWith('.late')) {
    return `${event.type} ${String(data.reason)} @${event.timestamp}`;
  }
  return `${event.type}@${event.timestamp}`;
}

/** An output without its fresh id (aggregates and late events get new ids in every run). */
export function withoutId(event: Event): Omit<Event, 'id'> {
  const { id: _id, ...rest } = event;
  return rest;
}

export interface Timed<T> {
  time: number;
  value: T;
}

/** A scheduler on `clock` that counts the actions it runs (`fired()`): to check none is left behind. */
export function countingScheduler(clock: VirtualTimeScheduler): {
  scheduler: SchedulerLike;
  fired: () => number;
} {
  let fired = 0;
  const scheduler = {
    now: () => clock.now(),
    schedule: (work: () => void, delay?: number) =>
      clock.schedule(() => {
        fired++;
        work();
      }, delay),
  } as SchedulerLike;
  return { scheduler, fired: () => fired };
}

/** For `arrivals.map(inTurn)`: the i-th event arrives at scheduler time i. */
export function inTurn<T>(value: T, time: number): Timed<T> {
  return { time, value };
}

export interface Collected {
  out: Array<Timed<Event>>;
  /** When the output completed, if it did. */
  completedAt?: number;
  /** When and with what the output errored, if it did. */
  error?: Timed<unknown>;
}

/**
 * Feeds `arrivals` into `build(scheduler)` on a virtual clock, ends the input at `end.time` (with
 * `end.error` if given; never if `end` is absent), runs the clock to the end and returns every output
 * with the virtual time it was emitted at.
 */
export function collect(
  arrivals: ReadonlyArray<Timed<Event>>,
  build: (scheduler: SchedulerLike) => OperatorFunction<Event, Event>,
  end?: { time: number; error?: unknown },
): Collected {
  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<Event>();
  const result: Collected = { out: [] };
  input.pipe(build(scheduler)).subscribe({
    next: (value) => result.out.push({ time: scheduler.now(), value }),
    error: (value: unknown) => {
      result.error = { time: scheduler.now(), value };
    },
    complete: () => {
      result.completedAt = scheduler.now();
    },
  });
  for (const arrival of arrivals) scheduler.schedule(() => input.next(arrival.value), arrival.time);
  if (end !== undefined) {
    scheduler.schedule(() => (end.error === undefined ? input.complete() : input.error(end.error)), end.time);
  }
  scheduler.flush();
  return result;
}

/** Every input id found in `outputs`: passed-through events, events inside windows, late events. */
export function idsIn(outputs: readonly Event[], windowType: (type: string) => boolean): string[] {
  const ids: string[] = [];
  for (const event of outputs) {
    const data = event.data as Record<string, unknown>;
    if (windowType(event.type)) {
      for (const inner of data.events as Event[]) ids.push(inner.id);
    } else if (event.type.endsWith('.late')) {
      ids.push((data.event as Event).id);
    } else {
      ids.push(event.id);
    }
  }
  return ids;
}

/** Deterministic pseudo-random numbers for building test inputs (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A `ThrowingConsumer` (test/helpers/consumer.ts) of events, each named by its `label` (also in the
 * exception's message: `consumer on <label>`).
 */
export class LabelledConsumer extends ThrowingConsumer<Event> {
  constructor(throwsOn: (event: Event) => boolean) {
    super(throwsOn, label);
  }

  /** Every output as its label, then how the output ended (`error <message>` or `complete`). */
  get labels(): string[] {
    return this.got.map((value) => (typeof value === 'string' ? value : label(value)));
  }
}
