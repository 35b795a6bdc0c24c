/**
 * Nothing grows with repetition: each source and sink that holds resources of the process (a file, a
 * watcher, a timer, a child process, a LevelDB database or iterator, a listener of a shared emitter) is
 * subscribed and left (or opened and closed) 60 to 500 times, and the process is then where it was
 * after the first few: no more open file descriptors (`/proc/self/fd`), listeners of the process and its
 * standard streams, active resources (`getActiveResourcesInfo`), LevelDB iterators and snapshots left
 * open, nor, coarsely, heap after a full gc; and no warning (a `MaxListenersExceededWarning`). One cycle,
 * as nothingLeft.spec.ts checks it, cannot show what is added at each and removed never, or only later.
 *
 * A kind may be a few more after the cycles than before them (the test runner's own traffic with its
 * worker: a Timeout, a pipe's request): what one cycle leaves would be 60 to 500 more. The heap is
 * compared with a few MB of slack (compiled code grows as the cycles warm up); what a cycle keeps of a
 * 64 KiB read buffer, say, would be tens of MB.
 *
 * The parts whose cycle is slow (a LevelDB store opened, a child process, the CLI) run 60 or 100 cycles,
 * the others 200 to 500: a descriptor, listener or handle left by each cycle (or by every sixth) still
 * shows as 10 or more, far past the slack, and the file runs ~40% shorter. What those cycles
 * keep of the heap shows from ~100 KB a cycle.
 */
import { readdirSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { firstValueFrom, lastValueFrom, type Observable, of, Subject, type Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  aggregateHooks,
  chainHooks,
  createEvent,
  createFlowGate,
  type Event,
  fromFileWatcher,
  fromHookFile,
  fromHookFileMarked,
  fromJsonLines,
  type Hook,
  openStore,
  persist,
  pullFrom,
  replay,
  reviewSummary,
  runHook,
  runHookAggregation,
  runHookChain,
  type SessionStore,
  systemLoad$,
  tail,
} from '../../src/index.js';
import { heapAfterGc } from '../helpers/heap.js';
import { runMain } from '../helpers/main.js';
import { resourcesOf } from '../helpers/store.js';
import { until } from '../helpers/until.js';

/** How many more of a kind (descriptors, listeners, resources) the cycles may leave: the runner's noise. */
const SLACK = 3;
/** How much more heap (and external memory) the cycles may leave after a full gc. */
const HEAP_SLACK_BYTES = 6 * 1024 * 1024;
/** Cycles run before the first reading: modules loaded, code compiled, pools and caches filled. */
const WARM_UP = 10;

const EMITTERS: Array<[string, NodeJS.EventEmitter]> = [
  ['process', process],
  ['stdin', process.stdin],
  ['stdout', process.stdout],
  ['stderr', process.stderr],
];
/** Events of the process listened to by the library (signals, exit) even when none listens now. */
const PROCESS_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit', 'beforeExit', 'warning'];

/** What the process holds: by kind, each a count. */
function footprint(): Record<string, number> {
  const counts: Record<string, number> = { 'file descriptors': readdirSync('/proc/self/fd').length };
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  for (const [name, emitter] of EMITTERS) {
    const events = new Set([...emitter.eventNames(), ...(emitter === process ? PROCESS_EVENTS : [])]);
    for (const event of events) counts[`${name} ${String(event)} listeners`] = emitter.listenerCount(event);
  }
  return counts;
}

/** The kinds of which there are more than `SLACK` more now than in `before`, with how many more. */
function grown(before: Record<string, number>): Record<string, number> {
  const more: Record<string, number> = {};
  for (const [kind, count] of Object.entries(footprint())) {
    if (count - (before[kind] ?? 0) > SLACK) more[kind] = count - (before[kind] ?? 0);
  }
  return more;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `until`, looked at every ms rather than every 10: most cycles wait for an output once or twice, and
 * 10 ms a wait was most of their time. The deadline only turns a hang into a failure.
 */
async function soon(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!predicate() && Date.now() < deadline) await sleep(1);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await turn();
    await sleep(0);
  }
}

/** How long what grew must stay as it is before it is taken as kept: a leak stays, a reaping moves. */
const STILL_MS = 10_000;

/**
 * Waits (a few turns, then until nothing has grown: a killed process is reaped later) and returns what grew.
 * What grew and then stays the same for `STILL_MS` is returned then: a leak does not wait out `until`'s 120 s.
 */
async function grownAfterSettling(before: Record<string, number>): Promise<Record<string, number>> {
  await settle();
  let seen = JSON.stringify(grown(before));
  let since = Date.now();
  await until(() => {
    const now = JSON.stringify(grown(before));
    if (now !== seen) [seen, since] = [now, Date.now()];
    return now === '{}' || Date.now() - since >= STILL_MS;
  });
  return grown(before);
}

const warnings: string[] = [];
const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
let dir: string;
beforeAll(async () => {
  process.on('warning', onWarning);
  dir = await mkdtemp(join(tmpdir(), 'vibespec-repeat-'));
});
afterAll(async () => {
  process.off('warning', onWarning);
  await rm(dir, { recursive: true, force: true });
});

/** A part run again and again: what it needs made once (`setup`), one cycle, and its end. */
interface Repeated {
  name: string;
  cycles: number;
  setup?(folder: string): Promise<void>;
  cycle(i: number, folder: string): Promise<unknown>;
  teardown?(): Promise<void>;
}

let seq = 0;
const hookLine = (i: number) =>
  `${JSON.stringify({ hook: 'post-tool-use', output: { tool_name: 'Bash', tool_input: { i } } })}\n`;
const event = (sessionId = 's') =>
  createEvent({ type: 'tool.used', timestamp: 1_700_000_000_000 + ++seq, sessionId, data: { n: seq } });

/** Subscribes to `source` and resolves with the subscription once `count` values came. */
async function subscribedFor<T>(
  source: { subscribe(next: (value: T) => void): Subscription },
  count: number,
): Promise<Subscription> {
  let got = 0;
  const subscription = source.subscribe(() => {
    got++;
  });
  await soon(() => got >= count);
  return subscription;
}

/**
 * A followed log, written to between two reads: appended to, rotated (moved away, a new one at the
 * path), rewritten in place, or gone (moved away, none at the path yet: the reader waits for it).
 */
async function changeLog(path: string, i: number): Promise<'read' | 'missing'> {
  switch (i % 4) {
    case 0:
      await appendFile(path, hookLine(i));
      return 'read';
    case 1:
      await rename(path, `${path}.1`);
      await writeFile(path, hookLine(i));
      return 'read';
    case 2:
      await writeFile(path, hookLine(i).repeat(2));
      return 'read';
    default:
      await rename(path, `${path}.1`);
      return 'missing';
  }
}

let store: SessionStore | undefined;
async function storeWith(folder: string, events: number): Promise<void> {
  store = await openStore({ path: join(folder, 'db') });
  await store.append(Array.from({ length: events }, () => event()));
}
async function closeStore(): Promise<void> {
  await store?.close();
  store = undefined;
}

const command = (name: string, program: string, ...args: string[]): Hook => ({
  name,
  command: program,
  args,
});
const ANSWERS = command('answers', 'true');
const HANGS = command('hangs', 'sleep', '60');
const HOOK_RUNS: Array<(hook: Hook) => Observable<unknown>> = [
  (hook: Hook) => runHook(hook, { value: 1 }),
  (hook: Hook) => runHookChain({ name: 'c', hooks: [hook] }, { value: 1 }),
  (hook: Hook) =>
    runHookAggregation([hook, { ...ANSWERS, name: 'also answers' }], { value: 1 }, reviewSummary),
  (hook: Hook) => of({ value: 1 }).pipe(chainHooks({ name: 'c', hooks: [hook] })),
  (hook: Hook) => of({ value: 1 }).pipe(aggregateHooks([hook], reviewSummary)),
];

/** Waits until a listener of `signal` is added to the process (more than `before`), then emits it. */
async function signalOnceListened(signal: NodeJS.Signals, before: number): Promise<void> {
  await soon(() => process.listenerCount(signal) > before);
  process.emit(signal, signal);
}

const PARTS: Repeated[] = [
  {
    name: 'fromHookFile (follow): read, the log changed (appended, rotated, rewritten, gone), left',
    cycles: 100,
    setup: (folder) => writeFile(join(folder, 'hooks.jsonl'), hookLine(0)),
    async cycle(i, folder) {
      const path = join(folder, 'hooks.jsonl');
      let got = 0;
      const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 5 }).subscribe(() => {
        got++;
      });
      await soon(() => got > 0);
      const seen = got;
      const what = await changeLog(path, i);
      if (what === 'read') await soon(() => got > seen);
      else await sleep(10);
      subscription.unsubscribe();
      if (what === 'missing') await writeFile(path, hookLine(i));
    },
  },
  {
    name: 'fromHookFileMarked (follow): left in the middle of a read, the log rotated between',
    cycles: 300,
    setup: (folder) => writeFile(join(folder, 'hooks.jsonl'), hookLine(0).repeat(20)),
    async cycle(i, folder) {
      const path = join(folder, 'hooks.jsonl');
      let got = 0;
      const subscription = fromHookFileMarked(path, { follow: true, pollIntervalMs: 5 }).subscribe(() => {
        if (++got === 3) subscription.unsubscribe();
      });
      await soon(() => got >= 3);
      if (i % 5 === 0) {
        await rename(path, `${path}.1`);
        await writeFile(path, hookLine(i).repeat(20));
      }
    },
  },
  {
    name: 'fromHookFile (to its end), and with resumeFrom',
    cycles: 300,
    setup: (folder) => writeFile(join(folder, 'hooks.jsonl'), hookLine(0).repeat(3)),
    cycle: (i, folder) =>
      lastValueFrom(
        fromHookFile(join(folder, 'hooks.jsonl'), i % 2 === 0 ? {} : { resumeFrom: hookLine(0).length }),
      ),
  },
  {
    name: 'fromFileWatcher (a folder per watcher): a change seen, left',
    cycles: 200,
    setup: async (folder) => {
      await mkdir(join(folder, 'tree', 'a', 'b'), { recursive: true });
      await mkdir(join(folder, 'tree', 'c'), { recursive: true });
    },
    async cycle(i, folder) {
      const root = join(folder, 'tree');
      let got = 0;
      const subscription = fromFileWatcher(root, { debounceMs: 1 }).subscribe(() => {
        got++;
      });
      await writeFile(join(root, i % 2 === 0 ? 'a/b' : 'c', `f${i % 7}.txt`), String(i));
      await soon(() => got > 0);
      subscription.unsubscribe();
    },
  },
  {
    name: 'fromJsonLines (a stream): a line read, left',
    cycles: 500,
    async cycle() {
      const stream = new PassThrough();
      const first = firstValueFrom(fromJsonLines(stream));
      stream.write(hookLine(0));
      await first;
    },
  },
  {
    name: 'pullFrom (a stream, the gate held at times): left while it waits',
    cycles: 500,
    async cycle(i) {
      const gate = createFlowGate();
      const stream = new PassThrough({ objectMode: true });
      const subscription = await subscribedFor(pullFrom(stream, gate), 0);
      if (i % 2 === 0) gate.hold({});
      stream.write('a');
      await turn();
      subscription.unsubscribe();
    },
  },
  {
    name: 'systemLoad$ (a probe): two subscribers join, get a sample, leave',
    cycles: 300,
    async cycle() {
      const probe = { cpuPercent: async () => 1, memoryPercent: async () => 2 };
      const first = await subscribedFor(systemLoad$({ intervalMs: 1, probe }), 1);
      const second = await subscribedFor(systemLoad$({ intervalMs: 1, probe }), 2);
      first.unsubscribe();
      second.unsubscribe();
    },
  },
  {
    name: 'openStore and close (an append at times)',
    cycles: 60,
    async cycle(i, folder) {
      const opened = await openStore({ path: join(folder, 'db') });
      if (i % 10 === 0) await opened.append([event()]);
      await opened.close();
    },
  },
  {
    name: 'query and entries left after their first event; replay left in the middle, also at a held gate',
    cycles: 100,
    setup: (folder) => storeWith(folder, 600),
    async cycle(i) {
      const open = store!;
      for await (const _ of open.query('s')) break;
      for await (const _ of open.entries('s', { types: ['tool.used'], start: 0 })) break;
      await firstValueFrom(replay(open, 's'));
      const gate = createFlowGate();
      let got = 0;
      const gated = replay(open, 's', { gate }).subscribe(() => {
        if (++got === 2 + (i % 5)) gate.hold({});
      });
      await soon(() => got >= 2 + (i % 5));
      gated.unsubscribe();
    },
    teardown: closeStore,
  },
  {
    name: 'tail: three tails of a session follow an append, leave; the session deleted at times',
    cycles: 300,
    setup: (folder) => storeWith(folder, 0),
    async cycle(i) {
      const open = store!;
      const sessionId = `s${i % 5}`;
      let got = 0;
      const tails = [0, 1, 2].map(() =>
        tail(open, sessionId).subscribe(() => {
          got++;
        }),
      );
      await open.append([event(sessionId)]);
      await soon(() => got >= 3);
      for (const subscription of tails) subscription.unsubscribe();
      if (i % 7 === 0) await open.deleteSession(sessionId);
    },
    teardown: closeStore,
  },
  {
    name: 'persist: events written, the input completed or left with writes in flight',
    cycles: 300,
    setup: (folder) => storeWith(folder, 0),
    async cycle(i) {
      const input = new Subject<Event>();
      let written = 0;
      const subscription = input.pipe(persist(store!, { maxBatch: 2 })).subscribe(() => {
        written++;
      });
      for (let k = 0; k < 5; k++) input.next(event());
      if (i % 2 === 0) {
        input.complete();
        await soon(() => subscription.closed);
      } else {
        await soon(() => written > 0);
        subscription.unsubscribe();
      }
    },
    teardown: closeStore,
  },
  {
    name: 'command hooks (each runner): one that answers, one left while it runs (killed)',
    cycles: 100,
    async cycle(i) {
      const run = HOOK_RUNS[i % HOOK_RUNS.length]!;
      if (i % 2 === 0) {
        await lastValueFrom(run(ANSWERS));
        return;
      }
      const subscription = run(HANGS).subscribe();
      await sleep(1);
      subscription.unsubscribe();
    },
  },
  {
    name: 'CLI record (in the process), --durability process and os',
    cycles: 200,
    async cycle(i, folder) {
      const payload = JSON.stringify({ hook_event_name: 'Stop', session_id: 's', n: i });
      const durability = i % 2 === 0 ? 'process' : 'os';
      const { code } = await runMain(
        ['record', '--log', join(folder, 'hooks.jsonl'), '--durability', durability],
        [payload],
      );
      expect(code).toBe(0);
    },
  },
  {
    name: 'CLI ingest (in the process): a pass, and --follow stopped by SIGTERM, the log rotated between',
    cycles: 60,
    async cycle(i, folder) {
      const log = join(folder, 'hooks.jsonl');
      const storePath = join(folder, 'store');
      if (i % 6 === 5) {
        await rename(log, `${log}.${i}`);
        await rm(`${log}.offset`);
      }
      await appendFile(log, hookLine(i));
      if (i % 2 === 0) {
        expect((await runMain(['ingest', '--log', log, '--store', storePath])).code).toBe(0);
        return;
      }
      const before = process.listenerCount('SIGTERM');
      const run = runMain(['ingest', '--follow', '--poll-ms', '5', '--log', log, '--store', storePath]);
      await signalOnceListened('SIGTERM', before);
      expect((await run).code).toBe(0);
    },
  },
];

describe.each(PARTS)('$name', (part) => {
  it(`leaves the process as it was after ${part.cycles} cycles`, async () => {
    const folder = join(dir, String(PARTS.indexOf(part)));
    await mkdir(folder);
    await part.setup?.(folder);
    try {
      for (let i = 0; i < WARM_UP; i++) await part.cycle(i, folder);
      await settle();
      const before = footprint();
      const heapBefore = heapAfterGc({ external: true });
      const iterators = await resourcesOf(async () => {
        for (let i = WARM_UP; i < WARM_UP + part.cycles; i++) await part.cycle(i, folder);
        // The last cycle's iterators, closed a few ticks after it was left.
        await settle();
      });
      const left = await grownAfterSettling(before);
      const heap = heapAfterGc({ external: true }) - heapBefore;
      expect({ left, iteratorsOpen: iterators.open, warnings }).toEqual({
        left: {},
        iteratorsOpen: 0,
        warnings: [],
      });
      expect(heap).toBeLessThan(HEAP_SLACK_BYTES);
    } finally {
      await part.teardown?.();
      vi.restoreAllMocks();
    }
  });
});

describe('systemLoad$ with node-os-utils (the default probe)', () => {
  it('runs one CPU sample at a time however often its samplers start and stop: 200 subscribed and left', async () => {
    // Each sampler had its own node-os-utils probe, so the calls of one never waited for another's: a
    // sampler started and stopped 200 times (a pipeline with a load$ run per batch, say) left 200 CPU
    // samples running at once, each holding a 200 ms timer and a file of /proc open at times: 200 Timeouts
    // and up to ~270 file descriptors more. Where the cycles are slower than a sample, fewer overlap;
    // here they are left at once, in one synchronous loop.
    const { CPUMonitor } = await import('node-os-utils');
    const usage = CPUMonitor.prototype.usage;
    let started = 0;
    let running = 0;
    let most = 0;
    const spy = vi.spyOn(CPUMonitor.prototype, 'usage').mockImplementation(function (this: unknown) {
      started++;
      most = Math.max(most, ++running);
      return usage.call(this).finally(() => {
        running--;
      });
    });
    try {
      await settle();
      const before = footprint();
      const peak: Record<string, number> = {};
      const record = () => {
        for (const [kind, count] of Object.entries(footprint())) {
          const more = count - (before[kind] ?? 0);
          if (more > SLACK && more > (peak[kind] ?? 0)) peak[kind] = more;
        }
      };
      for (let i = 0; i < 200; i++) systemLoad$({ intervalMs: 1_000 }).subscribe().unsubscribe();
      // Until the samples they started have ended (~200 ms each), the peak of each kind noted at every turn.
      const deadline = Date.now() + 120_000;
      while ((started === 0 || running > 0) && Date.now() < deadline) {
        record();
        await turn();
      }
      await grownAfterSettling(before);
      expect({ most, peak }).toEqual({ most: 1, peak: {} });
    } finally {
      spy.mockRestore();
    }
  });
});
