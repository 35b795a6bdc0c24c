#!/usr/bin/env node
/** The `vibespec-streams` executable: runs `main` (main.ts) on the command line and exits with its code. */
import { failureText, main } from './main.js';
import { failureCode } from './stopped.js';

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(failureText(argv, error));
    // 1, or 128 + the signal's number for a command a signal stopped part-way (see `StoppedError`).
    process.exitCode = failureCode(error);
  },
);
