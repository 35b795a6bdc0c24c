/**
 * fromHookFileMarked with `follow`, property, on real files: a log appended in pieces cut anywhere (in a
 * line, in a UTF-8 character, between a `\r` and its `\n`), with lines cut by a short write whose last
 * byte is then overwritten by a newline (as `record` does), read by a follower as it grows, gives exactly
 * the outputs, and the marks, of one read of the whole log: no line torn, none twice, none lost.
 */
import { appendFile, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { firstValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHookFileMarked, type MarkedHookOutput } from '../../src/index.js';

/** A line of a log, with its line end: envelopes with multi-byte text, blank and bad lines, long ones. */
const lineSpec = fc
  .tuple(
    fc.oneof(
      fc
        .record({ hook: fc.constantFrom('Stop', 'PostToolUse'), text: fc.string({ unit: 'grapheme' }) })
        .map((o) => JSON.stringify({ hook: o.hook, output: { text: o.text }, timestamp: 1 })),
      fc.constantFrom('', '   ', 'not json', '{"a":', '\u0000'),
      // Past the 256 bytes of a file's head, and read in several chunks.
      fc
        .integer({ min: 200, max: 70_000 })
        .map((n) => JSON.stringify({ hook: 'long', output: { pad: 'é'.repeat(n) } })),
    ),
    fc.constantFrom('\n', '\r\n'),
    // Cut by a short write after this share of its bytes (at least one), its last byte then a newline.
    fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 3 }),
  )
  .map(([text, end, cutAt]) => {
    const bytes = Buffer.from(text + end);
    return cutAt === null ? { bytes } : { bytes, cut: 1 + Math.floor(cutAt * (bytes.length - 1)) };
  });

/** As `writeWhole` ends a cut line: the last byte of the file overwritten by a newline. */
async function endCutLine(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    await file.write(Buffer.from('\n'), 0, 1, (await file.stat()).size - 1);
  } finally {
    await file.close();
  }
}
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** The last line: the follower has read everything once it has emitted it. */
const LAST = `${JSON.stringify({ hook: 'last', output: {} })}\n`;

let dir: string;
let run = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-follow-prop-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fromHookFileMarked with follow, on a log appended in pieces', () => {
  it('gives the outputs and marks of one read of the whole log', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineSpec, { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        async (lines, cutsAt) => {
          const path = join(dir, `log-${run++}.jsonl`);
          await writeFile(path, '');
          const seen: MarkedHookOutput[] = [];
          let done!: () => void;
          const last = new Promise<void>((resolve) => {
            done = resolve;
          });
          const subscription = fromHookFileMarked(path, { follow: true, pollIntervalMs: 5 }).subscribe(
            (o) => {
              seen.push(o);
              if (o.output.hook === 'last') done();
            },
          );
          try {
            for (const [i, { bytes, cut }] of lines.entries()) {
              if (cut !== undefined) {
                await appendFile(path, bytes.subarray(0, cut));
                await tick();
                await endCutLine(path);
                continue;
              }
              // A whole line in two appends, split where `cutsAt` says (its values taken in turn).
              const at = cutsAt[i % Math.max(1, cutsAt.length)];
              const split = at === undefined ? bytes.length : Math.floor(at * bytes.length);
              await appendFile(path, bytes.subarray(0, split));
              await tick();
              await appendFile(path, bytes.subarray(split));
              await tick();
            }
            await appendFile(path, LAST);
            await last;
          } finally {
            subscription.unsubscribe();
          }
          const whole = await firstValueFrom(fromHookFileMarked(path).pipe(toArray()));
          expect(seen).toEqual(whole);
        },
      ),
      { numRuns: 30 },
    );
  });
});
