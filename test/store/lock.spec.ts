import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEvent, openStore, StoreError } from '../../src/index.js';
import { runChild } from '../helpers/child.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('store lock', () => {
  it('refuses a second process with STORE_LOCKED naming the path, and opens once it is gone', async () => {
    const path = join(dir, 'db');
    const holder = runChild('holdStore.ts', [path]);
    await holder.waitFor((line) => line === 'ready');

    const error = await openStore({ path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    const storeError = error as StoreError;
    expect(storeError.code).toBe('STORE_LOCKED');
    expect(storeError.path).toBe(path);
    expect(storeError.message).toContain(path);
    expect(storeError.message).toMatch(/close the other store first, or open a different `path`\.$/);
    // LevelDB's own report is kept as the cause: LEVEL_DATABASE_NOT_OPEN caused by LEVEL_LOCKED.
    expect((storeError.cause as { code?: string }).code).toBe('LEVEL_DATABASE_NOT_OPEN');
    expect(((storeError.cause as Error).cause as { code?: string }).code).toBe('LEVEL_LOCKED');

    holder.process.stdin!.end();
    expect((await holder.exited).code).toBe(0);
    const store = await openStore({ path });
    await store.close();
  });

  it('refuses a second open in the same process the same way', async () => {
    const path = join(dir, 'db');
    const store = await openStore({ path });
    const error = await openStore({ path }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STORE_LOCKED', path });
    // Refused before LevelDB is asked (its lock is per process): there is no LevelDB error to keep.
    expect((error as StoreError).cause).toBeUndefined();
    // The same path spelled differently is the same database.
    await expect(openStore({ path: join(dir, '.', 'db/') })).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    await store.close();
    const again = await openStore({ path });
    await again.close();
  });

  it('refuses a path whose folder cannot be created (/proc/x/y) with STORE_NOT_OPEN, rather than never returning', async () => {
    // In a child: the recursive mkdir of Node 20 spun there forever. The kill only keeps a hang from
    // stalling the suite; the test asserts the answer, not a time.
    const child = runChild('openAt.ts', ['/proc/x/y']);
    const guard = setTimeout(() => child.process.kill('SIGKILL'), 20_000);
    const exit = await child.exited;
    clearTimeout(guard);
    expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
    expect(child.lines).toEqual([
      "STORE_NOT_OPEN Could not open the event store at /proc/x/y: ENOENT: no such file or directory, mkdir '/proc/x'",
    ]);
  }, 180_000);

  it('refuses a path under a file with STORE_NOT_OPEN naming it, the mkdir error as cause', async () => {
    await writeFile(join(dir, 'file'), 'x');
    const path = join(dir, 'file', 'db');
    const error = await openStore({ path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'STORE_NOT_OPEN', path });
    expect((error as StoreError).message).toMatch(
      new RegExp(`^Could not open the event store at ${path}: ENOTDIR: not a directory, mkdir '${path}'`),
    );
    expect((error as StoreError).cause).toMatchObject({ code: 'ENOTDIR' });
  });

  it('refuses a database LevelDB cannot open with STORE_NOT_OPEN (not STORE_LOCKED), its error as cause, each time', async () => {
    const path = join(dir, 'db');
    const store = await openStore({ path });
    await store.close();
    // CURRENT names the manifest to read: one that is not there.
    await writeFile(join(path, 'CURRENT'), 'MANIFEST-999999\n');
    for (let attempt = 0; attempt < 2; attempt++) {
      // The second time too: the failed open let go of the folder (not STORE_LOCKED by itself).
      const error = await openStore({ path }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'STORE_NOT_OPEN', path });
      expect((error as StoreError).message).toMatch(
        new RegExp(`^Could not open the event store at ${path}: `),
      );
      expect((error as StoreError).cause).toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN' });
    }
  });

  it('refuses a second open in the same process through a symlink, to the folder or to a parent', async () => {
    const path = join(dir, 'db');
    const store = await openStore({ path });
    await symlink(path, join(dir, 'link'));
    await symlink(dir, join(dir, 'parent'));
    for (const other of [join(dir, 'link'), join(dir, 'parent', 'db')]) {
      const error = await openStore({ path: other }).catch((e: unknown) => e);
      // Had it opened, both stores would give seq 0 of a session to their own first event: one lost.
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'STORE_LOCKED', path: other });
    }
    await store.append([createEvent({ type: 'a', sessionId: 'x', timestamp: 1 })]);
    await store.close();
    // Closing frees the database for whichever spelling comes next.
    const again = await openStore({ path: join(dir, 'link') });
    expect((await again.session('x'))?.eventCount).toBe(1);
    await again.close();
  });
});
