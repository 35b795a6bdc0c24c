import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The 133 Claude Code hook payloads (a copy of `shared/fixtures`; see its README beside it). */
export const FIXTURES_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '../fixtures/claude-code-hooks.jsonl',
);

export interface FixtureLine {
  source: string;
  hook_event_name: string;
  payload: Record<string, unknown>;
}

export function loadFixtures(): FixtureLine[] {
  return readFileSync(FIXTURES_PATH, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as FixtureLine);
}
