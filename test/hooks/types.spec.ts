import { EMPTY, filter, type Observable, of } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AggregatedStep,
  aggregateHooks,
  type ChainOutcome,
  chainHooks,
  type Event,
  type HookAggregationOutput,
  type HookAggregationResult,
  type HookAggregator,
  type HookChainOutput,
  type HookChainResult,
  type HookError,
  type HookEvent,
  type HookEventData,
  type HookOverflowData,
  type HookOverflowEvent,
  type HookResult,
  type HookStep,
  hookEvents,
  type NotRunStep,
  type ReviewSummary,
  reviewSummary,
  runHook,
  runHookChain,
  type VibespecError,
} from '../../src/index.js';

interface CommitContext {
  files: string[];
  message: string;
}

describe('hook types', () => {
  it('infers HookResult from its schema and keeps unknown keys', () => {
    expectTypeOf<HookResult['score']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<HookResult['stop_chain']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<HookResult['context_updates']>().toEqualTypeOf<Record<string, unknown> | undefined>();
    expectTypeOf<HookResult['hookSpecificOutput']>().toEqualTypeOf<unknown>();
  });

  it('narrows a step by status', () => {
    const step = {} as HookStep;
    if (step.status === 'completed') expectTypeOf(step.result).toEqualTypeOf<HookResult>();
    if (step.status === 'blocked') expectTypeOf(step.reason).toEqualTypeOf<string>();
    if (step.status === 'failed' || step.status === 'timed_out') {
      expectTypeOf(step.error).toEqualTypeOf<HookError>();
    }
    expectTypeOf<HookStep['event']['type']>().toEqualTypeOf<
      'hook.completed' | 'hook.failed' | 'hook.timed_out'
    >();
  });

  it('narrows outputs by kind with a plain filter', () => {
    const chain$: Observable<HookChainOutput> = EMPTY;
    expectTypeOf(chain$.pipe(filter((o) => o.kind === 'result'))).toEqualTypeOf<
      Observable<HookChainResult>
    >();
    const review$: Observable<HookAggregationOutput<ReviewSummary>> = EMPTY;
    expectTypeOf(review$.pipe(filter((o) => o.kind === 'aggregate'))).toEqualTypeOf<
      Observable<HookAggregationResult<ReviewSummary>>
    >();
  });

  it('accepts contexts typed as interfaces', () => {
    const commits$ = of<CommitContext>({ files: [], message: 'm' });
    expectTypeOf(commits$.pipe(chainHooks({ name: 'c', hooks: [] }))).toEqualTypeOf<
      Observable<HookChainOutput>
    >();
    expectTypeOf(commits$.pipe(aggregateHooks([], reviewSummary))).toEqualTypeOf<
      Observable<HookAggregationOutput<ReviewSummary>>
    >();
    const context: CommitContext = { files: [], message: 'm' };
    expectTypeOf(runHookChain({ name: 'c', hooks: [] }, context)).toEqualTypeOf<
      Observable<HookChainOutput>
    >();
    expectTypeOf(runHook({ name: 'h', run: () => ({}) }, context)).toEqualTypeOf<Observable<HookStep>>();
  });

  it('gives hook events a typed data and keeps them Events', () => {
    const events$ = (EMPTY as Observable<HookChainOutput>).pipe(hookEvents());
    expectTypeOf(events$).toEqualTypeOf<Observable<HookEvent | HookOverflowEvent>>();
    expectTypeOf<HookEvent>().toMatchTypeOf<Event>();
    expectTypeOf<HookOverflowEvent>().toMatchTypeOf<Event>();
    expectTypeOf<HookEventData['duration_ms']>().toEqualTypeOf<number>();
  });

  it('tells a hooks.overflow event from a hook.* event by its type', () => {
    const event = {} as HookEvent | HookOverflowEvent;
    if (event.type === 'hooks.overflow') {
      expectTypeOf(event.data).toEqualTypeOf<HookOverflowData>();
    } else {
      expectTypeOf(event.data).toEqualTypeOf<HookEventData>();
      expectTypeOf(event.type).toEqualTypeOf<'hook.completed' | 'hook.failed' | 'hook.timed_out'>();
    }
  });

  it('marks a rejected run: chain outcome, aggregator input', () => {
    expectTypeOf<'rejected'>().toMatchTypeOf<ChainOutcome>();
    expectTypeOf<HookChainResult['error']>().toEqualTypeOf<VibespecError | undefined>();
    expectTypeOf<HookAggregationResult<unknown>['event']>().toEqualTypeOf<HookOverflowEvent | undefined>();
    expectTypeOf<Parameters<HookAggregator<unknown>>[0]>().toEqualTypeOf<readonly AggregatedStep[]>();
    const step = {} as AggregatedStep;
    if (step.status === 'not_run') expectTypeOf(step).toEqualTypeOf<NotRunStep>();
    // The built-in aggregators take what an aggregator is given.
    expectTypeOf(reviewSummary).toMatchTypeOf<HookAggregator<ReviewSummary>>();
  });
});
