import { type Observable, type OperatorFunction, of } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import {
  adaptiveBatch,
  type Event,
  type HybridOutput,
  hybridProcess,
  type LoadSnapshot,
  ProcessingMode,
  type SystemLoad,
  selectMode,
} from '../../src/index.js';

describe('flow-control types', () => {
  it('infers the result type of hybridProcess from its handlers (values, promises, Observables)', () => {
    const sync = hybridProcess({ immediate: () => 1, batch: (events) => events.map(() => 2) });
    expectTypeOf(sync).toEqualTypeOf<OperatorFunction<Event, HybridOutput<number>>>();
    const async = hybridProcess({
      immediate: async () => 'x',
      batch: async (events) => events.map(() => 'y'),
    });
    expectTypeOf(async).toEqualTypeOf<OperatorFunction<Event, HybridOutput<string>>>();
    const observable = hybridProcess({
      immediate: () => of(true),
      batch: (events) => of(events.map(() => false)),
    });
    expectTypeOf(observable).toEqualTypeOf<OperatorFunction<Event, HybridOutput<boolean>>>();
  });

  it('narrows outcomes by kind', () => {
    const outcome = {} as HybridOutput<number>;
    if (outcome.kind === 'result') expectTypeOf(outcome.result).toEqualTypeOf<number>();
    if (outcome.kind === 'dropped') expectTypeOf(outcome.dropped.data.total).toEqualTypeOf<number>();
  });

  it('infers the item type of adaptiveBatch from its source', () => {
    const batches = of(1, 2).pipe(adaptiveBatch());
    expectTypeOf(batches).toEqualTypeOf<Observable<number[]>>();
  });

  it('accepts a full SystemLoad where a LoadSnapshot is expected', () => {
    expectTypeOf<SystemLoad>().toExtend<LoadSnapshot>();
    expectTypeOf(selectMode).returns.toEqualTypeOf<ProcessingMode>();
    expectTypeOf(ProcessingMode.ASYNC).toEqualTypeOf<'async'>();
  });
});
