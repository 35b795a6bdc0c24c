/**
 * docs/benchmarks.md shows the committed results as they are: its generated blocks equal what
 * `bench/report.ts` makes of `bench/results.json` and `bench/results-long.json`, and the rendering says
 * what each row says (value, baseline, ratio, goal, verdict). Never a timing.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../../bench/harness.js';
import { type BenchResults, DOCS_PAGE, readResults, renderResults, updatePage } from '../../bench/report.js';

function results(rows: BenchRow[], extra: Partial<BenchResults> = {}): BenchResults {
  return {
    date: '2026-12-06T07:43:10.000Z',
    machine: { cores: 2, cpu: 'CPU', node: 'v20.20.2', platform: 'linux', memoryGB: 24 },
    load: { start: [0.5, 1, 1.5], end: [0.75, 1, 1.25] },
    runs: 3,
    quick: false,
    long: false,
    commit: 'abc1234',
    suites: [{ suite: 'demo', seconds: 12.4 }],
    seconds: 12.6,
    rows,
    ...extra,
  };
}

const rate: BenchRow = {
  suite: 'demo',
  name: 'op, 10 sessions',
  value: 6_500_000,
  unit: 'events/s',
  baseline: { name: 'bufferTime(10 s)', value: 13_000_000 },
  ratio: 0.5,
  goal: 'ratio ≥ 0.5',
  met: true,
  runs: 3,
};
const missed: BenchRow = {
  suite: 'demo',
  name: 'latency p99',
  value: 7.13,
  unit: 'ms',
  baseline: { name: 'bare', value: 1.43 },
  ratio: 0.2,
  goal: 'p99 < 5 ms',
  met: false,
  runs: 3,
};
const context: BenchRow = { suite: 'demo', name: 'a | b', value: 0.00001234, unit: 'MB', runs: 3 };

describe('docs/benchmarks.md', () => {
  it('shows the committed results files as they are', () => {
    const page = readFileSync(DOCS_PAGE, 'utf8');
    expect(page).toContain('<!-- results: bench/results.json -->');
    expect(page).toContain('<!-- results: bench/results-long.json -->');
    // Out of date after a results file changed without `npx tsx bench/report.ts` (or a full bench run).
    expect(updatePage(page, readResults)).toBe(page);
  });

  it('names, for each committed file, the commit it measured', () => {
    for (const file of ['bench/results.json', 'bench/results-long.json']) {
      expect(readResults(file).commit).toMatch(/^[0-9a-f]{7,}(-dirty)?$/);
    }
  });
});

describe('renderResults', () => {
  it("gives the run's time, machine, load, runs, seconds per suite and commit", () => {
    const text = renderResults(results([rate]));
    expect(text.split('\n')[0]).toBe(
      '2026-12-06 07:43 UTC, 2 × CPU, Node v20.20.2, 24 GB; load average 0.5 / 1 / 1.5 at the start, ' +
        '0.75 / 1 / 1.25 at the end; default lengths; medians of 3 runs; 13 s in all (demo 12 s); at commit abc1234.',
    );
  });

  it('says which lengths, a failed suite, and no commit when the file has none', () => {
    const text = renderResults(
      results([rate], {
        long: true,
        runs: 1,
        commit: undefined,
        suites: [{ suite: 'demo', seconds: 3, error: 'Error: boom' }],
      }),
    );
    const line = text.split('\n')[0]!;
    expect(line).toContain('`--long` lengths; medians of 1 run;');
    expect(line).toContain('(demo 3 s, failed).');
    expect(line).not.toContain('commit');
    expect(renderResults(results([rate], { quick: true }))).toContain('`--quick` lengths');
  });

  it('counts the goals met and lists every goal with its value, ratio and verdict', () => {
    const text = renderResults(results([rate, missed, context]));
    expect(text).toContain('Goals in this run: 1 of 2 met.');
    expect(text).toContain(
      '| ratio ≥ 0.5 | demo: op, 10 sessions | 6,500,000 events/s | 0.5 (13,000,000 events/s: bufferTime(10 s)) | yes |',
    );
    expect(text).toContain('| p99 < 5 ms | demo: latency p99 | 7.13 ms | 0.2 (1.43 ms: bare) | **no** |');
  });

  it('says which suites failed, whose goals are then not in the count', () => {
    const text = renderResults(
      results([rate], {
        suites: [
          { suite: 'demo', seconds: 1 },
          { suite: 'store', seconds: 2, error: 'Error: boom' },
        ],
      }),
    );
    expect(text).toContain(
      'Goals in this run: 1 of 1 met. The store suite failed: its goals are not in the count.',
    );
    expect(renderResults(results([rate]))).toContain('Goals in this run: 1 of 1 met.\n');
  });

  it('lists every row in the order of the run, a pipe in a name escaped', () => {
    const rows = renderResults(results([missed, context, rate]))
      .split('\n')
      .filter((line) => line.startsWith('| demo: '));
    // The goals table (2 rows) and then every row (3), in the run's order.
    expect(rows).toEqual([
      '| demo: latency p99 | 7.13 | ms | 1.43 bare | 0.2 | p99 < 5 ms | **no** |',
      '| demo: a \\| b | 1.23e-5 | MB |  |  |  |  |',
      '| demo: op, 10 sessions | 6,500,000 | events/s | 13,000,000 bufferTime(10 s) | 0.5 | ratio ≥ 0.5 | yes |',
    ]);
  });
});

describe('updatePage', () => {
  const read = (file: string) => {
    if (file !== 'bench/a.json') throw new Error(`unexpected ${file}`);
    return results([rate]);
  };

  it('replaces what is between the markers of a file, and nothing else', () => {
    const page = 'before\n<!-- results: bench/a.json -->\nold table\n<!-- /results -->\nafter\n';
    const updated = updatePage(page, read);
    expect(updated).toBe(
      `before\n<!-- results: bench/a.json -->\n${renderResults(results([rate]))}\n<!-- /results -->\nafter\n`,
    );
    expect(updatePage(updated, read)).toBe(updated);
  });

  it('keeps the line ends of a page checked out with CRLF', () => {
    const page = 'before\r\n<!-- results: bench/a.json -->\r\nold table\r\n<!-- /results -->\r\nafter\r\n';
    const updated = updatePage(page, read);
    expect(updated).toBe(
      page.replace(
        'old table\r\n',
        `${renderResults(results([rate]))
          .split('\n')
          .join('\r\n')}\r\n`,
      ),
    );
    expect(updated.replaceAll('\r\n', '')).not.toContain('\n');
  });

  it('refuses an opening marker without its closing one', () => {
    expect(() => updatePage('<!-- results: bench/a.json -->\nold table\n', read)).toThrow(
      /no "<!-- \/results -->"/,
    );
  });
});
