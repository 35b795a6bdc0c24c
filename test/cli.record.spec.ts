import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'src/cli/main.ts');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-record-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Hook {
  child: ChildProcess;
  closed: Promise<number | null>;
}

/** A `record` process, its payload written to its stdin (not ended): resolves once the payload is read. */
async function startRecord(log: string, payload: string): Promise<Hook> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'record', '--log', log], { cwd: ROOT });
  const closed = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  child.stdout!.resume();
  child.stderr!.resume();
  // The payload is far bigger than a pipe's buffer: the write completes once the child has read it, so
  // the child is loaded and waiting only for the end of its input.
  await new Promise<void>((resolve, reject) =>
    child.stdin!.write(payload, (error) => (error ? reject(error) : resolve())),
  );
  return { child, closed };
}

describe('vibespec-streams record', () => {
  it('keeps the lines of concurrent hooks whole, however big (one write per line, O_APPEND)', async () => {
    const log = join(dir, 'hooks.jsonl');
    // A PostToolUse of a Read of a big file: a payload of a few MB, one line in the log.
    const size = 5 * 1024 * 1024;
    const writers = 4;
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      const hooks: Hook[] = [];
      for (let w = 0; w < writers; w++) {
        const letter = String.fromCharCode(65 + round * writers + w);
        const payload = JSON.stringify({
          session_id: `s-${letter}`,
          hook_event_name: 'PostToolUse',
          tool_name: 'Read',
          tool_response: { content: letter.repeat(size) },
        });
        hooks.push(await startRecord(log, payload));
      }
      // All at once: each reads its end of input and appends its line while the others do.
      for (const { child } of hooks) child.stdin!.end();
      expect(await Promise.all(hooks.map((hook) => hook.closed))).toEqual(hooks.map(() => 0));
    }
    const lines = (await readFile(log, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(writers * rounds);
    const letters: string[] = [];
    for (const text of lines) {
      // An interleaved line is not JSON, or holds another hook's bytes.
      const { output } = JSON.parse(text) as {
        output: { session_id: string; tool_response: { content: string } };
      };
      const letter = output.session_id.slice(2);
      expect(output.tool_response.content).toBe(letter.repeat(size));
      letters.push(letter);
    }
    expect(letters.sort().join('')).toBe('ABCDEFGHIJKL');
  }, 120_000);
});
