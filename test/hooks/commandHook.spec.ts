/**
 * Command hooks as real child processes: the scripts in test/fixtures/hooks are run with this Node
 * (`process.execPath script.mjs`), so the tests work anywhere Node does. They assert outcomes, never
 * durations; waits are bounded generously and only poll for a state to be reached.
 */
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, type Observable, Subject, toArray, VirtualTimeScheduler } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  aggregateHooks,
  type CommandHook,
  ConfigError,
  chainHooks,
  type HookAggregationOutput,
  type HookChainOutput,
  type HookContext,
  type HookRunOptions,
  type HookStep,
  runHook,
  runHookAggregation,
  runHookChain,
  type ValidationResult,
  validationResult,
} from '../../src/index.js';
import { runChild } from '../helpers/child.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/hooks');

/** A command hook running `test/fixtures/hooks/<script>.mjs` with this Node. */
const script = (name: string, extra: Partial<CommandHook> & { script?: string } = {}): CommandHook => {
  const { script: file = name, args = [], ...rest } = extra;
  return { name, command: process.execPath, args: [join(FIXTURES, `${file}.mjs`), ...args], ...rest };
};

/** `respond.mjs`, which does what its arguments say and never reads stdin. */
const respond = (name: string, ...args: string[]): CommandHook => script(name, { script: 'respond', args });

const run = (hook: CommandHook, context: HookContext = {}, options?: HookRunOptions): Promise<HookStep> =>
  lastValueFrom(runHook(hook, context, options));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds; fails after `limitMs` (generous: this asserts a state, not a speed). */
async function until(check: () => boolean, what: string, limitMs = 120_000): Promise<void> {
  for (let waited = 0; !check(); waited += 25) {
    if (waited > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Whether the process is gone: no such pid (ESRCH). */
function noSuchProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Whether the process has terminated: gone, or a zombie. A killed grandchild is re-parented to init,
 * and it is init's job (not ours) to reap it; until then it is a zombie that no longer runs.
 */
function terminated(pid: number): boolean {
  if (noSuchProcess(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function readPids(file: string): Promise<{ child: number; grandchild: number }> {
  await until(() => existsSync(file), 'the hang script to write its pids');
  return JSON.parse(readFileSync(file, 'utf8')) as { child: number; grandchild: number };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-hooks-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('command hooks', () => {
  it('ok: gets the context as JSON on stdin and answers a validated HookResult', async () => {
    const step = await run(script('ok'), { value: 42, session_id: 'sess-1' });
    if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
    expect(step.result).toMatchObject({
      score: 0.8,
      recommendations: ['add tests'],
      context_updates: { ok_saw: 42 },
      extra_field: 'kept',
    });
    expect(step.hook_kind).toBe('command');
    expect(step.process).toMatchObject({ exit_code: 0, stderr: '', stderr_truncated: false });
    expect(step.event).toMatchObject({
      type: 'hook.completed',
      sessionId: 'sess-1',
      data: { hook: 'ok', hook_kind: 'command', status: 'completed', exit_code: 0, score: 0.8 },
    });
    const pid = step.process!.pid!;
    expect(step.event.data.pid).toBe(pid);
    expect(noSuchProcess(pid)).toBe(true);
  });

  it('passes env and cwd, keeping the parent environment', async () => {
    const step = await run(script('ok', { cwd: dir, env: { VIBESPEC_TEST_VAR: 'from-env' } }));
    if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
    expect(step.result.context_updates).toMatchObject({ ok_cwd: realpathSync(dir), ok_env: 'from-env' });
  });

  it('takes process.env itself as env (its prototype is not Object.prototype, but its variables are its own fields)', async () => {
    process.env.VIBESPEC_TEST_VAR = 'from-process-env';
    try {
      const step = await run(script('ok', { env: process.env as Record<string, string> }));
      if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
      expect(step.result.context_updates).toMatchObject({ ok_env: 'from-process-env' });
    } finally {
      delete process.env.VIBESPEC_TEST_VAR;
    }
  });

  it('writes a large context to stdin in full', async () => {
    const context = { value: 1, padding: 'x'.repeat(2_000_000) };
    const step = await run(script('ok'), context);
    if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
    expect(step.result.context_updates?.ok_input_length).toBe(JSON.stringify(context).length);
  });

  it('does not fail when the hook exits without reading its input', async () => {
    const step = await run(respond('quiet', '--stdout', '{"score": 1}'), { value: 'x'.repeat(2_000_000) });
    expect(step.status).toBe('completed');
  });

  it('block: exit code 2 blocks, with stderr as the reason', async () => {
    const step = await run(script('block'));
    if (step.status !== 'blocked') throw new Error(`expected blocked, got ${step.status}`);
    expect(step.reason).toBe('lint failed: 3 errors in src/a.ts');
    expect(step.error.code).toBe('HOOK_BLOCKED');
    expect(step.error.exitCode).toBe(2);
    expect(step.result).toBeUndefined();
    expect(step.event).toMatchObject({
      type: 'hook.failed',
      data: {
        status: 'blocked',
        code: 'HOOK_BLOCKED',
        reason: 'lint failed: 3 errors in src/a.ts',
        exit_code: 2,
      },
    });
    expect(noSuchProcess(step.process!.pid!)).toBe(true);
  });

  it("blocks on exit 0 with decision: 'block' (Claude Code's JSON form)", async () => {
    const step = await run(respond('json-block', '--stdout', '{"decision":"block","reason":"touches .env"}'));
    if (step.status !== 'blocked') throw new Error(`expected blocked, got ${step.status}`);
    expect(step.reason).toBe('touches .env');
    expect(step.result?.decision).toBe('block');
  });

  it("blocks on exit 0 with a deny in hookSpecificOutput (Claude Code's PreToolUse and PermissionRequest forms)", async () => {
    const pre = await run(
      respond(
        'pre-deny',
        '--stdout',
        '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"rm -rf is not allowed"}}',
      ),
    );
    if (pre.status !== 'blocked') throw new Error(`expected blocked, got ${pre.status}`);
    expect(pre.reason).toBe('rm -rf is not allowed');
    expect(pre.error.code).toBe('HOOK_BLOCKED');
    const request = await run(
      respond(
        'request-deny',
        '--stdout',
        '{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"deny","message":"not on main"}}}',
      ),
    );
    if (request.status !== 'blocked') throw new Error(`expected blocked, got ${request.status}`);
    expect(request.reason).toBe('not on main');
    // allow, ask, and a deny without a reason.
    const allow = await run(
      respond('pre-allow', '--stdout', '{"hookSpecificOutput":{"permissionDecision":"allow"}}'),
    );
    expect(allow.status).toBe('completed');
    const ask = await run(
      respond('pre-ask', '--stdout', '{"hookSpecificOutput":{"permissionDecision":"ask"}}'),
    );
    expect(ask.status).toBe('completed');
    const bare = await run(
      respond('bare-deny', '--stdout', '{"hookSpecificOutput":{"permissionDecision":"deny"}}'),
    );
    if (bare.status !== 'blocked') throw new Error(`expected blocked, got ${bare.status}`);
    expect(bare.reason).toBe('denied');
  });

  it('crash: a non-zero exit fails, quoting stderr', async () => {
    const step = await run(script('crash'));
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_FAILED');
    expect(step.error.exitCode).toBe(1);
    expect(step.error.message).toMatch(/^hook "crash" exited with code 1: /);
    expect(step.error.message).toContain('kaboom');
    expect(step.process?.stderr).toContain('Error: kaboom');
    expect(noSuchProcess(step.process!.pid!)).toBe(true);
  });

  it('fails on another exit code, and on a signal', async () => {
    const exit3 = await run(respond('exit3', '--stderr', 'disk full', '--exit', '3'));
    if (exit3.status !== 'failed') throw new Error(`expected failed, got ${exit3.status}`);
    expect(exit3.error.message).toBe('hook "exit3" exited with code 3: disk full');
    const killed = await run(respond('killed', '--signal', 'SIGTERM'));
    if (killed.status !== 'failed') throw new Error(`expected failed, got ${killed.status}`);
    expect(killed.error.message).toBe('hook "killed" was killed by SIGTERM');
    expect(killed.error.signal).toBe('SIGTERM');
    expect(killed.process?.signal).toBe('SIGTERM');
    expect(killed.error.exitCode).toBeUndefined();
    expect(killed.process).not.toHaveProperty('exit_code');
  });

  it('quotes at most 1,000 characters of stderr in the message, and keeps it all in the error', async () => {
    const noise = `\n ${'a'.repeat(1_000)}${'b'.repeat(500)}\n`;
    const step = await run(respond('long-stderr', '--stderr', noise, '--exit', '1'));
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    // stderr is quoted trimmed, and cut.
    expect(step.error.message).toBe(`hook "long-stderr" exited with code 1: ${'a'.repeat(1_000)}…`);
    expect(step.error.stderr).toBe(noise);
    expect(step.error.exitCode).toBe(1);
    expect(step.error.signal).toBeUndefined();
    expect(step.process).toMatchObject({ exit_code: 1, stderr: noise, stderr_truncated: false });
    expect(step.process?.signal).toBeUndefined();
    const exact = await run(respond('exact-stderr', '--stderr', 'c'.repeat(1_000), '--exit', '1'));
    expect(exact.status === 'failed' && exact.error.message).toBe(
      `hook "exact-stderr" exited with code 1: ${'c'.repeat(1_000)}`,
    );
  });

  it('exit code 2 with nothing on stderr blocks with a reason that says so', async () => {
    const step = await run(respond('silent-block', '--stderr', '  \n', '--exit', '2'));
    if (step.status !== 'blocked') throw new Error(`expected blocked, got ${step.status}`);
    expect(step.reason).toBe('blocked (exit code 2)');
    expect(step.error.message).toBe('hook "silent-block" blocks: blocked (exit code 2)');
    expect(step.error.stderr).toBe('  \n');
  });

  it('a block quotes at most 1,000 characters of its reason in the message, and keeps it all in reason', async () => {
    const long = `${'r'.repeat(1_000)}${'s'.repeat(1_500)}`;
    const cut = `${'r'.repeat(1_000)}…`;
    const exit2 = await run(respond('long-block', '--stderr', long, '--exit', '2'));
    if (exit2.status !== 'blocked') throw new Error(`expected blocked, got ${exit2.status}`);
    expect(exit2.reason).toBe(long);
    expect(exit2.error.message).toBe(`hook "long-block" blocks: ${cut}`);
    expect(exit2.event.data).toMatchObject({ reason: long, error: `hook "long-block" blocks: ${cut}` });
    const json = await run(
      respond('long-json-block', '--stdout', JSON.stringify({ decision: 'block', reason: long })),
    );
    if (json.status !== 'blocked') throw new Error(`expected blocked, got ${json.status}`);
    expect(json.reason).toBe(long);
    expect(json.error.message).toBe(`hook "long-json-block" blocks: ${cut}`);
    expect(json.event.data).toMatchObject({ reason: long, error: `hook "long-json-block" blocks: ${cut}` });
    const exact = await run(respond('exact-block', '--stderr', 'q'.repeat(1_000), '--exit', '2'));
    expect(exact.status === 'blocked' && exact.error.message).toBe(
      `hook "exact-block" blocks: ${'q'.repeat(1_000)}`,
    );
  });

  it('invalid JSON output: a clear HOOK_INVALID_OUTPUT failure', async () => {
    const step = await run(script('invalid-json'));
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_INVALID_OUTPUT');
    expect(step.error.message).toMatch(/^hook "invalid-json" wrote invalid JSON to stdout: /);
    expect(step.error.hook).toBe('invalid-json');
    expect(step.error.exitCode).toBe(0);
    expect(step.error.cause).toBeInstanceOf(SyntaxError);
    expect(step.process).toMatchObject({ exit_code: 0 });
  });

  it('JSON that is not a HookResult: HOOK_INVALID_OUTPUT with the zod issues, and the exit code and stderr as for invalid JSON', async () => {
    const step = await run(
      respond('bad-shape', '--stdout', '{"score":"high","stop_chain":1}', '--stderr', 'checked 3 files'),
    );
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_INVALID_OUTPUT');
    expect(step.error.issues?.map((issue) => issue.path)).toEqual([['stop_chain'], ['score']]);
    // They were left out of this error alone of a command hook's.
    expect(step.error.exitCode).toBe(0);
    expect(step.error.stderr).toBe('checked 3 files');
    expect(step.error.hook).toBe('bad-shape');
    expect(step.process).toMatchObject({ exit_code: 0, stderr: 'checked 3 files' });
  });

  it('parses JSON after a UTF-8 byte-order mark and leading whitespace', async () => {
    const step = await run(respond('bom', '--stdout', '\uFEFF{"score": 0.9}'));
    if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
    expect(step.result.score).toBe(0.9);
    expect(step.process?.stdout).toBeUndefined();
    const spaced = await run(respond('bom-spaced', '--stdout', '\uFEFF\r\n  {"score": 0.5}\n'));
    expect(spaced.status === 'completed' && spaced.result.score).toBe(0.5);
  });

  it('plain-text stdout is kept, not parsed, as Claude Code does', async () => {
    const step = await run(respond('text', '--stdout', 'all good\n'));
    if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
    expect(step.result).toEqual({});
    expect(step.process?.stdout).toBe('all good\n');
    const empty = await run(respond('silent'));
    if (empty.status !== 'completed') throw new Error(`expected completed, got ${empty.status}`);
    expect(empty.result).toEqual({});
    expect(empty.process?.stdout).toBeUndefined();
  });

  it('huge output: killed at maxOutputBytes with HOOK_OUTPUT_TOO_LARGE, not read into memory', async () => {
    const step = await run(script('huge', { maxOutputBytes: 262_144 }));
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_OUTPUT_TOO_LARGE');
    expect(step.error.message).toContain('262144 bytes');
    expect(step.process?.signal).toBe('SIGKILL');
    expect(noSuchProcess(step.process!.pid!)).toBe(true);
  });

  it('accepts stdout of exactly maxOutputBytes', async () => {
    const answer = `{"reason":"${'r'.repeat(100)}"}`;
    const step = await run(
      respond('at-cap', '--stdout', answer, '--exit', '0'),
      {},
      {
        maxOutputBytes: answer.length,
      },
    );
    expect(step.status === 'completed' && step.result.reason).toBe('r'.repeat(100));
    const over = await run(
      respond('over-cap', '--stdout', answer),
      {},
      { maxOutputBytes: answer.length - 1 },
    );
    if (over.status !== 'failed') throw new Error(`expected failed, got ${over.status}`);
    expect(over.error.code).toBe('HOOK_OUTPUT_TOO_LARGE');
    expect(over.error.message).toBe(
      `hook "over-cap" wrote more than ${answer.length - 1} bytes to stdout and was killed (maxOutputBytes)`,
    );
  });

  it.skipIf(process.platform === 'win32')(
    'too much output from a writer the kill cannot reach (its own session) ends the run at once, not at the timeout',
    async () => {
      // The timeout runs on a virtual clock that is never advanced: only the cap can end the run.
      const scheduler = new VirtualTimeScheduler();
      const pidFile = join(dir, 'writer.pid');
      const starter = `const { spawn } = require('node:child_process'); const w = spawn(process.execPath, ['-e', "setInterval(() => process.stdout.write('x'.repeat(65536)), 1)"], { stdio: ['ignore', 'inherit', 'ignore'], detached: true }); w.unref(); require('node:fs').writeFileSync(process.argv[1], String(w.pid)); setInterval(() => {}, 1000);`;
      const steps: HookStep[] = [];
      const subscription = runHook(
        {
          name: 'escaped',
          command: process.execPath,
          args: ['-e', starter, pidFile],
          maxOutputBytes: 100_000,
          timeoutMs: 5_000,
        },
        {},
        { scheduler },
      ).subscribe((s) => steps.push(s));
      try {
        await until(() => steps.length === 1, 'the step');
        expect(steps[0]!.status === 'failed' && steps[0]!.error.code).toBe('HOOK_OUTPUT_TOO_LARGE');
      } finally {
        subscription.unsubscribe();
        const writer = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined;
        if (writer !== undefined && !noSuchProcess(writer)) process.kill(writer, 'SIGKILL');
      }
    },
  );

  it.skipIf(process.platform === 'win32')(
    'too much output while a process the kill cannot reach holds stderr too ends the run at once, not at the timeout',
    async () => {
      // A background job (`job &`) inherits stdout and stderr alike. Only stdout was let go at the cap, so
      // the run stayed open on stderr until the timeout: timed_out (HOOK_TIMEOUT), at 60 s by default.
      const scheduler = new VirtualTimeScheduler();
      const pidFile = join(dir, 'holder.pid');
      const starter = `const { spawn } = require('node:child_process'); const w = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'inherit', 'inherit'], detached: true }); w.unref(); require('node:fs').writeFileSync(process.argv[1], String(w.pid)); process.stdout.write('x'.repeat(300000)); setInterval(() => {}, 1000);`;
      const steps: HookStep[] = [];
      const subscription = runHook(
        {
          name: 'holder',
          command: process.execPath,
          args: ['-e', starter, pidFile],
          maxOutputBytes: 100_000,
          timeoutMs: 5_000,
        },
        {},
        { scheduler },
      ).subscribe((s) => steps.push(s));
      try {
        await until(() => steps.length === 1, 'the step', 10_000);
        expect(steps[0]!.status === 'failed' && steps[0]!.error.code).toBe('HOOK_OUTPUT_TOO_LARGE');
      } finally {
        subscription.unsubscribe();
        const holder = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined;
        if (holder !== undefined && !noSuchProcess(holder)) process.kill(holder, 'SIGKILL');
      }
    },
  );

  it('uses the run default output cap', async () => {
    const step = await run(script('huge'), {}, { maxOutputBytes: 100_000 });
    expect(step.status === 'failed' && step.error.code).toBe('HOOK_OUTPUT_TOO_LARGE');
    // The run's cap, not the default (huge.mjs passes both).
    expect(step.status === 'failed' && step.error.message).toContain('more than 100000 bytes');
  });

  it('caps the stderr it keeps', async () => {
    const step = await run(respond('noisy', '--stderr', 'e'.repeat(100_000), '--exit', '2'));
    if (step.status !== 'blocked') throw new Error(`expected blocked, got ${step.status}`);
    expect(step.process?.stderr.length).toBe(65_536);
    expect(step.process?.stderr_truncated).toBe(true);
  });

  it('keeps stderr of exactly the cap without marking it truncated', async () => {
    const step = await run(respond('full', '--stderr', 'e'.repeat(65_536), '--exit', '2'));
    if (step.status !== 'blocked') throw new Error(`expected blocked, got ${step.status}`);
    expect(step.process?.stderr.length).toBe(65_536);
    expect(step.process?.stderr_truncated).toBe(false);
  });

  it('cuts stderr at the cap in the middle of a chunk', async () => {
    // Two writes a moment apart: whatever the reads, one chunk runs past the cap.
    const writer = `process.stderr.write('a'.repeat(60000)); setTimeout(() => { process.stderr.write('b'.repeat(10000)); process.exitCode = 2; }, 100);`;
    const step = await run({ name: 'straddle', command: process.execPath, args: ['-e', writer] });
    if (step.status !== 'blocked') throw new Error(`expected blocked, got ${step.status}`);
    expect(step.process?.stderr).toBe(`${'a'.repeat(60_000)}${'b'.repeat(5_536)}`);
    expect(step.process?.stderr_truncated).toBe(true);
  });

  it('reads stdout and stderr as UTF-8: bytes that are not (Latin-1 text) become U+FFFD, whole characters stay', async () => {
    // "café\n" in Latin-1 on stdout (plain text, kept in step.process.stdout), "naïve" on stderr; then an
    // é and a 😀 in UTF-8, each split across two writes, which must still read as one character.
    const writer = `const w = (s, b) => s.write(Buffer.from(b));
      w(process.stdout, [0x63, 0x61, 0x66, 0xe9, 0x0a]); w(process.stderr, [0x6e, 0x61, 0xef, 0x76, 0x65]);
      w(process.stdout, [0xc3]); setTimeout(() => { w(process.stdout, [0xa9, 0xf0, 0x9f]); setTimeout(() => w(process.stdout, [0x98, 0x80]), 20); }, 20);`;
    const step = await run({ name: 'latin1', command: process.execPath, args: ['-e', writer] });
    if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
    expect(step.result).toEqual({});
    expect(step.process?.stdout).toBe('caf\uFFFD\n\u00e9\u{1F600}');
    expect(step.process?.stderr).toBe('na\uFFFDve');
  });

  it('cuts stderr at the cap before a character the cap splits, not into a U+FFFD', async () => {
    // 65,536 bytes end 3, 2 or 1 bytes into a 4-byte emoji, 1 byte into a 2-byte é, or just after an é.
    const cases: [string, string, string][] = [
      ['a', '😀'.repeat(20_000), `a${'😀'.repeat(16_383)}`],
      ['ab', '😀'.repeat(20_000), `ab${'😀'.repeat(16_383)}`],
      ['abc', '😀'.repeat(20_000), `abc${'😀'.repeat(16_383)}`],
      ['a', 'é'.repeat(40_000), `a${'é'.repeat(32_767)}`],
      ['', 'é'.repeat(40_000), 'é'.repeat(32_768)],
      // 2 bytes into a 3-byte character, whose lead byte is the lowest of its kind (E0).
      ['ab', '\u0800'.repeat(30_000), `ab${'\u0800'.repeat(21_844)}`],
    ];
    for (const [prefix, body, kept] of cases) {
      const step = await run(respond('utf8-cut', '--stderr', prefix + body, '--exit', '1'));
      expect(step.process?.stderr_truncated).toBe(true);
      expect(step.process?.stderr).toBe(kept);
    }
  });

  it('quotes no half of a surrogate pair when it cuts stderr for the message', async () => {
    // The 1,000th UTF-16 unit is the first half of a pair: the character is left out. U+10000 and
    // U+10FFFF have the lowest and the highest first half (D800, DBFF).
    for (const pair of ['😀', '\u{10000}', '\u{10FFFF}']) {
      const split = await run(
        respond('emoji', '--stderr', `a${pair.repeat(500)}${'b'.repeat(100)}`, '--exit', '1'),
      );
      expect(split.status === 'failed' && split.error.message).toBe(
        `hook "emoji" exited with code 1: a${pair.repeat(499)}…`,
      );
    }
    // The 1,000th is the second half: the cut falls between two emoji.
    const whole = await run(respond('emoji', '--stderr', '😀'.repeat(600), '--exit', '1'));
    expect(whole.status === 'failed' && whole.error.message).toBe(
      `hook "emoji" exited with code 1: ${'😀'.repeat(500)}…`,
    );
  });

  it('a command that cannot start fails with HOOK_FAILED', async () => {
    const program = join(dir, 'no-such-program');
    const step = await run({ name: 'missing', command: program });
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_FAILED');
    expect(step.error.message).toBe(`hook "missing" could not start: spawn ${program} ENOENT`);
    expect(step.process).toBeUndefined();
  });

  it.skipIf(process.platform === 'win32')(
    'a program that is not executable, or a directory, fails with HOOK_FAILED (EACCES)',
    async () => {
      const program = join(dir, 'not-executable.sh');
      writeFileSync(program, '#!/bin/sh\necho "{}"\n', { mode: 0o644 });
      const step = await run({ name: 'no-x', command: program });
      if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
      expect(step.error.message).toBe(`hook "no-x" could not start: spawn ${program} EACCES`);
      expect((step.error.cause as NodeJS.ErrnoException).code).toBe('EACCES');
      expect(step.process).toBeUndefined();
      // Not blamed on a working directory that is there.
      const folder = await run({ name: 'folder', command: dir, cwd: dir });
      expect(folder.status === 'failed' && folder.error.message).toBe(
        `hook "folder" could not start: spawn ${dir} EACCES`,
      );
    },
  );

  it('a missing working directory is named, not blamed on the program', async () => {
    const missing = join(dir, 'no-such-dir');
    const step = await run(script('ok', { cwd: missing }));
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_FAILED');
    expect(step.error.message).toContain('could not start');
    expect(step.error.message).toContain(`its working directory ${JSON.stringify(missing)} does not exist`);
    expect((step.error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(step.process).toBeUndefined();
    const program = await run({ name: 'missing', command: join(dir, 'no-such-program'), cwd: dir });
    expect(program.status === 'failed' && program.error.message).not.toContain('working directory');
  });

  it('a failure to start that is not about the working directory does not blame a missing one', async () => {
    // Node throws for a NUL byte in the program's name before it looks at cwd.
    const missing = join(dir, 'no-such-dir');
    const step = await run({ name: 'nul', command: 'no\0such', cwd: missing });
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.message).toMatch(/^hook "nul" could not start: The argument 'file' must be a string/);
    expect(step.error.message).not.toContain('working directory');
  });

  it('a working directory that is a file is named too', async () => {
    const file = join(FIXTURES, 'ok.mjs');
    const step = await run(script('ok', { cwd: file }));
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_FAILED');
    expect(step.error.message).toContain(`its working directory ${JSON.stringify(file)} is not a directory`);
    // Below a file: no such directory (stat says ENOTDIR).
    const below = join(file, 'sub');
    const under = await run(script('ok', { cwd: below }));
    expect(under.status === 'failed' && under.error.message).toContain(
      `its working directory ${JSON.stringify(below)} does not exist`,
    );
  });

  it('a context that is not JSON-serialisable fails without starting the hook', async () => {
    const step = await run(script('ok'), { big: 1n });
    if (step.status !== 'failed') throw new Error(`expected failed, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_FAILED');
    expect(step.error.message).toContain('not JSON-serialisable');
    expect(step.error.hook).toBe('ok');
    expect(step.error.cause).toBeInstanceOf(TypeError); // JSON.stringify's own error
    expect(step.process).toBeUndefined();
    // The message says why, in JSON.stringify's words; a thrown value that is no Error is not quoted.
    expect(step.error.message).toBe(
      `hook "ok" was not started: its context is not JSON-serialisable (${(step.error.cause as Error).message})`,
    );
    const odd = await run(script('ok'), {
      value: {
        toJSON() {
          throw 'no JSON here';
        },
      },
    });
    expect(odd.status === 'failed' && odd.error.message).toBe(
      'hook "ok" was not started: its context is not JSON-serialisable',
    );
    expect(odd.status === 'failed' && odd.error.cause).toBe('no JSON here');
  });

  it.skipIf(process.platform === 'win32')(
    'a background job with its output redirected outlives the hook that started it, once the hook has answered',
    async () => {
      // The job stays in the hook's process group: only a kill of the group (a timeout, an unsubscribe)
      // would reach it, and a run that ended with an answer sends none (docs/hooks.md).
      const starter = `const job = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); job.unref(); process.stdout.write(JSON.stringify({ context_updates: { job: job.pid } }));`;
      const step = await run({ name: 'background', command: process.execPath, args: ['-e', starter] });
      if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
      const job = step.result.context_updates?.job as number;
      try {
        // Time for a SIGKILL to land, had the end of the run sent one.
        await sleep(100);
        expect(terminated(job)).toBe(false);
      } finally {
        if (!noSuchProcess(job)) process.kill(job, 'SIGKILL');
      }
    },
  );

  it.skipIf(process.platform === 'win32')('runs through a shell only when asked', async () => {
    const step = await run({ name: 'sh', command: `echo '{"score": 3}' | cat`, shell: true });
    expect(step.status === 'completed' && step.result.score).toBe(3);
    const path = await run({ name: 'sh-path', command: `echo '{"score": 4}' | cat`, shell: '/bin/sh' });
    expect(path.status === 'completed' && path.result.score).toBe(4);
    const noShell = await run({ name: 'no-sh', command: `echo '{"score": 3}' | cat` });
    expect(noShell.status).toBe('failed');
  });

  it('hang past the timeout: timed out, and the process is gone', async () => {
    const step = await run(script('hang', { timeoutMs: 1_000 }), { pid_file: join(dir, 'pids.json') });
    if (step.status !== 'timed_out') throw new Error(`expected timed_out, got ${step.status}`);
    expect(step.error.code).toBe('HOOK_TIMEOUT');
    expect(step.event.type).toBe('hook.timed_out');
    const pid = step.process!.pid!;
    await until(() => noSuchProcess(pid), `pid ${pid} to exit`);
    // If the script got as far as starting its grandchild, that one is gone too.
    if (existsSync(join(dir, 'pids.json'))) {
      const { grandchild } = await readPids(join(dir, 'pids.json'));
      await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
    }
  });

  it('a timeout kills the whole process group, grandchildren included', async () => {
    // The timeout runs on a virtual clock, fired once the script has started its grandchild.
    const scheduler = new VirtualTimeScheduler();
    const pidFile = join(dir, 'pids.json');
    const steps: HookStep[] = [];
    runHook(script('hang', { timeoutMs: 5_000 }), { pid_file: pidFile }, { scheduler }).subscribe((s) =>
      steps.push(s),
    );
    const { child, grandchild } = await readPids(pidFile);
    expect(noSuchProcess(child)).toBe(false);
    expect(noSuchProcess(grandchild)).toBe(false);
    // The script wrote to stderr (synchronously, into the pipe) before its pid file: one more turn of
    // the event loop reads it.
    await sleep(50);
    scheduler.flush();
    expect(steps.map((s) => s.status)).toEqual(['timed_out']);
    // A timed-out step keeps what the hook wrote to stderr, to tell why it hung.
    expect(steps[0]!.process).toMatchObject({ pid: child, stderr: 'hanging on purpose\n' });
    await until(() => noSuchProcess(child), `child ${child} to exit`);
    await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
  });

  it("keeps no half-written character at the end of a timed-out step's stderr", async () => {
    // The hook has written "a" and the first 2 of the 3 bytes of "€" when it times out: the rest might
    // have come next. What it wrote is kept up to the last whole character, not decoded as U+FFFD.
    // Those 2 bytes alone (the cut character at the very first byte) keep nothing.
    for (const [bytes, kept] of [
      ['0x61, 0xe2, 0x82', 'a'],
      ['0xe2, 0x82', ''],
    ] as const) {
      const scheduler = new VirtualTimeScheduler();
      const marker = join(dir, `written-${kept.length}`);
      const writer = `process.stderr.write(Buffer.from([${bytes}]), () => require('fs').writeFileSync(${JSON.stringify(marker)}, '')); setInterval(() => {}, 1000);`;
      const steps: HookStep[] = [];
      runHook(
        { name: 'half', command: process.execPath, args: ['-e', writer], timeoutMs: 5_000 },
        {},
        { scheduler },
      ).subscribe((s) => steps.push(s));
      await until(() => existsSync(marker), 'the hook to write its stderr');
      // One more turn of the event loop reads the pipe (as in the test above).
      await sleep(50);
      scheduler.flush();
      expect(steps.map((s) => s.status)).toEqual(['timed_out']);
      expect(steps[0]!.process).toMatchObject({ stderr: kept, stderr_truncated: false });
    }
  });

  it('unsubscribing kills the whole process group', async () => {
    const pidFile = join(dir, 'pids.json');
    const steps: HookStep[] = [];
    const subscription = runHook(script('hang', { timeoutMs: Number.POSITIVE_INFINITY }), {
      pid_file: pidFile,
    }).subscribe((s) => steps.push(s));
    const { child, grandchild } = await readPids(pidFile);
    subscription.unsubscribe();
    await until(() => noSuchProcess(child), `child ${child} to exit`);
    await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
    expect(steps).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')(
    'a parent that exits (process.exit) while a hook runs kills its process group',
    async () => {
      const pidFile = join(dir, 'pids.json');
      const parent = runChild(join(dirname(fileURLToPath(import.meta.url)), 'child/exitWhileRunning.ts'), [
        pidFile,
      ]);
      await parent.waitFor((line) => line === 'running');
      expect(await parent.exited).toEqual({ code: 0, signal: null });
      const { child, grandchild } = await readPids(pidFile);
      await until(() => terminated(child), `child ${child} to terminate`);
      await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
    },
  );

  it('an aggregation deadline kills the hooks still running', async () => {
    // The deadline runs on a virtual clock, reached once ok has answered and hang is running.
    const scheduler = new VirtualTimeScheduler();
    const pidFile = join(dir, 'pids.json');
    const outputs: HookAggregationOutput<ValidationResult>[] = [];
    runHookAggregation([script('ok'), script('hang')], { pid_file: pidFile }, validationResult, {
      scheduler,
      deadlineMs: 10_000,
    }).subscribe((o) => outputs.push(o));
    const { child, grandchild } = await readPids(pidFile);
    await until(() => outputs.length === 1, 'ok to answer');
    scheduler.flush();
    const result = outputs.at(-1);
    if (result?.kind !== 'aggregate') throw new Error('expected the aggregate');
    expect(result.results.map((s) => s.status)).toEqual(['completed', 'timed_out']);
    expect(result.timed_out).toEqual(['hang']);
    expect(result.aggregate.passed).toBe(false);
    expect(result.aggregate.failed_hooks).toEqual(['hang']);
    await until(() => noSuchProcess(child), `child ${child} to exit`);
    await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
  });

  it('chains command hooks: the context flows, a block stops the chain', async () => {
    const chain = {
      name: 'pre-commit',
      hooks: [
        script('ok'),
        {
          name: 'check',
          run: (context: HookContext) => ({ context_updates: { check_saw: context.ok_saw } }),
        },
        script('block'),
        respond('never-run', '--stdout', '{}'),
      ],
    };
    const outputs: HookChainOutput[] = await collect(runHookChain(chain, { value: 'v' }));
    const result = outputs.at(-1);
    if (result?.kind !== 'result') throw new Error('expected the chain result');
    expect(result.outcome).toBe('blocked');
    expect(result.results.map((s) => `${s.hook}:${s.status}`)).toEqual([
      'ok:completed',
      'check:completed',
      'block:blocked',
    ]);
    expect(result.final_context).toMatchObject({ value: 'v', ok_saw: 'v', check_saw: 'v' });
    expect(result.stopped_by).toEqual({
      hook: 'block',
      index: 2,
      reason: 'lint failed: 3 errors in src/a.ts',
    });
    expect(result.skipped).toEqual(['never-run']);
  });
});

describe('command hooks when the parent exits', () => {
  it.skipIf(process.platform === 'win32')(
    'an exit listener is there only while hooks run, one for all of them, and kills the process groups of the hooks still running',
    async () => {
      // The child-process test above exits for real; this one runs in-process, on a fresh copy of the
      // modules, so that the listener can be counted and called as process.exit would call it.
      vi.resetModules();
      const fresh = await import('../../src/index.js');
      const before = process.listeners('exit');
      const added = () => process.listeners('exit').filter((listener) => !before.includes(listener));
      const done = await lastValueFrom(fresh.runHook(script('ok'), {}));
      expect(done.status).toBe('completed');
      // None once every run has ended (it stayed for good after the first hook).
      expect(added()).toEqual([]);
      const pidFile = join(dir, 'pids.json');
      const subscription = fresh
        .runHook(script('hang', { timeoutMs: Number.POSITIVE_INFINITY }), { pid_file: pidFile })
        .subscribe();
      const other = fresh.runHook(script('hang', { timeoutMs: Number.POSITIVE_INFINITY }), {}).subscribe();
      const onExit = added()[0]!;
      let left: unknown[];
      try {
        const { child, grandchild } = await readPids(pidFile);
        // Not one more listener per hook (11 would make Node warn of a leak).
        expect(added()).toEqual([onExit]);
        onExit(0);
        await until(() => terminated(child), `child ${child} to terminate`);
        await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
      } finally {
        subscription.unsubscribe();
        other.unsubscribe();
        left = added();
        process.removeListener('exit', onExit);
      }
      expect(left).toEqual([]);
    },
  );

  it.skipIf(process.platform === 'win32')(
    'a hook whose run ends while another runs leaves the exit listener there: the exit still kills the one running',
    async () => {
      vi.resetModules();
      const fresh = await import('../../src/index.js');
      const before = process.listeners('exit');
      const added = () => process.listeners('exit').filter((listener) => !before.includes(listener));
      const pidFile = join(dir, 'pids.json');
      const ended = fresh.runHook(script('hang', { timeoutMs: Number.POSITIVE_INFINITY }), {}).subscribe();
      const running = fresh
        .runHook(script('hang', { timeoutMs: Number.POSITIVE_INFINITY }), { pid_file: pidFile })
        .subscribe();
      const onExit = added()[0]!;
      try {
        const { child, grandchild } = await readPids(pidFile);
        ended.unsubscribe();
        // One run is left: the listener stays for it.
        expect(added()).toEqual([onExit]);
        onExit(0);
        await until(() => terminated(child), `child ${child} to terminate`);
        await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
      } finally {
        ended.unsubscribe();
        running.unsubscribe();
        for (const listener of added()) process.removeListener('exit', listener);
      }
    },
  );

  it.skipIf(process.platform === 'win32')(
    'a hook whose run has ended is not killed at the exit: its background job with its output redirected lives on',
    async () => {
      vi.resetModules();
      const fresh = await import('../../src/index.js');
      const before = process.listeners('exit');
      const starter = `const job = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); job.unref(); process.stdout.write(JSON.stringify({ context_updates: { job: job.pid } }));`;
      const step = await lastValueFrom(
        fresh.runHook({ name: 'background', command: process.execPath, args: ['-e', starter] }, {}),
      );
      if (step.status !== 'completed') throw new Error(`expected completed, got ${step.status}`);
      const job = step.result.context_updates?.job as number;
      // A hook still running, so that the exit listener is there.
      const running = fresh.runHook(script('hang', { timeoutMs: Number.POSITIVE_INFINITY }), {}).subscribe();
      const onExit = process.listeners('exit').find((listener) => !before.includes(listener))!;
      try {
        onExit(0);
        // Time for a SIGKILL to land, had the exit sent one.
        await sleep(100);
        expect(terminated(job)).toBe(false);
      } finally {
        running.unsubscribe();
        process.removeListener('exit', onExit);
        if (!noSuchProcess(job)) process.kill(job, 'SIGKILL');
      }
    },
  );

  it.skipIf(process.platform === 'win32')(
    'a hook whose process has exited but whose background job keeps its output open still runs: the exit kills that job',
    async () => {
      vi.resetModules();
      const fresh = await import('../../src/index.js');
      const before = process.listeners('exit');
      const pidFile = join(dir, 'pids.json');
      // The hook starts a job that shares its stdout and stderr, writes both pids, and exits.
      const starter = `const { spawn } = require('node:child_process'); const fs = require('node:fs'); const job = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'inherit', 'inherit'] }); job.unref(); fs.writeFileSync(process.argv[1] + '.tmp', JSON.stringify({ child: process.pid, grandchild: job.pid })); fs.renameSync(process.argv[1] + '.tmp', process.argv[1]);`;
      const steps: HookStep[] = [];
      const subscription = fresh
        .runHook(
          { name: 'job', command: process.execPath, args: ['-e', starter, pidFile], timeoutMs: Infinity },
          {},
        )
        .subscribe((s) => steps.push(s));
      const onExit = process.listeners('exit').find((listener) => !before.includes(listener))!;
      const { child, grandchild } = await readPids(pidFile);
      try {
        // Its process is gone (reaped: Node has seen it exit), its run is not: the job holds its output.
        await until(() => noSuchProcess(child), `child ${child} to exit`);
        expect(steps).toEqual([]);
        onExit(0);
        await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
      } finally {
        subscription.unsubscribe();
        process.removeListener('exit', onExit);
        if (!noSuchProcess(grandchild)) process.kill(grandchild, 'SIGKILL');
      }
    },
  );
});

describe('runHook without a context (null or undefined, from JavaScript)', () => {
  it('runs the hook on the empty context, as runHookChain does, and emits its step without erroring', async () => {
    for (const context of [null, undefined]) {
      const command = await run(script('ok'), context as never);
      if (command.status !== 'completed') throw new Error(`expected completed, got ${command.status}`);
      expect(command.result.context_updates?.ok_input_length).toBe(2); // "{}" on stdin
      const seen: unknown[] = [];
      const record = (ctx: HookContext) => {
        seen.push(ctx);
        return {};
      };
      const fn = await lastValueFrom(runHook({ name: 'f', run: record }, context as never));
      expect(fn.status).toBe('completed');
      expect(fn.event.sessionId).toBeUndefined();
      expect(seen).toEqual([{}]);
    }
  });
});

describe('a context object with a toJSON (a class instance)', () => {
  it('reaches a command hook as the copy a function hook is given, as in a chain, not as its toJSON', async () => {
    class Ctx {
      value = 42;
      toJSON() {
        return 'Ctx(42)';
      }
    }
    const seen: unknown[] = [];
    const record = (ctx: HookContext) => {
      seen.push(ctx);
      return {};
    };
    class Stamp {
      toJSON() {
        return new Date(0).toISOString();
      }
    }
    const ok = script('ok');
    for (const [context, fields] of [
      [new Ctx(), { value: 42 }],
      [new Stamp(), {}],
    ] as const) {
      seen.length = 0;
      const outputs = await lastValueFrom(
        runHookAggregation([ok, { name: 'f', run: record }], context as never, validationResult).pipe(
          toArray(),
        ),
      );
      const step = outputs.find((o) => o.kind === 'step' && o.hook === 'ok') as HookStep | undefined;
      if (step?.status !== 'completed') throw new Error(`expected completed, got ${step?.status}`);
      // The same context for both hooks of the run: the command hook read "Ctx(42)" or the ISO
      // string on stdin, a JSON string where the protocol gives an object.
      const copy = JSON.stringify(fields);
      expect(seen).toEqual([fields]);
      expect(step.result.context_updates).toMatchObject({
        ok_saw: (fields as { value?: number }).value ?? null,
        ok_input_length: copy.length,
      });
      const alone = await run(ok, context as never);
      if (alone.status !== 'completed') throw new Error(`expected completed, got ${alone.status}`);
      expect(alone.result.context_updates?.ok_input_length).toBe(copy.length);
    }
    // A Date itself, whose time is in no field (a hook saw {}), is no context (see chainHooks.spec).
    expect(() => runHookAggregation([ok], new Date(0) as never, validationResult)).toThrow(ConfigError);
  });
});

describe('runHookAggregation and aggregateHooks without a context (null or undefined, from JavaScript)', () => {
  it('run a command hook on the empty context, as runHook and runHookChain do', async () => {
    const ok = script('ok');
    for (const context of [null, undefined]) {
      const outputs = await lastValueFrom(
        runHookAggregation([ok], context as never, validationResult).pipe(toArray()),
      );
      // The hook read 'null' on stdin (ok.mjs crashed: exit 1), or, for undefined, was not started (its
      // context not JSON-serialisable).
      const step = outputs.find((o) => o.kind === 'step') as HookStep | undefined;
      if (step?.status !== 'completed') throw new Error(`expected completed, got ${step?.status}`);
      expect(step.result.context_updates?.ok_input_length).toBe(2); // "{}" on stdin
      const input = new Subject<HookContext>();
      const done = lastValueFrom(input.pipe(aggregateHooks([ok], validationResult), toArray()));
      input.next(context as never);
      input.complete();
      const operated = (await done).find((o) => o.kind === 'step') as HookStep | undefined;
      expect(operated?.status).toBe('completed');
    }
  });
});

describe('aggregateHooks: a context rejected for a full queue', () => {
  it("records a command hook's not_run step with hook_kind 'command' (docs/hooks.md: every step has hook_kind)", async () => {
    const input = new Subject<HookContext>();
    const hooks = [script('ok'), { name: 'f', run: () => ({}) }];
    const done = collect(input.pipe(aggregateHooks(hooks, validationResult, { maxQueued: 0 })));
    input.next({ id: 'runs' });
    input.next({ id: 'rejected' }); // the first one runs, and none may wait
    input.complete();
    const outputs = await done;
    const aggregates = outputs.filter((o) => o.kind === 'aggregate');
    expect(aggregates.map((o) => o.error?.code)).toEqual(['BUFFER_OVERFLOW', undefined]);
    for (const aggregate of aggregates) {
      expect(aggregate.results.map((step) => [step.hook, step.hook_kind])).toEqual([
        ['ok', 'command'],
        ['f', 'function'],
      ]);
    }
    expect(aggregates[0]!.results.map((step) => step.status)).toEqual(['not_run', 'not_run']);
    expect(aggregates[1]!.results.map((step) => step.status)).toEqual(['completed', 'completed']);
  });
});

describe('command hooks when the source of chainHooks / aggregateHooks errors', () => {
  it('the running hook goes on to its end (here its timeout), and only then is the error forwarded', async () => {
    // The timeout runs on a virtual clock, fired once the error has come and the script runs.
    const scheduler = new VirtualTimeScheduler();
    const pidFile = join(dir, 'pids.json');
    const input = new Subject<HookContext>();
    const seen: string[] = [];
    input
      .pipe(chainHooks({ name: 'c', hooks: [script('hang', { timeoutMs: 5_000 })] }, { scheduler }))
      .subscribe({
        next: (o) => seen.push(o.kind === 'step' ? `step ${o.status}` : `result ${o.outcome}`),
        error: (error: Error) => seen.push(`error ${error.message}`),
      });
    input.next({ pid_file: pidFile });
    const { child, grandchild } = await readPids(pidFile);
    input.error(new Error('source'));
    // The error waits for the run: the hook is not killed by it.
    await sleep(50);
    expect(seen).toEqual([]);
    expect(noSuchProcess(child)).toBe(false);
    scheduler.flush();
    expect(seen).toEqual(['step timed_out', 'result failed', 'error source']);
    await until(() => noSuchProcess(child), `child ${child} to exit`);
    await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
  });

  it('chainHooks: unsubscribing while the error waits kills the running hook; the queued context never runs', async () => {
    const first = join(dir, 'first.json');
    const second = join(dir, 'second.json');
    const input = new Subject<HookContext>();
    const seen: string[] = [];
    const chain = { name: 'c', hooks: [script('hang', { timeoutMs: Number.POSITIVE_INFINITY })] };
    const subscription = input.pipe(chainHooks(chain)).subscribe({
      next: (o) => seen.push(o.kind),
      error: (error: Error) => seen.push(`error ${error.message}`),
    });
    input.next({ pid_file: first });
    input.next({ pid_file: second });
    input.error(new Error('source'));
    const { child, grandchild } = await readPids(first);
    subscription.unsubscribe();
    await until(() => noSuchProcess(child), `child ${child} to exit`);
    await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
    expect(existsSync(second)).toBe(false);
    expect(seen).toEqual([]);
  });

  it('aggregateHooks: unsubscribing while the error waits kills the running hooks', async () => {
    const pidFile = join(dir, 'pids.json');
    const input = new Subject<HookContext>();
    const seen: string[] = [];
    const hooks = [script('ok'), script('hang', { timeoutMs: Number.POSITIVE_INFINITY })];
    const subscription = input
      .pipe(aggregateHooks(hooks, validationResult, { deadlineMs: Number.POSITIVE_INFINITY }))
      .subscribe({
        next: (o) => seen.push(o.kind === 'step' ? `step ${o.hook}` : o.kind),
        error: (error: Error) => seen.push(`error ${error.message}`),
      });
    input.next({ pid_file: pidFile });
    input.error(new Error('source'));
    const { child, grandchild } = await readPids(pidFile);
    await until(() => seen.length === 1, 'ok to answer');
    subscription.unsubscribe();
    await until(() => noSuchProcess(child), `child ${child} to exit`);
    await until(() => terminated(grandchild), `grandchild ${grandchild} to terminate`);
    expect(seen).toEqual(['step ok']);
  });
});

function collect<T>(source: Observable<T>): Promise<T[]> {
  return lastValueFrom(source.pipe(toArray()));
}
