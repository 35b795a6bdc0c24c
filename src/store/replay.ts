/**
 * Reading a session back as an Observable: `replay` (what is stored, then complete) and `tail` (what is
 * stored, then every live append — a catch-up subscription).
 */
import { Observable } from 'rxjs';
import {
  ConfigError,
  checkOptions,
  optionKeys,
  readFields,
  rejectUnknownKeys,
  shownText,
} from '../errors.js';
import type { Event } from '../event.js';
import { checkFlowGate, type FlowGate, pullFrom } from '../streams/pullFrom.js';
import { StoreError } from './errors.js';
import {
  internalsOf,
  QUERY_KEYS,
  type QueryOptions,
  type SessionStore,
  type StoredEvent,
} from './SessionStore.js';

/** Options of `replay`: those of a query, and a `gate`. */
export interface ReplayOptions extends QueryOptions {
  /**
   * Read an event only while this gate is open (`createFlowGate()`): pass the one given to
   * `hybridProcess({ gate })`, so that a replay waits while a lane is full rather than overflow it. Without
   * it the events are pushed as fast as LevelDB reads them.
   */
  gate?: FlowGate | undefined;
}

const REPLAY_KEYS = Object.freeze([...QUERY_KEYS, 'gate']);

/**
 * The stored events of a session, as an Observable that completes after the last one. Each subscription
 * runs the query afresh (on a consistent snapshot); unsubscribing stops the read.
 *
 * Without `types`, `start` and `end` the events come in seq order — the order they were appended, which
 * is the order the live pipeline saw them — so piping a replay through the same operators rebuilds the
 * same results.
 *
 * Without `gate` it pushes each event as soon as it is read. With `gate` it is `pullFrom(store.query(…),
 * gate)`: it reads the next event only while the gate is open, so a queue downstream that holds the gate
 * (`hybridProcess({ gate })`, `overflow: 'block'`) pauses the read instead of overflowing. A `whenOpen` of
 * the gate that rejects or throws ends the replay with that error, nothing read past it; one that never
 * settles leaves it waiting until unsubscribed. Unsubscribing, also while it waits, stops the read and
 * closes the query's LevelDB iterators. A store closed as it reads (or waits) ends it with `StoreError`
 * `STORE_NOT_OPEN` when it next reads from LevelDB, gated or not (the events it had read ahead, up to 256,
 * come out first).
 *
 * ```
 * gate:    open ─────── held ──────── open ───────
 * replay:  a-b-c-d      (waits)       e-f-g-h-|
 * ```
 *
 * ## Examples
 * ```ts
 * // The idle rule off: a replay's pauses between reads are no quiet (docs/temporalAggregate.md).
 * replay(store, sessionId).pipe(temporalAggregate({ idleFlushMs: Infinity })).subscribe(rebuildDashboard);
 * replay(store, sessionId, { types: ['git.commit'], reverse: true, limit: 5 }).subscribe(console.log);
 * // Into hybridProcess at the pace of its slowest lane: no BUFFER_OVERFLOW.
 * const gate = createFlowGate();
 * replay(store, sessionId, { gate }).pipe(hybridProcess({ immediate, batch, gate })).subscribe(handleOutcome);
 * ```
 *
 * @throws ConfigError (synchronously) for invalid query options, an unknown one included (named with the
 *   nearest known one), and for a `gate` that is not a `FlowGate`.
 */
export function replay(store: SessionStore, sessionId: string, options?: ReplayOptions): Observable<Event> {
  rejectUnknownKeys('replay', options, REPLAY_KEYS);
  // Each field read once (see `readFields`); the query reads the copy.
  options = readFields(options, REPLAY_KEYS);
  let query: unknown = options;
  let gate: unknown;
  if (typeof options === 'object' && options !== null && 'gate' in options) ({ gate, ...query } = options);
  // The query's options are checked first, by the query (at once, as without a gate).
  const events = store.query(sessionId, query as QueryOptions | undefined);
  if (gate === undefined) return fromAsyncIterable(events);
  checkFlowGate('replay', gate);
  return pullFrom(events, gate);
}

function isNotOpen(error: unknown): boolean {
  return error instanceof StoreError && error.code === 'STORE_NOT_OPEN';
}

function fromAsyncIterable<T>(iterable: AsyncIterable<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const iterator = iterable[Symbol.asyncIterator]();
    let closed = false;
    void (async () => {
      try {
        for (;;) {
          const result = await iterator.next();
          if (closed) return;
          if (result.done) break;
          subscriber.next(result.value);
        }
        subscriber.complete();
      } catch (error) {
        if (!closed) subscriber.error(error);
      }
    })();
    return () => {
      closed = true;
      // Runs the generator's finally (closing LevelDB iterators and the snapshot) once its read settles.
      iterator.return?.().catch(() => {});
    };
  });
}

/** Options of `tail`. */
export interface TailOptions {
  /** First seq to emit: a reconnecting client passes its last seen seq + 1. Default 0. */
  fromSeq?: number | undefined;
  /**
   * Most live appends buffered while the stored events are read. Beyond it the buffer is dropped and the
   * store is read again from where the catch-up got to (the appends are on disk), so memory stays
   * bounded however fast the session grows. Default 10,000.
   */
  maxBuffer?: number | undefined;
}

const TAIL_KEYS = optionKeys<TailOptions>({ fromSeq: true, maxBuffer: true });

/**
 * A catch-up subscription: a session's stored events from `fromSeq`, then every event appended to it
 * from then on, each as `{ seq, event }`, in seq order — with no gap and no duplicate at the hand-over.
 * A dashboard that reconnects with `fromSeq: lastSeq + 1` sees every event exactly once.
 *
 * It registers for live appends before it reads, buffers them while it reads the stored events, then
 * emits the buffered ones it has not already read and goes live. It completes when the session is
 * deleted or the store is closed (also when `close()` begins as it reads again after an overflow), and
 * never completes otherwise. Caught by `close()` still reading the stored events, it emits what it read,
 * then the buffered live events that follow straight on (a prefix of the session, never a gap).
 * Subscribed while the store is closing, or once it is closed, it errors at once with `StoreError`
 * `STORE_NOT_OPEN` (nothing emitted), as a query just starting does. A consumer that throws on an entry
 * ends it with that exception: the entry was its last (resume from its seq + 1).
 *
 * ## Examples
 * ```ts
 * let last = -1;
 * tail(store, sessionId, { fromSeq: last + 1 }).subscribe(({ seq, event }) => {
 *   last = seq;
 *   render(event);
 * });
 * ```
 *
 * @throws ConfigError (synchronously) for invalid options, an unknown one included, and for options that
 *   are not an object.
 */
export function tail(
  store: SessionStore,
  sessionId: string,
  options: TailOptions = {},
): Observable<StoredEvent> {
  checkOptions('tail', options, TAIL_KEYS);
  const { fromSeq = 0, maxBuffer = 10_000 } = options;
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) {
    throw new ConfigError(`tail: fromSeq must be an integer ≥ 0, got ${shownText(fromSeq)}`);
  }
  if (!Number.isSafeInteger(maxBuffer) || maxBuffer < 1) {
    throw new ConfigError(`tail: maxBuffer must be a positive integer, got ${shownText(maxBuffer)}`);
  }
  if (typeof sessionId !== 'string' || sessionId.length === 0) {
    throw new ConfigError('tail: sessionId must be a non-empty string');
  }

  return new Observable<StoredEvent>((subscriber) => {
    let next = fromSeq;
    let live = false;
    let buffer: StoredEvent[] = [];
    let overflowed = false;
    let ended = false;
    let closed = false;

    const emit = (entry: StoredEvent) => {
      if (entry.seq < next) return;
      next = entry.seq + 1;
      try {
        subscriber.next(entry);
      } catch (error) {
        // A consumer that throws ends the tail with its exception (its last seq is this entry's). Thrown
        // on, a live one went to the store, which ignores a watcher's failure: the rest of the append was
        // skipped and the tail went on after it, a gap; one catching up could turn into a completion.
        subscriber.error(error);
      }
    };

    let unwatch: () => void;
    try {
      unwatch = internalsOf(store).watch(store, sessionId, {
        next: (entries) => {
          if (live) {
            for (const entry of entries) emit(entry);
          } else if (!overflowed) {
            for (const entry of entries) buffer.push(entry);
            if (buffer.length > maxBuffer) {
              buffer = [];
              overflowed = true;
            }
          }
        },
        complete: () => {
          ended = true;
          if (live) subscriber.complete();
        },
      });
    } catch (error) {
      subscriber.error(error);
      return;
    }

    void (async () => {
      try {
        for (;;) {
          // Anything appended before this read starts is in the read's snapshot, so the buffer only
          // needs what comes after; the snapshot is taken synchronously by the first next() below.
          buffer = [];
          overflowed = false;
          for await (const entry of store.entries(sessionId, { fromSeq: next })) {
            if (closed) return;
            emit(entry);
          }
          if (closed) return;
          if (!overflowed || ended) break;
        }
        live = true;
        const buffered = buffer;
        buffer = [];
        for (const entry of buffered) emit(entry);
        if (ended) subscriber.complete();
      } catch (error) {
        if (closed) return;
        // The store closed or the session was deleted while we read: that ends the tail, not an error.
        // So does a read refused because close() began (an overflowed catch-up reading again), before
        // the store completed the watcher: going live instead would skip the appends the buffer dropped.
        if (ended || (isNotOpen(error) && store.status !== 'open')) {
          // The live events buffered that follow straight on what was read (the read had got to the end of
          // its snapshot) go out first: no gap, and the tail ends with all it can give.
          for (const entry of buffer) {
            if (entry.seq > next || closed) break;
            emit(entry);
          }
          subscriber.complete();
        } else subscriber.error(error);
      }
    })();

    return () => {
      closed = true;
      unwatch();
    };
  });
}
