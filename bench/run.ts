/**
 * `npm run bench [-- --quick | --long] [-- --runs N] [-- --out FILE] [-- suite …]`: runs the suites, prints
 * a table and writes the results as JSON. See docs/benchmarks.md.
 *
 * - `--quick`: small inputs, one run: a smoke run (under a minute). `--long`: the full lengths (issue #8's
 *   10 s per offered load and 5,000,000 events of memory curve; the component suites' original sizes).
 * - `--runs N`: runs per measurement, medians reported (default 3; 1 with `--quick`).
 * - A full run (every suite, not `--quick`) writes `bench/results.json` (`bench/results-long.json` with
 *   `--long`); a `--quick` run or a run of some suites writes `bench/.tmp/results.json` instead
 *   (git-ignored), so a smoke run never replaces the committed figures. `--out FILE` chooses the file.
 * - A suite that throws is reported (and the exit code is 1), and the others still run.
 * - The results record the commit measured; writing a file that docs/benchmarks.md shows (the committed
 *   results) rewrites the page's tables of it (`bench/report.ts`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, type BenchSuite, formatNumber, machine } from './harness.js';
import { type BenchResults, writePage } from './report.js';

// Each suite is a module in bench/ whose default export is a BenchSuite.
const SUITES: Array<() => Promise<{ default: BenchSuite }>> = [
  () => import('./temporalAggregate.js'),
  () => import('./correlate.js'),
  () => import('./pattern.js'),
  () => import('./flow.js'),
  () => import('./store.js'),
  () => import('./pipeline.js'),
  () => import('./bridge.js'),
  () => import('./live.js'),
];

const here = dirname(fileURLToPath(import.meta.url));

function usage(message: string): never {
  console.error(
    `bench: ${message}\nusage: npm run bench -- [--quick | --long] [--runs N] [--out FILE] [suite …]`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let quick = false;
let long = false;
let runs: number | undefined;
let out: string | undefined;
const only: string[] = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === '--quick') quick = true;
  else if (arg === '--long') long = true;
  else if (arg === '--runs') {
    runs = Number(args[++i]);
    if (!Number.isInteger(runs) || runs < 1) usage(`--runs needs a positive integer, got ${args[i]}`);
  } else if (arg === '--out') {
    out = args[++i];
    if (out === undefined) usage('--out needs a file name');
  } else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
  else only.push(arg);
}

// A smoke run makes one run of each measurement unless told otherwise.
runs ??= quick ? 1 : 3;

const suites: BenchSuite[] = [];
for (const load of SUITES) suites.push((await load()).default);
const unknown = only.filter((name) => !suites.some((suite) => suite.name === name));
if (unknown.length > 0) {
  usage(`unknown suite ${unknown.join(', ')} (known: ${suites.map((suite) => suite.name).join(', ')})`);
}
const selected = only.length === 0 ? suites : suites.filter((suite) => only.includes(suite.name));
if (quick && long) usage('--quick and --long exclude each other');
const full = !quick && selected.length === suites.length;
const file =
  out !== undefined
    ? resolve(out)
    : full
      ? join(here, long ? 'results-long.json' : 'results.json')
      : join(here, '.tmp/results.json');

/**
 * The commit measured, `-dirty` when tracked files had changes (but the results files and the page a run
 * rewrites, so a second run on the same code is not dirty); undefined outside a git checkout.
 */
function commit(): string | undefined {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: join(here, '..'), encoding: 'utf8' }).trim();
    const changed = git(
      'status',
      '--porcelain',
      '--untracked-files=no',
      '--',
      '.',
      ':!bench/results.json',
      ':!bench/results-long.json',
      ':!docs/benchmarks.md',
    );
    return `${git('rev-parse', '--short', 'HEAD')}${changed === '' ? '' : '-dirty'}`;
  } catch {
    return undefined;
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const load = () => loadavg().map(round2) as [number, number, number];

const rows: BenchRow[] = [];
const timings: Array<{
  suite: string;
  seconds: number;
  loadBefore: number[];
  loadAfter: number[];
  error?: string;
}> = [];
const loadStart = load();
const started = Date.now();
const measured = commit();
let failed = false;
for (const suite of selected) {
  console.error(`… ${suite.name} (load average ${load().join(' ')})`);
  const suiteStart = Date.now();
  const loadBefore = load();
  try {
    rows.push(...(await suite.run({ runs, quick, long })));
    timings.push({
      suite: suite.name,
      seconds: (Date.now() - suiteStart) / 1000,
      loadBefore,
      loadAfter: load(),
    });
  } catch (error) {
    failed = true;
    console.error(`✗ ${suite.name} failed:`, error);
    timings.push({
      suite: suite.name,
      seconds: (Date.now() - suiteStart) / 1000,
      loadBefore,
      loadAfter: load(),
      error: String((error as Error)?.stack ?? error),
    });
  }
  console.error(`  ${suite.name}: ${timings.at(-1)!.seconds.toFixed(1)} s`);
}
const seconds = (Date.now() - started) / 1000;
const loadEnd = load();

// --- the table ---------------------------------------------------------------------------------------
const info = machine();
console.log(
  `\nvibespec-streams benchmarks — ${info.cores} × ${info.cpu}, Node ${info.node}, ${info.platform}; ` +
    `median of ${runs} run(s)${quick ? ', --quick (small inputs: smoke run, not figures)' : ''}` +
    `${long ? ', --long (issue #8 lengths)' : ''}; ` +
    `load average ${loadStart.join(' ')} at start, ${loadEnd.join(' ')} at end; ${seconds.toFixed(0)} s\n`,
);
console.log('Ratios are oriented so that > 1 is better than the baseline: value ÷ baseline for rates,');
console.log('baseline ÷ value for times and sizes.\n');
const header = ['#', 'suite', 'measure', 'value', 'unit', 'baseline', 'ratio', 'goal', 'met'];
const notes: string[] = [];
const table = rows.map((row, i) => {
  if (row.notes) notes.push(`[${i + 1}] ${row.notes}`);
  return [
    String(i + 1),
    row.suite,
    row.name,
    formatNumber(row.value),
    row.unit,
    row.baseline ? `${formatNumber(row.baseline.value)} (${row.baseline.name})` : '',
    row.ratio === undefined ? '' : formatNumber(row.ratio),
    row.goal ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ];
});
const widths = header.map((h, c) =>
  Math.min(60, Math.max(h.length, ...table.map((cells) => cells[c]!.length))),
);
const line = (cells: string[]) =>
  `| ${cells.map((cell, c) => (c === 3 || c === 6 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(' | ')} |`;
console.log(line(header));
console.log(
  `|${widths.map((w, c) => (c === 3 || c === 6 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`,
);
for (const cells of table) console.log(line(cells));
if (notes.length > 0) console.log(`\n${notes.join('\n')}`);
console.log(`\nper suite: ${timings.map((t) => `${t.suite} ${t.seconds.toFixed(0)} s`).join(', ')}`);

const results: BenchResults = {
  date: new Date(started).toISOString(),
  machine: info,
  load: { start: loadStart, end: loadEnd },
  runs,
  quick,
  long,
  commit: measured,
  suites: timings,
  seconds,
  rows,
};
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${file}`);
// The page's tables of this file, if it shows it (a smoke run's file is not shown).
if (writePage(relative(join(here, '..'), file))) console.log('rewrote its tables in docs/benchmarks.md');
if (failed) process.exitCode = 1;
