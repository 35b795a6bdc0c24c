/**
 * Child process for the exit test: runs the `hang` fixture hook (no timeout) with argv[2] as its
 * `pid_file`, prints `running` once the hook has written its pids, then calls `process.exit` while the
 * hook still runs. Run with `node --import tsx`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHook } from '../../../src/index.js';

const pidFile = process.argv[2]!;
const script = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/hooks/hang.mjs');
runHook(
  { name: 'hang', command: process.execPath, args: [script], timeoutMs: Number.POSITIVE_INFINITY },
  { pid_file: pidFile },
).subscribe();
const poll = setInterval(() => {
  if (!existsSync(pidFile)) return;
  clearInterval(poll);
  process.stdout.write('running\n');
  process.exit(0);
}, 25);
