import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
/** V8's `gc`, exposed in this process without `--expose-gc` on the command line. */
export const gc = runInNewContext('gc') as () => void;

/**
 * The heap used after two full collections (the second takes what the first's finalizers let go); with
 * `external`, the memory of buffers held outside the heap too.
 */
export function heapAfterGc({ external = false } = {}): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + (external ? usage.external : 0);
}
