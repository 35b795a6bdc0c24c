/**
 * fromFileWatcher when a folder cannot be watched: `fs.watch` is wrapped so that a test can make it
 * throw for a folder, or have a folder's watcher report an error. Everything else is the real watcher.
 */
import type { FSWatcher } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FileChange, fromFileWatcher, type HookOutput } from '../../src/index.js';
import { asWritten } from '../helpers/fileChanges.js';
import { until as waitFor } from '../helpers/until.js';

const state = vi.hoisted(() => ({
  /** The error `watch` throws for a folder. */
  refuse: new Map<string, Error>(),
  /** The watchers made, by folder. */
  made: new Map<string, FSWatcher>(),
  /** While set, `lstat` (which a folder found by a notification is read with) waits for it. */
  lstatGate: undefined as Promise<void> | undefined,
  /** The paths `lstat` was called with. */
  lstatCalls: [] as string[],
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const lstat = async (path: string) => {
    state.lstatCalls.push(String(path));
    await state.lstatGate;
    return fs.lstat(path);
  };
  return { ...fs, default: { ...fs, lstat }, lstat };
});

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const watch = (path: string, ...rest: unknown[]) => {
    const refused = state.refuse.get(String(path));
    if (refused !== undefined) throw refused;
    const watcher = (fs.watch as (...args: unknown[]) => FSWatcher)(path, ...rest);
    state.made.set(String(path), watcher);
    return watcher;
  };
  return { ...fs, default: { ...fs, watch }, watch };
});

const codeError = (code: string) => Object.assign(new Error(`${code}: as the system says`), { code });
const changesOf = (output: HookOutput) => (output.output as { changes: FileChange[] }).changes;
const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-watch-'));
  state.refuse.clear();
  state.made.clear();
  state.lstatGate = undefined;
  state.lstatCalls = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(process.platform === 'linux')('fromFileWatcher: folders that cannot be watched', () => {
  it('fails with SOURCE_FAILED, naming the folder, when the system refuses a watch (its limit reached)', async () => {
    const sub = join(dir, 'sub');
    await mkdir(sub);
    state.refuse.set(sub, codeError('ENOSPC'));
    const before = watchers();
    let failure: unknown;
    fromFileWatcher(dir).subscribe({ error: (e: unknown) => (failure = e) });
    expect(failure).toMatchObject({
      code: 'SOURCE_FAILED',
      message: `fromFileWatcher: cannot watch ${sub}: ENOSPC: as the system says`,
    });
    // The root's watcher, made first, is closed.
    await waitFor(() => watchers() === before);
    expect(watchers()).toBe(before);
  });

  it('the same for a folder made later', async () => {
    const sub = join(dir, 'sub');
    state.refuse.set(sub, codeError('ENOSPC'));
    let failure: unknown;
    fromFileWatcher(dir, { debounceMs: 5 }).subscribe({ error: (e: unknown) => (failure = e) });
    await mkdir(sub);
    await waitFor(() => failure !== undefined);
    expect(failure).toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringContaining(`watch ${sub}:`),
    });
  });

  it('leaves alone a folder vanished or unreadable (ENOENT, ENOTDIR, EACCES), and reports what it can', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked);
    for (const code of ['ENOENT', 'ENOTDIR', 'EACCES']) {
      state.refuse.set(locked, codeError(code));
      const changes: FileChange[] = [];
      let failure: unknown;
      const subscription = fromFileWatcher(dir, { debounceMs: 5 }).subscribe({
        next: (o) => changes.push(...changesOf(o)),
        error: (e: unknown) => (failure = e),
      });
      const file = join(dir, `${code}.ts`);
      await writeFile(file, 'x');
      await waitFor(() => changes.length > 0);
      subscription.unsubscribe();
      expect(failure, code).toBeUndefined();
      expect(asWritten(changes).map((c) => [c.action, c.path])).toEqual([['created', file]]);
    }
  });

  it('watches a folder it could not, once a change of its mode is notified', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked);
    state.refuse.set(locked, codeError('EACCES'));
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 5 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    expect(state.made.has(locked)).toBe(false);
    state.refuse.delete(locked);
    await chmod(locked, 0o755);
    await waitFor(() => state.made.has(locked));
    const file = join(locked, 'a.ts');
    await writeFile(file, 'x');
    await waitFor(() => changes.length > 0);
    subscription.unsubscribe();
    expect(asWritten(changes).map((c) => [c.action, c.path])).toEqual([['created', file]]);
  });

  it("fails on an error of the root's watcher, or of a folder's other than its removal", async () => {
    const sub = join(dir, 'sub');
    await mkdir(sub);
    for (const [folder, code] of [
      [dir, 'ENOENT'],
      [sub, 'EMFILE'],
    ] as const) {
      let failure: unknown;
      fromFileWatcher(dir).subscribe({ error: (e: unknown) => (failure = e) });
      state.made.get(folder)!.emit('error', codeError(code));
      expect(failure, folder).toMatchObject({
        code: 'SOURCE_FAILED',
        message: `fromFileWatcher: cannot watch ${folder}: ${code}: as the system says`,
      });
    }
  });

  it("takes a folder's watcher erring as removed (EPERM, as Windows says) for a notification: its files deleted if gone", async () => {
    const sub = join(dir, 'sub');
    const file = join(sub, 'a.ts');
    await mkdir(sub);
    await writeFile(file, 'x');
    const changes: FileChange[] = [];
    let failure: unknown;
    const subscription = fromFileWatcher(dir, { debounceMs: 5 }).subscribe({
      next: (o) => changes.push(...changesOf(o)),
      error: (e: unknown) => (failure = e),
    });
    const erring = state.made.get(sub)!;
    await rm(sub, { recursive: true });
    erring.emit('error', codeError('EPERM'));
    await waitFor(() => changes.length > 0);
    subscription.unsubscribe();
    expect(failure).toBeUndefined();
    expect(changes.map((c) => [c.action, c.path])).toEqual([['deleted', file]]);
  });

  it('makes no watcher for a folder found in a window still running at the unsubscribe', async () => {
    const sub = join(dir, 'sub');
    let open: () => void = () => {};
    state.lstatGate = new Promise((resolve) => (open = resolve));
    const before = watchers();
    const outputs: HookOutput[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 5 }).subscribe((o) => outputs.push(o));
    await mkdir(sub);
    await writeFile(join(sub, 'a.ts'), 'x');
    // The window reads the new folder: held at its lstat, then the subscriber leaves.
    await waitFor(() => state.lstatCalls.includes(sub));
    subscription.unsubscribe();
    const read = Promise.resolve(state.lstatGate);
    open();
    await read;
    await new Promise((r) => setImmediate(r));
    expect(state.made.has(sub)).toBe(false);
    await waitFor(() => watchers() === before);
    expect(watchers()).toBe(before);
    expect(outputs).toEqual([]);
  });

  it('watches a folder again after its watcher erred as removed (EPERM) while it is still there', async () => {
    const sub = join(dir, 'sub');
    await mkdir(sub);
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 5 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    const erring = state.made.get(sub)!;
    erring.emit('error', codeError('EPERM'));
    await waitFor(() => state.made.get(sub) !== erring);
    const file = join(sub, 'a.ts');
    await writeFile(file, 'x');
    await waitFor(() => changes.length > 0);
    subscription.unsubscribe();
    expect(asWritten(changes).map((c) => [c.action, c.path])).toEqual([['created', file]]);
  });
});
