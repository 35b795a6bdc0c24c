/**
 * A dashboard feed: one process tails a Claude Code hook log into the store (LevelDB allows one process
 * per store) and serves each session's events as Server-Sent Events, resumable with no gap and no
 * duplicate: the SSE `id` is the event's seq, and a reconnecting browser sends it back as
 * `Last-Event-ID`, from which `tail` catches up.
 *
 * The log is read from its start at each start, so the store is the example's own and is rebuilt from
 * the log then: the log's events get the same seqs again, and a browser that reconnects to a restarted
 * feed resumes where it was (as long as the log was only appended to meanwhile) instead of being sent
 * a second copy of the log.
 *
 * Run: npx tsx examples/sse-dashboard.ts path/to/hooks.jsonl   (PORT=8080 … for another port)
 * Then: curl -N localhost:8787/sessions/<session id>/events   (or `new EventSource(...)` in a browser)
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromEvent, takeUntil } from 'rxjs';
import { eachValueFrom } from 'rxjs-for-await';
import { bridgeHooks, fromHookFile, openStore, persist, tail } from '../src/index.js';

// Not .vibespec/event-store, which `vibespec-streams ingest` may hold: this store is rebuilt from the log.
const store = await openStore({ path: '.vibespec/sse-store' });
for (const { sessionId } of await store.sessions()) await store.deleteSession(sessionId);

// Ingest: payloads → events → the store. Nothing is derived here; the feed reads the store.
fromHookFile(process.argv[2] ?? 'hooks.jsonl', { follow: true })
  .pipe(bridgeHooks(), persist(store))
  .subscribe({ error: (error: unknown) => console.error('ingest stopped:', error) });

const server = createServer(async (request, response) => {
  const match = /^\/sessions\/([^/]+)\/events$/.exec(request.url ?? '');
  if (match === null) {
    response.writeHead(404).end();
    return;
  }
  // A reconnecting EventSource sends the last id it saw; anything else starts from the first event.
  // Digits only: Number() reads an empty header as 0 (seq 0 would be skipped) and '1e3' as 1000.
  const header = request.headers['last-event-id'];
  const lastSeen = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : Number.NaN;
  const fromSeq = Number.isSafeInteger(lastSeen) ? lastSeen + 1 : 0;
  let sessionId: string;
  try {
    sessionId = decodeURIComponent(match[1]!);
  } catch {
    response.writeHead(400).end();
    return;
  }
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  // `for await` over the catch-up subscription, until the client goes away (the response closes: that
  // completes the Observable, which ends the loop and unsubscribes). The socket's buffer is respected
  // (`drain`); events that arrive meanwhile wait in eachValueFrom's queue — they are on disk already, so
  // a slow client costs memory, never an event.
  const gone = fromEvent(response, 'close');
  const events$ = tail(store, sessionId, { fromSeq }).pipe(takeUntil(gone));
  for await (const { seq, event } of eachValueFrom(events$)) {
    if (!response.write(`id: ${seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)) {
      await Promise.race([once(response, 'drain'), once(response, 'close')]);
    }
  }
  response.end();
});
server.listen(Number(process.env.PORT ?? 8787), () => {
  const { port } = server.address() as AddressInfo;
  console.log(`SSE feed on http://localhost:${port}/sessions/<id>/events`);
});
