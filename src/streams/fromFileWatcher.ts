import { type Dirent, type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { ConfigError, optionKeys, rejectUnknownKeys, shownText, textOf, VibespecError } from '../errors.js';
import { scheduleLater, timerOption } from '../operators/internal/eventTime.js';
import type { HookOutput } from './toEvents.js';

/** Options of `fromFileWatcher`. */
export interface FileWatcherOptions {
  /** Watch subdirectories too. Default `true`. */
  recursive?: boolean;
  /**
   * Paths (relative to `dir`, `/`-separated) to leave out. Default: anything under `node_modules`,
   * `.git` or `.vibespec`.
   */
  ignore?: RegExp | ((relativePath: string) => boolean);
  /**
   * Notifications for the same path within this window are coalesced into one change, and all changes
   * of the window go out in one `file-watcher` output. Default 50 ms. A number of ms from 0 up to
   * 2,147,483,647 (the longest `setTimeout` delay; `Infinity` or a longer one, which Node would turn
   * into 1 ms, is a `ConfigError`).
   */
  debounceMs?: number;
  /** Schedules the debounce and stamps outputs. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** A change in a `file-watcher` hook output. */
export interface FileChange {
  action: 'created' | 'modified' | 'deleted';
  path: string;
  type: string;
  size?: number;
}

const OPTION_KEYS = optionKeys<FileWatcherOptions>({
  recursive: true,
  ignore: true,
  debounceMs: true,
  scheduler: true,
});

const DEFAULT_IGNORE = /(^|\/)(node_modules|\.git|\.vibespec)(\/|$)/;

/**
 * Watches a directory and emits the seed's `file-watcher` hook outputs —
 * `{ hook: 'file-watcher', output: { changes: [{ action, path, type, size }] } }` — from real
 * filesystem changes (`fs.watch`). Files present when `subscribe()` returns are known (the scan is
 * synchronous), so a later write is `modified` and a new file `created`; a file removed is `deleted`,
 * and so is each file of a directory removed or moved out of the tree (also when a file of its name
 * takes its place), and a file replaced by a directory of the same name. A file that appears and
 * vanishes within one debounce window leaves no change (it never existed for a reader).
 *
 * ```
 * fs:      touch a  ·  echo >> a  ·  rm a
 * result:  ---c-----------m-------------d---    c/m/d = created/modified/deleted outputs
 * ```
 *
 * Never completes on its own; unsubscribing closes the watcher.
 *
 * @throws ConfigError at construction when `dir` is not a non-empty string, an option is invalid, or its
 *   name unknown (named with the nearest known one).
 */
export function fromFileWatcher(dir: string, options?: FileWatcherOptions): Observable<HookOutput> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new ConfigError(`fromFileWatcher: dir must be a non-empty path, got ${shownText(dir)}`);
  }
  rejectUnknownKeys('fromFileWatcher', options, OPTION_KEYS);
  const root = resolve(dir);
  const recursive = options?.recursive ?? true;
  const debounceMs = options?.debounceMs ?? 50;
  const scheduler = options?.scheduler ?? asyncScheduler;
  const ignoreOption = options?.ignore ?? DEFAULT_IGNORE;
  timerOption('fromFileWatcher: debounceMs', debounceMs, true);
  const ignored = (relative: string) =>
    typeof ignoreOption === 'function' ? ignoreOption(relative) : ignoreOption.test(relative);

  return new Observable<HookOutput>((subscriber) => {
    // The files known, each with what its last stat showed of it (none for those the scan found).
    const known = new Map<string, string | undefined>();
    // The directories seen (by the scan, or a notification): a file where one was means the files
    // known under it are gone (the directory moved out, its name the only notification).
    const knownDirs = new Set<string>();
    // The paths notified in the window, each with whether a 'change' (content or attributes) was one.
    const dirty = new Map<string, boolean>();
    let watcher: FSWatcher | undefined;
    let flush: Subscription | undefined;
    let stopped = false;
    // One emitChanges at a time: two overlapping runs (a debounce window closing while the previous
    // one still waits for its stats) would both see a new file as unknown and report it created twice,
    // and could emit their outputs out of order.
    let emitting: Promise<void> = Promise.resolve();

    const fail = (error: unknown, what = `cannot watch ${root}`) => {
      if (stopped || subscriber.closed) return;
      subscriber.error(
        new VibespecError('SOURCE_FAILED', `fromFileWatcher: ${what}: ${textOf(error)}`, {
          cause: error,
        }),
      );
    };

    /** `ignore`, a user callback: one that throws fails the source, never the watcher's callback. */
    const skip = (full: string): boolean | undefined => {
      const relative = toRelative(root, full);
      try {
        return ignored(relative);
      } catch (error) {
        fail(error, `the ignore option threw for ${relative}`);
        return undefined;
      }
    };

    // Synchronous, like Node's own recursive watcher on Linux: the files known are exactly those present
    // when subscribe() returns, so a file created after it is `created`, never mistaken for one the scan
    // found (an asynchronous scan still running when the file appears would list it as existing).
    const scan = (path: string, depth: number): void => {
      let entries: Dirent[];
      try {
        entries = readdirSync(path, { withFileTypes: true });
      } catch {
        return; // vanished or unreadable: nothing to know there
      }
      for (const entry of entries) {
        if (subscriber.closed) return; // the ignore option threw
        const full = join(path, entry.name);
        const skipped = skip(full);
        if (skipped !== false) continue;
        if (entry.isDirectory()) {
          knownDirs.add(full);
          if (recursive && depth < 64) scan(full, depth + 1);
        } else if (entry.isSymbolicLink()) {
          // Seen as a notification sees it, through the link (Node renotifies a link at changes beside
          // it or in its target): one to a folder is a folder (not entered: it may loop), a dangling one
          // is nothing. Known as a file, either was reported deleted at its first notification.
          const kind = linkKind(full);
          if (kind === 'folder') knownDirs.add(full);
          else if (kind === 'file') known.set(full, undefined);
        } else {
          known.set(full, undefined);
        }
      }
    };

    /** Deletes the files known under the directory `path`, and forgets the directories under it. */
    const deleteUnder = (path: string, changes: FileChange[]) => {
      const prefix = path + sep;
      for (const file of known.keys()) {
        if (file.startsWith(prefix)) {
          known.delete(file);
          changes.push({ action: 'deleted', path: file, type: typeOf(file) });
        }
      }
      for (const directory of knownDirs) if (directory.startsWith(prefix)) knownDirs.delete(directory);
    };

    const emitChanges = async () => {
      const paths = [...dirty];
      dirty.clear();
      const changes: FileChange[] = [];
      for (const [path, changed] of paths) {
        const info = await stat(path).catch(() => undefined);
        if (info?.isDirectory()) {
          knownDirs.add(path);
          // A file it knew, replaced by a directory of the same name within the window: the file is gone.
          if (known.delete(path)) changes.push({ action: 'deleted', path, type: typeOf(path) });
          continue;
        }
        if (info !== undefined) {
          // A directory it knew, now a file of the same name (moved out, then the file, within the
          // window): the files known under it are gone.
          if (knownDirs.delete(path)) deleteUnder(path, changes);
          const seen = `${info.ino}/${info.size}/${info.mtimeMs}/${info.ctimeMs}`;
          const wasKnown = known.has(path);
          // Only renamed (Node 20 notifies the files of a folder renamed in the tree again, as renamed,
          // at the next change beside it), the same file as its last stat showed: no change.
          if (wasKnown && !changed && known.get(path) === seen) continue;
          changes.push({
            action: wasKnown ? 'modified' : 'created',
            path,
            type: typeOf(path),
            size: info.size,
          });
          known.set(path, seen);
        } else if (known.delete(path)) {
          changes.push({ action: 'deleted', path, type: typeOf(path) });
        } else {
          // Not a file it knew: perhaps a directory, removed or moved out of the tree. Moved out, it is
          // the only notification (none for the files in it), so the files known under it are deleted.
          knownDirs.delete(path);
          deleteUnder(path, changes);
        }
      }
      if (!stopped && changes.length > 0) {
        subscriber.next({ hook: 'file-watcher', output: { changes }, timestamp: scheduler.now() });
      }
    };

    const closeWindow = () => {
      flush = undefined;
      emitting = emitting.then(emitChanges).catch(fail);
    };

    const onChange = (event: string, filename: string | Buffer | null) => {
      if (stopped || filename === null) return;
      const full = join(root, filename.toString());
      if (skip(full) !== false) return;
      dirty.set(full, dirty.get(full) === true || event === 'change');
      if (flush !== undefined) return;
      // Kept only if not run already: on a scheduler that runs it at once (queueScheduler with a
      // debounceMs of 0), the spent action would stand for a pending window, and no later change be sent.
      const scheduled = scheduleLater(scheduler, closeWindow, debounceMs);
      if (scheduled !== undefined) flush = scheduled;
    };

    // Watch first, then scan: a change made while the scan runs is caught. Neither yields to the event
    // loop, so no notification is handled before the scan has finished.
    try {
      watcher = watch(root, { recursive }, (event, filename) => onChange(event, filename));
      watcher.on('error', fail);
    } catch (error) {
      fail(error);
      return;
    }
    scan(root, 0);

    // Returned even when the scan failed the source: RxJS runs it at once then, closing the watcher.
    return () => {
      stopped = true;
      flush?.unsubscribe();
      watcher?.close();
    };
  });
}

/** What a symbolic link leads to, followed as `stat` follows it: nothing when it dangles or loops. */
function linkKind(path: string): 'file' | 'folder' | undefined {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'file';
  } catch {
    return undefined;
  }
}

function toRelative(root: string, full: string): string {
  return full.slice(root.length + 1).replaceAll('\\', '/');
}

function typeOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : 'unknown';
}
