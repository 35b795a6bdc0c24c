import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';
import { collect, ev } from './helpers/store.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/** `npm start` runs demo/main.ts; this runs the same file, on a temporary store, twice. */
describe('the demo (npm start)', () => {
  it('persists the bundled sessions and prints their context, windows and activities, the same each run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vibespec-demo-'));
    try {
      const args = [
        '--import',
        'tsx',
        join(ROOT, 'demo/main.ts'),
        join(ROOT, 'demo/sessions.jsonl'),
        join(dir, 'store'),
      ];
      const first = await run(process.execPath, args, { cwd: ROOT });
      const second = await run(process.execPath, args, { cwd: ROOT });
      for (const { stdout } of [first, second]) {
        expect(stdout).toContain('302 events from 4 sessions persisted');
        expect(stdout).toContain('Rejected inputs: 3');
        expect(stdout).toContain('Session 3b9e1c4a-7d2f-4e6b-9a1c-5f8e2d7b0c13: 71 events');
        expect(stdout).toMatch(/activity: +feature-development/);
        expect(stdout).toMatch(/activity: +bug-fix \(confidence 0\.9\d\)/);
        expect(stdout).toContain('tool.used.aggregated');
      }
      // Running it again replaces the demo's sessions instead of storing them twice.
      expect(second.stdout.replace(/avg .*|p95 .*/g, '')).toBe(first.stdout.replace(/avg .*|p95 .*/g, ''));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('on your own log, shows its sessions only, not the others the store holds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vibespec-demo-'));
    try {
      const store = join(dir, 'store');
      const demo = (log: string) =>
        run(process.execPath, ['--import', 'tsx', join(ROOT, 'demo/main.ts'), log, store], { cwd: ROOT });
      await demo(join(ROOT, 'demo/sessions.jsonl'));
      const { stdout } = await demo(join(ROOT, 'test/fixtures/claude-code-hooks.jsonl'));
      const persisted = /(\d+) events from (\d+) sessions persisted/.exec(stdout);
      expect(persisted).not.toBeNull();
      const shown = [...stdout.matchAll(/^Session (\S+): (\d+) events/gm)];
      expect(shown.length).toBe(Number(persisted![2]));
      expect(shown.reduce((sum, match) => sum + Number(match[2]), 0)).toBe(Number(persisted![1]));
      expect(stdout).not.toContain('3b9e1c4a-7d2f-4e6b-9a1c-5f8e2d7b0c13');
      // The flow metrics count this log's events only.
      const metrics = stdout.slice(stdout.indexOf('Flow metrics'));
      const toolUsed = /^ {2}tool\.used +(\d+)/m.exec(stdout.slice(0, stdout.indexOf('Rejected')));
      expect(metrics).toMatch(new RegExp(`^ {2}tool\\.used +${toolUsed![1]} `, 'm'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without a store path, leaves the store ingest writes to (.vibespec/event-store) as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vibespec-demo-'));
    try {
      // What `vibespec-streams ingest` stored of a session from a log rotated since: the demo, run on the
      // current log (or the bundled one, which has a session of the same id), must not delete it.
      const ingested = join(dir, '.vibespec/event-store');
      await mkdir(ingested, { recursive: true });
      const session = '3b9e1c4a-7d2f-4e6b-9a1c-5f8e2d7b0c13';
      let store = await openStore({ path: ingested });
      await store.append([ev('tool.used', 1000, session, { from: 'a rotated log' })]);
      await store.close();
      const loader = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
      const { stdout } = await run(process.execPath, ['--import', loader, join(ROOT, 'demo/main.ts')], {
        cwd: dir,
      });
      expect(stdout).toContain('302 events from 4 sessions persisted');
      store = await openStore({ path: ingested });
      try {
        const events = (await collect(store.entries(session))).map((entry) => entry.event);
        expect(events.map((event) => event.data)).toEqual([{ from: 'a rotated log' }]);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
