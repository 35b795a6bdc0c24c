import type { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import {
  ConfigError,
  checkOptions,
  optionKeys,
  readFields,
  refuseNull,
  shownText,
  textOf,
  VibespecError,
} from '../errors.js';
import { type JsonLinesOptions, LineReader, readLineOptions } from './jsonLines.js';
import {
  claimEnded,
  destroyIfReadable,
  inputTaken,
  isIterableObject,
  oldStreamHint,
  takeInput,
  YIELD_EVERY,
  yieldToEventLoop,
} from './pullFrom.js';
import type { HookOutput } from './toEvents.js';

const OPTION_KEYS = optionKeys<JsonLinesOptions>({ hook: true, maxLineLength: true });
/** Thrown out of a chunk when the consumer has left in the middle of it (see `emit`). */
const LEFT = Symbol('left');

/**
 * Emits one `HookOutput` per line of a JSON Lines stream — a log of hook payloads, a pipe from a
 * hook runner, stdin. A line may be an envelope `{ hook, output, timestamp? }`, a capture
 * `{ hook_event_name, payload }`, or a bare Claude Code payload (its `hook_event_name` names the hook).
 *
 * A line that is not JSON is not an exception: it is emitted as a `HookOutput` with `error` set, which
 * `bridgeHooks` turns into a `hook.rejected` event. A line longer than `maxLineLength` is not held whole: it
 * is read with each string value longer than 16,384 characters cut to its first and last 8,000 around a mark
 * of its length, and what is kept is emitted with `cut` set (its events carry `context.payload_cut`); it is
 * rejected so only when that is not JSON, or still longer than `maxLineLength`. Blank lines
 * are skipped. Bytes are decoded as UTF-8, across chunk boundaries. Every 256 chunks it lets the event
 * loop run once (`setImmediate`), so a long in-memory input never holds up timers and I/O until it ends.
 *
 * ```
 * input:   {"hook":"Stop",…}\n  not json\n  {"hook_event_name":"SessionEnd",…}\n|
 * result:  ---a-----------------r-----------b----------------------------------|
 * ```
 *
 * Unsubscribing stops reading: the iterator's `return()` is called, and a Readable is destroyed (a web
 * `ReadableStream` cancelled) at once, even while it waits for data (a pipe, a socket, stdin: its
 * `return()` alone would wait for it). An
 * input that fails (a read error) errors the output with `VibespecError` `SOURCE_FAILED`, the input's
 * error as `cause`, after the lines read before it: its last one, even without a newline, is emitted
 * (or rejected, when the failure cut it) first; a consumer that throws on it does not keep it from erroring.
 * A consumer that throws on an output otherwise (a `Subscriber` of its own) ends it with its exception.
 *
 * Each subscription reads `input` afresh when it can be (an array of chunks); one that can be read once (a
 * `Readable`, or any stream by its shape: `on`, `read` and an async iterator, or a web `ReadableStream`;
 * an iterator or a generator object) is read by the first subscription only, and a later one errors with `VibespecError`
 * `SOURCE_FAILED` rather than take a part of its lines, or none: `share()` the Observable to give it to
 * several subscribers. An iterator that starts over when asked for itself (`[Symbol.iterator]()` resets it
 * and returns `this`) is read again after a subscription that read it to its end, never by two at once. A
 * `Readable` that has ended before the first subscription (read by a `data` listener, a pipe) errors it
 * with `SOURCE_FAILED`: it has nothing left to give.
 *
 * @param input a Node `Readable` or any (async) iterable of strings or byte chunks.
 * @throws ConfigError at construction when `input` is not one (a stream without an async iterator, of
 *   `readable-stream` 2: read it through `new Readable().wrap(stream)`), `options` is not an object,
 *   `maxLineLength` is not a positive integer, `hook` not a string, or an option's name is unknown (named
 *   with the nearest known one).
 */
export function fromJsonLines(
  input: Readable | AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options?: JsonLinesOptions,
): Observable<HookOutput> {
  if (!isIterableObject(input)) {
    throw new ConfigError(
      `fromJsonLines: input must be a Readable or an (async) iterable object of strings or bytes (a string: pass [text]), got ${shownText(input)}${oldStreamHint(input)}`,
    );
  }
  checkOptions('fromJsonLines', options, OPTION_KEYS);
  options = readFields(options, OPTION_KEYS);
  refuseNull('fromJsonLines', options, OPTION_KEYS);
  const lineOptions = readLineOptions(options, 'fromJsonLines');
  return new Observable<HookOutput>((subscriber) => {
    const lines = new LineReader(lineOptions, 'fromJsonLines');
    // Keeps every BOM: the LineReader drops the one at the start, bytes or text alike (a decoder that
    // dropped it too would drop two from bytes, the first line's own, and one from text).
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    /**
     * What a consumer threw on an output (a `Subscriber` of its own, whose exception reaches the source):
     * the output ends with it as it is. It was a `SOURCE_FAILED` saying the input cannot be read.
     */
    let thrown: { error: unknown } | undefined;
    const emit = (output: HookOutput) => {
      // The consumer left in an earlier next of this chunk (unsubscribed there): the rest of it is not
      // parsed, nor emitted. Thrown, it ends the read loop, which then stops as it does at any unsubscribe.
      if (stopped) throw LEFT;
      try {
        subscriber.next(output);
      } catch (error) {
        thrown = { error };
        throw error;
      }
    };
    let iterator: AsyncIterator<string | Uint8Array> | Iterator<string | Uint8Array> | undefined;
    let stopped = false;
    /** Whether this subscription took the input: one read once that another had taken is left alone. */
    let took = false;
    (async () => {
      const taken = takeInput(
        'fromJsonLines',
        'input',
        input as AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
      );
      if ('error' in taken) {
        subscriber.error(taken.error);
        return;
      }
      took = true;
      iterator = taken.iterator;
      /** Read to its end by the last subscription: its first step tells whether it started over. */
      let again = taken.again;
      let readSinceYield = 0;
      for (;;) {
        // An in-memory input only awaits microtasks: let timers and I/O run now and then, as pullFrom does.
        if (++readSinceYield > YIELD_EVERY) {
          readSinceYield = 1;
          await yieldToEventLoop();
          if (stopped) return;
        }
        const step = await iterator.next();
        if (stopped) return;
        if (step.done) break;
        again = false;
        const chunk = step.value;
        lines.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }), emit);
        if (stopped) return;
      }
      claimEnded(input, iterator, 'ended');
      // Read to its end before, it ended at once: it did not start over, and gives this one nothing.
      if (again) {
        subscriber.error(inputTaken('fromJsonLines', 'input', input, iterator));
        return;
      }
      lines.push(decoder.decode(), emit);
      lines.end(emit);
      subscriber.complete();
    })().catch((error: unknown) => {
      if (stopped) return;
      // The consumer threw on an output: no more lines for it.
      if (thrown !== undefined) {
        subscriber.error(thrown.error);
        return;
      }
      // What was read is not dropped: the last line, cut or not, goes out (or is rejected) first.
      try {
        lines.push(decoder.decode(), emit);
        lines.end(emit);
      } catch {
        // The consumer threw on that line (a `Subscriber` of its own): the output still ends, with the
        // input's failure. Thrown from here, it was an unhandled rejection, and the output never ended.
      }
      if (took) claimEnded(input, iterator, { error });
      subscriber.error(
        new VibespecError('SOURCE_FAILED', `fromJsonLines: cannot read the input: ${textOf(error)}`, {
          cause: error,
        }),
      );
    });
    return () => {
      stopped = true;
      void Promise.resolve(iterator?.return?.()).catch(() => undefined);
      if (took) {
        claimEnded(input, iterator, 'left');
        destroyIfReadable(input); // at once, even while its iterator waits for data
      }
    };
  });
}
