import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  Subject,
  type Subscriber,
  share,
} from 'rxjs';
import {
  ConfigError,
  checkOptions,
  optionKeys,
  readFields,
  refuseNull,
  shownText,
  VibespecError,
} from '../errors.js';
import type { Event } from '../event.js';
import { checkScheduler } from '../operators/internal/eventTime.js';
import { linkedInput, nextOrEnd, startLinked } from '../operators/internal/linked.js';
import {
  type BridgeOptions,
  bridgeLimits,
  bridgeMaxAhead,
  type HookOutput,
  mapHookOutput,
} from './toEvents.js';

/** Options of `bridgeHooks`. */
export interface BridgeHooksOptions extends BridgeOptions {
  /**
   * Stamps outputs that carry no `timestamp` with `scheduler.now()` (and, with `maxAheadMs`, judges
   * those that do). Default `asyncScheduler`.
   */
  scheduler?: SchedulerLike | undefined;
}

/**
 * Turns hook outputs into events: each `HookOutput` becomes one or more `Event`s (see `toEvents`).
 * Bad input never errors the stream and is never dropped: it becomes a `hook.rejected` event
 * (priority HIGH) with the hook name, the reason and the raw input. Errors and completion of the
 * source are forwarded as they are. An output's events go out together: an output the consumer pushes
 * into the source from its `next` comes out after them, and an end of the source made there waits for
 * them; a consumer that throws ends the output with its exception after them, and the source is left.
 *
 * ```
 * source:  --a-----b--c--|      a = PostToolUse (Write, created), b = null, c = SessionEnd
 * result:  --(uf)--r--e--|      u = tool.used, f = file.created, r = hook.rejected, e = session.ended
 * ```
 *
 * ## Example
 * ```ts
 * fromJsonLines(process.stdin).pipe(bridgeHooks(), filter((e) => e.type === 'file.modified'))
 * ```
 *
 * @param options payload limits (`maxPayloadBytes`, `maxDepth`, `maxRawLength`), `maxAheadMs` (an output
 *   stamped further ahead of the clock than that takes the clock's time, marked: see `BridgeOptions`) and
 *   the `scheduler` whose clock stamps outputs that carry no timestamp.
 * @return an operator from `HookOutput` to `Event`.
 * @throws ConfigError at construction when `options` is not an object, a limit is not a positive integer,
 *   `maxAheadMs` is no number ≥ 0, `scheduler` is no `SchedulerLike`, or an option's name is unknown (named
 *   with the nearest known one).
 * @throws (as an error notification) `InvalidEventError` when an output without a timestamp (with
 *   `maxAheadMs`, any output) meets a `scheduler.now()` that is not a time (a finite number ≥ 0); the
 *   source is left.
 */
export function bridgeHooks(options?: BridgeHooksOptions): OperatorFunction<HookOutput, Event> {
  checkOptions('bridgeHooks', options, BRIDGE_HOOKS_KEYS);
  options = readFields(options, BRIDGE_HOOKS_KEYS);
  checkScheduler('bridgeHooks', options?.scheduler);
  const limits = bridgeLimits(options, 'bridgeHooks');
  const maxAheadMs = bridgeMaxAhead(options, 'bridgeHooks');
  const scheduler = options?.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<Event>((subscriber) => {
      // An output's events go out together: what the consumer pushes into the source while they go out
      // (re-entrantly) is mapped at once and waits here, and an end of the source from there waits for
      // them. The consumer's push came out between the events of the output being delivered, and a
      // complete or error from it lost the rest of that output.
      let delivering = false;
      let waiting: Event[] = [];
      /**
       * How the output ends once the events going out are out: the source completed (`null`) or errored,
       * the clock failed, or the consumer threw, while they went out.
       */
      let end: { error: unknown } | null | undefined;
      const send = (event: Event) => {
        try {
          subscriber.next(event);
        } catch (error) {
          // A consumer that throws (a `Subscriber` of its own) ends the output with its first exception
          // (a source's error that came first stays), after the rest of the output and what it pushed
          // before it threw; the source is left. It was thrown at the source, and the output went on.
          if (end == null) end = { error };
          input.unsubscribe();
        }
      };
      const deliver = (events: Event[]) => {
        delivering = true;
        try {
          for (let i = 0; i < events.length && !subscriber.closed; i++) send(events[i]!);
          for (let i = 0; i < waiting.length && !subscriber.closed; i++) send(waiting[i]!);
        } finally {
          delivering = false;
          if (waiting.length > 0) waiting = [];
        }
        if (end === undefined) return;
        if (end === null) subscriber.complete();
        else subscriber.error(end.error);
      };
      // Linked: a synchronous source stops when the output ends (an error below, a `take(n)` downstream).
      const input: Subscriber<HookOutput> = linkedInput(subscriber, {
        // Once `end` is set the source has ended or was left: none of these is called again.
        next(output) {
          // Mapping never throws but for a clock whose `now()` is not a time: the output then errors
          // (from a plain observer, RxJS reported it as unhandled and the stream went on without that
          // hook output's events), after the events already mapped.
          let events: Event[];
          try {
            events = mapHookOutput(output, limits, scheduler, maxAheadMs);
          } catch (error) {
            if (!delivering) subscriber.error(error);
            else {
              end = { error };
              input.unsubscribe();
            }
            return;
          }
          if (!delivering) deliver(events);
          else for (const event of events) waiting.push(event);
        },
        error: (error: unknown) => {
          if (delivering) end = { error };
          else subscriber.error(error);
        },
        complete: () => {
          if (delivering) end = null;
          else subscriber.complete();
        },
      });
      startLinked(source, input);
    });
}

/** Options of `createHookBridge`. */
export interface HookBridgeOptions extends BridgeHooksOptions {
  /**
   * Outputs pushed while nobody subscribes to `events$` are held (not lost) up to this many, and
   * delivered to the next subscriber. Beyond it `push` throws `BRIDGE_BUFFER_FULL`. Default 10,000.
   * (A push while someone subscribes is never refused: it is delivered once the events before it are.
   * An output whose last event went out, even to a subscriber that then left, no longer counts.)
   */
  maxPending?: number | undefined;
}

const BRIDGE_HOOKS_KEYS = optionKeys<BridgeHooksOptions>({
  maxPayloadBytes: true,
  maxDepth: true,
  maxRawLength: true,
  maxAheadMs: true,
  scheduler: true,
});
const HOOK_BRIDGE_KEYS = optionKeys<HookBridgeOptions>({
  maxPayloadBytes: true,
  maxDepth: true,
  maxRawLength: true,
  maxAheadMs: true,
  scheduler: true,
  maxPending: true,
});

/** An imperative entry point to the bridge, for producers that are not Observables. */
export interface HookBridge {
  /**
   * Feeds one hook output. Throws `BRIDGE_CLOSED` after `complete()`, `BRIDGE_BUFFER_FULL` (see
   * `maxPending`), and `InvalidEventError` when it must stamp the output with a `scheduler.now()` that is
   * not a time (the output is then not queued). `timestamp` is the event time in ms since epoch; one that
   * is no time (NaN, negative, not a number, past 9999: see `HookOutput.timestamp`), or with `maxAheadMs`
   * one further ahead of the clock than that, is replaced by `scheduler.now()`, its events marked with
   * `context.timestamp_replaced`.
   */
  push(hook: string, output: unknown, timestamp?: number): void;
  /** The bridged events, hot and shared: every subscriber sees the events pushed while it listens. */
  readonly events$: Observable<Event>;
  /** Completes `events$` once the outputs already pushed are delivered. */
  complete(): void;
}

/**
 * Creates a bridge fed by `push(hook, output)` calls — a Claude Code command hook reading stdin, an
 * HTTP handler — whose `events$` emits the mapped events. Outputs pushed while no one subscribes are
 * buffered (up to `maxPending`) and handed to the next subscriber, so nothing is lost between a
 * dashboard disconnecting and reconnecting. An output is mapped (and, without a timestamp, stamped)
 * when pushed; its events go out one at a time in push order, so a push or `complete()` from a
 * subscriber waits for the events before it, and a subscriber leaving mid-output leaves the rest. One
 * that throws on an event (a `Subscriber` of its own) leaves so, its stream ending with its exception.
 *
 * ## Example
 * ```ts
 * const bridge = createHookBridge();
 * bridge.events$.pipe(temporalAggregate()).subscribe(render);
 * let output: unknown;
 * try {
 *   output = JSON.parse(stdinText);
 * } catch {
 *   output = stdinText; // not JSON: pushed as the raw text, it becomes a `hook.rejected` event carrying it
 * }
 * bridge.push('PostToolUse', output);
 * ```
 *
 * @throws ConfigError at construction when `options` is not an object, `maxPending` is not an integer ≥ 0,
 *   a limit is not a positive integer, `maxAheadMs` is no number ≥ 0, `scheduler` is no `SchedulerLike`, or an option's name is unknown
 *   (named with the nearest known one).
 */
export function createHookBridge(options?: HookBridgeOptions): HookBridge {
  checkOptions('createHookBridge', options, HOOK_BRIDGE_KEYS);
  options = readFields(options, HOOK_BRIDGE_KEYS);
  refuseNull('createHookBridge', options, ['maxPending']);
  checkScheduler('createHookBridge', options?.scheduler);
  const maxPending = options?.maxPending ?? 10_000;
  if (!Number.isInteger(maxPending) || maxPending < 0) {
    throw new ConfigError(
      `createHookBridge: maxPending must be a non-negative integer, got ${shownText(maxPending)}`,
    );
  }
  const limits = bridgeLimits(options, 'createHookBridge');
  const maxAheadMs = bridgeMaxAhead(options, 'createHookBridge');
  const scheduler = options?.scheduler ?? asyncScheduler;
  const input = new Subject<Event>();
  const shared$ = input.pipe(share());
  // The events of each output not yet delivered, oldest first from `head`, of which the first `at` of
  // `pending[head]` went out. Every event goes out from here, one at a time, live or held: a push or a
  // `complete()` from a subscriber during a delivery queues behind it (order is kept), and a subscriber
  // leaving in the middle of an output leaves the rest of it for the next one.
  let pending: Event[][] = [];
  let head = 0;
  let at = 0;
  let subscribers = 0;
  let closed = false;
  let completed = false;
  let draining = false;

  const drain = () => {
    if (draining) return;
    draining = true;
    try {
      while (head < pending.length && subscribers > 0) {
        const events = pending[head]!;
        if (at < events.length) input.next(events[at++]!);
        // An output is done once its last event went out, even if the subscriber left at that event:
        // it no longer waits, nor counts against maxPending.
        if (at >= events.length) {
          head++;
          at = 0;
        }
      }
    } finally {
      draining = false;
      if (head === pending.length) {
        pending = [];
        head = 0;
      } else if (head > 1024 && head * 2 > pending.length) {
        pending = pending.slice(head);
        head = 0;
      }
    }
    if (closed && head === pending.length && subscribers > 0 && !completed) {
      completed = true;
      input.complete();
    }
  };

  const events$ = new Observable<Event>((subscriber) => {
    // A subscriber that throws on an event (a `Subscriber` of its own) ends its stream with that exception
    // and leaves: the rest is held for the next one. Passed to `share()` as it was, its exception was caught
    // by the share's subscription to the input and reported unhandled, and it stayed subscribed.
    const subscription = shared$.subscribe({
      next: (event) => nextOrEnd(subscriber, event),
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    subscribers++;
    subscription.add(() => {
      subscribers--;
    });
    // Before the delivery below: a subscriber that leaves during it (throws, or `take(1)`) stops it.
    subscriber.add(subscription);
    // After the input completed, `share()` subscribes this subscriber to the completed Subject, which
    // completes it at once.
    drain();
  });

  return {
    push(hook, output, timestamp) {
      if (closed) throw new VibespecError('BRIDGE_CLOSED', 'createHookBridge: push() after complete()');
      // Only outputs that wait for a subscriber count against `maxPending`.
      if (subscribers === 0 && pending.length - head >= maxPending) {
        throw new VibespecError(
          'BRIDGE_BUFFER_FULL',
          `createHookBridge: ${maxPending} outputs are waiting for a subscriber to events$; subscribe before pushing more, or raise maxPending`,
        );
      }
      const item: HookOutput = timestamp === undefined ? { hook, output } : { hook, output, timestamp };
      // Mapped now: an output without a timestamp is stamped with the time it was pushed, not the time a
      // subscriber comes to take it.
      pending.push(mapHookOutput(item, limits, scheduler, maxAheadMs));
      if (subscribers > 0) drain();
    },
    events$,
    complete() {
      closed = true;
      drain();
    },
  };
}
