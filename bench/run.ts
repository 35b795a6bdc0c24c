/**
 * `npm run bench [-- --quick] [-- --runs N] [-- suite …]`: runs the suites, prints a table and writes
 * `bench/results.json`. See docs/benchmarks.md.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, type BenchSuite, machine } from './harness.js';

// Each suite is a module in bench/ whose default export is a BenchSuite.
const SUITES: Array<() => Promise<{ default: BenchSuite }>> = [
  () => import('./temporalAggregate.js'),
  () => import('./correlate.js'),
  () => import('./flow.js'),
  () => import('./store.js'),
];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runsIndex = args.indexOf('--runs');
const runs = runsIndex >= 0 ? Number(args[runsIndex + 1]) : 3;
const only = args.filter((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--runs');

const rows: BenchRow[] = [];
const started = Date.now();
for (const load of SUITES) {
  const suite = (await load()).default;
  if (only.length > 0 && !only.includes(suite.name)) continue;
  console.error(`… ${suite.name}`);
  rows.push(...(await suite.run({ runs, quick })));
}

const fmt = (n: number | undefined) =>
  n === undefined || Number.isNaN(n)
    ? ''
    : Math.abs(n) >= 100
      ? Math.round(n).toLocaleString('en-US')
      : n.toFixed(2);
console.log(`\nvibespec-streams benchmarks — ${JSON.stringify(machine())}, median of ${runs} runs\n`);
console.log(
  ['suite', 'measure', 'value', 'unit', 'baseline', 'ratio', 'goal', 'met'].join(' | '),
  `\n${'-'.repeat(100)}`,
);
for (const row of rows) {
  console.log(
    [
      row.suite,
      row.name,
      fmt(row.value),
      row.unit,
      row.baseline ? `${row.baseline.name}: ${fmt(row.baseline.value)}` : '',
      fmt(row.ratio),
      row.goal ?? '',
      row.met === undefined ? '' : row.met ? 'yes' : 'NO',
    ].join(' | '),
  );
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results.json');
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), machine: machine(), runs, quick, seconds: (Date.now() - started) / 1000, rows }, null, 2)}\n`,
);
console.log(`\nwrote ${out}`);
