import { asyncScheduler, config, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createHookBridge,
  type Event,
  eventFromJSON,
  eventToJSON,
  VibespecError,
} from '../../src/index.js';
import { ThrowingConsumer } from '../helpers/consumer.js';

const end = (session: string) => ({ session_id: session, reason: 'logout' });
const write = (file: string) => ({
  hook_event_name: 'PostToolUse',
  session_id: 's',
  tool_name: 'Write',
  tool_input: { file_path: file, content: 'x' },
  tool_response: { success: true },
});

describe('createHookBridge', () => {
  it('delivers pushed outputs as events to subscribers, in order', () => {
    const bridge = createHookBridge();
    const seen: Event[] = [];
    bridge.events$.subscribe((event) => seen.push(event));
    bridge.push('SessionEnd', end('a'), 10);
    bridge.push('Stop', null, 11);
    expect(seen.map((e) => [e.type, e.timestamp, e.sessionId])).toEqual([
      ['session.ended', 10, 'a'],
      ['hook.rejected', 11, undefined],
    ]);
  });

  it('holds outputs pushed before anyone subscribes and hands them to the first subscriber', async () => {
    const bridge = createHookBridge();
    bridge.push('SessionEnd', end('a'));
    bridge.push('SessionEnd', end('b'));
    bridge.complete();
    const events = await new Promise<Event[]>((resolve) => bridge.events$.pipe(toArray()).subscribe(resolve));
    expect(events.map((e) => e.sessionId)).toEqual(['a', 'b']);
  });

  it('shares one mapping between subscribers (same ids)', () => {
    const bridge = createHookBridge();
    const a: string[] = [];
    const b: string[] = [];
    bridge.events$.subscribe((e) => a.push(e.id));
    bridge.events$.subscribe((e) => b.push(e.id));
    bridge.push('SessionEnd', end('x'));
    expect(a).toHaveLength(1);
    expect(b).toEqual(a);
  });

  it('buffers again while nobody listens, so a reconnecting dashboard misses nothing', () => {
    const bridge = createHookBridge();
    const first: string[] = [];
    const subscription = bridge.events$.subscribe((e) => first.push(e.sessionId!));
    bridge.push('SessionEnd', end('1'));
    subscription.unsubscribe();
    bridge.push('SessionEnd', end('2'));
    const second: string[] = [];
    bridge.events$.subscribe((e) => second.push(e.sessionId!));
    bridge.push('SessionEnd', end('3'));
    expect(first).toEqual(['1']);
    expect(second).toEqual(['2', '3']);
  });

  it('keeps what a subscriber leaving mid-delivery did not get for the next one', () => {
    const bridge = createHookBridge();
    for (const id of ['1', '2', '3', '4']) bridge.push('SessionEnd', end(id));
    const first: string[] = [];
    bridge.events$.pipe(take(1)).subscribe((e) => first.push(e.sessionId!));
    const second: string[] = [];
    bridge.events$.subscribe((e) => second.push(e.sessionId!));
    expect(first).toEqual(['1']);
    expect(second).toEqual(['2', '3', '4']);
  });

  it('ends events$ with the exception of a subscriber that throws on an event, and holds the rest for the next', async () => {
    // The exception was caught by RxJS and reported unhandled (a crash, in Node) at each event, and the
    // subscriber stayed subscribed: its stream never ended, and it took the events a next one should get.
    const bridge = createHookBridge();
    const consumer = new ThrowingConsumer<Event>(
      (event) => event.sessionId === '1',
      (event) => String(event.sessionId),
    );
    const unhandled: unknown[] = [];
    const before = config.onUnhandledError;
    config.onUnhandledError = (error) => unhandled.push(error);
    try {
      bridge.events$.subscribe(consumer);
      expect(() => bridge.push('SessionEnd', end('1'))).not.toThrow();
      bridge.push('SessionEnd', end('2'));
      await new Promise((resolve) => setTimeout(resolve, 5)); // RxJS reports on a later task
    } finally {
      config.onUnhandledError = before;
    }
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.sessionId))).toEqual([
      '1',
      'error consumer on 1',
    ]);
    expect(unhandled).toEqual([]);
    const next: string[] = [];
    bridge.events$.subscribe((e) => next.push(e.sessionId!));
    expect(next).toEqual(['2']);
  });

  it('leaves the held outputs after the event a subscriber throws on to the next subscriber', () => {
    const bridge = createHookBridge();
    for (const id of ['1', '2', '3']) bridge.push('SessionEnd', end(id));
    const consumer = new ThrowingConsumer<Event>(
      (event) => event.sessionId === '1',
      (event) => String(event.sessionId),
    );
    bridge.events$.subscribe(consumer);
    expect(consumer.got.map((item) => (typeof item === 'string' ? item : item.sessionId))).toEqual([
      '1',
      'error consumer on 1',
    ]);
    const next: string[] = [];
    bridge.events$.subscribe((e) => next.push(e.sessionId!));
    expect(next).toEqual(['2', '3']);
  });

  it('keeps the order when a subscriber pushes while the held outputs are delivered', () => {
    const bridge = createHookBridge();
    bridge.push('SessionEnd', end('1'));
    bridge.push('SessionEnd', end('2'));
    const seen: string[] = [];
    bridge.events$.subscribe((e) => {
      seen.push(e.sessionId!);
      if (e.sessionId === '1') bridge.push('SessionEnd', end('3'));
    });
    expect(seen).toEqual(['1', '2', '3']);
  });

  it('throws BRIDGE_CLOSED on push after complete, naming the bridge, and completes late subscribers', () => {
    const bridge = createHookBridge();
    let completed = 0;
    bridge.events$.subscribe({ complete: () => completed++ });
    bridge.complete();
    expect(completed).toBe(1);
    expect(() => bridge.push('Stop', {})).toThrow(
      expect.objectContaining({
        code: 'BRIDGE_CLOSED',
        message: 'createHookBridge: push() after complete()',
      }),
    );
    bridge.events$.subscribe({ complete: () => completed++ });
    expect(completed).toBe(2);
  });

  it('throws INVALID_EVENT from a push its clock cannot stamp, queues nothing for it, and goes on', () => {
    let now = Number.NaN;
    const scheduler = { now: () => now, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
    const bridge = createHookBridge({ scheduler, maxPending: 1 });
    expect(() => bridge.push('SessionEnd', end('a'))).toThrow(
      expect.objectContaining({ code: 'INVALID_EVENT' }),
    );
    // Given its own time, an output needs no clock; and the refused push took no room.
    bridge.push('SessionEnd', end('b'), 7);
    now = 9;
    const seen: Array<[string | undefined, number]> = [];
    bridge.events$.subscribe((e) => seen.push([e.sessionId, e.timestamp]));
    bridge.push('SessionEnd', end('c'));
    expect(seen).toEqual([
      ['b', 7],
      ['c', 9],
    ]);
  });

  it('throws BRIDGE_BUFFER_FULL rather than dropping when the buffer is full, saying its limit and the way out', () => {
    const bridge = createHookBridge({ maxPending: 2 });
    bridge.push('Stop', {});
    bridge.push('Stop', {});
    let error: unknown;
    try {
      bridge.push('Stop', {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VibespecError);
    expect((error as VibespecError).code).toBe('BRIDGE_BUFFER_FULL');
    expect((error as VibespecError).message).toBe(
      'createHookBridge: 2 outputs are waiting for a subscriber to events$; subscribe before pushing more, or raise maxPending',
    );
    const seen: string[] = [];
    bridge.events$.subscribe((e) => seen.push(e.type));
    expect(seen).toHaveLength(2);
  });

  it('counts only the outputs still waiting against maxPending once a subscriber left mid-delivery', () => {
    const bridge = createHookBridge({ maxPending: 2 });
    for (const id of ['1', '2', '3']) {
      if (id === '3') {
        // '1' was delivered in full before its subscriber left: only '2' waits, so '3' is held too.
        const first: string[] = [];
        bridge.events$.pipe(take(1)).subscribe((e) => first.push(e.sessionId!));
        expect(first).toEqual(['1']);
      }
      bridge.push('SessionEnd', end(id));
    }
    expect(() => bridge.push('SessionEnd', end('4'))).toThrow(
      expect.objectContaining({ code: 'BRIDGE_BUFFER_FULL' }),
    );
    const second: string[] = [];
    bridge.events$.subscribe((e) => second.push(e.sessionId!));
    expect(second).toEqual(['2', '3']);
  });

  it('keeps maxPending outputs waiting after a subscriber took some of a long backlog and left', () => {
    const bridge = createHookBridge({ maxPending: 3 });
    bridge.push('SessionEnd', end('a'));
    bridge.push('SessionEnd', end('b'));
    bridge.push('SessionEnd', end('c'));
    const first: string[] = [];
    bridge.events$.pipe(take(2)).subscribe((e) => first.push(e.sessionId!));
    expect(first).toEqual(['a', 'b']);
    // Only 'c' waits: two more fit, a third does not.
    bridge.push('SessionEnd', end('d'));
    bridge.push('SessionEnd', end('e'));
    expect(() => bridge.push('SessionEnd', end('f'))).toThrow(
      expect.objectContaining({ code: 'BRIDGE_BUFFER_FULL' }),
    );
    const second: string[] = [];
    bridge.events$.subscribe((e) => second.push(e.sessionId!));
    expect(second).toEqual(['c', 'd', 'e']);
  });

  it('hands over the rest of a backlog of thousands of outputs once, in order, after a subscriber left in it', () => {
    // Large enough that the delivered part of the buffer is dropped when the subscriber leaves.
    const n = 3_000;
    const bridge = createHookBridge();
    for (let i = 0; i < n; i++) bridge.push('PostToolUse', write(`f${i}.ts`));
    const ids: string[] = [];
    // Leaves in the middle of output 1,600 (between its tool.used and its file event).
    bridge.events$.pipe(take(3_201)).subscribe((e) => ids.push(e.id));
    expect(ids).toHaveLength(3_201);
    bridge.push('PostToolUse', write('last.ts'));
    const rest: Event[] = [];
    bridge.events$.subscribe((e) => rest.push(e));
    ids.push(...rest.map((e) => e.id));
    expect(ids).toHaveLength(2 * (n + 1));
    expect(new Set(ids).size).toBe(ids.length);
    expect(rest[0]!.type).toBe('file.modified');
    expect(rest[0]!.data.file_path).toBe('f1600.ts');
    expect(rest.at(-1)!.data.file_path).toBe('last.ts');
  });

  it('validates maxPending', () => {
    expect(() => createHookBridge({ maxPending: -1 })).toThrow(ConfigError);
  });

  describe('delivery order, re-entrancy and timing', () => {
    it('re-entrant push (live path) keeps per-subscriber order for a second subscriber', () => {
      const bridge = createHookBridge();
      const a: string[] = [];
      const b: string[] = [];
      bridge.events$.subscribe((e) => {
        a.push(e.sessionId!);
        if (e.sessionId === '1') bridge.push('SessionEnd', end('2'));
      });
      bridge.events$.subscribe((e) => b.push(e.sessionId!));
      bridge.push('SessionEnd', end('1'));
      expect(a).toEqual(['1', '2']);
      expect(b).toEqual(['1', '2']);
    });

    it('re-entrant push (live path) does not interleave with the events of the output being delivered', () => {
      const bridge = createHookBridge();
      const seen: string[] = [];
      bridge.events$.subscribe((e) => {
        seen.push(e.type);
        if (seen.length === 1) bridge.push('SessionEnd', end('z'));
      });
      bridge.push('PostToolUse', write('a.ts'));
      expect(seen).toEqual(['tool.used', 'file.modified', 'session.ended']);
    });

    it('complete() from inside next (live path) still delivers the rest of the pushed output', () => {
      const bridge = createHookBridge();
      const a: string[] = [];
      const b: string[] = [];
      bridge.events$.subscribe((e) => {
        a.push(e.type);
        bridge.complete();
      });
      bridge.events$.subscribe((e) => b.push(e.type));
      bridge.push('PostToolUse', write('a.ts'));
      expect(b).toEqual(['tool.used', 'file.modified']);
    });

    it('a subscriber leaving mid-output (buffered) loses no event for the next subscriber', () => {
      const bridge = createHookBridge();
      bridge.push('PostToolUse', write('a.ts'));
      const first: string[] = [];
      bridge.events$.pipe(take(1)).subscribe((e) => first.push(e.type));
      const second: string[] = [];
      bridge.events$.subscribe((e) => second.push(e.type));
      expect([...first, ...second]).toEqual(['tool.used', 'file.modified']);
    });

    it('an output pushed with no subscriber is stamped at push time, not when a subscriber comes', () => {
      let t = 1_000;
      const scheduler = {
        now: () => t,
        schedule: () => {
          throw new Error('unused');
        },
      } as never;
      const bridge = createHookBridge({ scheduler });
      bridge.push('SessionEnd', end('1'));
      t = 600_000; // the dashboard reconnects ten minutes later
      const seen: number[] = [];
      bridge.events$.subscribe((e) => seen.push(e.timestamp));
      expect(seen).toEqual([1_000]);
    });

    it('a re-entrant push while a subscriber is listening does not throw BRIDGE_BUFFER_FULL', () => {
      const bridge = createHookBridge({ maxPending: 1 });
      bridge.push('SessionEnd', end('1'));
      const seen: string[] = [];
      let error: unknown;
      bridge.events$.subscribe((e) => {
        seen.push(e.sessionId!);
        if (e.sessionId === '1') {
          try {
            bridge.push('SessionEnd', end('2'));
            bridge.push('SessionEnd', end('3'));
          } catch (err) {
            error = err;
          }
        }
      });
      expect(error).toBeUndefined();
      expect(seen).toEqual(['1', '2', '3']);
    });
  });

  it('makes a -0 timestamp a 0, so its events read back from JSON as themselves', () => {
    const bridge = createHookBridge();
    const seen: Event[] = [];
    bridge.events$.subscribe((event) => seen.push(event));
    bridge.push('SessionEnd', end('a'), -0);
    expect(Object.is(seen[0]!.timestamp, 0)).toBe(true);
    expect(eventFromJSON(eventToJSON(seen[0]!))).toEqual(seen[0]);
  });
});
