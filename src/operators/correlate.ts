/**
 * `correlate`: semantic correlation of a session's events over sliding event-time windows. Groups of
 * event types are watched per session; when a group's rule matches the events in its window, an
 * *activity* (`feature-development`, `bug-fix`, your own) is reported once per episode.
 */
import { asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { checkOptions, optionKeys, readFields, rejectUnknownKeys } from '../errors.js';
import { createEvent, createEventId, type Event, type NarrowedEvent, Priority } from '../event.js';
import { isRecord } from '../streams/payload.js';
import {
  DueQueue,
  dataOf as eventDataOf,
  isErrorShape,
  isRange,
  isSchedulerLike,
  type Queued,
} from './internal/eventTime.js';
import {
  type ConfigRules,
  clampTime,
  describeError,
  ErrorGate,
  evictLeastRecent,
  finiteTime,
  forEachThenThrow,
  LiveTimer,
  type Recency,
  reportThenPass,
  type SerialEngine,
  serializedOperator,
  sessionKeyOf,
  validateConfig,
} from './internal/keyed.js';

// ---------------------------------------------------------------------------------------------------
// Public types

/** What a group's rule returns when its window's events form the activity. */
export interface CorrelationMatch {
  /** How sure the rule is that the activity is happening, from 0 to 1. */
  confidence: number;
  /** The files the activity touched. When absent, the events' `data.file_path` values are used. */
  files_affected?: readonly string[];
  /** Anything else the rule reports; it is carried in the activity's `details`. */
  [key: string]: unknown;
}

/** A correlation rule: the group's events in the window, oldest first → a match or `null`. */
export type CorrelationRule<T extends Event<object> = Event> = (
  events: readonly T[],
) => CorrelationMatch | null | undefined;

/** A group of event types that together form an activity. */
export interface CorrelationGroup<T extends Event<object> = Event> {
  /** The activity's name, unique among the groups: `activity_type` of the activities it reports. */
  name: string;
  /** The event types the group watches (exact `type` strings). Other events never reach its rule. */
  eventTypes: readonly string[];
  /**
   * Length of the sliding window in ms of event time: the rule sees the session's group events of the
   * last `windowMs`. It is also the quiet period that ends an episode.
   */
  windowMs: number;
  /**
   * Decides whether the window's events form the activity. Called with a fresh array, only when an
   * event of the group arrives in a session with no open episode (and at most once per
   * `updateIntervalMs` during one when updates are on; the default bug-fix rule also when a commit it
   * may take or a late event joins its open episode, to revise its verdict). Its result is read once, at once. A throw, an
   * invalid result or one whose fields cannot be read (a throwing getter) is reported as a
   * `correlation.error` event and counts as no match; so is a Promise (a rule is synchronous), whose
   * rejection is handled.
   */
  rule: CorrelationRule<T>;
  /** What the group detects, for humans. */
  description?: string;
}

/** Why an episode ended (`data.reason` of `activity.ended`). */
export type ActivityEndReason =
  /** No event of the group arrived in the session for `windowMs`. */
  | 'quiet'
  /** The session's `session.ended` event arrived (the episode not yet quiet by the newest timestamp). */
  | 'session-ended'
  /** The session was dropped to stay within `maxSessions` (the episode not yet quiet by the newest timestamp). */
  | 'evicted'
  /** The input completed or errored with the episode still open. */
  | 'flushed';

/** `data` of `activity.detected`, `activity.updated` and `activity.ended` events. */
export interface ActivityData extends Record<string, unknown> {
  /** The id of the episode's `activity.detected` event (so updates and the end can be matched to it). */
  activity_id: string;
  /** The group's name, e.g. `feature-development`. */
  activity_type: string;
  /** The rule's confidence, 0..1 (the latest one, for updates and the end). */
  confidence: number;
  /**
   * Files the episode touched, at most `maxFiles`: the rule's, then the `data.file_path` of the
   * episode's further events (with the default groups: of their file events only, not of a Read).
   */
  files_affected: string[];
  /** Whether more files than `maxFiles` were touched. */
  files_truncated: boolean;
  /** Events of the group in the episode so far (at detection: those in the window). */
  event_count: number;
  /** Ids of the episode's events that have a string id, in the order they came: at most `maxEventIds`. */
  event_ids: string[];
  /**
   * Whether `event_count` exceeds the ids listed: past `maxEventIds`, or some events have no string id
   * (then true though no id was left out).
   */
  event_ids_truncated: boolean;
  /** Event time of the episode's first and latest event. */
  window: { start: number; end: number };
  /** What the rule reported besides `confidence` and `files_affected` (the bug-fix rule's evidence …). */
  details: Record<string, unknown>;
  /** `activity.ended` only: why the episode ended. */
  reason?: ActivityEndReason;
}

/** `data` of a `correlation.error` event. */
export interface CorrelationErrorData extends Record<string, unknown> {
  /** The group whose rule failed, or `null` when the event itself could not be read. */
  group: string | null;
  error: { name: string; message: string; code?: string };
  /** The event whose arrival triggered the evaluation, when it has a string id. */
  trigger_event_id: string | null;
  /** Errors of the same group (any session) not reported since the previous report (rate limit). */
  suppressed: number;
}

/** Options of `correlate`. */
export interface CorrelateOptions {
  /**
   * Emit every input event (at once, unchanged) besides the derived events. Default `true`, so
   * `correlate` can sit in a pipeline like a tap (and loses nothing); `false` emits derived events only.
   */
  passThrough?: boolean | undefined;
  /**
   * When set, an open episode that has grown is reported again as `activity.updated`, at most once per
   * this many ms of event time. Default: no updates (one `activity.detected` and one `activity.ended`).
   */
  updateIntervalMs?: number | undefined;
  /**
   * Sessions tracked at once. When full, a new session first drops those idle for the longest window
   * by the newest timestamp seen (as a sweep would: visiting only the sessions due, not the whole map),
   * then the least recently active eighth is evicted. Default 10,000.
   */
  maxSessions?: number | undefined;
  /** Events held per session and group (the window); the oldest are dropped beyond it. Default 1,000. */
  maxWindowEvents?: number | undefined;
  /** Event ids listed per activity. Default 100. */
  maxEventIds?: number | undefined;
  /** Files listed per activity. Default 100. */
  maxFiles?: number | undefined;
  /**
   * Also let the scheduler's clock end quiet episodes while the input is silent, so a live dashboard
   * sees `activity.ended` without waiting for another event. Only for live input whose timestamps come
   * from the same clock (the bridge stamps live hooks with it); leave off for replays. Default `false`.
   */
  liveClock?: boolean | undefined;
  /** The clock of `liveClock`. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** What `correlate` emits besides its input. */
export type CorrelationEvent = Event<ActivityData> | Event<CorrelationErrorData>;

/**
 * Whether `event` is an activity of `correlate` (`activity.detected`, `activity.updated` or
 * `activity.ended`), narrowing its `data` to `ActivityData`. Checks the shape too (`activity_id`,
 * `activity_type`, `confidence`, `event_count`, `window`), so an event of another producer that only
 * shares the name is not taken for one.
 *
 * ```ts
 * events$.pipe(correlate(), filter(isActivity)).subscribe((a) => log(a.data.activity_type, a.data.confidence));
 * ```
 */
export function isActivity<E extends Event<object> = Event>(
  event: E | Readonly<Event<ActivityData>>,
): event is NarrowedEvent<E, ActivityData> {
  const data = eventDataOf(event);
  return (
    data !== undefined &&
    (event.type === 'activity.detected' ||
      event.type === 'activity.updated' ||
      event.type === 'activity.ended') &&
    typeof data.activity_id === 'string' &&
    typeof data.activity_type === 'string' &&
    typeof data.confidence === 'number' &&
    typeof data.event_count === 'number' &&
    isRange(data.window)
  );
}

/**
 * Whether `event` is a `correlation.error` of `correlate` (a rule that threw or answered wrong),
 * narrowing its `data` to `CorrelationErrorData`. Checks the shape too (`group`, `error`, `suppressed`).
 */
export function isCorrelationError<E extends Event<object> = Event>(
  event: E | Readonly<Event<CorrelationErrorData>>,
): event is NarrowedEvent<E, CorrelationErrorData> {
  const data = eventDataOf(event);
  return (
    data !== undefined &&
    event.type === 'correlation.error' &&
    (data.group === null || typeof data.group === 'string') &&
    isErrorShape(data.error) &&
    typeof data.suppressed === 'number'
  );
}

// ---------------------------------------------------------------------------------------------------
// Incremental gates for the default groups

/**
 * A cheap necessary condition for a rule to match, kept incrementally from counts of event kinds in
 * the window, so the rule (which scans the window) runs only when it could match. For any window,
 * `ready` false must imply `rule(window)` null: the gate never changes the result, only the cost.
 */
interface Gate {
  readonly kinds: number;
  /**
   * The kinds whose `data.file_path` the rule lists in `files_affected`, as a bit set (`1 << kind`): an
   * event of the open episode adds its file only when the rule would have counted it (a file only read,
   * a `tool.used` of Read, is no more affected after detection than before).
   */
  readonly fileKinds: number;
  classify(type: string): number;
  /**
   * @param outOfOrder the trigger is older than an event of its session that came before it (it was
   *   held up on the way, e.g. in a `temporalAggregate` window).
   */
  ready(counts: readonly number[], triggerKind: number, outOfOrder: boolean): boolean;
  /**
   * Not a cost but a behaviour. When set, the group's window is kept while its episode is open, and the
   * rule runs on it again when an event of these kinds (a bit set, `1 << kind`: the bug-fix rule's
   * commits) joins the episode, or an event made before the latest of them in the window (that arrived
   * after it, late: only those can change what the rule finds before them); a result at least as
   * confident replaces the episode's confidence and details (the next update and the end report them).
   * For a rule whose verdict never drops as events are added (the bug-fix rule), the episode then ends
   * with the verdict on all its events, whatever order they arrived in.
   */
  readonly revisesAt?: number;
  /**
   * A cost: whether `event`, a commit (say) of `revisesAt` that joins an open episode in order (made after
   * every event of the window), is one the rule passes over (for the bug-fix rule: a conventional commit
   * of another type, or no modification in the window). Then, when the window holds no event that came
   * late or undated since the rule last ran on it cleanly, the rule would give the verdict the episode
   * already has (a window that only lost its oldest events and gained later ones can only score its
   * commits lower, and one as confident is the same commit), so it is not run.
   */
  passesOver?(event: Event, counts: readonly number[]): boolean;
}

/** Gates of the built-in rules, keyed by the rule function (so spreading a default group keeps it). */
const GATES = new WeakMap<CorrelationRule, Gate>();

function filePathOf(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const path = (data as Record<string, unknown>).file_path;
  return typeof path === 'string' && path.length > 0 ? path : undefined;
}

function dataOf(event: Event): Record<string, unknown> {
  const data = event.data as unknown;
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
}

const featureDevelopmentRule: CorrelationRule = (events) => {
  let fileEvents = 0;
  let toolUses = 0;
  const files = new Set<string>();
  for (const event of events) {
    if (typeof event.type !== 'string') continue;
    if (event.type.startsWith('file.')) {
      fileEvents++;
      const path = filePathOf(event.data);
      if (path !== undefined) files.add(path);
    } else if (event.type === 'tool.used') toolUses++;
  }
  if (fileEvents < 3 || toolUses < 2) return null;
  return { confidence: 0.8, files_affected: [...files] };
};
GATES.set(featureDevelopmentRule, {
  kinds: 3,
  fileKinds: 1 << 0,
  classify: (type) => (type.startsWith('file.') ? 0 : type === 'tool.used' ? 1 : 2),
  ready: (counts) => counts[0]! >= 3 && counts[1]! >= 2,
});

/** Conventional-commit types that say the commit is something other than a fix. */
const NOT_A_FIX = new Set([
  'feat',
  'feature',
  'docs',
  'doc',
  'chore',
  'refactor',
  'style',
  'test',
  'tests',
  'build',
  'ci',
  'perf',
  'revert',
  'release',
  'wip',
]);
const CONVENTIONAL = /^\s*([A-Za-z]+)(?:\([^)]*\))?!?:/;
const FIX_WORDS =
  /\b(?:fix(?:e[sd])?|bug(?:fix)?s?|hotfix|regression|resolve[sd]?|repair(?:ed|s)?|crash(?:es)?)\b/i;
const DEBUG_AGENT = /debug|fix|bug/i;

const round2 = (value: number) => Math.round(value * 100) / 100;

/**
 * `events` in event-time order; ties (and the usual, already ordered window) keep arrival order. An event
 * without a usable time counts as made at the latest time before it in the window, as `clampTime` puts
 * it at its session's latest time: after what arrived before it, not after what arrives later.
 */
function byEventTime(events: readonly Event[]): readonly Event[] {
  let latest = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    const time = finiteTime(event.timestamp);
    if (time === undefined) continue;
    if (time < latest) return sortedByEventTime(events);
    latest = time;
  }
  return events;
}

/** `byEventTime` of a window out of order: a stable sort by each event's time (an undated one's as above). */
function sortedByEventTime(events: readonly Event[]): readonly Event[] {
  const times: number[] = [];
  let latest = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    const time = finiteTime(event.timestamp) ?? latest;
    times.push(time);
    if (time > latest) latest = time;
  }
  const order = events.map((_, i) => i);
  // Stable: equal times (two undated events at the start: -Infinity both) keep arrival order.
  order.sort((a, b) => (times[a] === times[b] ? a - b : times[a]! - times[b]!));
  return order.map((i) => events[i]!);
}

/**
 * The bug-fix rule judges every commit of the window that may be a fix (not a conventional commit of
 * another type) by the events before it in event time, and gives the best-supported one (of equal
 * confidence, the latest). So the verdict is a function of the window's events, whatever order they came
 * in, and never lower for a window with more events: a `feat:` commit made after a fix does not hide it,
 * whether it reached `correlate` first or last.
 */
const bugFixRule: CorrelationRule = (window) => {
  // "Followed by" is in event time: a modification held up on the way (in a temporalAggregate window)
  // that reaches correlate after its commit was still made before it.
  const events = byEventTime(window);
  const files = new Set<string>();
  let modified = false;
  let failed = false;
  let redGreen = false;
  let debugAgent = false;
  // Ids of the runs whose start named a debugging agent: Claude Code's SubagentStop says
  // `agent_type: ""`, so the bridge names its agent by the id, and only the SubagentStart gives the type.
  let debugRuns: Set<unknown> | undefined;
  let best: CorrelationMatch | null = null;
  for (const event of events) {
    const data = dataOf(event);
    if (event.type === 'git.commit') {
      if (!modified) continue;
      const message = data.message;
      const text = typeof message === 'string' ? message : '';
      const conventional = CONVENTIONAL.exec(text)?.[1]?.toLowerCase();
      if (conventional !== undefined && NOT_A_FIX.has(conventional)) continue;
      const match = scoreCommit(FIX_WORDS.test(conventional ?? text), redGreen, debugAgent);
      if (best === null || match.confidence >= best.confidence) {
        best = {
          ...match,
          files_affected: [...files],
          commit_message: typeof message === 'string' ? message : null,
        };
      }
    } else if (event.type === 'file.modified') {
      modified = true;
      const path = filePathOf(data);
      if (path !== undefined) files.add(path);
    } else if (event.type === 'test.run') {
      if (data.passed === false) failed = true;
      else if (data.passed === true && failed) redGreen = true;
    } else if (event.type === 'agent.completed') {
      const agent = data.agent ?? data.agent_type;
      if (typeof agent === 'string' && DEBUG_AGENT.test(agent)) debugAgent = true;
      else if (debugRuns?.has(data.agent_id) === true) debugAgent = true;
    } else if (event.type === 'agent.started') {
      const agent = data.agent ?? data.agent_type;
      const id = data.agent_id;
      if (typeof agent === 'string' && typeof id === 'string' && DEBUG_AGENT.test(agent)) {
        debugRuns ??= new Set();
        debugRuns.add(id);
      }
    }
  }
  return best;
};

/**
 * A commit after a modification: 0.5; + 0.25 when its message says fix (a conventional commit says it by
 * its type alone: `fix:`, `hotfix(cart):`, `Bug:`, `Fixes:`, not `security: fix the overflow`; another
 * message by its words), + 0.15 for red-then-green tests before it, + 0.05 for a debugging agent.
 */
function scoreCommit(
  fixMessage: boolean,
  redGreen: boolean,
  debugAgent: boolean,
): { confidence: number; evidence: string[] } {
  const evidence = ['modified-then-committed'];
  let confidence = 0.5;
  if (fixMessage) {
    confidence += 0.25;
    evidence.push('fix-message');
  }
  if (redGreen) {
    confidence += 0.15;
    evidence.push('tests-red-then-green');
  }
  if (debugAgent) {
    confidence += 0.05;
    evidence.push('debug-agent');
  }
  return { confidence: round2(confidence), evidence };
}
GATES.set(bugFixRule, {
  kinds: 3,
  fileKinds: 1 << 0,
  classify: (type) => (type === 'file.modified' ? 0 : type === 'git.commit' ? 1 : 2),
  // A commit after a modification (in event time) matches: a window can only turn into a match when a
  // commit arrives, or a modification older than events already seen (a commit among them). Losing
  // events (the window slides) never does: the rule's verdict is never lower for more events.
  ready: (counts, trigger, outOfOrder) =>
    counts[0]! > 0 && (trigger === 1 || (trigger === 0 && outOfOrder && counts[1]! > 0)),
  // An open episode's verdict can rise with a further commit, or with an event that arrives after a
  // commit it was made before (late: a test run or an agent's end held up on the way, a modification
  // that makes an earlier commit a candidate).
  revisesAt: 1 << 1,
  passesOver: (event, counts) => {
    if (counts[0] === 0) return true;
    try {
      const message = dataOf(event).message;
      const text = typeof message === 'string' ? message : '';
      const conventional = CONVENTIONAL.exec(text)?.[1]?.toLowerCase();
      return conventional !== undefined && NOT_A_FIX.has(conventional);
    } catch {
      // A message that cannot be read: the rule runs, and reports it.
      return false;
    }
  },
});

/**
 * The default groups, after the seed:
 *
 * - `feature-development` — `file.created`, `file.modified`, `tool.used` within 5 min: at least 3 file
 *   events and 2 tool uses → confidence 0.8, with the files affected.
 * - `bug-fix` — `file.modified`, `git.commit`, `agent.started`, `agent.completed`, `test.run` within
 *   3 min: a file modification followed by a commit (0.5); + 0.25 when the commit message says fix (a
 *   conventional commit whose type is a fix word: `fix:`/`fix(…):`, `hotfix:`, `Bug:`, `Fixes:`; or words
 *   like "fix", "bug", "regression" in a non-conventional message); + 0.15 when a failing `test.run` was
 *   followed by a passing one before the commit; + 0.05 when a debugging agent completed (named so by
 *   its `agent.completed`, or by the `agent.started` of the same `agent_id`). A conventional commit of
 *   another type (`feat:`, `docs:`, `refactor:` …) is not a bug fix: it is passed over. Each commit of the
 *   window is judged, the best-supported one reported; an open episode revises its verdict when a commit
 *   or a late event joins it (only ever raising it), so it ends with the verdict on all its events,
 *   whatever order they came in within a window.
 */
export const DEFAULT_CORRELATION_GROUPS: readonly CorrelationGroup[] = Object.freeze([
  Object.freeze({
    name: 'feature-development',
    description: 'files created and modified with tools: at least 3 file events and 2 tool uses',
    eventTypes: Object.freeze(['file.created', 'file.modified', 'tool.used']),
    windowMs: 300_000,
    rule: featureDevelopmentRule,
  }),
  Object.freeze({
    name: 'bug-fix',
    description: 'a modification followed by a commit; a fix message and red-then-green tests raise it',
    eventTypes: Object.freeze([
      'file.modified',
      'git.commit',
      'agent.started',
      'agent.completed',
      'test.run',
    ]),
    windowMs: 180_000,
    rule: bugFixRule,
  }),
]);

// ---------------------------------------------------------------------------------------------------
// Configuration

const isFunction = (value: unknown) => typeof value === 'function';

const GroupSchema = z.strictObject({
  name: z.string().min(1),
  eventTypes: z.array(z.string().min(1)).min(1),
  windowMs: z.number().positive().finite(),
  rule: z.custom<CorrelationRule>(isFunction, { message: 'expected a function (events) => match | null' }),
  description: z.string().optional(),
});

const GroupsSchema = z
  .array(GroupSchema)
  .min(1)
  .superRefine((groups, ctx) => {
    const seen = new Set<string>();
    groups.forEach((group, index) => {
      if (seen.has(group.name)) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `duplicate group name "${group.name}"`,
          params: { rule: true },
        });
      }
      seen.add(group.name);
    });
  });

const positiveInt = z.number().int().positive();

const OptionsSchema = z.strictObject({
  passThrough: z.boolean().optional(),
  updateIntervalMs: z.number().positive().finite().optional(),
  maxSessions: positiveInt.optional(),
  maxWindowEvents: positiveInt.optional(),
  maxEventIds: z.number().int().nonnegative().optional(),
  maxFiles: z.number().int().nonnegative().optional(),
  liveClock: z.boolean().optional(),
  scheduler: z
    .custom<SchedulerLike>(isSchedulerLike, {
      message: 'expected a SchedulerLike',
    })
    .optional(),
});

interface CompiledGroup {
  readonly index: number;
  readonly name: string;
  readonly windowMs: number;
  readonly rule: CorrelationRule;
  readonly gate: Gate | undefined;
}

interface Config {
  readonly groups: readonly CompiledGroup[];
  readonly byType: ReadonlyMap<string, readonly CompiledGroup[]>;
  readonly passThrough: boolean;
  readonly updateIntervalMs: number | undefined;
  readonly maxSessions: number;
  readonly maxWindowEvents: number;
  readonly maxEventIds: number;
  readonly maxFiles: number;
  readonly maxWindowMs: number;
  readonly sweepEveryMs: number;
  readonly liveClock: boolean;
  readonly scheduler: SchedulerLike;
}

const GROUP_KEYS = optionKeys<CorrelationGroup>({
  name: true,
  eventTypes: true,
  windowMs: true,
  rule: true,
  description: true,
});

const OPTION_KEYS = optionKeys<CorrelateOptions>({
  passThrough: true,
  updateIntervalMs: true,
  maxSessions: true,
  maxWindowEvents: true,
  maxEventIds: true,
  maxFiles: true,
  liveClock: true,
  scheduler: true,
});

/** What each field must be, in the messages (as the schemas above check it). */
const GROUP_RULES: ConfigRules = {
  argument: 'groups',
  position: 'the first argument',
  expected: 'a non-empty array of groups',
  item: 'an object { name, eventTypes, windowMs, rule, description? }',
  misplaced: 'the first argument is the groups (an array, one group too: [group]); the options go second',
  fields: {
    name: 'a non-empty string',
    eventTypes: 'a non-empty array of non-empty strings',
    windowMs: 'a finite number > 0',
    rule: 'a function (events) => match | null',
    description: 'a string',
  },
};

const OPTION_RULES: ConfigRules = {
  argument: 'options',
  position: 'the second argument',
  expected: 'an object',
  fields: {
    passThrough: 'a boolean',
    updateIntervalMs: 'a finite number > 0',
    maxSessions: 'an integer >= 1',
    maxWindowEvents: 'an integer >= 1',
    maxEventIds: 'an integer >= 0',
    maxFiles: 'an integer >= 0',
    liveClock: 'a boolean',
    scheduler: 'a SchedulerLike (now() and schedule())',
  },
};

function compile(givenGroups: readonly CorrelationGroup[], givenOptions: CorrelateOptions): Config {
  if (Array.isArray(givenGroups)) {
    givenGroups.forEach((group, index) => {
      rejectUnknownKeys(`correlate: groups[${index}]`, group, GROUP_KEYS, 'field');
    });
  }
  // Each field read once, here: what is checked is what is used, and a later change to the caller's
  // groups (their event types too) or options changes no operator made before it.
  const groups = (
    Array.isArray(givenGroups)
      ? Array.from({ length: givenGroups.length }, (_, index) => readGroup(givenGroups[index]))
      : givenGroups
  ) as readonly CorrelationGroup[];
  validateConfig('correlate', GroupsSchema, groups, GROUP_RULES);
  checkOptions('correlate', givenOptions, OPTION_KEYS);
  const options = readFields(givenOptions, OPTION_KEYS);
  validateConfig('correlate', OptionsSchema, options, OPTION_RULES);
  const compiled = groups.map(
    (group, index): CompiledGroup => ({
      index,
      name: group.name,
      windowMs: group.windowMs,
      rule: group.rule,
      gate: GATES.get(group.rule),
    }),
  );
  const byType = new Map<string, CompiledGroup[]>();
  groups.forEach((group, index) => {
    for (const type of new Set(group.eventTypes)) {
      const list = byType.get(type) ?? [];
      list.push(compiled[index]!);
      byType.set(type, list);
    }
  });
  const windows = compiled.map((group) => group.windowMs);
  return {
    groups: compiled,
    byType,
    passThrough: options.passThrough ?? true,
    updateIntervalMs: options.updateIntervalMs,
    maxSessions: options.maxSessions ?? 10_000,
    maxWindowEvents: options.maxWindowEvents ?? 1_000,
    maxEventIds: options.maxEventIds ?? 100,
    maxFiles: options.maxFiles ?? 100,
    maxWindowMs: Math.max(...windows),
    // The live clock's period: it looks for quiet episodes and idle sessions a few times per (shortest)
    // window while the input is silent (event time sweeps at each advance of the watermark).
    sweepEveryMs: Math.max(1, Math.min(...windows) / 4),
    liveClock: options.liveClock ?? false,
    scheduler: options.scheduler ?? asyncScheduler,
  };
}

/** A group's fields, each read once, and a copy of its event types (see `readFields`). */
function readGroup(group: CorrelationGroup | undefined): CorrelationGroup | undefined {
  const read = readFields(group, GROUP_KEYS);
  if (isRecord(read) && Array.isArray(read.eventTypes)) {
    return { ...read, eventTypes: Array.prototype.slice.call(read.eventTypes) } as CorrelationGroup;
  }
  return read;
}

// ---------------------------------------------------------------------------------------------------
// State

/**
 * One group's state in one session: the window's events (when needed) and the open episode. The
 * episode's fields live here rather than in an object of their own: with many sessions and groups the
 * per-event cost is cache misses, and this object is touched by every event of the group anyway.
 */
class GroupState {
  // The window, oldest first, from `head`; parallel arrays avoid an object per buffered event. Slots
  // before `head` are emptied as they are dropped: an event that left the window is not kept alive
  // until the next compaction.
  times: number[] = [];
  events: Array<Event | undefined> = [];
  kinds: number[] = [];
  head = 0;
  readonly counts: number[];
  /** Time of the group's latest event in the session. */
  lastTime = Number.NEGATIVE_INFINITY;
  /**
   * The latest event time of the window's events of the kinds that revise an open episode's verdict
   * (`Gate.revisesAt`), at least: it stays when they leave the window, until the window is emptied.
   */
  revisedAt = Number.NEGATIVE_INFINITY;
  /** Events pushed, and dropped, since the state was made: positions in the window for `lateAt`. */
  pushed = 0;
  dropped = 0;
  /** The position (`pushed` before it) of the latest event pushed late or undated, -1 when none. */
  lateAt = -1;
  /** Whether the rule's latest run on the window reported an error (see `Gate.passesOver`). */
  ruleFailed = false;

  /** The open episode's id (its `activity.detected` event's), or `undefined` when none is open. */
  episode: string | undefined = undefined;
  count = 0;
  ids: string[] = [];
  files: Set<string> | undefined = undefined;
  filesTruncated = false;
  start = 0;
  end = 0;
  reportedAt = 0;
  reportedCount = 0;
  confidence = 0;
  details: Record<string, unknown> = NO_DETAILS;

  constructor(gate: Gate | undefined) {
    this.counts = gate === undefined ? [] : new Array<number>(gate.kinds).fill(0);
  }

  push(event: Event, time: number, kind: number): void {
    this.pushed++;
    this.times.push(time);
    this.events.push(event);
    if (kind >= 0) {
      this.kinds.push(kind);
      this.counts[kind]!++;
    }
  }

  /** Drops events older than `cutoff`, then the oldest beyond `max`. */
  prune(cutoff: number, max: number): void {
    const { times, events, counts } = this;
    const gated = counts.length > 0;
    let head = this.head;
    const length = times.length;
    while (head < length && (times[head]! < cutoff || length - head > max)) {
      if (gated) counts[this.kinds[head]!]!--;
      events[head] = undefined;
      head++;
    }
    this.dropped += head - this.head;
    if (head === length) {
      this.clear();
      return;
    }
    this.head = head;
    // Compact once the dropped prefix outweighs the window, so the arrays stay O(window).
    if (head >= 32 && head * 2 >= length) {
      this.times = times.slice(head);
      this.events = events.slice(head);
      if (gated) this.kinds = this.kinds.slice(head);
      this.head = 0;
    }
  }

  window(): Event[] {
    return this.events.slice(this.head) as Event[];
  }

  clear(): void {
    this.revisedAt = Number.NEGATIVE_INFINITY;
    this.dropped = this.pushed;
    this.times.length = 0;
    this.events.length = 0;
    this.kinds.length = 0;
    this.head = 0;
    this.counts.fill(0);
  }
}

class SessionState implements Recency, Queued {
  seen = 0;
  lastTime = Number.NEGATIVE_INFINITY;
  /**
   * In the engine's `due` queue: at most the earliest time a sweep has something to do with the session
   * (its idle time, an open episode's quiet time). Events only push those times later, so it is set
   * when the session is tracked and by a sweep that visits it, and lowered only when an episode opens.
   */
  due = Number.NEGATIVE_INFINITY;
  slot = -1;
  readonly groups: Array<GroupState | undefined>;

  constructor(
    readonly key: string,
    groupCount: number,
  ) {
    this.groups = new Array<GroupState | undefined>(groupCount).fill(undefined);
  }
}

// ---------------------------------------------------------------------------------------------------
// The engine: one per subscription

const NO_TIME = Number.NEGATIVE_INFINITY;

/** The details of no episode (a group's state between two): never reported, so never handed out. */
const NO_DETAILS: Record<string, unknown> = Object.freeze({});

/** An episode found quiet by a sweep, to be ended in deadline order. */
interface Quiet {
  readonly session: SessionState;
  readonly group: CompiledGroup;
  readonly state: GroupState;
  /** The episode's last event + its window: the time after which it is quiet. */
  readonly deadline: number;
}

/** Deadline, then session id, then the group's place in the list. */
function byDeadline(a: Quiet, b: Quiet): number {
  if (a.deadline !== b.deadline) return a.deadline - b.deadline;
  if (a.session.key !== b.session.key) return a.session.key < b.session.key ? -1 : 1;
  return a.group.index - b.group.index;
}

class Correlator implements SerialEngine<Event> {
  private readonly sessions = new Map<string, SessionState>();
  /**
   * The tracked sessions by `due`: a sweep visits only the sessions it may have something to do with,
   * not the whole map — a full map sweeps for every new session, which would otherwise be a scan per
   * new session under steady churn.
   */
  private readonly due = new DueQueue<SessionState>();
  private watermark = NO_TIME;
  private seq = 0;
  private readonly timer: LiveTimer | undefined;
  private readonly readErrors = new ErrorGate(60_000);
  /** Rule errors are rate-limited per group, across sessions: a broken rule reports once per window. */
  private readonly ruleErrors: ErrorGate[];

  /**
   * @param emit delivers an output event downstream.
   * @param runTask runs the live clock's sweeps in turn with the input (see `TaskSerializer` in
   *   `internal/keyed.ts`).
   */
  constructor(
    private readonly config: Config,
    private readonly emit: (event: Event) => void,
    runTask: (task: () => void) => void,
  ) {
    this.ruleErrors = config.groups.map((group) => new ErrorGate(group.windowMs));
    this.timer = config.liveClock
      ? new LiveTimer(
          config.scheduler,
          config.sweepEveryMs,
          (now) => {
            this.sweep(Math.max(this.watermark, now));
            return this.sessions.size > 0;
          },
          runTask,
          'correlate: liveClock',
        )
      : undefined;
  }

  handle(event: Event, passThrough: boolean = this.config.passThrough): void {
    const { config } = this;
    if (typeof event !== 'object' || event === null) {
      if (passThrough) this.emit(event);
      return;
    }
    let type: unknown;
    let sessionId: unknown;
    let timestamp: unknown;
    let id: unknown;
    let path: string | undefined;
    let groups: readonly CompiledGroup[] | undefined;
    try {
      ({ type, sessionId, timestamp, id } = event);
      groups = config.byType.get(type as string);
      if (groups !== undefined) path = filePathOf(event.data);
    } catch (error) {
      // An unreadable event (a throwing getter) still passes through, also when the consumer throws on
      // its report (then the first exception is thrown after it); it just takes no part.
      reportThenPass(
        this.reportReadError.bind(this, error, timestamp),
        passThrough ? this.emit : undefined,
        event,
      );
      return;
    }
    // A consumer that throws on an end this event's handling emits before the event itself (what the
    // sweep its jump in event time runs ends, its session's quiet episodes, the sessions its new one
    // evicts, its session's episodes before its session.ended) does not stop the handling there: the
    // event still passes through and takes its part (else it would be lost: in no window, episode or
    // output), then the first exception is thrown (the shell flushes, then errors with it). Nor does one
    // that throws on the event's own pass-through: the event still takes its part (its groups' windows,
    // the events an aggregate carries), so what is flushed is what a run without the exception holds.
    // Only an exception allocates; a try/catch whose catch does not run costs nothing.
    let failure: { error: unknown } | undefined;
    // A temporalAggregate window (`<type>.aggregated` with its `events`) counts as the events it holds,
    // and a late event (`<type>.late`) as the event it carries, so correlate works after temporalAggregate
    // as well as before it. Read before event time moves on: see `advanceTo`.
    let inner: readonly Event[] | undefined;
    let unreadable: { error: unknown } | undefined;
    if (groups === undefined) {
      try {
        inner = carriedEvents(type, event);
      } catch (error) {
        // Its data cannot be read (a throwing getter): reported like any unreadable event, once it has
        // passed through; it takes no part.
        unreadable = { error };
      }
    }
    const time = finiteTime(timestamp);
    // An aggregate is stamped with its last event: event time moves on only to its first event before it
    // passes, and on with each of its events as they are handled. A sweep at its own stamp would end an
    // episode quiet before the events it holds that extend it (made before its quiet time) were counted.
    try {
      this.advanceTo(inner === undefined || time === undefined ? time : Math.min(time, earliestOf(inner)));
    } catch (error) {
      failure = { error };
    }
    try {
      if (groups === undefined) {
        // The session's open episodes end before its session.ended, in event-time order.
        if (type === 'session.ended') {
          try {
            this.endSession(sessionKeyOf(sessionId), 'session-ended');
          } catch (error) {
            failure ??= { error };
          }
        }
        if (passThrough) {
          // Also when the consumer throws on it: the event still takes its part (see above).
          try {
            this.emit(event);
          } catch (error) {
            failure ??= { error };
          }
        }
        if (unreadable !== undefined) this.reportReadError(unreadable.error, timestamp);
        if (inner !== undefined) {
          // Each one, also after the consumer threw on what an earlier one emitted.
          for (const e of inner) {
            try {
              this.handle(e, false);
            } catch (error) {
              failure ??= { error };
            }
          }
          // Then on to its own stamp, should it be later than its events.
          try {
            this.advanceTo(time);
          } catch (error) {
            failure ??= { error };
          }
        }
      } else {
        const key = sessionKeyOf(sessionId);
        let session = this.sessions.get(key);
        if (session === undefined) {
          // A session.ended (of a group that watches it) drops its session once handled: it needs no room
          // made for it, and evicting an eighth of a full map would end, and split, their episodes.
          if (type !== 'session.ended') {
            try {
              this.makeRoom();
            } catch (error) {
              failure ??= { error };
            }
          }
          session = this.track(key);
        }
        const t = clampTime(timestamp, session.lastTime, this.watermark === NO_TIME ? 0 : this.watermark);
        session.lastTime = t;
        session.seen = ++this.seq;

        // Episodes this event proves quiet end before it, so the output stays in event-time order; in
        // deadline order, as a sweep (a live one, say, run between) ends them.
        const quiet = this.collectQuiet(session, t, undefined, groups);
        if (quiet !== undefined) {
          try {
            this.endInOrder(quiet, 'quiet');
          } catch (error) {
            failure ??= { error };
          }
        }
        if (passThrough) {
          // Also when the consumer throws on it: the event still takes its part (see above).
          try {
            this.emit(event);
          } catch (error) {
            failure ??= { error };
          }
        }
        const eventId = typeof id === 'string' ? id : undefined;
        for (let i = 0; i < groups.length; i++) {
          // Each group, also after the consumer threw on what an earlier one emitted (a rule's error
          // report, an episode's report): without passThrough, a later group's episode may be the only
          // place the event goes out.
          try {
            this.add(session, groups[i]!, event, type as string, eventId, path, t, time);
          } catch (error) {
            failure ??= { error };
          }
        }
        if (type === 'session.ended') this.endSession(session.key, 'session-ended');
        if (this.timer !== undefined && this.sessions.size > 0) this.timer.ensure();
      }
    } catch (error) {
      // The consumer threw on what the event derived: it stops here, as before, but an exception from
      // before stays the first.
      failure ??= { error };
    }
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Moves the watermark on to `time` (nothing when it is undefined or not later), first sweeping when a
   * session is due (one comparison here, so the call is made only then): an episode whose deadline has
   * passed ends before the first event after it, whatever its session, as live (where a clock tick may
   * end it first, still before that event): a replay keeps the live run's order.
   */
  private advanceTo(time: number | undefined): void {
    if (time === undefined || !(time > this.watermark)) return;
    this.watermark = time;
    if (this.due.next <= time) this.sweep(time);
  }

  private add(
    session: SessionState,
    group: CompiledGroup,
    event: Event,
    type: string,
    id: string | undefined,
    path: string | undefined,
    t: number,
    time: number | undefined,
  ): void {
    let state = session.groups[group.index];
    if (state === undefined) {
      state = new GroupState(group.gate);
      session.groups[group.index] = state;
    }
    state.lastTime = t;
    const { config } = this;
    const { gate } = group;
    const kind = gate === undefined ? -1 : gate.classify(type);
    // Made before the latest commit (say) of the window: see `Gate.revisesAt`. Read before this event
    // counts in `revisedAt`. An event without a usable time counts as made after what came before it.
    const beforeLatest = time !== undefined && time < state.revisedAt;
    const revisedBy = gate?.revisesAt !== undefined && (gate.revisesAt & (1 << kind)) !== 0;
    if (revisedBy) state.revisedAt = Math.max(state.revisedAt, time ?? t);
    if (state.episode !== undefined) {
      // A built-in rule's episode lists the files of the events its rule counts as files only.
      this.grow(state, id, kind < 0 || (gate!.fileKinds & (1 << kind)) !== 0 ? path : undefined, t);
      const revises = gate?.revisesAt !== undefined;
      if (config.updateIntervalMs === undefined && !revises) return;
      if (t !== time) state.lateAt = state.pushed;
      state.push(event, t, kind);
      state.prune(t - group.windowMs, config.maxWindowEvents);
      if (
        config.updateIntervalMs === undefined ||
        t - state.reportedAt < config.updateIntervalMs ||
        state.count <= state.reportedCount
      ) {
        // No update due: a group whose verdict this event may raise runs its rule again (see `revisesAt`).
        if (beforeLatest) this.revise(session, group, state, id, t);
        else if (revisedBy) {
          // In order, in a window with nothing late since the rule last ran cleanly: see `Gate.passesOver`.
          const passedOver =
            t === time &&
            state.lateAt < state.dropped &&
            !state.ruleFailed &&
            gate!.passesOver?.(event, state.counts) === true;
          if (!passedOver) this.revise(session, group, state, id, t);
        }
      } else {
        // A consumer that throws on the rule's error report (the rule threw or gave a bad result) does
        // not cost the event its update: it still goes out (the previous confidence kept), then the first
        // exception is thrown. At most once per `updateIntervalMs`, not on every event.
        let failure: { error: unknown } | undefined;
        let match: Match | undefined;
        try {
          match = this.evaluate(session, group, state, id, t);
        } catch (error) {
          failure = { error };
        }
        // A fresh confidence; a group that revises its verdict keeps its best one (see `revisesAt`).
        if (match !== undefined && (!revises || match.confidence >= state.confidence)) {
          state.confidence = match.confidence;
          state.details = match.details;
          for (const file of match.files_affected ?? []) this.addFile(state, file);
        }
        try {
          this.emit(this.activity(session, group, state, 'activity.updated', t));
        } catch (error) {
          failure ??= { error };
        }
        if (failure !== undefined) throw failure.error;
      }
      return;
    }
    if (t !== time) state.lateAt = state.pushed;
    state.push(event, t, kind);
    state.prune(t - group.windowMs, config.maxWindowEvents);
    if (gate !== undefined && !gate.ready(state.counts, kind, t !== time)) return;
    const match = this.evaluate(session, group, state, id, t);
    if (match === undefined) return;
    this.open(session, group, state, match, t);
  }

  /**
   * Runs the rule of an open episode's group again (see `Gate.revisesAt`): a result at least as confident
   * becomes the episode's verdict, its files added; a lower one or none leaves it as it was.
   */
  private revise(
    session: SessionState,
    group: CompiledGroup,
    state: GroupState,
    id: string | undefined,
    t: number,
  ): void {
    const match = this.evaluate(session, group, state, id, t);
    if (match === undefined || match.confidence < state.confidence) return;
    state.confidence = match.confidence;
    state.details = match.details;
    for (const file of match.files_affected ?? []) this.addFile(state, file);
  }

  /** Runs the group's rule over the window; a throw or a bad result becomes a `correlation.error`. */
  private evaluate(
    session: SessionState,
    group: CompiledGroup,
    state: GroupState,
    triggerId: string | undefined,
    t: number,
  ): Match | undefined {
    let match: RuleMatch;
    try {
      const result: unknown = group.rule(state.window());
      state.ruleFailed = false;
      if (result === null || result === undefined) return undefined;
      // A plain snapshot, each field read once and inside the try: a result with getters (that throw,
      // or answer differently each time) is checked as read, and the episode keeps no reference to it.
      match = snapshotOf(result);
    } catch (error) {
      state.ruleFailed = true;
      this.reportRuleError(session, group, error, triggerId, t);
      return undefined;
    }
    const problem = checkMatch(match);
    if (problem !== undefined) {
      state.ruleFailed = true;
      this.reportRuleError(session, group, new TypeError(problem), triggerId, t);
      return undefined;
    }
    return match as Match;
  }

  private open(
    session: SessionState,
    group: CompiledGroup,
    state: GroupState,
    match: Match,
    t: number,
  ): void {
    const { config } = this;
    const id = createEventId();
    const from = state.head;
    const to = state.events.length;
    state.episode = id;
    state.confidence = match.confidence;
    state.details = match.details;
    state.start = state.times[from] ?? t;
    state.end = t;
    state.reportedAt = t;
    state.count = to - from;
    state.ids = [];
    state.files = undefined;
    state.filesTruncated = false;
    for (let i = from; i < to && state.ids.length < config.maxEventIds; i++) {
      const eventId = readId(state.events[i]!);
      if (eventId !== undefined) state.ids.push(eventId);
    }
    const { gate } = group;
    const files = match.files_affected;
    if (files !== undefined) for (const file of files) this.addFile(state, file);
    if (files === undefined || gate !== undefined) {
      // A built-in rule's episode also lists the files of the window's file events that its rule left
      // out (a modification made after the commit, that reached correlate before it): as it would had
      // they come after the detection.
      for (let i = from; i < to; i++) {
        if (gate !== undefined && (gate.fileKinds & (1 << state.kinds[i]!)) === 0) continue;
        const path = readPath(state.events[i]!);
        if (path !== undefined) this.addFile(state, path);
      }
    }
    // Without updates the window is not needed while the episode lasts (when it ends, after a quiet
    // window, every buffered event would have expired anyway), unless the group revises its verdict.
    if (config.updateIntervalMs === undefined && gate?.revisesAt === undefined) state.clear();
    // The episode's quiet time may come before the session's idle time: a sweep must visit it by then.
    if (t + group.windowMs < session.due) this.due.set(session, t + group.windowMs);
    this.emit(this.activity(session, group, state, 'activity.detected', t, id));
  }

  private grow(state: GroupState, id: string | undefined, path: string | undefined, t: number): void {
    state.count++;
    state.end = t;
    if (id !== undefined && state.ids.length < this.config.maxEventIds) state.ids.push(id);
    if (path !== undefined) this.addFile(state, path);
  }

  private addFile(state: GroupState, file: string): void {
    // Many groups never see a file: the set is made on the first one.
    state.files ??= new Set();
    const files = state.files;
    if (files.size < this.config.maxFiles) files.add(file);
    else if (!files.has(file)) state.filesTruncated = true;
  }

  /** The `type` event reporting the episode, as of now: what it reports is marked as reported. */
  private activity(
    session: SessionState,
    group: CompiledGroup,
    state: GroupState,
    type: 'activity.detected' | 'activity.updated' | 'activity.ended',
    t: number,
    id?: string,
    reason?: ActivityEndReason,
  ): Event {
    state.reportedAt = t;
    state.reportedCount = state.count;
    // The end is the episode's last report: it takes the ids instead of copying them.
    const final = type === 'activity.ended';
    const data: ActivityData = {
      activity_id: state.episode!,
      activity_type: group.name,
      confidence: state.confidence,
      files_affected: state.files === undefined ? [] : [...state.files],
      files_truncated: state.filesTruncated,
      event_count: state.count,
      event_ids: final ? state.ids : state.ids.slice(),
      event_ids_truncated: state.count > state.ids.length,
      window: { start: state.start, end: state.end },
      details: final ? state.details : { ...state.details },
    };
    if (reason !== undefined) data.reason = reason;
    const event = createEvent<ActivityData>({
      type,
      timestamp: t,
      data,
      ...(id === undefined ? {} : { id }),
      ...(session.key === '' ? {} : { sessionId: session.key }),
    });
    return event as Event;
  }

  private endEpisode(
    session: SessionState,
    group: CompiledGroup,
    state: GroupState,
    reason: ActivityEndReason,
  ) {
    // The episode ended with its last event: that is the activity's end in event time.
    const ended = this.activity(session, group, state, 'activity.ended', state.end, undefined, reason);
    // Out of the state before it goes out: a consumer that throws on it does not get it again (flush).
    state.episode = undefined;
    state.ids = [];
    state.files = undefined;
    // What the rule reported (the events it matched, say) goes with the end, not kept till the next one.
    state.details = NO_DETAILS;
    // Nor does the next episode get its events: with updates its window still holds them, which a session
    // whose clock lags the newest timestamp (its episode ended by a sweep) would count again. Without
    // updates the window went when the episode opened: either way the next episode starts from none.
    state.clear();
    this.emit(ended);
  }

  /**
   * Makes room for a new session in a full map. First drops the sessions the watermark has already left
   * idle, as a sweep would: which sessions are evicted must not depend on when the last sweep ran (the
   * live clock's). Only then evicts the least recently active (see `closeSession`): the whole batch,
   * each session dropped, even if the consumer throws on one of their ends; then throws the first
   * exception.
   */
  private makeRoom(): void {
    const { config } = this;
    if (this.sessions.size < config.maxSessions) return;
    let failure: { error: unknown } | undefined;
    if (this.watermark !== NO_TIME) {
      try {
        this.sweep(this.watermark);
      } catch (error) {
        failure = { error };
      }
    }
    if (this.sessions.size >= config.maxSessions) {
      evictLeastRecent(this.sessions, (_, evicted) => {
        try {
          this.closeSession(evicted, 'evicted');
        } catch (error) {
          failure ??= { error };
        }
        this.due.delete(evicted);
      });
    }
    if (failure !== undefined) throw failure.error;
  }

  /** Tracks a new session (the map has room: see `makeRoom`). */
  private track(key: string): SessionState {
    const session = new SessionState(key, this.config.groups.length);
    this.sessions.set(key, session);
    // Its time is not known yet: the next sweep reads it.
    this.due.set(session, NO_TIME);
    return session;
  }

  /**
   * Ends every open episode of the session with `reason`, in the groups' order: each even if the
   * consumer throws on an earlier one, then throws the first exception.
   */
  private endEpisodes(session: SessionState, reason: ActivityEndReason): void {
    forEachThenThrow(this.config.groups, (group, i) => {
      const state = session.groups[i];
      if (state?.episode !== undefined) this.endEpisode(session, group, state, reason);
    });
  }

  /** Closes the session (see `closeSession`) and drops it, also when the consumer throws on an end. */
  private endSession(key: string, reason: ActivityEndReason): void {
    const session = this.sessions.get(key);
    if (session === undefined) return;
    try {
      this.closeSession(session, reason);
    } finally {
      this.sessions.delete(key);
      this.due.delete(session);
    }
  }

  /**
   * Ends a session's open episodes (`session.ended`, eviction): first, as a sweep would, those already
   * quiet by the watermark (`quiet` — what the input has already decided must not depend on when the
   * last sweep ran, nor on the live clock's), then the rest with `reason`. Each even if the consumer
   * throws on an earlier one (the rest keep their reason, instead of being found by the flush), then
   * the first exception is thrown.
   */
  private closeSession(session: SessionState, reason: ActivityEndReason): void {
    let failure: { error: unknown } | undefined;
    if (this.watermark !== NO_TIME) {
      try {
        this.endInOrder(this.collectQuiet(session, this.watermark, undefined), 'quiet');
      } catch (error) {
        failure = { error };
      }
    }
    try {
      this.endEpisodes(session, reason);
    } catch (error) {
      failure ??= { error };
    }
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Ends the episodes that have been quiet for their window at `now`, and drops idle sessions. The ends
   * leave in deadline order (the episode's last event + its window), as the live clock finds them, not
   * in the map's order: a replay's jump in event time emits what the live run did. Equal deadlines go
   * by session id, then by the group's place in the list.
   */
  sweep(now: number): void {
    const { due } = this;
    if (due.next > now) return;
    // Only the sessions whose due time has come (see `SessionState.due`); each goes back with its exact
    // due time once all are out (one due exactly now must not be taken out again by this sweep).
    const visited: SessionState[] = [];
    for (let session = due.pop(now); session !== undefined; session = due.pop(now)) visited.push(session);
    let quiet: Quiet[] | undefined;
    for (const session of visited) {
      quiet = this.collectQuiet(session, now, quiet);
      // Every window of an idle session has expired: nothing it holds can take part in a match.
      if (now - session.lastTime > this.config.maxWindowMs) this.sessions.delete(session.key);
    }
    try {
      this.endInOrder(quiet, 'quiet');
    } finally {
      // Also when the consumer threw on an end (after all of them went out): the sessions still tracked
      // stay in the queue, for the inputs handled before the output ends.
      for (const session of visited) {
        if (this.sessions.get(session.key) === session) due.set(session, this.dueOf(session));
      }
    }
  }

  /** The earliest time a sweep has something to do with the session: its idle time, or an episode's end. */
  private dueOf(session: SessionState): number {
    const { groups } = this.config;
    let at = session.lastTime + this.config.maxWindowMs;
    for (let i = 0; i < groups.length; i++) {
      const state = session.groups[i];
      if (state?.episode !== undefined) at = Math.min(at, state.lastTime + groups[i]!.windowMs);
    }
    return at;
  }

  /**
   * Adds the session's episodes of `groups` (default: all) quiet at `now` (`Infinity`: all of them) to
   * `quiet` (made on the first one).
   */
  private collectQuiet(
    session: SessionState,
    now: number,
    quiet: Quiet[] | undefined,
    groups: readonly CompiledGroup[] = this.config.groups,
  ): Quiet[] | undefined {
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      const state = session.groups[group.index];
      if (state?.episode !== undefined && now - state.lastTime > group.windowMs) {
        quiet ??= [];
        quiet.push({ session, group, state, deadline: state.lastTime + group.windowMs });
      }
    }
    return quiet;
  }

  /**
   * Ends `episodes` (none when undefined) with `reason`, by deadline, then session id, then group (see
   * `sweep`): each even if the consumer throws on an earlier one, then throws the first exception.
   */
  private endInOrder(episodes: Quiet[] | undefined, reason: ActivityEndReason): void {
    if (episodes === undefined) return;
    if (episodes.length > 1) episodes.sort(byDeadline);
    forEachThenThrow(episodes, ({ session, group, state }) => this.endEpisode(session, group, state, reason));
  }

  /**
   * Ends every open episode (input completed or errored): first, as a sweep would, those already quiet
   * by the watermark (`quiet` — the sweep at each advance of the watermark has ended them already; what
   * the input has already decided must not depend on when the last one ran), then the rest (`flushed`),
   * in the same order as a sweep's: by deadline, then session id, then group. Each even if the consumer
   * throws on an earlier one (each is taken out of the state before it goes out: a second flush emits
   * nothing twice); then the first exception is thrown.
   */
  flush(): void {
    this.timer?.stop();
    let failure: { error: unknown } | undefined;
    try {
      if (this.watermark !== NO_TIME) this.sweep(this.watermark);
    } catch (error) {
      failure = { error };
    }
    // In deadline order like a sweep's ends, not the map's: a live sweep may have dropped an idle
    // session that a replay still tracks, and tracked it anew after the others when it came back.
    let open: Quiet[] | undefined;
    for (const session of this.sessions.values()) {
      open = this.collectQuiet(session, Number.POSITIVE_INFINITY, open);
    }
    try {
      this.endInOrder(open, 'flushed');
    } catch (error) {
      failure ??= { error };
    }
    this.sessions.clear();
    this.due.clear();
    if (failure !== undefined) throw failure.error;
  }

  dispose(): void {
    this.timer?.stop();
    this.sessions.clear();
    this.due.clear();
  }

  private reportRuleError(
    session: SessionState,
    group: CompiledGroup,
    error: unknown,
    triggerId: string | undefined,
    t: number,
  ): void {
    const suppressed = this.ruleErrors[group.index]!.admit(t);
    if (suppressed < 0) return;
    const event = createEvent<CorrelationErrorData>({
      type: 'correlation.error',
      priority: Priority.HIGH,
      timestamp: t,
      data: {
        group: group.name,
        error: describeError(error),
        trigger_event_id: triggerId ?? null,
        suppressed,
      },
      ...(session.key === '' ? {} : { sessionId: session.key }),
    });
    this.emit(event as Event);
  }

  private reportReadError(error: unknown, timestamp: unknown): void {
    const t = finiteTime(timestamp) ?? (this.watermark === NO_TIME ? 0 : this.watermark);
    const suppressed = this.readErrors.admit(t);
    if (suppressed < 0) return;
    const event = createEvent<CorrelationErrorData>({
      type: 'correlation.error',
      priority: Priority.HIGH,
      timestamp: Math.max(0, t),
      data: { group: null, error: describeError(error), trigger_event_id: null, suppressed },
    });
    this.emit(event as Event);
  }
}

function readId(event: Event): string | undefined {
  try {
    return typeof event.id === 'string' ? event.id : undefined;
  } catch {
    return undefined;
  }
}

function readPath(event: Event): string | undefined {
  try {
    return filePathOf(event.data);
  } catch {
    return undefined;
  }
}

/** A rule's result as read once: its fields, or what stands in them when it is not an object. */
interface RuleMatch {
  readonly shape: 'object' | 'array' | string;
  readonly confidence: unknown;
  readonly files_affected: unknown;
  readonly details: Record<string, unknown>;
}

/** A `RuleMatch` that `checkMatch` accepted. */
interface Match extends RuleMatch {
  readonly confidence: number;
  readonly files_affected: readonly string[] | undefined;
}

const ignore = () => undefined;

/** Reads a rule's (non-null) result once; a throwing getter throws here. */
function snapshotOf(result: unknown): RuleMatch {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    return {
      shape: Array.isArray(result) ? 'array' : typeof result,
      confidence: undefined,
      files_affected: undefined,
      details: {},
    };
  }
  const { then } = result as { then?: unknown };
  if (typeof then === 'function') {
    // An async rule: what it settles with comes too late to be read. A rejection nobody handles would
    // end the process (Node's default for an unhandled rejection), not just count as no match.
    then.call(result, undefined, ignore);
    return {
      shape: 'a Promise (a rule is synchronous)',
      confidence: undefined,
      files_affected: undefined,
      details: {},
    };
  }
  const { confidence, files_affected, ...details } = result as Record<string, unknown>;
  return {
    shape: 'object',
    confidence,
    files_affected: Array.isArray(files_affected) ? [...(files_affected as unknown[])] : files_affected,
    details,
  };
}

/** Why a rule's result is not a `CorrelationMatch`, or `undefined` when it is one. */
function checkMatch(match: RuleMatch): string | undefined {
  if (match.shape !== 'object') {
    return `rule returned ${match.shape === 'array' ? 'an array' : match.shape}, expected { confidence } or null`;
  }
  const { confidence, files_affected } = match;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1)) {
    return `rule returned confidence ${String(confidence)}, expected a number from 0 to 1`;
  }
  if (
    files_affected !== undefined &&
    !(Array.isArray(files_affected) && files_affected.every((file) => typeof file === 'string'))
  ) {
    return 'rule returned files_affected that is not an array of strings';
  }
  return undefined;
}

/**
 * The earliest usable timestamp of `events` (`Infinity` when none has one). One that cannot be read is
 * passed over: its own handling reports it.
 */
function earliestOf(events: readonly Event[]): number {
  let earliest = Number.POSITIVE_INFINITY;
  for (const event of events) {
    try {
      const time = typeof event === 'object' && event !== null ? finiteTime(event.timestamp) : undefined;
      if (time !== undefined && time < earliest) earliest = time;
    } catch {
      // Reported when the event is handled.
    }
  }
  return earliest;
}

/**
 * The input events a `temporalAggregate` output carries: those of a window (`<type>.aggregated` with
 * `includeEvents`, its `source_type` that type), or the one of a late event (`<type>.late` carrying an
 * event of that type, or `session.window.late`). Only the name of what it carries makes an event a carrier:
 * an input of its own named so (`notes.late` carrying a `file.modified`, `report.aggregated` without a
 * `source_type`) was counted as the events it held.
 */
function carriedEvents(type: unknown, event: Event): readonly Event[] | undefined {
  if (typeof type !== 'string') return undefined;
  if (type.endsWith('.aggregated')) {
    const data = event.data as { events?: unknown; source_type?: unknown } | undefined;
    const inner = data?.events;
    const source = data?.source_type;
    return Array.isArray(inner) && typeof source === 'string' && type === `${source}.aggregated`
      ? (inner as Event[])
      : undefined;
  }
  if (type.endsWith('.late')) {
    const inner = (event.data as { event?: unknown } | undefined)?.event;
    if (typeof inner !== 'object' || inner === null) return undefined;
    const innerType = (inner as { type?: unknown }).type;
    return type === 'session.window.late' || (typeof innerType === 'string' && type === `${innerType}.late`)
      ? [inner as Event]
      : undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------

/**
 * Correlates each session's events into *activities*: per session and group, the group's events of
 * the last `windowMs` (event time, from `event.timestamp`, so a replay gives the activities of the live
 * run) are checked by the group's rule when one arrives; a match opens an *episode*, reported once as
 * `activity.detected`. Further events of the group extend the episode (a burst of 100 matching events
 * is one activity). When the session has had no event of the group for `windowMs`, the episode ends
 * with `activity.ended` (its totals and `reason`), and a new episode may begin. Each advance of event
 * time (the newest timestamp seen) first ends the episodes quiet by then, whatever their session, so an
 * end goes out before the first event after its deadline, where the live clock (which may find it first)
 * puts it too. Episodes found quiet together (a jump in event time) end in deadline order (last event +
 * window; ties by session id, then group order), as the live clock finds them.
 *
 * Input events pass through unchanged and at once (unless `passThrough: false`); derived events follow
 * the event that caused them, except an `activity.ended` found by a later event, which precedes it.
 * A `temporalAggregate` window (`<type>.aggregated` carrying its `events`, its `source_type` that type)
 * counts as the events it holds and a late event (`<type>.late` carrying an event of that type, or
 * `session.window.late`) as the one it carries, so `correlate` may come before or after
 * `temporalAggregate`; the default rules judge order by event time, not by arrival, so they find the
 * same episodes either way.
 *
 * ```
 * source:  -f-t-f-t-f-----t-t-t-------------------x-----|      (one session; f file.*, t tool.used)
 *           0 1 2 3 4     5 6 7                   13 min
 * result:  -f-t-f-t-(fD)--t-t-t-------------------(Ex)--|
 *             D = activity.detected (feature-development, 5 events: 3 file events, 2 tool uses)
 *             E = activity.ended (8 events, reason quiet, stamped 7) — found by x: no event of the
 *                 group for more than its 5 min window since the last t
 * ```
 *
 * Default groups: `feature-development` and `bug-fix` (see `DEFAULT_CORRELATION_GROUPS`). The default
 * rules run incrementally (counts per window), so their cost per event does not grow with the window.
 *
 * A rule that throws or returns something other than `{ confidence: 0..1 }` / `null` (or a result
 * whose fields cannot be read) does not stop the stream: it is reported as a `correlation.error` event
 * (priority HIGH; at most one per group and window of event time, across sessions, with a count of the
 * suppressed ones) and counts as no match. An input that cannot be read is reported the same way and
 * passed through, also when the consumer throws on the report (the output then errors with it); an
 * input whose rule report (or episode report) the consumer throws on is still added to its other groups,
 * and the `activity.updated` it is due (the rule called again for it) still goes out.
 *
 * On complete or error the open episodes are ended (`flushed`), then the source's error is forwarded. A
 * consumer that throws ends the output with its first exception, after the same flush. The episodes a
 * flush or a sweep ends all go out even if the consumer throws on an earlier one, each once. An input
 * whose handling ends episodes before it (a sweep its jump in event time runs, its session's quiet
 * episodes, an eviction its new session makes, its session's episodes before its `session.ended`) is
 * still handled when the consumer throws on one of those ends: passed through (with `passThrough`) and
 * added to its groups' windows, before the output ends. So is an input the consumer throws on as it
 * passes through: it is still added to its groups' windows (an aggregate's events too), so the episodes
 * later ended (by the flush) hold what they would without the exception. A `session.ended` or an
 * eviction ends all the session's episodes with their reason (`session-ended`, `evicted`; `quiet` for
 * those already quiet) and drops the session, an eviction its whole batch, even if the consumer throws
 * on one of the ends.
 *
 * Memory is bounded: per session and group at most `maxWindowEvents` events (older than the window are
 * dropped), at most `maxSessions` sessions (the least recently active are evicted, their episodes
 * ended with reason `evicted`), sessions idle for the longest window dropped, `session.ended` drops
 * its session, and activities list at most `maxEventIds` ids and `maxFiles` files.
 *
 * ## Examples
 * ```ts
 * hookOutputs$.pipe(bridgeHooks(), persist(store), correlate()).subscribe(render);
 *
 * const deploys: CorrelationGroup = {
 *   name: 'deploy',
 *   eventTypes: ['git.commit', 'tool.used'],
 *   windowMs: 60_000,
 *   rule: (events) => (events.some((e) => e.data.command === 'npm run deploy') ? { confidence: 1 } : null),
 * };
 * events$.pipe(correlate([...DEFAULT_CORRELATION_GROUPS, deploys], { passThrough: false }));
 * ```
 *
 * @param groups the groups to detect. Default `DEFAULT_CORRELATION_GROUPS`.
 * @param options pass-through, updates, bounds and the live clock (see `CorrelateOptions`).
 * @return an operator emitting the input events and `activity.detected` / `activity.updated` /
 *   `activity.ended` / `correlation.error` events.
 * @throws ConfigError at construction when a group or option has the wrong shape (a missing rule, an
 *   unknown option) or a value is out of range (`windowMs <= 0`, duplicate names, no groups).
 */
export function correlate<T extends Event<object> = Event>(
  groups: readonly CorrelationGroup<NoInfer<T>>[] | undefined,
  options: CorrelateOptions & { passThrough: false },
): OperatorFunction<T, CorrelationEvent>;
export function correlate<T extends Event<object> = Event>(
  groups?: readonly CorrelationGroup<NoInfer<T>>[],
  options?: CorrelateOptions,
): OperatorFunction<T, T | CorrelationEvent>;
export function correlate<T extends Event = Event>(
  groups: readonly CorrelationGroup<NoInfer<T>>[] = DEFAULT_CORRELATION_GROUPS,
  options: CorrelateOptions = {},
): OperatorFunction<T, T | CorrelationEvent> {
  // A rule sees only input events (of its group's types), each a T.
  const config = compile(groups as readonly CorrelationGroup[], options);
  return serializedOperator<T, CorrelationEvent>(
    (emit, schedule) => new Correlator(config, (event) => emit(event as CorrelationEvent), schedule),
  );
}
