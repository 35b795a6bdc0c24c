/**
 * Child process for the full-disk test: run under a file-size limit (`ulimit -S -f`, SIGXFSZ ignored),
 * so that LevelDB's log write fails with EFBIG once the log reaches it, as on a full disk. Run with
 * `node --import tsx fullDisk.ts <path> <mode>`; it reports on stdout, one line each:
 * - `A <ids>`: events acknowledged (an append resolved, or emitted by `persist`);
 * - `R <ids>`: events refused (an append rejected, or the events of `persist`'s error);
 * - `E <code> <cause code> <message>`: an error (the first of each kind of refusal);
 * - `N <count>`: how many events it made (each given to `append` or `persist` once);
 * - `done`.
 *
 * Modes:
 * - `append`: appends of 3 events until one fails; then the disk has room again (the child lifts its own
 *   soft limit with `prlimit`), and it appends 4 more times, tries a deleteSession (of another session), closes the store,
 *   opens it again and appends once more;
 * - `persist`: a `persist` pipeline fed bursts of events until it errors.
 */
import { execFileSync } from 'node:child_process';
import { Subject } from 'rxjs';
import { createEvent, type Event } from '../../../src/event.js';
import { persist } from '../../../src/store/persist.js';
import { openStore } from '../../../src/store/SessionStore.js';

const [path, mode] = process.argv.slice(2) as [string, 'append' | 'persist'];
const padding = 'x'.repeat(3000);
let made = 0;
const events = (count: number): Event[] =>
  Array.from({ length: count }, () =>
    createEvent({ type: 't', sessionId: 's', data: { n: made++, padding } }),
  );
const ids = (list: readonly Event[]) => list.map((event) => event.id).join(',');
const seen = new Set<string>();
const report = (error: unknown) => {
  const { code, message, cause } = error as { code?: string; message: string; cause?: { code?: string } };
  const kind = message.split(' at ')[0]!;
  if (seen.has(kind)) return;
  seen.add(kind);
  console.log(`E ${code} ${cause?.code} ${message}`);
};

let store = await openStore({ path });
if (mode === 'append') {
  const append = async () => {
    const batch = events(3);
    try {
      await store.append(batch);
      console.log(`A ${ids(batch)}`);
      return true;
    } catch (error) {
      console.log(`R ${ids(batch)}`);
      report(error);
      return false;
    }
  };
  while (await append()) {}
  // The disk has room again.
  execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=unlimited:']);
  for (let i = 0; i < 4; i++) await append();
  await store.deleteSession('other').catch(report);
  await store.close();
  store = await openStore({ path });
  await append();
} else {
  const source = new Subject<Event>();
  await new Promise<void>((resolve) => {
    source.pipe(persist(store, { maxBatch: 4 })).subscribe({
      next: (event) => console.log(`A ${event.id}`),
      error: (error: { events: Event[] }) => {
        console.log(`R ${ids(error.events)}`);
        report(error);
        resolve();
      },
    });
    const feed = () => {
      if (source.observed === false) return;
      for (const event of events(7)) source.next(event);
      setImmediate(feed);
    };
    feed();
  });
}
await store.close();
console.log(`N ${made}`);
console.log('done');
