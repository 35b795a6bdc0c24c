/**
 * @internal The subscription of an operator to its source, tied to the operator's consumer before the
 * source starts. Not part of the public API.
 *
 * An operator built as `new Observable((subscriber) => source.subscribe(observer))` gets its teardown
 * only once `source.subscribe` returns. A synchronous source (`from(generator)`, `range`, a `Subject`
 * pushed from inside `subscribe`) that the consumer leaves from inside its first output (`take(1)`) is
 * then read to its end: every later input is handled (a handler called, a batch cut, a metric recorded)
 * for nobody. `subscribeLinked` gives the source a `Subscriber` that the consumer's subscriber holds, so
 * the source stops as soon as the consumer unsubscribes. (`WindowShell` does the same for
 * `temporalAggregate` and `sessionWindows`.)
 */
import { type Observable, type Observer, Subscriber, type Subscription } from 'rxjs';

/**
 * The source's subscriber. A `Subscriber` is used by `subscribe` as it is (a plain observer would be
 * wrapped in a `SafeSubscriber`), so what the callbacks throw reaches the source, as with RxJS's own
 * operators: the callbacks guard what may fail.
 */
class LinkedSubscriber<T> extends Subscriber<T> {
  constructor(private readonly observer: Observer<T>) {
    super();
  }

  protected override _next(value: T): void {
    this.observer.next(value);
  }

  protected override _error(error: unknown): void {
    try {
      this.observer.error(error);
    } finally {
      this.unsubscribe();
    }
  }

  protected override _complete(): void {
    try {
      this.observer.complete();
    } finally {
      this.unsubscribe();
    }
  }
}

/**
 * Subscribes `observer` to `source`, the subscription held by `consumer` from before the source starts:
 * when `consumer` unsubscribes (even from inside the source's synchronous emission), the source stops.
 * Returns the subscription, to end the input earlier.
 */
export function subscribeLinked<T>(
  source: Observable<T>,
  consumer: Subscriber<unknown>,
  observer: Observer<T>,
): Subscription {
  return startLinked(source, linkedInput(consumer, observer));
}

/**
 * The first half of `subscribeLinked`: the source's subscriber, held by `consumer`, not subscribed yet.
 * For an operator that ends its input itself while its consumer stays (outcomes still owed): holding it
 * before the source starts, it can leave a synchronous source still inside `subscribe` (unsubscribing it
 * stops the source's loop), which the subscription `subscribeLinked` returns only afterwards cannot do.
 * Start it with `startLinked`.
 */
export function linkedInput<T>(consumer: Subscriber<unknown>, observer: Observer<T>): Subscriber<T> {
  const input = new LinkedSubscriber(observer);
  consumer.add(input);
  return input;
}

/** The second half of `subscribeLinked`: subscribes `input` (from `linkedInput`) to `source`; returns it. */
export function startLinked<T>(source: Observable<T>, input: Subscriber<T>): Subscription {
  // A source of another copy of RxJS takes `input` as a plain observer: its own subscription is ended
  // with `input` (for this copy's sources it is `input`).
  const subscription = source.subscribe(input);
  if (subscription !== input) input.add(subscription);
  return input;
}

/**
 * Hands `value` to `subscriber`. A consumer that throws on it (a `Subscriber` of its own, whose exception
 * reaches the source) ends the stream with its exception: thrown on, it would escape into whatever
 * pushed the value (a timer, a shared subject, the producer), and the stream would go on for a consumer
 * that is gone. Returns whether the value went through.
 */
export function nextOrEnd<T>(subscriber: Subscriber<T>, value: T): boolean {
  try {
    subscriber.next(value);
    return true;
  } catch (error) {
    subscriber.error(error);
    return false;
  }
}
