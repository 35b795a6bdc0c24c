/**
 * `bridge` run in process (test/helpers/main.ts), where Stryker sees the code it runs: cli.spec.ts runs it
 * as a child process only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMain } from './helpers/main.js';

const S1 = 'f00dfeed-0000-4000-8000-0000000000c1';
const lines = [
  JSON.stringify({
    hook: 'Notification',
    timestamp: 1_795_165_200_000,
    output: { session_id: S1, hook_event_name: 'Notification', message: 'x' },
  }),
  JSON.stringify({
    hook: 'PostToolUse',
    timestamp: 1_795_165_201_000,
    output: {
      session_id: S1,
      hook_event_name: 'PostToolUse',
      tool_name: 'Edit',
      tool_input: { file_path: '/r/a.ts' },
      tool_response: {},
    },
  }),
];
const text = `${lines.join('\n')}\n`;
/** What `bridge` prints for `text`: one event a line. */
const EXPECTED = [
  { type: 'notification', sessionId: S1, timestamp: 1_795_165_200_000 },
  { type: 'tool.used', sessionId: S1, timestamp: 1_795_165_201_000 },
  { type: 'file.modified', sessionId: S1, timestamp: 1_795_165_201_000 },
];
const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-bridge-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('vibespec-streams bridge, run in process (main)', () => {
  it.each([
    ['stdin', []],
    ['stdin, named -', ['-']],
  ])('bridges JSON Lines on %s to events on stdout, a line split across chunks', async (_, args) => {
    const cut = 30; // inside the first line
    const run = await runMain(['bridge', ...args], [text.slice(0, cut), text.slice(cut)]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(events(run.stdout)).toMatchObject(EXPECTED);
  });

  it('bridges the JSON Lines of a file named, not stdin', async () => {
    const file = join(dir, 'hooks.jsonl');
    await writeFile(file, text);
    const run = await runMain(['bridge', file], ['{"not":"these"}\n']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(events(run.stdout)).toMatchObject(EXPECTED);
    expect(events(run.stdout)).toHaveLength(EXPECTED.length);
  });

  it('prints nothing and exits 0 for an empty input', async () => {
    expect(await runMain(['bridge'], [])).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
