/**
 * @internal What a test runner's summary in a Bash line's output shows, for a `test.run` whose line
 * status does not (`npm test 2>&1 | tail -20`: the status is tail's). See docs/bridge.md, "The runner's
 * summary".
 *
 * The summaries read are those of vitest, jest, pytest, cargo test, mocha, `node --test`, `go test`, rspec,
 * playwright test, Maven Surefire, deno, PHPUnit, minitest, bun, dotnet, Gradle and swift test (and turbo's
 * count of its tasks), as they print them (colours
 * removed), each line by itself but go's:
 *
 * - vitest: a failure is `N failed` on its `Test Files`, `Tests` or `Type Errors` line, or
 *   `Errors  N error`; a pass `Tests  N passed` right after `Test Files  N passed`, then only
 *   `Type Errors  no errors` (`--typecheck`), `Leaks  N leaks` (`--detectAsyncLeaks`), `Start at` and
 *   `Duration`;
 * - jest: a failure is `N failed` on its `Test Suites:` or `Tests:` line; a pass
 *   `Tests: N passed, N total` right after `Test Suites: N passed, …`, then only `Snapshots:`, `Time:`
 *   and `Ran all test suites`;
 * - pytest: a failure is `N failed`, `N error` or `N subtests failed` on its last line; a pass
 *   `N passed in 1.2s` (`, N subtests passed`; `in 86401.00s (1 day, 0:00:01)`) without a `!!! … !!!` line
 *   (a session cut short) before it;
 * - node --test: a failure is `# fail N` or `# cancelled N` (`ℹ …` with the spec reporter); a pass
 *   `# fail 0` right after `# pass N`, then only `# cancelled`, `# skipped`, `# todo`, `# duration_ms`;
 * - cargo: a failure is `test result: FAILED.` or `error: test failed, to rerun pass `--lib`` (a binary that
 *   died prints no result); never a pass (it prints one line per test binary);
 * - mocha: a failure is `N failing`; never a pass (its failures come on a line after its passes);
 * - go test: a failure is `--- FAIL: Test…`, `FAIL⇥pkg…` or `FAIL` alone (the end of a run with a package
 *   that failed) in an output with a line only go prints (`ok⇥pkg`, `?⇥pkg`, `FAIL⇥pkg`, `--- FAIL`); it
 *   prints no count, so a pass is an output of go's lines alone, at least one of them `ok⇥pkg⇥0.01s` for a
 *   package whose tests ran (not `[no tests to run]`): `?⇥pkg⇥[no test files]` (`⇥pkg⇥⇥coverage: 0.0% of
 *   statements` with `-cover` since go 1.22), `PASS`, `coverage: …`, `go: downloading …` and, with `-v`,
 *   `=== RUN …`, `--- PASS: …`, `--- SKIP: …` and indented lines (a test's log). A line of anything else (a
 *   test's own print, a panic) is none. With `-bench`, `ok` may be a package none of whose tests ran: the
 *   caller reads no pass then (`toEvents`);
 * - rspec: a failure is `N examples, N failures` with failures, or `N errors occurred outside of
 *   examples` (a spec file that failed to load); a pass `N examples, 0 failures` (and `, N pending`, fewer
 *   than the examples), then only `Randomized with seed N`, and not in a run an interrupt cut short
 *   (`RSpec is shutting down and will print the summary report…`, on stderr: the examples left out are not
 *   counted). `rspec --dry-run`, which counts examples it does not run, is no test run (`toEvents`);
 * - playwright: a failure is `  N failed` or `  N interrupted` (above the first test it counts), or
 *   `  N error(s) was/were not a part of any test` (after its `passed` line); a pass `  N passed (1.2s)`,
 *   its last line of counts (`flaky` and `skipped` tests come before it; not with `did not run`), then
 *   only the html reporter's lines;
 * - maven (Surefire): a failure is `Tests run: 2, Failures: 1, Errors: 0, Skipped: 0` with failures or
 *   errors, its count of a module's tests; a pass the same with none and fewer skipped than run, then only
 *   `BUILD SUCCESS` and Maven's lines around it (a build of several modules counts each module's tests);
 * - cargo nextest: a failure is its `Summary [   0.1s] 3 tests run: 2 passed, 1 failed, 0 skipped` with `N
 *   failed`, `N timed out` or `N exec failed`; a pass the same with only `passed` (`(1 flaky)`) and `skipped`
 *   counts, all its tests run, then only its `FLAKY` and `SLOW` lines. A test's output that it prints (a
 *   try's `test result: FAILED.`) is not read;
 * - turbo: a pass is its count of tasks all successful, `Tasks:    2 successful, 2 total`, where no task
 *   printed a line (`--output-logs=errors-only`), then only `Cached:` and `Time:`; never a failure.
 * - deno: a failure is `FAILED | 1 passed | 1 failed (21ms)`; a pass `ok | 2 passed | 0 failed (25ms)`;
 * - phpunit: a failure is `Tests: 2, Assertions: 2, Failures: 1.` (or `Errors: N`); a pass
 *   `OK (2 tests, 2 assertions)`, or its counts with neither right after `OK, but …` (fewer skipped and
 *   incomplete than tests);
 * - minitest: a failure is `2 runs, 2 assertions, 1 failures, 0 errors, 0 skips` with failures or errors;
 *   a pass the same with none and fewer skips than runs, then only `You have skipped tests. …`;
 * - bun: a failure is ` 1 fail` above another of its counts or its `Ran N tests across …`; never a pass;
 * - dotnet: a failure is `Failed!  - Failed:     1, Passed:     1, …`, a pass `Passed!  - Failed:     0, …`
 *   (one line per test project: a later one's pass settles no failure);
 * - gradle: a failure is `3 tests completed, 1 failed`; never a pass (it prints no count then);
 * - swift: a failure is XCTest's `Executed 2 tests, with 1 failure (0 unexpected) in …` or Swift Testing's
 *   `✘ Test run with 2 tests failed after …`; never a pass (each framework prints its own).
 *
 * A failure shows a test ran and failed, unless a later run of the same runner in the same output
 * passed (`npm test || npm test`, a retry; or the next package of `npm test --workspaces`, which goes on
 * after a failure): the line's last word on its tests is then no failure, and its outcome unknown (never a
 * pass: the failed run counts as a run, whatever its lines counted). Another runner's pass settles nothing.
 * A pass is read only from an output that is all its stream printed (`whole`: the caller knows, say,
 * that `tail -20` kept so few lines that it cut nothing off), where it is the only count of a run's
 * tests (a second run, a first package of a workspace, may have failed), with nothing after it but the
 * lines that may follow it, blank ones, and yarn's `Done in 1.15s.` (a later command's or runner's
 * output would). Lines a monorepo tool prefixed with each package's task (turbo, pnpm -r, nx) are read
 * task by task (`readPrefixed`). Only the last `LAST_LINES` lines of an output are read, and only lines
 * of at most `LONGEST` characters.
 */

/** A runner whose summary is read. */
export type SummaryRunner =
  | 'vitest'
  | 'jest'
  | 'pytest'
  | 'cargo'
  | 'mocha'
  | 'node'
  | 'go'
  | 'rspec'
  | 'playwright'
  | 'maven'
  | 'nextest'
  | 'turbo'
  | 'deno'
  | 'phpunit'
  | 'minitest'
  | 'bun'
  | 'dotnet'
  | 'gradle'
  | 'swift';

/** What a summary showed: a test that failed (`passed: false`), or tests that all passed. */
export interface SummaryReading {
  runner: SummaryRunner;
  passed: boolean;
}

/** One of a Bash line's streams (its output, or its stdout or stderr) as Claude Code reported it. */
export interface TestOutput {
  text: string | undefined;
  /** It is all that its stream printed: nothing cut off above (a pass can be read from it). */
  whole: boolean;
}

// Colours and other SGR / cursor sequences, which vitest and jest print even into a pipe when asked to.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character starts the sequences
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
/** An output without any of these words has no summary (a quick test before reading its lines). */
const MAY_SUMMARIZE =
  /passed|failed|failing|error|interrupted|[#ℹ] (?:fail|cancelled) |examples?, \d|successful, \d|Tests run: \d|^(?:ok {2}\t|FAIL\b|\s*--- FAIL)|^OK \(|^Tests: \d|failures, \d|^ \d+ fail$|[Ee]xecuted \d|^(?:Passed|Failed)! /m;
/**
 * A line ends at a newline, with the carriage returns before it (CRLF; CR CR LF), or at a carriage return
 * alone: what follows it is written over the line, and what shows (a CRLF output whose last LF was cut).
 */
const LINE_BREAK = /\r*\n|\r/;
/**
 * How many of an output's last lines are read: a run's summary is at its end. A pass is read only from
 * an output that has no more.
 */
export const LAST_LINES = 1_000;
/** A summary line is short: a longer line is not read (nor matched, whatever it holds). */
const LONGEST = 300;
/**
 * A mark where the middle of a long output was cut out: Claude Code's, or the bridge's in a payload over
 * the size limit read with its long strings cut (`cutMark` in cut.ts).
 */
const TRUNCATED = /\[\d+ characters truncated\]|…\[cut: \d+ characters in all, /;

const VITEST_FILES = /^\s*Test Files {2,}(.+)$/;
const VITEST_TESTS = /^\s*Tests {2,}(.+)$/;
const VITEST_TYPE_ERRORS = /^\s*Type Errors {2,}(.+)$/;
const VITEST_ERRORS = /^\s*Errors {2,}(\d+) errors?\s*$/;
/**
 * After `Tests`: `Type Errors  no errors` (with `--typecheck`; `N failed` is a failure), `Leaks  N leaks`
 * (`--detectAsyncLeaks`: resources a test file left open, which fail no test and leave the exit code 0),
 * `Start at`, `Duration`.
 */
const VITEST_AFTER =
  /^\s*(?:Start at {2,}|Duration {2,}|Type Errors {2,}no errors\s*$|Leaks {2,}\d+ leaks?\s*$)/;
const JEST_SUITES = /^Test Suites:\s+(.+), (?:\d+ of )?\d+ total$/;
const JEST_TESTS = /^Tests:\s+(.+), (?:\d+ of )?\d+ total$/;
const JEST_AFTER = /^(?:Snapshots:|Time:|Ran all test suites)/;
const PYTEST =
  /^(?:=+ )?((?:\d+ \w+(?: \w+)?)(?:, \d+ \w+(?: \w+)?)*) in \d+(?:\.\d+)?s(?: \((?:\d+ days?, )?\d+:\d\d:\d\d\))?(?: =+)?$/;
/** A part of pytest's last line; `N subtests passed` (pytest 9, pytest-subtests) counts subtests. */
const PYTEST_PART =
  /^\d+ (?:passed|failed|skipped|deselected|xfailed|xpassed|errors?|warnings?|rerun|subtests? (?:passed|failed|skipped|xfailed|xpassed))$/;
/** Subtests that failed: a failure, whatever the count of their tests (pytest-subtests counts them apart). */
const PYTEST_SUBTESTS_FAILED = /^([1-9]\d*) subtests? failed$/;
/** pytest's banner of a session cut short: `!!! Interrupted: … !!!`, `!!! _pytest.outcomes.Exit: … !!!`. */
const PYTEST_CUT_SHORT = /^!{3,} .* !{3,}$/;
/**
 * rspec's word that an interrupt (SIGINT) stopped its run: the summary it prints then counts only the
 * examples that ran, `0 failures` when none of them failed. It prints it on stderr, its summary on stdout.
 */
const RSPEC_CUT_SHORT = /^RSpec is shutting down and will print the summary report\b/m;
const NODE_FAIL = /^(?:#|ℹ) (fail|cancelled) (\d+)$/;
const NODE_PASS = /^(?:#|ℹ) pass [1-9]\d*$/;
const NODE_AFTER = /^(?:#|ℹ) (?:cancelled|skipped|todo|duration_ms) /;
const CARGO = /^test result: (ok|FAILED)\. \d+ passed; \d+ failed;/;
/**
 * cargo's word that a test binary failed: after its `test result: FAILED.`, or alone when the binary died
 * (a panic that aborts, a signal: `Caused by: process didn't exit successfully: … (signal: 6, SIGABRT…)`),
 * which prints no result; with `--no-fail-fast`, its count of them at the end.
 */
const CARGO_FAILED = /^error: (?:(?:test|doctest) failed, to rerun pass `[^`]+`|\d+ targets? failed:)$/;
const MOCHA = /^\s*(\d+) (passing \(|failing$)/;
/**
 * cargo nextest's summary: ` Summary [   0.021s] 14 tests run: 14 passed, 177 skipped`, its counts after
 * the colon (`1 passed (1 flaky)`, `1 failed (1 due to being leaky)`; `10/51 tests run` when it stopped
 * early).
 */
const NEXTEST = /^\s*Summary \[\s*\d+(?:\.\d+)?s\] (\d+)(\/\d+)? tests? run: (.+)$/;
/** A count of nextest's summary that is a failure (`timed out`, `exec failed`: tests that did not pass). */
const NEXTEST_FAILED = /^[1-9]\d* (?:failed|timed out|exec failed)\b/;
/** A count that leaves a pass unread unless it is one of these (`N passed (1 flaky)`, `N skipped`). */
const NEXTEST_PART = /^\d+ (?:passed|skipped)(?: \(\d+ (?:flaky|slow|leaky)\))?$/;
/** What nextest prints after a pass: the flaky and slow tests again, `   FLAKY 2/3 [   0.002s] crate test`. */
const NEXTEST_AFTER = /^ +(?:FLAKY \d+\/\d+|SLOW|LEAK) \[[ >]*\d+(?:\.\d+)?s\] \S/;
/**
 * The header of a test's output that an older nextest printed as it is (`--- TRY 1 STDOUT:  crate test ---`):
 * until nextest's next line of its own (a test's status, its `------------`), the lines are the test's,
 * cargo's `test result: FAILED.` of a try that a retry passed among them; none is read. A later nextest
 * indents them.
 */
const NEXTEST_CAPTURED = /^--- (?:TRY \d+ )?STD(?:OUT|ERR): .* ---$/;
const NEXTEST_OWN = /^(?: +(?:TRY \d+ )?[A-Z][A-Z-]* \[[ >]*\d+(?:\.\d+)?s\] |-{12,}$|─{12,}$)/;
const RSPEC =
  /^(\d+) examples?, (\d+) failures?(?:, (\d+) pending)?(?:, (\d+) errors? occurred outside of examples)?$/;
const RSPEC_AFTER = /^Randomized with seed \d+$/;
/**
 * Maven Surefire's count of a module's tests, under `Results:` (`[WARNING]` with tests skipped, `[ERROR]`
 * with a failure); not its count of a test class, which ends in `, Time elapsed: 0.1 s -- in app.CalcTest`.
 */
const MAVEN =
  /^\[(?:INFO|WARNING|ERROR)\] Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)(?:, Flakes: \d+)?$/;
/** What Maven prints after it, at the end of a build that succeeded. */
const MAVEN_AFTER = /^\[INFO\] (?:-{20,}|BUILD SUCCESS|Total time: .*|Finished at: .*|)$/;
const PLAYWRIGHT_RUNNING = /^Running \d+ tests? using \d+ workers?\b/;
const PLAYWRIGHT_FAILED = /^ {2}(\d+) (?:failed|interrupted)$/;
/**
 * What follows playwright's `N failed` (`N interrupted`): the first of the tests it counts, indented by 4
 * (`    [chromium] › a.spec.ts:3:1 › opens ───…`, without a project `    a.spec.ts:3:1 › opens ───…`). A
 * line `  1 failed` without it (or a count of `PLAYWRIGHT_NEXT_COUNT`) is not playwright's (a test's print,
 * another tool's count).
 */
const PLAYWRIGHT_TEST = /^ {4}\S.*?:\d+:\d+ › /;
/**
 * Or another of playwright's counts right below it: its tests filtered out (`| grep -E "passed|failed"`
 * keeps `  1 failed` above `  2 passed (1.2s)`), a failure still, as it was read before the test line was
 * asked for. A test's print of `  1 failed` is not followed by one.
 */
const PLAYWRIGHT_NEXT_COUNT =
  /^ {2}\d+ (?:interrupted|flaky|skipped|did not run|passed \(\d+(?:\.\d+)?(?:ms|s|m|h)\))$/;
/** Tests a run left out (after a failure, at `--max-failures`): a count that leaves a pass unread. */
const PLAYWRIGHT_NOT_RUN = /^ {2}\d+ did not run$/;
const PLAYWRIGHT_ERRORS = /^ {2}(\d+) errors? (?:was|were) not a part of any test\b/;
const PLAYWRIGHT_PASSED = /^ {2}(\d+) passed \(\d+(?:\.\d+)?(?:ms|s|m|h)\)$/;
/**
 * turbo's count of its tasks (` Tasks:    2 successful, 2 total`): a pass when every one succeeded (exited
 * 0), read only where no task's lines were printed (`--output-logs=errors-only`, whose tasks that
 * succeed print nothing); with them, their runners' summaries are read (`readPrefixed`). Its failures are
 * not read: a failed task (`Failed:    web#build`) may have run no test.
 */
const TURBO_TASKS = /^\s*Tasks: {4}(\d+) successful, (\d+) total$/;
/** What turbo prints after its count of tasks (`Time:` ends in ` >>> FULL TURBO` when all were cached). */
const TURBO_AFTER = /^\s*(?:Cached: {4}\d+ cached, \d+ total|Time: {4}\d.*)$/;
/**
 * deno test's summary: `ok | 2 passed | 0 failed (25ms)`, `FAILED | 1 passed | 1 failed (21ms)` (`(N steps)`
 * after a count, `| N ignored`, `| N measured`, `| N filtered out` after the failed one).
 */
const DENO =
  /^(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| \d+ (?:ignored|measured|filtered out)(?: \(\d+ steps?\))?)* \(\d[\w.]*\)$/;
/** PHPUnit's pass with nothing to report: `OK (2 tests, 2 assertions)`. */
const PHPUNIT_OK = /^OK \((\d+) tests?, \d+ assertions?\)$/;
/**
 * PHPUnit's counts of a run with something to report, `Tests: 2, Assertions: 2, Failures: 1.` (after
 * `FAILURES!`, `ERRORS!`; after `OK, but …` when tests were skipped, incomplete or risky).
 */
const PHPUNIT_COUNTS = /^Tests: (\d+), Assertions: \d+((?:, [A-Z][A-Za-z ]*: \d+)*)\.$/;
const PHPUNIT_BUT_OK = /^OK, but /;
/** minitest's (and `rails test`'s) last line: `2 runs, 2 assertions, 1 failures, 0 errors, 0 skips`. */
const MINITEST = /^(\d+) (?:runs|tests), \d+ assertions, (\d+) failures, (\d+) errors, (\d+) skips$/;
/** What minitest prints after it when tests were skipped. */
const MINITEST_AFTER = /^You have skipped tests\. Run with --verbose for details\.$/;
/**
 * bun test's count of tests that failed (` 1 fail`), read only above another of its counts (` 2 expect()
 * calls`, ` 1 error`) or its `Ran 2 tests across 1 file. [36.00ms]`: a test's own print of ` 1 fail` is not
 * followed by one. Its pass is not read (its counts are on lines of their own; ` N skip` ones did not run).
 */
const BUN_FAIL = /^ ([1-9]\d*) fail$/;
const BUN_NEXT =
  /^(?: \d+ (?:pass|fail|skip|todo|errors?|expect\(\) calls?|snapshots?\b.*)|Ran \d+ tests? across \d+ files?\. .*)$/;
/**
 * dotnet test's count of a test project's run (VSTest): `Passed!  - Failed:     0, Passed:     2, Skipped:
 * 0, Total:     2, Duration: 5 ms - App.Tests.dll (net8.0)`, `Failed!  - Failed:     1, …`. One line per
 * project (and target framework): several are several runs.
 */
const DOTNET =
  /^(Passed|Failed)! +- Failed: +(\d+), Passed: +(\d+), Skipped: +(\d+), Total: +\d+, Duration: .+$/;
/** Gradle's count of a test task's tests when one failed: `3 tests completed, 1 failed` (`, 1 skipped`). */
const GRADLE_FAILED = /^(\d+) tests? completed, ([1-9]\d*) failed(?:, \d+ skipped)?$/;
/**
 * swift test's failures: XCTest's count of a suite's tests (`Executed 2 tests, with 1 failure (0
 * unexpected) in 0.005 (0.006) seconds`, `Total executed …` on Linux), Swift Testing's end of a run that
 * failed (`✘ Test run with 2 tests failed after 0.001 seconds with 1 issue.`). Its pass is not read: both
 * frameworks print one, each of its own tests.
 */
const SWIFT_FAILED =
  /^\s*(?:(?:Total e|E)xecuted \d+ tests?, with ([1-9]\d*) failures? \(\d+ unexpected\) in |[✘􀢄] Test run with \d+ tests? failed after )/u;
/** What the html reporter prints after a run (when it does not open the report). */
const PLAYWRIGHT_AFTER = /^\s*(?:To open last HTML report run:|npx playwright show-report\b.*)$/;
/** go's line of a package whose tests passed; group 1 when none ran. */
const GO_OK =
  /^ok {2}\t\S+\t(?:\(cached\)|\d+(?:\.\d+)?s)(?:\tcoverage: (?:\d+(?:\.\d+)?% of statements(?: in \S+)?|\[no statements\]))?( \[no tests to run\])?$/;
/** go's line of a package that failed, or of a test that did (a subtest's indented). */
const GO_FAIL = /^(?:FAIL\t|\s*--- FAIL: )/;
/**
 * A line only go prints (a package's result, a test's failure): with one, the output's `FAIL` alone is go's
 * end of a run with a package that failed, not a word a test of another runner printed (vitest's
 * `stdout | a.test.ts > reports` then `FAIL`).
 */
const GO_LINE = /^(?:(?:FAIL|ok {2}|\? {3})\t|\s*--- FAIL: )/;
/**
 * The other lines of a go run that passed (see the module's comment); with `-cover`, go 1.22 and later print
 * `⇥pkg⇥⇥coverage: 0.0% of statements` for a package without test files.
 */
const GO_PASSING =
  /^(?:\? {3}\t\S+\t\[no test files\]|\t\S+\t\tcoverage: \d+(?:\.\d+)?% of statements(?: in \S+)?|PASS|coverage: .*|go: downloading .*|=== (?:RUN|PAUSE|CONT|NAME) .*|\s*--- (?:PASS|SKIP): .*| {4}.*|\s*)$/;
/** What yarn (v1) prints after a script that succeeded (`✨  Done in …` on a terminal). */
const YARN_DONE = /^(?:✨\s+)?Done in \d+(?:\.\d+)?m?s\.$/;

/**
 * The counts of a summary's parts (`1 failed | 3 passed`, `1 failed, 3 passed`), by word: each part's
 * number and the word after it (what follows, vitest's total `(4)`, is not read).
 */
function countsOf(parts: string, separator: string): Map<string, number> | undefined {
  const counts = new Map<string, number>();
  for (const part of parts.split(separator)) {
    const match = /^\s*(\d+) ([a-z]+)/.exec(part);
    if (match === null) return undefined;
    counts.set(match[2]!, (counts.get(match[2]!) ?? 0) + Number(match[1]));
  }
  return counts;
}

function counted(counts: Map<string, number> | undefined, word: string): number {
  return counts?.get(word) ?? 0;
}

/** What one line of an output says (see the list above). */
interface SummaryLine {
  runner: SummaryRunner;
  fails: boolean;
  /** The run's count of its tests: a pass is read only from an output with one such line. */
  countsRun: boolean;
  /** A count of the run's tests that shows a pass. */
  passes: boolean;
  /** The lines that may follow it at the end of its run. */
  after: RegExp | undefined;
  /** The first line of a run (of a runner in `STARTS_RUNS`). */
  opens?: boolean;
}

/**
 * Runners whose summary has its failures and its pass on lines of their own (playwright's `2 failed`, then
 * `3 passed (1.2s)`), and that print a line at the start of a run: a pass settles a failure only in a run
 * that started after it.
 */
const STARTS_RUNS: ReadonlySet<SummaryRunner> = new Set(['playwright']);
/**
 * Runners that count each part of a run on a line of its own (dotnet: each test project of a solution,
 * `Failed!  - …` for one, then `Passed!  - …` for the next): a later part's pass settles no failure.
 */
const COUNTS_PARTS: ReadonlySet<SummaryRunner> = new Set(['dotnet']);

function line(
  runner: SummaryRunner,
  fails: boolean,
  countsRun: boolean,
  passes: boolean,
  after?: RegExp,
): SummaryLine {
  return { runner, fails, countsRun, passes, after };
}

/** Whether `text` (a line) is a count of the run's files or suites (`regex`'s) with none failed. */
function nonePrior(text: string | undefined, regex: RegExp, separator: string): boolean {
  const match = text === undefined ? null : regex.exec(text);
  if (match === null) return false;
  const counts = countsOf(match[1]!, separator);
  return counts !== undefined && counted(counts, 'failed') === 0 && counted(counts, 'passed') > 0;
}

/**
 * The summary on `text` (a line, colours removed; `previous`, `next`: the lines before and after it; `go`:
 * whether the output has a line only go prints; `nextest`: whether it has nextest's summary), if it is one.
 */
function summaryOf(
  text: string,
  previous: string | undefined,
  next: string | undefined,
  go: boolean,
  nextest: boolean,
): SummaryLine | undefined {
  let match = VITEST_TESTS.exec(text);
  if (match !== null) {
    // `Tests  no tests` (a file that failed to load) counts nothing: its `Test Files` line fails.
    const counts = countsOf(match[1]!, '|');
    if (counts === undefined) return undefined;
    const fails = counted(counts, 'failed') > 0;
    // A file that failed to load (or whose hook threw) shows only on the `Test Files` line just above.
    const passes = !fails && counted(counts, 'passed') > 0 && nonePrior(previous, VITEST_FILES, '|');
    return line('vitest', fails, true, passes, VITEST_AFTER);
  }
  match = VITEST_FILES.exec(text) ?? VITEST_TYPE_ERRORS.exec(text);
  if (match !== null) {
    const counts = countsOf(match[1]!, '|');
    return counts === undefined ? undefined : line('vitest', counted(counts, 'failed') > 0, false, false);
  }
  match = VITEST_ERRORS.exec(text);
  if (match !== null) return line('vitest', Number(match[1]) > 0, false, false);
  match = JEST_TESTS.exec(text);
  if (match !== null) {
    const counts = countsOf(match[1]!, ',');
    if (counts === undefined) return undefined;
    const fails = counted(counts, 'failed') > 0;
    // Likewise a suite that failed to run shows only on the `Test Suites:` line just above.
    const passes = !fails && counted(counts, 'passed') > 0 && nonePrior(previous, JEST_SUITES, ',');
    return line('jest', fails, true, passes, JEST_AFTER);
  }
  match = JEST_SUITES.exec(text);
  if (match !== null) {
    const counts = countsOf(match[1]!, ',');
    return counts === undefined ? undefined : line('jest', counted(counts, 'failed') > 0, false, false);
  }
  match = PYTEST.exec(text);
  if (match !== null) {
    if (!match[1]!.split(', ').every((part) => PYTEST_PART.test(part))) return undefined;
    const counts = countsOf(match[1]!, ',');
    const fails =
      counted(counts, 'failed') + counted(counts, 'error') + counted(counts, 'errors') > 0 ||
      match[1]!.split(', ').some((part) => PYTEST_SUBTESTS_FAILED.test(part));
    const passes = !fails && counted(counts, 'passed') > 0;
    return line('pytest', fails, true, passes);
  }
  match = NODE_FAIL.exec(text);
  if (match !== null) {
    const count = Number(match[2]);
    if (match[1] === 'cancelled') return line('node', count > 0, false, false);
    const passes = count === 0 && previous !== undefined && NODE_PASS.test(previous);
    return line('node', count > 0, true, passes, NODE_AFTER);
  }
  match = CARGO.exec(text);
  // nextest prints no such line of its own: in its output, one is a test's (a try that a retry passed,
  // its header cut off), and counts a run but no failure.
  if (match !== null) return line('cargo', match[1] === 'FAILED' && !nextest, true, false);
  if (CARGO_FAILED.test(text)) return line('cargo', true, false, false);
  match = NEXTEST.exec(text);
  if (match !== null) {
    const parts = match[3]!.split(', ');
    const fails = parts.some((part) => NEXTEST_FAILED.test(part));
    const passes =
      !fails &&
      match[2] === undefined &&
      parts.every((part) => NEXTEST_PART.test(part)) &&
      /^[1-9]\d* passed/.test(parts[0]!);
    return line('nextest', fails, true, passes, NEXTEST_AFTER);
  }
  match = MOCHA.exec(text);
  if (match !== null) return line('mocha', match[2] === 'failing' && Number(match[1]) > 0, true, false);
  match = RSPEC.exec(text);
  if (match !== null) {
    const fails = Number(match[2]) > 0 || Number(match[4] ?? 0) > 0;
    // Pending examples did not run (or ran expecting to fail): at least one other must have.
    const passes = !fails && Number(match[1]) > Number(match[3] ?? 0);
    return line('rspec', fails, true, passes, RSPEC_AFTER);
  }
  match = MAVEN.exec(text);
  if (match !== null) {
    const fails = Number(match[2]) + Number(match[3]) > 0;
    // Skipped tests did not run: at least one other must have.
    return line('maven', fails, true, !fails && Number(match[1]) > Number(match[4]), MAVEN_AFTER);
  }
  if (PLAYWRIGHT_RUNNING.test(text)) return PLAYWRIGHT_START;
  match = PLAYWRIGHT_FAILED.exec(text);
  if (
    match !== null &&
    next !== undefined &&
    (PLAYWRIGHT_TEST.test(next) || PLAYWRIGHT_NEXT_COUNT.test(next))
  ) {
    return line('playwright', Number(match[1]) > 0, false, false);
  }
  match = PLAYWRIGHT_ERRORS.exec(text);
  if (match !== null) return line('playwright', Number(match[1]) > 0, false, false);
  if (PLAYWRIGHT_NOT_RUN.test(text)) return line('playwright', false, true, false);
  match = PLAYWRIGHT_PASSED.exec(text);
  if (match !== null) return line('playwright', false, true, Number(match[1]) > 0, PLAYWRIGHT_AFTER);
  match = TURBO_TASKS.exec(text);
  if (match !== null) {
    const passes = Number(match[1]) > 0 && match[1] === match[2];
    return line('turbo', false, true, passes, TURBO_AFTER);
  }
  match = DENO.exec(text);
  if (match !== null) {
    const fails = match[1] === 'FAILED' || Number(match[3]) > 0;
    return line('deno', fails, true, !fails && Number(match[2]) > 0);
  }
  match = PHPUNIT_OK.exec(text);
  if (match !== null) return line('phpunit', false, true, Number(match[1]) > 0);
  match = PHPUNIT_COUNTS.exec(text);
  if (match !== null) {
    const counts = new Map(
      match[2]!
        .split(', ')
        .slice(1)
        .map((part) => part.split(': ') as [string, string]),
    );
    const fails = Number(counts.get('Failures') ?? 0) + Number(counts.get('Errors') ?? 0) > 0;
    // Skipped and incomplete tests are counted in `Tests` and did not pass: at least one other must have.
    const ran = Number(match[1]) - Number(counts.get('Skipped') ?? 0) - Number(counts.get('Incomplete') ?? 0);
    const passes = !fails && previous !== undefined && PHPUNIT_BUT_OK.test(previous) && ran > 0;
    return line('phpunit', fails, true, passes);
  }
  match = MINITEST.exec(text);
  if (match !== null) {
    const fails = Number(match[2]) + Number(match[3]) > 0;
    // Skipped tests did not run: at least one other must have.
    return line('minitest', fails, true, !fails && Number(match[1]) > Number(match[4]), MINITEST_AFTER);
  }
  if (BUN_FAIL.test(text) && next !== undefined && BUN_NEXT.test(next))
    return line('bun', true, false, false);
  match = DOTNET.exec(text);
  if (match !== null) {
    const fails = match[1] === 'Failed' || Number(match[2]) > 0;
    return line('dotnet', fails, true, !fails && Number(match[3]) > 0);
  }
  if (GRADLE_FAILED.test(text)) return line('gradle', true, false, false);
  if (SWIFT_FAILED.test(text)) return line('swift', true, false, false);
  // A package's `ok` settles an earlier failure (a retry); a run with a failed package ends in `FAIL`.
  if (GO_FAIL.test(text) || (go && text === 'FAIL')) return line('go', true, false, false);
  if (GO_OK.test(text)) return line('go', false, false, true);
  return undefined;
}

/** A go run that passed. */
const GO_RUN = line('go', false, true, true);
/** The start of a playwright run (`Running 3 tests using 2 workers`). */
const PLAYWRIGHT_START: SummaryLine = { ...line('playwright', false, false, false), opens: true };

/** What one output's summaries show. */
interface OutputReading {
  /** A failure that no later passing run of its runner in the output settled. */
  failure: SummaryLine | undefined;
  /** The lines that count a run's tests. */
  runs: number;
  /** The last of them, when it passes and ends the output (only what may follow it after it). */
  pass: SummaryLine | undefined;
}

/** Where the last `LAST_LINES` lines of `text` start (0: it has no more). */
function lastLinesStart(text: string): number {
  let start = text.length;
  for (let n = 0; n < LAST_LINES; n++) {
    const newline = start > 0 ? text.lastIndexOf('\n', start - 1) : -1;
    if (newline < 0) return 0;
    start = newline;
  }
  return start + 1;
}

function readOutput(lines: readonly string[]): OutputReading {
  // Each runner's failure that no later pass of its own settled: a pass of one runner settles none of
  // another's (`jest` failed, then `vitest run || vitest run` failed and passed: jest's stands).
  const failures = new Map<SummaryRunner, SummaryLine>();
  let runs = 0;
  let last: SummaryLine | undefined;
  let lastAt = -1;
  let cutShort = false;
  // The runners of which a run started after their failure (see `STARTS_RUNS`).
  const reopened = new Set<SummaryRunner>();
  // Whether every line is one of a go run that passed, and one of them an `ok` of a package whose tests ran.
  let goLines = true;
  let goTests = false;
  const go = lines.some((text) => GO_LINE.test(text));
  const nextest = lines.some((text) => NEXTEST.test(text));
  // Inside a test's output that nextest printed as it is (see `NEXTEST_CAPTURED`).
  let captured = false;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (NEXTEST_CAPTURED.test(text)) captured = true;
    else if (captured && NEXTEST_OWN.test(text)) captured = false;
    if (captured) {
      goLines = false;
      continue;
    }
    // Its message may make the banner of a session cut short a long line.
    if (PYTEST_CUT_SHORT.test(text)) cutShort = true;
    if (text.length > LONGEST) {
      goLines = false;
      continue;
    }
    if (goLines) {
      const ok = GO_OK.exec(text);
      if (ok !== null) goTests ||= ok[1] === undefined;
      else goLines = GO_PASSING.test(text) && !GO_FAIL.test(text);
    }
    const summary = summaryOf(text, i > 0 ? lines[i - 1] : undefined, lines[i + 1], go, nextest);
    if (summary === undefined) continue;
    if (summary.fails) {
      failures.set(summary.runner, summary);
      reopened.delete(summary.runner);
    } else if (failures.has(summary.runner)) {
      if (summary.opens) reopened.add(summary.runner);
      else if (
        summary.passes &&
        !COUNTS_PARTS.has(summary.runner) &&
        (reopened.has(summary.runner) || !STARTS_RUNS.has(summary.runner))
      ) {
        // The failed run is a run too, though no line of it may have counted its tests (playwright's
        // `1 failed` without a `passed` line, vitest's `Tests  no tests`): a pass is then never read.
        failures.delete(summary.runner);
        runs++;
      }
    }
    if (!summary.countsRun) continue;
    runs++;
    last = summary;
    lastAt = i;
  }
  const [failure] = failures.values();
  // go counts no tests: its run is the whole output (no other runner's line is one of go's).
  if (goLines && goTests) return { failure, runs: 1, pass: failure === undefined ? GO_RUN : undefined };
  const pass = last?.passes && !cutShort && endsOutput(lines, lastAt, last.after) ? last : undefined;
  return { failure, runs, pass };
}

/**
 * The first line of a monorepo tool's task, group 1 the prefix (less its `:`) of the task's lines: turbo's
 * `web:test: cache miss, executing 0123abcd` (`cache hit, replaying logs …`; `suppressing logs`, a task
 * whose summary is then not read), whose lines are then
 * `web:test: …`; pnpm -r's `packages/web test$ vitest run`, whose lines are then `packages/web test: …`;
 * nx's `> nx run web:test` (`nx run-many --output-style=stream`), whose lines are then `web: …` (the
 * project's: all its tasks' lines, `-t lint test`, have the one prefix).
 */
const TURBO_TASK =
  /^(\S+): cache (?:miss, executing|hit, (?:replaying (?:logs|output)|suppressing logs)|bypass, force executing)(?: [0-9a-f]+)?$/;
const PNPM_SCRIPT = /^(\S+ [\w:.-]+)\$ \S/;
const NX_TASK = /^> nx run (\S+?):[^\s:]+(?::[^\s:]+)?(?:\s.*)?$/;
/** A task in nx's list of those that failed (after `Failed tasks:`), its header perhaps cut off above. */
const NX_FAILED_TASK = /^- (\S+?):[^\s:]+(?::[^\s:]+)?$/;
/** pnpm's last line of a package's script that exited 0 (`Failed` otherwise). */
const PNPM_DONE = /^Done$/;
/** A line with a task's prefix (`web: …`, `web:test: …`), group 1 what follows it. */
const PREFIXED = /^\S+: (.*)$/;
/** turbo's line of the tasks that failed, after its `Tasks:` count; nx's title of its list of them. */
const TOOL_FAILED = /^\s*Failed:\s+\S|^Failed tasks:$/;

/**
 * The prefix of `order` (a task's, with its `:`; the first in `order` when more fit) that `text` starts with,
 * followed by a blank or the line's end. A prefix has at most one blank (pnpm's `packages/web test:`), so
 * it ends at the line's first or second blank, or at its end: looked up there, not compared with each
 * task's, which took seconds on an output of a thousand tasks' lines.
 */
function prefixOf(text: string, order: ReadonlyMap<string, number>): string | undefined {
  const first = text.indexOf(' ');
  const second = first < 0 ? -1 : text.indexOf(' ', first + 1);
  let found: string | undefined;
  let at = Number.POSITIVE_INFINITY;
  for (const end of [first, second, text.length]) {
    if (end <= 0 || text[end - 1] !== ':') continue;
    const prefix = end === text.length ? text : text.slice(0, end);
    const index = order.get(prefix);
    if (index !== undefined && index < at) {
      found = prefix;
      at = index;
    }
  }
  return found;
}

/**
 * What an output whose lines a monorepo tool prefixed with each package's task shows (`undefined`: no
 * such lines): each task's lines read apart (pnpm's `Done` after them dropped), and the others (the
 * tool's own). A failure in any stands; a pass only when every task's lines end in a pass of the same
 * runner, the only count of their tests, and the tool's own lines count none (and name no failed task):
 * a package with no summary read (its build failed, its logs not replayed) leaves the run unknown.
 */
function readPrefixed(lines: readonly string[]): OutputReading | undefined {
  const tasks = new Map<string, string[]>();
  let nxFailed = false;
  for (const text of lines) {
    const match = TURBO_TASK.exec(text) ?? PNPM_SCRIPT.exec(text) ?? NX_TASK.exec(text);
    if (match !== null) tasks.set(`${match[1]}:`, []);
    if (text === 'Failed tasks:') nxFailed = true;
    else if (nxFailed && text !== '') {
      const task = NX_FAILED_TASK.exec(text);
      if (task === null) nxFailed = false;
      else tasks.set(`${task[1]}:`, []);
    }
  }
  const own: string[] = [];
  const order = new Map<string, number>();
  for (const prefix of tasks.keys()) order.set(prefix, order.size);
  for (const text of lines) {
    const prefix = prefixOf(text, order);
    if (prefix === undefined) own.push(text);
    else tasks.get(prefix)!.push(text.slice(prefix.length + 1));
  }
  const groups = [...tasks.values()];
  if (groups.every((task) => task.length === 0)) return undefined;
  const readings = groups.map((task) => {
    let end = task.length;
    while (end > 0 && task[end - 1]!.trim() === '') end--;
    return readOutput(end > 0 && PNPM_DONE.test(task[end - 1]!) ? task.slice(0, end - 1) : task);
  });
  const tool = readOutput(own);
  // The tool's lines with a prefix of a task whose first line was not read (a form of it not known here):
  // a count in them, their prefix dropped, leaves the run unknown, a failure too (it may be the tool's
  // word, `log: test result: FAILED.`, and is not read as one).
  const unread = readOutput(own.map((text) => PREFIXED.exec(text)?.[1] ?? ''));
  const failure = [...readings, tool].find((reading) => reading.failure !== undefined)?.failure;
  const first = readings[0]!.pass;
  const passes =
    failure === undefined &&
    first !== undefined &&
    readings.every((reading) => reading.runs === 1 && reading.pass?.runner === first.runner) &&
    // turbo's own count of its tasks, all successful, may close their lines.
    tool.runs === (tool.pass?.runner === 'turbo' ? 1 : 0) &&
    !own.some((text) => TOOL_FAILED.test(text)) &&
    unread.runs === 0 &&
    unread.failure === undefined;
  // Without a pass, no other output's pass may be read either: the tasks' runs are more than one.
  return passes ? { failure, runs: 1, pass: first } : { failure, runs: 2, pass: undefined };
}

/**
 * What the test runners' summaries in `outputs` show (see the module's comment): a failure, if one output has
 * one that no later passing run of its runner settled; else a pass, when the outputs have exactly one count
 * of a run's tests, and it passes and ends an output that is `whole`; else `undefined`.
 */
export function readTestSummary(outputs: readonly TestOutput[]): SummaryReading | undefined {
  let runs = 0;
  let pass: SummaryLine | undefined;
  let cutShort = false;
  for (const { text, whole } of outputs) {
    if (text === undefined) continue;
    const start = lastLinesStart(text);
    const last = start === 0 ? text : text.slice(start);
    // In any output: rspec's is on stderr, apart from its summary.
    if (RSPEC_CUT_SHORT.test(last)) cutShort = true;
    if (!MAY_SUMMARIZE.test(last)) continue;
    const lines = last.replace(ANSI, '').split(LINE_BREAK);
    const reading = readPrefixed(lines) ?? readOutput(lines);
    if (reading.failure !== undefined) return { runner: reading.failure.runner, passed: false };
    runs += reading.runs;
    if (reading.pass !== undefined && whole && start === 0 && !TRUNCATED.test(text)) pass = reading.pass;
  }
  return runs === 1 && pass !== undefined && !cutShort ? { runner: pass.runner, passed: true } : undefined;
}

/**
 * Whether only lines of `after`, blank ones, and yarn's `Done in …` (the last) follow line `at` of
 * `lines`.
 */
function endsOutput(lines: readonly string[], at: number, after: RegExp | undefined): boolean {
  let end = lines.length;
  while (end > at + 1 && lines[end - 1]!.trim() === '') end--;
  if (end > at + 1 && YARN_DONE.test(lines[end - 1]!.trim())) end--;
  for (let i = at + 1; i < end; i++) {
    const text = lines[i]!;
    if (text.trim() === '') continue;
    if (after === undefined || !after.test(text)) return false;
  }
  return true;
}
