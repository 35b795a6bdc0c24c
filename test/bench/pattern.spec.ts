/**
 * Smoke test of the `pattern` benchmark (`bench/pattern.ts`) on small inputs: the rows' shape, and that
 * the counts its notes give add up — every input event passed through once, no event in two derived
 * events, both configurations doing the work their rows claim to measure (matches; timeouts and
 * evictions on a full map). Never a timing (DESIGN: no timed assertions in tests).
 */
import { from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import suite, {
  CAPACITY,
  countOutputs,
  generateEvents,
  SESSIONS,
  tdd,
  WITHIN_MS,
} from '../../bench/pattern.js';
import type { Event } from '../../src/index.js';

const strip = (e: Event) => ({
  type: e.type,
  timestamp: e.timestamp,
  sessionId: e.sessionId,
  data: e.data,
});

function outputsOf(events: readonly Event[], operator: ReturnType<typeof tdd>): Event[] {
  const out: Event[] = [];
  from(events)
    .pipe(operator)
    .subscribe((e) => out.push(e));
  return out;
}

/** Checks the outputs against the input and against `countOutputs`; returns the counts. */
function expectAccountedFor(events: readonly Event[], operator: () => ReturnType<typeof tdd>) {
  const outputs = outputsOf(events, operator());
  const counts = countOutputs(events, operator());
  const inputIds = new Set(events.map((e) => e.id));
  // Every input passed through exactly once, in order.
  expect(outputs.filter((e) => inputIds.has(e.id)).map((e) => e.id)).toEqual(events.map((e) => e.id));
  const derived = outputs.filter((e) => !inputIds.has(e.id));
  expect(derived.every((e) => e.type === 'pattern.matched' || e.type === 'pattern.timeout')).toBe(true);
  // No input event in two derived events.
  const held = derived.flatMap((e) => (e.data.events as Event[]).map((inner) => inner.id));
  expect(new Set(held).size).toBe(held.length);
  for (const id of held) expect(inputIds.has(id)).toBe(true);
  const reasons = (reason: string) =>
    derived.filter((e) => e.type === 'pattern.timeout' && e.data.reason === reason).length;
  expect(counts).toEqual({
    outputs: outputs.length,
    passed: events.length,
    matched: derived.filter((e) => e.type === 'pattern.matched').length,
    timeout: reasons('timeout'),
    evicted: reasons('evicted'),
    flushed: reasons('flushed'),
    errors: 0,
  });
  expect(counts.outputs).toBe(
    counts.passed + counts.matched + counts.timeout + counts.evicted + counts.flushed,
  );
  return counts;
}

describe('the pattern benchmark', () => {
  const events = generateEvents(20_000);

  it('has a deterministic input of interleaved sessions with what the pattern needs', () => {
    expect(generateEvents(20_000).map(strip)).toEqual(events.map(strip));
    expect(new Set(events.map((e) => e.sessionId)).size).toBe(SESSIONS);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.timestamp).toBeGreaterThan(events[i - 1]!.timestamp);
    }
    const edits = events.filter((e) => e.type === 'file.modified');
    const testEdits = edits.filter((e) => /\.test\./.test(String(e.data.file_path)));
    const passing = events.filter((e) => e.type === 'test.run' && e.data.passed === true);
    expect(testEdits.length).toBeGreaterThan(500);
    expect(edits.length - testEdits.length).toBeGreaterThan(1_000);
    expect(passing.length).toBeGreaterThan(500);
  });

  it('the TDD row: every input passes through once, and sessions match', () => {
    const counts = expectAccountedFor(events, () => tdd(WITHIN_MS));
    expect(counts.matched).toBeGreaterThan(100);
    expect(counts.evicted).toBe(0);
  });

  it('the capacity row: a full map ends partial matches by timeout and by eviction', () => {
    const counts = expectAccountedFor(events, () => tdd(CAPACITY.within, CAPACITY.maxKeys));
    expect(counts.matched).toBeGreaterThan(0);
    expect(counts.timeout).toBeGreaterThan(counts.evicted);
    expect(counts.evicted).toBeGreaterThan(0);
    // With room for every key, nothing is evicted: the evictions come from maxKeys.
    expect(countOutputs(events, tdd(CAPACITY.within)).evicted).toBe(0);
  });

  it('a --quick run gives two rows of events/s against from → map, with counts in the notes', async () => {
    const rows = await suite.run({ runs: 1, quick: true });
    expect(rows).toHaveLength(2);
    const quickEvents = generateEvents(50_000);
    const expected = [
      countOutputs(quickEvents, tdd(WITHIN_MS)),
      countOutputs(quickEvents, tdd(CAPACITY.within, CAPACITY.maxKeys)),
    ];
    rows.forEach((row, i) => {
      expect(row.suite).toBe('pattern');
      expect(row.unit).toBe('events/s');
      expect(row.runs).toBe(1);
      expect(row.baseline?.name).toBe('from → map');
      expect(row.value).toBeGreaterThan(0);
      expect(row.baseline!.value).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.value / row.baseline!.value, 10);
      expect(row.goal).toBeUndefined();
      expect(row.met).toBeUndefined();
      expect(row.notes).toContain('50,000 events');
      expect(row.notes).toContain(`${expected[i]!.matched.toLocaleString('en-US')} matched`);
      expect(row.notes).toContain(`${expected[i]!.flushed.toLocaleString('en-US')} flushed`);
    });
    expect(rows[1]!.notes).toContain(`${expected[1]!.evicted.toLocaleString('en-US')} evicted`);
  });
});
