/**
 * Internal: running a command hook as a child process, the way Claude Code runs command hooks.
 *
 * The process is spawned without a shell (unless the hook asks for one) and in its own process group
 * (`detached`), so that a timeout or an unsubscribe kills the hook *and everything it started*: the
 * group is sent SIGKILL. Output is capped: stdout beyond `maxOutputBytes` kills the hook, stderr beyond
 * 64 KiB is drained and dropped, so no hook can make the parent run out of memory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { Observable } from 'rxjs';
import { HookError, textOf } from '../errors.js';
import { forMessage, parseAnswer, type RawOutcome } from './outcome.js';
import type { CommandDetail, CommandHook } from './types.js';

/** Most stderr bytes kept; the rest is read and dropped. */
export const STDERR_CAP = 65_536;

// Every hook still running, so that its group can be killed if the parent exits (normally or via
// `process.exit`): as leaders of their own process groups they would outlive it. A hook runs until its
// run ends (stdout and stderr closed, or an unsubscribe), not until its process exits: a background
// process it started that keeps its output open keeps it running, and is killed with the group.
// The process's 'exit' listener is there only while a hook runs: added with the first, removed with the
// last (it stayed for good, one listener on a shared emitter left after every run had ended).
const live = new Set<ChildProcess>();

function killLive(): void {
  for (const running of live) killGroup(running);
}

function track(child: ChildProcess): void {
  if (live.size === 0) process.on('exit', killLive);
  live.add(child);
}

function untrack(child: ChildProcess): void {
  if (live.delete(child) && live.size === 0) process.off('exit', killLive);
}

/** Kills the process group led by `child` (the hook and its descendants), ignoring one already gone. */
function killGroup(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  if (process.platform === 'win32') {
    // No process groups: taskkill /T walks the tree.
    try {
      spawn('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true }).on(
        'error',
        () => child.kill('SIGKILL'),
      );
    } catch {
      child.kill('SIGKILL');
    }
    return;
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group has no process left. Kill the leader directly in case it is not a group leader.
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function quote(stderr: string): string {
  const text = stderr.trim();
  return text.length === 0 ? '' : `: ${forMessage(text)}`;
}

/**
 * The stderr kept, as text. When `cut` (the bytes were cut at the cap, or are read while the hook still
 * runs, its next write maybe the rest of a character), a character cut short (1 to 3 of its bytes
 * kept) is left out, rather than decoded as U+FFFD.
 */
function stderrText(chunks: readonly Buffer[], cut: boolean): string {
  const bytes = Buffer.concat(chunks);
  return bytes.toString('utf8', 0, cut ? completeEnd(bytes) : bytes.length);
}

/** Where the last whole UTF-8 character of `bytes` ends: their length, less a character cut short. */
function completeEnd(bytes: Buffer): number {
  // The last lead byte (any but 10xxxxxx) among the last 3, and the length it announces.
  for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 3; i--) {
    const byte = bytes[i]!;
    if ((byte & 0xc0) === 0x80) continue;
    const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return i + size > bytes.length ? i : bytes.length;
  }
  return bytes.length;
}

/**
 * The error of a hook that could not start. Node reports a missing `cwd` as `spawn <command> ENOENT`
 * (and one that is a file as `spawn ENOTDIR`), which blames the program: when the working directory
 * is the culprit, the message names it. The code stays `HOOK_FAILED`, the spawn error is the cause.
 */
function startError(hook: CommandHook, error: unknown): HookError {
  const message = textOf(error);
  const problem = cwdProblem(hook.cwd, (error as NodeJS.ErrnoException | undefined)?.code);
  return new HookError(
    'HOOK_FAILED',
    `hook "${hook.name}" could not start: ${problem === undefined ? message : `${problem} (${message})`}`,
    { hook: hook.name, cause: error },
  );
}

/** What is wrong with `cwd` when a spawn failed with `code`, if the working directory is to blame. */
function cwdProblem(cwd: string | undefined, code: unknown): string | undefined {
  if (cwd === undefined || (code !== 'ENOENT' && code !== 'ENOTDIR')) return undefined;
  try {
    // Sync, but only on this rare path, and once per failed start.
    if (statSync(cwd).isDirectory()) return undefined;
    return `its working directory ${JSON.stringify(cwd)} is not a directory`;
  } catch (error) {
    const statCode = (error as NodeJS.ErrnoException).code;
    return statCode === 'ENOENT' || statCode === 'ENOTDIR'
      ? `its working directory ${JSON.stringify(cwd)} does not exist`
      : undefined;
  }
}

/**
 * Runs `hook` with `input` (the context as JSON) on stdin. Emits one outcome, then completes; never
 * errors. Unsubscribing before the outcome kills the process group. `onSpawn` is called once the
 * process runs, with a way to read its pid and stderr so far (for a step that times out).
 */
export function runCommand(
  hook: CommandHook,
  input: string,
  maxOutputBytes: number,
  onSpawn: (snapshot: () => CommandDetail) => void,
): Observable<RawOutcome> {
  return new Observable<RawOutcome>((subscriber) => {
    const name = hook.name;
    let child: ChildProcess;
    try {
      child = spawn(hook.command, hook.args ?? [], {
        cwd: hook.cwd,
        env: hook.env === undefined ? process.env : { ...process.env, ...hook.env },
        shell: hook.shell ?? false,
        // Its own process group (and session): the whole tree can be killed with one signal.
        detached: process.platform !== 'win32',
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (error) {
      // Some failures to start are thrown (a cwd that is a file: ENOTDIR), most are emitted (ENOENT).
      subscriber.next({ ok: false, error: startError(hook, error) });
      subscriber.complete();
      return;
    }

    let finished = false;
    const pid = child.pid;
    if (pid !== undefined) track(child);

    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let tooLarge = false;
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    let stderrTruncated = false;

    child.stdout!.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxOutputBytes) {
        tooLarge = true;
        stdout.length = 0;
        killGroup(child);
        // Nothing more is read, of stdout nor stderr: a process the kill did not reach (one that left the
        // group with its own session) would otherwise keep the run open until the timeout, on stdout (its
        // output read and dropped) or on the stderr it inherited too, as a background job does.
        child.stdout!.destroy();
        child.stderr!.destroy();
        return;
      }
      stdout.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      const room = STDERR_CAP - stderrBytes;
      if (room <= 0) {
        stderrTruncated = true;
        return;
      }
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (kept !== chunk) stderrTruncated = true;
      stderr.push(kept);
      stderrBytes += kept.length;
    });
    // EPIPE when the hook exits without reading all of its input: not an error of the hook.
    child.stdin!.on('error', () => {});
    if (pid !== undefined) {
      onSpawn(() => ({
        pid,
        // Read while it runs: the last character may be only partly written yet.
        stderr: stderrText(stderr, true),
        stderr_truncated: stderrTruncated,
      }));
    }

    const finish = (outcome: RawOutcome) => {
      if (finished) return;
      finished = true;
      subscriber.next(outcome);
      subscriber.complete();
    };

    child.on('error', (error: NodeJS.ErrnoException) => {
      // Only a failure to start ends the run here; errors of a running process end in 'close'.
      if (pid !== undefined) return;
      finish({ ok: false, error: startError(hook, error) });
    });

    // 'close', not 'exit': the answer is complete only when stdout and stderr are closed. A background
    // process that keeps them open keeps the hook running (until its timeout kills the group).
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      untrack(child);
      if (finished || pid === undefined) return;
      const errText = stderrText(stderr, stderrTruncated);
      const detail: CommandDetail = { pid, stderr: errText, stderr_truncated: stderrTruncated };
      if (code !== null) detail.exit_code = code;
      if (signal !== null) detail.signal = signal;
      const errorDetails = {
        hook: name,
        stderr: errText,
        ...(code === null ? {} : { exitCode: code }),
        ...(signal === null ? {} : { signal }),
      };

      if (tooLarge) {
        finish({
          ok: false,
          process: detail,
          error: new HookError(
            'HOOK_OUTPUT_TOO_LARGE',
            `hook "${name}" wrote more than ${maxOutputBytes} bytes to stdout and was killed (maxOutputBytes)`,
            errorDetails,
          ),
        });
        return;
      }
      if (code === 0) {
        const text = Buffer.concat(stdout).toString('utf8');
        // As Claude Code does: stdout is JSON only when it starts with `{`; other text is kept, not parsed.
        // Leading whitespace and a UTF-8 byte-order mark (PowerShell, some Windows tools write one) are
        // dropped once, for the check and the parse alike: JSON.parse rejects a BOM.
        const answer = text.trimStart();
        if (!answer.startsWith('{')) {
          if (text.length > 0) detail.stdout = text;
          finish({ ok: true, result: {}, process: detail });
          return;
        }
        let value: unknown;
        try {
          value = JSON.parse(answer);
        } catch (error) {
          finish({
            ok: false,
            process: detail,
            error: new HookError(
              'HOOK_INVALID_OUTPUT',
              `hook "${name}" wrote invalid JSON to stdout: ${(error as Error).message}`,
              { ...errorDetails, cause: error },
            ),
          });
          return;
        }
        finish({ ...parseAnswer(name, value, errorDetails), process: detail });
        return;
      }
      if (code === 2) {
        const reason = errText.trim() || 'blocked (exit code 2)';
        finish({
          ok: false,
          reason,
          process: detail,
          error: new HookError('HOOK_BLOCKED', `hook "${name}" blocks: ${forMessage(reason)}`, errorDetails),
        });
        return;
      }
      const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`;
      finish({
        ok: false,
        process: detail,
        error: new HookError('HOOK_FAILED', `hook "${name}" ${how}${quote(errText)}`, errorDetails),
      });
    });

    child.stdin!.end(input);

    return () => {
      if (finished) return;
      finished = true;
      killGroup(child);
      untrack(child);
      // Release our ends of the pipes even if a process that escaped the group still holds theirs.
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
  });
}
