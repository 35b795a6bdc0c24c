/**
 * The hook model: what a hook is (a function or a command), what it answers (`HookResult`), and what
 * running hooks emits (steps, chain and aggregation results, and `hook.*` events).
 */
import type { ObservableInput, SchedulerLike } from 'rxjs';
import { z } from 'zod';
import type { HookError, HookErrorCode, VibespecError } from '../errors.js';
import type { Event } from '../event.js';

/** What a hook is given: a JSON-like record. Chains pass the accumulated context from hook to hook. */
export type HookContext = Record<string, unknown>;

/**
 * zod schema of a `HookResult`, the answer of a hook; the type is inferred from it. Every field is
 * optional and unknown keys are kept (so a Claude Code hook's `hookSpecificOutput`, `systemMessage` …
 * reach the caller). A `__proto__` key (an own field, as `JSON.parse` makes it) of the answer, its
 * `context_updates` or its `metrics` is kept as an own field, as `parseEvent` keeps one, never applied as
 * a prototype; `HookResultSchema.parse` itself drops it, the hook runners keep it.
 */
export const HookResultSchema = z.looseObject({
  /** Merged (shallowly, later hooks win) into the context the next hooks of a chain see. */
  context_updates: z.record(z.string(), z.unknown()).optional(),
  /** Ends the chain after this hook (outcome `stopped`). */
  stop_chain: z.boolean().optional(),
  /** A review score; `reviewSummary` averages it over the hooks that gave one. */
  score: z.number().finite().optional(),
  critical_issues: z.array(z.unknown()).optional(),
  recommendations: z.array(z.unknown()).optional(),
  positive_findings: z.array(z.unknown()).optional(),
  /** Free-form measurements; `reviewSummary` keeps them per hook. */
  metrics: z.record(z.string(), z.unknown()).optional(),
  /** A validator's verdict, read by `validationResult`. */
  passed: z.boolean().optional(),
  /**
   * Claude Code: `'block'` blocks (as exit code 2 does), with `reason`. Other values are kept as they are.
   * So does a `hookSpecificOutput` with `permissionDecision: 'deny'` (PreToolUse; the reason is its
   * `permissionDecisionReason`) or `decision: { behavior: 'deny' }` (PermissionRequest; its `message`).
   */
  decision: z.string().optional(),
  /** Claude Code: why the hook blocks or fails a validation. */
  reason: z.string().optional(),
  /** Claude Code: `false` stops the chain, as `stop_chain: true` does, with `stopReason`. */
  continue: z.boolean().optional(),
  /** Claude Code: why `continue` is false. */
  stopReason: z.string().optional(),
});

/** The answer of a hook. See `HookResultSchema` for what each field means. */
export type HookResult = z.infer<typeof HookResultSchema>;

/**
 * What happens to a chain when one of its hooks fails or times out:
 * - `fail-closed` (the default): the chain stops; its result has outcome `failed` and says which hook.
 * - `fail-open`: the failure is recorded in the step, and the chain goes on with the next hook.
 * A block (`exit 2`, `decision: 'block'`, a `permissionDecision: 'deny'`) always stops a chain: it is a verdict, not a malfunction.
 */
export type ErrorPolicy = 'fail-open' | 'fail-closed';

/** Options every kind of hook may carry; each overrides the run's default of the same name. */
export interface HookOptions {
  /**
   * The hook's name: in its step, its events, an aggregation's metrics. Non-empty, made of characters
   * that show: a control, invisible or format character (`\u200b`, `\u2060`, a bidi mark) or a lone
   * surrogate is a `ConfigError` (it read as another name); an emoji's joiners and selectors are fine.
   */
  readonly name: string;
  /**
   * Time the hook may take, in ms on the run's scheduler; `Infinity` for none. A value above
   * 2,147,483,647 ms (~24.8 days, the longest timer Node can hold) also means none: it is not armed,
   * rather than firing at once. Default: the run's.
   */
  readonly timeoutMs?: number | undefined;
  /** What a chain does when this hook fails or times out. Default: the run's (`fail-closed`). */
  readonly errorPolicy?: ErrorPolicy | undefined;
}

/** What a function hook is given besides the context. */
export interface HookRunInfo {
  /** Aborted when the run is cancelled before it answers: timeout, deadline or unsubscribe. */
  readonly signal: AbortSignal;
  /** The hook's name. */
  readonly hook: string;
  /** The chain or aggregation running the hook, if any. */
  readonly chain?: string;
  /** The hook's position in its chain or aggregation (0 for a single run). */
  readonly index: number;
}

/**
 * A hook written as a function. It answers with a result returned as it is, or with the first value
 * of what it returns (an Observable, a Promise, an array, an async iterable …); an answer of
 * `undefined`/`null`, or none at all, is the empty result `{}`. The answer is validated with `HookResultSchema`. A throw or an error is a failure.
 *
 * ```ts
 * const lint: FunctionHook = { name: 'lint', run: async (ctx) => ({ score: await lintScore(ctx.files) }) };
 * ```
 */
export interface FunctionHook extends HookOptions {
  readonly run: (
    context: Readonly<HookContext>,
    info: HookRunInfo,
  ) => HookAnswer | ObservableInput<HookAnswer>;
}

/** What a function hook answers: a result, or `undefined`/`null` for the empty result `{}`. */
export type HookAnswer = HookResult | undefined | null;

/**
 * A hook that is a process, as Claude Code command hooks are: it gets the context as JSON on stdin
 * and answers on stdout. Exit code 0: stdout is the result when it starts with `{` (parsed as JSON,
 * validated with `HookResultSchema`), otherwise the result is `{}`. Exit code 2: it blocks, its stderr
 * is the reason. Any other exit code, a signal, or a process that cannot start: it failed.
 *
 * ```ts
 * const scan: CommandHook = { name: 'security-scan', command: 'node', args: ['hooks/scan.mjs'], timeoutMs: 30_000 };
 * ```
 */
export interface CommandHook extends HookOptions {
  /** The program. Run without a shell (so no quoting issues) unless `shell` is set. */
  readonly command: string;
  readonly args?: readonly string[];
  /** Added to (and overriding) the parent's environment. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Working directory, non-empty (an empty one is a `ConfigError`). Default: the parent's. */
  readonly cwd?: string | undefined;
  /** Run `command` through a shell (`true` for the default shell, or a shell's path). Default `false`. */
  readonly shell?: boolean | string | undefined;
  /** Most bytes accepted on stdout; more kills the hook (`HOOK_OUTPUT_TOO_LARGE`). Default: the run's. */
  readonly maxOutputBytes?: number | undefined;
}

/** A hook: a function (`run`) or a process (`command`). */
export type Hook = FunctionHook | CommandHook;

/** A named, ordered list of hooks, run one after the other by `runHookChain` / `chainHooks`. */
export interface HookChain {
  readonly name: string;
  readonly hooks: readonly Hook[];
}

/** Defaults for every hook of a run; each hook may override them. */
export interface HookRunOptions {
  /** Clock of the timeouts, durations and event timestamps. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
  /**
   * Per-hook timeout in ms, `Infinity` for none; a value above 2,147,483,647 ms (~24.8 days, the
   * longest timer Node can hold) also means none. Default 60,000 (as Claude Code's).
   */
  timeoutMs?: number | undefined;
  /** Default `fail-closed`. Not used by aggregations, where every hook runs anyway. */
  errorPolicy?: ErrorPolicy | undefined;
  /** Default stdout cap of command hooks, in bytes. Default 1 MiB (1,048,576). */
  maxOutputBytes?: number | undefined;
  /**
   * `sessionId` of the `hook.*` events. Default: the context's `session_id` when it is a non-empty
   * string (a Claude Code payload has one).
   */
  sessionId?: string | undefined;
}

/** How a hook run ended. */
export type HookStatus = 'completed' | 'blocked' | 'failed' | 'timed_out';

/** The event type of each status: a block is reported as `hook.failed` with code `HOOK_BLOCKED`. */
export type HookEventType = 'hook.completed' | 'hook.failed' | 'hook.timed_out';

/** The `data` of a `hook.completed` / `hook.failed` / `hook.timed_out` event. */
export type HookEventData = {
  hook: string;
  /** The chain the hook ran in, when it ran in one. */
  chain?: string;
  /** The aggregation the hook ran in, when it ran in one. */
  aggregation?: string;
  /** Position in the chain or aggregation. */
  index: number;
  hook_kind: 'function' | 'command';
  status: HookStatus;
  /** On the run's scheduler, from subscription to answer (or to the timeout). */
  duration_ms: number;
  /** Set unless the status is `completed`. */
  code?: HookErrorCode;
  /** The error message, unless the status is `completed`. */
  error?: string;
  /** Why a blocked hook blocks. */
  reason?: string;
  /** The result's `score`, when it gave one. */
  score?: number;
  /** A command hook's process id, exit code and ending signal, when known. */
  pid?: number;
  exit_code?: number;
  signal?: string;
};

/** A `hook.*` event: its `type` is a `HookEventType`, so it can be told from a `HookOverflowEvent`. */
export type HookEvent = Event<HookEventData> & { type: HookEventType };

/** What became of a command hook's process. */
export interface CommandDetail {
  pid?: number;
  exit_code?: number;
  signal?: string;
  /** Its stderr, at most 64 KiB of it. */
  stderr: string;
  stderr_truncated: boolean;
  /** Its stdout when that was not JSON (did not start with `{`): plain text that is kept, not parsed. */
  stdout?: string;
}

interface HookStepBase {
  readonly kind: 'step';
  readonly hook: string;
  /** Position in the chain or aggregation (0 for a single run). */
  readonly index: number;
  readonly hook_kind: 'function' | 'command';
  readonly chain?: string;
  readonly aggregation?: string;
  readonly duration_ms: number;
  /** The step as an event, to persist or measure (see `hookEvents()`). */
  readonly event: HookEvent;
  /** A command hook's process, when it started. */
  readonly process?: CommandDetail;
}

/** The hook answered. */
export interface CompletedStep extends HookStepBase {
  readonly status: 'completed';
  readonly result: HookResult;
}

/**
 * The hook blocks: it exited with code 2, or answered a block in JSON — `decision: 'block'`, or in
 * `hookSpecificOutput` a `permissionDecision: 'deny'` or `decision.behavior: 'deny'` (then `result` is set).
 */
export interface BlockedStep extends HookStepBase {
  readonly status: 'blocked';
  readonly reason: string;
  readonly error: HookError;
  readonly result?: HookResult;
}

/** The hook failed: threw, crashed, exited non-zero, wrote invalid or too much output. */
export interface FailedStep extends HookStepBase {
  readonly status: 'failed';
  readonly error: HookError;
  /** The policy that applied: whether the chain went on (`fail-open`) or stopped. */
  readonly policy: ErrorPolicy;
}

/** The hook did not answer in time (its `timeoutMs`, or an aggregation's deadline); it was cancelled. */
export interface TimedOutStep extends HookStepBase {
  readonly status: 'timed_out';
  readonly error: HookError;
  readonly policy: ErrorPolicy;
}

/** One hook run, emitted as soon as it ends. Discriminated by `status`. */
export type HookStep = CompletedStep | BlockedStep | FailedStep | TimedOutStep;

/**
 * A hook of an aggregation that was not run because `aggregateHooks` rejected its context: `maxQueued`
 * contexts were already waiting. Never emitted on its own and carrying no event of its own: it only
 * appears in a rejected aggregate's `results` (one per hook), whose `event` is the rejection's one
 * `hooks.overflow` event.
 */
export interface NotRunStep {
  readonly kind: 'step';
  readonly status: 'not_run';
  readonly hook: string;
  /** Position in the aggregation. */
  readonly index: number;
  readonly hook_kind: 'function' | 'command';
  readonly aggregation: string;
  /** Always 0: nothing ran. */
  readonly duration_ms: number;
  /** A `VibespecError` with code `BUFFER_OVERFLOW`: the aggregate's `error`. */
  readonly error: VibespecError;
}

/** What an aggregator is given for each hook: its step, or a `NotRunStep` when the context was rejected. */
export type AggregatedStep = HookStep | NotRunStep;

/** The `data` of a `hooks.overflow` event: a context that was not run because the queue was full. */
export type HookOverflowData = {
  /** The chain that did not run (`chainHooks`). */
  chain?: string;
  /** The aggregation that did not run (`aggregateHooks`). */
  aggregation?: string;
  /** The hooks that did not run, in order. */
  hooks: string[];
  code: 'BUFFER_OVERFLOW';
  /** The error message. */
  error: string;
  /** The operator's `maxQueued` (that many contexts were waiting) and `concurrency` (that many runs active). */
  max_queued: number;
  concurrency: number;
  /** Contexts this subscription has rejected so far, this one included. */
  total: number;
};

/**
 * A `hooks.overflow` event (priority HIGH): `chainHooks` / `aggregateHooks` rejected a context because
 * `maxQueued` contexts were already waiting. Carried by the rejected result's `event`; `hookEvents()`
 * keeps it with the steps' events.
 */
export type HookOverflowEvent = Event<HookOverflowData> & { type: 'hooks.overflow' };

/**
 * How a chain ended: every hook ran (`completed`, even if `fail-open` hooks failed), a hook asked to
 * stop (`stopped`), a hook blocks (`blocked`), a `fail-closed` hook failed or timed out (`failed`), or
 * no hook ran because `chainHooks` found `maxQueued` contexts already waiting (`rejected`, with `error`
 * and `event` set).
 */
export type ChainOutcome = 'completed' | 'stopped' | 'blocked' | 'failed' | 'rejected';

/** The last value of a chain run. Field names follow the seed's `{ chain_name, results, final_context }`. */
export interface HookChainResult {
  readonly kind: 'result';
  readonly chain_name: string;
  readonly outcome: ChainOutcome;
  /** One step per hook that ran, in chain order. */
  readonly results: readonly HookStep[];
  /** The initial context with every `context_updates` applied in order. */
  readonly final_context: HookContext;
  /**
   * The hook that ended the chain early, and why in words: `'stop_chain'` for `stop_chain: true`; the
   * answer's `stopReason`, else `'continue: false'`; a block's reason; a failure's error message. The
   * `outcome` tells which.
   */
  readonly stopped_by?: { readonly hook: string; readonly index: number; readonly reason: string };
  /** The hooks that did not run because the chain ended early, or every hook when it was rejected. */
  readonly skipped: readonly string[];
  readonly duration_ms: number;
  /** Only when the outcome is `rejected`: a `VibespecError` with code `BUFFER_OVERFLOW`. */
  readonly error?: VibespecError;
  /** Only when the outcome is `rejected`: the `hooks.overflow` event, to persist or alert on. */
  readonly event?: HookOverflowEvent;
}

/** What `runHookChain` and `chainHooks` emit: each step as it ends, then the chain's result. */
export type HookChainOutput = HookStep | HookChainResult;

/**
 * Combines the steps of an aggregation (in hook order, one per hook) into one value. When
 * `aggregateHooks` rejected the context, every step is a `NotRunStep` (`status: 'not_run'`).
 */
export type HookAggregator<R> = (steps: readonly AggregatedStep[]) => R;

/** The last value of an aggregation run. */
export interface HookAggregationResult<R> {
  readonly kind: 'aggregate';
  readonly aggregation: string;
  /** What the aggregator made of the steps. */
  readonly aggregate: R;
  /** One step per hook, in hook order (not arrival order); all `not_run` when the context was rejected. */
  readonly results: readonly AggregatedStep[];
  /** The hooks that did not answer by the deadline (or their own timeout). */
  readonly timed_out: readonly string[];
  readonly duration_ms: number;
  /**
   * Only when `aggregateHooks` rejected the context (no hook ran, `maxQueued` contexts were already
   * waiting): a `VibespecError` with code `BUFFER_OVERFLOW`.
   */
  readonly error?: VibespecError;
  /**
   * Only when the context was rejected: that context (a shallow copy), to retry it. A rejection is
   * emitted at once, ahead of the runs of the contexts that came before it, so it says which one it is.
   */
  readonly context?: HookContext;
  /** Only when the context was rejected: the `hooks.overflow` event, to persist or alert on. */
  readonly event?: HookOverflowEvent;
}

/** What `runHookAggregation` and `aggregateHooks` emit: each step as it ends, then the aggregate. */
export type HookAggregationOutput<R> = HookStep | HookAggregationResult<R>;
