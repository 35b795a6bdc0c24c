/**
 * The chains and aggregations of the seed, shipped as definitions: lists of hook *names*. The hooks
 * themselves are project-specific, so a definition becomes runnable with a resolver from hook name to
 * hook — a record, a function, or `hookDirectory(dir)` for the convention "one executable per hook in
 * a directory", as git hooks are.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, checkOptions, optionKeys, shownText } from '../errors.js';
import { isRecord } from '../streams/payload.js';
import { reviewSummary, validationResult } from './aggregators.js';
import { checkHook, checkVisible, isCommandHook } from './options.js';
import type { CommandHook, FunctionHook, Hook, HookAggregator, HookChain } from './types.js';

/** A chain by hook names, to be resolved into a `HookChain` with `resolveChain`. */
export interface HookChainDefinition {
  readonly name: string;
  readonly hooks: readonly string[];
}

/** An aggregation by hook names, with its aggregator. Resolve its hooks with `resolveHooks`. */
export interface HookAggregationDefinition<R> {
  readonly name: string;
  readonly hooks: readonly string[];
  readonly aggregator: HookAggregator<R>;
}

/**
 * The seed's chains: `code-review` (compliance-checker → security-scanner → performance-analyzer →
 * ui-validator) and `pre-commit` (lint-checker → test-runner → security-scan → build-validator).
 */
export const BUILTIN_CHAINS = {
  'code-review': {
    name: 'code-review',
    hooks: ['compliance-checker', 'security-scanner', 'performance-analyzer', 'ui-validator'],
  },
  'pre-commit': {
    name: 'pre-commit',
    hooks: ['lint-checker', 'test-runner', 'security-scan', 'build-validator'],
  },
} as const satisfies Record<string, HookChainDefinition>;

/**
 * The seed's aggregations: `review-summary` (compliance, reviewer, ui-enhancer → `reviewSummary`) and
 * `validation-result` (spec-guardian, compliance → `validationResult`).
 */
export const BUILTIN_AGGREGATIONS = {
  'review-summary': {
    name: 'review-summary',
    hooks: ['compliance', 'reviewer', 'ui-enhancer'],
    aggregator: reviewSummary,
  },
  'validation-result': {
    name: 'validation-result',
    hooks: ['spec-guardian', 'compliance'],
    aggregator: validationResult,
  },
} as const satisfies Record<string, HookAggregationDefinition<unknown>>;

/**
 * Finds the hook for a name: a record of hooks by name, or a function (`undefined` when unknown). The
 * hooks it gives are renamed to the names asked for, so their own `name` may be anything, or missing.
 */
export type HookResolver = Readonly<Record<string, Hook>> | ((name: string) => Hook | undefined);

/** The hook under another name; a function hook keeps its `this` (a class instance's `run` method). */
function rename(hook: Hook, name: string): Hook {
  if (hook.name === name) return hook;
  if (isCommandHook(hook)) return { ...hook, name };
  const renamed: FunctionHook = {
    name,
    run: (context, info) => hook.run(context, info),
    ...(hook.timeoutMs === undefined ? {} : { timeoutMs: hook.timeoutMs }),
    ...(hook.errorPolicy === undefined ? {} : { errorPolicy: hook.errorPolicy }),
  };
  return renamed;
}

/**
 * Resolves hook names into hooks, each renamed to its name in the list. Throws `ConfigError` naming
 * every name the resolver does not know, so a misconfigured chain fails at set-up, not mid-run, and when
 * `names` is not an array or `resolver` is neither a record nor a function.
 */
export function resolveHooks(names: readonly string[], resolver: HookResolver): Hook[] {
  // Read by index, a string ('lint', a definition's `hooks` not put in a list) would be resolved letter by
  // letter: a hook for each of "l", "i", "n", "t" from a resolver that makes one for any name.
  if (!Array.isArray(names)) {
    throw new ConfigError(`resolveHooks: the hook names must be an array, got ${shownText(names)}`);
  }
  if (typeof resolver !== 'function' && (typeof resolver !== 'object' || resolver === null)) {
    throw new ConfigError(
      `resolveHooks: the resolver must be a record of hooks or a function, got ${shownText(resolver)}`,
    );
  }
  const lookup =
    typeof resolver === 'function'
      ? resolver
      : (name: string) => (Object.hasOwn(resolver, name) ? resolver[name] : undefined);
  const missing: string[] = [];
  const hooks: Hook[] = [];
  // By index, not forEach: forEach skips the holes of a sparse list (`['lint', , 'test']`), and the
  // chain was resolved without a word with a hook fewer than its definition names.
  for (let index = 0; index < names.length; index++) {
    const name: unknown = names[index];
    if (typeof name !== 'string' || name.length === 0) {
      throw new ConfigError(
        `resolveHooks: hook name #${index} must be a non-empty string, got ${shownText(name)}`,
      );
    }
    checkVisible('resolveHooks', name, `hook name #${index}`);
    let hook: Hook | undefined;
    try {
      hook = lookup(name);
    } catch (error) {
      throw new ConfigError(`resolveHooks: the resolver threw for hook "${name}"`, { cause: error });
    }
    if (hook === undefined) {
      missing.push(name);
      continue;
    }
    checkHook('resolveHooks', hook, index, name);
    hooks.push(rename(hook, name));
  }
  if (missing.length > 0) {
    throw new ConfigError(`resolveHooks: no hook for ${missing.map((name) => `"${name}"`).join(', ')}`);
  }
  return hooks;
}

/**
 * Makes a definition runnable: `resolveChain(BUILTIN_CHAINS['pre-commit'], hooks)`.
 *
 * @throws ConfigError naming every hook the resolver does not know, and when `definition` is not
 *   `{ name, hooks }` with a non-empty name (see `resolveHooks` for the hooks and the resolver).
 */
export function resolveChain(definition: HookChainDefinition, resolver: HookResolver): HookChain {
  // As runHookChain refuses a chain that is none: a null definition was a TypeError, one without a name a
  // chain that runHookChain refused only later.
  if (typeof definition !== 'object' || definition === null) {
    throw new ConfigError(
      `resolveChain: the definition must be { name, hooks }, got ${shownText(definition)}`,
    );
  }
  if (typeof definition.name !== 'string' || definition.name.length === 0) {
    throw new ConfigError(
      `resolveChain: the definition's name must be a non-empty string, got ${shownText(definition.name)}`,
    );
  }
  checkVisible('resolveChain', definition.name, "the definition's name");
  return { name: definition.name, hooks: resolveHooks(definition.hooks, resolver) };
}

/**
 * What `hookDirectory` applies to every hook it finds: a command hook's fields but its `name`, `command`,
 * `args` and `shell` (what is found is a file, run directly: a shell would split its path at a space).
 */
export type HookDirectoryOptions = Omit<CommandHook, 'name' | 'command' | 'args' | 'shell'>;

const DIRECTORY_OPTION_KEYS = optionKeys<HookDirectoryOptions>({
  timeoutMs: true,
  errorPolicy: true,
  env: true,
  cwd: true,
  maxOutputBytes: true,
});

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isExecutable(path: string): boolean {
  if (!isFile(path)) return false;
  if (process.platform === 'win32') return true;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A resolver for the convention "one program per hook in a directory", as git hooks are. For the name
 * `lint-checker` it looks, in order, for:
 * - `<dir>/lint-checker`, an executable file (any language, with a `#!` line): run as it is;
 * - `<dir>/lint-checker.mjs`, `.js` or `.cjs`: run with this Node (`process.execPath`), so the hook
 *   works on every platform.
 * The program gets the context as JSON on stdin and answers as a command hook does. A name with a
 * path separator or `..` is never resolved. `options` (timeoutMs, env, cwd …) apply to every hook. No
 * `shell`: what is found is a file, run directly, and a shell would split its path at any space.
 *
 * @throws ConfigError when `dir` is not a non-empty string, `options` not an object, an option's name is
 *   unknown (named with the nearest known one; `shell`, which it cannot apply, too), or its value is one
 *   a command hook refuses
 *   (`timeoutMs: NaN`): at the call, not once a hook is found.
 */
export function hookDirectory(
  dir: string,
  options?: HookDirectoryOptions,
): (name: string) => CommandHook | undefined {
  // A dir that is no path was Node's TypeError (null), or the working directory ('', which resolve reads so).
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new ConfigError(`hookDirectory: dir must be a non-empty path, got ${shownText(dir)}`);
  }
  // Options that are no object (null, a number) were taken for none.
  // A shell asked for was ignored without a word (it would split a found path at a space): refused, as an
  // unknown option is, saying why.
  if (isRecord(options) && Object.hasOwn(options, 'shell')) {
    throw new ConfigError(
      'hookDirectory: shell is no option of hookDirectory: what it finds is a file, run directly (a shell would split its path at a space); leave shell out',
    );
  }
  checkOptions('hookDirectory', options, DIRECTORY_OPTION_KEYS);
  const base = resolve(dir);
  const applied = { ...options };
  // Checked at the call, as each hook found will be: a bad option (timeoutMs NaN) was otherwise told only
  // once a hook was found, and never when none is.
  // Said as options (`hookDirectory: timeoutMs must be…`), as other functions' are, not as a hook's fields.
  checkHook('hookDirectory', { ...applied, command: base }, 0, 'options', 'hookDirectory');
  return (name) => {
    if (name.length === 0 || name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
      return undefined;
    }
    const executable = join(base, name);
    if (isExecutable(executable)) return { ...applied, name, command: executable };
    for (const ext of ['.mjs', '.js', '.cjs']) {
      const script = executable + ext;
      if (isFile(script)) return { ...applied, name, command: process.execPath, args: [script] };
    }
    return undefined;
  };
}
