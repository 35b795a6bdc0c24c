/**
 * Child process for the crash test: persists a stream of events through `persist` until it is killed.
 * Run with `node --import tsx crashWriter.ts <path> <trial> <durability>`. It loads, prints `loaded`,
 * and waits for a line on stdin before it opens the store (so the parent can start the next child while
 * it still checks the database).
 *
 * It reports on stdout, made blocking below, so a line written before SIGKILL arrives:
 * - `B <ids>` before each write, with the ids of that write's batch (its composition);
 * - `A <ids>` after events are acknowledged (emitted by `persist`).
 */
import { once } from 'node:events';
import { Subject } from 'rxjs';
// Direct imports (not the package index) keep the start-up of each child short.
import { createEvent, type Event, Priority } from '../../../src/event.js';
import { type EventWriter, persist } from '../../../src/store/persist.js';
import { type Durability, openStore } from '../../../src/store/SessionStore.js';

// A child's stdout is a socket pair (libuv), not a pipe: Node writes to it asynchronously and queues in
// memory what the socket does not take at once (the parent did not read for a few ms: a loaded machine).
// A line still queued at SIGKILL is lost, and a `B` line lost so leaves its batch on disk but unreported.
// Blocking writes put each line in the socket, where the parent reads it even after the child is gone.
const stdoutHandle = (
  process.stdout as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } }
)._handle;
if (typeof stdoutHandle?.setBlocking !== 'function' || stdoutHandle.setBlocking(true) !== 0) {
  throw new Error('crashWriter: cannot make stdout blocking');
}

const [path, trialText, durability] = process.argv.slice(2) as [string, string, Durability];
const trial = Number(trialText);
process.stdout.write('loaded\n');
await once(process.stdin, 'data');
const store = await openStore({ path, durability });
process.stdout.write('open\n');

const writer: EventWriter = {
  append(events, options) {
    process.stdout.write(`B ${events.map((e) => e.id).join(',')}\n`);
    return store.append(events, options);
  },
};

let acked: string[] = [];
const flushAcks = () => {
  if (acked.length === 0) return;
  process.stdout.write(`A ${acked.join(',')}\n`);
  acked = [];
};

const source = new Subject<Event>();
source.pipe(persist(writer, { maxBatch: 1 + ((trial * 37) % 300), maxDelayMs: trial % 3 })).subscribe({
  next: (event) => {
    if (acked.length === 0) queueMicrotask(flushAcks);
    acked.push(event.id);
  },
  error: (error) => {
    process.stderr.write(`persist failed: ${String(error)}\n`);
    process.exit(1);
  },
});

const types = ['tool.used', 'file.modified', 'file.created', 'agent.completed', 'git.commit'];
let n = 0;
const produce = () => {
  // A burst of 1..32 events per timer tick (about 16 events/ms), over three sessions.
  const burst = 1 + Math.floor(Math.random() * 32);
  for (let i = 0; i < burst; i++, n++) {
    // About one event in 20 is CRITICAL: persist writes it at once, beside the NORMAL batch in flight.
    const critical = n % 20 === 13;
    source.next(
      createEvent({
        type: critical ? 'workflow.failed' : types[n % types.length]!,
        ...(critical ? { priority: Priority.CRITICAL } : {}),
        timestamp: 1_795_165_200_000 + trial * 1_000_000 + n,
        sessionId: `crash-${n % 3}`,
        data: { trial, n, file_path: `/src/f${n % 17}.ts`, agent: 'tester' },
      }),
    );
  }
  setTimeout(produce, 0);
};
produce();
