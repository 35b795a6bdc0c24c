/**
 * @internal Plain objects and arrays made without an allocation site, for what an operator emits in bulk
 * (an aggregate, its `data`, its summary).
 *
 * V8 keeps an allocation site for every object or array literal and may decide, from what survives its
 * scavenges, to "pretenure" the site: to allocate its objects in the old generation from then on. It may
 * decide so while the code is still cold, and the decision stays. Measured on `temporalAggregate`'s
 * benchmark: in about half of fresh processes some of the aggregates' sites (`data`, `time_span`,
 * `window`, the summaries and their arrays) ended up pretenured, although an aggregate dies as soon as its
 * consumer is done with it. Every aggregate then died in the old generation: the heap grew by megabytes a
 * run, scavenges took 3–4 ms instead of ~1, and the whole process ran 20–30 % slower, RxJS's own
 * `bufferTime` included. docs/temporalAggregate-performance.md ("The slow mode") has the measurements.
 *
 * `new` on a function has no allocation site, so its objects are allocated young, always. With the
 * function's `prototype` set to `Object.prototype`, what it makes is a plain object, as a literal makes:
 * the same prototype (so `constructor === Object`), its own enumerable properties in the order assigned.
 * An array cloned from a constant one (`slice`) has no allocation site either.
 */

/** What `plainConstructor` returns: `new` it with `A` to make a `T`. */
export type PlainConstructor<A extends unknown[], T extends object> = new (...args: A) => T;

/**
 * A constructor of plain objects: `init` assigns the fields to `this`. Assign them in one order, optional
 * ones last and only when given, so that the objects of one shape share a hidden class.
 */
export function plainConstructor<A extends unknown[], T extends object>(
  init: (this: T, ...args: A) => void,
): PlainConstructor<A, T> {
  init.prototype = Object.prototype;
  return init as unknown as PlainConstructor<A, T>;
}

const NO_ITEMS: readonly never[] = [];
const ONE_ITEM: readonly undefined[] = [undefined];

/** A new empty array, without an allocation site. */
export function emptyArray<T>(): T[] {
  return NO_ITEMS.slice();
}

/** A new array of `item`, without an allocation site. */
export function arrayOf<T>(item: T): T[] {
  const array = ONE_ITEM.slice() as unknown as T[];
  array[0] = item;
  return array;
}
