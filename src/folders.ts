/**
 * Internal: creating folders (the store's, the hook log's) and fsyncing them. Not exported from the package.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Creates the folder `path` and the missing folders above it, as `mkdir(path, { recursive: true })`, and
 * returns the ones it created, top first. Not that `mkdir`: on Node 20 it never returns for a folder that
 * cannot be created inside one that exists (`/proc/x`: ENOENT, while `/proc` is there), where this fails
 * with the first folder that cannot be created.
 */
export async function makeFolder(path: string): Promise<string[]> {
  try {
    await mkdir(path);
    return [path];
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // EISDIR: macOS's answer for `/`.
    if (code === 'EEXIST' || code === 'EISDIR') return [];
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw error;
  }
  const created = await makeFolder(dirname(path));
  try {
    await mkdir(path);
  } catch (error) {
    // Created since (by another process), or not possible: ENOENT again, under a parent that is there.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return created;
  }
  return [...created, path];
}

/**
 * Fsyncs a folder, so that its entries (a file created or renamed in it) survive a crash of the machine.
 * Not on Windows, where a folder cannot be opened as a file.
 */
export async function syncFolder(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const folder = await open(path, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
