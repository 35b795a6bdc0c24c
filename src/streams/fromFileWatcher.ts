import { type Dirent, type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { ConfigError, optionKeys, refuseNull, shownText, textOf, VibespecError } from '../errors.js';
import { checkConfig, scheduleLater, timerOption } from '../operators/internal/eventTime.js';
import type { HookOutput } from './toEvents.js';

/** Options of `fromFileWatcher`. */
export interface FileWatcherOptions {
  /** Watch subdirectories too. Default `true`. */
  recursive?: boolean | undefined;
  /**
   * Paths (relative to `dir`, `/`-separated) to leave out; a folder left out is neither read nor watched.
   * Default: anything under `node_modules`, `.git` or `.vibespec`.
   */
  ignore?: RegExp | ((relativePath: string) => boolean) | undefined;
  /**
   * Notifications for the same path within this window are coalesced into one change, and all changes
   * of the window go out in one `file-watcher` output. Default 50 ms. A number of ms from 0 up to
   * 2,147,483,647 (the longest `setTimeout` delay; `Infinity` or a longer one, which Node would turn
   * into 1 ms, is a `ConfigError`).
   */
  debounceMs?: number | undefined;
  /** Schedules the debounce and stamps outputs. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
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
 * vanishes within one debounce window leaves no change (it never existed for a reader). On Linux each
 * folder has a watcher of its own, so a file saved by renaming a copy over it is `modified` at every
 * save; a folder `ignore` leaves out is not watched.
 *
 * ```
 * fs:      touch a  ·  echo >> a  ·  rm a
 * result:  ---c-----------m-------------d---    c/m/d = created/modified/deleted outputs
 * ```
 *
 * Never completes on its own; unsubscribing closes the watchers. A folder that cannot be watched (the
 * system's limit of watches reached), and a `scheduler` whose `schedule()` throws, error with
 * `SOURCE_FAILED`; a consumer that throws on an output (a `Subscriber` of its own), with its exception.
 *
 * @throws ConfigError at construction when `dir` is not a non-empty string, an option is invalid (a
 *   `scheduler` without `now()` and `schedule()`, an `ignore` neither a RegExp nor a function, a
 *   `recursive` not a boolean among them), or its name unknown (named with the nearest known one).
 */
export function fromFileWatcher(dir: string, options?: FileWatcherOptions): Observable<HookOutput> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new ConfigError(`fromFileWatcher: dir must be a non-empty path, got ${shownText(dir)}`);
  }
  // The scheduler too: one without schedule() threw out of the watcher's callback, crashing the process.
  options = checkConfig('fromFileWatcher', options, OPTION_KEYS);
  refuseNull('fromFileWatcher', options, ['debounceMs']);
  const ignoreGiven: unknown = options?.ignore;
  if (ignoreGiven !== undefined && !(ignoreGiven instanceof RegExp) && typeof ignoreGiven !== 'function') {
    // A string (a folder's name) was called as a RegExp's test at the first path: the source failed then.
    throw new ConfigError(
      `fromFileWatcher: ignore must be a RegExp or a function, got ${shownText(ignoreGiven)}`,
    );
  }
  const recursiveGiven: unknown = options?.recursive;
  if (recursiveGiven !== undefined && typeof recursiveGiven !== 'boolean') {
    // 'false' or 0 would be taken by truth: the opposite of what was meant, for the string.
    throw new ConfigError(`fromFileWatcher: recursive must be a boolean, got ${shownText(recursiveGiven)}`);
  }
  const root = resolve(dir);
  const recursive = options?.recursive ?? true;
  const debounceMs = options?.debounceMs ?? 50;
  const scheduler = options?.scheduler ?? asyncScheduler;
  const ignoreOption = options?.ignore ?? DEFAULT_IGNORE;
  timerOption('fromFileWatcher: debounceMs', debounceMs, true);
  // A RegExp with the g or y flag keeps its lastIndex from one test to the next: a path was ignored or
  // not depending on the one tested before it. A copy without them tests every path from its start.
  const ignoreRule =
    ignoreOption instanceof RegExp && (ignoreOption.global || ignoreOption.sticky)
      ? new RegExp(ignoreOption.source, ignoreOption.flags.replace(/[gy]/g, ''))
      : ignoreOption;
  const ignored = (relative: string) =>
    typeof ignoreRule === 'function' ? ignoreRule(relative) : ignoreRule.test(relative);

  // Node 20's recursive watch on Linux (and other platforms without a native one) is a watcher per file
  // and folder kept in JavaScript, which loses a file replaced by a rename — an editor's atomic save —
  // for good: no notification for it ever after. One watcher per folder instead, told of its entries
  // by name, replaced with the folder.
  const perFolder = recursive && process.platform !== 'darwin' && process.platform !== 'win32';

  return new Observable<HookOutput>((subscriber) => {
    // The files known, each with what its last stat showed of it (none for those the scan found).
    const known = new Map<string, string | undefined>();
    // The directories seen (by the scan, or a notification): a file where one was means the files
    // known under it are gone (the directory moved out, its name the only notification).
    const knownDirs = new Set<string>();
    // The paths notified in the window, each with whether a 'change' (content or attributes) was one.
    const dirty = new Map<string, boolean>();
    // The folders watched, the root and (watched per folder) those under it.
    const watchers = new Map<string, FSWatcher>();
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

    /**
     * Watches the folder `path`: false when it cannot be. A folder that vanished or cannot be read is
     * left alone (its parent's notification or a later change of its mode brings it back); any other
     * failure (the system's limit of watches reached) fails the source, since its changes would be lost.
     */
    const watchFolder = (path: string): boolean => {
      if (stopped || subscriber.closed) return false;
      let watcher: FSWatcher;
      try {
        watcher = watch(path, { recursive: recursive && !perFolder }, (event, name) =>
          onChange(event, path, name),
        );
      } catch (error) {
        if (path === root) fail(error);
        else if (!isGone(error)) fail(error, `cannot watch ${path}`);
        return false;
      }
      watchers.set(path, watcher);
      watcher.on('error', (error: unknown) => {
        if (path === root || !isGone(error)) {
          fail(error, `cannot watch ${path}`);
          return;
        }
        // Removed under its watcher (EPERM on Windows): looked at again in the next window.
        unwatch(path);
        notify(path, false);
      });
      return true;
    };

    /** Closes the watchers of the folder `path` and of the folders under it. */
    const unwatch = (path: string) => {
      const prefix = path + sep;
      for (const [folder, watcher] of watchers) {
        if (folder === path || folder.startsWith(prefix)) {
          watcher.close();
          watchers.delete(folder);
        }
      }
    };

    // Synchronous, like Node's own recursive watcher on Linux: the files known are exactly those present
    // when subscribe() returns, so a file created after it is `created`, never mistaken for one the scan
    // found (an asynchronous scan still running when the file appears would list it as existing).
    const scan = (path: string): void => {
      let entries: Dirent[];
      try {
        entries = readdirSync(path, { withFileTypes: true });
      } catch (error) {
        // `dir` a file (watched as one, its notifications name no path under it): nothing would ever
        // be reported. A folder under it vanished or unreadable: nothing to know there.
        if (path === root) fail(error);
        return;
      }
      for (const entry of entries) {
        if (subscriber.closed) return; // the ignore option threw, or a folder could not be watched
        const full = join(path, entry.name);
        const skipped = skip(full);
        if (skipped !== false) continue;
        if (entry.isDirectory()) {
          knownDirs.add(full);
          if (!recursive) continue;
          // Watched first, then read: a change made in between is caught.
          if (perFolder) watchFolder(full);
          scan(full);
        } else if (entry.isSymbolicLink()) {
          // Seen as a notification sees it, through the link (Node renotifies a link at changes beside
          // it or in its target): one to a folder is a folder (not entered: it may loop), a dangling one
          // is nothing. Known as a file, either was reported deleted at its first notification.
          const kind = linkKind(full);
          if (kind === 'folder') knownDirs.add(full);
          else if (kind === 'file') known.set(full, undefined);
        } else {
          // A file named as its folder: a notification naming it may be the folder's own (see onChange),
          // told from one of its own by its stat, which it needs from the start.
          known.set(full, entry.name === basename(path) ? signatureOf(full) : undefined);
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
      unwatch(path);
    };

    /**
     * A folder that a notification found made, moved in or replacing another (its inode may be the old
     * one's, reused): watched afresh, and its entries and what was known under it are looked at in the
     * same window (`list`) — a folder moved in brings no notification for its files.
     */
    const adopt = async (path: string, isNew: boolean, list: (path: string) => void) => {
      const own = await lstat(path).catch(() => undefined);
      // A link to a folder is not entered (it may loop back).
      if (own === undefined || !own.isDirectory()) return;
      if (perFolder) {
        unwatch(path);
        if (!watchFolder(path)) return;
      }
      const names = await readdir(path).catch(() => [] as string[]);
      for (const name of names) {
        const full = join(path, name);
        if (skip(full) === false) list(full);
      }
      // Nothing is known under a folder that was not (a tree moved in is not matched against every file).
      if (isNew) return;
      const prefix = path + sep;
      for (const file of known.keys()) if (file.startsWith(prefix)) list(file);
      for (const folder of knownDirs) if (folder.startsWith(prefix)) list(folder);
    };

    const emitChanges = async () => {
      // The paths notified, then those the folders found list: each looked at once.
      const queue: Array<[path: string, changed: boolean, listed: boolean]> = [];
      for (const [path, changed] of dirty) queue.push([path, changed, false]);
      dirty.clear();
      const queued = new Set(queue.map(([path]) => path));
      const list = (path: string) => {
        if (queued.has(path)) return;
        queued.add(path);
        queue.push([path, false, true]);
      };
      const changes: FileChange[] = [];
      for (let i = 0; i < queue.length; i++) {
        if (stopped) return;
        const [path, changed, listed] = queue[i]!;
        const info = await stat(path).catch(() => undefined);
        if (info?.isDirectory()) {
          const isNew = !knownDirs.has(path);
          knownDirs.add(path);
          // A file it knew, replaced by a directory of the same name within the window: the file is gone.
          if (known.delete(path)) changes.push({ action: 'deleted', path, type: typeOf(path) });
          // Only changed (its mode: on Windows, its entries too) a folder known and watched stays as it is.
          // Watched per folder (Linux), a folder's own notification is a rename, never a change (its mode
          // too): a change there was a file's that took its name in the window, so the folder was
          // replaced (moved out, a file written, removed, the folder made again). Kept as it was, its
          // old files were never deleted and nothing in the new one was ever reported: its watcher was
          // the old folder's.
          if (recursive && (!changed || isNew || perFolder)) await adopt(path, isNew, list);
          continue;
        }
        if (info !== undefined) {
          // A directory it knew, now a file of the same name (moved out, then the file, within the
          // window): the files known under it are gone.
          if (knownDirs.delete(path)) deleteUnder(path, changes);
          const seen = signature(info);
          const wasKnown = known.has(path);
          if (wasKnown && !changed) {
            // Only renamed (Node 20 notifies the files of a folder renamed in the tree again, as renamed,
            // at the next change beside it), or listed with its folder, and the same file as its last
            // stat showed (or, listed, one the scan found): no change.
            const last = known.get(path);
            if (last === seen || (listed && last === undefined)) {
              known.set(path, seen);
              continue;
            }
          }
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
        const output: HookOutput = { hook: 'file-watcher', output: { changes }, timestamp: scheduler.now() };
        try {
          subscriber.next(output);
        } catch (error) {
          // A consumer that throws (a `Subscriber` of its own) ends the output with its exception as it is.
          // It was a `SOURCE_FAILED` saying the folder cannot be watched.
          subscriber.error(error);
        }
      }
    };

    const closeWindow = () => {
      flush = undefined;
      emitting = emitting.then(emitChanges).catch(fail);
    };

    /** Marks `full` for the window, opening one if none is. */
    const notify = (full: string, changed: boolean) => {
      dirty.set(full, dirty.get(full) === true || changed);
      if (flush !== undefined) return;
      // Kept only if not run already: on a scheduler that runs it at once (queueScheduler with a
      // debounceMs of 0), the spent action would stand for a pending window, and no later change be sent.
      let scheduled: Subscription | undefined;
      try {
        // Its error is wrapped in a SOURCE_FAILED that names fromFileWatcher ('the scheduler failed: …').
        scheduled = scheduleLater(scheduler, closeWindow, debounceMs, 'scheduler');
      } catch (error) {
        // A scheduler whose schedule() throws: thrown from the watcher's callback, it crashed the process.
        fail(error, 'the scheduler failed');
        return;
      }
      if (scheduled !== undefined) flush = scheduled;
    };

    const onChange = (event: string, folder: string, filename: string | Buffer | null) => {
      if (stopped || filename === null) return;
      const name = filename.toString();
      const full = join(folder, name);
      if (skip(full) !== false) return;
      // Linux names a folder's own notifications (its mode or times changed: a 'change') after the folder:
      // for `lib`'s watcher, a `lib` changed is the folder or its file `lib/lib`. Not taken as a change of
      // the file, then, but looked at: reported if its stat differs from the last one.
      notify(full, event === 'change' && name !== basename(folder));
    };

    // Watch first, then scan: a change made while the scan runs is caught. Neither yields to the event
    // loop, so no notification is handled before the scan has finished.
    if (!watchFolder(root)) return;
    scan(root);

    // Returned even when the scan failed the source: RxJS runs it at once then, closing the watchers.
    return () => {
      stopped = true;
      flush?.unsubscribe();
      unwatch(root);
    };
  });
}

/** What a file's stat shows of its content and attributes: another after any change. */
function signature(info: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${info.ino}/${info.size}/${info.mtimeMs}/${info.ctimeMs}`;
}

/** `signature` of the file `path` now (followed as `stat` follows a link); none when it cannot be read. */
function signatureOf(path: string): string | undefined {
  try {
    return signature(statSync(path));
  } catch {
    return undefined;
  }
}

/** A folder that vanished, or cannot be read: nothing to watch there. */
function isGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM';
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
