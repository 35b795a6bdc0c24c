/**
 * The real CLI (spawned: `node --import tsx src/cli/bin.ts`) run as shells, pipes and hooks run it: a
 * stderr whose reader is gone, a payload on stdin as other tools write it. Each test fails on the code
 * before its fix.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEvent, openStore } from '../src/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'src/cli/bin.ts');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-environment-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Runs the command with its stdout to the file `out` and its stderr to a pipe whose reader is gone before
 * the command starts (`2> >(head -c 0)`, a logger that quit): every write to stderr fails with EPIPE.
 */
async function stderrGone(args: string[], out: string): Promise<{ code: number | null }> {
  const file = await open(out, 'w');
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], {
        cwd: ROOT,
        stdio: ['ignore', file.fd, 'pipe'],
      });
      child.stderr!.destroy(); // the reader goes away: the command's writes to stderr get EPIPE
      child.on('error', reject);
      child.on('close', (code) => resolve({ code }));
    });
  } finally {
    await file.close();
  }
}

describe('a stderr whose reader is gone', () => {
  // Was: replay's note on stderr (a --types type the session has none of) was an unhandled 'error' event
  // (EPIPE) there: the process died with exit 1, the events it was asked for not written to stdout (0 of
  // 20,000 with the CLI: `replay big --types nope,tool.used 2>&1 >out.jsonl | true`). What is said is lost,
  // not what is done, as for ingest and rotate.
  it('replay still writes every event asked for, and exits 0', async () => {
    const store = join(dir, 'store');
    const opened = await openStore({ path: store });
    const count = 2_000;
    await opened.append(
      Array.from({ length: count }, (_, i) =>
        createEvent({ type: 'tool.used', timestamp: 1_795_165_200_000 + i, sessionId: 's1', data: { i } }),
      ),
    );
    await opened.close();
    const out = join(dir, 'out.jsonl');
    const { code } = await stderrGone(['replay', 's1', '--store', store, '--types', 'nope,tool.used'], out);
    const lines = (await readFile(out, 'utf8')).split('\n').filter((line) => line !== '');
    expect({ code, lines: lines.length, last: JSON.parse(lines.at(-1) ?? '{}').data }).toEqual({
      code: 0,
      lines: count,
      last: { i: count - 1 },
    });
  });
});
