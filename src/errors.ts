/**
 * The library's error classes. Every error carries a stable, uppercase `code` (match on it, never on the
 * message text, which may change) and, where another error caused it, a `cause`.
 *
 * See `docs/errors.md` for the list of codes and what to do about each.
 */

/** Every code an error of this library can carry. */
export type ErrorCode =
  /** A value did not match `EventSchema` (see `InvalidEventError.issues`). */
  | 'INVALID_EVENT'
  /** An option passed to an operator or factory is out of range or of the wrong type. */
  | 'INVALID_CONFIG'
  /** `createHookBridge().push()` was called after `complete()`. */
  | 'BRIDGE_CLOSED'
  /** `createHookBridge().push()` found its pre-subscription buffer full. */
  | 'BRIDGE_BUFFER_FULL'
  /** A source could not read its input (a file that vanished, a directory that cannot be watched). */
  | 'SOURCE_FAILED'
  /** The LevelDB store is locked by another process. */
  | 'STORE_LOCKED'
  /** The store was used after `close()`, or could not be opened. */
  | 'STORE_NOT_OPEN'
  /** A write to the store failed; the unwritten events are attached. */
  | 'STORE_WRITE_FAILED'
  /** An event passed to `append` does not match `EventSchema`. */
  | 'STORE_INVALID_EVENT'
  /** A store read failed. */
  | 'STORE_READ_FAILED'
  /** A hook did not answer within its timeout. */
  | 'HOOK_TIMEOUT'
  /** A hook failed (threw, crashed, exited non-zero other than 2, or wrote invalid output). */
  | 'HOOK_FAILED'
  /** A command hook exited with code 2: it blocks, with its stderr as the reason. */
  | 'HOOK_BLOCKED'
  /** A buffer reached its limit under the `error` overflow policy. */
  | 'BUFFER_OVERFLOW'
  /** An event was dropped from a full queue under the `drop-oldest` / `drop-newest` overflow policy. */
  | 'EVENT_DROPPED'
  /** A batch handler did not return one result per event of its batch (wrong length, not an array). */
  | 'BATCH_RESULT_MISMATCH'
  /** A `select` callback returned something that is not a `ProcessingMode`. */
  | 'INVALID_MODE';

/** Base class of every error this library throws or forwards. */
export class VibespecError extends Error {
  override readonly name: string = 'VibespecError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A zod issue in the shape this library reports it: where, which check, and why. */
export interface EventIssue {
  readonly code: string;
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

/** Thrown by `parseEvent` when a value is not a valid `Event`. `issues` are zod's, unchanged. */
export class InvalidEventError extends VibespecError {
  override readonly name = 'InvalidEventError';
  readonly issues: ReadonlyArray<EventIssue>;

  constructor(issues: ReadonlyArray<EventIssue>, options?: { cause?: unknown }) {
    super('INVALID_EVENT', `Invalid event: ${formatIssues(issues)}`, options);
    this.issues = issues;
  }
}

/** Thrown synchronously by an operator or factory given a bad option: fail at construction, not later. */
export class ConfigError extends VibespecError {
  override readonly name = 'ConfigError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_CONFIG', message, options);
  }
}

/** Formats zod issues as `path: message; path: message` for error messages. */
export function formatIssues(issues: ReadonlyArray<EventIssue>): string {
  return issues
    .map(
      (issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`,
    )
    .join('; ');
}
