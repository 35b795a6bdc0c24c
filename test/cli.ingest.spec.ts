import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import fsp, { appendFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withoutWatch } from '../bench/harness.js';
import { openStore } from '../src/index.js';
import { loadFixtures } from './helpers/fixtures.js';
import { spyOnFsyncs } from './helpers/fsyncSpy.js';
import { runMain } from './helpers/main.js';
import { collect } from './helpers/store.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'src/cli/bin.ts');

const FSYNC_SPY = join(ROOT, 'test/helpers/fsyncSpy.ts');

/** Runs the CLI; with `fsyncLog`, preloads the spy that lists its fsyncs and renames in that file. */
function start(args: string[], fsyncLog?: string): ChildProcess {
  if (fsyncLog === undefined)
    return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT });
  return spawn(process.execPath, ['--import', 'tsx', '--import', FSYNC_SPY, CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, VIBESPEC_FSYNC_LOG: fsyncLog },
  });
}

function cli(
  args: string[],
  fsyncLog?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = start(args, fsyncLog);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin!.end();
  });
}

/** Polls until `check` holds; the deadline only turns a hang into a failure. */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 6_000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const S1 = 'f00dfeed-0000-4000-8000-0000000000a1';
const S2 = 'f00dfeed-0000-4000-8000-0000000000b2';
let clock = 1_795_165_200_000;
/** One line as `record` writes it (each with its own time, as real hooks have). */
const line = (session: string, hook: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    hook,
    timestamp: clock++,
    output: { session_id: session, hook_event_name: hook, ...extra },
  });
const note = (session: string) => line(session, 'Notification', { message: 'x' });
/** Two events: tool.used and file.modified. */
const edit = (session: string, file = '/r/a.ts') =>
  line(session, 'PostToolUse', { tool_name: 'Edit', tool_input: { file_path: file }, tool_response: {} });

let dir: string;
let log: string;
let store: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-ingest-'));
  log = join(dir, 'hooks.jsonl');
  store = join(dir, 'store');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ingest = () => cli(['ingest', '--log', log, '--store', store]);
/** The store an offset file's lines went into (ingest refuses an offset file with no store: see below). */
const makeStore = async () => (await openStore({ path: store })).close();
const offset = async () => JSON.parse(await readFile(`${log}.offset`, 'utf8'));

describe('vibespec-streams ingest resumes where it stopped', () => {
  it('leaves a last line without a newline (still being appended) for the next run', async () => {
    const full = edit(S1);
    const cut = Math.floor(full.length / 2);
    const first = `${line(S1, 'SessionStart', { source: 'startup' })}\n`;
    await writeFile(log, `${first}${full.slice(0, cut)}`);
    const before = await ingest();
    expect(before.code).toBe(0);
    expect(before.stderr).toContain('ingested 1 event from 1 new line of');
    expect(before.stderr).toContain('left for the next run');
    expect((await offset()).offset).toBe(Buffer.byteLength(first));

    await appendFile(log, `${full.slice(cut)}\n`); // the append completes
    expect((await ingest()).stderr).toContain('ingested 2 events from 1 new line of');
    expect((await ingest()).stderr).toContain('ingested 0 events from 0 new lines');

    const context = JSON.parse((await cli(['context', S1, '--store', store])).stdout);
    expect(context).toMatchObject({ eventCount: 3, filesModified: ['/r/a.ts'] });
    const types = (await cli(['replay', S1, '--store', store])).stdout.trim().split('\n');
    expect(types.map((text) => JSON.parse(text).type)).not.toContain('hook.rejected');
  });

  it('gives a bad line just after the saved offset the time of the line before it, as one run would', async () => {
    const first = note(S1);
    await writeFile(log, `${first}\n`);
    expect((await ingest()).stderr).toContain('from 1 new line of');
    expect((await offset()).timestamp).toBe(JSON.parse(first).timestamp);
    await appendFile(log, '{not json}\n');
    await ingest();
    const [rejected] = (await cli(['replay', 'default', '--store', store])).stdout.trim().split('\n');
    // Not the bridge's clock: event time, the same in a replay of the log.
    expect(JSON.parse(rejected!)).toMatchObject({
      type: 'hook.rejected',
      timestamp: JSON.parse(first).timestamp,
    });
  });

  it('counts bytes, not characters: lines with multi-byte text resume exactly', async () => {
    await writeFile(log, `${edit(S1, '/r/é–😀.ts')}\n`);
    expect((await ingest()).stderr).toContain('ingested 2 events from 1 new line of');
    await appendFile(log, `${edit(S1, '/r/b.ts')}\n`);
    expect((await ingest()).stderr).toContain('ingested 2 events from 1 new line of');
    const context = JSON.parse((await cli(['context', S1, '--store', store])).stdout);
    expect(context.filesModified).toEqual(['/r/é–😀.ts', '/r/b.ts']);
  });

  it('reads a log rotated since the last run (a new, shorter file) from its start', async () => {
    await writeFile(log, `${[1, 2, 3].map(() => note(S1)).join('\n')}\n`);
    expect((await ingest()).stderr).toContain('from 3 new lines');
    await rm(log);
    await writeFile(log, `${line(S2, 'SessionStart', { source: 'startup' })}\n${edit(S2)}\n`);
    expect((await ingest()).stderr).toContain('ingested 3 events from 2 new lines');
    expect((await cli(['sessions', '--store', store])).stdout).toMatch(new RegExp(`^${S2}\\t3 events`, 'm'));
  });

  it('reads a log rewritten in place to a longer file (same inode, other first bytes) from its start', async () => {
    await writeFile(log, `${[1, 2, 3].map(() => note(S1)).join('\n')}\n`);
    const { ino } = await stat(log);
    expect((await ingest()).stderr).toContain('from 3 new lines');
    // `copytruncate`, or a shell's `>`: the same file, emptied, then written again past the old offset.
    await writeFile(log, `${[1, 2, 3, 4].map(() => edit(S2)).join('\n')}\n`);
    expect((await stat(log)).ino).toBe(ino);
    expect((await ingest()).stderr).toContain('ingested 8 events from 4 new lines');
  });

  it('ingest --follow across a rotation saves a position in the new file', async () => {
    await writeFile(log, `${[1, 2, 3].map(() => note(S1)).join('\n')}\n`);
    const oldSize = (await stat(log)).size;
    const child = start(['ingest', '--follow', '--log', log, '--store', store]);
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const closed = new Promise((resolve) => child.on('close', resolve));
    try {
      await waitFor('the 3 lines to be committed', async () => {
        return (await offset().catch(() => undefined))?.offset === oldSize;
      });
      // logrotate: the log is moved away and a new one started, which the follower reads from its start.
      await rm(log);
      await writeFile(log, `${line(S2, 'SessionStart', { source: 'startup' })}\n`);
      const fresh = await stat(log);
      await waitFor('the new file to be committed', async () => {
        const saved = await offset().catch(() => undefined);
        return saved?.ino === fresh.ino && saved?.offset === fresh.size;
      });
    } finally {
      child.kill('SIGINT');
      await closed;
    }
    expect(stderr).toContain('ingested 4 events from 4 new lines');
    await appendFile(log, `${edit(S2)}\n`);
    expect((await ingest()).stderr).toContain('ingested 2 events from 1 new line of');
    expect((await cli(['sessions', '--store', store])).stdout).toMatch(new RegExp(`^${S2}\\t3 events`, 'm'));
  });

  it('ingest --follow stops as cleanly on SIGTERM (kill, a service stop) and SIGHUP (its terminal closed) as on SIGINT', async () => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      // A line this run commits: once its position is saved, the run is following (its handlers set).
      await appendFile(log, `${note(S1)}\n`);
      const size = (await stat(log)).size;
      const child = start(['ingest', '--follow', '--log', log, '--store', store]);
      let stderr = '';
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
      });
      const closed = new Promise<[number | null, string | null]>((resolve) =>
        child.on('close', (code, by) => resolve([code, by])),
      );
      await waitFor('the lines to be committed', async () => {
        return (await offset().catch(() => undefined))?.offset === size;
      });
      child.kill(signal);
      // Exits 0 with its summary (the store closed), not killed by the signal.
      expect({ signal, closed: await closed }).toEqual({ signal, closed: [0, null] });
      expect(stderr).toMatch(/^ingested \d+ events? from \d+ new lines? /m);
    }
  });

  it('reads an offset file of an earlier version (a line count) as that count, then saves a position', async () => {
    await writeFile(log, `${note(S1)}\n${edit(S1)}\n`);
    await makeStore();
    await writeFile(`${log}.offset`, '1\n');
    expect((await ingest()).stderr).toContain('ingested 2 events from 1 new line of');
    expect(await offset()).toMatchObject({ offset: (await stat(log)).size, ino: (await stat(log)).ino });
    expect((await ingest()).stderr).toContain('ingested 0 events from 0 new lines');
    expect((await cli(['sessions', '--store', store])).stdout).toMatch(new RegExp(`^${S1}\\t2 events`, 'm'));
  });

  it('stops with the error when it cannot save its position', async () => {
    await writeFile(log, `${note(S1)}\n`);
    await mkdir(`${log}.offset.tmp`); // where the offset is written before it replaces the old one
    const { code, stderr } = await ingest();
    expect(code).toBe(1);
    expect(stderr).toContain('EISDIR');
  });

  it('refuses an offset file it cannot read, rather than guessing', async () => {
    await writeFile(log, `${note(S1)}\n`);
    await writeFile(`${log}.offset`, '{"offset": "x"}\n');
    const { code, stderr } = await ingest();
    expect(code).toBe(1);
    expect(stderr).toContain('is not an offset file');
    expect(await readFile(`${log}.offset`, 'utf8')).toBe('{"offset": "x"}\n');
  });

  it.each([
    ['a head of another length than its offset asks', '{"offset": 3, "ino": 1, "head": ""}\n'],
    ['a negative inode', '{"offset": 0, "ino": -1, "head": ""}\n'],
  ])('refuses an offset file with %s as one it cannot read', async (_, text) => {
    // It passed the command's own check, then failed the reader's, whose error named its option
    // (resumeFrom), not the file to remove.
    await writeFile(log, `${note(S1)}\n`);
    await writeFile(`${log}.offset`, text);
    const { code, stderr } = await ingest();
    expect(code).toBe(1);
    expect(stderr).toContain(`${log}.offset is not an offset file`);
    expect(await readFile(`${log}.offset`, 'utf8')).toBe(text);
  });
});

describe('vibespec-streams ingest killed mid-run', () => {
  it('loses no line after SIGKILL and a restart; only the lines past the saved offset can be stored twice', async () => {
    // Each line one event, named by its message: m-<line number>.
    const count = 40_000;
    const texts = Array.from({ length: count }, (_, i) =>
      JSON.stringify({
        hook: 'Notification',
        timestamp: 1_795_165_200_000 + i,
        output: { session_id: S1, hook_event_name: 'Notification', message: `m-${i}` },
      }),
    );
    await writeFile(log, `${texts.join('\n')}\n`);
    const size = (await stat(log)).size;
    const child = start(['ingest', '--log', log, '--store', store]);
    const closed = new Promise<[number | null, string | null]>((resolve) =>
      child.on('close', (code, signal) => resolve([code, signal])),
    );
    // Killed once some lines are committed, while it still writes.
    await waitFor(
      'some lines to be committed',
      async () => ((await offset().catch(() => undefined))?.offset ?? 0) > 0,
    );
    child.kill('SIGKILL');
    expect(await closed).toEqual([null, 'SIGKILL']);
    const saved = (await offset()).offset as number;
    expect(saved).toBeLessThan(size); // killed mid-run, not after the end

    const rerun = await ingest();
    expect(rerun.code).toBe(0);
    expect((await offset()).offset).toBe(size);

    // Lines wholly before the saved offset: exactly once. The others: at least once (twice at most).
    let end = 0;
    let committed = 0;
    for (const text of texts) {
      end += Buffer.byteLength(text) + 1;
      if (end > saved) break;
      committed++;
    }
    const replayed = (await cli(['replay', S1, '--store', store])).stdout.trim().split('\n');
    const seen = new Array<number>(count).fill(0);
    for (const text of replayed) seen[Number(JSON.parse(text).data.message.slice(2))]!++;
    expect(seen.slice(0, committed).filter((n) => n !== 1)).toEqual([]);
    expect(seen.slice(committed).filter((n) => n < 1 || n > 2)).toEqual([]);
  }, 600_000);
});

describe('vibespec-streams ingest --durability', () => {
  /** Ingests two lines with the fsync spy; returns its lines, the offset file's among them. */
  async function spied(extra: string[]) {
    await writeFile(log, `${note(S1)}\n${edit(S1)}\n`);
    const spyLog = join(dir, 'fsyncs.txt');
    await writeFile(spyLog, '');
    const run = await cli(['ingest', '--log', log, '--store', store, ...extra], spyLog);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('ingested 3 events from 2 new lines');
    expect(await offset()).toMatchObject({ offset: (await stat(log)).size });
    const types = (await cli(['replay', S1, '--store', store])).stdout.trim().split('\n');
    expect(types.map((text) => JSON.parse(text).type)).toEqual([
      'notification',
      'tool.used',
      'file.modified',
    ]);
    const lines = (await readFile(spyLog, 'utf8')).split('\n').filter((text) => text.length > 0);
    return lines.filter((text) => text.includes('.offset') || text === `sync ${dir}`);
  }

  it('os: fsyncs the offset file before it replaces the old one, and its folder after', async () => {
    const lines = await spied(['--durability', 'os']);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    // Each save, in this order (saves of later marks may follow, the same way).
    for (let i = 0; i < lines.length; i += 3) {
      expect(lines.slice(i, i + 3)).toEqual([
        `sync ${log}.offset.tmp`,
        `rename ${log}.offset.tmp ${log}.offset`,
        `sync ${dir}`,
      ]);
    }
  });

  it.each([[[]], [['--durability', 'process']]])(
    'process (the default, %j): renames the offset file without fsyncing it',
    async (extra: string[]) => {
      const lines = await spied(extra);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every((text) => text.startsWith(`rename ${log}.offset.tmp `))).toBe(true);
    },
  );

  it('refuses another value with exit 2, naming the option', async () => {
    await writeFile(log, `${note(S1)}\n`);
    const { code, stderr } = await cli(['ingest', '--log', log, '--store', store, '--durability', 'disk']);
    expect(code).toBe(2);
    expect(stderr).toContain('--durability must be process or os, got "disk"');
    await expect(stat(`${log}.offset`)).rejects.toThrow();
  });
});

describe('vibespec-streams ingest, run in process (main)', () => {
  const T = Date.UTC(2026, 5, 1, 12, 0, 0);
  const ingestHere = (...extra: string[]) => runMain(['ingest', '--log', log, '--store', store, ...extra]);
  const summary = (events: number, lines: number, rest = '') =>
    `ingested ${events} event${events === 1 ? '' : 's'} from ${lines} new line${lines === 1 ? '' : 's'} of ${log}${rest}`;
  const LEFT = ' (its last line has no newline yet: left for the next run)';
  /** The stored events' types, by session. */
  async function stored(): Promise<Record<string, string[]>> {
    const opened = await openStore({ path: store });
    try {
      const out: Record<string, string[]> = {};
      for (const { sessionId } of await opened.sessions()) {
        out[sessionId] = (await collect(opened.query(sessionId))).map((event) => event.type);
      }
      return out;
    } finally {
      await opened.close();
    }
  }
  const count = (bySession: Record<string, string[]>) =>
    Object.values(bySession).reduce((sum, types) => sum + types.length, 0);
  /** The mark `ingest` saves after the last whole line of the log as it is now. */
  async function markAtEnd(timestamp?: number) {
    const bytes = await readFile(log);
    return {
      offset: bytes.length,
      ino: (await stat(log)).ino,
      head: bytes.subarray(0, 256).toString('hex'),
      ...(timestamp === undefined ? {} : { timestamp }),
    };
  }

  it('stores the events of every real payload, saves the mark of the last line, and stores nothing twice', async () => {
    const fixtures = loadFixtures();
    const texts = fixtures.map(({ hook_event_name, payload }, i) =>
      JSON.stringify({ hook: hook_event_name, timestamp: T + i * 1_000, output: payload }),
    );
    await writeFile(log, `${texts.join('\n')}\n`);
    const first = await ingestHere();
    const events = await stored();
    const total = count(events);
    expect(total).toBeGreaterThanOrEqual(fixtures.length);
    expect(first).toEqual({ code: 0, stdout: '', stderr: summary(total, fixtures.length) });
    expect(Object.values(events).flat()).not.toContain('hook.rejected');
    expect(await offset()).toEqual(await markAtEnd(T + (fixtures.length - 1) * 1_000));

    expect(await ingestHere()).toEqual({ code: 0, stdout: '', stderr: summary(0, 0) });
    expect(count(await stored())).toBe(total);
  });

  it('a log rotated by hand as the README says (log and offset file renamed, the old one ingested under its new name): no line lost, none stored twice', async () => {
    const before = [note(S1), edit(S1)];
    const tail = edit(S2); // appended after the last run: in the rotated file only
    const after = note(S2); // a hook's line after the rotation: in the new log
    await writeFile(log, `${before.join('\n')}\n`);
    expect((await ingestHere()).code).toBe(0);
    await appendFile(log, `${tail}\n`);
    const rotated = `${log}.1`;
    await rename(log, rotated);
    await rename(`${log}.offset`, `${rotated}.offset`);
    await writeFile(log, `${after}\n`);

    // The offset file's mark names the file (inode, first bytes), not its path: the old log resumes.
    expect(await runMain(['ingest', '--log', rotated, '--store', store])).toEqual({
      code: 0,
      stdout: '',
      stderr: `ingested 2 events from 1 new line of ${rotated}`,
    });
    expect(await ingestHere()).toEqual({ code: 0, stdout: '', stderr: summary(1, 1) });
    const got = await stored();

    // The same lines in one log, ingested in one run.
    store = join(dir, 'reference');
    await writeFile(log, `${[...before, tail, after].join('\n')}\n`);
    await rm(`${log}.offset`);
    expect((await ingestHere()).code).toBe(0);
    const expected = await stored();
    expect(count(expected)).toBe(6);
    expect(got).toEqual(expected);
  });

  it('an ingest run between the two moves of the rotation (why the README says to stop every ingest): both logs are read again from their start', async () => {
    const before = [note(S1), edit(S1)];
    const after = note(S2); // a hook's line between the two moves: in the new log
    await writeFile(log, `${before.join('\n')}\n`);
    expect((await ingestHere()).code).toBe(0);
    const rotated = `${log}.1`;
    await rename(log, rotated);
    await writeFile(log, `${after}\n`);
    // The new log read with the old log's offset file, whose mark names another file: from its start; the
    // new log's mark saved in its place, then moved with it to the old log's name.
    expect(await ingestHere()).toEqual({ code: 0, stdout: '', stderr: summary(1, 1) });
    await rename(`${log}.offset`, `${rotated}.offset`);
    expect(await runMain(['ingest', '--log', rotated, '--store', store])).toEqual({
      code: 0,
      stdout: '',
      stderr: `ingested 3 events from 2 new lines of ${rotated}`,
    });
    expect(await ingestHere()).toEqual({ code: 0, stdout: '', stderr: summary(1, 1) });
    // 3 lines of 4 events, each event stored twice.
    expect(count(await stored())).toBe(8);
  });

  it('leaves a last line without a newline for the next run, and says so', async () => {
    const whole = `${note(S1)}\n`;
    const cut = edit(S1);
    await writeFile(log, `${whole}${cut.slice(0, 20)}`);
    expect(await ingestHere()).toEqual({ code: 0, stdout: '', stderr: summary(1, 1, LEFT) });
    expect((await offset()).offset).toBe(Buffer.byteLength(whole));
    await appendFile(log, `${cut.slice(20)}\n`);
    expect((await ingestHere()).stderr).toBe(summary(2, 1));
    expect(await stored()).toEqual({ [S1]: ['notification', 'tool.used', 'file.modified'] });
  });

  it('skips the lines an offset file of an earlier version counts (a line count), then saves a mark', async () => {
    // Ten lines and more: a count of two digits, with spaces around it.
    const last = edit(S2);
    await writeFile(log, `${Array.from({ length: 12 }, () => note(S1)).join('\n')}\n${last}\n`);
    await makeStore();
    await writeFile(`${log}.offset`, ' 12 \n');
    expect(await ingestHere()).toEqual({ code: 0, stdout: '', stderr: summary(2, 1) });
    expect(await stored()).toEqual({ [S2]: ['tool.used', 'file.modified'] });
    expect(await offset()).toEqual(await markAtEnd(JSON.parse(last).timestamp));
  });

  it('replaces a line count that skips every line by the mark of the last line', async () => {
    const last = note(S1);
    await writeFile(log, `${note(S1)}\n${last}\n`);
    await makeStore();
    await writeFile(`${log}.offset`, '2\n');
    expect((await ingestHere()).stderr).toBe(summary(0, 0));
    expect(await offset()).toEqual(await markAtEnd(JSON.parse(last).timestamp));
  });

  it('resumes after a saved mark without a timestamp (of an earlier version)', async () => {
    await writeFile(log, `${note(S1)}\n`);
    const { offset: end, ino, head } = await markAtEnd();
    await makeStore();
    await writeFile(`${log}.offset`, JSON.stringify({ offset: end, ino, head }));
    await appendFile(log, `${edit(S2)}\n`);
    expect((await ingestHere()).stderr).toBe(summary(2, 1));
    expect(Object.keys(await stored())).toEqual([S2]);
  });

  it('gives a bad line just after the saved mark the time of the line before it, as one run would', async () => {
    const first = note(S1);
    await writeFile(log, `${first}\n`);
    await ingestHere();
    await appendFile(log, '{not json}\n');
    expect((await ingestHere()).stderr).toBe(summary(1, 1));
    const opened = await openStore({ path: store });
    try {
      expect(await collect(opened.query('default'))).toMatchObject([
        { type: 'hook.rejected', timestamp: JSON.parse(first).timestamp },
      ]);
    } finally {
      await opened.close();
    }
  });

  it('reads a log rotated since the last run (a new file) from its start', async () => {
    await writeFile(log, `${[1, 2, 3].map(() => note(S1)).join('\n')}\n`);
    await ingestHere();
    await rm(log);
    const rotated = edit(S2);
    await writeFile(log, `${rotated}\n`);
    expect((await ingestHere()).stderr).toBe(summary(2, 1));
    expect(await offset()).toEqual(await markAtEnd(JSON.parse(rotated).timestamp));
  });

  it.each([
    ['a line count after a word', 'lines: 2\n'],
    ['a line count before a word', '2 lines\n'],
    ['an offset that is no number', '{"offset": "x"}\n'],
    ['a mark without its head', '{"offset": 0, "ino": 1}\n'],
    ['JSON null', 'null\n'],
    ['nothing', ''],
  ])('refuses an offset file that holds %s, before it opens the store', async (_, text) => {
    await writeFile(log, `${note(S1)}\n`);
    await writeFile(`${log}.offset`, text);
    await expect(ingestHere()).rejects.toThrow(
      `${log}.offset is not an offset file ({ "offset", "ino", "head" }); remove it to ingest the log from its start`,
    );
    expect(await readFile(`${log}.offset`, 'utf8')).toBe(text);
    await expect(stat(store)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([[[]], [['--follow']]])(
    'fails on an offset file with no store at --store (%j: a --store left out or mistyped), and makes none',
    async (extra: string[]) => {
      await writeFile(log, `${note(S1)}\n`);
      expect((await ingestHere()).code).toBe(0);
      await appendFile(log, `${edit(S1)}\n`);
      const saved = await readFile(`${log}.offset`, 'utf8');
      const other = join(dir, 'other');
      // Made there, the store would get only the line after the mark, and the right one never would.
      await expect(runMain(['ingest', '--log', log, '--store', other, ...extra])).rejects.toThrow(
        `no store at ${other}, yet ${log}.offset says the log was ingested into one: give its --store, ` +
          `or remove ${log}.offset to store the whole log in a new one`,
      );
      expect(existsSync(other)).toBe(false);
      expect(await readFile(`${log}.offset`, 'utf8')).toBe(saved);
      expect(await ingestHere()).toEqual({ code: 0, stdout: '', stderr: summary(2, 1) });
    },
  );

  it('fails on an offset file with a folder that is not a store at --store (--store .vibespec)', async () => {
    await writeFile(log, `${note(S1)}\n`);
    expect((await ingestHere()).code).toBe(0);
    await expect(runMain(['ingest', '--log', log, '--store', dir])).rejects.toThrow(
      `${dir} is not a store, yet ${log}.offset says the log was ingested into one`,
    );
    expect(existsSync(join(dir, 'CURRENT'))).toBe(false);
  });

  it('fails on an offset file it cannot read (a folder), rather than reading the log from its start', async () => {
    await writeFile(log, `${note(S1)}\n`);
    await mkdir(`${log}.offset`);
    await expect(ingestHere()).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(stat(store)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([[[]], [['--follow']]])(
    'stops with the error when it cannot save its mark (%j), before it stores anything, and closes the store',
    async (extra: string[]) => {
      await writeFile(log, `${note(S1)}\n`);
      await mkdir(`${log}.offset.tmp`); // where the mark is written before it replaces the old one
      await expect(ingestHere(...extra)).rejects.toMatchObject({ code: 'EISDIR' });
      await expect(stat(`${log}.offset`)).rejects.toMatchObject({ code: 'ENOENT' });
      // Stored, its line would be stored again by the next run, the mark not saved (test/cli.review159).
      expect(await stored()).toEqual({}); // opens: closed by the failed run
    },
  );

  /**
   * Runs `fn` with `rename` onto `${log}.offset` failing as on a full disk (ENOSPC), after a wait that lets a
   * run without --follow finish its reading first (the save then fails after it, not during it). The
   * offset file's temporary is written and removed as before: the check before the first write passes.
   */
  async function withSaveFailing<T>(fn: () => Promise<T>): Promise<T> {
    const realRename = fsp.rename;
    fsp.rename = (async (from, to) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (String(to) === `${log}.offset`) {
        throw Object.assign(new Error(`ENOSPC: no space left on device, rename '${String(from)}'`), {
          code: 'ENOSPC',
        });
      }
      return realRename(from, to);
    }) as typeof fsp.rename;
    syncBuiltinESMExports();
    try {
      return await fn();
    } finally {
      fsp.rename = realRename;
      syncBuiltinESMExports();
    }
  }

  it.each([[[]], [['--follow']]])(
    'stops with the error of a save that fails after the check (%j: a full disk), saves no mark, closes the store',
    async (extra: string[]) => {
      await writeFile(log, `${note(S1)}\n`);
      const before = process.listeners('SIGINT');
      // Without --follow the save fails once the log is read: exit 0 there would leave the line stored and
      // its mark unsaved, stored again by the next run with no word. With --follow it ends the run (no hang
      // until a signal), its handlers removed.
      await expect(withSaveFailing(() => ingestHere(...extra))).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(process.listeners('SIGINT')).toEqual(before);
      await expect(stat(`${log}.offset`)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await stored()).toEqual({ [S1]: ['notification'] }); // opens: closed by the failed run
    },
  );

  it('fails on an offset file of an earlier version (a line count) with no store at --store, and makes none', async () => {
    await writeFile(log, `${note(S1)}\n${edit(S1)}\n`);
    await writeFile(`${log}.offset`, '1\n');
    await expect(ingestHere()).rejects.toThrow(
      `no store at ${store}, yet ${log}.offset says the log was ingested into one`,
    );
    expect(existsSync(store)).toBe(false);
  });

  it('says a store that cannot be opened (a file at --store) as itself, not as a store locked by another process', async () => {
    await writeFile(log, `${note(S1)}\n`);
    await writeFile(store, 'not a store');
    const error = await ingestHere().then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message).toBe(`${store} is a file, not a store: --store names the store's folder`);
    expect(error?.message).not.toMatch('locked');
  });

  describe('--durability', () => {
    /** Ingests two lines; returns the fsyncs and renames of the offset file and of its folder. */
    async function spied(extra: string[]) {
      const last = edit(S1);
      await writeFile(log, `${note(S1)}\n${last}\n`);
      const made: string[] = [];
      const restore = await spyOnFsyncs((line) => made.push(line));
      try {
        expect(await ingestHere(...extra)).toEqual({ code: 0, stdout: '', stderr: summary(3, 2) });
      } finally {
        restore();
      }
      expect(await offset()).toEqual(await markAtEnd(JSON.parse(last).timestamp));
      return made.filter((text) => text.includes('.offset') || text === `sync ${dir}`);
    }

    it('os: fsyncs each new offset file before it replaces the old one, and its folder after', async () => {
      const made = await spied(['--durability', 'os']);
      expect(made.length).toBeGreaterThanOrEqual(3);
      expect(made.length % 3).toBe(0);
      for (let i = 0; i < made.length; i += 3) {
        expect(made.slice(i, i + 3)).toEqual([
          `sync ${log}.offset.tmp`,
          `rename ${log}.offset.tmp ${log}.offset`,
          `sync ${dir}`,
        ]);
      }
    });

    it.each([[[]], [['--durability', 'process']]])(
      'process (the default, %j): replaces the offset file without an fsync',
      async (extra: string[]) => {
        const made = await spied(extra);
        expect(made.length).toBeGreaterThan(0);
        expect(made.filter((text) => text !== `rename ${log}.offset.tmp ${log}.offset`)).toEqual([]);
      },
    );
  });

  it.skipIf(!existsSync('/proc/self/fd'))(
    'closes every file it opens (the offset file and its folder, each save): --follow runs for days',
    async () => {
      await writeFile(log, `${Array.from({ length: 50 }, () => note(S1)).join('\n')}\n`);
      const open = () => readdirSync('/proc/self/fd').length;
      const before = open();
      expect((await ingestHere('--durability', 'os')).stderr).toBe(summary(50, 50));
      expect(open()).toBe(before);
    },
  );

  describe('--follow', () => {
    const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
    /**
     * Starts `ingest --follow` in process. `stop` emits the signal to it alone (the listeners the test
     * process had before, if any, are set aside for that moment) and resolves to its run.
     */
    function follow(...extra: string[]) {
      const before = Object.fromEntries(SIGNALS.map((signal) => [signal, process.listeners(signal)]));
      const running = ingestHere('--follow', ...extra);
      running.catch(() => undefined); // awaited by stop; a failure before it is not unhandled
      return {
        before,
        async stop(signal: (typeof SIGNALS)[number]) {
          for (const listener of before[signal]!) process.off(signal, listener);
          try {
            process.emit(signal);
          } finally {
            for (const listener of before[signal]!) process.on(signal, listener);
          }
          return running;
        },
      };
    }
    const committed = (end: number, ino?: number) =>
      waitFor(`a mark at ${end}`, async () => {
        const saved = await offset().catch(() => undefined);
        return saved?.offset === end && (ino === undefined || saved?.ino === ino);
      });

    it.each(SIGNALS)(
      'ingests the lines appended while it runs, until %s: then exits 0 with its summary, its handlers removed',
      async (signal) => {
        await writeFile(log, `${note(S1)}\n${note(S1)}\n`);
        const run = follow();
        await committed((await stat(log)).size);
        await appendFile(log, `${edit(S2)}\n`);
        await committed((await stat(log)).size);
        expect(await run.stop(signal)).toEqual({ code: 0, stdout: '', stderr: summary(4, 3) });
        for (const other of SIGNALS) expect(process.listeners(other)).toEqual(run.before[other]);
        expect(await stored()).toEqual({
          [S1]: ['notification', 'notification'],
          [S2]: ['tool.used', 'file.modified'],
        });
      },
    );

    it('says it waits for a log not there yet, with its full path, then ingests it once a hook makes it', async () => {
      const here = relative(process.cwd(), log); // as from a subfolder: the full path says where it waits
      const waiting = `no log at ${here} (${log}) yet: waiting for the hooks to record there`;
      const said = () => vi.mocked(console.error).mock.calls.map(([text]) => String(text));
      const run = follow('--log', here);
      await waitFor('the word that it waits', async () => said().some((text) => text.startsWith(waiting)));
      expect(existsSync(log)).toBe(false);
      await writeFile(log, `${note(S1)}\n`);
      await committed((await stat(log)).size);
      const { code, stderr } = await run.stop('SIGINT');
      expect({ code, lines: stderr.split('\n') }).toEqual({
        code: 0,
        lines: [`${waiting} (are they given this --log?)`, `ingested 1 event from 1 new line of ${here}`],
      });
      expect(await stored()).toEqual({ [S1]: ['notification'] });
    });

    it('says nothing of waiting for a log that is there', async () => {
      await writeFile(log, `${note(S1)}\n`);
      const run = follow();
      await committed((await stat(log)).size);
      expect(await run.stop('SIGINT')).toEqual({ code: 0, stdout: '', stderr: summary(1, 1) });
    });

    it('ingests the last line of a rotated log, even without a newline, then the new log', async () => {
      const whole = `${note(S1)}\n`;
      await writeFile(log, `${whole}${edit(S1)}`);
      const run = follow();
      await committed(Buffer.byteLength(whole));
      await rm(log);
      await writeFile(log, `${note(S2)}\n`);
      await committed((await stat(log)).size, (await stat(log)).ino);
      expect(await run.stop('SIGINT')).toEqual({ code: 0, stdout: '', stderr: summary(4, 3) });
      expect(await stored()).toEqual({
        [S1]: ['notification', 'tool.used', 'file.modified'],
        [S2]: ['notification'],
      });
    });

    describe('--poll-ms', () => {
      /** The delays of the timers set while `fn` runs. */
      async function delaysWhile(fn: () => Promise<void>): Promise<number[]> {
        const timers = vi.spyOn(globalThis, 'setTimeout');
        try {
          await fn();
          return timers.mock.calls.map(([, ms]) => Number(ms));
        } finally {
          timers.mockRestore();
        }
      }

      it.each([
        [['--poll-ms', '15'], 15],
        [['--poll-ms', '1'], 1],
        [[], 250],
      ])('%j: where fs.watch fails, finds the appends by a poll every %i ms', async (extra, ms) => {
        await writeFile(log, `${note(S1)}\n`);
        const delays = await delaysWhile(() =>
          withoutWatch(async () => {
            const run = follow(...extra);
            await committed((await stat(log)).size);
            await appendFile(log, `${edit(S2)}\n`);
            await committed((await stat(log)).size);
            expect(await run.stop('SIGINT')).toEqual({ code: 0, stdout: '', stderr: summary(3, 2) });
          }),
        );
        expect(delays).toContain(ms);
        expect(delays).not.toContain(ms === 250 ? 15 : 250);
        expect(await stored()).toEqual({ [S1]: ['notification'], [S2]: ['tool.used', 'file.modified'] });
      });

      it('takes --poll-ms 2147483647, the longest delay of a Node timer, and finds appends by fs.watch', async () => {
        await writeFile(log, `${note(S1)}\n`);
        const delays = await delaysWhile(async () => {
          const run = follow('--poll-ms', '2147483647');
          await committed((await stat(log)).size);
          await appendFile(log, `${edit(S2)}\n`);
          await committed((await stat(log)).size);
          expect(await run.stop('SIGINT')).toEqual({ code: 0, stdout: '', stderr: summary(3, 2) });
        });
        expect(delays).toContain(2_147_483_647);
        expect(delays).not.toContain(250);
      });

      it.each([['abc'], ['0'], ['1.5'], ['1e3'], [''], ['2147483648']])(
        'refuses --poll-ms %j with exit 2, naming the option, before it reads anything',
        async (value) => {
          await writeFile(log, `${note(S1)}\n`);
          const run = await ingestHere('--follow', `--poll-ms=${value}`);
          expect(run.code).toBe(2);
          expect(run.stderr).toContain(
            `--poll-ms must be a whole number of ms from 1 to 2147483647, got ${JSON.stringify(value)}`,
          );
          expect(existsSync(store)).toBe(false);
        },
      );

      it('refuses --poll-ms without --follow (ingest reads the log once), with exit 2', async () => {
        await writeFile(log, `${note(S1)}\n`);
        const run = await ingestHere('--poll-ms', '50');
        expect(run.code).toBe(2);
        expect(run.stderr).toContain('--poll-ms is for --follow');
        expect(existsSync(store)).toBe(false);
      });
    });
  });
});
