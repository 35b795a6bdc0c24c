/**
 * Internal: the raw outcome of running one hook (before it becomes a step), and reading a hook's
 * answer as a `HookResult`.
 */
import { formatIssues, HookError, type HookErrorDetails, textOf } from '../errors.js';
import { setOwn, withProtoKey } from '../event.js';
import { cutAt } from '../streams/payload.js';
import { type CommandDetail, type HookResult, HookResultSchema } from './types.js';

/** Most characters of a hook's own text (its stderr, a block's reason) quoted in an error message. */
export const MESSAGE_QUOTE = 1_000;

/**
 * `text` for a message: whole, or its first 1,000 characters and `…` when longer (never ending in half
 * of a surrogate pair). The text itself stays whole where the step keeps it (`stderr`, `reason`).
 */
export function forMessage(text: string): string {
  return text.length <= MESSAGE_QUOTE ? text : `${cutAt(text, MESSAGE_QUOTE)}…`;
}

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
 * A `__proto__` key of the answer, its `context_updates` or its `metrics` (an own field, as `JSON.parse`
 * makes it) is kept as an own field, as `parseEvent` keeps one, never applied as a prototype.
 * Total: an answer that throws while it is read (a getter, a proxy trap) is `HOOK_INVALID_OUTPUT` too.
 * The message quotes at most 1,000 characters of zod's issues (a class's name, a symbol key's text in a
 * record may be long), as `forMessage` cuts; the error's `issues` and its `cause` keep them whole.
 * `run`: what a command hook's error carries about its process (exit code, signal, stderr), as its other
 * errors do.
 */
export function parseAnswer(
  hook: string,
  value: unknown,
  run?: Pick<HookErrorDetails, 'exitCode' | 'signal' | 'stderr'>,
): RawOutcome {
  if (value === undefined || value === null) return { ok: true, result: {} };
  let parsed: ReturnType<typeof HookResultSchema.safeParse>;
  try {
    parsed = HookResultSchema.safeParse(value);
    if (parsed.success) {
      return { ok: true, result: withProtoKeys(value as Record<string, unknown>, parsed.data) };
    }
  } catch (error) {
    return unreadable(hook, error);
  }
  const issues = parsed.error.issues.map((issue) => ({
    code: issue.code,
    path: issue.path,
    message: issue.message,
  }));
  return {
    ok: false,
    error: new HookError(
      'HOOK_INVALID_OUTPUT',
      `hook "${hook}" answered something that is not a HookResult: ${forMessage(formatIssues(issues))}`,
      { ...run, hook, issues, cause: parsed.error },
    ),
  };
}

/**
 * `result`, zod's copy of the answer `input`, with the `__proto__` keys zod drops (its object and its
 * records assign keys, and an assignment of `__proto__` sets the prototype) defined back as own fields.
 */
function withProtoKeys(input: Record<string, unknown>, result: HookResult): HookResult {
  if (result.context_updates !== undefined) {
    result.context_updates = withProtoKey(
      input.context_updates as Record<string, unknown>,
      result.context_updates,
    );
  }
  if (result.metrics !== undefined) {
    result.metrics = withProtoKey(input.metrics as Record<string, unknown>, result.metrics);
  }
  if (Object.prototype.propertyIsEnumerable.call(input, '__proto__')) {
    // Reflect.get reads the own field (it shadows Object.prototype's accessor).
    setOwn(result, '__proto__', Reflect.get(input, '__proto__'));
  }
  return result;
}

/** The outcome of an answer that threw `error` while it was read (a getter, a proxy trap); its text cut as `forMessage` cuts. */
export function unreadable(hook: string, error: unknown): RawOutcome {
  return {
    ok: false,
    error: new HookError(
      'HOOK_INVALID_OUTPUT',
      `hook "${hook}" answered something that cannot be read: ${forMessage(textOf(error))}`,
      { hook, cause: error },
    ),
  };
}

/**
 * The error a hook's throw or error notification stands for: `HOOK_FAILED`, the thrown value its cause.
 * A `HookError` of `HOOK_BLOCKED` (a function hook blocking) is kept as it is, and so is one of
 * `HOOK_FAILED` for this hook; one of another code (`HOOK_TIMEOUT` when nothing timed out) or another
 * hook's (an inner hook's error rethrown) would pass for what did not happen here, so it is a failure
 * whose cause it is. Total: a value that cannot be converted to a string (a null-prototype object, a
 * `toString` that throws) is named by its tag instead (`[object Object]`), and is still the `cause`.
 * The message quotes at most 1,000 characters of the thrown text, as a command hook's quotes its stderr;
 * the `cause` keeps it whole.
 */
export function toHookError(hook: string, error: unknown): HookError {
  if (
    isHookError(error) &&
    (error.code === 'HOOK_BLOCKED' || (error.code === 'HOOK_FAILED' && error.hook === hook))
  )
    return error;
  return new HookError('HOOK_FAILED', `hook "${hook}" failed: ${forMessage(textOf(error))}`, {
    hook,
    cause: error,
  });
}

function isHookError(error: unknown): error is HookError {
  try {
    return error instanceof HookError;
  } catch {
    // A proxy whose getPrototypeOf trap throws.
    return false;
  }
}
