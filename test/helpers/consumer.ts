import { Subscriber } from 'rxjs';

/**
 * A consumer that calls `react` on each output and throws when it returns true. A `Subscriber` of its
 * own, which `subscribe` uses as it is, so the exception reaches the operator (a plain observer's is
 * caught by RxJS and reported asynchronously). Records every output and how the output ended (`error
 * <message>` or `complete`), then unsubscribes, as RxJS's subscribers do.
 */
export class ThrowingConsumer<T> extends Subscriber<T> {
  readonly got: Array<T | string> = [];
  /** Resolves when the output ends (error or complete). */
  readonly ended: Promise<void>;
  #end!: () => void;

  /** `label` names an output in the exception's message; default its JSON. */
  constructor(
    private readonly react: (value: T) => boolean,
    private readonly label: (value: T) => string = (value) => JSON.stringify(value),
  ) {
    super();
    this.ended = new Promise((resolve) => {
      this.#end = resolve;
    });
  }

  protected override _next(value: T): void {
    this.got.push(value);
    if (this.react(value)) throw new Error(`consumer on ${this.label(value)}`);
  }

  protected override _error(error: unknown): void {
    this.got.push(`error ${(error as Error).message}`);
    this.#end();
    this.unsubscribe();
  }

  protected override _complete(): void {
    this.got.push('complete');
    this.#end();
    this.unsubscribe();
  }
}
