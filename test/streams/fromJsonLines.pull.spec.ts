/**
 * fromJsonLines: what it asks of its input, chunk by chunk: no chunk pulled, and nothing sent, once the
 * subscriber has gone (from inside an output, during a turn of the event loop, or while a pull is pending),
 * and an input that fails before its first chunk is an error notification only.
 */
import { config, take } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { fromJsonLines, type HookOutput } from '../../src/index.js';
import { unhandledRejections } from '../helpers/unhandled.js';

const LINE = '{"hook":"h","output":{}}\n';
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** An endless input of one line per chunk, without return(): only the reader's own checks stop it. */
function counted(): { input: Iterable<string>; pulled: () => number } {
  let pulled = 0;
  const input: Iterable<string> = {
    [Symbol.iterator]: () => ({
      next: () => {
        pulled++;
        return { done: false, value: LINE };
      },
    }),
  };
  return { input, pulled: () => pulled };
}

afterEach(() => {
  config.onStoppedNotification = null;
});

describe('fromJsonLines pulls nothing once unsubscribed', () => {
  it('from inside an output (take): not one chunk more', async () => {
    const { input, pulled } = counted();
    const seen: HookOutput[] = [];
    fromJsonLines(input)
      .pipe(take(3))
      .subscribe((o) => seen.push(o));
    for (let i = 0; i < 3; i++) await turn();
    expect(seen).toHaveLength(3);
    expect(pulled()).toBe(3);
  });

  it('during the turn of the event loop it lets run every 256 chunks: the 256 read before it, none after', async () => {
    const { input, pulled } = counted();
    let seen = 0;
    const subscription = fromJsonLines(input).subscribe(() => seen++);
    // Queued before the reader's turn (its first 256 chunks are microtasks): it runs in that turn.
    setImmediate(() => subscription.unsubscribe());
    for (let i = 0; i < 3; i++) await turn();
    expect(pulled()).toBe(256);
    expect(seen).toBe(256);
  });

  it('sends nothing to the subscriber it left: a chunk, or a failure, that comes after', async () => {
    const stopped: unknown[] = [];
    config.onStoppedNotification = (notification) => stopped.push(notification);
    // A pull pending when the subscriber leaves, then given a chunk: not read for nobody.
    let give!: (step: IteratorResult<string>) => void;
    const pending: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<string>>((resolve) => {
            give = resolve;
          }),
      }),
    };
    fromJsonLines(pending).subscribe().unsubscribe();
    give({ done: false, value: LINE });
    // One that then fails: no error to the subscriber that left.
    let fail!: (error: Error) => void;
    const failing: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<string>>((_, reject) => {
            fail = reject;
          }),
      }),
    };
    fromJsonLines(failing)
      .subscribe({ error: () => undefined })
      .unsubscribe();
    fail(new Error('EIO'));
    for (let i = 0; i < 3; i++) await turn();
    // RxJS tells of a notification to a stopped subscriber in a timer of its own.
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(stopped).toEqual([]);
  });
});

describe('fromJsonLines, an input that fails at once', () => {
  it('whose iterator cannot be made: SOURCE_FAILED, and nothing thrown from its teardown', async () => {
    const broken = new Error('no iterator');
    const input: Iterable<string> = {
      [Symbol.iterator]: () => {
        throw broken;
      },
    };
    const errors: unknown[] = [];
    const unhandled = await unhandledRejections(async () => {
      fromJsonLines(input).subscribe({ error: (error) => errors.push(error) });
      for (let i = 0; i < 3; i++) await turn();
    });
    expect(errors).toMatchObject([{ code: 'SOURCE_FAILED', cause: broken }]);
    expect(unhandled).toEqual([]);
  });
});
