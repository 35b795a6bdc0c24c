/**
 * `StoreError`: every error the session store and its operators (`persist`, `replay`, `tail`,
 * `reconstruct`) throw or forward. Match on `code`, never on the message.
 */
import { type ErrorCode, type EventIssue, VibespecError } from '../errors.js';
import type { Event } from '../event.js';

/** The codes a `StoreError` can carry. */
export type StoreErrorCode = Extract<
  ErrorCode,
  | 'STORE_LOCKED'
  | 'STORE_NOT_OPEN'
  | 'STORE_WRITE_FAILED'
  | 'STORE_INVALID_EVENT'
  | 'STORE_READ_FAILED'
  | 'BUFFER_OVERFLOW'
>;

/** What a `StoreError` may carry besides its code and message. */
export interface StoreErrorOptions {
  cause?: unknown | undefined;
  /** The events concerned: never written (write failures), or the invalid one. */
  events?: readonly Event[] | undefined;
  /** The store's location on disk. */
  path?: string | undefined;
  /** For `STORE_INVALID_EVENT`: zod's issues unchanged, or ours where zod accepts an event that would not read back. */
  issues?: readonly EventIssue[] | undefined;
}

/**
 * An error of the session store.
 *
 * - `STORE_LOCKED`: another process (or another open store in this process) holds the database.
 * - `STORE_NOT_OPEN`: the store was used after `close()`, or could not be opened (`cause` says why).
 * - `STORE_WRITE_FAILED`: a write failed, or was refused because it needs a new session and no session
 *   number is left, or a seq past the last one (a record holds the last one, `Number.MAX_SAFE_INTEGER`:
 *   see docs/store.md); `events` holds every event that was not written, in order.
 * - `STORE_INVALID_EVENT`: an event does not match `EventSchema`, cannot be serialized, or would not
 *   read back as the same event (`data` or `context` not a plain object, or a `toJSON` on them returning
 *   no object); `events` holds it (from `persist`, when the store refused it: followed by the events
 *   received after it that were not written), `issues` says why.
 * - `STORE_READ_FAILED`: a read failed (`cause` has LevelDB's error).
 * - `BUFFER_OVERFLOW`: `persist` held more than `maxPending` unwritten events.
 */
export class StoreError extends VibespecError {
  override readonly name = 'StoreError';
  declare readonly code: StoreErrorCode;
  /** The events concerned (see the class documentation); empty when none are. */
  readonly events: readonly Event[];
  /** The store's location, when known. */
  readonly path: string | undefined;
  /** For `STORE_INVALID_EVENT`: zod's issues, or ours where zod accepts an event that would not read back. */
  readonly issues: readonly EventIssue[];

  constructor(code: StoreErrorCode, message: string, options: StoreErrorOptions = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.events = options.events ?? [];
    this.path = options.path;
    this.issues = options.issues ?? [];
  }
}
