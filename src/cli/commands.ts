/**
 * The commands of `vibespec-streams` that read or write the store or run the bridge: `ingest`, `bridge`,
 * `sessions`, `context`, `replay`. `main` imports this module only when one of them runs, so that `record`
 * — the hook, which Claude Code waits for at every event — loads none of RxJS, zod, LevelDB, the store or
 * the bridge (~150 ms of a run on this machine). `main` checks their arguments before.
 */
import { createReadStream, existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { lstat, open, readdir, readFile, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { concatMap, EMPTY, from, lastValueFrom, Subject, takeUntil, tap } from 'rxjs';
import { textOf, VibespecError } from '../errors.js';
import { eventToJSON } from '../event.js';
import { syncFolder } from '../folders.js';
import { StoreError } from '../store/errors.js';
import { persist } from '../store/persist.js';
import { type Durability, openStore, type SessionInfo, type SessionStore } from '../store/SessionStore.js';
import { bridgeHooks } from '../streams/bridge.js';
import { fromHookFileMarked, type HookFileMark, resumeOption } from '../streams/fromHookFile.js';
import { fromJsonLines } from '../streams/fromJsonLines.js';
import { bridgeLimits, mapHookOutput } from '../streams/toEvents.js';
import { named } from './named.js';
import { standardOutput } from './output.js';
import { StoppedError, signalExitCode } from './stopped.js';

const stdout = standardOutput();

/** A count and its noun, singular for 1 (`1 event`, `0 events`, `2 new lines`). */
function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

/**
 * A relative path that is not here but is in a folder above (`.vibespec/event-store` from `src/`, the
 * project's under it): what a command run from a subfolder of the project — where `npx` finds it too — was
 * meant to read: the folder it is in. `mark` is the file that must be there (a store's `CURRENT`), if not the
 * path itself.
 */
function foundAbove(path: string, mark = ''): string | undefined {
  if (isAbsolute(path)) return undefined;
  let folder = dirname(resolve());
  for (;;) {
    if (existsSync(join(folder, path, mark))) return folder;
    const up = dirname(folder);
    if (up === folder) return undefined;
    folder = up;
  }
}

/** `foundAbove`'s path as the end of a message: what to run instead. */
function aboveText(path: string, option: '--log' | '--store', mark?: string): string {
  const folder = foundAbove(path, mark);
  if (folder === undefined) return '';
  const there = join(folder, path);
  return `; there is one at ${there}: run this from ${folder}, or give ${option} ${there}`;
}

/** The innermost cause of an error: a library's error wraps the system's (`EISDIR`) or LevelDB's one. */
function rootCause(error: unknown): unknown {
  let cause = error;
  for (let depth = 0; depth < 10 && cause instanceof Error && cause.cause !== undefined; depth++) {
    cause = cause.cause;
  }
  return cause;
}

/**
 * An error said in the CLI's words (the file with its full path, what to do), for one a library function or
 * the system threw in its own (`fromJsonLines: cannot read the input: ENOENT…`): that error is its `cause`,
 * and the system's `code` (`EISDIR`, `ENOSPC`) is kept, for a caller of `main` that tells them apart.
 */
function cliError(message: string, cause: unknown): Error {
  const error = new Error(message, { cause });
  const code = (rootCause(cause) as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? Object.assign(error, { code }) : error;
}

/** The system's error code of `error` or of its innermost cause (`ENOENT`, `EISDIR`). */
const codeOf = (error: unknown) => (rootCause(error) as { code?: unknown } | null)?.code;

/**
 * The store of a command that only reads: a folder that is not there, or is not a store (no LevelDB
 * `CURRENT` file: `--store .vibespec` for `.vibespec/event-store`), is a mistyped `--store` or a store
 * never ingested into, and is said so, rather than a new empty store created in it (which `openStore`
 * would do).
 */
async function openExisting(path: string) {
  if (!existsSync(join(path, 'CURRENT'))) {
    const what = existsSync(path) ? `${named(path)} is not a store` : `no store at ${named(path)}`;
    throw new Error(
      `${what} (ingest a log into it first: vibespec-streams ingest --store ${path})${aboveText(path, '--store', 'CURRENT')}`,
    );
  }
  return openCli({ path });
}

/**
 * `openStore`, with the CLI's words for a store another process has open (the library's message speaks of
 * `openStore`'s `path` option).
 */
async function openCli(
  options: { path: string; durability?: Durability },
  advice = 'Stop it and run this again (an ingest resumes where it stopped), read the log itself with ' +
    'vibespec-streams bridge, or use another store (--store)',
): Promise<SessionStore> {
  try {
    return await openStore(options);
  } catch (error) {
    if (error instanceof VibespecError && error.code === 'STORE_LOCKED') {
      throw new Error(
        `the store at ${named(options.path)} is locked: another process has it open (an ingest --follow, say). ${advice}`,
        { cause: error },
      );
    }
    if (error instanceof VibespecError && error.code === 'STORE_NOT_OPEN') {
      // The library's "Database failed to open" says nothing of why: its innermost cause does.
      const file = await stat(options.path).catch(() => undefined);
      throw cliError(
        file !== undefined && !file.isDirectory()
          ? `${named(options.path)} is a file, not a store: --store names the store's folder`
          : `cannot open the store at ${named(options.path)}: ${textOf(rootCause(error))}`,
        error,
      );
    }
    throw error;
  }
}

/**
 * A session that is not in the store is a mistyped id, and is said so (exit 1): its context would read as
 * an empty one, its replay as nothing at all, both with exit 0.
 */
async function assertSession(store: SessionStore, storePath: string, id: string): Promise<SessionInfo> {
  const info = await store.session(id);
  if (info === undefined) {
    throw new Error(
      `no session ${quoted(id)} in ${named(storePath)} (vibespec-streams sessions --store ${storePath} lists them)`,
    );
  }
  return info;
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
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    throw cliError(
      code === 'ENOTDIR'
        ? `no log can be at ${named(offsetFile.replace(/\.offset$/, ''))}: a folder on its path is a file (--log names the file the hooks record to)`
        : `cannot read ${named(offsetFile)}, where ingest keeps its place in the log: ${textOf(error)}`,
      error,
    );
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
      `${named(offsetFile)} is not an offset file ({ "offset", "ino", "head" }); remove it to ingest the log from its start`,
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
 * Fails unless `FILE.offset` can be written: nothing in the way of the file it is written to first, a folder
 * `ingest` can write in. Found at the first save instead, after a write to the store, the run's lines would
 * be stored but their mark not saved, and stored again by the run after. Called with the store's lock held:
 * another `ingest` may be writing that file until then.
 */
async function checkWritable(offsetFile: string): Promise<void> {
  const temporary = `${offsetFile}.tmp`;
  try {
    await (await open(temporary, 'w')).close();
    await rm(temporary);
  } catch (error) {
    throw savingError(offsetFile, error);
  }
}

/** A failure to write `FILE.offset` (or the file it is written to first), in the CLI's words. */
function savingError(offsetFile: string, error: unknown): Error {
  return cliError(
    `cannot save the place in the log to ${named(offsetFile)} (written first to ${basename(offsetFile)}.tmp, ` +
      `beside it): ${textOf(error)}`,
    error,
  );
}

/**
 * A write to the store that LevelDB failed (its code `LEVEL_IO_ERROR` or `LEVEL_CORRUPTION`: a full disk, a
 * file-size limit, a failing disk), in the CLI's words: the store's own message (`persist: a write of 120
 * event(s) failed; … (see .events): … open it again and write these events again`) speaks to an app holding
 * the error, where the user of `ingest` has only to run it again: the store is closed, and `offsetFile` marks
 * the lines whose events were stored, no other. Any other error as it is.
 */
function storeWriteError(
  error: unknown,
  storePath: string,
  offsetFile: string,
  { written, lines }: { written: number; lines: number },
): unknown {
  const code = codeOf(error);
  if (!(error instanceof StoreError && (code === 'LEVEL_IO_ERROR' || code === 'LEVEL_CORRUPTION')))
    return error;
  return cliError(
    `cannot write to the store at ${named(storePath)}: ${textOf(rootCause(error))}. ${counted(written, 'event')} ` +
      `from ${counted(lines, 'new line')} were stored, and ${named(offsetFile)} marks them: run ingest again once ` +
      'the store can be written (room made on its disk), and it goes on from the first line not stored',
    error,
  );
}

/**
 * A log `fromHookFileMarked` could not read (`SOURCE_FAILED`), in the CLI's words; any other error as it is.
 */
function logError(log: string, error: unknown): unknown {
  if (!(error instanceof VibespecError && error.code === 'SOURCE_FAILED')) return error;
  const cause = rootCause(error);
  return cliError(
    codeOf(error) === 'EISDIR'
      ? `the log ${named(log)} is a folder: --log names the file the hooks record to`
      : `cannot read the log ${named(log)}: ${textOf(cause)}`,
    error,
  );
}

/** Whether nothing is at `path` (ENOENT); not `existsSync`, which says false for a path it cannot reach. */
async function isMissing(path: string): Promise<boolean> {
  try {
    await stat(path);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * The signals that stop `ingest` and `rotate` cleanly (the reading ended, what was read stored and marked,
 * the store closed): Ctrl+C, `kill` or a service manager's stop, and SIGHUP, which a terminal closed sends to
 * an `ingest --follow` run in it. Not listened to, SIGHUP killed it mid-write: the lines in flight were
 * stored again by the next run.
 */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** What one pass of `ingestInto` did: for the summary, and where the log was left. */
interface Ingested {
  /** Events written. */
  written: number;
  /** Lines whose events were written (not those skipped by an earlier version's line count). */
  lines: number;
  /** The log's last line had no newline yet: left for the next run. */
  partial: boolean;
  /** Where the log now resumes: the last line committed, or the saved mark when none was. */
  mark: Resume | undefined;
  /** The signal that ended the reading, if one did (one of `STOP_SIGNALS`). */
  stopped: NodeJS.Signals | undefined;
}

/**
 * Checks what `ingest` and `rotate` can check before the store is opened, so that no store is made for
 * nothing: an offset file it cannot read; an offset file with no store at `storePath` (a `--store` left out
 * or mistyped: made there, the store would get only the lines after the offset file's mark, and the right
 * store would never get them); and (`mustExist`) a log that is not there. Only a log that is not there
 * (ENOENT): one that cannot be reached (EACCES, ELOOP…) is said as itself, by the read.
 */
async function checkLog(
  log: string,
  storePath: string,
  mustExist: boolean,
  nothing: string,
  unchanged = '',
): Promise<void> {
  const { resume, lines } = await readOffset(`${log}.offset`);
  if ((resume !== undefined || lines !== undefined) && !existsSync(join(storePath, 'CURRENT'))) {
    const what = existsSync(storePath)
      ? `${named(storePath)} is not a store`
      : `no store at ${named(storePath)}`;
    throw new Error(
      `${what}, yet ${log}.offset says the log was ingested into one: give its --store${unchanged}, ` +
        `or remove ${log}.offset to store the whole log in a new one`,
    );
  }
  if (mustExist && (await isMissing(log))) {
    throw new Error(
      `no log at ${named(log)}: nothing to ${nothing} (no hook has recorded there yet, or --log names another file)${aboveText(log, '--log')}`,
    );
  }
}

/**
 * Bridges the new lines of `log` into `store`, which the caller has open (and so holds its lock) and
 * closes, and saves where it got to in `offsetFile`: to its end, or with `follow` on and on, until SIGINT
 * or SIGTERM (or SIGHUP: see `STOP_SIGNALS`), which ends the reading (`stopped`). The offset file is read
 * here, with the lock held: read before, it could be an earlier one than another `ingest`, which had the
 * store until then, left; the lines that one stored would be stored again.
 */
async function ingestInto(
  store: SessionStore,
  log: string,
  offsetFile: string,
  follow: boolean,
  durability: Durability,
  pollIntervalMs: number | undefined,
): Promise<Ingested> {
  const { resume, lines: legacyLines = 0 } = await readOffset(offsetFile);
  await checkWritable(offsetFile);
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
        saveError = { error: savingError(offsetFile, error) };
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
  const interrupted = new Subject<void>();
  let stopped: NodeJS.Signals | undefined;
  // Ctrl+C, and `kill` / a service manager's stop: both end the run as its end of input would (the lines
  // read stored and their mark saved, the store closed, the summary said), rather than killing it mid-write,
  // which would leave the lines in flight to be stored again. Listened to once: a second one, should the
  // store hang, kills the process.
  const onInterrupt = (signal: NodeJS.Signals) => {
    stopped ??= signal;
    interrupted.next();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const subscription = fromHookFileMarked(log, {
        follow,
        resumeFrom: resume,
        ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
      })
        .pipe(
          // A signal ends the reading, not the run: what was read is written and acknowledged, so that
          // its lines are committed and their mark saved. (Unsubscribed, persist would write the batch in
          // flight without acknowledging it: the next run would store its lines again.)
          takeUntil(interrupted),
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
      for (const signal of STOP_SIGNALS) process.once(signal, onInterrupt);
    });
  } catch (error) {
    failure = { error: logError(log, error) };
  }
  // Cleanup never masks the first error.
  for (const signal of STOP_SIGNALS) process.off(signal, onInterrupt);
  onSaveError = undefined;
  // Saving runs as lines commit, so waiting for it leaves the last committed mark on disk (or an
  // error). Nothing committed: nothing written.
  while (saving !== undefined) await saving;
  if (saveError !== undefined) failure ??= saveError;
  if (failure !== undefined)
    throw storeWriteError(failure.error, store.path, offsetFile, { written, lines: newLines });
  return { written, lines: newLines, partial, mark: committed ?? resume, stopped };
}

/** Runs `work`, then closes `store` whatever happened: the first error is the one thrown. */
async function thenClose<T>(store: SessionStore, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await store.close().catch(() => {}); // the error of the work is the one said
    throw error;
  }
  await store.close();
  return result;
}

/**
 * The summary line of a pass over `log`; `toEnd`: a pass that reads the log to its end, for which a signal
 * is said (one ends `--follow`, which never reaches an end, as it should).
 */
function ingestedText({ written, lines, partial, stopped }: Ingested, log: string, toEnd = true): string {
  const rest =
    stopped !== undefined && toEnd
      ? ` (stopped by ${stopped}: the lines after are left for the next run)`
      : partial
        ? ' (its last line has no newline yet: left for the next run)'
        : '';
  return `ingested ${counted(written, 'event')} from ${counted(lines, 'new line')} of ${log}${rest}`;
}

/**
 * Bridges the log's new lines into the store (see the usage); with `follow`, tails it until SIGINT or
 * SIGTERM (or SIGHUP), looking for appends every `pollIntervalMs` too (`fromHookFileMarked`'s default when
 * not given).
 */
export async function ingest(
  log: string,
  storePath: string,
  follow: boolean,
  durability: Durability,
  { pollIntervalMs }: { pollIntervalMs?: number } = {},
): Promise<number> {
  // Said in the CLI's words, before a store is made for nothing (`--follow` waits for the log). No log is
  // no failure when a rotate stopped after its move (no hook has run since): its moved log is ingested.
  const pending = await stoppedRotation(log);
  await checkLog(log, storePath, !follow && pending === undefined, 'ingest');
  const store = await openCli({ path: storePath, durability });
  let stopped: NodeJS.Signals | undefined;
  const done = await thenClose(store, async () => {
    // Looked for again with the lock held: another run may have finished it since.
    stopped = await finishRotation(store, log, durability);
    if (stopped !== undefined) return undefined;
    if (!follow && (await isMissing(log))) return undefined;
    // `--follow` waits for a log not there yet, which the hooks make at their first event. Said, with its
    // full path: run from a subfolder (npx finds the command there too), or with --log mistyped, it waited
    // for a file no hook records to, without a word, and made the store there.
    if (follow && (await isMissing(log))) {
      console.error(
        `no log at ${named(log)} yet: waiting for the hooks to record there (are they given this --log?)${aboveText(log, '--log')}`,
      );
    }
    return ingestInto(store, log, `${log}.offset`, follow, durability, pollIntervalMs);
  });
  if (done !== undefined) {
    console.error(ingestedText(done, log, !follow));
    stopped = done.stopped;
  }
  // Without --follow, a signal that stopped the reading stopped the run before the log's end: it exits as a
  // command a signal stopped does, 128 + its number (130 for SIGINT, 143 SIGTERM, 129 SIGHUP), so that a
  // script does not go on as if the log were stored (exit 0 let `ingest && rm log` lose the lines left, and a
  // shell loop over logs went on after Ctrl+C). A signal is the end of `--follow`, which never reaches one:
  // exit 0.
  return !follow && stopped !== undefined ? signalExitCode(stopped) : 0;
}

/**
 * The moved log of a `rotate` stopped after its move and before its end (killed, a crash of the machine:
 * no word of it), whose last lines may not all be in the store: `log.offset` still names it (by inode), and
 * it has its own offset file (written by `rotate` before the move). Undefined when there is none: a log
 * moved by another tool has no offset file of its own, and is not taken for one.
 */
async function stoppedRotation(log: string): Promise<string | undefined> {
  const { resume } = await readOffset(`${log}.offset`);
  if (resume === undefined) return undefined;
  const file = await logFile(log);
  if ((await stat(file).catch(() => undefined))?.ino === resume.ino) return undefined;
  const last = await lastRotated(file).catch(() => 0n);
  if (last === 0n) return undefined;
  const rotated = `${file}.${last}`;
  const moved = await stat(rotated).catch(() => undefined);
  return moved?.ino === resume.ino && !(await isMissing(`${rotated}.offset`)) ? rotated : undefined;
}

/**
 * Finishes a rotation `stoppedRotation` finds, with `store` open (its lock held): ingests the moved log's
 * last lines and removes `log.offset`, as `rotate` would have, and says so. Run by `ingest` and `rotate`
 * before the log: `ingest` read the new log with `log.offset` and replaced it, and the moved log's last
 * lines were left unsaid until `ingest --log log.N` (which still works). The signal that stopped it, if one
 * did (`log.offset` is then kept: the next run finishes it).
 */
async function finishRotation(
  store: SessionStore,
  log: string,
  durability: Durability,
): Promise<NodeJS.Signals | undefined> {
  const rotated = await stoppedRotation(log);
  if (rotated === undefined) return undefined;
  const done = await ingestInto(store, rotated, `${rotated}.offset`, false, durability, undefined);
  console.error(`a rotate was stopped after it moved ${log} to ${rotated}: ${ingestedText(done, rotated)}`);
  if (done.stopped === undefined) await rm(`${log}.offset`, { force: true });
  return done.stopped;
}

/**
 * The highest number a file of the folder has after `log.` (`hooks.jsonl.3`, `hooks.jsonl.3.offset`, a
 * compressed `hooks.jsonl.3.gz`); 0 for none. A BigInt: past 2^53 a Number + 1 is the same number
 * (`log.9007199254740992` again, moved over), and past 1e21 its text is `1e+21`, which the next run would
 * not read as a number.
 */
async function lastRotated(log: string, { moved = false }: { moved?: boolean } = {}): Promise<bigint> {
  const prefix = `${basename(log)}.`;
  let last = 0n;
  for (const name of await readdir(dirname(log))) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    const digits = /^\d+(?=\.|$)/.exec(rest)?.[0];
    if (digits === undefined) continue;
    // `moved`: only a log moved there (log.N, log.N.gz …), not an offset file a rotate stopped before
    // its move left, nor the file it is written to first.
    if (moved && /^\d+\.offset(\.tmp)?$/.test(rest)) continue;
    if (BigInt(digits) > last) last = BigInt(digits);
  }
  return last;
}

/**
 * The name `rotate` moves `log` to: `log.N`, N one more than `lastRotated`, so that the numbers go up with
 * time and no earlier file is overwritten — or N itself when what has that number is only the offset file
 * a rotate stopped before its move wrote (see `leftBeforeMove`): that move was never made, and the offset
 * file is replaced by this rotate's (it was left, and the next rotate took N + 1).
 */
async function rotatedName(log: string): Promise<string> {
  const last = await lastRotated(log);
  if (last > 0n && (await loneTemporary(log, last))) {
    await rm(`${log}.${last}.offset.tmp`, { force: true });
    return `${log}.${last}`;
  }
  return `${log}.${last > 0n && (await leftBeforeMove(log, last)) ? last : last + 1n}`;
}

/**
 * Whether all that has the number N is `log.N.offset.tmp`: what a rotate stopped while it wrote the offset
 * file of `log.N` left (it is written there, then renamed), before its move, which comes after the rename.
 * Nothing else writes it with the store's lock held (`ingest --log log.N` writes one beside a `log.N`).
 * It is removed and N taken: it stayed for ever, and every later rotate skipped N.
 */
async function loneTemporary(log: string, n: bigint): Promise<boolean> {
  const name = `${basename(log)}.${n}`;
  const numbered = (await readdir(dirname(log))).filter(
    (entry) => entry === name || entry.startsWith(`${name}.`),
  );
  return numbered.length === 1 && numbered[0] === `${name}.offset.tmp`;
}

/**
 * Whether `log.N` is not there and all that has the number N is `log.N.offset` (and the `.tmp` it is
 * written to first) whose mark names the file now at `log`, as the reader tells a file (its inode, its
 * first bytes, at least as long): the offset file of a rotate stopped between writing it and moving `log`
 * there, which nothing else is. The offset file of a log moved there and since deleted (as `rotate` says
 * it may be) or taken to another disk names a file that is gone: an inode no file here has, or one the new
 * log took when it was freed, with other first bytes; it is left, and N + 1 taken, as before.
 */
async function leftBeforeMove(log: string, n: bigint): Promise<boolean> {
  const name = `${basename(log)}.${n}`;
  const numbered = (await readdir(dirname(log))).filter(
    (entry) => entry === name || entry.startsWith(`${name}.`),
  );
  if (!numbered.includes(`${name}.offset`)) return false;
  if (!numbered.every((entry) => entry === `${name}.offset` || entry === `${name}.offset.tmp`)) return false;
  const { resume } = await readOffset(`${log}.${n}.offset`).catch(() => ({ resume: undefined }));
  if (resume === undefined) return false;
  const file = await open(log, 'r');
  try {
    const { ino, size } = await file.stat();
    if (ino !== resume.ino || size < resume.end) return false;
    const length = resume.head.length / 2;
    const { buffer, bytesRead } = await file.read(Buffer.alloc(length), 0, length, 0);
    return bytesRead === length && buffer.toString('hex') === resume.head;
  } finally {
    await file.close();
  }
}

/**
 * The file a log is: itself, or the file it links to, when it is a symbolic link (made by the hooks through
 * the link, and moved by `rotate`, beside itself). A link left dangling by the last rotation names a file
 * not there yet: the one its target names.
 */
async function logFile(log: string): Promise<string> {
  const link = await lstat(log).catch(() => undefined);
  if (!link?.isSymbolicLink()) return log;
  try {
    return await realpath(log);
  } catch {
    return resolve(dirname(log), await readlink(log));
  }
}

/**
 * Waits `ms`; SIGINT (Ctrl+C), SIGTERM or SIGHUP ends the wait as a failure, so that `rotate` closes the
 * store and says how to finish (its lines may not all be in the store), where the signal killed it with no
 * word.
 */
function waitUnlessStopped(ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stop = (signal: NodeJS.Signals) => {
      end();
      reject(new StoppedError(`stopped by ${signal} while it waited for the hooks`, signal));
    };
    const timer = setTimeout(() => {
      end();
      resolve();
    }, ms);
    const end = () => {
      clearTimeout(timer);
      for (const signal of STOP_SIGNALS) process.off(signal, stop);
    };
    for (const signal of STOP_SIGNALS) process.once(signal, stop);
  });
}

/** How long `rotate` waits, by default, for the hooks that opened the log just before it was moved. */
export const DEFAULT_SETTLE_MS = 2_000;

/**
 * How long `rotate` waits at most, after its settle wait, for the processes that still have the moved log
 * open to write (see `writersOf`): a hook writes its line and closes the log at once, so only one that was
 * stopped or is stuck (on a hung disk, say) is still there then.
 */
export const WRITERS_LIMIT_MS = 30_000;

/** How often `rotate` looks again at the processes that have the moved log open to write. */
const WRITERS_POLL_MS = 20;

/**
 * The processes that have `file` open to write, read from /proc (Linux): a hook that opened the log before
 * `rotate` moved it and has not yet written its line and closed it. With `among`, only those processes are
 * looked at (no hook opens the moved log by its new name). None where /proc cannot be read (another
 * system), and none of another user's processes (their descriptors cannot be read): the settle wait alone
 * covers those.
 */
function writersOf(file: string, among?: readonly number[]): number[] {
  let target: string;
  let pids: readonly number[];
  try {
    target = realpathSync(file);
    pids =
      among ??
      readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .map(Number);
  } catch {
    return [];
  }
  const writers: number[] = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // ended, or another user's
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== target) continue;
        const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        // O_WRONLY (1) or O_RDWR (2): `record` opens the log O_APPEND with one of them.
        if (flags !== undefined && (Number.parseInt(flags, 8) & 3) !== 0) {
          writers.push(pid);
          break;
        }
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return writers;
}

/**
 * Waits until no process has `file` open to write (see `writersOf`), for `limitMs` at most, and returns the
 * processes that still have it then. SIGINT, SIGTERM or SIGHUP ends the wait as a failure, as in
 * `waitUnlessStopped`.
 */
async function waitForWriters(file: string, limitMs: number): Promise<number[]> {
  let writers = writersOf(file);
  const deadline = Date.now() + limitMs;
  let stopped: NodeJS.Signals | undefined;
  const stop = (signal: NodeJS.Signals) => {
    stopped = signal;
  };
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
  try {
    while (writers.length > 0 && stopped === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, WRITERS_POLL_MS));
      writers = writersOf(file, writers);
    }
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, stop);
  }
  if (stopped !== undefined)
    throw new StoppedError(`stopped by ${stopped} while it waited for the hooks`, stopped);
  return writers;
}

/**
 * Starts a new log without losing a line or storing one twice, with the store's lock held all along, so
 * that no `ingest` runs in between (see the usage and the README): ingests the log, writes its mark as
 * the offset file of `log.N`, moves the log to `log.N`, waits (`settle`: `settleMs` by default) for a hook
 * that opened the log just before the move and writes its line there, ingests `log.N`'s new lines, and
 * removes `log.offset`, whose mark names the moved file. Each step leaves the files right for the next
 * `ingest` if the process stops there: the offset file of `log.N` is written before the move, and names
 * it by inode, not by path; a rotation stopped after its move is finished by the next `ingest` or `rotate`
 * (see `finishRotation`).
 */
export async function rotate(
  log: string,
  storePath: string,
  durability: Durability,
  {
    settleMs = DEFAULT_SETTLE_MS,
    settle,
    writersLimitMs = WRITERS_LIMIT_MS,
  }: { settleMs?: number; settle?: () => Promise<void>; writersLimitMs?: number } = {},
): Promise<number> {
  // No log since the last rotation (no hook has run since: a daily rotate on an idle day) is nothing to do,
  // not a failure; with no log.N either, the log is not there at all (a mistyped --log, say).
  // A rotate stopped after its move (see `stoppedRotation`) is finished first, log or no log.
  const pending = await stoppedRotation(log);
  const file = pending === undefined && (await isMissing(log)) ? await logFile(log) : undefined;
  const last = file === undefined ? 0n : await lastRotated(file).catch(() => 0n);
  if (last > 0n) {
    await checkLog(log, storePath, false, 'rotate', ' (nothing was moved)');
    // Named by the last log moved: a higher number only an offset file has (a rotate stopped before its
    // move, an offset file whose log was deleted) is no rotation to it.
    const moved = await lastRotated(file!, { moved: true }).catch(() => 0n);
    console.error(
      `no log at ${log} since the last rotation${moved > 0n ? ` (to ${basename(log)}.${moved})` : ''}: nothing to rotate`,
    );
    return 0;
  }
  await checkLog(log, storePath, pending === undefined, 'rotate', ' (nothing was moved)');
  // Not another store: the log's lines would be stored there, not in the store its offset file counts.
  const store = await openCli(
    { path: storePath, durability },
    'Stop it, rotate, then start it again: it reads the new log from its start (nothing was moved)',
  );
  const sync = durability === 'os';
  let moved: { from: string; to: string } | undefined;
  try {
    await thenClose(store, async () => {
      const stopped = await finishRotation(store, log, durability);
      if (stopped !== undefined) {
        throw new StoppedError(`stopped by ${stopped} before the move: nothing was moved`, stopped);
      }
      if (await isMissing(log)) {
        console.error(`no log at ${log} since that rotation: nothing to rotate`);
        return;
      }
      const before = await ingestInto(store, log, `${log}.offset`, false, durability, undefined);
      console.error(ingestedText(before, log));
      if (before.stopped !== undefined) {
        throw new StoppedError(
          `stopped by ${before.stopped} before the move: nothing was moved`,
          before.stopped,
        );
      }
      if ((await stat(log)).size === 0) {
        console.error(`${log} is empty: not moved`);
        return;
      }
      // A log that is a symbolic link (to a log on another disk, say) stays one: the file it names is
      // moved, beside itself, and the hooks make it again through the link. The link moved instead, the
      // hooks would make a new log at its place, and deleting log.N would free nothing.
      const file = await logFile(log);
      const rotated = await rotatedName(file);
      if (before.mark !== undefined) await writeOffset(`${rotated}.offset`, before.mark, sync);
      await rename(file, rotated);
      moved = { from: file === log ? log : `${file} (the file ${log} links to)`, to: rotated };
      if (sync) await syncFolder(dirname(file));
      // The wait takes SIGINT and SIGTERM from before it says the move: one sent on seeing it is taken.
      const waited = settle?.() ?? waitUnlessStopped(settleMs);
      console.error(`moved ${moved.from} to ${rotated}: the hooks record to a new ${file}`);
      await waited;
      // A hook held up past the wait (a loaded machine, a stopped process) writes its line to the moved log
      // later: read then, the log was said to be wholly in the store, and that line was lost with it.
      const writers = await waitForWriters(rotated, writersLimitMs);
      const after = await ingestInto(store, rotated, `${rotated}.offset`, false, durability, undefined);
      console.error(ingestedText(after, rotated));
      if (after.stopped !== undefined) throw new StoppedError(`stopped by ${after.stopped}`, after.stopped);
      await rm(`${log}.offset`, { force: true });
      console.error(
        writers.length > 0
          ? `${rotated} is still open to write in ${writers.length === 1 ? 'process' : 'processes'} ${writers.join(', ')}: ` +
              `a line ${writers.length === 1 ? 'it writes' : 'they write'} there now is not in the store (run ` +
              `vibespec-streams ingest --log ${rotated} --store ${storePath} once ${writers.length === 1 ? 'it has' : 'they have'} ended)`
          : after.partial
            ? `${rotated} is in the store but for its last line, which has no newline (a torn write?)`
            : `${rotated} is wholly in the store: it may be deleted or compressed`,
      );
    });
  } catch (error) {
    if (moved === undefined) throw error;
    // The move is done: what is left is the moved log's lines, which `ingest` resumes from its offset file.
    // Stopped by a signal, it still exits as a command a signal stopped (see `StoppedError`).
    const text =
      `${moved.from} was moved to ${moved.to}, whose last lines may not all be in the store: ` +
      `${textOf(error)} (run vibespec-streams ingest --log ${moved.to} --store ${storePath} to finish)`;
    throw error instanceof StoppedError
      ? new StoppedError(text, error.signal, { cause: error })
      : new Error(text, { cause: error });
  }
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

/**
 * The characters JSON.stringify writes as they are that a terminal does not show as themselves: U+2028,
 * U+2029 and the format characters (`Cf`: bidirectional controls such as U+202E, which showed the rest of
 * the line backwards, its columns swapped; zero-width ones; U+FEFF).
 */
const UNSHOWN = /[\p{Cf}\u2028\u2029]/gu;

/**
 * `text` as a JSON string, with the characters of `UNSHOWN` written as `\uXXXX` (still JSON that reads back
 * as `text`): a terminal shows every character of it.
 */
function quoted(text: string): string {
  return JSON.stringify(text).replace(UNSHOWN, (char) => {
    let escaped = '';
    // An astral one (U+E0001, a tag) as its two code units, as JSON writes it.
    for (let i = 0; i < char.length; i++) escaped += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return escaped;
  });
}

/**
 * A session id as `sessions` lists it: as it is, or as a JSON string (see `quoted`) when it has a character
 * that would break the line or its columns (a tab, a newline: any control character, U+2028/U+2029, a
 * bidirectional control) or that is not seen (a zero-width space: an id no one could type from the list),
 * or one that UTF-8 cannot write (half a surrogate pair: it printed as U+FFFD, an id no command finds; JSON
 * writes it as `\udXXX`), or begins with `"` (so that a quoted id is never taken for one of those).
 */
function idText(id: string): string {
  return id.startsWith('"') || /[\p{Cc}\p{Cs}\p{Cf}\u2028\u2029]/u.test(id) ? quoted(id) : id;
}

/**
 * An event type as `replay` lists a session's types: as a session id is shown (`idText`), and as a JSON
 * string too when it has a comma or spaces at either end, which `--types a,b` would split or trim: so
 * shown, it is what `--types` takes back whole.
 */
function typeText(type: string): string {
  return /,|^\s|\s$/.test(type) ? quoted(type) : idText(type);
}

export async function sessions(storePath: string): Promise<number> {
  const store = await openExisting(storePath);
  try {
    for (const info of await store.sessions()) {
      const span =
        info.startTime === undefined || info.lastEventTime === undefined
          ? '-'
          : `${timeText(info.startTime)} … ${timeText(info.lastEventTime)}`;
      stdout.write(`${idText(info.sessionId)}\t${counted(info.eventCount, 'event')}\t${span}\n`);
      if (!(await stdout.ready())) break;
    }
  } finally {
    await store.close();
  }
  return 0;
}

/**
 * Prints a session's context as JSON (`main` checked the id is given), its time span as `sessions` shows
 * it: `{ start, end }` as ISO 8601 times (in ms when no date has it, see `timeText`), with `durationMs`, the
 * ms between them (it printed the store's ms since the epoch, which `sessions` shows as times). The
 * library's `sessionContext` keeps its numbers, and `replay`'s events theirs.
 */
export async function context(storePath: string, id: string): Promise<number> {
  const store = await openExisting(storePath);
  try {
    await assertSession(store, storePath, id);
    const found = await store.sessionContext(id);
    const span = found.timeSpan;
    const shown =
      span === undefined
        ? found
        : {
            ...found,
            timeSpan: {
              start: timeText(span.start),
              end: timeText(span.end),
              durationMs: span.end - span.start,
            },
          };
    stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    await stdout.ready();
  } finally {
    await store.close();
  }
  return 0;
}

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`: what a list of types none of which is there reads as. */
function alternatives(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/**
 * Prints a session's stored events as JSON Lines, at the pace of stdout's reader (`main` checked the id,
 * `--types` and `--limit`).
 */
export async function replayCommand(
  storePath: string,
  id: string,
  typeList: string[] | undefined,
  limit: number | undefined,
): Promise<number> {
  const store = await openExisting(storePath);
  try {
    const info = await assertSession(store, storePath, id);
    // A type the session has no event of prints nothing, as a mistyped one (`--types tool.use`) would: it
    // is said on stderr, with the types the session has (the output stays what was asked: exit 0).
    const absent = typeList?.filter((type) => !((info.typeCounts[type] ?? 0) > 0)) ?? [];
    if (absent.length > 0) {
      const has = Object.keys(info.typeCounts).sort();
      process.stderr.write(
        `replay: session ${quoted(id)} has no ${alternatives(absent.map(quoted))} event (its types: ${has.length === 0 ? 'none' : has.map(typeText).join(', ')})\n`,
      );
    }
    // The query `replay` is made of, read at the pace of stdout's reader: pulled, not pushed.
    const events = store.query(id, {
      ...(typeList === undefined ? {} : { types: typeList }),
      ...(limit === undefined ? {} : { limit }),
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

/** `bridge`'s input, FILE or stdin, that could not be read, in the CLI's words. */
function inputError(file: string | undefined, error: unknown): Error {
  if (file === undefined || file === '-') return cliError(`cannot read stdin: ${textOf(error)}`, error);
  const code = codeOf(error);
  return cliError(
    code === 'ENOENT'
      ? `no file at ${named(file)}: nothing to bridge (give a JSON Lines file of hook payloads, or - for stdin)`
      : code === 'EISDIR'
        ? `${named(file)} is a folder: give a JSON Lines file of hook payloads (or - for stdin)`
        : `cannot read ${named(file)}: ${textOf(error)}`,
    error,
  );
}

/**
 * What `bridge` says on stderr, once, when its input is a terminal: it reads until the end of input, which
 * a terminal gives at Ctrl+D at the start of a line (Ctrl+Z then Enter on Windows); without a word it
 * looked hung.
 */
export const TERMINAL_INPUT_TEXT = `bridge: reading hook payloads (JSON Lines) from the terminal; end the input with ${
  process.platform === 'win32' ? 'Ctrl+Z then Enter' : 'Ctrl+D at the start of a line'
}`;

export async function bridge(file: string | undefined): Promise<number> {
  const fromStdin = file === undefined || file === '-';
  const input = fromStdin ? process.stdin : createReadStream(file);
  // stdout stays the events' only: the notice is for the one typing.
  if (fromStdin && process.stdin.isTTY === true) console.error(TERMINAL_INPUT_TEXT);
  // fromJsonLines pushes each chunk's events synchronously, then asks for the next chunk: waiting for
  // stdout there paces the reading to stdout's reader, and stops it once that reader is gone.
  // A failed write (ENOSPC…) stops the reading too, and is thrown as itself: thrown from here, it would
  // be reported as fromJsonLines failing to read the input.
  let writeError: { error: unknown } | undefined;
  let readError: { error: unknown } | undefined;
  async function* chunks(): AsyncGenerator<string | Uint8Array> {
    try {
      yield* input as AsyncIterable<string | Uint8Array>;
    } catch (error) {
      readError = { error };
      throw error;
    }
  }
  async function* paced(): AsyncGenerator<string | Uint8Array> {
    for await (const chunk of chunks()) {
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
  try {
    await lastValueFrom(
      fromJsonLines(paced()).pipe(
        bridgeHooks(),
        tap((event) => stdout.write(`${eventToJSON(event)}\n`)),
      ),
      { defaultValue: undefined },
    );
  } catch (error) {
    // Said as the file it could not read (fromJsonLines names itself and "the input").
    if (readError === undefined) throw error;
    throw inputError(file, readError.error);
  }
  if (writeError !== undefined) throw writeError.error;
  // The events of a last line without a newline are written after the last wait: their error too.
  await stdout.ready();
  return 0;
}
