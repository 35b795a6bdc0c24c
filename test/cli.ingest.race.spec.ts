/**
 * Two `ingest` runs that overlap (a timer's and a hand-run one, say): the store lets one have it at a time,
 * and the one that gets it second must resume where the first left the log, not where the log was when it
 * started. `openStore` is held here for the second run, so that the first runs whole in between.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { collect } from './helpers/store.js';

const held = vi.hoisted(() => ({ gate: undefined as Promise<void> | undefined, reached: () => {} }));

vi.mock('../src/store/SessionStore.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/store/SessionStore.js')>();
  return {
    ...actual,
    openStore: async (...args: Parameters<typeof actual.openStore>) => {
      const gate = held.gate;
      if (gate !== undefined) {
        held.gate = undefined;
        held.reached();
        await gate;
      }
      return actual.openStore(...args);
    },
  };
});

const { ingest } = await import('../src/cli/commands.js');
const { openStore } = await import('../src/store/SessionStore.js');

const SESSION = 'f00dfeed-0000-4000-8000-0000000000c3';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-ingest-race-'));
});
afterEach(async () => {
  held.gate = undefined;
  await rm(dir, { recursive: true, force: true });
});

it('an ingest that waited for the store resumes where the run that had it left the log: nothing stored twice', async () => {
  const log = join(dir, 'hooks.jsonl');
  const storePath = join(dir, 'store');
  const lines = [1, 2, 3].map((i) =>
    JSON.stringify({
      hook: 'Notification',
      timestamp: 1_795_165_200_000 + i,
      output: { session_id: SESSION, hook_event_name: 'Notification', message: `m${i}` },
    }),
  );
  await writeFile(log, `${lines.join('\n')}\n`);
  const said = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    let release!: () => void;
    held.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reached = new Promise<void>((resolve) => {
      held.reached = resolve;
    });
    // The second run: it has looked at the log and its offset file, and waits for the store.
    const second = ingest(log, storePath, false, 'process');
    await reached;
    // The first run has the store meanwhile, and ingests every line.
    expect(await ingest(log, storePath, false, 'process')).toBe(0);
    const saved = JSON.parse(await readFile(`${log}.offset`, 'utf8')) as { offset: number };
    expect(saved.offset).toBe((await readFile(log)).length);
    release();
    expect(await second).toBe(0);
    expect(said.mock.calls.map(([text]) => String(text))).toEqual([
      `ingested 3 events from 3 new lines of ${log}`,
      `ingested 0 events from 0 new lines of ${log}`,
    ]);
  } finally {
    said.mockRestore();
  }
  const store = await openStore({ path: storePath });
  try {
    const events = await collect(store.query(SESSION));
    expect(events.map((event) => (event.data as { message?: string }).message)).toEqual(['m1', 'm2', 'm3']);
  } finally {
    await store.close();
  }
});
