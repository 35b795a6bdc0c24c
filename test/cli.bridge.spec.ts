/**
 * `bridge` run in process (test/helpers/main.ts), where Stryker sees the code it runs: cli.spec.ts runs it
 * as a child process only.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TERMINAL_INPUT_TEXT } from '../src/cli/commands.js';
import { runMain } from './helpers/main.js';
import { hasTerminal, onTerminal } from './helpers/terminal.js';

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

  it.each([
    ['stdin', []],
    ['stdin, named -', ['-']],
  ])(
    'says once on stderr, when %s is a terminal, what it reads and how to end it; stdout has the events only',
    async (_, args) => {
      // A terminal gave no word: bridge waited for input and looked hung.
      const terminal = Object.assign(Readable.from([Buffer.from(text)]), { isTTY: true });
      const real = Object.getOwnPropertyDescriptor(process, 'stdin')!;
      Object.defineProperty(process, 'stdin', { value: terminal, configurable: true });
      let run: Awaited<ReturnType<typeof runMain>>;
      try {
        run = await runMain(['bridge', ...args]);
      } finally {
        Object.defineProperty(process, 'stdin', real);
      }
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: TERMINAL_INPUT_TEXT });
      if (process.platform !== 'win32') {
        expect(TERMINAL_INPUT_TEXT).toBe(
          'bridge: reading hook payloads (JSON Lines) from the terminal; end the input with Ctrl+D at the start of a line',
        );
      }
      expect(events(run.stdout)).toMatchObject(EXPECTED);
      expect(events(run.stdout)).toHaveLength(EXPECTED.length);
    },
  );

  it('says nothing of the terminal when it reads a file named', async () => {
    const file = join(dir, 'hooks.jsonl');
    await writeFile(file, text);
    const terminal = Object.assign(Readable.from([]), { isTTY: true });
    const real = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: terminal, configurable: true });
    try {
      const run = await runMain(['bridge', file]);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(events(run.stdout)).toMatchObject(EXPECTED);
    } finally {
      Object.defineProperty(process, 'stdin', real);
    }
  });
});

describe.skipIf(!hasTerminal)('vibespec-streams bridge on a terminal (script)', () => {
  it('says what it waits for on the terminal, reads the lines typed until Ctrl+D, its stdout the events only', async () => {
    const out = join(dir, 'events.jsonl');
    // Typed after the notice: a line, then Ctrl+D at the start of a line (the end of input).
    const { code, terminal } = await onTerminal(['bridge'], {
      waitFor: 'Ctrl+D',
      typed: [`${lines[0]}\n`],
      stdoutTo: out,
    });
    expect(code).toBe(0);
    expect(terminal.split(TERMINAL_INPUT_TEXT)).toHaveLength(2); // once
    expect(events(await readFile(out, 'utf8'))).toMatchObject([EXPECTED[0]]);
  });
});
