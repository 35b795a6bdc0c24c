import { constants, type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Observable } from 'rxjs';
import {
  ConfigError,
  checkOptions,
  optionKeys,
  readFields,
  refuseNull,
  shownText,
  textOf,
  VibespecError,
} from '../errors.js';
import { booleanOption, timerOption } from '../operators/internal/eventTime.js';
import { type JsonLinesOptions, LineReader, readLineOptions } from './jsonLines.js';
import { isRecord } from './payload.js';
import { type HookOutput, isTimestamp } from './toEvents.js';

/** Options of `fromHookFile`. */
export interface HookFileOptions extends JsonLinesOptions {
  /**
   * Keep reading as lines are appended (like `tail -F`) instead of completing at the end of the file.
   * A missing file is waited for. A file rotated (a new file at the path), truncated, or rewritten in
   * place (its first bytes changed, even while it is being read) is read again from its start, once the
   * old one's lines are all read: its last line, even without a newline, is emitted (or rejected), not
   * dropped. A file that appears or replaces the log but cannot be read yet (EACCES, EPERM, a folder) is
   * tried again at each poll, up to 40 tries in a row, before the source fails; one that cannot be read
   * at the first try fails at once. Default `false`.
   */
  follow?: boolean | undefined;
  /**
   * How often a followed file is polled, on top of `fs.watch` notifications (of the file, and of its
   * directory for the file's name). Default 250 ms. A positive number of ms up to 2,147,483,647 (the
   * longest `setTimeout` delay; `Infinity` or a longer one, which Node would turn into 1 ms, is a
   * `ConfigError`).
   */
  pollIntervalMs?: number | undefined;
  /**
   * Where to start in the file, to resume a read that stopped (see `fromHookFileMarked`): the `mark` of
   * the last line already handled (`{ end, ino, head, timestamp? }`: a whole `HookFileMark`), or a bare
   * byte offset (that mark's `end`: the offset of the next line to read). A mark is used only if the file
   * at `path` is still the one it was taken in — same inode, at least `end` bytes, and the same first
   * `min(256, end)` bytes — and a bare offset only if the file has at least that many bytes (it cannot
   * tell a file rotated and grown past it, it must be a line's end, and a bad line just after it has no
   * time: prefer the mark). Otherwise the file (rotated, truncated or rewritten since) is read from its
   * start, as `follow` does on a rotation or truncation: no line lost, at worst some read again (a bad
   * line before its first good one takes the mark's `timestamp`, as in a follow across the rotation). Only the
   * first file opened resumes; with `follow`, a file that is missing at first resumes when it appears.
   * Default: from the start (`0`).
   *
   * A negative, fractional or unsafe offset, or a mark whose `head` is not the hex of `min(256, end)`
   * bytes or whose `timestamp` is not a finite number, is a `ConfigError` at construction.
   */
  resumeFrom?:
    | number
    | (Pick<HookFileMark, 'end' | 'ino' | 'head'> & { timestamp?: number | undefined })
    | undefined;
}

const OPTION_KEYS = optionKeys<HookFileOptions>({
  hook: true,
  maxLineLength: true,
  follow: true,
  pollIntervalMs: true,
  resumeFrom: true,
});

const CHUNK = 64 * 1024;
/** Thrown out of a read when the consumer has left in the middle of it (see `readHookFile`'s `next`). */
const LEFT = Symbol('left');
/**
 * How many of a followed file's first bytes are kept and read again after each wait, to tell a rewrite
 * in place (same inode, same or greater size: a shell's `>`, `writeFileSync`, `copytruncate` and a
 * write) from an append, which never changes them.
 */
const FINGERPRINT = 256;
/**
 * With `follow`, how many tries in a row (one at each poll, or sooner on a change in the file's directory)
 * a file that appeared at the path, or replaced the log, may be unreadable (EACCES, EPERM, a directory)
 * before the source fails: 10 s at the default poll interval, enough for a rotation that creates the new
 * file and then sets its mode, or swaps a folder out of the way. @internal Exported for the tests, not
 * from the package.
 */
export const UNREADABLE_TRIES = 40;

/**
 * Emits the `HookOutput`s of a JSON Lines file of hook payloads (see `fromJsonLines` for the line
 * shapes and how bad lines are reported). With `follow: true` it tails the file and never completes
 * on its own: unsubscribe to stop, which closes the file and its watcher.
 *
 * ```
 * file:    a\n b\n            (appended) c\n
 * result:  -a-b-------------------------c----   (follow: true)
 * result:  -a-b|                                (follow: false)
 * ```
 *
 * With `resumeFrom`, it starts after a line read before (its mark, from `fromHookFileMarked`, or its
 * byte offset), so that an app that restarts does not handle the log's lines a second time:
 *
 * ```
 * file:    a\n b\n c\n
 * result:  -b-c|                                 (resumeFrom: the mark of a)
 * ```
 *
 * @throws ConfigError at construction when `path` is not a non-empty string, `options` is not an object,
 *   an option is invalid (`follow` not a boolean, `hook` not a string…), or its name unknown (named with the
 *   nearest known one).
 * @throws (as an error notification) `VibespecError` `SOURCE_FAILED` when the file cannot be read
 *   (and, without `follow`, when it does not exist; with it, a file that appeared or replaced the log
 *   only after 40 unreadable tries in a row), or is a FIFO (read a pipe with `fromJsonLines`). A consumer
 *   that throws on an output (a `Subscriber` of its own) ends it with its exception, as it is.
 */
export function fromHookFile(path: string, options?: HookFileOptions): Observable<HookOutput> {
  return readHookFile<HookOutput>(path, options, false);
}

/**
 * Where a line of a hook file ends, and which file it is in: the mark `fromHookFileMarked` pairs with
 * each output. Save the mark of the last line an app has fully handled (its events stored) and pass it
 * back as `resumeFrom` to go on after it. Plain JSON data: it can be saved as `JSON.stringify(mark)`.
 */
export interface HookFileMark {
  /** Byte offset just after the line: after its `\n`, or the file's end for a last line without one. */
  end: number;
  /**
   * Whether the line ended with a newline. A line without one is the last of a file (at its end without
   * `follow`, or of a rotated or truncated file with it) and may still be being appended: without
   * `follow`, do not save its mark (the rest of the line, once written, would be read as a line of its
   * own); leave the line for the next run, as `vibespec-streams ingest` does.
   */
  terminated: boolean;
  /** The file's inode. */
  ino: number;
  /** Hex of the file's first `min(256, end)` bytes: tells a file rewritten in place, or a reused inode. */
  head: string;
  /**
   * The `timestamp` of the last line up to this one that had one that is a time (absent if none had; a
   * negative one, say, is none): a line that cannot be read takes it (see `fromJsonLines`), so that a bad
   * line just after the mark gets, on a resumed read, the event time it gets in one read of the whole file.
   */
  timestamp?: number;
}

/** An output of `fromHookFileMarked`: a `HookOutput` with the mark of its line. */
export interface MarkedHookOutput {
  output: HookOutput;
  mark: HookFileMark;
}

/**
 * `fromHookFile`, each output paired with the mark of its line (`{ output, mark }`), for an app that
 * resumes where it stopped: once every event of a line is handled (for `persist`, emitted, so on disk),
 * save its `mark`, and pass the saved mark as `resumeFrom` at the next start. The outputs are those of
 * `fromHookFile` with the same options. Lines are found by their `\n` bytes, so each output's mark is
 * exact whatever the chunking and the characters; blank lines have no output and so no mark of their own.
 *
 * ```
 * file:    a\n \n b\n      (bytes: a = 0..7, a blank line, b = 9..16)
 * result:  -A---B|          A = { output: a, mark: { end: 8, … } }, B = { output: b, mark: { end: 17, … } }
 * ```
 *
 * @throws ConfigError at construction, as `fromHookFile`.
 * @throws (as an error notification) `VibespecError` `SOURCE_FAILED`, as `fromHookFile`.
 */
export function fromHookFileMarked(path: string, options?: HookFileOptions): Observable<MarkedHookOutput> {
  return readHookFile<MarkedHookOutput>(path, options, true);
}

/** A validated `resumeFrom`: a bare offset has no `ino` or `head` to check. */
export interface Resume {
  end: number;
  ino?: number;
  head?: string;
  timestamp?: number;
}

/**
 * @internal Checks a `resumeFrom` (see `HookFileOptions.resumeFrom`), and returns it as a `Resume`;
 * throws the `ConfigError` that `where` (`fromHookFile`, `fromHookFileMarked`) throws for it, naming the
 * field of a mark that is wrong. Also the `ingest` command's check of its offset file. (Not exported
 * from the package.)
 */
export function resumeOption(value: unknown, where = 'fromHookFile'): Resume | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return { end: value };
  } else if (isRecord(value)) {
    const { end, ino, head } = value;
    if (!Number.isSafeInteger(end) || (end as number) < 0) {
      throw new ConfigError(
        `${where}: resumeFrom.end must be a byte offset (a non-negative safe integer), got ${shownText(end)}`,
      );
    }
    // Any integer: an inode past 2^53 (some filesystems) is a number that is not a safe one.
    if (!Number.isInteger(ino) || (ino as number) < 0) {
      throw new ConfigError(
        `${where}: resumeFrom.ino must be the file's inode number (a non-negative integer), got ${shownText(ino)}`,
      );
    }
    const digits = 2 * Math.min(FINGERPRINT, end as number);
    if (typeof head !== 'string' || head.length !== digits || !/^[0-9a-f]*$/.test(head)) {
      throw new ConfigError(
        `${where}: resumeFrom.head must be the lowercase hex of the file's first min(256, end) bytes (${digits} digits), got ${shownText(head)}`,
      );
    }
    const { timestamp } = value;
    if (timestamp === undefined) return { end: end as number, ino: ino as number, head };
    if (typeof timestamp === 'number' && Number.isFinite(timestamp)) {
      return { end: end as number, ino: ino as number, head, timestamp };
    }
    throw new ConfigError(
      `${where}: resumeFrom.timestamp must be a finite number or absent, got ${shownText(timestamp)}`,
    );
  }
  throw new ConfigError(
    `${where}: resumeFrom must be a byte offset (a non-negative safe integer) or a mark { end, ino, head, timestamp? } of fromHookFileMarked, got ${shownText(value)}`,
  );
}

function readHookFile<T>(
  path: string,
  options: HookFileOptions | undefined,
  // For `fromHookFileMarked`: only then are line ends located and marks made.
  marked: boolean,
): Observable<T> {
  const where = marked ? 'fromHookFileMarked' : 'fromHookFile';
  if (typeof path !== 'string' || path.length === 0) {
    throw new ConfigError(`${where}: path must be a non-empty path, got ${shownText(path)}`);
  }
  checkOptions(where, options, OPTION_KEYS);
  options = readFields(options, OPTION_KEYS);
  refuseNull(where, options, ['hook', 'maxLineLength', 'pollIntervalMs']);
  const resumeFrom = resumeOption(options?.resumeFrom, where);
  const follow = booleanOption(where, 'follow', options?.follow, false);
  const pollIntervalMs = timerOption(`${where}: pollIntervalMs`, options?.pollIntervalMs ?? 250);
  const lineOptions = readLineOptions(options, where);
  return new Observable<T>((subscriber) => {
    const lines = new LineReader(lineOptions, where);
    /** Of the line being emitted, with `marked`: where it ends, and whether with a newline. */
    let lineEnd = 0;
    let terminated = false;
    let ino = 0;
    /** The saved mark to start at, until the first file is opened (a later one is a rotation). */
    let resume = resumeFrom;
    /** The hex of the file's first `min(FINGERPRINT, end)` bytes, for the last `end` asked. */
    let headHex: { length: number; hex: string } | undefined;
    /**
     * What a consumer threw on an output (a `Subscriber` of its own, whose exception reaches the source):
     * the output ends with it as it is. It was a `SOURCE_FAILED` saying the file cannot be read.
     */
    let thrown: { error: unknown } | undefined;
    const next = (value: T) => {
      // The consumer left in an earlier next of this read (unsubscribed there): the rest of the read is not
      // parsed, nor emitted. Thrown, it ends the read loop, which then stops as it does at any unsubscribe.
      if (stopped) throw LEFT;
      try {
        subscriber.next(value);
      } catch (error) {
        thrown = { error };
        throw error;
      }
    };
    const emit = !marked
      ? (output: HookOutput) => next(output as T)
      : (output: HookOutput) => {
          const length = Math.min(FINGERPRINT, lineEnd);
          if (headHex?.length !== length) headHex = { length, hex: head.toString('hex', 0, length) };
          const mark: HookFileMark = { end: lineEnd, terminated, ino, head: headHex.hex };
          if (lines.lastTimestamp !== undefined) mark.timestamp = lines.lastTimestamp;
          next({ output, mark } as T);
        };
    // Keeps every BOM (ignoreBOM): the LineReader drops the one at the start of a file, as for text. A
    // decoder that dropped it too would drop a second one, the first line's (two for a file, one for text).
    const newDecoder = () => new TextDecoder('utf-8', { ignoreBOM: true });
    let decoder = newDecoder();
    let handle: FileHandle | undefined;
    let watcher: FSWatcher | undefined;
    let dirWatcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    /** A notification came while the source was not waiting (reading, or between two awaits). */
    let changed = false;
    /** The rotated file was read to its end once more after the rotation was seen. */
    let drained = false;
    let stopped = false;
    let position = 0;
    /**
     * With `follow`: the last byte of a read that ended inside a line, kept back (not decoded; `position`
     * is at it) and read again with the next read, so that a change of it in place is seen. `record` ends
     * a line cut by a short write by overwriting its last byte with a newline (see `writeWhole`): read
     * before that, the cut line would take the next line with it (both lost in one line that is not JSON),
     * and, in the file's first bytes, the change would look like a rewrite (the file read again).
     */
    let held: number | undefined;

    const notify = () => {
      if (wake === undefined) changed = true;
      else wake();
    };

    /** Until a notification (one that came since the last wait included) or the next poll. */
    const waitForChange = (): Promise<void> => {
      if (changed) {
        changed = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, pollIntervalMs);
      }).finally(() => {
        wake = undefined;
        clearTimeout(timer);
      });
    };

    /**
     * With `follow`: whether an open has been tried at the path before. Only the first try fails at once
     * on a path that cannot be read: a later one (a file that appeared, or replaced the log) may be caught
     * in a rotation race, created before its mode is set or moved into place a moment later.
     */
    let tried = false;
    /** Tries in a row that found the path unreadable (see `UNREADABLE_TRIES`). */
    let unreadable = 0;

    /** The file at `path`, or `undefined` to wait and try again (with `follow`: missing, or not yet readable). */
    const openFile = async (): Promise<FileHandle | undefined> => {
      const retry = follow && tried;
      tried = true;
      let file: FileHandle;
      try {
        // O_NONBLOCK: a FIFO with no writer is opened at once (without it, the open would wait for one,
        // for ever, and could not be given up: the process could not exit), then refused. On a regular
        // file it does nothing.
        file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (follow && code === 'ENOENT') return undefined;
        if (retry && (code === 'EACCES' || code === 'EPERM')) return notYet(error);
        throw error;
      }
      if (retry && (await file.stat().catch(() => undefined))?.isDirectory()) {
        await file.close();
        return notYet(Object.assign(new Error('EISDIR: it is a directory'), { code: 'EISDIR' }));
      }
      unreadable = 0;
      return file;
    };

    /** A path found unreadable once more: waited for, up to `UNREADABLE_TRIES` tries in a row. */
    const notYet = (error: unknown): undefined => {
      if (++unreadable >= UNREADABLE_TRIES) {
        throw Object.assign(new Error(`${textOf(error)} (still, after ${UNREADABLE_TRIES} tries)`), {
          cause: error,
          code: (error as NodeJS.ErrnoException).code,
        });
      }
      return undefined;
    };

    // The first bytes of the file as read, to recognize a rewrite in place.
    const head = Buffer.alloc(FINGERPRINT);
    const probe = Buffer.alloc(FINGERPRINT);
    let headLength = 0;

    /** The end of the file read so far: its last line, even without a newline, is not dropped. */
    const finishFile = () => {
      let rest = '';
      if (held !== undefined) {
        rest = decoder.decode(Uint8Array.of(held), { stream: true });
        // In the first bytes too, for the mark of the line it ends.
        if (position < FINGERPRINT) head[position] = held;
        position++;
        held = undefined;
      }
      lineEnd = position;
      terminated = false;
      lines.push(rest + decoder.decode(), emit);
      lines.end(emit);
      decoder = newDecoder();
      position = 0;
      headLength = 0;
      headHex = undefined;
    };

    /**
     * With `marked`: pushes a chunk read at `position` one line at a time, so that each line emitted is
     * known to end just after its `\n` (a byte that is never part of a multi-byte UTF-8 character).
     */
    const pushMarked = (chunk: Buffer) => {
      let start = 0;
      for (;;) {
        const newline = chunk.indexOf(10, start);
        if (newline < 0) break;
        lineEnd = position + newline + 1;
        terminated = true;
        lines.push(decoder.decode(chunk.subarray(start, newline + 1), { stream: true }), emit);
        start = newline + 1;
      }
      if (start < chunk.length) lines.push(decoder.decode(chunk.subarray(start), { stream: true }), emit);
    };

    /**
     * With `resumeFrom`: the position to start the opened file at — the mark's end if the file is the
     * one it was taken in (same inode, long enough, same first bytes; for a bare offset, long enough),
     * else 0. The file's first bytes are kept, to tell a rewrite in place as for a file read from 0.
     */
    const resumeAt = async (file: FileHandle): Promise<void> => {
      const saved = resume;
      resume = undefined;
      if (saved === undefined) return;
      // The time of the last line read before the mark, for a bad line after it (a mark taken by an older
      // reader may have no time; a bare offset has none: the lines before it are not read, so their time is
      // not known; one that is no time, which an older reader remembered, is not taken either). Also when
      // the file is read from its start (rotated, truncated or rewritten since), as `follow` goes on with
      // the time of the file it leaves: without it, a bad line first in the new file took the clock's time,
      // another at each read with the same mark, ahead of every line after it.
      lines.lastTimestamp = isTimestamp(saved.timestamp) ? saved.timestamp : undefined;
      if (saved.end === 0) return;
      const { size, ino: fileIno } = await file.stat();
      if (size < saved.end || (saved.ino !== undefined && fileIno !== saved.ino)) return;
      const length = Math.min(FINGERPRINT, saved.end);
      const { bytesRead } = await file.read(head, 0, length, 0);
      if (bytesRead !== length) return;
      if (saved.head !== undefined && head.toString('hex', 0, length) !== saved.head) return;
      headLength = length;
      position = saved.end;
      // Only the file's first BOM is dropped: one at the mark is its line's, as in a read from the start
      // (where that line is no JSON). Dropped here, a resumed read gave an event the whole read rejects.
      lines.resumeInside();
    };

    /** Whether the file's first bytes are no longer those read: it was rewritten under us. */
    const rewritten = async (file: FileHandle): Promise<boolean> => {
      if (headLength === 0) return false;
      const { bytesRead } = await file.read(probe, 0, headLength, 0);
      return bytesRead < headLength || probe.compare(head, 0, headLength, 0, headLength) !== 0;
    };

    if (follow) {
      // The file's directory too, for the file's name only: a file created (missing at first, or the
      // new one of a rotation) is noticed at once rather than at the next poll. The file's own watcher
      // follows its inode, which a rotation renames away.
      const name = basename(path);
      try {
        dirWatcher = watch(dirname(path), (_event, file) => {
          if (file === null || file.toString() === name) notify();
        });
        dirWatcher.on('error', () => undefined); // polling still runs
      } catch {
        // A directory that is missing or cannot be watched: polling alone is enough.
      }
    }

    (async () => {
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        if (stopped) return;
        if (handle === undefined) {
          const opened = await openFile();
          if (stopped) {
            // Unsubscribed while it was opening: the teardown could not close it.
            await opened?.close();
            return;
          }
          handle = opened;
          if (handle === undefined) {
            await waitForChange();
            continue;
          }
          const info = await handle.stat();
          if (info.isFIFO()) {
            // Read at offsets (ESPIPE on a pipe): a pipe is a stream, for fromJsonLines.
            throw new Error(
              'it is a FIFO (a named pipe), which has no offsets to read at: read it with fromJsonLines(createReadStream(path))',
            );
          }
          ino = info.ino;
          if (stopped) return;
          if (resume !== undefined) await resumeAt(handle);
          if (stopped) return;
          if (follow && watcher === undefined) {
            try {
              watcher = watch(path, notify);
              watcher.on('error', () => undefined); // polling still runs
            } catch {
              // Some filesystems cannot be watched; polling alone is enough.
            }
          }
        }
        const { bytesRead } = await handle.read(buffer, 0, CHUNK, position);
        if (stopped) return;
        // Rewritten in place while it was being read (reads follow one another without a wait while there
        // is more to read): those bytes are the new content's, from the middle. Checked after the read, so
        // that only bytes read before a rewrite are taken; the file is then read from its start. A read of
        // only the byte kept back (see `held`), unchanged, is nothing new.
        const fresh = bytesRead > (held !== undefined && buffer[0] === held ? 1 : 0);
        const moved = fresh && follow && position > 0 && (await rewritten(handle));
        if (stopped) return;
        if (moved) {
          finishFile();
          continue;
        }
        if (fresh) {
          // Up to the end of the read, but its last byte when it is not a newline (see `held`).
          const ends = !follow || buffer[bytesRead - 1] === 10;
          held = ends ? undefined : buffer[bytesRead - 1];
          const taken = ends ? bytesRead : bytesRead - 1;
          if (position < FINGERPRINT) {
            const kept = Math.min(taken, FINGERPRINT - position);
            buffer.copy(head, position, 0, kept);
            headLength = position + kept;
          }
          if (!marked) {
            lines.push(decoder.decode(buffer.subarray(0, taken), { stream: true }), emit);
          } else {
            pushMarked(buffer.subarray(0, taken));
          }
          position += taken;
          continue;
        }
        if (!follow) break;
        const current = await stat(path).catch(() => undefined);
        const replaced = current !== undefined && current.ino !== (await handle.stat()).ino;
        // Shorter than what was read (the byte kept back included): truncated.
        const read = held === undefined ? position : position + 1;
        if (current !== undefined && (current.size < read || replaced)) {
          if (replaced && !drained) {
            // Rotated: a line may have been appended to the old file after the read that found its end
            // and before the rotation. Read it to its end once more before leaving it, as `tail -F` does.
            drained = true;
            continue;
          }
          drained = false;
          // Truncated, or rotated to a new file: read the file now at `path` from its start.
          finishFile();
          await handle.close();
          handle = undefined;
          if (replaced) {
            // `fs.watch` follows the old file's inode: watch the new one.
            watcher?.close();
            watcher = undefined;
          }
          continue;
        }
        await waitForChange();
        if (stopped) return;
        // Rewritten in place, to the same size or more: not seen by its size, so by its first bytes.
        if (await rewritten(handle)) finishFile();
      }
      await handle?.close();
      handle = undefined;
      finishFile();
      subscriber.complete();
    })().catch((error: unknown) => {
      if (stopped) return;
      subscriber.error(
        thrown !== undefined
          ? thrown.error
          : new VibespecError('SOURCE_FAILED', `${where}: cannot read ${path}: ${textOf(error)}`, {
              cause: error,
            }),
      );
    });

    return () => {
      stopped = true;
      wake?.();
      clearTimeout(timer);
      watcher?.close();
      dirWatcher?.close();
      void handle?.close().catch(() => undefined);
    };
  });
}
