/**
 * Child process for the lock test: opens the store at argv[2], prints `ready`, and keeps it open until
 * its stdin closes. Run with `node --import tsx`.
 */
import { openStore } from '../../../src/index.js';

const store = await openStore({ path: process.argv[2]! });
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void store.close().then(() => process.exit(0));
});
