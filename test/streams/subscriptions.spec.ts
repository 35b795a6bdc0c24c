/**
 * The sources subscribed more than once: an input that can be read once goes to its first subscription
 * only, and the options are read at the call, not at each subscription.
 */
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, Readable } from 'node:stream';
import { catchError, firstValueFrom, map, type Observable, of, repeat, retry, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createFlowGate,
  type FlowGate,
  fromHookFile,
  fromHookFileMarked,
  fromJsonLines,
  type HookFileOptions,
  type JsonLinesOptions,
  pullFrom,
  VibespecError,
} from '../../src/index.js';
import { until } from '../helpers/until.js';

const collect = <T>(source: Observable<T>) => firstValueFrom(source.pipe(toArray()));
/** What a subscription got: its items, then its error's code and message, if it errored. */
const outcome = <T>(source: Observable<T>) =>
  collect(
    source.pipe(
      map((item) => ({ item })),
      catchError((error: unknown) =>
        of({
          error: error instanceof VibespecError ? error.code : String(error),
          message: error instanceof Error ? error.message : '',
        }),
      ),
    ),
  );
const line = (i: number) => `${JSON.stringify({ hook: 'Stop', output: { i } })}\n`;
function* lines(count: number) {
  for (let i = 0; i < count; i++) yield line(i);
}
const indexOf = (output: { output: unknown }) => (output.output as { i: number }).i;

describe('an input that can be read once', () => {
  const ONCE = /^fromJsonLines: the input can be read once .*another subscription has taken it; share\(\)/;

  it('fromJsonLines: goes to its first subscription whole; a second at the same time errors at once (each got every other line)', async () => {
    for (const input of [lines(6), Readable.from([...lines(6)])]) {
      const source = fromJsonLines(input);
      const [first, second] = await Promise.all([outcome(source), outcome(source)]);
      expect(first.map((o) => ('item' in o ? indexOf(o.item) : o))).toEqual([0, 1, 2, 3, 4, 5]);
      expect(second).toEqual([{ error: 'SOURCE_FAILED', message: expect.stringMatching(ONCE) }]);
    }
  });

  it('fromJsonLines: a subscription after the first one ended errors (it completed with nothing; repeat() looped on empty runs)', async () => {
    const generator = lines(2);
    const source = fromJsonLines(generator);
    expect(await collect(source.pipe(map(indexOf)))).toEqual([0, 1]);
    expect(await outcome(source)).toEqual([{ error: 'SOURCE_FAILED', message: expect.stringMatching(ONCE) }]);
    // Another Observable of the same input too: the input is what was taken.
    expect(await outcome(fromJsonLines(generator))).toEqual([
      { error: 'SOURCE_FAILED', message: expect.stringMatching(ONCE) },
    ]);
    const looped = await outcome(fromJsonLines(lines(1)).pipe(repeat(3)));
    expect(looped.map((o) => ('item' in o ? indexOf(o.item) : o.error))).toEqual([0, 'SOURCE_FAILED']);
  });

  it('fromJsonLines: the refused subscription leaves a Readable alone: the first one reads on (it was destroyed under it)', async () => {
    const stream = new PassThrough();
    const source = fromJsonLines(stream);
    const got: number[] = [];
    let ended = false;
    source.subscribe({ next: (output) => got.push(indexOf(output)), complete: () => (ended = true) });
    let refused: unknown;
    source.subscribe({ error: (error: unknown) => (refused = error) }).unsubscribe();
    expect(refused).toBeInstanceOf(VibespecError);
    expect(refused).toMatchObject({ code: 'SOURCE_FAILED', message: expect.stringMatching(ONCE) });
    expect(stream.destroyed).toBe(false);
    stream.end(line(0) + line(1));
    await until(() => ended);
    expect(got).toEqual([0, 1]);
    expect(stream.destroyed).toBe(true); // by its own reader, once read
  });

  it('a retry() of an input that failed says how the subscription that took it ended, as its cause (it said "another subscription has taken it" alone: the ENOENT was lost)', async () => {
    const missing = join(tmpdir(), `vibespec-missing-${process.pid}-${Date.now()}.jsonl`);
    const retried = await firstValueFrom(
      fromJsonLines(createReadStream(missing)).pipe(
        retry(2),
        catchError((error: unknown) => of(error)),
      ),
    );
    expect(retried).toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringMatching(/another subscription has taken it; .*ended with: ENOENT: /),
      cause: { code: 'ENOENT' },
    });
    const boom = new Error('boom');
    function* failing() {
      yield 1;
      throw boom;
    }
    const pulled = await firstValueFrom(
      pullFrom(failing(), createFlowGate()).pipe(
        retry(1),
        toArray(),
        catchError((error: unknown) => of(error)),
      ),
    );
    expect(pulled).toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringMatching(/ended with: boom$/),
    });
    expect((pulled as Error).cause).toBe(boom);
    // Failed before anything was read, it is refused all the same: the subscription that failed closed it
    // as it left (return(): a generator that threw, or was returned, gives nothing more), so a retry read
    // nothing and completed, the failure lost.
    function* failingAtOnce(): Generator<string> {
      if (boom instanceof Error) throw boom;
      yield line(0);
    }
    const gateFailed = new Error('gate failed');
    const failedGate = { isOpen: false, whenOpen: () => Promise.reject(gateFailed) } as unknown as FlowGate;
    for (const [source, cause] of [
      [fromJsonLines(failingAtOnce()), boom],
      [pullFrom(failingAtOnce(), createFlowGate()), boom],
      [pullFrom(lines(2), failedGate), gateFailed],
    ] as const) {
      const refused = await firstValueFrom(
        (source as Observable<unknown>).pipe(
          retry(1),
          toArray(),
          catchError((error: unknown) => of(error)),
        ),
      );
      expect(refused).toMatchObject({
        code: 'SOURCE_FAILED',
        message: expect.stringMatching(/ended with: /),
      });
      expect((refused as Error).cause).toBe(cause);
    }
    // One that did not fail says nothing more: taken, not failed.
    const generator = lines(1);
    await collect(fromJsonLines(generator));
    const [refused] = await outcome(fromJsonLines(generator));
    expect(refused).toMatchObject({
      error: 'SOURCE_FAILED',
      message: expect.not.stringMatching(/ended with/),
    });
  });

  it('fromJsonLines: an input whose iterator method gives the same iterator each time (as a readline Interface does) goes to its first subscription whole; a second at the same time errors', async () => {
    // Not busy by itself (the iterator, not the input, is what the first subscription took): the second is
    // refused when it gets that iterator, and does not read it (each got every other line).
    const shared = lines(6);
    const source = fromJsonLines({ [Symbol.iterator]: () => shared });
    const [first, second] = await Promise.all([outcome(source), outcome(source)]);
    expect(first.map((o) => ('item' in o ? indexOf(o.item) : o))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(second).toEqual([{ error: 'SOURCE_FAILED', message: expect.stringMatching(ONCE) }]);
  });

  it('fromJsonLines: a generator object that gives nothing completes its first subscription (it is not read again)', async () => {
    expect(await outcome(fromJsonLines(lines(0)))).toEqual([]);
  });

  it('fromJsonLines: one left in the middle refuses the next subscription without an error of its own to tell', async () => {
    const source = fromJsonLines(lines(3));
    expect(await collect(source.pipe(take(1), map(indexOf)))).toEqual([0]);
    const [refused] = await outcome(source);
    expect(refused).toEqual({ error: 'SOURCE_FAILED', message: expect.stringMatching(ONCE) });
    // Left, not failed: the message ends as it is, with no "The subscription that took it ended with".
    expect((refused as { message: string }).message).toMatch(
      /pass an iterable that makes a new iterator each time \(an array\)$/,
    );
  });

  it('fromJsonLines: an input that makes a new iterator each time (an array) is read whole by each subscription', async () => {
    const source = fromJsonLines([...lines(3)]);
    const [first, second] = await Promise.all([collect(source), collect(source)]);
    expect(first.map(indexOf)).toEqual([0, 1, 2]);
    expect(second.map(indexOf)).toEqual([0, 1, 2]);
    expect((await collect(source)).map(indexOf)).toEqual([0, 1, 2]);
  });

  it('pullFrom: a generator object that gives nothing completes its first subscription; one left in the middle refuses the next with the plain message', async () => {
    const gate = createFlowGate();
    expect(await outcome(pullFrom(lines(0), gate))).toEqual([]);
    const source = pullFrom(lines(3), gate);
    expect(await collect(source.pipe(take(1)))).toEqual([line(0)]);
    const [refused] = await outcome(source);
    expect(refused).toEqual({
      error: 'SOURCE_FAILED',
      message: expect.stringMatching(/^pullFrom: the source can be read once /),
    });
    // Left, not failed: no "The subscription that took it ended with".
    expect((refused as { message: string }).message).toMatch(
      /pass an iterable that makes a new iterator each time \(an array\)$/,
    );
  });

  it('pullFrom: goes to its first subscription whole; a second, at the same time or later, errors', async () => {
    const gate = createFlowGate();
    async function* numbers() {
      for (let i = 0; i < 6; i++) yield i;
    }
    const taken = /^pullFrom: the source can be read once .*another subscription has taken it; share\(\)/;
    // A readline Interface gives the same iterator at each call (made at its turn: it reads at once).
    const readline = () => createInterface({ input: Readable.from(['0\n1\n2\n3\n4\n5\n']) });
    const inputs = [
      () => [0, 1, 2, 3, 4, 5].values(),
      numbers,
      () => Readable.from([0, 1, 2, 3, 4, 5]),
      readline,
    ];
    for (const make of inputs) {
      const input: Iterable<number> | AsyncIterable<number | string> = make();
      const source = pullFrom<number | string>(input, gate);
      const [first, second] = await Promise.all([outcome(source), outcome(source)]);
      expect(first.map((o) => ('item' in o ? Number(o.item) : o))).toEqual([0, 1, 2, 3, 4, 5]);
      expect(second).toEqual([{ error: 'SOURCE_FAILED', message: expect.stringMatching(taken) }]);
      expect(await outcome(source)).toEqual([
        { error: 'SOURCE_FAILED', message: expect.stringMatching(taken) },
      ]);
    }
    // Left by its first subscription, it is not given to the next (it was: an empty run).
    const left = pullFrom(numbers(), gate);
    expect(await collect(left.pipe(take(2)))).toEqual([0, 1]);
    expect(await outcome(left)).toEqual([{ error: 'SOURCE_FAILED', message: expect.stringMatching(taken) }]);
    // An array is read afresh by each.
    const array = pullFrom([1, 2], gate);
    expect(await Promise.all([collect(array), collect(array)])).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });
});

/**
 * A readable stream that is no Node `Readable` (`instanceof` misses it), with the surface of the
 * `readable-stream` package's (what older `through2` and `split2` hand out): an `EventEmitter` with
 * `read()`, `pipe()`, `destroy()`, and an async iterator method that makes a new iterator at each call,
 * every iterator taking its chunks from the one buffer.
 */
class OtherReadable extends EventEmitter {
  readable = true;
  destroyed = false;
  private readonly buffered: string[];
  private ended = false;
  private waiting: (() => void) | undefined;
  constructor(chunks: readonly string[], end = true) {
    super();
    this.buffered = [...chunks];
    this.ended = end;
  }
  read(): string | null {
    return this.buffered.shift() ?? null;
  }
  push(chunk: string | null): void {
    if (chunk === null) this.ended = true;
    else this.buffered.push(chunk);
    this.waiting?.();
  }
  pipe<T>(destination: T): T {
    return destination;
  }
  destroy(): this {
    this.destroyed = true;
    this.readable = false;
    this.waiting?.();
    this.emit('close');
    return this;
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    for (;;) {
      await null; // a chunk at a time, as a stream's iterator gives them
      if (this.destroyed) return;
      const chunk = this.read();
      if (chunk !== null) yield chunk;
      else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
}

/** Starts over each time it is asked for its iterator, and is that iterator: read again by each. */
class Restarting implements IterableIterator<number> {
  private at = 0;
  constructor(private readonly count: number) {}
  [Symbol.iterator]() {
    this.at = 0;
    return this;
  }
  next(): IteratorResult<number> {
    return this.at < this.count ? { value: this.at++, done: false } : { value: undefined, done: true };
  }
}

/** The lines of `numbers`, starting over with it: its own iterator, as it is. */
class LinesOf implements IterableIterator<string> {
  constructor(private readonly numbers: Restarting) {}
  [Symbol.iterator]() {
    this.numbers[Symbol.iterator]();
    return this;
  }
  next(): IteratorResult<string> {
    const step = this.numbers.next();
    return step.done ? step : { value: line(step.value), done: false };
  }
}

/** Its own iterator too, but goes on where it was (the common `IterableIterator` class): read once. */
class GoingOn implements IterableIterator<number> {
  private at = 0;
  constructor(private readonly count: number) {}
  [Symbol.iterator]() {
    return this;
  }
  next(): IteratorResult<number> {
    return this.at < this.count ? { value: this.at++, done: false } : { value: undefined, done: true };
  }
}

describe('a Readable that has ended before it is subscribed', () => {
  it('fromJsonLines and pullFrom: it errors, read to its end by another reader (it completed with nothing, without a word)', async () => {
    const ENDED =
      /^(fromJsonLines|pullFrom): the (input|source) is a stream that has ended: it was read to its end before/;
    for (const read of [
      (stream: Readable): Observable<unknown> => fromJsonLines(stream),
      (stream: Readable): Observable<unknown> => pullFrom(stream, createFlowGate()),
    ]) {
      const stream = Readable.from([line(0), line(1)]);
      let seen = 0;
      stream.on('data', () => seen++);
      await new Promise((resolve) => stream.once('end', resolve));
      expect(seen).toBe(2);
      expect(await outcome(read(stream))).toEqual([
        { error: 'SOURCE_FAILED', message: expect.stringMatching(ENDED) },
      ]);
    }
  });
});

describe('a stream of another package, known by its shape', () => {
  const taken = /the (input|source) can be read once .*another subscription has taken it; share\(\)/;

  it('fromJsonLines and pullFrom: goes to its first subscription whole; a second at the same time errors at once (each got every other chunk)', async () => {
    const source = fromJsonLines(new OtherReadable([...lines(6)]));
    const [first, second] = await Promise.all([outcome(source), outcome(source)]);
    expect(first.map((o) => ('item' in o ? indexOf(o.item) : o))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(second).toEqual([{ error: 'SOURCE_FAILED', message: expect.stringMatching(taken) }]);
    const pulled = pullFrom(new OtherReadable(['a', 'b', 'c', 'd']), createFlowGate());
    expect(await Promise.all([outcome(pulled), outcome(pulled)])).toEqual([
      [{ item: 'a' }, { item: 'b' }, { item: 'c' }, { item: 'd' }],
      [{ error: 'SOURCE_FAILED', message: expect.stringMatching(taken) }],
    ]);
  });

  it('read to its end, it gives a later subscription nothing, which is refused; an object of its shape that starts over is read again (it was refused)', async () => {
    const stream = new OtherReadable([line(0), line(1)]);
    const source = fromJsonLines(stream);
    expect(await collect(source.pipe(map(indexOf)))).toEqual([0, 1]);
    expect(await outcome(source)).toEqual([
      { error: 'SOURCE_FAILED', message: expect.stringMatching(taken) },
    ]);
    // `on`, `read` and an async iterator that reads its lines afresh at each call: a log of one's own.
    const log = Object.assign(new EventEmitter(), {
      read: () => null,
      async *[Symbol.asyncIterator]() {
        yield* lines(2);
      },
    });
    const again = await outcome(fromJsonLines(log).pipe(repeat(2)));
    expect(again.map((o) => ('item' in o ? indexOf(o.item) : o))).toEqual([0, 1, 0, 1]);
    const pulled = await outcome(pullFrom(log, createFlowGate()).pipe(repeat(2)));
    expect(pulled).toEqual([...lines(2), ...lines(2)].map((item) => ({ item })));
  });

  it('the refused subscription leaves it alone; the one that took it destroys it when it leaves, even while it waits for data', async () => {
    const stream = new OtherReadable([line(0)], false);
    const source = fromJsonLines(stream);
    const got: number[] = [];
    const first = source.subscribe({ next: (output) => got.push(indexOf(output)) });
    let refused: unknown;
    source.subscribe({ error: (error: unknown) => (refused = error) }).unsubscribe();
    expect(refused).toMatchObject({ code: 'SOURCE_FAILED', message: expect.stringMatching(taken) });
    stream.push(line(1));
    await until(() => got.length === 2);
    expect([got, stream.destroyed]).toEqual([[0, 1], false]);
    first.unsubscribe(); // its iterator waits for a chunk that never comes
    expect(stream.destroyed).toBe(true);
  });
});

describe('a web ReadableStream', () => {
  const web = (count: number) =>
    new ReadableStream<string>({
      start(controller) {
        for (const text of lines(count)) controller.enqueue(text);
        controller.close();
      },
    });
  const taken = /the (input|source) can be read once .*another subscription has taken it; share\(\)/;
  const refused = [{ error: 'SOURCE_FAILED', message: expect.stringMatching(taken) }];

  it('is read once: a second subscription at the same time, or after the first read it to its end, errors (it was "locked", then an empty completion)', async () => {
    const source = fromJsonLines(web(3) as AsyncIterable<string>);
    const [first, second] = await Promise.all([outcome(source), outcome(source)]);
    expect(first.map((o) => ('item' in o ? indexOf(o.item) : o))).toEqual([0, 1, 2]);
    expect([second, await outcome(source)]).toEqual([refused, refused]);
    const pulled = pullFrom(web(2) as AsyncIterable<string>, createFlowGate());
    const [one, other] = await Promise.all([outcome(pulled), outcome(pulled)]);
    expect(one).toEqual([{ item: line(0) }, { item: line(1) }]);
    expect([other, await outcome(pulled)]).toEqual([refused, refused]);
  });

  it("is cancelled when its subscription leaves, even while it waits for data (it stayed locked and open: its iterator's return() waits for the read)", async () => {
    for (const read of [
      (stream: ReadableStream<string>): Observable<unknown> => fromJsonLines(stream as AsyncIterable<string>),
      (stream: ReadableStream<string>): Observable<unknown> =>
        pullFrom(stream as AsyncIterable<string>, createFlowGate()),
    ]) {
      const cancelled: unknown[] = [];
      let pulls = 0;
      // Gives one line, then waits for ever: an idle socket's, a response body's.
      const stream = new ReadableStream<string>({
        pull(controller) {
          if (++pulls === 1) controller.enqueue(line(0));
          return new Promise<void>(() => undefined);
        },
        cancel: (reason) => void cancelled.push(reason),
      });
      const got: unknown[] = [];
      const subscription = read(stream).subscribe({ next: (item) => got.push(item) });
      await until(() => got.length === 1);
      subscription.unsubscribe();
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect([cancelled.length, stream.locked]).toEqual([1, false]);
      // One that always has data, left by take(2): cancelled and released as well.
      let cancels = 0;
      const flowing = new ReadableStream<string>({
        pull: (controller) => controller.enqueue(line(0)),
        cancel: () => void cancels++,
      });
      expect(await collect(read(flowing).pipe(take(2)))).toHaveLength(2);
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect([cancels, flowing.locked]).toEqual([1, false]);
    }
  });
});

describe('a stream of the old kind, without an async iterator (readable-stream 2, through2 2)', () => {
  /** `data` and `end` events, `pause`, `resume`, `pipe`: no async iterator to read it by. */
  class OldStream extends EventEmitter {
    readable = true;
    pause() {
      return this;
    }
    resume() {
      return this;
    }
    pipe<T>(destination: T): T {
      return destination;
    }
  }

  it('is a ConfigError that says how to read it (it said the input must be a Readable, got [object Object]); read so, it gives every line', async () => {
    const hint =
      /got OldStream \{.*\}: a stream without an async iterator \(readable-stream 2, an old-style stream\) is read through new Readable\(\)\.wrap\(stream\)/;
    expect(() => fromJsonLines(new OldStream() as never)).toThrow(ConfigError);
    expect(() => fromJsonLines(new OldStream() as never)).toThrow(hint);
    expect(() => pullFrom(new OldStream() as never, createFlowGate())).toThrow(hint);
    // Any other object that is no iterable is told what it is, as before.
    expect(() => fromJsonLines({ on() {} } as never)).toThrow(/got \{ on: on\(\) \{\} \}$/);
    const old = new OldStream();
    const got = collect(fromJsonLines(new Readable().wrap(old as never)).pipe(map(indexOf)));
    old.emit('data', Buffer.from(line(0)));
    old.emit('data', line(1));
    old.emit('end');
    expect(await got).toEqual([0, 1]);
  });
});

describe('an iterator of its own that starts over when asked for itself', () => {
  const gate = createFlowGate();
  const numbers = (source: Observable<unknown>) =>
    outcome(source).then((got) => got.map((o) => ('item' in o ? o.item : o.error)));

  it('pullFrom and fromJsonLines: each subscription after one that read it to its end reads it again (repeat() was refused)', async () => {
    expect(await numbers(pullFrom(new Restarting(3), gate).pipe(repeat(3)))).toEqual([
      0, 1, 2, 0, 1, 2, 0, 1, 2,
    ]);
    const text = fromJsonLines(new LinesOf(new Restarting(2)));
    expect((await collect(text.pipe(repeat(2)))).map(indexOf)).toEqual([0, 1, 0, 1]);
  });

  it('two at once: the second is refused without asking for the iterator, which started the first over (it read 0 twice)', async () => {
    for (const read of [
      (input: Restarting): Observable<unknown> => pullFrom(input, gate),
      (input: Restarting): Observable<unknown> => fromJsonLines(new LinesOf(input)),
    ]) {
      const source = read(new Restarting(3));
      const got: unknown[] = [];
      let ended = false;
      source.subscribe({ next: (item) => got.push(item), complete: () => (ended = true) });
      let refused: unknown;
      source.subscribe({ error: (error: unknown) => (refused = error) });
      await until(() => ended);
      expect(
        got.map((item) => (typeof item === 'number' ? item : indexOf(item as { output: unknown }))),
      ).toEqual([0, 1, 2]);
      expect(refused).toMatchObject({ code: 'SOURCE_FAILED' });
    }
  });

  it('not after one that left it in the middle or failed on it: it cannot be told from one that goes on where it was', async () => {
    const source = pullFrom(new Restarting(3), gate);
    expect(await numbers(source.pipe(take(1)))).toEqual([0]);
    expect(await numbers(source)).toEqual(['SOURCE_FAILED']);
    // One that goes on where it was and was read to its end: refused at its first step (it gave nothing).
    const goingOn = pullFrom(new GoingOn(2), gate);
    expect(await numbers(goingOn.pipe(repeat(3)))).toEqual([0, 1, 'SOURCE_FAILED']);
    const left = pullFrom(new GoingOn(3), gate);
    expect(await numbers(left.pipe(take(1)))).toEqual([0]);
    expect(await numbers(left)).toEqual(['SOURCE_FAILED']); // it would have given 1, 2 as if whole
  });
});

describe('options read once, at the call', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vibespec-subscriptions-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Options whose getters count their reads; `set` changes what they give from then on. */
  function counted(hook: string) {
    const reads = { hook: 0, maxLineLength: 0 };
    let given = { hook, maxLineLength: 1_000 };
    const options = {
      get hook() {
        reads.hook++;
        return given.hook;
      },
      get maxLineLength() {
        reads.maxLineLength++;
        return given.maxLineLength;
      },
    };
    return { options, reads, set: (next: typeof given) => (given = next) };
  }
  const bare = `${JSON.stringify({ session_id: 'A' })}\n`; // names no hook: it takes the option's
  const long = `${JSON.stringify({ hook: 'Stop', output: { text: 'x'.repeat(2_000) } })}\n`;

  it("fromJsonLines: each getter is read once, and a change after the call changes no subscription's lines", async () => {
    const { options, reads, set } = counted('given');
    const source = fromJsonLines([bare, long], options as JsonLinesOptions);
    set({ hook: 'changed', maxLineLength: 1 });
    for (let run = 0; run < 2; run++) {
      const outputs = await collect(source);
      expect(outputs.map((o) => [o.hook, o.error === undefined])).toEqual([
        ['given', true],
        ['Stop', false], // longer than 1,000 characters
      ]);
    }
    expect(reads).toEqual({ hook: 1, maxLineLength: 1 });
  });

  it("fromHookFile and fromHookFileMarked: each getter is read once, and a change after the call changes no subscription's lines", async () => {
    const path = join(dir, 'hooks.jsonl');
    await writeFile(path, bare + long);
    for (const read of [
      (options: HookFileOptions) => fromHookFile(path, options),
      (options: HookFileOptions) => fromHookFileMarked(path, options).pipe(map((marked) => marked.output)),
    ]) {
      const { options, reads, set } = counted('given');
      const source = read(options as HookFileOptions);
      set({ hook: 'changed', maxLineLength: 1 });
      for (let run = 0; run < 2; run++) {
        const outputs = await collect(source);
        expect(outputs.map((o) => [o.hook, o.error === undefined])).toEqual([
          ['given', true],
          ['Stop', false],
        ]);
      }
      expect(reads).toEqual({ hook: 1, maxLineLength: 1 });
    }
  });

  it('fromJsonLines: options changed to invalid ones after the call still read with the ones given (the next subscription errored with a ConfigError)', async () => {
    const options: { hook: unknown; maxLineLength: unknown } = { hook: 'given', maxLineLength: 1_000 };
    const source = fromJsonLines([bare], options as JsonLinesOptions);
    options.hook = 42;
    options.maxLineLength = -1;
    expect((await collect(source)).map((o) => o.hook)).toEqual(['given']);
  });
});
