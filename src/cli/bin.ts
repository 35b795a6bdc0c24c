#!/usr/bin/env node
/** The `vibespec-streams` executable: runs `main` (main.ts) on the command line and exits with its code. */
import { failureText, main } from './main.js';

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(failureText(argv, error));
    process.exitCode = 1;
  },
);
