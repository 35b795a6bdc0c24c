/**
 * The hook bridge's pure mapping: one hook payload → one or more `Event`s.
 * See `docs/bridge.md` for the table of hooks and the events each becomes.
 */
import {
  ConfigError,
  checkOptions,
  optionKeys,
  readFields,
  refuseNull,
  shownText,
  textOf,
} from '../errors.js';
import { createEventId, type Event, makeEvent, Priority, setOwn } from '../event.js';
import { hiddenIn } from '../hooks/options.js';
import { CUT_LENGTH, cutLength, cutPayload, KEEP, type PayloadCut } from './cut.js';
import {
  checkPayload,
  cutAt,
  DEFAULT_LIMITS,
  isRecord,
  leadingFields,
  type PayloadLimits,
  previewJson,
} from './payload.js';
import { LAST_LINES, readTestSummary, type SummaryReading, type TestOutput } from './testSummary.js';

/** One output of one hook run, as sources emit it and `bridgeHooks` consumes it. */
export interface HookOutput {
  /** The hook's name: a Claude Code event (`PostToolUse`), a seed hook (`file-watcher`), or your own. */
  hook: string;
  /** What the hook produced (for Claude Code, the JSON payload it sends on stdin). */
  output: unknown;
  /**
   * Event time in ms since epoch (a time in seconds reads as January 1970: multiply it by 1,000). When
   * absent, the bridge stamps the time it saw the output: `scheduler.now()` (`Date.now()` for
   * `toEvents`). When given but no time — not a number (an ISO string included), NaN, negative, infinite,
   * or past 9999-12-31 (`MAX_TIMESTAMP`: a time in µs or ns by mistake) — it is stamped so too, and each
   * of its events says so in `context.timestamp_replaced` (the given value as text). A time far ahead of the
   * clock is taken as it is unless the bridge's `maxAheadMs` says otherwise (see `BridgeOptions`).
   */
  timestamp?: number;
  /**
   * Set by a source that read a `timestamp` that is no time (a JSON Lines line's `"timestamp": "soon"`,
   * `null`, a time in µs…): the value read. The source gives the output the time of its last line that
   * had one in `timestamp`; without one, the output has no `timestamp` (or, for a number, that number) and
   * is stamped with the clock. Either way its events say so in `context.timestamp_replaced` (this value as
   * text), as for a `timestamp` that is no time.
   */
  givenTimestamp?: unknown;
  /**
   * Set by a source that could not parse the input (then `output` is the raw text): it is rejected, under
   * the `session_id` the text's start shows (a payload's, or an envelope's payload's), if any.
   */
  error?: string;
  /**
   * Set by a source that read a line longer than its `maxLineLength` with its long string values cut (see
   * `PayloadCut`): `output` is what was kept. The events made of it say so in their `context.payload_cut`.
   */
  cut?: PayloadCut;
}

export type { PayloadCut };

/**
 * Options of `toEvents`, `bridgeHooks` and `createHookBridge`. Each may be left out or `undefined` (its
 * default), also under `exactOptionalPropertyTypes`.
 */
export type BridgeOptions = { [K in keyof PayloadLimits]?: PayloadLimits[K] | undefined } & {
  /**
   * Opt-in guard against a clock far ahead (a skewed machine, a year 2099): an output whose `timestamp`
   * is more than this many ms ahead of the bridge's clock (`scheduler.now()`, `Date.now()` for `toEvents`)
   * at its mapping is stamped with the clock instead, its events marked `context.timestamp_replaced` (the
   * given value as text). One such event would move its session's watermark so far ahead that every
   * later event of the session were late, and `correlate`'s and `pattern`'s newest time seen for every
   * session. A number ≥ 0; default none (`Infinity`): a time is never judged by the clock, as a virtual
   * clock starting at 0 or a log read later needs. For live input only: it reads the clock at each output.
   */
  maxAheadMs?: number | undefined;
};

/** `data` of a `hook.rejected` event. */
export interface RejectedHookData extends Record<string, unknown> {
  hook: string;
  reason: string;
  /**
   * The raw input as JSON text (or the raw line), cut to `maxRawLength` characters (one fewer when the
   * cut would split an emoji).
   */
  raw: string;
  raw_truncated: boolean;
}

type Mapper = (payload: Record<string, unknown>, ctx: MapContext) => Event[];

interface MapContext {
  hook: string;
  timestamp: number;
  sessionId: string | undefined;
  context: Record<string, unknown>;
  /** The bridge's limits, for the `raw` of a part of the payload rejected by its mapper. */
  limits: PayloadLimits;
  /** Of a payload read with its long strings cut: the UTF-8 size of each cut string's whole value. */
  sizes?: ReadonlyMap<string, number> | undefined;
}

class RejectError {
  constructor(readonly reason: string) {}
}

// ---------------------------------------------------------------------------------------------------
// How the mappers are written (the bridge is the first stage of every pipeline, so this is hot code):
// each builds its event's `data` once, directly, adding only the fields that are defined, always in the
// same order — so the objects of one event type follow one path of V8 hidden classes (one shape when
// the same fields are present) — and no intermediate objects (spreads, a copy dropping the undefined
// fields) are made per payload. The field order is part of the output (it shows in JSON):
// test/streams/bridgeSnapshot.spec.ts pins it.

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function rec(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function requireString(payload: Record<string, unknown>, field: string): string {
  const value = payload[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new RejectError(
      value === undefined
        ? `missing required field "${field}"`
        : `field "${field}" must be a non-empty string, got ${value === '' ? "''" : value === null ? 'null' : typeof value}`,
    );
  }
  return value;
}

/**
 * An event of the bridge. Its fields need no validation — the mappers give a non-empty type, a known
 * priority, an object `data` and `context`, a non-empty or absent `sessionId`, and the timestamp was
 * checked when the output was unpacked — except the clock's `now()`, which is only checked here: a
 * clock that is not a time goes through `makeEvent`, which rejects it as before.
 */
function make(ctx: MapContext, type: string, data: Record<string, unknown>, priority: Priority): Event {
  const timestamp = ctx.timestamp;
  if (!(timestamp >= 0 && timestamp !== Number.POSITIVE_INFINITY)) {
    return makeEvent({ type, data, priority, timestamp, context: ctx.context, sessionId: ctx.sessionId });
  }
  const event: Event = { id: createEventId(), type, timestamp, priority, data, context: ctx.context };
  if (ctx.sessionId !== undefined) event.sessionId = ctx.sessionId;
  return event;
}

/** Copies the defined entries of `fields` (own and inherited, as `for…in` sees them) into a fresh object. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined) continue;
    // A payload's own `__proto__` key (JSON.parse makes one) is a field like any other: an assignment
    // would set the prototype of `data` instead, and the field would be lost.
    if (key === '__proto__') setOwn(out, key, value);
    else out[key] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Claude Code hooks.

// `git [options] commit`, anywhere in a command line, read one token at a time (see `gitCommitEnd`).
const GIT = /\bgit\s+/g;
// One option of git's: `-c name=value` / `-C dir` (the argument is the next token), or any other `-x`,
// `--name`, `--name=value`. The two never match the same text, so there is one way to read a command.
const GIT_OPTION = /-[cC]\s+\S+\s+|-(?![cC]\s)[\w-]+(?:=\S+)?\s+/y;
const COMMIT = /commit\b/y;
// `-m`, also in a group of short options (`-am`, as `git commit -am "…"`), its message the next word or
// the rest of its own (`-m"fix: …"`, `-mwip`), or `--message`. Looked for from the end of `commit` on
// (lastIndex): not the `-m` of a command before it (`python -m pytest && …`), and taken only before the
// end of the commit's command: not the `-m` of one after it (`&& git tag -m`).
const COMMIT_MESSAGE = /\s(?:-[A-Za-z]*m\s*|--message(?:\s+|=))(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/g;
const COMMIT_SUMMARY = /^\[([^\]\s]+)(?: \(root-commit\))? ([0-9a-f]{7,40})\] (.*)$/m;
// What git prints for a `git commit` that made no commit (to stdout; the empty message's, to stderr), and
// what husky prints on stderr when a hook refused it (husky 9: `husky - pre-commit script failed (code 1)`;
// 4: `husky > pre-commit hook failed (add --no-verify to bypass)`).
const NOT_COMMITTED =
  /^(?:nothing to commit\b|nothing added to commit\b|no changes added to commit\b|Aborting commit due to empty commit message|husky (?:-|>) (?:pre-commit|commit-msg|prepare-commit-msg) (?:script|hook) failed\b)/m;
/**
 * The start of a message given as a here-document in a command substitution, as Claude Code writes its
 * commits: `-m "$(cat <<'EOF'` newline, the message, newline, `EOF` newline, `)"` (also `<<EOF`,
 * `<<"EOF"`, `<<-EOF`). Group 1 is the `-`, group 3 the delimiter; the body starts after the match.
 */
const LEADING_TABS = /^\t+/gm;
const HEREDOC_START = /\$\(\s*cat\s+<<(-?)\s*(['"]?)([A-Za-z_]\w*)\2[ \t]*\r?\n/y;

/**
 * The here-document read by `cat` in the command substitution at `at` (`$(cat <<'EOF'` …), or
 * `undefined`: its text (for `<<-`, without the tabs that start its lines; never expanded), and where
 * the substitution goes on after its delimiter's line (`end`; -1, and no text, when no line ends it:
 * the shell reads it to the end). The delimiter's line may be indented and may hold the substitution's
 * `)`. Reads each line of the body once.
 */
function readHeredoc(command: string, at: number): { text: string | undefined; end: number } | undefined {
  HEREDOC_START.lastIndex = at;
  const start = HEREDOC_START.exec(command);
  if (start === null) return undefined;
  const delimiter = start[3]!;
  const bodyStart = HEREDOC_START.lastIndex;
  for (let line = bodyStart; line <= command.length; ) {
    let next = command.indexOf('\n', line);
    if (next < 0) next = command.length;
    let first = line;
    while (command[first] === ' ' || command[first] === '\t') first++;
    if (command.startsWith(delimiter, first)) {
      let after = first + delimiter.length;
      while (command[after] === ' ' || command[after] === '\t' || command[after] === '\r') after++;
      if (after === next || command[after] === ')') {
        const bodyEnd = Math.max(bodyStart, command[line - 2] === '\r' ? line - 2 : line - 1);
        const body = command.slice(bodyStart, bodyEnd);
        // `<<-` strips the leading tabs of each line, as the shell does. Nothing is expanded: an unquoted
        // delimiter's `$VAR` or `$(…)`, which the shell would expand, stays as written.
        const text = start[1] === '-' ? body.replace(LEADING_TABS, '') : body;
        return { text, end: after === next ? next : after };
      }
    }
    line = next + 1;
  }
  return { text: undefined, end: -1 };
}

/**
 * The message of a commit: the `-m` text as written, but for a command substitution (`$(…)`, which only
 * the shell expands) the here-document's text, else the subject git printed, else the text as written.
 */
function commitMessage(
  command: string,
  message: RegExpExecArray | null,
  summary: RegExpExecArray | null,
): string | undefined {
  if (message === null) return summary?.[3];
  // An unquoted message ends where the shell ends its word: `-m wip;` (`-m wip'` ending a `bash -c` script).
  const bare = message[3] === undefined ? undefined : message[3].slice(0, wordLength(message[3]));
  const written = message[1] ?? message[2] ?? (bare === '' ? summary?.[3] : bare);
  // In double quotes a backquoted command is run (`-m "fix: \`cat msg\`"`): git got its output.
  if (message[1]?.includes('`')) return summary?.[3] ?? written;
  if (written === undefined || !written.startsWith('$(')) return written;
  const heredoc = readHeredoc(command, command.indexOf('$(', message.index));
  if (heredoc?.text !== undefined) return heredoc.text;
  return summary?.[3] ?? written;
}

/** The length of the unquoted word `text` starts with: up to a metacharacter or a quote. */
function wordLength(text: string): number {
  const at = text.search(BARE_WORD_END);
  return at < 0 ? text.length : at;
}

const BARE_WORD_END = /[;&|()<>'"`]/;

// The options after which `git commit` only shows what it would commit (`--short`, `--porcelain`,
// `--long` and `-z` imply `--dry-run`), or its usage: it commits nothing. (`-n` is `--no-verify`.)
const COMMIT_SHOWS_ONLY = new Set([
  '--dry-run',
  '--short',
  '--porcelain',
  '--long',
  '-z',
  '--null',
  '-h',
  '--help',
]);
// The options of `git commit` whose argument, when not attached (`-m msg`, `--author A`), is the next word.
const COMMIT_OPTIONS_WITH_ARGUMENT = new Set([
  '-m',
  '--message',
  '-F',
  '--file',
  '-C',
  '--reuse-message',
  '-c',
  '--reedit-message',
  '--author',
  '--date',
  '-t',
  '--template',
  '--fixup',
  '--squash',
  '--cleanup',
  '--trailer',
  '--pathspec-from-file',
]);
// The short options that take an argument: in a group (`-am`), the rest of the group or the next word.
const SHORT_WITH_ARGUMENT = 'mFCct';

/**
 * Whether a quote or a `$(…)` that `skipDoubleQuoted` or `skipSubstitution` skipped was left open: the
 * command ended inside it (a syntax error of the shell). Set, not cleared: `readWord` clears it.
 */
let leftOpen = false;

/** Skips the double-quoted text at `at` (its `"`); returns the index after its closing quote. */
function skipDoubleQuoted(command: string, at: number, substitutions: boolean): number {
  const n = command.length;
  let i = at + 1;
  while (i < n) {
    const c = command[i];
    if (c === '"') return i + 1;
    if (c === '\\') i += 2;
    else if (substitutions && c === '$' && command[i + 1] === '(') i = skipSubstitution(command, i);
    else i++;
  }
  leftOpen = true;
  return n;
}

/**
 * Skips the command substitution at `at` (its `$(`), a here-document read by `cat` in it included;
 * returns the index after its `)`. Without recursion: a `$(` inside is counted as a parenthesis.
 */
function skipSubstitution(command: string, at: number): number {
  const n = command.length;
  let i = at + 2;
  const heredoc = readHeredoc(command, at);
  if (heredoc !== undefined) {
    if (heredoc.end < 0) {
      leftOpen = true;
      return n;
    }
    i = heredoc.end;
  }
  let depth = 1;
  while (i < n) {
    const c = command[i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (--depth === 0) return i + 1;
    } else if (c === "'") {
      const close = command.indexOf("'", i + 1);
      i = close < 0 ? n : close + 1;
      continue;
    } else if (c === '"') {
      i = skipDoubleQuoted(command, i, false);
      continue;
    } else if (c === '\\') i++;
    i++;
  }
  leftOpen = true;
  return n;
}

/** Whether the last word `readWord` read is plain (no quotes, substitutions or backslashes). */
let wordPlain = true;
/** Whether the last word `readWord` read left a quote or a `$(…)` open (see `leftOpen`). */
let wordOpen = false;

/**
 * Reads the word that starts at `at` (not a blank nor a separator), as the shell splits it (quotes,
 * `$(…)`, `<(…)`, an array assignment's `(…)`, backslashes): returns its end, the first blank, `;`, `&`
 * (not in a redirection such as `2>&1` or `&>file`), `|`, `)` or newline outside them. Sets `wordPlain`
 * and `wordOpen`. Linear in the length read.
 */
function readWord(command: string, at: number): number {
  const n = command.length;
  let plain = true;
  let i = at;
  leftOpen = false;
  while (i < n) {
    const c = command[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === ';' || c === '|' || c === ')') break;
    if (c === '&' && command[i - 1] !== '>' && command[i - 1] !== '<' && command[i + 1] !== '>') break;
    if (c === "'") {
      plain = false;
      const close = command.indexOf("'", i + 1);
      if (close < 0) leftOpen = true;
      i = close < 0 ? n : close + 1;
    } else if (c === '"') {
      plain = false;
      i = skipDoubleQuoted(command, i, true);
    } else if ((c === '$' || c === '<' || c === '>') && command[i + 1] === '(') {
      plain = false;
      i = skipSubstitution(command, i);
    } else if (c === '(' && command[i - 1] === '=' && isAssignment(command, at, i)) {
      // An array assignment (`files=(src/*.ts)`): its words, up to its `)`, are the assignment's.
      plain = false;
      i = skipSubstitution(command, i - 1);
    } else if (c === '\\') {
      plain = false;
      i += 2;
    } else i++;
  }
  wordPlain = plain;
  wordOpen = leftOpen;
  return Math.min(i, n);
}

/**
 * Reads the words of the command that goes on at `from` (see `readWord`) up to its end: the first `;`,
 * `&` (so `&&`), `|` (so `||` and a pipe), `(` or `)` (a subshell's) or newline outside them, or a
 * comment. Calls `onWord` with each word's start and end and whether it is plain (it can be an option).
 * Returns that end (the separator's index, or the length). Sets `wordOpen` as its last word left it (false
 * without a word). Linear in the length read.
 */
function readCommand(
  command: string,
  from: number,
  onWord?: (start: number, end: number, plain: boolean) => void,
): number {
  const n = command.length;
  let i = from;
  wordOpen = false;
  lastWord = -1;
  operatorTwice = false;
  let lastEnd = -1;
  while (i < n) {
    const c = command[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '\n' || c === ';' || c === '|' || c === '#' || c === '(' || c === ')') break;
    if (c === '&' && command[i - 1] !== '>' && command[i - 1] !== '<' && command[i + 1] !== '>') break;
    // A redirection's operator where the one before wants its target (`npm test > > log`), not a process
    // substitution (`> >(tee log)`).
    if (
      (c === '<' || c === '>') &&
      command[i + 1] !== '(' &&
      lastWord >= 0 &&
      endsInOperator(command, lastWord, lastEnd)
    )
      operatorTwice = true;
    const end = readWord(command, i);
    onWord?.(i, end, wordPlain);
    lastWord = i;
    lastEnd = end;
    i = end;
  }
  return i;
}

/** Where the last word `readCommand` read starts (-1: it read none). */
let lastWord = -1;

/**
 * Whether the command `readCommand` read has a redirection's operator followed by another's (`npm test > >
 * log`, `2> <x`): a syntax error, as a redirection without its target is (see `lacksTarget`).
 */
let operatorTwice = false;

/**
 * Whether the word from `start` to `end` ends in a redirection's operator (`>`, `2>`, `>>`, `&>`, `>&`, `<`,
 * `<<<`), not quoted or escaped (`'a>'`, `a\>`): what follows it is its target.
 */
function endsInOperator(command: string, start: number, end: number): boolean {
  let k = end - 1;
  if (command[k] === '&' && k > start) k--;
  const c = command[k];
  if (c !== '>' && c !== '<') return false;
  let escapes = 0;
  while (k - 1 - escapes >= start && command[k - 1 - escapes] === '\\') escapes++;
  return escapes % 2 === 0;
}

/**
 * Whether the command `readCommand` read, which ends at `end`, ends in a redirection's operator without its
 * target (`npm test >`, `2>`, `>>`, `&>`, `>&`, `<`, `<<<`; before `;`, `&&`, `)`, a comment, the line's end): a
 * syntax error, for which the shell refuses the line and runs none of it; so is an operator followed by
 * another's (`npm test > > log`: `operatorTwice`). Not an operator quoted or escaped (`'a>'`, `a\>`). `>|` (its `|` is the operator's, not a pipe) only when no word follows it (`npm test >|`).
 */
function lacksTarget(command: string, end: number): boolean {
  if (lastWord < 0) return false;
  if (operatorTwice) return true;
  let k = end - 1;
  while (k > lastWord && (command[k] === ' ' || command[k] === '\t' || command[k] === '\r')) k--;
  if (!endsInOperator(command, lastWord, k + 1)) return false;
  if (k === end - 1 && command[end] === '|') return !targetFollows(command, end + 1);
  return true;
}

/**
 * Whether a word follows `at` (after blanks) on the command, as the target of a `>|` that ends before `at`:
 * not the line's end, a newline, a separator, a group's `(` or `)`, a comment, nor another redirection's
 * operator (a process substitution, `>(…)`, `<(…)`, is a target). `npm test >|` and `npm test >| && echo`
 * are syntax errors, as `npm test >` is.
 */
function targetFollows(command: string, at: number): boolean {
  let i = at;
  while (command[i] === ' ' || command[i] === '\t' || command[i] === '\r') i++;
  const c = command[i];
  if (c === undefined || c === '\n' || c === ';' || c === '&' || c === '|' || c === '(' || c === ')')
    return false;
  if (c === '#') return false;
  if ((c === '<' || c === '>') && command[i + 1] !== '(') return false;
  return true;
}

/**
 * Reads the arguments of the `git commit` whose `commit` ends at `from` (see `readCommand`). Returns the
 * end of its command, and whether an option makes the commit show only what it would do (`--dry-run`,
 * …: see `COMMIT_SHOWS_ONLY`), its words read as git gets them, without their quotes.
 */
function readCommitArguments(command: string, from: number): { end: number; showsOnly: boolean } {
  let showsOnly = false;
  let options = true; // until `--`
  let argumentNext = false; // the next word is an option's argument
  const end = readCommand(command, from, (start, wordEnd, plain) => {
    if (argumentNext) argumentNext = false;
    else if (options) {
      // As git gets it: without its quotes (`git commit "--dry-run"` shows only).
      const word = plain ? command.slice(start, wordEnd) : unquote(command, start, wordEnd);
      if (word === '--') options = false;
      else if (COMMIT_SHOWS_ONLY.has(word)) showsOnly = true;
      else if (COMMIT_OPTIONS_WITH_ARGUMENT.has(word)) argumentNext = true;
      else if (word.length > 1 && word[0] === '-' && word[1] !== '-') {
        for (let k = 1; k < word.length; k++) {
          const letter = word[k]!;
          if (SHORT_WITH_ARGUMENT.includes(letter)) {
            argumentNext = k === word.length - 1;
            break;
          }
          if (letter === 'z') showsOnly = true;
        }
      }
    }
  });
  return { end, showsOnly };
}

/** `set` options a Bash line's test verdict depends on (a bit mask). */
const PIPEFAIL = 1;
const ERREXIT = 2;

/**
 * The options after the `set` command whose words (after `set`) go on at `from`, from their state
 * `options` before: `-o pipefail` (alone or after other option letters, `-euo pipefail`) turns pipefail
 * on, `+o pipefail` off; `-e` (also in a group, `-eu`) or `-o errexit` turns errexit on, `+e` or
 * `+o errexit` off; the options end at `--`, `-` or an argument.
 */
function optionsAfterSet(command: string, from: number, options: number): number {
  let on = options;
  let open = true;
  let name = 0; // the next word is an option's name: 1 after `-o`, -1 after `+o`
  readCommand(command, from, (start, end, plain) => {
    if (!open) return;
    if (name !== 0) {
      let bit = 0;
      if (plain && end - start === 8 && command.startsWith('pipefail', start)) bit = PIPEFAIL;
      else if (plain && end - start === 7 && command.startsWith('errexit', start)) bit = ERREXIT;
      on = name > 0 ? on | bit : on & ~bit;
      name = 0;
      return;
    }
    const sign = command[start];
    if (!plain || end - start < 2 || (sign !== '-' && sign !== '+') || command[start + 1] === '-') {
      open = false;
      return;
    }
    for (let k = start + 1; k < end; k++) {
      const letter = command[k];
      if (letter === 'o') name = sign === '-' ? 1 : -1;
      else if (letter === 'e') on = sign === '-' ? on | ERREXIT : on & ~ERREXIT;
    }
  });
  return on;
}

/**
 * The status `exit` ends the shell with, its words (after `exit`) going on at `from` up to `end`: its
 * argument's number (mod 256) when it is one, else -1 (`exit` alone, `exit $?`: the last status).
 */
function exitCodeAt(command: string, from: number, end: number): number {
  let at = from;
  while (at < end && (command[at] === ' ' || command[at] === '\t')) at++;
  const wordEnd = readWord(command, at);
  const word = command.slice(at, Math.min(wordEnd, end));
  return wordPlain && DIGITS.test(word) ? Number(word) % 256 : -1;
}

const DIGITS = /^[0-9]{1,9}$/;

/** Whether the `set` command whose words (after `set`) go on at `from` turns pipefail on or off. */
function namesPipefail(command: string, from: number): boolean {
  return (
    (optionsAfterSet(command, from, PIPEFAIL) & PIPEFAIL) === 0 ||
    (optionsAfterSet(command, from, 0) & PIPEFAIL) !== 0
  );
}

/** The state of `testVerdict`'s reading of a list of commands (a line, or a group's). */
class LineStatus {
  // The current list: what its status says so far — status 0 ⇒ its test commands ran and passed (`z`),
  // status non-zero ⇒ one of them ran and failed (`f`) — whether it has test commands, how many
  // pipelines it has, and whether errexit was on at its first.
  z = true;
  f = false;
  listTests = false;
  pipelines = 0;
  listErrexit = false;
  testsBefore = false; // an earlier list (or a background one) had a test command its end did not show
  op = ''; // the operator before the pipeline being read: '', '&&' or '||'
  // The pipeline being read: its commands (a group's or a `bash -c`'s script's status counts as one
  // command's, with what it says of its tests), whether `!` negates it, the options when it started.
  commands = 0;
  negated = false;
  lastHas = false; // the last command has test commands
  lastZ = true; // its status 0 ⇒ they passed
  lastF = false; // its status non-zero ⇒ one of them failed
  earlierHas = false;
  earlierZ = true; // every earlier command's status 0 ⇒ its tests passed
  allF = true; // every command's status non-zero ⇒ one of its tests failed
  options = 0;
  safe = true; // every command of the pipeline being read exits 0 (a `set`)
  // Whether the shell may have ended before the line's end, its status an earlier command's:
  mayExit = false; // errexit may end it after the current list (if its last pipeline fails)
  groupMayExit = false; // a brace group in the pipeline being read may end it so (its errexit)
  // An earlier list (or a `set` sh rejects) may have ended it with a non-zero status that does not show
  // a test failed.
  failsEarly = false;
  endsEarly = false; // a command of it may end it, with any status (`exit`, `exec`), before others
  endPending = false; // the last command read may end it so: the next one makes that `endsEarly`
  failPending = false; // it may end it with a non-zero status (`exit 1`): the next one, `failsEarly`

  /**
   * `errexitShows`: errexit, when on, takes effect in this list (a `bash -c` script's own lines; not the
   * line Claude Code runs, nor a group: see `testVerdict`). `errexitMay`: it may take effect (a
   * script's lines and its groups'; the line Claude Code runs is on the left of `&&`, where bash ignores
   * errexit, in its groups too).
   */
  constructor(
    private readonly errexitShows: boolean,
    readonly errexitMay: boolean,
  ) {}

  /**
   * Adds a command of the pipeline being read: whether it has tests, what its status 0 and non-0 say;
   * `safe`: it exits 0.
   */
  command(has: boolean, z: boolean, f: boolean, options: number, safe = false): void {
    this.endsEarly = this.endsEarly || this.endPending;
    this.failsEarly = this.failsEarly || this.failPending;
    this.safe = this.safe && safe;
    if (this.commands++ === 0) this.options = options;
    else {
      this.earlierHas = this.earlierHas || this.lastHas;
      this.earlierZ = this.earlierZ && this.lastZ;
    }
    this.lastHas = has;
    this.lastZ = z;
    this.lastF = f;
    this.allF = this.allF && f;
  }

  /** Joins the pipeline read to the list, after its operator. */
  finishPipeline(): void {
    if (this.commands === 0) return;
    const pipefail = (this.options & PIPEFAIL) !== 0;
    const has = this.lastHas || this.earlierHas;
    // Status 0 ⇒ its tests passed; status non-zero ⇒ one of its tests failed. A negated pipeline's
    // status 0 is a failure of its last command (or, under pipefail, of one): conservatively neither.
    let pz = this.lastZ && (pipefail ? this.earlierZ : !this.earlierHas);
    let pf = pipefail ? this.allF : this.lastF;
    if (this.negated && has) {
      pz = false;
      pf = false;
    }
    if (this.pipelines++ === 0) this.listErrexit = (this.options & ERREXIT) !== 0 && !this.negated;
    // Errexit acts on the last pipeline of an and-or list (not on a negated one): the one read last.
    this.mayExit =
      (this.errexitMay && (this.options & ERREXIT) !== 0 && !this.negated && !this.safe) || this.groupMayExit;
    this.safe = true;
    this.groupMayExit = false;
    if (this.op === '&&') {
      this.z = this.z && pz;
      this.f = this.f && pf;
    } else if (this.op === '||') {
      // After a success of the left side the pipeline is skipped (its tests did not run); after a
      // failure it runs (the left side's tests did not pass).
      this.z = this.z && pz && !has && !this.listTests;
      this.f = this.f || pf;
    } else {
      this.z = pz;
      this.f = pf;
    }
    this.listTests = this.listTests || has;
    this.commands = 0;
    this.negated = false;
    this.lastHas = false;
    this.lastZ = true;
    this.lastF = false;
    this.earlierHas = false;
    this.earlierZ = true;
    this.allF = true;
  }

  /**
   * Starts a new list: the one read ended (`;`, newline: `goesOn`, the line went on after it; under
   * errexit a list of one pipeline that the line went on after had status 0), or went to the background
   * (its status is 0, whatever its tests do).
   */
  newList(goesOn: boolean): void {
    const shown = goesOn && this.errexitShows && this.listErrexit && this.pipelines === 1 && this.z;
    // (A list sent to the background has status 0: errexit does not end the shell after it.)
    // The list ended the shell only if its status was non-zero: when that shows a test failed, so does
    // the line's (`set -e; pytest a; pytest b`).
    this.failsEarly = this.failsEarly || (goesOn && (this.mayExit || this.failPending) && !this.f);
    this.mayExit = false;
    this.failPending = false;
    if (!goesOn) this.endPending = false;
    this.testsBefore = this.testsBefore || (this.listTests && !shown);
    this.z = true;
    this.f = false;
    this.listTests = false;
    this.pipelines = 0;
    this.op = '';
  }
}

/** What a Bash line (or a part of one) says of its test commands: see `testVerdict`. */
interface Verdict {
  /** It has a test command (in a command's place, not listing tests). */
  any: boolean;
  /** A success (status 0) shows every test command ran and passed. */
  passed: boolean;
  /** A failure shows a test command ran and failed. */
  failed: boolean;
}

// Words before a command that run it (`time npm test`, `sudo -u ci npm test`, `env CI=1 npm test`,
// `timeout 600 pytest`), with their options that take an argument (the next word).
const COMMAND_PREFIXES = new Map<string, string>([
  ['time', ''],
  ['nohup', ''],
  ['command', ''],
  ['exec', 'a'],
  ['sudo', 'ugCDhprtU'],
  ['env', 'uCS'],
  ['nice', 'n'],
  ['timeout', 'sk'],
]);
// Package runners before a tool: `npx vitest`, `uv run pytest`, `pnpm exec jest`, `bundle exec rspec`
// (their `run`, `exec`, `dlx`, `x` and options skipped). `npm test`, `yarn test`, … are matched as they are.
const RUNNERS = new Set([
  'npx',
  'bunx',
  'npm',
  'pnpm',
  'yarn',
  'bun',
  'uv',
  'poetry',
  'pipenv',
  'pdm',
  'bundle',
]);
const RUNNER_VERBS = new Set(['run', 'exec', 'dlx', 'x']);
const SHELLS = new Set(['bash', 'sh', 'zsh', 'dash', 'ksh']);
// Reserved words of the compound commands a command follows (`if [ -f x ]; then npm test; fi`,
// `while ! npm test; do …; done`), and those that end one: their test commands are found, but what their
// status says of them is not read (a loop may run them again, `if` takes a failure as a branch).
const COMPOUND_OPENERS = new Set(['if', 'then', 'elif', 'else', 'while', 'until', 'do']);
const COMPOUND_CLOSERS = new Set(['fi', 'done', 'esac']);

/** What ends a word in the shell: a blank, or a metacharacter. */
const WORD_ENDS = ' \t\n\r;&|()<>';

/**
 * Whether the word at `at` is `word` (a reserved word: `{`, `}`), a word of its own: the shell's
 * metacharacters end it (a blank, `;`, `&`, `|`, `(`, `)`, `<`, `>`: `{ npm test; }>log`, `}&& …`).
 */
function isWord(command: string, at: number, word: string): boolean {
  const after = command[at + word.length];
  return command.startsWith(word, at) && (after === undefined || WORD_ENDS.includes(after));
}

/** Whether the word `command[start, end)` is a variable assignment (`CI=1`, `X="a b"`). */
function isAssignment(command: string, start: number, end: number): boolean {
  for (let k = start; k < end; k++) {
    const c = command.charCodeAt(k);
    if (c === 61 /* = */) return k > start;
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (!letter && !(k > start && c >= 48 && c <= 57)) return false;
  }
  return false;
}

/**
 * The text of the word `command[start, end)` without its quotes and backslashes (nothing expanded), a
 * line's continuation (`\` and a newline) removed, as the shell removes it outside single quotes.
 */
function unquote(command: string, start: number, end: number): string {
  let text = '';
  let i = start;
  while (i < end) {
    const c = command[i]!;
    if (c === "'") {
      const close = command.indexOf("'", i + 1);
      const to = close < 0 || close > end ? end : close;
      text += command.slice(i + 1, to);
      i = to + 1;
    } else if (c === '"') {
      const to = Math.min(skipDoubleQuoted(command, i, true), end);
      const close = command[to - 1] === '"' && to - 1 > i ? to - 1 : to;
      for (let k = i + 1; k < close; k++) {
        const d = command[k]!;
        const e = command[k + 1];
        if (d === '\\' && (e === '"' || e === '\\' || e === '$' || e === '`')) {
          text += e;
          k++;
        } else if (d === '\\' && e === '\n') k++;
        else text += d;
      }
      i = to;
    } else if (c === '$' && command[i + 1] === "'") {
      // ANSI-C quoting (`$'test'` is `test`). Its escapes are not read: a `\` is kept, so such a word is no
      // bare word (see `isBare`).
      const close = command.indexOf("'", i + 2);
      const to = close < 0 || close > end ? end : close;
      text += command.slice(i + 2, to);
      i = to + 1;
    } else if (c === '$' && command[i + 1] === '"') {
      // `$"…"` (a translated string) is `"…"` in the C locale.
      i++;
    } else if (c === '\\') {
      // A line's continuation is removed, in a word too (`te\<newline>st` is `test`).
      if (command[i + 1] !== '\n') text += command[i + 1] ?? '';
      i += 2;
    } else {
      text += c;
      i++;
    }
  }
  return text;
}

/** A group being read: the status of the enclosing list and how it was read. */
interface GroupFrame {
  line: LineStatus;
  any: boolean;
  options: number; // the enclosing list's options: a subshell's `set` does not change them
  subshell: boolean;
}

/** The state of `testVerdict`'s reading of a line (a class: no closure per call). */
class LineReader {
  line: LineStatus;
  any = false; // a test command in the list being read (the line's, or a group's)
  options: number;
  groups: GroupFrame[] | undefined;
  broken = false; // a group or a quote was left open, or a group closed without being opened
  ended = false; // the list ended (`;`, newline): the next command starts a new one
  operatorLast = false; // `&&`, `||` or `|` read, no command since: a newline goes on with it
  heredocs: string[] | undefined; // the delimiters of the here-documents whose text starts at the next \n
  redirections = false; // after a group's end: the words up to the next separator are its redirections
  compound = false; // a compound command's reserved word was read (`if`, `while`, `for`, `case`, …)
  // The options before the `set` that is the first command of the pipeline being read (-1: none): a `|`
  // or `&` after it runs it in a subshell, which leaves the shell's options as they were.
  setUndo = -1;

  /** `gits`: where to add where the arguments of each `git` command go on (see `gitCommands`). */
  constructor(
    script: boolean,
    options: number,
    readonly gits: number[] | undefined,
  ) {
    this.line = new LineStatus(script, script);
    this.options = options;
  }

  /** Starts reading a group, `(` (a subshell) or `{`. */
  openGroup(subshell: boolean): void {
    this.setUndo = -1;
    if (this.ended) {
      this.line.newList(true);
      this.ended = false;
    }
    this.groups ??= [];
    this.groups.push({ line: this.line, any: this.any, options: this.options, subshell });
    this.line = new LineStatus(false, this.line.errexitMay);
    this.any = false;
    this.operatorLast = false;
  }

  /** Ends the group being read: its status is a command's of the enclosing pipeline. */
  closeGroup(): void {
    this.setUndo = -1;
    const frame = this.groups?.pop();
    if (frame === undefined) {
      this.broken = true;
      return;
    }
    const line = this.line;
    line.finishPipeline();
    const has = this.any;
    const outer = frame.line;
    this.line = outer;
    this.any = frame.any || has;
    if (frame.subshell) this.options = frame.options;
    else {
      // A brace group's `exit` or errexit ends the enclosing shell: what comes after it may not run.
      outer.failsEarly = outer.failsEarly || line.failsEarly;
      outer.endsEarly = outer.endsEarly || line.endsEarly;
      outer.groupMayExit = outer.groupMayExit || line.mayExit;
    }
    const endsEarly = line.endsEarly;
    outer.command(
      has,
      line.z && !line.testsBefore && !endsEarly,
      line.f && !line.failsEarly && !endsEarly,
      frame.options,
    );
    // (After the group's own command: its last `exit` ends the enclosing shell before the next one.)
    if (!frame.subshell) {
      outer.endPending = outer.endPending || line.endPending;
      outer.failPending = outer.failPending || line.failPending;
    }
    this.ended = false;
  }
}

/**
 * What the exit status of the Bash line `command` says of its test commands (`Verdict`). A test command
 * is one in a command's place — the line's first word, or after `;`, `&&`, `||`, `|`, `&`, a newline,
 * `(`, `{`, `!`, a prefix (`time`, `sudo`, `env`, `nice`, `nohup`, `timeout`, `command`, `exec`),
 * assignments (`CI=1`) or a package runner (`npx`, `uv run`, `pnpm exec`, …), its path's folders
 * dropped (`./node_modules/.bin/vitest`) and its quotes (`"$HOME/My Project/.venv/bin/pytest"`, unless a
 * blank is left in the name: `"npm test"`) — whose words, as the shell gives them (`ShellWords`: `npm 't'est`
 * is `npm test`), match the test command expression and do not list
 * or describe tests (`--collect-only`, `--co`, `--list`, `--listTests`, `--help`, `-h`, `-list REGEXP`,
 * `--dry-run`) or only build them (`--no-run`, `go test -c`): not one inside quotes (a commit message's
 * `npm test`), an argument (`echo npm test`) or a comment. `bash -c '…'` (`sh`, `zsh`, …) is read as a line
 * of its own, its status the command's.
 *
 * Read as the shell runs the line: a list's status is its last pipeline's (`;`, a newline and `&` end a list;
 * one sent to the background with `&` shows nothing), `a && b` runs `b` only after a success of `a`, `a || b`
 * only after a failure (assignments alone are a command whose status is 0: `npm test || rc=$?` succeeds
 * whatever the tests did), and a pipe's status is its last command's — or, after a `set -o pipefail`
 * (`set -euo pipefail`; until a `set +o pipefail`), the last failing one's. `!` negates a pipeline's status:
 * what it says of its tests is unknown. `time` (unquoted) is the reserved word before a pipeline: `!` or a
 * group may follow it (`time { npm test; }`). Under errexit (`set -e`, `set -o errexit`, `bash -ec`; until a
 * `set +e`), a `bash -c` script (`script`) that went on after a list of one pipeline (`npm test; echo done`)
 * shows that pipeline's status was 0 — not the line Claude Code runs: it evals it on the left of `&&`
 * (`eval '…' < /dev/null && pwd -P >| …`), where bash ignores errexit, nor a group (it may be on the left of
 * `&&` or `||`); and in such a script a failure may be that of an earlier list, which ended it
 * (`bash -ec 'npm run build; npm test'`), unless that list's failure shows a test failed too. The shell may
 * end before the line does: after `exit 1` (`npm run lint || exit 1; npm test`) a failure may be the exit's,
 * after `exit`, `exit 0` or the builtin `exec` any status may be. `posix`: the line is an `sh` or `dash`
 * script, where `set -o pipefail` may be an error that ends it (dash has no pipefail). A compound command's
 * tests are found (a command follows `if`, `then`, `else`, `while`, `do`, …), but the line's outcome is then
 * unknown. A group, `( … )` or `{ …; }`, counts as one command whose status is its list's (a subshell's `set`
 * options end with it); a group, a quote or a `$(…)` left open, or a redirection without its target (`npm
 * test >`: a syntax error, the shell runs nothing of the line) makes the outcome unknown. So `npm test && npm run build` shows a pass but not a failure (the
 * build's?), `npm run build && npm test` likewise (the tests may not have run), `npm run lint || npm test` a
 * failure but not a pass (the tests may not have run), `npm test | tail` neither (tail's status). Linear in
 * the command's length (a `bash -c` script is read once more, a group's opening word twice); no closure but
 * for a `set` command's words.
 */
function testVerdict(
  command: string,
  initialOptions: number,
  script: boolean,
  posix = false,
  gits?: number[],
): Verdict {
  const n = command.length;
  const r = new LineReader(script, initialOptions, gits);
  let here = command.indexOf('<<');
  let at = 0;
  for (;;) {
    const end = readCommand(command, at);
    // A quote or a `$(…)` left open (its last word's, which runs to the end): the shell rejects the line
    // and runs nothing of it (`npx vitest -t 'doesn't drop events'` fails with status 2).
    if (wordOpen) r.broken = true;
    // So is a redirection without its target (`npm test >`: bash exits with status 2).
    if (lacksTarget(command, end)) r.broken = true;
    let word = at;
    while (word < end && (command[word] === ' ' || command[word] === '\t' || command[word] === '\r')) word++;
    if (word < end && !r.redirections && isWord(command, word, '}')) {
      r.closeGroup();
      r.redirections = true;
    } else if (word < end && !r.redirections) {
      if (r.ended) {
        r.line.newList(true);
        r.ended = false;
      }
      r.operatorLast = false;
      // The words before the command's name: `!`, `{`, `}`, prefixes and their options, assignments.
      let first = true; // no word but `!` before: `{` and `}` are reserved words here
      let prefix: string | undefined; // the prefix (or runner) whose options are being read
      let argumentNext = false;
      let durationNext = false; // `timeout`'s duration
      let reopen = -1; // a `{` was read: its group's first command starts here
      let execs = false; // the builtin `exec` was read
      let lernaExec = false; // `lerna exec` was read: its command follows, after its options (and `--`)
      // The command's words as the shell gives them, made when a name may be a test command's and a word has a
      // quote or a `\` (-1: not looked for).
      let quoted = -1;
      let shell: ShellWords | undefined;
      for (let w = word; w < end; ) {
        const wEnd = readWord(command, w);
        const plain = wordPlain;
        const length = wEnd - w;
        const c = command[w];
        if (argumentNext) argumentNext = false;
        else if (prefix !== undefined && plain && c === '-' && (length > 1 || prefix === 'env')) {
          // (`env -` is `env -i`.)
          const withArgument = COMMAND_PREFIXES.get(prefix);
          argumentNext =
            prefix === 'lerna'
              ? LERNA_ARGUMENT.test(command.slice(w, wEnd))
              : withArgument !== undefined && length === 2 && withArgument.includes(command[w + 1]!);
        } else if (durationNext) durationNext = false;
        else if (first && plain && length === 1 && c === '!') r.line.negated = !r.line.negated;
        else if (first && plain && length === 1 && c === '{') {
          reopen = wEnd;
          break;
        } else if (isAssignment(command, w, wEnd)) first = false;
        else {
          // The name without its folders (`./node_modules/.bin/vitest`); a quoted one (or one with a `\`)
          // without its quotes, as the shell runs it (`"$HOME/My Project/.venv/bin/pytest"`), but not one
          // with a blank left in it (`"npm test"` is a command of that name).
          let nameStart = wEnd;
          let name: string;
          let isRun: boolean;
          // lerna's command (`exec`, `list`), not a command it runs (`lerna pytest` is refused by lerna).
          const lernaCommand = prefix === 'lerna' && !lernaExec;
          if (quoted < 0) quoted = hasQuote(command, word, end) ? 1 : 0;
          if (plain) {
            while (nameStart > w && command[nameStart - 1] !== '/') nameStart--;
            if (quoted === 1 && !lernaCommand && TEST_HEAD.test(command.slice(nameStart, wEnd))) {
              shell ??= new ShellWords(command, word, end);
            }
            if (shell === undefined) {
              TEST_AT.lastIndex = nameStart;
              isRun = !lernaCommand && TEST_AT.test(command) && TEST_AT.lastIndex <= end;
            } else isRun = !lernaCommand && shell.isTest(command.slice(nameStart, wEnd), wEnd);
            name = isRun ? '' : command.slice(nameStart, wEnd);
          } else {
            const text = unquote(command, w, wEnd);
            if (lernaExec && BLANK.test(text)) {
              // lerna exec runs its command in a shell (`sh -c`), its words joined: quoted whole, `lerna exec
              // "npm test"` runs npm test. (Not the line's shell: its options are not the script's.)
              const script = text + command.slice(wEnd, end);
              const verdict = mayRunTests(script) ? testVerdict(script, 0, true, true) : undefined;
              r.line.command(
                verdict?.any ?? false,
                verdict?.passed ?? true,
                verdict?.failed ?? false,
                r.options,
              );
              r.any = r.any || r.line.lastHas;
              break;
            }
            name = text.slice(text.lastIndexOf('/') + 1);
            if (BLANK.test(name)) name = '';
            if (quoted === 1 && !lernaCommand && TEST_HEAD.test(name))
              shell ??= new ShellWords(command, word, end);
            // (No prefix is a test command's name: a line of many is read at one look-up a word.)
            isRun =
              !lernaCommand &&
              name !== '' &&
              !COMMAND_PREFIXES.has(name) &&
              (shell === undefined ? isTestName(name, command, wEnd, end) : shell.isTest(name, wEnd));
          }
          if (isRun) {
            // Read as the tool gets it: a quoted name without its quotes (`"mvn" verify -DskipTests`).
            const words =
              (plain ? command.slice(w, shell === undefined ? end : wEnd) : name) +
              (shell === undefined ? (plain ? '' : command.slice(wEnd, end)) : shell.after(wEnd));
            // (Each of NOT_A_TEST_RUN's options has a `-`: most commands have none, and are not scanned.)
            const reading =
              words.includes('-') && NOT_A_TEST_RUN.test(words)
                ? 'none'
                : GRADLE.test(words)
                  ? shell === undefined
                    ? gradleRun(command, plain ? w : wEnd, end, plain)
                    : gradleRun(words, 0, words.length, true)
                  : 'run';
            const isTest = reading !== 'none';
            r.line.command(isTest, reading !== 'unknown', reading === 'run', r.options);
            r.any = r.any || isTest;
            break;
          }
          const reserved = first && plain && nameStart === w;
          if (reserved && COMPOUND_OPENERS.has(name)) {
            r.compound = true; // a command follows, as at the start of a pipeline
          } else if (reserved && (COMPOUND_CLOSERS.has(name) || name === 'for' || name === 'case')) {
            r.compound = true;
            r.line.command(false, true, false, r.options);
            break;
          } else if (lernaCommand) {
            // lerna's command: `exec` runs the command after it in each package; another runs none here.
            if (name !== 'exec') {
              r.line.command(false, true, false, r.options);
              break;
            }
            lernaExec = true;
          } else if (name === 'lerna' && prefix !== 'lerna') {
            prefix = 'lerna';
            first = false;
          } else if (COMMAND_PREFIXES.has(name)) {
            // The builtin `exec` (not a runner's verb, `pnpm exec`) replaces the shell: nothing after it runs.
            if (name === 'exec' && plain && prefix !== 'runner') execs = true;
            prefix = name;
            durationNext = name === 'timeout';
            // `time` (unquoted) is a reserved word of the pipeline, as `!` is: `time { …; }`, `time ! …`.
            first = first && plain && name === 'time';
          } else if (prefix === 'runner' && RUNNER_VERBS.has(name)) {
            // `uv run`, `pnpm exec`, …
          } else if (RUNNERS.has(name) && prefix !== 'runner') {
            prefix = 'runner';
            first = false;
          } else {
            if (SHELLS.has(name)) {
              const posix = name === 'sh' || name === 'dash';
              r.line.command(...shellVerdict(command, wEnd, end, posix, r.gits), r.options);
              r.any = r.any || r.line.lastHas;
            } else if (name === 'set') {
              r.line.command(false, true, false, r.options, true);
              const options = optionsAfterSet(command, wEnd, r.options);
              // dash (`sh` on Debian and Ubuntu) has no pipefail: it rejects the option and exits.
              if (posix && namesPipefail(command, wEnd)) r.line.failsEarly = true;
              // A `set` after a `|` runs in a subshell: the shell's options stay (`set -o pipefail; true |
              // set +o pipefail; a | b` is still under pipefail). The first of a pipeline is undone at its `|`.
              if (r.line.commands === 1) {
                r.setUndo = r.options;
                r.options = options;
              }
            } else {
              r.line.command(false, true, false, r.options);
              if (name === 'git') r.gits?.push(wEnd, end);
              else if (name === 'exit') {
                // `exit 1` ends the shell with a failure; `exit`, `exit 0`, `exit $?` with any status.
                if (exitCodeAt(command, wEnd, end) > 0) r.line.failPending = true;
                else r.line.endPending = true;
              }
            }
            break;
          }
        }
        w = wEnd;
        while (w < end && (command[w] === ' ' || command[w] === '\t' || command[w] === '\r')) w++;
        // Prefixes or assignments alone (`time`, `rc=$?`): a command without tests, whose status is 0 (or
        // that of a substitution in it) whatever the tests before did.
        if (w >= end) r.line.command(false, true, false, r.options);
      }
      if (execs) r.line.endPending = true;
      if (reopen >= 0) {
        r.openGroup(false);
        at = reopen;
        continue;
      }
    }
    // The next `<<` of the line, looked for again only once passed: linear in the line's length.
    if (here >= 0 && here < at) here = command.indexOf('<<', at);
    if (here >= 0 && here < end) {
      r.heredocs ??= [];
      heredocsOf(command, at, end, r.heredocs);
    }
    if (end >= n) break;
    const c = command[end];
    const next = command[end + 1];
    if (c === '#') {
      const newline = command.indexOf('\n', end);
      if (newline < 0) break;
      at = newline;
      continue;
    }
    if (c === '(') {
      r.openGroup(true);
      at = end + 1;
      continue;
    }
    if (c === ')') {
      r.closeGroup();
      r.redirections = true;
      at = end + 1;
      continue;
    }
    r.redirections = false;
    // A `set` piped or sent to the background ran in a subshell (`set +o pipefail | tee log`).
    if (r.setUndo >= 0 && ((c === '|' && next !== '|') || (c === '&' && next !== '&'))) r.options = r.setUndo;
    r.setUndo = -1;
    if (c === '|' && next !== '|') {
      r.operatorLast = true;
      at = end + (next === '&' ? 2 : 1);
    } else if ((c === '&' && next === '&') || c === '|') {
      r.line.finishPipeline();
      r.line.op = c === '&' ? '&&' : '||';
      r.operatorLast = true;
      at = end + 2;
    } else if (c === '&') {
      // Sent to the background: the list's status is 0, whatever its tests do.
      r.line.finishPipeline();
      r.line.newList(false);
      at = end + 1;
    } else {
      // `;` or a newline; a newline after `&&`, `||` or `|` goes on with it.
      if (!r.operatorLast || c !== '\n') {
        r.line.finishPipeline();
        r.ended = true;
      }
      at = end + 1;
      // The here-documents of the line's commands: their text is read by a command, not run.
      if (c === '\n' && r.heredocs !== undefined && r.heredocs.length > 0) {
        at = afterHeredocs(command, at, r.heredocs);
      }
    }
  }
  let any = r.any;
  if (r.groups !== undefined && r.groups.length > 0) {
    // Left open: unknown, but its test commands are the line's.
    for (const frame of r.groups) any = any || frame.any;
    return { any, passed: false, failed: false };
  }
  const line = r.line;
  line.finishPipeline();
  if (r.broken || r.compound) return { any, passed: false, failed: false };
  return {
    any,
    passed: any && line.z && !line.testsBefore && !line.endsEarly,
    failed: any && line.f && !line.failsEarly && !line.endsEarly,
  };
}

/** Whether `command[from, end)` has a quote or a `\`: a word's text may not be as written. */
function hasQuote(command: string, from: number, end: number): boolean {
  for (let k = from; k < end; k++) {
    const c = command.charCodeAt(k);
    if (c === 39 || c === 34 || c === 92) return true;
  }
  return false;
}
/**
 * Whether the test commands' expressions read the word's text `text` as the word written so: not empty, no
 * blank, quote, `\` or metacharacter in it.
 */
function isBare(text: string): boolean {
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (isBlank(c) || NOT_BARE.includes(text[k]!)) return false;
  }
  return text.length > 0;
}
const NOT_BARE = ';&|()<>\'"\\';

/**
 * The words of a command `command[from, end)` as a test command gets them, read by the test commands'
 * expressions (`TEST_NAMES`): each word quoted whole or in parts, or with a `\` (`'test'`, `te''st`,
 * `t"es"t`, `"-DskipTests"`), written as the word the shell gives it, when that text can be written bare (not
 * `'a b'`, `"$x;"`); the others and the blanks between them as they are. Made once per command (linear in
 * its length), read at each word's end.
 */
class ShellWords {
  readonly text: string;
  // Each word's end in the command, and where it is in `text` (ascending).
  private readonly ends: number[] = [];
  private readonly at: number[] = [];

  constructor(command: string, from: number, end: number) {
    let text = '';
    let copied = from;
    for (let w = from; w < end; ) {
      const c = command[w];
      if (c === ' ' || c === '\t' || c === '\r') {
        w++;
        continue;
      }
      // A line's continuation before a word is a blank to the expressions (`SEP`), as to the shell.
      if (c === '\\' && (command[w + 1] === '\n' || (command[w + 1] === '\r' && command[w + 2] === '\n'))) {
        w += command[w + 1] === '\n' ? 2 : 3;
        continue;
      }
      const wEnd = Math.min(readWord(command, w), end);
      if (!wordPlain) {
        const word = unquote(command, w, wEnd);
        if (isBare(word)) {
          text += command.slice(copied, w) + word;
          copied = wEnd;
        }
      }
      this.ends.push(wEnd);
      this.at.push(text.length + (wEnd - copied));
      w = wEnd;
    }
    this.text = text + command.slice(copied, end);
  }

  /** Whether `name` (a command's name, unquoted) and the words after `wordEnd` are a test command. */
  isTest(name: string, wordEnd: number): boolean {
    const at = this.offset(wordEnd);
    return at >= 0 && isTestName(name, this.text, at, this.text.length);
  }

  /** The words after `wordEnd`, their blank first, as the shell gives them. */
  after(wordEnd: number): string {
    const at = this.offset(wordEnd);
    return at < 0 ? '' : this.text.slice(at);
  }

  /** Where the word that ends at `wordEnd` in the command ends in `text` (-1: no word ends there). */
  private offset(wordEnd: number): number {
    let low = 0;
    let high = this.ends.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const end = this.ends[middle]!;
      if (end === wordEnd) return this.at[middle]!;
      if (end < wordEnd) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }
}

/**
 * Adds to `delimiters` those of the here-documents (`<<EOF`, `<<'EOF'`, `<<-EOF`: a `\t` first) that the
 * words of `command[from, end)` open; not a here-string (`<<<`), not `<<` in quotes.
 */
function heredocsOf(command: string, from: number, end: number, delimiters: string[]): void {
  for (let w = from; w < end; ) {
    const c = command[w];
    if (c === ' ' || c === '\t' || c === '\r') {
      w++;
      continue;
    }
    let wEnd = readWord(command, w);
    let k = w;
    while (k < wEnd - 1 && !(command[k] === '<' && command[k + 1] === '<')) {
      const d = command[k];
      if (d === "'" || d === '"' || d === '\\' || d === '$') k = wEnd;
      else k++;
    }
    if (k < wEnd - 1 && command[k + 2] !== '<') {
      let at = k + 2;
      const tabs = command[at] === '-';
      if (tabs) at++;
      if (at === wEnd) {
        while (at < end && (command[at] === ' ' || command[at] === '\t')) at++;
        wEnd = at < end ? readWord(command, at) : at;
      }
      if (at < wEnd) {
        // A CRLF line's delimiter ends in `\r`, as its lines do, which `afterHeredocs` compares without it.
        let delimiter = unquote(command, at, wEnd);
        if (delimiter.endsWith('\r')) delimiter = delimiter.slice(0, -1);
        delimiters.push((tabs ? '\t' : '') + delimiter);
      }
    }
    w = wEnd;
  }
}

/**
 * Where the line goes on after the bodies of the here-documents of `delimiters` (emptied), which start at
 * `from`: after each one's delimiter line (for a `<<-` one, `\t` first, its tabs before it dropped).
 */
function afterHeredocs(command: string, from: number, delimiters: string[]): number {
  let at = from;
  for (const marked of delimiters) {
    const tabs = marked[0] === '\t';
    const delimiter = tabs ? marked.slice(1) : marked;
    while (at < command.length) {
      let lineEnd = command.indexOf('\n', at);
      if (lineEnd < 0) lineEnd = command.length;
      let first = at;
      if (tabs) while (command[first] === '\t') first++;
      let last = lineEnd;
      if (command[last - 1] === '\r') last--;
      at = lineEnd + 1;
      if (last - first === delimiter.length && command.startsWith(delimiter, first)) break;
    }
  }
  delimiters.length = 0;
  return Math.min(at, command.length);
}

/**
 * What the `bash` (`sh`, …) command whose options go on at `from` says of its tests: with `-c`, its
 * script (the first word after the options, wherever the `-c` is, without its quotes) read as a line of
 * its own; else nothing. Its options are read as bash reads them: `-e` (`+e`) and `-o errexit` turn errexit
 * on (off) in the script, `-o pipefail` pipefail; `-o` and `-O` take the next word, as `--rcfile` and
 * `--init-file` do; another long option (`--noprofile`, `--norc`) sets nothing; `-` or `--` ends them.
 * Returns `LineStatus.command`'s has, z and f.
 */
function shellVerdict(
  command: string,
  from: number,
  end: number,
  posix: boolean,
  gits: number[] | undefined,
): [boolean, boolean, boolean] {
  let script = false;
  let options = 0;
  let operand = false; // the options ended (`-`, `--`): the next word is the script
  let named = ''; // a sign per `-o` or `+o` whose option name comes next, ' ' per other option's argument
  for (let w = from; w < end; ) {
    const c = command[w];
    if (c === ' ' || c === '\t' || c === '\r') {
      w++;
      continue;
    }
    const wEnd = readWord(command, w);
    const length = wEnd - w;
    if (named.length > 0) {
      const sign = named[0];
      named = named.slice(1);
      const name = wordPlain ? command.slice(w, wEnd) : '';
      const bit = name === 'pipefail' ? PIPEFAIL : name === 'errexit' ? ERREXIT : 0;
      if (sign === '-') options |= bit;
      else if (sign === '+') options &= ~bit;
    } else if (operand || !wordPlain || (c !== '-' && c !== '+')) {
      if (!script) break;
      // Its `git` commands: any `git` in the script's word (it is not read word by word for them).
      if (gits !== undefined) {
        GIT.lastIndex = w;
        for (let git = GIT.exec(command); git !== null && git.index < wEnd; git = GIT.exec(command)) {
          gits.push(git.index + 3, wEnd);
        }
      }
      const text = unquote(command, w, wEnd);
      if (!mayRunTests(text)) break;
      const verdict = testVerdict(text, options, true, posix);
      return [verdict.any, verdict.passed, verdict.failed];
    } else if (c === '-' && (length === 1 || (length === 2 && command[w + 1] === '-'))) operand = true;
    else if (c === '-' && command[w + 1] === '-') {
      if (command.startsWith('--rcfile', w) || command.startsWith('--init-file', w)) named += ' ';
    } else {
      for (let k = w + 1; k < wEnd; k++) {
        const letter = command[k];
        if (letter === 'c') script = true;
        else if (letter === 'e') options = c === '-' ? options | ERREXIT : options & ~ERREXIT;
        else if (letter === 'o') named += c;
        else if (letter === 'O') named += ' ';
      }
    }
    w = wEnd;
  }
  return [false, true, false];
}

// One shell word, roughly (no blank, newline or metacharacter; a quote on one line), the blanks between
// words (a `\` newline too) and a word's end. Every repetition below is of whole words, which stop at a
// metacharacter or a newline, each read one way: a match, tried once per command name, reads at most to
// the end of its line, in time linear in it.
const WORD = String.raw`(?:[^\s;&|()<>'"\\]|\\.|'[^'\n]*'|"[^"\n]*")+`;
const SEP = String.raw`(?:[ \t]|\\\r?\n)+`;
const END = String.raw`(?=[\s;&|()<>]|$)`;
/**
 * The words of a tool's command line before its test task, fewest first: its options, each of those of
 * `withArgument` with its argument (so `pnpm --filter test-utils build` is not read as the task), and when
 * `plain`, other words too (goals, tasks, values: `mvn clean test`, `nx run-many -t lint test`).
 */
function wordsBefore(withArgument: string, plain: boolean): string {
  const taking = `(?:${withArgument})${SEP}${WORD}`;
  const option = `(?!(?:${withArgument})(?:[ \\t]|$))-${WORD}`;
  return `(?:(?:${taking}|${option}${plain ? `|(?!-)${WORD}` : ''})${SEP})*?`;
}
// A tool's `test` word (`npm test`, `go test ./...`, `npm test:unit`). A word quoted whole or in parts is read
// as the word the shell gives (`npm 'test'`, `go te''st`: `ShellWords`).
const TEST_ARGUMENT = String.raw`test\b`;
// The options of npm, pnpm, yarn and bun (and yarn's `workspaces foreach`) that take an argument.
const PM_ARGUMENT =
  '-[FCwj]|--(?:filter(?:-prod)?|dir|prefix|workspace|cwd|reporter|workspace-concurrency|loglevel|include|exclude|from|jobs|resume-from|test-pattern|changed-files-ignore-pattern|tag|registry|userconfig|cache|otp)';
const PM_WORDS = wordsBefore(PM_ARGUMENT, false);
// pnpm's: its `-w` is `--workspace-root`, which takes none (`pnpm -w test`).
const PNPM_WORDS = wordsBefore(PM_ARGUMENT.replace('-[FCwj]', '-[FCj]'), false);
// The options of lerna's that take an argument (its `exec`'s too).
const LERNA_OPTIONS = '--(?:scope|ignore|since|concurrency|npm-client|loglevel|max-buffer|profile-location)';
const LERNA_WORDS = wordsBefore(LERNA_OPTIONS, false);
const LERNA_ARGUMENT = new RegExp(`^(?:${LERNA_OPTIONS})$`);
// What follows `tox` or `nox` run without a command of theirs: the command's end (a comment's `#`), or an
// option.
const TOX_END = `(?=[ \\t]*(?:[;&|()<>\\r\\n]|$)|[ \\t]+#|${SEP}-)`;
// Maven's and Gradle's names, with Windows' scripts run from Git Bash or WSL (`mvnw.cmd`, `gradlew.bat`), which
// Windows finds in any capitals (`GRADLEW.BAT`, `Mvn.Cmd`).
const MAVEN_NAME = String.raw`mvnw?(?:\.cmd)?|[mM][vV][nN][wW]?\.[cC][mM][dD]`;
const GRADLE_NAME = String.raw`gradle\w*(?:\.bat)?|[gG][rR][aA][dD][lL][eE]\w*\.[bB][aA][tT]`;
// A test task's name that Gradle may take for an abbreviation (`GRADLE_ABBREVIATIONS`): `che`, `TEST`, `tDUT`.
const GRADLE_ABBREVIATED = String.raw`[tT](?:[eE](?:[sS][tT]?)?)?|[cC](?:[hH](?:[eE](?:[cC][kK]?)?)?)?|[bB](?:[uU](?:[iI](?:[lL][dD]?)?)?)?|t(?:e(?:st?)?)?(?:[A-Z\d][a-z\d]*)*U(?:n(?:it?)?)?T(?:e(?:st?)?)?`;
// Each test command as its name (a regular expression of the command's first word) and what follows the
// name on the line (`''`: the name alone says it, `vitest`).
const TEST_COMMANDS: readonly (readonly [name: string, rest: string])[] = [
  // A package's test script, maybe after options, in its workspaces: `npm test`, `yarn run test:unit`,
  // `pnpm -r test`, `pnpm --filter api test`, `npm -w api test`, `pnpm -w test`, `bun run test`; npm's and
  // pnpm's aliases of `test`, `npm t` and `npm tst` (not after `run`: `npm run t` runs a script named t).
  ['npm|yarn|bun', `${SEP}${PM_WORDS}(?:run${SEP}${PM_WORDS})?${TEST_ARGUMENT}`],
  ['pnpm', `${SEP}${PNPM_WORDS}(?:run${SEP}${PNPM_WORDS})?${TEST_ARGUMENT}`],
  ['npm', `${SEP}${PM_WORDS}t(?:st)?${END}`],
  ['pnpm', `${SEP}${PNPM_WORDS}t(?:st)?${END}`],
  // yarn's workspaces: `yarn workspaces foreach -A run test` (yarn 1: `yarn workspaces run test`), `yarn
  // workspace api test`.
  [
    'yarn',
    `${SEP}${PM_WORDS}(?:workspaces${SEP}(?:foreach${SEP}${PM_WORDS})?run|workspace${SEP}${WORD}(?:${SEP}run)?)${SEP}test\\b`,
  ],
  // Test runners by name: `vitest`, `npx jest`, …
  ['npx', String.raw`\s+(?:vitest|jest|mocha)\b`],
  [String.raw`(?:vitest|jest|pytest|mocha|rspec|phpunit|ctest)\b`, ''],
  // A tool's `test` command or target.
  ['go|cargo|make|deno|swift|mix|bazel|playwright|dotnet|hatch', String.raw`\s+${TEST_ARGUMENT}`],
  // rails's and rake's, and their tasks of tests (`rails test:system`), after other tasks (`bin/rails
  // db:test:prepare test test:system`, `rake db:migrate test`: rails's a namespaced task or an assignment, not
  // a command's word, `rails generate model test`); not `test:prepare`, which builds the assets and the test
  // database.
  ['rails', `${SEP}(?:(?=[^\\s;&|()<>'"\\\\]*[:=])${WORD}${SEP})*?test\\b(?!:prepare\\b)`],
  ['rake', `${SEP}(?:(?!-)${WORD}${SEP})*?test\\b(?!:prepare\\b)`],
  ['cargo', String.raw`\s+nextest\s+run\b`],
  // lerna's `run` of the packages' test script, with its options, others with it (`lerna run test --stream`,
  // `lerna run --scope api test`, `lerna run lint,test`); not `test` as an option's value (`lerna run
  // --scope test build`).
  [
    'lerna',
    `${SEP}${LERNA_WORDS}run${SEP}${LERNA_WORDS}(?:[\\w:.-]+,)*test(?::[\\w.-]*)?(?=[\\s;&|()<>,]|$)`,
  ],
  ['node', `\\s+--test${END}`],
  [String.raw`python(?:3(?:\.\d+)?)?`, String.raw`\s+-m\s+(?:pytest|unittest)\b`],
  // turbo's tasks, with its options, other tasks, a package's (`turbo run lint test --filter=web`, `turbo
  // test`, `turbo run web#test`); not its other commands (`turbo prune test`).
  [
    'turbo',
    `(?!${SEP}(?:prune|gen|generate|link|unlink|login|logout|ls|info|query|scan|telemetry|daemon|bin|boundaries|docs|completion|watch)${END})${SEP}(?:run${SEP})?${wordsBefore('-F|--(?:filter|scope|since|concurrency|output-logs|log-order|log-prefix|cache-dir|cache|env-mode|ui|graph|summarize|profile|cwd|ignore|global-deps|pkg-inference-root|cache-workers|remote-cache-timeout|team|token|api|login|heap|trace|cpuprofile)', true)}(?:[\\w@/.-]+#)?test(?::[\\w.-]*)?${END}`,
  ],
  // nx's: `nx test api`, `nx run api:test:ci`, `nx run-many -t lint test`, `nx affected --targets=lint,test`,
  // `nx affected:test`; a target of run-many's and affected's in the list after `-t` (`--targets`), not a word
  // after another of their options (`-t build --parallel test`: parallel's value; `--nxBail test`).
  ['nx', `${SEP}(?:test|affected:test)${END}|${SEP}run${SEP}[^\\s:;&|()<>'"]+:test(?::[\\w.-]+)?${END}`],
  [
    'nx',
    `${SEP}(?:run-many|affected)${SEP}${wordsBefore('-[pc]|--(?:exclude|projects|base|head|configuration|files|output-style|runner)', true)}(?:-t|--targets?)(?:=|${SEP})(?:(?!-)[\\w:.-]+(?:,|${SEP}))*test(?::[\\w.-]*)?(?=[\\s;&|()<>,]|$)`,
  ],
  // Maven's phases that run Surefire's tests, after options and other goals: `./mvnw -B clean verify`,
  // `mvn -pl core test`, `mvn surefire:test`, and the later phases of its default lifecycle, which run them
  // first (`mvn package`, `mvn clean install`, `integration-test`, `deploy`); not `mvn test-compile`, nor
  // `mvn install -DskipTests`.
  [
    MAVEN_NAME,
    `${SEP}${wordsBefore('-(?:pl|f|s|gs|gt|P|T|rf|t|l|b|D)|--(?:projects|file|settings|global-settings|global-toolchains|activate-profiles|threads|resume-from|toolchains|log-file|builder|define)', true)}(?:test|verify|package|install|deploy|integration-test|surefire:test)${END}`,
  ],
  // Gradle's tasks that run the tests: `./gradlew test`, `gradle :app:check`, `./gradlew testDebugUnitTest`,
  // `build` (it runs `check`; not with `-x test`);
  // not `test` as a value of Gradle's options or of a task's (`./gradlew help --task test`, `gradle init
  // --project-name test`, `./gradlew dependencies --configuration test`).
  [
    GRADLE_NAME,
    `${SEP}${wordsBefore('-[xpbcIgDPMF]|--(?:exclude-task|project-dir|build-file|settings-file|init-script|tests|gradle-user-home|console|warning-mode|max-workers|include-build|project-cache-dir|priority|write-verification-metadata|dependency-verification|update-locks|system-prop|project-prop|configuration-cache-problems|task|project-name|package|type|dsl|test-framework|configuration|dependency|group|args)', true)}(?:[\\w.-]*:)*(?:test|check|build|test\\w*UnitTest|${GRADLE_ABBREVIATED})${END}`,
  ],
  // tox and nox, alone or with options (`tox -e py312`, `tox run -e py312`, `nox -s tests`): not a command
  // of theirs that runs none (`tox list`).
  ['tox', `(?:${SEP}(?:run|r|run-parallel|p))?${TOX_END}`],
  ['nox', TOX_END],
];
const TEST_COMMAND = new RegExp(
  String.raw`\b(?:${TEST_COMMANDS.map(([name, rest]) => `(?:${name})(?:${rest})`).join('|')})`,
);
// The expression at a command's name (sticky), and at the start of a name unquoted.
const TEST_AT = new RegExp(TEST_COMMAND.source, 'y');
const TEST_START = new RegExp(`^(?:${TEST_COMMAND.source})`);
/**
 * Each test command's name, the whole of a name unquoted (or its start, for a name that says it alone), and
 * what follows it on the line, read where it is (sticky): a line's quoted name is matched without copying
 * the rest of its command after it, which made a line of many quoted prefixes (`"env" "env" … npm test`)
 * quadratic (seconds for 200 KB).
 */
const TEST_NAMES = TEST_COMMANDS.map(
  ([name, rest]) =>
    [
      new RegExp(rest === '' ? `^(?:${name})` : `^(?:${name})$`),
      rest === '' ? undefined : new RegExp(`(?:${rest})`, 'y'),
    ] as const,
);
// A name that may be a test command's (one of `TEST_NAMES`' heads).
const TEST_HEAD = new RegExp(
  TEST_COMMANDS.map(([name, rest]) => (rest === '' ? `^(?:${name})` : `^(?:${name})$`)).join('|'),
);
/**
 * Whether `name`, a command's name unquoted, followed by `command[from, end)` (the rest of its command) is
 * a test command (`TEST_START`), read in linear time in what the match reads. A name with a redirection
 * stuck to it (`"tox">log`) is matched with a copy of the rest: no prefix nor runner has one, so the
 * command's words end there and no later word of it is read so.
 */
function isTestName(name: string, command: string, from: number, end: number): boolean {
  if (name.includes('<') || name.includes('>')) return TEST_START.test(name + command.slice(from, end));
  for (const [head, rest] of TEST_NAMES) {
    if (!head.test(name)) continue;
    if (rest === undefined) return true;
    rest.lastIndex = from;
    if (rest.test(command) && rest.lastIndex <= end) return true;
  }
  return false;
}
/**
 * @internal Exported for tests. Whether the Bash line (or `bash -c` script) `text` may have a test command:
 * a line without runs none, and is not read. A word of every test command of `TEST_COMMAND` (`test` in
 * `vitest`, `pytest`, `unittest`; `jest`, `tox`, …), or of those read only after their tool's name, with that
 * name (Maven's `verify`, `package`, `install`, `deploy` with `mvn`, npm's and pnpm's `t` and `tst` with
 * `npm`), or `gradle` (a task's name may be abbreviated: `gradle che`); `mvn` and `gradle` in any capitals
 * (Windows' `MVNW.CMD`, `GRADLEW.BAT`): so `npm run build`, `npm install x`, `cargo build` are not read. Each of them may have quotes and `\`s between its letters (`m"v"n package`, `'npm' t`,
 * `bash -c mvn\ pack\age`), which the shell drops. Not `TEST_COMMAND` itself, which quotes and `\`s in a name
 * or between its words would hide. Linear: each expression scans the line once, allocating nothing.
 */
export function mayRunTests(text: string): boolean {
  if (!MAY_RUN_TESTS.test(text)) return false;
  return (
    TEST_WORD.test(text) ||
    GRADLE_TOOL.test(text) ||
    (MAVEN_TOOL.test(text) && BUILD_WORD.test(text)) ||
    (NPM.test(text) && NPM_ALIAS.test(text))
  );
}
/**
 * The words `words` (`|` between them), each letter maybe after a quote, a `\` or a line's continuation
 * (`m"v"n`, `\pytest`, `te\` and a newline `st`); in
 * capitals or small letters, with `anyCase` (a Windows script's name: `GRADLEW.BAT`).
 */
function quotable(words: string, anyCase = false): string {
  const letter = (c: string) => (anyCase ? `[${c}${c.toUpperCase()}]` : c);
  return words
    .split('|')
    .map((word) => Array.from(word, letter).join(`['"\\\\\\n]*`))
    .join('|');
}
const TEST_WORDS = quotable('test|jest|mocha|rspec|phpunit|tox|nox');
const BUILD_WORDS = quotable('verify|check|package|install|deploy|build');
const NPM_ALIASES = String.raw`\bt(?:['"\\\n]*s['"\\\n]*t)?\b`;
// A test word or a tool's name: most lines have none, and are done with in one scan.
const MAY_RUN_TESTS = new RegExp(`${TEST_WORDS}|${quotable('mvn|gradle', true)}|${quotable('npm')}`);
const TEST_WORD = new RegExp(TEST_WORDS);
const BUILD_WORD = new RegExp(BUILD_WORDS);
// Gradle's lines are all read: a task's name may be abbreviated (`gradle che` runs `check`).
const GRADLE_TOOL = new RegExp(quotable('gradle', true));
const MAVEN_TOOL = new RegExp(quotable('mvn', true));
const NPM_ALIAS = new RegExp(NPM_ALIASES);
const NPM = new RegExp(quotable('npm'));
const BLANK = /\s/;
// Listing or describing tests is not running them; nor is rspec's `--dry-run` (its summary counts every
// example, `0 failures`), nor go's `-list REGEXP` (`ok` for each package, when no test matches), nor
// building them only (`cargo test --no-run`, `deno test --no-run`, `go test -c`: exit 0, no test ran), nor
// Maven skipping them (`mvn verify -DskipTests`), tox and nox listing their environments (`tox -l`, `nox --list`) or
// setting them up only (`tox --notest`), or running only those whose names say no test (`tox -e lint`, `nox -s docs`; not `-e py312`,
// `-s tests`, `unit`, `ALL`; an option after `--` is their posargs': `tox -e py312 -- -s src/`). Those of a tool are read from its name, at the start of the command: once per
// command, not at each `go test` of a line of many, which took seconds. Gradle's tasks left out and its dry
// run are read by `gradleRun`.
const NOT_A_TEST_RUN = new RegExp(
  [
    String.raw`\s(?:--collect-only|--co|--list(?:-tests)?|--listTests|--help|-h|--version|--dry-run|--no-run|-{1,2}list(?:=\S*)?)(?:\s|$)`,
    String.raw`^(?:\S*/)?go\s+test\s(?:.*\s)?-c(?:\s|$)`,
    String.raw`^(?:\S*/)?(?:${MAVEN_NAME})\s(?:[\s\S]*\s)?-D(?:skipTests|maven\.test\.skip(?:\.exec)?)(?:=true)?(?:\s|$)`,
    String.raw`^(?:\S*/)?[tn]ox\s+(?:(?!--(?:\s|$))\S+\s+)*(?:-l|-a|--list(?:envs(?:-all)?|-sessions)?|--notest)(?:\s|$)`,
    String.raw`^(?:\S*/)?[tn]ox\s+(?:(?!--(?:\s|$))\S+\s+)*(?:-e|-s|--sessions?|--env)(?:=|\s+)(?!-)(?![^\s;&|]*(?:py|test|unit|all|ALL))`,
  ].join('|'),
);
const EXIT_CODE = /^Exit code (\d+)/;
// A Gradle command: its name, a blank after it.
const GRADLE = new RegExp(`^(?:\\S*/)?(?:${GRADLE_NAME})\\s`);
// Gradle's own short options that take an argument (`-x test`, `-xtest`, `-x=test`), and its own long ones,
// which a single `-` names too (`-exclude-task test`), as does `--` a short one (`--x test`). Given no
// argument (at the command's end, or an option next: `-p -m lint test`, `-qx test`), Gradle refuses the line.
const GRADLE_SHORT_ARGUMENT = 'xpbcIgDPMF';
const GRADLE_LONG_ARGUMENT = new Set(
  'exclude-task project-dir build-file settings-file init-script gradle-user-home console warning-mode max-workers include-build project-cache-dir priority write-verification-metadata dependency-verification update-locks system-prop project-prop configuration-cache-problems'.split(
    ' ',
  ),
);
// Its tasks' options that take an argument (`help --task test`, `init --project-name test`, `run --args b`),
// read by the task.
const GRADLE_TASK_ARGUMENT = new Set(
  'tests task project-name package type dsl test-framework configuration dependency group args'.split(' '),
);
// Its short options that take none, which may be put together in one word (`-qm` is `-q -m`).
const GRADLE_FLAG = /^[?adhiqsStvVwmU]$/;
// The test tasks a Gradle task runs, by name: `build` runs `check`, which runs `test`; leaving out one of them
// leaves out those after it (a task named runs, though another depends on it: `test -x check` runs the tests).
const GRADLE_TEST_TASKS: Readonly<Record<string, readonly string[]>> = {
  test: ['test'],
  check: ['check', 'test'],
  build: ['build', 'check', 'test'],
};
const GRADLE_TEST_TASK = /^(?:test|check|build|test\w*UnitTest)$/;
// What Gradle may take a task's name for, when no task has that name: the one task whose name starts so, in
// any capitals (`t`, `te`, `che`, `b`, `TEST`), or whose words start so (`tDUT`: `testDebugUnitTest`); two
// tasks so named make it refuse the line (`t`: `test` and `tasks`). Each test task's (`*UnitTest`: a
// `test…UnitTest`), as `GRADLE_TEST_TASK`'s name.
const GRADLE_ABBREVIATIONS: readonly (readonly [RegExp, string])[] = [
  [/^t(?:e(?:st?)?)?$/i, 'test'],
  [/^c(?:h(?:e(?:ck?)?)?)?$/i, 'check'],
  [/^b(?:u(?:i(?:ld?)?)?)?$/i, 'build'],
  [/^t(?:e(?:st?)?)?(?:[A-Z\d][a-z\d]*)*U(?:n(?:it?)?)?T(?:e(?:st?)?)?$/, '*UnitTest'],
];
// What `readGradleWord` read: a redirection's operator (`>`, `2>`, `&>>`, `>&`, `<`, `<<<`), whose target, the
// next word, is no task (`./gradlew build -x check > test`); a word (its quoted parts with their blanks); an
// open quote alone, the line broken, which is no word; or nothing (a `\` at the end).
const GRADLE_REDIRECTION = 1;
const GRADLE_WORD = 2;
const GRADLE_OPEN_QUOTE = 3;
let gradleWordKind = 0;
/** Whether the last word `readGradleWord` read has no quote and no `\`: its text is as written. */
let gradleWordPlain = true;
// Each test task's name and each name Gradle may take for one (`GRADLE_ABBREVIATIONS`) starts so.
const GRADLE_TASK_INITIALS = 'tTcCbB';

/**
 * Whether the UTF-16 unit `c` is a blank as JavaScript's `\s` has it (ECMAScript's WhiteSpace and
 * LineTerminator: a no-break space splits Gradle's words as a space does).
 */
function isBlank(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** The length of the redirection's operator at `at` in `command[…, end)` (`>>`, `>|`, `<<-`, `<`), or 0. */
function redirectionLength(command: string, at: number, end: number): number {
  const c = command.charCodeAt(at);
  const next = at + 1 < end ? command.charCodeAt(at + 1) : 0;
  if (c === 62 /* > */) return next === 62 || next === 124 /* | */ || next === 38 /* & */ ? 2 : 1;
  if (c !== 60 /* < */) return 0;
  if (next === 38 || next === 62) return 2;
  if (next !== 60) return 1;
  const third = at + 2 < end ? command.charCodeAt(at + 2) : 0;
  return third === 60 || third === 45 /* - */ ? 3 : 2;
}

/**
 * Reads the word of a Gradle command that starts at `at` (not a blank) in `command[…, end)` as the shell
 * splits it: returns its end and sets `gradleWordKind` and `gradleWordPlain`. A redirection is its operator,
 * digits or `&` maybe first (`2>`, `&>>`). A word runs to a blank, a `<` or `>`, or a quote left open; a
 * quoted part, closed, is in it with its blanks (`'a b'`, `"a \" b"`), a `\` with the character after it.
 * Linear in the length read (to `end` for a quote left open), allocating nothing.
 */
function readGradleWord(command: string, at: number, end: number): number {
  let i = at;
  let c = command.charCodeAt(i);
  if (c === 38 /* & */) i++;
  else while (i < end && c >= 48 && c <= 57) c = command.charCodeAt(++i);
  const operator = i < end ? redirectionLength(command, i, end) : 0;
  if (operator > 0) {
    gradleWordKind = GRADLE_REDIRECTION;
    return i + operator;
  }
  let plain = true;
  i = at;
  while (i < end) {
    c = command.charCodeAt(i);
    if (c === 60 || c === 62 || isBlank(c)) break;
    if (c === 92 /* \ */) {
      if (i + 1 >= end) break;
      i += 2;
    } else if (c === 39 /* ' */ || c === 34 /* " */) {
      let close = i + 1;
      while (close < end && command.charCodeAt(close) !== c) {
        close += c === 34 && command.charCodeAt(close) === 92 ? 2 : 1;
      }
      if (close >= end) break;
      i = close + 1;
    } else {
      i++;
      continue;
    }
    plain = false;
  }
  gradleWordPlain = plain;
  if (i > at) {
    gradleWordKind = GRADLE_WORD;
    return i;
  }
  gradleWordKind = c === 39 || c === 34 ? GRADLE_OPEN_QUOTE : 0;
  return at + 1;
}

const NO_TASKS: ReadonlySet<string> = new Set();

/**
 * What the Gradle command `command[from, end)` (its name first when `named`, else before `from`: its words as
 * the shell splits them) runs of its test tasks, as Gradle reads its line: `'none'` for a dry run (`-m`, also
 * among other flags, `-qm`, `--m`; `--dry-run`), a line Gradle refuses (an option of its own without its
 * argument: `-p -m lint test`, `-qx test`, `test -x`), or when every test task named is left out with `-x`
 * (`--exclude-task`, `--x`) — a name without a project's path (`test`) is the task of every project, so `-x
 * test` leaves out all, a path (`:lib:test`, `lib:test`, the root's `:test`) only that project's, so `test -x
 * :lib:test` runs the other projects' tests if they have some (none in a build of one, or of the root and
 * `lib`): `'unknown'`; `'unknown'` too for a test task's name abbreviated, named or left out (`gradle che`,
 * `test -x t`: Gradle takes it for the one task whose name starts so, or refuses it when two do); `'none'`
 * when no test task is named (`--x test`: the default tasks run); else `'run'`. Its redirections and their
 * targets are not its words (`> test`). Linear in the words' length, each read once; it allocates for its
 * options, its test tasks and those it leaves out only (a word that names no test task is not copied).
 */
function gradleRun(command: string, from: number, end: number, named: boolean): 'run' | 'none' | 'unknown' {
  let excluded = NO_TASKS; // project path (`*`: every project) and task name
  let excludedOne = NO_TASKS; // the name of a task left out of one project (`:lib:test`, `:test`)
  let mayExclude = NO_TASKS; // as `excluded`, a test task's name maybe abbreviated (`-x t`)
  let abbreviated = false; // a test task's name maybe abbreviated is named (`gradle che`)
  let tasks: string[] | undefined;
  let options = true;
  let name = named; // the command's name is the next word
  let target = false; // a redirection was read: the next word is its target
  let taking: string | undefined; // an option whose argument is the next word
  for (let at = from; at < end; ) {
    if (isBlank(command.charCodeAt(at))) {
      at++;
      continue;
    }
    const start = at;
    at = readGradleWord(command, start, end);
    if (gradleWordKind === GRADLE_REDIRECTION) {
      target = true;
      continue;
    }
    if (gradleWordKind === 0) continue;
    if (target) {
      target = false;
      continue;
    }
    // (An open quote alone is no word; `''` is an empty one.)
    if (gradleWordKind === GRADLE_OPEN_QUOTE) continue;
    if (name) {
      name = false;
      continue;
    }
    // A task, or an option's argument (`-x lint`), that cannot be a test task is not copied; nor is it
    // looked up (an option, `-x`, or an argument that leaves the option without one, `-x -q`, is read).
    if (!mayNameTestTask(command, start, at)) {
      const first = gradleWordPlain ? command[start] : firstOfText(command, start, at);
      if (taking === undefined ? !options || first !== '-' : gradleWordPlain && first !== '-') {
        taking = undefined;
        continue;
      }
    }
    const word = gradleWordPlain ? command.slice(start, at) : gradleText(command, start, at);
    if (taking !== undefined) {
      const option = taking;
      taking = undefined;
      // `--` after it ends Gradle's options, the option left without its argument (`-x -- test`).
      if (word !== '--') {
        const own = !GRADLE_TASK_ARGUMENT.has(option);
        if (own && (word === '' || (word.length > 1 && word[0] === '-'))) return 'none';
        if (option === 'x' || option === 'exclude-task') exclude(word);
        continue;
      }
    }
    if (!options || word[0] !== '-' || word === '-') {
      const task = word.slice(word.lastIndexOf(':') + 1);
      if (GRADLE_TEST_TASK.test(task)) {
        tasks ??= [];
        tasks.push(word);
      } else if (abbreviates(task)) abbreviated = true;
      continue;
    }
    if (word === '--') {
      options = false;
      continue;
    }
    const dashes = word[1] === '-' ? 2 : 1;
    const equals = word.indexOf('=');
    const optionName = word.slice(dashes, equals < 0 ? undefined : equals);
    if (optionName === 'dry-run') return 'none';
    let option: string | undefined; // an option that takes an argument
    let value: string | undefined; // its argument in its word (`-xtest`, `-x=test`)
    if (
      GRADLE_LONG_ARGUMENT.has(optionName) ||
      GRADLE_TASK_ARGUMENT.has(optionName) ||
      (optionName.length === 1 && GRADLE_SHORT_ARGUMENT.includes(optionName))
    ) {
      option = optionName;
      if (equals >= 0) value = word.slice(equals + 1);
    } else if (optionName.length === 1 && dashes === 2) {
      if (optionName === 'm') return 'none';
    } else if (dashes === 1 && GRADLE_SHORT_ARGUMENT.includes(word[1]!)) {
      option = word[1];
      value = word.slice(2);
    } else if (dashes === 1) {
      // Flags put together (`-qm`): a letter that takes an argument after the first has none (`-qx test`).
      for (let k = 1; k < word.length && GRADLE_FLAG.test(word[k]!); k++) if (word[k] === 'm') return 'none';
      for (let k = 2; k < word.length && GRADLE_FLAG.test(word[k - 1]!); k++) {
        if (GRADLE_SHORT_ARGUMENT.includes(word[k]!)) return 'none';
      }
    }
    if (option === undefined) continue;
    if (value === undefined) {
      taking = option;
      continue;
    }
    if (value === '' && !GRADLE_TASK_ARGUMENT.has(option)) return 'none';
    if (option === 'x' || option === 'exclude-task') exclude(value);
  }
  // An option of Gradle's own at the end, without its argument.
  if (taking !== undefined && !GRADLE_TASK_ARGUMENT.has(taking)) return 'none';
  if (tasks === undefined) return abbreviated ? 'unknown' : 'none';
  // (None left out: the first runs.)
  if (excluded === NO_TASKS && mayExclude === NO_TASKS && excludedOne === NO_TASKS) return 'run';
  let result: 'none' | 'unknown' = abbreviated ? 'unknown' : 'none';
  for (const task of tasks) {
    const colon = task.lastIndexOf(':');
    const name = task.slice(colon + 1);
    const path = colon < 0 ? '*' : projectTask(task).slice(0, -name.length);
    let left = false;
    let maybe = false;
    for (const before of GRADLE_TEST_TASKS[name] ?? [name]) {
      const kind = before in GRADLE_TEST_TASKS ? before : '*UnitTest';
      left = left || excluded.has(`*${before}`) || excluded.has(path + before);
      maybe =
        maybe ||
        mayExclude.has(`*${kind}`) ||
        mayExclude.has(path + kind) ||
        (path === '*' && (excludedOne.has(before) || excludedOne.has(kind)));
    }
    if (!left && !maybe) return 'run';
    if (!left) result = 'unknown';
  }
  return result;

  function exclude(task: string): void {
    const colon = task.lastIndexOf(':');
    const name = task.slice(colon + 1);
    // Only a test task's name (or one Gradle may take for it) is looked up.
    if (name === '' || !GRADLE_TASK_INITIALS.includes(name[0]!)) return;
    const key = projectTask(task);
    const path = key.slice(0, -name.length || undefined);
    if (excluded === NO_TASKS) excluded = new Set();
    (excluded as Set<string>).add(key);
    if (colon >= 0) excludedOne = added(excludedOne, name);
    if (GRADLE_TEST_TASK.test(name)) return;
    for (const [abbreviation, kind] of GRADLE_ABBREVIATIONS) {
      if (!abbreviation.test(name)) continue;
      mayExclude = added(mayExclude, path + kind);
      if (colon >= 0) excludedOne = added(excludedOne, kind);
    }
  }
}

/** Whether Gradle may take the task's name `name` for a test task's abbreviated (`GRADLE_ABBREVIATIONS`). */
function abbreviates(name: string): boolean {
  for (const [abbreviation] of GRADLE_ABBREVIATIONS) if (abbreviation.test(name)) return true;
  return false;
}

/**
 * Whether the Gradle word `command[start, end)` may name a test task (or one abbreviated): its text after its
 * last `:` (its project's path), without quotes and `\`s, starts as one does (`GRADLE_TASK_INITIALS`).
 */
function mayNameTestTask(command: string, start: number, end: number): boolean {
  let at = end - 1;
  while (at >= start && command.charCodeAt(at) !== 58 /* : */) at--;
  for (at++; at < end; at++) {
    const c = command[at]!;
    if (c !== "'" && c !== '"' && c !== '\\') return GRADLE_TASK_INITIALS.includes(c);
  }
  return false;
}

/** The first character of the text of the Gradle word `command[start, end)`, without quotes and `\`s. */
function firstOfText(command: string, start: number, end: number): string | undefined {
  for (let at = start; at < end; at++) {
    const c = command[at]!;
    if (c !== "'" && c !== '"' && c !== '\\') return c;
  }
  return undefined;
}

/** The text of the Gradle word `command[start, end)`: without its quotes and `\`s (each one dropped). */
function gradleText(command: string, start: number, end: number): string {
  let text = '';
  let from = start;
  for (let at = start; at < end; at++) {
    const c = command[at];
    if (c !== "'" && c !== '"' && c !== '\\') continue;
    text += command.slice(from, at);
    from = at + 1;
  }
  return text + command.slice(from, end);
}

/** `set` with `item` added: a new set in place of `NO_TASKS`. */
function added(set: ReadonlySet<string>, item: string): ReadonlySet<string> {
  const to = set === NO_TASKS ? new Set<string>() : (set as Set<string>);
  to.add(item);
  return to;
}

/** A Gradle task's name with its project's path, from the root (`lib:test` is `:lib:test`), or `*` first. */
function projectTask(task: string): string {
  const colon = task.lastIndexOf(':');
  if (colon < 0) return `*${task}`;
  return task[0] === ':' ? task : `:${task}`;
}

const FILE_TOOLS_MODIFY = new Set(['Edit', 'MultiEdit', 'NotebookEdit']);
// The tools whose `tool_input.path`, without a `file_path`, is the file they write. Elsewhere a `path` is
// where a tool looks (Grep, Glob, LS, an MCP tool's folder): mostly a directory, never taken for a file.
const FILE_TOOLS_WRITE = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

/**
 * A tool event's `data`, started with the tool's fields in this order: `tool_name`, `tool_use_id`,
 * `file_path` (`tool_input.file_path` or `notebook_path`; for a file-writing tool, else `path`), `path`
 * (`tool_input.path` when it is not the file: the folder or file Grep, Glob, LS search), `command`,
 * `mcp_server` (the defined ones). `input` is the payload's `tool_input` record.
 */
function toolData(
  p: Record<string, unknown>,
  input: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  const toolName = p.tool_name;
  if (typeof toolName === 'string') data.tool_name = toolName;
  const toolUseId = p.tool_use_id;
  if (typeof toolUseId === 'string') data.tool_use_id = toolUseId;
  if (input !== undefined) {
    const filePath = str(input.file_path) ?? str(input.notebook_path);
    const path = str(input.path);
    if (filePath !== undefined) data.file_path = filePath;
    else if (path !== undefined && typeof toolName === 'string' && FILE_TOOLS_WRITE.has(toolName)) {
      data.file_path = path;
    }
    if (path !== undefined && data.file_path !== path) data.path = path;
  }
  const command = input === undefined ? undefined : input.command;
  if (typeof command === 'string') data.command = command;
  const server = p.mcp_server;
  if (isRecord(server)) {
    const name = server.name;
    if (typeof name === 'string') data.mcp_server = name;
  }
  return data;
}

/**
 * `text` cut to 4,000 UTF-16 units, followed by `…` when it was cut, on a code point boundary: a cut
 * that would split a surrogate pair (an emoji) is made before it, leaving no lone half of it.
 */
function cutText(text: string): string {
  return text.length <= 4_000 ? text : `${cutAt(text, 4_000)}…`;
}

function durationOf(payload: Record<string, unknown>): number | undefined {
  const response = rec(payload.tool_response);
  return num(payload.duration_ms) ?? num(response?.durationMs) ?? num(response?.totalDurationMs);
}

/**
 * Where the `commit` of the first `git [options] commit` of `command` from `from` on ends, or -1 if it
 * runs none: of the `git` commands `gits` (`gitCommands`), each read up to the end of its command. Linear
 * in the command's length: a regular expression
 * with a repeated group of options backtracked through every way of splitting them (`--a` read as `-`
 * and `-a` or as `--` and `a`, a `-c` alone or with its argument), exponentially: a Bash command of a
 * few dozen options after `git` blocked the bridge for minutes. Each `git` is read from once: one that
 * starts inside the options already read from an earlier `git` cannot lead to a `commit` either.
 */
function gitCommitEnd(command: string, gits: readonly number[], from = 0): number {
  let readUpTo = from;
  for (let i = 0; i < gits.length; i += 2) {
    const git = gits[i]!;
    const end = gits[i + 1]!;
    if (git < readUpTo) continue;
    BLANKS.lastIndex = git;
    if (!BLANKS.test(command)) continue;
    let at = BLANKS.lastIndex;
    while (at < end) {
      COMMIT.lastIndex = at;
      if (COMMIT.test(command)) {
        if (COMMIT.lastIndex <= end) return COMMIT.lastIndex;
        break;
      }
      GIT_OPTION.lastIndex = at;
      if (!GIT_OPTION.test(command)) break;
      at = GIT_OPTION.lastIndex;
    }
    readUpTo = at;
  }
  return -1;
}

const NO_GITS: readonly number[] = [];
const MAY_RUN_GIT = /\bgit['"]?\s/;
const BLANKS = /\s+/y;

/** @internal Exported for tests. Whether the Bash line `command`, read in full, has a test command. */
export function readsTestRun(command: string): boolean {
  return testVerdict(command, 0, false).any;
}

/** A Bash line as `readBashLine` reads it. */
interface BashLine {
  /** `testVerdict` of the line, or `undefined` when it has no test command. */
  verdict: Verdict | undefined;
  /**
   * Where the arguments of each `git` command go on (after the word `git`) and where its command ends
   * (two numbers each), in order: each `git` in a command's place, as test commands are found (after
   * `&&`, `sudo`, `cd repo &&`, in a group; not in quotes, an argument, a comment or a here-document:
   * `echo "git commit"`, `git log --grep "git commit"`), and any `git` in a `bash -c` script.
   */
  gits: readonly number[];
}

const NOTHING_RUN: BashLine = { verdict: undefined, gits: NO_GITS };

/**
 * The Bash line `command` read once, word by word, for its test commands and its `git` commands — only
 * when it may have some: most lines have no word of a test command (`mayRunTests`), nor `git` and
 * `commit`. One `test.run` per Bash call with a test command (`any`), judged on all of them: its success
 * says `passed` when every test command in it ran and passed (`npm test && npm run test:e2e`), its
 * failure when one of them ran and failed (`pytest a; pytest b`: b's).
 */
function readBashLine(command: string): BashLine {
  const mayTest = mayRunTests(command);
  const mayCommit = command.includes('commit') && MAY_RUN_GIT.test(command);
  if (!mayTest && !mayCommit) return NOTHING_RUN;
  const gits = mayCommit ? [] : undefined;
  const verdict = testVerdict(command, 0, false, false, gits);
  return { verdict: mayTest && verdict.any ? verdict : undefined, gits: gits ?? NO_GITS };
}

/**
 * Where the line `command` goes on after the `cd DIR &&` or `pushd DIR &&` it starts with at `from`
 * (blanks first), or -1 if it does not start with one. A cd with a redirection (`cd app 2>/dev/null`),
 * which could hide the shell's error, is none.
 */
function afterLeadingCd(command: string, from: number): number {
  const n = command.length;
  let at = from;
  while (
    at < n &&
    (command[at] === ' ' || command[at] === '\t' || command[at] === '\r' || command[at] === '\n')
  ) {
    at++;
  }
  if (at >= n) return -1;
  const nameEnd = readWord(command, at);
  const length = nameEnd - at;
  const cd = length === 2 && command.startsWith('cd', at);
  if (!wordPlain || !(cd || (length === 5 && command.startsWith('pushd', at)))) return -1;
  const end = readCommand(command, nameEnd);
  if (command[end] !== '&' || command[end + 1] !== '&') return -1;
  for (let k = nameEnd; k < end; k++) if (command[k] === '>' || command[k] === '<') return -1;
  return end + 2;
}

/** Where the line `command` goes on after the `cd DIR &&`s (`pushd`) it starts with, or -1 if none. */
function afterLeadingCds(command: string): number {
  let rest = afterLeadingCd(command, 0);
  if (rest < 0) return -1;
  for (let next = afterLeadingCd(command, rest); next >= 0; next = afterLeadingCd(command, rest)) rest = next;
  return rest;
}

// The shell's own error of a failed `cd` or `pushd`, in any shell's words: `bash: line 1: cd: app: No such
// file or directory`, `bash: cd: too many arguments`, `zsh:cd:1: no such file or directory: app`,
// `sh: 1: cd: can't cd to app`; or zoxide's (`zoxide: no match found`), whose `cd` (`zoxide init --cmd
// cd`, `alias cd=z`) Claude Code's snapshot of the user's shell carries.
const SHELL_CD_ERROR = /(?:^|[\s:])(?:cd|pushd):|^zoxide:/m;
/**
 * The shell's "command not found" (127): the test runner (`sh: 1: vitest: not found`), or a `cd` aliased
 * to a function the shell lacks (`z`); and its "permission denied" (126: found, not executable,
 * `sh: 1: vitest: Permission denied`). Either way the command did not run.
 */
function notRun(exitCode: number | undefined): boolean {
  return exitCode === 127 || exitCode === 126;
}
const NOT_BLANK = /\S/;

/**
 * Whether the failure of the Bash line `command`, whose output (Claude Code's `error` after its
 * `Exit code N` line) is `output`, shows that a test command ran and failed, though the line starts with
 * `cd DIR &&` (`pushd`; one or more): when the output is not blank and carries no `cd` (`pushd`) error of
 * the shell or of zoxide, the cds succeeded and the line's status is that of the rest of it
 * (`testVerdict`). Otherwise the tests did not run (or a cd in them failed): unknown. (Exit codes 126 and
 * 127 are unknown before this is asked: `postToolUseFailure`.)
 */
function failedAfterCd(command: string, output: string): boolean {
  const rest = afterLeadingCds(command);
  if (rest < 0) return false;
  if (!NOT_BLANK.test(output) || SHELL_CD_ERROR.test(output)) return false;
  return testVerdict(command.slice(rest), 0, false).failed;
}

const preToolUse: Mapper = (p, ctx) => {
  requireString(p, 'tool_name');
  const data = toolData(p, rec(p.tool_input));
  const toolInput = p.tool_input;
  if (toolInput !== undefined) data.tool_input = toolInput;
  return [make(ctx, 'tool.requested', data, Priority.NORMAL)];
};

/**
 * The `test.run` data of a test command Claude Code reports as a success (a PostToolUse), from its
 * Bash response: it exited 0 (`exit_code: 0`); an `interrupted` run did not finish (`passed: false`).
 * When the line's success does not show the tests passed (`testVerdict`) — a pipe after them
 * (`npm test | tail`, without `set -o pipefail`), a later command after `;`, `||` or a newline,
 * `npm run lint || npm test` (the tests may not have run) — whether they passed is unknown:
 * `outcome: 'unknown'` and no `passed` — unless the runner's summary in its output shows it
 * (`readTestSummary`: `passed`, `from_summary`). A command sent to the background (`backgroundTaskId`,
 * or `run_in_background`) has only started: no `test.run` (its `tool.used` stays).
 *
 * A `returnCodeInterpretation` says the line exited with a code Claude Code reads as no error from the
 * line's last command (grep's or rg's 1 is "No matches found"; diff, find, test and `[` have theirs): the
 * line failed as the shell runs it, with a code it does not give. It is read as that failure
 * (`return_code_interpretation`, no `exit_code`): `passed: false` when it shows a test failed
 * (`npm test || grep -c FAIL log`), else what the runner's summary shows, or unknown — never a pass: the
 * 1 of `npm test && grep -q ok log`, or of `set -o pipefail; npm test | grep Tests`, may be the tests'.
 */
function testRunOf(
  command: string,
  verdict: Verdict,
  response: Record<string, unknown> | undefined,
  input: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (response !== undefined && typeof response.backgroundTaskId === 'string') return undefined;
  if (input !== undefined && input.run_in_background === true) return undefined;
  if (response !== undefined && response.interrupted === true) {
    return { command, passed: false, interrupted: true };
  }
  const interpretation = response === undefined ? undefined : str(response.returnCodeInterpretation);
  if (interpretation !== undefined) {
    // A failure of the line (its code is not given): what a PostToolUseFailure of it would show.
    const run = verdict.failed
      ? { command, passed: false }
      : summaryRun(command, readTestSummary(bashOutputs(command, response!)));
    return { ...run, return_code_interpretation: interpretation };
  }
  if (!verdict.passed) {
    // What the runner's summary shows, if the output has one (`npm test 2>&1 | tail -20`).
    if (response === undefined) return { command, outcome: 'unknown' };
    return summaryRun(command, readTestSummary(bashOutputs(command, response)));
  }
  return { command, passed: true, exit_code: 0 };
}

/**
 * The `test.run` data of a test command whose line's status does not show its outcome: what `reading`, the
 * runner's summary in the output, shows (`passed`, `from_summary`: the runner), or `outcome: 'unknown'`.
 */
function summaryRun(command: string, reading: SummaryReading | undefined): Record<string, unknown> {
  if (reading === undefined) return { command, outcome: 'unknown' };
  return { command, passed: reading.passed, from_summary: reading.runner };
}

// A line that is one test command piped to `tail` (after `cd DIR &&`s): `npm test 2>&1 | tail -20`. Its
// output is the end of the tests' output, so a summary at its end is the run's last word (`| head` or
// `| grep` could cut off what followed it). Assignments first, then a command (maybe after a package
// runner) without an operator, a redirection but `2>&1`, or a substitution, then tail with its count
// options only.
const ASSIGNMENTS = /(?:[A-Za-z_]\w*=[^\s;&|<>()`$'"\\]*\s+)*/y;
// A package runner before the test command (`npx playwright test`, `bundle exec rspec`, `uv run pytest`),
// without options of its own: it prints nothing after the command's output.
const PACKAGE_RUNNER =
  /(?:npx|bunx|yarn|pnpm\s+(?:exec|dlx)|bundle\s+exec|(?:uv|poetry|pipenv|pdm)\s+run)\s+/y;
// The folders of a command's path (`./mvnw`, `./node_modules/.bin/vitest`), unquoted.
const FOLDERS = /(?:[^\s/;&|<>()`$'"\\]*\/)*/y;
const PIPED_TO_TAIL =
  /(?:[^;&|<>()`$'"\\\n]|'[^'\n]*'|"[^"`$\\\n]*")+?(?:2>&1\s*)?\|\s*tail((?:\s+(?:-[nc]\s*\+?\d+|-\d+|--(?:lines|bytes)(?:=|\s+)\+?\d+|-q))*)\s*$/y;
/**
 * go test with `-bench` prints `ok` for a package whose benchmarks matched none, without the `[no tests
 * to run]` of one whose tests `-run` left out (`go test -run '^$' -bench Nothing ./...`): no pass is read
 * from it.
 */
const GO_BENCH = /^go\s+test\b.*\s-{1,2}bench(?:=|\s)/;
const TAIL_COUNT = /(?:^|\s)(?:-n\s*|--lines(?:=|\s+)|-)(\+?)(\d+)/;
/**
 * Claude Code reports an output without the blank lines that end it (and maybe those that start it):
 * `tail -20` that kept 20 lines may show a few fewer.
 */
const TRIMMED_LINES = 4;

/**
 * How many lines the `tail` of the Bash line `command` keeps, when the line is one test command piped
 * to tail (see `PIPED_TO_TAIL`): its count (10 by default), `Infinity` for `-n +1`, 0 when it may cut
 * the top whatever the count (`-n +5`, or a count of bytes, `-c`); else `undefined`.
 */
function tailKeeps(command: string): number | undefined {
  let rest = Math.max(afterLeadingCds(command), 0);
  BLANKS.lastIndex = rest;
  if (BLANKS.test(command)) rest = BLANKS.lastIndex;
  ASSIGNMENTS.lastIndex = rest;
  ASSIGNMENTS.test(command);
  const start = ASSIGNMENTS.lastIndex;
  let at = afterFolders(command, start);
  TEST_AT.lastIndex = at;
  if (!TEST_AT.test(command)) {
    PACKAGE_RUNNER.lastIndex = start;
    if (!PACKAGE_RUNNER.test(command)) return undefined;
    at = afterFolders(command, PACKAGE_RUNNER.lastIndex);
    TEST_AT.lastIndex = at;
    if (!TEST_AT.test(command)) return undefined;
  }
  PIPED_TO_TAIL.lastIndex = start;
  const tail = PIPED_TO_TAIL.exec(command);
  if (tail === null || GO_BENCH.test(command.slice(at, PIPED_TO_TAIL.lastIndex))) return undefined;
  const options = tail[1]!;
  if (/-c|--bytes/.test(options)) return 0;
  const count = TAIL_COUNT.exec(options);
  if (count === null) return 10;
  const n = Number(count[2]);
  if (count[1] === '+') return n <= 1 ? Number.POSITIVE_INFINITY : 0;
  return n;
}

/** Where the name of the command at `at` starts, after its folders. */
function afterFolders(command: string, at: number): number {
  FOLDERS.lastIndex = at;
  FOLDERS.test(command);
  return FOLDERS.lastIndex;
}

/** Whether `text` has fewer than `limit` lines (a last one without a newline counts). */
function fewerLines(text: string, limit: number): boolean {
  let lines = text.length > 0 && !text.endsWith('\n') ? 1 : 0;
  for (let at = text.indexOf('\n'); at >= 0 && lines < limit; at = text.indexOf('\n', at + 1)) lines++;
  return lines < limit;
}

/**
 * The streams of a Bash `command` that succeeded, for `readTestSummary`: stdout, whole when it is one
 * test command piped to a `tail` that kept fewer lines than it may (so nothing was cut off above:
 * `tailKeeps`, less the blank lines Claude Code may have trimmed), and stderr, whole then too (the pipe
 * does not take it; with `2>&1` it is empty).
 */
function bashOutputs(command: string, response: Record<string, unknown>): TestOutput[] {
  const stdout = str(response.stdout);
  const keeps = tailKeeps(command);
  return [
    {
      text: stdout,
      // Counted only up to what `readTestSummary` would read a pass from (`LAST_LINES`).
      whole: keeps !== undefined && fewerLines(stdout ?? '', Math.min(keeps - TRIMMED_LINES, LAST_LINES + 1)),
    },
    { text: str(response.stderr), whole: keeps !== undefined },
  ];
}

/**
 * The `git.commit` data of the Bash line `command`, whose `git` commands are `gits` (`readBashLine`) and
 * whose output is `output`, or `undefined` when it runs
 * no `git commit` that commits (or, `printed`, when the output has no commit summary, `[main abc1234] …`:
 * the line failed, and only the summary shows its commit was made).
 */
function commitData(
  command: string,
  gits: readonly number[],
  output: string,
  printed: boolean,
): Record<string, unknown> | undefined {
  let commitEnd = gitCommitEnd(command, gits);
  let commitArguments = commitEnd < 0 ? undefined : readCommitArguments(command, commitEnd);
  // A commit that only shows what it would do (`git commit --dry-run && git commit -m …`): the line's
  // next git commit, read from the end of its command on, is the one that commits, if any.
  while (commitArguments?.showsOnly) {
    commitEnd = gitCommitEnd(command, gits, commitArguments.end);
    commitArguments = commitEnd < 0 ? undefined : readCommitArguments(command, commitEnd);
  }
  if (commitArguments === undefined) return undefined;
  const summary = COMMIT_SUMMARY.exec(output);
  if (printed && summary === null) return undefined;
  COMMIT_MESSAGE.lastIndex = commitEnd;
  let message = COMMIT_MESSAGE.exec(command);
  // The -m of a later command of the line (`git commit -F f && git tag -m v1`) is not the commit's.
  if (message !== null && message.index >= commitArguments.end) message = null;
  const data: Record<string, unknown> = { command };
  const text = commitMessage(command, message, summary);
  if (text !== undefined) data.message = text;
  if (summary) {
    // A match's groups 1 and 2 always matched: both are strings.
    data.branch = summary[1];
    data.commit = summary[2];
  }
  return data;
}

/**
 * `readBashLine` of a Bash line, but nothing run for one cut in a payload over the size limit (see cut.ts):
 * the middle cut out may open or close a quote, so what its end reads as a command may be text
 * (`echo '…' && echo "… ' && git commit -m x && '"` read a commit once cut), and the line's status may be
 * that of a command cut out. Its `tool.used` still carries it.
 */
function readCut(command: string, ctx: MapContext): BashLine {
  return ctx.sizes?.has(command) === true ? NOTHING_RUN : readBashLine(command);
}

const postToolUse: Mapper = (p, ctx) => {
  const toolName = requireString(p, 'tool_name');
  const input = rec(p.tool_input);
  const used = toolData(p, input);
  const filePath = used.file_path as string | undefined;
  const command = used.command as string | undefined;
  const response = p.tool_response;
  const duration = durationOf(p);
  if (duration !== undefined) used.duration_ms = duration;
  used.success = true;
  const events = [make(ctx, 'tool.used', used, Priority.NORMAL)];
  if (toolName === 'Write' && filePath !== undefined) {
    const content = str(input?.content);
    const created = rec(response)?.type === 'create';
    const data: Record<string, unknown> = { file_path: filePath, tool_name: toolName };
    if (content !== undefined) data.size = ctx.sizes?.get(content) ?? Buffer.byteLength(content);
    events.push(make(ctx, created ? 'file.created' : 'file.modified', data, Priority.NORMAL));
  } else if (FILE_TOOLS_MODIFY.has(toolName) && filePath !== undefined) {
    const data: Record<string, unknown> = { file_path: filePath, tool_name: toolName };
    const edits = input?.edits;
    if (Array.isArray(edits)) data.edits = edits.length;
    events.push(make(ctx, 'file.modified', data, Priority.NORMAL));
  } else if (toolName === 'Bash' && command !== undefined) {
    const stdout = str(rec(response)?.stdout) ?? str(response) ?? '';
    const { verdict, gits } = readCut(command, ctx);
    // A line that went on after its commit failed (`git commit -m … || true`, `git commit …; git push`):
    // git's message that it made none, and no commit's summary, is no commit.
    const stderr = str(rec(response)?.stderr) ?? '';
    const none =
      gits.length > 0 &&
      (NOT_COMMITTED.test(stdout) || NOT_COMMITTED.test(stderr)) &&
      !COMMIT_SUMMARY.test(stdout);
    const commit = none ? undefined : commitData(command, gits, stdout, false);
    if (commit !== undefined) events.push(make(ctx, 'git.commit', commit, Priority.NORMAL));
    if (verdict !== undefined) {
      const run = testRunOf(command, verdict, rec(response), input);
      if (run !== undefined) events.push(make(ctx, 'test.run', run, Priority.NORMAL));
    }
  }
  return events;
};

/**
 * A failed tool call: `tool.failed`; for a Bash line that committed before it failed (its output has the
 * commit's summary, `[main abc1234] …`), a `git.commit`; and for a Bash test command a `test.run` —
 * `passed: false` when the line's failure shows the tests failed (`testVerdict`: `npm test`,
 * `npm run lint || npm test`), or the line starts with `cd DIR &&` (`pushd`) and its output, not blank, has
 * no `cd` error of the shell (nor zoxide's), the rest of it showing the tests failed (`failedAfterCd`:
 * `cd app && npm test`), and the exit code is not 127 (command not found: the test runner missing,
 * `sh: 1: vitest: not found`, or a `cd` aliased to a missing function) nor 126 (not executable:
 * `sh: 1: vitest: Permission denied`), or it was interrupted; else what the runner's summary in the output
 * shows (`readTestSummary`: a failure only, `passed: false` and `from_summary`), or `outcome: 'unknown'` and
 * no `passed` (`npm test && npm run build`: the build's?; `cd app && npm test` after
 * `bash: line 1: cd: app: No such file or directory` or `zoxide: no match found`; exit code 127 or 126: the
 * tests did not run).
 */
const postToolUseFailure: Mapper = (p, ctx) => {
  requireString(p, 'tool_name');
  const data = toolData(p, rec(p.tool_input));
  const rawError = p.error;
  const error = str(rawError) ?? (rawError === undefined ? undefined : previewJson(rawError, 2_000).text);
  const exit = error === undefined ? null : EXIT_CODE.exec(error);
  const exitCode = exit ? Number(exit[1]) : undefined;
  const interrupted = p.is_interrupt === true;
  if (error !== undefined) data.error = cutText(error);
  if (exitCode !== undefined) data.exit_code = exitCode;
  if (interrupted) data.is_interrupt = true;
  const duration = num(p.duration_ms);
  if (duration !== undefined) data.duration_ms = duration;
  data.success = false;
  const events = [make(ctx, 'tool.failed', data, Priority.HIGH)];
  const command = data.command as string | undefined;
  const { verdict, gits } =
    data.tool_name === 'Bash' && command !== undefined ? readCut(command, ctx) : NOTHING_RUN;
  // A line that committed and then failed (`git commit -m … && npm test`): its output shows the commit.
  const commit =
    error === undefined || gits.length === 0 ? undefined : commitData(command!, gits, error, true);
  if (commit !== undefined) events.push(make(ctx, 'git.commit', commit, Priority.NORMAL));
  if (verdict !== undefined) {
    let run: Record<string, unknown>;
    if (
      interrupted ||
      (!notRun(exitCode) &&
        (verdict.failed || (exit !== null && failedAfterCd(command!, error!.slice(exit[0].length)))))
    ) {
      run = { command, passed: false };
      if (exitCode !== undefined) run.exit_code = exitCode;
      if (interrupted) run.interrupted = true;
    } else {
      // A failure whose status does not show the tests': what the runner's summary shows, if any.
      const output = exit === null ? error : error!.slice(exit[0].length);
      run = summaryRun(command!, readTestSummary([{ text: output, whole: false }]));
    }
    events.push(make(ctx, 'test.run', run, Priority.NORMAL));
  }
  return events;
};

const postToolBatch: Mapper = (p, ctx) => {
  const calls = Array.isArray(p.tool_calls) ? p.tool_calls : [];
  const tools = calls.map((call) => str(rec(call)?.tool_name) ?? 'unknown');
  return [make(ctx, 'tool.batch', { tool_count: calls.length, tools }, Priority.NORMAL)];
};

const permission =
  (type: string): Mapper =>
  (p, ctx) => {
    requireString(p, 'tool_name');
    const data = toolData(p, rec(p.tool_input));
    const reason = p.reason;
    if (typeof reason === 'string') data.reason = reason;
    return [make(ctx, type, data, Priority.HIGH)];
  };

/** A hook whose event's `data` is the payload's `fields` (the defined ones), as they are. */
const simple = (type: string, fields: readonly string[], priority: Priority = Priority.NORMAL): Mapper => {
  const count = fields.length;
  return (p, ctx) => {
    const data: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
      const field = fields[i]!;
      const value = p[field];
      if (value !== undefined) data[field] = value;
    }
    return [make(ctx, type, data, priority)];
  };
};

const userPromptSubmit: Mapper = (p, ctx) => {
  const prompt = str(p.prompt);
  const data: Record<string, unknown> = {};
  if (prompt !== undefined) {
    data.prompt = cutText(prompt);
    // A prompt cut in a payload over the size limit: the whole prompt's length, as its mark gives it.
    data.prompt_length = (ctx.sizes?.has(prompt) === true ? cutLength(prompt) : undefined) ?? prompt.length;
  }
  const source = p.source;
  if (typeof source === 'string') data.source = source;
  const title = p.session_title;
  if (typeof title === 'string') data.session_title = title;
  return [make(ctx, 'prompt.submitted', data, Priority.NORMAL)];
};

// The notifications that wait for the user: a permission, an input, an MCP server's elicitation (a form, or
// a URL to open), as the Elicitation hook of either mode is HIGH.
const URGENT_NOTIFICATIONS = new Set([
  'permission_prompt',
  'agent_needs_input',
  'elicitation_dialog',
  'elicitation_url_dialog',
]);
// A notification without `notification_type` (Claude Code before 2.0.37) is read from its message, as
// Claude Code wrote the ones that wait for the user: "Claude needs your permission to use Bash" (a
// `permission_prompt`), "Claude Code needs your approval for the plan". ("Claude is waiting for your
// input" is an `idle_prompt`: NORMAL, as typed.)
const URGENT_NOTIFICATION_MESSAGE = /^Claude (?:Code )?needs your (?:permission|approval)\b/;
const notification: Mapper = (p, ctx) => {
  const data: Record<string, unknown> = {};
  const message = p.message;
  if (typeof message === 'string') data.message = message;
  const title = p.title;
  if (typeof title === 'string') data.title = title;
  const kind = str(p.notification_type);
  if (kind !== undefined) data.notification_type = kind;
  const urgent =
    kind !== undefined
      ? URGENT_NOTIFICATIONS.has(kind)
      : typeof message === 'string' && URGENT_NOTIFICATION_MESSAGE.test(message);
  return [make(ctx, 'notification', data, urgent ? Priority.HIGH : Priority.NORMAL)];
};

/** `agent`, `agent_id`, `agent_type`: the start of an `agent.*` event's `data`. */
function agentData(p: Record<string, unknown>): Record<string, unknown> {
  const agentType = str(p.agent_type);
  const agentId = str(p.agent_id);
  const data: Record<string, unknown> = {
    agent: agentType !== undefined && agentType !== '' ? agentType : (agentId ?? 'subagent'),
  };
  if (agentId !== undefined) data.agent_id = agentId;
  if (agentType !== undefined) data.agent_type = agentType;
  return data;
}

const subagentStop: Mapper = (p, ctx) => {
  const data = agentData(p);
  const transcript = p.agent_transcript_path;
  if (typeof transcript === 'string') data.agent_transcript_path = transcript;
  const active = p.stop_hook_active;
  if (active !== undefined) data.stop_hook_active = active;
  const last = p.last_assistant_message;
  if (typeof last === 'string') data.last_assistant_message = last;
  return [make(ctx, 'agent.completed', data, Priority.NORMAL)];
};

const subagentStart: Mapper = (p, ctx) => [make(ctx, 'agent.started', agentData(p), Priority.NORMAL)];

// Maps, not object literals: an action named `constructor` or `__proto__` must not find Object.prototype's.
const FILE_CHANGED_ACTIONS = new Map<string, string>([
  ['add', 'created'],
  ['change', 'modified'],
  ['unlink', 'deleted'],
]);
const fileChanged: Mapper = (p, ctx) => {
  const path = requireString(p, 'file_path');
  const action = FILE_CHANGED_ACTIONS.get(str(p.event) ?? 'change') ?? 'modified';
  return [make(ctx, `file.${action}`, { file_path: path, source: 'FileChanged' }, Priority.NORMAL)];
};

// The documented fields of these events, all of them: `elicitation_id` pairs an elicitation with its result.
const TASK_FIELDS = ['task_id', 'task_subject', 'teammate_name', 'task_description', 'team_name'];
const MODEL_SWITCH_FIELDS = [
  'from_model',
  'to_model',
  'source',
  'requested_model',
  'context_tokens',
  'prompt_cache_warm',
  'cache_ttl',
  'estimated_cache_write_usd',
  'pricing',
];

/** Claude Code hook events, keyed by `hook_event_name`. */
const CLAUDE_HOOKS: Record<string, Mapper> = {
  PreToolUse: preToolUse,
  PostToolUse: postToolUse,
  PostToolUseFailure: postToolUseFailure,
  PostToolBatch: postToolBatch,
  PermissionRequest: permission('permission.requested'),
  PermissionDenied: permission('permission.denied'),
  UserPromptSubmit: userPromptSubmit,
  UserPromptExpansion: simple('prompt.expanded', ['expansion_type', 'command_name', 'command_source']),
  Notification: notification,
  Stop: simple('session.stopped', ['stop_hook_active', 'last_assistant_message']),
  StopFailure: simple('session.stop_failed', ['error', 'error_details'], Priority.HIGH),
  SubagentStart: subagentStart,
  SubagentStop: subagentStop,
  PreCompact: simple('context.compacting', ['trigger', 'custom_instructions']),
  PostCompact: simple('context.compacted', ['trigger']),
  SessionStart: simple('session.started', ['source', 'model', 'agent_type', 'session_title']),
  SessionEnd: simple('session.ended', ['reason']),
  Setup: simple('session.setup', ['trigger']),
  InstructionsLoaded: simple('instructions.loaded', [
    'file_path',
    'memory_type',
    'load_reason',
    'globs',
    'trigger_file_path',
    'parent_file_path',
  ]),
  MessageDisplay: simple(
    'message.displayed',
    ['turn_id', 'message_id', 'index', 'final', 'delta'],
    Priority.LOW,
  ),
  TaskCreated: simple('task.created', TASK_FIELDS),
  TaskCompleted: simple('task.completed', TASK_FIELDS),
  TeammateIdle: simple('teammate.idle', ['teammate_name', 'team_name']),
  ConfigChange: simple('config.changed', ['source', 'file_path']),
  CwdChanged: simple('cwd.changed', ['old_cwd', 'new_cwd']),
  DirectoryAdded: simple('directory.added', ['directory', 'source']),
  FileChanged: fileChanged,
  WorktreeCreate: simple('worktree.created', ['name']),
  WorktreeRemove: simple('worktree.removed', ['worktree_path']),
  Elicitation: simple(
    'elicitation.requested',
    ['mcp_server_name', 'message', 'mode', 'url', 'elicitation_id', 'requested_schema'],
    Priority.HIGH,
  ),
  ElicitationResult: simple('elicitation.resolved', [
    'mcp_server_name',
    'action',
    'mode',
    'elicitation_id',
    'content',
  ]),
  PreModelSwitch: simple('model.switching', MODEL_SWITCH_FIELDS),
  PostModelSwitch: simple('model.switched', MODEL_SWITCH_FIELDS),
};

/** The `context` of a Claude Code payload's events (one object, shared by the events of the payload). */
function claudeContext(hook: string, p: Record<string, unknown>): Record<string, unknown> {
  const context: Record<string, unknown> = { hook };
  const cwd = p.cwd;
  if (typeof cwd === 'string') context.cwd = cwd;
  const transcript = p.transcript_path;
  if (typeof transcript === 'string') context.transcript_path = transcript;
  const mode = p.permission_mode;
  if (typeof mode === 'string') context.permission_mode = mode;
  const agentId = p.agent_id;
  if (typeof agentId === 'string') context.agent_id = agentId;
  const agentType = p.agent_type;
  if (typeof agentType === 'string') context.agent_type = agentType;
  const toolUseId = p.tool_use_id;
  if (typeof toolUseId === 'string') context.tool_use_id = toolUseId;
  return context;
}

function claude(eventName: string, mapper: Mapper): Mapper {
  return (p, ctx) => {
    ctx.sessionId = requireString(p, 'session_id');
    ctx.context = claudeContext(eventName, p);
    return mapper(p, ctx);
  };
}

// ---------------------------------------------------------------------------------------------------
// The seed's own hooks.

const FILE_ACTIONS = new Map<string, string>([
  ['create', 'created'],
  ['created', 'created'],
  ['add', 'created'],
  ['added', 'created'],
  ['modify', 'modified'],
  ['modified', 'modified'],
  ['change', 'modified'],
  ['changed', 'modified'],
  ['update', 'modified'],
  ['updated', 'modified'],
  ['delete', 'deleted'],
  ['deleted', 'deleted'],
  ['unlink', 'deleted'],
  ['remove', 'deleted'],
  ['removed', 'deleted'],
  ['rename', 'renamed'],
  ['renamed', 'renamed'],
]);

const fileWatcher: Mapper = (p, ctx) => {
  if (!Array.isArray(p.changes)) throw new RejectError('missing required field "changes" (an array)');
  const events: Event[] = [];
  p.changes.forEach((change, index) => {
    const c = rec(change);
    const path = str(c?.path) ?? str(c?.file_path);
    const action = str(c?.action);
    if (!c || path === undefined || path === '' || action === undefined) {
      events.push(rejected(ctx, `changes[${index}] needs a "path" and an "action"`, change, ctx.limits));
      return;
    }
    const normalized =
      FILE_ACTIONS.get(action.toLowerCase()) ?? action.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const data: Record<string, unknown> = { file_path: path, file_type: str(c.type) ?? extensionOf(path) };
    const size = num(c.size);
    if (size !== undefined) data.size = size;
    const previous = str(c.from) ?? str(c.old_path);
    if (previous !== undefined) data.previous_path = previous;
    data.source = 'file-watcher';
    events.push(make(ctx, `file.${normalized}`, data, Priority.NORMAL));
  });
  return events;
};

function extensionOf(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : 'unknown';
}

const preCommit: Mapper = (p, ctx) => {
  const files = Array.isArray(p.files) ? p.files : Array.isArray(p.staged_files) ? p.staged_files : undefined;
  const checks = Array.isArray(p.checks) ? p.checks : undefined;
  const exitCode = num(p.exit_code);
  const passed =
    typeof p.passed === 'boolean'
      ? p.passed
      : exitCode !== undefined
        ? exitCode === 0
        : checks !== undefined
          ? checks.every((check) => rec(check)?.passed !== false)
          : true;
  const data: Record<string, unknown> = {};
  if (files !== undefined) data.files = files;
  if (checks !== undefined) data.checks = checks;
  data.passed = passed;
  if (exitCode !== undefined) data.exit_code = exitCode;
  const message = str(p.message);
  if (message !== undefined) data.message = message;
  return [make(ctx, 'git.pre_commit', data, passed ? Priority.NORMAL : Priority.HIGH)];
};

function withSession(mapper: Mapper): Mapper {
  return (p, ctx) => {
    ctx.sessionId = str(p.session_id) || undefined;
    ctx.context = { hook: ctx.hook };
    return mapper(p, ctx);
  };
}

const SEED_HOOKS: Record<string, Mapper> = {
  filewatcher: withSession(fileWatcher),
  precommit: withSession(preCommit),
};

/**
 * Lower-cased, punctuation-free hook names: `post-tool-use`, `PostToolUse`, `sub-agent-stop` all match. A
 * name is looked up as it shows (`mapperFor`).
 */
const BY_NORMALIZED_NAME = new Map<string, Mapper>();
for (const [name, mapper] of Object.entries(CLAUDE_HOOKS)) {
  BY_NORMALIZED_NAME.set(normalizeName(name), claude(name, mapper));
}
for (const [name, mapper] of Object.entries(SEED_HOOKS)) BY_NORMALIZED_NAME.set(name, mapper);

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_\s.]/g, '');
}

// The mapper of each hook name seen, so that a name is normalised once, not once per payload. Names
// come from the input, so the cache is bounded: when full it starts over.
const MAPPER_CACHE_SIZE = 256;
const mapperByName = new Map<string, Mapper | null>();

/**
 * The mapper of the known hook `name` shows as: without the characters that show as nothing (`hiddenIn`),
 * as an unknown hook's type is read. `Post\u200bToolUse` shows as `PostToolUse` and is that hook: it was
 * `hook.Post\u{200B}ToolUse` (and a logger's payload naming it `hook.<logger>`), while `Post\ufeffToolUse`,
 * whose invisible character is white space to `normalizeName`, was already `PostToolUse`.
 */
function mapperFor(name: string): Mapper | undefined {
  let mapper = mapperByName.get(name);
  if (mapper === undefined) {
    mapper = BY_NORMALIZED_NAME.get(normalizeName(hiddenIn(name)?.shown ?? name)) ?? null;
    if (mapperByName.size >= MAPPER_CACHE_SIZE) mapperByName.clear();
    mapperByName.set(name, mapper);
  }
  return mapper ?? undefined;
}

/** Hook names the bridge maps to specific event types (others become `hook.<name>`, or `hook.reserved`). */
export const KNOWN_HOOKS: readonly string[] = [...Object.keys(CLAUDE_HOOKS), 'file-watcher', 'pre-commit'];

/**
 * The names of the `hook.*` types the library emits of its own: the bridge's `hook.rejected`,
 * the hook runners' `hook.completed` / `hook.failed` / `hook.timed_out`. A hook of one of these names
 * (trimmed, as its type's name is) would pass for the library (`sessionState` counted the outputs of a
 * hook named `rejected` as rejections): its outputs are `hook.reserved` instead, its name in
 * `context.hook`; so are those of a name that shows as one (`rejected\u200b`, see `unknownHookType`). A hook
 * named `reserved` gives `hook.reserved` by the common rule.
 */
const RESERVED_HOOK_NAMES: ReadonlySet<string> = new Set(['rejected', 'completed', 'failed', 'timed_out']);

/** The type of an unknown hook's output whose name is one of `RESERVED_HOOK_NAMES`. */
const RESERVED_HOOK_TYPE = 'hook.reserved';

/**
 * The type of an unknown hook's output: `hook.<name>`, the name trimmed (`hook.unknown` for a blank one),
 * each character of it that shows as nothing (the ones a hook's name may not hold, see `checkVisible`)
 * written out as its code point (`lint\u2060` gives `hook.lint\u{2060}`, not a second `hook.lint`);
 * `hook.reserved` for a name that shows as one of `RESERVED_HOOK_NAMES` (`rejected\u200b`, `\u2060failed`).
 */
function unknownHookType(hook: string): string {
  const trimmed = hook.trim();
  if (trimmed === '') return 'hook.unknown';
  const hidden = hiddenIn(trimmed);
  if (RESERVED_HOOK_NAMES.has(hidden === undefined ? trimmed : hidden.shown.trim()))
    return RESERVED_HOOK_TYPE;
  return `hook.${hidden === undefined ? trimmed : hidden.escaped}`;
}

const unknownHook: Mapper = (p, ctx) => {
  const own: MapContext = {
    hook: ctx.hook,
    timestamp: ctx.timestamp,
    sessionId: str(p.session_id) || undefined,
    context: { hook: ctx.hook },
    limits: ctx.limits,
  };
  return [make(own, unknownHookType(ctx.hook), defined(p), Priority.NORMAL)];
};

// ---------------------------------------------------------------------------------------------------

function rejected(
  ctx: Pick<MapContext, 'hook' | 'timestamp' | 'sessionId'>,
  reason: string,
  raw: unknown,
  limits: PayloadLimits,
): Event {
  const preview = previewJson(raw, limits.maxRawLength);
  return makeEvent<RejectedHookData>({
    type: 'hook.rejected',
    priority: Priority.HIGH,
    timestamp: ctx.timestamp,
    data: { hook: ctx.hook, reason, raw: preview.text, raw_truncated: preview.truncated },
    context: { hook: ctx.hook },
    ...(ctx.sessionId === undefined ? {} : { sessionId: ctx.sessionId }),
  });
}

/** The payload's `session_id` for its rejection, or `undefined` when it has none or it cannot be read. */
function sessionOf(output: Record<string, unknown>): string | undefined {
  try {
    return str(output.session_id) || undefined;
  } catch {
    return undefined;
  }
}

function resolveLimits(options: BridgeOptions | undefined): PayloadLimits {
  if (options === undefined) return DEFAULT_LIMITS;
  return {
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_LIMITS.maxPayloadBytes,
    maxDepth: options.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxRawLength: options.maxRawLength ?? DEFAULT_LIMITS.maxRawLength,
  };
}

const BRIDGE_OPTION_KEYS = optionKeys<BridgeOptions>({
  maxPayloadBytes: true,
  maxDepth: true,
  maxRawLength: true,
  maxAheadMs: true,
});

/**
 * @internal A bridge's `maxAheadMs`, checked at construction: a number ≥ 0 (`Infinity` too, the default:
 * no guard); `where` names the function.
 */
export function bridgeMaxAhead(options: BridgeOptions | undefined, where: string): number {
  const value = options?.maxAheadMs;
  if (value === undefined) return Number.POSITIVE_INFINITY;
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new ConfigError(
      `${where}: maxAheadMs must be a number of ms >= 0 (Infinity, or left out, for no limit), got ${shownText(value)}`,
    );
  }
  return value;
}

/** @internal Resolved limits for a bridge, validated once at construction; `where` names the function. */
export function bridgeLimits(options: BridgeOptions | undefined, where: string): PayloadLimits {
  refuseNull(where, options, BRIDGE_OPTION_KEYS);
  const limits = resolveLimits(options);
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new ConfigError(`${where}: ${key} must be a positive integer, got ${shownText(value)}`);
    }
  }
  return limits;
}

/**
 * @internal `toEvents` with the limits already resolved, for any input at all: never throws, even on
 * objects whose getters throw.
 */
export function mapHookOutput(
  input: unknown,
  limits: PayloadLimits,
  clock: Clock,
  maxAheadMs = Number.POSITIVE_INFINITY,
): Event[] {
  try {
    return unpackHookOutput(input, limits, clock, maxAheadMs);
  } catch (error) {
    const hook = 'unknown';
    let why: string;
    try {
      why = String(error);
    } catch {
      why = 'unprintable error'; // thrown by a hostile getter, itself hostile
    }
    return [
      rejected(
        { hook, timestamp: clock.now(), sessionId: undefined },
        `unreadable input: ${why}`,
        input,
        limits,
      ),
    ];
  }
}

/** Where an output without a timestamp of its own gets one: a scheduler, or `Date`. */
export interface Clock {
  now(): number;
}

function unpackHookOutput(input: unknown, limits: PayloadLimits, clock: Clock, maxAheadMs: number): Event[] {
  if (!isRecord(input) || typeof input.hook !== 'string') {
    return [
      rejected(
        { hook: 'unknown', timestamp: clock.now(), sessionId: undefined },
        'input is not a HookOutput ({ hook: string, output })',
        input,
        limits,
      ),
    ];
  }
  const hook = input.hook;
  const stamp = input.timestamp;
  // The clock is read only for an output that carries no valid timestamp of its own, or with `maxAheadMs`
  // set. `+ 0` makes a -0 a 0, as createEvent does: JSON reads -0 back as 0, so an event must not carry one.
  let valid = false;
  let timestamp: number;
  if (!isTimestamp(stamp)) timestamp = clock.now() + 0;
  else if (maxAheadMs === Number.POSITIVE_INFINITY) {
    valid = true;
    timestamp = stamp + 0;
  } else {
    // `maxAheadMs`: a time further ahead of the clock than that is the clock's. A clock that is no time
    // (NaN, infinite) cannot judge: its time is taken, which is refused as for an output without one.
    const now = clock.now();
    valid = Number.isFinite(now) && stamp - now <= maxAheadMs;
    timestamp = (valid ? stamp : now) + 0;
  }
  const error = input.error;
  let events: Event[];
  if (typeof error === 'string') {
    // A line a source could not parse (cut, torn, too long) still shows its session at its start: its
    // rejection belongs to that session, not to none.
    const raw = input.output;
    const sessionId = typeof raw === 'string' ? leadingFields(raw).sessionId || undefined : undefined;
    events = [rejected({ hook, timestamp, sessionId }, error, raw, limits)];
  } else {
    events = mapPayload(hook, input.output, timestamp, limits, cutOf(input.cut));
  }
  if (!valid && stamp !== undefined) return markStamp(events, shownText(stamp));
  // A time a source read that is none (see `givenTimestamp`): replaced here, or by the source with an
  // earlier line's time (then passed on in `timestamp`).
  return input.givenTimestamp === undefined ? events : markStamp(events, shownText(input.givenTimestamp));
}

/**
 * The latest event time a `HookOutput` may carry: 9999-12-31T23:59:59.999Z. A larger one is no time in
 * ms: a time in µs (1.7e15 now) or ns by mistake, which would push every event-time window (the
 * watermark of `temporalAggregate`, `sessionWindows`) so far ahead that every later event were late.
 */
export const MAX_TIMESTAMP = 253_402_300_799_999;

/**
 * Whether `value` is an event time a `HookOutput` may carry: a number of ms from 0 to `MAX_TIMESTAMP`
 * (not NaN, negative, infinite, nor a time in µs or ns). Internal: the bridge stamps any other with its
 * clock, and the JSON Lines readers never take one for the time of a line that has none.
 */
export function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value <= MAX_TIMESTAMP;
}

/**
 * The events of an output whose `timestamp` was given but is no time (not a number, NaN, negative,
 * infinite, past `MAX_TIMESTAMP`), stamped with the clock's time instead: each says so in its
 * `context.timestamp_replaced`, the given value as text. Events that shared a context still share one.
 */
function markStamp(events: Event[], given: string): Event[] {
  return markContext(events, 'timestamp_replaced', given);
}

/** A source's `cut`, when it is one (a `PayloadCut` of `fromJsonLines` or `fromHookFile`). */
function cutOf(cut: unknown): PayloadCut | undefined {
  if (!isRecord(cut) || typeof cut.reason !== 'string' || typeof cut.strings !== 'number') return undefined;
  const sizes = cut.sizes instanceof Map ? (cut.sizes as ReadonlyMap<string, number>) : undefined;
  return sizes === undefined
    ? { reason: cut.reason, strings: cut.strings }
    : { reason: cut.reason, strings: cut.strings, sizes };
}

function mapPayload(
  hook: string,
  payload: unknown,
  timestamp: number,
  limits: PayloadLimits,
  sourceCut: PayloadCut | undefined,
): Event[] {
  if (!isRecord(payload)) {
    const kind = payload === null ? 'null' : Array.isArray(payload) ? 'an array' : `a ${typeof payload}`;
    return [
      rejected(
        { hook, timestamp, sessionId: undefined },
        `hook output must be a JSON object, got ${kind}`,
        payload,
        limits,
      ),
    ];
  }
  let output = payload;
  let cut = sourceCut;
  let problem: string | undefined;
  try {
    problem = checkPayload(output, limits);
  } catch (error) {
    // A getter or a Proxy trap of the payload threw: the hook and the time are known, so the rejection
    // keeps them (the catch of `mapHookOutput` knows neither, and would stamp the clock's time).
    problem = `unreadable: ${textOf(error)}`;
  }
  if (problem?.startsWith('larger than') === true) {
    // Over the size limit: read with its long strings cut, it still gives its hook's events, when what
    // is kept fits the limits (see cut.ts). Else it is rejected whole, as any payload over them.
    const kept = cutPayload(output, limits.maxPayloadBytes, limits.maxDepth);
    if (kept !== undefined && checkPayload(kept.value, limits) === undefined) {
      const reason = `payload ${problem}`;
      const sizes = new Map(cut?.sizes);
      for (const [text, size] of kept.cut.sizes ?? []) sizes.set(text, size);
      cut = {
        reason: cut === undefined ? reason : `${cut.reason}; ${reason}`,
        strings: (cut?.strings ?? 0) + kept.cut.strings,
        sizes,
      };
      output = kept.value;
      problem = undefined;
    }
  }
  if (problem !== undefined) {
    return [
      rejected({ hook, timestamp, sessionId: sessionOf(output) }, `payload ${problem}`, output, limits),
    ];
  }
  let mapper = mapperFor(hook);
  if (mapper === undefined) {
    // The transport's name is unknown, but the payload says which Claude Code event it is.
    const eventName = str(output.hook_event_name);
    mapper = eventName === undefined ? undefined : mapperFor(eventName);
  }
  // Every mapper of the table sets the session and the context (see `claude`, `withSession`).
  const ctx: MapContext = { hook, timestamp, sessionId: undefined, context: { hook }, limits };
  if (cut !== undefined) ctx.sizes = cut.sizes;
  try {
    const events = (mapper ?? unknownHook)(output, ctx);
    // Never silence: a known hook whose output held nothing to map still leaves a trace.
    const all = events.length > 0 ? events : unknownHook(output, ctx);
    return cut === undefined ? all : markCut(all, cut);
  } catch (error) {
    const reason = error instanceof RejectError ? error.reason : `mapping failed: ${textOf(error)}`;
    return [rejected({ hook, timestamp, sessionId: sessionOf(output) }, reason, output, limits)];
  }
}

/**
 * The events of a payload read with its long strings cut, each with `context.payload_cut`: `{ reason,
 * strings, max_string, kept }` (the limit it was over, how many strings were cut, the longest string kept
 * whole, the characters kept at each end of one cut). Events that shared a context still share one.
 */
function markCut(events: Event[], cut: PayloadCut): Event[] {
  const note = { reason: cut.reason, strings: cut.strings, max_string: CUT_LENGTH, kept: KEEP };
  return markContext(events, 'payload_cut', note);
}

/** Sets `context[key] = value` on each event, each a copy of its context: events that shared one still do. */
function markContext(events: Event[], key: string, value: unknown): Event[] {
  const contexts = new Map<unknown, Record<string, unknown>>();
  for (const event of events) {
    let context = contexts.get(event.context);
    if (context === undefined) {
      context = { ...event.context, [key]: value };
      contexts.set(event.context, context);
    }
    event.context = context;
  }
  return events;
}

/**
 * Maps one hook output to events. Pure apart from the fresh ids; never throws and never returns an
 * empty array: input it cannot map becomes one `hook.rejected` event (priority HIGH) carrying the hook
 * name, the reason and the raw input (cut to `maxRawLength` characters, one fewer when the cut would
 * split an emoji) — a payload whose getter throws too, under its hook name and `timestamp`. A payload over
 * `maxPayloadBytes` is mapped with each string value longer than 16,384 characters cut to its first and
 * last 8,000 around a mark of its length, its events carrying `context.payload_cut` (`{ reason, strings,
 * max_string, kept }`); only one still over the limit once cut is rejected.
 *
 * - Claude Code payloads (keyed by the hook name, or by `hook_event_name` when the name is not one of
 *   them; `PostToolUse`, `post-tool-use` and `post_tool_use` are the same hook) become `tool.*`, `file.*`,
 *   `git.commit`, `test.run`, `agent.*`, `prompt.*`, `session.*`, `notification` … events, with
 *   `session_id` as `sessionId`.
 * - The seed's `file-watcher` (`{ changes: [{ action, path, type?, size? }] }`) and `pre-commit` hooks.
 * - Any other hook becomes `hook.<name>` (the name trimmed; `hook.unknown` for a blank one) with the
 *   payload as its data, except that a name of the library's own `hook.*` types (`rejected`,
 *   `completed`, `failed`, `timed_out`) becomes `hook.reserved`, as `reserved` does: no hook passes for
 *   the library. A character that shows as nothing (one a hook's own name may not hold: a control, a
 *   zero-width or bidi character, a lone surrogate) is written out in the type (`lint\u2060` gives
 *   `hook.lint\u{2060}`), and a name that shows as a reserved one (`rejected\u200b`) is `hook.reserved`.
 *   `context.hook` has the name as it came.
 *
 * @param hookName the hook that produced `output`.
 * @param output the hook's output (for Claude Code, the stdin payload).
 * @param timestamp event time in ms since epoch; defaults to `Date.now()`, which also replaces one that is
 *   no time (see `HookOutput.timestamp`; its events then carry `context.timestamp_replaced`).
 * @param options the payload limits, and `maxAheadMs`: a `timestamp` further ahead of `Date.now()` than
 *   that is replaced by it, marked as above.
 * @throws ConfigError when `options` is not an object, a limit is not a positive integer, `maxAheadMs` is
 *   no number ≥ 0, or an option's name is unknown (named with the nearest known one).
 */
export function toEvents(
  hookName: string,
  output: unknown,
  timestamp?: number,
  options?: BridgeOptions,
): Event[] {
  // Options that are no object (`null`, a number) are refused as createHookBridge's are: null was read as
  // an object (a TypeError), a number ignored without a word.
  if (options !== undefined) checkOptions('toEvents', options, BRIDGE_OPTION_KEYS);
  options = readFields(options, BRIDGE_OPTION_KEYS);
  const limits = bridgeLimits(options, 'toEvents');
  const maxAheadMs = bridgeMaxAhead(options, 'toEvents');
  return mapHookOutput({ hook: hookName, output, timestamp }, limits, Date, maxAheadMs);
}
