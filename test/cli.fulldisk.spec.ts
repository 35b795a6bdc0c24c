/**
 * `ingest` when the store's writes fail for lack of room, on real LevelDB: the CLI runs under a file-size
 * limit (`ulimit -S -f`, SIGXFSZ ignored), so that LevelDB's log write fails with EFBIG as on a full disk
 * (docs/store.md, "A failed write"). Its exit code and message, the mark it saves, and a run without the
 * limit that stores the rest, each line once.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '../src/index.js';
import { runMain } from './helpers/main.js';
import { collect } from './helpers/store.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'src/cli/bin.ts');
const LINES = 300;

/** Runs the CLI, under a limit of `blocks` blocks of 512 bytes per file if given. */
function cli(args: string[], blocks?: number): Promise<{ code: number; stderr: string }> {
  const limit = blocks === undefined ? '' : `trap '' XFSZ; ulimit -S -f ${blocks}; `;
  return new Promise((resolve) => {
    execFile(
      'sh',
      ['-c', `${limit}exec "$0" --import tsx "$@"`, process.execPath, CLI, ...args],
      // A guard, no threshold: a CLI that hangs is killed before the test's deadline (180 s), not left
      // running after it; killed (no exit code), it is said as -1, not read as 0.
      { cwd: ROOT, timeout: 170_000 },
      (error, _stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr }),
    );
  });
}

let dir: string;
let log: string;
let store: string;
let lines: string[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-fulldisk-'));
  log = join(dir, 'hooks.jsonl');
  store = join(dir, 'store');
  // One event a line (a Notification), each naming its line; 1.5 KB each, so the log of LevelDB passes
  // 100 KB (the limit) within the first lines.
  lines = Array.from({ length: LINES }, (_, i) =>
    JSON.stringify({
      hook: 'Notification',
      timestamp: 1_795_165_200_000 + i,
      output: {
        session_id: 's1',
        hook_event_name: 'Notification',
        message: `line ${i} ${'p'.repeat(1500)}`,
      },
    }),
  );
  await writeFile(log, lines.map((line) => `${line}\n`).join(''));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The line number of each event stored, in seq order. */
async function storedLines(): Promise<number[]> {
  const opened = await openStore({ path: store });
  try {
    return (await collect(opened.query('s1'))).map((event) =>
      Number(/^line (\d+) p+$/.exec(String(event.data.message))![1]),
    );
  } finally {
    await opened.close();
  }
}

describe.skipIf(process.platform !== 'linux')(
  'vibespec-streams ingest into a store whose disk is full',
  () => {
    it('exits 1 saying which store and why, marks only the lines stored; run again with room, it stores the rest, each line once', async () => {
      const full = await cli(['ingest', '--log', log, '--store', store], 200);
      expect(full.code).toBe(1);
      const said =
        /^vibespec-streams ingest: cannot write to the store at (.*): IO error: .*\/\d+\.log: File too large\. (\d+) events? from (\d+) new lines? were stored, and (.*) marks them: run ingest again once the store can be written \(room made on its disk\), and it goes on from the first line not stored\n$/.exec(
          full.stderr,
        );
      expect(said, full.stderr).not.toBeNull();
      const [, storeSaid, events, marked, offsetSaid] = said!;
      expect([storeSaid, offsetSaid]).toEqual([store, `${log}.offset`]);
      const stored = Number(marked);
      expect(Number(events)).toBe(stored);
      expect(stored).toBeGreaterThan(0);
      expect(stored).toBeLessThan(LINES);
      // The lines marked are those stored, no other: the mark is the end of the last one.
      expect(await storedLines()).toEqual(lines.slice(0, stored).map((_, i) => i));
      const mark = JSON.parse(await readFile(`${log}.offset`, 'utf8')) as { offset: number };
      expect(mark.offset).toBe(
        Buffer.byteLength(
          lines
            .slice(0, stored)
            .map((line) => `${line}\n`)
            .join(''),
        ),
      );

      const again = await cli(['ingest', '--log', log, '--store', store]);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`ingested ${LINES - stored} events from ${LINES - stored} new lines of`);
      expect(await storedLines()).toEqual(lines.map((_, i) => i));
    });
  },
);

describe('vibespec-streams ingest: which write failures it says in its words (in process)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a write LevelDB fails itself (LEVEL_IO_ERROR, LEVEL_CORRUPTION): run ingest again; another failure: as the store says it', async () => {
    const { AbstractChainedBatch } = await import('abstract-level');
    await (await openStore({ path: store })).close(); // made before: the run's open writes nothing
    const failures = [
      Object.assign(new Error('IO error: 000003.log: No space left on device'), { code: 'LEVEL_IO_ERROR' }),
      Object.assign(new Error('Corruption: bad block'), { code: 'LEVEL_CORRUPTION' }),
      new Error('not a LevelDB failure'),
    ];
    const said: string[] = [];
    for (const failure of failures) {
      const spy = vi.spyOn(AbstractChainedBatch.prototype, 'write').mockRejectedValueOnce(failure);
      // main rejects with it; bin.ts says it after `vibespec-streams ingest: ` and exits 1.
      const error = (await runMain(['ingest', '--log', log, '--store', store]).catch(
        (e: unknown) => e,
      )) as Error;
      spy.mockRestore();
      said.push(error.message);
    }
    expect(said[0]).toBe(
      `cannot write to the store at ${store}: ${failures[0]!.message}. 0 events from ` +
        `0 new lines were stored, and ${log}.offset marks them: run ingest again once the store can be written ` +
        '(room made on its disk), and it goes on from the first line not stored',
    );
    expect(said[1]).toContain(`cannot write to the store at ${store}: ${failures[1]!.message}. 0 events`);
    expect(said[2]).toMatch(/^persist: a write of \d+ event\(s\) failed; .*not a LevelDB failure$/);
    // Nothing was stored; a run that can write stores every line.
    expect(await storedLines()).toEqual([]);
    expect((await runMain(['ingest', '--log', log, '--store', store])).code).toBe(0);
    expect(await storedLines()).toEqual(lines.map((_, i) => i));
  });
});
