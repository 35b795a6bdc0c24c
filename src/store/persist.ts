/**
 * `persist`: the write-ahead step of the recommended composition. Events are group-committed to the
 * store and each is emitted downstream only once the batch holding it is written.
 */
import {
  asapScheduler,
  asyncScheduler,
  from,
  type MonoTypeOperatorFunction,
  Observable,
  type ObservableInput,
  type SchedulerLike,
  Subscription,
} from 'rxjs';
import { ConfigError } from '../errors.js';
import type { Event } from '../event.js';
import { describeEvent, describeInvalid, isEventShape } from './codec.js';
import { StoreError } from './errors.js';

/** Where `persist` writes: a `SessionStore`, or anything with an `append` that settles when written. */
export interface EventWriter {
  /** Writes the events atomically; the returned promise (or observable) settles when they are written. */
  append(events: Event[]): ObservableInput<unknown>;
}

/** Options of `persist`. */
export interface PersistOptions {
  /** Most events per write. Default 1,000. */
  maxBatch?: number;
  /**
   * Longest an event waits for more events to share its write, in ms. Default 0: it is written as soon as
   * the current synchronous burst ends, or, when a write is in flight, as soon as that write completes.
   */
  maxDelayMs?: number;
  /**
   * Most events waiting for a write (beyond the one in flight). When exceeded, the source is
   * unsubscribed, everything received is still written and emitted, and the stream errors with a
   * `StoreError` of code `BUFFER_OVERFLOW`. Default 100,000.
   */
  maxPending?: number;
  /** Schedules the `maxDelayMs` timer. Default `asapScheduler` when `maxDelayMs` is 0, else `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * Writes events to a store with group commit, and emits each one only once the batch holding it is
 * written: downstream of `persist`, every event is on disk (see the store's `durability`).
 *
 * One write is in flight at a time; while it is, the next batch accumulates (pipelining). A batch is
 * written when it holds `maxBatch` events, when its oldest event has waited `maxDelayMs`, or when the
 * source completes — whichever comes first, and never before the write in flight has completed.
 * Order is preserved.
 *
 * ```
 * source:  -abc-----------|      every write takes 4 frames
 * result:  -----a---(bc)--|      a is written alone; b and c wait for a's write, then share one
 * ```
 *
 * Nothing is lost:
 * - a failed write errors the stream with a `StoreError` (`STORE_WRITE_FAILED`) whose `events` are every
 *   event not written (that batch, then all that were waiting), in order;
 * - a source error is forwarded after every event received before it is written and emitted;
 * - an invalid event (not matching `EventSchema`) stops the source; the events before it are written and
 *   emitted, then the stream errors with `STORE_INVALID_EVENT` carrying it;
 * - events still waiting when the subscriber unsubscribes are written anyway (not emitted).
 *
 * ## Examples
 * ```ts
 * const store = await openStore();
 * hookOutputs$.pipe(bridgeHooks(), persist(store), temporalAggregate()).subscribe(dashboard);
 * ```
 *
 * @param store the store (or any `EventWriter`).
 * @param options batching limits and the scheduler of the `maxDelayMs` timer.
 * @return an operator that mirrors the source, delayed until each event is written.
 */
export function persist(store: EventWriter, options: PersistOptions = {}): MonoTypeOperatorFunction<Event> {
  if (store === null || typeof store !== 'object' || typeof store.append !== 'function') {
    throw new ConfigError('persist() needs a store (an object with an append(events) method)');
  }
  const { maxBatch = 1_000, maxDelayMs = 0, maxPending = 100_000 } = options;
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
    throw new ConfigError(`persist: maxBatch must be a positive integer, got ${maxBatch}`);
  }
  if (typeof maxDelayMs !== 'number' || !Number.isFinite(maxDelayMs) || maxDelayMs < 0) {
    throw new ConfigError(`persist: maxDelayMs must be a finite number ≥ 0, got ${maxDelayMs}`);
  }
  if (!(maxPending === Infinity || (Number.isSafeInteger(maxPending) && maxPending >= maxBatch))) {
    throw new ConfigError(
      `persist: maxPending must be an integer ≥ maxBatch (or Infinity), got ${maxPending}`,
    );
  }
  const scheduler = options.scheduler ?? (maxDelayMs === 0 ? asapScheduler : asyncScheduler);

  return (source) =>
    new Observable<Event>((subscriber) => {
      const pending = new Queue<Event>();
      let inFlight = false;
      let timer: Subscription | undefined;
      let due = false;
      let sourceDone = false;
      let terminal: { error: unknown } | undefined;
      let emitting = false;
      let finished = false;

      const upstream = new Subscription();

      const cancelTimer = () => {
        timer?.unsubscribe();
        timer = undefined;
      };

      const stopSource = (error: unknown) => {
        sourceDone = true;
        terminal = { error };
        upstream.unsubscribe();
      };

      const finish = () => {
        finished = true;
        cancelTimer();
        if (terminal !== undefined) subscriber.error(terminal.error);
        else subscriber.complete();
      };

      const fail = (batch: Event[], cause: unknown) => {
        finished = true;
        cancelTimer();
        const unwritten = batch.concat(pending.takeAll());
        const reason = (cause as Error)?.message ?? String(cause);
        subscriber.error(
          new StoreError(
            'STORE_WRITE_FAILED',
            `persist: a write of ${batch.length} event(s) failed; ${unwritten.length} event(s) were not written (see .events): ${reason}`,
            { cause, events: unwritten },
          ),
        );
      };

      const succeed = (batch: Event[]) => {
        inFlight = false;
        emitting = true;
        try {
          for (const event of batch) {
            if (subscriber.closed) break;
            subscriber.next(event);
          }
        } finally {
          emitting = false;
        }
        pump();
      };

      const write = (batch: Event[]) => {
        inFlight = true;
        let settled = false;
        const settle = (error?: { cause: unknown }) => {
          if (settled) return;
          settled = true;
          if (error === undefined) succeed(batch);
          else fail(batch, error.cause);
        };
        let written: Observable<unknown>;
        try {
          // from() throws too, for a writer that returns no ObservableInput (a void append).
          written = from(store.append(batch));
        } catch (cause) {
          settle({ cause });
          return;
        }
        const writing = written.subscribe({
          error: (cause: unknown) => settle({ cause }),
          complete: () => settle(),
        });
        // Unsubscribing from a write does not undo it; this only drops the callbacks on teardown.
        if (!settled) subscriber.add(writing);
      };

      const pump = () => {
        if (emitting || finished || subscriber.closed) return;
        if (!inFlight && pending.length > 0 && (pending.length >= maxBatch || due || sourceDone)) {
          const batch = pending.take(maxBatch);
          if (pending.length === 0) {
            cancelTimer();
            due = false;
          }
          // Settles through succeed() or fail(), which pump again. Events left over keep the timer
          // (or the `due`) of the oldest of them.
          write(batch);
          return;
        }
        if (pending.length === 0) {
          cancelTimer();
          due = false;
          if (sourceDone && !inFlight) finish();
          return;
        }
        // Events are waiting. Their delay runs from the oldest one's arrival, also while a write is in
        // flight: if it has passed when that write completes, the next batch is written at once.
        if (timer === undefined && !due) {
          timer = scheduler.schedule(() => {
            timer = undefined;
            due = true;
            pump();
          }, maxDelayMs);
        }
      };

      upstream.add(
        source.subscribe({
          next: (event) => {
            if (sourceDone) return;
            if (!isEventShape(event)) {
              const issues = describeInvalid(event);
              stopSource(
                new StoreError(
                  'STORE_INVALID_EVENT',
                  `persist: received an invalid event (${describeEvent(event)}): ${issues
                    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
                    .join('; ')}. The events before it are written; the source was unsubscribed.`,
                  { events: [event as Event], issues },
                ),
              );
            } else {
              pending.push(event);
              if (pending.length > maxPending) {
                stopSource(
                  new StoreError(
                    'BUFFER_OVERFLOW',
                    `persist: more than ${maxPending} events were waiting to be written (maxPending); the source ` +
                      'was unsubscribed and every event received was written and emitted.',
                  ),
                );
              }
            }
            pump();
          },
          error: (error: unknown) => {
            sourceDone = true;
            terminal = { error };
            pump();
          },
          complete: () => {
            sourceDone = true;
            pump();
          },
        }),
      );
      // A synchronous source may have been stopped before subscribe() returned.
      if (sourceDone) upstream.unsubscribe();

      return () => {
        upstream.unsubscribe();
        cancelTimer();
        if (!finished && pending.length > 0) {
          // The subscriber left before these were written. They were received, so write them anyway
          // (fire and forget: nobody is left to tell, and a store's close() waits for queued writes).
          const rest = pending.takeAll();
          try {
            from(store.append(rest)).subscribe({ error: () => {} });
          } catch {
            // Nothing to report to: see above.
          }
        }
      };
    });
}

/** A FIFO with O(1) amortized `push` and `take(n)`, however long it gets (a sync source can fill it). */
class Queue<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Removes and returns the first `n` items (fewer if there are fewer). */
  take(n: number): T[] {
    if (this.head === 0 && n >= this.items.length) return this.takeAll();
    const out = this.items.slice(this.head, this.head + n);
    this.head += out.length;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  takeAll(): T[] {
    const out = this.head === 0 ? this.items : this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }
}
