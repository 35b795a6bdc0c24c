/**
 * State let go when sessions finish: a dashboard subscribes once and sees sessions come and go for weeks,
 * each starting, doing a little work and ending the way real ones do: half with a `session.ended` (a
 * `SessionEnd` hook), half by going quiet (the terminal was closed). Each part below runs with its default
 * options through 50,000 such sessions on a virtual clock that moves with the events (each input arrives
 * at the clock's time equal to its timestamp, sessions 5 s apart: ~3 days), so the idle rules, episodes'
 * quiet times, partial matches' timeouts, batch timeouts and group commits run as they do live. The heap
 * used after a full gc once all are done (the clock a day past the last) is compared with that after
 * 10,000: a part that kept each finished session would be tens of MB higher (see the control), one that
 * keeps the latest ones up to a default bound of 10,000 (temporalAggregate's idle sessions, sessionWindows'
 * idle keys, the store's cached sessions) is there already at 10,000. Every input must also come out (once,
 * or inside its aggregate or batch): nothing is let go with the state.
 *
 * sessionChurn.spec.ts checks the bounds themselves (sessions never ended, bounds lowered to 1,000);
 * repetition.spec.ts the resources a subscription holds. No wall clock is read.
 */
import {
  map,
  merge,
  Observable,
  type OperatorFunction,
  type SchedulerAction,
  type SchedulerLike,
  Subject,
  Subscription,
  timer,
} from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  aggregateHooks,
  bridgeHooks,
  chainHooks,
  correlate,
  createHookBridge,
  type Event,
  EventFlowMetrics,
  type HookContext,
  type HookOutput,
  hybridProcess,
  measure,
  Priority,
  pattern,
  persist,
  reviewSummary,
  sessionWindows,
  systemLoad$,
  temporalAggregate,
} from '../../src/index.js';
import { heapAfterGc } from '../helpers/heap.js';
import { tempStore } from '../helpers/store.js';

const FIRST = 10_000;
const SESSIONS = 50_000;
/** How much more heap 40,000 more finished sessions may leave: a fraction of what keeping each takes. */
const SLACK_BYTES = 6 * 1024 * 1024;
/** Sessions start 5 s of event time apart; each lasts 4 s. */
const SESSION_GAP = 5_000;
/** Past every window, episode and timeout of the defaults, once the last session is done. */
const DRAIN = 86_400_000;

/**
 * A virtual clock moved by hand: `advanceTo(t)` runs the actions due by `t` in time order (then in the
 * order they were scheduled), then reads `t`. An action scheduled again (a periodic timer) is the same
 * action, as with `asyncScheduler`: rxjs's `VirtualTimeScheduler` makes a new one at each run and keeps
 * it inside the last, a chain that would grow with every tick of a clock that runs for days.
 */
class HandClock implements SchedulerLike {
  private time = 0;
  private order = 0;
  /** Pending runs, latest due first; an entry whose action was cancelled or rescheduled is skipped. */
  private readonly due: Array<{ at: number; order: number; action: HandAction<never> }> = [];

  now(): number {
    return this.time;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new HandAction<T>(this, work).schedule(state, delay);
  }

  /** Queues `action` at `delay` from now; returns its order, which identifies this run of it. */
  enqueue(action: HandAction<never>, delay: number): number {
    const entry = { at: this.time + delay, order: this.order++, action };
    let i = this.due.length;
    while (
      i > 0 &&
      (this.due[i - 1]!.at < entry.at ||
        (this.due[i - 1]!.at === entry.at && this.due[i - 1]!.order < entry.order))
    )
      i--;
    this.due.splice(i, 0, entry);
    return entry.order;
  }

  advanceTo(time: number): void {
    for (;;) {
      const next = this.due[this.due.length - 1];
      if (next === undefined || next.at > time) break;
      this.due.pop();
      if (next.action.closed || next.action.run !== next.order) continue;
      this.time = Math.max(this.time, next.at);
      next.action.execute();
    }
    this.time = Math.max(this.time, time);
  }
}

class HandAction<T> extends Subscription implements SchedulerAction<T> {
  run = -1;
  private state: T | undefined;

  constructor(
    private readonly clock: HandClock,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super();
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    this.run = this.clock.enqueue(this as unknown as HandAction<never>, delay);
    return this;
  }

  execute(): void {
    const run = this.run;
    this.work.call(this, this.state);
    // Not scheduled again by its work: done.
    if (this.run === run) this.unsubscribe();
  }
}

function sessionIdOf(i: number): string {
  return `${i.toString(16).padStart(8, '0')}-0af1-4ec2-b9fb-551b34e844ac`;
}

/**
 * One session's events at their times: its start, a feature's work (three file edits, two tool uses: a
 * `feature-development` activity for correlate), a test run, then its end or silence.
 */
function sessionEvents(i: number): Event[] {
  const sessionId = sessionIdOf(i);
  const at = i * SESSION_GAP;
  const base = { sessionId, priority: Priority.NORMAL } as const;
  const file = (n: number) => ({ file_path: `/r/f${i}-${n}.ts` });
  const events: Event[] = [
    { ...base, id: `${i}-s`, type: 'session.started', timestamp: at, data: { source: 'startup' } },
    { ...base, id: `${i}-t1`, type: 'tool.used', timestamp: at + 500, data: { tool_name: 'Read' } },
    { ...base, id: `${i}-f1`, type: 'file.modified', timestamp: at + 1_000, data: file(1) },
    { ...base, id: `${i}-f2`, type: 'file.created', timestamp: at + 1_500, data: file(2) },
    { ...base, id: `${i}-t2`, type: 'tool.used', timestamp: at + 2_000, data: { tool_name: 'Bash' } },
    { ...base, id: `${i}-f3`, type: 'file.modified', timestamp: at + 2_500, data: file(3) },
    { ...base, id: `${i}-r`, type: 'test.run', timestamp: at + 3_000, data: { passed: i % 3 !== 0 } },
  ];
  if (i % 2 === 0) {
    events.push({
      ...base,
      id: `${i}-e`,
      type: 'session.ended',
      timestamp: at + 4_000,
      data: { reason: 'exit' },
    });
  }
  return events;
}

/** The same session as Claude Code's hooks send it. */
function sessionPayloads(i: number): HookOutput[] {
  const session_id = sessionIdOf(i);
  const at = i * SESSION_GAP;
  const common = { session_id, transcript_path: `/home/u/.claude/projects/p/${session_id}.jsonl`, cwd: '/r' };
  const outputs: HookOutput[] = [
    {
      hook: 'SessionStart',
      timestamp: at,
      output: { ...common, hook_event_name: 'SessionStart', source: 'startup' },
    },
    {
      hook: 'PostToolUse',
      timestamp: at + 1_000,
      output: {
        ...common,
        hook_event_name: 'PostToolUse',
        tool_name: 'Edit',
        tool_input: { file_path: `/r/f${i}.ts`, old_string: 'a', new_string: 'b' },
        tool_response: { filePath: `/r/f${i}.ts`, success: true },
      },
    },
    {
      hook: 'PostToolUse',
      timestamp: at + 2_000,
      output: {
        ...common,
        hook_event_name: 'PostToolUse',
        tool_name: 'Bash',
        tool_input: { command: 'npm test' },
        tool_response: { stdout: ' Tests  3 passed (3)\n', stderr: '', interrupted: false },
      },
    },
    {
      hook: 'Stop',
      timestamp: at + 3_000,
      output: { ...common, hook_event_name: 'Stop', stop_hook_active: false },
    },
  ];
  if (i % 2 === 0) {
    outputs.push({
      hook: 'SessionEnd',
      timestamp: at + 4_000,
      output: { ...common, hook_event_name: 'SessionEnd', reason: 'exit' },
    });
  }
  return outputs;
}

interface Run {
  /** Heap after gc once `FIRST` sessions are done, and once all are (the clock past every timer). */
  first: number;
  last: number;
  inputs: number;
  outputs: number;
  /** `readAtEnd()` once all sessions are done, before the input completes. */
  atEnd: number;
}

/**
 * Feeds `SESSIONS` sessions through `operator` on `clock`, each input at its time; counts outputs (the
 * inputs each stands for, through `weigh`) and drops them. `settle`, awaited after each session (and
 * after the last with `i` = `SESSIONS`), lets work that ends in promises or I/O (a hook's run, a write)
 * end.
 */
async function drive<I extends { timestamp?: number }>(
  clock: HandClock,
  operator: OperatorFunction<I, unknown>,
  inputsOf: (i: number) => I[],
  weigh: (output: unknown) => number = () => 1,
  settle?: (i: number, drained: () => Promise<void>) => Promise<void>,
  readAtEnd: () => number = () => 0,
): Promise<Run> {
  const input = new Subject<I>();
  let inputs = 0;
  let outputs = 0;
  let failure: { error: unknown } | undefined;
  let waiting: (() => void) | undefined;
  /** Resolves once every input so far has come out. */
  const drained = () =>
    outputs >= inputs
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          waiting = resolve;
        });
  const subscription = input.pipe(operator).subscribe({
    next: (output) => {
      outputs += weigh(output);
      if (waiting !== undefined && outputs >= inputs) {
        waiting();
        waiting = undefined;
      }
    },
    error: (error: unknown) => {
      failure = { error };
    },
  });
  let first = 0;
  for (let i = 0; i < SESSIONS; i++) {
    for (const item of inputsOf(i)) {
      clock.advanceTo(item.timestamp!);
      input.next(item);
      inputs++;
    }
    if (settle !== undefined) await settle(i, drained);
    if (i === FIRST - 1) {
      clock.advanceTo((i + 1) * SESSION_GAP);
      first = heapAfterGc();
    }
  }
  clock.advanceTo(SESSIONS * SESSION_GAP + DRAIN);
  if (settle !== undefined) await settle(SESSIONS, drained);
  const last = heapAfterGc();
  const atEnd = readAtEnd();
  input.complete();
  clock.advanceTo(SESSIONS * SESSION_GAP + 2 * DRAIN);
  if (settle !== undefined) await settle(SESSIONS, drained);
  subscription.unsubscribe();
  if (failure !== undefined) throw failure.error;
  return { first, last, inputs, outputs, atEnd };
}

/**
 * Every `n` sessions, and after the last: the clock moved to the next session's start (a timer of the
 * operator's on it may be due), then waits until every input so far has come out (one that never does
 * times the test out).
 */
function settleEvery(
  clock: HandClock,
  n: number,
): (i: number, drained: () => Promise<void>) => Promise<void> {
  return async (i, drained) => {
    if ((i + 1) % n !== 0 && i < SESSIONS) return;
    if (clock.now() < (i + 1) * SESSION_GAP) clock.advanceTo((i + 1) * SESSION_GAP);
    await drained();
  };
}

/** The contexts a hook chain gets of a session: its `Stop`, and its `SessionEnd` when it has one. */
function sessionContexts(i: number): Array<HookContext & { timestamp: number }> {
  return sessionPayloads(i)
    .filter((payload) => payload.hook === 'Stop' || payload.hook === 'SessionEnd')
    .map((payload) => ({ ...(payload.output as HookContext), timestamp: payload.timestamp! }));
}

/** The events an output stands for: an aggregate's count, a batch's length, else 1. */
function eventsIn(output: unknown): number {
  if (Array.isArray(output)) return output.length;
  const data = (output as Event).data as { event_count?: unknown } | undefined;
  const type = (output as Event).type;
  if (typeof type === 'string' && type.endsWith('.aggregated') && typeof data?.event_count === 'number')
    return data.event_count;
  return 1;
}

describe('session lifecycle: 50,000 sessions, each ended or gone quiet, default options', () => {
  it('temporalAggregate: every event leaves once; the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const run = await drive(clock, temporalAggregate<Event>({ scheduler: clock }), sessionEvents, eventsIn);
    expect(run.outputs).toBe(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('sessionWindows: the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const run = await drive(clock, sessionWindows<Event>({ scheduler: clock }), sessionEvents);
    expect(run.outputs).toBeGreaterThanOrEqual(SESSIONS);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('correlate: the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const run = await drive(clock, correlate(undefined, { scheduler: clock }), sessionEvents);
    expect(run.outputs).toBeGreaterThan(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('pattern (key sessionId, within 10 min; every session a partial match): the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const operator = pattern<Event>(
      [(e) => e.type === 'file.modified', (e) => e.type === 'test.run', (e) => e.type === 'git.commit'],
      { within: 600_000, key: (e) => e.sessionId, scheduler: clock },
    );
    const run = await drive(clock, operator, sessionEvents);
    expect(run.outputs).toBeGreaterThan(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('measure: the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const metrics = new EventFlowMetrics({ scheduler: clock });
    const run = await drive(clock, measure<Event>(metrics), sessionEvents);
    expect(run.outputs).toBe(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('adaptiveBatch: every event leaves once; the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const run = await drive(clock, adaptiveBatch<Event>({ scheduler: clock }), sessionEvents, eventsIn);
    expect(run.outputs).toBe(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('hybridProcess with metrics: an outcome per event, its queue depth back to 0; the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const metrics = new EventFlowMetrics({ scheduler: clock });
    const operator = hybridProcess<number, Event>({
      immediate: () => 1,
      batch: (events) => events.map(() => 1),
      metrics,
      scheduler: clock,
    });
    const run = await drive(clock, operator, sessionEvents, undefined, undefined, () => metrics.queueDepth);
    expect(run.outputs).toBe(run.inputs);
    expect(run.atEnd).toBe(0);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('bridgeHooks: the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const run = await drive(clock, bridgeHooks({ scheduler: clock }), sessionPayloads);
    expect(run.outputs).toBeGreaterThanOrEqual(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('createHookBridge: the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const operator = (source: Observable<HookOutput>) =>
      new Observable<Event>((subscriber) => {
        const bridge = createHookBridge({ scheduler: clock });
        const events = bridge.events$.subscribe(subscriber);
        const pushes = source.subscribe({
          next: (output) => bridge.push(output.hook, output.output, output.timestamp),
          complete: () => bridge.complete(),
        });
        return () => {
          pushes.unsubscribe();
          events.unsubscribe();
        };
      });
    const run = await drive(clock, operator, sessionPayloads);
    expect(run.outputs).toBeGreaterThanOrEqual(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('the recommended composition (bridge → temporalAggregate → correlate → hybridProcess): the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const metrics = new EventFlowMetrics({ scheduler: clock });
    const operator = (source: Observable<HookOutput>) =>
      source.pipe(
        bridgeHooks({ scheduler: clock }),
        temporalAggregate({ scheduler: clock }),
        correlate(undefined, { scheduler: clock }),
        hybridProcess<number, Event>({
          immediate: () => 1,
          batch: (events) => events.map(() => 1),
          metrics,
          scheduler: clock,
        }),
      );
    const run = await drive(clock, operator, sessionPayloads);
    expect(run.outputs).toBeGreaterThan(SESSIONS);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });
  it('hybridProcess, handlers that answer later on the clock, with timeouts: an outcome per event, its queue depth back to 0; the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const metrics = new EventFlowMetrics({ scheduler: clock });
    const operator = hybridProcess<number, Event>({
      immediate: () => timer(20, clock).pipe(map(() => 1)),
      batch: (events) => timer(50, clock).pipe(map(() => events.map(() => 1))),
      timeoutMs: 1_000,
      metrics,
      scheduler: clock,
    });
    const run = await drive(clock, operator, sessionEvents, undefined, undefined, () => metrics.queueDepth);
    expect(run.outputs).toBe(run.inputs);
    expect(run.atEnd).toBe(0);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('chainHooks (two function hooks, one async; a timeout each): a result per context; the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const chain = {
      name: 'review',
      hooks: [
        { name: 'tag', run: (context: Readonly<HookContext>) => ({ context: { seen: context.session_id } }) },
        { name: 'check', run: () => Promise.resolve({ decision: 'approve' as const }) },
      ],
    };
    const results = (output: unknown) => ((output as { kind?: string }).kind === 'result' ? 1 : 0);
    const run = await drive(
      clock,
      chainHooks(chain, { scheduler: clock, timeoutMs: 5_000 }),
      sessionContexts,
      results,
      settleEvery(clock, 20),
    );
    expect(run.outputs).toBe(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('aggregateHooks (two function hooks, reviewSummary): a result per context; the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const hooks = [
      { name: 'lint', run: () => ({ review: { issues: 0 } }) },
      { name: 'scan', run: () => Promise.resolve({}) },
    ];
    const results = (output: unknown) => ((output as { kind?: string }).kind === 'aggregate' ? 1 : 0);
    const run = await drive(
      clock,
      aggregateHooks(hooks, reviewSummary, { scheduler: clock, timeoutMs: 5_000 }),
      sessionContexts,
      results,
      settleEvery(clock, 20),
    );
    expect(run.outputs).toBe(run.inputs);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });
  it('persist into a real store: every event acknowledged; the heap after 50,000 is that after 10,000', async () => {
    const clock = new HandClock();
    const { store, cleanup } = await tempStore();
    try {
      const run = await drive(clock, persist(store), sessionEvents, undefined, settleEvery(clock, 100));
      expect(run.outputs).toBe(run.inputs);
      expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
    } finally {
      await cleanup();
    }
  });
  it("systemLoad$ beside measure, ticking each second for the sessions' ~3 days: the heap after 50,000 is that after 10,000", async () => {
    const clock = new HandClock();
    const metrics = new EventFlowMetrics({ scheduler: clock });
    let reads = 0;
    const probe = {
      cpuPercent: () => Promise.resolve(++reads % 100),
      memoryPercent: () => Promise.resolve(50),
    };
    let samples = 0;
    const operator = (source: Observable<Event>) =>
      merge(
        source.pipe(measure(metrics)),
        systemLoad$({ intervalMs: 1_000, metrics, probe, scheduler: clock }).pipe(
          map(() => {
            samples++;
            return [];
          }),
        ),
      );
    // The probe's answers are promises: every 10 sessions (50 ticks), the event loop turns.
    const settle = async (i: number) => {
      if ((i + 1) % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    };
    const run = await drive(clock, operator, sessionEvents, eventsIn, settle);
    expect(run.outputs).toBe(run.inputs);
    expect(samples).toBeGreaterThan(SESSIONS);
    expect(reads).toBeGreaterThan(SESSIONS / 10);
    expect(run.last - run.first).toBeLessThan(SLACK_BYTES);
  });

  it('control: temporalAggregate keeping every finished session (maxIdleSessions 1,000,000) leaves the heap tens of MB higher', async () => {
    // What the comparison sees of a part that keeps each finished session: the checks above can fail.
    const clock = new HandClock();
    const operator = temporalAggregate<Event>({ scheduler: clock, maxIdleSessions: 1_000_000 });
    const run = await drive(clock, operator, sessionEvents, eventsIn);
    expect(run.outputs).toBe(run.inputs);
    expect(run.last - run.first).toBeGreaterThan(3 * SLACK_BYTES);
  });
});
