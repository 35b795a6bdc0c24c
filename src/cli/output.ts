/**
 * Internal to the command: standard output for commands that may print a lot (`bridge`, `replay`).
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
