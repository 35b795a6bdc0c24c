import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readTestSummary } from '../../src/streams/testSummary.js';

// readTestSummary on the output of a monorepo tool that prefixes each package's task lines (turbo's
// `web:test: `, pnpm -r's `packages/web test: `), in the forms they print: each task read apart, a pass only
// when every task's lines end in one.

const read = (text: string) => readTestSummary([{ text, whole: true }]);
const pass = (runner: string) => ({ runner, passed: true });
const fail = (runner: string) => ({ runner, passed: false });
const OUTPUTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'test-output');

/** A package's vitest run as turbo prints it (`cache miss, executing`, npm's script lines, the summary). */
function turboVitest(task: string, files: string, tests: string): string[] {
  return [
    `${task}: cache miss, executing 0123abcd4567ef89`,
    `${task}: `,
    `${task}: > ${task.split(':')[0]}@0.0.0 test /repo/apps/x`,
    `${task}: > vitest run`,
    `${task}: `,
    `${task}:  RUN  v4.0.9 /repo/apps/x`,
    `${task}: `,
    `${task}:  Test Files  ${files}`,
    `${task}:       Tests  ${tests}`,
    `${task}:    Start at  03:40:01`,
    `${task}:    Duration  300ms`,
    `${task}: `,
  ];
}

const TURBO_START = [
  '• Packages in scope: api, web',
  '• Running test in 2 packages',
  '• Remote caching disabled',
];
const TURBO_END = [
  '',
  ' Tasks:    2 successful, 2 total',
  'Cached:    0 cached, 2 total',
  '  Time:    1.234s ',
  '',
];

function pnpmVitest(pkg: string, files: string, tests: string, last = 'Done'): string[] {
  return [
    `${pkg} test$ vitest run`,
    `${pkg} test:  RUN  v4.1.4 /repo/${pkg}`,
    `${pkg} test:  Test Files  ${files}`,
    `${pkg} test:       Tests  ${tests}`,
    `${pkg} test:    Start at  07:11:30`,
    `${pkg} test:    Duration  504ms (transform 196ms, setup 0ms, import 379ms, tests 239ms, environment 1ms)`,
    `${pkg} test: ${last}`,
  ];
}

const lines = (...parts: string[][]) => `${parts.flat().join('\n')}\n`;

describe('readTestSummary, lines a monorepo tool prefixed', () => {
  it("reads turbo's tasks (`web:test:  Tests  3 passed (3)`): a pass when every one passed", () => {
    const api = turboVitest('api:test', '1 passed (1)', '2 passed (2)');
    const web = turboVitest('web:test', '1 passed (1)', '3 passed (3)');
    expect(read(lines(TURBO_START, api, web, TURBO_END))).toStrictEqual(pass('vitest'));
    // Run in parallel, their lines interleave.
    const mixed = api.flatMap((text, i) => [text, web[i]!]);
    expect(read(lines(TURBO_START, mixed, TURBO_END))).toStrictEqual(pass('vitest'));
    // A scoped package name, logs replayed from turbo's cache.
    const scoped = turboVitest('@acme/web:test', '1 passed (1)', '3 passed (3)');
    scoped[0] = '@acme/web:test: cache hit, replaying logs 0123abcd4567ef89';
    expect(read(lines(scoped, TURBO_END))).toStrictEqual(pass('vitest'));
  });

  it("reads a failure in any of turbo's tasks, before or after another's pass", () => {
    const failed = turboVitest('web:test', '1 failed (1)', '1 failed | 2 passed (3)');
    const passed = turboVitest('api:test', '1 passed (1)', '2 passed (2)');
    const end = [
      '',
      ' Tasks:    1 successful, 2 total',
      'Cached:    0 cached, 2 total',
      '  Time:    1.2s',
      'Failed:    web#test',
    ];
    expect(read(lines(failed, passed, end))).toStrictEqual(fail('vitest'));
    expect(read(lines(passed, failed, end))).toStrictEqual(fail('vitest'));
  });

  it('reads no pass unless every task printed a pass of the same runner, and the tool itself no failure', () => {
    const api = turboVitest('api:test', '1 passed (1)', '2 passed (2)');
    // web's build failed: its test never ran.
    const build = [
      'web:build: cache miss, executing 89abcdef01234567',
      'web:build: src/a.ts(1,7): error TS2322',
      'web:build: ERROR: command finished with error: command (/repo/apps/web) npm run build exited (2)',
    ];
    expect(read(lines(TURBO_START, api, build))).toBeUndefined();
    // Its logs not replayed (`--output-logs=new-only`).
    expect(
      read(lines(api, ['web:test: cache hit, suppressing logs 89abcdef01234567'], TURBO_END)),
    ).toBeUndefined();
    expect(
      read(lines(api, ['web:test: cache hit, replaying logs 89abcdef01234567', 'web:test: '], TURBO_END)),
    ).toBeUndefined();
    // Two runners: which one's pass would it be?
    const jest = [
      'web:test: cache miss, executing 89abcdef01234567',
      'web:test: Test Suites: 1 passed, 1 total',
      'web:test: Tests:       3 passed, 3 total',
    ];
    expect(read(lines(api, jest, TURBO_END))).toBeUndefined();
    // A step after the tests failed; turbo names the failed task.
    expect(
      read(
        lines(
          api,
          [
            'web:test: cache miss, executing 89abcdef01234567',
            ...turboVitest('web:test', '1 passed (1)', '3 passed (3)').slice(1),
            'web:test: ERROR: command finished with error',
          ],
          TURBO_END,
        ),
      ),
    ).toBeUndefined();
    expect(
      read(lines(api, turboVitest('web:test', '1 passed (1)', '3 passed (3)'), ['Failed:    web#lint'])),
    ).toBeUndefined();
    // Another run outside the tasks (`turbo run test && vitest run`).
    expect(read(lines(api, [' Test Files  1 passed (1)', '      Tests  1 passed (1)']))).toBeUndefined();
  });

  it("reads pnpm -r's packages (`packages/web test: …`, then `Done`): a pass when every one passed", () => {
    const shared = pnpmVitest('packages/shared', '6 passed (6)', '101 passed (101)');
    const web = pnpmVitest('packages/web', '2 passed (2)', '9 passed (9)');
    expect(read(lines(['Scope: 2 of 3 workspace projects'], shared, web))).toStrictEqual(pass('vitest'));
    expect(
      read(
        lines(
          ['Scope: 2 of 3 workspace projects'],
          shared.slice(0, 1),
          web.slice(0, 1),
          shared.slice(1),
          web.slice(1),
        ),
      ),
    ).toStrictEqual(pass('vitest'));
    const failed = pnpmVitest('packages/web', '1 failed | 1 passed (2)', '1 failed | 8 passed (9)', 'Failed');
    expect(
      read(
        lines(shared, failed, [
          ' ERR_PNPM_RECURSIVE_RUN_FIRST_FAIL  web@0.0.0 test: `vitest run`',
          'Exit status 1',
        ]),
      ),
    ).toStrictEqual(fail('vitest'));
    // A package whose script printed no summary, or did not end in Done.
    const docs = [
      'packages/docs test$ echo "no tests"',
      'packages/docs test: no tests',
      'packages/docs test: Done',
    ];
    expect(read(lines(shared, docs))).toBeUndefined();
    expect(
      read(lines(shared, pnpmVitest('packages/web', '2 passed (2)', '9 passed (9)', 'Failed'))),
    ).toBeUndefined();
  });

  it('reads the lines of many tasks of long names each by its prefix, the first task whose prefix fits', () => {
    // Each line's prefix is looked up (it ends at the line's first or second blank): compared with each
    // task's, 80 tasks' lines of 1,000-character names took 0.6 s, a megabyte of them 5 s.
    const name = (i: number) => `${'p'.repeat(1_000)}${i}`;
    const tasks = Array.from({ length: 80 }, (_, i) =>
      turboVitest(`${name(i)}:test`, '1 passed (1)', '2 passed (2)'),
    );
    expect(read(lines(TURBO_START, ...tasks, TURBO_END))).toStrictEqual(pass('vitest'));
    tasks[79] = turboVitest(`${name(79)}:test`, '1 failed (1)', '1 failed | 1 passed (2)');
    expect(read(lines(TURBO_START, ...tasks, TURBO_END))).toStrictEqual(fail('vitest'));
    // pnpm's prefix of two words, and a line that is a prefix alone (a task's blank line).
    const web = pnpmVitest('packages/web', '2 passed (2)', '9 passed (9)');
    expect(read(lines(web.slice(0, 2), ['packages/web test:'], web.slice(2)))).toStrictEqual(pass('vitest'));
    // nx's `web:` and turbo's `web:test:` in one output: a `web:test: …` line is turbo's task's, read with
    // it, whichever header came first.
    const turbo = turboVitest('web:test', '1 passed (1)', '2 passed (2)');
    const nx = ['> nx run web:lint', 'web: lint ok', 'web: Tests  1 failed (1)'];
    expect(read(lines(nx, turbo))).toStrictEqual(fail('vitest'));
    expect(read(lines(nx.slice(0, 2), turbo))).toBeUndefined();
  });

  it("reads turbo's count of its tasks as a pass where no task printed a line (--output-logs=errors-only)", () => {
    // turbo 2.11 over two vitest packages: a task that succeeds prints nothing, one that fails its lines.
    const passing = readFileSync(join(OUTPUTS, 'turbo-errors-only-pass.txt'), 'utf8');
    const failing = readFileSync(join(OUTPUTS, 'turbo-errors-only-fail.txt'), 'utf8');
    expect(read(passing)).toStrictEqual(pass('turbo'));
    expect(read(failing)).toStrictEqual(fail('vitest'));
    expect(readTestSummary([{ text: passing, whole: false }])).toBeUndefined();
    // All cached (` >>> FULL TURBO`), counts of two digits; a task that did not succeed, none at all, or
    // turbo's count not the end: no pass.
    const full = passing.replace(/Time: {4}.*/, 'Time:    52ms >>> FULL TURBO');
    expect(read(full)).toStrictEqual(pass('turbo'));
    expect(read(passing.replaceAll('2 successful, 2 total', '12 successful, 12 total'))).toStrictEqual(
      pass('turbo'),
    );
    expect(read(passing.replace('2 successful, 2 total', '1 successful, 2 total'))).toBeUndefined();
    expect(read(passing.replace('2 successful, 2 total', '12 successful, 2 total'))).toBeUndefined();
    expect(read(passing.replace('2 successful, 2 total', '0 successful, 0 total'))).toBeUndefined();
    expect(read(`${passing}Failed:    web#lint\n`)).toBeUndefined();
    expect(
      read(passing.replace('Cached:    0 cached, 2 total', 'Cached:    0 cached, 2 total, 1 failed')),
    ).toBeUndefined();
    expect(read(passing.replace(/Time: {4}.*/, 'Time:    fast'))).toBeUndefined();
    expect(read(passing.replace(' Tasks:    2', ' Tasks: 2'))).toBeUndefined();
    expect(read(passing.replace(' Tasks:    2', ' Subtasks:    2'))).toBeUndefined();
    expect(read(passing.replace('2 total', '2 total (1 skipped)'))).toBeUndefined();
    // Another run beside it: which passed?
    expect(read(`${passing} Test Files  1 passed (1)\n      Tests  2 passed (2)\n`)).toBeUndefined();
    expect(read(` Test Files  1 passed (1)\n      Tests  2 passed (2)\n${passing}`)).toBeUndefined();
  });

  it("reads turbo's count and the lines after it only as turbo prints them", () => {
    const end = (tasks: string, cached = 'Cached:    0 cached, 2 total') =>
      `   • Running test in 2 packages\n\n${tasks}\n${cached}\n  Time:    2.656s \n`;
    expect(read(end(' Tasks:    2 successful, 2 total'))).toStrictEqual(pass('turbo'));
    expect(read(end('Tasks:    2 successful, 2 total'))).toStrictEqual(pass('turbo'));
    expect(read(end(' Tasks:    12 successful, 12 total', 'Cached:    12 cached, 12 total'))).toStrictEqual(
      pass('turbo'),
    );
    expect(read(end(' x Tasks:    2 successful, 2 total'))).toBeUndefined();
    expect(read(end(' Tasks:    2 successful, 2 total', 'x Cached:    0 cached, 2 total'))).toBeUndefined();
  });

  it("reads nx's prefixed lines by the project that nx lists as failed, its `> nx run` header cut off", () => {
    const web = [
      'web:  Test Files  1 failed (1)',
      'web:       Tests  1 failed | 1 passed (2)',
      'web: npm error code 1',
    ];
    const end = [
      '',
      ' NX   Running target test for 2 projects failed',
      '',
      'Failed tasks:',
      '',
      '- web:test',
      '',
    ];
    expect(read(lines(web, end))).toStrictEqual(fail('vitest'));
    expect(read(lines(web, end.slice(0, -2), ['- api:lint', '- web:test:ci']))).toStrictEqual(fail('vitest'));
    // Not without nx's title, nor after a line that ends its list.
    expect(read(lines(web, ['- web:test']))).toBeUndefined();
    expect(read(lines(['- web:test'], web))).toBeUndefined();
    expect(read(lines(web, ['Failed tasks:', 'see above', '- web:test']))).toBeUndefined();
    expect(read(lines(web, ['Failed tasks: 1', '- web:test']))).toBeUndefined();
    expect(read(lines(web, ['Failed tasks:', '- web:test now']))).toBeUndefined();
    expect(read(lines(web, ['Failed tasks:', '- web']))).toBeUndefined();
  });

  it('reads no pass when lines of a task whose first line is not read hold a count (a header in another form)', () => {
    const api = turboVitest('api:test', '1 passed (1)', '2 passed (2)');
    // web's header as turbo prints it with its errorsOnlyShowHash flag, a form not read here.
    const web = turboVitest('web:test', '1 failed (1)', '1 failed | 1 passed (2)');
    web[0] = 'web:test: cache miss, executing 0123abcd4567ef89 (only logging errors)';
    expect(read(lines(TURBO_START, api, web))).toBeUndefined();
    const passing = turboVitest('web:test', '1 passed (1)', '3 passed (3)');
    passing[0] = web[0];
    expect(read(lines(TURBO_START, api, passing))).toBeUndefined();
    // nx: `>> nx run web:test` is none of its headers.
    const nx = (header: string) =>
      lines(
        ['> nx run api:test', '', header, ''],
        ['api:  Test Files  1 passed (1)', 'api:       Tests  2 passed (2)'],
        ['web:  Test Files  1 failed (1)', 'web:       Tests  1 failed | 1 passed (2)'],
      );
    expect(read(nx('> nx run web:test'))).toStrictEqual(fail('vitest'));
    expect(read(nx('> nx run web:test:production'))).toStrictEqual(fail('vitest'));
    expect(read(nx('> nx run web:test --coverage'))).toStrictEqual(fail('vitest'));
    expect(read(nx('>> nx run web:test'))).toBeUndefined();
    expect(read(nx('x> nx run web:test'))).toBeUndefined();
    expect(read(nx('> nx run web:test:production:x'))).toBeUndefined();
    expect(read(nx('> nx run web:test--x'))).toStrictEqual(fail('vitest'));
    // The tool's own lines with a colon that hold no count leave the pass.
    expect(
      read(
        lines(
          ['Scope: 2 of 3 workspace projects', 'note: retrying'],
          turboVitest('api:test', '1 passed (1)', '2 passed (2)'),
        ),
      ),
    ).toStrictEqual(pass('vitest'));
  });

  it('reads an output as before when a line only looks like a task header (a prompt), no line following it', () => {
    expect(
      read('user@host ~$ npx vitest run\n Test Files  1 passed (1)\n      Tests  3 passed (3)\n'),
    ).toStrictEqual(pass('vitest'));
  });
});
