/**
 * Child process for the crash test of the store's own operations (no `persist`): calls `append`,
 * `startSession` and `deleteSession` directly, in a loop, until it is killed. Run with
 * `node --import tsx crashOps.ts <path> <mode> <durability> <trial>`. Prints `open` once the store is open.
 *
 * Modes: `big` (appends of 25,000 events, beyond one merged batch), `small` (hundreds of single-event
 * appends called at once), `urgent` (urgent and normal appends called together), `delete` (a session
 * deleted while appends to it and to others are queued), `start` (new sessions with metadata, then
 * appends to them).
 *
 * It reports on stdout, made blocking, so a line written before SIGKILL arrives:
 * - `P <sessionIds> <ids>` before each append call, with its sessions and its events' ids (one call: all
 *   or nothing);
 * - `A <ids>` once that call resolved;
 * - `S <sessionId> <meta>` before a startSession, `SA <sessionId>` once it resolved;
 * - `D <sessionId>` before a deleteSession, `DA <sessionId>` once it resolved.
 */
import { createEvent, type Event } from '../../../src/event.js';
import { type Durability, openStore } from '../../../src/store/SessionStore.js';

const stdoutHandle = (
  process.stdout as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } }
)._handle;
if (typeof stdoutHandle?.setBlocking !== 'function' || stdoutHandle.setBlocking(true) !== 0) {
  throw new Error('crashOps: cannot make stdout blocking');
}
const say = (line: string) => process.stdout.write(`${line}\n`);

const [path, mode, durability, trialText] = process.argv.slice(2) as [string, string, Durability, string];
const trial = Number(trialText);
const store = await openStore({ path, durability });
say('open');

const types = ['tool.used', 'file.modified', 'git.commit'];
let n = 0;
const event = (sessionId: string): Event =>
  createEvent({
    type: types[n % types.length]!,
    timestamp: 1_795_165_200_000 + trial * 10_000_000 + n++,
    sessionId,
    data: { trial, n, file_path: `/src/f${n % 7}.ts` },
  });

function append(events: Event[], urgent = false): Promise<void> {
  const ids = events.map((e) => e.id).join(',');
  say(`P ${[...new Set(events.map((e) => e.sessionId))].join(',')} ${ids}`);
  return store.append(events, urgent ? { urgent } : undefined).then(() => {
    say(`A ${ids}`);
  });
}

function startSession(sessionId: string, meta: Record<string, unknown>): Promise<void> {
  say(`S ${sessionId} ${JSON.stringify(meta)}`);
  return store.startSession(sessionId, meta).then(() => {
    say(`SA ${sessionId}`);
  });
}

function deleteSession(sessionId: string): Promise<void> {
  say(`D ${sessionId}`);
  return store.deleteSession(sessionId).then(() => {
    say(`DA ${sessionId}`);
  });
}

const many = (count: number, sessionId: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => event(sessionId(i)));

for (let round = 0; ; round++) {
  const calls: Array<Promise<void>> = [];
  switch (mode) {
    case 'big':
      calls.push(append(many(25_000, (i) => `big-${i % 2}`)));
      calls.push(append(many(3, () => 'big-0')));
      break;
    case 'small':
      for (let i = 0; i < 500; i++) calls.push(append([event(`small-${i % 4}`)]));
      break;
    case 'urgent':
      for (let i = 0; i < 300; i++) {
        calls.push(
          append(
            many(1 + (i % 5), () => `urgent-${i % 2}`),
            i % 7 === 3,
          ),
        );
      }
      break;
    case 'delete': {
      // A session with enough events for the delete's range clears to take a while.
      const victim = `victim-${trial}-${round}`;
      await append(many(20_000, () => victim));
      calls.push(deleteSession(victim));
      calls.push(append(many(10, () => victim)));
      calls.push(append(many(10, (i) => `bystander-${i % 2}`)));
      break;
    }
    case 'start':
      for (let i = 0; i < 50; i++) {
        const id = `started-${trial}-${round}-${i}`;
        calls.push(startSession(id, { round, i }));
        if (i % 2 === 0) calls.push(append(many(20, () => id)));
      }
      break;
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  await Promise.all(calls);
}
