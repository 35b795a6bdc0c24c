#!/usr/bin/env node
/** The `vibespec-streams` executable: runs `main` (main.ts) on the command line and exits with its code. */
import { textOf } from '../errors.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`vibespec-streams: ${textOf(error)}`);
    process.exitCode = 1;
  },
);
