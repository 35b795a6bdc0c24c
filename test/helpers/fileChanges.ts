import type { FileChange } from '../../src/index.js';

/**
 * The changes as one write per file: a `modified` right after the `created` of the same path is dropped.
 * `writeFile` creates the file, then writes it (two notifications): on a loaded machine the debounce
 * window may close between them, so the watcher rightly reports the write as a change of its own. A test
 * that asks "was the new file seen, and nothing else?" reads the changes through this.
 */
export function asWritten(changes: readonly FileChange[]): FileChange[] {
  return changes.filter((change, i) => {
    const before = changes[i - 1];
    return !(change.action === 'modified' && before?.action === 'created' && before.path === change.path);
  });
}
