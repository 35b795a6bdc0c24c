/**
 * The session store: every session's events in one embedded LevelDB (classic-level, through the
 * `level` package), keyed by a per-session sequence number, with a (type, time) index and per-session
 * metadata written in the same atomic batch. See `docs/store.md`.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type { AbstractSublevel } from 'abstract-level';
import type { Level } from 'level';
import {
  ConfigError,
  formatIssues,
  optionKeys,
  readFields,
  rejectUnknownKeys,
  shownText,
  textOf,
} from '../errors.js';
import type { Event } from '../event.js';
import { makeFolder } from '../folders.js';
import { isFieldRecord, isRecord } from '../streams/payload.js';
import { canonical, decodeEvent, describeEvent, describeInvalid, isEventShape } from './codec.js';
import { StoreError } from './errors.js';
import {
  AFTER_SEP,
  encodeSeq,
  encodeTime,
  escapePart,
  eventKey,
  eventRange,
  indexRange,
  indexSuffix,
  SEP,
  seqAtEnd,
  sessionRange,
  unescapePart,
} from './keys.js';
import { type KeySource, mergeKeys } from './merge.js';

/** Where `openStore` puts the database when no `path` is given (relative to the working directory). */
export const DEFAULT_STORE_PATH = '.vibespec/event-store';

/** The session that events without a `sessionId` are stored under. Their stored copy keeps no sessionId. */
export const DEFAULT_SESSION = 'default';

/**
 * When a write is acknowledged.
 * - `process`: once LevelDB has applied it (its log is in the OS page cache): survives a crash of this
 *   process, not of the machine.
 * - `os`: once LevelDB has fsync'ed its log (`sync: true`): survives an OS crash or power loss. Writes are
 *   group-committed, so it costs one fsync per batch, never one per event.
 */
export type Durability = 'process' | 'os';

/** Options of `openStore`. */
export interface StoreOptions {
  /**
   * Directory of the LevelDB database; created if missing, with the missing folders above it. Default
   * `.vibespec/event-store`.
   */
  path?: string | undefined;
  /** Default `process`. */
  durability?: Durability | undefined;
  /**
   * Called for each stored record that cannot be decoded. The record is skipped (and counted in
   * `stats().corruptRecords`); reading goes on. Exceptions thrown by the callback are ignored.
   *
   * Also called by `openStore`, before it returns, with `kind: 'log'` for each part of LevelDB's log that
   * LevelDB dropped as damaged while recovering it at open (what a crash, or a disk, can leave): LevelDB
   * goes on without it and only writes a line to the `LOG` file of the store's folder, which `openStore`
   * reads; the line is the `reason`. Events acknowledged before the crash may be gone with it. Every
   * session's metadata is then rebuilt from its events (and written) before the store is returned, so
   * counts agree with what is stored; a gap in a session's seqs stays a gap (the next seq stays past the
   * highest one stored). Counted in `stats().corruptRecords` too. Reported at least once (again if the
   * open dies before the rebuild is done). A session whose events cannot be read for the rebuild (a
   * damaged table file) keeps its metadata and is reported with `kind: 'session'`; the open goes on.
   * What this does not cover: docs/store.md, "A damaged log".
   */
  onCorruptRecord?: ((record: CorruptRecord) => void) | undefined;
  /**
   * How many sessions' counters are kept in memory (least recently written are dropped first and
   * reloaded from their metadata when written again). Default 10,000.
   */
  maxCachedSessions?: number | undefined;
}

/**
 * A stored record that could not be decoded, or a part of LevelDB's log that LevelDB dropped at open,
 * as reported to `onCorruptRecord`.
 */
export interface CorruptRecord {
  /** The record's session; `''` (never a session id) for `kind: 'log'`, which names no session. */
  sessionId: string;
  /** The event's sequence number, for an event record; undefined for session metadata and `log`. */
  seq: number | undefined;
  /**
   * Which record: `event`, `index` (an index entry whose event is missing), `session` (metadata) or
   * `log` (LevelDB dropped a damaged part of its log when the store was opened; `reason` is the line
   * LevelDB wrote about it in the store folder's `LOG` file).
   */
  kind: 'event' | 'index' | 'session' | 'log';
  reason: string;
  /** A `STORE_READ_FAILED` error describing the record, for logging. */
  error: StoreError;
}

/** A session's metadata, kept up to date in the same batch as its events. */
export interface SessionInfo {
  sessionId: string;
  /** Wall-clock time the store first saw the session (informational; never used for replay). */
  createdAt: number;
  /** Earliest event timestamp, undefined until the first event. */
  startTime: number | undefined;
  /** Latest event timestamp, undefined until the first event. */
  lastEventTime: number | undefined;
  eventCount: number;
  /** The sequence number the next event of this session gets. */
  nextSeq: number;
  /** Number of events per type. */
  typeCounts: Record<string, number>;
  /** What was passed to `startSession(id, meta)` (merged over calls). */
  meta: Record<string, unknown>;
}

/** An event with its position in its session. `seq` starts at 0 and increases by one per event. */
export interface StoredEvent<D = Record<string, unknown>> {
  seq: number;
  event: Event<D>;
}

/** Options of `SessionStore.append`. */
export interface AppendOptions {
  /**
   * Write this append before the appends queued without `urgent` (never before an earlier
   * `startSession` or `deleteSession`), in a batch of urgent appends only: it waits for the LevelDB write
   * in progress, not for the queue — except right after another urgent batch, when the appends without
   * `urgent` still waiting once it is written go first (so urgent appends cannot hold them back; with none
   * waiting then, it overtakes as usual). `persist`'s CRITICAL lane uses it.
   * Its events take their sequence numbers when written, so they come before the events of the appends it
   * overtook. Default false.
   */
  urgent?: boolean | undefined;
}

/** Where `append` put an event. */
export interface StoredPosition {
  sessionId: string;
  seq: number;
}

/**
 * Options of `query`, `entries` and `replay`: which events they give, and in which order. Without
 * `types`, `start` and `end` the events come in `seq` order; with any of
 * them they come in (timestamp, seq) order — the same order whenever a session's events were appended
 * in time order, which is the usual case.
 */
export interface QueryOptions {
  /** Only these types. An empty list matches nothing. */
  types?: readonly string[] | undefined;
  /** Only events with `timestamp ≥ start` (ms since epoch). */
  start?: number | undefined;
  /** Only events with `timestamp ≤ end`. */
  end?: number | undefined;
  /** Only events with `seq ≥ fromSeq`. */
  fromSeq?: number | undefined;
  /** At most this many events. */
  limit?: number | undefined;
  /**
   * Newest first. For `reconstruct`, which folds oldest first, it only picks the events: with `limit`, the
   * newest `limit` of them.
   */
  reverse?: boolean | undefined;
}

/** The seed's session context: counts, time span, files modified, agents used, workflows run. */
export interface SessionContext {
  sessionId: string;
  eventCount: number;
  /** Earliest and latest event timestamps; undefined for a session without events. */
  timeSpan: { start: number; end: number } | undefined;
  /** Events per type. */
  activitySummary: Record<string, number>;
  /** `data.file_path` of `file.*` events, in order of first appearance (time order). */
  filesModified: string[];
  /**
   * `data.agent` of `agent.*` events, in order of first appearance; an event of a run whose `agent.started`
   * came before it (the same `agent_id`) goes by that start's `agent`.
   */
  agentsUsed: string[];
  /** `data.workflow` (or `workflow_type`, `workflow_id`) of `workflow.*` events. */
  workflowsExecuted: string[];
}

/** Counters since the store was opened. */
export interface StoreStats {
  /** Events written. */
  eventsWritten: number;
  /** LevelDB batches written (each holds one or more `append` calls). */
  writes: number;
  /** Event records read and decoded (corrupt ones included). */
  eventsRead: number;
  /** Index entries read by type and time queries. */
  indexEntriesRead: number;
  /**
   * Records skipped because they could not be decoded, and parts of LevelDB's log dropped at open (each
   * reported to `onCorruptRecord`).
   */
  corruptRecords: number;
}

/** @internal What `tail` registers to hear about appends. */
export interface StoreWatcher {
  next(entries: readonly StoredEvent[]): void;
  complete(): void;
}

interface NormalizedQuery {
  /** Served from the (type, time) index, in (timestamp, seq) order: `types`, `start` or `end` was given. */
  byIndex: boolean;
  types: string[] | undefined;
  start: number | undefined;
  end: number | undefined;
  fromSeq: number;
  limit: number;
  reverse: boolean;
}

/**
 * Stored metadata: `SessionInfo`, the session's number (its short name in event and index keys), and the
 * tombstone flag of an unfinished `deleteSession`.
 */
interface StoredMeta extends SessionInfo {
  n: number;
  deleting?: true;
}

/** What `#numberOf` found: the session's number, its metadata if readable, and whether it is being deleted. */
interface NumberLookup {
  n: number | undefined;
  meta: StoredMeta | undefined;
  deleting: boolean;
}

interface CachedSession {
  /** The escaped session id: key of its metadata and of its number. */
  key: string;
  /** The session number in base 36: the session's part of event and index keys. */
  part: string;
  /** Full key prefixes (sublevel prefix, part, separator) of the session's events and index entries. */
  eventPrefix: string;
  indexPrefix: string;
  info: StoredMeta;
  /** The number was allocated in memory and is written with the session's first batch. */
  created: boolean;
}

interface AppendJob {
  kind: 'append';
  urgent: boolean;
  /** The array given to `append` (what `#appendAgain` is given to find the job). */
  given: readonly Event[];
  events: Event[];
  json: string[];
  sessions: string[];
  resolve(positions: StoredPosition[]): void;
  reject(error: unknown): void;
  /** Set by `#appendAgain`: on a failure, the job is made again at the head of the queue, settling these. */
  again?: { resolve(positions: StoredPosition[]): void; reject(error: unknown): void };
}

interface StartJob {
  kind: 'start';
  sessionId: string;
  meta: Record<string, unknown> | undefined;
  resolve(info: SessionInfo): void;
  reject(error: unknown): void;
}

interface DeleteJob {
  kind: 'delete';
  sessionId: string;
  resolve(existed: boolean): void;
  reject(error: unknown): void;
}

type Job = AppendJob | StartJob | DeleteJob;

/** The jobs of a group the store refused, each with its error (see #runGroup). */
type Refusals = Map<AppendJob | StartJob, StoreError>;

/** Rejects a job the store refused, and the second try `#appendAgain` asked of it: it would be refused the same way. */
function rejectRefused(job: AppendJob | StartJob, error: StoreError): void {
  job.reject(error);
  if (job.kind === 'append') job.again?.reject(error);
}

/**
 * Thrown while a batch is built when an event of `job` would need a seq of `sessionId` past
 * Number.MAX_SAFE_INTEGER: the job is refused, the batch built again without it.
 */
class SeqsUsedUp {
  constructor(
    readonly job: AppendJob,
    readonly sessionId: string,
  ) {}
}

/** The session number as it appears in keys. */
function partOf(n: number): string {
  return n.toString(36);
}

type Sublevel = AbstractSublevel<Level<string, string>, string | Buffer | Uint8Array, string, string>;

/**
 * The key spaces of a store (see `sublevels`). Named rather than inferred: the declaration file then
 * writes `Sublevel` as above, where an inferred type would give Buffer and Uint8Array a type argument,
 * which a TypeScript before 5.7 cannot read (TS2315, with `skipLibCheck: false`).
 */
interface Layout {
  store: Sublevel;
  meta: Sublevel;
  ids: Sublevel;
  events: Sublevel;
  index: Sublevel;
}

/** What a write refused after a failed one says (see `SessionStore.#writeFailure`), then its advice. */
const REFUSED_AFTER_FAILURE = 'write refused: an earlier LevelDB write of this store failed';
const AFTER_FAILURE_ADVICE =
  '. The store takes no more writes until it is closed and opened again (the writes after a failed one ' +
  'could be dropped at the next open): close it, make room (or fix the disk), open it again and write ' +
  'these events again';

const FORMAT_VERSION = '1';
const NEXT_SESSION_KEY = 'nextSession';
/**
 * In the `store` key space while an open rebuilds every session's metadata after LevelDB dropped part of
 * its log: the LOG lines (JSON array), so that an open that dies before finishing is finished by the next.
 */
const REPAIR_KEY = 'repair';

/** The key spaces (see docs/store.md, "Key layout"). */
function sublevels(db: Level<string, string>): Layout {
  return {
    /** `format`, `nextSession`, `repair`. */
    store: db.sublevel<string, string>('store', {}),
    /** escaped session id → metadata (JSON). */
    meta: db.sublevel<string, string>('s', {}),
    /** escaped session id → session number. */
    ids: db.sublevel<string, string>('n', {}),
    /** session number, seq → event (JSON). */
    events: db.sublevel<string, string>('e', {}),
    /** session number, type, time, seq → '' (the (type, time) index). */
    index: db.sublevel<string, string>('i', {}),
  };
}

/**
 * One past the highest session number that any record holds: an id record, a session's metadata (a
 * deletion's tombstone too: the session's next load clears that number's events) or an event or index
 * key (with no record naming its session left, after damage). Read at open when the counter record is
 * missing or unreadable, so that a new session never gets a number whose records are still there. The
 * keys are read one per number (a seek past each). At most 2 ** 53, exact (numbers are safe integers): one
 * past the last number, Number.MAX_SAFE_INTEGER, when a record holds it — then no new session gets one
 * (see #runGroup).
 */
async function numberAfterStored(spaces: Layout): Promise<number> {
  let next = 0;
  const take = (n: number | undefined) => {
    if (n !== undefined && n >= next) next = n + 1;
  };
  for await (const value of spaces.ids.values()) take(storedCount(value));
  for await (const value of spaces.meta.values()) take(numberInMeta(value));
  for (const space of [spaces.events, spaces.index]) {
    const iterator = space.keys();
    try {
      for (let key = await iterator.next(); key !== undefined; key = await iterator.next()) {
        const end = key.indexOf(SEP);
        const part = end < 0 ? key : key.slice(0, end);
        const n = Number.parseInt(part, 36);
        if (isCount(n) && part === partOf(n)) take(n);
        iterator.seek(part + AFTER_SEP);
      }
    } finally {
      await iterator.close();
    }
  }
  return next;
}

/** The number in a session's metadata (JSON), or undefined when it has none or cannot be read. */
function numberInMeta(text: string): number | undefined {
  try {
    const n = (JSON.parse(text) as { n?: unknown } | null)?.n;
    return isCount(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `db` holds records of the first layout of format 1, written by the development build of
 * 2026-11-23 (2b22442) — events, index entries and metadata in the sublevels `events`, `index` and
 * `sessions`, keyed by the session's id — which the layout of the next day (`e`, `i`, `s`, `n`: keyed by the
 * session's number) does not read: such a store opened as an empty one, its sessions out of sight.
 */
async function hasFirstLayout(db: Level<string, string>): Promise<boolean> {
  for (const name of ['sessions', 'events']) {
    const keys = await db.keys({ gte: `!${name}!`, lt: `!${name}"`, limit: 1 }).all();
    if (keys.length > 0) return true;
  }
  return false;
}

/** Appends queued while a write is in flight are merged into one batch of at most this many events. */
const MAX_GROUP_EVENTS = 10_000;
const FETCH_CHUNK = 128;
const SCAN_CHUNK = 256;
/**
 * An index query over this many type ranges or more, of a session with at most `WHOLE_SCAN_PER_TYPE`
 * events per range, reads the session's whole index once (keys only, in bulk) rather than one range per
 * type: an iterator per type costs about as much as reading 100 to 150 keys in bulk (measured: ~0.25 ms
 * against ~2 µs a key), so a time range over a session with 20,000 types and an event or two each took
 * seconds (5.7 s for 100 events) — the keys of the session's other types are then the cheaper read.
 */
const WHOLE_SCAN_TYPES = 16;
const WHOLE_SCAN_PER_TYPE = 32;
const WHOLE_SCAN_CHUNK = 1024;
const HIGH_WATER_MARK_BYTES = 256 * 1024;

/**
 * The databases opened by a store of this process, by the identity of their folder (device and inode), so
 * that a second open fails fast and the same way as across processes — however the path is spelled: through
 * a symlink, `..` or another case. LevelDB's lock is per process: it would let the second one open, and two
 * stores writing one database reuse each other's sequence numbers (one overwrites the other's events).
 */
const openDatabases = new Set<string>();

function lockedMessage(path: string): string {
  return (
    `The event store at ${path} is locked: another process (or another open store in this process) is ` +
    'using it. LevelDB allows one writer per database: close the other store first, or open a different ' +
    '`path`.'
  );
}

function isLevelCode(error: unknown, code: string): boolean {
  try {
    return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
  } catch {
    // A value that throws when read (a revoked proxy, a getter): not LevelDB's. Thrown on, it stopped
    // #failed before it rejected its jobs, whose callers then waited forever.
    return false;
  }
}

/**
 * Whether a failed write failed in LevelDB itself (an I/O error: a full disk, a file-size limit, a failing
 * disk; or corruption): what the write left in LevelDB's log is then unknown, and the store takes no more
 * writes (see `SessionStore.#writeFailure`). Other failures (the database closed, an error thrown before
 * the write reached LevelDB) wrote nothing.
 */
function isEngineFailure(error: unknown): boolean {
  return isLevelCode(error, 'LEVEL_IO_ERROR') || isLevelCode(error, 'LEVEL_CORRUPTION');
}

function isLockError(error: unknown): boolean {
  return (
    isLevelCode(error, 'LEVEL_LOCKED') ||
    (isLevelCode(error, 'LEVEL_DATABASE_NOT_OPEN') && isLevelCode((error as Error).cause, 'LEVEL_LOCKED'))
  );
}

/** LevelDB's order of two keys: their UTF-8 bytes' (escaped keys hold no lone surrogate). */
function compareKeys(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The count a record holds as text (a session's number, the session counter), or undefined for none or
 * another text.
 */
function storedCount(text: string | undefined): number | undefined {
  const n = text === undefined ? undefined : Number(text);
  return n !== undefined && isCount(n) ? n : undefined;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isOptionalTime(value: unknown): boolean {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value));
}

function parseMeta(text: string): StoredMeta | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value.sessionId !== 'string' || !isCount(value.n)) return undefined;
  if (value.deleting === true) return value as unknown as StoredMeta;
  if (
    !isCount(value.eventCount) ||
    // 2 ** 53 once an event took the last seq: then the session takes no more (see #runGroup).
    !(isCount(value.nextSeq) || value.nextSeq === Number.MAX_SAFE_INTEGER + 1) ||
    typeof value.createdAt !== 'number' ||
    !isOptionalTime(value.startTime) ||
    !isOptionalTime(value.lastEventTime) ||
    !isRecord(value.typeCounts) ||
    !Object.values(value.typeCounts).every(isCount) ||
    !isRecord(value.meta)
  ) {
    return undefined;
  }
  // Prototype-less, like the counts built here (countsOf copies own keys only from such a record).
  value.typeCounts = Object.assign(Object.create(null) as Record<string, number>, value.typeCounts);
  return value as unknown as StoredMeta;
}

/**
 * A counts-per-type record without a prototype: event types are arbitrary strings, and `__proto__` or
 * `constructor` must count like any other type.
 */
function countsOf(from?: Record<string, number>): Record<string, number> {
  const out = Object.create(null) as Record<string, number>;
  // for…in rather than Object.assign: same keys in the same order, about twice as fast (a batch clones
  // the counts of every session it touches). `from` is always prototype-less (see parseMeta).
  for (const type in from) out[type] = from[type]!;
  return out;
}

function freshMeta(sessionId: string, n: number): StoredMeta {
  return {
    n,
    sessionId,
    createdAt: Date.now(),
    startTime: undefined,
    lastEventTime: undefined,
    eventCount: 0,
    nextSeq: 0,
    typeCounts: countsOf(),
    meta: {},
  };
}

/**
 * What a caller is given of a session's metadata: a copy sharing nothing with the store's, whose `meta`
 * (JSON, held as given) is copied whole: for a session a write loaded, a value nested in it is the
 * store's own, which its next write stores.
 */
function publicInfo(meta: StoredMeta): SessionInfo {
  return {
    sessionId: meta.sessionId,
    createdAt: meta.createdAt,
    startTime: meta.startTime,
    lastEventTime: meta.lastEventTime,
    eventCount: meta.eventCount,
    nextSeq: meta.nextSeq,
    typeCounts: countsOf(meta.typeCounts),
    meta: JSON.parse(JSON.stringify(meta.meta)) as Record<string, unknown>,
  };
}

function cloneMeta(meta: StoredMeta): StoredMeta {
  return { ...meta, typeCounts: countsOf(meta.typeCounts) };
}

function checkSessionId(sessionId: unknown, what = 'sessionId'): asserts sessionId is string {
  if (typeof sessionId !== 'string' || sessionId.length === 0) {
    throw new ConfigError(`${what} must be a non-empty string, got ${shownText(sessionId)}`);
  }
}

/** @internal The keys of `QueryOptions`: a query (and `replay`, `reconstruct`) refuses others. */
export const QUERY_KEYS = optionKeys<QueryOptions>({
  types: true,
  start: true,
  end: true,
  fromSeq: true,
  limit: true,
  reverse: true,
});

const APPEND_KEYS = optionKeys<AppendOptions>({ urgent: true });

function normalizeQuery(options: QueryOptions | undefined): NormalizedQuery {
  if (options === undefined) {
    return {
      byIndex: false,
      types: undefined,
      start: undefined,
      end: undefined,
      fromSeq: 0,
      limit: Infinity,
      reverse: false,
    };
  }
  if (!isRecord(options)) throw new ConfigError('query options must be an object');
  rejectUnknownKeys('query', options, QUERY_KEYS);
  // Each field read once (see `readFields`), and the types copied, each read once: the values checked
  // are the values used.
  const read = readFields(options as QueryOptions, QUERY_KEYS);
  const { start, end, fromSeq = 0, limit = Infinity, reverse = false } = read;
  const types: unknown = Array.isArray(read.types) ? Array.prototype.slice.call(read.types) : read.types;
  if (types !== undefined) {
    if (!Array.isArray(types) || !types.every((type) => typeof type === 'string' && type.length > 0)) {
      throw new ConfigError('query option types must be an array of non-empty strings');
    }
  }
  for (const [name, value] of [
    ['start', start],
    ['end', end],
  ] as const) {
    if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value))) {
      throw new ConfigError(
        `query option ${name} must be a number (ms since epoch), got ${shownText(value)}`,
      );
    }
  }
  if (!isCount(fromSeq))
    throw new ConfigError(`query option fromSeq must be an integer ≥ 0, got ${shownText(fromSeq)}`);
  if (!(limit === Infinity || isCount(limit))) {
    throw new ConfigError(`query option limit must be an integer ≥ 0 or Infinity, got ${shownText(limit)}`);
  }
  if (typeof reverse !== 'boolean') throw new ConfigError('query option reverse must be a boolean');
  return {
    byIndex: types !== undefined || start !== undefined || end !== undefined,
    types: types === undefined ? undefined : [...new Set(types)],
    // Event times are ≥ 0 and finite: clamp open bounds so the range encoding stays valid.
    start: start === undefined || start <= 0 ? undefined : start,
    end: end === undefined || end === Infinity ? undefined : end,
    fromSeq,
    limit,
    reverse,
  };
}

/** What `SessionStore`'s constructor takes besides the database and its path. */
interface StoreInit
  extends Required<Pick<StoreOptions, 'durability' | 'maxCachedSessions'>>,
    Pick<StoreOptions, 'onCorruptRecord'> {
  nextSession: number;
  identity: string;
  /** The database's key spaces, open (see `openStore`). */
  layout: Layout;
}

/**
 * @internal What the store's own modules reach of a `SessionStore` besides its public members: its
 * constructor (`openStore`), the repair after an open, an append made again (`persist`) and the
 * watchers of appends (`tail`). Filled in by the class's static block, the only code that can read its
 * private members, so that none of these is on the `SessionStore` type a user sees (as `@internal`
 * members, `_watch` and `_appendAgain` were, in the shipped declarations). Not exported from the
 * package's entry. A test may replace a function here to observe its calls.
 */
export const storeInternals = {} as StoreInternals;

interface StoreInternals {
  create(db: Level<string, string>, path: string, init: StoreInit): SessionStore;
  repairAfterOpen(store: SessionStore, lines: readonly string[], pending: string | undefined): Promise<void>;
  appendAgain(store: SessionStore, events: readonly Event[]): Promise<StoredPosition[]> | undefined;
  watch(store: SessionStore, sessionId: string, watcher: StoreWatcher): () => void;
}

/**
 * Where a store's prototype holds its own copy's `storeInternals` (a registered symbol: the same in every
 * copy of the package). A store opened by another copy (a second install, or `src` beside `dist`) is no
 * instance of this copy's class, whose private members it has not: `tail` reaches its watchers through
 * its own copy's internals, as it reached its `_watch` before the members were private.
 */
const OWN_INTERNALS = Symbol.for('vibespec-streams.storeInternals');

/** @internal The internals that can reach `store`'s private members: its own copy's. */
export function internalsOf(store: SessionStore): StoreInternals {
  if (store instanceof SessionStore) return storeInternals;
  const own = (store as unknown as Partial<Record<symbol, StoreInternals>>)[OWN_INTERNALS];
  return own ?? storeInternals;
}

/**
 * An open session store. Make one with `openStore()`; close it with `close()`.
 *
 * All writes go through one queue: sequence numbers are assigned there, so concurrent `append` calls
 * never race, and appends that queue up while a write is in flight are committed together in one
 * LevelDB batch (group commit).
 */
export class SessionStore {
  /** Absolute path of the database directory. */
  readonly path: string;
  readonly durability: Durability;

  readonly #db: Level<string, string>;
  readonly #events: Sublevel;
  readonly #index: Sublevel;
  readonly #meta: Sublevel;
  readonly #ids: Sublevel;
  readonly #eventsPrefix: string;
  readonly #indexPrefix: string;
  readonly #metaPrefix: string;
  readonly #idsPrefix: string;
  readonly #counterKey: string;
  readonly #repairKey: string;
  /**
   * The number the next new session gets; persisted with the batch that creates it. 2 ** 53 (one past
   * Number.MAX_SAFE_INTEGER) when none is left: a new session is then refused (see #runGroup).
   */
  #nextSession: number;
  readonly #writeOptions: { sync: boolean };
  readonly #onCorruptRecord: ((record: CorruptRecord) => void) | undefined;
  readonly #maxCachedSessions: number;
  /** The database's entry in `openDatabases`. */
  readonly #identity: string;

  #status: 'open' | 'closing' | 'closed' = 'open';
  readonly #typeParts = new Map<string, string>();
  #lastTime = -1;
  #lastTimeText = '';
  #closing: Promise<void> | undefined;
  readonly #sessions = new Map<string, CachedSession>();
  #queue: Job[] = [];
  #draining: Promise<void> | undefined;
  /** The group being written (taken from the queue, its outcome not known yet). */
  #writing: Array<AppendJob | StartJob> | undefined;
  /**
   * The appends of failed writes (by the array given), whose callers may not have heard yet (see
   * `#appendAgain`); each is forgotten a task after its rejection.
   */
  readonly #failedAppends = new WeakMap<readonly Event[], AppendJob>();
  /** Whether the last group taken was urgent appends (see #takeGroup). */
  #lastUrgent = false;
  /**
   * The first LevelDB write of this store that failed in LevelDB itself (`isEngineFailure`), if one did:
   * every later write is refused with it as cause. LevelDB's log writer does not take back the part of a
   * record it could not write (a full disk or a file-size limit cuts it), and reckons its place in the log
   * from what it meant to write: the writes that succeed after it (once the disk has room again) go to a
   * log LevelDB cannot read back, acknowledged, then dropped at the next open (checked: of 177 events
   * acknowledged, 162 of them after a failed write, 15 read back; test/store/fulldisk.spec.ts). Opening
   * the store again reads the log up to the cut record and starts a new one.
   */
  #writeFailure: { cause: unknown } | undefined;
  readonly #watchers = new Map<string, Set<StoreWatcher>>();
  readonly #stats: StoreStats = {
    eventsWritten: 0,
    writes: 0,
    eventsRead: 0,
    indexEntriesRead: 0,
    corruptRecords: 0,
  };

  static {
    // The only code that can read the private members below: what the store's own modules reach of it.
    storeInternals.create = (db, path, options) => new SessionStore(db, path, options);
    storeInternals.repairAfterOpen = (store, lines, pending) => store.#repairAfterOpen(lines, pending);
    storeInternals.appendAgain = (store, events) => store.#appendAgain(events);
    storeInternals.watch = (store, sessionId, watcher) => store.#watch(sessionId, watcher);
    // Not enumerable, and on no type: for the other copies of the package (see internalsOf).
    Object.defineProperty(SessionStore.prototype, OWN_INTERNALS, { value: storeInternals });
  }

  /** Use `openStore()` (private: the class is no value a user can call; `storeInternals.create` is its door). */
  private constructor(db: Level<string, string>, path: string, options: StoreInit) {
    this.#db = db;
    this.#nextSession = options.nextSession;
    this.#identity = options.identity;
    this.path = path;
    this.durability = options.durability;
    this.#writeOptions = { sync: options.durability === 'os' };
    this.#onCorruptRecord = options.onCorruptRecord;
    this.#maxCachedSessions = options.maxCachedSessions;
    const layout = options.layout;
    this.#events = layout.events;
    this.#index = layout.index;
    this.#meta = layout.meta;
    this.#ids = layout.ids;
    this.#eventsPrefix = this.#events.prefix;
    this.#indexPrefix = this.#index.prefix;
    this.#metaPrefix = this.#meta.prefix;
    this.#idsPrefix = this.#ids.prefix;
    this.#counterKey = `${layout.store.prefix}${NEXT_SESSION_KEY}`;
    this.#repairKey = `${layout.store.prefix}${REPAIR_KEY}`;
  }

  /** `'open'`, `'closing'` (waiting for pending writes) or `'closed'`. */
  get status(): 'open' | 'closing' | 'closed' {
    return this.#status;
  }

  // -------------------------------------------------------------------------------------------------
  // Writing

  /**
   * Appends events as one atomic batch: all of them are written, or none. Events are grouped by
   * `sessionId` (events without one go to `DEFAULT_SESSION`) and each gets the next sequence number of
   * its session, in the order given.
   *
   * Appends are written in the order they are called, except that an `urgent` one overtakes the
   * appends still queued without it (see `AppendOptions`).
   *
   * @returns where each event was stored, in the order given.
   * @throws StoreError `STORE_INVALID_EVENT` (nothing written) when an event does not match
   *   `EventSchema`, cannot be serialized, or would not read back as the same event (`data` and `context`
   *   must be plain objects, prototype `Object.prototype` or `null`, and a `toJSON` on them must return an
   *   object, which is what is stored); `STORE_WRITE_FAILED` (nothing written, `events` attached)
   *   when LevelDB fails (once LevelDB failed a write itself — an I/O error, a full disk — every later
   *   write of the store is refused so, until it is closed and opened again: docs/store.md, "A failed
   *   write"), or when an event needs a new session and no session number is left, or a seq
   *   past the last one (a record holds the last one, `Number.MAX_SAFE_INTEGER`; see docs/store.md: the
   *   other appends of the same write go on); `STORE_NOT_OPEN` after `close()`.
   */
  append(events: readonly Event<object>[], options?: AppendOptions): Promise<StoredPosition[]> {
    try {
      this.#assertOpen();
      if (!Array.isArray(events)) throw new ConfigError('append() takes an array of events');
      if (options !== undefined) {
        if (!isRecord(options)) throw new ConfigError('append() options must be an object');
        rejectUnknownKeys('append()', options, APPEND_KEYS);
      }
      const urgent = options?.urgent ?? false;
      if (typeof urgent !== 'boolean') throw new ConfigError('append() option urgent must be a boolean');
      // Checked against EventSchema there: data a plain object, whatever type the caller gave it.
      const job = this.#prepareAppend(events as readonly Event[]);
      if (job === undefined) return Promise.resolve([]);
      job.urgent = urgent;
      return new Promise<StoredPosition[]>((resolve, reject) => {
        job.resolve = resolve;
        job.reject = reject;
        this.#enqueue(job);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Creates a session (or returns an existing one), merging `meta` into its metadata. Appending to a
   * session creates it too; `startSession` is for giving it metadata up front.
   *
   * @returns the session as of this call's place among the writes: what was called before it, not the
   *   appends (or starts) called after it, even when they share its batch.
   *
   * @param sessionId defaults (when undefined) to a fresh id, `session-<ms>-<pid>-<counter>` in base 36:
   *   the ids one process makes sort in the order it made them.
   * @throws StoreError `STORE_WRITE_FAILED` when LevelDB fails, or when the session is new and no session
   *   number is left (see `append`); `STORE_NOT_OPEN` after `close()`.
   * @throws ConfigError (as a rejection) when `sessionId` is given but not a non-empty string (`null`, `''`),
   *   or `meta` is not an object whose JSON is an object (an array, a
   *   `Map`, a `Set`, a `Date`, a `toJSON` returning anything else) or cannot be serialized.
   */
  startSession(sessionId?: string, meta?: Record<string, unknown>): Promise<SessionInfo> {
    try {
      this.#assertOpen();
      // Only an id left out (undefined) is made: a null is a missing id, refused as '' is.
      const id = sessionId === undefined ? createSessionId() : sessionId;
      checkSessionId(id);
      // A Map or a Set has no own fields: JSON (and the merge) would take nothing of it.
      if (meta !== undefined && !isFieldRecord(meta)) {
        throw new ConfigError(
          `session meta must be an object (not an array, a Map or a Set), got ${shownText(meta)}`,
        );
      }
      let metaCopy: Record<string, unknown> | undefined;
      if (meta !== undefined) {
        let copy: unknown;
        try {
          copy = JSON.parse(JSON.stringify(meta));
        } catch (error) {
          throw new ConfigError(`session meta must be JSON-serializable: ${textOf(error)}`, {
            cause: error,
          });
        }
        // What JSON gives back is what is merged: a Date's string, or what a toJSON returns, spread into
        // the metadata, put one field per character (or per element) there.
        if (!isRecord(copy)) {
          throw new ConfigError(
            `session meta must read back from JSON as an object, got ${shownText(meta)} (JSON: ${shownText(copy)})`,
          );
        }
        metaCopy = copy;
      }
      return new Promise<SessionInfo>((resolve, reject) => {
        this.#enqueue({ kind: 'start', sessionId: id, meta: metaCopy, resolve, reject });
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Deletes a session: its events, index entries and metadata. Live `tail` subscriptions of the session
   * complete. A session appended to again afterwards starts over at seq 0.
   *
   * @returns whether the session existed.
   */
  deleteSession(sessionId: string): Promise<boolean> {
    try {
      this.#assertOpen();
      checkSessionId(sessionId);
      return new Promise<boolean>((resolve, reject) => {
        this.#enqueue({ kind: 'delete', sessionId, resolve, reject });
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #prepareAppend(events: readonly Event[]): AppendJob | undefined {
    if (events.length === 0) return undefined;
    const canonicalEvents = new Array<Event>(events.length);
    const json = new Array<string>(events.length);
    const sessions = new Array<string>(events.length);
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      encodeEvent(event, i, canonicalEvents, json);
      sessions[i] = event.sessionId ?? DEFAULT_SESSION;
    }
    return {
      kind: 'append',
      urgent: false,
      given: events,
      events: canonicalEvents,
      json,
      sessions,
      resolve: () => {},
      reject: () => {},
    };
  }

  /** Queues `job` (at the head: before every job queued) and starts the drain if it is not running. */
  #enqueue(job: Job, atHead = false): void {
    if (atHead) this.#queue.unshift(job);
    else this.#queue.push(job);
    if (this.#draining === undefined) {
      // Start on a microtask, so appends made in the same tick share one batch.
      this.#draining = Promise.resolve().then(() => this.#drain());
    }
  }

  /**
   * Writes the queued jobs, one LevelDB write at a time. The next write is started before the appends of
   * the one just written are resolved: their callers (`persist` emitting a batch downstream) may run for
   * a while, and the next write — an urgent one, say — proceeds meanwhile. Urgent appends are resolved
   * at once instead, and their callers run before the next batch is built.
   */
  async #drain(): Promise<void> {
    let settle: (() => void) | undefined;
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0]!;
        if (head.kind === 'delete') {
          settle?.();
          settle = undefined;
          this.#queue.shift();
          await this.#runDelete(head);
          continue;
        }
        const group = this.#takeGroup();
        this.#writing = group;
        // #runGroup settles its jobs itself (through the function it returns); the catch is a last line
        // of defence that keeps the queue alive.
        const running = this.#runGroup(group).catch((error: unknown) =>
          this.#failed(group, error, 'unexpected failure'),
        );
        settle?.();
        settle = await running;
        this.#writing = undefined;
        if (group[0]!.kind === 'append' && group[0]!.urgent) {
          // The fairness rule of #takeGroup is for the appends kept waiting by this urgent batch: with none
          // waiting now, an urgent append queued later (by these callers, say) overtakes the normal ones
          // queued with it, as on a store that never wrote an urgent batch.
          if (!this.#appendQueued(false)) this.#lastUrgent = false;
          // An urgent group is urgent appends only (#takeGroup). Let their callers run first: building the
          // next batch (up to MAX_GROUP_EVENTS events) takes a while.
          settle();
          settle = undefined;
          await undefined;
        }
      }
    } finally {
      this.#draining = undefined;
      settle?.();
    }
  }

  /**
   * Whether an append with `urgent` as given is queued at `from` or after it, before the next `start` or
   * `delete` job.
   */
  #appendQueued(urgent: boolean, from = 0): boolean {
    const queue = this.#queue;
    for (let i = from; i < queue.length; i++) {
      const job = queue[i]!;
      if (job.kind !== 'append') return false;
      if (job.urgent === urgent) return true;
    }
    return false;
  }

  /**
   * Takes the next group of jobs to write in one batch: the urgent appends queued before any `start` or
   * `delete` job if there are some (but after an urgent group, the other appends queued there), else the
   * jobs up to the next `delete` (or up to a `start` an urgent append is queued behind); at most
   * MAX_GROUP_EVENTS events (or one job, if it is bigger).
   */
  #takeGroup(): Array<AppendJob | StartJob> {
    const queue = this.#queue;
    let urgent = 0;
    let normal = 0;
    for (const job of queue) {
      if (job.kind !== 'append') break;
      if (job.urgent) urgent++;
      else normal++;
    }
    const group: Array<AppendJob | StartJob> = [];
    let count = 0;
    if (urgent > 0) {
      // Fairness: right after an urgent group, the appends waiting without `urgent` go first, so a
      // steady stream of urgent appends cannot hold them back; urgent ones wait for one write at most.
      const takeUrgent = !(this.#lastUrgent && normal > 0);
      this.#lastUrgent = takeUrgent;
      const rest: Job[] = [];
      // Once an append of the kind taken does not fit, the later ones of that kind wait too: taking a
      // smaller one would write it (and give it seqs) before the one called earlier.
      let full = false;
      let i = 0;
      for (; i < queue.length; i++) {
        const job = queue[i]!;
        if (job.kind !== 'append') break;
        if (job.urgent === takeUrgent && !full) {
          if (group.length === 0 || count + job.events.length <= MAX_GROUP_EVENTS) {
            group.push(job);
            count += job.events.length;
            continue;
          }
          full = true;
        }
        rest.push(job);
      }
      this.#queue = rest.concat(queue.slice(i));
      return group;
    }
    this.#lastUrgent = false;
    let taken = 0;
    while (taken < queue.length) {
      const next = queue[taken]!;
      if (next.kind === 'delete') break;
      const size = next.kind === 'append' ? next.events.length : 1;
      if (group.length > 0 && count + size > MAX_GROUP_EVENTS) break;
      taken++;
      group.push(next);
      count += size;
      // An urgent append queued behind a start goes right after it, in a batch of its own: ahead of the
      // appends queued after the start without `urgent` (rather than after them, in this batch).
      if (next.kind === 'start' && this.#appendQueued(true, taken)) break;
    }
    // One copy of the rest per group: a `shift` per job copies the whole queue each time once it is long
    // (tens of thousands of small appends: quadratic).
    this.#queue = taken === queue.length ? [] : queue.slice(taken);
    return group;
  }

  /**
   * Writes a group as one LevelDB batch and updates the cached counters. Returns the function that
   * notifies `tail`s and settles the group's jobs, in the order they were queued: #drain calls it once the
   * next write is started. Until its first write, this runs synchronously when every session is cached.
   *
   * A job that needs a new session no number is left for, or a seq past Number.MAX_SAFE_INTEGER, is
   * refused: left out of the batch, and rejected in its turn among the others. A seq found used up while
   * the batch is built leaves that job out, and the batch is built again (this is called again with `jobs`,
   * the group's jobs but those, and `usedUp`, their refusals); the session numbers given for the build are
   * taken back first, and given again in order: a refused job changes no cached counter.
   */
  async #runGroup(group: Array<AppendJob | StartJob>, jobs = group, usedUp?: Refusals): Promise<() => void> {
    if (this.#writeFailure !== undefined) {
      return this.#failed(group, this.#writeFailure.cause, REFUSED_AFTER_FAILURE, usedUp);
    }
    const firstNumber = this.#nextSession;
    const ids = new Set<string>();
    for (const job of jobs) {
      if (job.kind === 'start') ids.add(job.sessionId);
      else for (const id of job.sessions) ids.add(id);
    }
    const missing = [...ids].filter((id) => !this.#sessions.has(id));
    let fresh: string[] | undefined;
    try {
      if (missing.length > 0) fresh = await this.#loadSessions(missing);
    } catch (error) {
      // A load that finishes a deletion writes (#clearSession): its failure of LevelDB's own stopped the writes.
      const what = this.#stoppedBy(error) ? 'LevelDB write failed' : 'could not read session metadata';
      return this.#failed(group, error, what, usedUp);
    }
    let written = jobs;
    let noNumber: Refusals | undefined;
    if (fresh !== undefined) {
      if (fresh.length <= this.#numbersLeft()) {
        for (const id of fresh) this.#giveNumber(id);
      } else {
        noNumber = new Map();
        written = this.#giveNumbersInTurn(jobs, fresh, noNumber);
      }
    }
    if (written.length === 0) return () => this.#settle(group, [], new Map(), usedUp, noNumber);

    // Copies of the counters of the sessions this batch touches: committed to the cache only if it is written.
    const working = new Map<string, { meta: StoredMeta; cached: CachedSession }>();
    const workingOf = (id: string) => {
      let entry = working.get(id);
      if (entry === undefined) {
        const cached = this.#sessions.get(id)!;
        entry = { meta: cloneMeta(cached.info), cached };
        working.set(id, entry);
      }
      return entry;
    };
    const positions: StoredPosition[][] = [];
    /** What each start job resolves with: the session as of its place in the group (by job index). */
    const started = new Map<number, SessionInfo>();
    let batch: ReturnType<Level<string, string>['batch']> | undefined;
    let eventCount = 0;
    try {
      batch = this.#db.batch();
      for (const job of written) {
        if (job.kind === 'start') {
          const { meta } = workingOf(job.sessionId);
          if (job.meta !== undefined) meta.meta = { ...meta.meta, ...job.meta };
          started.set(positions.length, publicInfo(meta));
          positions.push([]);
          continue;
        }
        const jobPositions = new Array<StoredPosition>(job.events.length);
        for (let i = 0; i < job.events.length; i++) {
          const sessionId = job.sessions[i]!;
          const event = job.events[i]!;
          const { meta, cached } = workingOf(sessionId);
          const seq = meta.nextSeq++;
          // Past Number.MAX_SAFE_INTEGER, `++` would give the next events the same seq (2 ** 53 + 1 ===
          // 2 ** 53): each overwriting the last, all acknowledged. Only a damaged or forged record gets here.
          if (seq > Number.MAX_SAFE_INTEGER) throw new SeqsUsedUp(job, sessionId);
          // The keys of eventKey() and indexKey(), built from cached prefixes: this is the hot path.
          const seqText = encodeSeq(seq);
          batch.put(cached.eventPrefix + seqText, job.json[i]!);
          batch.put(
            cached.indexPrefix + this.#typePart(event.type) + SEP + this.#timeText(event.timestamp) + seqText,
            '',
          );
          meta.eventCount++;
          meta.typeCounts[event.type] = (meta.typeCounts[event.type] ?? 0) + 1;
          if (meta.startTime === undefined || event.timestamp < meta.startTime)
            meta.startTime = event.timestamp;
          if (meta.lastEventTime === undefined || event.timestamp > meta.lastEventTime) {
            meta.lastEventTime = event.timestamp;
          }
          jobPositions[i] = { sessionId, seq };
        }
        eventCount += job.events.length;
        positions.push(jobPositions);
      }
      let created = false;
      for (const { meta, cached } of working.values()) {
        batch.put(this.#metaPrefix + cached.key, JSON.stringify(meta));
        if (cached.created) {
          // Written once, never rewritten: finds the session's events even if its metadata is damaged.
          batch.put(this.#idsPrefix + cached.key, String(meta.n));
          created = true;
        }
      }
      if (created) batch.put(this.#counterKey, String(this.#nextSession));
      await batch.write(this.#writeOptions);
    } catch (error) {
      await batch?.close().catch(() => {});
      if (error instanceof SeqsUsedUp) {
        // Nothing was written, and the cached counters are untouched (the batch used copies) but for the
        // numbers this build gave new sessions: taken back, so that the job refused keeps none (the last
        // one among them), and given again in order by the next build, which leaves that job out.
        for (const id of fresh ?? []) this.#sessions.delete(id);
        this.#nextSession = firstNumber;
        const refusals = usedUp ?? new Map();
        refusals.set(error.job, this.#seqsUsedUp(error));
        return this.#runGroup(
          group,
          jobs.filter((job) => job !== error.job),
          refusals,
        );
      }
      // The write may or may not have reached the log: reload these sessions' counters from disk
      // before their next write, so a sequence number is never reused.
      for (const id of working.keys()) this.#sessions.delete(id);
      this.#noteWriteFailure(error);
      return this.#failed(group, error, 'LevelDB write failed', usedUp, noNumber);
    }

    for (const [id, { meta, cached }] of working) {
      cached.info = meta;
      cached.created = false;
      // Most recently written last: the eviction below drops the oldest.
      this.#sessions.delete(id);
      this.#sessions.set(id, cached);
    }
    this.#stats.writes++;
    this.#stats.eventsWritten += eventCount;
    this.#evict();
    return () => {
      if (this.#watchers.size > 0) this.#notify(written, positions);
      this.#settle(group, positions, started, usedUp, noNumber);
    };
  }

  /**
   * Settles a group's jobs in the order queued: each written one resolves with its positions (a start,
   * with its session as `started` holds it; both by index among the jobs written), each refused one
   * rejects with its refusal.
   */
  #settle(
    group: Array<AppendJob | StartJob>,
    positions: StoredPosition[][],
    started: ReadonlyMap<number, SessionInfo>,
    usedUp: Refusals | undefined,
    noNumber: Refusals | undefined,
  ): void {
    let i = 0;
    for (let j = 0; j < group.length; j++) {
      const job = group[j]!;
      const refusal = usedUp?.get(job) ?? noNumber?.get(job);
      if (refusal !== undefined) rejectRefused(job, refusal);
      else if (job.kind === 'start') job.resolve(started.get(i++)!);
      else job.resolve(positions[i++]!);
    }
  }

  /** The refusal of an append one of whose sessions has no seq left for it (see `SeqsUsedUp`). */
  #seqsUsedUp({ job, sessionId }: SeqsUsedUp): StoreError {
    return new StoreError(
      'STORE_WRITE_FAILED',
      `could not append to session ${shownText(sessionId)} in the event store at ${this.path}: its sequence ` +
        `numbers are used up. They run from 0 to Number.MAX_SAFE_INTEGER (${Number.MAX_SAFE_INTEGER}) and a ` +
        'record of the session holds the last one or a seq past it (a damaged or forged record: seqs are ' +
        `given in order from 0); ${job.events.length} event(s) were not written. The other sessions still ` +
        'take events.',
      { events: job.events, path: this.path },
    );
  }

  /** `escapePart(type)`, memoized (a session has few types); the memo is bounded. */
  #typePart(type: string): string {
    let part = this.#typeParts.get(type);
    if (part === undefined) {
      if (this.#typeParts.size >= 4096) this.#typeParts.clear();
      part = escapePart(type);
      this.#typeParts.set(type, part);
    }
    return part;
  }

  /** `encodeTime`, remembering the last one: consecutive events often share a millisecond. */
  #timeText(timestamp: number): string {
    if (timestamp !== this.#lastTime) {
      this.#lastTime = timestamp;
      this.#lastTimeText = encodeTime(timestamp);
    }
    return this.#lastTimeText;
  }

  /**
   * A group's write failed: returns the function that rejects its jobs in the order queued (#drain calls
   * it once the next write is started) — those refused already (`usedUp`, `noNumber`: see #runGroup) with
   * their refusals, the others with the failure. The appends `#appendAgain` marked go back to the head of
   * the queue now, before the next group is taken: ahead of every job queued since they were.
   */
  #failed(
    group: Array<AppendJob | StartJob>,
    cause: unknown,
    what: string,
    usedUp?: Refusals,
    noNumber?: Refusals,
  ): () => void {
    const again: Job[] = [];
    const remembered: AppendJob[] = [];
    for (const job of group) {
      if (job.kind !== 'append' || usedUp?.has(job) || noNumber?.has(job)) continue;
      if (job.again === undefined) {
        this.#failedAppends.set(job.given, job);
        remembered.push(job);
        continue;
      }
      const { resolve, reject } = job.again;
      again.push({ ...job, urgent: false, resolve, reject, again: undefined });
    }
    if (again.length > 0) this.#queue = again.concat(this.#queue);
    return () => {
      const closed = isLevelCode(cause, 'LEVEL_DATABASE_NOT_OPEN');
      for (const job of group) {
        const refusal = usedUp?.get(job) ?? noNumber?.get(job);
        if (refusal !== undefined) {
          rejectRefused(job, refusal);
          continue;
        }
        const events = job.kind === 'append' ? job.events : [];
        job.reject(
          new StoreError(
            'STORE_WRITE_FAILED',
            `${what} at ${this.path}; ${events.length} event(s) were not written: ${textOf(cause)}` +
              (closed ? ' (the database is not open)' : '') +
              // This failure stopped the writes, or a refusal it causes.
              (this.#writeFailure?.cause === cause ? AFTER_FAILURE_ADVICE : ''),
            { cause, events, path: this.path },
          ),
        );
      }
      // Their callers hear of the failure within microtasks (persist, then, no longer holds them as in
      // flight): forgotten on the next task, rather than kept (events, JSON) while a caller keeps its array.
      if (remembered.length === 0) return;
      setTimeout(() => {
        for (const job of remembered) {
          if (this.#failedAppends.get(job.given) === job) this.#failedAppends.delete(job.given);
        }
      }, 0);
    };
  }

  /**
   * Records `error`, a failed LevelDB write, as the store's write failure if LevelDB itself failed. Set once:
   * no write reaches LevelDB after it (writes are made one at a time, and each checks it first).
   */
  #noteWriteFailure(error: unknown): void {
    if (isEngineFailure(error)) this.#writeFailure = { cause: error };
  }

  /** Whether `error` is the failure that stopped the store's writes (#writeFailure). */
  #stoppedBy(error: unknown): boolean {
    return this.#writeFailure !== undefined && this.#writeFailure.cause === error;
  }

  #notify(group: Array<AppendJob | StartJob>, positions: StoredPosition[][]): void {
    const bySession = new Map<string, Array<{ seq: number; json: string }>>();
    group.forEach((job, j) => {
      if (job.kind !== 'append') return;
      const jobPositions = positions[j]!;
      for (let i = 0; i < job.events.length; i++) {
        const { sessionId, seq } = jobPositions[i]!;
        if (!this.#watchers.has(sessionId)) continue;
        let list = bySession.get(sessionId);
        if (list === undefined) {
          list = [];
          bySession.set(sessionId, list);
        }
        list.push({ seq, json: job.json[i]! });
      }
    });
    for (const [sessionId, written] of bySession) {
      for (const watcher of [...(this.#watchers.get(sessionId) ?? [])]) {
        // What was written, read back as a replay reads it (not the caller's object, which may hold
        // values JSON changes — a nested Date, NaN — or be changed by the caller after append): a tail
        // delivers live exactly what a replay gives. Read back for each watcher, as each replay reads its
        // own: a tail whose consumer changes an event (data.seen = true) changes no other tail's. Paid
        // only for watched sessions.
        const entries = written.map(
          ({ seq, json }): StoredEvent => ({ seq, event: JSON.parse(json) as Event }),
        );
        try {
          watcher.next(entries);
        } catch {
          // A watcher's failure is its own; it must not fail the write that already succeeded.
        }
      }
    }
  }

  #evict(): void {
    if (this.#sessions.size <= this.#maxCachedSessions) return;
    for (const id of this.#sessions.keys()) {
      this.#sessions.delete(id);
      if (this.#sessions.size <= this.#maxCachedSessions) return;
    }
  }

  /**
   * Loads the counters of sessions not in memory: from their metadata, checked against their last event
   * key; rebuilt from the events if the metadata is damaged. Returns the ids of the sessions never seen
   * (not cached: #runGroup gives them numbers), in the order given, or undefined if there is none.
   */
  async #loadSessions(ids: string[]): Promise<string[] | undefined> {
    let fresh: string[] | undefined;
    const keys = ids.map(escapePart);
    const texts = await this.#meta.getMany(keys);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const key = keys[i]!;
      const text = texts[i];
      let meta = text === undefined ? undefined : this.#decodeMeta(id, text, true);
      let repair = text !== undefined && meta === undefined;
      if (meta?.deleting) {
        // A deleteSession that did not finish (the process died): finish it, then start afresh.
        await this.#clearSession(key, meta.n);
        meta = undefined;
      }
      let n = meta?.n;
      if (n === undefined) {
        n = storedCount(await this.#ids.get(key));
        if (n !== undefined) repair = true;
      }
      if (n !== undefined) {
        const last = await this.#lastSeq(partOf(n));
        if (last !== undefined && (meta === undefined || meta.nextSeq <= last)) repair = true;
        if (repair) meta = await this.#rebuildMeta(id, n, meta);
      }
      if (meta === undefined) {
        if (n === undefined) {
          fresh ??= [];
          fresh.push(id);
          continue;
        }
        meta = freshMeta(id, n);
      }
      this.#cache(id, key, meta, false);
    }
    return fresh;
  }

  /**
   * Gives the new sessions of `jobs` (`fresh`: none has a number yet) numbers when fewer are left than
   * `fresh` needs, and returns the jobs that can be written. Past Number.MAX_SAFE_INTEGER, `++` would give
   * every later session the same number (2 ** 53 + 1 === 2 ** 53: one key space, their events mixed). So
   * the jobs take the numbers left in the order queued; a job that needs more than are left gets none (it
   * is refused whole: it goes in `refusals`, with its error), and the jobs after it may still take them.
   */
  #giveNumbersInTurn(
    jobs: Array<AppendJob | StartJob>,
    fresh: readonly string[],
    refusals: Refusals,
  ): Array<AppendJob | StartJob> {
    const isFresh = new Set(fresh);
    const kept: Array<AppendJob | StartJob> = [];
    for (const job of jobs) {
      const needed = new Set<string>();
      for (const id of job.kind === 'start' ? [job.sessionId] : job.sessions) {
        if (isFresh.has(id) && !this.#sessions.has(id)) needed.add(id);
      }
      const left = this.#numbersLeft();
      if (needed.size <= left) {
        for (const id of needed) this.#giveNumber(id);
        kept.push(job);
        continue;
      }
      const sessionId = [...needed][left]!;
      const events = job.kind === 'append' ? job.events : [];
      refusals.set(
        job,
        new StoreError(
          'STORE_WRITE_FAILED',
          `could not create session ${shownText(sessionId)} in the event store at ${this.path}: no session ` +
            `number is left for it. Numbers run from 0 to Number.MAX_SAFE_INTEGER (${Number.MAX_SAFE_INTEGER}) ` +
            'and a record of the store holds the last one, or one close to it (a damaged or forged record: ' +
            `numbers are given in order from 0); ${events.length} event(s) were not written. The sessions ` +
            'that have a number still take events.',
          { events, path: this.path },
        ),
      );
    }
    return kept;
  }

  /** How many session numbers are left for new sessions (exact: the counter is at most 2 ** 53). */
  #numbersLeft(): number {
    return Number.MAX_SAFE_INTEGER + 1 - this.#nextSession;
  }

  /** Gives new session `id` the next number (one is left), in memory: written with its first batch. */
  #giveNumber(id: string): void {
    const n = this.#nextSession++;
    this.#cache(id, escapePart(id), freshMeta(id, n), true);
  }

  /** Caches the counters of session `id` (`key`: its escaped id); `created`: its number is not written yet. */
  #cache(id: string, key: string, meta: StoredMeta, created: boolean): void {
    const part = partOf(meta.n);
    this.#sessions.set(id, {
      key,
      part,
      eventPrefix: this.#eventsPrefix + part + SEP,
      indexPrefix: this.#indexPrefix + part + SEP,
      info: meta,
      created,
    });
  }

  async #lastSeq(part: string): Promise<number | undefined> {
    const keys = await this.#events.keys({ ...sessionRange(part), reverse: true, limit: 1 }).all();
    return keys.length === 0 ? undefined : seqAtEnd(keys[0]!);
  }

  /** Recomputes a session's metadata from its event records (after damage). */
  async #rebuildMeta(
    id: string,
    n: number,
    previous: StoredMeta | undefined,
    snapshot?: ReturnType<Level<string, string>['snapshot']>,
  ): Promise<StoredMeta> {
    const meta = freshMeta(id, n);
    if (previous !== undefined && !previous.deleting) {
      meta.createdAt = previous.createdAt;
      meta.meta = previous.meta;
    }
    const options = {
      ...sessionRange(partOf(n)),
      highWaterMarkBytes: HIGH_WATER_MARK_BYTES,
      ...(snapshot === undefined ? {} : { snapshot }),
    };
    const iterator = this.#events.iterator(options);
    try {
      for (;;) {
        const entries = await iterator.nextv(SCAN_CHUNK);
        if (entries.length === 0) break;
        for (const [key, value] of entries) {
          const seq = seqAtEnd(key);
          meta.nextSeq = Math.max(meta.nextSeq, seq + 1);
          const decoded = decodeEvent(value);
          this.#stats.eventsRead++;
          if (!decoded.ok) {
            this.#corrupt(id, seq, 'event', decoded.reason, decoded.cause);
            continue;
          }
          const event = decoded.event;
          meta.eventCount++;
          meta.typeCounts[event.type] = (meta.typeCounts[event.type] ?? 0) + 1;
          if (meta.startTime === undefined || event.timestamp < meta.startTime)
            meta.startTime = event.timestamp;
          if (meta.lastEventTime === undefined || event.timestamp > meta.lastEventTime) {
            meta.lastEventTime = event.timestamp;
          }
        }
      }
    } finally {
      await iterator.close();
    }
    if (previous !== undefined && !previous.deleting) meta.nextSeq = Math.max(meta.nextSeq, previous.nextSeq);
    return meta;
  }

  /**
   * Called by `openStore` (`storeInternals.repairAfterOpen`) when LevelDB dropped part of its log while opening (`lines`: what it
   * wrote about it in `LOG`) or an earlier open did not finish this (`pending`: the `repair` record).
   * Reports each line to `onCorruptRecord` (`kind: 'log'`), then rebuilds every session's metadata from
   * its events and writes it, with the missing id records and the session counter: a dropped batch takes
   * its events, index entries and metadata with it, but a later batch's metadata (cumulative counts) may
   * have survived. A session whose events cannot be read (a damaged table file) is reported (`kind:
   * 'session'`) and keeps its metadata. The `repair` record is written first and deleted last, all with
   * `sync`.
   */
  async #repairAfterOpen(lines: readonly string[], pending: string | undefined): Promise<void> {
    const reported = [...parseLines(pending), ...lines];
    const sync = { sync: true };
    const repairKey = this.#repairKey;
    await this.#db.put(repairKey, JSON.stringify(reported), sync);
    for (const line of reported) this.#corrupt('', undefined, 'log', line);
    let nextSession = this.#nextSession;
    // Sessions with metadata (readable or not), then those with only an id record. The iterators read a
    // snapshot: the records written meanwhile are not seen again.
    for (const space of ['meta', 'ids'] as const) {
      const iterator = (space === 'meta' ? this.#meta : this.#ids).iterator();
      try {
        for (;;) {
          const entries = await iterator.nextv(SCAN_CHUNK);
          if (entries.length === 0) break;
          const batch = this.#db.batch();
          for (const [key, value] of entries) {
            const sessionId = unescapePart(key);
            let meta: StoredMeta | undefined;
            let n: number | undefined;
            if (space === 'meta') {
              meta = this.#decodeMeta(sessionId, value, true);
              n = meta?.n;
            } else if ((await this.#meta.get(key)) !== undefined) continue;
            n ??= storedCount(space === 'ids' ? value : await this.#ids.get(key));
            if (n === undefined) continue;
            // At most 2 ** 53 (n is a safe integer): then new sessions are refused (see #runGroup).
            nextSession = Math.max(nextSession, n + 1);
            // A tombstone stays: the session's next load finishes the deletion.
            if (meta?.deleting) continue;
            batch.put(this.#idsPrefix + key, String(n));
            let rebuilt: StoredMeta;
            try {
              rebuilt = await this.#rebuildMeta(sessionId, n, meta);
            } catch (error) {
              if (isLevelCode(error, 'LEVEL_DATABASE_NOT_OPEN')) throw error;
              // Its events cannot be read (a damaged table file): its metadata stays as stored and its
              // reads fail as they did before; failing the open instead would fail every open after it
              // (the `repair` record stays), the other sessions' events out of reach.
              this.#corrupt(
                sessionId,
                undefined,
                'session',
                `its events cannot be read to rebuild its metadata (kept as stored): ${textOf(error)}`,
                error,
              );
              continue;
            }
            batch.put(this.#metaPrefix + key, JSON.stringify(rebuilt));
          }
          await batch.write(sync);
        }
      } finally {
        await iterator.close();
      }
    }
    this.#nextSession = nextSession;
    await this.#db.batch().put(this.#counterKey, String(nextSession)).del(repairKey).write(sync);
  }

  /** The number of a stored session (from its metadata, else from its id record), or undefined. */
  async #numberOf(
    key: string,
    sessionId: string,
    snapshot?: ReturnType<Level<string, string>['snapshot']>,
  ): Promise<NumberLookup> {
    const options = snapshot === undefined ? {} : { snapshot };
    const text = await this.#meta.get(key, options);
    const meta = text === undefined ? undefined : this.#decodeMeta(sessionId, text);
    if (meta?.deleting) return { n: meta.n, meta: undefined, deleting: true };
    if (meta !== undefined) return { n: meta.n, meta, deleting: false };
    return { n: storedCount(await this.#ids.get(key, options)), meta: undefined, deleting: false };
  }

  async #runDelete(job: DeleteJob): Promise<void> {
    const key = escapePart(job.sessionId);
    if (this.#writeFailure !== undefined) {
      const { cause } = this.#writeFailure;
      this.#deleteFailed(job, `${REFUSED_AFTER_FAILURE}: ${textOf(cause)}`, cause);
      return;
    }
    try {
      const { n, meta, deleting } = await this.#numberOf(key, job.sessionId);
      this.#sessions.delete(job.sessionId);
      // An id record is written with the session's first metadata and removed by its deletion: with one,
      // the session exists even if its metadata is damaged or gone and it has no event (as session() says).
      const existed = meta !== undefined || (!deleting && n !== undefined);
      const watchers = this.#watchers.get(job.sessionId);
      this.#watchers.delete(job.sessionId);
      if (n === undefined) {
        await this.#written(this.#meta.del(key));
      } else {
        // A tombstone first: if the process dies while the ranges are cleared (clear() is not atomic),
        // the session reads as gone and the next load finishes the job.
        await this.#written(
          this.#db.put(
            this.#metaPrefix + key,
            JSON.stringify({ sessionId: job.sessionId, n, deleting: true }),
            this.#writeOptions,
          ),
        );
      }
      for (const watcher of watchers ?? []) watcher.complete();
      if (n !== undefined) await this.#clearSession(key, n);
      job.resolve(existed);
    } catch (error) {
      this.#deleteFailed(job, textOf(error), error);
    }
  }

  /** Rejects a deletion with `STORE_WRITE_FAILED`, the advice added when `cause` stopped the writes. */
  #deleteFailed(job: DeleteJob, what: string, cause: unknown): void {
    job.reject(
      new StoreError(
        'STORE_WRITE_FAILED',
        `deleting session ${job.sessionId} at ${this.path} failed: ${what}` +
          (this.#stoppedBy(cause) ? AFTER_FAILURE_ADVICE : ''),
        { cause, path: this.path },
      ),
    );
  }

  /**
   * Removes a session's records (its deletion, or one an earlier process did not finish: see
   * #loadSessions). Each step a LevelDB write, whose failure of LevelDB's own stops the store's writes
   * (#written), as a failed batch of appends does — but for a `clear` whose failure is `LEVEL_CORRUPTION`:
   * `clear` reads the keys it deletes, and a damaged table file it reads fails so (a failed log write is
   * `LEVEL_IO_ERROR`; a write LevelDB refuses for an earlier failure of its own it keeps refusing itself).
   */
  async #clearSession(key: string, n: number): Promise<void> {
    const part = partOf(n);
    for (const space of [this.#events, this.#index]) {
      try {
        await space.clear(sessionRange(part));
      } catch (error) {
        if (!isLevelCode(error, 'LEVEL_CORRUPTION')) this.#noteWriteFailure(error);
        throw error;
      }
    }
    await this.#written(this.#ids.del(key));
    await this.#written(this.#meta.del(key));
  }

  /** Awaits `write`, a LevelDB write: its failure is noted (#noteWriteFailure) before it is thrown on. */
  async #written(write: Promise<void>): Promise<void> {
    try {
      await write;
    } catch (error) {
      this.#noteWriteFailure(error);
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Reading

  /**
   * The event stored at `seq` in a session, or undefined (also for a record that cannot be decoded, and
   * for a session being deleted: see `deleteSession`).
   */
  async get(sessionId: string, seq: number): Promise<Event | undefined> {
    this.#assertOpen();
    checkSessionId(sessionId);
    if (!isCount(seq)) throw new ConfigError(`seq must be an integer ≥ 0, got ${shownText(seq)}`);
    let text: string | undefined;
    try {
      const cached = this.#sessions.get(sessionId);
      let n: number | undefined;
      if (cached !== undefined && !cached.created) n = cached.info.n;
      else {
        const found = await this.#numberOf(escapePart(sessionId), sessionId);
        // Being deleted (or a delete was interrupted): the session reads as absent, as in query().
        if (!found.deleting) n = found.n;
      }
      if (n === undefined) return undefined;
      text = await this.#events.get(eventKey(partOf(n), seq));
    } catch (error) {
      throw this.#readError(error, `reading ${sessionId}#${seq}`);
    }
    if (text === undefined) return undefined;
    this.#stats.eventsRead++;
    const decoded = decodeEvent(text);
    if (decoded.ok) return decoded.event;
    this.#corrupt(sessionId, seq, 'event', decoded.reason, decoded.cause);
    return undefined;
  }

  /**
   * A session's events, read lazily by key range: by seq when neither `types` nor a time bound is given,
   * otherwise from the (type, time) index, so neither a type nor a time query reads events outside its
   * range. See `QueryOptions` for the order. Each iteration reads a consistent snapshot.
   *
   * @throws ConfigError (synchronously) for invalid options.
   */
  query(sessionId: string, options?: QueryOptions): AsyncIterable<Event> {
    const entries = this.entries(sessionId, options);
    return {
      async *[Symbol.asyncIterator]() {
        for await (const entry of entries) yield entry.event;
      },
    };
  }

  /** `query`, with each event's sequence number: `{ seq, event }`. */
  entries(sessionId: string, options?: QueryOptions): AsyncIterable<StoredEvent> {
    checkSessionId(sessionId);
    const query = normalizeQuery(options);
    return { [Symbol.asyncIterator]: () => this.#iterate(sessionId, query) };
  }

  async *#iterate(sessionId: string, query: NormalizedQuery): AsyncGenerator<StoredEvent> {
    this.#assertOpen();
    if (query.limit === 0 || (query.types !== undefined && query.types.length === 0)) return;
    if (query.start !== undefined && query.end !== undefined && query.start > query.end) return;
    // Event times are >= 0, and a negative bound would encode above every time (its sign bit is set).
    if (query.end !== undefined && query.end < 0) return;
    let snapshot: ReturnType<Level<string, string>['snapshot']>;
    try {
      snapshot = this.#db.snapshot();
    } catch (error) {
      throw this.#readError(error, `querying ${sessionId}`);
    }
    try {
      let found: NumberLookup;
      try {
        found = await this.#numberOf(escapePart(sessionId), sessionId, snapshot);
      } catch (error) {
        throw this.#readError(error, `querying ${sessionId}`);
      }
      const { n, meta, deleting } = found;
      if (n === undefined || deleting) return;
      const part = partOf(n);
      if (!query.byIndex) {
        yield* this.#scanSeq(sessionId, part, query, snapshot);
        return;
      }
      const typeParts =
        query.types !== undefined || meta !== undefined
          ? (query.types ?? Object.keys(meta!.typeCounts)).map(escapePart)
          : await this.#typePartsOf(part, snapshot);
      const whole =
        meta !== undefined &&
        typeParts.length >= WHOLE_SCAN_TYPES &&
        meta.eventCount <= typeParts.length * WHOLE_SCAN_PER_TYPE;
      yield* this.#scanIndex(sessionId, part, typeParts, query, snapshot, whole);
    } finally {
      await snapshot.close().catch(() => {});
    }
  }

  async *#scanSeq(
    sessionId: string,
    part: string,
    query: NormalizedQuery,
    snapshot: ReturnType<Level<string, string>['snapshot']>,
  ): AsyncGenerator<StoredEvent> {
    // highWaterMarkBytes is classic-level's: how much one nextv() may buffer.
    const options = {
      ...eventRange(part, query.fromSeq),
      reverse: query.reverse,
      snapshot,
      highWaterMarkBytes: HIGH_WATER_MARK_BYTES,
    };
    const iterator = this.#iterator(() => this.#events.iterator(options), `querying ${sessionId}`);
    let yielded = 0;
    try {
      while (yielded < query.limit) {
        let entries: Array<[string, string]>;
        try {
          entries = await iterator.nextv(Math.min(SCAN_CHUNK, query.limit - yielded));
        } catch (error) {
          throw this.#readError(error, `querying ${sessionId}`);
        }
        if (entries.length === 0) return;
        for (const [key, value] of entries) {
          const seq = seqAtEnd(key);
          this.#stats.eventsRead++;
          const decoded = decodeEvent(value);
          if (!decoded.ok) {
            this.#corrupt(sessionId, seq, 'event', decoded.reason, decoded.cause);
            continue;
          }
          yield { seq, event: decoded.event };
          if (++yielded >= query.limit) return;
        }
      }
    } finally {
      await iterator.close().catch(() => {});
    }
  }

  async *#scanIndex(
    sessionId: string,
    part: string,
    typeParts: readonly string[],
    query: NormalizedQuery,
    snapshot: ReturnType<Level<string, string>['snapshot']>,
    whole: boolean,
  ): AsyncGenerator<StoredEvent> {
    const sources: KeySource[] = [];
    try {
      for (const typePart of whole ? [] : typeParts) {
        sources.push(
          this.#iterator(
            () =>
              this.#index.keys({
                ...indexRange(part, typePart, query.start, query.end),
                reverse: query.reverse,
                snapshot,
              }),
            `querying ${sessionId}`,
          ),
        );
      }
    } catch (error) {
      // The iterators made before the one that failed: the merge, which would have closed them, never runs.
      await Promise.all(sources.map((source) => source.close().catch(() => {})));
      throw error;
    }
    const keys = whole
      ? this.#wholeIndex(sessionId, part, typeParts, query, snapshot)
      : mergeKeys(sources, indexSuffix, query.reverse, (count) => {
          this.#stats.indexEntriesRead += count;
        });
    let yielded = 0;
    let pending: number[] = [];
    const flush = async function* (this: SessionStore, seqs: number[]): AsyncGenerator<StoredEvent> {
      let texts: Array<string | undefined>;
      try {
        texts = await this.#events.getMany(
          seqs.map((seq) => eventKey(part, seq)),
          { snapshot },
        );
      } catch (error) {
        throw this.#readError(error, `querying ${sessionId}`);
      }
      for (let i = 0; i < seqs.length; i++) {
        const seq = seqs[i]!;
        const text = texts[i];
        if (text === undefined) {
          this.#corrupt(sessionId, seq, 'index', 'index entry without its event record');
          continue;
        }
        this.#stats.eventsRead++;
        const decoded = decodeEvent(text);
        if (!decoded.ok) {
          this.#corrupt(sessionId, seq, 'event', decoded.reason, decoded.cause);
          continue;
        }
        yield { seq, event: decoded.event };
        if (++yielded >= query.limit) return;
      }
    }.bind(this);
    try {
      for (;;) {
        let next: IteratorResult<string>;
        try {
          next = await keys.next();
        } catch (error) {
          throw this.#readError(error, `querying ${sessionId}`);
        }
        if (next.done) break;
        const seq = seqAtEnd(next.value);
        if (seq < query.fromSeq) continue;
        pending.push(seq);
        if (pending.length >= Math.min(FETCH_CHUNK, query.limit - yielded)) {
          const seqs = pending;
          pending = [];
          yield* flush(seqs);
          if (yielded >= query.limit) return;
        }
      }
      if (pending.length > 0) yield* flush(pending);
    } finally {
      await keys.return(undefined).catch(() => {});
    }
  }

  /**
   * The index suffixes (time, seq) of a session's entries of `typeParts` (all of them when the query names
   * no types) within the query's time range, in (time, seq) order (reversed for `reverse`): the session's
   * whole index read once, keys only, then sorted. For a query over many types of a session with few
   * events per type (see `WHOLE_SCAN_TYPES`); every key read is counted in `indexEntriesRead`.
   */
  async *#wholeIndex(
    sessionId: string,
    part: string,
    typeParts: readonly string[],
    query: NormalizedQuery,
    snapshot: ReturnType<Level<string, string>['snapshot']>,
  ): AsyncGenerator<string> {
    const wanted = query.types === undefined ? undefined : new Set(typeParts);
    // Times as their 16 hex digits: the same order as the numbers (see encodeTime).
    const from = query.start === undefined ? undefined : encodeTime(query.start);
    const to = query.end === undefined ? undefined : encodeTime(query.end);
    const found: string[] = [];
    const iterator = this.#iterator(
      () => this.#index.keys({ ...sessionRange(part), snapshot }),
      `querying ${sessionId}`,
    );
    try {
      for (;;) {
        const keys = await iterator.nextv(WHOLE_SCAN_CHUNK);
        if (keys.length === 0) break;
        this.#stats.indexEntriesRead += keys.length;
        for (const key of keys) {
          // key = part SEP typePart SEP time(16) seq(16)
          const suffix = indexSuffix(key);
          const time = suffix.slice(0, 16);
          if ((from !== undefined && time < from) || (to !== undefined && time > to)) continue;
          if (wanted !== undefined && !wanted.has(key.slice(part.length + 1, -33))) continue;
          found.push(suffix);
        }
      }
    } finally {
      await iterator.close().catch(() => {});
    }
    // Fixed-width digits: string order is (time, seq) order.
    found.sort();
    if (query.reverse) found.reverse();
    yield* found;
  }

  /** The distinct (escaped) types in a session's index, skipping from type to type. Repair path only. */
  async #typePartsOf(
    part: string,
    snapshot: ReturnType<Level<string, string>['snapshot']>,
  ): Promise<string[]> {
    const typeParts: string[] = [];
    const iterator = this.#iterator(
      () => this.#index.keys({ ...sessionRange(part), snapshot }),
      'listing the types of a session',
    );
    try {
      for (;;) {
        const [key] = await iterator.nextv(1);
        if (key === undefined) break;
        this.#stats.indexEntriesRead++;
        // key = part SEP typePart SEP time(16) seq(16)
        const typePart = key.slice(part.length + 1, -33);
        typeParts.push(typePart);
        iterator.seek(part + SEP + typePart + AFTER_SEP);
      }
    } catch (error) {
      throw this.#readError(error, 'listing the types of a session');
    } finally {
      await iterator.close().catch(() => {});
    }
    return typeParts;
  }

  /**
   * Every session's metadata (deleted sessions excluded), in key order. A session whose metadata record
   * is damaged or missing is listed with metadata rebuilt from its events (see `session`).
   */
  async sessions(): Promise<SessionInfo[]> {
    this.#assertOpen();
    const out: SessionInfo[] = [];
    let snapshot: ReturnType<Level<string, string>['snapshot']> | undefined;
    type Entries = { next(): Promise<[string, string] | undefined>; close(): Promise<void> };
    let metas: Entries | undefined;
    let ids: Entries | undefined;
    try {
      snapshot = this.#db.snapshot();
      // Both key spaces, merged in key order: the ids record finds a session whose metadata is gone.
      metas = this.#meta.iterator({ snapshot });
      ids = this.#ids.iterator({ snapshot });
      let meta = await metas.next();
      let id = await ids.next();
      while (meta !== undefined || id !== undefined) {
        const order = meta === undefined ? 1 : id === undefined ? -1 : compareKeys(meta[0], id[0]);
        if (order <= 0) {
          const sessionId = unescapePart(meta![0]);
          const parsed = this.#decodeMeta(sessionId, meta![1]);
          if (parsed !== undefined) {
            if (!parsed.deleting) out.push(publicInfo(parsed));
          } else if (order === 0) {
            const rebuilt = await this.#rebuiltInfo(sessionId, id![1], snapshot);
            if (rebuilt !== undefined) out.push(rebuilt);
          }
          meta = await metas.next();
          if (order === 0) id = await ids.next();
        } else {
          const rebuilt = await this.#rebuiltInfo(unescapePart(id![0]), id![1], snapshot);
          if (rebuilt !== undefined) out.push(rebuilt);
          id = await ids.next();
        }
      }
    } catch (error) {
      throw this.#readError(error, 'listing sessions');
    } finally {
      await metas?.close().catch(() => {});
      await ids?.close().catch(() => {});
      await snapshot?.close().catch(() => {});
    }
    return out;
  }

  /**
   * One session's metadata, or undefined if there is no such session. Metadata that is damaged (reported
   * to `onCorruptRecord`) or missing is rebuilt from the session's events, found through its number, as
   * the session's next write does — but only in memory: a read writes nothing, and `createdAt` and
   * `meta`, which the events do not hold, read as the time of the read and `{}`.
   */
  async session(sessionId: string): Promise<SessionInfo | undefined> {
    this.#assertOpen();
    checkSessionId(sessionId);
    const key = escapePart(sessionId);
    let snapshot: ReturnType<Level<string, string>['snapshot']> | undefined;
    try {
      snapshot = this.#db.snapshot();
      const text = await this.#meta.get(key, { snapshot });
      if (text !== undefined) {
        const meta = this.#decodeMeta(sessionId, text);
        if (meta !== undefined) return meta.deleting ? undefined : publicInfo(meta);
      }
      const mapped = await this.#ids.get(key, { snapshot });
      return mapped === undefined ? undefined : await this.#rebuiltInfo(sessionId, mapped, snapshot);
    } catch (error) {
      throw this.#readError(error, `reading session ${sessionId}`);
    } finally {
      await snapshot?.close().catch(() => {});
    }
  }

  /**
   * The metadata record `text` of `sessionId` decoded, or undefined: then reported as corrupt (saying it
   * is rebuilt from the events when the caller does so now, `rebuilding`).
   */
  #decodeMeta(sessionId: string, text: string, rebuilding = false): StoredMeta | undefined {
    const meta = parseMeta(text);
    if (meta === undefined) {
      const reason = 'session metadata cannot be decoded';
      this.#corrupt(
        sessionId,
        undefined,
        'session',
        rebuilding ? `${reason}; rebuilding it from the events` : reason,
      );
    }
    return meta;
  }

  /** For a read: the metadata of the session numbered `mapped` (its ids record), rebuilt from its events. */
  async #rebuiltInfo(
    sessionId: string,
    mapped: string,
    snapshot: ReturnType<Level<string, string>['snapshot']>,
  ): Promise<SessionInfo | undefined> {
    const n = storedCount(mapped);
    return n === undefined
      ? undefined
      : publicInfo(await this.#rebuildMeta(sessionId, n, undefined, snapshot));
  }

  /**
   * The seed's session context. Counts and time span come from the session's metadata; files, agents
   * and workflows from an index query over the `file.*`, `agent.*` and `workflow.*` types only. A session
   * the store does not hold gives an empty context (`eventCount` 0, no `timeSpan`), as the seed does:
   * `session(id)` tells the two apart.
   */
  async sessionContext(sessionId: string): Promise<SessionContext> {
    const info = await this.session(sessionId);
    const context: SessionContext = {
      sessionId,
      eventCount: info?.eventCount ?? 0,
      timeSpan:
        info?.startTime === undefined || info.lastEventTime === undefined
          ? undefined
          : { start: info.startTime, end: info.lastEventTime },
      activitySummary: info?.typeCounts ?? countsOf(),
      filesModified: [],
      agentsUsed: [],
      workflowsExecuted: [],
    };
    if (info === undefined) return context;
    const types = Object.keys(info.typeCounts).filter(
      (type) => type.startsWith('file.') || type.startsWith('agent.') || type.startsWith('workflow.'),
    );
    if (types.length === 0) return context;
    const files = new Set<string>();
    const agents = new Set<string>();
    const workflows = new Set<string>();
    const startedAs = new Map<string, string>(); // agent_id → the agent of its agent.started
    const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);
    for await (const event of this.query(sessionId, { types })) {
      if (event.type.startsWith('file.')) {
        const path = text(event.data.file_path);
        if (path !== undefined) files.add(path);
      } else if (event.type.startsWith('agent.')) {
        const agent = text(event.data.agent);
        const agentId = text(event.data.agent_id);
        if (agent === undefined) continue;
        // A run goes by the name its start gave it: Claude Code's SubagentStop says `agent_type: ""`, and the
        // bridge names that agent by its id (as `agentState` counts it).
        if (event.type === 'agent.started') {
          if (agentId !== undefined) startedAs.set(agentId, agent);
          agents.add(agent);
        } else agents.add((agentId === undefined ? undefined : startedAs.get(agentId)) ?? agent);
      } else {
        const workflow =
          text(event.data.workflow) ?? text(event.data.workflow_type) ?? text(event.data.workflow_id);
        if (workflow !== undefined) workflows.add(workflow);
      }
    }
    context.filesModified = [...files];
    context.agentsUsed = [...agents];
    context.workflowsExecuted = [...workflows];
    return context;
  }

  /** Counters since the store was opened (a copy). */
  stats(): StoreStats {
    return { ...this.#stats };
  }

  // -------------------------------------------------------------------------------------------------
  // Live appends and closing

  /**
   * For `persist` (`storeInternals.appendAgain`), whose subscriber left while its `append(events)` was pending: if that append
   * fails (a LevelDB error), it is made again, once, in its place in the queue — at its head, before the
   * jobs still queued (those called after it: appends, a `deleteSession` of its session) and the appends
   * called after this call — rather than after them, as a caller hearing of the failure could only do.
   * Its first failure is still reported to the `append`'s caller. `events` is the very array given to
   * `append`.
   *
   * @returns a promise that resolves once the events are written (the first time or again) and rejects
   *   with the second failure (which `close()` waits for, as for any queued write); or undefined when no
   *   such append is pending here (written already, or refused at the call) or the store is closed.
   */
  #appendAgain(events: readonly Event[]): Promise<StoredPosition[]> | undefined {
    const failed = this.#failedAppends.get(events);
    if (failed !== undefined) {
      // Failed already; its caller has not heard yet. At the head of the queue, as #failed puts the ones
      // marked in time: before the jobs queued since it was (a deleteSession of its session among them).
      if (this.#status !== 'open' && this.#draining === undefined) return undefined;
      this.#failedAppends.delete(events);
      return new Promise<StoredPosition[]>((resolve, reject) => {
        this.#enqueue({ ...failed, urgent: false, resolve, reject }, true);
      });
    }
    const find = (jobs: readonly Job[] | undefined) =>
      jobs?.find((job): job is AppendJob => job.kind === 'append' && job.given === events);
    const job = find(this.#writing) ?? find(this.#queue);
    if (job === undefined || job.again !== undefined) return undefined;
    return new Promise<StoredPosition[]>((resolve, reject) => {
      job.again = { resolve, reject };
      const settle = job.resolve;
      job.resolve = (positions) => {
        settle(positions);
        resolve(positions);
      };
    });
  }

  /**
   * For `tail` (`storeInternals.watch`): calls `watcher.next` with every batch of events appended to `sessionId` from now on,
   * synchronously once the batch is written; `complete` when the session is deleted or the store closes.
   * Returns the function that stops watching.
   */
  #watch(sessionId: string, watcher: StoreWatcher): () => void {
    this.#assertOpen();
    let set = this.#watchers.get(sessionId);
    if (set === undefined) {
      set = new Set();
      this.#watchers.set(sessionId, set);
    }
    set.add(watcher);
    return () => {
      const current = this.#watchers.get(sessionId);
      if (current === undefined) return;
      current.delete(watcher);
      if (current.size === 0) this.#watchers.delete(sessionId);
    };
  }

  /**
   * Closes the store: refuses new writes, waits for the queued ones, completes live `tail`s and closes
   * LevelDB. Idempotent. A query, `sessions()` or `session()` still reading (or just starting) then fails
   * with `STORE_NOT_OPEN` — also one called right after `openStore` returned.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#status = 'closing';
    while (this.#draining !== undefined) await this.#draining;
    const watchers = [...this.#watchers.values()].flatMap((set) => [...set]);
    this.#watchers.clear();
    for (const watcher of watchers) watcher.complete();
    try {
      await this.#db.close();
    } finally {
      this.#status = 'closed';
      openDatabases.delete(this.#identity);
    }
  }

  #assertOpen(): void {
    if (this.#status !== 'open') {
      throw new StoreError('STORE_NOT_OPEN', `The event store at ${this.path} is ${this.#status}`, {
        path: this.path,
      });
    }
  }

  /**
   * `make()`, an iterator of LevelDB: it throws at once (`LEVEL_DATABASE_NOT_OPEN`) when `close()` began
   * while a query was starting, which becomes a `StoreError` like any failed read.
   */
  #iterator<I>(make: () => I, what: string): I {
    try {
      return make();
    } catch (error) {
      throw this.#readError(error, what);
    }
  }

  #readError(error: unknown, what: string): StoreError {
    if (error instanceof StoreError) return error;
    const notOpen =
      this.#status !== 'open' ||
      isLevelCode(error, 'LEVEL_DATABASE_NOT_OPEN') ||
      isLevelCode(error, 'LEVEL_ITERATOR_NOT_OPEN') ||
      isLevelCode(error, 'LEVEL_SNAPSHOT_NOT_OPEN');
    return new StoreError(
      notOpen ? 'STORE_NOT_OPEN' : 'STORE_READ_FAILED',
      `${what} at ${this.path} failed: ${textOf(error)}`,
      { cause: error, path: this.path },
    );
  }

  #corrupt(
    sessionId: string,
    seq: number | undefined,
    kind: CorruptRecord['kind'],
    reason: string,
    cause?: unknown,
  ) {
    this.#stats.corruptRecords++;
    if (this.#onCorruptRecord === undefined) return;
    const where = seq === undefined ? sessionId : `${sessionId}#${seq}`;
    const error = new StoreError(
      'STORE_READ_FAILED',
      kind === 'log'
        ? `LevelDB dropped a damaged part of its log when opening the event store at ${this.path} (events written before may be lost): ${reason}`
        : `Skipped a corrupt ${kind} record (${where}) at ${this.path}: ${reason}`,
      {
        cause,
        path: this.path,
      },
    );
    try {
      this.#onCorruptRecord({ sessionId, seq, kind, reason, error });
    } catch {
      // Reporting must not turn a skipped record into a failed read.
    }
  }
}

/**
 * Checks `event` as `append` does and puts its stored form and JSON at `i` of `stored` and `json`; throws
 * the `STORE_INVALID_EVENT` that `append` rejects with when the store would refuse it (its shape, then its
 * serialization: the issue names the field, `data` or `context`, that cannot be serialized). Also
 * `persist`'s check of the events it writes after its subscriber left.
 */
export function encodeEvent(event: Event, i: number, stored: Event[], json: string[]): void {
  if (!isEventShape(event)) throw invalidEvent(event, i, describeInvalid(event));
  let canonicalEvent: Event | undefined;
  try {
    canonicalEvent = canonical(event);
    if (canonicalEvent !== undefined) json[i] = JSON.stringify(canonicalEvent);
  } catch (error) {
    throw invalidEvent(
      event,
      i,
      [{ code: 'custom', path: [unserializableField(event)], message: `not serializable: ${textOf(error)}` }],
      error,
    );
  }
  // A `toJSON` of data or context returned no object: the record would not read back as an event.
  if (canonicalEvent === undefined) throw invalidEvent(event, i, describeInvalid(event));
  stored[i] = canonicalEvent;
}

/**
 * The field of `event` (whose serialization threw) that cannot be serialized: `data`, serialized first,
 * unless it can be and `context` cannot (its other fields are strings and numbers).
 */
function unserializableField(event: Event): 'data' | 'context' {
  if (event.context === undefined) return 'data';
  try {
    JSON.stringify(event.data);
  } catch {
    return 'data';
  }
  return 'context';
}

function invalidEvent(
  event: unknown,
  index: number,
  issues: StoreError['issues'],
  cause?: unknown,
): StoreError {
  return new StoreError(
    'STORE_INVALID_EVENT',
    `append(): event ${index} (${describeEvent(event)}) is not a valid event: ${formatIssues(issues)}. Nothing was written.`,
    { events: [event as Event], issues, cause },
  );
}

/** The lines of a `repair` record (a JSON array of strings); none if it is missing or unreadable. */
function parseLines(text: string | undefined): string[] {
  if (text === undefined) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((line): line is string => typeof line === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * What LevelDB says in a line of its `LOG` file when recovering its log at open went wrong and it went
 * on without the damaged part (classic-level cannot set `paranoid_checks`, which would fail the open
 * instead): `(ignoring error) <file>: dropping <n> bytes; Corruption: <why>` for a damaged part of the
 * log, `Ignoring error <status>` for a log it could not read or a batch it could not apply.
 */
const RECOVERY_DAMAGE = /dropping \d+ bytes|Corruption:|ignoring error/i;

/**
 * The lines of the store folder's `LOG` that say LevelDB dropped part of its log while this open
 * recovered it. LevelDB moves the previous `LOG` to `LOG.old` when it opens the database and writes (and
 * flushes) each line of its recovery before `open` returns, so `LOG` holds this open's lines; later lines
 * (compactions) may follow. A `LOG` that cannot be read (LevelDB could not create it) says nothing.
 */
async function recoveryDamage(location: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(location, 'LOG'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => RECOVERY_DAMAGE.test(line))
    .map((line) => line.trim());
}

let sessionCounter = 0;
/**
 * `session-<ms>-<pid>-<counter>`, in base 36. The counter has a fixed width (4 digits, wrapping at 36⁴),
 * so that ids made in one millisecond by one process sort in the order they were made.
 */
function createSessionId(): string {
  sessionCounter = (sessionCounter + 1) % 36 ** 4;
  return `session-${Date.now().toString(36)}-${process.pid.toString(36)}-${sessionCounter.toString(36).padStart(4, '0')}`;
}

/**
 * Opens (creating if needed) the session store at `path`.
 *
 * ## Example
 * ```ts
 * const store = await openStore({ path: '.vibespec/event-store', durability: 'process' });
 * await store.append(events);
 * for await (const event of store.query(sessionId, { types: ['file.modified'] })) console.log(event);
 * await store.close();
 * ```
 *
 * If LevelDB dropped a damaged part of its log while opening (it only says so in the `LOG` file of the
 * folder), each such part is reported to `onCorruptRecord` (`kind: 'log'`) and every session's metadata is
 * rebuilt from its events before the store is returned (see docs/store.md, "A damaged log").
 *
 * @throws StoreError `STORE_LOCKED` when another process (`cause`: LevelDB's `LEVEL_DATABASE_NOT_OPEN`
 *   caused by `LEVEL_LOCKED`) or another store of this process (no `cause`; whatever path it was opened
 *   by: a symlink is the same database) has the database open; `STORE_NOT_OPEN` when it cannot be
 *   opened for another reason (`cause` says why), a folder of `path` that cannot be created included
 *   (the message names the first one), and LevelDB's native binding that cannot be loaded (it is loaded by
 *   the first store opened, not when the package is imported).
 * @throws ConfigError for invalid options, an unknown one included (`dir` for `path`: named, with the
 *   known ones).
 */
export async function openStore(options: StoreOptions = {}): Promise<SessionStore> {
  if (!isRecord(options)) throw new ConfigError('openStore() options must be an object');
  rejectUnknownKeys(
    'openStore',
    options,
    optionKeys<StoreOptions>({
      path: true,
      durability: true,
      onCorruptRecord: true,
      maxCachedSessions: true,
    }),
  );
  const {
    path = DEFAULT_STORE_PATH,
    durability = 'process',
    onCorruptRecord,
    maxCachedSessions = 10_000,
  } = options as StoreOptions;
  if (typeof path !== 'string' || path.length === 0)
    throw new ConfigError(`openStore: path must be a non-empty string, got ${shownText(path)}`);
  if (durability !== 'process' && durability !== 'os') {
    throw new ConfigError(`openStore: durability must be 'process' or 'os', got ${shownText(durability)}`);
  }
  if (onCorruptRecord !== undefined && typeof onCorruptRecord !== 'function') {
    throw new ConfigError(`openStore: onCorruptRecord must be a function, got ${shownText(onCorruptRecord)}`);
  }
  if (!Number.isSafeInteger(maxCachedSessions) || maxCachedSessions < 1) {
    throw new ConfigError(
      `openStore: maxCachedSessions must be a positive integer, got ${shownText(maxCachedSessions)}`,
    );
  }
  const location = resolvePath(path);
  let identity: string;
  let LevelDB: typeof Level;
  try {
    // LevelDB is loaded by the first store opened, not when the package is imported: its native binding
    // is then opened by an app that opens a store, not by one that uses the operators alone.
    ({ Level: LevelDB } = await import('level'));
    // The folder must exist to have an identity; LevelDB would create it anyway (createIfMissing). Not a
    // recursive mkdir, which never returns under /proc on Node 20.
    await makeFolder(location);
    const { dev, ino } = await stat(location, { bigint: true });
    identity = `${dev}:${ino}`;
  } catch (error) {
    throw new StoreError(
      'STORE_NOT_OPEN',
      `Could not open the event store at ${location}: ${textOf(error)}`,
      { cause: error, path: location },
    );
  }
  // Checked and taken with no await in between: of two opens racing, the second is refused.
  if (openDatabases.has(identity))
    throw new StoreError('STORE_LOCKED', lockedMessage(location), { path: location });
  openDatabases.add(identity);
  const db = new LevelDB<string, string>(location, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  let nextSession = 0;
  let damage: string[] = [];
  let pendingRepair: string | undefined;
  let spaces: Layout;
  try {
    await db.open({ createIfMissing: true });
    damage = await recoveryDamage(location);
    spaces = sublevels(db);
    // A sublevel opens itself a few ticks after it is made, and an iterator made before that waits for
    // it: a close() begun meanwhile (which waits for that iterator's snapshot) and the iterator's first
    // read then waited for each other forever — a sessions() called right after openStore, then close().
    await Promise.all(Object.values(spaces).map((space) => space.open()));
    const meta = spaces.store;
    const version = await meta.get('format');
    const writeOptions = { sync: durability === 'os' };
    if (version === undefined) await db.put(`${meta.prefix}format`, FORMAT_VERSION, writeOptions);
    else if (version !== FORMAT_VERSION) {
      throw new StoreError(
        'STORE_NOT_OPEN',
        `The event store at ${location} has format ${version}; this version of vibespec-streams reads format ${FORMAT_VERSION}.`,
        { path: location },
      );
    } else if (await hasFirstLayout(db)) {
      throw new StoreError(
        'STORE_NOT_OPEN',
        `The event store at ${location} was written by a development build of 2026-11-23 (sessions keyed by their id, in the sublevels events, index and sessions), which this version of vibespec-streams cannot read: it would see none of its sessions.`,
        { path: location },
      );
    }
    const counter = storedCount(await meta.get(NEXT_SESSION_KEY));
    // No counter (a new store) or a damaged one: never reuse a number that some record still holds. A
    // counter past Number.MAX_SAFE_INTEGER (2 ** 53, written once the last number was given) is counted
    // again too: as long as a record holds that last number, new sessions are refused.
    nextSession = counter ?? (await numberAfterStored(spaces));
    pendingRepair = await meta.get(REPAIR_KEY);
  } catch (error) {
    openDatabases.delete(identity);
    await db.close().catch(() => {});
    if (error instanceof StoreError) throw error;
    if (isLockError(error))
      throw new StoreError('STORE_LOCKED', lockedMessage(location), { cause: error, path: location });
    throw new StoreError(
      'STORE_NOT_OPEN',
      `Could not open the event store at ${location}: ${textOf(error)}`,
      { cause: error, path: location },
    );
  }
  const store = storeInternals.create(db, location, {
    durability,
    maxCachedSessions,
    onCorruptRecord,
    nextSession,
    identity,
    layout: spaces,
  });
  if (damage.length > 0 || pendingRepair !== undefined) {
    try {
      await storeInternals.repairAfterOpen(store, damage, pendingRepair);
    } catch (error) {
      await store.close().catch(() => {});
      throw new StoreError(
        'STORE_NOT_OPEN',
        `Could not open the event store at ${location}: rebuilding the session metadata after LevelDB dropped part of its log failed: ${textOf(error)}`,
        { cause: error, path: location },
      );
    }
  }
  return store;
}
