/**
 * Following a log whose new file (a rotation's, or one that appeared) cannot be read for a moment: a
 * folder at the path, or a file without read permission. `open` is wrapped (in this file only) to count
 * the tries at the path, so that the tests wait on them rather than on the clock.
 */
import { chmod, mkdir, mkdtemp, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { until } from '../helpers/until.js';

const hooks = vi.hoisted(() => ({ opens: new Map<string, number>(), settled: new Map<string, number>() }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs/promises')>();
  const open = ((path: string, ...rest: unknown[]) => {
    hooks.opens.set(path, (hooks.opens.get(path) ?? 0) + 1);
    const opening = (original.open as (...args: unknown[]) => Promise<unknown>)(path, ...rest);
    const settle = () => hooks.settled.set(path, (hooks.settled.get(path) ?? 0) + 1);
    opening.then(settle, settle);
    return opening;
  }) as typeof original.open;
  return { ...original, open, default: { ...original, open } };
});

const { fromHookFile, UNREADABLE_TRIES } = await import('../../src/streams/fromHookFile.js');

const line = (hook: string) => `${JSON.stringify({ hook, output: {} })}\n`;
const opens = (path: string) => hooks.opens.get(path) ?? 0;
/** The opens at `path` that have returned (or failed): one only called may not have looked at the path yet. */
const settled = (path: string) => hooks.settled.get(path) ?? 0;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-unreadable-'));
  hooks.opens.clear();
  hooks.settled.clear();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Follows `path` (polled every ms), collecting the hooks seen and the error, if any. */
function follow(path: string) {
  const seen: string[] = [];
  const failed: { error?: unknown } = {};
  const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 1 }).subscribe({
    next: (o) => seen.push(o.hook),
    error: (error: unknown) => {
      failed.error = error;
    },
  });
  return { seen, failed, subscription };
}

describe('fromHookFile, following a log replaced by something it cannot read yet', () => {
  it('waits while a folder stands at the path after a rotation, then reads the file that takes its place', async () => {
    const path = join(dir, 'hooks.jsonl');
    await writeFile(path, line('a'));
    const { seen, failed, subscription } = follow(path);
    await until(() => seen.includes('a'));
    await rename(path, `${path}.1`);
    await mkdir(path);
    const before = opens(path);
    // Tried at least twice on the folder (the source failed at the first before).
    await until(() => opens(path) >= before + 3 || failed.error !== undefined);
    expect(failed.error).toBeUndefined();
    await rmdir(path);
    await writeFile(path, line('b'));
    await until(() => seen.includes('b') || failed.error !== undefined);
    subscription.unsubscribe();
    expect(failed.error).toBeUndefined();
    expect(seen).toEqual(['a', 'b']);
  });

  it('fails with SOURCE_FAILED (EISDIR) once the path stayed unreadable for UNREADABLE_TRIES tries in a row', async () => {
    const path = join(dir, 'hooks.jsonl');
    await writeFile(path, line('a'));
    const { seen, failed, subscription } = follow(path);
    await until(() => seen.includes('a'));
    // The old file stays open until the folder is seen at the path: every open from here is of the folder.
    const before = opens(path);
    await rename(path, `${path}.1`);
    await mkdir(path);
    await until(() => failed.error !== undefined);
    subscription.unsubscribe();
    expect(failed.error).toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringContaining(`EISDIR: it is a directory (still, after ${UNREADABLE_TRIES} tries)`),
      cause: { code: 'EISDIR' },
    });
    expect(opens(path) - before).toBe(UNREADABLE_TRIES);
    expect(seen).toEqual(['a']);
  });

  it('waits for a file that appeared (missing at first) while it is a folder', async () => {
    const path = join(dir, 'hooks.jsonl');
    const { seen, failed, subscription } = follow(path);
    // Its first open found nothing (ENOENT): called only, it may open the folder made below, and the
    // source then fails at once, as it does on a folder at the start (a wrong path).
    await until(() => settled(path) >= 1);
    await mkdir(path);
    const before = opens(path);
    await until(() => opens(path) >= before + 3 || failed.error !== undefined);
    expect(failed.error).toBeUndefined();
    await rmdir(path);
    await writeFile(path, line('a'));
    await until(() => seen.includes('a') || failed.error !== undefined);
    subscription.unsubscribe();
    expect(failed.error).toBeUndefined();
    expect(seen).toEqual(['a']);
  });

  it('fails at once on a folder at the path at the start: a wrong path, not a race', async () => {
    const path = join(dir, 'hooks.jsonl');
    await mkdir(path);
    const { failed, subscription } = follow(path);
    await until(() => failed.error !== undefined);
    subscription.unsubscribe();
    expect(failed.error).toMatchObject({ code: 'SOURCE_FAILED', cause: { code: 'EISDIR' } });
    expect(opens(path)).toBe(1);
  });

  // Root reads a file whatever its mode: there, chmod cannot make one unreadable.
  it.skipIf(process.getuid?.() === 0)(
    'waits while the new file has no read permission (EACCES), then reads it once it has',
    async () => {
      const path = join(dir, 'hooks.jsonl');
      await writeFile(path, line('a'));
      const { seen, failed, subscription } = follow(path);
      await until(() => seen.includes('a'));
      await rename(path, `${path}.1`);
      await writeFile(path, line('b'));
      await chmod(path, 0o000);
      const before = opens(path);
      await until(() => opens(path) >= before + 3 || failed.error !== undefined);
      expect(failed.error).toBeUndefined();
      await chmod(path, 0o644);
      await until(() => seen.includes('b') || failed.error !== undefined);
      subscription.unsubscribe();
      expect(failed.error).toBeUndefined();
      expect(seen).toEqual(['a', 'b']);
    },
  );
});
