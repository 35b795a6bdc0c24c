/**
 * `persist`: the write-ahead step of the recommended composition. Events are group-committed to the
 * store and each is emitted downstream only once the batch holding it is written.
 */
import {
  asapScheduler,
  asyncScheduler,
  config,
  from,
  type MonoTypeOperatorFunction,
  Observable,
  type ObservableInput,
  type SchedulerLike,
  Subscriber,
  Subscription,
} from 'rxjs';
import {
  ConfigError,
  checkOptions,
  formatIssues,
  optionKeys,
  readFields,
  shownText,
  textOf,
} from '../errors.js';
import { type Event, Priority } from '../event.js';
import { checkScheduler, scheduleLater, timerOption } from '../operators/internal/eventTime.js';
import { describeEvent, describeInvalid, hasJsonObjects, isEventShape } from './codec.js';
import { StoreError } from './errors.js';
import { type AppendOptions, encodeEvent, SessionStore, storeInternals } from './SessionStore.js';

/**
 * Where `persist` writes: a `SessionStore`, or anything with an `append` that settles when written. With
 * the priority lane, `append` is called again before an earlier call has settled (one NORMAL and one
 * CRITICAL write at a time).
 */
export interface EventWriter {
  /**
   * Writes the events atomically; the returned promise (or observable) settles when they are written.
   * `options.urgent` is set for the priority lane's writes (see `SessionStore.append`).
   */
  append(events: Event[], options?: AppendOptions): ObservableInput<unknown>;
}

/** Options of `persist`. */
export interface PersistOptions {
  /** Most events per write. Default 1,000. */
  maxBatch?: number | undefined;
  /**
   * Longest an event waits for more events to share its write, in ms, from 0 up to 2,147,483,647
   * (setTimeout's limit). Default 0: it is written as soon as the current synchronous burst ends, or, when
   * a write is in flight, as soon as that write completes.
   */
  maxDelayMs?: number | undefined;
  /**
   * Most events waiting for a write, in both lanes together (beyond the writes in flight: one per lane).
   * When exceeded, the source is unsubscribed, everything received is still written and emitted, and the
   * stream errors with a `StoreError` of code `BUFFER_OVERFLOW`. Default 100,000.
   */
  maxPending?: number | undefined;
  /** Schedules the `maxDelayMs` timer. Default `asapScheduler` when `maxDelayMs` is 0, else `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /**
   * Write CRITICAL events (`priority === Priority.CRITICAL`) at once, in writes of their own beside the
   * batch in flight, and emit each as soon as its write completes: it may overtake earlier events.
   * Default true. With false, CRITICAL events queue and keep their place like every other event.
   */
  priorityLane?: boolean | undefined;
}

const OPTION_KEYS = optionKeys<PersistOptions>({
  maxBatch: true,
  maxDelayMs: true,
  maxPending: true,
  scheduler: true,
  priorityLane: true,
});

/**
 * Writes events to a store with group commit, and emits each one only once the batch holding it is
 * written: downstream of `persist`, every event is on disk (see the store's `durability`).
 *
 * One write is in flight at a time; while it is, the next batch accumulates (pipelining). A batch is
 * written when it holds `maxBatch` events, when its oldest event has waited `maxDelayMs`, or when the
 * source completes — whichever comes first, and never before the write in flight has completed.
 * Order is preserved, except for CRITICAL events (below).
 *
 * ```
 * source:  -abc-----------|      every write takes 4 frames
 * result:  -----a---(bc)--|      a is written alone; b and c wait for a's write, then share one
 * ```
 *
 * The priority lane (`priorityLane`, default true): a CRITICAL event does not wait for the batch in
 * flight nor queue behind the events waiting. It is written at once, in a write of its own (with the
 * CRITICAL events that arrived while the lane's previous write was in flight, at most `maxBatch`), beside
 * the NORMAL write in flight, and emitted as soon as that write completes — so it can overtake events
 * received before it. Each lane keeps its own order; `maxDelayMs` does not delay CRITICAL events.
 *
 * ```
 * source:  -abcD---------|      D is CRITICAL; every write takes 4 frames
 * result:  -----a--D(bc)-|      D is written at 4 beside a (in flight from 1), and overtakes b and c
 * priorityLane: false:
 * result:  -----a---(bcD)|      D waits for a's write and goes with b and c
 * ```
 *
 * A `SessionStore` writes one LevelDB batch at a time: the CRITICAL write (an `urgent` append) waits
 * for the LevelDB write in progress, not for `persist`'s queue, and takes its sequence numbers then — so
 * in the store, as downstream, it comes before the events it overtook.
 *
 * Nothing is lost:
 * - a failed write stops the source; once the other lane's write in flight (if any) has completed and
 *   been emitted, the stream errors with a `StoreError` (`STORE_WRITE_FAILED`) whose `events` are every
 *   event not written (the failed batches and all that were waiting, then the invalid event that stopped
 *   the source if one did), in the order received;
 * - a source error is forwarded after every event received before it is written and emitted (unless a
 *   write fails or refuses an event: that error, carrying the unwritten events, is the one reported);
 * - a consumer that throws on an emitted event stops the source as a source error would: the rest of
 *   that written batch is still emitted, every event received (those it pushed before it threw
 *   included) is written and emitted, then its exception — the source's error if that came first, or a
 *   store error as above — errors the stream;
 * - an invalid event (one `SessionStore.append` rejects as not matching `EventSchema` or not reading back
 *   as the same event) stops the source; the events before it are written and emitted, then the stream
 *   errors with `STORE_INVALID_EVENT` carrying it. An event that cannot be serialized at all (a `BigInt`
 *   or a cycle deep in `data`) is only found when the store refuses its batch (`STORE_INVALID_EVENT`
 *   naming it; nothing of the batch is written): the source stops, the events received before it are
 *   written (again, for those of its batch) and emitted, and the stream errors with `STORE_INVALID_EVENT`
 *   (`cause`: the store's error) whose `events` are it, then every event received after it that is not
 *   written, in the order received. Those written are the ones before it, and, with the priority lane,
 *   those after it that the other lane's write in flight already held;
 * - events still waiting when the subscriber unsubscribes are written anyway (not emitted), and so are
 *   those of a write that failed before its error was delivered, or that was in flight and fails after
 *   (a duplicate, if it did reach the disk, rather than a loss). On a `SessionStore`, such a write in
 *   flight is made again by the store, in its place in its queue: before the events left waiting, so they
 *   are stored in the order received (a `close()` right after the unsubscribe waits for it). Another
 *   writer is given it again only once its failure is heard of: after the events left waiting (their
 *   order slips; nothing is lost). With no subscriber left to tell, a write
 *   of these that fails (a store closed first, a disk error), an event the store refuses, and the
 *   invalid event that stopped the source (its `STORE_INVALID_EVENT`) are reported as RxJS reports an
 *   error nobody handles: to `config.onUnhandledError` if set, else thrown asynchronously. The
 *   `StoreError` (`STORE_WRITE_FAILED`, or the `STORE_INVALID_EVENT`) carries the events not written.
 *   Each event the store refuses is reported on its own (the same object emitted twice is two events:
 *   each copy is reported), and the others are written without it: those a
 *   `SessionStore` would refuse are found before the write (by its own checks), so the others are written
 *   in one write, at once (a `close()` right after the unsubscribe still writes them); another writer's
 *   refusal is found by the write, and the others are written again without it (after a few refusals, in
 *   smaller writes one after the other: a writer refusing event after event is not sent everything left
 *   each time). So too for a write in
 *   flight that a `SessionStore` refused (it refuses at the call, nothing written, but says so a tick
 *   later): its other events are written at the unsubscribe, with the waiting ones, in the order received.
 *
 * ## Examples
 * ```ts
 * const store = await openStore();
 * hookOutputs$.pipe(bridgeHooks(), persist(store), temporalAggregate()).subscribe(render);
 * ```
 *
 * @param store the store (or any `EventWriter`).
 * @param options batching limits, the scheduler of the `maxDelayMs` timer, the priority lane.
 * @throws ConfigError for invalid options (a `maxDelayMs` beyond setTimeout's 2,147,483,647 ms among them)
 *   and unknown ones (named with the nearest known one), and for options that are not an object.
 * @return an operator that mirrors the source, delayed until each event is written: the same event
 *   objects, of the source's type (`Event<MyData>` in, `Event<MyData>` out).
 */
export function persist<T extends Event<object> = Event>(
  store: EventWriter,
  options?: PersistOptions,
): MonoTypeOperatorFunction<T>;
export function persist<T extends Event = Event>(
  store: EventWriter,
  options: PersistOptions = {},
): MonoTypeOperatorFunction<T> {
  if (store === null || typeof store !== 'object' || typeof store.append !== 'function') {
    throw new ConfigError('persist() needs a store (an object with an append(events) method)');
  }
  checkOptions('persist', options, OPTION_KEYS);
  options = readFields(options, OPTION_KEYS);
  checkScheduler('persist', options.scheduler);
  const { maxBatch = 1_000, maxDelayMs = 0, maxPending = 100_000, priorityLane = true } = options;
  if (typeof priorityLane !== 'boolean') {
    throw new ConfigError(`persist: priorityLane must be a boolean, got ${shownText(priorityLane)}`);
  }
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
    throw new ConfigError(`persist: maxBatch must be a positive integer, got ${shownText(maxBatch)}`);
  }
  // Node fires a timer longer than setTimeout's limit after 1 ms rather than never: refused.
  timerOption('persist: maxDelayMs', maxDelayMs, true);
  if (!(maxPending === Infinity || (Number.isSafeInteger(maxPending) && maxPending >= maxBatch))) {
    throw new ConfigError(
      `persist: maxPending must be an integer ≥ maxBatch (or Infinity), got ${shownText(maxPending)}`,
    );
  }
  const scheduler = options.scheduler ?? (maxDelayMs === 0 ? asapScheduler : asyncScheduler);

  return (source) =>
    new Observable<T>((subscriber) => {
      // The NORMAL lane: every event that is not CRITICAL (all of them without the priority lane).
      const pending = new Queue<T>();
      let inFlight = false;
      /** NORMAL events received, and taken into writes: the pending ones are [taken, received). */
      let received = 0;
      let taken = 0;
      // The CRITICAL lane; each entry knows how many NORMAL events were received before it.
      const critical = new Queue<Critical<T>>();
      let criticalInFlight = false;
      /** CRITICAL events taken into writes: the waiting ones are numbered from here. */
      let criticalTaken = 0;
      let timer: Subscription | undefined;
      let due = false;
      let sourceDone = false;
      let terminal: { error: unknown } | undefined;
      /** The invalid event that stopped the source (`terminal`'s), if one did: never written. */
      let invalid: T | undefined;
      let emitting = false;
      let finished = false;
      /** The failed writes (NORMAL batch, CRITICAL batch) and the first cause, once a write failed. */
      let failure: { cause: unknown; normal: T[]; critical: Critical<T>[]; size: number } | undefined;
      /**
       * Once a write was refused for an invalid event (see `refused`): the earliest such event and what is
       * still written — NORMAL events numbered below `normal`, CRITICAL ones numbered below `critical` and
       * received before NORMAL event `normal`. Everything else stays waiting, for the error's `events`.
       */
      let cut:
        | { error: StoreError; event: T; key: [number, number]; normal: number; critical: number }
        | undefined;

      const upstream = new Subscription();
      /** Whether the subscriber has gone (the teardown ran): nothing is emitted or reported to it now. */
      let left = false;
      /** The batches of the writes in flight, NORMAL and CRITICAL, for the teardown. */
      let normalBatch: T[] = [];
      let criticalBatch: { entries: Critical<T>[]; events: T[] } = { entries: [], events: [] };
      /** Writes in flight whose events the teardown took back (their failure is not made again). */
      const takenBack = new Set<T[]>();

      /**
       * After the subscriber left: writes `events` anyway, once. A failure has nobody to tell but RxJS's
       * hook for unhandled errors; so has `refused`, an event the store refused (it is not written), and
       * each other event of `events` the store then refuses (the others are written without it).
       *
       * The writes are made in turn (a trampoline: a step asked for while one runs is run by it once it
       * returns), else a writer that refuses at once, thousands of events one by one, overflowed the stack,
       * and those not yet tried were neither written nor reported.
       */
      let leftoverSteps: Array<() => void> | undefined;
      const leftoverStep = (step: () => void) => {
        if (leftoverSteps !== undefined) {
          leftoverSteps.push(step);
          return;
        }
        leftoverSteps = [step];
        try {
          for (let i = 0; i < leftoverSteps.length; i++) leftoverSteps[i]!();
        } finally {
          leftoverSteps = undefined;
        }
      };

      const writeLeftovers = (events: T[], refused: StoreError | undefined) =>
        leftoverStep(() => writeLeftoversFrom(events, refused));

      /**
       * After a refusal the events not yet written are written again, all of them while the events sent
       * since the first write stay within twice those left then (one, two refusals: one write more each,
       * without the refused event). A writer that refuses event after event — each write made again of
       * everything left, n writes of n events, O(n²) — gets windows past that: after a refusal at its
       * first event, half the window; at a later one, the events before it (a store refuses a batch for its
       * first invalid event: those are valid); after a write taken, twice the window. The events sent stay
       * a few times n; what is written, reported, and in what order, is the same.
       */
      const writeLeftoversFrom = (events: T[], refused: StoreError | undefined) => {
        const refusedOne = refused?.events[0];
        if (refused !== undefined) reportUnhandled(refused);
        // The refused event's first place only: the same object emitted twice is two events (the store
        // does not deduplicate), each refused and reported on its own, as a later write refuses each.
        const place = refusedOne === undefined ? -1 : events.indexOf(refusedOne as T);
        let rest = place < 0 ? events : [...events.slice(0, place), ...events.slice(place + 1)];
        // A SessionStore refuses a batch for its first invalid event, one per write, and says so only after
        // a tick (when a close() that followed the unsubscribe refuses the write made again): the events it
        // would refuse are found here, all at once, and the others written now, in one write.
        if (store instanceof SessionStore) rest = storable(rest);
        if (rest.length === 0) return;
        const all = rest;
        /** The events of `all` a write refused. */
        const dropped = new Uint8Array(all.length);
        /** `all` before it is written or refused. */
        let start = 0;
        /** Events neither written nor refused yet. */
        let remaining = all.length;
        /** Events sent, and the most that may be sent while every write takes everything left. */
        let sent = 0;
        const budget = 2 * all.length;
        let window = Number.POSITIVE_INFINITY;
        const writeNext = () => {
          while (start < all.length && dropped[start] === 1) start++;
          if (start === all.length) return;
          const batch: T[] = [];
          const at: number[] = [];
          for (let i = start; i < all.length && batch.length < window; i++) {
            if (dropped[i] === 1) continue;
            batch.push(all[i]!);
            at.push(i);
          }
          sent += batch.length;
          const written = () => {
            start = at[at.length - 1]! + 1;
            remaining -= batch.length;
            window *= 2;
            leftoverStep(writeNext);
          };
          const lost = (cause: unknown) => {
            // Another event the store refuses (it refuses the whole batch): that one is reported, the
            // others written, as for the first.
            const i = refusedAt(cause, batch);
            if (i >= 0) {
              reportUnhandled(cause);
              dropped[at[i]!] = 1;
              remaining--;
              if (Number.isFinite(window) || sent + remaining > budget) {
                window = i > 0 ? i : Math.max(1, Math.floor(batch.length / 2));
              }
              leftoverStep(writeNext);
              return;
            }
            // This write and those not yet made: not written.
            const unwritten: T[] = [];
            for (let j = start; j < all.length; j++) if (dropped[j] !== 1) unwritten.push(all[j]!);
            reportUnhandled(lostError(unwritten, cause));
          };
          try {
            from(store.append(batch)).subscribe({ error: lost, complete: written });
          } catch (cause) {
            lost(cause);
          }
        };
        writeNext();
      };

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
        if (cut !== undefined) subscriber.error(invalidError(cut.error, cut.event));
        else if (terminal !== undefined) subscriber.error(terminal.error);
        else subscriber.complete();
      };

      /** The error of a cut: the invalid event, then every event received after it that is not written. */
      const invalidError = (cause: StoreError, event: T) => {
        const events = unwritten();
        // The source's own invalid event, if it stopped the source before the write found this one.
        if (invalid !== undefined) events.push(invalid);
        return new StoreError(
          'STORE_INVALID_EVENT',
          `persist: the store refused an event (${describeEvent(event)}): ${cause.message} The events ` +
            `received before it are written; it and the ${events.length - 1} event(s) received after it ` +
            'that were not already being written are not (see .events); the source was unsubscribed.',
          { cause, events, issues: cause.issues },
        );
      };

      /** What waits in each lane that may still be written: everything, unless a write refused an event. */
      const normalReady = () =>
        cut === undefined ? pending.length : Math.max(0, Math.min(pending.length, cut.normal - taken));
      const criticalReady = () => {
        if (cut === undefined) return critical.length;
        const limit = Math.min(critical.length, cut.critical - criticalTaken);
        let n = 0;
        while (n < limit && critical.at(n).before <= cut.normal) n++;
        return n;
      };

      /**
       * A write refused an invalid event: its batch goes back to the head of its lane, the source stops,
       * and from then on only the events received before the earliest refused one are written. `key`
       * orders events across lanes: NORMAL event k is [2k + 1, 0]; a CRITICAL one received after k NORMAL
       * ones, the r-th CRITICAL, is [2k, r].
       */
      const refused = (error: StoreError, event: T, key: [number, number], limits: [number, number]) => {
        if (!sourceDone) {
          sourceDone = true;
          upstream.unsubscribe();
        }
        if (cut === undefined) {
          cut = { error, event, key, normal: limits[0], critical: limits[1] };
          return;
        }
        if (key[0] < cut.key[0] || (key[0] === cut.key[0] && key[1] < cut.key[1])) {
          cut.error = error;
          cut.event = event;
          cut.key = key;
        }
        cut.normal = Math.min(cut.normal, limits[0]);
        cut.critical = Math.min(cut.critical, limits[1]);
      };

      /** Every event not written, in the order received: the failed writes', then the waiting ones. */
      const unwritten = (): T[] => {
        const normal = failure === undefined ? [] : failure.normal;
        return merge(
          normal.concat(pending.takeAll()),
          taken - normal.length,
          (failure?.critical ?? []).concat(critical.takeAll()),
        );
      };

      const fail = () => {
        finished = true;
        cancelTimer();
        const { cause, size } = failure!;
        const events = unwritten();
        // The invalid event that stopped the source, received after all of them: not written either.
        if (invalid !== undefined) events.push(invalid);
        const reason = textOf(cause);
        subscriber.error(
          new StoreError(
            'STORE_WRITE_FAILED',
            `persist: a write of ${size} event(s) failed; ${events.length} event(s) were not written (see .events): ${reason}`,
            { cause, events },
          ),
        );
      };

      const succeed = (batch: T[]) => {
        emitting = true;
        try {
          for (const event of batch) {
            if (subscriber.closed) break;
            try {
              subscriber.next(event);
            } catch (error) {
              // A consumer that throws on an event ends the input, as a source error does: the rest of
              // the batch (written) still goes out, what was received is written and emitted, then the
              // first failure errors the output. Thrown on, it would reach the write's observer (reported
              // asynchronously by RxJS), and the rest of the batch would never go out.
              terminal ??= { error };
              if (!sourceDone) {
                sourceDone = true;
                upstream.unsubscribe();
              }
            }
          }
        } finally {
          emitting = false;
        }
        pump();
      };

      /** Writes a batch of one lane; `done` is called when it settles, before the batch is emitted. */
      const write = (batch: T[], urgent: boolean, done: (error?: { cause: unknown }) => void) => {
        let settled = false;
        const settle = (error?: { cause: unknown }) => {
          if (settled) return;
          settled = true;
          if (left) {
            // In flight when the subscriber left: a failed write is made again, as the waiting events were.
            if (error !== undefined && !takenBack.has(batch)) {
              writeLeftovers(
                batch,
                refusedAt(error.cause, batch) < 0 ? undefined : (error.cause as StoreError),
              );
            }
            return;
          }
          done(error);
          if (error === undefined) succeed(batch);
          else {
            // The source stops; the other lane's write in flight completes first (pump fails then).
            if (!sourceDone) {
              sourceDone = true;
              upstream.unsubscribe();
            }
            pump();
          }
        };
        let written: Observable<unknown>;
        try {
          // from() throws too, for a writer that returns no ObservableInput (a void append).
          written = from(urgent ? store.append(batch, { urgent: true }) : store.append(batch));
        } catch (cause) {
          settle({ cause });
          return;
        }
        // Not ended by the teardown: unsubscribing from a write would not undo it, only hide its failure.
        written.subscribe({
          error: (cause: unknown) => settle({ cause }),
          complete: () => settle(),
        });
      };

      const failed = (cause: unknown, normal: T[], criticalBatch: Critical<T>[]) => {
        if (failure === undefined) failure = { cause, normal, critical: criticalBatch, size: 0 };
        else {
          failure.normal = failure.normal.concat(normal);
          failure.critical = failure.critical.concat(criticalBatch);
        }
        failure.size += normal.length + criticalBatch.length;
      };

      const writeNormal = (batch: T[]) => {
        inFlight = true;
        normalBatch = batch;
        taken += batch.length;
        write(batch, false, (error) => {
          inFlight = false;
          normalBatch = [];
          if (error === undefined) return;
          const at = refusedAt(error.cause, batch);
          if (at < 0) {
            failed(error.cause, batch, []);
            return;
          }
          taken -= batch.length;
          pending.prepend(batch);
          const k = taken + at;
          refused(error.cause as StoreError, batch[at]!, [2 * k + 1, 0], [k, Infinity]);
        });
      };

      const writeCritical = (entries: Critical<T>[]) => {
        criticalInFlight = true;
        criticalTaken += entries.length;
        const batch = entries.map((entry) => entry.event);
        criticalBatch = { entries, events: batch };
        write(batch, true, (error) => {
          criticalInFlight = false;
          criticalBatch = { entries: [], events: [] };
          if (error === undefined) return;
          const at = refusedAt(error.cause, batch);
          if (at < 0) {
            failed(error.cause, [], entries);
            return;
          }
          criticalTaken -= entries.length;
          critical.prepend(entries);
          const r = criticalTaken + at;
          const { before, event } = entries[at]!;
          refused(error.cause as StoreError, event, [2 * before, r], [before, r]);
        });
      };

      const onTimer = () => {
        timer = undefined;
        due = true;
        pump();
      };

      // A write that completes at once (a writer answering synchronously) emits and pumps from inside the
      // pump that started it: after one slow write, the thousands of events left waiting each wrote the next
      // from inside its own completion, the stack overflowed, and the stream hung with the rest unwritten.
      // A pump asked for while one runs is run by that one, once it returns (a trampoline).
      let pumping = false;
      let pumpAgain = false;
      const pump = () => {
        if (pumping) {
          pumpAgain = true;
          return;
        }
        pumping = true;
        try {
          do {
            pumpAgain = false;
            pumpOnce();
          } while (pumpAgain);
        } finally {
          pumping = false;
        }
      };

      const pumpOnce = () => {
        for (;;) {
          if (emitting || finished || subscriber.closed) return;
          if (failure !== undefined) {
            if (!inFlight && !criticalInFlight) fail();
            return;
          }
          const criticalWaiting = criticalReady();
          if (!criticalInFlight && criticalWaiting > 0) {
            // Settles through succeed() or a failure, which pump again; then this loop looks again.
            writeCritical(critical.take(Math.min(maxBatch, criticalWaiting)));
            continue;
          }
          const waiting = normalReady();
          if (!inFlight && waiting > 0 && (waiting >= maxBatch || due || sourceDone)) {
            const batch = pending.take(Math.min(maxBatch, waiting));
            if (pending.length === 0) {
              cancelTimer();
              due = false;
            }
            // Events left over keep the timer (or the `due`) of the oldest of them.
            writeNormal(batch);
            continue;
          }
          break;
        }
        if (normalReady() === 0) {
          cancelTimer();
          due = false;
          if (sourceDone && !inFlight && !criticalInFlight && criticalReady() === 0) finish();
          return;
        }
        // Events are waiting. Their delay runs from the oldest one's arrival, also while a write is in
        // flight: if it has passed when that write completes, the next batch is written at once.
        if (timer === undefined && !due) {
          // Kept only if not run already: on a scheduler that runs it at once (queueScheduler), the spent
          // action would stand for a pending timer, and the events after it would wait for the complete.
          let scheduled: Subscription | undefined;
          try {
            scheduled = scheduleLater(scheduler, onTimer, maxDelayMs, 'persist');
          } catch (error) {
            // A scheduler that cannot arm the timer (its schedule() threw, or gave no Subscription): the
            // source is left, the events received are written now, then the output errors with it (it was
            // thrown at the source's next).
            due = true;
            if (!sourceDone) stopSource(error);
            pumpAgain = true;
            return;
          }
          if (scheduled !== undefined) timer = scheduled;
        }
      };

      // Added to `upstream` before the source starts: `stopSource` then also stops a synchronous source
      // (`from(array)`) at once, rather than after it pushed everything — events it would ignore.
      const input = new Subscriber<T>({
        next: (event) => {
          if (sourceDone) return;
          if (!isWellFormed(event)) {
            const issues = describeInvalid(event);
            invalid = event;
            stopSource(
              new StoreError(
                'STORE_INVALID_EVENT',
                `persist: received an invalid event (${describeEvent(event)}): ${issues
                  .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
                  .join('; ')}. The events before it are written; the source was unsubscribed.`,
                { events: [event], issues },
              ),
            );
          } else {
            if (priorityLane && event.priority === Priority.CRITICAL) {
              critical.push({ event, before: received });
            } else {
              pending.push(event);
              received++;
            }
            if (pending.length + critical.length > maxPending) {
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
      });
      upstream.add(input);
      // A source of another copy of RxJS takes `input` as a plain observer: its subscription is kept too.
      upstream.add(source.subscribe(input));
      // A synchronous source may have been stopped before subscribe() returned.
      if (sourceDone) upstream.unsubscribe();

      /**
       * At the teardown, on a `SessionStore`: a write in flight holding an event the store refuses was
       * refused whole at the call (nothing written), and says so only after a tick. Its events go back to
       * the head of their lane, to be written with the waiting ones, at once and in the order received.
       */
      const takeBackRefused = () => {
        if (inFlight && normalBatch.some((event) => storeRefusal(event) !== undefined)) {
          takenBack.add(normalBatch);
          taken -= normalBatch.length;
          pending.prepend(normalBatch);
        }
        const { entries, events } = criticalBatch;
        if (criticalInFlight && events.some((event) => storeRefusal(event) !== undefined)) {
          takenBack.add(events);
          criticalTaken -= entries.length;
          critical.prepend(entries);
        }
      };

      /**
       * At the teardown, on a `SessionStore`: a write in flight that fails (a LevelDB error) would be made
       * again only once persist hears of it — after the events left waiting, written below: out of the
       * order received. The store makes it again instead, in its place in its queue (before them).
       */
      const appendAgainInPlace = (sessionStore: SessionStore) => {
        for (const batch of [inFlight ? normalBatch : [], criticalInFlight ? criticalBatch.events : []]) {
          if (batch.length === 0 || takenBack.has(batch)) continue;
          const again = storeInternals.appendAgain(sessionStore, batch);
          if (again === undefined) continue;
          takenBack.add(batch);
          again.catch((cause: unknown) => reportUnhandled(lostError(batch, cause)));
        }
      };

      return () => {
        left = true;
        upstream.unsubscribe();
        cancelTimer();
        if (!finished && store instanceof SessionStore) {
          takeBackRefused();
          appendAgainInPlace(store);
        }
        if (!finished && (failure !== undefined || pending.length > 0 || critical.length > 0)) {
          // The subscriber left before these were written. They were received, so write them anyway (a
          // store's close() waits for queued writes) — with a failed write's events too, whose failure
          // nobody will hear of now: written twice if that write did reach the disk, rather than lost if
          // it did not. Without the event a write refused: it would make the store refuse the others.
          const events = unwritten();
          writeLeftovers(events, cut?.error);
        }
        // The invalid event that stopped the source, whose error was to follow the writes: reported too.
        if (!finished && invalid !== undefined) reportUnhandled(terminal!.error);
      };
    });
}

/**
 * Reports an error nobody is left to handle as RxJS does (its `reportUnhandledError`): on a later task, to
 * `config.onUnhandledError` if set, else thrown.
 */
function reportUnhandled(error: unknown): void {
  setTimeout(() => {
    const handler = config.onUnhandledError;
    if (handler !== null && handler !== undefined) handler(error);
    else throw error;
  });
}

/** What is reported when a write made after the subscriber left fails: `events` were not written. */
function lostError(events: Event[], cause: unknown): StoreError {
  return new StoreError(
    'STORE_WRITE_FAILED',
    `persist: after its subscriber left, a write of ${events.length} event(s) failed; they were not written (see .events): ${textOf(cause)}`,
    { cause, events },
  );
}

/**
 * The event a write refused as invalid: the one event of a `STORE_INVALID_EVENT` (what `SessionStore.append`
 * rejects with, naming the first invalid event of its batch), or undefined for any other failure.
 */
function refusedEvent(cause: unknown): Event | undefined {
  return cause instanceof StoreError && cause.code === 'STORE_INVALID_EVENT' && cause.events.length === 1
    ? cause.events[0]
    : undefined;
}

/** Where in `batch` the event a write refused is (see `refusedEvent`), or -1 for any other failure. */
function refusedAt(cause: unknown, batch: readonly Event[]): number {
  const bad = refusedEvent(cause);
  return bad === undefined ? -1 : batch.indexOf(bad);
}

/**
 * The `STORE_INVALID_EVENT` with which `SessionStore.append` would refuse `event` (its own check,
 * `encodeEvent`), or undefined when it would take it.
 */
function storeRefusal(event: Event): StoreError | undefined {
  try {
    encodeEvent(event, 0, [], []);
    return undefined;
  } catch (error) {
    return error as StoreError;
  }
}

/**
 * `events` without those `SessionStore.append` would refuse (see `storeRefusal`), each of which is
 * reported unhandled, as the store's refusal would be.
 */
function storable<T extends Event>(events: T[]): T[] {
  let kept: T[] | undefined;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const refusal = storeRefusal(event);
    if (refusal === undefined) {
      kept?.push(event);
      continue;
    }
    kept ??= events.slice(0, i);
    const { issues, cause } = refusal;
    reportUnhandled(
      new StoreError(
        'STORE_INVALID_EVENT',
        `persist: after its subscriber left, an event the store would refuse (${describeEvent(event)}): ${formatIssues(issues)}. It is not written; the others are.`,
        { events: [event], issues, cause },
      ),
    );
  }
  return kept ?? events;
}

/**
 * Whether `value` has an event's fields and plain objects as `data` and `context`. A boolean, not a type
 * guard: an event of a narrower type (persist's `T`) keeps its type.
 */
function isWellFormed(value: unknown): boolean {
  return isEventShape(value) && hasJsonObjects(value);
}

/** A CRITICAL event, with the number of NORMAL events received before it (its place in the source). */
interface Critical<T extends Event<object> = Event> {
  event: T;
  before: number;
}

/**
 * Merges NORMAL events (consecutive ones, the first being the `first`-th NORMAL event received) and
 * CRITICAL ones back into the order they were received.
 */
function merge<T extends Event>(normal: T[], first: number, critical: Critical<T>[]): T[] {
  if (critical.length === 0) return normal;
  const out: T[] = [];
  let i = 0;
  for (const { event, before } of critical) {
    while (i < normal.length && first + i < before) out.push(normal[i++]!);
    out.push(event);
  }
  while (i < normal.length) out.push(normal[i++]!);
  return out;
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

  /** The item `i` places from the head. */
  at(i: number): T {
    return this.items[this.head + i]!;
  }

  /** Puts `items` back at the head, in their order. */
  prepend(items: T[]): void {
    this.items = items.concat(this.items.slice(this.head));
    this.head = 0;
  }

  takeAll(): T[] {
    const out = this.head === 0 ? this.items : this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }
}
