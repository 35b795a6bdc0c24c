import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { Observable } from 'rxjs';
import { ConfigError, VibespecError } from '../errors.js';
import { type JsonLinesOptions, LineReader } from './jsonLines.js';
import type { HookOutput } from './toEvents.js';

/** Options of `fromHookFile`. */
export interface HookFileOptions extends JsonLinesOptions {
  /**
   * Keep reading as lines are appended (like `tail -f`) instead of completing at the end of the file.
   * A missing file is waited for; a file that shrinks (rotated or truncated) is read again from its
   * start. Default `false`.
   */
  follow?: boolean;
  /** How often a followed file is polled, on top of `fs.watch` notifications. Default 250 ms. */
  pollIntervalMs?: number;
}

const CHUNK = 64 * 1024;

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
 * @throws (as an error notification) `VibespecError` `SOURCE_FAILED` when the file cannot be read
 *   (and, without `follow`, when it does not exist).
 */
export function fromHookFile(path: string, options?: HookFileOptions): Observable<HookOutput> {
  const follow = options?.follow ?? false;
  const pollIntervalMs = options?.pollIntervalMs ?? 250;
  if (!(pollIntervalMs > 0))
    throw new ConfigError(`fromHookFile: pollIntervalMs must be > 0, got ${pollIntervalMs}`);
  new LineReader(options); // validate options at construction
  return new Observable<HookOutput>((subscriber) => {
    const lines = new LineReader(options);
    const emit = (output: HookOutput) => subscriber.next(output);
    let decoder = new TextDecoder('utf-8');
    let handle: FileHandle | undefined;
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    let stopped = false;
    let position = 0;

    const waitForChange = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, pollIntervalMs);
      }).finally(() => {
        wake = undefined;
        clearTimeout(timer);
      });

    const openFile = async (): Promise<FileHandle | undefined> => {
      try {
        return await open(path, 'r');
      } catch (error) {
        if (follow && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    };

    (async () => {
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        if (stopped) return;
        if (handle === undefined) {
          handle = await openFile();
          if (stopped) return;
          if (handle === undefined) {
            await waitForChange();
            continue;
          }
          if (follow && watcher === undefined) {
            try {
              watcher = watch(path, () => wake?.());
              watcher.on('error', () => undefined); // polling still runs
            } catch {
              // Some filesystems cannot be watched; polling alone is enough.
            }
          }
        }
        const { bytesRead } = await handle.read(buffer, 0, CHUNK, position);
        if (stopped) return;
        if (bytesRead > 0) {
          position += bytesRead;
          lines.push(decoder.decode(buffer.subarray(0, bytesRead), { stream: true }), emit);
          continue;
        }
        if (!follow) break;
        const current = await stat(path).catch(() => undefined);
        const replaced = current !== undefined && current.ino !== (await handle.stat()).ino;
        if (current !== undefined && (current.size < position || replaced)) {
          // Truncated, or rotated to a new file: read the file now at `path` from its start.
          position = 0;
          lines.reset();
          decoder = new TextDecoder('utf-8');
          await handle.close();
          handle = undefined;
          continue;
        }
        await waitForChange();
      }
      await handle?.close();
      handle = undefined;
      lines.push(decoder.decode(), emit);
      lines.end(emit);
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
      void handle?.close().catch(() => undefined);
    };
  });
}
