/**
 * State reducers: the seed's "Cross-Session State Reconstruction" as pure `(state, event) => state`
 * functions, usable live with RxJS `scan` and offline with `reconstruct`. Time cut-offs are relative to
 * the latest event seen, never the wall clock, so replaying a session gives the same state every time.
 */
import {
  ConfigError,
  checkOptions,
  optionKeys,
  readFields,
  refuseNull,
  rejectUnknownKeys,
  shownText,
} from '../errors.js';
import { type Event, setOwn } from '../event.js';
import type { QueryOptions, SessionStore } from './SessionStore.js';
import { QUERY_KEYS } from './SessionStore.js';

/**
 * A pure reducer over events. `reduce` never mutates its `state` argument (it returns a new state that
 * shares the unchanged parts), so `initial` can be shared by every subscription.
 *
 * ```ts
 * events$.pipe(scan(fileState.reduce, fileState.initial));      // live
 * await reconstruct(store, sessionId, fileState);                // offline, same result
 * ```
 */
export interface StateReducer<S> {
  readonly initial: S;
  readonly reduce: (state: S, event: Event) => S;
}

const HOUR_MS = 60 * 60 * 1000;
const DEFAULT_HISTORY = 100;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** `record[key]` if it is the record's own property: keys are data (file paths, types, ids), so `constructor` is one too. */
function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * How a reduce makes the records of its next state (`files`, `agents`, `eventTypes`…, keyed by data).
 *
 * `reduce` copies every record it changes, so that no state it returned ever changes: a change costs
 * O(entries), and a fold over a session that touched F files costs O(F) per file event. A fold that owns
 * every intermediate state and hands out only the last one (`reconstruct`) copies a record the first time
 * it changes it and then updates its copy in place: O(1) per change. Both give the same state, key order
 * included (a key set again keeps its place; a deleted one leaves the others in order).
 */
class Records {
  /** The records this fold made, which it may change; `undefined`: copy every time. */
  readonly #mine: WeakSet<object> | undefined;

  constructor(inPlace: boolean) {
    this.#mine = inPlace ? new WeakSet() : undefined;
  }

  /** `record` with `key` (an own property, `__proto__` included) set to `value`. */
  with<V>(record: Readonly<Record<string, V>>, key: string, value: V): Record<string, V> {
    const mine = this.#mine;
    // A computed key in a literal defines an own property, `__proto__` too.
    if (mine === undefined) return { ...record, [key]: value };
    const out = this.#own(mine, record);
    setOwn(out, key, value);
    return out;
  }

  /** `record` without its own property `key`. */
  without<V>(record: Readonly<Record<string, V>>, key: string): Record<string, V> {
    const mine = this.#mine;
    if (mine === undefined || !mine.has(record)) return this.#copy(record, key);
    delete (record as Record<string, V>)[key];
    return record as Record<string, V>;
  }

  #own<V>(mine: WeakSet<object>, record: Readonly<Record<string, V>>): Record<string, V> {
    return mine.has(record) ? (record as Record<string, V>) : this.#copy(record);
  }

  /** A copy of `record` (but for its key `except`), which this fold then owns. */
  #copy<V>(record: Readonly<Record<string, V>>, except?: string): Record<string, V> {
    const out: Record<string, V> = {};
    for (const k of Object.keys(record)) {
      if (k !== except) setOwn(out, k, record[k]);
    }
    this.#mine?.add(out);
    return out;
  }
}

/** The records of `reduce`: copied at every change. */
const COPIED = new Records(false);

/**
 * For the `reduce` of each built-in reducer: how to make a reduce for a fold that owns its intermediate
 * states (`reconstruct`), the same states with its records updated in place (see `Records`). Keyed by the
 * `reduce` function, not held by the reducer: a reducer spread from a built-in one (`{ ...sessionState,
 * reduce: mine }`) has the caller's reduce, which must be the one used.
 */
const IN_PLACE = new WeakMap<object, () => (state: never, event: Event) => unknown>();

/** A `StateReducer` from `make`, its reduce made with the given records. */
function builtIn<S>(initial: S, make: (records: Records) => (state: S, event: Event) => S): StateReducer<S> {
  const reduce = make(COPIED);
  IN_PLACE.set(reduce, () => make(new Records(true)));
  return { initial, reduce };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

function later(a: number | undefined, b: number): number {
  return a === undefined || b > a ? b : a;
}

/**
 * `list` (in time order) with `change` put in its place in time, after those of the same time, keeping the
 * latest `max` entries: a change that comes late never takes the place of a later one. Changes mostly come
 * in time order, so the place is looked for from the end.
 */
function insertBounded<T extends { readonly timestamp: number }>(
  list: readonly T[],
  change: T,
  max: number,
): readonly T[] {
  let at = list.length;
  while (at > 0 && list[at - 1]!.timestamp > change.timestamp) at--;
  // The list with the change at `at` has one entry more: its first `drop` (the oldest) are left out.
  const drop = Math.max(0, list.length + 1 - max);
  // The change is one of them: the list is full (or max is 0) and the change older than those kept.
  if (at < drop) return list.slice(drop - 1);
  const next = list.slice(drop, at);
  next.push(change);
  for (let i = at; i < list.length; i++) next.push(list[i]!);
  return next;
}

// ---------------------------------------------------------------------------------------------------
// fileState (the seed's _build_file_state)

/** What is known about one file. */
export interface FileInfo {
  /**
   * The last action: the second part of the event type (`created`, `modified`, `deleted` …) of the latest
   * event about the file in time, whatever the order they came in (of those of the same time, the last to come).
   */
  lastAction: string;
  /** Timestamp of the latest event about the file (it never moves back when an older event comes late). */
  lastModified: number;
  /** Number of `file.*` events about the file. */
  changeCount: number;
}

/** One entry of `FileState.recentChanges`. */
export interface FileChangeEntry {
  filePath: string;
  action: string;
  timestamp: number;
}

/** The seed's file state (`file_states`, `recent_changes`). */
export interface FileState {
  /** Per file path. */
  readonly files: Readonly<Record<string, FileInfo>>;
  /**
   * File changes within `recentWindowMs` (default one hour) before the latest event seen — not before
   * the wall clock — the latest `maxRecent` of them (default 100; 0 keeps none), oldest first: in time
   * order, whatever the order the events came in (those of the same time in the order they came).
   */
  readonly recentChanges: readonly FileChangeEntry[];
  /** Timestamp of the latest event seen (of any type): the reference of the recent-changes window. */
  readonly latestEventTime: number | undefined;
}

/** Options of `createFileState`. */
export interface FileStateOptions {
  /**
   * Width of the recent-changes window, ending at the latest event, in ms ≥ 0. Default one hour. A change
   * exactly `recentWindowMs` before the latest event is out (the seed's `timestamp > cutoff`): 0 keeps none.
   */
  recentWindowMs?: number | undefined;
  /** Most entries in `recentChanges`: an integer ≥ 0 (0 keeps none, for `files` alone). Default 100. */
  maxRecent?: number | undefined;
}

const FILE_STATE_KEYS = optionKeys<FileStateOptions>({ recentWindowMs: true, maxRecent: true });

/**
 * A `fileState` reducer with another recent-changes window or limit.
 *
 * @throws ConfigError when `recentWindowMs` is not a number ≥ 0, `maxRecent` not an integer ≥ 0, an
 *   option's name is unknown (named with the nearest known one), or the options are not an object.
 */
export function createFileState(options: FileStateOptions = {}): StateReducer<FileState> {
  checkOptions('createFileState', options, FILE_STATE_KEYS);
  options = readFields(options, FILE_STATE_KEYS);
  refuseNull('createFileState', options, FILE_STATE_KEYS);
  const windowMs = options.recentWindowMs ?? HOUR_MS;
  const maxRecent = options.maxRecent ?? DEFAULT_HISTORY;
  if (typeof windowMs !== 'number' || !(windowMs >= 0)) {
    throw new ConfigError(
      `createFileState: recentWindowMs must be a number of ms ≥ 0, got ${shownText(windowMs)}`,
    );
  }
  if (!Number.isSafeInteger(maxRecent) || maxRecent < 0) {
    throw new ConfigError(`createFileState: maxRecent must be an integer ≥ 0, got ${shownText(maxRecent)}`);
  }
  const prune = (changes: readonly FileChangeEntry[], latest: number) => {
    const cutoff = latest - windowMs;
    return changes.every((c) => c.timestamp > cutoff) ? changes : changes.filter((c) => c.timestamp > cutoff);
  };
  return builtIn<FileState>(
    deepFreeze({ files: {}, recentChanges: [], latestEventTime: undefined }),
    (records) => (state, event) => {
      const latest = later(state.latestEventTime, event.timestamp);
      const filePath = event.type.startsWith('file.') ? text(event.data.file_path) : undefined;
      if (filePath === undefined) {
        if (latest === state.latestEventTime) return state;
        return { ...state, latestEventTime: latest, recentChanges: prune(state.recentChanges, latest) };
      }
      const action = event.type.split('.')[1] ?? '';
      const previous = own(state.files, filePath);
      // An event older than the file's last one (come late) is counted, but says nothing of its last action.
      const info: FileInfo =
        previous !== undefined && event.timestamp < previous.lastModified
          ? { ...previous, changeCount: previous.changeCount + 1 }
          : {
              lastAction: action,
              lastModified: event.timestamp,
              changeCount: (previous?.changeCount ?? 0) + 1,
            };
      const recent = insertBounded(
        state.recentChanges,
        { filePath, action, timestamp: event.timestamp },
        maxRecent,
      );
      return {
        files: records.with(state.files, filePath, info),
        recentChanges: prune(recent, latest),
        latestEventTime: latest,
      };
    },
  );
}

/** The seed's file state: per-file last action and change count, and the last hour's changes. */
export const fileState: StateReducer<FileState> = createFileState();

// ---------------------------------------------------------------------------------------------------
// workflowState (the seed's _build_workflow_state)

/** One workflow run. */
export interface WorkflowInfo {
  workflowId: string;
  workflowType: string | undefined;
  /** Undefined when the run's `workflow.started` was not seen. */
  startTime: number | undefined;
  endTime: number | undefined;
  status: 'running' | 'completed' | 'failed';
  /** Agents whose `agent.*` events carried this `workflow_id`. */
  agents: readonly string[];
}

/** The seed's workflow state (`active_workflows`, `completed_workflows`, `workflow_history`). */
export interface WorkflowState {
  readonly activeWorkflows: Readonly<Record<string, WorkflowInfo>>;
  /** Finished runs: `completed`, and `failed` ones (`workflow.failed`). */
  readonly completedWorkflows: Readonly<Record<string, WorkflowInfo>>;
  /**
   * The last 100 workflow transitions (in time), oldest first: in time order whatever the order they came in
   * (those of the same time in the order they came), as `agentState`'s `history`. `persist`'s priority lane
   * emits a CRITICAL `workflow.failed` ahead of the run's `workflow.started` still waiting: listed after it.
   */
  readonly workflowHistory: readonly { workflowId: string; type: string; timestamp: number }[];
}

function workflowIdOf(event: Event): string | undefined {
  return text(event.data.workflow_id) ?? text(event.data.workflow);
}

/**
 * Whether `event`, about the run that ended as `ended`, is not later than that end: received before it,
 * it came after it — as `persist`'s priority lane has a CRITICAL `workflow.failed` overtake the events
 * still waiting (stored and emitted first), those of the same millisecond too (a run that failed at once).
 * Such an agent event is of that run; such a start is that run's, if its start was not seen (a start
 * after one that was is a rerun, as one later than the end is).
 */
function overtaken(ended: WorkflowInfo, event: Event): boolean {
  return ended.endTime !== undefined && event.timestamp <= ended.endTime;
}

/** The seed's workflow state, from `workflow.started` / `workflow.completed` / `workflow.failed`. */
export const workflowState: StateReducer<WorkflowState> = builtIn<WorkflowState>(
  deepFreeze({ activeWorkflows: {}, completedWorkflows: {}, workflowHistory: [] }),
  (records) => (state, event) => {
    if (event.type.startsWith('agent.')) {
      const id = workflowIdOf(event);
      const agent = text(event.data.agent);
      if (id === undefined || agent === undefined) return state;
      const run = own(state.activeWorkflows, id);
      if (run !== undefined) {
        if (run.agents.includes(agent)) return state;
        return {
          ...state,
          activeWorkflows: records.with(state.activeWorkflows, id, {
            ...run,
            agents: [...run.agents, agent],
          }),
        };
      }
      // An agent event of a run that ended, come after its end (see `overtaken`): the run's agent.
      const ended = own(state.completedWorkflows, id);
      if (ended === undefined || !overtaken(ended, event) || ended.agents.includes(agent)) return state;
      return {
        ...state,
        completedWorkflows: records.with(state.completedWorkflows, id, {
          ...ended,
          agents: [...ended.agents, agent],
        }),
      };
    }
    if (!event.type.startsWith('workflow.')) return state;
    const id = workflowIdOf(event);
    if (id === undefined) return state;
    const history = insertBounded(
      state.workflowHistory,
      { workflowId: id, type: event.type, timestamp: event.timestamp },
      DEFAULT_HISTORY,
    );
    if (event.type === 'workflow.started') {
      const ended = own(state.completedWorkflows, id);
      if (ended !== undefined && ended.startTime === undefined && overtaken(ended, event)) {
        // The start of the run that ended, come after its end: not a rerun.
        return {
          ...state,
          completedWorkflows: records.with(state.completedWorkflows, id, {
            ...ended,
            workflowType: ended.workflowType ?? text(event.data.workflow_type),
            startTime: event.timestamp,
          }),
          workflowHistory: history,
        };
      }
      const rerun = ended !== undefined;
      return {
        activeWorkflows: records.with(state.activeWorkflows, id, {
          workflowId: id,
          workflowType: text(event.data.workflow_type),
          startTime: event.timestamp,
          endTime: undefined,
          status: 'running',
          agents: [],
        }),
        completedWorkflows: rerun ? records.without(state.completedWorkflows, id) : state.completedWorkflows,
        workflowHistory: history,
      };
    }
    if (event.type === 'workflow.completed' || event.type === 'workflow.failed') {
      const run = own(state.activeWorkflows, id);
      const finished: WorkflowInfo = {
        workflowId: id,
        workflowType: run?.workflowType ?? text(event.data.workflow_type),
        startTime: run?.startTime,
        endTime: event.timestamp,
        status: event.type === 'workflow.failed' ? 'failed' : 'completed',
        agents: run?.agents ?? [],
      };
      return {
        activeWorkflows:
          run === undefined ? state.activeWorkflows : records.without(state.activeWorkflows, id),
        completedWorkflows: records.with(state.completedWorkflows, id, finished),
        workflowHistory: history,
      };
    }
    return { ...state, workflowHistory: history };
  },
);

// ---------------------------------------------------------------------------------------------------
// agentState

/** What is known about one agent (by `data.agent`, e.g. a subagent type). */
export interface AgentInfo {
  agent: string;
  started: number;
  /** Runs ended: a run that ended more than once (a stop a hook blocked, then its end) counts once. */
  completed: number;
  /**
   * Sum of the durations of runs whose start and end were both seen (matched by `agent_id`), each to its
   * latest end.
   */
  totalDurationMs: number;
  firstSeen: number;
  lastSeen: number;
}

/** A run in progress (an `agent.started` without its `agent.completed` yet). */
export interface RunningAgent {
  agent: string;
  agentId: string;
  startTime: number;
}

/** An end (`agent.completed` / `failed` / `stopped`) whose run's `agent.started` was not seen (yet). */
export interface UnmatchedEnd {
  /** The agent it was counted under (the `data.agent` of the first of its ends to come). */
  agent: string;
  /** The latest of the run's ends seen. */
  endTime: number;
  /** The earliest of the run's ends, when more than one came at different times; absent otherwise. */
  firstEndTime?: number;
}

/** A run whose start and end were both seen, kept so that a later end of it is known as its own. */
export interface EndedRun {
  agent: string;
  startTime: number;
  /** Its latest end. */
  endTime: number;
}

/**
 * Most ends kept in `AgentState.unmatchedEnds` waiting for their start, and most runs kept in
 * `AgentState.ended`; past that the earliest ended is dropped.
 */
const MAX_UNMATCHED = 100;

/**
 * The id of the entry that ended earliest (of equal times, the lowest id): the one dropped when
 * `unmatchedEnds` (or `ended`) is full. Not the first key: an integer-like id (`'1234567'`) is listed before
 * the others whenever it came, and an id whose end came again keeps its first place.
 */
function earliestEnd(ends: Readonly<Record<string, { readonly endTime: number }>>): string {
  let earliest: string | undefined;
  let time = Number.POSITIVE_INFINITY;
  for (const id of Object.keys(ends)) {
    const end = ends[id]!.endTime;
    if (end < time || (end === time && id < earliest!)) {
      earliest = id;
      time = end;
    }
  }
  return earliest!;
}

/** `record` with `id` set to `entry`, the earliest ended dropped first when it is full without `id`. */
function withBounded<V extends { readonly endTime: number }>(
  records: Records,
  record: Readonly<Record<string, V>>,
  id: string,
  entry: V,
): Record<string, V> {
  const full = Object.keys(record).length >= MAX_UNMATCHED && !Object.hasOwn(record, id);
  return records.with(full ? records.without(record, earliestEnd(record)) : record, id, entry);
}

/**
 * `ended` with `run` as its id's run, unless the run it holds ended later (two runs of one id, a resumed
 * subagent, come newest first): the latest ended is kept, whatever the order they came in.
 */
function withEnded(
  records: Records,
  ended: Readonly<Record<string, EndedRun>>,
  id: string,
  run: EndedRun,
): Record<string, EndedRun> {
  const kept = own(ended, id);
  if (kept !== undefined && kept.endTime > run.endTime) return ended;
  return withBounded(records, ended, id, run);
}

/** Agents used in a session, from `agent.started` / `agent.completed` (`SubagentStart` / `SubagentStop`). */
export interface AgentState {
  readonly agents: Readonly<Record<string, AgentInfo>>;
  /** Keyed by `agent_id`. */
  readonly running: Readonly<Record<string, RunningAgent>>;
  /**
   * Ends whose start was not seen, keyed by `agent_id` (at most 100: the earliest ended is dropped): a start that comes after its
   * end, not later than it (`persist`'s priority lane emits a CRITICAL end ahead of the events received
   * before it), makes the run the one that ended — counted under the start's agent, with its duration.
   * More ends of the same id before the start are the same run's (counted once, under the first's name).
   * A state saved by a version before it (without it) is folded on as one with none waiting.
   */
  readonly unmatchedEnds: Readonly<Record<string, UnmatchedEnd>>;
  /**
   * Runs that ended, keyed by `agent_id` (of two runs of one id, the latest ended; at most 100: the
   * earliest ended is dropped). An end of such a run
   * not earlier than its start is the same run's — Claude Code sends a subagent's `SubagentStop` again
   * (`stop_hook_active: true`) when a hook blocked the first and the subagent went on: counted under the
   * run's agent, not as another completion, the run's duration to its latest end. A start of the id later
   * than an end of such a run, come after a later end, is a run of its own (a resumed subagent whose end
   * overtook its start): the ends from it on are its. A state saved by a version before it (without it) is
   * folded on as one with none.
   */
  readonly ended: Readonly<Record<string, EndedRun>>;
  /** The last 100 agent events, oldest first, in time order whatever the order they came in. */
  readonly history: readonly AgentHistoryEntry[];
}

/** One entry of `AgentState.history`. */
export interface AgentHistoryEntry {
  agent: string;
  agentId: string | undefined;
  type: string;
  timestamp: number;
}

function endsRun(type: string): boolean {
  return type === 'agent.completed' || type === 'agent.failed' || type === 'agent.stopped';
}

/** A saved state whose version had no `unmatchedEnds` or `ended`, completed with none. */
function whole(saved: AgentState): AgentState {
  if (saved.unmatchedEnds !== undefined && saved.ended !== undefined) return saved;
  return { ...saved, unmatchedEnds: saved.unmatchedEnds ?? {}, ended: saved.ended ?? {} };
}

/** Per-agent counts and durations, the runs in progress, and recent agent events. */
export const agentState: StateReducer<AgentState> = builtIn<AgentState>(
  deepFreeze({ agents: {}, running: {}, unmatchedEnds: {}, ended: {}, history: [] }),
  (records) => (saved, event) => {
    // A state saved by a version before `unmatchedEnds` or `ended` (then folded on): none. Completed at its
    // first event, whatever its type, so that every state reduce returns has the whole shape.
    const state = whole(saved);
    if (!event.type.startsWith('agent.')) return state;
    const named = text(event.data.agent);
    if (named === undefined) return state;
    const agentId = text(event.data.agent_id);
    const ends = endsRun(event.type);
    const byId = ends && agentId !== undefined;
    const run = byId ? own(state.running, agentId) : undefined;
    // An end of a run that ended already, not earlier than its start: that run's (a stop a hook blocked).
    const endedRun = byId && run === undefined ? own(state.ended, agentId) : undefined;
    const again = endedRun !== undefined && event.timestamp >= endedRun.startTime ? endedRun : undefined;
    // Another end of a run whose end waits for its start: that run's.
    const waiting =
      byId && run === undefined && again === undefined ? own(state.unmatchedEnds, agentId) : undefined;
    // A start come after its run's end (not later than its latest end): the run that ended.
    const ended =
      event.type === 'agent.started' && agentId !== undefined ? own(state.unmatchedEnds, agentId) : undefined;
    const endOf = ended !== undefined && event.timestamp <= ended.endTime ? ended : undefined;
    // A run ends under the name its start gave it: Claude Code's SubagentStop says `agent_type: ""`, so
    // the bridge names the agent by its id there, while its SubagentStart gave the type (`Explore`).
    const agent = run?.agent ?? again?.agent ?? waiting?.agent ?? named;
    let agents = state.agents;
    let history = state.history;
    if (endOf !== undefined && endOf.agent !== agent) {
      // The run's ends were counted under their own name: they move to the start's, in the history too.
      // The ends made or counted in that record, which only such a move deletes.
      const first = endOf.firstEndTime ?? endOf.endTime;
      const counted = own(agents, endOf.agent)!;
      agents =
        counted.started === 0 &&
        counted.completed === 1 &&
        counted.firstSeen === first &&
        counted.lastSeen === endOf.endTime
          ? records.without(agents, endOf.agent)
          : records.with(agents, endOf.agent, { ...counted, completed: counted.completed - 1 });
      history = history.map((h) =>
        h.agentId === agentId &&
        h.agent === endOf.agent &&
        h.timestamp >= first &&
        h.timestamp <= endOf.endTime &&
        endsRun(h.type)
          ? { ...h, agent }
          : h,
      );
    }
    // A start inside a run that ended, later than an end of it: a resumed subagent whose next end came
    // before this start. The ends from this start on are this run's, taken by the earlier one as its own
    // again (a stop a hook blocked): that run ends at its last end before this start (as read in the
    // history), and this one, counted once, at the latest end.
    const resumed =
      event.type === 'agent.started' && agentId !== undefined && endOf === undefined
        ? own(state.ended, agentId)
        : undefined;
    let resumedAfter: number | undefined;
    if (resumed !== undefined && event.timestamp > resumed.startTime && event.timestamp <= resumed.endTime) {
      for (const h of history) {
        if (h.agentId !== agentId || !endsRun(h.type)) continue;
        if (h.timestamp >= resumed.startTime && h.timestamp < event.timestamp)
          resumedAfter = later(resumedAfter, h.timestamp);
      }
    }
    if (resumedAfter !== undefined) {
      // (A state made by hand may lack the earlier run's agent: then nothing to cut.)
      const earlier = own(agents, resumed!.agent);
      if (earlier !== undefined) {
        agents = records.with(agents, resumed!.agent, {
          ...earlier,
          totalDurationMs: earlier.totalDurationMs - (resumed!.endTime - resumedAfter),
        });
      }
      if (resumed!.agent !== agent) {
        history = history.map((h) =>
          h.agentId === agentId &&
          h.agent === resumed!.agent &&
          h.timestamp >= event.timestamp &&
          h.timestamp <= resumed!.endTime &&
          endsRun(h.type)
            ? { ...h, agent }
            : h,
        );
      }
    }
    const info = own(agents, agent) ?? {
      agent,
      started: 0,
      completed: 0,
      totalDurationMs: 0,
      firstSeen: event.timestamp,
      lastSeen: event.timestamp,
    };
    const next: AgentInfo = {
      ...info,
      firstSeen: Math.min(info.firstSeen, event.timestamp),
      lastSeen: Math.max(
        info.lastSeen,
        event.timestamp,
        endOf?.endTime ?? (resumedAfter === undefined ? event.timestamp : resumed!.endTime),
      ),
    };
    let running = state.running;
    let unmatchedEnds = state.unmatchedEnds;
    let endedRuns = state.ended;
    if (event.type === 'agent.started') {
      next.started++;
      if (endOf !== undefined) {
        if (endOf.agent !== agent) next.completed++;
        next.totalDurationMs += endOf.endTime - event.timestamp;
        unmatchedEnds = records.without(unmatchedEnds, agentId!);
        endedRuns = withEnded(records, endedRuns, agentId!, {
          agent,
          startTime: event.timestamp,
          endTime: endOf.endTime,
        });
      } else if (resumedAfter !== undefined) {
        next.completed++;
        next.totalDurationMs += resumed!.endTime - event.timestamp;
        endedRuns = withBounded(records, endedRuns, agentId!, {
          agent,
          startTime: event.timestamp,
          endTime: resumed!.endTime,
        });
      } else if (agentId !== undefined) {
        running = records.with(running, agentId, { agent, agentId, startTime: event.timestamp });
      }
    } else if (ends) {
      if (run !== undefined) {
        next.completed++;
        next.totalDurationMs += Math.max(0, event.timestamp - run.startTime);
        running = records.without(running, agentId!);
        endedRuns = withEnded(records, endedRuns, agentId!, {
          agent,
          startTime: run.startTime,
          endTime: event.timestamp,
        });
      } else if (again !== undefined) {
        // The run went on past the end seen: its duration runs to this one, if later.
        if (event.timestamp > again.endTime) {
          next.totalDurationMs += event.timestamp - again.endTime;
          endedRuns = records.with(endedRuns, agentId!, { ...again, endTime: event.timestamp });
        }
      } else if (waiting !== undefined) {
        const first = Math.min(waiting.firstEndTime ?? waiting.endTime, event.timestamp);
        const last = Math.max(waiting.endTime, event.timestamp);
        unmatchedEnds = records.with(
          unmatchedEnds,
          agentId!,
          first < last ? { agent, endTime: last, firstEndTime: first } : { agent, endTime: last },
        );
      } else {
        next.completed++;
        if (agentId !== undefined) {
          unmatchedEnds = withBounded(records, unmatchedEnds, agentId, { agent, endTime: event.timestamp });
        }
      }
    }
    return {
      agents: records.with(agents, agent, next),
      running,
      unmatchedEnds,
      ended: endedRuns,
      history: insertBounded(
        history,
        { agent, agentId, type: event.type, timestamp: event.timestamp },
        DEFAULT_HISTORY,
      ),
    };
  },
);

// ---------------------------------------------------------------------------------------------------
// sessionState

/** The state of one coding-agent session. */
export interface SessionState {
  readonly sessionId: string | undefined;
  /**
   * `unknown` before `session.started` or `session.ended`; then `ended` when the latest `session.ended` is not
   * earlier than the latest `session.started` (in time, whatever the order they came in: `persist`'s priority
   * lane emits a CRITICAL `session.ended` ahead of the events received before it), else `active`.
   */
  readonly status: 'unknown' | 'active' | 'ended';
  /** Timestamp of the latest `session.started` (in time). */
  readonly startedAt: number | undefined;
  /** Timestamp of the latest `session.ended` (in time). */
  readonly endedAt: number | undefined;
  /** Earliest event timestamp. */
  readonly firstEventTime: number | undefined;
  /** Latest event timestamp. */
  readonly lastEventTime: number | undefined;
  readonly eventCount: number;
  readonly eventTypes: Readonly<Record<string, number>>;
  readonly prompts: number;
  readonly toolUses: number;
  readonly toolFailures: number;
  readonly commits: number;
  /** `test.run` events with `passed: true` / `passed: false` (one that claims neither counts in neither). */
  readonly testRuns: { readonly passed: number; readonly failed: number };
  /** `hook.rejected` events: inputs the bridge could not map. */
  readonly rejected: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Status, time span, counts per type and the headline numbers of a session. */
export const sessionState: StateReducer<SessionState> = builtIn<SessionState>(
  deepFreeze({
    sessionId: undefined,
    status: 'unknown',
    startedAt: undefined,
    endedAt: undefined,
    firstEventTime: undefined,
    lastEventTime: undefined,
    eventCount: 0,
    eventTypes: {},
    prompts: 0,
    toolUses: 0,
    toolFailures: 0,
    commits: 0,
    testRuns: { passed: 0, failed: 0 },
    rejected: 0,
  }),
  (records) => (state, event) => {
    const type = event.type;
    const next: Mutable<SessionState> = {
      ...state,
      sessionId: state.sessionId ?? event.sessionId,
      firstEventTime:
        state.firstEventTime === undefined || event.timestamp < state.firstEventTime
          ? event.timestamp
          : state.firstEventTime,
      lastEventTime: later(state.lastEventTime, event.timestamp),
      eventCount: state.eventCount + 1,
      eventTypes: records.with(state.eventTypes, type, (own(state.eventTypes, type) ?? 0) + 1),
    };
    if (type === 'session.started' || type === 'session.ended') {
      if (type === 'session.started') next.startedAt = later(state.startedAt, event.timestamp);
      else next.endedAt = later(state.endedAt, event.timestamp);
      // An end and a start of the same millisecond: ended (the end may have overtaken the start).
      next.status =
        next.endedAt !== undefined && (next.startedAt === undefined || next.endedAt >= next.startedAt)
          ? 'ended'
          : 'active';
    } else if (type === 'prompt.submitted') next.prompts++;
    else if (type === 'tool.used') next.toolUses++;
    else if (type === 'tool.failed') next.toolFailures++;
    else if (type === 'git.commit') next.commits++;
    else if (type === 'hook.rejected') next.rejected++;
    else if (type === 'test.run') {
      // A run whose outcome is unknown (no `passed`: the bridge's `npm test; echo done`, or `npm test | tail`
      // without the runner's summary) is neither.
      const passed = event.data.passed;
      if (passed === true) next.testRuns = { ...state.testRuns, passed: state.testRuns.passed + 1 };
      else if (passed === false) next.testRuns = { ...state.testRuns, failed: state.testRuns.failed + 1 };
    }
    return next;
  },
);

// ---------------------------------------------------------------------------------------------------

/**
 * Rebuilds a state offline: folds `reducer` over the session's stored events (all of them, in seq order,
 * unless `query` narrows them). Equal to the live `scan(reducer.reduce, reducer.initial)` over the same
 * events.
 *
 * The fold is oldest first, in the query's order (seq order, or (timestamp, seq) order with `types`,
 * `start` or `end`), also with `reverse`: there it only picks which events are folded — with `limit`, the
 * newest `limit` of them (held in memory, then folded oldest first); without, all, as a forward query.
 *
 * With a built-in reducer the fold is linear in the events: as only the last state is returned, the
 * records of the intermediate states (`files`, `agents`, …) are copied once and then updated in place,
 * where `reduce` copies them at every change (O(files) per file event for `fileState`). That is for the
 * built-in `reduce` functions: a reducer with a `reduce` of its own (even spread from a built-in one) is
 * folded with it.
 *
 * @throws ConfigError (as a rejection) for invalid query options, an unknown one included.
 */
export async function reconstruct<S>(
  store: SessionStore,
  sessionId: string,
  reducer: StateReducer<S>,
  givenQuery?: QueryOptions,
): Promise<S> {
  rejectUnknownKeys('reconstruct', givenQuery, QUERY_KEYS);
  // Each field read once (see `readFields`): the reverse that picks the path is the one the query checks.
  const query = readFields(givenQuery, QUERY_KEYS);
  const reduce = inPlaceReduce(reducer) ?? reducer.reduce;
  let state = reducer.initial;
  if (query?.reverse === true) {
    // `reverse` picks the events (with `limit`, the newest ones), not the order of the fold: a reducer
    // folds oldest first, as the live scan did. Without a limit, the same events as a forward query.
    if (query.limit === undefined) {
      for await (const event of store.query(sessionId, { ...query, reverse: false }))
        state = reduce(state, event);
      return state;
    }
    const newestFirst: Event[] = [];
    for await (const event of store.query(sessionId, query)) newestFirst.push(event);
    for (let i = newestFirst.length - 1; i >= 0; i--) state = reduce(state, newestFirst[i]!);
    return state;
  }
  for await (const event of store.query(sessionId, query)) state = reduce(state, event);
  return state;
}

/**
 * @internal For a built-in reducer, a reduce for one fold that owns its intermediate states: the states of
 * `reduce`, with the records this fold made updated in place. `undefined` for any other reducer.
 */
export function inPlaceReduce<S>(reducer: StateReducer<S>): ((state: S, event: Event) => S) | undefined {
  const make = IN_PLACE.get(reducer.reduce) as (() => (state: S, event: Event) => S) | undefined;
  return make?.();
}
