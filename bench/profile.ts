/**
 * A target for the CPU profiler (not a suite): runs the end-to-end pipeline over the benchmark payloads
 * long enough for a steady profile.
 *
 * ```sh
 * node --cpu-prof --cpu-prof-dir=bench/.tmp --import tsx bench/profile.ts [in-memory|persisted] [rounds]
 * ```
 *
 * Open the `.cpuprofile` in Chrome DevTools (Performance → Load profile) and sort by self time. See
 * docs/benchmarks.md for the latest hottest frames.
 */
import { makePayloads } from './payloads.js';
import { runInMemory, runPersisted, SESSIONS } from './pipeline.js';

const [which = 'in-memory', roundsArg] = process.argv.slice(2);
if (which !== 'in-memory' && which !== 'persisted') throw new Error(`unknown pipeline ${which}`);
const rounds = Number(roundsArg ?? (which === 'in-memory' ? 20 : 5));
const payloads = makePayloads(30_000, SESSIONS, 8);
for (let i = 0; i < rounds; i++) {
  const counts = which === 'in-memory' ? await runInMemory(payloads) : await runPersisted(payloads);
  console.log(`${which} round ${i + 1}: ${Math.round(payloads.length / counts.seconds)} payloads/s`);
}
