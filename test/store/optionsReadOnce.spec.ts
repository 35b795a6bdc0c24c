/**
 * The store's query options read once (query, replay, reconstruct): each field's getter runs once, each
 * of the types once, and the value checked is the value used.
 */
import { firstValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlowGate, type QueryOptions, reconstruct, replay } from '../../src/index.js';
import { collect, ev, type TempStore, tempStore } from '../helpers/store.js';

let t: TempStore;
beforeEach(async () => {
  t = await tempStore();
  await t.store.append([ev('a', 1), ev('b', 2), ev('a', 3), ev('b', 4)]);
});
afterEach(async () => {
  await t.cleanup();
});

/**
 * Query options whose fields are getters that count their reads, each giving its value at the first read
 * and `later`'s after; `types` is ['a'] at the first read of its entry and '' (refused) after.
 */
function counted(fields: Record<string, unknown>, later: Record<string, unknown> = {}) {
  const reads: Record<string, number> = { typeEntry: 0 };
  const types: string[] = [];
  Object.defineProperty(types, 0, { enumerable: true, get: () => (++reads.typeEntry! === 1 ? 'a' : '') });
  const object = {};
  for (const [key, value] of Object.entries({ types, ...fields })) {
    reads[key] = 0;
    Object.defineProperty(object, key, {
      enumerable: true,
      get() {
        reads[key]!++;
        return reads[key] === 1 || !(key in later) ? value : later[key];
      },
    });
  }
  return { options: object as QueryOptions, reads };
}

const typesOf = (events: readonly { type: string }[]) => events.map((event) => event.type);

describe("the store's query options read once", () => {
  it('query: each field and each type is read once (the types were read twice: an entry checked, another used)', async () => {
    const { options, reads } = counted({ limit: 5, reverse: false }, { limit: -1, reverse: 'no' });
    const events = await collect(t.store.query('s1', options));
    expect(reads).toEqual({ typeEntry: 1, types: 1, limit: 1, reverse: 1 });
    expect(typesOf(events)).toEqual(['a', 'a']);
  });

  it('replay, with and without a gate: each field and each type is read once', async () => {
    for (const gate of [undefined, createFlowGate()]) {
      const { options, reads } = counted({ reverse: true, ...(gate && { gate }) }, { reverse: 'no' });
      const events = await firstValueFrom(replay(t.store, 's1', options).pipe(toArray()));
      expect(reads).toEqual({ typeEntry: 1, types: 1, reverse: 1, ...(gate && { gate: 1 }) });
      expect(typesOf(events)).toEqual(['a', 'a']);
    }
  });

  it('reconstruct: each field and each type is read once (reverse was read twice: one picked the path, the other went to the query)', async () => {
    const folded = {
      initial: [] as string[],
      reduce: (ids: string[], event: { type: string }) => [...ids, event.type],
    };
    for (const fields of [{ reverse: true }, { reverse: true, limit: 1 }]) {
      const { options, reads } = counted(fields, { reverse: 'no', limit: -1 });
      const state = await reconstruct(t.store, 's1', folded, options);
      expect(reads).toEqual({
        typeEntry: 1,
        types: 1,
        ...Object.fromEntries(Object.keys(fields).map((k) => [k, 1])),
      });
      expect(state).toEqual('limit' in fields ? ['a'] : ['a', 'a']);
    }
  });
});
