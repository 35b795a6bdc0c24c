import { filter, from, type Observable, type OperatorFunction, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AggregatedData,
  createEvent,
  type Event,
  isAggregated,
  isLateEvent,
  isSessionWindow,
  type LateEventData,
  type SessionWindowData,
  sessionWindows,
  type TemporalAggregateConfig,
  temporalAggregate,
} from '../../src/index.js';

describe('event-time window types', () => {
  it('are operators from Event to Event, their outputs named', () => {
    expectTypeOf(temporalAggregate()).toEqualTypeOf<
      OperatorFunction<Event, Event | Event<AggregatedData> | Event<LateEventData>>
    >();
    expectTypeOf(sessionWindows()).toEqualTypeOf<
      OperatorFunction<Event, Event | Event<SessionWindowData> | Event<LateEventData>>
    >();
    // Code that named them Event to Event still compiles.
    const aggregate: OperatorFunction<Event, Event> = temporalAggregate();
    const windows: OperatorFunction<Event, Event> = sessionWindows();
    expect([aggregate, windows]).toHaveLength(2);
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

describe('isAggregated, isSessionWindow, isLateEvent', () => {
  const at = (type: string, timestamp: number, sessionId = 's1') =>
    createEvent({ type, timestamp, sessionId, data: { tool_name: 'Bash' } });

  /** The outputs of `operator` on `events`, synchronously (a virtual clock for the idle rule). */
  function outputs(
    events: Event[],
    operator: (scheduler: VirtualTimeScheduler) => OperatorFunction<Event, Event>,
  ) {
    const scheduler = new VirtualTimeScheduler();
    const out: Event[] = [];
    from(events)
      .pipe(operator(scheduler))
      .subscribe((event) => out.push(event));
    scheduler.flush();
    return out;
  }

  it('tell the outputs of the operators apart, each narrowing data to its type', () => {
    // tool.used at 0 and 20 in windows of 10: [0] closes at 20; 5 is then late; x passes through.
    const input = [at('tool.used', 0), at('tool.used', 20), at('tool.used', 5), at('x', 21)];
    const aggregated = outputs(input, (scheduler) =>
      temporalAggregate({ windows: { 'tool.used': 10 }, idleFlushMs: Number.POSITIVE_INFINITY, scheduler }),
    );
    expect(aggregated.map((e) => [e.type, isAggregated(e), isLateEvent(e), isSessionWindow(e)])).toEqual([
      ['tool.used.aggregated', true, false, false],
      ['tool.used.late', false, true, false],
      ['x', false, false, false],
      ['tool.used.aggregated', true, false, false],
    ]);
    const windows = outputs(input, (scheduler) =>
      sessionWindows({ gapMs: 10, idleFlushMs: Number.POSITIVE_INFINITY, scheduler }),
    );
    expect(windows.map((e) => [e.type, isAggregated(e), isLateEvent(e), isSessionWindow(e)])).toEqual([
      ['session.window', false, false, true],
      ['session.window.late', false, true, false],
      ['session.window', false, false, true],
    ]);
    const first = aggregated.find(isAggregated)!;
    expectTypeOf(first.data).toEqualTypeOf<AggregatedData>();
    expect(first.data.event_count).toBe(1);
    const late = aggregated.find(isLateEvent)!;
    expectTypeOf(late.data).toEqualTypeOf<LateEventData>();
    expect([late.data.event.timestamp, late.data.reason]).toEqual([5, 'window_closed']);
    const window = windows.find(isSessionWindow)!;
    expectTypeOf(window.data).toEqualTypeOf<SessionWindowData>();
    expect(window.data.types).toEqual({ 'tool.used': 1 });
  });

  it('narrow in filter', () => {
    const aggregates$ = from([] as Event[]).pipe(filter(isAggregated));
    expectTypeOf(aggregates$).toEqualTypeOf<Observable<Event<AggregatedData>>>();
  });

  it('take no event for one by its name alone, nor a value that is not an event', () => {
    const named = (type: string, data: Record<string, unknown>) => createEvent({ type, data });
    const aggregate = {
      source_type: 'tool.used',
      event_count: 1,
      part: 1,
      time_span: { start: 0, end: 0 },
      window: { start: 0, end: 10 },
    };
    expect(isAggregated(named('tool.used.aggregated', aggregate))).toBe(true);
    expect(isAggregated(named('file.modified.aggregated', aggregate))).toBe(false); // not its source type
    expect(isAggregated(named('tool.used.aggregated', { ...aggregate, window: { start: 0 } }))).toBe(false);
    expect(isAggregated(named('tool.used.aggregated', { ...aggregate, event_count: '1' }))).toBe(false);
    // A part that is no number, and a source type that is no string though its text makes the name.
    expect(isAggregated(named('tool.used.aggregated', { ...aggregate, part: '1' }))).toBe(false);
    expect(isAggregated(named('5.aggregated', { ...aggregate, source_type: 5 }))).toBe(false);
    const window = {
      key: 's1',
      event_count: 1,
      gap_ms: 10,
      part: 1,
      types: {},
      time_span: { start: 0, end: 0 },
    };
    expect(isSessionWindow(named('session.window', window))).toBe(true);
    expect(isSessionWindow(named('session.window', { ...window, types: null }))).toBe(false);
    expect(isSessionWindow(named('session.windows', window))).toBe(false);
    // Each field of the shape is checked: one of another type is no window.
    for (const wrong of [
      { key: 1 },
      { event_count: '1' },
      { gap_ms: '10' },
      { part: '1' },
      { types: 'tool.used' },
      { time_span: { start: 0 } },
    ]) {
      expect(isSessionWindow(named('session.window', { ...window, ...wrong }))).toBe(false);
    }
    const late = { event: at('tool.used', 5), reason: 'window_closed', watermark: 20 };
    expect(isLateEvent(named('tool.used.late', late))).toBe(true);
    expect(isLateEvent(named('file.modified.late', late))).toBe(false); // not its event's type
    expect(isLateEvent(named('session.window.late', late))).toBe(true); // sessionWindows': any type
    expect(isLateEvent(named('tool.used.late', { ...late, reason: 'late' }))).toBe(false);
    expect(isLateEvent(named('tool.used.late', { ...late, event: null }))).toBe(false);
    // An inner type that is no string: never a throw (a Symbol would throw in a template).
    for (const type of [Symbol('tool.used'), Object.create(null), 7]) {
      expect(isLateEvent(named('tool.used.late', { ...late, event: { type } }))).toBe(false);
      expect(isLateEvent(named('session.window.late', { ...late, event: { type } }))).toBe(true); // any type
    }
    for (const value of [null, undefined, 42, 'tool.used.aggregated', { type: 'session.window' }]) {
      expect([
        isAggregated(value as never),
        isSessionWindow(value as never),
        isLateEvent(value as never),
      ]).toEqual([false, false, false]);
    }
  });
});
