/**
 * `npm start`: replays the bundled sessions (demo/sessions.jsonl, Claude Code hook payloads) through
 * the hook bridge and prints what came out.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, reduce } from 'rxjs';
import { bridgeHooks, type Event, fromHookFile } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const input = process.argv[2] ?? join(here, 'sessions.jsonl');

interface Summary {
  events: number;
  byType: Map<string, number>;
  sessions: Map<string, { events: number; start: number; end: number }>;
  rejected: Event[];
}

const summary = await lastValueFrom(
  fromHookFile(input).pipe(
    bridgeHooks(),
    reduce<Event, Summary>(
      (acc, event) => {
        acc.events++;
        acc.byType.set(event.type, (acc.byType.get(event.type) ?? 0) + 1);
        if (event.type === 'hook.rejected') acc.rejected.push(event);
        const id = event.sessionId ?? '(no session)';
        const s = acc.sessions.get(id) ?? { events: 0, start: event.timestamp, end: event.timestamp };
        s.events++;
        s.start = Math.min(s.start, event.timestamp);
        s.end = Math.max(s.end, event.timestamp);
        acc.sessions.set(id, s);
        return acc;
      },
      { events: 0, byType: new Map(), sessions: new Map(), rejected: [] },
    ),
  ),
);

const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
console.log(`vibespec-streams demo — ${input}\n`);
console.log(`${summary.events} events from ${summary.sessions.size} sessions\n`);
console.log('Events by type');
for (const [type, count] of [...summary.byType].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${type.padEnd(28)} ${String(count).padStart(5)}`);
}
console.log('\nSessions');
for (const [id, s] of summary.sessions) {
  const span = id === '(no session)' ? '' : ` over ${minutes(s.end - s.start)}`;
  console.log(`  ${id.padEnd(38)} ${String(s.events).padStart(4)} events${span}`);
}
console.log(`\nRejected inputs: ${summary.rejected.length}`);
for (const event of summary.rejected) {
  console.log(`  [${String(event.data.hook)}] ${String(event.data.reason)}`);
}
