/**
 * A command stopped part-way by a signal fails as a command a signal stopped does: it says why, as any
 * failure, and exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP), as
 * `ingest` and `record` return, so that a script tells it from a failure (exit 1) and a shell loop stops at
 * Ctrl+C.
 */
import { constants as osConstants } from 'node:os';

/** The error of a command that a signal stopped before its end (`rotate`): `bin.ts` exits with `exitCode`. */
export class StoppedError extends Error {
  override readonly name = 'StoppedError';
  /** 128 + the signal's number. */
  readonly exitCode: number;

  constructor(
    message: string,
    readonly signal: NodeJS.Signals,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.exitCode = signalExitCode(signal);
  }
}

/** 128 + the number of `signal`: the exit code of a command it stopped. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + osConstants.signals[signal];
}

/** The exit code of a command that threw `error`: a `StoppedError`'s, else 1. */
export function failureCode(error: unknown): number {
  return error instanceof StoppedError ? error.exitCode : 1;
}
