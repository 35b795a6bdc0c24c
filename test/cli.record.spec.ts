import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { constants, existsSync, readdirSync, renameSync } from 'node:fs';
import fsp, {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RECORD_TERMINAL_TEXT } from '../src/cli/main.js';
import { loadFixtures } from './helpers/fixtures.js';
import { spyOnFsyncs } from './helpers/fsyncSpy.js';
import { runMain } from './helpers/main.js';
import { hasTerminal, onTerminal } from './helpers/terminal.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'src/cli/bin.ts');

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
    const text = await readFile(log, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    // A hook that finds another's line still being written takes it for a torn one and starts its own on a
    // line of its own: a blank line, which the reader skips.
    const lines = text.split('\n').filter((line) => line !== '');
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
  }, 300_000);

  it('exits 1 on a short write, and the next record still writes a whole line', async () => {
    const log = join(dir, 'hooks.jsonl');
    const payload = (letter: string) =>
      JSON.stringify({
        session_id: `s-${letter}`,
        hook_event_name: 'Notification',
        message: letter.repeat(300_000),
      });
    // Under a file size limit (ulimit -f: 128 or 256 KiB, by the shell), the kernel writes what fits and
    // returns a short count, as on a full disk (a newline after the cut line would not fit either).
    const limited = await run(
      ['sh', '-c', 'ulimit -f 256 && exec "$0" "$@"', process.execPath],
      log,
      payload('A'),
    );
    expect(limited.code).toBe(1);
    const cut = /vibespec-streams record: .+: short write: (\d+) of (\d+) bytes written/.exec(limited.stderr);
    expect(cut, limited.stderr).not.toBeNull();
    const [written, size] = [Number(cut![1]), Number(cut![2])];
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(size);
    expect(limited.stderr).not.toContain('cut line');
    expect((await stat(log)).size).toBe(written);
    // Space again: the next hook's line is whole, on a line of its own, after the cut one.
    const next = await run([process.execPath], log, payload('B'));
    expect(next).toMatchObject({ code: 0, stderr: '' });
    const lines = (await readFile(log, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toHaveLength(written - 1); // its last byte is now the newline that ends it
    expect(() => JSON.parse(lines[0]!)).toThrow();
    expect(JSON.parse(lines[1]!)).toMatchObject({ hook: 'Notification', output: { session_id: 's-B' } });
    expect(lines[2]).toBe('');
  }, 180_000);

  it.each(['process', 'os'])(
    'appends to a log it may write but not read (mode 0200), with durability %s: opened O_RDWR, it failed (EACCES)',
    async (durability) => {
      const log = join(dir, 'hooks.jsonl');
      await writeFile(log, 'before\n', { mode: 0o200 });
      await chmod(log, 0o200);
      // Root reads it whatever its mode: run as nobody then, owning it.
      const root = process.getuid?.() === 0;
      if (root) {
        await chmod(dir, 0o755);
        await chown(log, 65534, 65534);
      }
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, 'record', '--log', log, '--durability', durability],
        { cwd: ROOT, ...(root ? { uid: 65534, gid: 65534 } : {}) },
      );
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      child.stdout.resume();
      child.stdin.end(JSON.stringify({ hook_event_name: 'Stop' }));
      const code = await new Promise<number | null>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', resolve);
      });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      await chmod(log, 0o600);
      const [first, line, end] = (await readFile(log, 'utf8')).split('\n');
      expect([first, end]).toEqual(['before', '']);
      expect(JSON.parse(line!)).toMatchObject({ hook: 'Stop', output: { hook_event_name: 'Stop' } });
    },
    60_000,
  );

  it('exits 1 with the reason when the log folder cannot be created (/proc/x: recursive mkdir spun)', async () => {
    // The kill is only a guard, so that a run that never ends fails here instead of hanging the suite.
    const result = await run([process.execPath], '/proc/x/y', '{}', 20_000);
    expect(result).toMatchObject({ code: 1, signal: null });
    expect(result.stderr).toContain(
      "vibespec-streams record: /proc/x/y: ENOENT: no such file or directory, mkdir '/proc/x'",
    );
  }, 180_000);
});

describe('vibespec-streams record, a usage error', () => {
  it('exits 1, not 2 (for a Claude Code hook, exit 2 blocks the tool call or the prompt)', async () => {
    const log = join(dir, 'hooks.jsonl');
    for (const options of [['--nope'], ['--hook']]) {
      const result = await run([process.execPath], log, '{}', undefined, options);
      expect(result, result.stderr).toMatchObject({ code: 1 });
      expect(result.stderr).toMatch(/^vibespec-streams: (unknown option "--nope"|--hook needs a value)/);
    }
    await expect(stat(log)).rejects.toMatchObject({ code: 'ENOENT' });
  }, 180_000);
});

describe('vibespec-streams record --durability', () => {
  const FSYNC_SPY = join(ROOT, 'test/helpers/fsyncSpy.ts');
  /** Records one payload with the fsync spy preloaded; returns the spy's lines (fsyncs, in order). */
  async function spied(log: string, extra: string[]) {
    const spyLog = join(dir, 'fsyncs.txt');
    await writeFile(spyLog, '');
    const result = await run(
      [process.execPath, '--import', 'tsx', '--import', FSYNC_SPY],
      log,
      JSON.stringify({ session_id: 's', hook_event_name: 'Stop' }),
      undefined,
      [...extra],
      { VIBESPEC_FSYNC_LOG: spyLog },
    );
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(await readFile(log, 'utf8'))).toMatchObject({ hook: 'Stop' });
    return (await readFile(spyLog, 'utf8')).split('\n').filter((text) => text.length > 0);
  }

  it('os: fsyncs a new log, its folder, and the folder above each folder it created', async () => {
    const log = join(dir, 'a', 'b', 'hooks.jsonl');
    expect(await spied(log, ['--durability', 'os'])).toEqual([
      `sync ${log}`,
      `sync ${join(dir, 'a', 'b')}`,
      `sync ${join(dir, 'a')}`,
      `sync ${dir}`,
    ]);
  });

  it('os: fsyncs only the log when it was there', async () => {
    const log = join(dir, 'hooks.jsonl');
    await writeFile(log, '');
    expect(await spied(log, ['--durability', 'os'])).toEqual([`sync ${log}`]);
  });

  it.each([[[]], [['--durability', 'process']]])(
    'process (the default, %j): fsyncs nothing',
    async (extra: string[]) => {
      expect(await spied(join(dir, 'a', 'hooks.jsonl'), extra)).toEqual([]);
    },
  );

  it('refuses another value, naming the option, and writes nothing', async () => {
    const log = join(dir, 'hooks.jsonl');
    const result = await run([process.execPath], log, '{}', undefined, ['--durability', 'sync']);
    expect(result.code).toBe(1); // not 2: see 'exits 1, not 2, on a usage error'
    expect(result.stderr).toContain('--durability must be process or os, got "sync"');
    await expect(stat(log)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('vibespec-streams record, run in process (main)', () => {
  const T = Date.UTC(2026, 5, 1, 12, 0, 0);
  /** `text` as a pipe may hand it over: in chunks of 7 bytes, which cut multi-byte characters. */
  const piped = (text: string) => {
    const bytes = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 7) chunks.push(bytes.subarray(at, at + 7));
    return chunks;
  };
  const lines = async (log: string) =>
    (await readFile(log, 'utf8'))
      .split('\n')
      .filter((text) => text !== '')
      .map((text) => JSON.parse(text) as unknown);

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('appends each real payload as one line { hook, timestamp, output }, named by its hook_event_name', async () => {
    const log = join(dir, 'hooks.jsonl');
    const fixtures = loadFixtures();
    expect(fixtures.some(({ payload }) => payload.hook_event_name === undefined)).toBe(true);
    let now = T;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    for (const [i, { payload }] of fixtures.entries()) {
      now = T + i;
      expect(await runMain(['record', '--log', log], piped(JSON.stringify(payload)))).toEqual({
        code: 0,
        stdout: '',
        stderr: '',
      });
    }
    // Legacy payloads without hook_event_name are recorded under 'unknown'; the bridge reads them anyway.
    expect(await lines(log)).toEqual(
      fixtures.map(({ payload }, i) => ({
        hook: payload.hook_event_name ?? 'unknown',
        timestamp: T + i,
        output: payload,
      })),
    );
  });

  // Was: a payload after a UTF-8 byte order mark (written by a Windows tool, PowerShell's UTF-8 encoding)
  // was no JSON to JSON.parse: recorded as its text, under hook 'unknown', and ingested as one
  // hook.rejected, its events lost, where bridge and ingest read the same bytes as the payload (their line
  // reader drops a BOM at the start of the input). The first BOM is dropped, as there; a second one is the
  // payload's, which then is no JSON, as there.
  it('reads a payload after a byte order mark as the payload, as bridge reads it; one after two as text', async () => {
    const log = join(dir, 'hooks.jsonl');
    const payload = { session_id: 's', hook_event_name: 'SessionStart', source: 'startup' };
    const text = JSON.stringify(payload);
    for (const input of [`\ufeff${text}`, `\ufeff${text}\r\n`, `${text}\r\n`, `\ufeff\ufeff${text}`]) {
      expect(await runMain(['record', '--log', log], piped(input))).toEqual({
        code: 0,
        stdout: '',
        stderr: '',
      });
    }
    expect((await lines(log)).map((line) => (line as { hook: string; output: unknown }).output)).toEqual([
      payload,
      payload,
      payload,
      `\ufeff${text}`,
    ]);
    expect((await lines(log)).map((line) => (line as { hook: string }).hook)).toEqual([
      'SessionStart',
      'SessionStart',
      'SessionStart',
      'unknown',
    ]);
  });

  // readStdin takes a chunk that is a string (a stdin in string mode: setEncoding called on it, by a
  // preloaded module say) as its UTF-8 bytes, as a Buffer: pushed as it is, Buffer.concat threw on it.
  it('reads a stdin in string mode (its chunks strings) as the same payload', async () => {
    const log = join(dir, 'hooks.jsonl');
    const payload = { session_id: 's', hook_event_name: 'UserPromptSubmit', prompt: 'café → ü' };
    const bytes = Buffer.from(JSON.stringify(payload));
    const stdin = new PassThrough();
    stdin.setEncoding('utf8');
    // Cut inside a character: the stream's decoder gives it whole, in one of two strings.
    const cut = bytes.indexOf(Buffer.from('é')) + 1;
    stdin.write(bytes.subarray(0, cut));
    stdin.end(bytes.subarray(cut));
    const realStdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: stdin, configurable: true });
    try {
      expect(await runMain(['record', '--log', log])).toEqual({ code: 0, stdout: '', stderr: '' });
    } finally {
      Object.defineProperty(process, 'stdin', realStdin);
    }
    expect(await lines(log)).toEqual([
      { hook: 'UserPromptSubmit', timestamp: expect.any(Number), output: payload },
    ]);
    // Its listeners taken off once it is read: none left on the stream.
    expect(['data', 'end', 'error'].map((name) => stdin.listenerCount(name))).toEqual([0, 0, 0]);
  });

  it('exits 1, saying why, when reading stdin fails (an error event on it), and records nothing', async () => {
    const log = join(dir, 'hooks.jsonl');
    const stdin = new PassThrough();
    stdin.write('{"hook_event_name":');
    const realStdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: stdin, configurable: true });
    try {
      const run = runMain(['record', '--log', log]);
      setImmediate(() => stdin.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })));
      expect(await run).toEqual({
        code: 1,
        stdout: '',
        stderr: `vibespec-streams record: ${log}: EIO: i/o error, read`,
      });
    } finally {
      Object.defineProperty(process, 'stdin', realStdin);
    }
    expect(existsSync(log)).toBe(false);
  });

  it('names the line after --hook, whatever the payload says', async () => {
    const log = join(dir, 'hooks.jsonl');
    const payload = { session_id: 's', hook_event_name: 'Stop' };
    const run = await runMain(['record', '--log', log, '--hook', 'SubagentStop'], [JSON.stringify(payload)]);
    expect(run.code).toBe(0);
    expect(await lines(log)).toEqual([
      { hook: 'SubagentStop', timestamp: expect.any(Number), output: payload },
    ]);
  });

  it('records with its options before the command (a hook written --log x record), as after it', async () => {
    const log = join(dir, 'hooks.jsonl');
    const payload = { session_id: 's', hook_event_name: 'Stop' };
    const run = await runMain(['--log', log, '--hook', 'SubagentStop', 'record'], [JSON.stringify(payload)]);
    expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await lines(log)).toEqual([
      { hook: 'SubagentStop', timestamp: expect.any(Number), output: payload },
    ]);
  });

  it("records whatever other commands' options its command line carries (--store '', --poll-ms, --follow): it ignores them", async () => {
    const log = join(dir, 'hooks.jsonl');
    const payload = { session_id: 's', hook_event_name: 'Stop' };
    const extra = ['--store', '', '--poll-ms', 'x', '--follow', '--limit=-1', '--types', ''];
    const run = await runMain(['record', '--log', log, ...extra], [JSON.stringify(payload)]);
    expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await lines(log)).toEqual([{ hook: 'Stop', timestamp: expect.any(Number), output: payload }]);
  });

  it.each([
    ['text that is not JSON, as its text', '{"session_id": ', '{"session_id": '],
    ['no input at all, as an empty text', '', ''],
    ['null', 'null', null],
    ['a hook_event_name that is no string', '{"hook_event_name": 7}', { hook_event_name: 7 }],
    ['an array', '["Stop"]', ['Stop']],
  ])('records %s under the hook unknown, and exits 0 (never blocks Claude)', async (_, stdin, output) => {
    const log = join(dir, 'hooks.jsonl');
    expect(await runMain(['record', '--log', log], [stdin])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await lines(log)).toEqual([{ hook: 'unknown', timestamp: expect.any(Number), output }]);
  });

  it('creates the folders of the log, and appends to a log that is there', async () => {
    const log = join(dir, 'a', 'b', 'hooks.jsonl');
    for (const event of ['SessionStart', 'Stop'])
      expect(
        (await runMain(['record', '--log', log], [JSON.stringify({ hook_event_name: event })])).code,
      ).toBe(0);
    expect((await lines(log)).map((line) => (line as { hook: string }).hook)).toEqual([
      'SessionStart',
      'Stop',
    ]);
  });

  it.each([
    ['process', 'a part of a line', '{"hook":"Stop","timest'],
    ['os', 'a part of a line', '{"hook":"Stop","timest'],
    ['process', 'NULs (a block allocated, its data never written)', '\0\0\0\0'],
  ])(
    'starts its line on a line of its own after a torn last line (%s; %s: a crash mid-write), so that it stays readable',
    async (durability, _, torn) => {
      const log = join(dir, 'hooks.jsonl');
      const before = JSON.stringify({ hook: 'SessionStart', timestamp: T, output: {} });
      await writeFile(log, `${before}\n${torn}`);
      const payload = { session_id: 's', hook_event_name: 'Stop' };
      const run = await runMain(
        ['record', '--log', log, '--durability', durability],
        [JSON.stringify(payload)],
      );
      expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
      const text = await readFile(log, 'utf8');
      const [first, cut, line, end] = text.split('\n');
      expect([first, cut, end]).toEqual([before, torn, '']);
      expect(JSON.parse(line!)).toEqual({ hook: 'Stop', timestamp: expect.any(Number), output: payload });
    },
  );

  it('opens a log that is a FIFO to write only, as before its last byte was looked at: opened O_RDWR, it never waits for a reader, and a line written with none is lost at its close (exit 0)', async () => {
    const log = join(dir, 'hooks.fifo');
    execFileSync('mkfifo', [log]);
    // A reader there first, so that the write-only open does not wait for one.
    const reader = await fsp.open(log, constants.O_RDONLY | constants.O_NONBLOCK);
    const modes: number[] = [];
    const spiedOpen = fsp.open;
    fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
      if (args[0] === log) {
        const flags = args[1];
        modes.push(typeof flags === 'number' ? flags & 3 : flags?.includes('+') ? constants.O_RDWR : 0);
      }
      return spiedOpen(...args);
    }) as typeof fsp.open;
    syncBuiltinESMExports();
    try {
      const run = await runMain(['record', '--log', log], [JSON.stringify({ hook_event_name: 'Stop' })]);
      expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
    } finally {
      fsp.open = spiedOpen;
      syncBuiltinESMExports();
    }
    expect(modes).toEqual([constants.O_WRONLY]);
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await reader.read(buffer, 0, buffer.length, null);
    await reader.close();
    const [line, end] = buffer.subarray(0, bytesRead).toString().split('\n');
    expect(end).toBe('');
    expect(JSON.parse(line!)).toMatchObject({ hook: 'Stop', output: { hook_event_name: 'Stop' } });
  });

  it('exits 0 with --durability os on a log that is a FIFO, which fsync refuses (EINVAL) once the line is handed over whole', async () => {
    const log = join(dir, 'hooks.fifo');
    execFileSync('mkfifo', [log]);
    const reader = await fsp.open(log, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const payload = { session_id: 's', hook_event_name: 'Stop' };
      const run = await runMain(['record', '--log', log, '--durability', 'os'], [JSON.stringify(payload)]);
      expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
      const buffer = Buffer.alloc(4096);
      const { bytesRead } = await reader.read(buffer, 0, buffer.length, null);
      const [line, end] = buffer.subarray(0, bytesRead).toString().split('\n');
      expect(end).toBe('');
      expect(JSON.parse(line!)).toMatchObject({ hook: 'Stop', output: payload });
    } finally {
      await reader.close();
    }
  });

  it('exits 0 with --durability os on /dev/null (EINVAL from fsync), and still 1 when a regular file cannot be fsynced', async () => {
    expect(
      await runMain(['record', '--log', '/dev/null', '--durability', 'os'], ['{"hook_event_name":"Stop"}']),
    ).toEqual({ code: 0, stdout: '', stderr: '' });
    const log = join(dir, 'hooks.jsonl');
    const probe = await fsp.open(fileURLToPath(import.meta.url), 'r');
    const proto = Object.getPrototypeOf(probe) as fsp.FileHandle;
    await probe.close();
    const sync = vi
      .spyOn(proto, 'sync')
      .mockRejectedValue(Object.assign(new Error('EINVAL: invalid argument, fsync'), { code: 'EINVAL' }));
    try {
      const run = await runMain(['record', '--log', log, '--durability', 'os'], ['{}']);
      expect(run).toEqual({
        code: 1,
        stdout: '',
        stderr: `vibespec-streams record: ${log}: EINVAL: invalid argument, fsync`,
      });
    } finally {
      sync.mockRestore();
    }
  });

  // Only EINVAL on what is no regular file is let pass (fsync has nothing to write down there); any other
  // failure of fsync, on a file or a device, is a line not known to be on disk: exit 1, said.
  it.each([
    ['a regular file', 'EIO'],
    ['a regular file', 'EBADF'],
    ['/dev/null', 'EIO'],
  ])('exits 1 with --durability os when fsync of %s fails with %s', async (what, code) => {
    const log = what === '/dev/null' ? what : join(dir, 'hooks.jsonl');
    const probe = await fsp.open(fileURLToPath(import.meta.url), 'r');
    const proto = Object.getPrototypeOf(probe) as fsp.FileHandle;
    await probe.close();
    const sync = vi
      .spyOn(proto, 'sync')
      .mockRejectedValue(Object.assign(new Error(`${code}: failed, fsync`), { code }));
    try {
      const run = await runMain(['record', '--log', log, '--durability', 'os'], ['{}']);
      expect(run).toEqual({
        code: 1,
        stdout: '',
        stderr: `vibespec-streams record: ${log}: ${code}: failed, fsync`,
      });
    } finally {
      sync.mockRestore();
    }
  });

  it('adds no blank line to a log that ends with its newline, nor to an empty one', async () => {
    const log = join(dir, 'hooks.jsonl');
    await writeFile(log, '');
    for (const event of ['SessionStart', 'Stop'])
      expect(
        (await runMain(['record', '--log', log], [JSON.stringify({ hook_event_name: event })])).code,
      ).toBe(0);
    const text = await readFile(log, 'utf8');
    expect(text.split('\n').map((line) => (line === '' ? '' : JSON.parse(line).hook))).toEqual([
      'SessionStart',
      'Stop',
      '',
    ]);
  });

  it.each(['process', 'os'])(
    'exits 1 saying why when the log cannot be written (a folder at its path), with durability %s',
    async (durability) => {
      const log = join(dir, 'hooks.jsonl');
      await mkdir(log);
      const run = await runMain(['record', '--log', log, '--durability', durability], ['{}']);
      expect(run).toEqual({
        code: 1,
        stdout: '',
        stderr: `vibespec-streams record: ${log}: EISDIR: illegal operation on a directory, open '${log}'`,
      });
      expect(await readdir(log)).toEqual([]);
    },
  );

  it('names a relative --log with its full path when it cannot write there, as the other commands name theirs', async () => {
    const log = join(dir, 'hooks.jsonl');
    await mkdir(log);
    const given = relative(process.cwd(), log);
    expect(await runMain(['record', '--log', given], ['{}'])).toEqual({
      code: 1,
      stdout: '',
      stderr: `vibespec-streams record: ${given} (${log}): EISDIR: illegal operation on a directory, open '${given}'`,
    });
  });

  it.skipIf(!existsSync('/proc/self/fd'))(
    'closes every file it opens (the log, and with os each folder it fsyncs)',
    async () => {
      const open = () => readdirSync('/proc/self/fd').length;
      const before = open();
      for (const durability of ['process', 'os']) {
        const log = join(dir, durability, 'hooks.jsonl');
        expect((await runMain(['record', '--log', log, '--durability', durability], ['{}'])).code).toBe(0);
      }
      expect(open()).toBe(before);
    },
  );

  describe('--durability', () => {
    /** Records one payload; returns the fsyncs and renames it made, in order. */
    async function spied(log: string, extra: string[]) {
      const made: string[] = [];
      const restore = await spyOnFsyncs((line) => made.push(line));
      try {
        const run = await runMain(['record', '--log', log, ...extra], ['{"hook_event_name": "Stop"}']);
        expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
      } finally {
        restore();
      }
      expect(await lines(log)).toEqual([
        { hook: 'Stop', timestamp: expect.any(Number), output: { hook_event_name: 'Stop' } },
      ]);
      return made;
    }

    it('os: fsyncs a new log, its folder, and the folder above each folder it created, deepest first', async () => {
      const log = join(dir, 'a', 'b', 'hooks.jsonl');
      expect(await spied(log, ['--durability', 'os'])).toEqual([
        `sync ${log}`,
        `sync ${join(dir, 'a', 'b')}`,
        `sync ${join(dir, 'a')}`,
        `sync ${dir}`,
      ]);
    });

    it('os: fsyncs a new log and its folder, which was there', async () => {
      const log = join(dir, 'hooks.jsonl');
      expect(await spied(log, ['--durability', 'os'])).toEqual([`sync ${log}`, `sync ${dir}`]);
    });

    it('os: a log moved away between its two opens (a rotation) is made again, and fsynced with its folder', async () => {
      const log = join(dir, 'hooks.jsonl');
      await writeFile(log, 'old\n');
      const made: string[] = [];
      const restore = await spyOnFsyncs((line) => made.push(line));
      const spiedOpen = fsp.open;
      let moved = false;
      // The rotation lands just after `open(log, 'ax+')` found the log there.
      fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
        try {
          return await spiedOpen(...args);
        } catch (error) {
          if (!moved && args[1] === 'ax+' && (error as NodeJS.ErrnoException).code === 'EEXIST') {
            moved = true;
            renameSync(log, `${log}.1`);
          }
          throw error;
        }
      }) as typeof fsp.open;
      syncBuiltinESMExports();
      try {
        const run = await runMain(
          ['record', '--log', log, '--durability', 'os'],
          ['{"hook_event_name": "Stop"}'],
        );
        expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
      } finally {
        fsp.open = spiedOpen;
        syncBuiltinESMExports();
        restore();
      }
      expect(moved).toBe(true);
      expect(await readFile(`${log}.1`, 'utf8')).toBe('old\n');
      expect(await lines(log)).toEqual([
        { hook: 'Stop', timestamp: expect.any(Number), output: { hook_event_name: 'Stop' } },
      ]);
      // The new log's entry in its folder is on disk too: the line survives a crash of the machine.
      expect(made).toEqual([`sync ${log}`, `sync ${dir}`]);
    });

    it('os: a log that is a symlink to a file not there yet makes that file, fsynced with its own folder', async () => {
      const log = join(dir, 'hooks.jsonl');
      const target = join(dir, 'logs', 'hooks.jsonl');
      await mkdir(dirname(target));
      await symlink(target, log);
      // O_EXCL finds the symlink there, the open that follows it finds no file: tried again forever, the
      // hook would hang. Stopped here after 20 opens, so that such a loop fails the test, not hangs it.
      const spiedOpen = fsp.open;
      let opens = 0;
      let exclusive = 0;
      fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
        if (++opens > 20) throw new Error('opened 20 times');
        if (args[1] === 'ax+') exclusive++;
        return spiedOpen(...args);
      }) as typeof fsp.open;
      syncBuiltinESMExports();
      let made: string[];
      try {
        made = await spied(log, ['--durability', 'os']);
      } finally {
        fsp.open = spiedOpen;
        syncBuiltinESMExports();
      }
      expect(await lines(target)).toEqual([
        { hook: 'Stop', timestamp: expect.any(Number), output: { hook_event_name: 'Stop' } },
      ]);
      expect((await lstat(log)).isSymbolicLink()).toBe(true);
      // The O_EXCL open tried again once, as for a log moved away between the two opens, then the file made.
      expect(exclusive).toBe(2);
      // The new file's entry is in the symlink's target's folder: that one is fsynced.
      expect(made).toEqual([`sync ${log}`, `sync ${dirname(target)}`]);
    });

    it('os: fsyncs only the log when it was there', async () => {
      const log = join(dir, 'hooks.jsonl');
      await writeFile(log, '');
      expect(await spied(log, ['--durability', 'os'])).toEqual([`sync ${log}`]);
    });

    it.each([[[]], [['--durability', 'process']]])(
      'process (the default, %j): fsyncs nothing, even a new log in new folders',
      async (extra: string[]) => {
        expect(await spied(join(dir, 'a', 'b', 'hooks.jsonl'), extra)).toEqual([]);
      },
    );
  });
});

/**
 * Runs `record --log log …options` through `command` (node, or a shell that execs it; with `--import tsx`
 * added unless there), `payload` on stdin; killed after `killAfter` ms if given.
 */
function run(
  command: string[],
  log: string,
  payload: string,
  killAfter?: number,
  options: string[] = [],
  env: Record<string, string> = {},
) {
  const [file, ...args] = command as [string, ...string[]];
  if (!args.includes('tsx')) args.push('--import', 'tsx');
  const child = spawn(file, [...args, CLI, 'record', '--log', log, ...options], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    ...(killAfter === undefined ? {} : { timeout: killAfter }),
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout.resume();
  child.stdin.end(payload);
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stderr }));
    },
  );
}

describe('vibespec-streams record stopped by a signal (a hook cancelled or timed out, Ctrl+C)', () => {
  // Was: the signal killed it at whatever step it was: a payload read whole, from a writer that had not
  // closed stdin yet, or one being written, was lost, the hook killed (exit by the signal). Now the signal
  // ends the reading: what was read is recorded, then it exits 128 + the signal's number.
  const payload = { session_id: 's', hook_event_name: 'Stop' };
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const STOPS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

  /** The stdin of the last `stoppedAfter`. */
  let lastStdin: PassThrough | undefined;

  /**
   * Runs `record` in process on a stdin left open after `written`, sends `signal` once all of it was taken
   * from the stream (the test runner's own listeners set aside), and, if the run has not ended a few turns
   * later, ends stdin with more text (what the run would then record, as before the fix).
   */
  async function stoppedAfter(written: string, signal: NodeJS.Signals) {
    const log = join(dir, 'hooks.jsonl');
    const stdin = new PassThrough();
    lastStdin = stdin;
    const realStdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: stdin, configurable: true });
    const others = process.listeners(signal);
    try {
      const { main } = await import('../src/cli/main.js');
      let ended = false;
      const run = main(['record', '--log', log]).finally(() => {
        ended = true;
      });
      if (written !== '') stdin.write(written);
      // Read by the run: its listener is there, and nothing is left in the stream.
      const reading = () => stdin.listenerCount('data') + stdin.listenerCount('readable') > 0;
      while (stdin.readableLength > 0 || !reading()) await turn();
      for (const listener of others) process.off(signal, listener);
      try {
        process.emit(signal, signal);
      } finally {
        for (const listener of others) process.on(signal, listener);
      }
      for (let i = 0; i < 5 && !ended; i++) await turn();
      if (!ended) stdin.end(' and more');
      const code = await run;
      const text = await readFile(log, 'utf8').catch(() => undefined);
      return {
        code,
        lines: text
          ?.split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line)),
      };
    } finally {
      Object.defineProperty(process, 'stdin', realStdin);
    }
  }

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const)('%s: records the payload read, exits %i', async (signal, code) => {
    const result = await stoppedAfter(JSON.stringify(payload), signal);
    expect(result).toEqual({
      code,
      lines: [{ hook: 'Stop', timestamp: expect.any(Number), output: payload }],
    });
  });

  it('records a payload read in part as its text (ingested as a hook.rejected with it), not nothing', async () => {
    const part = JSON.stringify(payload).slice(0, 20);
    expect(await stoppedAfter(part, 'SIGTERM')).toEqual({
      code: 143,
      lines: [{ hook: 'unknown', timestamp: expect.any(Number), output: part }],
    });
  });

  it('ends the process, spawned, on a stdin its writer keeps open: the reading left flowing held it', async () => {
    // Bigger than a pipe's buffer: written, it was read, so the run is loaded and listening for the signal.
    // Its stdin is never ended here: a run that kept reading it would wait for ever (here: the test's
    // timeout), its line written but the hook not ended.
    const log = join(dir, 'hooks.jsonl');
    const big = { ...payload, tool_response: 'x'.repeat(1024 * 1024) };
    const { child, closed } = await startRecord(log, JSON.stringify(big));
    child.kill('SIGTERM');
    expect(await closed).toBe(143);
    const [line, ...rest] = (await readFile(log, 'utf8')).split('\n');
    expect(JSON.parse(line!)).toEqual({ hook: 'Stop', timestamp: expect.any(Number), output: big });
    expect(rest).toEqual(['']);
  });

  // stopReading is cleared once stdin is read: a signal then (the line being written) only sets the exit
  // code. Called regardless, it threw in the signal's listener (in a process: an uncaught exception, the
  // hook killed, its line maybe not written).
  it('a signal after stdin was read, while the line is written: recorded, exits 128 + its number', async () => {
    const log = join(dir, 'hooks.jsonl');
    const others = process.listeners('SIGTERM');
    const spiedOpen = fsp.open;
    let sent = 0;
    fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
      if (args[0] === log && sent === 0) {
        sent++;
        for (const listener of others) process.off('SIGTERM', listener);
        try {
          process.emit('SIGTERM', 'SIGTERM');
        } finally {
          for (const listener of others) process.on('SIGTERM', listener);
        }
      }
      return spiedOpen(...args);
    }) as typeof fsp.open;
    syncBuiltinESMExports();
    let run: Awaited<ReturnType<typeof runMain>>;
    try {
      run = await runMain(['record', '--log', log], [JSON.stringify(payload)]);
    } finally {
      fsp.open = spiedOpen;
      syncBuiltinESMExports();
    }
    expect(sent).toBe(1);
    expect(run).toEqual({ code: 143, stdout: '', stderr: '' });
    expect(
      (await readFile(log, 'utf8')).split('\n').map((line) => (line === '' ? line : JSON.parse(line))),
    ).toEqual([{ hook: 'Stop', timestamp: expect.any(Number), output: payload }, '']);
  });

  it('records nothing when nothing was read, and leaves no listener', async () => {
    const before = STOPS.map((signal) => process.listenerCount(signal));
    expect(await stoppedAfter('', 'SIGTERM')).toEqual({ code: 143, lines: undefined });
    expect(STOPS.map((signal) => process.listenerCount(signal))).toEqual(before);
    // Nor on stdin, whose reading the signal ended (not at its end, which takes off an 'end' listener).
    expect(['data', 'end', 'error'].map((name) => lastStdin!.listenerCount(name))).toEqual([0, 0, 0]);
  });
});

describe('vibespec-streams record, its stdin not a pipe', () => {
  // A folder as stdin (`record < .vibespec`): Node reads it as an empty input, which was recorded as an
  // empty payload under hook unknown, exit 0. Now it is said, naming stdin, exit 1, nothing recorded.
  it('a folder as stdin: says so, exits 1, records nothing (spawned)', async () => {
    const log = join(dir, 'hooks.jsonl');
    const folder = await fsp.open(dir, 'r');
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'record', '--log', log], {
        cwd: ROOT,
        stdio: [folder.fd, 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const code = await new Promise<number | null>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', resolve);
      });
      expect({ code, stderr }).toEqual({
        code: 1,
        stderr: 'vibespec-streams record: stdin is a folder, not a hook payload: nothing recorded\n',
      });
    } finally {
      await folder.close();
    }
    expect(existsSync(log)).toBe(false);
  });

  it('a folder as stdin, in process: the same', async () => {
    const log = join(dir, 'hooks.jsonl');
    const folder = await fsp.open(dir, 'r');
    const stdin = Object.assign(PassThrough.from([]), { fd: folder.fd });
    const real = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: stdin, configurable: true });
    try {
      expect(await runMain(['record', '--log', log])).toEqual({
        code: 1,
        stdout: '',
        stderr: 'vibespec-streams record: stdin is a folder, not a hook payload: nothing recorded',
      });
    } finally {
      Object.defineProperty(process, 'stdin', real);
      await folder.close();
    }
    expect(existsSync(log)).toBe(false);
  });

  it('a file as stdin is read as a pipe is (the folder check looks at what the descriptor is)', async () => {
    const log = join(dir, 'hooks.jsonl');
    const payload = join(dir, 'payload.json');
    await writeFile(payload, JSON.stringify({ hook_event_name: 'Stop' }));
    const file = await fsp.open(payload, 'r');
    const stdin = Object.assign(
      PassThrough.from([Buffer.from(JSON.stringify({ hook_event_name: 'Stop' }))]),
      {
        fd: file.fd,
      },
    );
    const real = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: stdin, configurable: true });
    try {
      expect(await runMain(['record', '--log', log])).toEqual({ code: 0, stdout: '', stderr: '' });
    } finally {
      Object.defineProperty(process, 'stdin', real);
      await file.close();
    }
    expect(JSON.parse(await readFile(log, 'utf8'))).toMatchObject({ hook: 'Stop' });
  });

  it('a stdin whose descriptor cannot be looked at (not open: EBADF) is read as before, not taken as a folder', async () => {
    const log = join(dir, 'hooks.jsonl');
    // A descriptor number no process here has open: fstat says EBADF.
    const stdin = Object.assign(
      PassThrough.from([Buffer.from(JSON.stringify({ hook_event_name: 'Stop' }))]),
      {
        fd: 2 ** 30,
      },
    );
    const real = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: stdin, configurable: true });
    try {
      expect(await runMain(['record', '--log', log])).toEqual({ code: 0, stdout: '', stderr: '' });
    } finally {
      Object.defineProperty(process, 'stdin', real);
    }
    expect(JSON.parse(await readFile(log, 'utf8'))).toMatchObject({ hook: 'Stop' });
  });

  // Run by hand with no input, it waited without a word, as bridge did before it said what it reads.
  it('a terminal as stdin: says once on stderr what it reads and how to end it, then records the payload', async () => {
    const log = join(dir, 'hooks.jsonl');
    const terminal = Object.assign(PassThrough.from([Buffer.from('{"hook_event_name":"Stop"}')]), {
      isTTY: true,
    });
    const real = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: terminal, configurable: true });
    let run: Awaited<ReturnType<typeof runMain>>;
    try {
      run = await runMain(['record', '--log', log]);
    } finally {
      Object.defineProperty(process, 'stdin', real);
    }
    expect(run).toEqual({ code: 0, stdout: '', stderr: RECORD_TERMINAL_TEXT });
    if (process.platform !== 'win32') {
      expect(RECORD_TERMINAL_TEXT).toBe(
        'record: reading the hook payload (JSON) from the terminal; end the input with Ctrl+D at the start of a line',
      );
    }
    expect(JSON.parse(await readFile(log, 'utf8'))).toMatchObject({
      hook: 'Stop',
      output: { hook_event_name: 'Stop' },
    });
  });
});

describe.skipIf(!hasTerminal)('vibespec-streams record on a terminal (script)', () => {
  it('says what it waits for on the terminal, then records the payload typed until Ctrl+D', async () => {
    const log = join(dir, 'hooks.jsonl');
    const { code, terminal } = await onTerminal(['record', '--log', log], {
      waitFor: 'Ctrl+D',
      typed: ['{"hook_event_name":"Stop"}\n'],
    });
    expect(code).toBe(0);
    expect(terminal.split(RECORD_TERMINAL_TEXT)).toHaveLength(2); // once
    expect(JSON.parse(await readFile(log, 'utf8'))).toMatchObject({
      hook: 'Stop',
      output: { hook_event_name: 'Stop' },
    });
  });
});
