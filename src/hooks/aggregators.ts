import { ConfigError, shownText, textOf } from '../errors.js';
import { setOwn } from '../event.js';
import type { AggregatedStep, HookResult } from './types.js';

/** A hook that gave nothing to aggregate, or that did not pass, and why. */
export interface HookShortfall {
  readonly hook: string;
  /** How the hook ended, or `not_run` when its context was rejected (the queue was full). */
  readonly status: AggregatedStep['status'];
  readonly reason: string;
}

/** What `reviewSummary` makes of a review's steps. */
export interface ReviewSummary {
  /**
   * Mean `score` over the hooks that gave one; `null` when none did (the seed said 0, which reads as
   * the worst score rather than "no score").
   */
  readonly overall_score: number | null;
  /** How many hooks the mean is over. */
  readonly scored_hooks: number;
  /** Every hook's `critical_issues`, concatenated in hook order. */
  readonly critical_issues: readonly unknown[];
  readonly recommendations: readonly unknown[];
  readonly positive_findings: readonly unknown[];
  /**
   * Each hook's `metrics`, under its name: a plain object where every name is an own key (`__proto__`
   * too, which an assignment would have taken for the prototype).
   */
  readonly metrics: Readonly<Record<string, Record<string, unknown>>>;
  /** The hooks that gave no result (failed, timed out, blocked by exit code, or not run), and why. */
  readonly missing: readonly HookShortfall[];
}

const STATUSES: ReadonlySet<unknown> = new Set(['completed', 'blocked', 'failed', 'timed_out', 'not_run']);

/**
 * `steps`, checked: an array of steps (each an object with a step's `status`), else a `ConfigError`
 * naming the aggregator and what it was given. Called by hand with `null`, or with a list of something
 * else, an aggregator threw a `TypeError` (`steps is not iterable`, `Cannot read properties of null`).
 */
function checkSteps(where: string, steps: readonly AggregatedStep[]): readonly AggregatedStep[] {
  if (!Array.isArray(steps)) {
    throw new ConfigError(`${where}: the steps must be an array, got ${shownText(steps)}`);
  }
  for (let i = 0; i < steps.length; i++) {
    const step: unknown = steps[i];
    if (typeof step !== 'object' || step === null || !STATUSES.has((step as { status?: unknown }).status)) {
      throw new ConfigError(
        `${where}: step ${i} must be a hook step (with a status: completed, blocked, failed, timed_out or not_run), got ${shownText(step)}`,
      );
    }
    const { status, result } = step as { status: unknown; result?: unknown };
    if (status === 'completed' && (typeof result !== 'object' || result === null)) {
      throw new ConfigError(
        `${where}: step ${i} is completed, so it must carry its result (an object: {} for a hook that answered nothing), got ${shownText(result)}`,
      );
    }
  }
  return steps;
}

/** The result a step carries: a completed step's, or a block's answered in JSON (`decision: 'block'`, a `permissionDecision: 'deny'`…). */
function resultOf(step: AggregatedStep): HookResult | undefined {
  return step.status === 'completed' || step.status === 'blocked' ? step.result : undefined;
}

/**
 * Why a step gave no result, or did not pass: a block's reason, else its error's message. A step kept
 * from a run through JSON has lost that message (an `Error`'s message is no enumerable field): its
 * error's `code` stands in, else its status. Always a text: an undefined reason passed a failed or
 * timed-out validator kept that way.
 */
function reasonOf(step: AggregatedStep): string {
  if (step.status === 'completed') return 'completed';
  if (step.status === 'blocked' && typeof step.reason === 'string') return step.reason;
  const error: unknown = step.error;
  if (typeof error === 'object' && error !== null) {
    const { message, code } = error as { message?: unknown; code?: unknown };
    if (typeof message === 'string') return message;
    if (typeof code === 'string') return code;
  }
  return step.status;
}

/** Appends `items` one by one: `push(...items)` overflows the stack for a long array (~150,000 items). */
function append(target: unknown[], items: readonly unknown[]): void {
  for (const item of items) target.push(item);
}

/**
 * The mean of `scores`, whose sum is `total`. Finite scores whose sum overflows (two of 1e308) are
 * averaged as the sum of their shares, held between the least and the greatest score, where a mean lies:
 * each share rounded up, the sum itself could overflow (three of Number.MAX_VALUE gave `Infinity`).
 */
function mean(total: number, scores: readonly number[]): number {
  if (Number.isFinite(total)) return total / scores.length;
  let sum = 0;
  let least = Number.POSITIVE_INFINITY;
  let greatest = Number.NEGATIVE_INFINITY;
  for (const score of scores) {
    sum += score / scores.length;
    least = Math.min(least, score);
    greatest = Math.max(greatest, score);
  }
  return Math.min(Math.max(sum, least), greatest);
}

/**
 * The seed's review aggregation: the mean score over the hooks that gave one, their critical issues,
 * recommendations and positive findings concatenated (in hook order), and their metrics per hook.
 * Hooks that gave no result are listed in `missing` (every hook, with status `not_run`, when the context
 * was rejected), so a summary is never silently partial.
 * Steps that are not an array of steps (`null`, called by hand) are a `ConfigError`.
 *
 * ## Example
 * ```ts
 * runHookAggregation([compliance, reviewer, uiEnhancer], ctx, reviewSummary, { deadlineMs: 20_000 })
 * ```
 */
export function reviewSummary(steps: readonly AggregatedStep[]): ReviewSummary {
  let total = 0;
  const scores: number[] = [];
  const critical: unknown[] = [];
  const recommendations: unknown[] = [];
  const positive: unknown[] = [];
  const metrics: Record<string, Record<string, unknown>> = {};
  const missing: HookShortfall[] = [];
  for (const step of checkSteps('reviewSummary', steps)) {
    const result = resultOf(step);
    if (result === undefined) {
      missing.push({ hook: step.hook, status: step.status, reason: reasonOf(step) });
      continue;
    }
    if (result.score !== undefined) {
      total += result.score;
      scores.push(result.score);
    }
    if (result.critical_issues) append(critical, result.critical_issues);
    if (result.recommendations) append(recommendations, result.recommendations);
    if (result.positive_findings) append(positive, result.positive_findings);
    if (result.metrics !== undefined) {
      // Defined, not assigned: a hook named `__proto__` would set the prototype instead of a key.
      setOwn(metrics, step.hook, result.metrics);
    }
  }
  return {
    overall_score: scores.length > 0 ? mean(total, scores) : null,
    scored_hooks: scores.length,
    critical_issues: critical,
    recommendations,
    positive_findings: positive,
    metrics,
    missing,
  };
}

/** What `validationResult` makes of a validation's steps. */
export interface ValidationResult {
  /** Whether every validator passed (vacuously true for no validators). */
  readonly passed: boolean;
  readonly passed_hooks: readonly string[];
  readonly failed_hooks: readonly string[];
  /** Why each failed validator failed, in hook order. */
  readonly reasons: readonly HookShortfall[];
}

/**
 * A critical issue as text: a string as it is, an object's `message`, else its JSON (a `BigInt` as its
 * digits). Total: an issue that JSON cannot hold (a cycle) or that throws while it is read is its
 * `String()`, else its tag (`[object Object]`), so an odd issue still fails its validator.
 */
function describe(issue: unknown): string {
  try {
    if (typeof issue === 'string') return issue;
    if (
      typeof issue === 'object' &&
      issue !== null &&
      typeof (issue as { message?: unknown }).message === 'string'
    ) {
      return (issue as { message: string }).message;
    }
    return (
      JSON.stringify(issue, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)) ??
      String(issue)
    );
  } catch {
    return textOf(issue);
  }
}

/**
 * The validation aggregation: it passes only if every validator passed. A validator passes when it
 * completed and its result does not say otherwise: `passed: false` fails it; without `passed`, a
 * non-empty `critical_issues` fails it. A validator that blocked, failed, timed out or was not run (its
 * context was rejected because the queue was full) did NOT pass.
 * The reasons are collected: the result's `reason`, else its critical issues, else the block's reason
 * or the error's message (its `code`, else the status, for a step kept through JSON, which loses it). Any
 * critical issue is described (a cycle or a `BigInt` too): this aggregator never throws on what a
 * run gives it. Steps that are not an array of steps (`null`, called by hand; a `completed` step without its
 * `result` object) are a `ConfigError`.
 *
 * ## Example
 * ```ts
 * runHookAggregation([specGuardian, compliance], ctx, validationResult, { deadlineMs: 30_000 })
 * ```
 */
export function validationResult(steps: readonly AggregatedStep[]): ValidationResult {
  const passed: string[] = [];
  const failed: string[] = [];
  const reasons: HookShortfall[] = [];
  for (const step of checkSteps('validationResult', steps)) {
    let reason: string | undefined;
    if (step.status === 'completed') {
      const result = step.result;
      const issues = result.critical_issues ?? [];
      if (result.passed === false || (result.passed === undefined && issues.length > 0)) {
        reason =
          result.reason ??
          (issues.length > 0 ? `critical issues: ${issues.map(describe).join('; ')}` : 'passed: false');
      }
    } else {
      reason = reasonOf(step);
    }
    if (reason === undefined) {
      passed.push(step.hook);
    } else {
      failed.push(step.hook);
      reasons.push({ hook: step.hook, status: step.status, reason });
    }
  }
  return { passed: failed.length === 0, passed_hooks: passed, failed_hooks: failed, reasons };
}
