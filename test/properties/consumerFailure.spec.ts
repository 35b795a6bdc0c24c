/**
 * adaptiveBatch, hybridProcess, persist and chainHooks, property: a consumer (a `Subscriber`, so its
 * exception reaches the operator) that pushes more input re-entrantly, takes its time (the clock advances
 * while it reacts) and throws on random outputs, on virtual time with configuration changes, some made by
 * the consumer (adaptiveBatch), mixed lanes (hybridProcess) and writes settling at random (persist):
 * every input the operator received comes out exactly once, in order (adaptiveBatch), as exactly one
 * outcome (hybridProcess), written then emitted in each lane's order (persist), and the output ends with
 * the first failure — the consumer's first exception, or the source's error before it. Once the consumer
 * threw, the source is left: nothing it pushes afterwards, nor any later arrival, is read. Nothing is
 * thrown at the source or the scheduler.
 */
import fc from 'fast-check';
import { defer, map, of, Subject, tap, timer, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  chainHooks,
  createEvent,
  type Event,
  fixedPolicy,
  type HookChainOutput,
  type HookContext,
  type HybridOutput,
  hybridProcess,
  Priority,
  persist,
} from '../../src/index.js';
import { ThrowingConsumer } from '../helpers/consumer.js';

const arrival = fc.record({ at: fc.integer({ min: 0, max: 40 }) });
/**
 * What the consumer does on its n-th output: push this many more inputs, the clock advancing `wait` ms
 * before each push and after the last (it takes its time), then throw or not.
 */
const reaction = fc.record({
  push: fc.integer({ min: 0, max: 3 }),
  raise: fc.boolean(),
  wait: fc.constantFrom(0, 1, 2, 5),
});
const ending = fc.constantFrom('complete', 'error', 'none');
/** At most this many inputs pushed by the consumer in a run (else it would feed itself forever). */
const PUSHES = 15;

/**
 * A `VirtualTimeScheduler` whose clock never goes back. A consumer may advance `frame` (it takes its
 * time); the actions that fell due meanwhile then run late, at the current frame, as a real timer
 * does — `VirtualTimeScheduler.flush` would set the clock back to each one's due frame.
 */
class MonotonicScheduler extends VirtualTimeScheduler {
  override flush(): void {
    for (let action = this.actions.shift(); action !== undefined; action = this.actions.shift()) {
      this.frame = Math.max(this.frame, action.delay);
      const error: unknown = action.execute(action.state, action.delay);
      if (error) {
        for (let rest = this.actions.shift(); rest !== undefined; rest = this.actions.shift())
          rest.unsubscribe();
        throw error;
      }
    }
  }
}

/**
 * Once the consumer threw (at `receivedAtThrow` inputs received), the source is left: unsubscribed,
 * nothing read after the throw. Until then, a source that did not end is still read.
 */
function expectSourceLeft(
  input: { readonly observed: boolean },
  received: readonly unknown[],
  receivedAtThrow: number | undefined,
  end: string,
): void {
  if (receivedAtThrow !== undefined) {
    expect(received.length).toBe(receivedAtThrow);
    expect(input.observed).toBe(false);
  } else if (end === 'none') expect(input.observed).toBe(true);
}

/**
 * The output's last notification: the first failure the consumer threw (`first`), else the source's
 * completion, else (a source error or none) a value, not a notification's string.
 */
function expectEndedWith(got: readonly unknown[], first: unknown, end: string): void {
  const last = got.at(-1);
  if (first !== undefined) expect(last).toBe(first);
  else if (end === 'complete') expect(last).toBe('complete');
  else expect(typeof last).not.toBe('string');
}

/**
 * adaptiveBatch's consumer also re-configures the operator: it first sets maxSize (a change re-cuts the
 * open batch, from inside an output), then reacts as `reaction` does (longer waits: past `timeoutMs`).
 */
const batchReaction = fc.record({
  push: fc.integer({ min: 0, max: 3 }),
  raise: fc.boolean(),
  wait: fc.constantFrom(0, 2, 5, 8),
  setMaxSize: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
});

describe('adaptiveBatch property: a consumer that throws', () => {
  it('gets every received item exactly once, in order, then its first exception, also when it takes its time; the source is left', () => {
    fc.assert(
      fc.property(
        fc.array(arrival, { maxLength: 25 }),
        fc.array(batchReaction, { minLength: 1, maxLength: 12 }),
        fc.array(
          fc.record({ at: fc.integer({ min: 0, max: 40 }), maxSize: fc.integer({ min: 1, max: 4 }) }),
          {
            maxLength: 3,
          },
        ),
        ending,
        (arrivals, reactions, changes, end) => {
          const scheduler = new MonotonicScheduler();
          const input = new Subject<number>();
          const operator = adaptiveBatch<number>({
            minSize: 1,
            maxSize: 4,
            maxSizeLimit: 4,
            timeoutMs: 5,
            minTimeoutMs: 1,
            maxTimeoutMs: 10,
            policy: fixedPolicy,
            scheduler,
          });
          const received: number[] = [];
          let next = 0;
          let outputs = 0;
          let pushed = 0;
          let first: string | undefined;
          let receivedAtThrow: number | undefined;
          const consumer = new ThrowingConsumer<number[]>((batch) => {
            const r = reactions[outputs++ % reactions.length]!;
            if (r.setMaxSize !== undefined) operator.setConfig({ maxSize: r.setMaxSize });
            // Counted before the push: it may come back here re-entrantly.
            for (let i = 0; i < r.push && pushed++ < PUSHES; i++) {
              scheduler.frame += r.wait;
              input.next(next++);
            }
            scheduler.frame += r.wait;
            if (r.raise) {
              receivedAtThrow ??= received.length;
              first ??= `error consumer on ${JSON.stringify(batch)}`;
            }
            return r.raise;
          });
          input
            .pipe(
              tap((item) => received.push(item)),
              operator,
            )
            .subscribe(consumer);
          for (const a of arrivals) scheduler.schedule(() => input.next(next++), a.at);
          for (const c of changes) scheduler.schedule(() => operator.setConfig({ maxSize: c.maxSize }), c.at);
          scheduler.schedule(() => {
            if (end === 'error') {
              first ??= 'error source';
              input.error(new Error('source'));
            } else if (end === 'complete') input.complete();
          }, 50);
          expect(() => scheduler.flush()).not.toThrow();
          const batches = consumer.got.filter((o): o is number[] => Array.isArray(o));
          expect(batches.flat()).toEqual(received);
          expect(batches.every((b) => b.length > 0)).toBe(true);
          expectSourceLeft(input, received, receivedAtThrow, end);
          expectEndedWith(consumer.got, first, end);
        },
      ),
      { numRuns: 500 },
    );
  });
});

const spec = fc.record({
  at: fc.integer({ min: 0, max: 40 }),
  type: fc.constantFrom('git.commit', 'tool.used', 'note.aggregated', 'note'),
  priority: fc.constantFrom(Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL),
});

describe('hybridProcess property: a consumer that throws', () => {
  it('gets exactly one outcome per event received, then the first failure; the source is left', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 25 }),
        fc.array(reaction, { minLength: 1, maxLength: 12 }),
        ending,
        fc.constantFrom('sync', 'observable'),
        (specs, reactions, end, kind) => {
          const scheduler = new MonotonicScheduler();
          const input = new Subject<Event>();
          let made = 0;
          const make = (s: { type: string; priority: Priority }) =>
            createEvent({ id: `e${made++}`, type: s.type, priority: s.priority });
          const received: string[] = [];
          let outputs = 0;
          let pushed = 0;
          let first: string | undefined;
          let receivedAtThrow: number | undefined;
          const consumer = new ThrowingConsumer<HybridOutput<string>>(
            (o) => {
              const r = reactions[outputs++ % reactions.length]!;
              for (let i = 0; i < r.push && pushed++ < PUSHES; i++) {
                scheduler.frame += r.wait;
                input.next(
                  make(specs[(outputs + i) % specs.length] ?? { type: 'note', priority: Priority.NORMAL }),
                );
              }
              scheduler.frame += r.wait;
              if (r.raise) {
                receivedAtThrow ??= received.length;
                first ??= `error consumer on ${o.event.id}`;
              }
              return r.raise;
            },
            (o) => o.event.id,
          );
          // A synchronous handler, or one answering on the scheduler 1 ms later.
          const later = <R>(value: R) =>
            kind === 'sync' ? value : timer(1, scheduler).pipe(map(() => value));
          input
            .pipe(
              tap((e) => received.push(e.id)),
              hybridProcess<string>({
                immediate: (e) => later(e.id),
                batch: (es) => later(es.map((e) => e.id)),
                batcher: { minSize: 1, maxSize: 3, minTimeoutMs: 1, timeoutMs: 5 },
                concurrency: { immediate: 2 },
                scheduler,
              }),
            )
            .subscribe(consumer);
          for (const s of specs) scheduler.schedule(() => input.next(make(s)), s.at);
          scheduler.schedule(() => {
            if (end === 'error') {
              first ??= 'error source';
              input.error(new Error('source'));
            } else if (end === 'complete') input.complete();
          }, 50);
          expect(() => scheduler.flush()).not.toThrow();
          const outcomes = consumer.got.filter((o): o is HybridOutput<string> => typeof o !== 'string');
          expect(outcomes.map((o) => o.event.id).sort()).toEqual([...received].sort());
          expectSourceLeft(input, received, receivedAtThrow, end);
          expectEndedWith(consumer.got, first, end);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('persist property: a consumer that throws', () => {
  it('gets every received event written, then emitted, exactly once in its lane’s order, then the first failure; the source is left', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 30 }), critical: fc.boolean() }), {
          maxLength: 20,
        }),
        fc.array(reaction, { minLength: 1, maxLength: 12 }),
        /** Each write: settles synchronously (-1) or after this many ms. */
        fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 4 }),
        ending,
        (arrivals, reactions, delays, maxBatch, end) => {
          const scheduler = new MonotonicScheduler();
          const input = new Subject<Event>();
          const written: string[] = [];
          /** The events whose write has settled (on disk). */
          const done = new Set<string>();
          let writes = 0;
          /** Writes in flight, per lane (NORMAL, CRITICAL); what broke the one-write-per-lane rule. */
          const inFlight = [0, 0];
          const laneSlips: string[] = [];
          const append = (events: Event[], options?: { urgent?: boolean }) => {
            for (const e of events) written.push(e.id);
            // One lane per write, `urgent` for the CRITICAL one, one write in flight per lane.
            const urgent = options?.urgent === true;
            const ids = events.map((e) => e.id).join();
            if (events.some((e) => (e.priority === Priority.CRITICAL) !== urgent))
              laneSlips.push(`${ids} urgent ${urgent}`);
            if (inFlight[Number(urgent)]!++ > 0) laneSlips.push(`${ids} while one was in flight`);
            const delay = delays[writes++ % delays.length]!;
            const settle = () => {
              inFlight[Number(urgent)]!--;
              for (const e of events) done.add(e.id);
              return undefined;
            };
            return delay < 0 ? defer(() => of(settle())) : timer(delay, scheduler).pipe(map(settle));
          };
          let made = 0;
          const isCritical = new Set<string>();
          const make = (critical: boolean) => {
            const id = `e${made++}`;
            if (critical) isCritical.add(id);
            return createEvent({
              id,
              type: 'note',
              timestamp: 0,
              sessionId: 's',
              priority: critical ? Priority.CRITICAL : Priority.NORMAL,
            });
          };
          const received: string[] = [];
          let outputs = 0;
          let pushed = 0;
          let first: string | undefined;
          let receivedAtThrow: number | undefined;
          const emittedUnwritten: string[] = [];
          const consumer = new ThrowingConsumer<Event>(
            (e) => {
              if (!done.has(e.id)) emittedUnwritten.push(e.id);
              const r = reactions[outputs++ % reactions.length]!;
              for (let i = 0; i < r.push && pushed++ < PUSHES; i++) {
                scheduler.frame += r.wait;
                input.next(make(i % 2 === 0));
              }
              scheduler.frame += r.wait;
              if (r.raise) {
                receivedAtThrow ??= received.length;
                first ??= `error consumer on ${e.id}`;
              }
              return r.raise;
            },
            (e) => e.id,
          );
          input
            .pipe(
              tap((e) => received.push(e.id)),
              persist({ append }, { scheduler, maxBatch, maxDelayMs: 2 }),
            )
            .subscribe(consumer);
          for (const a of arrivals) scheduler.schedule(() => input.next(make(a.critical)), a.at);
          scheduler.schedule(() => {
            if (end === 'error') {
              first ??= 'error source';
              input.error(new Error('source'));
            } else if (end === 'complete') input.complete();
          }, 40);
          expect(() => scheduler.flush()).not.toThrow();
          const emitted = consumer.got.filter((o): o is Event => typeof o !== 'string').map((e) => e.id);
          // Each lane keeps the order received; a CRITICAL event may overtake NORMAL ones (and, writes
          // settling out of order, come after NORMAL ones received later).
          const lane = (ids: string[], critical: boolean) =>
            ids.filter((id) => isCritical.has(id) === critical);
          for (const critical of [false, true]) {
            expect(lane(emitted, critical)).toEqual(lane(received, critical));
            expect(lane(written, critical)).toEqual(lane(received, critical));
          }
          expect(emittedUnwritten).toEqual([]);
          expect(laneSlips).toEqual([]);
          expectSourceLeft(input, received, receivedAtThrow, end);
          expectEndedWith(consumer.got, first, end);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('chainHooks property: a consumer that throws', () => {
  it('gets exactly one result per context received, then the first failure; the source is left', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 15 }),
        fc.array(reaction, { minLength: 1, maxLength: 12 }),
        /** Each run of the hook: answers synchronously (-1) or after this many ms. */
        fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        ending,
        (arrivals, reactions, delays, concurrency, maxQueued, end) => {
          const scheduler = new MonotonicScheduler();
          const input = new Subject<HookContext>();
          let runs = 0;
          const operator = chainHooks(
            {
              name: 'c',
              hooks: [
                {
                  name: 'h',
                  run: () => {
                    const delay = delays[runs++ % delays.length]!;
                    return delay < 0 ? {} : timer(delay, scheduler).pipe(map(() => ({})));
                  },
                },
              ],
            },
            { scheduler, concurrency, maxQueued },
          );
          let made = 0;
          const received: number[] = [];
          let outputs = 0;
          let pushed = 0;
          let first: string | undefined;
          let receivedAtThrow: number | undefined;
          const consumer = new ThrowingConsumer<HookChainOutput>(
            () => {
              const r = reactions[outputs++ % reactions.length]!;
              for (let i = 0; i < r.push && pushed++ < PUSHES; i++) {
                scheduler.frame += r.wait;
                input.next({ n: made++ });
              }
              scheduler.frame += r.wait;
              if (r.raise) {
                receivedAtThrow ??= received.length;
                first ??= `error consumer on ${outputs}`;
              }
              return r.raise;
            },
            () => `${outputs}`,
          );
          input
            .pipe(
              tap((c) => received.push(c.n as number)),
              operator,
            )
            .subscribe(consumer);
          for (const at of arrivals) scheduler.schedule(() => input.next({ n: made++ }), at);
          scheduler.schedule(() => {
            if (end === 'error') {
              first ??= 'error source';
              input.error(new Error('source'));
            } else if (end === 'complete') input.complete();
          }, 40);
          expect(() => scheduler.flush()).not.toThrow();
          const results = consumer.got.filter(
            (o): o is HookChainOutput => typeof o !== 'string' && o.kind === 'result',
          );
          expect(results.map((r) => (r.kind === 'result' ? r.final_context.n : -1)).sort()).toEqual(
            [...received].sort(),
          );
          expectSourceLeft(input, received, receivedAtThrow, end);
          expectEndedWith(consumer.got, first, end);
        },
      ),
      { numRuns: 300 },
    );
  });
});
