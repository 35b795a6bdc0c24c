/**
 * Runs a TypeScript file of test/store/child/ (or at an absolute path) in a child process
 * (`node --import tsx`) and reads its stdout line by line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Child {
  process: ChildProcess;
  /** Complete lines received so far. */
  lines: string[];
  stderr: () => string;
  /** Resolves when a line matching `test` has arrived. */
  waitFor(test: (line: string) => boolean): Promise<void>;
  /** Resolves with the exit code or signal once the process has exited and stdout is drained. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runChild(file: string, args: string[]): Child {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', isAbsolute(file) ? file : join(ROOT, 'test/store/child', file), ...args],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const waiters: Array<{ test: (line: string) => boolean; resolve: () => void }> = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' fires after stdout is drained: every line the child wrote is in `lines`.
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    process: child,
    lines,
    stderr: () => stderr,
    waitFor: (test) =>
      new Promise<void>((resolve, reject) => {
        if (lines.some(test)) return resolve();
        waiters.push({ test, resolve });
        void exited.then(({ code, signal }) =>
          reject(new Error(`child exited (${code ?? signal}) before the expected line; stderr: ${stderr}`)),
        );
      }),
    exited,
  };
}
