/**
 * The `vibespec-streams` command. See `vibespec-streams help`.
 *
 * A Claude Code hook runs one process per event, often several at once, while a LevelDB folder can
 * be open in only one process. So `record` (the hook) only appends a line to a JSON Lines log — an
 * append is cheap and never blocks Claude — and `ingest` (one long-running process, or a run now and
 * then) moves the log into the store through the bridge.
 *
 * `main` runs a command line and resolves to its exit code; `bin.ts` is the executable that calls it, so
 * that this module can be imported (by tests) without running anything.
 */
import { createReadStream, existsSync } from 'node:fs';
import { type FileHandle, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { concatMap, EMPTY, from, lastValueFrom, tap } from 'rxjs';
import { nearestName, textOf, VibespecError } from '../errors.js';
import { eventToJSON } from '../event.js';
import { makeFolder } from '../folders.js';
import { persist } from '../store/persist.js';
import { type Durability, openStore, type SessionStore } from '../store/SessionStore.js';
import { bridgeHooks } from '../streams/bridge.js';
import { fromHookFileMarked, type HookFileMark, resumeOption } from '../streams/fromHookFile.js';
import { fromJsonLines } from '../streams/fromJsonLines.js';
import { bridgeLimits, mapHookOutput } from '../streams/toEvents.js';
import { writeWhole } from './appendLine.js';
import { Output } from './output.js';

const DEFAULT_LOG = '.vibespec/hooks.jsonl';
/** Every command's output: a reader that goes away (`| head`) ends it quietly (see `Output`). */
const stdout = new Output(process.stdout);
const DEFAULT_STORE = '.vibespec/event-store';

const USAGE = `usage: vibespec-streams <command> [options]

  record [--log FILE] [--hook NAME] [--durability process|os]
      As a Claude Code command hook: read the payload on stdin and append it, stamped with the time,
      to the log (default ${DEFAULT_LOG}), in one write. Exits 0 once the whole line is written; if it
      cannot be (a full disk, a folder it cannot create), says why and exits 1: a hook error Claude
      shows, without blocking it (only exit 2 blocks). A usage error exits 1 too.
      --durability process (default) leaves the line to the OS; os fsyncs the log after the write (and
      its folder when it creates the file), so the line survives a crash of the machine.
  ingest [--log FILE] [--store DIR] [--follow] [--durability process|os]
      Bridge the log's payloads into events and persist them (default store ${DEFAULT_STORE}).
      Resumes after the last line whose events are all in the store: FILE.offset keeps where it ends
      (in bytes) and which file it was, so a log rotated, truncated or rewritten since is read from its
      start. A last line without a newline may still be being written: it is left for the next run.
      --follow keeps tailing the log, across rotations, until SIGINT (Ctrl+C) or SIGTERM.
      --durability process (default) survives a crash of this process; os also survives a crash of
      the machine: the store fsyncs each write, and FILE.offset is fsynced (and its folder).
  bridge [FILE]
      JSON Lines of hook payloads (FILE or stdin) → JSON Lines of events on stdout.
  sessions [--store DIR]
      One line per stored session: id, events, time span.
  context ID [--store DIR]
      A session's context (counts, time span, files, agents, workflows) as JSON.
  replay ID [--store DIR] [--types a,b] [--limit N]
      A session's stored events as JSON Lines (at most N: a whole number).
  help, or --help (-h) after any command
  --version (-V): the version of vibespec-streams`;

const OPTIONS = {
  log: { type: 'string', default: DEFAULT_LOG },
  store: { type: 'string', default: DEFAULT_STORE },
  hook: { type: 'string' },
  types: { type: 'string' },
  limit: { type: 'string' },
  follow: { type: 'boolean', default: false },
  durability: { type: 'string', default: 'process' },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'V', default: false },
} as const;

/** How many arguments each command takes besides its options (a session id, a file). */
const POSITIONALS = { record: 0, ingest: 0, bridge: 1, sessions: 0, context: 1, replay: 1 } as const;

/**
 * The store of a command that only reads: a folder that is not there, or is not a store (no LevelDB
 * `CURRENT` file: `--store .vibespec` for `.vibespec/event-store`), is a mistyped `--store` or a store
 * never ingested into, and is said so, rather than a new empty store created in it (which `openStore`
 * would do).
 */
async function openExisting(path: string) {
  if (!existsSync(join(path, 'CURRENT'))) {
    const what = existsSync(path) ? `${path} is not a store` : `no store at ${path}`;
    throw new Error(`${what} (ingest a log into it first: vibespec-streams ingest --store ${path})`);
  }
  return openCli({ path });
}

/**
 * `openStore`, with the CLI's words for a store another process has open (the library's message speaks of
 * `openStore`'s `path` option).
 */
async function openCli(options: { path: string; durability?: Durability }): Promise<SessionStore> {
  try {
    return await openStore(options);
  } catch (error) {
    if (error instanceof VibespecError && error.code === 'STORE_LOCKED') {
      throw new Error(
        `the store at ${options.path} is locked: another process has it open (an ingest --follow, say). ` +
          'Stop it and run this again (an ingest resumes where it stopped), read the log itself with ' +
          'vibespec-streams bridge, or use another store (--store)',
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * A session that is not in the store is a mistyped id, and is said so (exit 1): its context would read as
 * an empty one, its replay as nothing at all, both with exit 0.
 */
async function assertSession(store: SessionStore, storePath: string, id: string): Promise<void> {
  if ((await store.session(id)) === undefined) {
    throw new Error(
      `no session ${JSON.stringify(id)} in ${storePath} (vibespec-streams sessions --store ${storePath} lists them)`,
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Appends the payload on stdin to the log, as one line. With `durability` `'os'` the log is fsynced after
 * the write, and so is its folder when the file was created (and the folder above each folder created
 * for it), so that a crash of the machine does not lose a recorded line; `'process'` leaves that to the
 * OS. Exit 1 when the line could not be written whole (see `writeWhole`).
 */
async function record(log: string, hook: string | undefined, durability: Durability): Promise<number> {
  try {
    const text = await readStdin();
    let output: unknown;
    try {
      output = JSON.parse(text);
    } catch {
      output = text; // the bridge will reject it with the raw text, which is what we want to see
    }
    const name =
      hook ??
      (typeof (output as { hook_event_name?: unknown })?.hook_event_name === 'string'
        ? (output as { hook_event_name: string }).hook_event_name
        : 'unknown');
    const sync = durability === 'os';
    const folders = await makeFolder(dirname(log));
    // One write of one line: O_APPEND keeps concurrent hooks' lines whole on a local filesystem. Not
    // appendFile: it writes a long line in chunks (2 MiB), and another hook's line can land between them.
    const line = Buffer.from(`${JSON.stringify({ hook: name, timestamp: Date.now(), output })}\n`);
    // With sync, 'ax' first (O_EXCL) tells whether this process created the file, whose entry in its
    // folder is then fsynced too.
    let created = false;
    let file: FileHandle;
    try {
      file = await open(log, sync ? 'ax' : 'a');
      created = sync;
    } catch (error) {
      if (!sync || (error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      file = await open(log, 'a');
    }
    try {
      await writeWhole(file, line, log);
      if (sync) await file.sync();
    } finally {
      await file.close();
    }
    if (sync) {
      // Deepest first: the file's entry, then each created folder's entry in the folder above it.
      const entries = [
        ...(created ? [dirname(log)] : []),
        ...folders.reverse().map((folder) => dirname(folder)),
      ];
      for (const folder of new Set(entries)) await syncFolder(folder);
    }
  } catch (error) {
    // Not recorded: said, and exit 1, a hook error Claude Code shows without blocking (only 2 blocks).
    console.error(`vibespec-streams record: ${log}: ${textOf(error)}`);
    return 1;
  }
  return 0;
}

/**
 * Where `ingest` got to in a log: the mark of the last line whose events are all in the store (its
 * `timestamp` too: a bad line just after it takes that time, as in one read of the whole log).
 */
type Resume = Pick<HookFileMark, 'end' | 'ino' | 'head' | 'timestamp'>;

/**
 * Reads `FILE.offset`: nothing yet (missing), or a saved mark `{ "offset", "ino", "head", "timestamp"? }`
 * (`timestamp` since it is saved; a file without it resumes as before, a bad line after it stamped by the
 * bridge's clock). A plain
 * number, written by earlier versions, is a count of lines: it is read as they read it (the first N
 * lines of the file at the path are skipped, so they are not stored twice) and replaced by a mark as
 * soon as a line is committed.
 */
async function readOffset(offsetFile: string): Promise<{ resume?: Resume; lines?: number }> {
  let text: string;
  try {
    text = await readFile(offsetFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  if (/^\s*\d+\s*$/.test(text)) return { lines: Number(text) };
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch {
    saved = undefined;
  }
  const { offset, ino, head, timestamp } = (saved ?? {}) as Record<string, unknown>;
  let resume: Resume | undefined;
  try {
    // The reader's own check of a mark (`resumeFrom`): one it would refuse is no offset file either.
    const mark = resumeOption({ end: offset, ino, head, timestamp });
    if (mark?.ino !== undefined && mark.head !== undefined)
      resume = { ...mark, ino: mark.ino, head: mark.head };
  } catch {
    // Reported below.
  }
  if (resume === undefined) {
    // Guessing could lose lines or store them twice: ask. Deleting it re-ingests the whole log.
    throw new Error(
      `${offsetFile} is not an offset file ({ "offset", "ino", "head" }); remove it to ingest the log from its start`,
    );
  }
  return { resume };
}

/**
 * Replaces `FILE.offset` whole (a crash of the process leaves the old one or the new one, never a part of
 * it). With `sync` (`--durability os`), the new file is fsynced before the rename and its folder after
 * it, so that a crash of the machine too leaves a whole file, and never one that got to disk before the
 * events it counts (the store fsyncs them before they are acknowledged).
 */
async function writeOffset(offsetFile: string, mark: Resume, sync: boolean): Promise<void> {
  const temporary = `${offsetFile}.tmp`;
  const file = await open(temporary, 'w');
  try {
    const { end: offset, ino, head, timestamp } = mark;
    await file.writeFile(`${JSON.stringify({ offset, ino, head, timestamp })}\n`);
    if (sync) await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, offsetFile);
  // The rename is in the folder's entry: fsync it too.
  if (sync) await syncFolder(dirname(offsetFile));
}

/**
 * Fsyncs a folder, so that its entries (a file created or renamed in it) survive a crash of the machine.
 * Not on Windows, where a folder cannot be opened as a file.
 */
async function syncFolder(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const folder = await open(path, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

async function ingest(
  log: string,
  storePath: string,
  follow: boolean,
  durability: Durability,
): Promise<number> {
  const offsetFile = `${log}.offset`;
  const { resume, lines: legacyLines = 0 } = await readOffset(offsetFile);
  const store = await openCli({ path: storePath, durability });
  const limits = bridgeLimits(undefined, 'bridge');
  // Lines whose events are not all acknowledged yet, oldest first; the saved mark only moves past a line
  // once every event it produced is in the store, so a crash re-ingests at most the lines in flight.
  const inFlight: Array<{ mark: HookFileMark; remaining: number; counted: boolean }> = [];
  let skip = legacyLines;
  let committed: Resume | undefined;
  let saved: Resume | undefined;
  let newLines = 0;
  let written = 0;
  let partial = false;
  let saving: Promise<void> | undefined;
  let saveError: { error: unknown } | undefined;
  let onSaveError: (() => void) | undefined;
  /** Saves the last committed mark: one write at a time, the latest mark wins. */
  const save = () => {
    if (saving !== undefined || saveError !== undefined || committed === saved) return;
    saving = (async () => {
      try {
        while (committed !== saved) {
          const mark = committed!;
          await writeOffset(offsetFile, mark, durability === 'os');
          saved = mark;
        }
      } catch (error) {
        saveError = { error };
        onSaveError?.();
      } finally {
        // In the same step as the loop's last check: a mark committed after it starts a new save.
        saving = undefined;
      }
    })();
  };
  const settle = () => {
    while (inFlight.length > 0 && inFlight[0]!.remaining === 0) {
      const line = inFlight.shift()!;
      committed = line.mark;
      if (line.counted) newLines++;
    }
    if (committed !== saved) save();
  };
  let failure: { error: unknown } | undefined;
  let onInterrupt: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const subscription = fromHookFileMarked(log, { follow, resumeFrom: resume })
        .pipe(
          concatMap(({ output, mark }) => {
            // At the end of the file, a line without a newline may still be being appended: it is left
            // for the next run. (With --follow, such a line is the last of a rotated or truncated file.)
            if (!mark.terminated && !follow) {
              partial = true;
              return EMPTY;
            }
            if (skip > 0) {
              skip--;
              inFlight.push({ mark, remaining: 0, counted: false });
              settle();
              return EMPTY;
            }
            const events = mapHookOutput(output, limits, Date);
            inFlight.push({ mark, remaining: events.length, counted: true });
            if (events.length === 0) settle();
            return from(events);
          }),
          // In order: each event written is counted against the oldest line in flight, so none may
          // overtake another (the priority lane lets CRITICAL ones; the bridge makes none today).
          persist(store, { priorityLane: false }),
        )
        .subscribe({
          next: () => {
            written++;
            inFlight[0]!.remaining--;
            settle();
          },
          error: reject,
          complete: resolve,
        });
      onSaveError = () => {
        subscription.unsubscribe();
        reject(saveError!.error);
      };
      if (follow) {
        onInterrupt = () => {
          subscription.unsubscribe();
          resolve();
        };
        // Ctrl+C, and `kill` / a service manager's stop: both end the run as its end of input would
        // (the store closed, the summary printed, exit 0), rather than killing it mid-write.
        process.once('SIGINT', onInterrupt);
        process.once('SIGTERM', onInterrupt);
      }
    });
  } catch (error) {
    failure = { error };
  }
  // Cleanup never masks the first error, and the store is always closed.
  if (onInterrupt !== undefined) {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
  onSaveError = undefined;
  // Saving runs as lines commit, so waiting for it leaves the last committed mark on disk (or an
  // error). Nothing committed: nothing written.
  while (saving !== undefined) await saving;
  if (saveError !== undefined) failure ??= saveError;
  try {
    await store.close();
  } catch (error) {
    failure ??= { error };
  }
  if (failure !== undefined) throw failure.error;
  const rest = partial ? ' (its last line has no newline yet: left for the next run)' : '';
  console.error(`ingested ${written} events from ${newLines} new lines of ${log}${rest}`);
  return 0;
}

/**
 * An event time as ISO 8601, or as the number of ms when no date has it (beyond ±8.64e15 ms: a time in ns,
 * say, which the store keeps as it is): one such session must not hide the others.
 */
function timeText(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString();
}

async function sessions(storePath: string): Promise<number> {
  const store = await openExisting(storePath);
  try {
    for (const info of await store.sessions()) {
      const span =
        info.startTime === undefined || info.lastEventTime === undefined
          ? '-'
          : `${timeText(info.startTime)} … ${timeText(info.lastEventTime)}`;
      stdout.write(
        `${info.sessionId}\t${info.eventCount} event${info.eventCount === 1 ? '' : 's'}\t${span}\n`,
      );
      if (!(await stdout.ready())) break;
    }
  } finally {
    await store.close();
  }
  return 0;
}

async function context(storePath: string, id: string | undefined): Promise<number> {
  if (id === undefined) return usage('context needs a session id');
  const store = await openExisting(storePath);
  try {
    await assertSession(store, storePath, id);
    stdout.write(`${JSON.stringify(await store.sessionContext(id), null, 2)}\n`);
    await stdout.ready();
  } finally {
    await store.close();
  }
  return 0;
}

async function replayCommand(
  storePath: string,
  id: string | undefined,
  types: string | undefined,
  limit: string | undefined,
): Promise<number> {
  if (id === undefined) return usage('replay needs a session id');
  // Digits only: `Number` reads '' (an unset shell variable) as 0, and '0x10' or '1e3' as numbers.
  if (limit !== undefined && !/^\d+$/.test(limit)) {
    return usage(`--limit must be a whole number of events, got ${JSON.stringify(limit)}`);
  }
  // `--types 'a, b'`: the names without the spaces around them (' b' would select nothing, silently).
  const typeList = types?.split(',').map((type) => type.trim());
  if (typeList?.includes('')) {
    return usage(`--types must be a comma-separated list of event types, got ${JSON.stringify(types)}`);
  }
  const store = await openExisting(storePath);
  try {
    await assertSession(store, storePath, id);
    // The query `replay` is made of, read at the pace of stdout's reader: pulled, not pushed.
    const events = store.query(id, {
      ...(typeList === undefined ? {} : { types: typeList }),
      ...(limit === undefined ? {} : { limit: Number(limit) }),
    });
    for await (const event of events) {
      stdout.write(`${eventToJSON(event)}\n`);
      if (!(await stdout.ready())) break; // `| head`: the reader is gone
    }
  } finally {
    await store.close();
  }
  return 0;
}

async function bridge(file: string | undefined): Promise<number> {
  const input = file === undefined || file === '-' ? process.stdin : createReadStream(file);
  // fromJsonLines pushes each chunk's events synchronously, then asks for the next chunk: waiting for
  // stdout there paces the reading to stdout's reader, and stops it once that reader is gone.
  // A failed write (ENOSPC…) stops the reading too, and is thrown as itself: thrown from here, it would
  // be reported as fromJsonLines failing to read the input.
  let writeError: { error: unknown } | undefined;
  async function* paced(): AsyncGenerator<string | Uint8Array> {
    for await (const chunk of input as AsyncIterable<string | Uint8Array>) {
      yield chunk;
      let open: boolean;
      try {
        open = await stdout.ready();
      } catch (error) {
        writeError = { error };
        return;
      }
      if (!open) return; // `| head`: the reader is gone
    }
  }
  await lastValueFrom(
    fromJsonLines(paced()).pipe(
      bridgeHooks(),
      tap((event) => stdout.write(`${eventToJSON(event)}\n`)),
    ),
    { defaultValue: undefined },
  );
  if (writeError !== undefined) throw writeError.error;
  // The events of a last line without a newline are written after the last wait: their error too.
  await stdout.ready();
  return 0;
}

const isDurability = (value: string): value is Durability => value === 'process' || value === 'os';
const durabilityProblem = (value: string) =>
  `--durability must be process or os, got ${JSON.stringify(value)}`;

/** Prints the package's version, read from its package.json (two folders up from src/cli and dist/cli). */
async function version(): Promise<number> {
  const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
  stdout.write(`${(manifest as { version: string }).version}\n`);
  await stdout.ready();
  return 0;
}

/**
 * Prints the usage: on stdout, exit 0; with a problem, on stderr, exit 2 — but 1 for `record`, which runs
 * as a Claude Code hook, where exit 2 is a blocking error (a PreToolUse tool call is refused, a prompt
 * dropped): a mistyped option in the hook's command would block every one of them.
 */
function usage(problem?: string, command?: string): number {
  if (problem === undefined) {
    stdout.write(`${USAGE}\n`);
    return 0;
  }
  console.error(`vibespec-streams: ${problem}\n\n${USAGE}`);
  return command === 'record' ? 1 : 2;
}

/**
 * `parseArgs`' error in the CLI's words: an unknown option with the nearest known one (`--type`: did you
 * mean `--types`?) rather than advice on positionals. An option followed by an argument that starts with
 * `-` ("ambiguous"): its value is missing when that argument is an option (`--store --follow`), else how
 * to give a value that starts with `-` (`--log -x.jsonl`).
 */
function parseProblem(error: unknown, args: readonly string[]): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = textOf(error);
  const option = /^(?:Unknown option|Option) '(-[^' ]*)/.exec(message)?.[1];
  if (option === undefined) return message;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const names = Object.keys(OPTIONS);
    const near = option.startsWith('--') ? nearestName(option.slice(2), names) : undefined;
    return `Unknown option '${option}'${near === undefined ? `; known: --${names.join(', --')}` : ` (did you mean --${near}?)`}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /ambiguous/.test(message)) {
    const next = args[args.indexOf(option) + 1] ?? '';
    const name = next.replace(/^--?/, '').split('=')[0]!;
    const isOption = next.startsWith('--')
      ? Object.hasOwn(OPTIONS, name)
      : Object.values(OPTIONS).some((spec) => 'short' in spec && `-${spec.short}` === next);
    return isOption
      ? `${option} needs a value (${next} is an option)`
      : `${option} needs a value: if it is ${JSON.stringify(next)}, write ${option}=${next}`;
  }
  return message;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    return usage(parseProblem(error, rest), command);
  }
  const { values, positionals } = parsed;
  if (values.help) return usage();
  if (values.version) return version();
  // An empty folder or file name (an unset shell variable) would name the current folder, or nothing.
  for (const option of ['log', 'store'] as const) {
    if (values[option] === '') return usage(`--${option} must not be empty`, command);
  }
  const extra = positionals[POSITIONALS[command as keyof typeof POSITIONALS] ?? positionals.length];
  if (extra !== undefined)
    return usage(`unexpected argument ${JSON.stringify(extra)} for ${command}`, command);
  switch (command) {
    case 'record':
      if (!isDurability(values.durability)) return usage(durabilityProblem(values.durability), command);
      return record(values.log, values.hook, values.durability);
    case 'ingest':
      if (!isDurability(values.durability)) return usage(durabilityProblem(values.durability));
      return ingest(values.log, values.store, values.follow, values.durability);
    case 'bridge':
      return bridge(positionals[0]);
    case 'sessions':
      return sessions(values.store);
    case 'context':
      return context(values.store, positionals[0]);
    case 'replay':
      return replayCommand(values.store, positionals[0], values.types, values.limit);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return usage();
    case '--version':
    case '-V':
      return version();
    default:
      return usage(`unknown command "${command}"`);
  }
}
