import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Observable } from 'rxjs';
import { ConfigError, textOf, VibespecError } from '../errors.js';
import { timerOption } from '../operators/internal/eventTime.js';
import { type JsonLinesOptions, LineReader } from './jsonLines.js';
import type { HookOutput } from './toEvents.js';

/** Options of `fromHookFile`. */
export interface HookFileOptions extends JsonLinesOptions {
  /**
   * Keep reading as lines are appended (like `tail -F`) instead of completing at the end of the file.
   * A missing file is waited for. A file rotated (a new file at the path), truncated, or rewritten in
   * place (its first bytes changed, even while it is being read) is read again from its start, once the
   * old one's lines are all read: its last line, even without a newline, is emitted (or rejected), not
   * dropped. Default `false`.
   */
  follow?: boolean;
  /**
   * How often a followed file is polled, on top of `fs.watch` notifications (of the file, and of its
   * directory for the file's name). Default 250 ms. A positive number of ms up to 2,147,483,647 (the
   * longest `setTimeout` delay; `Infinity` or a longer one, which Node would turn into 1 ms, is a
   * `ConfigError`).
   */
  pollIntervalMs?: number;
}

const CHUNK = 64 * 1024;
/**
 * How many of a followed file's first bytes are kept and read again after each wait, to tell a rewrite
 * in place (same inode, same or greater size: a shell's `>`, `writeFileSync`, `copytruncate` and a
 * write) from an append, which never changes them.
 */
const FINGERPRINT = 256;

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
 * @throws ConfigError at construction when `path` is not a non-empty string or an option is invalid.
 * @throws (as an error notification) `VibespecError` `SOURCE_FAILED` when the file cannot be read
 *   (and, without `follow`, when it does not exist).
 */
export function fromHookFile(path: string, options?: HookFileOptions): Observable<HookOutput> {
  return readHookFile<HookOutput>(path, options, undefined);
}

/**
 * Internal (not part of the package's API): where a line of a hook file ends, and which file it is in.
 * The `vibespec-streams ingest` command saves the mark of the last line it stored and resumes there.
 */
export interface HookFileMark {
  /** Byte offset just after the line: after its `\n`, or the file's end for a last line without one. */
  end: number;
  /**
   * Whether the line ended with a newline. A line without one is the last of a file (at its end without
   * `follow`, or of a rotated or truncated file with it) and may still be being appended.
   */
  terminated: boolean;
  /** The file's inode. */
  ino: number;
  /** Hex of the file's first `min(256, end)` bytes: tells a file rewritten in place, or a reused inode. */
  head: string;
}

/** Internal: a `HookOutput` of `fromHookFileMarked` with the mark of its line. */
export interface MarkedHookOutput {
  output: HookOutput;
  mark: HookFileMark;
}

/**
 * Internal: `fromHookFile`, each output with the mark of its line, started after the line of a saved mark
 * when the file at `path` is still the one the mark was taken in: same inode, at least `mark.end` bytes,
 * and the same first bytes. Otherwise (or without `resume`) it starts at the file's beginning.
 */
export function fromHookFileMarked(
  path: string,
  options?: HookFileOptions,
  resume?: Pick<HookFileMark, 'end' | 'ino' | 'head'>,
): Observable<MarkedHookOutput> {
  return readHookFile<MarkedHookOutput>(path, options, { resume });
}

function readHookFile<T>(
  path: string,
  options: HookFileOptions | undefined,
  // Present for `fromHookFileMarked`: only then are line ends located and marks made.
  marked: { resume: Pick<HookFileMark, 'end' | 'ino' | 'head'> | undefined } | undefined,
): Observable<T> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new ConfigError(`fromHookFile: path must be a non-empty path, got ${textOf(path)}`);
  }
  const follow = options?.follow ?? false;
  const pollIntervalMs = timerOption('fromHookFile: pollIntervalMs', options?.pollIntervalMs ?? 250);
  new LineReader(options); // validate options at construction
  return new Observable<T>((subscriber) => {
    const lines = new LineReader(options);
    /** Of the line being emitted, with `marked`: where it ends, and whether with a newline. */
    let lineEnd = 0;
    let terminated = false;
    let ino = 0;
    /** The saved mark to start at, until the first file is opened (a later one is a rotation). */
    let resume = marked?.resume;
    /** The hex of the file's first `min(FINGERPRINT, end)` bytes, for the last `end` asked. */
    let headHex: { length: number; hex: string } | undefined;
    const emit =
      marked === undefined
        ? (output: HookOutput) => subscriber.next(output as T)
        : (output: HookOutput) => {
            const length = Math.min(FINGERPRINT, lineEnd);
            if (headHex?.length !== length) headHex = { length, hex: head.toString('hex', 0, length) };
            subscriber.next({
              output,
              mark: { end: lineEnd, terminated, ino, head: headHex.hex },
            } as T);
          };
    let decoder = new TextDecoder('utf-8');
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

    const openFile = async (): Promise<FileHandle | undefined> => {
      try {
        return await open(path, 'r');
      } catch (error) {
        if (follow && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    };

    // The first bytes of the file as read, to recognize a rewrite in place.
    const head = Buffer.alloc(FINGERPRINT);
    const probe = Buffer.alloc(FINGERPRINT);
    let headLength = 0;

    /** The end of the file read so far: its last line, even without a newline, is not dropped. */
    const finishFile = () => {
      lineEnd = position;
      terminated = false;
      lines.push(decoder.decode(), emit);
      lines.end(emit);
      decoder = new TextDecoder('utf-8');
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
     * With a saved mark: the position to start the opened file at — the mark's end if the file is the
     * one it was taken in (same inode, long enough, same first bytes), else 0.
     */
    const resumeAt = async (file: FileHandle): Promise<void> => {
      const saved = resume;
      resume = undefined;
      if (saved === undefined) return;
      const { size } = await file.stat();
      if (ino !== saved.ino || size < saved.end) return;
      const length = Math.min(FINGERPRINT, saved.end);
      const { bytesRead } = await file.read(head, 0, length, 0);
      if (bytesRead !== length || head.toString('hex', 0, length) !== saved.head) return;
      headLength = length;
      position = saved.end;
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
          if (marked !== undefined) {
            ino = (await handle.stat()).ino;
            await resumeAt(handle);
            if (stopped) return;
          }
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
        // that only bytes read before a rewrite are taken; the file is then read from its start.
        const moved = bytesRead > 0 && follow && position > 0 && (await rewritten(handle));
        if (stopped) return;
        if (moved) {
          finishFile();
          continue;
        }
        if (bytesRead > 0) {
          if (position < FINGERPRINT) {
            const kept = Math.min(bytesRead, FINGERPRINT - position);
            buffer.copy(head, position, 0, kept);
            headLength = position + kept;
          }
          if (marked === undefined) {
            lines.push(decoder.decode(buffer.subarray(0, bytesRead), { stream: true }), emit);
          } else {
            pushMarked(buffer.subarray(0, bytesRead));
          }
          position += bytesRead;
          continue;
        }
        if (!follow) break;
        const current = await stat(path).catch(() => undefined);
        const replaced = current !== undefined && current.ino !== (await handle.stat()).ino;
        if (current !== undefined && (current.size < position || replaced)) {
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
      if (!stopped) {
        subscriber.error(
          new VibespecError(
            'SOURCE_FAILED',
            `fromHookFile: cannot read ${path}: ${(error as Error).message}`,
            {
              cause: error,
            },
          ),
        );
      }
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
