/**
 * createHookBridge, property: every output pushed (and not refused) goes out as its events exactly once,
 * in push order, whatever the subscribers do — come and go, leave in the middle of an output, push or
 * complete from inside next (re-entrant) — as long as someone subscribes in the end.
 */
import fc from 'fast-check';
import type { Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createHookBridge, type Event, VibespecError } from '../../src/index.js';

/** An output with `n` events (PostToolUse Write: file.created + tool.used; SessionEnd: one), marked `o<k>`. */
const output = (k: number, two: boolean) =>
  two
    ? {
        hook: 'PostToolUse',
        output: {
          hook_event_name: 'PostToolUse',
          session_id: `o${k}`,
          tool_name: 'Write',
          tool_input: { file_path: `/f${k}.ts`, content: 'x' },
          tool_response: { success: true },
        },
        events: 2,
      }
    : { hook: 'SessionEnd', output: { session_id: `o${k}`, reason: 'logout' }, events: 1 };

const subscriberSpec = fc.record({
  /** Unsubscribes itself (from inside next) once it has seen this many events. */
  leaveAfter: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  /** Pushes an output (from inside next) at its n-th event. */
  pushAt: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  /** Completes the bridge (from inside next) at its n-th event. */
  completeAt: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
});

type SubscriberSpec = typeof subscriberSpec extends fc.Arbitrary<infer S> ? S : never;

const command = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('push' as const), two: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('subscribe' as const), spec: subscriberSpec }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unsubscribe' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('complete' as const) }) },
);

describe('createHookBridge property: nothing lost', () => {
  it('delivers the events of every accepted push exactly once, in push order, to whoever listens', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 30 }),
        fc.integer({ min: 0, max: 4 }),
        (commands, maxPending) => {
          const bridge = createHookBridge({ maxPending });
          /** The markers of the accepted pushes' events, in push order. */
          const expected: string[] = [];
          let k = 0;
          const push = (two: boolean) => {
            const mark = k++;
            const o = output(mark, two);
            // Expected before the push: its events may go out, and make subscribers push more, within it.
            const at = expected.length;
            for (let i = 0; i < o.events; i++) expected.push(`o${mark}`);
            try {
              bridge.push(o.hook, o.output, 1_000 + mark);
            } catch (error) {
              // Refused (closed, or the buffer is full): nothing to deliver.
              expect(error).toBeInstanceOf(VibespecError);
              expected.splice(at, o.events);
            }
          };
          /** Every delivery seen by any subscriber: each event once however many saw it. */
          const delivered: Event[] = [];
          const perSubscriber: Event[][] = [];
          const live: Subscription[] = [];
          const subscribe = (spec: SubscriberSpec | undefined) => {
            const seen: Event[] = [];
            perSubscriber.push(seen);
            let subscription: Subscription | undefined;
            let leave = false;
            subscription = bridge.events$.subscribe((event) => {
              seen.push(event);
              if (!delivered.includes(event)) delivered.push(event);
              if (spec?.pushAt === seen.length) push(seen.length % 2 === 0);
              if (spec?.completeAt === seen.length) bridge.complete();
              if (spec?.leaveAfter === seen.length) {
                if (subscription === undefined) leave = true;
                else subscription.unsubscribe();
              }
            });
            if (leave) subscription.unsubscribe();
            else live.push(subscription);
          };
          for (const c of commands) {
            if (c.op === 'push') push(c.two);
            else if (c.op === 'subscribe') subscribe(c.spec);
            else if (c.op === 'unsubscribe') live.shift()?.unsubscribe();
            else bridge.complete();
          }
          // Someone listens in the end: whatever waits goes out.
          subscribe(undefined);
          for (const seen of perSubscriber) expect(new Set(seen).size).toBe(seen.length);
          expect(delivered.map((e) => e.sessionId)).toEqual(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
