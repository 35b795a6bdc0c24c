/**
 * The Bash line's prefilter (`mayRunTests`), which spares most lines the full reading, against that reading
 * (`readsTestRun`): a line it lets go never has a test command in the full reader's eyes, whatever quotes
 * and `\`s hide its names and words. Random lines of the reader's vocabulary: the names of test commands and
 * of the tools whose words it knows, their words, options, prefixes and runners, `bash -c` scripts, each
 * word maybe quoted whole or in part, or with a `\` in it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mayRunTests, readsTestRun } from '../../src/streams/toEvents.js';

const names = [
  'npm',
  'pnpm',
  'yarn',
  'bun',
  'npx',
  'mvn',
  './mvnw',
  'gradle',
  './gradlew',
  'GRADLEW.BAT',
  'Mvnw.cmd',
  'lerna',
  'turbo',
  'nx',
  'tox',
  'nox',
  'cargo',
  'go',
  'make',
  'bin/rails',
  'rake',
  'node',
  'python3',
  'vitest',
  'jest',
  'pytest',
  'rspec',
  'mocha',
  'phpunit',
  'ctest',
  'playwright',
  'deno',
  'dotnet',
  'swift',
  'mix',
  'bazel',
  'hatch',
  'env',
  'sudo',
  'time',
  'exec',
  'uv',
  'git',
  'echo',
];
const words = [
  'test',
  't',
  'tst',
  'run',
  'exec',
  'verify',
  'package',
  'install',
  'deploy',
  'build',
  'check',
  'clean',
  'nextest',
  'affected:test',
  'api:test',
  '-t',
  '-x',
  ':lib:test',
  ':test',
  '--',
  '-q',
  '-m',
  '-qm',
  '-B',
  '-r',
  '--filter',
  '--scope',
  'api',
  '--test',
  '-m pytest',
  '-m unittest',
  'integration-test',
  'surefire:test',
  'testDebugUnitTest',
  'che',
  'b',
  'TEST',
  'tDUT',
  '--x',
  '-qx',
  'workspaces foreach',
  'CI=1',
  'x',
];
const separators = [' ', ' ', ' ', '  ', '\t', ' \\\n', '; ', ' && ', ' || ', ' | ', '\n', ' & '];

/** `word` as is, quoted whole, with a quote pair or a quoted part inside, or with a `\` before a letter. */
const disguised = (word: string): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.constant(word), weight: 4 },
    fc.constantFrom(`"${word}"`, `'${word}'`),
    fc
      .nat(word.length)
      .chain((at) =>
        fc.constantFrom(
          `${word.slice(0, at)}""${word.slice(at)}`,
          `${word.slice(0, at)}"${word.slice(at)}"`,
          `${word.slice(0, at)}'${word.slice(at, at + 1)}'${word.slice(at + 1)}`,
          `${word.slice(0, at)}\\${word.slice(at)}`,
        ),
      ),
  );

const command: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...names).chain(disguised),
    fc.array(
      fc.tuple(fc.constantFrom(...separators.slice(0, 6)), fc.constantFrom(...words).chain(disguised)),
      { maxLength: 5 },
    ),
  )
  .map(([name, rest]) => name + rest.map(([separator, word]) => separator + word).join(''));

const line: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(fc.tuple(command, fc.constantFrom(...separators)), { minLength: 1, maxLength: 3 }),
    fc.constantFrom('', '', '', 'bash -c "', "sh -c '", '( ', '{ '),
  )
  .map(([commands, open]) => {
    const body = commands.map(([c, separator], i) => (i === 0 ? c : separator + c)).join('');
    const close = open === '' ? '' : open === '( ' ? ' )' : open === '{ ' ? '; }' : open.at(-1)!;
    return open + body + close;
  });

describe('the Bash line prefilter', () => {
  it('lets go only lines the full reader finds no test command in', () => {
    fc.assert(
      fc.property(line, (text) => {
        if (!mayRunTests(text)) expect(readsTestRun(text), text).toBe(false);
      }),
      { numRuns: 20_000 },
    );
  });

  it("generates lines the reader reads as runs, quoted names among them (the property's cases are not all none)", () => {
    const sample = fc.sample(line, { numRuns: 2_000, seed: 231 });
    const runs = sample.filter(readsTestRun);
    expect(runs.length).toBeGreaterThan(200);
    // Runs in which every name and word that says so is broken by a quote or a `\`: the reader reads them
    // without those, as the prefilter must too.
    const hidden = runs.filter((text) => !/test|jest|mocha|rspec|tox|nox|mvn|gradle|npm/.test(text));
    expect(hidden.length).toBeGreaterThan(5);
  });

  it('lets go the common lines without a test command, not those with one', () => {
    for (const text of [
      'git status',
      'npm run build',
      'npm install zod',
      'pnpm install',
      'cargo build --release',
      'yarn build && yarn lint',
      'ls -la src',
      'echo "build done"',
      'docker build -t app .',
    ]) {
      expect(mayRunTests(text), text).toBe(false);
    }
    for (const text of [
      'npm test',
      'mvn package',
      'm"v"n package',
      "'./gradlew' build",
      'npm t',
      'n\\pm t',
      'pnpm tst',
      'bash -c mvn\\ install',
      'tox',
      // A name or a word with quotes or a `\` between its letters, dropped by the shell (these were let go).
      'pyt""est',
      'j"es"t -w 1',
      'bash -c mvn\\ pack\\age',
      'bash -c npm\\ \\t',
      // Gradle's lines, a task's name abbreviated (read as unknown); Windows' scripts in capitals.
      './gradlew che',
      'gradle b',
      'GRADLEW.BAT build',
      'MVNW.CMD verify',
    ]) {
      expect(mayRunTests(text), text).toBe(true);
      expect(readsTestRun(text), text).toBe(true);
    }
  });
});
