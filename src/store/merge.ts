/**
 * @internal A k-way merge of sorted key streams (one per event type), used to serve a query over
 * several types, or a time range over every type of a session, from the (type, time, seq) index in
 * (time, seq) order without reading anything outside the requested ranges.
 */

/** What the merge needs from a key iterator (`db.keys()` of abstract-level). */
export interface KeySource {
  nextv(size: number): Promise<string[]>;
  close(): Promise<void>;
}

const CHUNK = 256;

class Reader {
  private buffer: string[] = [];
  private index = 0;
  /** The current key's sort part; valid while `head !== undefined`. */
  head: string | undefined;
  key: string | undefined;

  constructor(
    private readonly source: KeySource,
    private readonly sortKey: (key: string) => string,
    private readonly onRead: (count: number) => void,
  ) {}

  /**
   * Moves to the next key; `head` is undefined at the end. Not called again once at the end: the merge
   * then drops the reader.
   */
  async advance(): Promise<void> {
    if (this.index >= this.buffer.length) {
      this.buffer = await this.source.nextv(CHUNK);
      this.index = 0;
      this.onRead(this.buffer.length);
    }
    if (this.index < this.buffer.length) {
      this.key = this.buffer[this.index++]!;
      this.head = this.sortKey(this.key);
    } else {
      this.key = undefined;
      this.head = undefined;
    }
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

/**
 * Yields the keys of `sources` merged by `sortKey` (ascending, or descending when `descending`); each
 * source must already be sorted that way. Closes every source when done or when the consumer stops.
 */
export async function* mergeKeys(
  sources: readonly KeySource[],
  sortKey: (key: string) => string,
  descending: boolean,
  onRead: (count: number) => void,
): AsyncGenerator<string> {
  const readers = sources.map((source) => new Reader(source, sortKey, onRead));
  try {
    await Promise.all(readers.map((reader) => reader.advance()));
    // A binary heap of the readers that still have a head; `before(a, b)` is the heap order.
    const before = descending
      ? (a: Reader, b: Reader) => a.head! > b.head!
      : (a: Reader, b: Reader) => a.head! < b.head!;
    const heap = readers.filter((reader) => reader.head !== undefined);
    const down = (start: number) => {
      let i = start;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < heap.length && before(heap[left]!, heap[best]!)) best = left;
        if (right < heap.length && before(heap[right]!, heap[best]!)) best = right;
        if (best === i) return;
        [heap[i], heap[best]] = [heap[best]!, heap[i]!];
        i = best;
      }
    };
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
    while (heap.length > 0) {
      const top = heap[0]!;
      yield top.key!;
      await top.advance();
      if (top.head === undefined) {
        // The last reader takes the top's place; when the top was the only one, the heap is now empty.
        const last = heap.pop()!;
        if (heap.length > 0) heap[0] = last;
      }
      down(0);
    }
  } finally {
    await Promise.all(readers.map((reader) => reader.close()));
  }
}
