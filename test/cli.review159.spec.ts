/**
 * Defects of `ingest` (src/cli/commands.ts) found by an adversarial review of the hook log → store path,
 * fixed: each test fails on the code before its fix.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { failureCode } from '../src/cli/stopped.js';
import { openStore } from '../src/index.js';
import { SessionStore } from '../src/store/SessionStore.js';
import { runMain } from './helpers/main.js';
import { collect } from './helpers/store.js';

const S1 = 'f00dfeed-0000-4000-8000-0000000000a1';
let clock = 1_795_165_200_000;
/** One line as `record` writes it: one notification event, with its own time. */
const note = (i: number) =>
  JSON.stringify({
    hook: 'Notification',
    timestamp: clock++,
    output: { session_id: S1, hook_event_name: 'Notification', message: `m${i}` },
  });

let dir: string;
let log: string;
let store: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-review159-'));
  log = join(dir, 'hooks.jsonl');
  store = join(dir, 'store');
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** The stored events' messages, in the order stored. */
async function storedMessages(): Promise<string[]> {
  const opened = await openStore({ path: store });
  try {
    return (await collect(opened.query(S1))).map((event) => String(event.data.message));
  } finally {
    await opened.close();
  }
}

/**
 * Sends `signal` to this process once the store's first write is done but not yet acknowledged to
 * `persist` (on disk, its events not emitted): the test process's own listeners are set aside for that
 * moment, so that the signal reaches the command alone. Returns whether it was sent.
 */
function signalAtFirstWrite(signal: NodeJS.Signals): () => boolean {
  const append = SessionStore.prototype.append;
  const others = process.listeners(signal);
  let signalled = false;
  vi.spyOn(SessionStore.prototype, 'append').mockImplementation(async function (
    this: SessionStore,
    ...args: Parameters<SessionStore['append']>
  ) {
    const positions = await append.apply(this, args);
    if (!signalled) {
      signalled = true;
      for (const listener of others) process.off(signal, listener);
      try {
        process.emit(signal, signal);
      } finally {
        for (const listener of others) process.on(signal, listener);
      }
    }
    return positions;
  });
  return () => signalled;
}

describe('ingest --follow stopped by a signal while a write is in flight', () => {
  // Was: on SIGINT/SIGTERM, `ingest` unsubscribed the whole pipeline. `persist` still writes the batch
  // in flight (and those waiting) but no longer emitted them, so their lines were never committed and their
  // mark never saved: the next `ingest` stored them a second time. Measured with the CLI: 100,000 lines,
  // SIGTERM during the backlog, then `ingest`: 100,464 / 100,465 / 100,943 events stored. Now the signal
  // completes the source (takeUntil before concatMap) rather than unsubscribing, so that persist writes
  // and emits every event received, the lines commit, and the run ends.
  // SIGHUP (its terminal closed) too: not listened to, it killed the run (helper-162).
  it.each(['SIGTERM', 'SIGHUP'] as const)(
    'stores each line once across the stop (%s) and the next run',
    async (signal) => {
      const lines = [0, 1, 2].map(note);
      await writeFile(log, `${lines.join('\n')}\n`);
      const signalled = signalAtFirstWrite(signal);
      const stopped = await runMain(['ingest', '--follow', '--log', log, '--store', store]);
      expect(signalled()).toBe(true);
      expect(stopped.code).toBe(0);
      vi.restoreAllMocks();

      const next = await runMain(['ingest', '--log', log, '--store', store]);
      expect(next.code).toBe(0);
      expect(await storedMessages()).toEqual(['m0', 'm1', 'm2']);
      // The lines stored before the stop are counted by the stop's summary, not by the next run's.
      expect(JSON.parse(await readFile(`${log}.offset`, 'utf8')).offset).toBe((await readFile(log)).length);
    },
  );
});

describe('ingest that cannot save its mark', () => {
  // Was: `ingest` found that it could not write FILE.offset (a folder it cannot write in, a read-only
  // mount, here a folder in the way of FILE.offset.tmp) only at its first save, after the first write to
  // the store: it exited 1, the events of that write stored and their mark not saved. Once the user had
  // fixed the cause, the next `ingest` stored them a second time. The fix (in commands.ts) finds it before
  // the store is written to: it writes FILE.offset.tmp (and removes it) once it has the store's lock.
  it('stores nothing that the run after the failure stores again', async () => {
    await writeFile(log, `${[0, 1, 2].map(note).join('\n')}\n`);
    await mkdir(`${log}.offset.tmp`); // where the mark is written before it replaces the old one
    await expect(runMain(['ingest', '--log', log, '--store', store])).rejects.toMatchObject({
      code: 'EISDIR',
    });
    await rmdir(`${log}.offset.tmp`); // the user removes the cause, and runs it again
    expect((await runMain(['ingest', '--log', log, '--store', store])).code).toBe(0);
    expect(await storedMessages()).toEqual(['m0', 'm1', 'm2']);
  });
});

describe('ingest and rotate stopped by a signal, without --follow', () => {
  /** Lines enough that the reader has not reached the log's end at the first write. */
  const many = Array.from({ length: 3_000 }, (_, i) => i);

  // Exit 128 + the signal's number, as a command a signal stopped: it exited 0, so that `ingest && rm log`
  // lost the lines left, and a shell loop over logs went on after Ctrl+C.
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)(
    'ingest: the lines read are stored and marked, the run says it stopped (%s, exit %i), and the next run stores the rest',
    async (signal, code) => {
      await writeFile(log, `${many.map(note).join('\n')}\n`);
      const signalled = signalAtFirstWrite(signal);
      const stopped = await runMain(['ingest', '--log', log, '--store', store]);
      expect(signalled()).toBe(true);
      expect(stopped.code).toBe(code);
      expect(stopped.stderr).toMatch(
        new RegExp(
          `^ingested \\d+ events? from \\d+ new lines? of .* \\(stopped by ${signal}: the lines after are left for the next run\\)$`,
        ),
      );
      vi.restoreAllMocks();
      expect((await runMain(['ingest', '--log', log, '--store', store])).code).toBe(0);
      expect(await storedMessages()).toEqual(many.map((i) => `m${i}`));
    },
  );

  it('rotate: stopped before the move, moves nothing and says so; the next rotate stores the rest, none twice', async () => {
    await writeFile(log, `${many.map(note).join('\n')}\n`);
    const signalled = signalAtFirstWrite('SIGTERM');
    const stopped = runMain(['rotate', '--log', log, '--store', store, '--settle-ms', '0']);
    await expect(stopped).rejects.toThrow('stopped by SIGTERM before the move: nothing was moved');
    // The exit code bin.ts gives it: 143, as ingest's (it was 1, a failure's).
    expect(failureCode(await stopped.catch((error: unknown) => error))).toBe(143);
    expect(signalled()).toBe(true);
    vi.restoreAllMocks();
    expect(existsSync(`${log}.1`)).toBe(false);
    expect((await runMain(['rotate', '--log', log, '--store', store, '--settle-ms', '0'])).code).toBe(0);
    expect(existsSync(`${log}.1`)).toBe(true);
    expect(await storedMessages()).toEqual(many.map((i) => `m${i}`));
  });
});
