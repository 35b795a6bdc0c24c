/**
 * Nothing of a subscription keeps running after it ends: for each public Observable and operator and each
 * way of ending (complete, error, unsubscribe from outside, unsubscribe from inside `next`, a consumer
 * that throws), on the real async scheduler, the process's active resources (`getActiveResourcesInfo`:
 * Timeout, FSWatcher, FileHandle, ProcessWrap…) and the listeners of shared emitters (process signals,
 * exit) are back to what they were before; no notification reaches the subscriber after its end
 * (RxJS's `onStoppedNotification`), and nothing is reported unhandled. A command hook's process is
 * killed at the end and reaped later: that one is waited for (its exit), as documented.
 */
import { createHook } from 'node:async_hooks';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { config, type Observable, of, Subject, type Subscription } from 'rxjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  aggregateHooks,
  bridgeHooks,
  chainHooks,
  correlate,
  createEvent,
  createFlowGate,
  createHookBridge,
  type Event,
  EventFlowMetrics,
  fromFileWatcher,
  fromHookFile,
  fromHookFileMarked,
  fromJsonLines,
  type Hook,
  hybridProcess,
  measure,
  type OsProbe,
  pattern,
  persist,
  pullFrom,
  replay,
  reviewSummary,
  runHook,
  runHookAggregation,
  runHookChain,
  sessionWindows,
  systemLoad$,
  tail,
  temporalAggregate,
} from '../../src/index.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { collect, resourcesOf, type TempStore, tempStore } from '../helpers/store.js';
import { until } from '../helpers/until.js';

type Ending = 'complete' | 'error' | 'unsubscribe' | 'unsubscribe in next' | 'consumer throws';
const ENDINGS: readonly Ending[] = [
  'complete',
  'error',
  'unsubscribe',
  'unsubscribe in next',
  'consumer throws',
];

/** One run of a part: its output, and how to make it emit, complete or fail. */
interface Run {
  output: Observable<unknown>;
  /** Makes an output come (called until one has). */
  feed(): unknown;
  /** Ends the source (or makes the part end by itself); absent when the part cannot complete. */
  complete?(): unknown;
  /** Fails the source; absent when it cannot fail. */
  error?(): unknown;
}

interface Part {
  name: string;
  endings?: readonly Ending[];
  /**
   * The kinds of resource that end by themselves after the end (a killed process, reaped later; a probe
   * call in flight): waited for, then the rest is checked as for any part.
   */
  reaped?: readonly string[];
  setup(ending: Ending): Run | Promise<Run>;
}

const SHARED_EVENTS: Array<[NodeJS.EventEmitter, string]> = [
  [process, 'SIGINT'],
  [process, 'SIGTERM'],
  [process, 'SIGHUP'],
  [process, 'exit'],
  [process, 'beforeExit'],
  [process, 'uncaughtException'],
  [process, 'unhandledRejection'],
  [process.stdin, 'data'],
  [process.stdout, 'drain'],
];

/**
 * The Timeouts pending, each by its id, and whether code that is neither the library's nor the test's
 * made it: the test runner (vitest's RPC with its main process sets a Timeout for each call in flight;
 * under load one may still wait for its answer when a part is checked: 2 were counted as a part's
 * leftovers so, at a load average of ~15) or node-os-utils (its probe's sleep: 1 was counted so). Told
 * apart by the frame that called `setTimeout`/`setInterval`: in one of these packages (rxjs' timers,
 * which the library's schedulers make, count). Timeouts are compared by id, not counted: a count let a
 * part's timer left running pass unseen when a Timeout pending before the part began ended meanwhile.
 */
const pendingTimers = new Map<number, { timer: NodeJS.Timeout; foreign: boolean }>();
const FOREIGN = /[\\/]node_modules[\\/](?:vitest|@vitest|birpc|tinypool|node-os-utils)[\\/]/;
const timers = createHook({
  init(asyncId, type, _trigger, resource) {
    if (type !== 'Timeout') return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 20;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    // The caller: the first frame after the timers module's (this hook's own come before them).
    const frames = stack.split('\n');
    let caller = '';
    frames.forEach((frame, i) => {
      if (frame.includes('(node:timers:') || frame.includes('(node:internal/timers:'))
        caller = frames[i + 1] ?? '';
    });
    pendingTimers.set(asyncId, { timer: resource as NodeJS.Timeout, foreign: FOREIGN.test(caller) });
  },
  destroy(asyncId) {
    pendingTimers.delete(asyncId);
  },
});
beforeAll(() => {
  timers.enable();
});
afterAll(() => {
  timers.disable();
});

/** What keeps the process busy: its resources by kind (Timeouts apart), the listeners of the shared emitters, the Timeouts pending. */
interface Snapshot {
  counts: Record<string, number>;
  timeouts: Set<number>;
}

function snapshot(): Snapshot {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo())
    if (kind !== 'Timeout') counts[kind] = (counts[kind] ?? 0) + 1;
  for (const [emitter, name] of SHARED_EVENTS) counts[`listeners ${name}`] = emitter.listenerCount(name);
  // As getActiveResourcesInfo counts them: only those that keep the process alive.
  const timeouts = new Set<number>();
  // A Timeout that has fired or been cleared is destroyed at once (its `_destroyed`), its destroy hook
  // called later: until then it is still in pendingTimers.
  for (const [id, { timer }] of pendingTimers)
    if (timer.hasRef() && !(timer as unknown as { _destroyed: boolean })._destroyed) timeouts.add(id);
  return { counts, timeouts };
}

/** The kinds of which there are more now than in `before`; Timeouts: those pending now and not then, other packages' left out. */
function added(before: Snapshot): Record<string, number> {
  const now = snapshot();
  const more: Record<string, number> = {};
  for (const [kind, count] of Object.entries(now.counts)) {
    if (count > (before.counts[kind] ?? 0)) more[kind] = count - (before.counts[kind] ?? 0);
  }
  const timeouts = [...now.timeouts].filter(
    (id) => !before.timeouts.has(id) && !pendingTimers.get(id)?.foreign,
  );
  if (timeouts.length > 0) more.Timeout = timeouts.length;
  return more;
}

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await macrotask();
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}

/**
 * What is left of `before`'s kinds once the event loop has turned: looked at again for a few turns, as
 * the test runner's own traffic with its worker (a Timeout of its RPC) may come and go meanwhile. What
 * a part leaves (a timer it re-arms, a watcher, a file handle) stays, and is returned.
 */
async function leftOver(before: Snapshot): Promise<Record<string, number>> {
  let left = added(before);
  for (let turn = 0; turn < 10 && Object.keys(left).length > 0; turn++) {
    await settle();
    left = added(before);
  }
  return left;
}

let n = 0;
const ev = (type = 'tool.used', t = Date.now()) =>
  createEvent({ type, timestamp: t, sessionId: 's', data: { tool_name: 'Bash', n: ++n } });

let dir: string;
let temp: TempStore | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-left-'));
});
afterEach(async () => {
  await temp?.cleanup();
  temp = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** An operator on a Subject of events: `feed` pushes one, `complete` and `error` end the Subject. */
function onEvents(operator: (source: Observable<Event>) => Observable<unknown>, event = () => ev()): Run {
  const input = new Subject<Event>();
  return {
    output: input.pipe(operator),
    feed: () => input.next(event()),
    complete: () => input.complete(),
    error: () => input.error(new Error('source')),
  };
}

const HOOKS = join(import.meta.dirname, '../fixtures/hooks');
const commandHook = (name: string, file: string): Hook => ({
  name,
  command: process.execPath,
  args: [join(HOOKS, file)],
});

/** What a child process holds until it is reaped: its handle and our ends of its pipes. */
const PROCESS = ['ProcessWrap', 'PipeWrap'];

const PARTS: Part[] = [
  {
    name: 'bridgeHooks',
    setup: () => {
      const input = new Subject<{ hook: string; output: unknown }>();
      return {
        output: input.pipe(bridgeHooks()),
        feed: () => input.next({ hook: 'post-tool-use', output: { tool_name: 'Bash' } }),
        complete: () => input.complete(),
        error: () => input.error(new Error('source')),
      };
    },
  },
  {
    name: 'createHookBridge',
    endings: ['complete', 'unsubscribe', 'unsubscribe in next', 'consumer throws'],
    setup: () => {
      const bridge = createHookBridge();
      return {
        output: bridge.events$,
        feed: () => bridge.push('post-tool-use', { tool_name: 'Bash' }),
        complete: () => bridge.complete(),
      };
    },
  },
  {
    name: 'fromHookFile (follow)',
    endings: ['error', 'unsubscribe', 'unsubscribe in next', 'consumer throws'],
    setup: async () => {
      const path = join(dir, 'hooks.jsonl');
      await writeFile(path, '');
      const line = `${JSON.stringify({ hook: 'post-tool-use', output: { tool_name: 'Bash' } })}\n`;
      return {
        output: fromHookFile(path, { follow: true, pollIntervalMs: 20 }),
        // Three lines in one read: a consumer leaving at the first is given none of the others.
        feed: () => appendFile(path, line.repeat(3)),
        // A folder in place of the log, 40 polls in a row: the source fails.
        error: async () => {
          await rm(path);
          await mkdir(path);
        },
      };
    },
  },
  {
    name: 'fromHookFile',
    endings: ['complete', 'error', 'unsubscribe in next', 'consumer throws'],
    setup: async () => {
      const path = join(dir, 'hooks.jsonl');
      const line = `${JSON.stringify({ hook: 'post-tool-use', output: { tool_name: 'Bash' } })}\n`;
      await writeFile(path, line.repeat(3));
      let missing = false;
      return {
        get output() {
          return fromHookFile(missing ? join(dir, 'missing.jsonl') : path);
        },
        feed: () => undefined,
        complete: () => undefined,
        error: () => {
          missing = true;
        },
      };
    },
  },
  {
    name: 'fromHookFileMarked',
    endings: ['complete', 'unsubscribe in next', 'consumer throws'],
    setup: async () => {
      const path = join(dir, 'hooks.jsonl');
      await writeFile(path, `${JSON.stringify({ hook: 'post-tool-use', output: {} })}\n`.repeat(3));
      return { output: fromHookFileMarked(path), feed: () => undefined, complete: () => undefined };
    },
  },
  {
    name: 'fromFileWatcher',
    endings: ['error', 'unsubscribe', 'unsubscribe in next', 'consumer throws'],
    setup: () => {
      let files = 0;
      let fail = false;
      return {
        output: fromFileWatcher(dir, {
          debounceMs: 5,
          ignore: (path) => {
            if (fail) throw new Error('ignore');
            return path.startsWith('.');
          },
        }),
        feed: () => writeFile(join(dir, `f${++files}.txt`), 'x'),
        error: () => {
          fail = true;
          return writeFile(join(dir, `f${++files}.txt`), 'x');
        },
      };
    },
  },
  {
    name: 'fromJsonLines (a stream)',
    setup: () => {
      const stream = new PassThrough();
      return {
        output: fromJsonLines(stream),
        feed: () => stream.write(`${JSON.stringify({ hook: 'post-tool-use', output: {} })}\n`.repeat(3)),
        complete: () => stream.end(),
        error: () => stream.destroy(new Error('source')),
      };
    },
  },
  {
    name: 'systemLoad$ (a probe)',
    endings: ['error', 'unsubscribe', 'unsubscribe in next', 'consumer throws'],
    setup: () => {
      let fail = false;
      const probe: OsProbe = { cpuPercent: async () => 1, memoryPercent: async () => 2 };
      return {
        output: systemLoad$({
          intervalMs: 5,
          probe,
          metrics: () => {
            if (fail) throw new Error('metrics');
            return {};
          },
        }),
        feed: () => undefined,
        error: () => {
          fail = true;
        },
      };
    },
  },
  {
    name: 'systemLoad$ (node-os-utils)',
    endings: ['unsubscribe', 'unsubscribe in next', 'consumer throws'],
    // Its CPU sample in flight (~200 ms) is not cancelled: it settles by itself.
    reaped: ['Timeout'],
    setup: () => ({ output: systemLoad$({ intervalMs: 5 }), feed: () => undefined }),
  },
  {
    name: 'pullFrom (gate held)',
    setup: () => {
      const gate = createFlowGate();
      const owner = {};
      const stream = new PassThrough({ objectMode: true });
      return {
        output: pullFrom(stream, gate),
        // Read while the gate is held: the source waits on the gate, then takes it.
        feed: async () => {
          gate.hold(owner);
          stream.write('a');
          await macrotask();
          gate.release(owner);
        },
        complete: () => stream.end(),
        error: () => stream.destroy(new Error('source')),
      };
    },
  },
  {
    name: 'temporalAggregate',
    setup: () => onEvents(temporalAggregate({ windows: { 'tool.used': 5 }, idleFlushMs: 5 })),
  },
  {
    name: 'sessionWindows',
    setup: () => onEvents(sessionWindows({ gapMs: 5, idleFlushMs: 5 })),
  },
  {
    name: 'correlate (live clock)',
    setup: () => onEvents(correlate<Event>(undefined, { liveClock: true }), () => ev('git.commit')),
  },
  {
    name: 'pattern (live clock)',
    setup: () =>
      onEvents(
        pattern<Event>([(e) => e.type === 'git.commit', (e) => e.type === 'test.run'], {
          within: 5,
          liveClock: true,
        }),
        () => ev('git.commit'),
      ),
  },
  {
    name: 'adaptiveBatch',
    setup: () => onEvents(adaptiveBatch<Event>({ maxSize: 10, timeoutMs: 5, minSize: 1, minTimeoutMs: 1 })),
  },
  {
    name: 'hybridProcess (load$ of systemLoad$, metrics)',
    setup: () => {
      const metrics = new EventFlowMetrics();
      return onEvents(
        hybridProcess<number>({
          immediate: async () => 1,
          batch: async (events) => events.map(() => 2),
          load$: systemLoad$({
            intervalMs: 5,
            probe: { cpuPercent: async () => 1, memoryPercent: async () => 2 },
          }),
          metrics,
          timeoutMs: 1_000,
        }),
      );
    },
  },
  {
    name: 'measure (EventFlowMetrics)',
    setup: () => onEvents(measure(new EventFlowMetrics())),
  },
  {
    name: 'EventFlowMetrics.summary$',
    endings: ['unsubscribe', 'unsubscribe in next', 'consumer throws'],
    setup: () => ({ output: new EventFlowMetrics().summary$(5), feed: () => undefined }),
  },
  {
    name: 'persist',
    setup: async () => {
      temp = await tempStore();
      return onEvents(persist(temp.store, { maxBatch: 2 }));
    },
  },
  {
    name: 'tail',
    endings: ['complete', 'unsubscribe', 'unsubscribe in next', 'consumer throws'],
    setup: async () => {
      temp = await tempStore();
      const store = temp.store;
      await store.append([ev()]);
      return {
        output: tail(store, 's'),
        feed: () => store.append([ev()]),
        complete: () => store.close(),
      };
    },
  },
  {
    name: 'replay',
    // Not 'unsubscribe': its 300 events are read and it has completed before a settle is over.
    endings: ['complete', 'unsubscribe in next', 'consumer throws'],
    setup: async () => {
      temp = await tempStore();
      await temp.store.append(Array.from({ length: 300 }, () => ev()));
      return { output: replay(temp.store, 's'), feed: () => undefined, complete: () => undefined };
    },
  },
  {
    name: 'replay (a gate)',
    endings: ['complete', 'unsubscribe', 'unsubscribe in next', 'consumer throws'],
    setup: async (ending) => {
      temp = await tempStore();
      await temp.store.append(Array.from({ length: 300 }, () => ev()));
      const gate = createFlowGate();
      return {
        output: replay(temp.store, 's', { gate }),
        // Left while it waits at the held gate, its query open.
        feed: () => {
          if (ending === 'unsubscribe') gate.hold({});
        },
        complete: () => undefined,
      };
    },
  },
  ...commandHookParts(),
];

/**
 * The hook runners with a command hook: one that answers (`complete`), one that hangs until it is
 * killed (`unsubscribe`; `complete` by its timeout). The process is killed at the end and reaped later.
 */
function commandHookParts(): Part[] {
  const runners: Array<[string, (hook: Hook, timeoutMs: number) => Observable<unknown>]> = [
    ['runHook', (hook, timeoutMs) => runHook(hook, { value: 1 }, { timeoutMs })],
    [
      'runHookChain',
      (hook, timeoutMs) => runHookChain({ name: 'c', hooks: [hook] }, { value: 1 }, { timeoutMs }),
    ],
    [
      'runHookAggregation',
      (hook, timeoutMs) => runHookAggregation([hook], { value: 1 }, reviewSummary, { timeoutMs }),
    ],
    [
      'chainHooks',
      (hook, timeoutMs) => of({ value: 1 }).pipe(chainHooks({ name: 'c', hooks: [hook] }, { timeoutMs })),
    ],
    [
      'aggregateHooks',
      (hook, timeoutMs) => of({ value: 1 }).pipe(aggregateHooks([hook], reviewSummary, { timeoutMs })),
    ],
  ];
  return runners.flatMap(([name, run]): Part[] => [
    {
      name: `${name} (a command hook that answers)`,
      endings: ['complete', 'unsubscribe in next', 'consumer throws'],
      reaped: PROCESS,
      setup: () => ({
        output: run(commandHook('ok', 'ok.mjs'), 60_000),
        feed: () => undefined,
        complete: () => undefined,
      }),
    },
    {
      name: `${name} (a command hook that hangs)`,
      endings: ['complete', 'unsubscribe'],
      reaped: PROCESS,
      // Completes once timed out (killed); left while it runs (killed).
      setup: (ending) => ({
        output: run(commandHook('hang', 'hang.mjs'), ending === 'complete' ? 200 : 60_000),
        feed: () => undefined,
        complete: () => undefined,
      }),
    },
  ]);
}

/**
 * Subscribes to `run.output`, ends it the way `ending` says, and returns once it has ended (an output
 * waited for where the ending needs one).
 */
async function endIt(run: Run, ending: Ending): Promise<void> {
  let ended!: () => void;
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  let outputs = 0;
  let endedItself = false;
  let subscription: Subscription | undefined;
  if (ending === 'consumer throws') {
    const consumer = new ThrowingConsumer<unknown>(() => true);
    run.output.subscribe(consumer);
    while (consumer.got.length === 0) {
      await run.feed();
      await until(() => consumer.got.length > 0);
    }
    await consumer.ended;
    return;
  }
  subscription = run.output.subscribe({
    next: () => {
      outputs++;
      if (ending === 'unsubscribe in next') {
        subscription?.unsubscribe();
        ended();
      }
    },
    error: () => {
      endedItself = true;
      ended();
    },
    complete: () => {
      endedItself = true;
      ended();
    },
  });
  if (ending === 'unsubscribe in next' && outputs > 0) {
    // An output came inside subscribe, before the subscription was returned.
    subscription.unsubscribe();
    ended();
  }
  if (ending === 'unsubscribe in next') {
    while (outputs === 0) {
      await run.feed();
      await until(() => outputs > 0);
    }
  } else if (ending === 'unsubscribe') {
    await run.feed();
    await settle();
    // Left while it runs: one that had ended by itself would check the end of a completion again.
    expect({ ending, endedItself }).toEqual({ ending, endedItself: false });
    subscription.unsubscribe();
    ended();
  } else {
    await run.feed();
    await settle();
    await (ending === 'complete' ? run.complete!() : run.error!());
  }
  await done;
}

describe.each(PARTS)('$name: nothing left running after the end', (part) => {
  const endings = part.endings ?? ENDINGS;
  it.each(endings)('%s', async (ending) => {
    // A `next` to a subscriber that left (RxJS drops it, and tells onStoppedNotification on a later task).
    // Not a complete: a producer's `next(); complete()`, whose consumer left in that next, is RxJS's way.
    const stopped: unknown[] = [];
    const unhandled: unknown[] = [];
    const onRejection = (reason: unknown) => unhandled.push(reason);
    const previous = { stopped: config.onStoppedNotification, unhandled: config.onUnhandledError };
    config.onStoppedNotification = (notification) => {
      if (notification.kind === 'N') stopped.push(notification);
    };
    config.onUnhandledError = (error) => unhandled.push(error);
    process.on('unhandledRejection', onRejection);
    try {
      await settle();
      const before = snapshot();
      const run = await part.setup(ending);
      const iterators = await resourcesOf(async () => {
        await endIt(run, ending);
        await settle();
      });
      const reaped = part.reaped ?? [];
      await until(() => Object.keys(added(before)).every((kind) => !reaped.includes(kind)));
      expect({ ending, left: await leftOver(before), iterators: iterators.open }).toEqual({
        ending,
        left: {},
        iterators: 0,
      });
      expect(stopped).toEqual([]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
      config.onStoppedNotification = previous.stopped;
      config.onUnhandledError = previous.unhandled;
    }
  });
});

describe('persist, unsubscribed with writes in flight and waiting', () => {
  it('writes them by itself (documented): close() waits for them, and every event is stored once, in order', async () => {
    temp = await tempStore();
    const input = new Subject<Event>();
    const events = Array.from({ length: 50 }, () => ev());
    const subscription = input.pipe(persist(temp.store, { maxBatch: 10 })).subscribe();
    for (const event of events) input.next(event);
    subscription.unsubscribe();
    const store = await temp.reopen();
    const stored = await collect(store.entries('s'));
    expect(stored.map(({ event }) => event.id)).toEqual(events.map((event) => event.id));
  });
});

describe('command hooks and the process', () => {
  it("have a listener of the process's exit (to kill their groups) only while one runs", async () => {
    const before = process.listenerCount('exit');
    const steps: unknown[] = [];
    const subscription = runHook(commandHook('hang', 'hang.mjs'), { value: 1 }).subscribe((step) =>
      steps.push(step),
    );
    const during = process.listenerCount('exit');
    subscription.unsubscribe();
    expect({ during, after: process.listenerCount('exit'), steps }).toEqual({
      during: before + 1,
      after: before,
      steps: [],
    });
  });
});
