import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BUILTIN_AGGREGATIONS,
  BUILTIN_CHAINS,
  ConfigError,
  type Hook,
  type HookContext,
  hookDirectory,
  resolveChain,
  resolveHooks,
  runHookAggregation,
  runHookChain,
} from '../../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-chains-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const answer = (name: string): Hook => ({ name, run: () => ({ context_updates: { [name]: true } }) });

describe('BUILTIN_CHAINS and BUILTIN_AGGREGATIONS', () => {
  it("are the seed's definitions", () => {
    expect(BUILTIN_CHAINS['code-review'].hooks).toEqual([
      'compliance-checker',
      'security-scanner',
      'performance-analyzer',
      'ui-validator',
    ]);
    expect(BUILTIN_CHAINS['pre-commit'].hooks).toEqual([
      'lint-checker',
      'test-runner',
      'security-scan',
      'build-validator',
    ]);
    expect(BUILTIN_AGGREGATIONS['review-summary'].hooks).toEqual(['compliance', 'reviewer', 'ui-enhancer']);
    expect(BUILTIN_AGGREGATIONS['validation-result'].hooks).toEqual(['spec-guardian', 'compliance']);
  });
});

describe('resolveChain / resolveHooks', () => {
  it('resolves a definition with a record of hooks, keeping the chain order', async () => {
    const hooks = Object.fromEntries(BUILTIN_CHAINS['code-review'].hooks.map((name) => [name, answer(name)]));
    const chain = resolveChain(BUILTIN_CHAINS['code-review'], hooks);
    expect(chain.name).toBe('code-review');
    const outputs = await lastValueFrom(runHookChain(chain, {}).pipe(toArray()));
    const result = outputs.at(-1);
    if (result?.kind !== 'result') throw new Error('expected the chain result');
    expect(result.results.map((s) => s.hook)).toEqual(BUILTIN_CHAINS['code-review'].hooks);
    expect(Object.keys(result.final_context)).toEqual(BUILTIN_CHAINS['code-review'].hooks);
  });

  it('refuses a name with a character that shows as nothing, before asking the resolver', () => {
    const asked: string[] = [];
    const resolver = (name: string): Hook => {
      asked.push(name);
      return { name, run: () => ({}) };
    };
    // Was resolved: a hook that read as `lint`, and a chain that read as `code-review`.
    expect(() => resolveHooks(['test', 'lint\u200b'], resolver)).toThrow(
      new ConfigError(
        "resolveHooks: hook name #1 'lint\\u{200B}' has an invisible character (U+200B): it would read as " +
          "'lint'; a name must be made of characters that show",
      ),
    );
    expect(asked).toEqual(['test']);
    expect(() => resolveChain({ name: 'code\u2060review', hooks: ['test'] }, resolver)).toThrow(
      new ConfigError(
        "resolveChain: the definition's name 'code\\u{2060}review' has an invisible character (U+2060): it " +
          "would read as 'codereview'; a name must be made of characters that show",
      ),
    );
  });

  it('takes a name whose joiners and selectors change how its letters show, and refuses them where they show nothing', () => {
    const resolver = (name: string): Hook => ({ name, run: () => ({}) });
    // Each was refused as an invisible character (U+200C, U+200D, U+180B, U+180E, U+E0100).
    const names = [
      '\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645', // Persian می‌خواهم: a non-joiner between joining letters
      '\u06a9\u062a\u0627\u0628\u200c\u0647\u0627', // کتاب‌ها
      '\u0646\u06c1\u200c\u06cc\u06ba', // Urdu نہ‌یں
      '\u0915\u094d\u200d\u0937', // Hindi क्‍ष: a half form
      '\u0915\u094d\u200c\u0937', // क्‌ष: the virama shown
      '\u09b0\u200d\u09cd\u09af', // Bengali র‍্য: ya-phala after ra
      '\u0d28\u0d4d\u200d', // Malayalam's chillu ന്‍
      '\u0dc1\u0dca\u200d\u0dba', // Sinhala's yansaya ශ්‍ය
      '\u182d\u180b', // Mongolian ᠭ with a free variation selector
      '\u1828\u1820\u180e\u1837', // Mongolian vowel separator before a final a
      '\u845b\u{e0100}\u57ce', // 葛󠄀城: an ideographic variation selector
    ];
    expect(resolveHooks(names, resolver).map((h) => h.name)).toEqual(names);
    for (const [name, code] of [
      ['lint\u200c', '200C'],
      ['li\u200dnt', '200D'],
      ['\u0627\u200c\u0628', '200C'], // ا then ب: alef joins nothing after it
      ['\u06a9\u062a\u0627\u0628\u200c', '200C'], // at the end, nothing after it to join
      ['\u0915\u200d\u0937', '200D'], // no virama
      ['\u0645\u06cc\u200c\u200c\u062e', '200C'], // the second one
      ['l\u094d\u200d', '200D'], // a Devanagari virama after a Latin letter makes no conjunct
      ['l\u200d\u094d', '200D'],
      ['a\u180b', '180B'],
      ['a\u{e0100}', 'E0100'],
    ] as const) {
      expect(() => resolveHooks([name], resolver)).toThrow(`has an invisible character (U+${code})`);
    }
  });

  it("takes a zero-width non-joiner or joiner between two letters it joins or parts: Persian's فایل‌ها, Devanagari's क्‍ष (they were refused as invisible)", () => {
    const resolver = (name: string): Hook => ({ name, run: () => ({}) });
    const names = ['\u0641\u0627\u06cc\u0644\u200c\u0647\u0627', '\u0915\u094d\u200d\u0937'];
    expect(resolveHooks(names, resolver).map((hook) => hook.name)).toEqual(names);
    // Between Latin letters, at an end, or two in a row, they show nothing: still refused.
    for (const name of ['li\u200cnt', 'lint\u200d', '\u0644\u200c\u200c\u0647', 'a\u200c\u0628']) {
      expect(() => resolveHooks([name], resolver)).toThrow(/has an invisible character \(U\+200[CD]\)/);
    }
  });

  it('resolves with a function, renaming hooks to their names in the definition', async () => {
    class Scanner {
      readonly name = 'generic';
      private readonly hits = 2;
      run(context: HookContext) {
        return { score: this.hits, context_updates: { scanned: context.target } };
      }
    }
    const scanner = new Scanner();
    const hooks = resolveHooks(['security-scan', 'security-scanner'], () => scanner);
    expect(hooks.map((h) => h.name)).toEqual(['security-scan', 'security-scanner']);
    // A resolver's hooks need no name of their own.
    const [nameless] = resolveHooks(['lint-checker'], () => ({ run: () => ({}) }) as unknown as Hook);
    expect(nameless?.name).toBe('lint-checker');
    const outputs = await lastValueFrom(
      runHookChain({ name: 'c', hooks }, { target: 'src' }).pipe(toArray()),
    );
    const first = outputs[0];
    expect(first?.kind === 'step' && first.status === 'completed' && first.result.score).toBe(2);
  });

  it("keeps a renamed function hook's timeoutMs and errorPolicy, and a renamed command hook's fields", () => {
    const run = () => ({});
    const [fn, bare, command] = resolveHooks(['a', 'b', 'c'], (name) =>
      name === 'a'
        ? { name: 'other', run, timeoutMs: 5, errorPolicy: 'fail-open' }
        : name === 'b'
          ? { name: 'other', run }
          : { name: 'other', command: 'lint', args: ['--fix'], timeoutMs: 7 },
    );
    expect(fn).toMatchObject({ name: 'a', timeoutMs: 5, errorPolicy: 'fail-open' });
    expect(Object.keys(bare!).sort()).toEqual(['name', 'run']);
    expect(command).toEqual({ name: 'c', command: 'lint', args: ['--fix'], timeoutMs: 7 });
  });

  it('takes a hook already under its name as it is: a class instance keeps its prototype and fields', () => {
    class Lint {
      readonly name = 'lint-checker';
      readonly strict = true;
      run() {
        return { score: this.strict ? 1 : 0 };
      }
    }
    const lint = new Lint();
    const command = { name: 'test-runner', command: 'npm', args: ['test'] };
    const [resolvedLint, resolvedCommand] = resolveHooks(['lint-checker', 'test-runner'], {
      'lint-checker': lint,
      'test-runner': command,
    });
    expect(resolvedLint).toBe(lint);
    expect(resolvedLint).toBeInstanceOf(Lint);
    expect(resolvedCommand).toBe(command);
  });

  it('checks what the resolver gives, naming the hook and its place in the list', () => {
    expect(() =>
      resolveHooks(['a', 'b'], (name) => (name === 'a' ? answer('a') : ({ command: '' } as unknown as Hook))),
    ).toThrow(new ConfigError('resolveHooks: hook "b": command must be a non-empty string'));
    expect(() => resolveHooks(['a', 'b'], (name) => (name === 'a' ? answer('a') : (1 as never)))).toThrow(
      new ConfigError('resolveHooks: hook #1 must be an object, got number'),
    );
  });

  it('refuses a hole or a name that is not a non-empty string in the list, naming its place', () => {
    // A hole of a sparse list was skipped: the chain was resolved with a hook fewer, without a word.
    const hooks = { a: answer('a'), b: answer('b') };
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
    const sparse = ['a', , 'b'] as never;
    expect(() => resolveHooks(sparse, hooks)).toThrow(
      new ConfigError('resolveHooks: hook name #1 must be a non-empty string, got undefined'),
    );
    expect(() => resolveChain({ name: 'c', hooks: sparse }, () => answer('x'))).toThrow(
      new ConfigError('resolveHooks: hook name #1 must be a non-empty string, got undefined'),
    );
    expect(() => resolveHooks(['a', 7] as never, hooks)).toThrow(
      new ConfigError('resolveHooks: hook name #1 must be a non-empty string, got 7'),
    );
    expect(() => resolveHooks([''], () => answer('x'))).toThrow(
      new ConfigError("resolveHooks: hook name #0 must be a non-empty string, got ''"),
    );
  });

  it('refuses a definition that is not { name, hooks } with a non-empty name (null was a TypeError)', () => {
    const hook = answer('a');
    expect(() => resolveChain(null as never, { a: hook })).toThrow(
      new ConfigError('resolveChain: the definition must be { name, hooks }, got null'),
    );
    // The definition's name given for the definition.
    expect(() => resolveChain('pre-commit' as never, { a: hook })).toThrow(
      new ConfigError("resolveChain: the definition must be { name, hooks }, got 'pre-commit'"),
    );
    expect(() => resolveChain({ hooks: ['a'] } as never, { a: hook })).toThrow(
      new ConfigError("resolveChain: the definition's name must be a non-empty string, got undefined"),
    );
    expect(() => resolveChain({ name: '', hooks: ['a'] }, { a: hook })).toThrow(
      new ConfigError("resolveChain: the definition's name must be a non-empty string, got ''"),
    );
    expect(resolveChain({ name: 'c', hooks: ['a'] }, { a: hook }).name).toBe('c');
  });

  it('refuses names that are not a list: a string was resolved letter by letter', () => {
    const made: string[] = [];
    const anyName = (name: string) => {
      made.push(name);
      return answer(name);
    };
    expect(() => resolveHooks('lint' as never, anyName)).toThrow(
      new ConfigError("resolveHooks: the hook names must be an array, got 'lint'"),
    );
    expect(() => resolveChain({ name: 'c', hooks: 'lint' as never }, anyName)).toThrow(
      new ConfigError("resolveHooks: the hook names must be an array, got 'lint'"),
    );
    expect(() => resolveHooks(undefined as never, anyName)).toThrow(
      new ConfigError('resolveHooks: the hook names must be an array, got undefined'),
    );
    expect(made).toEqual([]);
    expect(() => resolveHooks(['a'], null as never)).toThrow(
      new ConfigError('resolveHooks: the resolver must be a record of hooks or a function, got null'),
    );
    expect(() => resolveHooks(['a'], '.vibespec/hooks' as never)).toThrow(
      new ConfigError(
        "resolveHooks: the resolver must be a record of hooks or a function, got '.vibespec/hooks'",
      ),
    );
  });

  it('names every hook the resolver does not know, at set-up', () => {
    const resolver = { 'lint-checker': answer('lint-checker') };
    expect(() => resolveChain(BUILTIN_CHAINS['pre-commit'], resolver)).toThrow(
      new ConfigError('resolveHooks: no hook for "test-runner", "security-scan", "build-validator"'),
    );
    // Keys of Object.prototype are not hooks.
    expect(() => resolveHooks(['constructor'], {})).toThrow(ConfigError);
    const bug = new Error('resolver bug');
    let thrown: unknown;
    try {
      resolveHooks(['a'], () => {
        throw bug;
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toEqual(new ConfigError('resolveHooks: the resolver threw for hook "a"'));
    expect((thrown as ConfigError).cause).toBe(bug);
    expect(() => resolveHooks(['a'], { a: { name: 'a' } as Hook })).toThrow(ConfigError);
  });

  it('makes the seed aggregations runnable', async () => {
    const definition = BUILTIN_AGGREGATIONS['validation-result'];
    const hooks = resolveHooks(definition.hooks, (name) => ({
      name,
      run: () => (name === 'compliance' ? { passed: false, reason: 'no licence' } : { passed: true }),
    }));
    const outputs = await lastValueFrom(
      runHookAggregation(hooks, {}, definition.aggregator, { name: definition.name }).pipe(toArray()),
    );
    const result = outputs.at(-1);
    if (result?.kind !== 'aggregate') throw new Error('expected the aggregate');
    expect(result.aggregation).toBe('validation-result');
    expect(result.aggregate).toEqual({
      passed: false,
      passed_hooks: ['spec-guardian'],
      failed_hooks: ['compliance'],
      reasons: [{ hook: 'compliance', status: 'completed', reason: 'no licence' }],
    });
  });
});

describe('hookDirectory', () => {
  it('refuses a dir that is not a non-empty string at the call (null was TypeError, an empty one the working directory)', () => {
    for (const [bad, shown] of [
      [null, 'null'],
      ['', "''"],
      [7, '7'],
    ] as const) {
      expect(() => hookDirectory(bad as never)).toThrow(
        new ConfigError(`hookDirectory: dir must be a non-empty path, got ${shown}`),
      );
    }
  });

  it('resolves node scripts by name, and runs them with this Node', async () => {
    await writeFile(
      join(dir, 'lint-checker.mjs'),
      `let s = ''; for await (const c of process.stdin) s += c;
       process.stdout.write(JSON.stringify({ context_updates: { linted: JSON.parse(s).files } }));`,
    );
    await writeFile(join(dir, 'test-runner.cjs'), `process.stdout.write('{"score": 1}')`);
    const resolve = hookDirectory(dir, { timeoutMs: 30_000 });
    const lint = resolve('lint-checker');
    expect(lint).toEqual({
      name: 'lint-checker',
      command: process.execPath,
      args: [join(dir, 'lint-checker.mjs')],
      timeoutMs: 30_000,
    });
    expect(resolve('test-runner')?.args).toEqual([join(dir, 'test-runner.cjs')]);
    expect(resolve('security-scan')).toBeUndefined();
    expect(resolve('../lint-checker')).toBeUndefined();
    expect(resolve('..')).toBeUndefined();

    const chain = resolveChain({ name: 'mini', hooks: ['lint-checker', 'test-runner'] }, resolve);
    const outputs = await lastValueFrom(runHookChain(chain, { files: ['a.ts'] }).pipe(toArray()));
    const result = outputs.at(-1);
    if (result?.kind !== 'result') throw new Error('expected the chain result');
    expect(result.outcome).toBe('completed');
    expect(result.final_context).toEqual({ files: ['a.ts'], linted: ['a.ts'] });
  });

  it('checks its options at the call, also when it never finds a hook', () => {
    // Told only once a hook was found before: a directory without hooks never said its timeoutMs was NaN.
    // Said as options, as other functions' are (`runHook: timeoutMs must be…`), not as a hook "(options)".
    expect(() => hookDirectory(dir, { timeoutMs: Number.NaN })).toThrow(
      new ConfigError('hookDirectory: timeoutMs must be a positive number of ms (or Infinity), got NaN'),
    );
    expect(() => hookDirectory(dir, { errorPolicy: 'open' as never })).toThrow(
      new ConfigError("hookDirectory: errorPolicy must be 'fail-open' or 'fail-closed', got 'open'"),
    );
    expect(() => hookDirectory(dir, { maxOutputBytes: -1 })).toThrow(
      new ConfigError('hookDirectory: maxOutputBytes must be a positive integer, got -1'),
    );
    expect(() => hookDirectory(dir, { env: ['A=1'] as never })).toThrow(
      new ConfigError(
        'hookDirectory: env must be a record of strings (an object, not an array, a Map or a Set)',
      ),
    );
    expect(() => hookDirectory(dir, { cwd: '' })).toThrow(
      new ConfigError('hookDirectory: cwd must be a non-empty string'),
    );
    expect(hookDirectory(dir, { timeoutMs: 5, cwd: dir, env: { A: '1' }, maxOutputBytes: 10 })('none')).toBe(
      undefined,
    );
  });

  it('never resolves an empty name, ".", ".." or a name with a backslash to a file beside the directory', async () => {
    // The hook directory is dir/a/b: "." would look for dir/a/b.mjs, ".." for dir/a.mjs.
    const hooks = join(dir, 'a', 'b');
    await mkdir(hooks, { recursive: true });
    await writeFile(join(dir, 'a', 'b.mjs'), '');
    await writeFile(join(dir, 'a.mjs'), '');
    await writeFile(join(hooks, 'x\\y.mjs'), '');
    const resolve = hookDirectory(hooks);
    expect(resolve('')).toBeUndefined();
    expect(resolve('.')).toBeUndefined();
    expect(resolve('..')).toBeUndefined();
    expect(resolve('x\\y')).toBeUndefined();
  });

  it('looks for .mjs, then .js, then .cjs, and takes only files', async () => {
    await writeFile(join(dir, 'both.js'), '');
    await writeFile(join(dir, 'both.cjs'), '');
    await writeFile(join(dir, 'all.mjs'), '');
    await writeFile(join(dir, 'all.js'), '');
    await mkdir(join(dir, 'folder'));
    await writeFile(join(dir, 'folder.cjs'), '');
    await mkdir(join(dir, 'dir-script.mjs'));
    const resolve = hookDirectory(dir);
    expect(resolve('both')?.args).toEqual([join(dir, 'both.js')]);
    expect(resolve('all')?.args).toEqual([join(dir, 'all.mjs')]);
    // A directory is not an executable (though its x bit is set), nor a script.
    expect(resolve('folder')).toEqual({
      name: 'folder',
      command: process.execPath,
      args: [join(dir, 'folder.cjs')],
    });
    expect(resolve('dir-script')).toBeUndefined();
  });

  it('rejects an unknown option, naming the nearest known one', () => {
    expect(() => hookDirectory(dir, { timeout: 5 } as never)).toThrow(
      new ConfigError(
        'hookDirectory: unknown option "timeout" (did you mean "timeoutMs"?); known: timeoutMs, errorPolicy, env, cwd, maxOutputBytes',
      ),
    );
  });

  it.skipIf(process.platform === 'win32')('prefers an executable named exactly as the hook', async () => {
    const file = join(dir, 'build-validator');
    await writeFile(file, '#!/bin/sh\necho \'{"passed": true}\'\n');
    await writeFile(join(dir, 'build-validator.mjs'), '');
    await writeFile(join(dir, 'not-executable'), '#!/bin/sh\n');
    await chmod(file, 0o755);
    const resolve = hookDirectory(dir);
    expect(resolve('build-validator')).toEqual({ name: 'build-validator', command: file });
    expect(resolve('not-executable')).toBeUndefined();
    const outputs = await lastValueFrom(
      runHookChain({ name: 'c', hooks: [resolve('build-validator')!] }, {}).pipe(toArray()),
    );
    const step = outputs[0];
    expect(step?.kind === 'step' && step.status === 'completed' && step.result.passed).toBe(true);
  });

  it('refuses shell, which it cannot apply (it was accepted and ignored without a word), whatever its value', () => {
    for (const shell of [true, '/bin/bash', false, undefined]) {
      expect(() => hookDirectory(dir, { shell, timeoutMs: 30_000 } as never)).toThrow(
        new ConfigError(
          'hookDirectory: shell is no option of hookDirectory: what it finds is a file, run directly (a shell would split its path at a space); leave shell out',
        ),
      );
    }
  });

  it('runs what it finds directly: a path with spaces is never split', async () => {
    const spaced = join(dir, 'my hooks');
    await mkdir(spaced);
    await writeFile(join(spaced, 'lint-checker.mjs'), `process.stdout.write('{"score": 2}')`);
    const hook = hookDirectory(spaced, { timeoutMs: 30_000 })('lint-checker')!;
    expect(hook).toEqual({
      name: 'lint-checker',
      command: process.execPath,
      args: [join(spaced, 'lint-checker.mjs')],
      timeoutMs: 30_000,
    });
    const outputs = await lastValueFrom(runHookChain({ name: 'c', hooks: [hook] }, {}).pipe(toArray()));
    const step = outputs[0];
    expect(step?.kind === 'step' && step.status === 'completed' && step.result.score).toBe(2);
  });
});
