/**
 * The `vibespec-streams` command. See `vibespec-streams help`.
 *
 * A Claude Code hook runs one process per event, often several at once, while a LevelDB folder can
 * be open in only one process. So `record` (the hook) only appends a line to a JSON Lines log — an
 * append is cheap and never blocks Claude — and `ingest` (one long-running process, or a run now and
 * then) moves the log into the store through the bridge.
 *
 * `main` runs a command line and resolves to its exit code; `bin.ts` is the executable that calls it, so
 * that this module can be imported (by tests) without running anything. This module loads only what
 * `record` needs: Claude Code waits for the hook at every event. The other commands are in `commands.ts`,
 * imported when one of them runs, after their arguments are checked here.
 */
import { constants, fstatSync } from 'node:fs';
import { type FileHandle, open, readFile, realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { nearestName, textOf } from '../errors.js';
import { makeFolder, syncFolder } from '../folders.js';
import type { Durability } from '../store/SessionStore.js';
import { afterLastLine, openToAppend, writeWhole } from './appendLine.js';
import { named } from './named.js';
import { ignoreStderrErrors, standardOutput } from './output.js';
import { signalExitCode } from './stopped.js';

const DEFAULT_LOG = '.vibespec/hooks.jsonl';
/** Every command's output: a reader that goes away (`| head`) ends it quietly (see `Output`). */
const stdout = standardOutput();
const DEFAULT_STORE = '.vibespec/event-store';

const USAGE = `usage: vibespec-streams <command> [options]

  record [--log FILE] [--hook NAME] [--durability process|os]
      As a Claude Code command hook: read the payload on stdin and append it, stamped with the time,
      to the log (default ${DEFAULT_LOG}), in one write. Exits 0 once the whole line is written; if it
      cannot be (a full disk, a folder it cannot create), says why and exits 1: a hook error Claude
      shows, without blocking it (only exit 2 blocks). A usage error exits 1 too. SIGINT, SIGTERM or
      SIGHUP ends the reading: what was read is recorded, then it exits 128 + the signal's number.
      An empty stdin is recorded as an empty payload (which the bridge rejects); a folder as stdin is
      said, exit 1, nothing recorded; a terminal as stdin is said on stderr (Ctrl+D ends the input).
      --durability process (default) leaves the line to the OS; os fsyncs the log after the write (and
      its folder when it creates the file), so the line survives a crash of the machine.
  ingest [--log FILE] [--store DIR] [--follow [--poll-ms N]] [--durability process|os]
      Bridge the log's payloads into events and persist them (default store ${DEFAULT_STORE}).
      Resumes after the last line whose events are all in the store: FILE.offset keeps where it ends
      (in bytes) and which file it was, so a log rotated, truncated or rewritten since is read from its
      start. A last line without a newline may still be being written: it is left for the next run.
      SIGINT, SIGTERM or SIGHUP stops it cleanly (what was read is stored, its place saved); without
      --follow it then exits 128 + the signal's number (130, 143, 129).
      --follow keeps tailing the log (waiting for it, if it is not there yet), across rotations, until
      SIGINT (Ctrl+C), SIGTERM or SIGHUP. It is told of appends by the filesystem, and also looks every
      250 ms: where no notice comes (some network and container mounts), --poll-ms N looks every N ms
      instead (1 to 2147483647).
      --durability process (default) survives a crash of this process; os also survives a crash of
      the machine: the store fsyncs each write, and FILE.offset is fsynced (and its folder).
  rotate [--log FILE] [--store DIR] [--settle-ms N] [--durability process|os]
      Start a new log, losing no line and storing none twice: ingest the log, move it to FILE.N (one
      more than the highest number after FILE.; that number when all it has is the offset file a rotate
      stopped before its move wrote, or the .tmp it writes that file to first) with its offset file, wait --settle-ms (default 2000 ms,
      0 to 2147483647) for a hook that opened it just before the move (on Linux, then for as long as a
      process still has FILE.N open to write, 30 s at most), and ingest what such a hook wrote there.
      FILE.N can then be deleted, unless rotate names a process that still has it open to write. Like ingest, it needs the store: stop an ingest --follow first.
      SIGINT, SIGTERM or SIGHUP stops it cleanly (what was read is stored; it says how to finish): it then
      exits 128 + the signal's number (130, 143, 129), as ingest does.
  bridge [FILE]
      JSON Lines of hook payloads (FILE or stdin) → JSON Lines of events on stdout. Reading a
      terminal, it says so on stderr: Ctrl+D at the start of a line ends the input.
  sessions [--store DIR]
      One line per stored session: id (as a JSON string when it has a tab, a newline, any control
      character, one a terminal does not show, such as a zero-width space or a bidirectional control
      (written as \\uXXXX), half a surrogate pair or a leading "), events, time span.
  context ID [--store DIR]
      A session's context (counts, time span, files, agents, workflows) as JSON; its timeSpan's start
      and end are times as sessions shows them (ISO 8601), with durationMs, the ms between. An ID
      beginning with " is read as the JSON string sessions shows for an id with a tab, a newline or a
      leading ". An ID beginning with - is given after --: context -- -abc.
  replay ID [--store DIR] [--types a,b]... [--limit N]
      A session's stored events as JSON Lines (at most N: a whole number). ID as for context.
      --types: only events of these types, a list split at its commas, each name without the spaces
      around it. A value beginning with " is one type, read as a JSON string, taken whole (its commas
      and spaces are the type's): --types '"a, b"'. Given more than once, the types of every value.
  help, or --help (-h) after any command
  --version (-V): the version of vibespec-streams
A command takes the options listed with it (record ignores the others'), before or after it.`;

const OPTIONS = {
  log: { type: 'string', default: DEFAULT_LOG },
  store: { type: 'string', default: DEFAULT_STORE },
  hook: { type: 'string' },
  types: { type: 'string', multiple: true },
  limit: { type: 'string' },
  follow: { type: 'boolean', default: false },
  'poll-ms': { type: 'string' },
  'settle-ms': { type: 'string' },
  durability: { type: 'string', default: 'process' },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'V', default: false },
} as const;

/** The longest delay of a Node timer, in ms: the longest `--poll-ms` and `--settle-ms`. */
const MAX_TIMER_MS = 2_147_483_647;

type OptionName = keyof typeof OPTIONS;

/**
 * What each command takes: how many arguments besides its options (a session id, a file), and which
 * options (every command takes `--help` and `--version` too).
 */
const COMMANDS: Record<string, { readonly positionals: number; readonly options: readonly OptionName[] }> = {
  record: { positionals: 0, options: ['log', 'hook', 'durability'] },
  ingest: { positionals: 0, options: ['log', 'store', 'follow', 'poll-ms', 'durability'] },
  rotate: { positionals: 0, options: ['log', 'store', 'durability', 'settle-ms'] },
  bridge: { positionals: 1, options: [] },
  sessions: { positionals: 0, options: ['store'] },
  context: { positionals: 1, options: ['store'] },
  replay: { positionals: 1, options: ['store', 'types', 'limit'] },
};

/**
 * The signals that end `record` early: a hook cancelled or timed out (Claude Code kills it), Ctrl+C, its
 * terminal closed. Each ends the reading of stdin, not the run (see `record`).
 */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The payload on stdin, as UTF-8 text, without the byte order mark it may begin with (a Windows tool's
 * UTF-8), as the line reader of `bridge` and `ingest` drops one at the start of its input: kept, it made the
 * payload no JSON, recorded as text under hook `unknown` and ingested as a `hook.rejected`, its events lost.
 * A second one is the payload's. `stoppable` is given a function that ends the reading at once, with what
 * was read until then.
 */
function readStdin(stoppable: (stop: () => void) => void): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const stdin = process.stdin;
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer | string) => {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    };
    const end = () => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
    };
    const onEnd = () => {
      end();
      const text = Buffer.concat(chunks).toString('utf8');
      resolve(text.startsWith('\ufeff') ? text.slice(1) : text);
    };
    const onError = (error: unknown) => {
      end();
      reject(error);
    };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onError);
    stoppable(() => {
      // Not read further: destroyed, it keeps the process no longer (a writer that never closes it).
      stdin.destroy();
      onEnd();
    });
  });
}

/**
 * Whether stdin is a folder (`record < .vibespec`): Node gives a folder as stdin no stream of its own but an
 * empty input, which was recorded as an empty payload, exit 0, a mistake said as nothing wrong. Known by
 * its descriptor; a stdin without one (replaced, in tests) or one that cannot be looked at is read as before.
 */
function stdinIsFolder(): boolean {
  const fd = (process.stdin as { fd?: unknown }).fd;
  if (typeof fd !== 'number') return false;
  try {
    return fstatSync(fd).isDirectory();
  } catch {
    return false;
  }
}

/**
 * What `record` says on stderr when its stdin is a terminal (run by hand, not as a hook, which always pipes
 * the payload): it reads until the end of input, which a terminal gives at Ctrl+D at the start of a line
 * (Ctrl+Z then Enter on Windows); without a word it looked hung. As `bridge` says (its TERMINAL_INPUT_TEXT).
 */
export const RECORD_TERMINAL_TEXT = `record: reading the hook payload (JSON) from the terminal; end the input with ${
  process.platform === 'win32' ? 'Ctrl+Z then Enter' : 'Ctrl+D at the start of a line'
}`;

/**
 * Appends the payload on stdin to the log, as one line. With `durability` `'os'` the log is fsynced after
 * the write, and so is its folder when the file was created (and the folder above each folder created
 * for it), so that a crash of the machine does not lose a recorded line; `'process'` leaves that to the
 * OS. Exit 1 when the line could not be written whole (see `writeWhole`).
 */
async function record(log: string, hook: string | undefined, durability: Durability): Promise<number> {
  if (stdinIsFolder()) {
    console.error('vibespec-streams record: stdin is a folder, not a hook payload: nothing recorded');
    return 1; // a hook error Claude Code shows, without blocking (see below)
  }
  if (process.stdin.isTTY === true) console.error(RECORD_TERMINAL_TEXT);
  // A signal (a hook cancelled or timed out, Ctrl+C) ends the reading, not the run: what was read is
  // recorded (the payload, or its text, which the bridge rejects with it: said, not lost), then the run
  // exits 128 + the signal's number. It killed the hook, at any step: the payload read, its line was lost.
  // Listened to once: the same signal again, should the write hang, kills it.
  let stopped: NodeJS.Signals | undefined;
  let stopReading: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stopped ??= signal;
    stopReading?.();
  };
  for (const signal of STOP_SIGNALS) process.once(signal, onSignal);
  try {
    const text = await readStdin((stop) => {
      stopReading = stop;
    });
    stopReading = undefined;
    // Stopped before a byte came: nothing read, nothing to record.
    if (stopped !== undefined && text === '') return signalExitCode(stopped);
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
    const { file, made } = sync
      ? await openTellingCreated(log)
      : { file: await openToAppend(log, constants.O_CREAT | constants.O_APPEND), made: undefined };
    try {
      await writeWhole(file, await afterLastLine(file, line), log);
      if (sync) await syncLog(file);
    } finally {
      await file.close();
    }
    if (sync) {
      // Deepest first: the file's entry, then each created folder's entry in the folder above it.
      const entries = [
        ...(made === undefined ? [] : [made]),
        ...folders.reverse().map((folder) => dirname(folder)),
      ];
      for (const folder of new Set(entries)) await syncFolder(folder);
    }
  } catch (error) {
    // Not recorded: said, and exit 1, a hook error Claude Code shows without blocking (only 2 blocks). The
    // log with its full path, as the other commands name theirs: a relative --log is the hook's folder's.
    console.error(`vibespec-streams record: ${named(log)}: ${textOf(error)}`);
    return 1;
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
  return stopped === undefined ? 0 : signalExitCode(stopped);
}

/**
 * fsyncs the log. A FIFO, a socket or a character device (`/dev/null`) has nothing on a disk for fsync to
 * write down, and Linux says EINVAL for it: the line was handed over whole all the same, so that is not a
 * failure to record it (it was: exit 1, for every hook, on a log that is a FIFO or `/dev/null`).
 */
async function syncLog(file: FileHandle): Promise<void> {
  try {
    await file.sync();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL' && !(await file.stat()).isFile()) return;
    throw error;
  }
}

/**
 * Opens `log` to append (and read: see `openToAppend`), and tells which folder's entry for it is new (this
 * call created it: that folder is then fsynced too). 'ax' (O_EXCL) creates it; a log that is there is
 * opened without O_CREAT, so that one moved away between the two opens (a rotation) is not made again
 * unseen by the second: the first is tried again, once. Found there by 'ax' and not there for the other
 * open a second time, the log is a symlink to a file that is not there (O_EXCL does not follow a symlink;
 * the other open does): 'a' makes that file, as with `process`, in its own folder, which is the one
 * fsynced (was tried again forever: the hook hung).
 */
async function openTellingCreated(log: string): Promise<{ file: FileHandle; made: string | undefined }> {
  for (let tries = 0; tries < 2; tries++) {
    try {
      return { file: await open(log, 'ax+'), made: dirname(log) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    try {
      return { file: await openToAppend(log, constants.O_APPEND), made: undefined };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const file = await openToAppend(log, constants.O_CREAT | constants.O_APPEND);
  try {
    return { file, made: dirname(await realpath(log)) };
  } catch (error) {
    await file.close();
    throw error;
  }
}

/**
 * A session id argument: as given, or, when it begins with `"`, the JSON string it is — as `sessions`
 * shows an id with a tab, a newline or a leading `"` — so that what it printed can be passed back.
 * `undefined` when it begins with `"` but is no JSON string.
 */
function sessionIdArgument(text: string): string | undefined {
  if (!text.startsWith('"')) return text;
  try {
    const id: unknown = JSON.parse(text);
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The types `--types` asks for, each of its values read in turn: a list split at its commas, each name
 * trimmed (`'a, b'`: a and b, where ' b' would select nothing, silently); or, for a value beginning with
 * `"`, the one type that JSON string is, whole (a comma or spaces around it are the type's, as in
 * `"Edit, Write"`: no list could ask for it). The problem, as a string, for a value with an empty name or
 * a `"` that begins no JSON string.
 */
function typesArgument(values: readonly string[]): string[] | string {
  const types: string[] = [];
  for (const value of values) {
    if (value.startsWith('"')) {
      let type: string;
      try {
        type = JSON.parse(value) as string; // a string: it begins with "
      } catch {
        type = '';
      }
      if (type === '') {
        return `--types: a value beginning with " is one event type as a JSON string (--types '"a, b"'), got ${JSON.stringify(value)}`;
      }
      types.push(type);
      continue;
    }
    const names = value.split(',').map((type) => type.trim());
    if (names.includes('')) {
      return `--types must be a comma-separated list of event types, got ${JSON.stringify(value)}`;
    }
    types.push(...names);
  }
  return [...new Set(types)];
}

const idProblem = (command: string, text: string) =>
  `${command}: a session id beginning with " is read as a JSON string (as sessions shows one), got ${text}`;

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
 * Prints the usage on stdout (`help`, `--help`), exit 0 once it is written: a write that fails (ENOSPC:
 * `help > /dev/full`) is thrown, exit 1, as for `--version` (was exit 0, with nothing written).
 */
async function help(): Promise<number> {
  stdout.write(`${USAGE}\n`);
  await stdout.ready();
  return 0;
}

/**
 * Prints a usage error and the usage on stderr: exit 2 — but 1 for `record`, which runs as a Claude Code
 * hook, where exit 2 is a blocking error (a PreToolUse tool call is refused, a prompt dropped): a mistyped
 * option in the hook's command would block every one of them.
 */
function usage(problem: string, command?: string): number {
  console.error(`vibespec-streams: ${problem}\n\n${USAGE}`);
  return command === 'record' ? 1 : 2;
}

/**
 * `parseArgs`' error in the CLI's words, in the style of its own (`unknown command "sesions" (did you mean
 * sessions?)`: lower case, what was typed in double quotes): an unknown option with the one option it begins (`--poll`:
 * `--poll-ms`; `--lim`: `--limit`, not the nearer `--log`), else the nearest known one (`--STORE`: did you
 * mean `--store`?), rather than advice on positionals. An option followed by an argument that starts with
 * `-` ("ambiguous"): its value is missing when that argument is an option (`--store --follow`), else how
 * to give a value that starts with `-` (`--log -x.jsonl`). An option given twice is told about the
 * occurrence that has the problem (`--log a.jsonl --log -x.jsonl`: `-x.jsonl`).
 */
function parseProblem(error: unknown, args: readonly string[]): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = textOf(error);
  const option = /^(?:Unknown option|Option) '(-[^' ]*)/.exec(message)?.[1];
  if (option === undefined) return message;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const names = Object.keys(OPTIONS);
    const typed = option.slice(2);
    // parseArgs takes no abbreviation: `--poll` for `--poll-ms`, too far from it for `nearestName`. The
    // option begun comes first: `nearestName` takes `--lim` for `--log` (2 edits), not `--limit`.
    const begun = names.filter((name) => typed.length >= 2 && name.startsWith(typed));
    const near = option.startsWith('--')
      ? begun.length === 1
        ? begun[0]
        : nearestName(typed, names)
      : undefined;
    return `unknown option ${JSON.stringify(option)}${near === undefined ? `; known: --${names.join(', --')}` : ` (did you mean --${near}?)`}`;
  }
  // parseArgs' own words were 'Option '--store <value>' argument missing' and 'Option '-h, --help' does not
  // take an argument': capitalised, quoted otherwise, the option named with its value hint or short form.
  const long = /^Option '([^']*)'/.exec(message)?.[1]?.match(/--[^\s,<]+/)?.[0] ?? option;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && / argument missing$/.test(message)) {
    return `${long} needs a value`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /does not take an argument$/.test(message)) {
    const given = args.find((arg) => arg.startsWith(`${long}=`) || arg.startsWith(`${option}=`));
    return `${long} takes no value${given === undefined ? '' : `, got ${JSON.stringify(given)}`}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /ambiguous/.test(message)) {
    // The occurrence parseArgs stopped at: the first one followed by an argument that looks like an option
    // (`--log a.jsonl --log -x.jsonl` is about `-x.jsonl`, not `a.jsonl`).
    const at = args.findIndex((arg, i) => arg === option && /^-./.test(args[i + 1] ?? ''));
    const next = args[at + 1] ?? '';
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

/**
 * `problem` with how to give a session id that begins with `-` (`context -- -abc`), when it is an unknown
 * option of `context` or `replay` given no id: such an id (which `sessions` lists as it is) was read as
 * options, and the usage error named only its first letter (`unknown option "-a"`).
 */
function idAfterDashes(problem: string, error: unknown, args: readonly string[]): string {
  const positionals = positionalsOf(args);
  const command = positionals[0];
  if ((command !== 'context' && command !== 'replay') || positionals.length > 1) return problem;
  if ((error as { code?: unknown } | null)?.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return problem;
  const option = /^Unknown option '(-[^' ]*)/.exec(textOf(error))?.[1];
  if (option === undefined) return problem;
  // The argument it was read from: `-abc` for `-a`, `-hx` for `-x` (after known short options), `--x=1`
  // for `--x`.
  const given =
    args.find(
      (arg) =>
        arg === option ||
        arg.startsWith(`${option}=`) ||
        (!option.startsWith('--') && !arg.startsWith('--') && shortAt(arg, option.slice(1))),
    ) ?? option;
  return `${problem}. A session id that begins with - is given after --: vibespec-streams ${command} -- ${given}`;
}

/** The short options' letters (`h`, `V`). */
const SHORTS = new Set(
  Object.values(OPTIONS).flatMap((spec) => ('short' in spec ? [spec.short as string] : [])),
);

/** Whether `arg`, a group of short options (`-hx`), has `letter` first after the known ones. */
function shortAt(arg: string, letter: string): boolean {
  let at = 1;
  while (at < arg.length && SHORTS.has(arg[at]!)) at++;
  return arg.startsWith('-') && arg.startsWith(letter, at);
}

/**
 * The arguments that are no option nor an option's value (all after `--`): parseArgs with `strict: false`
 * reads `-my-session` as `-m`, `-y` and positionals `-s`, `-e`, … (and all after it as positionals).
 */
function positionalsOf(args: readonly string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return [...found, ...args.slice(i + 1)];
    if (!arg.startsWith('-') || arg === '-') found.push(arg);
    else if (arg.startsWith('--') && !arg.includes('=')) {
      const name = arg.slice(2);
      if (Object.hasOwn(OPTIONS, name) && OPTIONS[name as keyof typeof OPTIONS].type === 'string') i++;
    }
  }
  return found;
}

/**
 * The usage error of a command that is none: with the nearest command, if one is near (`sesions`:
 * sessions). Exit 1 when that is `record`, as for its own usage errors (see `usage`): `record` mistyped in a
 * hook's command line must not block Claude Code at every event. So too when the command line has `record`
 * in it (`hook`: `X record`, after an unknown option's value).
 */
function unknownCommand(command: string, hook: boolean): number {
  const near = nearestName(command, Object.keys(COMMANDS));
  return usage(
    `unknown command ${JSON.stringify(command)}${near === undefined ? '' : ` (did you mean ${near}?)`}`,
    hook ? 'record' : near,
  );
}

/**
 * The command whose exit code a usage error of `argv` takes (see `usage`): `command`, or `record` when no
 * command is found, or none that is one, in a command line that has `record` in it — a hook's, whose
 * command was taken for an option's value (`--log $UNSET record`) or came after an unknown option's value
 * (`--hok X record`: X). 2 would block Claude Code at every event.
 */
function exitAs(command: string | undefined, argv: readonly string[]): string | undefined {
  const known = command !== undefined && Object.hasOwn(COMMANDS, command);
  return !known && argv.includes('record') ? 'record' : command;
}

/**
 * What `bin.ts` says of an error `main(argv)` threw: `vibespec-streams <command>: <its message>`, so that
 * it is told which command failed (`ingest` or `rotate` in a script, say), as `record` says its own.
 */
export function failureText(argv: readonly string[], error: unknown): string {
  const found = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: false });
  const command = found.positionals[0];
  const name = command !== undefined && Object.hasOwn(COMMANDS, command) ? ` ${command}` : '';
  return `vibespec-streams${name}: ${textOf(error)}`;
}

/** The commands other than `record`, loaded when one of them runs (see the module's comment). */
const commands = () => import('./commands.js');

export async function main(argv: string[]): Promise<number> {
  // A stderr whose reader is gone must not end a command (see `ignoreStderrErrors`): what it says is lost,
  // not what it does.
  ignoreStderrErrors();
  // The command is the first argument that is neither an option nor an option's value: options may come
  // before it (`--store x sessions`, a hook's `--log x record`) as well as after.
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, tokens: true });
  } catch (error) {
    // Found without checking the options, so that a usage error of `record` exits 1 wherever they are.
    const found = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false });
    return usage(idAfterDashes(parseProblem(error, argv), error, argv), exitAs(found.positionals[0], argv));
  }
  const command = parsed.positionals[0];
  const takes =
    command === undefined ? undefined : Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  const hook = exitAs(command, argv) === 'record';
  if (command !== undefined && command !== 'help' && takes === undefined)
    return unknownCommand(command, hook);
  const { values } = parsed;
  const positionals = parsed.positionals.slice(1); // the command's own arguments
  if (values.help) return help();
  if (values.version) return version();
  if (takes === undefined) {
    // Options and no command (`--log x`, record left out of a hook's command line): not the usage's exit 0.
    if (command === undefined && argv.length > 0) {
      // A command taken for an option's value: its value left out (`--log $UNSET record`).
      const taken = parsed.tokens.find(
        (token) =>
          token.kind === 'option' &&
          token.inlineValue === false &&
          token.value !== undefined &&
          Object.hasOwn(COMMANDS, token.value),
      );
      const why =
        taken?.kind === 'option'
          ? ` (${taken.rawName} took ${JSON.stringify(taken.value)} as its value: is its value missing?)`
          : '';
      return usage(
        `no command given: one of ${Object.keys(COMMANDS).join(', ')}${why}`,
        hook ? 'record' : undefined,
      );
    }
    return help(); // none, or help
  }
  // Another command's option (`sessions --durability os`), but for record: the event of a hook whose
  // command line carries one must not be lost, nor Claude Code blocked, and ignoring it does no harm.
  const foreign =
    command === 'record'
      ? undefined
      : parsed.tokens.find(
          (token) =>
            token.kind === 'option' &&
            token.name !== 'help' &&
            token.name !== 'version' &&
            !takes.options.includes(token.name as OptionName),
        );
  if (foreign?.kind === 'option') {
    const its = takes.options.length === 0 ? 'it takes none' : `its options: --${takes.options.join(', --')}`;
    return usage(`${command} does not take ${foreign.rawName} (${its})`);
  }
  // An empty folder or file name (an unset shell variable) would name the current folder, or nothing.
  for (const option of ['log', 'store'] as const) {
    if (takes.options.includes(option) && values[option] === '')
      return usage(`--${option} must not be empty`, command);
  }
  const extra = positionals[takes.positionals];
  if (extra !== undefined)
    return usage(`unexpected argument ${JSON.stringify(extra)} for ${command}`, command);
  switch (command) {
    case 'record':
      if (!isDurability(values.durability)) return usage(durabilityProblem(values.durability), command);
      return record(values.log, values.hook, values.durability);
    case 'ingest': {
      if (!isDurability(values.durability)) return usage(durabilityProblem(values.durability));
      const poll = values['poll-ms'];
      if (poll !== undefined) {
        if (!values.follow) return usage('--poll-ms is for --follow: without it, ingest reads the log once');
        // Digits only, as --limit; at most the longest delay of a Node timer.
        if (!/^\d+$/.test(poll) || Number(poll) < 1 || Number(poll) > MAX_TIMER_MS) {
          return usage(
            `--poll-ms must be a whole number of ms from 1 to ${MAX_TIMER_MS}, got ${JSON.stringify(poll)}`,
          );
        }
      }
      return (await commands()).ingest(values.log, values.store, values.follow, values.durability, {
        ...(poll === undefined ? {} : { pollIntervalMs: Number(poll) }),
      });
    }
    case 'rotate': {
      if (!isDurability(values.durability)) return usage(durabilityProblem(values.durability));
      const settle = values['settle-ms'];
      if (settle !== undefined && (!/^\d+$/.test(settle) || Number(settle) > MAX_TIMER_MS)) {
        return usage(
          `--settle-ms must be a whole number of ms from 0 to ${MAX_TIMER_MS}, got ${JSON.stringify(settle)}`,
        );
      }
      return (await commands()).rotate(values.log, values.store, values.durability, {
        ...(settle === undefined ? {} : { settleMs: Number(settle) }),
      });
    }
    case 'bridge':
      return (await commands()).bridge(positionals[0]);
    case 'sessions':
      return (await commands()).sessions(values.store);
    case 'context': {
      const given = positionals[0];
      if (given === undefined) return usage('context needs a session id');
      const id = sessionIdArgument(given);
      if (id === undefined) return usage(idProblem('context', given));
      return (await commands()).context(values.store, id);
    }
    case 'replay': {
      const given = positionals[0];
      if (given === undefined) return usage('replay needs a session id');
      const id = sessionIdArgument(given);
      if (id === undefined) return usage(idProblem('replay', given));
      const { limit, types } = values;
      // Digits only: `Number` reads '' (an unset shell variable) as 0, and '0x10' or '1e3' as numbers.
      if (limit !== undefined && !/^\d+$/.test(limit)) {
        return usage(`--limit must be a whole number of events, got ${JSON.stringify(limit)}`);
      }
      const typeList = types === undefined ? undefined : typesArgument(types);
      if (typeof typeList === 'string') return usage(typeList);
      // A limit past the safe integers (which the query refuses) is more than a session can hold: no limit.
      const most = limit === undefined ? undefined : Number(limit);
      return (await commands()).replayCommand(
        values.store,
        id,
        typeList,
        most === undefined || Number.isSafeInteger(most) ? most : Infinity,
      );
    }
    default:
      throw new Error(`main: no case for the command ${command}`); // every name of COMMANDS has one
  }
}
