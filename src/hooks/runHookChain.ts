import { concat, concatMap, defer, from, type Observable, of, takeWhile, tap } from 'rxjs';
import { ConfigError, readFields, rejectUnknownKeys } from '../errors.js';
import { checkScheduler } from '../operators/internal/eventTime.js';
import { checkContext, checkHooks, checkName, RUN_OPTION_KEYS, runDefaults } from './options.js';
import { inTurns } from './queue.js';
import { runStep } from './runHook.js';
import type {
  ChainOutcome,
  HookChain,
  HookChainOutput,
  HookChainResult,
  HookContext,
  HookRunOptions,
  HookStep,
} from './types.js';

/** Options of `runHookChain`: the defaults of every hook in the chain. */
export type RunHookChainOptions = HookRunOptions;

/** A chain, checked once, ready to run many times. */
export interface PreparedChain {
  readonly name: string;
  readonly hooks: ReturnType<typeof checkHooks>;
  readonly defaults: ReturnType<typeof runDefaults>;
}

/** Internal: checks a chain and its options (throws `ConfigError`). */
export function prepareChain(
  where: string,
  chain: HookChain,
  options: HookRunOptions | undefined,
): PreparedChain {
  if (typeof chain !== 'object' || chain === null)
    throw new ConfigError(`${where}: chain must be { name, hooks }`);
  const name = checkName(where, chain.name, 'chain.name');
  checkScheduler(where, options?.scheduler);
  return {
    name,
    hooks: checkHooks(`${where} "${name}"`, chain.hooks, false),
    defaults: runDefaults(where, options),
  };
}

/** Why a step ends the chain, or `undefined` when the chain goes on. */
function stopReason(step: HookStep): { outcome: ChainOutcome; reason: string } | undefined {
  switch (step.status) {
    case 'completed':
      if (step.result.stop_chain === true) return { outcome: 'stopped', reason: 'stop_chain' };
      if (step.result.continue === false)
        return { outcome: 'stopped', reason: step.result.stopReason ?? 'continue: false' };
      return undefined;
    case 'blocked':
      return { outcome: 'blocked', reason: step.reason };
    default:
      return step.policy === 'fail-closed' ? { outcome: 'failed', reason: step.error.message } : undefined;
  }
}

/** Internal: one run of a prepared chain on one context. */
export function runPreparedChain(
  chain: PreparedChain,
  initialContext: HookContext,
): Observable<HookChainOutput> {
  return defer(() => {
    const { name, hooks, defaults } = chain;
    const start = defaults.scheduler.now();
    // Per run: the accumulated context, the steps so far, and how the chain ended.
    let context: HookContext = { ...initialContext };
    const results: HookStep[] = [];
    let ended: { outcome: ChainOutcome; stopped_by: NonNullable<HookChainResult['stopped_by']> } | undefined;

    // Each hook starts once the one before it is done, and never inside its end: hooks that answer at
    // once would otherwise start each other ever deeper (a chain of some 300 overflowed the stack, and
    // the run hung without a result).
    const inTurn = inTurns();
    const steps = from(hooks).pipe(
      // concatMap calls the project function only when the previous hook is done, so each hook is
      // started with the context as the hooks before it left it.
      concatMap((hook, index) => inTurn(() => runStep(hook, context, { chain: name, index }, defaults))),
      tap((step) => {
        results.push(step);
        const result = step.status === 'completed' || step.status === 'blocked' ? step.result : undefined;
        if (result?.context_updates !== undefined) context = { ...context, ...result.context_updates };
        const stop = stopReason(step);
        if (stop !== undefined) {
          ended = {
            outcome: stop.outcome,
            stopped_by: { hook: step.hook, index: step.index, reason: stop.reason },
          };
        }
      }),
      takeWhile(() => ended === undefined, true),
    );

    const final = defer(() => {
      const result: HookChainResult = {
        kind: 'result',
        chain_name: name,
        outcome: ended?.outcome ?? 'completed',
        results,
        final_context: context,
        ...(ended === undefined ? {} : { stopped_by: ended.stopped_by }),
        skipped: hooks.slice(results.length).map((hook) => hook.name),
        duration_ms: defaults.scheduler.now() - start,
      };
      return of(result);
    });

    return concat(steps, final);
  });
}

/**
 * Runs the hooks of a chain one after the other on a context, each seeing the context as the hooks
 * before it left it (`context_updates` merged in), and emits each hook's step as it ends, then the
 * chain's result `{ chain_name, outcome, results, final_context, stopped_by?, skipped }`.
 *
 * A hook ends the chain early when it answers `stop_chain: true` (or Claude Code's `continue: false`):
 * outcome `stopped`; when it blocks (exit code 2, `decision: 'block'`, a `permissionDecision: 'deny'`): outcome `blocked`; when it
 * fails or times out under `fail-closed` (the default): outcome `failed`. Under `fail-open` a failure
 * is recorded in its step and the next hook runs. Hooks that did not run are listed in `skipped`
 * (and never subscribed to).
 *
 * Every step carries its `hook.completed` / `hook.failed` / `hook.timed_out` event (see `hookEvents`).
 * The Observable never errors because of a hook; unsubscribing cancels the running hook.
 *
 * ```
 * chain:          [a, b, c], each answering after 2 frames; b answers { stop_chain: true }
 * a:              --x|
 * b:                --y|
 * c:                           (never subscribed)
 * result:         --A-(BR|)    A, B = steps; R = { outcome: 'stopped', skipped: ['c'] … }
 * ```
 *
 * ## Examples
 * ```ts
 * const chain: HookChain = { name: 'pre-commit', hooks: [
 *   { name: 'lint', command: 'npx', args: ['eslint', '.'], timeoutMs: 30_000 },
 *   { name: 'notes', run: (ctx) => ({ context_updates: { linted: true } }), errorPolicy: 'fail-open' },
 * ] };
 * runHookChain(chain, { files })
 *   .pipe(filter((o) => o.kind === 'result'))
 *   .subscribe((r) => console.log(r.outcome));
 * ```
 *
 * @param chain `{ name, hooks }`: function hooks and command hooks, in order.
 * @param initialContext the context the first hook sees, an object (`null` or `undefined` is `{}`); it
 *   is copied, never mutated.
 * @param options defaults for every hook: `scheduler`, `timeoutMs` (60,000), `errorPolicy`
 *   (`fail-closed`), `maxOutputBytes` (1 MiB), `sessionId` of the events.
 * @return an Observable of `HookStep`s then one `HookChainResult`, then complete.
 * @throws ConfigError at once when the chain, a hook or an option is malformed, a command hook has an
 *   unknown field, an option's name is unknown (named with the nearest known one), or the context is
 *   not an object of fields (a string, an array, a `Map`, a `Date`: see `runHook`).
 */
export function runHookChain(
  chain: HookChain,
  initialContext: object,
  options?: RunHookChainOptions,
): Observable<HookChainOutput> {
  rejectUnknownKeys('runHookChain', options, RUN_OPTION_KEYS);
  const prepared = prepareChain('runHookChain', chain, readFields(options, RUN_OPTION_KEYS));
  return runPreparedChain(prepared, checkContext('runHookChain', initialContext));
}
