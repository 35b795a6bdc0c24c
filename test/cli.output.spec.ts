import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ignoreStderrErrors, Output } from '../src/cli/output.js';

/** A reader slower than the writer: takes one chunk per turn of the event loop. */
function slowSink(highWaterMark: number) {
  const received: string[] = [];
  let mostBuffered = 0;
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk.toString());
      setImmediate(callback);
    },
  });
  const track = () => {
    mostBuffered = Math.max(mostBuffered, stream.writableLength);
  };
  return { stream, received, track, mostBuffered: () => mostBuffered };
}

describe('the command output', () => {
  it('waits for a slow reader: what it holds stays near the stream highWaterMark', async () => {
    const sink = slowSink(100);
    const output = new Output(sink.stream);
    const lines = Array.from({ length: 1_000 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`);
    for (const line of lines) {
      output.write(line);
      sink.track();
      expect(await output.ready()).toBe(true);
    }
    await new Promise<void>((resolve) => sink.stream.end(resolve));
    expect(sink.received.join('')).toBe(lines.join(''));
    // Without waiting for 'drain' all 11,000 bytes would be held at once.
    expect(sink.mostBuffered()).toBeLessThanOrEqual(100 + lines[0]!.length);
  });

  it('leaves no listener behind after waiting for drain (a long output would warn of a leak)', async () => {
    const sink = slowSink(10);
    const output = new Output(sink.stream);
    const events = ['drain', 'close', 'error'] as const;
    const before = events.map((event) => sink.stream.listenerCount(event));
    for (let i = 0; i < 20; i++) {
      output.write(`line ${i} is longer than the buffer\n`);
      expect(sink.stream.writableNeedDrain).toBe(true);
      expect(await output.ready()).toBe(true);
    }
    expect(events.map((event) => sink.stream.listenerCount(event))).toEqual(before);
  });

  it('stops waiting for drain when the stream is closed meanwhile, and says the reader is gone', async () => {
    const held = new Writable({
      highWaterMark: 10,
      write() {
        // Never done: the reader takes nothing.
      },
    });
    const output = new Output(held);
    output.write('more than ten bytes\n');
    const ready = output.ready();
    held.destroy();
    expect(await ready).toBe(false);
  });

  it('is gone, quietly, once the reader closed the pipe (EPIPE, ECONNRESET); other errors are thrown', async () => {
    const epipe = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const output = new Output(epipe);
    output.write('a\n');
    expect(await output.ready()).toBe(false);
    output.write('b\n'); // dropped, no throw
    expect(output.gone).toBe(true);

    // bridge FILE | head -1 under load: the write failed with ECONNRESET, and bridge said
    // `write ECONNRESET` and exited 1 (cli.spec's pipe test, now and then).
    const reset = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write ECONNRESET'), { code: 'ECONNRESET' }));
      },
    });
    const closed = new Output(reset);
    closed.write('a\n');
    expect(await closed.ready()).toBe(false);
    expect(closed.gone).toBe(true);

    const failing = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EIO'), { code: 'EIO' }));
      },
    });
    const broken = new Output(failing);
    broken.write('a\n');
    await expect(broken.ready()).rejects.toThrow('EIO');
  });
});

describe('ignoreStderrErrors (a stderr whose reader is gone stops no command)', () => {
  // Mutation survivors: only a spawned test (cli.environment.spec) covered it, which a mutant run in process
  // cannot see. Each mutant fails here: no listener (the error thrown), or one more at each call.
  it("keeps an 'error' on stderr (EPIPE) from being thrown, with one listener however often it is called", () => {
    const before = process.stderr.listeners('error');
    ignoreStderrErrors();
    const once = process.stderr.listeners('error');
    ignoreStderrErrors();
    try {
      expect(process.stderr.listeners('error')).toEqual(once);
      expect(once.length - before.length).toBeLessThanOrEqual(1);
      const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      expect(() => process.stderr.emit('error', epipe)).not.toThrow();
    } finally {
      for (const listener of process.stderr.listeners('error')) {
        if (!before.includes(listener)) process.stderr.off('error', listener as (error: Error) => void);
      }
    }
  });
});
