import { execFileSync } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import fsp, {
  type FileHandle,
  mkdir,
  mkdtemp,
  open,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { afterLastLine, type LogHandle, openToAppend, writeWhole } from '../src/cli/appendLine.js';
import { makeFolder } from '../src/folders.js';

let dir: string;
let log: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-append-'));
  log = join(dir, 'hooks.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * The log opened as `record` opens it, its first write cut to `accept` bytes (what a full disk does);
 * `after` runs after that write, as another hook appending at that moment.
 */
async function withShortWrite(
  accept: number,
  body: (file: LogHandle) => Promise<void>,
  after?: () => Promise<void>,
) {
  const file = await open(log, 'a');
  let first = true;
  const short: LogHandle = {
    write: (async (buffer: Uint8Array, offset: number, length: number) => {
      if (!first) throw new Error('a second write');
      first = false;
      const result = await file.write(buffer, offset, Math.min(length, accept));
      await after?.();
      return result;
    }) as FileHandle['write'],
    stat: file.stat.bind(file),
  };
  try {
    await body(short);
  } finally {
    await file.close();
  }
}

const line = (n: number) => Buffer.from(`${JSON.stringify({ hook: 'Notification', output: { n } })}\n`);

describe('writeWhole (how record appends its line)', () => {
  it('writes the whole line in one write', async () => {
    await writeFile(log, line(1));
    await withShortWrite(Number.POSITIVE_INFINITY, (file) => writeWhole(file, line(2), log));
    expect(await readFile(log, 'utf8')).toBe(`${line(1)}${line(2)}`);
  });

  it('reports a short write, and ends the cut line in place so that the next line stays whole', async () => {
    await writeFile(log, line(1));
    await withShortWrite(10, async (file) => {
      await expect(writeWhole(file, line(2), log)).rejects.toThrow(
        new Error(`short write: 10 of ${line(2).length} bytes written`),
      );
    });
    // The next hook appends its line: it is a line of its own.
    await writeFile(log, line(3), { flag: 'a' });
    const lines = (await readFile(log, 'utf8')).split('\n');
    expect(lines).toEqual([
      line(1).toString().trimEnd(),
      line(2).subarray(0, 9).toString(),
      line(3).toString().trimEnd(),
      '',
    ]);
  });

  it('says when the cut line is not the end of the file any more (another line after it: not touched)', async () => {
    await withShortWrite(
      10,
      async (file) => {
        await expect(writeWhole(file, line(2), log)).rejects.toThrow(
          `short write: 10 of ${line(2).length} bytes written: the cut line could not be ended`,
        );
      },
      () => writeFile(log, line(3), { flag: 'a' }),
    );
    expect(await readFile(log, 'utf8')).toBe(`${line(2).subarray(0, 10)}${line(3)}`);
  });

  it('ends a cut line that is the whole log (the log was empty)', async () => {
    await withShortWrite(10, async (file) => {
      await expect(writeWhole(file, line(2), log)).rejects.toThrow(
        new Error(`short write: 10 of ${line(2).length} bytes written`),
      );
    });
    expect(await readFile(log, 'utf8')).toBe(`${line(2).subarray(0, 9)}\n`);
  });

  it('reports a write that wrote nothing, and leaves the log as it was (no line to end)', async () => {
    await withShortWrite(0, async (file) => {
      await expect(writeWhole(file, line(2), log)).rejects.toThrow(
        new Error(`short write: 0 of ${line(2).length} bytes written`),
      );
    });
    expect(await readFile(log, 'utf8')).toBe('');
  });

  it('says so when the log was truncated after the cut line (copytruncate): nothing written to it', async () => {
    await writeFile(log, line(1));
    await withShortWrite(
      10,
      async (file) => {
        await expect(writeWhole(file, line(2), log)).rejects.toThrow(
          `short write: 10 of ${line(2).length} bytes written: the cut line could not be ended`,
        );
      },
      () => truncate(log, 0),
    );
    expect(await readFile(log, 'utf8')).toBe('');
  });

  it('leaves alone the file now at the path (a rotation), even one ending with the cut bytes', async () => {
    const cut = line(2).subarray(0, 10);
    await withShortWrite(
      10,
      async (file) => {
        await expect(writeWhole(file, line(2), log)).rejects.toThrow(
          `short write: 10 of ${line(2).length} bytes written: the cut line could not be ended`,
        );
      },
      async () => {
        await rename(log, `${log}.1`);
        await writeFile(log, Buffer.concat([line(1), cut]));
      },
    );
    expect(await readFile(log)).toEqual(Buffer.concat([line(1), cut]));
    expect(await readFile(`${log}.1`)).toEqual(cut);
  });
});

describe('openToAppend and afterLastLine (the newline before a line after a torn one)', () => {
  const LINE = Buffer.from('{"hook":"Stop"}\n');
  /** Whether `file` can be read: a handle opened to write only cannot (EBADF). */
  const readable = (file: FileHandle) =>
    file.read(Buffer.alloc(1), 0, 1, null).then(
      () => true,
      (error: NodeJS.ErrnoException) => (error.code === 'EBADF' ? false : Promise.reject(error)),
    );
  /** `fsp.open` made to fail with `code` when asked for O_RDWR, as for a log of mode 0200 (not as root). */
  async function withReadRefused<T>(code: string, body: () => Promise<T>): Promise<T> {
    const real = fsp.open;
    fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
      const flags = args[1];
      if (typeof flags === 'number' && (flags & 3) === constants.O_RDWR) {
        throw Object.assign(new Error(`${code}: refused, open '${String(args[0])}'`), { code });
      }
      return real(...args);
    }) as typeof fsp.open;
    syncBuiltinESMExports();
    try {
      return await body();
    } finally {
      fsp.open = real;
      syncBuiltinESMExports();
    }
  }

  it('opens a file to append and read, creating it with O_CREAT, and puts a newline before a line after a torn one', async () => {
    const file = await openToAppend(log, constants.O_CREAT | constants.O_APPEND);
    try {
      expect(await readable(file)).toBe(true);
      expect(await afterLastLine(file, LINE)).toBe(LINE); // empty
      await file.write('{"hook":"Sto');
      expect((await afterLastLine(file, LINE)).toString()).toBe(`\n${LINE}`);
      await file.write('p"}\n');
      expect(await afterLastLine(file, LINE)).toBe(LINE);
    } finally {
      await file.close();
    }
    await expect(openToAppend(join(dir, 'missing'), constants.O_APPEND)).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it.each(['EACCES', 'EPERM'])(
    'opens a log it may not read (%s for O_RDWR) to write only, and leaves its line as it is after a torn one',
    async (code) => {
      await writeFile(log, '{"hook":"Sto');
      const file = await withReadRefused(code, () => openToAppend(log, constants.O_APPEND));
      try {
        expect(await readable(file)).toBe(false);
        expect(await afterLastLine(file, LINE)).toBe(LINE);
        await file.write(LINE);
      } finally {
        await file.close();
      }
      expect(await readFile(log, 'utf8')).toBe(`{"hook":"Sto${LINE}`);
    },
  );

  it('fails with any other error of the O_RDWR open', async () => {
    await writeFile(log, '');
    await expect(withReadRefused('EIO', () => openToAppend(log, constants.O_APPEND))).rejects.toMatchObject({
      code: 'EIO',
    });
  });

  it('fails with a read error of the last byte other than EBADF', async () => {
    await writeFile(log, 'torn');
    const file = await open(log, 'r');
    try {
      const failing = {
        stat: () => file.stat(),
        read: () => Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })),
      } as unknown as Pick<FileHandle, 'stat' | 'read'>;
      await expect(afterLastLine(failing, LINE)).rejects.toMatchObject({ code: 'EIO' });
    } finally {
      await file.close();
    }
  });

  it.skipIf(!existsSync('/dev/zero'))(
    'reads no last byte of a file that is not a regular one (/dev/zero, opened to read: a NUL at each read)',
    async () => {
      const file = await open('/dev/zero', 'r');
      try {
        expect(await afterLastLine(file, LINE)).toBe(LINE);
      } finally {
        await file.close();
      }
    },
  );

  it('adds no newline when the last byte is gone by the time it is read (truncated in between: copytruncate)', async () => {
    await writeFile(log, '');
    const file = await open(log, 'r');
    try {
      const before = await file.stat();
      // The log had 5 bytes when looked at; emptied before the read.
      const racing = {
        stat: async () => Object.assign(before, { size: 5 }),
        read: file.read.bind(file),
      } as unknown as Pick<FileHandle, 'stat' | 'read'>;
      expect(await afterLastLine(racing, LINE)).toBe(LINE);
    } finally {
      await file.close();
    }
  });

  it('opens a FIFO to write only, and looks at no last byte of it', async () => {
    const fifo = join(dir, 'hooks.fifo');
    execFileSync('mkfifo', [fifo]);
    // A reader first, so that the write-only open does not wait for one.
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const file = await openToAppend(fifo, constants.O_APPEND);
      try {
        expect(await readable(file)).toBe(false);
        expect(await afterLastLine(file, LINE)).toBe(LINE);
      } finally {
        await file.close();
      }
    } finally {
      await reader.close();
    }
  });
});

describe('makeFolder (the log folder record creates)', () => {
  it('creates the missing folders, and returns them top first', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    expect(await makeFolder(deep)).toEqual([join(dir, 'a'), join(dir, 'a', 'b'), deep]);
    expect((await stat(deep)).isDirectory()).toBe(true);
    expect(await makeFolder(deep)).toEqual([]);
    await mkdir(join(dir, 'd'));
    expect(await makeFolder(join(dir, 'd', 'e'))).toEqual([join(dir, 'd', 'e')]);
  });

  it('two at once (two hooks): both succeed, and each folder is returned by the one that created it', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    const [one, two] = await Promise.all([makeFolder(deep), makeFolder(deep)]);
    expect([...one!, ...two!].sort()).toEqual([join(dir, 'a'), join(dir, 'a', 'b'), deep]);
    expect((await stat(deep)).isDirectory()).toBe(true);
  });

  it('fails with the folder that cannot be created, where one above it exists (/proc/x)', async () => {
    await expect(makeFolder('/proc/x/y')).rejects.toMatchObject({ code: 'ENOENT', path: '/proc/x' });
  });

  it('fails under a file', async () => {
    await writeFile(log, '');
    await expect(makeFolder(join(log, 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
