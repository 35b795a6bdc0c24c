import fc from 'fast-check';
import {
  asyncScheduler,
  config,
  finalize,
  from,
  map,
  mergeMap,
  Observable,
  of,
  type SchedulerLike,
  Subject,
  throwError,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { bridgeHooks, ConfigError, type Event, type HookOutput, Priority } from '../../src/index.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { marbles } from '../helpers/marbles.js';

const SESSION = 'sess-1';
const write: HookOutput = {
  hook: 'PostToolUse',
  output: {
    session_id: SESSION,
    tool_name: 'Write',
    tool_input: { file_path: '/r/a.ts', content: 'x' },
    tool_response: { type: 'create' },
  },
};
const end: HookOutput = { hook: 'SessionEnd', output: { session_id: SESSION, reason: 'logout' } };
const bad: HookOutput = { hook: 'PostToolUse', output: null };

const typeOf = (event: Event) => event.type;

describe('bridgeHooks', () => {
  it(
    'maps each output to its events, in order',
    marbles((m) => {
      const source = m.cold('  --a-----b--c--|', { a: write, b: bad, c: end });
      const subs = '           ^-------------!';
      const expected = '       --(uf)--r--e--|';
      m.expect(source.pipe(bridgeHooks({ scheduler: m.scheduler }), map(typeOf))).toBeObservable(expected, {
        u: 'tool.used',
        f: 'file.created',
        r: 'hook.rejected',
        e: 'session.ended',
      });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'stamps outputs without a timestamp with the scheduler clock, and keeps given ones',
    marbles((m) => {
      const source = m.cold('---a-----b|', { a: write, b: { ...end, timestamp: 42 } });
      const expected = '     ---(xx)--y|';
      m.expect(
        source.pipe(
          bridgeHooks({ scheduler: m.scheduler }),
          map((e) => e.timestamp),
        ),
      ).toBeObservable(expected, { x: 3, y: 42 });
    }),
  );

  it(
    'errors with INVALID_EVENT when its clock is not a time, at the first output it must stamp (an output with a timestamp is not stamped)',
    marbles((m) => {
      // A clock gone wrong: the scheduler's time from 5 on is NaN.
      const clock: SchedulerLike = {
        now: () => (m.scheduler.now() < 5 ? m.scheduler.now() : Number.NaN),
        schedule: m.scheduler.schedule.bind(m.scheduler),
      };
      const source = m.cold('  -a---b-c-a|', { a: write, b: { ...end, timestamp: 42 }, c: end });
      const subs = '           ^------!';
      const expected = '       -(uf)b-#';
      m.expect(source.pipe(bridgeHooks({ scheduler: clock }), map(typeOf))).toBeObservable(
        expected,
        { u: 'tool.used', f: 'file.created', b: 'session.ended' },
        // The marble matcher compares an error by its name and message (its code: the next test).
        expect.objectContaining({
          name: 'InvalidEventError',
          message: expect.stringMatching(/^Invalid event: timestamp/),
        }),
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it('stops a synchronous source at that error, and reports nothing as unhandled', async () => {
    const unhandled: unknown[] = [];
    const previous = config.onUnhandledError;
    config.onUnhandledError = (error) => unhandled.push(error);
    try {
      let pulled = 0;
      function* outputs(): Generator<HookOutput> {
        for (let i = 0; i < 1_000; i++) {
          pulled++;
          yield write;
        }
      }
      const clock: SchedulerLike = {
        now: () => Number.NaN,
        schedule: asyncScheduler.schedule.bind(asyncScheduler),
      };
      const seen: string[] = [];
      let failure: unknown;
      from(outputs())
        .pipe(bridgeHooks({ scheduler: clock }))
        .subscribe({ next: (e) => seen.push(e.type), error: (error) => (failure = error) });
      expect(seen).toEqual([]);
      expect(failure).toMatchObject({ code: 'INVALID_EVENT' });
      expect(pulled).toBe(1);
      // RxJS reports an unhandled error on a timer.
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).toEqual([]);
    } finally {
      config.onUnhandledError = previous;
    }
  });

  it.each([Number.POSITIVE_INFINITY, -1])(
    'errors with INVALID_EVENT when its clock says %s (not a time), as when it says NaN',
    (time) => {
      const clock: SchedulerLike = {
        now: () => time,
        schedule: asyncScheduler.schedule.bind(asyncScheduler),
      };
      const seen: string[] = [];
      let failure: unknown;
      from([end, { ...end, timestamp: 42 }])
        .pipe(bridgeHooks({ scheduler: clock }))
        .subscribe({ next: (e) => seen.push(e.type), error: (error) => (failure = error) });
      expect(seen).toEqual([]);
      expect(failure).toMatchObject({
        code: 'INVALID_EVENT',
        message: expect.stringMatching(/^Invalid event: timestamp/),
      });
    },
  );

  it(
    'turns bad input into HIGH hook.rejected events and keeps going',
    marbles((m) => {
      const source = m.cold('a-b-c-d|', {
        a: null as unknown as HookOutput,
        b: { hook: 'PreToolUse', output: 'a string' },
        c: { hook: 'Stop', output: [1] },
        d: end,
      });
      const expected = '     a-b-c-d|';
      m.expect(
        source.pipe(
          bridgeHooks({ scheduler: m.scheduler }),
          map((e) => `${e.type}/${e.priority}/${String(e.data.hook)}`),
        ),
      ).toBeObservable(expected, {
        a: `hook.rejected/${Priority.HIGH}/unknown`,
        b: `hook.rejected/${Priority.HIGH}/PreToolUse`,
        c: `hook.rejected/${Priority.HIGH}/Stop`,
        d: `session.ended/${Priority.NORMAL}/undefined`,
      });
    }),
  );

  it(
    'completes when empty',
    marbles((m) => {
      const source = m.cold<HookOutput>(' |');
      const subs = '                       (^!)';
      m.expect(source.pipe(bridgeHooks({ scheduler: m.scheduler }))).toBeObservable('|');
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'never emits from never',
    marbles((m) => {
      const source = m.cold<HookOutput>('-');
      const subs = '                     ^';
      m.expect(source.pipe(bridgeHooks({ scheduler: m.scheduler }))).toBeObservable('-');
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'forwards a source error after the events before it',
    marbles((m) => {
      const source = m.cold('  --a--#', { a: end }, new Error('boom'));
      const subs = '           ^----!';
      const expected = '       --e--#';
      m.expect(source.pipe(bridgeHooks({ scheduler: m.scheduler }), map(typeOf))).toBeObservable(
        expected,
        { e: 'session.ended' },
        new Error('boom'),
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'unsubscribes from the source on early unsubscribe',
    marbles((m) => {
      const source = m.hot('   --a--b--c--|', { a: end, b: end, c: end });
      const subs = '           ^-----!';
      const unsub = '          ------!';
      const expected = '       --e--e-';
      m.expect(source.pipe(bridgeHooks({ scheduler: m.scheduler }), map(typeOf)), unsub).toBeObservable(
        expected,
        {
          e: 'session.ended',
        },
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const source = m.hot('   --a--b--c--|', { a: end, b: end, c: end });
      const subs = '           ^-----!';
      const unsub = '          ------!';
      const result = source.pipe(
        mergeMap((x) => of(x)),
        bridgeHooks({ scheduler: m.scheduler }),
        mergeMap((x) => of(x.type)),
      );
      m.expect(result, unsub).toBeObservable('--e--e-', { e: 'session.ended' });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it("reads its scheduler's clock only for outputs without a timestamp of their own", () => {
    let reads = 0;
    const clock = new TestScheduler(() => {});
    const now = clock.now.bind(clock);
    clock.now = () => {
      reads++;
      return now() + 1_000;
    };
    const source = new Subject<HookOutput>();
    const seen: Event[] = [];
    source.pipe(bridgeHooks({ scheduler: clock })).subscribe((e) => seen.push(e));
    source.next({ ...end, timestamp: 42 });
    source.next({ ...write, timestamp: 43 });
    expect(reads).toBe(0);
    source.next(end);
    source.next({ ...bad, timestamp: Number.NaN });
    expect(reads).toBe(2);
    expect(seen.map((e) => e.timestamp)).toEqual([42, 43, 43, 1_000, 1_000]);
  });

  it('stamps with its clock an output whose timestamp is not a finite number ≥ 0, and makes a -0 a 0', () => {
    const clock = { now: () => 7, schedule: () => ({ unsubscribe() {} }) } as unknown as SchedulerLike;
    const source = new Subject<HookOutput>();
    const seen: Event[] = [];
    source.pipe(bridgeHooks({ scheduler: clock })).subscribe((e) => seen.push(e));
    for (const timestamp of [Number.POSITIVE_INFINITY, '5', -1, -0, 0, 5]) {
      source.next({ ...end, timestamp } as unknown as HookOutput);
    }
    // Mapped as they are (not rejected): only the time is the clock's.
    expect(seen.map((e) => [e.type, e.timestamp])).toEqual([
      ['session.ended', 7],
      ['session.ended', 7],
      ['session.ended', 7],
      ['session.ended', 0],
      ['session.ended', 0],
      ['session.ended', 5],
    ]);
    expect(Object.is(seen[3]!.timestamp, 0)).toBe(true);
  });

  it('handles re-entrant pushes in order', () => {
    const input = new Subject<HookOutput>();
    const seen: string[] = [];
    input.pipe(bridgeHooks()).subscribe((event) => {
      seen.push(event.type);
      if (event.type === 'session.ended' && seen.length === 1) input.next(bad);
    });
    input.next(end);
    input.next(end);
    expect(seen).toEqual(['session.ended', 'hook.rejected', 'session.ended']);
  });

  it('delivers an output’s events together: a push from the first of them comes after the last', () => {
    const input = new Subject<HookOutput>();
    const seen: string[] = [];
    let n = 0;
    input.pipe(bridgeHooks()).subscribe((event) => {
      seen.push(event.type);
      // A chain: each event pushes one more output, 100 in all (the first from inside write's first event).
      if (n < 100) {
        n++;
        input.next(n === 1 ? end : { ...end, timestamp: n });
      }
    });
    input.next(write);
    expect(seen.slice(0, 3)).toEqual(['tool.used', 'file.created', 'session.ended']);
    expect(seen).toHaveLength(102);
    expect(seen.slice(2).every((type) => type === 'session.ended')).toBe(true);
  });

  it.each([
    ['completes', (input: Subject<HookOutput>) => input.complete(), '|'],
    ['errors', (input: Subject<HookOutput>) => input.error(new Error('source')), 'error source'],
  ])(
    'emits the rest of the output being delivered when the source %s from inside it, then ends',
    (_, endIt, last) => {
      const input = new Subject<HookOutput>();
      const seen: string[] = [];
      input.pipe(bridgeHooks()).subscribe({
        next: (event) => {
          seen.push(event.type);
          if (seen.length === 1) {
            input.next(end);
            endIt(input);
          }
        },
        error: (error: Error) => seen.push(`error ${error.message}`),
        complete: () => seen.push('|'),
      });
      input.next(write);
      expect(seen).toEqual(['tool.used', 'file.created', 'session.ended', last]);
    },
  );

  it('errors after the events before it when its clock fails on an output pushed from inside another', () => {
    const input = new Subject<HookOutput>();
    const clock = { now: () => Number.NaN, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
    const seen: string[] = [];
    let left = false;
    input
      .pipe(
        finalize(() => {
          left = true;
        }),
        bridgeHooks({ scheduler: clock as SchedulerLike }),
      )
      .subscribe({
        next: (event) => {
          seen.push(event.type);
          // No timestamp: it needs the clock.
          if (seen.length === 1) input.next({ hook: 'SessionEnd', output: { session_id: SESSION } });
          // Nobody reads this one: the source was left at the failure.
          if (seen.length === 2) input.next({ ...end, timestamp: 3 });
        },
        error: (error: Error) => seen.push(error.name),
      });
    input.next({ ...write, timestamp: 1 });
    expect(seen).toEqual(['tool.used', 'file.created', 'InvalidEventError']);
    expect(left).toBe(true);
  });

  it('emits nothing more once the consumer leaves in the middle of an output', () => {
    const input = new Subject<HookOutput>();
    const seen: string[] = [];
    const subscription = input.pipe(bridgeHooks()).subscribe((event) => {
      seen.push(event.type);
      input.next(end);
      subscription.unsubscribe();
    });
    input.next(write);
    input.next(end);
    expect(seen).toEqual(['tool.used']);
    expect(input.observed).toBe(false);
  });

  it('validates its options at construction', () => {
    expect(() => bridgeHooks({ maxPayloadBytes: -1 })).toThrow(ConfigError);
    expect(() => bridgeHooks({ maxDepth: 1.5 })).toThrow(ConfigError);
  });

  it('can be reused on two sources without sharing state', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const operator = bridgeHooks({ scheduler });
      expectObservable(cold('a|', { a: end }).pipe(operator, map(typeOf))).toBe('a|', { a: 'session.ended' });
      expectObservable(cold('-b|', { b: bad }).pipe(operator, map(typeOf))).toBe('-b|', {
        b: 'hook.rejected',
      });
    });
  });
});

describe('bridgeHooks property: nothing lost, never errors', () => {
  const hookName = fc.oneof(
    fc.constantFrom('PostToolUse', 'PreToolUse', 'SessionStart', 'file-watcher', 'pre-commit', 'Stop', 'x'),
    fc.string(),
  );
  const output = fc.oneof(
    fc.jsonValue(),
    fc.anything(),
    fc.record({ session_id: fc.string(), tool_name: fc.string(), tool_input: fc.jsonValue() }),
    fc.record({ changes: fc.array(fc.record({ action: fc.string(), path: fc.string() })) }),
  );
  const input = fc.oneof(
    fc.record({ hook: hookName, output }),
    fc.record({ hook: hookName, output, timestamp: fc.double() }),
    fc.anything(),
  );

  it('emits at least one well-formed event per input and never errors', () => {
    fc.assert(
      fc.property(fc.array(input, { maxLength: 30 }), (inputs) => {
        const perInput: number[] = [];
        // Collected, then checked after the run: an expect inside `next` would surface as an unhandled
        // error of RxJS, not as this property's failure (and fast-check could not shrink it).
        const malformed: unknown[] = [];
        let errored = false;
        let completed = false;
        new Observable<HookOutput>((subscriber) => {
          for (const value of inputs) {
            perInput.push(0);
            subscriber.next(value as HookOutput);
          }
          subscriber.complete();
        })
          .pipe(bridgeHooks())
          .subscribe({
            next: (event) => {
              perInput[perInput.length - 1]! += 1;
              if (
                typeof event.id !== 'string' ||
                typeof event.type !== 'string' ||
                !Number.isFinite(event.timestamp)
              )
                malformed.push(event);
            },
            error: () => {
              errored = true;
            },
            complete: () => {
              completed = true;
            },
          });
        expect(malformed).toEqual([]);
        expect(errored).toBe(false);
        expect(completed).toBe(true);
        expect(perInput.every((count) => count >= 1)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('ends with the exception of a consumer that throws on an event, after what it pushed; the source is left', () => {
    // The exception was thrown at the source (its push), and the output went on.
    const input = new Subject<HookOutput>();
    const end = (session: string): HookOutput => ({
      hook: 'SessionEnd',
      output: { session_id: session, reason: 'x' },
    });
    const consumer = new ThrowingConsumer<Event>(
      (event) => {
        if (event.sessionId !== 'a') return false;
        input.next(end('b'));
        return true;
      },
      (event) => String(event.sessionId),
    );
    input.pipe(bridgeHooks()).subscribe(consumer);
    expect(() => input.next(end('a'))).not.toThrow();
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.sessionId))).toEqual([
      'a',
      'b',
      'error consumer on a',
    ]);
    expect(input.observed).toBe(false);
  });

  it('emits the rest of the output a consumer throws on, and what it pushed, before its exception', () => {
    const input = new Subject<HookOutput>();
    const consumer = new ThrowingConsumer<Event>(
      (event) => {
        if (event.type !== 'tool.used') return false;
        input.next(end);
        return true;
      },
      (event) => event.type,
    );
    input.pipe(bridgeHooks()).subscribe(consumer);
    expect(() => input.next(write)).not.toThrow();
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.type))).toEqual([
      'tool.used',
      'file.created',
      'session.ended',
      'error consumer on tool.used',
    ]);
    expect(input.observed).toBe(false);
  });

  it('ends with the first exception of a consumer that throws on every event of an output', () => {
    const input = new Subject<HookOutput>();
    const consumer = new ThrowingConsumer<Event>(
      () => true,
      (event) => event.type,
    );
    input.pipe(bridgeHooks()).subscribe(consumer);
    input.next(write);
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.type))).toEqual([
      'tool.used',
      'file.created',
      'error consumer on tool.used',
    ]);
  });

  it('ends with the source’s error when it came before the consumer’s exception', () => {
    const input = new Subject<HookOutput>();
    const consumer = new ThrowingConsumer<Event>(
      (event) => {
        if (event.type !== 'tool.used') return true;
        input.error(new Error('source'));
        return false;
      },
      (event) => event.type,
    );
    input.pipe(bridgeHooks()).subscribe(consumer);
    input.next(write);
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.type))).toEqual([
      'tool.used',
      'file.created',
      'error source',
    ]);
  });

  it('does not error on a throwing source getter', () => {
    const hostile = {
      hook: 'Stop',
      get output(): unknown {
        throw new Error('getter');
      },
    };
    const seen: string[] = [];
    let error: unknown;
    of(hostile as HookOutput)
      .pipe(bridgeHooks())
      .subscribe({ next: (e) => seen.push(e.type), error: (e) => (error = e) });
    expect(error).toBeUndefined();
    expect(seen).toEqual(['hook.rejected']);
  });

  it('does not throw on an object whose every trap throws (a hostile Proxy), as input or as output', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
        get() {
          throw new Error('no get');
        },
        getOwnPropertyDescriptor() {
          throw new Error('no descriptor');
        },
        has() {
          throw new Error('no has');
        },
      },
    );
    const seen: Event[] = [];
    let error: unknown;
    const unprintable = {
      hook: 'Stop',
      get output(): unknown {
        throw {
          toString() {
            throw new Error('unprintable');
          },
        };
      },
    };
    of(
      hostile as HookOutput,
      { hook: 'PostToolUse', output: hostile },
      { hook: 'Stop', output: { a: hostile } },
      unprintable as HookOutput,
    )
      .pipe(bridgeHooks())
      .subscribe({ next: (e) => seen.push(e), error: (e) => (error = e) });
    expect(error).toBeUndefined();
    expect(seen.map((e) => e.type)).toEqual([
      'hook.rejected',
      'hook.rejected',
      'hook.rejected',
      'hook.rejected',
    ]);
  });

  it('still forwards real source errors', () => {
    let error: unknown;
    throwError(() => new Error('disk'))
      .pipe(bridgeHooks())
      .subscribe({ error: (e) => (error = e) });
    expect((error as Error).message).toBe('disk');
  });
});
