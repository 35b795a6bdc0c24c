/**
 * Runs the CLI's `main(argv)` in the test's process, where Stryker sees the code it runs (it cannot see
 * a child process's).
 */
import { Readable } from 'node:stream';
import { vi } from 'vitest';

export interface MainRun {
  code: number;
  stdout: string;
  /** What it wrote with `console.error`, one call a line. */
  stderr: string;
}

/**
 * Runs `main(argv)`: its exit code and what it wrote on stdout and stderr. With `stdin`, those chunks are
 * its standard input (`process.stdin` is replaced for the run, then put back), read as a pipe's: Buffers.
 * `main.ts` is imported at the first call, not before (importing it must run nothing: see cli.spec.ts).
 */
export async function runMain(argv: string[], stdin?: Iterable<string | Uint8Array>): Promise<MainRun> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  const realStdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;
  if (stdin !== undefined) {
    const chunks = [...stdin].map((chunk) => Buffer.from(chunk));
    Object.defineProperty(process, 'stdin', { value: Readable.from(chunks), configurable: true });
  }
  try {
    const { main } = await import('../../src/cli/main.js');
    const code = await main(argv);
    return {
      code,
      stdout: out.mock.calls.map(([text]) => String(text)).join(''),
      stderr: err.mock.calls.map(([text]) => String(text)).join('\n'),
    };
  } finally {
    if (stdin !== undefined) Object.defineProperty(process, 'stdin', realStdin);
    out.mockRestore();
    err.mockRestore();
  }
}
