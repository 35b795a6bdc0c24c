/**
 * The hook bridge alone: `bridgeHooks` on the end-to-end benchmark's payloads (bench/payloads.ts: the
 * Claude Code mix of a busy machine, ~1.18 events per payload), as a ratio to a bare
 * `Subject → map → subscribe` pass over the same payloads in the same run; then where its time goes —
 * the size/depth check of each payload (`checkPayload`) and the mapping of each kind of payload.
 *
 * Every figure is process CPU time (the work is synchronous and single-threaded: on a quiet machine it is
 * the wall-clock time; on this shared one, CPU time is what other processes disturb least), and each
 * measurement is the median of `runs` passes taken round-robin with its baseline, after a warm-up pass.
 */
import { map, type OperatorFunction, Subject } from 'rxjs';
import { bridgeHooks, type HookOutput } from '../src/index.js';
import { checkPayload, DEFAULT_LIMITS } from '../src/streams/payload.js';
import { type BenchRow, type BenchSuite, byLength, formatNumber, roundRobinRates } from './harness.js';
import { makePayloads } from './payloads.js';

/** CPU seconds to push every payload through `operator` (its output counted, then dropped). */
function cpuSeconds(
  payloads: readonly HookOutput[],
  operator: OperatorFunction<HookOutput, unknown>,
): number {
  const input = new Subject<HookOutput>();
  let outputs = 0;
  input.pipe(operator).subscribe(() => outputs++);
  const seconds = cpuSecondsOf(() => {
    for (let i = 0; i < payloads.length; i++) input.next(payloads[i]!);
    input.complete();
  });
  if (outputs < payloads.length)
    throw new Error(`bridge bench: ${outputs} outputs for ${payloads.length} payloads`);
  return seconds;
}

function cpuSecondsOf(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

const KINDS: Array<{ label: string; match: (p: HookOutput) => boolean }> = [
  { label: 'PreToolUse', match: (p) => p.hook === 'PreToolUse' },
  {
    label: 'PostToolUse of Write/Edit/MultiEdit',
    match: (p) => p.hook === 'PostToolUse' && /^(Write|Edit|MultiEdit)$/.test(tool(p)),
  },
  { label: 'PostToolUse of Bash', match: (p) => p.hook === 'PostToolUse' && tool(p) === 'Bash' },
  { label: 'PostToolUseFailure', match: (p) => p.hook === 'PostToolUseFailure' },
  { label: 'session and prompt hooks', match: (p) => !p.hook.includes('Tool') },
];

function tool(p: HookOutput): string {
  return String((p.output as { tool_name?: unknown }).tool_name);
}

/** `payloads` repeated until there are at least `count`. */
function cycle(payloads: readonly HookOutput[], count: number): HookOutput[] {
  const out: HookOutput[] = [];
  while (out.length < count) out.push(...payloads.slice(0, count - out.length));
  return out;
}

const suite: BenchSuite = {
  name: 'bridge',
  async run(options) {
    const { runs } = options;
    const rows: BenchRow[] = [];
    const count = byLength(options, { quick: 5_000, default: 30_000, long: 100_000 });
    const payloads = makePayloads(count, 1_000, 8);
    let events = 0;
    const counter = new Subject<HookOutput>();
    counter.pipe(bridgeHooks()).subscribe(() => events++);
    for (const p of payloads) counter.next(p);
    const perPayload = events / count;

    const bare = () =>
      cpuSeconds(
        payloads,
        map((payload) => payload.output),
      );
    const measured = await roundRobinRates(runs, count, {
      bridge: () => cpuSeconds(payloads, bridgeHooks()),
      bare,
      check: () =>
        cpuSecondsOf(() => {
          for (const p of payloads) checkPayload(p.output, DEFAULT_LIMITS);
        }),
    });
    const bridgeRate = measured.bridge!;
    rows.push({
      suite: 'bridge',
      name: 'bridgeHooks on the benchmark payloads',
      value: bridgeRate,
      unit: 'payloads/s',
      baseline: { name: 'Subject → map → subscribe', value: measured.bare! },
      ratio: bridgeRate / measured.bare!,
      runs,
      notes:
        `${formatNumber(count)} payloads, ${formatNumber(perPayload)} events per payload, ` +
        `${formatNumber(1e6 / bridgeRate)} µs CPU per payload; process CPU time`,
    });
    rows.push({
      suite: 'bridge',
      name: 'of which checkPayload (size and depth limits)',
      value: measured.check!,
      unit: 'payloads/s',
      runs,
      notes: `${formatNumber(1e6 / measured.check!)} µs per payload: ${formatNumber((100 * bridgeRate) / measured.check!)} % of the bridge`,
    });

    // Each kind of payload on its own, as many payloads of the kind as in the mix.
    for (const kind of KINDS) {
      const some = payloads.filter(kind.match);
      if (some.length === 0) continue;
      const these = cycle(some, count);
      const rate = await roundRobinRates(runs, count, {
        bridge: () => cpuSeconds(these, bridgeHooks()),
        bare: () =>
          cpuSeconds(
            these,
            map((payload) => payload.output),
          ),
      });
      rows.push({
        suite: 'bridge',
        name: `bridgeHooks, ${kind.label} only`,
        value: rate.bridge!,
        unit: 'payloads/s',
        baseline: { name: 'Subject → map → subscribe', value: rate.bare! },
        ratio: rate.bridge! / rate.bare!,
        runs,
        notes: `${formatNumber((100 * some.length) / count)} % of the mix; ${formatNumber(1e6 / rate.bridge!)} µs CPU per payload`,
      });
    }
    return rows;
  },
};

export default suite;
