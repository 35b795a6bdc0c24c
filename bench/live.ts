/**
 * The live path's benchmark (`npm run bench -- live`): what a Claude Code user runs (README, "The
 * command"). Claude Code starts one `vibespec-streams record` process per hook event, which appends one
 * line to `.vibespec/hooks.jsonl` and exits; one long-running `vibespec-streams ingest --follow` tails the
 * log into the store. See docs/benchmarks.md ("The live suite") for what each row means.
 *
 * 1. Tail latency, line written → its events persisted: a writer in a child process (`bench/liveWriter.ts`)
 *    appends lines as `record` does (real payloads, `test/fixtures/claude-code-hooks.jsonl`) at offered
 *    rates, open loop; the bench process runs `ingest --follow`'s composition (`fromHookFileMarked` with
 *    `follow` → the bridge's `toEvents` per line → `persist` into a store with `process` durability, and
 *    the offset saved as lines commit). Latency per line: from the instant the writer wrote it to the
 *    instant its last event was acked by `persist`. Baseline, same writer and rates: a bare tail (`fs.watch`
 *    on the file, a read of the new bytes, split into lines, `JSON.parse`), from write to parse.
 * 2. The hook's own cost: wall time of the compiled CLI's `record` (spawn → exit) with a real payload on
 *    stdin, against `node -e ''` started the same way (the floor of any Node hook); and the same append
 *    done by a bare Node script, for context (what `record` costs beyond its own work).
 *
 * Instants are read from `now()`, the machine's monotonic clock, the same in the writer and the reader.
 */
import { type ChildProcess, execFile, fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, type FSWatcher, readFileSync, watch } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { concatMap, from } from 'rxjs';
import { fromHookFileMarked, type HookFileMark, openStore, persist, toEvents } from '../src/index.js';
import {
  type BenchRow,
  type BenchSuite,
  byLength,
  formatNumber,
  median,
  percentile,
  withoutWatch,
  withTempDir,
} from './harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the CLI is compiled for the `record` rows (git-ignored). */
const DIST = join(ROOT, 'bench/.tmp/live-dist');
/** The goal of the product, for a hook's output to reach the store. */
export const GOAL_MS = 100;
/** How long a consumer is given, after the last line is written, to reach it: past that, it did not keep up. */
const DRAIN_MS = 5_000;
/** A pause between the consumer's start and the first line, for it to open the file and watch it. */
const SETTLE_MS = 100;
/** `fromHookFileMarked`'s default `pollIntervalMs`, which `ingest --follow` uses. */
const POLL_MS = 250;

/**
 * Milliseconds on the machine's monotonic clock (`CLOCK_MONOTONIC` on Linux, through `process.hrtime`):
 * one clock for every process on the machine, so the writer's instants compare with the reader's.
 */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** One line of the hook log, as `vibespec-streams record` writes it (src/cli/main.ts), newline included. */
export function hookLine(hook: string, output: unknown, timestamp: number): string {
  return `${JSON.stringify({ hook, timestamp, output })}\n`;
}

/** The hook name `record` gives a payload: its `hook_event_name`, else `unknown`. */
export function hookName(output: unknown): string {
  const name = (output as { hook_event_name?: unknown } | null)?.hook_event_name;
  return typeof name === 'string' ? name : 'unknown';
}

/** The real Claude Code payloads of test/fixtures/claude-code-hooks.jsonl, each with the hook `record` names. */
export function fixturePayloads(): Array<{ hook: string; output: Record<string, unknown> }> {
  return readFileSync(join(ROOT, 'test/fixtures/claude-code-hooks.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { payload: Record<string, unknown> }).payload)
    .map((output) => ({ hook: hookName(output), output }));
}

// --- figures --------------------------------------------------------------------------------------------

/** What the writer child reports of a run (`bench/liveWriter.ts`). */
export interface WriterRun {
  type: 'done';
  /** Each line's write instant (`now()`, just before the append), in the order written. */
  instants: number[];
  /** Each line's `timestamp` field (`Date.now()` in the writer), to check that lines are matched right. */
  timestamps: number[];
  /** How late the writer wrote a line after it was due, at most, ms (the open loop kept if small). */
  maxLateMs: number;
}

/** Nearest-rank percentiles of latencies, ms. */
export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The percentiles of `values` (NaN for none). */
export function latencyStats(values: readonly number[]): LatencyStats {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: percentile(values, 100),
  };
}

/**
 * Each line's latency, from the writer's instant to the reader's, matched by order (the i-th line read is
 * the i-th written: one writer, O_APPEND). Lines written before `from` (the warm-up) are left out, and so
 * are lines not reached. A line whose `timestamp` read back is not the one written is counted as
 * misaligned: the match by order would be wrong, and the figures with it.
 */
export function lineLatencies(
  writer: Pick<WriterRun, 'instants' | 'timestamps'>,
  reached: readonly number[],
  timestamps: readonly (number | undefined)[],
  from = Number.NEGATIVE_INFINITY,
): { latencies: number[]; misaligned: number } {
  const latencies: number[] = [];
  let misaligned = 0;
  for (let i = 0; i < writer.instants.length; i++) {
    if (i < timestamps.length && timestamps[i] !== writer.timestamps[i]) misaligned++;
    const at = reached[i];
    if (at === undefined || writer.instants[i]! < from) continue;
    latencies.push(at - writer.instants[i]!);
  }
  for (let i = writer.instants.length; i < timestamps.length; i++) misaligned++; // read, never written
  return { latencies, misaligned };
}

/** One run of one consumer at one rate. */
export interface TailRun {
  rate: number;
  seconds: number;
  /** Lines written, and lines the consumer got to the end of (acked, or parsed) before it was stopped. */
  written: number;
  reached: number;
  misaligned: number;
  /** Latencies (ms) of the lines after the warm-up: write → acked (pipeline) or parsed (tail). */
  latencies: number[];
  /** The pipeline's: write → the line emitted by `fromHookFileMarked` (the tail's share), ms. */
  readDelays: number[];
  /** The pipeline's: events per line, on average. */
  eventsPerLine: number;
  maxLateMs: number;
}

const sum = (runs: readonly TailRun[], f: (run: TailRun) => number) =>
  runs.reduce((total, run) => total + f(run), 0);
const keptUp = (runs: readonly TailRun[]) => runs.every((run) => run.reached === run.written);
/** The latencies of runs, pooled. */
const pooled = (runs: readonly TailRun[]) => latencyStats(runs.flatMap((run) => run.latencies));

/** What a reader needs to trust a latency figure: lines written and reached, the writer's schedule. */
export function describeRuns(runs: readonly TailRun[]): string {
  const misaligned = sum(runs, (run) => run.misaligned);
  return (
    `${formatNumber(sum(runs, (run) => run.reached))} of ${formatNumber(sum(runs, (run) => run.written))} lines reached` +
    `${keptUp(runs) ? '' : ` (SOME NOT WITHIN ${DRAIN_MS / 1000} s OF THE LAST WRITE: DID NOT KEEP UP)`}, ` +
    `${formatNumber(sum(runs, (run) => run.latencies.length))} after the warm-up counted; the writer at most ` +
    `${formatNumber(Math.max(0, ...runs.map((run) => run.maxLateMs)))} ms behind its schedule` +
    `${misaligned > 0 ? `; ${misaligned} LINES MISALIGNED (read back with another timestamp)` : ''}`
  );
}

/** Each run's figures, for results.json. */
const perRun = (runs: readonly TailRun[]) =>
  runs.map(({ latencies, readDelays, ...run }) => ({
    ...run,
    ...latencyStats(latencies),
    ...(readDelays.length > 0 ? { read: latencyStats(readDelays) } : {}),
  }));

/** A row of a time (ms) against its baseline: the ratio is baseline ÷ value. */
function latencyRow(name: string, baselineName: string, value: number, baseline: number, runs: number) {
  return {
    name,
    value,
    unit: 'ms',
    baseline: { name: baselineName, value: baseline },
    ratio: baseline / value,
    runs,
  };
}

/**
 * The rows of one rate: p50, p95, p99 (against the goal when `goal`), max, of the runs' lines pooled
 * (at 10 lines/s a run has only a few), each against the bare tail's.
 */
export function latencyRows(
  rate: number,
  subject: readonly TailRun[],
  baseline: readonly TailRun[],
  goal: boolean,
): Array<Omit<BenchRow, 'suite'>> {
  const s = pooled(subject);
  const b = pooled(baseline);
  const reads = latencyStats(subject.flatMap((run) => run.readDelays));
  const stores = latencyStats(
    subject.flatMap((run) => run.latencies.map((latency, i) => latency - run.readDelays[i]!)),
  );
  const row = (label: string, key: keyof LatencyStats) =>
    latencyRow(
      `latency ${label}, line written → persisted ack, ${formatNumber(rate)} lines/s offered`,
      'bare tail: fs.watch → read → JSON.parse',
      s[key],
      b[key],
      subject.length,
    );
  return [
    row('p50', 'p50'),
    row('p95', 'p95'),
    {
      ...row('p99', 'p99'),
      ...(goal ? { goal: `p99 < ${GOAL_MS} ms`, met: s.p99 < GOAL_MS && keptUp(subject) } : {}),
      notes:
        `record's lines (real payloads) → ingest --follow's composition; open loop, ` +
        `${formatNumber(subject[0]?.seconds ?? 0)} s per run, the runs' lines pooled; ${describeRuns(subject)}; ` +
        `${formatNumber(median(subject.map((run) => run.eventsPerLine)))} events per line. Where the time goes: ` +
        `line written → read by fromHookFileMarked p50 ${formatNumber(reads.p50)}, p99 ${formatNumber(reads.p99)}, ` +
        `max ${formatNumber(reads.max)} ms; read → persisted ack (bridge, persist, LevelDB) p50 ` +
        `${formatNumber(stores.p50)}, p99 ${formatNumber(stores.p99)}, max ${formatNumber(stores.max)} ms. ` +
        `Baseline: ${describeRuns(baseline)}`,
      detail: { pipeline: perRun(subject), tail: perRun(baseline) },
    },
    row('max', 'max'),
  ];
}

/**
 * The rows of the runs where `fs.watch` fails (polling alone, every `pollIntervalMs`): p50, p99, max, each
 * against the same rate with `fs.watch`. No goal: they show what the poll's interval costs where notices
 * never come, which the goal rows (with `fs.watch`) do not.
 */
export function pollRows(
  rate: number,
  poll: readonly TailRun[],
  watched: readonly TailRun[],
  pollIntervalMs: number,
): Array<Omit<BenchRow, 'suite'>> {
  const s = pooled(poll);
  const b = pooled(watched);
  const row = (label: string, key: keyof LatencyStats) =>
    latencyRow(
      `latency ${label} without fs.watch (polling only), ${formatNumber(rate)} lines/s offered`,
      'the same with fs.watch',
      s[key],
      b[key],
      poll.length,
    );
  return [
    row('p50', 'p50'),
    {
      ...row('p99', 'p99'),
      notes:
        'fs.watch made to throw, as on a filesystem that cannot be watched (some network and container ' +
        `mounts): fromHookFileMarked finds new lines by its poll alone, every ${formatNumber(pollIntervalMs)} ms ` +
        `(its default pollIntervalMs, which ingest --follow uses unless given --poll-ms), so a line waits up to that long: p99 ` +
        `${s.p99 < GOAL_MS ? 'under' : 'over'} the ${GOAL_MS} ms goal (not a goal row: the goal is read with ` +
        `fs.watch, above); ${describeRuns(poll)}`,
      detail: { poll: perRun(poll) },
    },
    row('max', 'max'),
  ];
}

// --- the writer -----------------------------------------------------------------------------------------

/** The writer child (`bench/liveWriter.ts`): appends lines as `record` does, on schedule. */
export class Writer {
  private constructor(private readonly child: ChildProcess) {}

  /** Forks the writer and gives it the payloads to cycle. */
  static async start(payloads: ReadonlyArray<{ hook: string; output: unknown }>): Promise<Writer> {
    const child = fork(join(ROOT, 'bench/liveWriter.ts'), [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const writer = new Writer(child);
    try {
      await writer.ask({ type: 'pool', payloads }, 'ready');
    } catch (error) {
      await writer.close();
      throw error;
    }
    return writer;
  }

  /**
   * Sends `message` and resolves to the reply of type `answer`; rejects on another reply, on the writer's
   * exit, and at once when it has exited already (its exit would never come, and the send would fail).
   */
  private ask<T>(message: object, answer: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.running) {
        reject(new Error(`bench/liveWriter.ts exited with ${this.child.exitCode ?? this.child.signalCode}`));
        return;
      }
      const onMessage = (reply: { type: string; message?: string }) => {
        done();
        if (reply.type === answer) resolve(reply as T);
        else reject(new Error(`bench/liveWriter.ts: ${reply.message ?? reply.type}`));
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`bench/liveWriter.ts exited with ${code}`));
      };
      const done = () => {
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
      // A failed send (the channel closed as the writer exits) is reported here, not as an 'error' event.
      this.child.send(message, (error) => {
        if (error === null) return;
        done();
        reject(error);
      });
    });
  }

  /** Writes `rate` lines a second to `log` for `seconds`, open loop; resolves when the last is written. */
  run(log: string, rate: number, seconds: number): Promise<WriterRun> {
    return this.ask<WriterRun>({ type: 'run', log, rate, seconds }, 'done');
  }

  /** Ends the writer; resolves once it has exited. */
  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill();
    return exited;
  }

  /** Whether the writer's process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

// --- the consumers --------------------------------------------------------------------------------------

/** A reader of the log: when it got to the end of each line (by order), and what it read. */
interface Consumer {
  /** `now()` when each line was done (acked, or parsed). */
  reached: number[];
  /** Each line's `timestamp` as read. */
  timestamps: Array<number | undefined>;
  /** `now()` when each line was read (the pipeline's only). */
  read: number[];
  events: number;
  /** An error the consumer met (the run fails with it). */
  failure?: unknown;
  stop(): Promise<void>;
}

/**
 * `ingest --follow`'s composition (src/cli/commands.ts), from the library's public functions: the log tailed
 * with `fromHookFileMarked(log, { follow: true })`, each line's payload bridged with `toEvents` (what the
 * command's bridge does per line), `persist(store, { priorityLane: false })` into a store of `process`
 * durability, and each line's mark saved to `log.offset` (write and rename, one at a time, the latest
 * wins) once all its events are acked.
 */
async function startIngest(dir: string): Promise<Consumer> {
  const log = join(dir, 'hooks.jsonl');
  const store = await openStore({ path: join(dir, 'event-store'), durability: 'process' });
  const consumer: Consumer = {
    reached: [],
    timestamps: [],
    read: [],
    events: 0,
    stop: async () => undefined,
  };
  const inFlight: Array<{ index: number; remaining: number; mark: HookFileMark }> = [];
  let committed: HookFileMark | undefined;
  let saved: HookFileMark | undefined;
  let saving: Promise<void> | undefined;
  const offsetFile = `${log}.offset`;
  const save = () => {
    if (saving !== undefined) return;
    saving = (async () => {
      while (committed !== saved) {
        const mark = committed!;
        await writeFile(`${offsetFile}.tmp`, `${JSON.stringify(mark)}\n`);
        await rename(`${offsetFile}.tmp`, offsetFile);
        saved = mark;
      }
    })()
      .catch((error: unknown) => {
        consumer.failure ??= error;
      })
      .finally(() => {
        saving = undefined;
      });
  };
  const settle = () => {
    while (inFlight.length > 0 && inFlight[0]!.remaining === 0) {
      const line = inFlight.shift()!;
      consumer.reached[line.index] = now();
      committed = line.mark;
    }
    if (committed !== saved) save();
  };
  const subscription = fromHookFileMarked(log, { follow: true })
    .pipe(
      concatMap(({ output, mark }) => {
        const index = consumer.read.length;
        consumer.read.push(now());
        consumer.timestamps.push(output.timestamp);
        const events = toEvents(output.hook, output.output, output.timestamp);
        consumer.events += events.length;
        inFlight.push({ index, remaining: events.length, mark });
        return from(events);
      }),
      persist(store, { priorityLane: false }),
    )
    .subscribe({
      next: () => {
        inFlight[0]!.remaining--;
        settle();
      },
      error: (error: unknown) => {
        consumer.failure ??= error;
      },
    });
  consumer.stop = async () => {
    subscription.unsubscribe();
    while (saving !== undefined) await saving;
    await store.close();
  };
  return consumer;
}

/** The baseline: `fs.watch` on the log, a read of the new bytes at each notice, split into lines, parsed. */
async function startTail(dir: string): Promise<Consumer> {
  const log = join(dir, 'hooks.jsonl');
  const handle = await open(log, 'r');
  const consumer: Consumer = {
    reached: [],
    timestamps: [],
    read: [],
    events: 0,
    stop: async () => undefined,
  };
  const buffer = Buffer.allocUnsafe(64 * 1024);
  const decoder = new StringDecoder('utf8');
  let position = 0;
  let partial = '';
  let reading = false;
  let again = false;
  let stopped = false;
  let idle: Promise<void> = Promise.resolve();
  const drain = async () => {
    do {
      again = false;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0 || stopped) break;
        position += bytesRead;
        const lines = (partial + decoder.write(buffer.subarray(0, bytesRead))).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          const { timestamp } = JSON.parse(line) as { timestamp?: number };
          consumer.reached.push(now());
          consumer.timestamps.push(timestamp);
        }
      }
    } while (again && !stopped);
  };
  const notice = () => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    idle = drain()
      .catch((error: unknown) => {
        consumer.failure ??= error;
      })
      .finally(() => {
        reading = false;
      });
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(log, notice);
  } catch (error) {
    await handle.close();
    throw error;
  }
  consumer.stop = async () => {
    stopped = true;
    watcher.close();
    await idle;
    await handle.close();
  };
  return consumer;
}

/**
 * The consumers: `pipeline`, `ingest --follow`'s composition; `poll`, the same where `fs.watch` fails
 * (polling alone); `tail`, the bare tail.
 */
export type Target = 'pipeline' | 'poll' | 'tail';

/**
 * One run: a fresh log (an empty file, as after a first `record`) and store in a temp folder, the
 * consumer started, then `rate` lines/s written for `seconds`; lines written in the first `warmupSeconds`
 * are not counted.
 */
export async function runTail(
  writer: Writer,
  target: Target,
  rate: number,
  seconds: number,
  warmupSeconds: number,
): Promise<TailRun> {
  if (target === 'poll') return withoutWatch(() => runTail(writer, 'pipeline', rate, seconds, warmupSeconds));
  return withTempDir('live', async (dir) => {
    await writeFile(join(dir, 'hooks.jsonl'), '');
    const consumer = await (target === 'pipeline' ? startIngest(dir) : startTail(dir));
    let written: WriterRun;
    try {
      await sleep(SETTLE_MS);
      written = await writer.run(join(dir, 'hooks.jsonl'), rate, seconds);
      const deadline = now() + DRAIN_MS;
      while (
        consumer.failure === undefined &&
        consumer.reached.length < written.instants.length &&
        now() < deadline
      ) {
        await sleep(5);
      }
    } finally {
      await consumer.stop();
    }
    if (consumer.failure !== undefined) throw consumer.failure;
    const from = (written.instants[0] ?? 0) + warmupSeconds * 1000;
    const { latencies, misaligned } = lineLatencies(written, consumer.reached, consumer.timestamps, from);
    const readDelays =
      target === 'pipeline'
        ? lineLatencies(written, consumer.read.slice(0, consumer.reached.length), [], from).latencies
        : [];
    return {
      rate,
      seconds,
      written: written.instants.length,
      reached: consumer.reached.length,
      misaligned,
      latencies,
      readDelays,
      eventsPerLine: consumer.read.length > 0 ? consumer.events / consumer.read.length : 0,
      maxLateMs: written.maxLateMs,
    };
  });
}

// --- the hook's own cost --------------------------------------------------------------------------------

/**
 * The compiled CLI, as `npm run build` makes it, in bench/.tmp/live-dist: tsc's emit of src/ with
 * tsconfig.build.json (`--noCheck`: with `isolatedModules` the emitted JavaScript is the same, the type
 * check is `npm test`'s; no declarations or source maps). Built again only when src/ or the tsconfig
 * files changed (a hash of them is kept beside it), into a fresh folder renamed into place.
 */
export async function buildCli(): Promise<{ bin: string; built: boolean; seconds: number }> {
  const hash = createHash('sha256');
  for (const file of ['tsconfig.json', 'tsconfig.build.json']) hash.update(await readFile(join(ROOT, file)));
  const sources = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  for (const file of sources.sort()) {
    hash.update(`\0${file}\0`);
    hash.update(await readFile(join(ROOT, 'src', file)));
  }
  const digest = hash.digest('hex');
  const stamp = join(DIST, '.source-hash');
  const bin = join(DIST, 'cli/bin.js');
  if (existsSync(bin) && existsSync(stamp) && (await readFile(stamp, 'utf8')) === digest) {
    return { bin, built: false, seconds: 0 };
  }
  const start = now();
  await mkdir(dirname(DIST), { recursive: true });
  const fresh = await mkdtemp(`${DIST}-`);
  try {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          tsc,
          ...['-p', 'tsconfig.build.json', '--outDir', fresh, '--noCheck'],
          ...['--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'],
        ],
        { cwd: ROOT },
        (error, stdout, stderr) =>
          error
            ? reject(new Error(`tsc failed: ${`${stdout}${stderr}`.trim() || error.message}`))
            : resolve(),
      ),
    );
    await writeFile(join(fresh, '.source-hash'), digest);
    await rm(DIST, { recursive: true, force: true });
    try {
      await rename(fresh, DIST);
    } catch (error) {
      // Another run (a test, a second bench) built the same sources into place meanwhile: use its build.
      const theirs = await readFile(stamp, 'utf8').catch(() => undefined);
      if (theirs !== digest) throw error;
    }
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
  return { bin, built: true, seconds: (now() - start) / 1000 };
}

/**
 * What `record` does, in a bare Node script and nothing else: read stdin, parse it, make the log's
 * folder, open the log `'a'`, one write of the line, close. The log is its first argument.
 */
const BARE_APPEND = `
const { mkdir, open } = require('node:fs/promises');
const { dirname } = require('node:path');
(async () => {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  let output;
  try { output = JSON.parse(text); } catch { output = text; }
  const hook = typeof output?.hook_event_name === 'string' ? output.hook_event_name : 'unknown';
  const log = process.argv[1];
  await mkdir(dirname(log), { recursive: true });
  const file = await open(log, 'a');
  try { await file.write(Buffer.from(JSON.stringify({ hook, timestamp: Date.now(), output }) + '\\n')); }
  finally { await file.close(); }
})();
`;

/** Wall time of one Node process, spawn → exit, with `stdin` written to it, ms; throws on a non-zero exit. */
export function timeProcess(args: readonly string[], stdin: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const start = now();
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ms = now() - start;
      if (code === 0) resolve(ms);
      else reject(new Error(`node ${args.join(' ')} exited with ${code ?? signal}: ${stderr.trim()}`));
    });
    child.stdin!.on('error', () => undefined); // a process that does not read its stdin (node -e '')
    child.stdin!.end(stdin);
  });
}

/** The payload `record` is timed with: a real PostToolUse, of the median size among them. */
export function recordPayload(payloads: ReturnType<typeof fixturePayloads>): string {
  const posts = payloads
    .filter((p) => p.hook === 'PostToolUse')
    .map((p) => JSON.stringify(p.output))
    .sort((a, b) => a.length - b.length);
  return posts[posts.length >> 1]!;
}

// --- the suite ------------------------------------------------------------------------------------------

const suite: BenchSuite = {
  name: 'live',
  async run(options) {
    const { runs, quick } = options;
    const rows: BenchRow[] = [];
    const add = (row: Omit<BenchRow, 'suite' | 'runs'> & { runs?: number }) =>
      rows.push({ suite: 'live', runs, ...row });
    const payloads = fixturePayloads();

    // --- 1. tail latency ---------------------------------------------------------------------------
    // The rates the goal is read at (a Claude Code session makes a few hook events a second; sessions
    // sharing one log, more), and one past what this machine sustains, where the tail (the reader's
    // event loop and its notices) is the limit rather than the delay per line. Then polling alone.
    const rates = [
      { rate: 10, seconds: byLength(options, { quick: 1, default: 1.5, long: 10 }), goal: true },
      { rate: 100, seconds: byLength(options, { quick: 0.5, default: 1, long: 10 }), goal: true },
      { rate: 1_000, seconds: byLength(options, { quick: 0.5, default: 1, long: 10 }), goal: true },
      { rate: 20_000, seconds: byLength(options, { quick: 0.3, default: 0.5, long: 3 }), goal: false },
    ];
    const poll = { rate: 100, seconds: byLength(options, { quick: 0.5, default: 1, long: 5 }) };
    const warmupSeconds = quick ? 0.1 : 0.25;
    const seen = new Map<string, TailRun[]>();
    const keep = (target: Target, rate: number, run: TailRun) =>
      seen.set(`${target} ${rate}`, [...(seen.get(`${target} ${rate}`) ?? []), run]);
    const writer = await Writer.start(payloads);
    try {
      // A warm-up of both consumers (JIT, LevelDB's first files), not recorded.
      await runTail(writer, 'pipeline', 500, quick ? 0.2 : 0.5, 0);
      await runTail(writer, 'tail', 500, quick ? 0.2 : 0.5, 0);
      for (let r = 0; r < runs; r++) {
        for (const { rate, seconds } of rates) {
          for (const target of ['tail', 'pipeline'] as const) {
            keep(target, rate, await runTail(writer, target, rate, seconds, warmupSeconds));
          }
        }
        keep('poll', poll.rate, await runTail(writer, 'poll', poll.rate, poll.seconds, warmupSeconds));
      }
    } finally {
      await writer.close();
    }
    for (const { rate, goal } of rates) {
      for (const row of latencyRows(rate, seen.get(`pipeline ${rate}`)!, seen.get(`tail ${rate}`)!, goal)) {
        add(row);
      }
    }
    for (const row of pollRows(
      poll.rate,
      seen.get(`poll ${poll.rate}`)!,
      seen.get(`pipeline ${poll.rate}`)!,
      POLL_MS,
    )) {
      add(row);
    }

    // --- 2. the hook's own cost --------------------------------------------------------------------
    const spawns = byLength(options, { quick: 3, default: 6, long: 30 });
    const payload = recordPayload(payloads);
    let cli: Awaited<ReturnType<typeof buildCli>> | undefined;
    let buildError: string | undefined;
    try {
      cli = await buildCli();
    } catch (error) {
      buildError = (error as Error).message;
    }
    const built =
      cli === undefined ? '' : cli.built ? `built in ${formatNumber(cli.seconds)} s` : 'up to date';
    const what =
      `node bench/.tmp/live-dist/cli/bin.js record --log <temp>/.vibespec/hooks.jsonl (the CLI compiled ` +
      `from src/ by tsc -p tsconfig.build.json --noCheck, ${built}), a real PostToolUse payload ` +
      `(${formatNumber(payload.length)} bytes) on stdin`;
    if (cli === undefined) {
      add({
        name: 'record: hook run time, spawn → exit',
        value: Number.NaN,
        unit: 'ms',
        runs: 0,
        notes: `NOT MEASURED: the CLI could not be built (${buildError})`,
      });
    } else {
      const times = { record: [] as number[], node: [] as number[], bare: [] as number[] };
      await withTempDir('live', async (dir) => {
        const log = join(dir, '.vibespec/hooks.jsonl');
        const bareLog = join(dir, 'bare/hooks.jsonl');
        // One warm-up of each (the files in the page cache), then round-robin.
        for (let i = -1; i < spawns * runs; i++) {
          const record = await timeProcess([cli!.bin, 'record', '--log', log], payload);
          const node = await timeProcess(['-e', ''], payload);
          const bare = await timeProcess(['-e', BARE_APPEND, bareLog], payload);
          if (i < 0) continue;
          times.record.push(record);
          times.node.push(node);
          times.bare.push(bare);
        }
        const lines = (await readFile(log, 'utf8')).split('\n').filter((line) => line !== '');
        if (lines.length !== spawns * runs + 1 || hookName(JSON.parse(lines[0]!).output) !== 'PostToolUse') {
          throw new Error(`bench: record wrote ${lines.length} lines for ${spawns * runs + 1} runs`);
        }
      });
      const stats = (values: number[]) => ({ median: median(values), p95: percentile(values, 95) });
      const record = stats(times.record);
      const node = stats(times.node);
      const bare = stats(times.bare);
      const n = spawns * runs;
      const NODE = "node -e '' with the same stdin";
      add({
        ...latencyRow('record: hook run time, spawn → exit (median)', NODE, record.median, node.median, n),
        notes:
          `${what}; ${n} runs of each, round-robin, after one warm-up; p95 ${formatNumber(record.p95)} ms ` +
          `(node -e '' ${formatNumber(node.p95)} ms); Claude Code waits this long for the hook; the line is in ` +
          'the log before the exit',
        detail: { record: times.record, node: times.node },
      });
      add({
        ...latencyRow(
          "context: record's append in a bare Node script, spawn → exit (median)",
          NODE,
          bare.median,
          node.median,
          n,
        ),
        notes:
          "what record does (read stdin, parse, make the log's folder, open 'a', one write, close) without " +
          `loading the library: p95 ${formatNumber(bare.p95)} ms; record's time beyond it is the loading of ` +
          `its modules (${formatNumber(record.median - bare.median)} ms at the median)`,
        detail: { bare: times.bare },
      });
    }
    return rows;
  },
};

export default suite;
