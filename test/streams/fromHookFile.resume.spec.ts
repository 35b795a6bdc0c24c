/**
 * fromHookFile's resumeFrom and fromHookFileMarked's marks, on real files: a read that resumes after a
 * saved mark (or its byte offset) gives exactly the lines after it, also when following the file, and the
 * whole file again when it was truncated or replaced since.
 */
import { appendFile, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, type Observable, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, fromHookFile, fromHookFileMarked, type HookFileMark } from '../../src/index.js';
import { until } from '../helpers/until.js';

const collect = <T>(source: Observable<T>) => firstValueFrom(source.pipe(toArray()));

/** Waits for `polls` more polls of a source polling every 10 ms (a notification may shorten one). */
const polls = (count: number) => new Promise((r) => setTimeout(r, count * 10));

const line = (hook: string) => `${JSON.stringify({ hook, output: { text: 'é😀' } })}\n`;
const hooksOf = async (source: Observable<{ hook: string }>) => (await collect(source)).map((o) => o.hook);

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-resume-'));
  path = join(dir, 'hooks.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The marks of the file's lines, by hook name. */
async function marks(): Promise<Map<string, HookFileMark>> {
  return new Map((await collect(fromHookFileMarked(path))).map(({ output, mark }) => [output.hook, mark]));
}

describe('fromHookFile resumeFrom', () => {
  it('starts after the line of a mark, or at its byte offset: exactly the remaining lines', async () => {
    await writeFile(path, `${line('a')}\n${line('b')}${line('c')}${line('d')}`);
    const mark = (await marks()).get('b')!;
    expect(await hooksOf(fromHookFile(path, { resumeFrom: mark }))).toEqual(['c', 'd']);
    expect(await hooksOf(fromHookFile(path, { resumeFrom: mark.end }))).toEqual(['c', 'd']);
    expect(await hooksOf(fromHookFile(path, { resumeFrom: 0 }))).toEqual(['a', 'b', 'c', 'd']);
    // The marked read resumes too, and its marks are the file's offsets, as in a read from the start.
    const all = await collect(fromHookFileMarked(path));
    expect(await collect(fromHookFileMarked(path, { resumeFrom: mark }))).toEqual(all.slice(2));
    expect(await collect(fromHookFileMarked(path, { resumeFrom: mark.end }))).toEqual(all.slice(2));
    // The mark of the last line: nothing left.
    expect(await hooksOf(fromHookFile(path, { resumeFrom: all[3]!.mark }))).toEqual([]);
  });

  it('gives a bad line just after the mark the time of the lines before it, as one read does', async () => {
    const stamped = (hook: string, timestamp: number) =>
      `${JSON.stringify({ hook, output: {}, timestamp })}\n`;
    await writeFile(path, `${stamped('a', 5)}${stamped('b', 7)}not json\n${stamped('c', 9)}`);
    const all = await collect(fromHookFileMarked(path));
    expect(all.map(({ output, mark }) => [output.timestamp, mark.timestamp])).toEqual([
      [5, 5],
      [7, 7],
      [7, 7],
      [9, 9],
    ]);
    // Through JSON, as an app saves it.
    const saved = JSON.parse(JSON.stringify(all[1]!.mark)) as HookFileMark;
    expect(await collect(fromHookFileMarked(path, { resumeFrom: saved }))).toEqual(all.slice(2));
    expect((await collect(fromHookFile(path, { resumeFrom: saved })))[0]).toMatchObject({
      error: expect.stringMatching(/^invalid JSON/),
      timestamp: 7,
    });
    // A bare offset does not know it: the bad line has no time (the bridge stamps it with its clock).
    expect((await collect(fromHookFile(path, { resumeFrom: saved.end })))[0]!.timestamp).toBeUndefined();
  });

  it('gives a bad line first in a file rotated since the mark the mark’s time, at each read, as a follow across the rotation does', async () => {
    const stamped = (hook: string, timestamp: unknown) =>
      `${JSON.stringify({ hook, output: {}, timestamp })}\n`;
    await writeFile(path, `${stamped('a', 5)}${stamped('b', 7)}`);
    const saved = JSON.parse(JSON.stringify((await marks()).get('b')!)) as HookFileMark;
    await rename(path, `${path}.1`);
    await writeFile(path, `not json\n${stamped('c', -5)}${stamped('d', 9)}${stamped('e', null)}`);
    for (let read = 0; read < 2; read++) {
      const outputs = await collect(fromHookFile(path, { resumeFrom: saved }));
      // Read from its start; the bad lines take the time of the last good line read before them.
      expect(outputs.map((o) => [o.hook, o.timestamp])).toEqual([
        ['unknown', 7],
        ['c', 7],
        ['d', 9],
        ['e', 9],
      ]);
    }
  });

  it('does not give a bad line the time of a mark that is none (negative: saved by an older reader)', async () => {
    const stamped = (hook: string, timestamp: number) =>
      `${JSON.stringify({ hook, output: {}, timestamp })}\n`;
    await writeFile(path, `${stamped('a', -5)}not json\n`);
    const [first, bad] = await collect(fromHookFileMarked(path));
    // Not remembered: neither the mark nor the bad line after it carries it.
    expect([first!.mark.timestamp, bad!.output.timestamp, bad!.mark.timestamp]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    // A mark an older reader saved with it: accepted, the time not taken.
    const older = { ...first!.mark, timestamp: -5 };
    const [resumed] = await collect(fromHookFile(path, { resumeFrom: older }));
    expect([resumed!.error?.split(':')[0], resumed!.timestamp]).toEqual(['invalid JSON', undefined]);
  });

  it('reads the file from its start when it is not the one the mark was taken in', async () => {
    await writeFile(path, line('a') + line('b') + line('c'));
    const mark = (await marks()).get('a')!;
    // Rewritten in place (same inode, longer, other first bytes).
    await writeFile(path, line('x') + line('y') + line('z') + line('w'));
    expect(await hooksOf(fromHookFile(path, { resumeFrom: mark }))).toEqual(['x', 'y', 'z', 'w']);
    // Rotated: another file at the path, with the same bytes.
    const rotated = join(dir, 'next.jsonl');
    await writeFile(path, line('a') + line('b'));
    const again = (await marks()).get('a')!;
    await writeFile(rotated, line('a') + line('b'));
    await rename(rotated, path);
    expect((await stat(path)).ino).not.toBe(again.ino);
    expect(await hooksOf(fromHookFile(path, { resumeFrom: again }))).toEqual(['a', 'b']);
  });

  it('reads a file truncated since, shorter than the mark, from its start (mark or offset)', async () => {
    await writeFile(path, line('a') + line('b') + line('c'));
    const mark = (await marks()).get('b')!;
    await writeFile(path, line('n')); // same inode, now shorter than the mark's end
    expect(await hooksOf(fromHookFile(path, { resumeFrom: mark }))).toEqual(['n']);
    expect(await hooksOf(fromHookFile(path, { resumeFrom: mark.end }))).toEqual(['n']);
  });

  it('reads a file truncated since to past its first 256 bytes, shorter than the mark, from its start', async () => {
    const long = (hook: string) => line(hook.padEnd(300, '.'));
    await writeFile(path, long('a') + long('b') + long('c'));
    const mark = (await marks()).get(long('b').match(/"hook":"([^"]*)"/)![1]!)!;
    // The same first 256 bytes, the same inode: only its size tells that the mark is past its end.
    await writeFile(path, long('a') + line('n'));
    const names = async (resumeFrom: number | HookFileMark) =>
      (await hooksOf(fromHookFile(path, { resumeFrom }))).map((hook) => hook.replace(/\.+$/, ''));
    expect(await names(mark)).toEqual(['a', 'n']);
    expect(await names(mark.end)).toEqual(['a', 'n']);
  });

  it('follows the file from the mark: the remaining lines, then the appended ones, none twice', async () => {
    await writeFile(path, line('a') + line('b') + line('c'));
    const mark = (await marks()).get('a')!;
    for (const resumeFrom of [mark, mark.end]) {
      await writeFile(path, line('a') + line('b') + line('c'));
      const seen: string[] = [];
      const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 10, resumeFrom }).subscribe(
        (o) => seen.push(o.hook),
      );
      await until(() => seen.length >= 2);
      // Several polls, each of which checks the file's first bytes for a rewrite in place: the bytes kept
      // when resuming are the file's, so none is seen.
      await polls(5);
      await appendFile(path, line('d'));
      await until(() => seen.length >= 3);
      await polls(5);
      subscription.unsubscribe();
      expect(seen).toEqual(['b', 'c', 'd']);
    }
  });

  it('following, a file truncated after the resume is read again from its start', async () => {
    await writeFile(path, line('a') + line('b') + line('c'));
    const mark = (await marks()).get('a')!;
    const seen: string[] = [];
    const subscription = fromHookFileMarked(path, {
      follow: true,
      pollIntervalMs: 10,
      resumeFrom: mark,
    }).subscribe(({ output }) => seen.push(output.hook));
    await until(() => seen.length >= 2);
    await writeFile(path, line('n'));
    await until(() => seen.length >= 3);
    await polls(5);
    subscription.unsubscribe();
    expect(seen).toEqual(['b', 'c', 'n']);
  });

  it('following from the mark of the last line, a file rewritten in place since is read from its start', async () => {
    await writeFile(path, line('a') + line('b'));
    const mark = (await marks()).get('b')!;
    for (const resumeFrom of [mark, mark.end]) {
      await writeFile(path, line('a') + line('b'));
      const seen: string[] = [];
      const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 10, resumeFrom }).subscribe(
        (o) => seen.push(o.hook),
      );
      // Nothing to read after the mark: only the first bytes kept when resuming tell the rewrite.
      await polls(5);
      await writeFile(path, line('x') + line('y') + line('z'));
      await until(() => seen.length >= 3);
      await polls(5);
      subscription.unsubscribe();
      expect(seen).toEqual(['x', 'y', 'z']);
    }
  });

  it('following a missing file, resumes once it appears', async () => {
    await writeFile(path, line('a') + line('b'));
    const mark = (await marks()).get('a')!;
    await rm(path);
    const seen: string[] = [];
    const subscription = fromHookFile(path, {
      follow: true,
      pollIntervalMs: 10,
      resumeFrom: mark.end,
    }).subscribe((o) => seen.push(o.hook));
    await polls(3);
    // Whole at once (a rename), so that the source cannot find it empty, shorter than the offset.
    await writeFile(`${path}.new`, line('a') + line('b'));
    await rename(`${path}.new`, path);
    await until(() => seen.length >= 1);
    await polls(5);
    subscription.unsubscribe();
    expect(seen).toEqual(['b']);
  });

  it('refuses a resumeFrom that is no offset or mark with a ConfigError at construction', () => {
    const head = Buffer.from(line('a')).toString('hex');
    const end = head.length / 2;
    for (const bad of [
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      '8',
      null,
      { end },
      { end: -1, ino: 1, head: '' },
      { end: 2 ** 53, ino: 1, head: '00'.repeat(256) }, // an unsafe end, with a head of the right length
      { end: 300.5, ino: 1, head: '00'.repeat(256) },
      { end, ino: 1.5, head },
      { end, ino: -1, head },
      { end, ino: 1 }, // no head
      { end: 0, ino: 1, head: [] }, // a head that is no string, even of length 0
      { end, ino: 1, head: head.slice(2) }, // not min(256, end) bytes
      { end, ino: 1, head: head.toUpperCase() },
      { end, ino: 1, head, timestamp: '5' },
      { end, ino: 1, head, timestamp: Number.NaN },
      { end: 300, ino: 1, head: '00'.repeat(300) }, // 256 bytes at most
    ]) {
      expect(() => fromHookFile(path, { resumeFrom: bad as never }), String(bad)).toThrow(ConfigError);
      expect(() => fromHookFileMarked(path, { resumeFrom: bad as never })).toThrow(ConfigError);
    }
    expect(() => fromHookFile(path, { resumeFrom: { end: 2, ino: 1, head: 'zz' } })).toThrow(
      /resumeFrom\.head must be the lowercase hex of the file's first min\(256, end\) bytes \(4 digits\), got 'zz'/,
    );
    expect(() => fromHookFile(path, { resumeFrom: -1 })).toThrow(
      /^fromHookFile: resumeFrom must be a byte offset \(a non-negative safe integer\) or a mark/,
    );
    // Accepted: an offset, a mark, a whole mark (with `terminated`), and the 256-byte head of a longer line.
    expect(() => fromHookFile(path, { resumeFrom: 0 })).not.toThrow();
    expect(() => fromHookFile(path, { resumeFrom: { end, ino: 1, head } })).not.toThrow();
    // The least end and inode accepted: 0 for both.
    expect(() => fromHookFile(path, { resumeFrom: { end, ino: 0, head } })).not.toThrow();
    expect(() => fromHookFile(path, { resumeFrom: { end: 0, ino: 1, head: '' } })).not.toThrow();
    const whole: HookFileMark = { end, ino: 1, head, terminated: true };
    expect(() => fromHookFile(path, { resumeFrom: whole })).not.toThrow();
    expect(() =>
      fromHookFile(path, { resumeFrom: { end: 300, ino: 1, head: '00'.repeat(256) } }),
    ).not.toThrow();
    expect(() => fromHookFileMarked(path, { resumeFrom: -1 })).toThrow(ConfigError);
  });
});
