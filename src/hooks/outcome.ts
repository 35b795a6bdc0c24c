/**
 * Internal: the raw outcome of running one hook (before it becomes a step), and reading a hook's
 * answer as a `HookResult`.
 */
import { formatIssues, HookError, textOf } from '../errors.js';
import { type CommandDetail, type HookResult, HookResultSchema } from './types.js';

/** What running a hook gave: a result, or the error that stands in for one. */
export type RawOutcome =
  | { readonly ok: true; readonly result: HookResult; readonly process?: CommandDetail }
  | {
      readonly ok: false;
      readonly error: HookError;
      /** Why a blocked hook blocks (exit code 2: its stderr). */
      readonly reason?: string;
      readonly process?: CommandDetail;
    };

/**
 * Validates a hook's answer: `undefined`/`null` is the empty result, anything else must be a `HookResult`.
 * Total: an answer that throws while it is read (a getter, a proxy trap) is `HOOK_INVALID_OUTPUT` too.
 */
export function parseAnswer(hook: string, value: unknown): RawOutcome {
  if (value === undefined || value === null) return { ok: true, result: {} };
  let parsed: ReturnType<typeof HookResultSchema.safeParse>;
  try {
    parsed = HookResultSchema.safeParse(value);
  } catch (error) {
    return unreadable(hook, error);
  }
  if (parsed.success) return { ok: true, result: parsed.data };
  const issues = parsed.error.issues.map((issue) => ({
    code: issue.code,
    path: issue.path,
    message: issue.message,
  }));
  return {
    ok: false,
    error: new HookError(
      'HOOK_INVALID_OUTPUT',
      `hook "${hook}" answered something that is not a HookResult: ${formatIssues(issues)}`,
      {
        hook,
        issues,
        cause: parsed.error,
      },
    ),
  };
}

/** The outcome of an answer that threw `error` while it was read (a getter, a proxy trap). */
export function unreadable(hook: string, error: unknown): RawOutcome {
  return {
    ok: false,
    error: new HookError(
      'HOOK_INVALID_OUTPUT',
      `hook "${hook}" answered something that cannot be read: ${textOf(error)}`,
      { hook, cause: error },
    ),
  };
}

/**
 * The error a hook's throw or error notification stands for. A `HookError` is kept as it is. Total: a
 * value that cannot be converted to a string (a null-prototype object, a `toString` that throws) is
 * named by its tag instead (`[object Object]`), and is still the error's `cause`.
 */
export function toHookError(hook: string, error: unknown): HookError {
  if (isHookError(error)) return error;
  return new HookError('HOOK_FAILED', `hook "${hook}" failed: ${textOf(error)}`, { hook, cause: error });
}

function isHookError(error: unknown): error is HookError {
  try {
    return error instanceof HookError;
  } catch {
    // A proxy whose getPrototypeOf trap throws.
    return false;
  }
}
