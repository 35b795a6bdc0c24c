/**
 * The commands that print much (`bridge`, `replay`, `sessions`), and the usage, run in process, when
 * stdout's reader is gone (`| head -1`) or its writes fail (ENOSPC): `Output.ready` is made to say so, as
 * it does then (the real stdout cannot be closed under the test runner). cli.spec.ts checks the same on
 * the real CLI, in a child process, where Stryker does not see it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Output } from '../src/cli/output.js';
import { createEvent, openStore } from '../src/index.js';
import { runMain } from './helpers/main.js';

const S1 = 'f00dfeed-0000-4000-8000-0000000000d1';
const note = (i: number) =>
  `${JSON.stringify({
    hook: 'Notification',
    timestamp: 1_795_165_200_000 + i,
    output: { session_id: S1, hook_event_name: 'Notification', message: `m${i}` },
  })}\n`;
const ENOSPC = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
const lineCount = (stdout: string) => stdout.split('\n').filter((line) => line !== '').length;

let dir: string;
let store: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-reader-'));
  store = join(dir, 'store');
  const opened = await openStore({ path: store });
  await opened.append(
    [0, 1, 2].map((i) =>
      createEvent({ type: 'tool.used', timestamp: 1_795_165_200_000 + i, sessionId: `s${i}`, data: {} }),
    ),
  );
  await opened.append(
    [0, 1, 2].map((i) =>
      createEvent({ type: 'tool.used', timestamp: 1_795_165_300_000 + i, sessionId: 's0', data: {} }),
    ),
  );
  await opened.close();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** The store opens again: the command closed it. */
async function closed(): Promise<void> {
  await (await openStore({ path: store })).close();
}

describe('once the reader of stdout is gone (| head -1)', () => {
  beforeEach(() => {
    vi.spyOn(Output.prototype, 'ready').mockResolvedValue(false);
  });

  it.each([
    ['replay', ['replay', 's0']],
    ['sessions', ['sessions']],
  ])('%s stops at the first line, exits 0 and closes the store', async (_, argv) => {
    const run = await runMain([...argv, '--store', store]);
    expect({ code: run.code, stderr: run.stderr, lines: lineCount(run.stdout) }).toEqual({
      code: 0,
      stderr: '',
      lines: 1,
    });
    await closed();
  });

  it('bridge stops reading after the first chunk, exits 0', async () => {
    const run = await runMain(['bridge'], [note(0), note(1), note(2)]);
    expect({ code: run.code, stderr: run.stderr, lines: lineCount(run.stdout) }).toEqual({
      code: 0,
      stderr: '',
      lines: 1,
    });
  });
});

describe('when a write to stdout fails (ENOSPC)', () => {
  it.each([
    ['replay', ['replay', 's0']],
    ['sessions', ['sessions']],
    ['context', ['context', 's0']],
  ])('%s fails with that error and closes the store', async (_, argv) => {
    vi.spyOn(Output.prototype, 'ready').mockRejectedValue(ENOSPC());
    await expect(runMain([...argv, '--store', store])).rejects.toMatchObject({ code: 'ENOSPC' });
    await closed();
  });

  it.each([[['help']], [['--help']], [['-h']], [[]], [['sessions', '--help']], [['--version']]])(
    '%j fails with that error (help > /dev/full: the usage is not written), not exit 0',
    async (argv) => {
      const ready = vi.spyOn(Output.prototype, 'ready').mockRejectedValue(ENOSPC());
      await expect(runMain(argv)).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(ready).toHaveBeenCalledTimes(1);
    },
  );

  it('bridge fails with that error, as itself (not as a failure to read its input), and stops reading', async () => {
    const ready = vi.spyOn(Output.prototype, 'ready').mockRejectedValue(ENOSPC());
    const error = await runMain(['bridge'], [note(0), note(1), note(2)]).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error).toMatchObject({ code: 'ENOSPC', message: 'ENOSPC: no space left on device, write' });
    expect(ready).toHaveBeenCalledTimes(1);
  });
});
