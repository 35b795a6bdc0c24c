import { describe, expect, it } from 'vitest';
import { readTestSummary } from '../../src/streams/testSummary.js';

// readTestSummary on one whole output: the line forms each runner's regex takes, and look-alikes it does not
// (each case kills a Stryker survivor of testSummary.ts: an anchor, a count compared with 0, an optional part).

const read = (text: string) => readTestSummary([{ text, whole: true }]);
const pass = (runner: string) => ({ runner, passed: true });
const fail = (runner: string) => ({ runner, passed: false });
const VITEST_PASS = ' Test Files  1 passed (1)\n      Tests  3 passed (3)\n';

describe('readTestSummary, line by line', () => {
  it('reads counts of 0 as no failure and no pass', () => {
    expect(read(' Test Files  1 passed (1)\n      Tests  3 skipped (3)\n')).toBeUndefined();
    expect(read(` Errors  0 errors\n${VITEST_PASS}`)).toStrictEqual(pass('vitest'));
    expect(read('# pass 2\n# fail 0\n# cancelled 0\n')).toStrictEqual(pass('node'));
    expect(read('# fail 0\n')).toBeUndefined();
    expect(read('  0 failed\n    a.spec.ts:3:1 › opens\n  3 passed (1.2s)\n')).toStrictEqual(
      pass('playwright'),
    );
    expect(read('  0 passed (1.2s)\n')).toBeUndefined();
    expect(read('  1 did not run\n  3 passed (1.2s)\n')).toBeUndefined();
  });

  it("reads vitest's error lines with their blanks, and jest's N of M total", () => {
    expect(read(' Type Errors  1 failed\n')).toStrictEqual(fail('vitest'));
    expect(read(' Errors  1 error  \n')).toStrictEqual(fail('vitest'));
    expect(read('Test Suites: 1 passed, 1 total\nTests:       2 failed, 12 of 20 total\n')).toStrictEqual(
      fail('jest'),
    );
    expect(read('    --- FAIL: TestA/sub (0.00s)\n')).toStrictEqual(fail('go'));
  });

  it("reads pytest's whole parts and durations, and its banner of a session cut short only as a whole line", () => {
    expect(read('3 passedfoo in 0.1s\n')).toBeUndefined();
    expect(read('==== 3 passed in 2s ====\n')).toStrictEqual(pass('pytest'));
    expect(read('see !!! warning !!!\n==== 3 passed in 0.5s ====\n')).toStrictEqual(pass('pytest'));
    expect(read('!!! warning !!! tail\n==== 3 passed in 0.5s ====\n')).toStrictEqual(pass('pytest'));
    expect(read('!!! Interrupted: stop !!!\n==== 3 passed in 0.5s ====\n')).toBeUndefined();
  });

  it("reads playwright's lines only as they start and end", () => {
    expect(read('    3 passed (1s)\n')).toBeUndefined();
    expect(read('  3 passed (1.25s)\n')).toStrictEqual(pass('playwright'));
    expect(read('  3 passed (1s)\nfoo To open last HTML report run:\n')).toBeUndefined();
    expect(read('  3 passed (1s)\n  To open last HTML report run: now\n')).toBeUndefined();
    expect(read('  3 passed (1s)\n  To open last HTML report run:\n')).toStrictEqual(pass('playwright'));
    expect(
      read(
        'Running 2 tests using 1 worker\n  1 failed\n    a.spec.ts:3:1 › opens\nx Running 1 test using 1 worker\n  1 passed (1s)\n',
      ),
    ).toStrictEqual(fail('playwright'));
    expect(read('x  1 did not run\n  3 passed (1s)\n')).toStrictEqual(pass('playwright'));
    expect(read('  1 did not run yet\n  3 passed (1s)\n')).toStrictEqual(pass('playwright'));
    expect(read('x  1 error was not a part of any test\n  3 passed (1s)\n')).toStrictEqual(
      pass('playwright'),
    );
  });

  it("reads playwright's `N failed` only above the tests it counts (`    a.spec.ts:3:1 › opens`)", () => {
    const failed = (tests: string) => read(`  1 failed\n${tests}  2 passed (1.2s)\n`);
    for (const header of [
      '    a.spec.ts:3:1 › opens ──────\n',
      '    [chromium] › tests/a b.spec.ts:12:5 › suite › opens ──────\n',
      '    [] › a.spec.ts:3:1 › opens\n',
      '    a.spec.ts:12:15 › opens\n',
    ]) {
      expect(failed(header), header).toStrictEqual(fail('playwright'));
      expect(read(`  1 interrupted\n${header}  2 passed (1.2s)\n`), header).toStrictEqual(fail('playwright'));
    }
    // Its tests filtered out (`| grep -E "passed|failed"`), `N failed` is right above another of playwright's
    // counts: still a failure (read so at 3b5fac3).
    for (const counts of [
      '  2 passed (1.2s)\n',
      '  1 flaky\n  2 passed (1.2s)\n',
      '  1 skipped\n  2 passed (1.2s)\n',
      '  3 did not run\n  2 passed (1.2s)\n',
      '  1 interrupted\n  2 passed (1.2s)\n',
    ]) {
      expect(read(`  1 failed\n${counts}`), counts).toStrictEqual(fail('playwright'));
    }
    // Not a line of anything else, nor one at another indent, nor without a test's place.
    for (const other of [
      '\n',
      '    retrying\n',
      '   a.spec.ts:3:1 › opens\n',
      '     a.spec.ts:3:1 › opens\n',
      '    a.spec.ts:3 › opens\n',
      '    a.spec.ts:3:1 opens\n',
      '     › a.spec.ts:3:1 › opens\n',
      'x   a.spec.ts:3:1 › opens\n',
    ]) {
      expect(failed(other), other).toStrictEqual(pass('playwright'));
    }
  });

  it("reads cargo's word that a test binary failed, its results or none (it died)", () => {
    for (const text of [
      'error: test failed, to rerun pass `--lib`',
      'error: test failed, to rerun pass `--test api`',
      'error: doctest failed, to rerun pass `--doc`',
      'error: 1 target failed:',
      'error: 12 targets failed:',
    ]) {
      expect(read(`${text}\n`), text).toStrictEqual(fail('cargo'));
    }
    for (const text of [
      'error: test failed',
      'error: test failed, to rerun pass --lib',
      'error: test failed, to rerun pass `--lib` now',
      'see error: test failed, to rerun pass `--lib`',
      'error: 1 target failed',
      'error: targets failed:',
      'error: build failed, to rerun pass `--lib`',
    ]) {
      expect(read(`${text}\n`), text).toBeUndefined();
    }
  });

  it("reads Maven Surefire's count of a module's tests, not a test class's, and what follows it", () => {
    const results = (count: string, level = 'INFO') =>
      `[INFO] Results:\n[INFO] \n[${level}] Tests run: ${count}\n[INFO] \n[INFO] ${'-'.repeat(72)}\n[INFO] BUILD SUCCESS\n[INFO] ${'-'.repeat(72)}\n[INFO] Total time:  4.327 s\n[INFO] Finished at: 2026-12-07T09:22:15Z\n`;
    expect(read(results('12, Failures: 0, Errors: 0, Skipped: 0'))).toStrictEqual(pass('maven'));
    expect(read(results('12, Failures: 0, Errors: 0, Skipped: 11', 'WARNING'))).toStrictEqual(pass('maven'));
    expect(read(results('30, Failures: 0, Errors: 0, Skipped: 0, Flakes: 12'))).toStrictEqual(pass('maven'));
    expect(
      read(results('2, Failures: 0, Errors: 0, Skipped: 0').replace('[INFO] Tests', 'x[INFO] Tests')),
    ).toBeUndefined();
    expect(read(results('12, Failures: 10, Errors: 0, Skipped: 0', 'ERROR'))).toStrictEqual(fail('maven'));
    expect(read(results('12, Failures: 0, Errors: 10, Skipped: 0', 'ERROR'))).toStrictEqual(fail('maven'));
    // Every test skipped; a count of a test class; without Maven's level; a build that did not succeed.
    expect(read(results('2, Failures: 0, Errors: 0, Skipped: 2', 'WARNING'))).toBeUndefined();
    expect(
      read(results('2, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.1 s -- in app.CalcTest')),
    ).toBeUndefined();
    expect(
      read(results('2, Failures: 0, Errors: 0, Skipped: 0').replace('[INFO] Tests', 'Tests')),
    ).toBeUndefined();
    expect(
      read(results('2, Failures: 0, Errors: 0, Skipped: 0').replace('[INFO] Tests', '[DEBUG] Tests')),
    ).toBeUndefined();
    expect(
      read(results('2, Failures: 0, Errors: 0, Skipped: 0').replace('BUILD SUCCESS', 'BUILD FAILURE')),
    ).toBeUndefined();
    expect(
      read(results('2, Failures: 0, Errors: 0, Skipped: 0').replace('BUILD SUCCESS', 'BUILD SUCCESS!')),
    ).toBeUndefined();
    expect(read(results('2, Failures: 0, Errors: 0, Skipped: 0').replace(/-{72}/, '---'))).toBeUndefined();
    expect(
      read(`${results('2, Failures: 0, Errors: 0, Skipped: 0')}[INFO] Total time is up\n`),
    ).toBeUndefined();
    expect(
      read(`${results('2, Failures: 0, Errors: 0, Skipped: 0')}x[INFO] Finished at: now\n`),
    ).toBeUndefined();
    // A build of two modules: two counts.
    expect(read(results('2, Failures: 0, Errors: 0, Skipped: 0').repeat(2))).toBeUndefined();
  });

  it("reads deno's, PHPUnit's and minitest's summaries in their other forms", () => {
    expect(read('ok | 1 passed (2 steps) | 0 failed | 1 ignored | 3 filtered out (1s)\n')).toStrictEqual(
      pass('deno'),
    );
    expect(read('ok | 0 passed | 0 failed | 2 ignored (5ms)\n')).toBeUndefined();
    expect(read('ok | 2 passed | 1 failed (5ms)\n')).toStrictEqual(fail('deno'));
    expect(read('FAILED | 2 passed | 0 failed (5ms)\n')).toStrictEqual(fail('deno'));
    // PHPUnit: tests skipped or risky (exit 0), a warning (neither), a failure among other counts.
    expect(
      read('OK, but incomplete, skipped, or risky tests!\nTests: 3, Assertions: 2, Skipped: 1.\n'),
    ).toStrictEqual(pass('phpunit'));
    expect(read('WARNINGS!\nTests: 2, Assertions: 2, Warnings: 1.\n')).toBeUndefined();
    expect(read('OK, but there were issues!\nTests: 0, Assertions: 0, Skipped: 0.\n')).toBeUndefined();
    // Every test skipped or incomplete: none passed (exit 0 all the same).
    expect(read('OK, but some tests were skipped!\nTests: 1, Assertions: 0, Skipped: 1.\n')).toBeUndefined();
    expect(
      read(
        'OK, but incomplete, skipped, or risky tests!\nTests: 3, Assertions: 1, Skipped: 1, Incomplete: 2.\n',
      ),
    ).toBeUndefined();
    expect(
      read(
        'OK, but incomplete, skipped, or risky tests!\nTests: 3, Assertions: 1, Skipped: 1, Incomplete: 1.\n',
      ),
    ).toStrictEqual(pass('phpunit'));
    expect(read('FAILURES!\nTests: 3, Assertions: 3, Skipped: 1, Failures: 1.\n')).toStrictEqual(
      fail('phpunit'),
    );
    expect(read('OK (0 tests, 0 assertions)\n')).toBeUndefined();
    // minitest: skipped tests (and its word after them), old minitest's `tests`, every test skipped.
    expect(
      read(
        '3 runs, 2 assertions, 0 failures, 0 errors, 1 skips\n\nYou have skipped tests. Run with --verbose for details.\n',
      ),
    ).toStrictEqual(pass('minitest'));
    expect(read('2 tests, 2 assertions, 0 failures, 0 errors, 0 skips\n')).toStrictEqual(pass('minitest'));
    expect(read('2 runs, 0 assertions, 0 failures, 0 errors, 2 skips\n')).toBeUndefined();
    expect(read('2 runs, 2 assertions, 0 failures, 0 errors, 0 skips\nrake aborted!\n')).toBeUndefined();
  });

  it("reads bun's, dotnet's, Gradle's and swift test's failures; dotnet's pass of one project", () => {
    // bun: ` 1 fail` above another of its counts; a test's own print of it is not.
    expect(read(' 1 pass\n 1 fail\n 2 expect() calls\nRan 2 tests across 1 file. [36.00ms]\n')).toStrictEqual(
      fail('bun'),
    );
    expect(read(' 1 fail\nRan 1 test across 1 file. [36.00ms]\n')).toStrictEqual(fail('bun'));
    expect(read(' 1 fail\nsomething else\n')).toBeUndefined();
    expect(
      read(' 2 pass\n 0 fail\n 2 expect() calls\nRan 2 tests across 1 file. [88.00ms]\n'),
    ).toBeUndefined();
    // dotnet test (VSTest): one line per test project.
    const dotnet = (word: string, failed: number, passed: number) =>
      `${word}!  - Failed:     ${failed}, Passed:     ${passed}, Skipped:     0, Total:     ${failed + passed}, Duration: 12 ms - App.Tests.dll (net8.0)\n`;
    expect(read(dotnet('Passed', 0, 2))).toStrictEqual(pass('dotnet'));
    expect(read(dotnet('Failed', 1, 1))).toStrictEqual(fail('dotnet'));
    expect(read(dotnet('Passed', 0, 0))).toBeUndefined();
    expect(read(dotnet('Passed', 0, 2).repeat(2))).toBeUndefined();
    // A solution's projects: one that passes after one that failed settles nothing (it is no retry).
    expect(read(dotnet('Failed', 1, 1) + dotnet('Passed', 0, 2))).toStrictEqual(fail('dotnet'));
    expect(read(dotnet('Passed', 0, 2) + dotnet('Failed', 1, 1))).toStrictEqual(fail('dotnet'));
    // Gradle prints no count when its tests pass.
    expect(
      read(
        '> Task :test FAILED\n\n3 tests completed, 1 failed, 1 skipped\n\nFAILURE: Build failed with an exception.\n',
      ),
    ).toStrictEqual(fail('gradle'));
    expect(read('3 tests completed, 0 failed\n')).toBeUndefined();
    // swift test: XCTest's counts (a suite's, Linux's total), Swift Testing's end of a failed run.
    expect(
      read(
        "Test Suite 'All tests' failed at 2026-12-07 10:00:00.000\n\t Executed 2 tests, with 1 failure (0 unexpected) in 0.005 (0.006) seconds\n",
      ),
    ).toStrictEqual(fail('swift'));
    expect(
      read('Total executed 4 tests, with 2 failures (0 unexpected) in 0.010 (0.011) seconds\n'),
    ).toStrictEqual(fail('swift'));
    expect(read('✘ Test run with 2 tests failed after 0.001 seconds with 1 issue.\n')).toStrictEqual(
      fail('swift'),
    );
    expect(
      read('\t Executed 2 tests, with 0 failures (0 unexpected) in 0.005 (0.006) seconds\n'),
    ).toBeUndefined();
    expect(read('✔ Test run with 2 tests passed after 0.001 seconds.\n')).toBeUndefined();
  });

  it("reads cargo nextest's summary, and not the output of a test it prints (a try a retry passed)", () => {
    const summary = (counts: string) => `------------\n     Summary [   0.021s] ${counts}\n`;
    for (const counts of [
      '12 tests run: 12 passed, 177 skipped',
      '1 test run: 1 passed',
      '12 tests run: 12 passed (1 flaky), 0 skipped',
      '4 tests run: 4 passed (1 slow), 19 skipped',
      '1 test run: 1 passed (1 leaky)',
    ]) {
      expect(read(summary(counts)), counts).toStrictEqual(pass('nextest'));
    }
    for (const counts of [
      '51 tests run: 49 passed, 2 failed, 0 skipped',
      '1 test run: 0 passed, 1 failed (1 due to being leaky), 26 skipped',
      '3 tests run: 2 passed, 1 timed out, 0 skipped',
      '3 tests run: 2 passed, 1 exec failed, 0 skipped',
      '10/51 tests run: 9 passed, 1 failed, 41 skipped',
    ]) {
      expect(read(summary(counts)), counts).toStrictEqual(fail('nextest'));
    }
    for (const counts of [
      '0 tests run: 0 passed, 12 skipped',
      '2 tests run: 0 passed, 2 skipped',
      '10/51 tests run: 10 passed, 41 skipped',
      '3 tests run: 2 passed, 1 retried',
      '3 tests run: 3 passed (1 late), 0 skipped',
      '3 tests run: 3 passed, 0 failed now',
    ]) {
      expect(read(summary(counts)), counts).toBeUndefined();
    }
    expect(read(summary('3 tests run: 3 passed').replace('[   0.021s]', '0.021s'))).toBeUndefined();
    expect(read(summary('3 tests run: 0 passed (1 flaky), 3 skipped'))).toBeUndefined();
    expect(read(summary('3 tests run: 3 skipped, 3 passed'))).toBeUndefined();
    expect(
      read(summary('12 tests run: 12 passed (12 flaky)').replace('[   0.021s]', '[  12s]')),
    ).toStrictEqual(pass('nextest'));
    expect(read(summary('3 tests run: 1 passed, 12 failed'))).toStrictEqual(fail('nextest'));
    expect(read(summary('3 tests run: 3 passed').replace('     Summary', 'x Summary'))).toBeUndefined();
    // A test's output ends at nextest's next line of its own: cargo's FAILED after it counts a run.
    const ended = (end: string) =>
      read(
        `--- STDOUT:  crate::basic t ---\nrunning 1 test\n${end}\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n${summary('1 test run: 1 passed')}`,
      );
    for (const end of [
      '        PASS [   0.002s] crate::basic t',
      '  TRY 12 PASS [  12.002s] crate::basic t',
      '   LEAK-FAIL [   0.104s] crate::basic t',
      '        SLOW [>  1s] crate::basic t',
      '------------',
      '────────────',
    ]) {
      expect(ended(end), end).toBeUndefined();
    }
    for (const end of [
      'x       PASS [   0.002s] t',
      '        pass [   0.002s] t',
      '------------ x',
      '-----',
      '── x',
    ]) {
      expect(ended(end), end).toStrictEqual(pass('nextest'));
    }
    expect(
      read(
        `x--- STDOUT: t ---\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n${summary('1 test run: 1 passed')}`,
      ),
    ).toBeUndefined();
    // Only its flaky, slow and leaky tests may follow a pass.
    const flaky = `${summary('1 test run: 1 passed (1 flaky)')}   FLAKY 2/3 [   0.002s] crate::basic test_flaky\n`;
    expect(read(flaky)).toStrictEqual(pass('nextest'));
    expect(read(`${flaky}        SLOW [>  1.000s] crate::basic test_slow\n`)).toStrictEqual(pass('nextest'));
    expect(read(`${flaky}     TIMEOUT [   2.001s] crate::basic test_slow\n`)).toBeUndefined();
    expect(read(`${flaky}error: test run failed\n`)).toBeUndefined();
    expect(read(`${flaky}   FLAKY 12/13 [  12.002s] crate::basic t\n        SLOW [>  1s] t\n`)).toStrictEqual(
      pass('nextest'),
    );
    expect(read(`${flaky}x   FLAKY 2/3 [   0.002s] crate::basic t\n`)).toBeUndefined();
    // A test's output printed as it is, cargo's FAILED in it: until nextest's next line of its own.
    const captured = (header: string, end: string) =>
      `${header}\nrunning 1 test\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n${end}\n${summary('1 test run: 1 passed (1 flaky)')}`;
    expect(
      read(
        captured('--- TRY 1 STDOUT:        crate::basic t ---', '  TRY 2 PASS [   0.002s] crate::basic t'),
      ),
    ).toStrictEqual(pass('nextest'));
    expect(read(captured('--- STDERR:        crate::basic t ---', ''))).toStrictEqual(pass('nextest'));
    // cargo's line outside it counts a run (nextest's output and cargo test's): no pass, and no failure.
    expect(read(captured('', ''))).toBeUndefined();
    expect(read(captured('--- TRY 1 STDOUT: t --- now', ''))).toBeUndefined();
    // Without nextest's summary, cargo's FAILED is cargo's failure.
    expect(
      read(
        'test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n',
      ),
    ).toStrictEqual(fail('cargo'));
  });

  it("reads go's ok lines with whole seconds and coverage, and yarn's Done in whole seconds", () => {
    expect(read('ok  \texample.com/x\t2s\n')).toStrictEqual(pass('go'));
    expect(read('ok  \texample.com/x\t0.2s\tcoverage: 80% of statements\n')).toStrictEqual(pass('go'));
    expect(read('ok  \texample.com/x\t0.2s\tcoverage: 80.25% of statements\n')).toStrictEqual(pass('go'));
    expect(read(`${VITEST_PASS}Done in 2s.\n`)).toStrictEqual(pass('vitest'));
  });

  it("reads pytest's duration of ten hours or more, as it prints it (`in 36001.00s (10:00:01)`)", () => {
    expect(read('==== 1 failed, 2 passed in 36001.00s (10:00:01) ====\n')).toStrictEqual(fail('pytest'));
    expect(read('2 passed in 36001.00s (10:00:01)\n')).toStrictEqual(pass('pytest'));
  });

  it("reads no pass from playwright's count of tests that did not run alone (its global setup threw)", () => {
    // Every test left without a result: playwright counts them `did not run`, and prints no `failed` line.
    const setupThrew = [
      'Running 2 tests using 1 worker',
      '',
      'Error: failed to seed the test database',
      '',
      '   at globalSetup.ts:5',
      '',
      '  2 did not run',
      '',
    ].join('\n');
    expect(read(setupThrew)).toBeUndefined();
  });

  it("reads vitest --typecheck's `Type Errors  no errors` after a pass, and its `N failed` as a failure", () => {
    const typecheck =
      ' Test Files  2 passed (2)\n      Tests  5 passed (5)\n Type Errors  no errors\n   Start at  03:40:01\n   Duration  1.20s\n';
    expect(read(typecheck)).toStrictEqual(pass('vitest'));
    expect(read(typecheck.replace('no errors', '1 failed'))).toStrictEqual(fail('vitest'));
    expect(read(typecheck.replace('no errors', 'no errors yet'))).toBeUndefined();
  });

  it("reads vitest --detectAsyncLeaks's `Leaks  N leaks` after a pass (exit 0: no test failed)", () => {
    const leaks = `${VITEST_PASS}      Leaks  12 leaks\n   Start at  03:40:01\n   Duration  1.20s\n`;
    expect(read(leaks)).toStrictEqual(pass('vitest'));
    expect(read(leaks.replace('12 leaks', '1 leak'))).toStrictEqual(pass('vitest'));
    expect(read(leaks.replace('12 leaks', '12 leaks found'))).toBeUndefined();
    expect(read(leaks.replace('Leaks  12', 'Leaks 12'))).toBeUndefined();
    expect(read(leaks.replace('12 leaks', '12 leaks  '))).toStrictEqual(pass('vitest'));
  });

  it("reads pytest's duration of a day or more (`(1 day, 0:00:01)`)", () => {
    expect(read('==== 2 passed in 86401.00s (1 day, 0:00:01) ====\n')).toStrictEqual(pass('pytest'));
    expect(read('1 failed, 2 passed in 172801.00s (2 days, 0:00:01)\n')).toStrictEqual(fail('pytest'));
  });

  it("reads pytest's counts of subtests (`N subtests passed`), a failed subtest as a failure", () => {
    expect(read('293 passed, 2 subtests passed in 27.34s\n')).toStrictEqual(pass('pytest'));
    expect(read('1 passed, 1 subtests passed, 2 subtests failed in 0.04s\n')).toStrictEqual(fail('pytest'));
    expect(read('==== 1 failed, 4 passed, 9 subtests passed in 6.82s ====\n')).toStrictEqual(fail('pytest'));
    expect(read('2 subtests passed in 0.04s\n')).toBeUndefined();
  });

  it('reads a line that ends in a carriage return (a CRLF output cut after its CR, or CR CR LF)', () => {
    expect(read('..F\r\n1 failed, 2 passed in 0.12s\r')).toStrictEqual(fail('pytest'));
    expect(read(' Test Files  1 failed (1)\r\r\n      Tests  1 failed | 1 passed (2)\r\r\n')).toStrictEqual(
      fail('vitest'),
    );
    expect(read(' Test Files  1 passed (1)\r\r\n      Tests  3 passed (3)\r\r\n')).toStrictEqual(
      pass('vitest'),
    );
    // A line a carriage return went back over shows what was written last.
    expect(read('running 3 files\r Test Files  1 failed (1)\n')).toStrictEqual(fail('vitest'));
  });

  it("blocks a pass only on rspec's interrupt word at the start of a line", () => {
    expect(
      readTestSummary([
        { text: VITEST_PASS, whole: true },
        { text: 'x RSpec is shutting down and will print the summary report', whole: true },
      ]),
    ).toStrictEqual(pass('vitest'));
  });
});
