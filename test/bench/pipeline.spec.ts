/**
 * Smoke test of the end-to-end benchmark's core (`bench/pipeline.ts`) on tiny inputs. It checks what the
 * figures rest on — every input event accounted for exactly once, counts that add up, a deterministic
 * payload stream — and never a timing (DESIGN: no timed assertions in tests).
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withTempDir } from '../../bench/harness.js';
import { makePayloads, payloadStream } from '../../bench/payloads.js';
import {
  bareChainedBatch,
  bridge,
  memoryRun,
  runBareRx,
  runInMemory,
  runLoad,
  runPersisted,
} from '../../bench/pipeline.js';
import { type Event, openStore } from '../../src/index.js';
import { collect } from '../helpers/store.js';

/**
 * How many times each input event id appears at the output: passed through, inside an aggregate
 * (`data.events`), or as a late event (`data.event`). Derived events (activities) carry fresh ids.
 */
function accountFor(outputs: unknown[], inputIds: ReadonlySet<string>): Map<string, number> {
  const seen = new Map<string, number>();
  const see = (id: string) => seen.set(id, (seen.get(id) ?? 0) + 1);
  for (const output of outputs) {
    const event = output as Event;
    if (inputIds.has(event.id)) see(event.id);
    else if (event.type.endsWith('.aggregated')) {
      const inner = event.data.events as Event[];
      expect(inner).toHaveLength(event.data.event_count as number);
      for (const e of inner) see(e.id);
    } else if (event.type.endsWith('.late')) see((event.data.event as Event).id);
    else expect(event.type).toMatch(/^(activity\.|correlation\.)/);
  }
  return seen;
}

function expectEachOnce(seen: Map<string, number>, ids: readonly string[]) {
  expect(seen.size).toBe(ids.length);
  for (const id of ids) expect(seen.get(id)).toBe(1);
}

describe("the harness's temp folder (withTempDir, every suite's)", () => {
  it('gives a fresh folder named for the suite, removed after fn resolves or rejects', async () => {
    let kept = '';
    expect(
      await withTempDir('pipeline', async (dir) => {
        kept = dir;
        expect(basename(dir)).toMatch(/^vibespec-bench-pipeline-/);
        expect(existsSync(dir)).toBe(true);
        return 42;
      }),
    ).toBe(42);
    expect(existsSync(kept)).toBe(false);
    await expect(
      withTempDir('live', async (dir) => {
        kept = dir;
        throw new Error('failed run');
      }),
    ).rejects.toThrow('failed run');
    expect(basename(kept)).toMatch(/^vibespec-bench-live-/);
    expect(existsSync(kept)).toBe(false);
  });
});

describe('the benchmark payload stream', () => {
  it('is deterministic, in event-time order, and has the realistic mix', () => {
    const a = makePayloads(3_000, 50, 3);
    const b = makePayloads(3_000, 50, 3);
    expect(a).toEqual(b);
    for (let i = 1; i < a.length; i++) expect(a[i]!.timestamp).toBeGreaterThanOrEqual(a[i - 1]!.timestamp!);
    const hooks = new Set(a.map((p) => p.hook));
    for (const hook of ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'Stop']) {
      expect(hooks).toContain(hook);
    }
    const tools = new Set(a.map((p) => (p.output as { tool_name?: string }).tool_name));
    for (const tool of ['Read', 'Edit', 'Write', 'Bash']) expect(tools).toContain(tool);
    const types = new Set(bridge(a).map((e) => e.type));
    for (const type of ['tool.used', 'file.modified', 'git.commit', 'test.run', 'prompt.submitted']) {
      expect(types).toContain(type);
    }
    expect(types).not.toContain('hook.rejected');
  });

  it('ends sessions and starts new ones in their slots', () => {
    const next = payloadStream({ sessions: 5, seed: 1 });
    const ids = new Set<unknown>();
    let ended = 0;
    for (let i = 0; i < 20_000; i++) {
      const p = next();
      ids.add((p.output as { session_id: string }).session_id);
      if (p.hook === 'SessionEnd') ended++;
    }
    expect(ended).toBeGreaterThan(0);
    expect(ids.size).toBeGreaterThan(5);
  });
});

describe('the pipelines the benchmark times', () => {
  const payloads = makePayloads(2_000, 20, 7);

  it('in memory: every bridged event leaves the pipeline exactly once, and the counts add up', async () => {
    const bridged: string[] = [];
    const outputs: unknown[] = [];
    const counts = await runInMemory(payloads, {
      count: true,
      bridged: (e) => bridged.push(e.id),
      collect: (o) => outputs.push(o),
    });
    expect(counts.payloads).toBe(payloads.length);
    expect(counts.bridged).toBe(bridged.length);
    expect(counts.bridged).toBeGreaterThan(payloads.length);
    expect(counts.outputs).toBe(outputs.length);
    expectEachOnce(accountFor(outputs, new Set(bridged)), bridged);
  });

  it('the in-memory baseline sees every payload once', async () => {
    expect((await runBareRx(payloads)).outputs).toBe(payloads.length);
  });

  it('persisted: every bridged event is acked exactly once, stored exactly once, and leaves the pipeline once', async () => {
    await withTempDir('pipeline', async (dir) => {
      const store = await openStore({ path: `${dir}/db` });
      try {
        const bridged: Event[] = [];
        const acked: string[] = [];
        const outputs: unknown[] = [];
        const counts = await runPersisted(payloads, {
          store,
          count: true,
          bridged: (e) => bridged.push(e),
          acked: (e) => acked.push(e.id),
          collect: (o) => outputs.push(o),
        });
        const ids = bridged.map((e) => e.id);
        expect(counts.acked).toBe(counts.bridged);
        // Acked in order, each once.
        expect(acked).toEqual(ids);
        expectEachOnce(accountFor(outputs, new Set(ids)), ids);
        // On disk: each session's events, in order.
        const sessions = [...new Set(bridged.map((e) => e.sessionId!))];
        let stored = 0;
        for (const session of sessions) {
          const events = await collect(store.query(session));
          expect(events.map((e) => e.id)).toEqual(
            bridged.filter((e) => e.sessionId === session).map((e) => e.id),
          );
          stored += events.length;
        }
        expect(stored).toBe(ids.length);
      } finally {
        await store.close();
      }
    });
  });

  it('the persisted baseline writes the same events', async () => {
    expect(await bareChainedBatch(bridge(payloads.slice(0, 300)))).toBeGreaterThan(0);
  });
});

describe('the open-loop driver', () => {
  const pool = makePayloads(500, 20, 9);

  it('acks every offered record of the pipeline exactly once, CRITICAL events included', async () => {
    const result = await runLoad({
      rate: 400,
      seconds: 0.5,
      warmupSeconds: 0,
      pool,
      criticalEveryMs: 25,
      durability: 'process',
      target: 'pipeline',
    });
    expect(result.sent).toBe(200);
    expect(result.criticalSent).toBe(20);
    expect(result.overflowAt).toBeUndefined();
    expect(result.unexpected).toBe(0);
    expect(result.acked).toBe(result.records);
    expect(result.records).toBeGreaterThan(result.sent + result.criticalSent);
    expect(result.critical.totalCount).toBe(result.criticalSent);
    expect(result.latency.totalCount + result.critical.totalCount).toBe(result.acked);
    result.latency.destroy();
    result.critical.destroy();
  });

  it('acks every payload of the bare baseline exactly once', async () => {
    const result = await runLoad({
      rate: 400,
      seconds: 0.5,
      warmupSeconds: 0,
      pool,
      criticalEveryMs: 0,
      durability: 'os',
      target: 'bare',
    });
    expect(result.sent).toBe(200);
    expect(result.records).toBe(200);
    expect(result.acked).toBe(200);
    expect(result.unexpected).toBe(0);
    expect(result.latency.totalCount).toBe(200);
    result.latency.destroy();
    result.critical.destroy();
  });
});

describe('the memory child', () => {
  it('samples heap and RSS along the run', async () => {
    const { bare, pipeline: samples } = await memoryRun(20_000, 5_000, 100, 10_000);
    expect(bare.map((s) => s.events)).toEqual([2_000, 4_000, 6_000, 8_000, 10_000]);
    expect(samples.map((s) => s.events)).toEqual([5_000, 10_000, 15_000, 20_000]);
    for (const s of samples) {
      expect(s.heapMB).toBeGreaterThan(0);
      expect(s.rssMB).toBeGreaterThan(s.heapMB);
    }
  });
});
