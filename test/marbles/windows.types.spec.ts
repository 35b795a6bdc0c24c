import type { OperatorFunction } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AggregatedData,
  type Event,
  type LateEventData,
  type SessionWindowData,
  sessionWindows,
  type TemporalAggregateConfig,
  temporalAggregate,
} from '../../src/index.js';

describe('event-time window types', () => {
  it('are operators from Event to Event', () => {
    expectTypeOf(temporalAggregate()).toEqualTypeOf<OperatorFunction<Event, Event>>();
    expectTypeOf(sessionWindows()).toEqualTypeOf<OperatorFunction<Event, Event>>();
  });

  it('type their outputs and options', () => {
    expectTypeOf<AggregatedData['window']>().toEqualTypeOf<{ start: number; end: number }>();
    expectTypeOf<AggregatedData['events']>().toEqualTypeOf<Event[] | undefined>();
    expectTypeOf<SessionWindowData['types']>().toEqualTypeOf<Record<string, number>>();
    expectTypeOf<LateEventData['reason']>().toEqualTypeOf<'window_closed' | 'behind_watermark'>();
    expectTypeOf<TemporalAggregateConfig['windows']>().toEqualTypeOf<
      Readonly<Record<string, number>> | undefined
    >();
    // Aggregated data is an Event payload.
    expectTypeOf<Event<AggregatedData>>().toMatchTypeOf<Event>();
  });
});
