/**
 * Runs the CLI on a real (pseudo-)terminal, made by util-linux's `script`: what a person at a shell sees
 * and types, where `process.stdin.isTTY` is true.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { until } from './until.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'src/cli/bin.ts');
const TSX = pathToFileURL(createRequire(join(ROOT, 'package.json')).resolve('tsx')).href;

/** Whether `script` can make a terminal here (Linux with util-linux): the tests that need one skip else. */
export const hasTerminal =
  process.platform === 'linux' &&
  (() => {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/**
 * Runs `vibespec-streams ...args` with stdin and stderr on a terminal (stdout too, unless `stdoutTo` names a
 * file it goes to), waits until the terminal shows `waitFor`, types each of `typed`, then Ctrl+D at the
 * start of a line (the end of input), and returns its exit code and all the terminal showed.
 */
export async function onTerminal(
  args: readonly string[],
  { waitFor, typed, stdoutTo }: { waitFor: string; typed: readonly string[]; stdoutTo?: string },
): Promise<{ code: number | null; terminal: string }> {
  const command = [process.execPath, '--import', TSX, CLI, ...args].map(quote).join(' ');
  const child = spawn(
    'script',
    ['-qec', stdoutTo ? `${command} > ${quote(stdoutTo)}` : command, '/dev/null'],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let terminal = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    terminal += chunk;
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  await until(() => terminal.includes(waitFor));
  for (const text of typed) child.stdin.write(text);
  child.stdin.write('\x04');
  const code = await closed;
  child.stdin.destroy();
  return { code, terminal };
}
