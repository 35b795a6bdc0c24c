/**
 * Internal: splitting a byte or text stream into JSON Lines and reading each line as a `HookOutput`.
 * Shared by `fromJsonLines` and `fromHookFile`.
 */
import { ConfigError, shownText } from '../errors.js';
import { JsonCutter } from './cut.js';
import { cutAt, isRecord, leadingFields } from './payload.js';
import { type HookOutput, isTimestamp } from './toEvents.js';

/** Options shared by the JSON Lines sources. */
export interface JsonLinesOptions {
  /** Hook name for lines that do not say which hook they come from. Default `'unknown'`. */
  hook?: string | undefined;
  /**
   * Longest line read whole, in characters. A longer line is not held whole: it is read once with each
   * string value longer than 16,384 characters cut to its first and last 8,000 around a mark giving its
   * length (keys and structure kept), and that is parsed, the output's `cut` saying so; only when what is
   * kept is still longer than `maxLineLength`, or is not JSON, is it a rejected input carrying its first
   * 16,384 characters (16,383 when the cut would split an emoji). Default 16 MiB (16,777,216), as the
   * bridge's `maxPayloadBytes`.
   */
  maxLineLength?: number | undefined;
}

const PREVIEW = 16_384;

/**
 * A time as JSON writes one, in the form ECMAScript's `Date.parse` is bound to read: a date, `T`, a time
 * (seconds and a fraction optional), and its offset from UTC (`Z` or `±hh:mm`) — never a local time to
 * guess the zone of.
 */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Whether `text` is an `ISO_TIME` of a day its month has: `Date.parse` takes any day up to the 31st and
 * rolls it over (the 30th of February is the 2nd of March), a date that is no date.
 */
function isIsoTime(text: string): boolean {
  if (!ISO_TIME.test(text)) return false;
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return (
    day <=
    (month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31)
  );
}

/**
 * Puts a line's `timestamp` on `out`: a number as it is (the bridge checks it is a time); an ISO 8601 time
 * with its offset (`2026-12-07T06:00:00Z`: how JSON writes a time, in a log written by another tool) as its
 * ms; any other value given (another string, `null`…) in `givenTimestamp`, so that the bridge says so in its
 * events' `context.timestamp_replaced` (it was dropped unsaid). `LineReader.timeOf` then gives the line
 * the time of the one before, when there was one.
 */
function takeTimestamp(line: Record<string, unknown>, out: HookOutput): void {
  if (!Object.hasOwn(line, 'timestamp')) return;
  const given = line.timestamp;
  if (typeof given === 'number') {
    out.timestamp = given;
    return;
  }
  const time = typeof given === 'string' && isIsoTime(given) ? Date.parse(given) : Number.NaN;
  if (isTimestamp(time)) out.timestamp = time;
  else out.givenTimestamp = given;
}

/**
 * Reads one parsed line as a `HookOutput`. Three shapes are understood:
 * - an envelope `{ hook, output, timestamp? }`;
 * - a capture `{ hook_event_name, payload }` (the format of the project's fixtures);
 * - a bare Claude Code payload, which names its hook in `hook_event_name`.
 * Anything else is the output of `defaultHook`.
 */
export function lineToHookOutput(value: unknown, defaultHook: string): HookOutput {
  if (isRecord(value)) {
    if (typeof value.hook === 'string' && 'output' in value) {
      const out: HookOutput = { hook: value.hook, output: value.output };
      takeTimestamp(value, out);
      return out;
    }
    if (typeof value.hook_event_name === 'string') {
      if (isRecord(value.payload)) {
        const out: HookOutput = { hook: value.hook_event_name, output: value.payload };
        takeTimestamp(value, out);
        return out;
      }
      return { hook: value.hook_event_name, output: value };
    }
  }
  return { hook: defaultHook, output: value };
}

/** Incremental line splitter: feed text chunks, get complete lines' `HookOutput`s back. */
/**
 * @internal `options`' fields, each read once, and checked (a `ConfigError` naming `where`): what every
 * subscription's `LineReader` is made with. Read at the call of `fromJsonLines` or `fromHookFile`, so a
 * getter runs once, and a change to the caller's object after the call changes no subscription (each
 * subscription read the object again: a `hook` set later named the lines of the next one).
 */
export function readLineOptions(options: JsonLinesOptions | undefined, where: string): JsonLinesOptions {
  const read: JsonLinesOptions = { hook: options?.hook, maxLineLength: options?.maxLineLength };
  new LineReader(read, where);
  return read;
}

export class LineReader {
  private partial = '';
  private length = 0; // characters of the current line, held or not
  private tooLong = false;
  /** The over-long line read with its long strings cut, while it is not too long for that too. */
  private cutter: JsonCutter | undefined;
  /** Whether the current line's text so far ends with `\r` (which a `\n` after it makes a line end). */
  private cr = false;
  /** At the start of the input (nothing pushed since construction or `end`): a BOM there is dropped. */
  private atStart = true;
  /**
   * The `timestamp` of the last line that had one that is a time (see `isTimestamp`): the time a line that
   * cannot be read takes, and one whose time is none (see `timeOf`). A line's time that is none (negative,
   * past 9999) is not remembered: a bad line after it takes the time before it, not that one.
   * Set by `fromHookFile` when it resumes in the middle of a file, to that of the lines before the mark.
   */
  lastTimestamp: number | undefined;
  private readonly hook: string;
  private readonly maxLineLength: number;

  /** `where`: the function whose options these are, named in the `ConfigError` for a bad one. */
  constructor(options: JsonLinesOptions | undefined, where: string) {
    this.hook = options?.hook ?? 'unknown';
    this.maxLineLength = options?.maxLineLength ?? 16_777_216;
    if (!Number.isInteger(this.maxLineLength) || this.maxLineLength <= 0) {
      throw new ConfigError(
        `${where}: maxLineLength must be a positive integer, got ${shownText(options?.maxLineLength)}`,
      );
    }
    // Not a string, it would name every line that names no hook: each one then a `hook.rejected`.
    if (typeof this.hook !== 'string') {
      throw new ConfigError(
        `${where}: hook must be a string (a hook's name), got ${shownText(options?.hook)}`,
      );
    }
  }

  /** Splits `chunk` into lines and calls `emit` for each complete, non-blank one. */
  push(chunk: string, emit: (output: HookOutput) => void): void {
    let start = 0;
    if (this.atStart && chunk.length > 0) {
      // Here for bytes and text alike: the callers' decoders keep it (ignoreBOM), as a Readable's encoding does.
      this.atStart = false;
      if (chunk.charCodeAt(0) === 0xfeff) start = 1;
    }
    for (;;) {
      const newline = chunk.indexOf('\n', start);
      if (newline < 0) {
        this.append(chunk.slice(start));
        return;
      }
      this.append(chunk.slice(start, newline));
      this.finishLine(emit);
      start = newline + 1;
    }
  }

  /**
   * The input goes on from inside a text read before (`fromHookFile` resuming at a mark): a BOM at the
   * start of what is pushed next is its line's, as it is in a read from the start.
   */
  resumeInside(): void {
    this.atStart = false;
  }

  /**
   * Emits the last line if the input did not end with a newline. The reader can then read another
   * input (the next file of a followed path), from its start.
   */
  end(emit: (output: HookOutput) => void): void {
    this.finishLine(emit);
    this.atStart = true;
  }

  private clear(): void {
    this.partial = '';
    this.length = 0;
    this.tooLong = false;
    this.cutter = undefined;
    this.cr = false;
  }

  private append(text: string): void {
    if (text.length === 0) return;
    this.length += text.length;
    this.cr = text.charCodeAt(text.length - 1) === 13;
    if (this.tooLong) {
      this.cutter?.push(text);
      this.holdPreview(text);
      return;
    }
    // One character more than the limit is held: a `\r` before the `\n` is not part of the line.
    if (this.length > this.maxLineLength + 1) {
      // Read it with its long strings cut, and keep a preview for its rejection, should that fail too;
      // count, but do not hold, the rest.
      this.tooLong = true;
      this.cutter = new JsonCutter(this.maxLineLength);
      this.cutter.push(this.partial);
      this.cutter.push(text);
      this.partial = this.partial.slice(0, PREVIEW + 1);
      this.holdPreview(text);
      return;
    }
    this.partial += text;
  }

  /**
   * Holds the over-long line's first `PREVIEW` + 1 characters, from every chunk until there are that
   * many (not only those held when the limit was crossed: the preview is the same however the line
   * was split). `finishLine` cuts them to the preview; the one more tells it whether an emoji is cut.
   */
  private holdPreview(text: string): void {
    const room = PREVIEW + 1 - this.partial.length;
    if (room > 0) this.partial += text.slice(0, room);
  }

  private finishLine(emit: (output: HookOutput) => void): void {
    let line = this.partial;
    // A `\r` before the `\n` is not the line's: not in its length, nor in an over-long line's preview
    // when the preview holds the whole line (it then ends with it).
    if (this.cr && line.length === this.length) line = line.slice(0, -1);
    const length = this.cr ? this.length - 1 : this.length;
    const tooLong = this.tooLong || length > this.maxLineLength;
    let cutter = this.cutter;
    this.clear();
    if (tooLong) {
      const reason = `line of ${length} characters exceeds maxLineLength (${this.maxLineLength})`;
      if (cutter === undefined) {
        // One character over the limit, found at the line's end (the `\r` allowed for was none).
        cutter = new JsonCutter(this.maxLineLength);
        cutter.push(line);
      }
      const kept = cutter.end();
      if (kept !== undefined) {
        let value: unknown;
        try {
          value = JSON.parse(kept.text);
        } catch {
          value = undefined; // not JSON: rejected below
        }
        if (value !== undefined) {
          const output = lineToHookOutput(value, this.hook);
          output.cut = { reason, strings: kept.strings, sizes: kept.sizes };
          this.timeOf(output);
          emit(output);
          return;
        }
      }
      emit(this.unread(cutAt(line, PREVIEW), reason));
      return;
    }
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      emit(this.unread(line, `invalid JSON: ${(error as Error).message}`));
      return;
    }
    const output = lineToHookOutput(value, this.hook);
    this.timeOf(output);
    emit(output);
  }

  /**
   * Remembers a read line's time when it is one. A line whose time was given but is none (a time in µs,
   * negative, a local or leap-second ISO time, `null`…) takes the time of the last line that had one, as a
   * line that cannot be read does, the value given kept in `givenTimestamp` (the bridge marks its events
   * `timestamp_replaced`). The bridge's clock stamped it: in a log read later, a time ahead of every line
   * after it, so every later event of its session was late (an hour-old log, one such line of 60: 39 of
   * 39). A line that gives no time at all is left to the clock; so is a bad one before any good time.
   */
  private timeOf(output: HookOutput): void {
    const own = output.timestamp;
    if (isTimestamp(own)) {
      this.lastTimestamp = own;
      return;
    }
    if (this.lastTimestamp === undefined) return;
    if (own !== undefined) output.givenTimestamp = own;
    else if (!Object.hasOwn(output, 'givenTimestamp')) return;
    output.timestamp = this.lastTimestamp;
  }

  /**
   * The output of a line that cannot be read (`text`, or its preview), rejected for `error`. What its start
   * still shows is taken (see `leadingFields`): the hook (`record`'s `hook`, else a `hook_event_name`) and
   * the time (`record`'s `timestamp`) of a line cut short, torn or too long. Without a time of its own (or
   * with one that is none) it takes the time of the last line that had one that is a time, so a replayed
   * log stays in event time (the bridge stamps the clock only when no line had one).
   */
  private unread(text: string, error: string): HookOutput {
    const fields = leadingFields(text);
    const output: HookOutput = {
      hook: fields.hook ?? fields.hookEventName ?? this.hook,
      output: text,
      error,
    };
    const own = fields.timestamp;
    if (isTimestamp(own)) output.timestamp = own;
    else if (this.lastTimestamp !== undefined) output.timestamp = this.lastTimestamp;
    return output;
  }
}
