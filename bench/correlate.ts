/**
 * `correlate` throughput: events/s through the default groups over 1,000 interleaved sessions, and
 * through 50 user groups, each against a bare RxJS pipeline (`from(array) → map → subscribe`) over the
 * same events in the same run.
 *
 * The sessions work in bursts (8 min active, 8 min idle, staggered), so episodes open, grow and end all
 * through the run, and the rules are exercised, not just the open-episode fast path.
 */
import { from, map, type OperatorFunction } from 'rxjs';
import { type CorrelationGroup, correlate, createEvent, type Event } from '../src/index.js';
import { type BenchRow, type BenchSuite, byLength, compareThroughput } from './harness.js';
import { prng } from './payloads.js';

const SESSIONS = 1_000;
const STEP_MS = 3; // one event every 3 ms overall: each session sees one every ~3 s
const BURST_MS = 8 * 60_000;

const ACTIVE_MIX: ReadonlyArray<[type: string, weight: number]> = [
  ['tool.used', 45],
  ['file.modified', 25],
  ['tool.requested', 12],
  ['test.run', 8],
  ['file.created', 5],
  ['agent.completed', 3],
  ['git.commit', 2],
];
const IDLE_TYPES = ['prompt.submitted', 'notification', 'message.displayed'];

export function generateEvents(count: number, sessions = SESSIONS): Event[] {
  const random = prng(42);
  const total = ACTIVE_MIX.reduce((sum, [, weight]) => sum + weight, 0);
  const pick = () => {
    let r = random() * total;
    for (const [type, weight] of ACTIVE_MIX) {
      r -= weight;
      if (r < 0) return type;
    }
    return 'tool.used';
  };
  const ids = Array.from({ length: sessions }, (_, i) => `session-${String(i).padStart(4, '0')}`);
  const t0 = 1_800_000_000_000;
  const events: Event[] = [];
  for (let i = 0; i < count; i++) {
    const s = Math.floor(random() * sessions);
    const t = t0 + i * STEP_MS;
    const active = Math.floor(t / BURST_MS + s / sessions) % 2 === 0;
    const type = active ? pick() : IDLE_TYPES[i % IDLE_TYPES.length]!;
    const data: Record<string, unknown> = {};
    if (type.startsWith('file.'))
      data.file_path = `/repo/src/module${s % 50}/file${Math.floor(random() * 20)}.ts`;
    else if (type === 'tool.used' || type === 'tool.requested')
      data.tool_name = random() < 0.5 ? 'Edit' : 'Bash';
    else if (type === 'test.run') data.passed = random() < 0.7;
    else if (type === 'git.commit') data.message = random() < 0.5 ? 'fix: off by one' : 'feat: new thing';
    else if (type === 'agent.completed') data.agent = random() < 0.3 ? 'debugger' : 'Explore';
    events.push(createEvent({ type, timestamp: t, sessionId: ids[s]!, data }));
  }
  return events;
}

const TYPES = ACTIVE_MIX.map(([type]) => type);

/** 50 user groups of typical shape: two to three types, a window of 1–5 min, a counting rule. */
export function userGroups(count = 50): CorrelationGroup[] {
  return Array.from({ length: count }, (_, g) => {
    const types = [TYPES[g % TYPES.length]!, TYPES[(g * 3 + 1) % TYPES.length]!];
    if (g % 3 === 0) types.push(TYPES[(g + 2) % TYPES.length]!);
    const minEvents = 4 + (g % 5);
    const needed = types[1]!;
    return {
      name: `group-${g}`,
      eventTypes: [...new Set(types)],
      windowMs: 60_000 * (1 + (g % 5)),
      rule: (events) => {
        if (events.length < minEvents) return null;
        let seen = 0;
        for (const event of events) if (event.type === needed) seen++;
        return seen >= 2 ? { confidence: Math.min(1, seen / events.length + 0.5) } : null;
      },
    };
  });
}

/** Pushes `events` through `operator` synchronously; returns the number of outputs. */
function drain(events: readonly Event[], operator: OperatorFunction<Event, unknown>): number {
  let outputs = 0;
  from(events)
    .pipe(operator)
    .subscribe(() => {
      outputs++;
    });
  return outputs;
}

const suite: BenchSuite = {
  name: 'correlate',
  async run(options) {
    const { runs } = options;
    // 300,000 by default (1,000,000 with --long) keeps `npm run bench` under 5 minutes; docs/benchmarks.md.
    const count = byLength(options, { quick: 50_000, default: 300_000, long: 1_000_000 });
    const events = generateEvents(count);
    const baseline = () =>
      drain(
        events,
        map((event) => event),
      );
    const rows: BenchRow[] = [];

    const defaults = await compareThroughput(runs, count, () => drain(events, correlate()), baseline);
    const activities = drain(events, correlate(undefined, { passThrough: false }));
    rows.push({
      suite: 'correlate',
      name: `correlate(), default groups, ${SESSIONS.toLocaleString('en-US')} sessions`,
      value: defaults.subject,
      unit: 'events/s',
      baseline: { name: 'from → map', value: defaults.baseline },
      ratio: defaults.ratio,
      goal: '≥ 500,000 events/s',
      met: defaults.subject >= 500_000,
      runs,
      notes: `${count.toLocaleString('en-US')} events, bursty sessions; ${activities} derived events`,
    });

    // The 50-group stress case is ~30× slower per event: a fifth of the events keeps its runs short.
    const groups = userGroups(50);
    const userCount = count / 5;
    const userEvents = events.slice(0, userCount);
    let feeds = 0;
    for (const event of userEvents)
      feeds += groups.filter((group) => group.eventTypes.includes(event.type)).length;
    feeds /= userCount;
    const fifty = await compareThroughput(
      runs,
      userCount,
      () => drain(userEvents, correlate(groups)),
      () =>
        drain(
          userEvents,
          map((event) => event),
        ),
    );
    const userActivities = drain(userEvents, correlate(groups, { passThrough: false }));
    rows.push({
      suite: 'correlate',
      name: `correlate(50 user groups), ${SESSIONS.toLocaleString('en-US')} sessions`,
      value: fifty.subject,
      unit: 'events/s',
      baseline: { name: 'from → map', value: fifty.baseline },
      ratio: fifty.ratio,
      runs,
      notes:
        `${userCount.toLocaleString('en-US')} events, each feeding ${feeds.toFixed(1)} of the 50 groups on average; ` +
        `${userActivities.toLocaleString('en-US')} derived events (an episode opened every ` +
        `${(userCount / (userActivities / 2)).toFixed(0)} events): a stress case, rules run over the window when no episode is open`,
    });
    return rows;
  },
};

export default suite;
