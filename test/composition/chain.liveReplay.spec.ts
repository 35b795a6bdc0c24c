/**
 * The whole chain, property: temporalAggregate → correlate → pattern (on correlate's activities and on
 * temporalAggregate's aggregates) gives the same outputs, in the same order, live (each event arriving at
 * its own event time on a virtual clock spread over minutes: the idle rule on, the live clocks on) and
 * replayed from a real store (persisted, then read back all at once: `idleFlushMs: Infinity`, no live
 * clock, as docs/temporalAggregate.md and docs/store.md say). Replayed session by session, merged in
 * timestamp order (then id: the ids here sort as the events were made), as docs/correlate.md#time says
 * a multi-session live run is to be replayed; one session alone is replayed straight from `replay`.
 *
 * Derived events have fresh ids, so outputs are compared by their content, a derived event's id replaced
 * by a digest of the content it stands for wherever it appears (an activity's `activity_id`, an aggregate
 * inside a pattern match).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  from,
  lastValueFrom,
  type Observable,
  type OperatorFunction,
  pipe,
  type SchedulerLike,
  Subject,
  toArray,
  VirtualTimeScheduler,
} from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  correlate,
  type Event,
  type Priority,
  pattern,
  persist,
  replay,
  temporalAggregate,
} from '../../src/index.js';
import { type TempStore, tempStore } from '../helpers/store.js';

const FILES = ['src/a.ts', 'src/b.ts', 'test/a.test.ts'];

const spec = fc.record({
  session: fc.constantFrom('a', 'b', 'c'),
  kind: fc.constantFrom('file', 'file', 'tool', 'tool', 'commit', 'test', 'ended'),
  file: fc.constantFrom(...FILES),
  flag: fc.boolean(),
  priority: fc.constantFrom(0, 1, 1, 1, 2, 3) as fc.Arbitrary<Priority>,
  /** Event time after the previous event's: mostly seconds, sometimes minutes (windows close, episodes go quiet). */
  gap: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 4_000 }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 20_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 400_000 }) },
  ),
});
type Spec = typeof spec extends fc.Arbitrary<infer S> ? S : never;

let run = 0;

/** Events in input order; ids sort in that order, sessions are new for each run (one store for all). */
function eventsOf(specs: readonly Spec[], sessions: readonly string[] | undefined): Event[] {
  run++;
  let t = 1_800_000_000_000;
  return specs.map((s, i) => {
    t += s.gap;
    const sessionId = `r${run}-${sessions === undefined ? s.session : sessions[0]}`;
    const base = {
      id: `E${String(run).padStart(6, '0')}${String(i).padStart(6, '0')}`,
      timestamp: t,
      priority: s.priority,
      sessionId,
      context: { hook: s.kind, n: i },
    };
    switch (s.kind) {
      case 'file':
        return { ...base, type: 'file.modified', data: { file_path: s.file, size: i } };
      case 'tool':
        return { ...base, type: 'tool.used', data: { tool_name: s.flag ? 'Edit' : 'Bash', success: true } };
      case 'commit':
        return { ...base, type: 'git.commit', data: { message: s.flag ? 'fix: the rounding' : 'feat: csv' } };
      case 'test':
        return { ...base, type: 'test.run', data: { passed: s.flag } };
      default:
        return { ...base, type: 'session.ended', data: {} };
    }
  });
}

const is = (type: string) => (e: Event) => e.type === type;
const isBugFix = (e: Event) => e.type === 'activity.detected' && e.data.activity_type === 'bug-fix';
const isPassingRun = (e: Event) => e.type === 'test.run' && e.data.passed === true;

/**
 * The chain, live (a scheduler: temporalAggregate's idle rule on) or for a replay (none: off). correlate
 * and pattern run on event time alone in both: their live clocks are for input delivered by its own time
 * (docs/correlate.md#time), and below temporalAggregate an event comes up to a window late, an
 * `activity.ended` (stamped at its episode's last event) a quiet time late.
 */
function chain(scheduler: SchedulerLike | undefined): OperatorFunction<Event, Event> {
  return pipe(
    temporalAggregate(
      scheduler === undefined ? { idleFlushMs: Number.POSITIVE_INFINITY } : { scheduler, idleFlushMs: 0 },
    ),
    correlate<Event>(),
    pattern<Event>([isBugFix, isPassingRun], { within: 120_000, name: 'verified-fix' }),
    pattern<Event>([is('tool.used.aggregated'), is('git.commit')], { within: 60_000, name: 'tools-commit' }),
  );
}

/** Each output as text: an input by its id, a derived event by its content (fresh ids digested). */
function labeller(inputs: ReadonlySet<string>) {
  const digests = new Map<string, string>();
  // Keys sorted: an event read back from the store lists its fields in the store's order.
  const replacer = (_key: string, value: unknown) => {
    if (typeof value === 'string') return digests.get(value) ?? value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const record = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((k) => [k, record[k]]),
    );
  };
  return (event: Event): string => {
    if (inputs.has(event.id)) return event.id;
    digests.set(event.id, '@self'); // an activity.detected names itself (activity_id)
    const text = JSON.stringify({ ...event, id: undefined }, replacer);
    const digest = `@${createHash('sha1').update(text).digest('hex').slice(0, 12)}`;
    digests.set(event.id, digest);
    return `${event.type}${digest} ${text}`;
  };
}

type Out = readonly [session: string, label: string];

function live(events: readonly Event[], through = chain): Out[] {
  const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
  const start = events[0]?.timestamp ?? 0;
  // The virtual clock reads event time (minus the first event's, to keep the frames small).
  const clock: SchedulerLike = {
    now: () => scheduler.now() + start,
    schedule: scheduler.schedule.bind(scheduler) as SchedulerLike['schedule'],
  };
  const input = new Subject<Event>();
  const label = labeller(new Set(events.map((e) => e.id)));
  const out: Out[] = [];
  input.pipe(through(clock)).subscribe((e) => out.push([e.sessionId ?? '', label(e)]));
  for (const e of events) scheduler.schedule(() => input.next(e), e.timestamp - start);
  scheduler.schedule(() => input.complete(), (events.at(-1)?.timestamp ?? start) - start);
  scheduler.flush();
  return out;
}

async function replayed(temp: TempStore, events: readonly Event[], through = chain): Promise<Out[]> {
  // Stored as the README's pipeline stores them (no priority lane: the stored order is the order received).
  await lastValueFrom(from(events).pipe(persist(temp.store, { priorityLane: false }), toArray()));
  const sessions = [...new Set(events.map((e) => e.sessionId!))];
  const label = labeller(new Set(events.map((e) => e.id)));
  let source: Observable<Event>;
  if (sessions.length === 1) source = replay(temp.store, sessions[0]!);
  else {
    const read = await Promise.all(sessions.map((s) => lastValueFrom(replay(temp.store, s).pipe(toArray()))));
    source = from(read.flat().sort((x, y) => x.timestamp - y.timestamp || (x.id < y.id ? -1 : 1)));
  }
  const outputs = await lastValueFrom(source.pipe(through(undefined), toArray()), { defaultValue: [] });
  return outputs.map((e) => [e.sessionId ?? '', label(e)] as const);
}

/** Each session's outputs, in order. */
function bySession(outputs: readonly Out[]): Map<string, string[]> {
  const sessions = new Map<string, string[]>();
  for (const [session, label] of outputs) {
    const list = sessions.get(session) ?? [];
    list.push(label);
    sessions.set(session, list);
  }
  return sessions;
}

describe('composition: live run and replay from the store give the same outputs', () => {
  let temp: TempStore;
  beforeAll(async () => {
    temp = await tempStore();
  });
  afterAll(async () => {
    await temp.cleanup();
  });

  it('one session, replayed straight from replay()', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { minLength: 1, maxLength: 40 }), async (specs) => {
        const events = eventsOf(specs, ['a']);
        expect(await replayed(temp, events)).toEqual(live(events));
      }),
      { numRuns: 150 },
    );
  });

  // Merged, the sessions' windows do not keep their places among the other sessions' events: each session
  // has its own watermark (docs/temporalAggregate.md#how-windows-close), which with `idleFlushMs: Infinity`
  // only its own next event (or the end) moves past a window's end, where live the idle rule closes it at
  // its end. So each session's outputs are the live run's, in its order; across sessions only the live
  // clock puts them back in place, and correlate and pattern, whose event time is the stream's (sweeps,
  // pattern's bound on a key's latest time), can then judge otherwise: c's event at 60,002 passing before
  // a's windows closed at 5,001 and 10,000 made pattern forget a's latest time (1), and a's tool.used
  // aggregate (at 0) started a partial match due at 60,000, live 60,001.
  it('several sessions, each replayed, merged in timestamp order: each session gets its live outputs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { minLength: 1, maxLength: 60 }), async (specs) => {
        const events = eventsOf(specs, undefined);
        const aggregateOnly = (scheduler: SchedulerLike | undefined) =>
          temporalAggregate(
            scheduler === undefined
              ? { idleFlushMs: Number.POSITIVE_INFINITY }
              : { scheduler, idleFlushMs: 0 },
          );
        expect(bySession(await replayed(temp, events, aggregateOnly))).toEqual(
          bySession(live(events, aggregateOnly)),
        );
      }),
      { numRuns: 150 },
    );
  });
});
