/**
 * The results tables of docs/benchmarks.md, made from the committed results files, so that the page never
 * shows figures other than those the JSON holds.
 *
 * The page marks each generated block with the file it comes from:
 *
 * ```md
 * <!-- results: bench/results.json -->
 * …generated: the run's line, its table, the goals…
 * <!-- /results -->
 * ```
 *
 * A full `npm run bench` rewrites the blocks of the file it wrote; `npx tsx bench/report.ts` rewrites every
 * block from the files as they are (after a results file was copied by hand, say), and
 * `npx tsx bench/report.ts --check` exits with 1 when a block is out of date (test/bench/report.spec.ts
 * checks the same).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, formatNumber } from './harness.js';

/** What `bench/run.ts` writes. */
export interface BenchResults {
  /** ISO time of the start of the run. */
  date: string;
  machine: { cores: number; cpu: string; node: string; platform: string; memoryGB: number };
  load: { start: number[]; end: number[] };
  runs: number;
  quick: boolean;
  long: boolean;
  /** The commit measured, with `-dirty` when the working tree had changes (absent in older files). */
  commit?: string;
  suites: Array<{ suite: string; seconds: number; error?: string }>;
  seconds: number;
  rows: BenchRow[];
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DOCS_PAGE = join(ROOT, 'docs', 'benchmarks.md');

// A page checked out with CRLF line ends (git's autocrlf) has them in its blocks too.
const BLOCK = /<!-- results: (\S+) -->(\r?\n)[\s\S]*?<!-- \/results -->/g;
const OPENING = /<!-- results: (\S+) -->/g;

/** A table cell: pipes escaped, so a measure's name cannot split its row. */
const cell = (text: string) => text.replaceAll('|', '\\|');

/** `2026-12-05 14:44 UTC` */
function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** The run's line: when, where, how loaded, how long, at which commit. */
function runLine(results: BenchResults): string {
  const { machine, load } = results;
  const lengths = results.quick ? '`--quick` lengths' : results.long ? '`--long` lengths' : 'default lengths';
  const suites = results.suites
    .map((s) => `${s.suite} ${Math.round(s.seconds)} s${s.error === undefined ? '' : ', failed'}`)
    .join(', ');
  return [
    `${when(results.date)}, ${machine.cores} × ${machine.cpu}, Node ${machine.node}, ${machine.memoryGB} GB;`,
    `load average ${load.start.join(' / ')} at the start, ${load.end.join(' / ')} at the end; ${lengths};`,
    `medians of ${results.runs} run${results.runs === 1 ? '' : 's'}; ${Math.round(results.seconds)} s in all`,
    `(${suites})${results.commit === undefined ? '' : `; at commit ${results.commit}`}.`,
  ].join(' ');
}

function verdict(row: BenchRow): string {
  if (row.met === undefined) return '';
  return row.met ? 'yes' : '**no**';
}

/** The table of every row, in the run's order. */
function rowsTable(rows: readonly BenchRow[]): string {
  const lines = [
    '| measure | value | unit | baseline | ratio | goal | met |',
    '|---|--:|---|---|--:|---|---|',
  ];
  for (const row of rows) {
    const baseline = row.baseline ? `${formatNumber(row.baseline.value)} ${row.baseline.name}` : '';
    lines.push(
      `| ${cell(`${row.suite}: ${row.name}`)} | ${formatNumber(row.value)} | ${cell(row.unit)} | ${cell(baseline)} | ` +
        `${formatNumber(row.ratio)} | ${cell(row.goal ?? '')} | ${verdict(row)} |`,
    );
  }
  return lines.join('\n');
}

/** The rows with a goal, met or not: the value the goal is about, and the ratio beside it. */
function goalsTable(rows: readonly BenchRow[]): string {
  const lines = ['| goal | measure | value | ratio (baseline) | met |', '|---|---|--:|---|---|'];
  for (const row of rows) {
    if (row.goal === undefined) continue;
    const against =
      row.ratio === undefined || row.baseline === undefined
        ? ''
        : `${formatNumber(row.ratio)} (${formatNumber(row.baseline.value)} ${row.unit}: ${row.baseline.name})`;
    lines.push(
      `| ${cell(row.goal)} | ${cell(`${row.suite}: ${row.name}`)} | ${formatNumber(row.value)} ${cell(row.unit)} | ` +
        `${cell(against)} | ${verdict(row)} |`,
    );
  }
  return lines.join('\n');
}

/** The generated block for one results file (without its markers). */
export function renderResults(results: BenchResults): string {
  const goals = results.rows.filter((row) => row.goal !== undefined);
  const missed = goals.filter((row) => row.met === false).length;
  const failed = results.suites.filter((s) => s.error !== undefined).map((s) => s.suite);
  const unmeasured =
    failed.length === 0
      ? ''
      : ` The ${failed.join(', ')} suite${failed.length === 1 ? '' : 's'} failed: ${failed.length === 1 ? 'its' : 'their'} goals are not in the count.`;
  return [
    runLine(results),
    '',
    `Goals in this run: ${goals.length - missed} of ${goals.length} met.${unmeasured}`,
    '',
    goalsTable(results.rows),
    '',
    'Every row (its notes are in the JSON and in the printed report):',
    '',
    rowsTable(results.rows),
  ].join('\n');
}

/**
 * `page` with each marked block replaced by the rendering of its file, read by `read` (a path relative
 * to the repository). Throws on an opening marker without its closing one.
 */
export function updatePage(page: string, read: (file: string) => BenchResults): string {
  const openings = [...page.matchAll(OPENING)].length;
  const blocks = [...page.matchAll(BLOCK)].length;
  if (openings !== blocks) {
    throw new Error(`docs/benchmarks.md: a "<!-- results: … -->" marker has no "<!-- /results -->" after it`);
  }
  return page.replace(BLOCK, (_, file: string, eol: string) =>
    [`<!-- results: ${file} -->`, ...renderResults(read(file)).split('\n'), '<!-- /results -->'].join(eol),
  );
}

/** Reads a results file, relative to the repository. */
export function readResults(file: string): BenchResults {
  return JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as BenchResults;
}

/**
 * Rewrites docs/benchmarks.md from the results files; returns whether it changed. With `shown` (a path
 * relative to the repository): only if the page has a block of that file.
 */
export function writePage(shown?: string): boolean {
  const page = readFileSync(DOCS_PAGE, 'utf8');
  if (shown !== undefined && !page.includes(`<!-- results: ${shown.split('\\').join('/')} -->`)) return false;
  const updated = updatePage(page, readResults);
  if (updated !== page) writeFileSync(DOCS_PAGE, updated);
  return updated !== page;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const page = readFileSync(DOCS_PAGE, 'utf8');
    if (updatePage(page, readResults) !== page) {
      console.error('docs/benchmarks.md is out of date: run `npx tsx bench/report.ts`');
      process.exitCode = 1;
    }
  } else {
    console.log(writePage() ? 'docs/benchmarks.md: tables rewritten' : 'docs/benchmarks.md: up to date');
  }
}
