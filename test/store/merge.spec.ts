import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KeySource, mergeKeys } from '../../src/store/merge.js';

/**
 * A key source over `keys` (already sorted), recording whether it was closed and how often it was read
 * again after a read that gave nothing (its end).
 */
function source(keys: string[], failAt?: number) {
  let at = 0;
  let ended = false;
  const s = {
    closed: 0,
    readsPastEnd: 0,
    async nextv(size: number) {
      if (failAt !== undefined && at >= failAt) throw new Error('read failed');
      if (ended) s.readsPastEnd++;
      const out = keys.slice(at, at + size);
      at += out.length;
      ended = out.length === 0;
      return out;
    },
    async close() {
      s.closed++;
    },
  };
  return s satisfies KeySource;
}

const sortKey = (key: string) => key.slice(key.indexOf(':') + 1);

async function drain(gen: AsyncGenerator<string>) {
  const out: string[] = [];
  for await (const key of gen) out.push(key);
  return out;
}

describe('mergeKeys', () => {
  it('property: yields every key of every source once, in sortKey order (ascending or descending)', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Distinct sort keys (a seq is unique), spread over up to 5 sources, some longer than one read.
        fc.uniqueArray(fc.integer({ min: 0, max: 99_999 }), { maxLength: 700 }),
        fc.array(fc.nat(4), { minLength: 700, maxLength: 700 }),
        fc.boolean(),
        async (seqs, owners, descending) => {
          const keys = seqs.map((seq, i) => `t${owners[i]}:${String(seq).padStart(5, '0')}`);
          const order = (a: string, b: string) =>
            descending ? sortKey(b).localeCompare(sortKey(a)) : sortKey(a).localeCompare(sortKey(b));
          const sources = [0, 1, 2, 3, 4].map((t) =>
            source(keys.filter((k) => k.startsWith(`t${t}:`)).sort(order)),
          );
          let read = 0;
          const out = await drain(mergeKeys(sources, sortKey, descending, (n) => (read += n)));
          expect(out).toEqual([...keys].sort(order));
          expect(read).toBe(keys.length);
          expect(sources.map((s) => s.closed)).toEqual([1, 1, 1, 1, 1]);
          // A source that gave nothing is at its end: the merge reads it no more.
          expect(sources.map((s) => s.readsPastEnd)).toEqual([0, 0, 0, 0, 0]);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('closes every source when the consumer stops early, and when a read fails', async () => {
    const sources = [source(['a:1', 'a:3']), source(['b:2', 'b:4']), source([])];
    const gen = mergeKeys(sources, sortKey, false, () => {});
    for await (const key of gen) if (key === 'b:2') break;
    expect(sources.map((s) => s.closed)).toEqual([1, 1, 1]);

    const failing = [source(['a:1', 'a:3'], 1), source(['b:2'])];
    await expect(drain(mergeKeys(failing, sortKey, false, () => {}))).rejects.toThrow('read failed');
    expect(failing.map((s) => s.closed)).toEqual([1, 1]);
  });
});
