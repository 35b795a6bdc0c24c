/** Internal to the command: a path as its messages name it. Light: `record` loads it too. */
import { isAbsolute, resolve } from 'node:path';

/**
 * A path as a message names it: a relative one with its full path after it (`.vibespec/event-store
 * (/home/me/proj/src/.vibespec/event-store)`), so that a command run from a subfolder of the project (where
 * `npx` finds it too) shows that it looked there, and not where the hooks record.
 */
export function named(path: string): string {
  return isAbsolute(path) ? path : `${path} (${resolve(path)})`;
}
