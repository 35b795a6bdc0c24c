/**
 * The defaults the pages state are the ones the code uses: each value is read from its page's options
 * table (the row of the option, the `default` column), then compared with the exported default or with
 * what the code observably does at that value and one short of it (virtual time, counts; no clock).
 * A page whose value drifts from the code fails here, naming the page and the option.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, NEVER, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  createEvent,
  createModeSelector,
  DEFAULT_AGGREGATE_WINDOWS,
  DEFAULT_CORRELATION_GROUPS,
  DEFAULT_LOAD_THRESHOLDS,
  DEFAULT_STORE_PATH,
  EventFlowMetrics,
  isSessionWindow,
  OTHER_TYPE,
  ProcessingMode,
  pattern,
  persist,
  reviewSummary,
  runHook,
  runHookAggregation,
  type SessionStore,
  sessionWindows,
  temporalAggregate,
  toEvents,
} from '../src/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The rows of every table of `page` whose header's first cell is `header`, each as its cells. */
function tables(page: string, header: string): string[][][] {
  const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((text) => text.trim());
  const found: string[][][] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('|') || cells(lines[i]!)[0] !== header) continue;
    const rows: string[][] = [];
    for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(cells(lines[i]!));
    found.push(rows);
  }
  if (found.length === 0) throw new Error(`${page}: no table headed ${header}`);
  return found;
}

/** The `column`-th cell of the row of `option` (written `` `option` ``) in a table headed `header`. */
function cell(page: string, header: string, option: string, column = 1): string {
  const row = tables(page, header)
    .flat()
    .find((cells) => cells[0] === `\`${option}\``);
  if (row === undefined) throw new Error(`${page}: no row for ${option}`);
  return row[column]!;
}

/** The number a cell starts with: `1,000`, `` `10,000` ``, `16,384`, `0.9`. */
function numberIn(text: string): number {
  const found = /-?\d[\d,_]*(\.\d+)?/.exec(text.replaceAll('`', ''));
  if (found === null) throw new Error(`no number in ${text}`);
  return Number(found[0].replace(/[,_]/g, ''));
}

const stated = (page: string, header: string, option: string) => numberIn(cell(page, header, option));

describe('the defaults the pages state', () => {
  it('selectMode.md: the thresholds are DEFAULT_LOAD_THRESHOLDS', () => {
    const page = 'docs/selectMode.md';
    const [rows] = tables(page, '`thresholds.`');
    expect(
      Object.fromEntries(rows!.map(([name, value]) => [name!.replaceAll('`', ''), numberIn(value!)])),
    ).toEqual({
      ...DEFAULT_LOAD_THRESHOLDS,
    });
  });

  it('selectMode.md: minHighLoadIndicators, as many high figures as load the system', () => {
    const n = stated('docs/selectMode.md', 'option', 'minHighLoadIndicators');
    const select = createModeSelector();
    const commit = createEvent({ type: 'git.commit' }); // user-blocking: IMMEDIATE unless loaded
    const high = (count: number) =>
      Object.fromEntries(
        Object.entries(DEFAULT_LOAD_THRESHOLDS)
          .slice(0, count)
          .map(([key, threshold]) => [key, threshold + 1]),
      );
    expect(select(commit, high(n - 1))).toBe(ProcessingMode.IMMEDIATE);
    expect(select(commit, high(n))).toBe(ProcessingMode.BATCHED);
  });

  it("adaptiveBatch.md: the starting configuration and the limits are the controller's", () => {
    const page = 'docs/adaptiveBatch.md';
    const [minTimeout, maxTimeout] = cell(page, 'option', 'minTimeoutMs` / `maxTimeoutMs')
      .split('/')
      .map(numberIn);
    const batcher = adaptiveBatch();
    expect(batcher.config).toEqual({
      maxSize: stated(page, 'option', 'maxSize'),
      timeoutMs: stated(page, 'option', 'timeoutMs'),
    });
    expect(batcher.limits).toEqual({
      minSize: stated(page, 'option', 'minSize'),
      maxSizeLimit: stated(page, 'option', 'maxSizeLimit'),
      minTimeoutMs: minTimeout,
      maxTimeoutMs: maxTimeout,
    });
  });

  it('temporalAggregate.md: the default windows are DEFAULT_AGGREGATE_WINDOWS', () => {
    const text = cell('docs/temporalAggregate.md', 'option', 'windows', 2);
    const listed = /\*\*Replaces\*\* the defaults \(([^)]*)\)/.exec(text)![1]!;
    const windows = Object.fromEntries(
      listed.split(/, (?=`)/).map((entry) => [/`([^`]+)`/.exec(entry)![1], numberIn(entry.split('`')[2]!)]),
    );
    expect(windows).toEqual({ ...DEFAULT_AGGREGATE_WINDOWS });
  });

  it('temporalAggregate.md: maxEvents events of a (session, type) make a part', () => {
    const n = stated('docs/temporalAggregate.md', 'option', 'maxEvents');
    const parts = (count: number) => {
      let emitted = 0;
      const events = Array.from({ length: count }, () =>
        createEvent({ type: 'tool.used', sessionId: 's', timestamp: 5 }),
      );
      from(events)
        .pipe(temporalAggregate({ idleFlushMs: Number.POSITIVE_INFINITY, includeEvents: false }))
        .subscribe((event) => {
          if (event.type === 'tool.used.aggregated') emitted++;
        });
      return emitted;
    };
    // The input's end flushes what is left: n events are one part, n + 1 a part and the one left.
    expect(parts(n)).toBe(1);
    expect(parts(n + 1)).toBe(2);
    expect(parts(2 * n)).toBe(2);
  });

  it('sessionWindows.md: events gapMs apart are two windows, one ms closer one', async () => {
    const gap = stated('docs/sessionWindows.md', 'option', 'gapMs');
    const windows = async (apart: number) =>
      (
        await lastValueFrom(
          from([0, apart].map((timestamp) => createEvent({ type: 'x', sessionId: 's', timestamp }))).pipe(
            sessionWindows({ idleFlushMs: Number.POSITIVE_INFINITY }),
            toArray(),
          ),
        )
      ).filter((event) => event.type === 'session.window').length;
    expect(await windows(gap - 1)).toBe(1);
    expect(await windows(gap)).toBe(2);
  });

  it('sessionWindows.md: with includeEvents, maxEvents events of a window make a part; without, no limit', () => {
    const n = stated('docs/sessionWindows.md', 'option', 'maxEvents');
    const parts = (count: number, includeEvents: boolean) => {
      const counts: number[] = [];
      const events = Array.from({ length: count }, () =>
        createEvent({ type: 'x', sessionId: 's', timestamp: 5 }),
      );
      from(events)
        .pipe(sessionWindows({ idleFlushMs: Number.POSITIVE_INFINITY, includeEvents }))
        .subscribe((event) => {
          if (isSessionWindow(event)) counts.push(event.data.event_count);
        });
      return counts;
    };
    expect(parts(n, true)).toEqual([n]);
    expect(parts(n + 1, true)).toEqual([n, 1]);
    expect(parts(n + 1, false)).toEqual([n + 1]);
  });

  it('bridge.md: maxRawLength characters of a rejected input are kept, and maxDepth levels are mapped', () => {
    const page = 'docs/bridge.md';
    const rawLength = stated(page, 'option', 'maxRawLength');
    const [rejected] = toEvents('Stop', 'x'.repeat(rawLength + 100), 1);
    expect(rejected!.type).toBe('hook.rejected');
    expect(rejected!.data).toMatchObject({ raw_truncated: true });
    expect((rejected!.data.raw as string).length).toBe(rawLength);

    const depth = stated(page, 'option', 'maxDepth');
    const nested = (levels: number) => {
      let payload: Record<string, unknown> = { session_id: 's', hook_event_name: 'Stop' };
      for (let level = 1; level < levels; level++)
        payload = { session_id: 's', hook_event_name: 'Stop', n: payload };
      return toEvents('Stop', payload, 1)[0]!.type;
    };
    expect(nested(depth)).toBe('session.stopped');
    expect(nested(depth + 1)).toBe('hook.rejected');
  });

  it('metrics.md: maxTypes types have their own statistics, and avgLatencyMs averages recentSamples', () => {
    const page = 'docs/metrics.md';
    const maxTypes = stated(page, 'option', 'maxTypes');
    const metrics = new EventFlowMetrics({ now: () => 0 });
    for (let i = 0; i <= maxTypes; i++) metrics.record(`type ${i}`, 1);
    const summary = metrics.summary();
    expect(Object.keys(summary)).toHaveLength(maxTypes + 1);
    expect(summary[OTHER_TYPE]!.count).toBe(1);

    const recent = stated(page, 'option', 'recentSamples');
    const latency = new EventFlowMetrics({ now: () => 0 });
    latency.record('a', 1_000);
    for (let i = 1; i < recent; i++) latency.record('a', 0);
    expect(latency.avgLatencyMs).toBe(1_000 / recent);
    latency.record('a', 0);
    expect(latency.avgLatencyMs).toBe(0);
  });

  it("hooks.md: a hook that never answers times out at the run's default timeoutMs", () => {
    const text = readFileSync(join(ROOT, 'docs/hooks.md'), 'utf8');
    const timeout = numberIn(/the run's `timeoutMs`, itself ([\d,]+) ms/.exec(text)![1]!);
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ expectObservable }) => {
      const step = runHook({ name: 'h', run: () => NEVER }, {}, { scheduler });
      const statuses = step.pipe(toArray());
      expectObservable(statuses).toBe(`${timeout}ms (a|)`, {
        a: [expect.objectContaining({ status: 'timed_out', duration_ms: timeout })],
      });
    });
  });

  it("correlate.md: the default groups' types and windows are DEFAULT_CORRELATION_GROUPS'", () => {
    const rows = tables('docs/correlate.md', 'group').flat();
    const minutes = (text: string) => {
      expect(text).toMatch(/^\d+ min$/);
      return numberIn(text) * 60_000;
    };
    expect(
      rows.map(([name, types, window]) => ({
        name: name!.replaceAll('`', ''),
        eventTypes: [...types!.matchAll(/`([^`]+)`/g)].map((match) => match[1]),
        windowMs: minutes(window!),
      })),
    ).toEqual(
      DEFAULT_CORRELATION_GROUPS.map(({ name, eventTypes, windowMs }) => ({ name, eventTypes, windowMs })),
    );
  });

  it("hooks.md: an aggregation's hooks still running at the default deadlineMs are timed out then", () => {
    const text = readFileSync(join(ROOT, 'docs/hooks.md'), 'utf8');
    const deadline = numberIn(/At `deadlineMs` \(default ([\d,]+);/.exec(text)![1]!);
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ expectObservable }) => {
      const hook = { name: 'h', run: () => NEVER, timeoutMs: Number.POSITIVE_INFINITY };
      const outputs = runHookAggregation([hook], {}, reviewSummary, { scheduler }).pipe(toArray());
      expectObservable(outputs).toBe(`${deadline}ms (a|)`, {
        a: [
          expect.objectContaining({ kind: 'step', status: 'timed_out', duration_ms: deadline }),
          expect.objectContaining({ kind: 'aggregate', timed_out: ['h'] }),
        ],
      });
    });
  });

  it('store.md: persist writes maxBatch events at most, and openStore opens DEFAULT_STORE_PATH', async () => {
    const page = 'docs/store.md';
    expect(cell(page, 'option', 'path')).toBe(`\`${DEFAULT_STORE_PATH}\``);
    const maxBatch = numberIn(
      /`maxBatch` events \(default ([\d,]+)\)/.exec(readFileSync(join(ROOT, page), 'utf8'))![1]!,
    );
    const sizes: number[] = [];
    const store = {
      append: async (events: readonly unknown[]) => {
        sizes.push(events.length);
        return events.map((_, seq) => ({ sessionId: 's', seq }));
      },
    } as unknown as SessionStore;
    const events = Array.from({ length: maxBatch + 1 }, () => createEvent({ type: 'x', sessionId: 's' }));
    await lastValueFrom(from(events).pipe(persist(store), toArray()));
    expect(sizes).toEqual([maxBatch, 1]);
  });

  it('pattern.md: maxKeys keys with partial matches are kept, one more evicts', async () => {
    const maxKeys = stated('docs/pattern.md', 'option', 'maxKeys');
    const evicted = async (keys: number) =>
      (
        await lastValueFrom(
          from(
            Array.from({ length: keys }, (_, i) =>
              createEvent({ type: 'a', sessionId: `s${i}`, timestamp: 0 }),
            ),
          ).pipe(
            pattern([(e) => e.type === 'a', (e) => e.type === 'b'], { within: 10, passThrough: false }),
            toArray(),
          ),
        )
      ).filter((event) => event.data.reason === 'evicted').length;
    expect(await evicted(maxKeys)).toBe(0);
    expect(await evicted(maxKeys + 1)).toBeGreaterThan(0);
  });
});
