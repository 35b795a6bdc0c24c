/**
 * The README's example: tail a Claude Code hook log, persist every event before deriving anything
 * from it, detect activities, fold busy event types into windows, and report flow metrics. A restart
 * resumes after the last line stored: no line is stored twice, none is skipped.
 * Run: npx tsx examples/live-dashboard.ts path/to/hooks.jsonl
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { concatMap, filter, of, Subject, takeUntil, tap, toArray } from 'rxjs';
import {
  bridgeHooks,
  correlate,
  type Event,
  EventFlowMetrics,
  fromHookFileMarked,
  type HookFileMark,
  measure,
  openStore,
  persist,
  temporalAggregate,
} from '../src/index.js';

const log = process.argv[2] ?? 'hooks.jsonl';
const markFile = `${log}.mark`; // the mark of the last line whose events are all stored
const store = await openStore(); // embedded LevelDB at .vibespec/event-store
const metrics = new EventFlowMetrics();

const bridge = bridgeHooks(); // payloads → typed events; bad input → hook.rejected, never an error
/** The last event of each line, with the line's mark: once it is stored, the whole line is. */
const lineEnds = new WeakMap<Event, HookFileMark>();
const resumeFrom = await readFile(markFile, 'utf8').then(
  (text) => JSON.parse(text) as HookFileMark,
  () => undefined, // no mark yet: from the start
);

// Ctrl+C, SIGTERM or SIGHUP (its terminal closed) ends the reading, not the process: what was read is
// stored and its mark saved (then the windows are flushed and the store closed). Unsubscribed, persist
// would write it without saying so, and the next start would store it again. The same signal again kills
// the process.
const stop$ = new Subject<void>();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stop$.next());

const events$ = fromHookFileMarked(log, { follow: true, resumeFrom }).pipe(
  takeUntil(stop$),
  concatMap(({ output, mark }) =>
    of(output).pipe(
      bridge,
      toArray(),
      concatMap((events) => {
        lineEnds.set(events[events.length - 1]!, mark); // a line always has events (a bad one: hook.rejected)
        return events;
      }),
    ),
  ),
  // Write-ahead: an event goes on only once it is on disk. Without the priority lane, in order: when a
  // line's last event goes on, every line up to it is stored.
  persist(store, { maxBatch: 512, priorityLane: false }),
  tap((event) => {
    const mark = lineEnds.get(event);
    if (mark !== undefined) saveMark(mark);
  }),
  measure(metrics), // times everything below, per event type
  correlate(), // passes events on, adds activity.detected (feature-development, bug-fix)
  temporalAggregate(), // file.modified / tool.used / performance.metric → *.aggregated windows
);

events$.pipe(filter((e) => e.type === 'activity.detected')).subscribe({
  next: (e) => console.log(e.data),
  complete: () => void store.close(),
});
metrics
  .summary$(5_000)
  .pipe(takeUntil(stop$))
  .subscribe((summary) => console.table(summary));

/** Saves the latest mark, whole (a new file renamed over the old one), one write at a time. */
let latest: HookFileMark | undefined;
let saving = false;
function saveMark(mark: HookFileMark): void {
  latest = mark;
  if (saving) return;
  saving = true;
  void (async () => {
    try {
      for (let next: HookFileMark | undefined = latest; next !== undefined; next = latest) {
        latest = undefined;
        await writeFile(`${markFile}.tmp`, JSON.stringify(next));
        await rename(`${markFile}.tmp`, markFile);
      }
    } catch (error) {
      // Not saved: the next start stores again the lines after the last mark saved, none is lost.
      console.error(`cannot save ${markFile}: ${(error as Error).message}`);
    } finally {
      saving = false;
    }
  })();
}
