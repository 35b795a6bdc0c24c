/**
 * Internal: the raw outcome of running one hook (before it becomes a step), and reading a hook's
 * answer as a `HookResult`.
 */
import { formatIssues, HookError } from '../errors.js';
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

/** Validates a hook's answer: `undefined`/`null` is the empty result, anything else must be a `HookResult`. */
export function parseAnswer(hook: string, value: unknown): RawOutcome {
  if (value === undefined || value === null) return { ok: true, result: {} };
  const parsed = HookResultSchema.safeParse(value);
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

/** The error a hook's throw or error notification stands for. A `HookError` is kept as it is. */
export function toHookError(hook: string, error: unknown): HookError {
  if (error instanceof HookError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new HookError('HOOK_FAILED', `hook "${hook}" failed: ${message}`, { hook, cause: error });
}
