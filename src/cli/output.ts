/**
 * Internal to the command: standard output for commands that may print a lot (`bridge`, `replay`), and a
 * stderr whose reader went away.
 */
import type { Writable } from 'node:stream';

/**
 * Lines to a stream that may be slower than the producer, or closed by its reader (`| head -1`).
 * `write` never throws; `ready` waits while the stream's buffer is full (its backpressure), and says
 * whether the reader is still there: a closed pipe (EPIPE, ECONNRESET) ends the output quietly instead of an
 * unhandled `'error'` event and a stack trace. Any other write error is thrown by `ready`.
 */
export class Output {
  readonly #stream: Writable;

  constructor(stream: Writable) {
    this.#stream = stream;
    // Read from `errored` below; the listener only keeps the 'error' event from being unhandled.
    stream.on('error', () => undefined);
  }

  /** Whether the reader went away. Throws the stream's error if it is not a closed pipe. */
  get gone(): boolean {
    const error = this.#stream.errored as NodeJS.ErrnoException | null;
    if (error !== null) {
      // A pipe whose reader closed: EPIPE, or ECONNRESET when the write reached the pipe as it closed.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') return true;
      throw error;
    }
    return this.#stream.destroyed;
  }

  /** Queues `text` (dropped once the reader is gone). Call `ready` before producing much more. */
  write(text: string): void {
    if (!this.#stream.destroyed) this.#stream.write(text);
  }

  /**
   * Resolves once the stream can take more: at once, or after its `'drain'`. `false` when the reader
   * is gone, and the producer should stop.
   */
  async ready(): Promise<boolean> {
    if (this.gone) return false;
    if (this.#stream.writableNeedDrain) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#stream.off('drain', done);
          this.#stream.off('close', done);
          this.#stream.off('error', done);
          resolve();
        };
        this.#stream.on('drain', done);
        this.#stream.on('close', done);
        this.#stream.on('error', done);
      });
    }
    return !this.gone;
  }
}

let standard: Output | undefined;

/** The process's stdout as an `Output`: one for all the commands a process runs. */
export function standardOutput(): Output {
  standard ??= new Output(process.stdout);
  return standard;
}

/** The listener that keeps stderr's errors from being unhandled (see `ignoreStderrErrors`). */
const ignoreError = () => {};

/**
 * Keeps a stderr whose reader went away (`rotate 2>&1 | head -1`, a pager or a logger that quit, the
 * terminal of an `ingest --follow` closed) from ending the process: its EPIPE was an unhandled `'error'`,
 * which stopped `rotate` at its next line (after the move, say, the moved log's last lines not stored, and
 * no word of it), and `replay` at its note of a `--types` type the session has none of (exit 1, none of the
 * events written to its stdout). What is said is lost, not what is done. `main` calls it for every command.
 */
export function ignoreStderrErrors(): void {
  if (!process.stderr.listeners('error').includes(ignoreError)) process.stderr.on('error', ignoreError);
}
