/**
 * The store when LevelDB's writes fail for lack of room, on real LevelDB: a child process runs under a
 * file-size limit (`ulimit -S -f`, SIGXFSZ ignored), so that the write of the log past it fails with EFBIG
 * as on a full disk (child: test/store/child/fullDisk.ts). The parent then opens the store without the
 * limit and checks it against what the child was told: every event acknowledged is stored, once, in order;
 * no event refused is; none is neither.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CorruptRecord, openStore } from '../../src/index.js';
import { collect } from '../helpers/store.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(ROOT, 'test/store/child/fullDisk.ts');

/** `prlimit` (util-linux) lifts the child's limit once it failed; `ulimit -S -f` sets it in `sh`. */
function hasPrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return process.platform === 'linux';
  } catch {
    return false;
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-fulldisk-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Report {
  /** Ids acknowledged, in the order told. */
  acked: string[];
  /** Ids refused, in the order told. */
  refused: string[];
  /** Each refusal's first error: code, the cause's code, the message. */
  errors: Array<{ code: string; cause: string; message: string }>;
  /** Each line, `A`, `R` or `E`, in order (ids left out). */
  kinds: string[];
  /** How many events the child made. */
  made: number;
  done: boolean;
}

/** Runs the child with the log limited to 100 blocks of 512 bytes (51,200 bytes). */
async function runLimited(path: string, mode: 'append' | 'persist'): Promise<Report> {
  const { stdout } = await promisify(execFile)(
    'sh',
    [
      '-c',
      `trap '' XFSZ; ulimit -S -f 100; exec "$0" --import tsx "$@"`,
      process.execPath,
      CHILD,
      path,
      mode,
    ],
    // A guard, no threshold: a child that hangs (a write never failing, say) is killed before the test's
    // own deadline (180 s), rather than left running after it.
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 170_000 },
  );
  const report: Report = { acked: [], refused: [], errors: [], kinds: [], made: -1, done: false };
  for (const line of stdout.split('\n')) {
    if (line === 'done') report.done = true;
    else if (line.startsWith('N ')) report.made = Number(line.slice(2));
    else if (line.startsWith('A ')) report.acked.push(...line.slice(2).split(','));
    else if (line.startsWith('R ')) report.refused.push(...line.slice(2).split(','));
    else if (line.startsWith('E ')) {
      const [code, cause, ...message] = line.slice(2).split(' ');
      report.errors.push({ code: code!, cause: cause!, message: message.join(' ') });
    }
    if (/^[ARE] /.test(line)) report.kinds.push(line.slice(0, 1));
  }
  return report;
}

/** What the store holds, opened here without the limit, and what it reported as damaged. */
async function stored(path: string) {
  const reports: CorruptRecord[] = [];
  const store = await openStore({ path, onCorruptRecord: (record) => reports.push(record) });
  try {
    const entries = await collect(store.entries('s'));
    return {
      ids: entries.map((entry) => entry.event.id),
      seqs: entries.map((entry) => entry.seq),
      info: await store.session('s'),
      reports: reports.map((record) => record.reason),
    };
  } finally {
    await store.close();
  }
}

describe.skipIf(!hasPrlimit())('a write that fails for lack of room (EFBIG under a file-size limit)', () => {
  it('store.append: the failed append is refused, naming the store and the cause; the appends after it too, though the disk has room again, until the store is opened again', async () => {
    const path = join(dir, 'append');
    const report = await runLimited(path, 'append');
    expect(report.done).toBe(true);
    // Every event acknowledged is stored (without the refusal, the appends made once the limit was lifted
    // were acknowledged, and dropped with the rest of the log at the next open), none refused is.
    const { ids, seqs, info, reports } = await stored(path);
    expect(ids).toEqual(report.acked);
    expect(seqs).toEqual(ids.map((_, i) => i));
    expect(info).toMatchObject({ eventCount: ids.length, nextSeq: ids.length });
    expect(ids.filter((id) => report.refused.includes(id))).toEqual([]);
    expect(report.acked.length + report.refused.length).toBe(report.made);
    expect(reports).toEqual([]);

    const [failed, refused, deleting] = report.errors;
    // The failure: LevelDB's own error (EFBIG) as cause, the store named.
    expect(failed).toMatchObject({ code: 'STORE_WRITE_FAILED', cause: 'LEVEL_IO_ERROR' });
    expect(failed!.message).toMatch(
      /^LevelDB write failed at .*append; 3 event\(s\) were not written: IO error: .*File too large/,
    );
    expect(failed!.message).toContain('takes no more writes until it is closed and opened again');
    // The 4 appends and the deleteSession made once the limit is lifted: refused, with the first failure
    // as cause. Written, they were acknowledged and then lost at the next open (162 of 177 events).
    expect(refused).toMatchObject({ code: 'STORE_WRITE_FAILED', cause: 'LEVEL_IO_ERROR' });
    expect(refused!.message).toMatch(
      /^write refused: an earlier LevelDB write of this store failed at .*append; 3 event\(s\) were not written: IO error: .*File too large\. The store takes no more writes until it is closed and opened again/,
    );
    expect(deleting).toMatchObject({ code: 'STORE_WRITE_FAILED', cause: 'LEVEL_IO_ERROR' });
    expect(deleting!.message).toContain('deleting session other at');
    expect(report.kinds.filter((kind) => kind === 'R')).toHaveLength(5);
    // Opened again, the store takes the last append: it follows the ones acknowledged before the failure.
    expect(report.kinds.at(-1)).toBe('A');
    expect(report.acked.length).toBeGreaterThan(3);
  });

  it('persist: errors with STORE_WRITE_FAILED naming the store and the cause, every event emitted is stored, every other in error.events', async () => {
    const path = join(dir, 'persist');
    const report = await runLimited(path, 'persist');
    expect(report.done).toBe(true);
    expect(report.errors).toHaveLength(1);
    const [failed] = report.errors;
    expect(failed).toMatchObject({ code: 'STORE_WRITE_FAILED', cause: 'STORE_WRITE_FAILED' });
    expect(failed!.message).toMatch(/LevelDB write failed at .*persist; .*IO error: .*File too large/);
    // One error, last; the events acknowledged before it.
    expect(report.kinds.slice(-2)).toEqual(['R', 'E']);
    expect(report.acked.length).toBeGreaterThan(0);
    expect(report.refused.length).toBeGreaterThan(0);

    const { ids, seqs, reports } = await stored(path);
    expect(ids).toEqual(report.acked);
    expect(seqs).toEqual(ids.map((_, i) => i));
    expect(reports).toEqual([]);
    // Nothing lost unsaid: the events were made in order (ids sort by creation); the acknowledged ones
    // and the refused ones are all of them, none twice.
    const all = [...report.acked, ...report.refused];
    expect(all).toHaveLength(report.made);
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual(all);
  });
});
