import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

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
});
