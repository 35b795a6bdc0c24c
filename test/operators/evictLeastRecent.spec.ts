import { describe, expect, it } from 'vitest';
import { evictLeastRecent, type Recency } from '../../src/operators/internal/keyed.js';

/** A map of `n` entries, `k0` the least recently active. */
function entries(n: number): Map<string, Recency> {
  return new Map(Array.from({ length: n }, (_, i) => [`k${i}`, { seen: i }] as const));
}

describe('evictLeastRecent (internal)', () => {
  it('removes the least recently active eighth, oldest first, calling onEvict for each', () => {
    const map = entries(16);
    // Out of insertion order: the sort by recency decides, not the map's order.
    map.get('k0')!.seen = 100;
    const evicted: string[] = [];
    evictLeastRecent(map, (key, value) => {
      expect(value.seen).toBeLessThan(3);
      evicted.push(key);
    });
    expect(evicted).toEqual(['k1', 'k2']);
    expect([...map.keys()]).not.toContain('k1');
    expect([...map.keys()]).not.toContain('k2');
    expect(map.size).toBe(14);
  });

  it('evicts the whole batch when onEvict throws, then throws the first exception', () => {
    const map = entries(24);
    const evicted: string[] = [];
    let thrown: unknown;
    try {
      evictLeastRecent(map, (key) => {
        evicted.push(key);
        throw new Error(`on ${key}`);
      });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as Error | undefined)?.message).toBe('on k0');
    // Each entry of the batch was handed over once and left the map: none is evicted twice later.
    expect(evicted).toEqual(['k0', 'k1', 'k2']);
    expect(map.size).toBe(21);
    for (const key of evicted) expect(map.has(key)).toBe(false);
    expect(map.has('k3')).toBe(true);
  });
});
