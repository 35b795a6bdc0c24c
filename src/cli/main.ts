#!/usr/bin/env node
/**
 * The `vibespec-streams` command.
 *
 *   vibespec-streams bridge [file]   JSON Lines of hook payloads (file or stdin) → JSON Lines of events
 */
import { createReadStream } from 'node:fs';
import { lastValueFrom, tap } from 'rxjs';
import { eventToJSON } from '../event.js';
import { bridgeHooks } from '../streams/bridge.js';
import { fromJsonLines } from '../streams/fromJsonLines.js';

const USAGE = `usage: vibespec-streams <command>

  bridge [file]   read JSON Lines of hook payloads from file (or stdin) and print one event per line
  help            show this text`;

async function bridge(args: string[]): Promise<number> {
  const input = args[0] === undefined || args[0] === '-' ? process.stdin : createReadStream(args[0]);
  await lastValueFrom(
    fromJsonLines(input).pipe(
      bridgeHooks(),
      tap((event) => process.stdout.write(`${eventToJSON(event)}\n`)),
    ),
    { defaultValue: undefined },
  );
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'bridge':
      return bridge(args);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`vibespec-streams: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`vibespec-streams: ${(error as Error).message}`);
    process.exitCode = 1;
  },
);
