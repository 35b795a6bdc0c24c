/**
 * Helpers for tests of the session store: a temp folder per test (real LevelDB, never a mock), event
 * factories and a collector for async iterables.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { vi } from 'vitest';
import {
  createEvent,
  type Event,
  openStore,
  type QueryOptions,
  type SessionStore,
  type StoredEvent,
  type StoreOptions,
} from '../../src/index.js';

export interface TempStore {
  dir: string;
  store: SessionStore;
  /** Closes the store (if open) and opens it again at the same path. */
  reopen(options?: Omit<StoreOptions, 'path'>): Promise<SessionStore>;
  cleanup(): Promise<void>;
}

/**
 * Closes `store`, runs `edit` on its LevelDB database behind its back (to damage or rewind records), and
 * leaves the store closed (reopen it with `TempStore.reopen`).
 */
export async function behindItsBack(
  store: SessionStore,
  edit: (raw: Level<string, string>) => Promise<void>,
): Promise<void> {
  await store.close();
  const raw = new Level<string, string>(store.path);
  await raw.open();
  try {
    await edit(raw);
  } finally {
    await raw.close();
  }
}

/** Opens a store in a fresh temp folder. Call `cleanup()` in afterEach. */
export async function tempStore(options: Omit<StoreOptions, 'path'> = {}): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), 'vibespec-store-'));
  const path = join(dir, 'db');
  const temp: TempStore = {
    dir,
    store: await openStore({ ...options, path }),
    async reopen(again = options) {
      await temp.store.close();
      temp.store = await openStore({ ...again, path });
      return temp.store;
    },
    async cleanup() {
      await temp.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return temp;
}

/**
 * Runs `run` and counts what it opened of LevelDB: the snapshots it took, and its snapshots and iterators
 * still open when it has returned (a leak: each holds LevelDB's old versions until the store closes).
 */
export async function resourcesOf(run: () => Promise<unknown>): Promise<{ snapshots: number; open: number }> {
  const { AbstractIterator, AbstractLevel, AbstractSnapshot } = await import('abstract-level');
  const attach = vi.spyOn(AbstractLevel.prototype, 'attachResource');
  const detach = vi.spyOn(AbstractLevel.prototype, 'detachResource');
  try {
    await run();
    const opened = attach.mock.calls
      .map(([resource]) => resource as unknown)
      .filter((resource) => resource instanceof AbstractSnapshot || resource instanceof AbstractIterator);
    const closed = new Set(detach.mock.calls.map(([resource]) => resource as unknown));
    return {
      snapshots: opened.filter((resource) => resource instanceof AbstractSnapshot).length,
      open: opened.filter((resource) => !closed.has(resource)).length,
    };
  } finally {
    attach.mockRestore();
    detach.mockRestore();
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

let counter = 0;

/** An event of `sessionId` (none when null) at time `t`; ids are unique across the test run. */
export function ev(
  type: string,
  t: number,
  sessionId: string | null = 's1',
  data: Record<string, unknown> = {},
): Event {
  counter++;
  return createEvent({
    type,
    timestamp: t,
    data,
    id: `E${String(counter).padStart(10, '0')}`,
    ...(sessionId === null ? {} : { sessionId }),
  });
}

/**
 * What a query must return (docs/store.md, `query`), by brute force over a session's stored events in
 * seq order: filtered, by time (then seq) when a filter of types or times is given, reversed, limited.
 */
export function expectedQuery(stored: readonly StoredEvent[], q: QueryOptions): StoredEvent[] {
  let out = stored.filter(
    ({ seq, event }) =>
      (q.types === undefined || q.types.includes(event.type)) &&
      (q.start === undefined || event.timestamp >= q.start) &&
      (q.end === undefined || event.timestamp <= q.end) &&
      seq >= (q.fromSeq ?? 0),
  );
  if (q.types !== undefined || q.start !== undefined || q.end !== undefined) {
    out = out.sort((x, y) => x.event.timestamp - y.event.timestamp || x.seq - y.seq);
  }
  if (q.reverse) out.reverse();
  return q.limit === undefined ? out : out.slice(0, q.limit);
}
