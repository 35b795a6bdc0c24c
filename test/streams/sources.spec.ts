import { execFileSync } from 'node:child_process';
import { constants, createReadStream, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import {
  appendFile,
  chmod,
  mkdir,
  mkdtemp,
  open,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { firstValueFrom, type Observable, queueScheduler, take, toArray, VirtualTimeScheduler } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bridgeHooks,
  ConfigError,
  createHookBridge,
  type FileChange,
  fromFileWatcher,
  fromHookFile,
  fromHookFileMarked,
  fromJsonLines,
  type HookFileOptions,
  type HookOutput,
  type MarkedHookOutput,
  VibespecError,
} from '../../src/index.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { asWritten } from '../helpers/fileChanges.js';
import { FIXTURES_PATH, loadFixtures } from '../helpers/fixtures.js';
import { unhandledRejections } from '../helpers/unhandled.js';
import { until } from '../helpers/until.js';

const collect = <T>(source: Observable<T>) => firstValueFrom(source.pipe(toArray()));
/** The path an open file descriptor of this process is of, or undefined once it is closed. */
const fdPath = (fd: string) => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-sources-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fromJsonLines', () => {
  it('reads envelopes, captures and bare payloads', async () => {
    const lines = [
      JSON.stringify({ hook: 'file-watcher', output: { changes: [] }, timestamp: 5 }),
      JSON.stringify({ hook_event_name: 'Stop', payload: { session_id: 's' } }),
      JSON.stringify({ hook_event_name: 'SessionEnd', session_id: 's', reason: 'x' }),
      JSON.stringify({ something: 'else' }),
    ];
    const outputs = await collect(fromJsonLines([`${lines.join('\n')}\n`], { hook: 'custom' }));
    expect(outputs).toEqual([
      { hook: 'file-watcher', output: { changes: [] }, timestamp: 5 },
      { hook: 'Stop', output: { session_id: 's' } },
      { hook: 'SessionEnd', output: { hook_event_name: 'SessionEnd', session_id: 's', reason: 'x' } },
      { hook: 'custom', output: { something: 'else' } },
    ]);
  });

  it('reads a line that is no envelope, capture or payload as the output of the default hook', async () => {
    const lines = ['null', '"text"', '5', '[1,2]', '{"hook":"h"}', '{"output":{}}', '{"hook":7,"output":{}}'];
    const outputs = await collect(fromJsonLines([`${lines.join('\n')}\n`], { hook: 'custom' }));
    expect(outputs).toStrictEqual([
      { hook: 'custom', output: null },
      { hook: 'custom', output: 'text' },
      { hook: 'custom', output: 5 },
      { hook: 'custom', output: [1, 2] },
      { hook: 'custom', output: { hook: 'h' } },
      { hook: 'custom', output: { output: {} } },
      { hook: 'custom', output: { hook: 7, output: {} } },
    ]);
  });

  it("keeps an envelope's or a capture's timestamp when it is a number, and no other: another value is in givenTimestamp", async () => {
    const lines = [
      '{bad',
      JSON.stringify({ hook: 'h', output: {}, timestamp: 'soon' }),
      JSON.stringify({ hook_event_name: 'Stop', payload: { session_id: 's' }, timestamp: 'late' }),
      '{bad',
      JSON.stringify({ hook_event_name: 'Stop', payload: { session_id: 's' }, timestamp: 9 }),
      '{bad',
    ];
    const outputs = await collect(fromJsonLines([`${lines.join('\n')}\n`]));
    const invalid = (line: string, timestamp?: number) => ({
      hook: 'unknown',
      output: line,
      error: expect.stringContaining('invalid JSON'),
      ...(timestamp === undefined ? {} : { timestamp }),
    });
    // No own `timestamp` key at all when there is no time: strict equality.
    expect(outputs).toStrictEqual([
      invalid('{bad'),
      { hook: 'h', output: {}, givenTimestamp: 'soon' },
      { hook: 'Stop', output: { session_id: 's' }, givenTimestamp: 'late' },
      invalid('{bad'),
      { hook: 'Stop', output: { session_id: 's' }, timestamp: 9 },
      invalid('{bad', 9),
    ]);
  });

  it('reads the lines after an over-long one as they are', async () => {
    const long = `{"hook":"h","output":"${'x'.repeat(200)}"}`;
    const outputs = await collect(
      fromJsonLines([`${long}\n{"hook":"a","output":{}}\n`, long, '\n{"hook":"b","output":{}}'], {
        maxLineLength: 100,
      }),
    );
    const tooLong = `line of ${long.length} characters exceeds maxLineLength (100)`;
    expect(outputs.map((o) => [o.hook, o.error])).toEqual([
      ['h', tooLong],
      ['a', undefined],
      ['h', tooLong],
      ['b', undefined],
    ]);
  });

  it("files the rejection of a line it cannot parse (cut, torn, too long) under the session the line's start shows", async () => {
    const payload = {
      session_id: 's-42',
      cwd: '/w',
      hook_event_name: 'PostToolUse',
      tool_name: 'Write',
      tool_input: { file_path: '/w/a.json', content: 'x'.repeat(300) },
    };
    // As `record` writes it (an envelope), and as Claude Code sends it (a bare payload).
    const envelope = JSON.stringify({ hook: 'PostToolUse', timestamp: 5, output: payload });
    const bare = JSON.stringify(payload);
    // A session_id only in a deeper object (a tool's input), or only as text, is none.
    const nested = JSON.stringify({
      hook: 'h',
      output: { tool_input: { session_id: 'no' }, x: 'y'.repeat(300) },
    });
    const quoted = JSON.stringify({
      hook: 'h',
      output: { command: '"session_id":"no"', x: 'y'.repeat(500) },
    });
    const lines = [
      envelope.slice(0, 200),
      bare.slice(0, 150),
      envelope,
      nested.slice(0, 100),
      quoted,
      '{bad',
    ];
    const events = await firstValueFrom(
      fromJsonLines([`${lines.join('\n')}\n`], { maxLineLength: 400 }).pipe(bridgeHooks(), toArray()),
    );
    expect(events.map((e) => [e.type, e.sessionId, String(e.data.reason).split(':')[0]])).toEqual([
      ['hook.rejected', 's-42', 'invalid JSON'],
      ['hook.rejected', 's-42', 'invalid JSON'],
      ['hook.rejected', 's-42', `line of ${envelope.length} characters exceeds maxLineLength (400)`],
      ['hook.rejected', undefined, 'invalid JSON'],
      ['hook.rejected', undefined, `line of ${quoted.length} characters exceeds maxLineLength (400)`],
      ['hook.rejected', undefined, 'invalid JSON'],
    ]);
  });

  it('splits lines across chunks and decodes UTF-8 split mid-character', async () => {
    const text = `${JSON.stringify({ hook: 'h', output: { note: 'ノート 📝' } })}\n{"hook":"h","output":{}}`;
    const bytes = Buffer.from(text);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    const outputs = await collect(fromJsonLines(Readable.from(chunks)));
    expect(outputs).toEqual([
      { hook: 'h', output: { note: 'ノート 📝' } },
      { hook: 'h', output: {} },
    ]);
  });

  it("reads a line's ISO 8601 timestamp with its offset as that time; another string, null, an ISO time without an offset or out of range, in givenTimestamp", async () => {
    const envelope = (timestamp: unknown) => JSON.stringify({ hook: 'Stop', output: {}, timestamp });
    const capture = (timestamp: unknown) =>
      JSON.stringify({ hook_event_name: 'Stop', payload: { session_id: 's' }, timestamp });
    const taken = [
      ['2026-12-07T06:00:00Z', Date.UTC(2026, 11, 7, 6)],
      ['2026-12-07T06:00:00.123456+01:00', Date.UTC(2026, 11, 7, 5, 0, 0, 123)],
      ['2026-12-07T06:00-02:30', Date.UTC(2026, 11, 7, 8, 30)],
      ['2026-12-07T24:00:00Z', Date.UTC(2026, 11, 8)], // the end of a day is the next one's start
      ['1970-01-01T00:00:00.000Z', 0],
    ] as const;
    const given = [
      '2026-12-07T06:00:00', // a local time: its zone would be guessed
      '2016-12-31T23:59:60Z', // a leap second: Date.parse has none
      '2026-12-07T06:00:00+0530', // an offset without its colon (strftime's %z)
      '2026-12-07 06:00:00Z', // RFC 3339's space
      '2026-12-07t06:00:00z',
      '2026-12-07',
      'Mon, 07 Dec 2026 06:00:00 GMT',
      '1790000000000',
      '2026-13-07T06:00:00Z',
      '1969-12-31T23:59:59Z', // before 1970: negative, no time in ms
      '+275760-09-13T00:00:00Z',
      '',
      null,
      { at: 1 },
    ];
    for (const line of [envelope, capture]) {
      const outputs = await collect(
        fromJsonLines([[...taken.map(([text]) => line(text)), ...given.map(line), ''].join('\n')]),
      );
      // Each given one takes the time of the last line that had one (the last taken: 0).
      expect(outputs.map((o) => o.timestamp)).toEqual([...taken.map(([, ms]) => ms), ...given.map(() => 0)]);
      expect(outputs.map((o) => o.givenTimestamp)).toEqual([...taken.map(() => undefined), ...given]);
    }
    // A time read from an ISO string is the time a bad line after it takes.
    const after = await collect(fromJsonLines([`${envelope('2026-12-07T06:00:00Z')}\n{bad\n`]));
    expect(after[1]).toMatchObject({ error: expect.any(String), timestamp: Date.UTC(2026, 11, 7, 6) });
  });

  it('takes no day a month has not as a time: the 30th of February, the 31st of April (Date.parse rolls them over)', async () => {
    const line = (timestamp: string) => JSON.stringify({ hook: 'Stop', output: {}, timestamp });
    const days = [
      '2026-02-30T06:00:00Z',
      '2026-04-31T00:00Z',
      '2027-02-29T12:00:00+02:00',
      '2028-02-29T00:00Z',
    ];
    const outputs = await collect(fromJsonLines([`${days.map(line).join('\n')}\n`]));
    expect(outputs.map((o) => [o.timestamp, o.givenTimestamp])).toEqual([
      [undefined, '2026-02-30T06:00:00Z'],
      [undefined, '2026-04-31T00:00Z'],
      [undefined, '2027-02-29T12:00:00+02:00'],
      // 2028 is a leap year: its 29th of February is.
      [Date.UTC(2028, 1, 29), undefined],
    ]);
  });

  it('gives a bad line the time of the last line that had one', async () => {
    const outputs = await collect(
      fromJsonLines([
        '{not json}\n{"hook":"h","output":{},"timestamp":7}\n{broken\n{"hook":"h","output":{}}\n{x\n',
      ]),
    );
    expect(outputs.map((o) => o.timestamp)).toEqual([undefined, 7, 7, undefined, 7]);
  });

  it('never gives a bad line a time that is none: a negative or too large one is not remembered', async () => {
    // -5 and 1e20 (µs by mistake) take the last time that is one (7), theirs in givenTimestamp for the
    // bridge to mark; so does the bad line after each (it was given -5: replaced by the clock and marked).
    const outputs = await collect(
      fromJsonLines([
        '{x\n{"hook":"h","output":{},"timestamp":7}\n{"hook":"h","output":{},"timestamp":-5}\n{x\n' +
          '{"hook":"h","output":{},"timestamp":1e20}\n{x\n{"hook":"h","timestamp":-3,"output":{x\n',
      ]),
    );
    expect(outputs.map((o) => [o.timestamp, o.givenTimestamp])).toEqual([
      [undefined, undefined],
      [7, undefined],
      [7, -5],
      [7, undefined],
      [7, 1e20],
      [7, undefined],
      [7, undefined],
    ]);
    // A line too long, read with its long strings cut: its time is remembered when it is one, not when not.
    const long = (timestamp: number) =>
      `${JSON.stringify({ hook: 'h', timestamp, output: { text: 'x'.repeat(30_000) } })}\n`;
    const cut = await collect(
      fromJsonLines([`${long(7)}{x\n${long(-5)}{x\n${long(9)}{x\n`], { maxLineLength: 20_000 }),
    );
    expect(cut.map((o) => [o.timestamp, o.cut === undefined])).toEqual([
      [7, false],
      [7, true],
      [7, false], // -5, given
      [7, true],
      [9, false],
      [9, true],
    ]);
    const events = await collect(
      fromJsonLines([
        '{"hook":"h","output":{},"timestamp":7}\n{"hook":"h","output":{},"timestamp":-5}\n{x\n',
      ]).pipe(bridgeHooks()),
    );
    expect(events.map((e) => [e.type, e.timestamp === 7, e.context?.timestamp_replaced])).toEqual([
      ['hook.h', true, undefined],
      ['hook.h', true, '-5'],
      ['hook.rejected', true, undefined],
    ]);
  });

  it("gives a line that cannot be read the hook and the time its start shows (record's envelope cut, torn or too long)", async () => {
    const envelope = (hook: string, timestamp: number) =>
      JSON.stringify({ hook, timestamp, output: { session_id: 's', pad: 'x'.repeat(200) } });
    const outputs = await collect(
      fromJsonLines(
        [
          `${envelope('PostToolUse', 3)}\n`, // too long, and the first line: no time before it
          `${envelope('Stop', 9).slice(0, 50)}\n`, // torn
          `${envelope('Stop', 11).slice(0, 28)}\n`, // torn inside its time: none (no line before had one)
          '{"hook_event_name":"SessionEnd","session_id"\n', // a bare payload's name
          '{"hook":"PreToolUse","timestamp":-4,"x\n', // a time that is none
        ],
        { maxLineLength: 100, hook: 'custom' },
      ),
    );
    expect(outputs.map((o) => [o.hook, o.timestamp, o.error?.split(':')[0]])).toEqual([
      [
        'PostToolUse',
        3,
        `line of ${envelope('PostToolUse', 3).length} characters exceeds maxLineLength (100)`,
      ],
      ['Stop', 9, 'invalid JSON'],
      ['Stop', undefined, 'invalid JSON'],
      ['SessionEnd', undefined, 'invalid JSON'],
      ['PreToolUse', undefined, 'invalid JSON'],
    ]);
  });

  it('emits bad and over-long lines as rejected inputs, skips blank lines', async () => {
    const long = `{"hook":"h","output":"${'x'.repeat(200)}"}`;
    const outputs = await collect(
      fromJsonLines(['{not json}\n\n  \r\n', `${long}\n`], { maxLineLength: 100 }),
    );
    expect(outputs).toHaveLength(2);
    expect(outputs[0]).toMatchObject({
      output: '{not json}',
      error: expect.stringContaining('invalid JSON'),
    });
    expect(outputs[1]!.error).toContain(`line of ${long.length} characters exceeds maxLineLength (100)`);
    const events = await collect(fromJsonLines(['{not json}\n']).pipe(bridgeHooks()));
    expect(events.map((e) => e.type)).toEqual(['hook.rejected']);
  });

  it('cuts the preview of an over-long line on a code point boundary (no half of an emoji)', async () => {
    // 16,383 units, then an emoji across the 16,384-unit preview cut, in chunks of any size; not JSON (its
    // last `}` missing), so that it is rejected, not read with its long string cut.
    const line = `{"hook":"h","output":"${'x'.repeat(16_383 - 22)}\u{1F600}${'y'.repeat(50_000)}"`;
    for (const end of ['\n', '\r\n'])
      for (const chunks of [[`${line}${end}`], [line.slice(0, 16_384), `${line.slice(16_384)}${end}`]]) {
        const [output] = await collect(fromJsonLines(chunks, { maxLineLength: 20_000 }));
        const preview = output!.output as string;
        expect(preview).toBe(line.slice(0, 16_383));
      }
  });

  it('keeps the first characters of an over-long line as its preview, however the line was split', async () => {
    const line = `{"hook":"h","output":"${'x'.repeat(200)}"}`;
    const chunks = Array.from({ length: Math.ceil(line.length / 50) }, (_, i) =>
      line.slice(i * 50, i * 50 + 50),
    );
    const [output] = await collect(fromJsonLines([...chunks, '\n'], { maxLineLength: 100 }));
    // The whole line (shorter than the 16,384-character preview), not the 150 characters held when
    // the limit was crossed.
    expect(output!.output).toBe(line);
  });

  it('emits the same outputs for any split of the input into byte or text chunks (property)', async () => {
    const line = fc.oneof(
      fc
        .record({
          hook: fc.constantFrom('a', 'ü', '📝'),
          output: fc.record({ s: fc.string({ unit: 'grapheme', maxLength: 12 }) }),
        })
        .map((value) => JSON.stringify(value)),
      fc.constantFrom(
        '',
        ' ',
        'not json',
        '{"x":',
        'ノート📝',
        `{"hook":"h","output":"${'é📝'.repeat(12)}"}`,
      ),
    );
    const text = fc
      .tuple(
        fc.boolean(),
        fc.array(fc.tuple(line, fc.constantFrom('\n', '\r\n')), { maxLength: 8 }),
        fc.boolean(),
      )
      .map(
        ([bom, lines, unterminated]) =>
          `${bom ? '\uFEFF' : ''}${lines.map(([l, end]) => l + end).join('')}${unterminated ? '{"hook":"z","output":1}' : ''}`,
      );
    const split = <T extends string | Uint8Array>(whole: T, cuts: number[]): T[] => {
      const at = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
      return [...at, whole.length].map((end, i) => whole.slice(i === 0 ? 0 : at[i - 1], end) as T);
    };
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 5, max: 40 }),
        async (t, cuts, max) => {
          const options = { maxLineLength: max };
          const expected = await collect(fromJsonLines([t], options));
          const bytes = new Uint8Array(Buffer.from(t));
          expect(await collect(fromJsonLines(split(bytes, cuts), options))).toEqual(expected);
          expect(await collect(fromJsonLines(split(t, cuts), options))).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('drops a byte order mark at the start of text chunks, as TextDecoder does for bytes', async () => {
    const text = `\uFEFF{"hook":"a","output":{}}\n{"hook":"b","output":{}}\n`;
    const path = join(dir, 'bom.jsonl');
    await writeFile(path, text);
    for (const input of [createReadStream(path, 'utf8'), [text], Readable.from([Buffer.from(text)])]) {
      const outputs = await collect(fromJsonLines(input));
      expect(outputs.map((o) => [o.hook, o.error])).toEqual([
        ['a', undefined],
        ['b', undefined],
      ]);
    }
    // One BOM only: a second is the first line's (not JSON), in bytes as in text (from bytes, the decoder
    // dropped one and the reader the other).
    const twice = `\uFEFF${text}`;
    await writeFile(path, twice);
    for (const input of [createReadStream(path, 'utf8'), [twice], Readable.from([Buffer.from(twice)])]) {
      const [first] = await collect(fromJsonLines(input));
      expect(first!.error).toContain('invalid JSON');
    }
    const [fromFile] = await collect(fromHookFile(path));
    expect(fromFile!.error).toContain('invalid JSON');
    const [marked] = await collect(fromHookFileMarked(path));
    expect(marked!.output).toEqual(fromFile);
    // Only at the start: a BOM inside the input is the line's (and not JSON).
    const [, inner] = await collect(
      fromJsonLines([`{"hook":"a","output":{}}\n\uFEFF{"hook":"b","output":{}}\n`]),
    );
    expect(inner!.error).toContain('invalid JSON');
  });

  it("does not count a line's \\r\\n ending in its length", async () => {
    const text = JSON.stringify({ hook: 'a', output: {} });
    for (const ending of ['\n', '\r\n']) {
      const outputs = await collect(fromJsonLines([`${text}${ending}`], { maxLineLength: text.length }));
      expect(outputs.map((o) => [o.hook, o.error])).toEqual([['a', undefined]]);
    }
    // The \r in a chunk of its own, and one character too many with either ending.
    const split = await collect(fromJsonLines([text, '\r', '\n'], { maxLineLength: text.length }));
    expect(split.map((o) => o.error)).toEqual([undefined]);
    for (const ending of ['\n', '\r\n']) {
      const [long] = await collect(fromJsonLines([`${text} ${ending}`], { maxLineLength: text.length }));
      expect(long!.error).toBe(
        `line of ${text.length + 1} characters exceeds maxLineLength (${text.length})`,
      );
    }
  });

  it("keeps a line's \\r\\n ending out of an over-long line's preview", async () => {
    const line = `{"hook":"h","output":"${'x'.repeat(200)}"}`;
    for (const chunks of [[`${line}\r\n`], [line, '\r', '\n'], [`${line}\r`]]) {
      const [output] = await collect(fromJsonLines(chunks, { maxLineLength: 100 }));
      expect(output).toMatchObject({
        output: line,
        error: expect.stringContaining(`line of ${line.length} `),
      });
    }
  });

  it('reads every fixture line into events, none rejected', async () => {
    const events = await collect(fromJsonLines(createReadStream(FIXTURES_PATH)).pipe(bridgeHooks()));
    expect(events.filter((e) => e.type === 'hook.rejected')).toEqual([]);
    expect(new Set(events.map((e) => e.sessionId)).size).toBeGreaterThan(10);
    expect(events.length).toBeGreaterThanOrEqual(loadFixtures().length);
  });

  it('stops reading when unsubscribed', async () => {
    let pulled = 0;
    async function* endless() {
      for (;;) {
        pulled++;
        yield '{"hook":"h","output":{}}\n';
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const outputs = await collect(fromJsonLines(endless()).pipe(take(3)));
    expect(outputs).toHaveLength(3);
    const after = pulled;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pulled).toBeLessThanOrEqual(after + 1);
  });

  it('stops reading when unsubscribed from an iterator that has no return() to stop it', async () => {
    let pulled = 0;
    const endless: Iterable<string> = {
      [Symbol.iterator]: () => ({
        next: () => {
          pulled++;
          return { done: false, value: '{"hook":"h","output":{}}\n' };
        },
      }),
    };
    const outputs = await collect(fromJsonLines(endless).pipe(take(3)));
    expect(outputs).toHaveLength(3);
    const after = pulled;
    // Long enough for a reader that went on to pull thousands more (it lets the event loop run every 256).
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(pulled).toBe(after);
  });

  it('destroys a Readable when unsubscribed while it waits for data (a pipe, a socket, stdin)', async () => {
    // Idle: nothing written, so the iterator's next() is pending, and its return() would wait for it.
    const idle = new PassThrough();
    const subscription = fromJsonLines(idle).subscribe();
    idle.write('{"hook":"a","output":{}}\n');
    await until(() => idle.readableLength === 0);
    subscription.unsubscribe();
    await until(() => idle.destroyed);
    expect(idle.destroyed).toBe(true);
    // A socket whose peer stays and sends nothing: it is closed, and the peer sees it.
    const server = createServer();
    const peerClosed = new Promise<void>((resolve) =>
      server.on('connection', (peer) => peer.on('close', resolve)),
    );
    await new Promise<void>((resolve) => server.listen(join(dir, 'socket'), resolve));
    try {
      const socket = connect(join(dir, 'socket'));
      const reading = fromJsonLines(socket).subscribe();
      await new Promise((resolve) => socket.once('connect', resolve));
      reading.unsubscribe();
      await peerClosed;
      expect(socket.destroyed).toBe(true);
    } finally {
      server.close();
    }
  });

  it('lets the event loop run while it reads a long in-memory input', async () => {
    // Chunks of an array are awaited as microtasks only: without a yield, nothing else would run until the end.
    const chunks = Array.from({ length: 5_000 }, () => '{"hook":"a","output":{}}\n');
    let emitted = 0;
    let emittedWhenTheLoopRan = -1;
    setImmediate(() => {
      emittedWhenTheLoopRan = emitted;
    });
    await new Promise<void>((resolve) =>
      fromJsonLines(chunks).subscribe({ next: () => emitted++, complete: resolve }),
    );
    expect(emitted).toBe(5_000);
    expect(emittedWhenTheLoopRan).toBeGreaterThanOrEqual(0);
    expect(emittedWhenTheLoopRan).toBeLessThan(5_000);
  });

  it("errors with SOURCE_FAILED, the stream's error as cause, when the input fails", async () => {
    const eio = new Error('EIO');
    const failing = new Readable({
      read() {
        this.destroy(eio);
      },
    });
    await expect(collect(fromJsonLines(failing))).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringContaining('EIO'),
      cause: eio,
    });
  });

  it('emits what it read before the input failed, its last line without a newline too, then errors', async () => {
    const eio = new Error('ECONNRESET');
    async function* failing() {
      yield '{"hook":"a","output":{}}\n{"hook":"b","output":{}}';
      yield new Uint8Array([0xc3]); // the first byte of an é
      throw eio;
    }
    const seen: HookOutput[] = [];
    const error = await new Promise<unknown>((resolve) =>
      fromJsonLines(failing()).subscribe({ next: (o) => seen.push(o), error: resolve }),
    );
    expect(error).toMatchObject({ code: 'SOURCE_FAILED', cause: eio });
    expect(seen.map((o) => [o.hook, o.output, o.error === undefined])).toEqual([
      ['a', {}, true],
      ['b', '{"hook":"b","output":{}}\uFFFD', false],
    ]);
  });

  it('errors with SOURCE_FAILED when the input failed and the consumer throws on the last line read before it', async () => {
    // The consumer's exception, thrown from the failure's handler, was an unhandled rejection: the output
    // never ended, and its subscriber stayed subscribed.
    const eio = new Error('ECONNRESET');
    async function* failing() {
      yield '{"hook":"a","output":{}}\n{"hook":"b","output":{}}';
      throw eio;
    }
    const consumer = new ThrowingConsumer<HookOutput>(
      (output) => output.hook === 'b',
      (output) => output.hook,
    );
    // An input in memory: it is read, and fails, in microtasks, before the wait of unhandledRejections ends.
    const unhandled = await unhandledRejections(() => fromJsonLines(failing()).subscribe(consumer));
    expect(unhandled).toEqual([]);
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.hook))).toEqual([
      'a',
      'b',
      'error fromJsonLines: cannot read the input: ECONNRESET',
    ]);
  });

  it('refuses at construction an input that is not a stream or an iterable (ConfigError)', () => {
    for (const input of [null, undefined, 42, 'a line', {}]) {
      expect(() => fromJsonLines(input as never)).toThrow(ConfigError);
    }
    expect(() => fromHookFile(123 as never)).toThrow(ConfigError);
    expect(() => fromHookFile('')).toThrow(ConfigError);
    expect(() => fromFileWatcher(5 as never)).toThrow(ConfigError);
  });

  it('refuses options that are no object, a follow that is no boolean and a hook that is no string (they were ignored, or taken)', () => {
    // fromHookFile(path, true) read the file once and completed; { follow: 'false' } followed it for ever;
    // { hook: 42 } made every line that names no hook a hook.rejected.
    for (const bad of [null, true, 5, 'follow', [1]]) {
      for (const [fn, make] of [
        ['fromJsonLines', () => fromJsonLines([], bad as never)],
        ['fromHookFile', () => fromHookFile('x.jsonl', bad as never)],
        ['fromHookFileMarked', () => fromHookFileMarked('x.jsonl', bad as never)],
        ['bridgeHooks', () => bridgeHooks(bad as never)],
        ['createHookBridge', () => createHookBridge(bad as never)],
      ] as const) {
        expect(make).toThrow(new RegExp(`^${fn}: the options must be an object, got `));
      }
    }
    for (const follow of ['false', 1, null]) {
      expect(() => fromHookFile('x.jsonl', { follow: follow as never })).toThrow(
        new ConfigError(`fromHookFile: follow must be a boolean, got ${typeof follow}`),
      );
      expect(() => fromHookFileMarked('x.jsonl', { follow: follow as never })).toThrow(ConfigError);
    }
    expect(() => fromJsonLines([], { hook: 42 as never })).toThrow(
      new ConfigError("fromJsonLines: hook must be a string (a hook's name), got 42"),
    );
    expect(() => fromHookFile('x.jsonl', { hook: false as never })).toThrow(
      new ConfigError("fromHookFile: hook must be a string (a hook's name), got false"),
    );
    expect(() => fromHookFileMarked('x.jsonl', { hook: {} as never })).toThrow(ConfigError);
    expect(() => fromHookFile('x.jsonl', { follow: false, hook: '' })).not.toThrow();
    expect(() => fromHookFile('x.jsonl', { follow: true, hook: 'Stop' })).not.toThrow();
  });
});

describe('fromHookFile', () => {
  it('reads a whole file and completes', async () => {
    const path = join(dir, 'hooks.jsonl');
    await writeFile(path, '{"hook":"a","output":{}}\n{"hook":"b","output":{}}');
    const outputs = await collect(fromHookFile(path));
    expect(outputs.map((o) => o.hook)).toEqual(['a', 'b']);
  });

  it('errors with SOURCE_FAILED for a missing file when not following, named by the function given it', async () => {
    const path = join(dir, 'missing.jsonl');
    await expect(collect(fromHookFile(path))).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      cause: { code: 'ENOENT' },
      message: expect.stringMatching(new RegExp(`^fromHookFile: cannot read ${path}: ENOENT`)),
    });
    await expect(collect(fromHookFileMarked(path))).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      cause: { code: 'ENOENT' },
      message: expect.stringMatching(new RegExp(`^fromHookFileMarked: cannot read ${path}: ENOENT`)),
    });
  });

  it('errors with SOURCE_FAILED, following too, for a path that cannot be opened for another reason than missing', async () => {
    // Under a regular file: ENOTDIR, which no wait cures (only a missing file is waited for).
    const file = join(dir, 'plain');
    await writeFile(file, '');
    await expect(collect(fromHookFile(join(file, 'hooks.jsonl'), { follow: true }))).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      cause: { code: 'ENOTDIR' },
    });
  });

  it('errors with SOURCE_FAILED for a FIFO, with a writer or none (it waited for one for ever), and leaves it closed', async () => {
    const fifo = join(dir, 'hooks.fifo');
    execFileSync('mkfifo', [fifo]);
    const refused = {
      code: 'SOURCE_FAILED',
      message: expect.stringContaining(`cannot read ${fifo}: it is a FIFO (a named pipe)`),
    };
    // No writer: the open waited for one, and neither an unsubscribe nor the process's end could stop it.
    await expect(collect(fromHookFile(fifo))).rejects.toMatchObject(refused);
    await expect(collect(fromHookFileMarked(fifo, { follow: true }))).rejects.toMatchObject(refused);
    // A writer (O_RDWR never waits): read at an offset, the pipe failed with ESPIPE.
    const writer = await open(fifo, constants.O_RDWR);
    try {
      await writer.write(`${JSON.stringify({ hook: 'a', output: {} })}\n`);
      await expect(collect(fromHookFile(fifo, { follow: true }))).rejects.toMatchObject(refused);
    } finally {
      await writer.close();
    }
    const openOnFifo = () => readdirSync('/proc/self/fd').filter((fd) => fdPath(fd) === fifo);
    await until(() => openOnFifo().length === 0);
    expect(openOnFifo()).toEqual([]);
  });

  it('follows appends, waits for a missing file, and restarts after truncation', async () => {
    const path = join(dir, 'live.jsonl');
    const seen: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 10 }).subscribe({
        next: (output: HookOutput) => {
          seen.push(output.hook);
          if (seen.length === 4) {
            subscription.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
    });
    // Line `n` must be read before the file changes under it (a truncation before `two` is read loses
    // it): wait for it, and fail rather than go on if it never comes.
    const waitFor = async (n: number) => {
      await until(() => seen.length >= n);
      expect(seen.length).toBeGreaterThanOrEqual(n);
    };
    await new Promise((r) => setTimeout(r, 30));
    // Long first lines: the rewritten file stays shorter than the position reached, so the truncation
    // is recognized whenever the source looks, even after the new lines were appended.
    const pad = 'x'.repeat(100);
    await writeFile(path, `{"hook":"one","output":{"pad":"${pad}"}}\n{"hook":"tw`);
    await waitFor(1);
    await appendFile(path, `o","output":{"pad":"${pad}"}}\n`);
    await waitFor(2);
    await truncate(path, 0);
    await appendFile(path, '{"hook":"three","output":{}}\n{"hook":"four","output":{}}\n');
    await done;
    expect(seen).toEqual(['one', 'two', 'three', 'four']);
  });

  const line = (hook: string) => `${JSON.stringify({ hook, output: {} })}\n`;

  /** Follows `path` (polling every 10 ms), collecting each output's hook (as `name` gives it). */
  const follow = (path: string, name = (hook: string) => hook) => {
    const seen: string[] = [];
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 10 }).subscribe((o) =>
      seen.push(name(o.hook)),
    );
    return { seen, subscription };
  };

  it('reads a file rewritten in place to the same size or more from its start (a shell `>`)', async () => {
    const path = join(dir, 'live.jsonl');
    await writeFile(path, line('a'));
    const seen: HookOutput[] = [];
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 10 }).subscribe((o) =>
      seen.push(o),
    );
    await until(() => seen.length === 1);
    // The same inode, truncated and written again, longer than the position reached: no shrink to see.
    await writeFile(path, line('b') + line('c'));
    await until(() => seen.length >= 3);
    subscription.unsubscribe();
    expect(seen.map((o) => [o.hook, o.error])).toEqual([
      ['a', undefined],
      ['b', undefined],
      ['c', undefined],
    ]);
  });

  it('reads a file rewritten in place to exactly the same size from its start', async () => {
    const path = join(dir, 'live.jsonl');
    await writeFile(path, line('a'));
    const { seen, subscription } = follow(path);
    await until(() => seen.length === 1);
    // No byte past the position reached, and no shrink: only the first bytes tell it.
    await writeFile(path, line('b'));
    await until(() => seen.length >= 2);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b']);
  });

  it('reads a file truncated to more than its 256 first bytes (the same ones) from its start', async () => {
    const path = join(dir, 'live.jsonl');
    const long = (hook: string) => line(hook.padEnd(300, '.'));
    await writeFile(path, long('a') + long('b'));
    const { seen, subscription } = follow(path, (hook) => hook.replace(/\.+$/, ''));
    await until(() => seen.length === 2);
    // Shorter than the position reached, its first 256 bytes unchanged, then grown past it again.
    await truncate(path, Buffer.byteLength(long('a')));
    await until(() => seen.length >= 3);
    await appendFile(path, long('c') + long('d'));
    await until(() => seen.length >= 5);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b', 'a', 'c', 'd']);
  });

  it('reads a file rotated to a longer one from its start (told by its inode, not its size)', async () => {
    const path = join(dir, 'live.jsonl');
    await writeFile(path, line('a'));
    const { seen, subscription } = follow(path);
    await until(() => seen.length === 1);
    await writeFile(`${path}.new`, line('b') + line('c'));
    await rename(`${path}.new`, path);
    await until(() => seen.length >= 3);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('reads a file rewritten in place while it is being read from its start, each new line once', async () => {
    const path = join(dir, 'live.jsonl');
    const many = (tag: string, n: number) =>
      Array.from({ length: n }, (_, i) => line(`${tag}${i}`.padEnd(200, '.'))).join('');
    // More than one read (64 KiB), so that reads follow one another without a wait.
    await writeFile(path, many('old', 1_000));
    const seen: HookOutput[] = [];
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 10 }).subscribe((o) => {
      // Rewritten at the first line, before the next read: longer, so no shrink tells it.
      if (seen.length === 0) writeFileSync(path, many('new', 2_000));
      seen.push(o);
    });
    await until(() => seen.some((o) => o.hook.startsWith('new1999')));
    // Anything read again after the end of the new content comes before this line.
    await appendFile(path, line('end'));
    await until(() => seen.some((o) => o.hook === 'end'));
    subscription.unsubscribe();
    const fresh = seen.filter((o) => o.hook.startsWith('new')).map((o) => o.hook.replace(/\.+$/, ''));
    expect(fresh).toEqual(Array.from({ length: 2_000 }, (_, i) => `new${i}`));
    expect(seen.at(-1)?.hook).toBe('end');
    // Before the new lines, only the old file's: its lines of the first read, and the one cut there.
    const before = seen.slice(
      0,
      seen.findIndex((o) => o.hook.startsWith('new')),
    );
    expect(before.every((o) => o.error !== undefined || o.hook.startsWith('old'))).toBe(true);
  });

  it("emits the old file's last line without a newline when the file is rotated, and watches the new one", async () => {
    const path = join(dir, 'live.jsonl');
    await writeFile(path, line('a') + line('b').trimEnd());
    const seen: string[] = [];
    // Polling never comes within the test: what arrives was noticed by fs.watch.
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 3_600_000 }).subscribe((o) =>
      seen.push(o.hook),
    );
    await until(() => seen.length === 1);
    await appendFile(path, `\n${line('b2')}`);
    await until(() => seen.length === 3);
    await appendFile(path, line('b3').trimEnd());
    // Rotation: the old file renamed away, and a new one at the path a little later.
    await rename(path, `${path}.1`);
    await new Promise((r) => setTimeout(r, 50));
    await writeFile(path, line('c'));
    await until(() => seen.length === 5);
    // The new file is watched (the old watcher followed the old inode).
    await appendFile(path, line('d'));
    await until(() => seen.length === 6);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b', 'b2', 'b3', 'c', 'd']);
  });

  it('notices a file created after it started without waiting for a poll', async () => {
    const path = join(dir, 'later.jsonl');
    const seen: string[] = [];
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 3_600_000 }).subscribe((o) =>
      seen.push(o.hook),
    );
    await new Promise((r) => setTimeout(r, 50));
    await writeFile(path, line('a'));
    await until(() => seen.length === 1);
    subscription.unsubscribe();
    expect(seen).toEqual(['a']);
  });

  it('finds a missing file in a missing directory by polling alone (no directory to watch)', async () => {
    const sub = join(dir, 'later');
    const path = join(sub, 'hooks.jsonl');
    const seen: string[] = [];
    const subscription = fromHookFile(path, { follow: true, pollIntervalMs: 10 }).subscribe((o) =>
      seen.push(o.hook),
    );
    await new Promise((r) => setTimeout(r, 30));
    await mkdir(sub);
    await writeFile(path, line('a'));
    await until(() => seen.length === 1);
    await appendFile(path, line('b'));
    await until(() => seen.length === 2);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b']);
  });

  /** How many of this process's file descriptors are open on `path`. */
  const descriptorsOf = (path: string) => {
    let n = 0;
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
      } catch {
        // closed meanwhile
      }
    }
    return n;
  };
  /** How many `fs.watch` watchers this process has open. */
  const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;

  it('closes the file once it has read it to its end and completed', async () => {
    const path = join(dir, 'done.jsonl');
    await writeFile(path, line('a') + line('b'));
    expect((await collect(fromHookFile(path))).map((o) => o.hook)).toEqual(['a', 'b']);
    expect(descriptorsOf(path)).toBe(0);
    expect((await collect(fromHookFileMarked(path))).map((m) => m.output.hook)).toEqual(['a', 'b']);
    // Closed before it completes (not later, by the garbage collector).
    expect(descriptorsOf(path)).toBe(0);
  });

  it('closes every watcher it opened when unsubscribed, also after a rotation and a truncation', async () => {
    const path = join(dir, 'live.jsonl');
    const long = (hook: string) => line(hook.padEnd(300, '.'));
    const before = watchers();
    await writeFile(path, long('a'));
    const { seen, subscription } = follow(path, (hook) => hook.replace(/\.+$/, ''));
    await until(() => seen.length === 1);
    // Rotated: the new file is watched in place of the old one.
    await writeFile(`${path}.new`, long('b') + long('c'));
    await rename(`${path}.new`, path);
    await until(() => seen.length === 3);
    // Truncated, its first 256 bytes kept (so told by its size): the same file, opened again.
    await truncate(path, Buffer.byteLength(long('b')));
    await until(() => seen.length === 4);
    subscription.unsubscribe();
    expect(seen).toEqual(['a', 'b', 'c', 'b']);
    await until(() => watchers() === before);
    expect(watchers()).toBe(before);
  });

  it('closes the file when unsubscribed while it is being opened', async () => {
    const path = join(dir, 'open.jsonl');
    await writeFile(path, line('a'));
    const open = () => descriptorsOf(path);
    // A file handle left open is closed in the end by the garbage collector, with this warning: closed
    // by it, the files would be closed, but not by the source.
    const collected: string[] = [];
    const onWarning = (warning: Error) => {
      if (warning.message.includes('on garbage collection')) collected.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 5; i++) fromHookFile(path).subscribe().unsubscribe();
      for (let i = 0; i < 5; i++) fromHookFile(path, { follow: true }).subscribe().unsubscribe();
      await until(() => open() === 0);
    } finally {
      process.off('warning', onWarning);
    }
    expect(open()).toBe(0);
    expect(collected).toEqual([]);
  });
});

describe('fromHookFileMarked', () => {
  const line = (hook: string) => `${JSON.stringify({ hook, output: { text: 'é😀' } })}\n`;

  it('marks each line with the byte offset after it, its file, and whether it had a newline', async () => {
    const path = join(dir, 'marked.jsonl');
    // A BOM, a blank line, CRLF, multi-byte text and a last line without a newline.
    const text = `\ufeff${line('a')}\n${line('b').replace('\n', '\r\n')}${line('c').trim()}`;
    await writeFile(path, text);
    const { ino } = await stat(path);
    const marked = await collect(fromHookFileMarked(path));
    const bytes = Buffer.from(text);
    const endOf = (hook: string) =>
      bytes.indexOf(`"${hook}"`) + bytes.subarray(bytes.indexOf(`"${hook}"`)).indexOf(10) + 1;
    expect(marked.map(({ output, mark }) => [output.hook, mark.end, mark.terminated, mark.ino])).toEqual([
      ['a', endOf('a'), true, ino],
      ['b', endOf('b'), true, ino],
      ['c', bytes.length, false, ino],
    ]);
    expect(marked[0]!.mark.head).toBe(bytes.subarray(0, endOf('a')).toString('hex'));
    expect(marked[2]!.mark.head).toBe(bytes.subarray(0, 256).toString('hex'));
    // No line has a time: the marks have no `timestamp` at all (not one that is undefined).
    for (const { mark } of marked) expect(mark).not.toHaveProperty('timestamp');
    // The same outputs as fromHookFile.
    expect(marked.map((m) => m.output)).toEqual(await collect(fromHookFile(path)));
  });

  it('resumes after a mark of the same file, and reads another file (or a changed one) from its start', async () => {
    const path = join(dir, 'marked.jsonl');
    await writeFile(path, line('a') + line('b'));
    const [a] = await collect(fromHookFileMarked(path));
    const hooks = async (resumeFrom: HookFileOptions['resumeFrom']) =>
      (await collect(fromHookFileMarked(path, { resumeFrom }))).map((m) => m.output.hook);
    expect(await hooks(a!.mark)).toEqual(['b']);
    expect(await hooks({ ...a!.mark, ino: a!.mark.ino + 1 })).toEqual(['a', 'b']);
    expect(await hooks({ ...a!.mark, head: a!.mark.head.replace(/^7b/, '20') })).toEqual(['a', 'b']);
    expect(await hooks({ ...a!.mark, end: 10_000, head: a!.mark.head.padEnd(512, '0') })).toEqual(['a', 'b']);
  });

  it("marks the lines of a file that replaced another with the new file's first bytes and inode", async () => {
    const path = join(dir, 'marked.jsonl');
    // Lines longer than the 256 bytes of a head: each mark's head is a file's first 256 bytes.
    const long = (hook: string) => line(hook.padEnd(300, '.'));
    await writeFile(path, long('a'));
    const seen: MarkedHookOutput[] = [];
    const subscription = fromHookFileMarked(path, { follow: true, pollIntervalMs: 10 }).subscribe((m) =>
      seen.push(m),
    );
    await until(() => seen.length === 1);
    await writeFile(`${path}.new`, long('b') + long('c'));
    await rename(`${path}.new`, path);
    await until(() => seen.length === 3);
    // Rewritten in place too (same inode, other first bytes).
    await writeFile(path, long('d') + long('e') + long('f'));
    await until(() => seen.length === 6);
    subscription.unsubscribe();
    const bytes = Buffer.from(long('d') + long('e') + long('f'));
    const { ino } = await stat(path);
    const rotated = Buffer.from(long('b') + long('c'));
    expect(seen.map(({ output, mark }) => [output.hook[0], mark.head, mark.ino === ino])).toEqual([
      ['a', Buffer.from(long('a')).subarray(0, 256).toString('hex'), false],
      ['b', rotated.subarray(0, 256).toString('hex'), true],
      ['c', rotated.subarray(0, 256).toString('hex'), true],
      ['d', bytes.subarray(0, 256).toString('hex'), true],
      ['e', bytes.subarray(0, 256).toString('hex'), true],
      ['f', bytes.subarray(0, 256).toString('hex'), true],
    ]);
  });

  it('reads a byte order mark inside the file as fromHookFile does (only the first one is dropped)', async () => {
    const path = join(dir, 'marked.jsonl');
    await writeFile(path, `\ufeff${line('a')}\ufeff${line('b')}${line('c')}`);
    const plain = await collect(fromHookFile(path));
    // The second mark is part of its line, which is no JSON then.
    expect(plain.map((o) => [o.hook, o.error === undefined])).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
    ]);
    expect((await collect(fromHookFileMarked(path))).map((m) => m.output)).toEqual(plain);
  });

  it('keeps a byte order mark at the line it resumes at, as the whole read does: the same outputs after each mark', async () => {
    const path = join(dir, 'marked.jsonl');
    await writeFile(path, `\ufeff${line('a')}\ufeff${line('b')}${line('c')}\ufeff${line('d')}`);
    const whole = await collect(fromHookFileMarked(path));
    expect(whole.map((m) => [m.output.hook, m.output.error === undefined])).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
      ['d', false],
    ]);
    for (const [i, { mark }] of whole.entries()) {
      const rest = whole.slice(i + 1);
      expect(await collect(fromHookFileMarked(path, { resumeFrom: mark }))).toEqual(rest);
      expect(await collect(fromHookFile(path, { resumeFrom: mark.end }))).toEqual(rest.map((m) => m.output));
    }
  });

  it('marks the lines of a file that starts with a blank line', async () => {
    const path = join(dir, 'marked.jsonl');
    await writeFile(path, `\n${line('a')}\n${line('b')}`);
    const marked = await collect(fromHookFileMarked(path));
    const a = Buffer.byteLength(`\n${line('a')}`);
    expect(marked.map(({ output, mark }) => [output.hook, mark.end, mark.terminated])).toEqual([
      ['a', a, true],
      ['b', a + 1 + Buffer.byteLength(line('b')), true],
    ]);
  });
});

describe('fromFileWatcher', () => {
  const changesOf = (output: HookOutput) => (output.output as { changes: FileChange[] }).changes;

  /**
   * Watches `watched` on a virtual scheduler: its windows close when the test flushes it, and `count(path)`
   * tells how many notifications of that relative path came (read through `ignore`, which keeps all).
   */
  function watchOnVirtualTime(watched: string) {
    const scheduler = new VirtualTimeScheduler();
    const notified = new Map<string, number>();
    const ignore = (relative: string) => {
      notified.set(relative, (notified.get(relative) ?? 0) + 1);
      return false;
    };
    const count = (relative: string) => notified.get(relative) ?? 0;
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(watched, { debounceMs: 10, scheduler, ignore }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    return { scheduler, count, changes, subscription };
  }

  /** Polls until `predicate` holds; the deadline only turns a hang into a failure, it is no threshold. */
  const waitFor = async (predicate: () => boolean) => {
    const deadline = Date.now() + 120_000;
    while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };

  it('emits created, modified and deleted from real filesystem changes', async () => {
    const existing = join(dir, 'existing.txt');
    const created = join(dir, 'new.ts');
    await writeFile(existing, 'old');
    await mkdir(join(dir, 'node_modules'));
    const changes: FileChange[] = [];
    const hooks = new Set<string>();
    const subscription = fromFileWatcher(dir, { debounceMs: 20 }).subscribe((output) => {
      hooks.add(output.hook);
      changes.push(...changesOf(output));
    });
    const of = (path: string) => changes.filter((c) => c.path === path);
    const actions = (path: string) => of(path).map((c) => c.action);
    // No start-up wait: the watcher and its scan are ready when subscribe() returns.
    await writeFile(created, 'export {}');
    await waitFor(() => of(created).some((c) => c.size === 9));
    await appendFile(existing, ' more');
    await waitFor(() => of(existing).length > 0);
    await writeFile(join(dir, 'node_modules', 'ignored.js'), '');
    await unlink(created);
    await waitFor(() => of(created).at(-1)?.action === 'deleted');
    subscription.unsubscribe();
    expect([...hooks]).toEqual(['file-watcher']);
    // Each path's changes are its history. The notifications of one write may fall into two debounce
    // windows on a loaded machine, so a write seen after the creation may add a `modified`; nothing else
    // may vary.
    expect(actions(created).join(' ')).toMatch(/^created( modified)* deleted$/);
    expect(of(created)[0]).toMatchObject({ type: 'ts' });
    expect(of(created).at(-2)).toMatchObject({ size: 9 });
    expect(actions(existing).join(' ')).toMatch(/^modified( modified)*$/);
    expect(of(existing).at(-1)).toMatchObject({ type: 'txt', size: 8 });
    // Nothing else: node_modules is ignored.
    expect(changes.filter((c) => c.path !== created && c.path !== existing)).toEqual([]);
  });

  it('knows exactly the files present when subscribe() returns: a file created at once is created', async () => {
    // Many directories make a scan that still ran after subscribe() slow enough to list new files.
    const dirs = Array.from({ length: 40 }, (_, i) => join(dir, `d${i}`));
    for (const d of dirs) {
      await mkdir(d);
      for (let j = 0; j < 5; j++) await writeFile(join(d, `old${j}.txt`), 'x');
    }
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 5 }).subscribe((output) =>
      changes.push(...changesOf(output)),
    );
    const files = dirs.map((d) => join(d, 'new.ts'));
    await Promise.all(files.map((file) => writeFile(file, 'x')));
    await waitFor(() => files.every((file) => changes.some((c) => c.path === file)));
    subscription.unsubscribe();
    const first = files.map((file) => changes.find((c) => c.path === file)?.action);
    expect(first).toEqual(files.map(() => 'created'));
  });

  it('errors with SOURCE_FAILED when the ignore predicate throws, instead of throwing out of the watcher', async () => {
    await writeFile(join(dir, 'present.txt'), 'x');
    const predicate = (bad: string) => (path: string) => {
      if (path === bad) throw new Error(`cannot judge ${path}`);
      return false;
    };
    // While scanning, inside subscribe().
    await expect(collect(fromFileWatcher(dir, { ignore: predicate('present.txt') }))).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      cause: expect.objectContaining({ message: 'cannot judge present.txt' }),
    });
    // On a notification, in the watcher's callback.
    const failed = expect(
      collect(fromFileWatcher(dir, { ignore: predicate('boom.txt') })),
    ).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      cause: expect.objectContaining({ message: 'cannot judge boom.txt' }),
    });
    await writeFile(join(dir, 'boom.txt'), 'x');
    await failed;
  });

  it('names what an ignore predicate threw when it is not an Error (a string), not "undefined"', async () => {
    await writeFile(join(dir, 'present.txt'), 'x');
    const ignore = () => {
      throw 'no judgement today';
    };
    await expect(collect(fromFileWatcher(dir, { ignore }))).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringContaining(': no judgement today'),
      cause: 'no judgement today',
    });
  });

  it('reports the files of a directory moved out and replaced by a file of its name as deleted', async () => {
    const watched = join(dir, 'watched');
    const outside = join(dir, 'outside');
    const pkg = join(watched, 'pkg');
    const inner = join(pkg, 'a.ts');
    await mkdir(pkg, { recursive: true });
    await mkdir(outside);
    await writeFile(inner, 'x');
    // The window closes when the test flushes the virtual scheduler; `ignore` tells when a notification came.
    const scheduler = new VirtualTimeScheduler();
    let notified = 0;
    const ignore = (relative: string) => {
      if (relative === 'pkg') notified++;
      return false;
    };
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(watched, { debounceMs: 10, scheduler, ignore }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    const scanned = notified;
    // Moved out (its name the only notification), then a file of the same name, in one window.
    await rename(pkg, join(outside, 'pkg'));
    await waitFor(() => notified > scanned);
    const moved = notified;
    await writeFile(pkg, 'y');
    await waitFor(() => notified > moved);
    scheduler.flush();
    await waitFor(() => changes.length > 0);
    subscription.unsubscribe();
    expect(changes.map((c) => [c.action, c.path]).sort()).toEqual([
      ['created', pkg],
      ['deleted', inner],
    ]);
  });

  it('reports the files of a directory moved out of the tree as deleted', async () => {
    const watched = join(dir, 'watched');
    const outside = join(dir, 'outside');
    await mkdir(join(watched, 'pkg', 'sub'), { recursive: true });
    await mkdir(outside);
    const files = [join(watched, 'pkg', 'a.ts'), join(watched, 'pkg', 'sub', 'b.ts')];
    for (const file of files) await writeFile(file, 'x');
    await writeFile(join(watched, 'kept.ts'), 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(watched, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    // Moved out, the directory's name is the only notification: none for the files in it.
    await rename(join(watched, 'pkg'), join(outside, 'pkg'));
    await waitFor(() => changes.length >= 2);
    // A file created again at an old path is new.
    await mkdir(join(watched, 'pkg'));
    await writeFile(files[0]!, 'y');
    await waitFor(() => changes.length >= 3);
    subscription.unsubscribe();
    expect(
      changes
        .slice(0, 2)
        .map((c) => [c.action, c.path])
        .sort(),
    ).toEqual(files.map((f) => ['deleted', f]));
    expect(asWritten(changes.slice(2)).map((c) => [c.action, c.path])).toEqual([['created', files[0]]]);
  });

  it('reports a known file replaced by a directory of the same name as deleted', async () => {
    const path = join(dir, 'a');
    const sentinel = join(dir, 'b');
    await writeFile(path, 'x');
    // The window closes when the test flushes the virtual scheduler; `ignore` tells when a notification came.
    const scheduler = new VirtualTimeScheduler();
    const notified = { a: 0, b: 0 };
    const ignore = (relative: string) => {
      if (relative === 'a' || relative === 'b') notified[relative]++;
      return false;
    };
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10, scheduler, ignore }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    const scanned = notified.a;
    await unlink(path);
    await waitFor(() => notified.a > scanned);
    // In the same window, a directory at the path, and a file so that the window has an output anyway.
    await mkdir(path);
    await writeFile(sentinel, 'y');
    await waitFor(() => notified.b > 0);
    scheduler.flush();
    await waitFor(() => changes.length > 0);
    subscription.unsubscribe();
    expect(changes.map((c) => [c.action, c.path]).sort()).toEqual([
      ['created', sentinel],
      ['deleted', path],
    ]);
  });

  it('keeps emitting on a scheduler that runs its debounce at once (queueScheduler, debounceMs 0)', async () => {
    // queueScheduler runs a zero-delay task inside schedule() when none of its tasks is running.
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 0, scheduler: queueScheduler }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    const files = ['a.ts', 'b.ts', 'c.ts'].map((name) => join(dir, name));
    for (const file of files) {
      await writeFile(file, 'x');
      await waitFor(() => changes.some((c) => c.path === file));
      if (!changes.some((c) => c.path === file)) break;
    }
    subscription.unsubscribe();
    expect(files.map((file) => changes.find((c) => c.path === file)?.action)).toEqual([
      'created',
      'created',
      'created',
    ]);
  });

  it('errors with SOURCE_FAILED when its scheduler throws in schedule(), rather than from the watcher’s callback', async () => {
    // Thrown from the callback of fs.watch, the scheduler's error was uncaught: it crashed the process.
    const broken = {
      now: () => Date.now(),
      schedule(): never {
        throw new Error('scheduler closed');
      },
    };
    const errors: unknown[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10, scheduler: broken }).subscribe({
      error: (error: unknown) => errors.push(error),
    });
    await writeFile(join(dir, 'a.ts'), 'x');
    await until(() => errors.length > 0);
    subscription.unsubscribe();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(VibespecError);
    expect(errors[0]).toMatchObject({
      code: 'SOURCE_FAILED',
      message: 'fromFileWatcher: the scheduler failed: scheduler closed',
      cause: new Error('scheduler closed'),
    });
  });

  it('reports no change for the symbolic links present at subscribe (to a folder, to itself, dangling) that Node notifies again', async () => {
    const real = join(dir, 'real');
    await mkdir(real);
    await writeFile(join(real, 'r.ts'), 'x');
    await symlink('real', join(dir, 'dirlink'));
    await symlink('.', join(dir, 'loop'));
    await symlink('nowhere', join(dir, 'dangling'));
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    // A change in the linked folder, then one beside the links: Node 20 notifies each link again.
    const inner = join(real, 'q.ts');
    await writeFile(inner, 'y');
    await waitFor(() => changes.some((c) => c.path === inner));
    const sentinel = join(dir, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    // A write's notifications may fall into two windows on a loaded machine: a `modified` may follow.
    expect(changes.filter((c) => c.action !== 'modified').map((c) => [c.action, c.path])).toEqual([
      ['created', inner],
      ['created', sentinel],
    ]);
  });

  it('reports no change for the files of a folder renamed in the tree when Node notifies them again', async () => {
    const watched = join(dir, 'watched');
    const outside = join(dir, 'outside');
    const file = join(watched, 'pkg', 'a.ts');
    const moved = join(watched, 'pkg2', 'a.ts');
    await mkdir(join(watched, 'pkg'), { recursive: true });
    await mkdir(outside);
    await writeFile(file, 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(watched, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    const shown = (list: FileChange[]) => list.map((c) => [c.action, c.path, c.size]);
    await rename(join(watched, 'pkg'), join(watched, 'pkg2'));
    await waitFor(() => changes.length >= 2);
    // Node 20 notifies pkg2/a.ts again (as renamed) with the next change in the folder above it.
    const sentinel = join(watched, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => changes.some((c) => c.path === sentinel));
    const upToSentinel = changes.findIndex((c) => c.path === sentinel) + 1;
    expect(
      changes
        .slice(0, upToSentinel)
        .map((c) => [c.action, c.path])
        .sort(),
    ).toEqual([
      ['created', moved],
      ['created', sentinel],
      ['deleted', file],
    ]);
    // A file saved over it (renamed onto it, no write to it) is still a change.
    await writeFile(join(outside, 'a.tmp'), 'zzz');
    await rename(join(outside, 'a.tmp'), moved);
    await waitFor(() => changes.slice(upToSentinel).some((c) => c.path === moved));
    subscription.unsubscribe();
    // The sentinel's write may add a `modified` of it (its notifications in two windows).
    expect(shown(changes.slice(upToSentinel).filter((c) => c.path !== sentinel))).toEqual([
      ['modified', moved, 3],
    ]);
  });

  it('reports every save of a file saved by renaming a new copy over it (an atomic save), and writes after', async () => {
    const file = join(dir, 'sub', 'a.ts');
    await mkdir(join(dir, 'sub'));
    await writeFile(file, 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    const sizes = () => changes.filter((c) => c.path === file && c.action === 'modified').map((c) => c.size);
    // Saved three times (2, 3 then 4 bytes), then appended to (7 bytes). Node 20's recursive watcher
    // saw the first save only.
    for (const size of [2, 3, 4, 7]) {
      if (size < 7) {
        await writeFile(`${file}.tmp`, 'y'.repeat(size));
        await rename(`${file}.tmp`, file);
      } else {
        await appendFile(file, 'zzz');
      }
      await waitFor(() => sizes().includes(size));
      if (!sizes().includes(size)) break;
    }
    subscription.unsubscribe();
    expect(sizes().filter((size, i, all) => all.indexOf(size) === i)).toEqual([2, 3, 4, 7]);
    // The copy, made and renamed within a window or not, leaves no trace but its own creation and deletion.
    expect(changes.filter((c) => c.path !== file).every((c) => c.path === `${file}.tmp`)).toBe(true);
  });

  it("reports no change of a file named as its folder when only the folder's mode or times change", async () => {
    // Linux names a folder's own notifications (its mode, its times) after the folder: `lib`'s watcher
    // says `lib` changed, which is also the name of the file `lib/lib`.
    const folder = join(dir, 'lib');
    const file = join(folder, 'lib');
    await mkdir(folder);
    await writeFile(file, 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    await chmod(folder, 0o700);
    await utimes(folder, new Date(), new Date());
    // A change after them: notified after theirs (one inotify queue), so once it is out, theirs are too.
    await writeFile(join(dir, 'after.ts'), '');
    await waitFor(() => changes.some((c) => c.path === join(dir, 'after.ts')));
    const beforeWrite = changes.filter((c) => c.path === file);
    // A write to the file is still a change.
    await appendFile(file, 'yy');
    await waitFor(() => changes.some((c) => c.path === file && c.size === 3));
    subscription.unsubscribe();
    expect(beforeWrite).toEqual([]);
    expect(changes.filter((c) => c.path === file)).toEqual([
      { action: 'modified', path: file, type: 'unknown', size: 3 },
    ]);
  });

  it('reports the files of a folder made again at its path, and the changes to them after', async () => {
    const sub = join(dir, 'sub');
    await mkdir(sub);
    await writeFile(join(sub, 'old.ts'), 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    const fresh = join(sub, 'new.ts');
    await rm(sub, { recursive: true });
    await mkdir(sub);
    await writeFile(fresh, 'yy');
    await waitFor(() => changes.some((c) => c.path === fresh));
    await appendFile(fresh, 'z');
    await waitFor(() => changes.some((c) => c.path === fresh && c.size === 3));
    subscription.unsubscribe();
    expect(changes.filter((c) => c.path === join(sub, 'old.ts')).map((c) => c.action)).toEqual(['deleted']);
    // Made empty, then written: the two may fall into two windows (created at 0, then modified at 2).
    const history = changes.filter((c) => c.path === fresh);
    expect(history.map((c) => c.action).join(' ')).toMatch(/^created( modified)+$/);
    expect(history.at(-1)?.size).toBe(3);
  });

  it('watches no folder that ignore leaves out (a large node_modules cannot reach the system limit of watches)', async () => {
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src', 'a.ts'), 'x');
    for (let i = 0; i < 20; i++) {
      await mkdir(join(dir, 'node_modules', `p${i}`), { recursive: true });
      await writeFile(join(dir, 'node_modules', `p${i}`, 'index.js'), 'x');
    }
    const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
    const before = watchers();
    const subscription = fromFileWatcher(dir).subscribe();
    // One for the root and one for src, made inside subscribe().
    const during = watchers() - before;
    subscription.unsubscribe();
    await waitFor(() => watchers() === before);
    expect(during).toBe(2);
  });

  it('ignores every path an ignore RegExp with the g flag matches, not one in two', async () => {
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10, ignore: /\.log$/g }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    for (const name of ['a.log', 'b.log', 'c.log', 'd.log']) await writeFile(join(dir, name), 'x');
    const sentinel = join(dir, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    expect(changes.every((c) => c.path === sentinel)).toBe(true);
    expect(changes[0]).toMatchObject({ action: 'created', path: sentinel });
  });

  it('reports the files of a folder moved in as created, at every depth, and a later write deep in it', async () => {
    const watched = join(dir, 'watched');
    const outside = join(dir, 'outside');
    await mkdir(watched);
    await mkdir(join(outside, 'ext', 'deep', 'node_modules'), { recursive: true });
    await writeFile(join(outside, 'ext', 'b.ts'), 'x');
    await writeFile(join(outside, 'ext', 'deep', 'c.ts'), 'x');
    await writeFile(join(outside, 'ext', 'deep', 'node_modules', 'i.js'), 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(watched, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    await rename(join(outside, 'ext'), join(watched, 'ext'));
    const [b, c] = [join(watched, 'ext', 'b.ts'), join(watched, 'ext', 'deep', 'c.ts')];
    await waitFor(() => changes.length >= 2);
    await appendFile(c, 'yy');
    await waitFor(() => changes.some((change) => change.path === c && change.size === 3));
    subscription.unsubscribe();
    expect(
      changes
        .slice(0, 2)
        .map((change) => [change.action, change.path, change.size])
        .sort(),
    ).toEqual([
      ['created', b, 1],
      ['created', c, 1],
    ]);
    expect(changes.slice(2).map((change) => [change.action, change.path, change.size])).toEqual([
      ['modified', c, 3],
    ]);
  });

  it('enters no symbolic link made after subscribe (one to a folder, one to itself), and reports a file link removed', async () => {
    const real = join(dir, 'real');
    await mkdir(real);
    await writeFile(join(real, 'r.ts'), 'x');
    await writeFile(join(dir, 't.ts'), 'x');
    const fileLink = join(dir, 'flink');
    await symlink('t.ts', fileLink);
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    await symlink('real', join(dir, 'dirlink'));
    await symlink('.', join(dir, 'loop'));
    await unlink(fileLink);
    const sentinel = join(dir, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    expect(
      changes
        .filter((c) => c.action !== 'modified' || c.path !== sentinel)
        .map((c) => [c.action, c.path])
        .sort(),
    ).toEqual([
      ['created', sentinel],
      ['deleted', fileLink],
    ]);
  });

  it('in one window, a folder replaced by another: its files deleted and the new ones created; moved away and back: no change', async () => {
    const watched = join(dir, 'watched');
    const outside = join(dir, 'outside');
    const d = join(watched, 'd');
    await mkdir(d, { recursive: true });
    await mkdir(join(outside, 'other'), { recursive: true });
    await writeFile(join(d, 'a.ts'), 'x');
    await writeFile(join(outside, 'other', 'b.ts'), 'x');
    const { scheduler, count, changes, subscription } = watchOnVirtualTime(watched);
    let seen = count('d');
    await rename(d, join(outside, 'old'));
    await rename(join(outside, 'other'), d);
    await waitFor(() => count('d') >= seen + 2);
    scheduler.flush();
    await waitFor(() => changes.length >= 2);
    expect(changes.map((c) => [c.action, c.path]).sort()).toEqual([
      ['created', join(d, 'b.ts')],
      ['deleted', join(d, 'a.ts')],
    ]);
    seen = count('d');
    await rename(d, join(watched, 'x'));
    await rename(join(watched, 'x'), d);
    await waitFor(() => count('d') >= seen + 2);
    scheduler.flush();
    const sentinel = join(watched, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => count('s.ts') > 0);
    scheduler.flush();
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    expect(asWritten(changes.slice(2)).map((c) => [c.action, c.path])).toEqual([['created', sentinel]]);
  });

  it('closes the watcher of a folder removed', async () => {
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'a.ts'), 'x');
    const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
    const before = watchers();
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    expect(watchers()).toBe(before + 2);
    await rm(join(dir, 'sub'), { recursive: true });
    await waitFor(() => changes.length > 0 && watchers() === before + 1);
    const left = watchers() - before;
    subscription.unsubscribe();
    expect(changes.map((c) => c.action)).toEqual(['deleted']);
    expect(left).toBe(1);
  });

  it('errors with SOURCE_FAILED for a directory that does not exist', async () => {
    await expect(collect(fromFileWatcher(join(dir, 'nope')))).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringMatching(`^fromFileWatcher: cannot watch ${join(dir, 'nope')}: .*ENOENT`),
    });
  });

  it('errors with SOURCE_FAILED for a dir that is a file, rather than watching it and reporting nothing', async () => {
    const file = join(dir, 'log.txt');
    await writeFile(file, 'x');
    for (const recursive of [true, false]) {
      await expect(collect(fromFileWatcher(file, { recursive }))).rejects.toMatchObject({
        code: 'SOURCE_FAILED',
        message: expect.stringMatching(`^fromFileWatcher: cannot watch ${file}: ENOTDIR`),
      });
    }
  });

  it('refuses a scheduler without schedule(), an ignore that is a string and a recursive that is no boolean', () => {
    // The scheduler threw out of the watcher's callback at the first change (the process crashed),
    // the string failed the source at the first path, and 'false' watched recursively.
    for (const [options, message] of [
      [
        { scheduler: { now: () => 0 } },
        'fromFileWatcher: scheduler must be a SchedulerLike (now() and schedule())',
      ],
      [
        { ignore: 'node_modules' },
        "fromFileWatcher: ignore must be a RegExp or a function, got 'node_modules'",
      ],
      [{ recursive: 'false' }, "fromFileWatcher: recursive must be a boolean, got 'false'"],
    ] as const) {
      expect(() => fromFileWatcher(dir, options as never), message).toThrow(new ConfigError(message));
    }
    expect(() => fromFileWatcher(dir, { ignore: () => false, recursive: false })).not.toThrow();
  });

  it('refuses an empty dir (it would watch the working directory), and takes a debounceMs of 0', () => {
    expect(() => fromFileWatcher('')).toThrow(
      new ConfigError("fromFileWatcher: dir must be a non-empty path, got ''"),
    );
    expect(() => fromFileWatcher(dir, { debounceMs: 0 })).not.toThrow();
  });

  it('asks the ignore predicate nothing more once it threw during the scan', async () => {
    for (const name of ['a.txt', 'b.txt', 'c.txt']) await writeFile(join(dir, name), 'x');
    let asked = 0;
    const ignore = (relative: string) => {
      asked++;
      throw new Error(`cannot judge ${relative}`);
    };
    await expect(collect(fromFileWatcher(dir, { ignore }))).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringMatching(
        /^fromFileWatcher: the ignore option threw for [abc]\.txt: cannot judge/,
      ),
    });
    expect(asked).toBe(1);
  });

  it('never reports an ignored file, even when the folder holding it moves out of the tree', async () => {
    const watched = join(dir, 'watched');
    const outside = join(dir, 'outside');
    const pkg = join(watched, 'pkg');
    await mkdir(join(pkg, 'node_modules'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(pkg, 'a.ts'), 'x');
    await writeFile(join(pkg, 'node_modules', 'x.js'), 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(watched, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    await rename(pkg, join(outside, 'pkg'));
    await waitFor(() => changes.length > 0);
    const sentinel = join(watched, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    expect(changes.map((c) => [c.action, c.path])).toEqual([
      ['deleted', join(pkg, 'a.ts')],
      ['created', sentinel],
    ]);
  });

  it('with recursive: false, knows nothing under a subfolder: its files are not deleted when it moves out', async () => {
    const watched = join(dir, 'watched');
    const outside = join(dir, 'outside');
    await mkdir(join(watched, 'sub'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(watched, 'sub', 'b.ts'), 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(watched, { debounceMs: 10, recursive: false }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    await rename(join(watched, 'sub'), join(outside, 'sub'));
    const sentinel = join(watched, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    expect(asWritten(changes).map((c) => [c.action, c.path])).toEqual([['created', sentinel]]);
  });

  it('in one window, a folder replaced by a file written, then by a folder again: its files deleted, the new folder watched', async () => {
    const watched = join(dir, 'watched');
    const d = join(watched, 'd');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'a.ts'), 'x');
    const { scheduler, count, changes, subscription } = watchOnVirtualTime(watched);
    let seen = count('d');
    await rename(d, join(dir, 'old'));
    await writeFile(d, 'f');
    await appendFile(d, 'g');
    await unlink(d);
    await mkdir(d);
    // Moved out, made, written (a change), removed, made: the window closes only at the flush.
    await waitFor(() => count('d') >= seen + 4);
    scheduler.flush();
    const sentinel = join(watched, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => count('s.ts') > 0);
    scheduler.flush();
    await waitFor(() => changes.some((c) => c.path === sentinel));
    // The change of the file d was taken as the folder's own: it kept the old one's watcher and files.
    expect(changes.map((c) => [c.action, c.path])).toEqual([
      ['deleted', join(d, 'a.ts')],
      ['created', sentinel],
    ]);
    seen = count('d/b.ts');
    await writeFile(join(d, 'b.ts'), 'z');
    await waitFor(() => count('d/b.ts') > seen);
    scheduler.flush();
    await waitFor(() => changes.length > 2);
    subscription.unsubscribe();
    expect(changes.slice(2).map((c) => [c.action, c.path])).toEqual([['created', join(d, 'b.ts')]]);
  });

  it('with recursive: false, reports nothing in a subfolder moved in, only the files beside it', async () => {
    const watched = join(dir, 'watched');
    const outside = join(dir, 'outside');
    await mkdir(watched);
    await mkdir(join(outside, 'sub'), { recursive: true });
    await writeFile(join(outside, 'sub', 'b.ts'), 'x');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(watched, { debounceMs: 10, recursive: false }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    await rename(join(outside, 'sub'), join(watched, 'sub'));
    const sentinel = join(watched, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    // Its folder is not entered: sub/b.ts was reported created when every folder found was.
    expect(asWritten(changes).map((c) => [c.action, c.path])).toEqual([['created', sentinel]]);
  });

  it('reports no change for a file the scan found whose folder moved away and back in one window', async () => {
    const watched = join(dir, 'watched');
    const d = join(watched, 'd');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'a.ts'), 'x');
    const { scheduler, count, changes, subscription } = watchOnVirtualTime(watched);
    const seen = count('d');
    await rename(d, join(watched, 'x'));
    await rename(join(watched, 'x'), d);
    await waitFor(() => count('d') >= seen + 2);
    scheduler.flush();
    const sentinel = join(watched, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => count('s.ts') > 0);
    scheduler.flush();
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    // d/a.ts, listed with its folder and never stat'd before (the scan found it), is the same file: it
    // was reported modified when a listed file was taken as notified.
    expect(changes.map((c) => [c.action, c.path])).toEqual([['created', sentinel]]);
  });

  it('sends no output for a window whose only file appeared and vanished in it', async () => {
    // The windows close when the test flushes the virtual scheduler; `ignore` tells when a notification
    // came (`marker`, ignored, written after the file is gone).
    const scheduler = new VirtualTimeScheduler();
    const notified = { marker: 0, sentinel: 0 };
    const ignore = (relative: string) => {
      if (relative === 'marker' || relative === 'sentinel') notified[relative]++;
      return relative === 'marker';
    };
    const outputs: HookOutput[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10, scheduler, ignore }).subscribe((o) =>
      outputs.push(o),
    );
    const brief = join(dir, 'brief.txt');
    await writeFile(brief, 'x');
    await unlink(brief);
    await writeFile(join(dir, 'marker'), '');
    await waitFor(() => notified.marker > 0);
    scheduler.flush();
    const sentinel = join(dir, 'sentinel');
    await writeFile(sentinel, 'y');
    await waitFor(() => notified.sentinel > 0);
    scheduler.flush();
    await waitFor(() => outputs.length > 0);
    subscription.unsubscribe();
    expect(outputs.map((o) => changesOf(o).map((c) => [c.action, c.path]))).toEqual([
      [['created', sentinel]],
    ]);
  });

  it('closes its watchers when unsubscribed (nothing left to keep the process alive)', async () => {
    await mkdir(join(dir, 'sub'));
    const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
    const before = watchers();
    const subscription = fromFileWatcher(dir).subscribe();
    await waitFor(() => watchers() > before);
    expect(watchers()).toBeGreaterThan(before);
    subscription.unsubscribe();
    await waitFor(() => watchers() === before);
    expect(watchers()).toBe(before);
  });

  it('ignores by default a .git that is a file (a git worktree or submodule), not only a folder', async () => {
    const git = join(dir, '.git');
    await writeFile(git, 'gitdir: /elsewhere\n');
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    await appendFile(git, 'x');
    const sentinel = join(dir, 's.ts');
    await writeFile(sentinel, 'y');
    await waitFor(() => changes.some((c) => c.path === sentinel));
    subscription.unsubscribe();
    expect(asWritten(changes).map((c) => [c.action, c.path])).toEqual([['created', sentinel]]);
  });

  it("gives a change the type of its file name's extension, lower-cased, else 'unknown'", async () => {
    await mkdir(join(dir, 'conf.d'));
    const files = ['A.TS', 'Makefile', '.env', join('conf.d', 'README')].map((name) => join(dir, name));
    const changes: FileChange[] = [];
    const subscription = fromFileWatcher(dir, { debounceMs: 10 }).subscribe((o) =>
      changes.push(...changesOf(o)),
    );
    for (const file of files) await writeFile(file, 'x');
    await waitFor(() => files.every((file) => changes.some((c) => c.path === file)));
    subscription.unsubscribe();
    expect(files.map((file) => changes.find((c) => c.path === file)?.type)).toEqual([
      'ts',
      'unknown',
      'unknown',
      'unknown',
    ]);
  });
});

describe('a consumer that throws on an output (a Subscriber of its own)', () => {
  // Its exception ends the output as it is, and the source lets go of its file, stream or watchers. It was
  // a SOURCE_FAILED saying the file or the input cannot be read, or the folder watched.
  const two = `${JSON.stringify({ hook: 'a', output: {} })}\n${JSON.stringify({ hook: 'b', output: {} })}\n`;
  const throwingOnA = () =>
    new ThrowingConsumer<HookOutput>(
      (output) => output.hook === 'a',
      (output) => output.hook,
    );
  /** The file descriptors open on `path`. */
  const fdsOn = (path: string) => readdirSync('/proc/self/fd').filter((fd) => fdPath(fd) === path);

  it.each([false, true])(
    'fromHookFile (follow: %s): ends with the exception, the file closed',
    async (follow) => {
      const path = join(dir, 'log.jsonl');
      await writeFile(path, two);
      const consumer = throwingOnA();
      fromHookFile(path, { follow, pollIntervalMs: 10 }).subscribe(consumer);
      await consumer.ended;
      expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.hook))).toEqual([
        'a',
        'error consumer on a',
      ]);
      await until(() => fdsOn(path).length === 0);
      expect(fdsOn(path)).toEqual([]);
    },
  );

  it('fromHookFileMarked: ends with the exception', async () => {
    const path = join(dir, 'log.jsonl');
    await writeFile(path, two);
    const consumer = new ThrowingConsumer<MarkedHookOutput>(
      () => true,
      ({ mark }) => String(mark.end),
    );
    fromHookFileMarked(path, { follow: true, pollIntervalMs: 10 }).subscribe(consumer);
    await consumer.ended;
    expect(consumer.got.at(-1)).toBe(`error consumer on ${two.indexOf('\n') + 1}`);
    expect(consumer.got).toHaveLength(2);
  });

  it('fromJsonLines: ends with the exception, the stream destroyed', async () => {
    const path = join(dir, 'log.jsonl');
    await writeFile(path, two);
    const stream = createReadStream(path);
    const consumer = throwingOnA();
    fromJsonLines(stream).subscribe(consumer);
    await consumer.ended;
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.hook))).toEqual([
      'a',
      'error consumer on a',
    ]);
    expect(stream.destroyed).toBe(true);
  });

  it('fromFileWatcher: ends with the exception, its watchers closed', async () => {
    const consumer = new ThrowingConsumer<HookOutput>(
      () => true,
      () => 'changes',
    );
    const watchers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'FSEventWrap').length;
    const before = watchers();
    fromFileWatcher(dir, { debounceMs: 5 }).subscribe(consumer);
    expect(watchers()).toBe(before + 1);
    await writeFile(join(dir, 'new.txt'), 'x');
    await consumer.ended;
    expect(consumer.got.at(-1)).toBe('error consumer on changes');
    expect(consumer.got).toHaveLength(2);
    await until(() => watchers() === before); // a watcher's handle is released once closed, a tick later
    expect(watchers()).toBe(before);
  });
});
