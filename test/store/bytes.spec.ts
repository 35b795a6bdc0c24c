/**
 * The exact bytes the store writes: a fixed set of appends (fixed ids, times and clock) to a real LevelDB,
 * then every key and value of the database compared with a committed dump. Guards the key layout and
 * the encodings against an optimization that changes what is stored.
 */
import { Level } from 'level';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createEvent, Priority } from '../../src/index.js';
import { type TempStore, tempStore } from '../helpers/store.js';

let t: TempStore;
beforeEach(async () => {
  // The metadata's createdAt comes from Date.now().
  vi.spyOn(Date, 'now').mockReturnValue(1_795_000_000_000);
  t = await tempStore();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await t.cleanup();
});

let n = 0;
function event(type: string, timestamp: number, sessionId: string | undefined, extra: object = {}) {
  n++;
  return createEvent({
    id: `ID${String(n).padStart(4, '0')}`,
    type,
    timestamp,
    ...(sessionId === undefined ? {} : { sessionId }),
    data: { n, file_path: `/src/f${n}.ts`, quote: 'a "b" \\ \u2028 é' },
    ...extra,
  });
}

it('writes exactly the committed keys and values', async () => {
  n = 0;
  const { store } = t;
  await store.startSession('s-meta', { project: 'acme', tags: ['x', 'y'] });
  await store.append([
    event('tool.used', 1000, 's-a'),
    event('file.modified', 1000.5, 's-b', { context: { hook: 'PostToolUse', cwd: '/w' } }),
    event('tool.used', 999, 's-a', { priority: Priority.HIGH }),
    event('git.commit', 0, undefined),
    event('weird\x00type\x01\uD800', 12345678.25, 'id\x00with\x01escapes'),
  ]);
  // An unknown key is dropped from the stored copy.
  const withExtra = { ...event('tool.used', 2000, 's-meta'), extra: 1 };
  // A regular append and an urgent one queued in the same tick share the writes.
  const regular = store.append([withExtra, event('tool.used', 2001, 's-a')]);
  const urgent = store.append([event('agent.error', 2002, 's-a', { priority: Priority.CRITICAL })], {
    urgent: true,
  });
  await Promise.all([regular, urgent]);
  await store.append(
    Array.from({ length: 12 }, (_, i) => event(`t${i % 3}`, 3000 + i, i % 2 ? 's-a' : 's-c')),
  );
  await store.startSession('s-a', { more: true });
  // Counters loaded back from the metadata on disk, then written again.
  const again = await t.reopen();
  await again.append([
    event('tool.used', 4000, 's-a'),
    event('__proto__', 4001, 's-b'),
    event('t9', 4002, 's-new'),
  ]);
  await again.close();

  const db = new Level<string, string>(`${t.dir}/db`);
  await db.open();
  // One line per record: the key and the value as JSON strings (escapes make every byte visible).
  let dump = '';
  for await (const [key, value] of db.iterator()) dump += `${JSON.stringify(key)} ${JSON.stringify(value)}\n`;
  await db.close();
  await expect(dump).toMatchFileSnapshot('./__fixtures__/store-bytes.txt');
});
