/**
 * `npm start`: the recommended composition on the bundled sessions (demo/sessions.jsonl, Claude Code
 * hook payloads for a feature being built, a bug being fixed and an exploration):
 *
 *   hook payloads → bridgeHooks → persist (LevelDB, .vibespec/demo-store)        write-ahead
 *   each stored session → replay → measure → correlate → temporalAggregate       derived
 *
 * and prints what came out: events by type, rejected inputs, each session's context, its windows and
 * activities, the reconstructed file state, and the pipeline's flow metrics.
 *
 * `npm start -- path/to/hooks.jsonl [store-path]` runs it on your own log: it shows that log's sessions
 * only, and replaces them in the store (use a store of its own, not the one `ingest` writes to). The
 * default store is the demo's own, `.vibespec/demo-store`: not `ingest`'s `.vibespec/event-store`, whose
 * sessions (and events of logs rotated since) the demo would replace with the log's.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  bridgeHooks,
  correlate,
  DEFAULT_SESSION,
  type Event,
  EventFlowMetrics,
  fileState,
  fromHookFile,
  isAggregated,
  measure,
  openStore,
  persist,
  reconstruct,
  replay,
  temporalAggregate,
} from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const input = process.argv[2] ?? join(here, 'sessions.jsonl');
// Its own store: replacing the log's sessions in `ingest`'s (.vibespec/event-store) would lose what that
// holds of them and the log no longer does (a log rotated since).
const storePath = process.argv[3] ?? '.vibespec/demo-store';

const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
const count = <T>(items: Iterable<T>, key: (item: T) => string) => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
};
const short = (path: string) => path.split(/[\\/]/).slice(-2).join('/');

const store = await openStore({ path: storePath });
try {
  // 1. Write-ahead: every bridged event is on disk before anything derives from it. The demo's own
  //    sessions are cleared first so that running it twice does not store them twice.
  const bridged = await lastValueFrom(fromHookFile(input).pipe(bridgeHooks(), toArray()));
  const sessionIds = [...new Set(bridged.map((event) => event.sessionId ?? DEFAULT_SESSION))];
  for (const id of sessionIds) await store.deleteSession(id);
  const persisted = await lastValueFrom(from(bridged).pipe(persist(store), toArray()));

  console.log(`vibespec-streams demo — ${input}\n`);
  console.log(`${persisted.length} events from ${sessionIds.length} sessions persisted to ${store.path}\n`);
  console.log('Events by type');
  for (const [type, n] of count(persisted, (e) => e.type))
    console.log(`  ${type.padEnd(28)} ${String(n).padStart(5)}`);
  const rejected = persisted.filter((e) => e.type === 'hook.rejected');
  console.log(
    `\nRejected inputs: ${rejected.length} (stored too, in session "${DEFAULT_SESSION}" when they have none)`,
  );
  for (const event of rejected) console.log(`  [${String(event.data.hook)}] ${String(event.data.reason)}`);

  // 2. Derive, per session of this log (a store given on the command line may hold others: they are
  //    neither shown nor measured): the same operators a live dashboard would run, on a replay.
  const metrics = new EventFlowMetrics();
  const ofThisLog = new Set(sessionIds);
  for (const { sessionId } of await store.sessions()) {
    if (!ofThisLog.has(sessionId)) continue;
    const context = await store.sessionContext(sessionId);
    const derived: Event[] = await lastValueFrom(
      replay(store, sessionId).pipe(
        // measure first: it times, per stored event, what the operators after it do with it.
        measure(metrics),
        // correlate first: it reads the raw file and tool events (and passes them on), which
        // temporalAggregate then folds into windows; activities pass through the windows untouched.
        correlate(),
        // Without the idle rule: a replay's pauses between reads are no quiet (docs/temporalAggregate.md).
        temporalAggregate({ idleFlushMs: Number.POSITIVE_INFINITY }),
        toArray(),
      ),
    );
    const span = context.timeSpan ? ` over ${minutes(context.timeSpan.end - context.timeSpan.start)}` : '';
    console.log(`\nSession ${sessionId}: ${context.eventCount} events${span}`);
    console.log(`  files modified:  ${context.filesModified.map(short).join(', ') || '-'}`);
    console.log(`  agents used:     ${context.agentsUsed.join(', ') || '-'}`);

    const windows = derived.filter(isAggregated);
    if (windows.length > 0) {
      const summary = count(windows, (e) => e.type)
        .map(([type, n]) => `${n} × ${type}`)
        .join(', ');
      const largest = windows.reduce((a, b) => (b.data.event_count > a.data.event_count ? b : a));
      console.log(
        `  windows:         ${summary}; largest holds ${largest.data.event_count} ${largest.data.source_type} events`,
      );
    }
    for (const activity of derived.filter((e) => e.type === 'activity.detected')) {
      const data = activity.data as { activity_type: string; confidence: number; files_affected: string[] };
      console.log(
        `  activity:        ${data.activity_type} (confidence ${data.confidence.toFixed(2)}) on ${data.files_affected.map(short).join(', ') || 'no files'}`,
      );
    }
    const files = await reconstruct(store, sessionId, fileState);
    const touched = Object.entries(files.files)
      .sort((a, b) => b[1].changeCount - a[1].changeCount)
      .slice(0, 3)
      .map(([path, state]) => `${short(path)} ×${state.changeCount} (${state.lastAction})`);
    if (touched.length > 0) console.log(`  file state:      ${touched.join(', ')}`);
  }

  console.log('\nFlow metrics (correlate → temporalAggregate, per stored event type, top 5 by count)');
  const summary = Object.entries(metrics.summary()).sort((a, b) => b[1].count - a[1].count);
  for (const [type, s] of summary.slice(0, 5)) {
    console.log(
      `  ${type.padEnd(28)} ${String(s.count).padStart(5)}  avg ${s.avg_processing_time_ms.toFixed(3)} ms  p95 ${s.p95_processing_time_ms.toFixed(3)} ms`,
    );
  }
} finally {
  await store.close();
}
