/**
 * The CLI's errors in its own words: the command, the file with its full path, what to do — never a library
 * function's name (`fromJsonLines: cannot read the input: ENOENT…`) nor LevelDB's "Database failed to open".
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failureText } from '../src/cli/main.js';
import { runMain } from './helpers/main.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'src/cli/bin.ts');
const TSX = pathToFileURL(createRequire(join(ROOT, 'package.json')).resolve('tsx')).href;

/** The command run in a child process in `cwd`: its exit code and stderr. */
function cliIn(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // tsx as a path: `--import tsx` is resolved from `cwd`, outside the project.
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

let dir: string;
/** `dir` as a path relative to the current folder, which a message names with its full path after it. */
let here: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-cli-messages-'));
  here = relative(process.cwd(), dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The error `main(argv)` rejects with (it must reject). */
async function failure(argv: string[]): Promise<Error & { code?: string }> {
  const error = await runMain(argv).then(
    () => undefined,
    (thrown: unknown) => thrown as Error,
  );
  expect(error).toBeInstanceOf(Error);
  return error!;
}

const SESSION_START = '{"hook":"SessionStart","timestamp":1,"output":{"session_id":"s1"}}\n';

describe('the CLI says its errors in its own words', () => {
  it('bridge: a file that is not there, or is a folder, with its full path and what to give', async () => {
    const missing = await failure(['bridge', join(here, 'missing.jsonl')]);
    expect(missing.message).toBe(
      `no file at ${join(here, 'missing.jsonl')} (${join(dir, 'missing.jsonl')}): nothing to bridge ` +
        '(give a JSON Lines file of hook payloads, or - for stdin)',
    );
    expect(missing.code).toBe('ENOENT');
    await mkdir(join(dir, 'logs'));
    const folder = await failure(['bridge', join(here, 'logs')]);
    expect(folder.message).toBe(
      `${join(here, 'logs')} (${join(dir, 'logs')}) is a folder: give a JSON Lines file of hook payloads (or - for stdin)`,
    );
  });

  it.each([['ingest'], ['rotate']])(
    '%s: a log that is a folder is said as such, not by fromHookFileMarked',
    async (command) => {
      await mkdir(join(dir, 'hooks.jsonl'));
      const error = await failure([
        command,
        '--log',
        join(here, 'hooks.jsonl'),
        '--store',
        join(dir, 'store'),
      ]);
      expect(error.message).toBe(
        `the log ${join(here, 'hooks.jsonl')} (${join(dir, 'hooks.jsonl')}) is a folder: --log names the file the hooks record to`,
      );
      expect(error.code).toBe('EISDIR');
    },
  );

  it('ingest: a log under a file (a folder of its path is a file) is said as such', async () => {
    await writeFile(join(dir, 'file'), '');
    const log = join(here, 'file', 'hooks.jsonl');
    const error = await failure(['ingest', '--log', log, '--store', join(dir, 'store')]);
    expect(error.message).toBe(
      `no log can be at ${log} (${join(dir, 'file', 'hooks.jsonl')}): a folder on its path is a file ` +
        '(--log names the file the hooks record to)',
    );
  });

  it('ingest: a store that cannot be opened says why (a file at --store; LevelDB’s own reason), not "Database failed to open"', async () => {
    const log = join(dir, 'hooks.jsonl');
    await writeFile(log, SESSION_START);
    await writeFile(join(dir, 'file'), '');
    const file = await failure(['ingest', '--log', log, '--store', join(here, 'file')]);
    expect(file.message).toBe(
      `${join(here, 'file')} (${join(dir, 'file')}) is a file, not a store: --store names the store's folder`,
    );
    // A store whose CURRENT names a manifest that is not there.
    await mkdir(join(dir, 'broken'));
    await writeFile(join(dir, 'broken', 'CURRENT'), 'MANIFEST-000009\n');
    for (const argv of [['ingest', '--log', log], ['sessions']]) {
      const broken = await failure([...argv, '--store', join(here, 'broken')]);
      expect(broken.message).toMatch(
        `cannot open the store at ${join(here, 'broken')} (${join(dir, 'broken')}): IO error: `,
      );
      expect(broken.message).not.toMatch('Database failed to open');
    }
  });

  it('ingest: an offset file it cannot save, or one that is no offset file, with its full path', async () => {
    const log = join(here, 'hooks.jsonl');
    await writeFile(log, SESSION_START);
    await mkdir(`${log}.offset.tmp`);
    const save = await failure(['ingest', '--log', log, '--store', join(dir, 'store')]);
    expect(save.message).toMatch(
      `cannot save the place in the log to ${log}.offset (${join(dir, 'hooks.jsonl.offset')}) ` +
        '(written first to hooks.jsonl.offset.tmp, beside it): EISDIR',
    );
    expect(save.code).toBe('EISDIR');
    await rm(`${log}.offset.tmp`, { recursive: true });
    await writeFile(`${log}.offset`, 'x');
    const bad = await failure(['ingest', '--log', log, '--store', join(dir, 'store')]);
    expect(bad.message).toMatch(`${log}.offset (${join(dir, 'hooks.jsonl.offset')}) is not an offset file`);
  });

  it.each([['context'], ['replay']])(
    '%s: a session not in the store names the store with its full path',
    async (command) => {
      const log = join(dir, 'hooks.jsonl');
      await writeFile(log, SESSION_START);
      const store = join(here, 'store');
      expect((await runMain(['ingest', '--log', log, '--store', store])).code).toBe(0);
      const error = await failure([command, 's9', '--store', store]);
      expect(error.message).toBe(
        `no session "s9" in ${store} (${join(dir, 'store')}) (vibespec-streams sessions --store ${store} lists them)`,
      );
    },
  );

  it('bin says which command failed, wherever its options are', () => {
    const error = new Error('no store at x');
    expect(failureText(['sessions', '--store', 'x'], error)).toBe('vibespec-streams sessions: no store at x');
    expect(failureText(['--store', 'x', 'replay', 's1'], error)).toBe(
      'vibespec-streams replay: no store at x',
    );
    expect(failureText(['--log', 'x', 'rotate'], error)).toBe('vibespec-streams rotate: no store at x');
    expect(failureText([], error)).toBe('vibespec-streams: no store at x');
    expect(failureText(['nosuch'], error)).toBe('vibespec-streams: no store at x');
  });

  it('run from a subfolder of the project, says where the default log and store are (the folder above)', async () => {
    const project = join(dir, 'project');
    await mkdir(join(project, 'src', 'deep'), { recursive: true });
    await mkdir(join(project, '.vibespec'));
    await writeFile(join(project, '.vibespec', 'hooks.jsonl'), SESSION_START);
    expect(
      (
        await runMain([
          'ingest',
          '--log',
          join(project, '.vibespec', 'hooks.jsonl'),
          '--store',
          join(project, '.vibespec', 'event-store'),
        ])
      ).code,
    ).toBe(0);
    const here = join(project, 'src', 'deep');
    const store = join(project, '.vibespec', 'event-store');
    const log = join(project, '.vibespec', 'hooks.jsonl');
    const sessions = await cliIn(here, ['sessions']);
    expect(sessions).toEqual({
      code: 1,
      stderr:
        `vibespec-streams sessions: no store at .vibespec/event-store (${join(here, '.vibespec', 'event-store')}) ` +
        `(ingest a log into it first: vibespec-streams ingest --store .vibespec/event-store); there is one at ${store}: ` +
        `run this from ${project}, or give --store ${store}\n`,
    });
    const ingest = await cliIn(here, ['ingest']);
    expect(ingest.stderr).toBe(
      `vibespec-streams ingest: no log at .vibespec/hooks.jsonl (${join(here, '.vibespec', 'hooks.jsonl')}): nothing to ingest ` +
        `(no hook has recorded there yet, or --log names another file); there is one at ${log}: run this from ${project}, ` +
        `or give --log ${log}\n`,
    );
    // A folder above with a .vibespec/event-store that is no store (no CURRENT) is not named.
    const other = await cliIn(here, ['sessions', '--store', '.vibespec']);
    expect(other.stderr).not.toContain('there is one');
  });
});
