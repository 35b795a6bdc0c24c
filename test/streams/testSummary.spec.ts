import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  bridgeHooks,
  correlate,
  DEFAULT_CORRELATION_GROUPS,
  type HookOutput,
  toEvents,
} from '../../src/index.js';

// What a test runner's summary in a Bash line's output says of a `test.run` whose line status does not show
// its outcome (docs/bridge.md, "Test runs"), on the real output of nine runners (test/fixtures/test-output).

const OUTPUTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'test-output');
const SESSION = '7f3c2a91-5d0e-4b8a-9c61-2e4f8d1b0a37';
const T = 1_760_000_000_000;

function output(name: string): string {
  return readFileSync(join(OUTPUTS, `${name}.txt`), 'utf8');
}

function testRun(hook: string, fields: Record<string, unknown>): Record<string, unknown> | undefined {
  const payload = {
    session_id: SESSION,
    transcript_path: '/t.jsonl',
    cwd: '/home/user/app',
    hook_event_name: hook,
    tool_name: 'Bash',
    ...fields,
  };
  return toEvents(hook, payload, T).find((event) => event.type === 'test.run')?.data;
}

/** The `test.run` of a Bash `command` Claude Code reports as a success, with its `stdout` (and `stderr`). */
function onSuccess(command: string, stdout: string, stderr = '') {
  return testRun('PostToolUse', {
    tool_input: { command },
    tool_response: { stdout, stderr, interrupted: false, isImage: false },
  });
}

/** The `test.run` of a Bash `command` that failed with exit code 1 and `output`. */
function onFailure(command: string, output: string) {
  return testRun('PostToolUseFailure', { tool_input: { command }, error: `Exit code 1\n${output}` });
}

/** The last `n` lines of `text`, as `tail -n` prints them. */
function tail(text: string, n: number): string {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return `${lines.slice(-n).join('\n')}\n`;
}

/**
 * Each real output: the command that printed it, and the lines (colours removed, blanks trimmed) that
 * show its outcome — a failure (any of them), or the pass (the one summary line that counts the run's
 * tests) — or none for an output that shows neither.
 */
const RUNS: { name: string; command: string; failure?: RegExp; pass?: RegExp }[] = [
  { name: 'vitest-pass', command: 'npx vitest run', pass: /^Tests {2}2 passed \(2\)$/ },
  { name: 'vitest-fail', command: 'npx vitest run', failure: /^(?:Test Files|Tests) {2}1 failed \|/ },
  { name: 'vitest-fail-nocolor', command: 'npx vitest run', failure: /^(?:Test Files|Tests) {2}1 failed \|/ },
  { name: 'vitest-unhandled', command: 'npx vitest run', failure: /^Errors {2}1 error$/ },
  { name: 'vitest-broken', command: 'npx vitest run', failure: /^Test Files {2}1 failed \(1\)$/ },
  { name: 'vitest-logged-failed', command: 'npx vitest run', pass: /^Tests {2}1 passed \(1\)$/ },
  { name: 'vitest-leaks', command: 'npx vitest run --detectAsyncLeaks', pass: /^Tests {2}2 passed \(2\)$/ },
  { name: 'jest-pass', command: 'npx jest', pass: /^Tests: +2 passed, 2 total$/ },
  { name: 'jest-fail', command: 'npx jest', failure: /^(?:Test Suites|Tests): +1 failed, / },
  { name: 'yarn-jest-pass', command: 'yarn test', pass: /^Tests: +2 passed, 2 total$/ },
  { name: 'mocha-pass', command: 'npx mocha' },
  { name: 'mocha-fail', command: 'npx mocha', failure: /^1 failing$/ },
  { name: 'pytest-pass', command: 'pytest', pass: /^=+ 2 passed in [\d.]+s =+$/ },
  { name: 'pytest-q-pass', command: 'pytest -q', pass: /^2 passed in [\d.]+s$/ },
  { name: 'pytest-fail', command: 'pytest', failure: /^=+ 1 failed, 3 passed, 1 skipped in/ },
  { name: 'pytest-q-fail', command: 'pytest -q', failure: /^1 failed, 3 passed, 1 skipped in/ },
  { name: 'pytest-error', command: 'pytest', failure: /^=+ 1 error in/ },
  { name: 'pytest-none', command: 'pytest -q -k nothing' },
  { name: 'node-test-tap-pass', command: 'node --test', pass: /^# pass 2$/ },
  { name: 'node-test-tap-fail', command: 'node --test', failure: /^# fail 1$/ },
  { name: 'node-test-spec-pass', command: 'node --test --test-reporter=spec', pass: /^ℹ pass 2$/ },
  { name: 'node-test-spec-fail', command: 'node --test --test-reporter=spec', failure: /^ℹ fail 1$/ },
  { name: 'cargo-pass', command: 'cargo test' },
  {
    name: 'cargo-fail',
    command: 'cargo test',
    failure: /^test result: FAILED\.|^error: test failed, to rerun pass `--lib`$/,
  },
  { name: 'cargo-binaries-pass', command: 'cargo test' },
  {
    name: 'cargo-crash',
    command: 'cargo test',
    failure: /^error: test failed, to rerun pass `--test crash`$/,
  },
  {
    name: 'cargo-no-fail-fast',
    command: 'cargo test --no-fail-fast',
    failure:
      /^test result: FAILED\.|^error: test failed, to rerun pass `--test api`$|^error: 1 target failed:$/,
  },
  { name: 'rspec-pass', command: 'rspec', pass: /^2 examples, 0 failures$/ },
  {
    name: 'rspec-doc-pass',
    command: 'bundle exec rspec --format documentation',
    pass: /^2 examples, 0 failures$/,
  },
  { name: 'rspec-pending-pass', command: 'rspec --seed 1234', pass: /^3 examples, 0 failures, 1 pending$/ },
  { name: 'rspec-none', command: 'rspec -e nothing' },
  { name: 'rspec-interrupt', command: 'rspec --order defined' },
  { name: 'rspec-fail', command: 'rspec', failure: /^4 examples, 1 failure, 1 pending$/ },
  {
    name: 'rspec-load-error',
    command: 'rspec',
    failure: /^0 examples, 0 failures, 1 error occurred outside of examples$/,
  },
  { name: 'playwright-pass', command: 'npx playwright test', pass: /^2 passed \(/ },
  { name: 'playwright-dot-pass', command: 'npx playwright test --reporter=dot', pass: /^2 passed \(/ },
  { name: 'playwright-flaky-pass', command: 'npx playwright test --retries=1', pass: /^2 passed \(/ },
  { name: 'playwright-fail', command: 'npx playwright test', failure: /^2 failed$/ },
  { name: 'playwright-retries-fail', command: 'npx playwright test --retries=1', failure: /^1 failed$/ },
  {
    name: 'playwright-max-failures',
    command: 'npx playwright test --max-failures=1',
    failure: /^1 failed$|^1 error was not a part of any test/,
  },
  { name: 'playwright-late-error', command: 'npx playwright test', failure: /^1 failed$/ },
  { name: 'playwright-none', command: 'npx playwright test -g nothing' },
  { name: 'playwright-load-error', command: 'npx playwright test' },
  {
    name: 'nextest-pass',
    command: 'cargo nextest run',
    pass: /^Summary \[ {3}0\.021s\] 14 tests run: 14 passed, 177 skipped$/,
  },
  {
    name: 'nextest-flaky-pass',
    command: 'cargo nextest run test_flaky_mod_2 --retries 2',
    pass: /^Summary \[ {3}0\.021s\] 1 test run: 1 passed \(1 flaky\), 25 skipped$/,
  },
  {
    name: 'nextest-leak-fail',
    command: 'cargo nextest run',
    failure: /^Summary \[ {3}0\.105s\] 1 test run: 0 passed, 1 failed/,
  },
  {
    name: 'maven-pass',
    command: 'mvn test',
    pass: /^\[INFO\] Tests run: 2, Failures: 0, Errors: 0, Skipped: 0$/,
  },
  {
    name: 'maven-skipped-pass',
    command: 'mvn test',
    pass: /^\[WARNING\] Tests run: 3, Failures: 0, Errors: 0, Skipped: 1$/,
  },
  {
    name: 'maven-fail',
    command: 'mvn test',
    failure: /^\[ERROR\] Tests run: 2, Failures: 1, Errors: 0, Skipped: 0$/,
  },
  { name: 'maven-compile-error', command: 'mvn test' },
  { name: 'go-pass', command: 'go test ./...', pass: /^ok\s+\S+\s+[\d.]+s$/ },
  { name: 'go-v-pass', command: 'go test -v ./...', pass: /^ok\s+\S+\s+[\d.]+s$/ },
  { name: 'go-v-skip', command: 'go test -v ./strs', pass: /^ok\s+\S+\s+[\d.]+s$/ },
  { name: 'go-dir-pass', command: 'go test', pass: /^ok\s+\S+\s+[\d.]+s$/ },
  { name: 'go-cover-pass', command: 'go test -cover ./...', pass: /^ok\s+\S+\s+[\d.]+s\s+coverage: / },
  { name: 'go-none', command: 'go test -run Nothing ./calc' },
  { name: 'go-fail', command: 'go test ./...', failure: /^(?:FAIL|--- FAIL: .*|FAIL\s.*)$/ },
  { name: 'go-v-fail', command: 'go test -v ./...', failure: /^(?:FAIL|--- FAIL: .*|FAIL\s.*)$/ },
  { name: 'go-dir-fail', command: 'go test', failure: /^(?:FAIL|--- FAIL: .*|FAIL\s.*)$/ },
  { name: 'go-build-failed', command: 'go test ./...', failure: /^(?:FAIL|FAIL\s.*)$/ },
  { name: 'go-panic', command: 'go test ./...', failure: /^(?:FAIL|--- FAIL: .*|FAIL\s.*)$/ },
  { name: 'deno-pass', command: 'deno test', pass: /^ok \| 2 passed \| 0 failed \(\d+ms\)$/ },
  { name: 'deno-fail', command: 'deno test', failure: /^FAILED \| 1 passed \| 1 failed \(\d+ms\)$/ },
  { name: 'deno-crash', command: 'deno test' },
  { name: 'phpunit-pass', command: 'phpunit CalcTest.php', pass: /^OK \(2 tests, 2 assertions\)$/ },
  {
    name: 'phpunit-fail',
    command: 'phpunit CalcTest.php',
    failure: /^Tests: 2, Assertions: 2, Failures: 1\.$/,
  },
  {
    name: 'phpunit-error',
    command: 'phpunit CalcTest.php',
    failure: /^Tests: 2, Assertions: 1, Errors: 1\.$/,
  },
  { name: 'phpunit-crash', command: 'phpunit CalcTest.php' },
  {
    name: 'minitest-pass',
    command: 'bin/rails test',
    pass: /^2 runs, 2 assertions, 0 failures, 0 errors, 0 skips$/,
  },
  {
    name: 'minitest-fail',
    command: 'bin/rails test',
    failure: /^2 runs, 2 assertions, 1 failures, 0 errors, 0 skips$/,
  },
  {
    name: 'minitest-error',
    command: 'bin/rails test',
    failure: /^2 runs, 1 assertions, 0 failures, 1 errors, 0 skips$/,
  },
  { name: 'minitest-crash', command: 'bin/rails test' },
  { name: 'bun-pass', command: 'bun test' },
  { name: 'bun-fail', command: 'bun test', failure: /^1 fail$/ },
  { name: 'bun-crash', command: 'bun test', failure: /^1 fail$/ },
];

function shows(text: string, line: RegExp | undefined): boolean {
  return line !== undefined && text.split('\n').some((l) => line.test(stripVTControlCharacters(l).trim()));
}

function runnerOf(name: string): string {
  return name.replace(/^yarn-/, '').replace(/-.*/, '');
}

describe('test.run from the test runner summary in the output', () => {
  it.each(RUNS.map((run) => [run.name, run] as const))(
    '%s piped to tail: failed when the lines kept show it, passed when they show it and are all of it',
    (name, run) => {
      const text = output(name);
      const lines = text.trimEnd().split('\n').length;
      let read = 0;
      for (let n = 1; n <= lines + 8; n++) {
        const command = `${run.command} 2>&1 | tail -${n}`;
        const kept = tail(text, n);
        // All of it: tail kept fewer lines than it may, by more than the blank lines Claude Code trims.
        const all = kept.split('\n').length - 1 + 4 < n;
        // go's `FAIL` alone (tail -1), without another line only go prints, may be a word a test printed.
        const expected =
          shows(kept, run.failure) && kept.trim() !== 'FAIL'
            ? { command, passed: false, from_summary: runnerOf(name) }
            : all && shows(kept, run.pass)
              ? { command, passed: true, from_summary: runnerOf(name) }
              : { command, outcome: 'unknown' };
        if (!('outcome' in expected)) read++;
        expect(onSuccess(command, kept), `${name}, tail -${n}`).toEqual(expected);
      }
      // Each output with a summary is read once its summary is kept (a pass: all of it), and then at every
      // longer cut.
      const evidence = run.failure ?? run.pass;
      if (evidence !== undefined) expect(read).toBeGreaterThan(0);
      else expect(read).toBe(0);
    },
  );

  it('reads a failure from a failed line whose status is not the tests (a later command, a cd), never a pass', () => {
    for (const run of RUNS) {
      const text = output(run.name);
      for (const command of [
        `npm run build && ${run.command}`,
        `${run.command} && npm run build`,
        `cd app 2>/dev/null && ${run.command} | tail -5`,
      ]) {
        expect(onFailure(command, text), `${run.name}: ${command}`).toEqual(
          run.failure === undefined
            ? { command, outcome: 'unknown' }
            : { command, passed: false, from_summary: runnerOf(run.name) },
        );
      }
    }
  });

  it("reads playwright's failure from its counts filtered by grep, its tests left out", () => {
    // What `grep -E "passed|failed"` keeps of the real output: `  2 failed` right above `  2 passed (2.5s)`.
    const command = 'npx playwright test 2>&1 | grep -E "passed|failed"';
    const kept = output('playwright-fail')
      .split('\n')
      .filter((text) => /passed|failed/.test(text) && !/›/.test(text))
      .join('\n');
    expect(kept).toMatch(/^ {2}2 failed\n {2}2 passed \(/m);
    expect(onSuccess(command, kept)).toEqual({ command, passed: false, from_summary: 'playwright' });
  });

  it('keeps what the status shows: the summary is read only when the status does not show the outcome', () => {
    // The test command's own status: its exit code decides, whatever the output says.
    expect(onSuccess('npx vitest run', output('vitest-fail'))).toEqual({
      command: 'npx vitest run',
      passed: true,
      exit_code: 0,
    });
    expect(onFailure('pytest', output('pytest-pass'))).toEqual({
      command: 'pytest',
      passed: false,
      exit_code: 1,
    });
    // Not run: no test.run at all in the background.
    expect(
      testRun('PostToolUse', {
        tool_input: { command: 'npx vitest run 2>&1 | tail -5', run_in_background: true },
        tool_response: { stdout: output('vitest-fail'), stderr: '', backgroundTaskId: 'b1' },
      }),
    ).toBeUndefined();
  });

  it('reads a pass only from one test command piped to tail, its summary the end of the output', () => {
    const pass = output('vitest-pass');
    const passed = (command: string) => ({ command, passed: true, from_summary: 'vitest' });
    const unknown = (command: string) => ({ command, outcome: 'unknown' });
    for (const command of [
      'npx vitest run 2>&1 | tail -20',
      'npx vitest run|tail -20',
      'cd app && npm test 2>&1 | tail -n 20',
      'cd "/home/user/my app" && cd api && npm test 2>&1 | tail -n20',
      'CI=1 FORCE_COLOR=0 npx vitest run --reporter=default 2>&1 | tail -n +1',
      "npx vitest run -t 'adds two' 2>&1 | tail --lines=30",
      'npx vitest run 2>&1 | tail --lines 30',
      'npm run test 2>&1 | tail -q -n 15',
      'NODE_ENV=test  npx vitest run 2>&1 | tail -20',
      'npx vitest run -t "adds two" 2>&1 | tail -20',
      'npx vitest run 2>&1|tail -20',
      'npx vitest run 2>&1 | tail  -n 30',
      'npx vitest run 2>&1 | tail -n 30 ',
      // Run with its folders (the name is the command's all the same).
      './node_modules/.bin/vitest run 2>&1 | tail -20',
      'npx ../tools/node_modules/.bin/vitest run 2>&1 | tail -20',
      // Run by a package runner.
      'bundle exec npx vitest run 2>&1 | tail -20',
      'uv run npx vitest run 2>&1 | tail -20',
      'pnpm exec vitest run 2>&1 | tail -20',
      'yarn vitest run 2>&1 | tail -20',
      'bunx vitest run 2>&1 | tail -20',
      // Blanks as the shell splits words: more than one anywhere.
      'pnpm  exec vitest run 2>&1 | tail -20',
      'pnpm exec  vitest run 2>&1 | tail -20',
      'bundle  exec npx vitest run 2>&1 | tail -20',
      'uv  run npx vitest run 2>&1 | tail -20',
      'npx vitest run 2>&1 | tail --lines  30',
      // go test's -bench in a test name is no benchmark run.
      "npx vitest run -t 'go test -bench=x' 2>&1 | tail -20",
      // The 10 lines of the output: fewer than tail keeps by default (10), less 4, they are not.
    ]) {
      expect(onSuccess(command, pass), command).toEqual(passed(command));
    }
    // head and grep may cut off what followed the summary; anything else after the tests, or before them
    // but a cd, is not read for a pass; nor a line with two test commands, or a test command after a prefix.
    for (const command of [
      'npx vitest run 2>&1 | head -40',
      'npx vitest run 2>&1 | grep -E "Tests|passed"',
      'npx vitest run 2>&1 | tail -20 | cat',
      'npx vitest run 2>&1 | tail -f',
      'npx vitest run > log.txt; tail -20 log.txt',
      'npx vitest run 2>&1 | tail -20; echo $?',
      'npm run build && npx vitest run 2>&1 | tail -20',
      'npm test | tail -5 && pytest | tail -3',
      'timeout 600 npx vitest run 2>&1 | tail -20',
      'uv run --with pytest-xdist npx vitest run 2>&1 | tail -20',
      'npx -y vitest run 2>&1 | tail -20',
      'bundle exec --keep-file-descriptors npx vitest run 2>&1 | tail -20',
      'npx vitest run $(cat files.txt) 2>&1 | tail -20',
      'npx vitest run 2>&1 | tail -20 &',
      // tail may have cut the top: from line 5 on, a count of bytes, 10 lines by default, 14 (the output's
      // 10 lines and the 4 blank ones Claude Code may have trimmed).
      'npx vitest run 2>&1 | tail -n +5',
      'npx vitest run 2>&1 | tail -c 4000',
      'npx vitest run 2>&1 | tail',
      'npx vitest run 2>&1 | tail -14',
    ]) {
      expect(onSuccess(command, pass), command).toEqual(unknown(command));
    }
  });

  it('reads no pass when something follows the summary, or the output has another run summary', () => {
    const command = 'npm test 2>&1 | tail -40';
    const read = (stdout: string, stderr?: string) => onSuccess(command, stdout, stderr);
    const pass = output('vitest-pass');
    // `npm test` = `vitest run && playwright test`: the second runner's output follows vitest's summary,
    // a failure (read), or a run in words this reader does not know.
    expect(
      read(`${pass}\nRunning 3 tests using 2 workers\n  1 failed\n    [chromium] › a.spec.ts:3:1 › opens\n`),
    ).toEqual({ command, passed: false, from_summary: 'playwright' });
    expect(read(`${pass}\nRunning 3 specs\n  1 of 3 specs failed\n`)).toEqual({
      command,
      outcome: 'unknown',
    });
    expect(read(`${pass}done\n`)).toEqual({ command, outcome: 'unknown' });
    // yarn's closing line may end it, once, last; not another line in its words before it.
    expect(read(`${pass}Done in 1.15s.\n\n`)).toEqual({ command, passed: true, from_summary: 'vitest' });
    expect(read(`${pass}✨  Done in 3.02s.\n`)).toEqual({ command, passed: true, from_summary: 'vitest' });
    // Lines of blanks alone (a runner's indentation) are blank lines too, after yarn's line or before it.
    expect(read(`${pass}Done in 1.15s.\n  \n`)).toEqual({ command, passed: true, from_summary: 'vitest' });
    expect(read(pass.replace('   Start at', '  \n   Start at'))).toEqual({
      command,
      passed: true,
      from_summary: 'vitest',
    });
    expect(read(`${pass}Done in 1.15s.\nDone in 1.15s.\n`)).toEqual({ command, outcome: 'unknown' });
    expect(read(`${pass}Done in 1.15s.\ndone\n`)).toEqual({ command, outcome: 'unknown' });
    // Two runs' summaries (a workspace's two packages, a second runner's): one may be cut off.
    expect(read(`${pass}${pass}`)).toEqual({ command, outcome: 'unknown' });
    expect(read(pass, output('pytest-q-pass'))).toEqual({ command, outcome: 'unknown' });
    expect(read(`${output('cargo-pass')}${output('jest-pass')}`)).toEqual({ command, outcome: 'unknown' });
    expect(read(`${output('mocha-pass')}${output('pytest-q-pass')}`)).toEqual({
      command,
      outcome: 'unknown',
    });
    // Only a summary that counts passed tests: every test deselected is no pass.
    expect(read(output('pytest-none'))).toEqual({ command, outcome: 'unknown' });
    // jest prints to stderr, which the pipe does not take: stderr is then all of jest's output.
    expect(onSuccess('npx jest | tail -5', '', output('jest-pass'))).toEqual({
      command: 'npx jest | tail -5',
      passed: true,
      from_summary: 'jest',
    });
    // A failure anywhere, in either stream, is a failure.
    expect(read(pass, output('jest-fail'))).toEqual({ command, passed: false, from_summary: 'jest' });
    expect(read(`${output('cargo-fail')}${output('cargo-pass')}`)).toEqual({
      command,
      passed: false,
      from_summary: 'cargo',
    });
  });

  it('does not take a line that merely looks like a summary', () => {
    // tail kept all of each output: a pass would be read too.
    const command = 'pytest -q 2>&1 | tail -40';
    for (const stdout of [
      'Tests  are flaky today\n',
      'Tests: 3 failed\n',
      'downloaded 2 packages in 1.2s\n',
      '2 passed and 1 failed in 3s\n',
      'test result: failed. 1 passed; 1 failed;\n',
      '  1 failing test fixed\n',
      '==== 2 passed in 1.2 seconds ====\n',
      '# fail 0\n',
      '# pass 0\n# fail 0\n',
      '# pass 2\n\n# fail 0\n',
      '# fail 1 of them\n',
      // Each runner's words where its summary has them: at the start of the line (but vitest's blanks),
      // with vitest's two blanks after the title, up to the line's end.
      'Unit Tests  1 failed (1)\n',
      'e2e Test Files  1 failed (1)\n',
      'Found Type Errors  2 failed\n',
      'Unhandled Errors  1 error\n',
      'Tests 2 failed, retrying\n',
      'Test Files 1 failed\n',
      'Type Errors 1 failed\n',
      '     Errors  1 error in the config, ignored\n',
      'Tests  retried 2 failed ones\n',
      'previous Test Suites: 1 failed, 2 total\n',
      'previous Tests: 1 failed, 2 total\n',
      'Test Suites: 1 failed, 2 total, retrying\n',
      'Tests: 1 failed, 2 total (flaky)\n',
      '2 failed in 3.1s; retrying\n',
      '5 checked, 1 failed in 0.8s\n',
      'expected # fail 1\n',
      'ok 1 - # pass 2\n# fail 0\n',
      '# pass 2 of 3\n# fail 0\n',
      'log: test result: FAILED. 1 passed; 1 failed;\n',
      'fixed: 2 failing\n',
      'retried: 4 examples, 1 failure\n',
      '4 examples, 1 failure expected\n',
      '  1 failed to connect, retrying\n',
      // A summary line is short: a long line that reads like one is none.
      `Tests:       1 failed, ${'1 skipped, '.repeat(40)}2 total\n`,
      `2 passed${', 1 warning'.repeat(40)} in 0.52s\n`,
    ]) {
      expect(onSuccess(command, stdout), stdout).toEqual({ command, outcome: 'unknown' });
    }
  });

  it("reads each runner's summary lines as it prints them, whatever the counts (two digits, a long run)", () => {
    const command = 'npm test 2>&1 | tail -40';
    const failed = (runner: string) => ({ command, passed: false, from_summary: runner });
    const passed = (runner: string) => ({ command, passed: true, from_summary: runner });
    const unknown = { command, outcome: 'unknown' };
    const table: [string, Record<string, unknown>][] = [
      // Failures.
      [' Test Files  12 failed | 3 passed (15)\n      Tests  20 failed | 31 passed (51)\n', failed('vitest')],
      // vitest's titles without the blanks before them (an output whose start was trimmed).
      ['Test Files  1 failed (1)\n      Tests  no tests\n', failed('vitest')],
      // vitest --typecheck: its title fills the column, no blank before it; its tests passed.
      [' Test Files  1 passed (1)\n      Tests  2 passed (2)\nType Errors  1 failed\n', failed('vitest')],
      ['     Errors  12 errors\n', failed('vitest')],
      ['==== 2 errors in 0.12s ====\n', failed('pytest')],
      ['12 failed in 0.52s\n', failed('pytest')],
      ['1 failed, 12 passed in 75.51s (0:01:15)\n', failed('pytest')],
      ['1 failed, 1 warning in 0.50s\n', failed('pytest')],
      [
        // --bail: the run stopped after the failed suite; only that line shows the failure.
        'Test Suites: 1 failed, 11 passed, 12 of 14 total\nTests:       40 passed, 40 total\n',
        failed('jest'),
      ],
      [
        'test result: FAILED. 10 passed; 12 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n',
        failed('cargo'),
      ],
      ['  12 failing\n', failed('mocha')],
      ['# pass 1\n# fail 12\n', failed('node')],
      // A test cancelled (its timeout, its parent's failure) did not pass.
      ['# pass 1\n# fail 0\n# cancelled 1\n', failed('node')],
      // Passes.
      [' Test Files  12 passed (12)\n      Tests  140 passed (140)\n', passed('vitest')],
      ['Test Suites: 12 passed, 12 total\nTests:       140 passed, 140 total\n', passed('jest')],
      ['===== 140 passed in 75.51s (0:01:15) =====\n', passed('pytest')],
      ['# pass 12\n# fail 0\n', passed('node')],
      [`${output('vitest-pass')}✨  Done in 12.05s.\n`, passed('vitest')],
      // No pass: no test passed (all skipped), or the files line above is not there.
      ['2 skipped in 0.01s\n', unknown],
      ['test_app.py::test_error_pages SKIPPED (needs a database)\n\n==== 1 skipped in 0.01s ====\n', unknown],
      [' Test Files  1 passed (1)\n      Tests  2 skipped (2)\n', unknown],
      ['Test Suites: 1 passed, 1 total\nTests:       2 skipped, 2 total\n', unknown],
      ['      Tests  2 passed (2)\n', unknown],
      // mocha's pass is never read, though its output has a summary word (a test's name).
      [output('mocha-pass').replace('✔ a', '✔ reports an error'), unknown],
      // Another tool's line after the summary is none of the runner's own closing lines.
      [`${output('pytest-q-pass')}app.py:1:1: F401 'os' imported but unused\n`, unknown],
      [`${output('vitest-pass')}Build Duration  3s\n`, unknown],
      [`${output('vitest-pass')}Duration 3s\n`, unknown],
      [`${output('jest-pass')}Build Time: 3s\n`, unknown],
      [`${output('node-test-tap-pass')}lint: # todo comments found\n`, unknown],
      [`${output('vitest-pass')}Build Done in 2.0s.\n`, unknown],
      [`${output('vitest-pass')}Done in 1.15s. Running e2e\n`, unknown],
    ];
    for (const [stdout, expected] of table) {
      expect(onSuccess(command, stdout), stdout).toEqual(expected);
    }
    // A summary line of up to 300 characters is read (pytest's, long with its warnings), a longer one not.
    const long = (banner: number) =>
      `${'='.repeat(3)} 2 passed${', 1 warning'.repeat(25)} in 0.52s ${'='.repeat(banner)}\n`;
    expect(long(3).trimEnd()).toHaveLength(300);
    expect(onSuccess(command, long(3))).toEqual(passed('pytest'));
    expect(onSuccess(command, long(4))).toEqual(unknown);
  });

  it('reads a pass only when tail kept fewer lines than it may, counting a last line without a newline', () => {
    const pass = output('vitest-pass').trimEnd();
    const lines = pass.split('\n').length;
    // Claude Code drops the newline that ends an output. tail -20 kept 16 lines: 4 blank ones may be gone.
    const command = 'npx vitest run 2>&1 | tail -20';
    expect(onSuccess(command, `${'.\n'.repeat(16 - lines)}${pass}`)).toEqual({ command, outcome: 'unknown' });
    expect(onSuccess(command, `${'.\n'.repeat(15 - lines)}${pass}`)).toEqual({
      command,
      passed: true,
      from_summary: 'vitest',
    });
    // The longest output read for a pass: 999 lines, with its newline.
    const big = 'npx vitest run 2>&1 | tail -5000';
    expect(onSuccess(big, `${'.\n'.repeat(999 - lines)}${pass}\n`)).toEqual({
      command: big,
      passed: true,
      from_summary: 'vitest',
    });
    // A count of bytes may cut a line off above, however few lines it kept.
    for (const bytes of ['pytest -q 2>&1 | tail -c 2000', 'pytest -q 2>&1 | tail --bytes=2000']) {
      expect(onSuccess(bytes, output('pytest-q-pass')), bytes).toEqual({
        command: bytes,
        outcome: 'unknown',
      });
    }
  });

  it('reads the streams Claude Code reported: a response without stderr, or one that is only text', () => {
    const command = 'npx vitest run 2>&1 | tail -20';
    const pass = output('vitest-pass');
    expect(testRun('PostToolUse', { tool_input: { command }, tool_response: { stdout: pass } })).toEqual({
      command,
      passed: true,
      from_summary: 'vitest',
    });
    // An older Claude Code's response, its output as a string: not read.
    expect(testRun('PostToolUse', { tool_input: { command }, tool_response: pass })).toEqual({
      command,
      outcome: 'unknown',
    });
    // stderr with a summary word but no summary takes nothing from stdout's pass.
    expect(onSuccess(command, pass, 'Warning: failed to load .env, using defaults\n')).toEqual({
      command,
      passed: true,
      from_summary: 'vitest',
    });
    // stderr is all a line's test command printed only when the line is that command piped to tail: here
    // it is the second jest's, while tail may have cut the first one's failure off.
    const two = 'npx jest src/a 2>&1 | tail -3; npx jest src/b';
    expect(onSuccess(two, tail(output('jest-fail'), 3), output('jest-pass'))).toEqual({
      command: two,
      outcome: 'unknown',
    });
  });

  it("lets correlate see red-then-green tests that Claude Code ran through tail (a bug fix's evidence)", async () => {
    const bash = (at: number, command: string, stdout: string): HookOutput => ({
      hook: 'PostToolUse',
      timestamp: T + at,
      output: {
        session_id: SESSION,
        transcript_path: '/t.jsonl',
        cwd: '/home/user/app',
        hook_event_name: 'PostToolUse',
        tool_name: 'Bash',
        tool_input: { command },
        tool_response: { stdout, stderr: '', interrupted: false, isImage: false },
      },
    });
    const edit: HookOutput = {
      hook: 'PostToolUse',
      timestamp: T + 20_000,
      output: {
        session_id: SESSION,
        transcript_path: '/t.jsonl',
        cwd: '/home/user/app',
        hook_event_name: 'PostToolUse',
        tool_name: 'Edit',
        tool_input: { file_path: '/home/user/app/src/sum.ts', old_string: 'a - b', new_string: 'a + b' },
        tool_response: { filePath: '/home/user/app/src/sum.ts' },
      },
    };
    const tests = 'npx vitest run 2>&1 | tail -30';
    const session = (red: string, green: string) => [
      bash(0, tests, tail(red, 30)),
      edit,
      bash(40_000, tests, tail(green, 30)),
      bash(60_000, 'git commit -am "add the numbers"', '[main 1a2b3c4] add the numbers\n 1 file changed\n'),
    ];
    const evidence = async (outputs: HookOutput[]) => {
      const events = await lastValueFrom(
        from(outputs).pipe(
          bridgeHooks(),
          correlate(DEFAULT_CORRELATION_GROUPS.filter((group) => group.name === 'bug-fix')),
          toArray(),
        ),
      );
      const detected = events.filter((event) => event.type === 'activity.detected');
      expect(detected).toHaveLength(1);
      return (detected[0]!.data.details as { evidence?: unknown }).evidence;
    };
    expect(await evidence(session(output('vitest-fail'), output('vitest-pass')))).toEqual([
      'modified-then-committed',
      'tests-red-then-green',
    ]);
    // The same session without the summaries (the runs' outcome unknown): no such evidence.
    expect(await evidence(session('', ''))).toEqual(['modified-then-committed']);
  });

  it('reads no pass where tail may have cut a failure off above the summary (real runs)', () => {
    // vitest: a test file that failed to load, jest: a suite that did; each counted only on the line above
    // the passing `Tests` line. Four lines kept: unknown; the line above kept too: the failure.
    for (const [name, command, runner] of [
      ['vitest-file-failed', 'npx vitest run', 'vitest'],
      ['jest-suite-failed', 'npx jest', 'jest'],
    ] as const) {
      const text = output(name);
      const four = `${command} 2>&1 | tail -4`;
      expect(onSuccess(four, tail(text, 4)), name).toEqual({ command: four, outcome: 'unknown' });
      const all = `${command} 2>&1 | tail -500`;
      expect(onSuccess(all, tail(text, 500)), name).toEqual({
        command: all,
        passed: false,
        from_summary: runner,
      });
    }
    // npm workspaces go on after a package fails: the first package's failure, cut off, leaves the
    // second's pass at the end. Any cut is no pass; all of it is unknown too (the second package's pass
    // reads as a retry's, which settles the failure before it: see below).
    const workspaces = output('npm-workspaces');
    const lines = workspaces.trimEnd().split('\n').length;
    for (let n = 1; n <= lines; n++) {
      const command = `npm test --workspaces 2>&1 | tail -${n}`;
      const read = onSuccess(command, tail(workspaces, n));
      expect(read?.passed, `tail -${n}`).not.toBe(true);
    }
    const all = 'npm test --workspaces 2>&1 | tail -200';
    expect(onSuccess(all, tail(workspaces, 200))).toEqual({ command: all, outcome: 'unknown' });
    // pytest cut short by pytest.exit(): `1 passed`, but the other tests did not run; its banner is a long
    // line when the exit's message is long.
    const exited = output('pytest-exit');
    expect(onSuccess('pytest 2>&1 | tail -100', exited)).toEqual({
      command: 'pytest 2>&1 | tail -100',
      outcome: 'unknown',
    });
    const long = exited.replace('database not available', `database not available: ${'x'.repeat(400)}`);
    expect(onSuccess('pytest 2>&1 | tail -100', long)).toEqual({
      command: 'pytest 2>&1 | tail -100',
      outcome: 'unknown',
    });
    expect(onSuccess('pytest 2>&1 | tail -100', exited.replace(/^!.*\n/m, ''))).toEqual({
      command: 'pytest 2>&1 | tail -100',
      passed: true,
      from_summary: 'pytest',
    });
  });

  it('reads no pass from npm workspaces whose failed package printed no count of passed tests', () => {
    // The first package failed with a summary that counts no run of its own (playwright's `1 failed` alone,
    // every test failed; vitest's `Tests  no tests`, its only file failed to load), the second passed: the
    // second's pass settles the failure as a retry's would, yet the first run still counts, so no pass.
    const workspaces = output('npm-workspaces');
    // npm's lines after the first package's output, up to the second package's header.
    const between = workspaces.slice(
      workspaces.indexOf('npm error Lifecycle'),
      workspaces.indexOf('> b@1.0.0'),
    );
    const playwrightFailed = output('playwright-fail').replace(/^ {2}1 skipped\n {2}2 passed \(.*\)\n/m, '');
    expect(playwrightFailed).not.toMatch(/passed/);
    for (const [first, next, runner] of [
      [output('vitest-broken'), `${between}> b@1.0.0 test\n> vitest run\n${output('vitest-pass')}`, 'vitest'],
      [
        playwrightFailed,
        `${between}> b@1.0.0 test\n> playwright test\n${output('playwright-pass')}`,
        'playwright',
      ],
    ] as const) {
      const command = 'npm test --workspaces 2>&1 | tail -200';
      const stdout = `\n> a@1.0.0 test\n> ${runner === 'vitest' ? 'vitest run' : 'playwright test'}\n${first}${next}`;
      expect(onSuccess(command, stdout), runner).toEqual({ command, outcome: 'unknown' });
      // The failure alone is read.
      expect(onSuccess(command, stdout.slice(0, stdout.indexOf('npm error'))), runner).toEqual({
        command,
        passed: false,
        from_summary: runner,
      });
    }
  });

  it("reads nx run-many --output-style=stream's tasks (`> nx run web:test`, then `web: …`) apart, and turbo's", () => {
    // nx 24 running vitest in two projects, their lines interleaved: a pass when every one passed, a
    // failure in either; before, neither was read (each summary line starts with its project's prefix).
    const pass = output('nx-stream-pass');
    const fail = output('nx-stream-fail');
    const command = 'npm test 2>&1 | tail -100';
    expect(onSuccess(command, pass)).toEqual({ command, passed: true, from_summary: 'vitest' });
    expect(onSuccess(command, fail)).toEqual({ command, passed: false, from_summary: 'vitest' });
    // Any cut: the failure while its line is kept, never a pass.
    for (const [text, failed] of [
      [pass, undefined],
      [fail, /^web: +(?:Test Files|Tests) {2}1 failed/],
    ] as const) {
      const lines = text.trimEnd().split('\n').length;
      for (let n = 1; n <= lines; n++) {
        const cut = `npm test 2>&1 | tail -${n}`;
        const kept = tail(text, n);
        expect(onSuccess(cut, kept), `tail -${n}`).toEqual(
          shows(kept, failed)
            ? { command: cut, passed: false, from_summary: 'vitest' }
            : { command: cut, outcome: 'unknown' },
        );
      }
    }
    // A task replayed from the cache, with its options: the same header.
    expect(
      onSuccess(command, pass.replace('> nx run api:test', '> nx run api:test --coverage  [local cache]')),
    ).toEqual({ command, passed: true, from_summary: 'vitest' });
    // A task without a summary (a build the tests depend on), a failed task nx names, another run after nx's:
    // no pass.
    const build = pass
      .replace('> nx run api:test', '> nx run shared:build\n\n> nx run api:test')
      .replace('api: > api@0.0.0 test', 'shared: > tsc -b\napi: > api@0.0.0 test');
    expect(onSuccess(command, build)).toEqual({ command, outcome: 'unknown' });
    expect(onSuccess(command, `${pass}\nFailed tasks:\n\n- web:lint\n`)).toEqual({
      command,
      outcome: 'unknown',
    });
    expect(onSuccess(command, `${pass}${output('vitest-pass')}`)).toEqual({ command, outcome: 'unknown' });
    // turbo --output-logs=errors-only (npm test = turbo run test …): its count of tasks when none printed.
    expect(onSuccess(command, output('turbo-errors-only-pass'))).toEqual({
      command,
      passed: true,
      from_summary: 'turbo',
    });
    expect(onSuccess(command, output('turbo-errors-only-fail'))).toEqual({
      command,
      passed: false,
      from_summary: 'vitest',
    });
    expect(onSuccess('npm test 2>&1 | tail -4', tail(output('turbo-errors-only-pass'), 4))).toEqual({
      command: 'npm test 2>&1 | tail -4',
      outcome: 'unknown',
    });
    // nx's default style (static) prints a failed task's output as it is, unprefixed, and no passing one's.
    expect(onSuccess(command, output('nx-static-fail'))).toEqual({
      command,
      passed: false,
      from_summary: 'vitest',
    });
  });

  it('reads the outputs of nx, turbo and Maven run as they are, not through npm test, piped to tail', () => {
    // Before, none of these commands was a test command: no test.run at all.
    for (const [command, name, passed, runner] of [
      ['npx nx run-many -t test --output-style=stream 2>&1 | tail -100', 'nx-stream-pass', true, 'vitest'],
      ['npx nx run-many -t test --output-style=stream 2>&1 | tail -100', 'nx-stream-fail', false, 'vitest'],
      ['turbo run test --output-logs=errors-only 2>&1 | tail -100', 'turbo-errors-only-pass', true, 'turbo'],
      [
        'turbo run test --output-logs=errors-only 2>&1 | tail -100',
        'turbo-errors-only-fail',
        false,
        'vitest',
      ],
      ['./mvnw -B verify 2>&1 | tail -60', 'maven-pass', true, 'maven'],
      ['mvn clean test 2>&1 | tail -60', 'maven-fail', false, 'maven'],
    ] as const) {
      expect(onSuccess(command, output(name)), name).toEqual({ command, passed, from_summary: runner });
    }
  });

  it('reads the last run of a retry: a failure that a later passing run settled is no failure', () => {
    const fail = output('vitest-fail-nocolor');
    const pass = output('vitest-pass');
    const command = 'npx vitest run || npx vitest run';
    expect(onSuccess(command, `${fail}${pass}`)).toEqual({ command, outcome: 'unknown' });
    expect(onSuccess(command, `${pass}${fail}`)).toEqual({ command, passed: false, from_summary: 'vitest' });
    const pytest = 'pytest -q || pytest -q --lf';
    expect(onSuccess(pytest, `${output('pytest-q-fail')}${output('pytest-q-pass')}`)).toEqual({
      command: pytest,
      outcome: 'unknown',
    });
    // A pass of another runner settles nothing; nor does a vitest pass whose files line failed.
    expect(onSuccess(command, `${fail}${output('jest-pass')}`)).toEqual({
      command,
      passed: false,
      from_summary: 'vitest',
    });
    expect(onSuccess(command, `${fail}${output('vitest-file-failed')}`)).toEqual({
      command,
      passed: false,
      from_summary: 'vitest',
    });
    // A retry settles only its own runner's failure: jest's, before a vitest that failed and then passed,
    // stands (so does pytest's before go's retry, and playwright's before vitest's).
    for (const [first, runner, retried] of [
      ['jest-fail', 'jest', `${fail}${pass}`],
      ['pytest-q-fail', 'pytest', `${output('go-fail')}${output('go-pass')}`],
      ['playwright-fail', 'playwright', `${fail}${pass}`],
    ] as const) {
      const line = `npx ${runner} 2>&1; npx vitest run || npx vitest run`;
      expect(onSuccess(line, `${output(first)}${retried}`), first).toEqual({
        command: line,
        passed: false,
        from_summary: runner,
      });
    }
  });

  it("reads go's run as a whole: a pass only from go's own lines, a failure from its FAIL lines", () => {
    const command = 'go test ./... 2>&1 | tail -40';
    const read = (stdout: string) => onSuccess(command, stdout);
    const passed = { command, passed: true, from_summary: 'go' };
    const failed = { command, passed: false, from_summary: 'go' };
    const unknown = { command, outcome: 'unknown' };
    const pass = output('go-pass');
    const verbose = output('go-v-pass');
    // go downloads modules first; blank lines anywhere are nothing.
    expect(read(`go: downloading github.com/stretchr/testify v1.9.0\n\n${pass}\n`)).toEqual(passed);
    // A line of anything else is not go's: a test's own print, another command's output, a panic.
    expect(read(verbose.replace('--- PASS: TestUp', 'hello from TestUp\n--- PASS: TestUp'))).toEqual(unknown);
    expect(read(`${pass}done\n`)).toEqual(unknown);
    expect(read(`${output('vitest-pass')}${pass}`)).toEqual(unknown);
    // No package whose tests ran: no pass; nor a package line too long to be read.
    expect(read(`${output('go-none')}?   \texample.com/app/cmd\t[no test files]\n`)).toEqual(unknown);
    expect(read(`${pass}ok  \texample.com/${'a'.repeat(300)}\t0.002s\n`)).toEqual(unknown);
    // A test's log (indented) that ends in go's word is no failure.
    expect(
      read(verbose.replace('--- PASS: TestUp', '    strs_test.go:9: status FAIL\n--- PASS: TestUp')),
    ).toEqual(passed);
    // A long test run, -cover with -v (go's own `coverage:` line) and -coverpkg (`… of statements in ./...`).
    expect(read(pass.replace('0.005s', '12.005s'))).toEqual(passed);
    const coverVerbose = verbose.replace(
      /^PASS\nok {2}\t(\S+)\t([\d.]+s)$/gm,
      'PASS\ncoverage: 100.0% of statements\nok  \t$1\t$2\tcoverage: 100.0% of statements',
    );
    expect(coverVerbose).toMatch(/^coverage: 100\.0% of statements$/m);
    expect(read(coverVerbose)).toEqual(passed);
    expect(read(output('go-cover-pass').replaceAll('of statements', 'of statements in ./...'))).toEqual(
      passed,
    );
    // go 1.22 and later with -cover: a package without test files as `⇥pkg⇥⇥coverage: 0.0% …`, one without
    // statements as `coverage: [no statements]`.
    const cover122 = output('go-cover-pass')
      .replace(
        '?   \texample.com/app/cmd/tool\t[no test files]',
        '\texample.com/app/cmd/tool\t\tcoverage: 0.0% of statements',
      )
      .replace('0.003s\tcoverage: 100.0% of statements', '0.003s\tcoverage: [no statements]');
    expect(cover122).toMatch(/^\t\S+\t\tcoverage: 0\.0% of statements$/m);
    expect(cover122).toMatch(/\tcoverage: \[no statements\]$/m);
    expect(read(cover122)).toEqual(passed);
    expect(read(cover122.replace('\tcoverage: 0.0%', ' coverage: 0.0%'))).toEqual(unknown);
    // An `ok` that says no tests ran beside one whose tests ran is a pass.
    expect(read(`${output('go-none')}${pass}`)).toEqual(passed);
    // A subtest's failure (indented) is not a line of a run that passed, whatever follows it.
    const subtest = verbose.replace(
      '--- PASS: TestUp',
      '    --- FAIL: TestUp/empty (0.00s)\n--- PASS: TestUp',
    );
    expect(read(subtest)).toEqual(unknown);
    // Without its package's last line (here `ok`; go prints `FAIL`), the failure stands.
    expect(read(subtest.slice(0, subtest.lastIndexOf('ok  ')))).toEqual(failed);
    // A retry: a later run's `ok` settles a failure before it; `FAIL`, the end of a failed run, does not.
    const retry = 'go test ./... || go test ./...';
    expect(onSuccess(retry, `${output('go-fail')}${pass}`)).toEqual({ command: retry, outcome: 'unknown' });
    expect(onSuccess(retry, `${pass}${output('go-fail')}`)).toEqual({
      command: retry,
      passed: false,
      from_summary: 'go',
    });
    // Other runners' lines in go's words are not go's: jest's `FAIL path`, unittest's `FAIL: test_x`.
    expect(read('FAIL src/a.test.js\nFAIL: test_add (test_calc.TestCalc)\n')).toEqual(unknown);
    // Nor is `FAIL` alone in an output without a line only go prints: a vitest run whose test logged it
    // passed; `go test | tail -1` shows nothing more.
    const vitest = 'npx vitest run 2>&1 | tail -40';
    const logged = output('vitest-pass').replace(
      /^.* pass\.test\.mjs .*$/m,
      'stdout | pass.test.mjs > a\nFAIL\n\n$&',
    );
    expect(logged).toMatch(/^FAIL$/m);
    expect(onSuccess(vitest, logged)).toEqual({ command: vitest, passed: true, from_summary: 'vitest' });
    expect(read(tail(output('go-fail'), 1))).toEqual(unknown);
    // With one (a package's result, `ok` or `FAIL`), it ends a run of go's that failed.
    expect(read(tail(output('go-build-failed'), 2))).toEqual(failed);
  });

  it('reads no pass from go test -bench: its ok is also that of a package whose tests -run left out', () => {
    // No test ran (`-run '^$'`), nor a benchmark (none matched): go prints `PASS` and `ok` without
    // `[no tests to run]`. Its failures are still read.
    const none = output('go-bench-none');
    for (const command of [
      "go test -run '^$' -bench Nothing ./... 2>&1 | tail -20",
      'go test -run=^TestX -bench=BenchmarkY ./... | tail -20',
      'cd app && go test -v --bench . 2>&1 | tail',
      "go  test -run '^$' -bench Nothing ./... 2>&1 | tail -20",
    ]) {
      expect(onSuccess(command, none), command).toEqual({ command, outcome: 'unknown' });
      expect(onSuccess(command, output('go-fail')), command).toEqual({
        command,
        passed: false,
        from_summary: 'go',
      });
    }
    // Without `-bench` the same output is a pass (as `go test` in a package's folder prints it); `-benchmem`
    // alone runs no benchmark.
    for (const command of ['go test ./... 2>&1 | tail -20', 'go test -benchmem ./... 2>&1 | tail -20']) {
      expect(onSuccess(command, none), command).toEqual({ command, passed: true, from_summary: 'go' });
    }
  });

  it("reads rspec's summary: its pending examples are no pass, what follows it only the seed", () => {
    const command = 'bundle exec rspec 2>&1 | tail -40';
    const read = (stdout: string) => onSuccess(command, stdout);
    const unknown = { command, outcome: 'unknown' };
    const pass = output('rspec-pass');
    expect(read(pass)).toEqual({ command, passed: true, from_summary: 'rspec' });
    // Every example pending ran none that passed (nor one filtered out).
    expect(read(pass.replace('2 examples, 0 failures', '2 examples, 0 failures, 2 pending'))).toEqual(
      unknown,
    );
    expect(read(pass.replace('2 examples, 0 failures', '1 example, 0 failures'))).toEqual({
      command,
      passed: true,
      from_summary: 'rspec',
    });
    // Counts of two digits.
    for (const [summary, expected] of [
      ['12 examples, 0 failures', { command, passed: true, from_summary: 'rspec' }],
      ['12 examples, 0 failures, 10 pending', { command, passed: true, from_summary: 'rspec' }],
      ['12 examples, 10 failures', { command, passed: false, from_summary: 'rspec' }],
      [
        '0 examples, 0 failures, 10 errors occurred outside of examples',
        { command, passed: false, from_summary: 'rspec' },
      ],
    ] as const) {
      expect(read(pass.replace('2 examples, 0 failures', summary)), summary).toEqual(expected);
    }
    // After the summary: the seed, once or more; not another line.
    expect(read(`${pass}\nRandomized with seed 42\n\n`)).toEqual({
      command,
      passed: true,
      from_summary: 'rspec',
    });
    expect(read(`${pass}Coverage report generated for RSpec to /home/user/app/coverage.\n`)).toEqual(unknown);
    expect(read(`${pass}Randomized with seed 42, rerun with --seed 42\n`)).toEqual(unknown);
    expect(read(`${pass}Not Randomized with seed 42\n`)).toEqual(unknown);
    // A failure or an error outside of examples, however many examples passed; a retry's pass settles it.
    expect(read(pass.replace('0 failures', '0 failures, 2 errors occurred outside of examples'))).toEqual({
      command,
      passed: false,
      from_summary: 'rspec',
    });
    const retry = 'rspec || rspec --only-failures';
    expect(onSuccess(retry, `${output('rspec-fail')}${pass}`)).toEqual({
      command: retry,
      outcome: 'unknown',
    });
  });

  it('reads no pass from rspec cut short by an interrupt (its word on stderr, not by its summary)', () => {
    // An example sent SIGINT to rspec: it ran no more examples (the one that would fail), yet counts
    // `0 failures` (and exits 1). It prints its word on stderr: without `2>&1`, apart from the summary.
    const interrupted = output('rspec-interrupt');
    const banner = /^RSpec is shutting down.*\n/m;
    const command = 'rspec 2>&1 | tail -20';
    expect(onSuccess(command, interrupted)).toEqual({ command, outcome: 'unknown' });
    const alone = 'rspec | tail -20';
    expect(onSuccess(alone, interrupted.replace(banner, ''), `\n${banner.exec(interrupted)![0]}`)).toEqual({
      command: alone,
      outcome: 'unknown',
    });
    expect(onSuccess(alone, interrupted.replace(banner, ''))).toEqual({
      command: alone,
      passed: true,
      from_summary: 'rspec',
    });
  });

  it('reads no test run from rspec --dry-run or go test -list, whatever their summary says', () => {
    // `--dry-run` counts every example, the failing one too, as `0 failures`; `-list` prints an `ok` for
    // each package when no test matches. Neither runs a test: no test.run, whatever their output says.
    for (const [name, line] of [
      ['rspec-dry-run', 'rspec --dry-run'],
      ['go-list-none', 'go test -list Nothing ./...'],
      ['go-list-none', 'go test -list=Nothing ./...'],
      ['go-list-none', 'go test ./... --list Nothing'],
    ] as const) {
      for (const command of [`${line} 2>&1 | tail -20`, line]) {
        expect(onSuccess(command, output(name)), command).toBeUndefined();
      }
    }
    // The same output of a run is read as it reads (`rspec` prints no more with `--dry-run`).
    expect(onSuccess('rspec 2>&1 | tail -20', output('rspec-dry-run'))).toEqual({
      command: 'rspec 2>&1 | tail -20',
      passed: true,
      from_summary: 'rspec',
    });
  });

  it("reads playwright's counts as one summary: its passed line settles no failure of its own run", () => {
    const command = 'npx playwright test 2>&1 | tail -40';
    const read = (stdout: string) => onSuccess(command, stdout);
    const pass = output('playwright-pass');
    const fail = output('playwright-fail');
    // The html reporter's lines may follow the pass; tests that did not run leave it unknown.
    expect(read(`${pass}\n  To open last HTML report run:\n\n    npx playwright show-report\n\n`)).toEqual({
      command,
      passed: true,
      from_summary: 'playwright',
    });
    expect(read(pass.replace('  2 passed', '  1 did not run\n  2 passed'))).toEqual({
      command,
      outcome: 'unknown',
    });
    // Counts of two digits, a run shorter than a second.
    const passed = { command, passed: true, from_summary: 'playwright' };
    expect(read(pass.replace('  2 passed (1.4s)', '  12 passed (12.3s)'))).toEqual(passed);
    expect(read(pass.replace('  2 passed (1.4s)', '  2 passed (950ms)'))).toEqual(passed);
    expect(read(pass.replace('  2 passed', '  12 did not run\n  2 passed'))).toEqual({
      command,
      outcome: 'unknown',
    });
    expect(read(fail.replace('  2 failed', '  12 failed'))).toEqual({
      command,
      passed: false,
      from_summary: 'playwright',
    });
    expect(read(`${pass}  12 errors were not a part of any test, see above for details\n`)).toEqual({
      command,
      passed: false,
      from_summary: 'playwright',
    });
    // A retry: a run started after the failure settles it with its pass; the failed run's own pass does not.
    const retry = 'npx playwright test || npx playwright test --last-failed';
    expect(onSuccess(retry, `${fail}${pass}`)).toEqual({ command: retry, outcome: 'unknown' });
    // The retry of the failed test alone (`--last-failed`), or a run of many tests on many workers.
    for (const running of ['Running 1 test using 1 worker', 'Running 12 tests using 10 workers']) {
      const rerun = pass.replace('Running 2 tests using 1 worker', running);
      expect(onSuccess(retry, `${fail}${rerun}`), running).toEqual({ command: retry, outcome: 'unknown' });
    }
    expect(onSuccess(retry, `${pass}${fail}`)).toEqual({
      command: retry,
      passed: false,
      from_summary: 'playwright',
    });
    expect(onSuccess(retry, `${fail}  3 passed (1.1s)\n`)).toEqual({
      command: retry,
      passed: false,
      from_summary: 'playwright',
    });
    // A retry that failed again: the pass of its other tests settles nothing, though it started after the
    // first failure.
    expect(onSuccess(retry, `${fail}${fail}`)).toEqual({
      command: retry,
      passed: false,
      from_summary: 'playwright',
    });
  });

  it('reads no pass from an output Claude Code cut in the middle, nor past the last 1,000 lines', () => {
    const command = 'npx vitest run 2>&1 | tail -5000';
    const pass = output('vitest-pass');
    expect(onSuccess(command, `x\n... [48211 characters truncated] ...\n${pass}`)).toEqual({
      command,
      outcome: 'unknown',
    });
    expect(onSuccess(command, `${'.\n'.repeat(1_200)}${pass}`)).toEqual({ command, outcome: 'unknown' });
    // stderr, all of which the pipe leaves to Claude Code (jest's), likewise.
    const jest = 'npx jest | tail -5';
    expect(onSuccess(jest, '', `${'.\n'.repeat(1_200)}${output('jest-pass')}`)).toEqual({
      command: jest,
      outcome: 'unknown',
    });
    expect(onSuccess(jest, '', `${'.\n'.repeat(900)}${output('jest-pass')}`)).toEqual({
      command: jest,
      passed: true,
      from_summary: 'jest',
    });
    // Claude Code's output ends without a newline: a failure on the 1,000th line from the end is read, one on
    // the 1,001st is not.
    const failed = ' Test Files  1 failed (1)\n';
    expect(onSuccess(command, `${failed}${'.\n'.repeat(998)}.`)).toEqual({
      command,
      passed: false,
      from_summary: 'vitest',
    });
    expect(onSuccess(command, `${failed}${'.\n'.repeat(999)}.`)).toEqual({ command, outcome: 'unknown' });
    // An output of 1,001 lines, its first one blank: its last 1,000 lines are read, a failure in them; no pass.
    expect(onSuccess(command, `\n${failed}${'.\n'.repeat(998)}.`)).toEqual({
      command,
      passed: false,
      from_summary: 'vitest',
    });
    const passLines = pass.trimEnd().split('\n').length;
    expect(onSuccess(command, `\n${'.\n'.repeat(999 - passLines)}${pass.trimEnd()}\n`)).toEqual({
      command,
      outcome: 'unknown',
    });
    expect(onSuccess(command, `${'.\n'.repeat(999 - passLines)}${pass.trimEnd()}\n`)).toEqual({
      command,
      passed: true,
      from_summary: 'vitest',
    });
    expect(onSuccess(command, `${'.\n'.repeat(900)}${pass}`)).toEqual({
      command,
      passed: true,
      from_summary: 'vitest',
    });
    // A failure is read in the last 1,000 lines only.
    const fail = output('vitest-fail-nocolor');
    expect(onSuccess(command, `${fail}${'.\n'.repeat(1_000)}`)).toEqual({ command, outcome: 'unknown' });
    expect(onSuccess(command, `${fail}${'.\n'.repeat(900)}`)).toEqual({
      command,
      passed: false,
      from_summary: 'vitest',
    });
  });
});
