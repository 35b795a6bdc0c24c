/**
 * `vibespec-streams rotate`: a new log, with no line lost and none stored twice, whatever the hooks write
 * around the move and wherever the command stops.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import {
  appendFile,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rotate } from '../src/cli/commands.js';
import { failureCode, StoppedError } from '../src/cli/stopped.js';
import { openStore } from '../src/index.js';
import { spyOnFsyncs } from './helpers/fsyncSpy.js';
import { runMain } from './helpers/main.js';
import { collect } from './helpers/store.js';
import { until } from './helpers/until.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'src/cli/bin.ts');

const S1 = 'f00dfeed-0000-4000-8000-0000000000d1';
const S2 = 'f00dfeed-0000-4000-8000-0000000000d2';
let clock = 1_795_165_200_000;
/** One line as `record` writes it: a notification, one event, told apart by its message. */
const line = (session: string, message: string) =>
  `${JSON.stringify({
    hook: 'Notification',
    timestamp: clock++,
    output: { session_id: session, hook_event_name: 'Notification', message },
  })}\n`;

let dir: string;
let log: string;
let store: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-rotate-'));
  log = join(dir, 'hooks.jsonl');
  store = join(dir, 'store');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The messages of the stored notifications, by session, in order. */
async function stored(): Promise<Record<string, string[]>> {
  const opened = await openStore({ path: store });
  try {
    const out: Record<string, string[]> = {};
    for (const { sessionId } of await opened.sessions()) {
      const events = await collect(opened.query(sessionId));
      out[sessionId] = events.map((event) => String((event.data as { message?: unknown }).message));
    }
    return out;
  } finally {
    await opened.close();
  }
}

/** `rotate` in process, its stderr lines returned; `settle` runs in place of the wait. */
async function rotateHere(
  settle: () => Promise<void> = async () => {},
  durability: 'process' | 'os' = 'process',
) {
  const said = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const code = await rotate(log, store, durability, { settle });
    return { code, stderr: said.mock.calls.map(([text]) => String(text)) };
  } finally {
    said.mockRestore();
  }
}

/** Rotates a log of one line with `durability`; returns the fsyncs and renames it made, in order. */
async function fsyncsOfRotate(durability: 'process' | 'os'): Promise<string[]> {
  await writeFile(log, line(S1, 'a'));
  const seen: string[] = [];
  const stop = await spyOnFsyncs((text) => seen.push(text));
  try {
    expect((await rotateHere(undefined, durability)).code).toBe(0);
  } finally {
    stop();
  }
  return seen;
}

const ingestHere = (file = log) => runMain(['ingest', '--log', file, '--store', store]);

describe('vibespec-streams rotate', () => {
  it('moves the log to log.1 and stores every line once: those before, those a hook writes to the moved log, those after', async () => {
    await writeFile(log, line(S1, 'a') + line(S1, 'b'));
    expect((await ingestHere()).code).toBe(0); // a and b are in the store already
    await appendFile(log, line(S1, 'c')); // not yet
    // A hook that opened the log just before the move, and writes its line after it.
    const straggler = await open(log, 'a');
    const after = line(S2, 'e');
    const result = await rotateHere(async () => {
      await straggler.write(line(S2, 'd'));
      await straggler.close();
      await appendFile(log, after); // a hook after the move: the new log
    });
    const rotated = `${log}.1`;
    expect(result).toEqual({
      code: 0,
      stderr: [
        `ingested 1 event from 1 new line of ${log}`,
        `moved ${log} to ${rotated}: the hooks record to a new ${log}`,
        `ingested 1 event from 1 new line of ${rotated}`,
        `${rotated} is wholly in the store: it may be deleted or compressed`,
      ],
    });
    // The moved log's offset file is at its end; the new log's is gone (it is read from its start).
    const bytes = await readFile(rotated);
    expect(JSON.parse(await readFile(`${rotated}.offset`, 'utf8'))).toMatchObject({
      offset: bytes.length,
      ino: (await stat(rotated)).ino,
    });
    expect(existsSync(`${log}.offset`)).toBe(false);
    expect(await readFile(log, 'utf8')).toBe(after);
    expect((await ingestHere()).stderr).toBe(`ingested 1 event from 1 new line of ${log}`);
    expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c'], [S2]: ['d', 'e'] });
    // Again: nothing new anywhere, nothing stored twice.
    expect((await ingestHere(rotated)).stderr).toBe(`ingested 0 events from 0 new lines of ${rotated}`);
    expect((await ingestHere()).stderr).toBe(`ingested 0 events from 0 new lines of ${log}`);
    expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c'], [S2]: ['d', 'e'] });
  });

  it.skipIf(process.platform !== 'linux')(
    'waits, after --settle-ms, for a hook that still has the moved log open to write, and stores its line',
    async () => {
      await writeFile(log, line(S1, 'a'));
      // A hook that opened the log just before the move, held up past the wait: it writes its line a moment
      // after the wait, then closes the log. Its line went to log.1 after rotate had read it to its end,
      // and rotate said log.1 could be deleted.
      const straggler = await open(log, 'a');
      let late: Promise<void> | undefined;
      const result = await rotateHere(async () => {
        late = new Promise<void>((resolve) => setTimeout(resolve, 200)).then(async () => {
          await straggler.write(line(S1, 'b'));
          await straggler.close();
        });
      });
      await late;
      expect(result.code).toBe(0);
      expect(result.stderr.at(-1)).toBe(`${log}.1 is wholly in the store: it may be deleted or compressed`);
      expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
      expect((await ingestHere(`${log}.1`)).stderr).toBe(`ingested 0 events from 0 new lines of ${log}.1`);
    },
  );

  it.skipIf(process.platform !== 'linux')(
    'says which processes still have the moved log open to write when it stops waiting for them',
    async () => {
      await writeFile(log, line(S1, 'a'));
      const straggler = await open(log, 'a');
      try {
        const stderr: string[] = [];
        const said = vi.spyOn(console, 'error').mockImplementation((text) => stderr.push(String(text)));
        let code: number;
        try {
          code = await rotate(log, store, 'process', { settle: async () => {}, writersLimitMs: 0 });
        } finally {
          said.mockRestore();
        }
        expect(code).toBe(0);
        expect(stderr.at(-1)).toBe(
          `${log}.1 is still open to write in process ${process.pid}: a line it writes there now is not in ` +
            `the store (run vibespec-streams ingest --log ${log}.1 --store ${store} once it has ended)`,
        );
      } finally {
        await straggler.close();
      }
    },
  );

  it.skipIf(process.platform !== 'linux')(
    'names the processes, in the plural, when more than one still has the moved log open to write',
    async () => {
      await writeFile(log, line(S1, 'a'));
      const straggler = await open(log, 'a');
      // A second process with the log open to write (O_APPEND, as record opens it): its stdout is the log.
      const other = spawn('sleep', ['600'], { stdio: ['ignore', straggler.fd, 'ignore'] });
      try {
        await new Promise((resolve, reject) => other.once('spawn', resolve).once('error', reject));
        const stderr: string[] = [];
        const said = vi.spyOn(console, 'error').mockImplementation((text) => stderr.push(String(text)));
        try {
          expect(await rotate(log, store, 'process', { settle: async () => {}, writersLimitMs: 0 })).toBe(0);
        } finally {
          said.mockRestore();
        }
        // In the order /proc lists them.
        const said2 = (pids: string) =>
          `${log}.1 is still open to write in processes ${pids}: a line they write there now is not in ` +
          `the store (run vibespec-streams ingest --log ${log}.1 --store ${store} once they have ended)`;
        expect([said2(`${process.pid}, ${other.pid}`), said2(`${other.pid}, ${process.pid}`)]).toContain(
          stderr.at(-1),
        );
      } finally {
        other.kill();
        await straggler.close();
      }
    },
  );

  it.skipIf(process.platform !== 'linux')(
    'in process: its wait for a hook that still writes listens for SIGINT, which fails the run; no listener is left',
    async () => {
      await writeFile(log, line(S1, 'a'));
      const straggler = await open(log, 'a');
      const before = process.listeners('SIGINT');
      let moved = false;
      const said = vi.spyOn(console, 'error').mockImplementation((text) => {
        if (String(text).startsWith('moved ')) moved = true;
      });
      try {
        const run = rotate(log, store, 'process', { settle: async () => {} }).catch(
          (error: unknown) => error,
        );
        // Past the move (the ingest before it listens too), waiting for the straggler.
        await until(() => moved && process.listeners('SIGINT').length > before.length);
        const added = process.listeners('SIGINT').filter((listener) => !before.includes(listener));
        expect(added).toHaveLength(1);
        added[0]!('SIGINT');
        const error = await run;
        expect(String(error)).toContain(
          'whose last lines may not all be in the store: stopped by SIGINT while it waited for the hooks',
        );
        expect(failureCode(error)).toBe(130); // bin.ts's exit code
      } finally {
        said.mockRestore();
        await straggler.close();
      }
      expect(process.listeners('SIGINT')).toEqual(before);
    },
  );

  it('takes the number after the highest one the folder has (a compressed log.3.gz, a stray log.4.offset)', async () => {
    await writeFile(`${log}.1`, '');
    await writeFile(`${log}.3.gz`, '');
    await writeFile(`${log}.4.offset`, '{}');
    await writeFile(`${log}.x`, '');
    await writeFile(`${log}.old9`, ''); // digits, but not a number after the dot
    await writeFile(join(dir, 'other.jsonl.9'), '');
    await writeFile(log, line(S1, 'a'));
    const { code, stderr } = await rotateHere();
    expect(code).toBe(0);
    expect(stderr[1]).toBe(`moved ${log} to ${log}.5: the hooks record to a new ${log}`);
    expect(existsSync(log)).toBe(false);
    expect(await stored()).toEqual({ [S1]: ['a'] });
    expect(JSON.parse(await readFile(`${log}.4.offset`, 'utf8'))).toEqual({}); // not touched
  });

  it('replaces the offset file a rotate stopped before its move left (log.1.offset, no log.1): moves the log to log.1, not log.2', async () => {
    await writeFile(log, line(S1, 'a'));
    expect((await ingestHere()).code).toBe(0);
    // What a rotate killed between writing log.1.offset and the move leaves: the log's own mark, and the
    // file it is written to first.
    await writeFile(`${log}.1.offset`, await readFile(`${log}.offset`));
    await writeFile(`${log}.1.offset.tmp`, '');
    await appendFile(log, line(S1, 'b'));
    const { code, stderr } = await rotateHere();
    expect(code).toBe(0);
    expect(stderr[1]).toBe(`moved ${log} to ${log}.1: the hooks record to a new ${log}`);
    expect(readdirSync(dir).sort()).toEqual(['hooks.jsonl.1', 'hooks.jsonl.1.offset', 'store']);
    expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
    // Its offset file is the moved log's now: nothing left to ingest, nothing stored twice.
    expect((await ingestHere(`${log}.1`)).stderr).toBe(`ingested 0 events from 0 new lines of ${log}.1`);
    expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
  });

  it.each([
    ['log.1.gz is there too', async () => writeFile(`${log}.1.gz`, '')],
    [
      'the log is another file now, the same bytes (another inode)',
      async () => {
        // Made while the log is there, then moved over it: another inode.
        await writeFile(join(dir, 'copy'), await readFile(log));
        await rename(join(dir, 'copy'), log);
      },
    ],
    [
      'the log was rewritten in place (its first bytes)',
      async () => writeFile(log, line(S2, 'x'.repeat(700))),
    ],
    [
      'the log was cut short in place, past its first 256 bytes',
      async () => {
        const file = await open(log, 'r+');
        await file.truncate(400);
        await file.close();
      },
    ],
  ])(
    'takes N + 1 past a log.N.offset that does not name the log as the reader would: %s',
    async (_, change) => {
      await writeFile(log, line(S1, 'a'.repeat(300)) + line(S1, 'b'.repeat(300)));
      expect((await ingestHere()).code).toBe(0);
      await writeFile(`${log}.1.offset`, await readFile(`${log}.offset`));
      await change();
      await rm(`${log}.offset`); // the log is read from its start
      await appendFile(log, line(S1, 'c'));
      const { code, stderr } = await rotateHere();
      expect(code).toBe(0);
      expect(stderr[1]).toBe(`moved ${log} to ${log}.2: the hooks record to a new ${log}`);
    },
  );

  it('removes a lone log.N.offset.tmp a rotate stopped while writing its offset file left, and moves the log to log.N', async () => {
    await writeFile(`${log}.1`, '');
    // What a rotate killed while it wrote log.2.offset leaves: the file it is written to first, alone.
    await writeFile(`${log}.2.offset.tmp`, '{"offs');
    await writeFile(log, line(S1, 'a'));
    const { code, stderr } = await rotateHere();
    expect(code).toBe(0);
    expect(stderr[1]).toBe(`moved ${log} to ${log}.2: the hooks record to a new ${log}`);
    expect(readdirSync(dir).sort()).toEqual([
      'hooks.jsonl.1',
      'hooks.jsonl.2',
      'hooks.jsonl.2.offset',
      'store',
    ]);
    expect(await stored()).toEqual({ [S1]: ['a'] });
  });

  it("takes N + 1 past an offset file of N that is not the log's (log.N deleted, or taken away)", async () => {
    await writeFile(log, line(S1, 'a'));
    expect((await rotateHere()).code).toBe(0);
    await rm(`${log}.1`); // "it may be deleted": its offset file stays, and names its inode
    await writeFile(log, line(S1, 'b'));
    await writeFile(`${log}.2.offset`, await readFile(`${log}.1.offset`)); // another log's, at N
    const { code, stderr } = await rotateHere();
    expect(code).toBe(0);
    expect(stderr[1]).toBe(`moved ${log} to ${log}.3: the hooks record to a new ${log}`);
    expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
  });

  it('counts on past 2^53 and 1e21: never moves the log over an earlier one', async () => {
    await writeFile(`${log}.9007199254740992`, 'earlier');
    await writeFile(log, line(S1, 'a'));
    expect((await rotateHere()).stderr[1]).toBe(
      `moved ${log} to ${log}.9007199254740993: the hooks record to a new ${log}`,
    );
    expect(await readFile(`${log}.9007199254740992`, 'utf8')).toBe('earlier');
    await writeFile(`${log}.999999999999999999999`, 'earlier');
    await writeFile(log, line(S1, 'b'));
    expect((await rotateHere()).stderr[1]).toBe(
      `moved ${log} to ${log}.1000000000000000000000: the hooks record to a new ${log}`,
    );
    await writeFile(log, line(S1, 'c'));
    expect((await rotateHere()).stderr[1]).toBe(
      `moved ${log} to ${log}.1000000000000000000001: the hooks record to a new ${log}`,
    );
    expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c'] });
  });

  it('moves a log whose lines were never ingested, and stores them once', async () => {
    await writeFile(log, line(S1, 'a') + line(S1, 'b'));
    expect((await rotateHere()).stderr.slice(0, 2)).toEqual([
      `ingested 2 events from 2 new lines of ${log}`,
      `moved ${log} to ${log}.1: the hooks record to a new ${log}`,
    ]);
    await writeFile(log, line(S1, 'c'));
    expect((await rotateHere()).stderr[1]).toBe(`moved ${log} to ${log}.2: the hooks record to a new ${log}`);
    expect((await ingestHere(`${log}.1`)).stderr).toBe(`ingested 0 events from 0 new lines of ${log}.1`);
    expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c'] });
  });

  it('keeps a log that is a symbolic link one: moves the file it names, beside itself', async () => {
    const disk = join(dir, 'disk');
    await mkdir(disk);
    const file = join(await realpath(disk), 'hooks.jsonl'); // as rotate names it
    await writeFile(file, line(S1, 'a'));
    await symlink(file, log);
    const after = line(S1, 'b');
    const { code, stderr } = await rotateHere(async () => {
      await appendFile(log, after); // a hook after the move, through the link
    });
    expect(code).toBe(0);
    expect(stderr[1]).toBe(
      `moved ${file} (the file ${log} links to) to ${file}.1: the hooks record to a new ${file}`,
    );
    expect((await lstat(log)).isSymbolicLink()).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(after); // made again, through the link
    expect(existsSync(`${file}.1.offset`)).toBe(true);
    expect(existsSync(`${log}.1`)).toBe(false);
    expect((await ingestHere()).stderr).toBe(`ingested 1 event from 1 new line of ${log}`);
    expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
  });

  it('leaves an empty log where it is', async () => {
    await writeFile(log, '');
    expect(await rotateHere()).toEqual({
      code: 0,
      stderr: [`ingested 0 events from 0 new lines of ${log}`, `${log} is empty: not moved`],
    });
    expect(existsSync(`${log}.1`)).toBe(false);
    expect(existsSync(log)).toBe(true);
  });

  it('moves a log that is one line without its newline yet, never ingested, and stores that line once it is whole', async () => {
    const whole = line(S1, 'a');
    await writeFile(log, whole.slice(0, 20));
    const result = await rotateHere(async () => {
      await appendFile(`${log}.1`, whole.slice(20)); // the hook's write ends after the move
    });
    expect(result).toEqual({
      code: 0,
      stderr: [
        `ingested 0 events from 0 new lines of ${log} (its last line has no newline yet: left for the next run)`,
        `moved ${log} to ${log}.1: the hooks record to a new ${log}`,
        `ingested 1 event from 1 new line of ${log}.1`,
        `${log}.1 is wholly in the store: it may be deleted or compressed`,
      ],
    });
    expect(existsSync(`${log}.offset`)).toBe(false);
    expect(await stored()).toEqual({ [S1]: ['a'] });
  });

  it('says so of a moved log whose last line has no newline (a torn write), and leaves that line', async () => {
    await writeFile(log, line(S1, 'a'));
    const result = await rotateHere(async () => {
      await appendFile(`${log}.1`, '{"hook":"Notification","outp');
    });
    expect(result.stderr.slice(2)).toEqual([
      `ingested 0 events from 0 new lines of ${log}.1 (its last line has no newline yet: left for the next run)`,
      `${log}.1 is in the store but for its last line, which has no newline (a torn write?)`,
    ]);
    expect(await stored()).toEqual({ [S1]: ['a'] });
  });

  it('fails on a store another process has open, and moves nothing', async () => {
    await writeFile(log, line(S1, 'a'));
    const other = await openStore({ path: store });
    try {
      // Thrown out of main: the executable says it and exits 1.
      await expect(runMain(['rotate', '--log', log, '--store', store])).rejects.toThrow(
        `the store at ${store} is locked: another process has it open (an ingest --follow, say). ` +
          'Stop it, rotate, then start it again: it reads the new log from its start (nothing was moved)',
      );
    } finally {
      await other.close();
    }
    expect(existsSync(`${log}.1`)).toBe(false);
    expect(existsSync(`${log}.offset`)).toBe(false);
    expect((await ingestHere()).stderr).toBe(`ingested 1 event from 1 new line of ${log}`);
  });

  it('fails on a store that is not there when the log was ingested before (a --store left out), and moves nothing', async () => {
    await writeFile(log, line(S1, 'a'));
    expect((await ingestHere()).code).toBe(0);
    await appendFile(log, line(S1, 'b'));
    const other = join(dir, 'other');
    await expect(runMain(['rotate', '--log', log, '--store', other])).rejects.toThrow(
      `no store at ${other}, yet ${log}.offset says the log was ingested into one: give its --store ` +
        `(nothing was moved), or remove ${log}.offset to store the whole log in a new one`,
    );
    expect(existsSync(other)).toBe(false);
    expect(existsSync(`${log}.1`)).toBe(false);
    expect((await runMain(['rotate', '--log', log, '--store', store, '--settle-ms', '0'])).code).toBe(0);
    expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
  });

  it('fails on a folder that is not a store when the log was ingested before (--store .vibespec), and writes nothing there', async () => {
    await writeFile(log, line(S1, 'a'));
    expect((await ingestHere()).code).toBe(0);
    await expect(runMain(['rotate', '--log', log, '--store', dir])).rejects.toThrow(
      `${dir} is not a store, yet ${log}.offset says the log was ingested into one`,
    );
    expect(existsSync(join(dir, 'CURRENT'))).toBe(false);
    expect(existsSync(`${log}.1`)).toBe(false);
  });

  it('fails on a log that is not there, and makes no store', async () => {
    await expect(runMain(['rotate', '--log', log, '--store', store])).rejects.toThrow(
      `no log at ${log}: nothing to rotate`,
    );
    expect(existsSync(store)).toBe(false);
  });

  it('fails on a log that is not there in a folder that is not there either, as a log not there', async () => {
    const nowhere = join(dir, 'nowhere', 'hooks.jsonl');
    await expect(runMain(['rotate', '--log', nowhere, '--store', store])).rejects.toThrow(
      `no log at ${nowhere}: nothing to rotate`,
    );
  });

  it('on an idle day names the last log moved, not a higher number only an offset file has', async () => {
    await writeFile(log, line(S1, 'a'));
    expect((await rotateHere()).code).toBe(0);
    // A stray log.2.offset (its log deleted, or a rotate stopped before its move) and a lone .tmp of 3.
    await writeFile(`${log}.2.offset`, '{}');
    await writeFile(`${log}.3.offset.tmp`, '');
    expect((await runMain(['rotate', '--log', log, '--store', store])).stderr).toBe(
      `no log at ${log} since the last rotation (to hooks.jsonl.1): nothing to rotate`,
    );
    // Only offset files: no rotation to name.
    await rm(`${log}.1`);
    expect((await runMain(['rotate', '--log', log, '--store', store])).stderr).toBe(
      `no log at ${log} since the last rotation: nothing to rotate`,
    );
  });

  it('with no log since the last rotation (no hook ran since: an idle day), exits 0 and moves nothing', async () => {
    await writeFile(log, line(S1, 'a'));
    expect((await rotateHere()).code).toBe(0);
    const again = await runMain(['rotate', '--log', log, '--store', store]);
    expect(again).toEqual({
      code: 0,
      stdout: '',
      stderr: `no log at ${log} since the last rotation (to hooks.jsonl.1): nothing to rotate`,
    });
    expect(
      readdirSync(dir)
        .filter((name) => name.startsWith('hooks.jsonl'))
        .sort(),
    ).toEqual(['hooks.jsonl.1', 'hooks.jsonl.1.offset']);
    // A hook since: rotated as usual, to the next number.
    await writeFile(log, line(S1, 'b'));
    expect((await rotateHere()).stderr[1]).toBe(`moved ${log} to ${log}.2: the hooks record to a new ${log}`);
    expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
  });

  it('failing before the move (its offset file cannot be written), says the error as itself and moves nothing', async () => {
    await writeFile(log, line(S1, 'a'));
    await mkdir(`${log}.offset.tmp`); // where the offset file is written before it replaces the old one
    const failed = await rotateHere().catch((error: unknown) => error);
    expect(String(failed)).toMatch(
      `Error: cannot save the place in the log to ${log}.offset (written first to hooks.jsonl.offset.tmp, beside it): EISDIR`,
    );
    expect(existsSync(`${log}.1`)).toBe(false);
    expect(existsSync(log)).toBe(true);
  });

  it('failing after the move, says how to finish; ingest --log log.1 does, and nothing is stored twice', async () => {
    await writeFile(log, line(S1, 'a'));
    const straggler = await open(log, 'a');
    const interrupted = new Error('interrupted');
    const failed = await rotate(log, store, 'process', {
      settle: async () => {
        await straggler.write(line(S1, 'b'));
        await straggler.close();
        throw interrupted;
      },
    }).catch((error: unknown) => error as Error);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toBe(
      `${log} was moved to ${log}.1, whose last lines may not all be in the store: interrupted ` +
        `(run vibespec-streams ingest --log ${log}.1 --store ${store} to finish)`,
    );
    expect((failed as Error).cause).toBe(interrupted);
    expect((await ingestHere(`${log}.1`)).stderr).toBe(`ingested 1 event from 1 new line of ${log}.1`);
    await writeFile(log, line(S1, 'c'));
    // log.offset still names the moved file: the rotation is finished (nothing left of log.1), and the new
    // log is read from its start.
    expect((await ingestHere()).stderr).toBe(
      `a rotate was stopped after it moved ${log} to ${log}.1: ingested 0 events from 0 new lines of ${log}.1\n` +
        `ingested 1 event from 1 new line of ${log}`,
    );
    expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c'] });
  });

  it('killed while it waits after the move (SIGKILL): the next ingest finishes it, nothing lost or stored twice', async () => {
    await writeFile(log, line(S1, 'a') + line(S1, 'b'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'rotate', '--log', log, '--store', store, '--settle-ms', '600000'],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', () => reject(new Error(`rotate ended before the move: ${stderr}`)));
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes('moved ')) resolve();
      });
    });
    const closed = new Promise((resolve) => child.on('close', resolve));
    child.kill('SIGKILL');
    await closed;
    await appendFile(`${log}.1`, line(S1, 'c')); // a hook that opened the log before the move
    await appendFile(log, line(S1, 'd'));
    // No word of the kill: the next ingest finds the rotation stopped (log.offset names log.1, which has
    // its offset file) and stores log.1's last line, which it left unsaid (log.offset replaced by the new
    // log's), before the new log.
    expect((await ingestHere()).stderr).toBe(
      `a rotate was stopped after it moved ${log} to ${log}.1: ingested 1 event from 1 new line of ${log}.1\n` +
        `ingested 1 event from 1 new line of ${log}`,
    );
    expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c', 'd'] });
    expect((await ingestHere()).stderr).toBe(`ingested 0 events from 0 new lines of ${log}`);
    expect((await ingestHere(`${log}.1`)).stderr).toBe(`ingested 0 events from 0 new lines of ${log}.1`);
  });

  /** A rotate of `a` stopped after its move, `b` written to the moved log meanwhile: as a kill leaves them. */
  async function stopAfterMove(): Promise<void> {
    await writeFile(log, line(S1, 'a'));
    const straggler = await open(log, 'a');
    const failed = await rotate(log, store, 'process', {
      settle: async () => {
        await straggler.write(line(S1, 'b'));
        await straggler.close();
        throw new Error('killed');
      },
    }).catch((error: unknown) => error);
    expect(String(failed)).toMatch(`${log} was moved to ${log}.1`);
  }

  it('stopped after the move, no hook since: ingest finishes it, where it said "no log"; then it does', async () => {
    await stopAfterMove();
    expect(await ingestHere()).toMatchObject({
      code: 0,
      stderr: `a rotate was stopped after it moved ${log} to ${log}.1: ingested 1 event from 1 new line of ${log}.1`,
    });
    expect(existsSync(`${log}.offset`)).toBe(false);
    expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
    await expect(ingestHere()).rejects.toThrow(`no log at ${log}: nothing to ingest`);
  });

  it('stopped after the move: the next rotate finishes it, then moves the new log to log.2', async () => {
    await stopAfterMove();
    const idle = await rotateHere();
    expect(idle.stderr).toEqual([
      `a rotate was stopped after it moved ${log} to ${log}.1: ingested 1 event from 1 new line of ${log}.1`,
      `no log at ${log} since that rotation: nothing to rotate`,
    ]);
    await writeFile(log, line(S1, 'c'));
    expect((await rotateHere()).code).toBe(0);
    expect(existsSync(`${log}.2`)).toBe(true);
    expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c'] });
  });

  /**
   * Sends `signal` to the run in process as the signal would: to the listener the run sets with
   * `process.once` (not to the test runner's own), once the code that set it has run on (a microtask
   * later: before any read of a file ends), the first time `when()` holds as it is set. `sent` tells it was.
   * Not through a spy of `console.error`: `runMain` spies it too, and vitest gives the same spy to both,
   * so that `runMain`'s `mockImplementation` replaced the test's one, which then saw nothing (a promise it
   * was to resolve never settled: the run waited for a signal that never came).
   */
  function stopOnListen(signal: NodeJS.Signals, when: () => boolean = () => true) {
    let sent = false;
    const realOnce = process.once.bind(process);
    const spy = vi.spyOn(process, 'once').mockImplementation(((
      event: string | symbol,
      listener: (...args: unknown[]) => void,
    ) => {
      realOnce(event, listener);
      if (!sent && event === signal && when()) {
        sent = true;
        queueMicrotask(() => listener(signal));
      }
      return process;
    }) as typeof process.once);
    return { sent: () => sent, restore: () => spy.mockRestore() };
  }

  /** The line a run that finishes the rotation of `stopAfterMove` says when `signal` stops it at once. */
  const finishStopped = (signal: NodeJS.Signals) =>
    `a rotate was stopped after it moved ${log} to ${log}.1: ingested 0 events from 0 new lines of ${log}.1 ` +
    `(stopped by ${signal}: the lines after are left for the next run)`;

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    'ingest stopped by %s while it finishes a rotate stopped after its move: exits %i, reads not the new log, keeps log.offset; the next ingest finishes it',
    async (signal, code) => {
      await stopAfterMove();
      await writeFile(log, line(S1, 'c'));
      const stop = stopOnListen(signal);
      let run: Awaited<ReturnType<typeof ingestHere>>;
      try {
        run = await ingestHere();
      } finally {
        stop.restore();
      }
      expect(stop.sent()).toBe(true);
      // Not 0 with the new log read: the moved log's line b is not in the store yet.
      expect(run).toEqual({ code, stdout: '', stderr: finishStopped(signal) });
      // log.offset still names the moved log: the next run finds the rotation stopped, and finishes it.
      expect(existsSync(`${log}.offset`)).toBe(true);
      expect(await stored()).toEqual({ [S1]: ['a'] });
      expect((await ingestHere()).stderr).toBe(
        `a rotate was stopped after it moved ${log} to ${log}.1: ingested 1 event from 1 new line of ${log}.1\n` +
          `ingested 1 event from 1 new line of ${log}`,
      );
      expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c'] });
    },
  );

  it('rotate stopped by SIGINT while it finishes a rotate stopped after its move: fails with exit 130 and moves nothing; the next rotate finishes it and moves', async () => {
    await stopAfterMove();
    await writeFile(log, line(S1, 'c'));
    const stop = stopOnListen('SIGINT');
    const stderr: string[] = [];
    const said = vi.spyOn(console, 'error').mockImplementation((text) => stderr.push(String(text)));
    let error: unknown;
    try {
      error = await rotate(log, store, 'process', { settle: async () => {} }).then(
        (code) => code,
        (thrown: unknown) => thrown,
      );
    } finally {
      said.mockRestore();
      stop.restore();
    }
    expect(stop.sent()).toBe(true);
    expect(error).toBeInstanceOf(StoppedError);
    expect(error).toMatchObject({
      signal: 'SIGINT',
      message: 'stopped by SIGINT before the move: nothing was moved',
    });
    expect(failureCode(error)).toBe(130); // bin.ts's exit code
    expect(stderr).toEqual([finishStopped('SIGINT')]);
    expect(readdirSync(dir).sort()).toEqual([
      'hooks.jsonl',
      'hooks.jsonl.1',
      'hooks.jsonl.1.offset',
      'hooks.jsonl.offset',
      'store',
    ]);
    expect(await stored()).toEqual({ [S1]: ['a'] });
    const again = await rotateHere();
    expect(again.stderr.slice(0, 3)).toEqual([
      `a rotate was stopped after it moved ${log} to ${log}.1: ingested 1 event from 1 new line of ${log}.1`,
      `ingested 1 event from 1 new line of ${log}`,
      `moved ${log} to ${log}.2: the hooks record to a new ${log}`,
    ]);
    expect(await stored()).toEqual({ [S1]: ['a', 'b', 'c'] });
  });

  it('rotate stopped by SIGINT while it ingests the moved log after the wait: fails with exit 130, says how to finish, keeps log.offset; ingest finishes it', async () => {
    await writeFile(log, line(S1, 'a'));
    let moved = false;
    const stop = stopOnListen('SIGINT', () => moved);
    const stderr: string[] = [];
    const said = vi.spyOn(console, 'error').mockImplementation((text) => {
      stderr.push(String(text));
      if (String(text).startsWith('moved ')) moved = true;
    });
    let error: unknown;
    try {
      error = await rotate(log, store, 'process', {
        settle: () => appendFile(`${log}.1`, line(S1, 'b')), // a hook that opened the log before the move
      }).then(
        (code) => code,
        (thrown: unknown) => thrown,
      );
    } finally {
      said.mockRestore();
      stop.restore();
    }
    expect(stop.sent()).toBe(true);
    expect(error).toBeInstanceOf(StoppedError);
    expect(error).toMatchObject({
      signal: 'SIGINT',
      message:
        `${log} was moved to ${log}.1, whose last lines may not all be in the store: stopped by SIGINT ` +
        `(run vibespec-streams ingest --log ${log}.1 --store ${store} to finish)`,
      cause: { name: 'StoppedError', signal: 'SIGINT', message: 'stopped by SIGINT' },
    });
    expect(failureCode(error)).toBe(130);
    expect(stderr).toEqual([
      `ingested 1 event from 1 new line of ${log}`,
      `moved ${log} to ${log}.1: the hooks record to a new ${log}`,
      `ingested 0 events from 0 new lines of ${log}.1 (stopped by SIGINT: the lines after are left for the next run)`,
    ]);
    // Not said to be wholly in the store, nor log.offset removed: b is not in the store.
    expect(existsSync(`${log}.offset`)).toBe(true);
    expect(await stored()).toEqual({ [S1]: ['a'] });
    expect((await ingestHere()).stderr).toBe(
      `a rotate was stopped after it moved ${log} to ${log}.1: ingested 1 event from 1 new line of ${log}.1`,
    );
    expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
  });

  it('a log moved by another tool (no offset file of its own) is no stopped rotation: the new log is read alone', async () => {
    await writeFile(log, line(S1, 'a'));
    await ingestHere();
    await rename(log, `${log}.1`);
    await appendFile(`${log}.1`, line(S1, 'b'));
    await writeFile(log, line(S1, 'c'));
    expect((await ingestHere()).stderr).toBe(`ingested 1 event from 1 new line of ${log}`);
    expect(await stored()).toEqual({ [S1]: ['a', 'c'] });
  });

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'in process: its wait listens for %s, which fails the run; no listener is left',
    async (signal) => {
      await writeFile(log, line(S1, 'a'));
      const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
      let moved!: () => void;
      const said = new Promise<void>((resolve) => {
        moved = resolve;
      });
      const spy = vi.spyOn(console, 'error').mockImplementation((text) => {
        if (String(text).startsWith('moved ')) moved();
      });
      try {
        const run = rotate(log, store, 'process', { settleMs: 600_000 }).catch((error: unknown) => error);
        await said;
        const added = process.listeners(signal).filter((listener) => !before[signal].includes(listener));
        expect(added).toHaveLength(1);
        added[0]!(signal);
        const error = await run;
        expect(String(error)).toContain(`whose last lines may not all be in the store: stopped by ${signal}`);
        expect(failureCode(error)).toBe(signal === 'SIGINT' ? 130 : 143); // bin.ts's exit code
        // The stop itself is kept as the cause, as for any failure after the move (see StoppedError).
        expect((error as Error).cause).toMatchObject({
          name: 'StoppedError',
          signal,
          message: `stopped by ${signal} while it waited for the hooks`,
        });
      } finally {
        spy.mockRestore();
      }
      expect(process.listeners('SIGINT')).toEqual(before.SIGINT);
      expect(process.listeners('SIGTERM')).toEqual(before.SIGTERM);
    },
  );

  it('in process: its wait leaves no listener once it has waited', async () => {
    await writeFile(log, line(S1, 'a'));
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    expect((await runMain(['rotate', '--log', log, '--store', store, '--settle-ms', '0'])).code).toBe(0);
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });

  // Exit 128 + the signal's number, as `ingest` and `record` stopped by one (it was 1, a failure's).
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)(
    'stopped by %s while it waits: exits %i and says how to finish, which ingest --log log.1 does',
    async (signal, code) => {
      await writeFile(log, line(S1, 'a'));
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, 'rotate', '--log', log, '--store', store, '--settle-ms', '600000'],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      const closed = new Promise<[number | null, string | null]>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, killedBy) => resolve([code, killedBy]));
      });
      await new Promise<void>((resolve) => {
        child.stderr!.on('data', (chunk) => {
          stderr += chunk;
          if (stderr.includes('moved ')) resolve();
        });
        void closed.then(() => resolve());
      });
      await appendFile(`${log}.1`, line(S1, 'b')); // a hook that opened the log before the move
      child.kill(signal);
      expect(await closed).toEqual([code, null]);
      expect(stderr).toContain(
        `${log} was moved to ${log}.1, whose last lines may not all be in the store: stopped by ${signal} ` +
          `while it waited for the hooks (run vibespec-streams ingest --log ${log}.1 --store ${store} to finish)`,
      );
      expect((await ingestHere(`${log}.1`)).stderr).toBe(`ingested 1 event from 1 new line of ${log}.1`);
      expect(await stored()).toEqual({ [S1]: ['a', 'b'] });
    },
  );

  it('process: fsyncs nothing', async () => {
    const seen = await fsyncsOfRotate('process');
    expect(seen.filter((text) => text.startsWith('sync '))).toEqual([]);
    expect(seen).toContain(`rename ${log} ${log}.1`);
  });

  it('goes on when the reader of its stderr is gone (2>&1 | head -1): exits 0, every line stored once', async () => {
    await writeFile(log, line(S1, 'a'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'rotate', '--log', log, '--store', store, '--settle-ms', '0'],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.destroy(); // before it writes anything: each of its lines is an EPIPE
    const closed = await new Promise<[number | null, string | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve([code, signal]));
    });
    expect(closed).toEqual([0, null]);
    expect(existsSync(`${log}.1`)).toBe(true);
    expect(existsSync(`${log}.offset`)).toBe(false);
    expect((await ingestHere(`${log}.1`)).stderr).toBe(`ingested 0 events from 0 new lines of ${log}.1`);
    expect(await stored()).toEqual({ [S1]: ['a'] });
  });

  it("os: fsyncs the moved log's offset file and its folder before the move, and the folder after it", async () => {
    const seen = await fsyncsOfRotate('os');
    const rotated = `${log}.1`;
    const at = seen.indexOf(`rename ${log} ${rotated}`);
    expect(seen.slice(at - 3, at + 2)).toEqual([
      `sync ${rotated}.offset.tmp`,
      `rename ${rotated}.offset.tmp ${rotated}.offset`,
      `sync ${dir}`,
      `rename ${log} ${rotated}`,
      `sync ${dir}`,
    ]);
  });
});

describe('vibespec-streams rotate: usage', () => {
  it.each([
    [['--settle-ms', 'x'], '--settle-ms must be a whole number of ms from 0 to 2147483647, got "x"'],
    [['--settle-ms', '2147483648'], '--settle-ms must be a whole number of ms from 0 to 2147483647'],
    [['--durability', 'disk'], '--durability must be process or os, got "disk"'],
    [['--follow'], 'rotate does not take --follow'],
    [['extra'], 'unexpected argument "extra" for rotate'],
    [['--log', ''], '--log must not be empty'],
  ])('rotate %j: exit 2, %s', async (extra, message) => {
    await writeFile(log, line(S1, 'a'));
    const run = await runMain(['rotate', '--log', log, '--store', store, ...extra]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(existsSync(`${log}.1`)).toBe(false);
  });

  it('takes --settle-ms 0 and the options before the command', async () => {
    await writeFile(log, line(S1, 'a'));
    const run = await runMain(['--log', log, '--store', store, 'rotate', '--settle-ms', '0']);
    expect(run.code).toBe(0);
    expect(existsSync(`${log}.1`)).toBe(true);
    expect(await stored()).toEqual({ [S1]: ['a'] });
  });
});
