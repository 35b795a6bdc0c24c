import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output } from '../src/cli/output.js';

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

  it('is gone, quietly, once the reader closed the pipe (EPIPE); other errors are thrown', async () => {
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
