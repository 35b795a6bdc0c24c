/**
 * A rotation at the worst moment: after the read that found the old file's end, before the source looks
 * at the path. `stat` is wrapped (in this file only) so that the writer's last append and the rotation
 * happen exactly there, every time (a rotation, or an append whose notification comes while the source
 * is not waiting); and counted, to see that a file that does not change is not looked at again and again.
 */
import { watch } from 'node:fs';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { until } from '../helpers/until.js';

const hooks = vi.hoisted(() => ({
  beforeStat: undefined as undefined | ((path: string) => Promise<void>),
  stats: 0,
}));
vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs/promises')>();
  const stat = (async (path: string, ...rest: unknown[]) => {
    hooks.stats++;
    const hook = hooks.beforeStat;
    if (hook !== undefined) {
      hooks.beforeStat = undefined;
      await hook(path);
    }
    return (original.stat as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof original.stat;
  return { ...original, stat, default: { ...original, stat } };
});

const { fromHookFile } = await import('../../src/streams/fromHookFile.js');

const line = (hook: string) => `${JSON.stringify({ hook, output: {} })}\n`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-rotation-'));
});
afterEach(async () => {
  hooks.beforeStat = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Follows a new file of one line `a`, never polled within a test; `each` is told each line's hook. */
async function followQuiet(each?: (hook: string, path: string) => void) {
  const path = join(dir, 'quiet.jsonl');
  await writeFile(path, line('a'));
  const seen: string[] = [];
  const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 3_600_000 }).subscribe((o) => {
    seen.push(o.hook);
    each?.(o.hook, path);
  });
  return { path, seen, subscription };
}

/**
 * A `beforeStat` hook that appends `text` to `path` and returns once the append's `fs.watch` notification
 * (delivered to every watcher of the file at once) has been handled.
 */
function appendNotified(path: string, text: string): () => Promise<void> {
  return async () => {
    const notified = new Promise<void>((resolve) => {
      const watcher = watch(path, () => {
        watcher.close();
        resolve();
      });
    });
    await appendFile(path, text);
    await notified;
    await new Promise((r) => setImmediate(r));
  };
}

describe('fromHookFile, following a file that is rotated', () => {
  it('reads a line appended to the old file between the read that found its end and the rotation', async () => {
    const path = join(dir, 'live.jsonl');
    await writeFile(path, line('a'));
    const seen: string[] = [];
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 3_600_000 }).subscribe((o) => {
      seen.push(o.hook);
      if (o.hook === 'a') {
        // Its read returned 0 next; before the source's stat(path), the writer appends its last line to
        // the old file, and the rotation puts a new file at the path.
        hooks.beforeStat = async (statted) => {
          expect(statted).toBe(path);
          await appendFile(path, line('old-last'));
          await rename(path, `${path}.1`);
          await writeFile(path, line('new-first'));
        };
      }
    });
    await until(() => seen.includes('new-first'));
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'old-last', 'new-first']);
  });

  it('does so at each rotation, not only the first', async () => {
    const path = join(dir, 'live.jsonl');
    await writeFile(path, line('a'));
    /** Before the stat after the read that found the end: a last line, then a new file at the path. */
    const rotateAfter = (last: string, first: string) => {
      hooks.beforeStat = async () => {
        await appendFile(path, line(last));
        await rename(path, `${path}.${last}`);
        await writeFile(path, line(first));
      };
    };
    const seen: string[] = [];
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 3_600_000 }).subscribe((o) => {
      seen.push(o.hook);
      if (o.hook === 'a') rotateAfter('a-last', 'b');
      if (o.hook === 'b') rotateAfter('b-last', 'c');
    });
    await until(() => seen.includes('c'));
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'a-last', 'b', 'b-last', 'c']);
  });
});

describe('fromHookFile, following a file that does not change', () => {
  it('waits for a notification or a poll at its end: it does not read the file again and again', async () => {
    const before = hooks.stats;
    const { seen, subscription } = await followQuiet();
    // At the end found after the line, it looks at the path once (however late a loaded machine lets it).
    await until(() => seen.length === 1 && hooks.stats > before);
    // Some turns of the event loop, in which a source that does not wait would look at the path many times.
    await new Promise((r) => setTimeout(r, 50));
    subscription.unsubscribe();
    expect(hooks.stats - before).toBe(1);
    expect(seen).toEqual(['a']);
  });

  it('is not woken by changes to the other files of its directory', async () => {
    const start = hooks.stats;
    const { path, seen, subscription } = await followQuiet();
    // Waiting at the end of its file: the one look at the path after `a` is made. A fixed pause stood for
    // that, and on a loaded machine that look came after it, counted with `b`'s.
    await until(() => seen.length === 1 && hooks.stats > start);
    const before = hooks.stats;
    expect(before - start).toBe(1);
    // Another log of the same directory, written again and again (each write notifies the directory).
    for (let i = 0; i < 10; i++) {
      await appendFile(join(dir, 'other.jsonl'), line(`o${i}`));
      await new Promise((r) => setTimeout(r, 5));
    }
    // Its own file still wakes it.
    await appendFile(path, line('b'));
    await until(() => seen.length === 2);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b']);
    // Only for `b`: once after reading it, and once more if both its file's watcher and its
    // directory's told it.
    expect(hooks.stats - before).toBeLessThanOrEqual(2);
  });

  it('reads a line whose notification came while it was not waiting (between its read and its stat)', async () => {
    // After the read that found the end, before the source's stat: an append, and its fs.watch
    // notification (delivered to every watcher of the file at once) handled before the stat returns.
    const { seen, subscription } = await followQuiet((hook, path) => {
      if (hook === 'a') hooks.beforeStat = appendNotified(path, line('b'));
    });
    // Polling never comes within the test: only that notification, kept until the source waits, tells it.
    await until(() => seen.length === 2);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b']);
  });

  it('does so after it has waited before: a notification ends only the wait it came in', async () => {
    // As above, but after a wait that a notification ended (the one of `b`).
    const start = hooks.stats;
    const { path, seen, subscription } = await followQuiet((hook, file) => {
      if (hook === 'b') hooks.beforeStat = appendNotified(file, line('c'));
    });
    // Waiting at the end of the file (for a notification: polling never comes within the test): it has
    // looked at the path after `a`, and a pause lets it start its wait.
    await until(() => seen.length === 1 && hooks.stats > start);
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(path, line('b'));
    await until(() => seen.length === 3);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b', 'c']);
  });
});
