/**
 * fromHookFileMarked and resumeFrom, property, on real files: a log read in two parts — the first read
 * stopped after a random number of outputs, lines appended meanwhile, the second resumed from the mark of
 * the last output of the first (or from its byte offset) — gives exactly the outputs, and the marks, of
 * one read of the whole log: no line twice, none lost.
 */
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { firstValueFrom, type Observable, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHookFile, fromHookFileMarked, type MarkedHookOutput } from '../../src/index.js';

const collect = <T>(source: Observable<T>) => firstValueFrom(source.pipe(toArray()));

/** A line of a log, with its line end: envelopes with multi-byte text, bare payloads, blank and bad lines. */
const lineSpec = fc
  .tuple(
    fc.oneof(
      fc
        .record({ hook: fc.constantFrom('Stop', 'PostToolUse', 'x'), text: fc.string({ unit: 'grapheme' }) })
        .map((o) => JSON.stringify({ hook: o.hook, output: { text: o.text }, timestamp: 1 })),
      fc
        .string({ unit: 'grapheme', maxLength: 20 })
        .map((s) => JSON.stringify({ hook_event_name: 'Notification', message: s })),
      fc.constantFrom('', '   ', 'not json', '{"a":'),
      // Long enough for a mark past the 256 bytes of a file's head, and for reads in several chunks.
      fc
        .integer({ min: 200, max: 70_000 })
        .map((n) => JSON.stringify({ hook: 'long', output: { pad: 'é'.repeat(n) } })),
    ),
    fc.constantFrom('\n', '\r\n'),
  )
  .map(([text, end]) => text + end);

/** The outputs and marks as read without the time of the lines before them. */
function withoutEarlierTime(marked: MarkedHookOutput[]): MarkedHookOutput[] {
  let known = false;
  return marked.map(({ output, mark }) => {
    if (output.error === undefined && output.timestamp !== undefined) known = true;
    if (known) return { output, mark };
    const { timestamp: _output, ...untimedOutput } = output;
    const { timestamp: _mark, ...untimedMark } = mark;
    return { output: untimedOutput, mark: untimedMark };
  });
}

let dir: string;
let run = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-resume-prop-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fromHookFile, read in two parts', () => {
  it('a read stopped at a random mark and resumed from it gives the lines of one read', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineSpec, { maxLength: 12 }),
        fc.array(lineSpec, { maxLength: 6 }),
        /** The last line of the log has no newline. */
        fc.boolean(),
        /** How many outputs the first read takes, as a fraction of those of the first part of the log. */
        fc.double({ min: 0, max: 1, noNaN: true }),
        /** Resume from the mark, or from its byte offset; with fromHookFile or fromHookFileMarked. */
        fc.boolean(),
        fc.boolean(),
        async (first, appended, unterminated, fraction, byOffset, plain) => {
          const path = join(dir, `log-${run++}.jsonl`);
          await writeFile(path, first.join(''));
          const before = await collect(fromHookFileMarked(path));
          const taken = Math.round(fraction * before.length);
          const part1 = await collect(fromHookFileMarked(path).pipe(take(taken)));
          let rest = appended.join('');
          if (unterminated && rest.length > 0) rest = rest.replace(/\r?\n$/, '');
          await appendFile(path, rest);

          const last = part1.at(-1)?.mark;
          const resumeFrom = last === undefined ? undefined : byOffset ? last.end : last;
          const whole = await collect(fromHookFileMarked(path));
          // A bare offset does not know the time of the lines before it: the bad lines after it, up to
          // the first line with a time of its own, have none (and the marks up to there none either).
          const expected = byOffset
            ? [...whole.slice(0, part1.length), ...withoutEarlierTime(whole.slice(part1.length))]
            : whole;
          if (plain) {
            const part2 = await collect(fromHookFile(path, { resumeFrom }));
            expect([...part1.map((m) => m.output), ...part2]).toEqual(expected.map((m) => m.output));
          } else {
            const part2: MarkedHookOutput[] = await collect(fromHookFileMarked(path, { resumeFrom }));
            expect([...part1, ...part2]).toEqual(expected);
          }
          await rm(path);
        },
      ),
      { numRuns: 200 },
    );
  }, 120_000);
});
