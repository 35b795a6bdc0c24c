/**
 * @internal What a test runner's summary in a Bash line's output shows, for a `test.run` whose line
 * status does not (`npm test 2>&1 | tail -20`: the status is tail's). See docs/bridge.md, "Test runs".
 *
 * The summaries read are those of vitest, jest, pytest, cargo test, mocha and `node --test`, as they print them (colours
 * removed). A summary that counts a failed test (or a test file, suite or error that failed) shows that a
 * test ran and failed, wherever it is in the output. A summary that shows tests passed is read as such
 * only where nothing can follow it unseen: the caller says when the output is all of it or its end
 * (`mayPass`), and the summary must be the output's only one and its end, with nothing after it but its
 * runner's own closing lines (and yarn's `Done in …`) (a later command's output, or a second runner's, would follow it). cargo's
 * and mocha's summaries are read for failures only: cargo prints one per test binary (a failed one may be
 * cut off above a passing one), and mocha counts its failures on a line of their own after its passes.
 */

/** A runner whose summary is read. */
export type SummaryRunner = 'vitest' | 'jest' | 'pytest' | 'cargo' | 'mocha' | 'node';

/** What a summary showed: a test that failed (`passed: false`), or tests that all passed. */
export interface SummaryReading {
  runner: SummaryRunner;
  passed: boolean;
}

// Colours and other SGR / cursor sequences, which vitest and jest print even into a pipe when asked to.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character starts the sequences
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
/** An output without any of these words has no summary (a quick test before reading its lines). */
const MAY_SUMMARIZE = /passed|failed|failing|error|[#ℹ] (?:fail|cancelled) /;
const LINE_BREAK = /\r?\n/;
/** A summary line is short: a longer line is not read (nor matched, whatever it holds). */
const LONGEST = 300;

// vitest: ` Test Files  1 failed | 1 passed (2)`, `      Tests  1 failed | 3 passed | 1 skipped (5)`,
// `     Errors  1 error` (unhandled errors: the run fails), then `   Start at  …` and `   Duration  …`.
const VITEST_FILES = /^\s*Test Files {2,}(.+)$/;
const VITEST_TESTS = /^\s*Tests {2,}(.+)$/;
const VITEST_ERRORS = /^\s*Errors {2,}(\d+) errors?\s*$/;
const VITEST_TRAILER = /^\s*(?:Start at|Duration) {2,}/;
// jest: `Test Suites: 1 failed, 1 passed, 2 total`, `Tests:       1 failed, 1 skipped, 2 passed, 4 total`,
// then `Snapshots:`, `Time:` and `Ran all test suites….`
const JEST_SUITES = /^Test Suites:\s+(.+), (?:\d+ of )?\d+ total$/;
const JEST_TESTS = /^Tests:\s+(.+), (?:\d+ of )?\d+ total$/;
const JEST_TRAILER = /^(?:Snapshots:|Time:|Ran all test suites)/;
// pytest: `==== 1 failed, 3 passed, 1 skipped in 1.14s ====`, or with -q `1 failed, 3 passed in 1.22s`.
const PYTEST = /^(?:=+ )?((?:\d+ \w+)(?:, \d+ \w+)*) in \d+(?:\.\d+)?s(?: \(\d+:\d\d:\d\d\))?(?: =+)?$/;
const PYTEST_PART = /^\d+ (?:passed|failed|skipped|deselected|xfailed|xpassed|errors?|warnings?|rerun)$/;
// node --test (its tap and spec reporters): `# pass 2` then `# fail 1` (`ℹ pass 2`, `ℹ fail 1`), then
// `cancelled`, `skipped`, `todo` and `duration_ms` lines (a cancelled test fails the run too).
const NODE_FAIL = /^(?:#|ℹ) (fail|cancelled) (\d+)$/;
const NODE_PASS = /^(?:#|ℹ) pass ([1-9]\d*)$/;
const NODE_TRAILER = /^(?:#|ℹ) (?:cancelled|skipped|todo|duration_ms) /;
// cargo: `test result: FAILED. 1 passed; 1 failed; …`; mocha: `  1 failing`.
const CARGO = /^test result: (ok|FAILED)\. \d+ passed; \d+ failed;/;
const MOCHA = /^\s*(\d+) (passing \(|failing$)/;

/** The counts of a summary's parts (`1 failed | 3 passed`, `1 failed, 3 passed`): by word. */
function countsOf(parts: string, separator: string): Map<string, number> | undefined {
  const counts = new Map<string, number>();
  for (const part of parts.split(separator)) {
    const match = /^\s*(\d+) ([a-z]+)/.exec(part);
    if (match === null) return undefined;
    counts.set(match[2]!, (counts.get(match[2]!) ?? 0) + Number(match[1]));
  }
  return counts;
}

/** A line's summary: a failure it counts, or the tests it counts as passed (`passes`). */
interface SummaryLine {
  runner: SummaryRunner;
  fails: boolean;
  /**
   * It counts a run's tests (vitest's and jest's `Tests` line, pytest's line, node's `fail`, cargo's and
   * mocha's lines): a pass is read only where the outputs have one such line.
   */
  decides: boolean;
  /** It decides, counts no failure and some passed tests. */
  passes: boolean;
  /** Lines that may follow it at the end of a run. */
  trailer: RegExp | undefined;
}

function failsOrPasses(
  runner: SummaryRunner,
  counts: Map<string, number> | undefined,
  failures: readonly string[],
  decides: boolean,
  trailer: RegExp | undefined,
): SummaryLine | undefined {
  if (counts === undefined) return undefined;
  const fails = failures.some((word) => (counts.get(word) ?? 0) > 0);
  const passes = decides && !fails && (counts.get('passed') ?? 0) > 0;
  return { runner, fails, decides, passes, trailer };
}

const VITEST_FAILURES = ['failed'];
const JEST_FAILURES = ['failed'];
const PYTEST_FAILURES = ['failed', 'error', 'errors'];

/** The summary on `line` (colours removed; `previous`, the line before it), if it is one. */
function summaryOf(line: string, previous: string | undefined): SummaryLine | undefined {
  let match = VITEST_TESTS.exec(line);
  if (match !== null) {
    // `Tests  no tests` (a file that failed to load) counts nothing: its `Test Files` line fails.
    const counts = countsOf(match[1]!.replace(/\s*\(\d+\)\s*$/, ''), '|');
    return failsOrPasses('vitest', counts, VITEST_FAILURES, true, VITEST_TRAILER);
  }
  match = VITEST_FILES.exec(line);
  if (match !== null) {
    const counts = countsOf(match[1]!.replace(/\s*\(\d+\)\s*$/, ''), '|');
    return failsOrPasses('vitest', counts, VITEST_FAILURES, false, undefined);
  }
  match = VITEST_ERRORS.exec(line);
  if (match !== null) {
    return {
      runner: 'vitest',
      fails: Number(match[1]) > 0,
      decides: false,
      passes: false,
      trailer: undefined,
    };
  }
  match = JEST_TESTS.exec(line);
  if (match !== null)
    return failsOrPasses('jest', countsOf(match[1]!, ','), JEST_FAILURES, true, JEST_TRAILER);
  match = JEST_SUITES.exec(line);
  if (match !== null) return failsOrPasses('jest', countsOf(match[1]!, ','), JEST_FAILURES, false, undefined);
  match = PYTEST.exec(line);
  if (match !== null) {
    const parts = match[1]!.split(', ');
    if (!parts.every((part) => PYTEST_PART.test(part))) return undefined;
    return failsOrPasses('pytest', countsOf(match[1]!, ','), PYTEST_FAILURES, true, undefined);
  }
  match = CARGO.exec(line);
  if (match !== null) {
    // A binary's `ok` may follow another's failure cut off above it: it never shows a pass.
    return {
      runner: 'cargo',
      fails: match[1] === 'FAILED',
      decides: true,
      passes: false,
      trailer: undefined,
    };
  }
  match = NODE_FAIL.exec(line);
  if (match !== null) {
    const count = Number(match[2]);
    if (match[1] === 'cancelled') {
      return { runner: 'node', fails: count > 0, decides: false, passes: false, trailer: undefined };
    }
    // `fail 0` right after `pass N`: the run's count of tests that passed and failed.
    const passes = count === 0 && previous !== undefined && NODE_PASS.test(previous);
    return { runner: 'node', fails: count > 0, decides: true, passes, trailer: NODE_TRAILER };
  }
  match = MOCHA.exec(line);
  if (match !== null) {
    const fails = match[2] === 'failing' && Number(match[1]) > 0;
    // `N passing` comes before `N failing`, on a line of its own: it never shows a pass.
    return { runner: 'mocha', fails, decides: true, passes: false, trailer: undefined };
  }
  return undefined;
}

/**
 * What the test runners' summaries in `outputs` (a Bash line's streams: its output, or stdout and
 * stderr) show: a test that failed, wherever its summary is; or, when `mayPass` (each output is all
 * that its stream printed, or its end), tests that passed, when exactly one summary that counts a run's
 * tests is in the outputs (a second run's, cargo's or mocha's counts too), it is one that can show a
 * pass (vitest's or jest's `Tests` line, pytest's, node's `fail 0`), and it ends its output (see
 * `endsOutput`). Else `undefined`. Lines longer than `LONGEST` are no summary.
 */
export function readTestSummary(
  outputs: ReadonlyArray<string | undefined>,
  mayPass: boolean,
): SummaryReading | undefined {
  let passing: SummaryReading | undefined;
  /** Summaries that count a run's tests: a passing one decides only if it is the only one. */
  let deciding = 0;
  for (const output of outputs) {
    if (output === undefined || !MAY_SUMMARIZE.test(output)) continue;
    const lines = output.replace(ANSI, '').split(LINE_BREAK);
    let last: SummaryLine | undefined;
    let lastAt = -1;
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.length > LONGEST) continue;
      const summary = summaryOf(lines[i]!, i > 0 ? lines[i - 1] : undefined);
      if (summary === undefined) continue;
      if (summary.fails) return { runner: summary.runner, passed: false };
      if (!summary.decides) continue;
      deciding++;
      last = summary;
      lastAt = i;
    }
    if (last?.passes && endsOutput(lines, lastAt, last.trailer)) {
      passing = { runner: last.runner, passed: true };
    }
  }
  return mayPass && deciding === 1 ? passing : undefined;
}

// What yarn (v1) prints after a script that succeeded: `Done in 1.15s.` (`✨  Done in …` on a terminal).
const YARN_DONE = /^(?:✨\s+)?Done in \d+(?:\.\d+)?m?s\.$/;

/**
 * Whether only lines of `trailer`, blank ones, and a package manager's closing line (yarn's `Done in …`,
 * the last) follow line `at` of `lines`.
 */
function endsOutput(lines: readonly string[], at: number, trailer: RegExp | undefined): boolean {
  let end = lines.length;
  while (end > at + 1 && lines[end - 1]!.trim() === '') end--;
  if (end > at + 1 && YARN_DONE.test(lines[end - 1]!.trim())) end--;
  for (let i = at + 1; i < end; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (trailer === undefined || !trailer.test(line)) return false;
  }
  return true;
}
