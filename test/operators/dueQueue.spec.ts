import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DueQueue, type Queued } from '../../src/operators/internal/eventTime.js';

interface Item extends Queued {
  readonly name: number;
}

describe('DueQueue (internal)', () => {
  it('pops exactly the items due by a time, earliest first, through sets, moves and deletes', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        item: fc.nat(19),
        due: fc.integer({ min: 0, max: 50 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), item: fc.nat(19) }),
      fc.record({ kind: fc.constant('pop' as const), time: fc.integer({ min: 0, max: 50 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const items: Item[] = Array.from({ length: 20 }, (_, name) => ({ name, due: 0, slot: -1 }));
        const queue = new DueQueue<Item>();
        // The model: item → due time, for the items in the queue.
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            queue.set(items[o.item]!, o.due);
            model.set(o.item, o.due);
          } else if (o.kind === 'delete') {
            queue.delete(items[o.item]!);
            model.delete(o.item);
          } else {
            const popped: Item[] = [];
            for (let p = queue.pop(o.time); p !== undefined; p = queue.pop(o.time)) popped.push(p);
            const due = [...model].filter(([, d]) => d <= o.time);
            expect(popped.map((p) => p.due)).toEqual(due.map(([, d]) => d).sort((a, b) => a - b));
            expect(new Set(popped.map((p) => p.name))).toEqual(new Set(due.map(([name]) => name)));
            for (const [name] of due) model.delete(name);
            for (const p of popped) expect(p.slot).toBe(-1);
          }
          expect(queue.size).toBe(model.size);
          expect(queue.next).toBe(model.size === 0 ? Number.POSITIVE_INFINITY : Math.min(...model.values()));
        }
      }),
      { numRuns: 500 },
    );
  });
});
