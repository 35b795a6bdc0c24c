/**
 * The hooks of `bench/live.ts`, in a child process (`node --import tsx bench/liveWriter.ts`, forked with
 * an IPC channel): a hook is another process than the one tailing the log. It appends lines to a log as
 * `vibespec-streams record` does — one line `{ hook, timestamp, output }` per hook event, the file opened
 * `'a'` (O_APPEND), written in one write, closed — on an open-loop schedule: line `i` is due `i / rate`
 * seconds after the start, and is written then, whatever the reader does.
 *
 * Messages in: `{ type: 'pool', payloads }` (the payloads to cycle, each `{ hook, output }`), then any
 * number of `{ type: 'run', log, rate, seconds }`. Each run answers `{ type: 'done', ... }` (`WriterRun`):
 * each line's write instant (`now()`, just before its open) and its `timestamp` field.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { hookLine, now, type WriterRun } from './live.js';

interface PoolMessage {
  type: 'pool';
  payloads: Array<{ hook: string; output: unknown }>;
}

interface RunMessage {
  type: 'run';
  log: string;
  rate: number;
  seconds: number;
}

let pool: PoolMessage['payloads'] = [];

/** Writes `rate` lines a second for `seconds` to `log`, each when it is due. */
async function run({ log, rate, seconds }: RunMessage): Promise<WriterRun> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const instants: number[] = [];
  const timestamps: number[] = [];
  let maxLateMs = 0;
  const start = now();
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - now();
    // setTimeout's granularity is 1 ms: the lines due within it are written together, as they came.
    if (wait >= 1) await sleep(Math.floor(wait));
    const payload = pool[i % pool.length]!;
    const timestamp = Date.now();
    const line = Buffer.from(hookLine(payload.hook, payload.output, timestamp));
    // What `record` does for a line, as system calls: open O_APPEND, one write, close (synchronous here,
    // so that the schedule is kept; `record` awaits the same calls).
    const instant = now();
    const fd = openSync(log, 'a');
    try {
      writeSync(fd, line, 0, line.length);
    } finally {
      closeSync(fd);
    }
    instants.push(instant);
    timestamps.push(timestamp);
    if (instant - due > maxLateMs) maxLateMs = instant - due;
  }
  return { type: 'done', instants, timestamps, maxLateMs };
}

process.on('message', (message: PoolMessage | RunMessage) => {
  if (message.type === 'pool') {
    pool = message.payloads;
    process.send!({ type: 'ready' });
    return;
  }
  run(message).then(
    (result) => process.send!(result),
    (error: unknown) => process.send!({ type: 'error', message: String((error as Error)?.stack ?? error) }),
  );
});
// The bench process going away ends the writer too.
process.on('disconnect', () => process.exit(0));
