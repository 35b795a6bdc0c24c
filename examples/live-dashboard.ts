/**
 * The README's example: tail a Claude Code hook log, persist every event before deriving anything
 * from it, detect activities, fold busy event types into windows, and report flow metrics.
 * Run: npx tsx examples/live-dashboard.ts path/to/hooks.jsonl
 */
import { filter } from 'rxjs';
import {
  bridgeHooks,
  correlate,
  EventFlowMetrics,
  fromHookFile,
  measure,
  openStore,
  persist,
  temporalAggregate,
} from '../src/index.js';

const store = await openStore(); // embedded LevelDB at .vibespec/event-store
const metrics = new EventFlowMetrics();

const events$ = fromHookFile(process.argv[2] ?? 'hooks.jsonl', { follow: true }).pipe(
  bridgeHooks(), // payloads → typed events; bad input → hook.rejected, never an error
  persist(store, { maxBatch: 512 }), // write-ahead: an event goes on only once it is on disk
  measure(metrics), // times everything below, per event type
  correlate(), // passes events on, adds activity.detected (feature-development, bug-fix)
  temporalAggregate(), // file.modified / tool.used / performance.metric → *.aggregated windows
);

events$.pipe(filter((e) => e.type === 'activity.detected')).subscribe((e) => console.log(e.data));
metrics.summary$(5_000).subscribe((summary) => console.table(summary));
