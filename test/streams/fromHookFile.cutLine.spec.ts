/**
 * A line cut by a short write, whose last byte `record` then replaces by a newline (see `writeWhole`), while
 * the file is followed: the follower may have read the cut line's bytes before that overwrite.
 */
import { appendFile, mkdtemp, open, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHookFileMarked, type HookFileMark, type HookOutput } from '../../src/index.js';
import { until } from '../helpers/until.js';

const line = (hook: string) => `${JSON.stringify({ hook, output: { text: 'é😀' } })}\n`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cut-line-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** As `writeWhole` ends a cut line: its last byte, at the end of the file, overwritten by a newline. */
async function endCutLine(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    await file.write(Buffer.from('\n'), 0, 1, size - 1);
  } finally {
    await file.close();
  }
}

describe('fromHookFileMarked, following a file whose cut last line is ended in place', () => {
  it.each([
    ['past its first 256 bytes', 300],
    ['in its first 256 bytes', 0],
  ])('reads the cut line alone, and the next lines whole and once (%s)', async (_, padding) => {
    const path = join(dir, 'hooks.jsonl');
    const first = line(`a${'a'.repeat(padding)}`);
    const next = line('b');
    // The cut line is read with the first one, in the follower's first read (both are there before it).
    const cut = next.slice(0, 20);
    await writeFile(path, `${first}${cut}`);
    const seen: Array<{ output: HookOutput; mark: HookFileMark }> = [];
    const subscription = fromHookFileMarked(path, { follow: true, pollIntervalMs: 20 }).subscribe((o) =>
      seen.push(o),
    );
    try {
      await until(() => seen.length > 0);
      await endCutLine(path);
      // Read as soon as it is ended, not with the next line: its newline is the one byte there is to read.
      await until(() => seen.length > 1);
      expect(seen).toHaveLength(2);
      await writeFile(path, `${next}${line('c')}`, { flag: 'a' });
      await until(() => seen.some(({ output }) => output.hook === 'c'));
    } finally {
      subscription.unsubscribe();
    }
    const firstEnd = Buffer.byteLength(first);
    const cutEnd = firstEnd + cut.length;
    expect(seen.map(({ output, mark }) => [output.hook, output.error === undefined, mark.end])).toEqual([
      [`a${'a'.repeat(padding)}`, true, firstEnd],
      ['b', false, cutEnd], // the cut line: not JSON, its hook read from its start
      ['b', true, cutEnd + Buffer.byteLength(next)],
      ['c', true, cutEnd + Buffer.byteLength(next) + Buffer.byteLength(line('c'))],
    ]);
    expect(seen[1]!.output.output).toBe(cut.slice(0, -1));
  });

  it('gives the last line of a rotated file, without a newline, the mark of the file read', async () => {
    const path = join(dir, 'hooks.jsonl');
    // Its last byte is kept back by the read (not a newline), and taken when the file is left.
    await writeFile(path, `${line('a')}{"cut`);
    const bytes = await readFile(path);
    const seen: Array<{ output: HookOutput; mark: HookFileMark }> = [];
    const subscription = fromHookFileMarked(path, { follow: true, pollIntervalMs: 20 }).subscribe((o) =>
      seen.push(o),
    );
    try {
      await until(() => seen.length > 0);
      await rename(path, `${path}.1`);
      await writeFile(path, line('b'));
      await until(() => seen.some(({ output }) => output.hook === 'b'));
    } finally {
      subscription.unsubscribe();
    }
    expect(seen[1]).toMatchObject({
      output: { hook: 'unknown', output: '{"cut' },
      mark: { end: bytes.length, terminated: false, head: bytes.toString('hex') },
    });
  });

  it('reads a line whose newline comes alone, in a write of one byte', async () => {
    const path = join(dir, 'hooks.jsonl');
    const whole = line('a');
    await writeFile(path, whole.slice(0, -1));
    const seen: HookOutput[] = [];
    const subscription = fromHookFileMarked(path, { follow: true, pollIntervalMs: 20 }).subscribe((o) =>
      seen.push(o.output),
    );
    try {
      await appendFile(path, '\n');
      await until(() => seen.length > 0);
    } finally {
      subscription.unsubscribe();
    }
    expect(seen).toEqual([{ hook: 'a', output: { text: 'é😀' } }]);
  });

  it('reads a file truncated by the one byte kept back from its start', async () => {
    const path = join(dir, 'hooks.jsonl');
    await writeFile(path, `${line('a')}{"cut`);
    const seen: HookOutput[] = [];
    const subscription = fromHookFileMarked(path, { follow: true, pollIntervalMs: 20 }).subscribe((o) =>
      seen.push(o.output),
    );
    try {
      await until(() => seen.length > 0);
      // Shorter than what was read, by the last byte read (kept back): truncated, so read again.
      await truncate(path, Buffer.byteLength(line('a')) + 4);
      await until(() => seen.length > 2);
    } finally {
      subscription.unsubscribe();
    }
    expect(seen.map((output) => [output.hook, output.output])).toEqual([
      ['a', { text: 'é😀' }],
      ['unknown', '{"cut'], // the end of the file as read, before the truncation
      ['a', { text: 'é😀' }],
    ]);
  });
});
