/**
 * Backpressure for a push-based world: a `FlowGate` that bounded queues close when they fill up, and
 * `pullFrom`, a source that pulls the next item of an (async) iterable only while the gate is open.
 * See `docs/buffers.md`.
 */
import { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import { ConfigError, shownText, textOf, VibespecError } from '../errors.js';

// Pulling an in-memory iterable (sync, or async without I/O) only awaits settled values: microtasks,
// which run before any timer or I/O callback. After this many items the pull loop lets the event loop
// run once, so a long iterable does not hold up timers, I/O and other work until it is exhausted.
/** @internal How many items `pullFrom` and `fromJsonLines` take between two turns of the event loop. */
export const YIELD_EVERY = 256;
/** @internal Resolves once the event loop has run (`setImmediate`). */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * @internal An object that is iterable or async iterable (a `Readable` is): what `pullFrom` and
 * `fromJsonLines` read. A string is left out: it would be read character by character.
 */
export function isIterableObject(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  return (
    typeof value === 'object' && value !== null && (Symbol.asyncIterator in value || Symbol.iterator in value)
  );
}

/** The verdicts of `isReadableStream`, so that an input's shape is read once. */
const streamShapes = new WeakMap<object, boolean>();

/**
 * @internal Whether `value` is a readable stream: a Node `Readable`, or one that has its shape without
 * being one (`readable-stream`'s, which many libraries hand out, minipass): an object with `on` and `read`
 * methods and an async iterator; or a web `ReadableStream` (`getReader` and an async iterator). Such a
 * stream is read once, however many iterators it makes: each of them takes its chunks from the one buffer
 * (two read at once each took every other chunk; a web stream read to its end gave a later one nothing,
 * without a word). Its shape is read once; a getter that throws makes it no stream.
 */
export function isReadableStream(value: unknown): value is { destroy?: () => unknown } {
  if (value instanceof Readable) return true;
  if (typeof value !== 'object' || value === null) return false;
  let shaped = streamShapes.get(value);
  if (shaped === undefined) {
    try {
      const v = value as Record<PropertyKey, unknown>;
      shaped =
        ((typeof v.on === 'function' && typeof v.read === 'function') || typeof v.getReader === 'function') &&
        typeof v[Symbol.asyncIterator] === 'function';
    } catch {
      shaped = false;
    }
    streamShapes.set(value, shaped);
  }
  return shaped;
}

/**
 * @internal What a `ConfigError` for `value`, which is no (async) iterable, adds when it is a stream of
 * the old kind, with `on` and `pipe` but no async iterator (`readable-stream` 2, what `through2` 2 hands
 * out; an old-style stream of `data` events): how to read it. Its message said the input must be a
 * Readable, and showed it as `[object Object]`. Empty for anything else, or one whose getters throw.
 */
export function oldStreamHint(value: unknown): string {
  try {
    const v = value as Record<string, unknown> | null;
    if (typeof v !== 'object' || v === null || typeof v.on !== 'function' || typeof v.pipe !== 'function') {
      return '';
    }
  } catch {
    return '';
  }
  return ': a stream without an async iterator (readable-stream 2, an old-style stream) is read through new Readable().wrap(stream), Readable from node:stream';
}

/**
 * @internal Destroys `value` if it is a readable stream (`isReadableStream`) with a `destroy()`: what its
 * reader does when unsubscribed, after calling its iterator's `return()`. That iterator is an async
 * generator, whose `return()` waits for a pending `next()`; on an idle stream (a pipe, a socket, stdin)
 * that may be never, and the stream would stay open, its file descriptor with it. A `destroy()` that
 * throws is not thrown on: it would break the unsubscription chain.
 */
export function destroyIfReadable(value: unknown): void {
  if (!isReadableStream(value)) return;
  try {
    if (typeof value.destroy === 'function') value.destroy();
  } catch {
    // Nothing to do: the stream is left as its destroy() left it.
  }
}

/**
 * The iterator a subscription of `pullFrom` or `fromJsonLines` reads `input` with: its async
 * iterator, else its iterator. A web `ReadableStream` is read through a reader of its own, whose `return()`
 * cancels the stream at once, as an unsubscription destroys a Node `Readable` (`destroyIfReadable`): its
 * async iterator's `return()` waits for the pending read, so an idle stream (a socket's, a response body)
 * left by its subscription stayed locked and open for ever, its source never cancelled.
 */
function iteratorOf<T>(input: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> | Iterator<T> {
  const web = input as { getReader?: unknown };
  if (typeof web.getReader === 'function' && isReadableStream(input)) {
    return readerIterator((input as unknown as ReadableStream<T>).getReader());
  }
  const iterable = input as AsyncIterable<T> & Iterable<T>;
  return typeof iterable[Symbol.asyncIterator] === 'function'
    ? iterable[Symbol.asyncIterator]()
    : iterable[Symbol.iterator]();
}

/**
 * Reads a web stream with `reader`, released at the end, at a failure, or after `return()` has cancelled
 * the stream (as its own async iterator does), whatever the order: a pending read that the cancel ends
 * releases it too.
 */
function readerIterator<T>(reader: ReadableStreamDefaultReader<T>): AsyncIterator<T> {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    reader.releaseLock();
  };
  return {
    async next() {
      try {
        const step = await reader.read();
        if (step.done) release();
        return step.done ? { done: true, value: undefined } : { done: false, value: step.value };
      } catch (error) {
        release();
        throw error;
      }
    },
    async return(value?: unknown) {
      // cancel() ends a pending read (done), and tells the stream's source.
      if (!released) {
        try {
          await reader.cancel();
        } finally {
          release();
        }
      }
      return { done: true, value };
    },
  };
}

/**
 * How an input read once stands (see `claimInput`): read by a subscription now, read to its end by the
 * last one, left in the middle (unsubscribed), or failed with an error.
 */
type Claim =
  | { readonly state: 'reading' }
  | { readonly state: 'ended' }
  | { readonly state: 'left' }
  | { readonly state: 'failed'; readonly error: unknown };

/** The inputs read once, and the iterators, that a subscription has taken, and how each stands. */
const claims = new WeakMap<object, Claim>();
const READING: Claim = { state: 'reading' };

/**
 * Whether a subscription must leave `input` alone before it asks it for an iterator: a readable
 * stream or an iterator of its own (its iterator method returns itself) that another subscription reads
 * now, or that was read once and cannot be again. Asked anyway, a class whose `[Symbol.iterator]()`
 * starts it over and returns it was started over under the subscription reading it, which then read its
 * first items twice.
 */
function inputBusy(input: object): boolean {
  const claim = claims.get(input);
  return claim !== undefined && claim.state !== 'ended';
}

/**
 * Whether a subscription of `pullFrom` or `fromJsonLines` may read `input` with `iterator` (the
 * one it just made): `'refused'` when another subscription (of any Observable) reads that iterator, or
 * `input` if it is a readable stream (`isReadableStream`), or has left it or failed on it; `'taken'` for
 * the first one; `'again'` when the last one read it to its end: the subscription reads it again if it
 * started over, and must refuse it (`inputTaken`) if its first step is the end. An iterator is read once
 * unless it starts over when asked for itself again, and so is a readable stream (its reader destroys it
 * when it stops): one read to its end gives nothing, and is refused so; an object of its shape that
 * starts over (its iterator method reads its file afresh) is read again, as it was before streams were
 * known by their shape. An iterator or a generator object is its own iterable, and a readline
 * `Interface` gives the same iterator at each call: a second subscription read it on from where the first
 * one was, so that two at once each got every other item (and the first to stop destroyed a `Readable`
 * under the other), and one after the first got nothing, without a word (a `repeat()` of it looped on
 * empty runs). An array, a `Set`, or an object whose iterator method makes a new iterator at each call is
 * read afresh by each subscription.
 */
function claimInput(input: object, iterator: unknown): 'taken' | 'again' | 'refused' {
  const once = onceKey(input, iterator);
  if (once === undefined) return 'taken';
  const claim = claims.get(once);
  if (claim !== undefined && claim.state !== 'ended') return 'refused';
  claims.set(once, READING);
  return claim === undefined ? 'taken' : 'again';
}

/** What `claimInput` claims for `input` read with `iterator`: `undefined` when that is no object. */
function onceKey(input: object, iterator: unknown): object | undefined {
  const once = isReadableStream(input) ? input : iterator;
  return (typeof once === 'object' || typeof once === 'function') && once !== null ? once : undefined;
}

/**
 * @internal Records how the subscription which claimed `input` (read with `iterator`) stopped reading
 * it: `'ended'` at its end, `'left'` when unsubscribed before (nothing if it had ended or failed), or
 * `{ error }` when it failed, so that a later subscription refused by `claimInput` says so (`inputTaken`):
 * a `retry()` of a stream that failed (a missing file) ended with "another subscription has taken it"
 * alone, the failure lost. Only one that read to the end may be read again (`'again'`): one left in the
 * middle, or that failed, cannot be told to start over from one that goes on where it was.
 */
export function claimEnded(
  input: object,
  iterator: unknown,
  how: 'ended' | 'left' | { readonly error: unknown },
): void {
  const once = onceKey(input, iterator);
  if (once === undefined || claims.get(once) !== READING) return;
  claims.set(
    once,
    how === 'ended'
      ? { state: 'ended' }
      : how === 'left'
        ? { state: 'left' }
        : { state: 'failed', error: how.error },
  );
}

/**
 * The error of a subscription given a Node `Readable` (or a stream of its shape) that has ended
 * already, read to its end by another reader (a `data` listener, a pipe) than a subscription of `pullFrom`
 * or `fromJsonLines` (after one of those, `inputTaken` says so): `undefined` for any other input. Its
 * lines are gone: the subscription completed with nothing, without a word.
 */
function inputEnded(where: string, what: string, input: object): VibespecError | undefined {
  if (claims.has(input) || !isReadableStream(input)) return;
  if ((input as { readableEnded?: unknown }).readableEnded !== true) return;
  return new VibespecError(
    'SOURCE_FAILED',
    `${where}: the ${what} is a stream that has ended: it was read to its end before this subscription (by a data listener, a pipe), and has nothing left to give; subscribe before it is read, and share() the Observable to give it to several subscribers`,
  );
}

/**
 * @internal The error of a subscription refused by `claimInput` or `inputBusy`, from `where`: with the
 * error that ended the subscription which took the input, if one did (`claimEnded`), as its `cause`.
 */
export function inputTaken(where: string, what: string, input: object, iterator: unknown): VibespecError {
  const once = iterator === undefined ? input : onceKey(input, iterator);
  const claim = once === undefined ? undefined : claims.get(once);
  const message = `${where}: the ${what} can be read once (a Readable, an iterator or a generator object) and another subscription has taken it; share() the Observable to give it to several subscribers, or pass an iterable that makes a new iterator each time (an array)`;
  if (claim?.state !== 'failed') return new VibespecError('SOURCE_FAILED', message);
  return new VibespecError(
    'SOURCE_FAILED',
    `${message}. The subscription that took it ended with: ${textOf(claim.error)}`,
    { cause: claim.error },
  );
}

/**
 * @internal What a subscription of `where` (`pullFrom`, `fromJsonLines`) gets of `input` before it reads
 * it: the iterator it reads (`iteratorOf`), claimed (`claimInput`), and `again` when the last subscription
 * read it to its end (its first step tells whether it started over); or the error it ends with when it
 * must leave `input` alone: another subscription has it (`inputBusy`, `claimInput`'s `'refused'`), or a
 * stream ended before any subscription (`inputEnded`).
 */
export function takeInput<T>(
  where: string,
  what: string,
  input: AsyncIterable<T> | Iterable<T>,
):
  | { readonly iterator: AsyncIterator<T> | Iterator<T>; readonly again: boolean }
  | { readonly error: VibespecError } {
  if (inputBusy(input)) return { error: inputTaken(where, what, input, undefined) };
  const ended = inputEnded(where, what, input);
  if (ended !== undefined) return { error: ended };
  const iterator = iteratorOf(input);
  const claim = claimInput(input, iterator);
  if (claim === 'refused') return { error: inputTaken(where, what, input, iterator) };
  return { iterator, again: claim === 'again' };
}

/**
 * A gate between a pulling source and the queues downstream of it. A queue that reaches its high-water
 * mark `hold`s the gate; it opens again when every holder has `release`d it.
 */
export interface FlowGate {
  /** Whether no one holds the gate. */
  readonly isOpen: boolean;
  /** Closes the gate on behalf of `owner` (idempotent per owner). */
  hold(owner: object): void;
  /** Withdraws `owner`'s hold; the gate opens when no hold is left. */
  release(owner: object): void;
  /**
   * Resolves at once when open, else when the gate next opens. With `signal` (optional: a gate may
   * ignore it), a wait whose signal aborts is given up: the gate forgets it and the promise rejects with
   * the signal's reason. `pullFrom` passes one that it aborts when unsubscribed, so a gate held for long
   * does not keep the waits of every pull that came and went meanwhile.
   */
  whenOpen(signal?: AbortSignal): Promise<void>;
}

/**
 * Creates a `FlowGate`. Pass it to `pullFrom` and to the operators whose queues should push back
 * (`hybridProcess({ gate })`).
 */
export function createFlowGate(): FlowGate {
  const holders = new Set<object>();
  let waiters = new Set<() => void>();
  return {
    get isOpen() {
      return holders.size === 0;
    },
    hold(owner) {
      holders.add(owner);
    },
    release(owner) {
      if (!holders.delete(owner) || holders.size > 0 || waiters.size === 0) return;
      const wake = waiters;
      waiters = new Set();
      for (const resolve of wake) resolve();
    },
    whenOpen(signal) {
      if (holders.size === 0) return Promise.resolve();
      if (signal === undefined) {
        return new Promise<void>((resolve) => {
          waiters.add(resolve);
        });
      }
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<void>((resolve, reject) => {
        const open = () => {
          signal.removeEventListener('abort', abort);
          resolve();
        };
        const abort = () => {
          waiters.delete(open);
          reject(signal.reason);
        };
        waiters.add(open);
        signal.addEventListener('abort', abort, { once: true });
      });
    },
  };
}

/**
 * Throws a `ConfigError` naming `where` unless `gate` has the members of a `FlowGate` a pull reads: a
 * boolean `isOpen` and a `whenOpen()`. One without `isOpen` was taken before, and the pull then waited at
 * it for ever (it never says open) without a word. Internal: used by `pullFrom` and `replay`.
 */
export function checkFlowGate(where: string, gate: unknown): asserts gate is FlowGate {
  const g = gate as FlowGate | null;
  if (
    g === null ||
    typeof g !== 'object' ||
    typeof g.isOpen !== 'boolean' ||
    typeof g.whenOpen !== 'function'
  ) {
    throw new ConfigError(`${where}: gate must be a FlowGate (createFlowGate()), got ${shownText(gate)}`);
  }
}

/**
 * A source that pulls its items from an iterable or async iterable, one at a time, and only while
 * `gate` is open: when a bounded queue downstream fills up it holds the gate, and `pullFrom` stops
 * pulling — the producer (a file, a socket, a generator) is paused rather than buffered. This is how a
 * push-based RxJS pipeline gets real backpressure.
 *
 * Unsubscribing stops the pull loop and calls the iterator's `return()`; a Node `Readable` source is
 * also destroyed at once, even while it waits for data (its iterator's `return()` alone waits for the
 * next chunk), and a web `ReadableStream` cancelled at once. Iterator errors are forwarded, and so is the reason of a gate's `whenOpen` that rejects
 * (but for the wait `pullFrom` gave up: see `FlowGate.whenOpen`), as a `whenOpen` that throws: nothing is
 * pulled past a gate that failed.
 * Every 256 items the loop lets the event loop run once (`setImmediate`), so pulling a long in-memory
 * iterable never holds up timers and I/O until it is exhausted.
 *
 * ```
 * gate:    open ─────── held ──────── open ──
 * pulled:  a-b-c-d      (paused)      e-f-g …
 * ```
 *
 * ## Example
 * ```ts
 * const gate = createFlowGate();
 * // hookOutputs: an (async) iterable of HookOutput, such as a log's lines parsed (see docs/buffers.md)
 * pullFrom(hookOutputs, gate).pipe(bridgeHooks(), hybridProcess({ immediate, batch, gate }));
 * ```
 *
 * @param source the items; an async iterable is awaited item by item.
 * @param gate the gate to honour before each pull (`createFlowGate()`).
 * @return a cold Observable: each subscription iterates `source` afresh. A source that can be read once (a
 *   Readable, or any stream by its shape: `on`, `read` and an async iterator, or a web `ReadableStream`;
 *   an iterator or a generator object) is read by the first subscription only: a later one errors with `VibespecError`
 *   `SOURCE_FAILED` (`share()` the Observable to give it to several subscribers). An iterator that starts
 *   over when asked for itself is read again after a subscription that read it to its end. A `Readable`
 *   that has ended before the first subscription (read by a `data` listener, a pipe) errors it with
 *   `SOURCE_FAILED`: it has nothing left to give.
 * @throws ConfigError at construction when `source` is not an (async) iterable (a stream without an async
 *   iterator, of `readable-stream` 2: read it through `new Readable().wrap(stream)`) or `gate` not a gate.
 */
export function pullFrom<T>(source: AsyncIterable<T> | Iterable<T>, gate: FlowGate): Observable<T> {
  if (!isIterableObject(source)) {
    throw new ConfigError(
      `pullFrom: source must be an (async) iterable, got ${shownText(source)}${oldStreamHint(source)}`,
    );
  }
  checkFlowGate('pullFrom', gate);
  return new Observable<T>((subscriber) => {
    let stopped = false;
    let iterator: AsyncIterator<T> | Iterator<T> | undefined;
    // Ends the current wait on a held gate when the subscriber goes away. One promise per wait, not a
    // long-lived "stopped" promise raced against each wait: every race would leave a reaction on it
    // for as long as the run lasts (memory growing with every time the gate closed). The abort tells
    // the gate to forget the wait (a gate that ignores the signal is still left at once).
    let wake: (() => void) | undefined;
    /**
     * Resolves `true` when the gate opened, `false` when woken (the wait aborted); rejects with the reason
     * of a `whenOpen` that rejected otherwise: a gate that failed. Taken as open, as it was, the pull went
     * on past a held gate, into the full queue it holds back (its overflow policy dropping or refusing).
     */
    const waitForGate = () => {
      const abort = new AbortController();
      return new Promise<boolean>((resolve, reject) => {
        wake = () => {
          abort.abort();
          resolve(false);
        };
        gate.whenOpen(abort.signal).then(
          () => resolve(true),
          (error: unknown) => (abort.signal.aborted ? resolve(false) : reject(error)),
        );
      }).finally(() => {
        wake = undefined;
      });
    };

    /** Whether this subscription took the source: one read once that another had taken is left alone. */
    let took = false;
    const run = async () => {
      try {
        const taken = takeInput('pullFrom', 'source', source);
        if ('error' in taken) {
          subscriber.error(taken.error);
          return;
        }
        took = true;
        iterator = taken.iterator;
        /** Read to its end by the last subscription: its first step tells whether it started over. */
        let again = taken.again;
        let pulledSinceYield = 0;
        while (!stopped) {
          if (++pulledSinceYield > YIELD_EVERY) {
            pulledSinceYield = 1;
            await yieldToEventLoop();
            if (stopped) return;
          }
          // Opened, the gate may be held again (another queue) before this resumes: wait again then. A
          // gate that says it opened while it is still held is polled once per turn of the event loop.
          for (let round = 0; !gate.isOpen; round++) {
            if (round > 0) await yieldToEventLoop();
            if (stopped || !(await waitForGate())) break;
          }
          if (stopped) return;
          const step = await iterator.next();
          if (stopped) return;
          if (step.done) {
            claimEnded(source, iterator, 'ended');
            // Read to its end before, it ends at once: it did not start over, and gives this one nothing.
            if (again) subscriber.error(inputTaken('pullFrom', 'source', source, iterator));
            else subscriber.complete();
            return;
          }
          again = false;
          subscriber.next(step.value);
        }
      } catch (error) {
        if (took) claimEnded(source, iterator, { error });
        if (!stopped) subscriber.error(error);
      }
    };
    void run();

    return () => {
      stopped = true;
      wake?.();
      try {
        void Promise.resolve(iterator?.return?.()).catch(() => undefined);
      } catch {
        // A throwing return() must not break the unsubscription chain.
      }
      if (took) {
        claimEnded(source, iterator, 'left');
        destroyIfReadable(source); // at once, even while its iterator waits for data
      }
    };
  });
}
