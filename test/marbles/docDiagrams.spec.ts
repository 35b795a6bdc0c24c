/**
 * The marble diagrams of docs/*.md and of the JSDoc, run as they are written: each test reads the
 * diagram's marbles from the page (and from the JSDoc, which must show the same), so an edit of a
 * diagram that the code does not follow fails here. The notes beside a diagram (its options, what a
 * letter stands for) are what the test sets up and compares.
 *
 * The diagrams of correlate, pattern, sessionWindows and temporalAggregate are also tested beside their
 * operators (test/marbles/correlate.spec.ts, pattern.spec.ts, patternOptional.spec.ts,
 * sessionWindows.spec.ts, temporalAggregate.spec.ts), as copies; here they are read from the page, the
 * times under a source's letters (minutes of event time) included.
 */
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defer,
  firstValueFrom,
  map,
  type Observable,
  of,
  type SchedulerLike,
  tap,
  timer,
  toArray,
} from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ActivityData,
  type AggregatedData,
  adaptiveBatch,
  aggregateHooks,
  aimdPolicy,
  bridgeHooks,
  chainHooks,
  correlate,
  createEvent,
  type Event,
  EventFlowMetrics,
  type FunctionHook,
  fromHookFile,
  fromHookFileMarked,
  fromJsonLines,
  type HookAggregationOutput,
  type HookChainOutput,
  type HookOutput,
  type HookResult,
  type HybridOutput,
  hookEvents,
  hybridProcess,
  measure,
  type PatternMatchData,
  type PatternTimeoutData,
  Priority,
  pattern,
  persist,
  runHook,
  runHookAggregation,
  runHookChain,
  type SessionWindowData,
  sessionWindows,
  systemLoad$,
  temporalAggregate,
} from '../../src/index.js';
import { type Diagram, readDiagram } from '../helpers/diagrams.js';
import { marbles } from '../helpers/marbles.js';
import { E, letter, writer } from '../helpers/persistWriter.js';
import { until } from '../helpers/until.js';

/** The diagram holding `anchor` in the doc page and in the JSDoc, which must agree on `labels`. */
function both(doc: string, source: string, anchor: string, labels: readonly string[]): Diagram {
  const page = readDiagram(doc, anchor);
  const jsdoc = readDiagram(source, anchor);
  const shown = (d: Diagram) =>
    d.lines
      .filter((line) => labels.includes(line.label))
      .map((line) => `${line.label}: ${' '.repeat(line.column - d.column(labels[0]!))}${line.marble}`);
  expect(shown(jsdoc), `the diagram of ${source}`).toEqual(shown(page));
  return page;
}

describe('adaptiveBatch (docs/adaptiveBatch.md, its JSDoc)', () => {
  it(
    'maxSize 3, timeoutMs 5: a full batch, a batch timed out 5 ms after d, the last one on complete',
    marbles((m) => {
      const d = both('docs/adaptiveBatch.md', 'src/operators/adaptiveBatch.ts', 'source:  -a-b-c-d', [
        'source',
        'result',
      ]);
      const batcher = adaptiveBatch<string>({
        maxSize: 3,
        timeoutMs: 5,
        minSize: 1,
        minTimeoutMs: 1,
        scheduler: m.scheduler,
      });
      m.expect(m.cold(d.marble('source')).pipe(batcher)).toBeObservable(d.marble('result'), {
        x: ['a', 'b', 'c'],
        y: ['d'],
        z: ['e'],
      });
    }),
  );

  it(
    'flushes the open batch before the error',
    marbles((m) => {
      const d = readDiagram('docs/adaptiveBatch.md', 'flushed before the error');
      const batcher = adaptiveBatch<string>({
        maxSize: 3,
        timeoutMs: 5,
        minSize: 1,
        minTimeoutMs: 1,
        scheduler: m.scheduler,
      });
      m.expect(m.cold(d.marble('source')).pipe(batcher)).toBeObservable(d.marble('result'), {
        x: ['a', 'b'],
      });
    }),
  );

  it(
    'AIMD, target 10 ms, samples 1, maxSize 4: every batch reported as 20 ms halves maxSize, down to minSize',
    marbles((m) => {
      const d = readDiagram('docs/adaptiveBatch.md', 'AIMD, target 10 ms');
      const batcher = adaptiveBatch<string>({
        maxSize: 4,
        minSize: 1,
        policy: aimdPolicy({ targetLatencyMs: 10, samples: 1 }),
        scheduler: m.scheduler,
      });
      const processed = m.cold(d.marble('source')).pipe(
        batcher,
        tap((batch) => batcher.report({ latencyMs: 20, size: batch.length })),
      );
      m.expect(processed).toBeObservable(d.marble('batches'), {
        x: ['a', 'b', 'c', 'd'],
        y: ['e', 'f'],
        z: ['g'],
        w: ['h'],
      });
      m.expect(batcher.config$.pipe(map((c) => c.maxSize))).toBeObservable(d.marble('config$'), {
        x: 4,
        y: 2,
        z: 1,
      });
    }),
  );
});

describe('measure (docs/metrics.md, its JSDoc)', () => {
  it(
    'passes the stream through unchanged and records a, b, c under their types',
    marbles((m) => {
      const d = both('docs/metrics.md', 'src/operators/metrics.ts', 'source:  --a---b---c', [
        'source',
        'result',
      ]);
      const ev = (id: string, type: string) => createEvent({ id, type, timestamp: 0 });
      const values = { a: ev('a', 'file.modified'), b: ev('b', 'tool.used'), c: ev('c', 'file.modified') };
      const metrics = new EventFlowMetrics();
      m.expect(m.cold(d.marble('source'), values).pipe(measure(metrics))).toBeObservable(
        d.marble('result'),
        values,
      );
      m.flush();
      const summary = metrics.summary();
      expect(Object.keys(summary).sort()).toEqual(['file.modified', 'tool.used']);
      expect(summary['file.modified']?.count).toBe(2);
      expect(summary['tool.used']?.count).toBe(1);
    }),
  );
});

describe('hybridProcess (docs/hybridProcess.md, docs/buffers.md, its JSDoc)', () => {
  const ev = (id: string, type = 'tool.used', priority: Priority = Priority.NORMAL): Event =>
    createEvent({ id, type, priority, timestamp: 0 });
  const events = {
    a: ev('a'),
    b: ev('b'),
    c: ev('c'),
    C: ev('C', 'workflow.failed', Priority.CRITICAL),
    g: ev('g', 'git.commit'),
    h: ev('h', 'hook.rejected', Priority.HIGH),
  };
  /** A result shows as its event's id, an error as `id:CODE`, a drop as `-id#total`. */
  const show = (outcome: HybridOutput<string>): string =>
    outcome.kind === 'result'
      ? outcome.event.id
      : outcome.kind === 'error'
        ? `${outcome.event.id}:${(outcome.error as { code?: string }).code}`
        : `-${outcome.event.id}#${outcome.dropped.data.total}`;
  const batcher = (m: { scheduler: SchedulerLike }, maxSize: number) =>
    adaptiveBatch<Event>({ maxSize, timeoutMs: 5, minSize: 1, minTimeoutMs: 1, scheduler: m.scheduler });
  const handlers = {
    immediate: (e: Event) => e.id,
    batch: (batch: readonly Event[]) => batch.map((e) => e.id),
  };

  it(
    'C overtakes the pending batch [a, b], which times out 5 ms after a',
    marbles((m) => {
      const d = both('docs/hybridProcess.md', 'src/operators/hybridProcess.ts', 'source:  -a-b-C', [
        'source',
        'result',
      ]);
      const result = m
        .cold(d.marble('source'), events)
        .pipe(hybridProcess({ ...handlers, batcher: batcher(m, 10), scheduler: m.scheduler }), map(show));
      m.expect(result).toBeObservable(d.marble('result'), { a: 'a', b: 'b', C: 'C' });
    }),
  );

  it(
    'maxSize 3, batches take 8 ms: C arriving while [a, b, c] is processed does not wait for it',
    marbles((m) => {
      const d = readDiagram('docs/hybridProcess.md', 'batches take 8 ms');
      const result = m.cold(d.marble('source'), events).pipe(
        hybridProcess({
          ...handlers,
          batch: (batch) => timer(8, m.scheduler).pipe(map(() => batch.map((e) => e.id))),
          batcher: batcher(m, 3),
          scheduler: m.scheduler,
        }),
        map(show),
      );
      m.expect(result).toBeObservable(d.marble('result'), { a: 'a', b: 'b', c: 'c', C: 'C' });
    }),
  );

  it(
    'timeoutMs { immediate: 5 }: a handler that never settles is cancelled, its event an error outcome',
    marbles((m) => {
      const d = readDiagram('docs/hybridProcess.md', 'code HANDLER_TIMEOUT');
      const handler = m.cold<string>('-');
      const result = m.cold(d.marble('source'), events).pipe(
        hybridProcess({
          ...handlers,
          immediate: () => handler,
          timeoutMs: { immediate: 5 },
          scheduler: m.scheduler,
        }),
        map(show),
      );
      m.expect(result).toBeObservable(d.marble('result'), { x: 'g:HANDLER_TIMEOUT' });
      m.expect(handler).toHaveSubscriptions(d.marble('handler'));
    }),
  );

  it(
    'concurrency 1, maxQueued 1, drop-newest: the queued g, then h, dropped; g and C processed',
    marbles((m) => {
      const d = readDiagram('docs/buffers.md', 'drop-newest; g NORMAL');
      const result = m.cold(d.marble('source'), events).pipe(
        hybridProcess({
          ...handlers,
          immediate: (e) => timer(10, m.scheduler).pipe(map(() => e.id)),
          concurrency: { immediate: 1 },
          maxQueued: 1,
          overflow: 'drop-newest',
          scheduler: m.scheduler,
        }),
        map(show),
      );
      m.expect(result).toBeObservable(d.marble('result'), { x: '-g#1', y: '-h#2', g: 'g', C: 'C' });
    }),
  );
});

describe('bridgeHooks (docs/bridge.md, its JSDoc)', () => {
  it(
    'a becomes tool.used and file.created together, b a hook.rejected, c a session.ended',
    marbles((m) => {
      const d = both('docs/bridge.md', 'src/streams/bridge.ts', 'source:  --a', ['source', 'result']);
      const values: Record<string, HookOutput> = {
        a: {
          hook: 'PostToolUse',
          output: {
            session_id: 's',
            tool_name: 'Write',
            tool_input: { file_path: '/r/a.ts', content: 'x' },
            tool_response: { type: 'create' },
          },
        },
        b: { hook: 'PostToolUse', output: null },
        c: { hook: 'SessionEnd', output: { session_id: 's', reason: 'logout' } },
      };
      const types = m.cold(d.marble('source'), values).pipe(
        bridgeHooks({ scheduler: m.scheduler }),
        map((e) => e.type),
      );
      m.expect(types).toBeObservable(d.marble('result'), {
        u: 'tool.used',
        f: 'file.created',
        r: 'hook.rejected',
        e: 'session.ended',
      });
    }),
  );
});

describe('persist (docs/store.md, its JSDoc)', () => {
  /** A writer whose every write takes 4 frames, and the batches it was given. */
  const fourFrames = (m: { cold: (marbles: string) => Observable<unknown> }) =>
    writer([() => m.cold('----|')]);

  it(
    'a is written alone; b and c wait for its write, then share one',
    marbles((m) => {
      const d = both('docs/store.md', 'src/store/persist.ts', 'a is written alone', ['source', 'result']);
      const { target, batches } = fourFrames(m);
      m.expect(
        m.cold(d.marble('source'), E).pipe(persist(target, { scheduler: m.scheduler })),
      ).toBeObservable(d.marble('result'), E);
      m.flush();
      expect(batches).toEqual(['a', 'bc']);
    }),
  );

  it(
    'D (CRITICAL) is written at 4 beside a and overtakes b and c; with priorityLane: false it goes with them',
    marbles((m) => {
      const d = both('docs/store.md', 'src/store/persist.ts', 'D is CRITICAL', ['source', 'result']);
      const lane = fourFrames(m);
      m.expect(
        m.cold(d.marble('source'), E).pipe(persist(lane.target, { scheduler: m.scheduler })),
      ).toBeObservable(d.marble('result'), E);
      const noLane = fourFrames(m);
      m.expect(
        m
          .cold(d.marble('source'), E)
          .pipe(persist(noLane.target, { priorityLane: false, scheduler: m.scheduler })),
      ).toBeObservable(d.marble('result', 1), E);
      m.flush();
      expect(lane.batches).toEqual(['a', 'D!', 'bc']);
      expect(noLane.batches).toEqual(['a', 'bcD']);
      expect(letter(E.D!)).toBe('D');
    }),
  );
});

describe('hooks (docs/hooks.md, the JSDoc of runHook, runHookChain, chainHooks, runHookAggregation, aggregateHooks, hookEvents)', () => {
  const ok: HookResult = {};
  type Output = HookChainOutput | HookAggregationOutput<unknown>;
  /**
   * A step shows as the letter of its hook in upper case when completed (`A`), as `hook:status` else;
   * a chain result or an aggregate as `R`, or `X` when its context was rejected (the queue full).
   */
  const show = (output: Output): string => {
    if (output.kind === 'step')
      return output.status === 'completed' ? output.hook.toUpperCase() : `${output.hook}:${output.status}`;
    if ('outcome' in output && output.outcome === 'rejected') return 'X';
    if (output.kind === 'aggregate' && output.error !== undefined)
      return `X:${output.results.map((s) => s.status).join(',')}`;
    return output.kind === 'result' ? `R:${output.outcome}` : 'R';
  };
  /** A function hook `name` answering after `frames` frames each time it runs; `at` gets the frames of its runs' starts. */
  const answering = (
    m: { cold: <T>(marbles: string, values?: Record<string, T>) => Observable<T>; scheduler: SchedulerLike },
    name: string,
    frames: number,
    answer: HookResult = ok,
  ) => {
    const at: number[] = [];
    const hook: FunctionHook = {
      name,
      run: () =>
        defer(() => {
          at.push(m.scheduler.now());
          return m.cold(`${'-'.repeat(frames)}x|`, { x: answer });
        }),
    };
    return { hook, at };
  };

  it(
    'runHook: a step when the hook answers; timed out, and the hook unsubscribed, at timeoutMs',
    marbles((m) => {
      const answered = readDiagram('src/hooks/runHook.ts', 'answers r after 4 frames');
      const r = m.cold(answered.marble('hook'), { r: { decision: 'approve' } as HookResult });
      m.expect(
        runHook({ name: 'h', run: () => r }, {}, { scheduler: m.scheduler }).pipe(
          map((s) => `${s.status}:${JSON.stringify('result' in s ? s.result : undefined)}:${s.event.type}`),
        ),
      ).toBeObservable(answered.marble('result'), { s: 'completed:{"decision":"approve"}:hook.completed' });

      const late = readDiagram('src/hooks/runHook.ts', 'with timeoutMs = 5');
      const slow = m.cold(late.marble('hook'), { r: ok });
      m.expect(
        runHook({ name: 'h', run: () => slow }, {}, { timeoutMs: 5, scheduler: m.scheduler }).pipe(
          map((s) => `${s.status}:${'error' in s ? s.error.code : ''}`),
        ),
      ).toBeObservable(late.marble('result'), { t: 'timed_out:HOOK_TIMEOUT' });
      m.expect(slow).toHaveSubscriptions(late.marble('hook subscriptions'));
    }),
  );

  it(
    'runHookChain: b answers stop_chain, the chain stops, c is never subscribed',
    marbles((m) => {
      const d = both('docs/hooks.md', 'src/hooks/runHookChain.ts', 'b answers { stop_chain: true }', [
        'a',
        'b',
        'result',
      ]);
      const a = m.cold(d.marble('a'), { x: ok });
      const b = m.cold(d.marble('b'), { y: { stop_chain: true } as HookResult });
      let cRuns = 0;
      const chain = {
        name: 'c',
        hooks: [
          { name: 'a', run: () => a },
          { name: 'b', run: () => b },
          {
            name: 'c',
            run: () => {
              cRuns++;
              return of(ok);
            },
          },
        ],
      };
      const run = runHookChain(chain, {}, { scheduler: m.scheduler });
      m.expect(
        run.pipe(map((o) => (o.kind === 'result' ? `R:${o.outcome}:${o.skipped.join()}` : show(o)))),
      ).toBeObservable(d.marble('result'), { A: 'A', B: 'B', R: 'R:stopped:c' });
      // b starts where its line starts: when a has answered.
      m.expect(b).toHaveSubscriptions(`${'-'.repeat(d.column('b') - d.column('a'))}^-!`);
      m.flush();
      expect(cRuns).toBe(0);
    }),
  );

  /** The frames at which the diagram's `h` lines start, counted from the source's start. */
  const starts = (d: Diagram, runs: number) =>
    Array.from({ length: runs }, (_, i) => d.column('h', i) - d.column('source'));

  it(
    'chainHooks: one run at a time, b run when a is done',
    marbles((m) => {
      const d = both(
        'docs/hooks.md',
        'src/hooks/chainHooks.ts',
        '(run for b: starts when the run for a ends)',
        ['source', 'h', 'result'],
      );
      const { hook, at } = answering(m, 'h', d.marble('h').indexOf('x'));
      const output = m
        .cold(d.marble('source'), { a: {}, b: {} })
        .pipe(chainHooks({ name: 'c', hooks: [hook] }, { scheduler: m.scheduler }), map(show));
      m.expect(output).toBeObservable(d.marble('result'), { S: 'H', R: 'R:completed' });
      m.flush();
      expect(at).toEqual(starts(d, 2));
    }),
  );

  it(
    'chainHooks, maxQueued 1: c, finding the queue full, gets its rejected result at once; d waits when b runs',
    marbles((m) => {
      const d = readDiagram('docs/hooks.md', 'c finds the queue full, d comes when b runs');
      const { hook, at } = answering(m, 'h', d.marble('h').indexOf('x'));
      const output = m
        .cold(d.marble('source'), { a: {}, b: {}, c: {}, d: {} })
        .pipe(chainHooks({ name: 'c', hooks: [hook] }, { maxQueued: 1, scheduler: m.scheduler }), map(show));
      m.expect(output).toBeObservable(d.marble('result'), { X: 'X', S: 'H', R: 'R:completed' });
      m.flush();
      expect(at).toEqual(starts(d, 3));
    }),
  );

  it(
    'chainHooks, maxQueued 1 (the JSDoc): a runs, b waits, c is rejected at once',
    marbles((m) => {
      const d = readDiagram(
        'src/hooks/chainHooks.ts',
        'maxQueued 1: a runs, b waits, c finds the queue full',
      );
      const { hook } = answering(m, 'h', 4);
      const output = m
        .cold(d.marble('source'), { a: {}, b: {}, c: {} })
        .pipe(chainHooks({ name: 'c', hooks: [hook] }, { maxQueued: 1, scheduler: m.scheduler }), map(show));
      m.expect(output).toBeObservable(d.marble('result'), { X: 'X', S: 'H', R: 'R:completed' });
    }),
  );

  it(
    'chainHooks: the source fails while a runs and b, c wait: every context runs to its result, then the error',
    marbles((m) => {
      const d = both('docs/hooks.md', 'src/hooks/chainHooks.ts', 'source:   -abc#', ['source', 'result']);
      const { hook, at } = answering(m, 'h', d.marble('h').indexOf('x'));
      const output = m
        .cold(d.marble('source'), { a: {}, b: {}, c: {} })
        .pipe(chainHooks({ name: 'c', hooks: [hook] }, { scheduler: m.scheduler }), map(show));
      m.expect(output).toBeObservable(d.marble('result'), { S: 'H', R: 'R:completed' });
      m.flush();
      expect(at).toEqual(starts(d, 3));
    }),
  );

  it(
    'runHookAggregation, deadlineMs 5: a and b answer, c is cancelled at the deadline, then the aggregate',
    marbles((m) => {
      const d = both('docs/hooks.md', 'src/hooks/aggregateHooks.ts', 'b, c; deadlineMs = 5', [
        'a',
        'b',
        'c',
        'c subs',
        'result',
      ]);
      const cold = (label: string, letter: string) => m.cold(d.marble(label), { [letter]: ok });
      const [a, b, c] = [cold('a', 'x'), cold('b', 'y'), cold('c', 'z')];
      const hooks = [
        { name: 'a', run: () => a },
        { name: 'b', run: () => b },
        { name: 'c', run: () => c },
      ];
      const run = runHookAggregation(hooks, {}, (steps) => steps.map((s) => s.status).join(), {
        deadlineMs: 5,
        scheduler: m.scheduler,
      });
      m.expect(run.pipe(map(show))).toBeObservable(d.marble('result'), {
        A: 'A',
        B: 'B',
        C: 'c:timed_out',
        R: 'R',
      });
      m.expect(c).toHaveSubscriptions(d.marble('c subs'));
    }),
  );

  it(
    'aggregateHooks, deadlineMs 2: a answers after 1 frame, b times out at the deadline',
    marbles((m) => {
      const d = readDiagram('src/hooks/aggregateHooks.ts', 'b (after 3 frames); deadlineMs = 2');
      const a = answering(m, 'a', 1);
      const b = answering(m, 'b', 3);
      const output = m.cold(d.marble('source'), { c: {} }).pipe(
        aggregateHooks([a.hook, b.hook], () => null, { deadlineMs: 2, scheduler: m.scheduler }),
        map(show),
      );
      m.expect(output).toBeObservable(d.marble('result'), { A: 'A', B: 'b:timed_out', R: 'R' });
    }),
  );

  it(
    'aggregateHooks, maxQueued 0: d finds no free run and no room to wait, its aggregate of not_run steps at once',
    marbles((m) => {
      const d = both('docs/hooks.md', 'src/hooks/aggregateHooks.ts', 'd finds no free run', [
        'source',
        'result',
      ]);
      const a = answering(m, 'a', 2);
      const output = m.cold(d.marble('source'), { c: {}, d: {} }).pipe(
        aggregateHooks([a.hook], () => null, { maxQueued: 0, scheduler: m.scheduler }),
        map(show),
      );
      m.expect(output).toBeObservable(d.marble('result'), { X: 'X:not_run', A: 'A', R: 'R' });
    }),
  );

  it(
    'aggregateHooks: the source fails while c runs and d waits: both aggregated, then the error',
    marbles((m) => {
      const d = readDiagram('src/hooks/aggregateHooks.ts', 'the source fails while c runs and d waits');
      const a = answering(m, 'a', 4);
      const output = m.cold(d.marble('source'), { c: {}, d: {} }).pipe(
        aggregateHooks([a.hook], () => null, { scheduler: m.scheduler }),
        map(show),
      );
      m.expect(output).toBeObservable(d.marble('result'), { A: 'A', R: 'R' });
    }),
  );

  it(
    'hookEvents: a step gives its event, a result or aggregate none, a rejected one its hooks.overflow event',
    marbles((m) => {
      const d = readDiagram('src/hooks/hookEvents.ts', 'x = a rejected one');
      const step = { kind: 'step', event: { type: 'hook.completed' } };
      const values = {
        s: step,
        r: { kind: 'result', outcome: 'completed' },
        x: { kind: 'result', outcome: 'rejected', event: { type: 'hooks.overflow' } },
      } as unknown as Record<string, Output>;
      m.expect(
        m.cold(d.marble('source'), values).pipe(
          hookEvents(),
          map((e) => e.type),
        ),
      ).toBeObservable(d.marble('result'), { e: 'hook.completed', o: 'hooks.overflow' });
    }),
  );
});

describe('systemLoad$ (docs/systemLoad.md, its JSDoc)', () => {
  /** The marble with its k-th `s` named by the k-th letter, which stands for the sample's timestamp: its frame, or `first`. */
  const stamped = (marble: string, first?: number) => {
    const values: Record<string, number> = {};
    let k = 0;
    const named = [...marble]
      .map((c, frame) => {
        if (c !== 's') return c;
        const name = String.fromCharCode(97 + k);
        values[name] = k === 0 && first !== undefined ? first : frame;
        k++;
        return name;
      })
      .join('');
    return { named, values };
  };

  it(
    'samples every intervalMs; a subscriber joining at 7 gets the latest sample at once, then each new one',
    marbles((m) => {
      const d = both('docs/systemLoad.md', 'src/streams/systemLoad.ts', 'one SystemLoad every intervalMs', [
        'subscribe',
        'samples',
        'late sub',
        'its samples',
      ]);
      const probe = { cpuPercent: async () => 1, memoryPercent: async () => 2 };
      const load$ = systemLoad$({ intervalMs: 5, probe, scheduler: m.scheduler }).pipe(
        map((s) => s.timestamp),
      );
      // Both subscribers leave at the diagram's end.
      const end = d.marble('samples').length - 1;
      const until = (subscribe: string) => `${subscribe.padEnd(end, '-')}!`;
      const samples = stamped(d.marble('samples'));
      const late = stamped(d.marble('its samples'), samples.values.a);
      m.expect(load$, until(d.marble('subscribe'))).toBeObservable(samples.named, samples.values);
      m.expect(load$, until(d.marble('late sub'))).toBeObservable(late.named, late.values);
      expect(samples.values.a).toBe(5);
    }),
  );
});

describe('event-time operators (docs/correlate.md, pattern.md, sessionWindows.md, temporalAggregate.md, their JSDoc)', () => {
  const T0 = 1_800_000_000_000;
  const MIN = 60_000;
  /** The source's letters made events in order, stamped with the times written under them (minutes from T0). */
  const stampedSource = (
    m: { cold: <T>(marbles: string, values?: Record<string, T>) => Observable<T> },
    d: Diagram,
    make: (letter: string, id: string) => Pick<Event, 'type' | 'data'>,
  ) => {
    const times = d.timesUnder('source');
    const letters = Object.fromEntries([...d.marble('source')].map((c) => [c, c]));
    return m.cold(d.marble('source'), letters).pipe(
      map((letter, i): Event => {
        const id = `${letter}${i}`;
        return {
          id,
          ...make(letter, id),
          timestamp: T0 + times[i]! * MIN,
          priority: Priority.NORMAL,
          sessionId: 's',
        };
      }),
    );
  };
  const minutes = (time: number) => (time - T0) / MIN;

  it(
    'correlate: detected at the fifth event of the group, ended quiet by x, stamped at its last event',
    marbles((m) => {
      const d = both('docs/correlate.md', 'src/operators/correlate.ts', 'source:  -f-t-f-t-f', [
        'source',
        'result',
      ]);
      const source = stampedSource(m, d, (letter, id) =>
        letter === 'f'
          ? { type: 'file.modified', data: { file_path: `/r/${id}.ts` } }
          : letter === 't'
            ? { type: 'tool.used', data: { tool_name: 'Edit' } }
            : { type: 'prompt.submitted', data: {} },
      );
      const activities: Event[] = [];
      const shown = source.pipe(
        correlate(),
        tap((e) => {
          if (e.type.startsWith('activity.')) activities.push(e);
        }),
        map((e) =>
          e.type === 'activity.detected' ? 'D' : e.type === 'activity.ended' ? 'E' : e.id.replace(/\d+$/, ''),
        ),
      );
      m.expect(shown).toBeObservable(d.marble('result'), { f: 'f', t: 't', x: 'x', D: 'D', E: 'E' });
      m.flush();
      const seen = activities.map((e) => {
        const data = e.data as ActivityData;
        const { start, end } = data.window;
        return `${data.activity_type} ${data.event_count} ${minutes(start)}-${minutes(end)} ${data.reason ?? ''}@${minutes(e.timestamp)}`;
      });
      expect(seen).toEqual(['feature-development 5 0-4 @4', 'feature-development 8 0-7 quiet@7']);
    }),
  );

  const isTestEdit = (e: Event) => e.type === 'file.modified' && String(e.data.file_path).includes('.test.');
  const isSourceEdit = (e: Event) =>
    e.type === 'file.modified' && !String(e.data.file_path).includes('.test.');
  const isPassingTestRun = (e: Event) => e.type === 'test.run' && e.data.passed === true;
  const isFailingTestRun = (e: Event) => e.type === 'test.run' && e.data.passed === false;
  const tdd = (letter: string): Pick<Event, 'type' | 'data'> =>
    letter === 't'
      ? { type: 'file.modified', data: { file_path: '/r/cart.test.ts' } }
      : letter === 's'
        ? { type: 'file.modified', data: { file_path: '/r/cart.ts' } }
        : letter === 'p' || letter === 'f'
          ? { type: 'test.run', data: { passed: letter === 'p' } }
          : { type: 'tool.used', data: {} };
  /** An input as its letter; a match as `M[letters] start-end`, a timeout as `T[letters]>expected @time`. */
  const showPattern = (e: Event) => {
    const letters = (events: readonly Event[]) => events.map((x) => x.id.replace(/\d+$/, '')).join();
    if (e.type === 'pattern.matched') {
      const data = e.data as PatternMatchData;
      return `M[${letters(data.events)}] ${minutes(data.window.start)}-${minutes(data.window.end)}`;
    }
    if (e.type === 'pattern.timeout') {
      const data = e.data as PatternTimeoutData;
      return `T[${letters(data.events)}]>${data.expected} @${minutes(e.timestamp)}`;
    }
    return e.id.replace(/\d+$/, '');
  };

  it(
    'pattern: [t, s, p] matched within 10 min; [t, s] times out at its deadline, 30, found by y',
    marbles((m) => {
      const d = both('docs/pattern.md', 'src/operators/pattern.ts', 'steps:   [isTestEdit, isSourceEdit', [
        'source',
        'result',
      ]);
      const steps = [isTestEdit, isSourceEdit, isPassingTestRun];
      const shown = stampedSource(m, d, tdd).pipe(pattern(steps, { within: 10 * MIN }), map(showPattern));
      m.expect(shown).toBeObservable(d.marble('result'), {
        t: 't',
        x: 'x',
        s: 's',
        p: 'p',
        y: 'y',
        M: 'M[t,s,p] 0-3',
        T: 'T[t,s]>isPassingTestRun @30',
      });
    }),
  );

  it(
    'pattern: a leading optional step keeps its event while the match fits in within, and is left out after',
    marbles((m) => {
      const d = both('docs/pattern.md', 'src/operators/pattern.ts', 'optional: true }, isSourceEdit', [
        'source',
        'result',
      ]);
      const steps = [{ match: isFailingTestRun, optional: true }, isSourceEdit, isPassingTestRun];
      const shown = stampedSource(m, d, tdd).pipe(pattern(steps, { within: 10 * MIN }), map(showPattern));
      m.expect(shown).toBeObservable(d.marble('result'), {
        f: 'f',
        s: 's',
        p: 'p',
        M: 'M[f,s,p] 0-2',
        N: 'M[s,p] 8-16',
      });
    }),
  );

  /** The source's letters made events of session s1 stamped with their frame (event time = arrival time). */
  const arriving = (
    m: { cold: <T>(marbles: string, values?: Record<string, T>) => Observable<T>; scheduler: SchedulerLike },
    marble: string,
    type: (letter: string) => string,
  ) =>
    m.cold(marble, Object.fromEntries([...marble].map((c) => [c, c]))).pipe(
      map(
        (letter, i): Event =>
          createEvent({
            id: `${letter}${i}`,
            type: type(letter),
            timestamp: m.scheduler.now(),
            sessionId: 's1',
          }),
      ),
    );

  it(
    'sessionWindows, gapMs 3: each window emitted a gap after its last event, the session quiet',
    marbles((m) => {
      const d = both(
        'docs/sessionWindows.md',
        'src/operators/sessionWindows.ts',
        'gapMs: 3, key: sessionId',
        ['source', 'result'],
      );
      const windows = arriving(m, d.marble('source'), () => 'tool.used').pipe(
        sessionWindows({ gapMs: 3, key: (e) => e.sessionId, scheduler: m.scheduler }),
        map((w) => {
          const data = w.data as SessionWindowData;
          return `${w.type} [${data.time_span.start},${data.time_span.end}] ${data.event_count} @${m.scheduler.now()}`;
        }),
      );
      m.expect(windows).toBeObservable(d.marble('result'), {
        W: 'session.window [1,3] 2 @6',
        V: 'session.window [10,12] 2 @15',
      });
    }),
  );

  it(
    'temporalAggregate, tool.used in 5 ms windows: one closed by the idle rule, one by time, one on complete',
    marbles((m) => {
      const d = both(
        'docs/temporalAggregate.md',
        'src/operators/temporalAggregate.ts',
        "windows: { 'tool.used': 5 }",
        ['source', 'result'],
      );
      const aggregates = arriving(m, d.marble('source'), (l) =>
        l === 't' ? 'tool.used' : 'session.started',
      ).pipe(
        temporalAggregate({ windows: { 'tool.used': 5 }, scheduler: m.scheduler }),
        map((e) => {
          if (e.type !== 'tool.used.aggregated') return e.type;
          const data = e.data as AggregatedData;
          return `[${data.window.start},${data.window.end}) ${data.event_count}`;
        }),
      );
      m.expect(aggregates).toBeObservable(d.marble('result'), {
        x: 'session.started',
        A: '[1,6) 2',
        B: '[7,12) 1',
        C: '[16,21) 1',
      });
    }),
  );
});

/**
 * The diagrams of the file sources show what is emitted and whether it completes, not frames (they read
 * real files): each is checked for its values in order and its end, and its marks where it shows them.
 */
describe('file sources (docs/bridge.md, the JSDoc of fromHookFile, fromHookFileMarked, fromJsonLines)', () => {
  /** The values of a marble in order, and `|` if it completes: `-a-b|` is `ab|`. */
  const sequence = (marble: string) => marble.replace(/[-()\s]/g, '');
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vibespec-diagrams-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const line = (hook: string) => `${JSON.stringify({ hook, output: {} })}\n`;
  /** The hooks read, as letters, then `|` if the read completed. */
  const read = (source: Observable<{ hook: string }>) =>
    firstValueFrom(
      source.pipe(
        map((o) => o.hook),
        toArray(),
        map((hooks) => `${hooks.join('')}|`),
      ),
    );

  it('fromHookFile: a, b then complete; following, c when appended, no end; resumed after a, b and c', async () => {
    const path = join(dir, 'hooks.jsonl');
    await writeFile(path, line('a') + line('b'));
    const follow = readDiagram('src/streams/fromHookFile.ts', '(follow: true)');
    expect(await read(fromHookFile(path))).toBe(sequence(follow.marble('result', 1)));

    const seen: string[] = [];
    let ended = false;
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 10 }).subscribe({
      next: (o) => seen.push(o.hook),
      complete: () => {
        ended = true;
      },
    });
    await until(() => seen.length === 2);
    await appendFile(path, line('c'));
    await until(() => seen.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    subscription.unsubscribe();
    expect(seen.join('') + (ended ? '|' : '')).toBe(sequence(follow.marble('result', 0)));

    const resumed = readDiagram('src/streams/fromHookFile.ts', '(resumeFrom: the mark of a)');
    const [markOfA] = await firstValueFrom(fromHookFileMarked(path).pipe(toArray()));
    expect(await read(fromHookFile(path, { resumeFrom: markOfA!.mark }))).toBe(
      sequence(resumed.marble('result')),
    );
  });

  it('fromHookFileMarked: each output with the mark of its line, its end past the line, a blank line skipped', async () => {
    const d = both('docs/bridge.md', 'src/streams/fromHookFile.ts', 'a = 0..7, a blank line', [
      'file',
      'result',
    ]);
    // Lines of 7 bytes and their newlines: a = 0..7, the blank line 8, b = 9..16.
    const path = join(dir, 'hooks.jsonl');
    const a = '{"a":1}';
    const b = '{"b":2}';
    await writeFile(path, `${a}\n\n${b}\n`);
    const marked = await firstValueFrom(fromHookFileMarked(path).pipe(toArray()));
    const ends = d.rows.join('\n').match(/end: \d+/g);
    expect(marked.map((o) => `end: ${o.mark.end}`)).toEqual(ends);
    expect(`${marked.map((_, i) => 'AB'[i]).join('')}|`).toBe(sequence(d.marble('result')));
    expect(marked.map((o) => o.output)).toEqual([
      expect.objectContaining({ output: { a: 1 } }),
      expect.objectContaining({ output: { b: 2 } }),
    ]);
  });

  it('fromJsonLines: a Stop output, a rejected line that is not JSON, a SessionEnd output, then complete', async () => {
    const d = readDiagram('src/streams/fromJsonLines.ts', 'input:   {"hook":"Stop"');
    const input = [
      '{"hook":"Stop","output":{}}\n',
      'not json\n',
      '{"hook_event_name":"SessionEnd","session_id":"s"}\n',
    ];
    const letters = await firstValueFrom(
      fromJsonLines(input).pipe(
        map((o) =>
          o.error !== undefined ? 'r' : o.hook === 'Stop' ? 'a' : o.hook === 'SessionEnd' ? 'b' : '?',
        ),
        toArray(),
      ),
    );
    expect(`${letters.join('')}|`).toBe(sequence(d.marble('result')));
  });
});
