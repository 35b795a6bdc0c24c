/**
 * Child process: opens the store at argv[2] and prints `opened`, or the error's code and message, then
 * exits. Run with `node --import tsx` (a store path under /proc once made Node 20's recursive mkdir spin
 * forever: in a child, a test can stop it).
 */
import { openStore } from '../../../src/index.js';

try {
  const store = await openStore({ path: process.argv[2]! });
  process.stdout.write('opened\n');
  await store.close();
} catch (error) {
  const { code, message } = error as { code?: string; message?: string };
  process.stdout.write(`${code} ${message}\n`);
}
