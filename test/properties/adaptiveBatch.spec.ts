/**
 * adaptiveBatch, property: one operator on two sources (one controller), its configuration changed by
 * hand and by its policy from reports made inside the consumers' next (re-entrant), by consumers that
 * also push more items re-entrantly: each source's items come out exactly once, in order, in non-empty
 * batches within the limits, on complete, on error and on the virtual clock.
 */
import fc from 'fast-check';
import { Subject, tap, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { adaptiveBatch, aimdPolicy, fixedPolicy } from '../../src/index.js';

const arrival = fc.record({
  at: fc.integer({ min: 0, max: 40 }),
  source: fc.integer({ min: 0, max: 1 }),
  /** When its batch goes out, the consumer pushes one more item into the same source. */
  echo: fc.boolean(),
});

const reaction = fc.record({
  /** Report the batch (the policy may change the configuration). */
  latencyMs: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  /** Set the configuration by hand. */
  setMaxSize: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  setTimeoutMs: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
});

describe('adaptiveBatch property: nothing lost, one controller on two sources', () => {
  it('batches each source’s items exactly once, in order, within the limits, whatever changes the configuration', () => {
    fc.assert(
      fc.property(
        fc.array(arrival, { maxLength: 30 }),
        fc.array(reaction, { minLength: 1, maxLength: 5 }),
        fc.array(
          fc.record({ at: fc.integer({ min: 0, max: 40 }), maxSize: fc.integer({ min: 1, max: 6 }) }),
          {
            maxLength: 3,
          },
        ),
        fc.boolean(),
        fc.tuple(fc.constantFrom('complete', 'error'), fc.constantFrom('complete', 'error')),
        (arrivals, reactions, changes, aimd, ends) => {
          const scheduler = new VirtualTimeScheduler();
          const batcher = adaptiveBatch<number>({
            minSize: 1,
            maxSize: 3,
            maxSizeLimit: 6,
            timeoutMs: 5,
            minTimeoutMs: 1,
            maxTimeoutMs: 10,
            policy: aimd ? aimdPolicy({ targetLatencyMs: 10, samples: 1, increase: 2 }) : fixedPolicy,
            scheduler,
          });
          const inputs = [new Subject<number>(), new Subject<number>()];
          const received: number[][] = [[], [], []];
          const batches: number[][][] = [[], []];
          const terminal: string[] = [];
          const ended = [false, false];
          let next = 0;
          const echo = new Set<number>();
          let reacted = 0;
          const badSizes: number[][] = [];
          for (const s of [0, 1]) {
            inputs[s]!.pipe(
              tap((item) => received[s]!.push(item)),
              batcher,
              tap((batch) => {
                // The limit of the moment it is emitted (checked after the run: an expect here would
                // error the stream instead of failing the property).
                if (batch.length === 0 || batch.length > batcher.config.maxSize)
                  badSizes.push([batch.length, batcher.config.maxSize]);
              }),
            ).subscribe({
              next: (batch) => {
                batches[s]!.push(batch);
                const r = reactions[reacted++ % reactions.length]!;
                // Re-entrant: the configuration changes, and more items come, while a batch goes out.
                if (r.latencyMs !== undefined) batcher.report({ latencyMs: r.latencyMs, size: batch.length });
                if (r.setMaxSize !== undefined || r.setTimeoutMs !== undefined) {
                  batcher.setConfig({
                    ...(r.setMaxSize === undefined ? {} : { maxSize: r.setMaxSize }),
                    ...(r.setTimeoutMs === undefined ? {} : { timeoutMs: r.setTimeoutMs }),
                  });
                }
                for (const item of batch) {
                  if (echo.delete(item) && !ended[s]) inputs[s]!.next(next++);
                }
              },
              error: () => terminal.push(`${s}:error`),
              complete: () => terminal.push(`${s}:complete`),
            });
          }
          for (const a of arrivals) {
            scheduler.schedule(() => {
              const item = next++;
              if (a.echo) echo.add(item);
              inputs[a.source]!.next(item);
            }, a.at);
          }
          for (const c of changes) scheduler.schedule(() => batcher.setConfig({ maxSize: c.maxSize }), c.at);
          ends.forEach((end, s) => {
            scheduler.schedule(() => {
              ended[s] = true;
              if (end === 'error') inputs[s]!.error(new Error('end'));
              else inputs[s]!.complete();
            }, 50);
          });
          scheduler.flush();
          expect(terminal.sort()).toEqual([`0:${ends[0]}`, `1:${ends[1]}`]);
          for (const s of [0, 1]) expect(batches[s]!.flat()).toEqual(received[s]);
          expect(badSizes).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });
});
