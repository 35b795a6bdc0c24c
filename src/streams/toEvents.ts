/**
 * The hook bridge's pure mapping: one hook payload → one or more `Event`s.
 * See `docs/bridge.md` for the table of hooks and the events each becomes.
 */
import { ConfigError } from '../errors.js';
import { createEvent, type Event, Priority } from '../event.js';
import { checkPayload, DEFAULT_LIMITS, isRecord, type PayloadLimits, previewJson } from './payload.js';

/** One output of one hook run, as sources emit it and `bridgeHooks` consumes it. */
export interface HookOutput {
  /** The hook's name: a Claude Code event (`PostToolUse`), a seed hook (`file-watcher`), or your own. */
  hook: string;
  /** What the hook produced (for Claude Code, the JSON payload it sends on stdin). */
  output: unknown;
  /** Event time in ms since epoch. When absent, the bridge stamps the time it saw the output. */
  timestamp?: number;
  /** Set by a source that could not parse the input (then `output` is the raw text): it is rejected. */
  error?: string;
}

/** Options of `toEvents`, `bridgeHooks` and `createHookBridge`. */
export interface BridgeOptions extends Partial<PayloadLimits> {}

/** `data` of a `hook.rejected` event. */
export interface RejectedHookData extends Record<string, unknown> {
  hook: string;
  reason: string;
  /** The raw input as JSON text (or the raw line), cut to `maxRawLength` characters. */
  raw: string;
  raw_truncated: boolean;
}

type Mapper = (payload: Record<string, unknown>, ctx: MapContext) => Event[];

interface MapContext {
  hook: string;
  timestamp: number;
  sessionId: string | undefined;
  context: Record<string, unknown>;
}

class RejectError {
  constructor(readonly reason: string) {}
}

// ---------------------------------------------------------------------------------------------------
// Small readers that never throw on a wrong shape.

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function rec(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function requireString(payload: Record<string, unknown>, field: string): string {
  const value = payload[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new RejectError(
      value === undefined
        ? `missing required field "${field}"`
        : `field "${field}" must be a non-empty string, got ${value === null ? 'null' : typeof value}`,
    );
  }
  return value;
}

/** Copies the defined entries of `fields` into a fresh object (JSON round trips drop undefined anyway). */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in fields) {
    if (fields[key] !== undefined) out[key] = fields[key];
  }
  return out;
}

function make(
  ctx: MapContext,
  type: string,
  data: Record<string, unknown>,
  priority: Priority = Priority.NORMAL,
) {
  return createEvent({
    type,
    data: defined(data),
    priority,
    timestamp: ctx.timestamp,
    context: ctx.context,
    ...(ctx.sessionId === undefined ? {} : { sessionId: ctx.sessionId }),
  });
}

// ---------------------------------------------------------------------------------------------------
// Claude Code hooks.

const GIT_COMMIT = /\bgit\s+(?:-[cC]\s+\S+\s+|--?[\w-]+(?:=\S+)?\s+)*commit\b/;
const COMMIT_MESSAGE = /\s(?:-m|--message)(?:\s+|=)(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/;
const COMMIT_SUMMARY = /^\[([^\]\s]+)(?: \(root-commit\))? ([0-9a-f]{7,40})\] (.*)$/m;
const TEST_COMMAND =
  /\b(?:(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?test\b|npx\s+(?:vitest|jest|mocha)\b|vitest\b|jest\b|pytest\b|mocha\b|go\s+test\b|cargo\s+test\b|make\s+test\b|python3?\s+-m\s+(?:pytest|unittest)\b|rspec\b|phpunit\b|mvn\s+test\b|gradle\w*\s+test\b|dotnet\s+test\b)/;
// Listing or describing tests is not running them.
const NOT_A_TEST_RUN = /\s(?:--collect-only|--co|--list(?:-tests)?|--listTests|--help|-h)(?:\s|$)/;
const EXIT_CODE = /^Exit code (\d+)/;
const FILE_TOOLS_MODIFY = new Set(['Edit', 'MultiEdit', 'NotebookEdit']);

function filePathOf(input: Record<string, unknown> | undefined): string | undefined {
  if (!input) return undefined;
  return str(input.file_path) ?? str(input.notebook_path) ?? str(input.path);
}

function toolFields(payload: Record<string, unknown>) {
  const input = rec(payload.tool_input);
  return {
    tool_name: str(payload.tool_name),
    tool_use_id: str(payload.tool_use_id),
    file_path: filePathOf(input),
    command: str(input?.command),
    mcp_server: rec(payload.mcp_server)
      ? str((payload.mcp_server as Record<string, unknown>).name)
      : undefined,
  };
}

function durationOf(payload: Record<string, unknown>): number | undefined {
  const response = rec(payload.tool_response);
  return num(payload.duration_ms) ?? num(response?.durationMs) ?? num(response?.totalDurationMs);
}

function isTestCommand(command: string | undefined): command is string {
  return command !== undefined && TEST_COMMAND.test(command) && !NOT_A_TEST_RUN.test(command);
}

const preToolUse: Mapper = (p, ctx) => {
  requireString(p, 'tool_name');
  return [make(ctx, 'tool.requested', { ...toolFields(p), tool_input: p.tool_input })];
};

const postToolUse: Mapper = (p, ctx) => {
  const toolName = requireString(p, 'tool_name');
  const fields = toolFields(p);
  const response = p.tool_response;
  const events = [make(ctx, 'tool.used', { ...fields, duration_ms: durationOf(p), success: true })];
  const input = rec(p.tool_input);
  if (toolName === 'Write' && fields.file_path !== undefined) {
    const content = str(input?.content);
    const created = rec(response)?.type === 'create';
    events.push(
      make(ctx, created ? 'file.created' : 'file.modified', {
        file_path: fields.file_path,
        tool_name: toolName,
        size: content === undefined ? undefined : Buffer.byteLength(content),
      }),
    );
  } else if (FILE_TOOLS_MODIFY.has(toolName) && fields.file_path !== undefined) {
    const edits = Array.isArray(input?.edits) ? (input.edits as unknown[]).length : undefined;
    events.push(make(ctx, 'file.modified', { file_path: fields.file_path, tool_name: toolName, edits }));
  } else if (toolName === 'Bash' && fields.command !== undefined) {
    const stdout = str(rec(response)?.stdout) ?? str(response) ?? '';
    if (GIT_COMMIT.test(fields.command)) {
      const message = COMMIT_MESSAGE.exec(fields.command);
      const summary = COMMIT_SUMMARY.exec(stdout);
      events.push(
        make(ctx, 'git.commit', {
          command: fields.command,
          message: message ? (message[1] ?? message[2] ?? message[3]) : summary?.[3],
          branch: summary?.[1],
          commit: summary?.[2],
        }),
      );
    }
    if (isTestCommand(fields.command)) {
      events.push(make(ctx, 'test.run', { command: fields.command, passed: true, exit_code: 0 }));
    }
  }
  return events;
};

const postToolUseFailure: Mapper = (p, ctx) => {
  requireString(p, 'tool_name');
  const fields = toolFields(p);
  const error = str(p.error) ?? (p.error === undefined ? undefined : previewJson(p.error, 2_000).text);
  const exit = error === undefined ? null : EXIT_CODE.exec(error);
  const exitCode = exit ? Number(exit[1]) : undefined;
  const events = [
    make(
      ctx,
      'tool.failed',
      {
        ...fields,
        error: error !== undefined && error.length > 4_000 ? `${error.slice(0, 4_000)}…` : error,
        exit_code: exitCode,
        is_interrupt: p.is_interrupt === true ? true : undefined,
        duration_ms: num(p.duration_ms),
        success: false,
      },
      Priority.HIGH,
    ),
  ];
  if (fields.tool_name === 'Bash' && isTestCommand(fields.command)) {
    events.push(
      make(ctx, 'test.run', {
        command: fields.command,
        passed: false,
        exit_code: exitCode,
        interrupted: p.is_interrupt === true ? true : undefined,
      }),
    );
  }
  return events;
};

const postToolBatch: Mapper = (p, ctx) => {
  const calls = Array.isArray(p.tool_calls) ? p.tool_calls : [];
  const tools = calls.map((call) => str(rec(call)?.tool_name) ?? 'unknown');
  return [make(ctx, 'tool.batch', { tool_count: calls.length, tools })];
};

const permission =
  (type: string): Mapper =>
  (p, ctx) => {
    requireString(p, 'tool_name');
    return [make(ctx, type, { ...toolFields(p), reason: str(p.reason) }, Priority.HIGH)];
  };

const simple =
  (type: string, fields: readonly string[], priority: Priority = Priority.NORMAL): Mapper =>
  (p, ctx) => {
    const data: Record<string, unknown> = {};
    for (const field of fields) data[field] = p[field];
    return [make(ctx, type, data, priority)];
  };

const userPromptSubmit: Mapper = (p, ctx) => {
  const prompt = str(p.prompt);
  return [
    make(ctx, 'prompt.submitted', {
      prompt: prompt !== undefined && prompt.length > 4_000 ? `${prompt.slice(0, 4_000)}…` : prompt,
      prompt_length: prompt?.length,
      source: str(p.source),
      session_title: str(p.session_title),
    }),
  ];
};

const URGENT_NOTIFICATIONS = new Set(['permission_prompt', 'agent_needs_input', 'elicitation_dialog']);
const notification: Mapper = (p, ctx) => {
  const kind = str(p.notification_type);
  return [
    make(
      ctx,
      'notification',
      { message: str(p.message), title: str(p.title), notification_type: kind },
      kind !== undefined && URGENT_NOTIFICATIONS.has(kind) ? Priority.HIGH : Priority.NORMAL,
    ),
  ];
};

const subagentStop: Mapper = (p, ctx) => {
  const agentType = str(p.agent_type);
  const agentId = str(p.agent_id);
  return [
    make(ctx, 'agent.completed', {
      agent: agentType !== undefined && agentType !== '' ? agentType : (agentId ?? 'subagent'),
      agent_id: agentId,
      agent_type: agentType,
      agent_transcript_path: str(p.agent_transcript_path),
      stop_hook_active: p.stop_hook_active,
      last_assistant_message: str(p.last_assistant_message),
    }),
  ];
};

const subagentStart: Mapper = (p, ctx) => {
  const agentType = str(p.agent_type);
  const agentId = str(p.agent_id);
  return [
    make(ctx, 'agent.started', {
      agent: agentType !== undefined && agentType !== '' ? agentType : (agentId ?? 'subagent'),
      agent_id: agentId,
      agent_type: agentType,
    }),
  ];
};

const FILE_CHANGED_ACTIONS: Record<string, string> = {
  add: 'created',
  change: 'modified',
  unlink: 'deleted',
};
const fileChanged: Mapper = (p, ctx) => {
  const path = requireString(p, 'file_path');
  const action = FILE_CHANGED_ACTIONS[str(p.event) ?? 'change'] ?? 'modified';
  return [make(ctx, `file.${action}`, { file_path: path, source: 'FileChanged' })];
};

/** Claude Code hook events, keyed by `hook_event_name`. */
const CLAUDE_HOOKS: Record<string, Mapper> = {
  PreToolUse: preToolUse,
  PostToolUse: postToolUse,
  PostToolUseFailure: postToolUseFailure,
  PostToolBatch: postToolBatch,
  PermissionRequest: permission('permission.requested'),
  PermissionDenied: permission('permission.denied'),
  UserPromptSubmit: userPromptSubmit,
  UserPromptExpansion: simple('prompt.expanded', ['expansion_type', 'command_name', 'command_source']),
  Notification: notification,
  Stop: simple('session.stopped', ['stop_hook_active', 'last_assistant_message']),
  StopFailure: simple('session.stop_failed', ['error', 'error_details'], Priority.HIGH),
  SubagentStart: subagentStart,
  SubagentStop: subagentStop,
  PreCompact: simple('context.compacting', ['trigger', 'custom_instructions']),
  PostCompact: simple('context.compacted', ['trigger']),
  SessionStart: simple('session.started', ['source', 'model', 'agent_type', 'session_title']),
  SessionEnd: simple('session.ended', ['reason']),
  Setup: simple('session.setup', ['trigger']),
  InstructionsLoaded: simple('instructions.loaded', ['file_path', 'memory_type', 'load_reason']),
  MessageDisplay: simple('message.displayed', ['turn_id', 'message_id', 'index', 'final'], Priority.LOW),
  TaskCreated: simple('task.created', ['task_id', 'task_subject', 'teammate_name']),
  TaskCompleted: simple('task.completed', ['task_id', 'task_subject', 'teammate_name']),
  TeammateIdle: simple('teammate.idle', ['teammate_name']),
  ConfigChange: simple('config.changed', ['source', 'file_path']),
  CwdChanged: simple('cwd.changed', ['old_cwd', 'new_cwd']),
  DirectoryAdded: simple('directory.added', ['directory', 'source']),
  FileChanged: fileChanged,
  WorktreeCreate: simple('worktree.created', ['name']),
  WorktreeRemove: simple('worktree.removed', ['worktree_path']),
  Elicitation: simple('elicitation.requested', ['mcp_server_name', 'message', 'mode', 'url'], Priority.HIGH),
  ElicitationResult: simple('elicitation.resolved', ['mcp_server_name', 'action', 'mode']),
  PreModelSwitch: simple('model.switching', ['from_model', 'to_model', 'source']),
  PostModelSwitch: simple('model.switched', ['from_model', 'to_model', 'source']),
};

function claudeContext(hook: string, p: Record<string, unknown>): Record<string, unknown> {
  return defined({
    hook,
    cwd: str(p.cwd),
    transcript_path: str(p.transcript_path),
    permission_mode: str(p.permission_mode),
    agent_id: str(p.agent_id),
    agent_type: str(p.agent_type),
    tool_use_id: str(p.tool_use_id),
  });
}

function claude(eventName: string, mapper: Mapper): Mapper {
  return (p, ctx) => {
    const sessionId = requireString(p, 'session_id');
    return mapper(p, { ...ctx, sessionId, context: claudeContext(eventName, p) });
  };
}

// ---------------------------------------------------------------------------------------------------
// The seed's own hooks.

const FILE_ACTIONS: Record<string, string> = {
  create: 'created',
  created: 'created',
  add: 'created',
  added: 'created',
  modify: 'modified',
  modified: 'modified',
  change: 'modified',
  changed: 'modified',
  update: 'modified',
  updated: 'modified',
  delete: 'deleted',
  deleted: 'deleted',
  unlink: 'deleted',
  remove: 'deleted',
  removed: 'deleted',
  rename: 'renamed',
  renamed: 'renamed',
};

const fileWatcher: Mapper = (p, ctx) => {
  if (!Array.isArray(p.changes)) throw new RejectError('missing required field "changes" (an array)');
  const events: Event[] = [];
  p.changes.forEach((change, index) => {
    const c = rec(change);
    const path = str(c?.path) ?? str(c?.file_path);
    const action = str(c?.action);
    if (!c || path === undefined || path === '' || action === undefined) {
      events.push(rejected(ctx, `changes[${index}] needs a "path" and an "action"`, change, DEFAULT_LIMITS));
      return;
    }
    const normalized = FILE_ACTIONS[action.toLowerCase()] ?? action.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    events.push(
      make(ctx, `file.${normalized}`, {
        file_path: path,
        file_type: str(c.type) ?? extensionOf(path),
        size: num(c.size),
        previous_path: str(c.from) ?? str(c.old_path),
        source: 'file-watcher',
      }),
    );
  });
  return events;
};

function extensionOf(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : 'unknown';
}

const preCommit: Mapper = (p, ctx) => {
  const files = Array.isArray(p.files) ? p.files : Array.isArray(p.staged_files) ? p.staged_files : undefined;
  const checks = Array.isArray(p.checks) ? p.checks : undefined;
  const exitCode = num(p.exit_code);
  const passed =
    typeof p.passed === 'boolean'
      ? p.passed
      : exitCode !== undefined
        ? exitCode === 0
        : checks !== undefined
          ? checks.every((check) => rec(check)?.passed !== false)
          : true;
  return [
    make(
      ctx,
      'git.pre_commit',
      { files, checks, passed, exit_code: exitCode, message: str(p.message) },
      passed ? Priority.NORMAL : Priority.HIGH,
    ),
  ];
};

function withSession(mapper: Mapper): Mapper {
  return (p, ctx) =>
    mapper(p, { ...ctx, sessionId: str(p.session_id) || undefined, context: { hook: ctx.hook } });
}

const SEED_HOOKS: Record<string, Mapper> = {
  filewatcher: withSession(fileWatcher),
  precommit: withSession(preCommit),
};

/** Lower-cased, punctuation-free hook names: `post-tool-use`, `PostToolUse`, `sub-agent-stop` all match. */
const BY_NORMALIZED_NAME = new Map<string, Mapper>();
for (const [name, mapper] of Object.entries(CLAUDE_HOOKS)) {
  BY_NORMALIZED_NAME.set(normalizeName(name), claude(name, mapper));
}
for (const [name, mapper] of Object.entries(SEED_HOOKS)) BY_NORMALIZED_NAME.set(name, mapper);

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_\s.]/g, '');
}

/** Hook names the bridge maps to specific event types (others become `hook.<name>`). */
export const KNOWN_HOOKS: readonly string[] = [...Object.keys(CLAUDE_HOOKS), 'file-watcher', 'pre-commit'];

const unknownHook: Mapper = (p, ctx) => {
  const name = ctx.hook.trim() === '' ? 'unknown' : ctx.hook.trim();
  return [
    make(
      { ...ctx, sessionId: str(p.session_id) || undefined, context: { hook: ctx.hook } },
      `hook.${name}`,
      p,
    ),
  ];
};

// ---------------------------------------------------------------------------------------------------

function rejected(
  ctx: Pick<MapContext, 'hook' | 'timestamp' | 'sessionId'>,
  reason: string,
  raw: unknown,
  limits: PayloadLimits,
): Event {
  const preview = previewJson(raw, limits.maxRawLength);
  return createEvent<RejectedHookData>({
    type: 'hook.rejected',
    priority: Priority.HIGH,
    timestamp: ctx.timestamp,
    data: { hook: ctx.hook, reason, raw: preview.text, raw_truncated: preview.truncated },
    context: { hook: ctx.hook },
    ...(ctx.sessionId === undefined ? {} : { sessionId: ctx.sessionId }),
  });
}

function resolveLimits(options: BridgeOptions | undefined): PayloadLimits {
  if (options === undefined) return DEFAULT_LIMITS;
  return {
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_LIMITS.maxPayloadBytes,
    maxDepth: options.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxRawLength: options.maxRawLength ?? DEFAULT_LIMITS.maxRawLength,
  };
}

/** @internal Resolved limits for a bridge, validated once at construction. */
export function bridgeLimits(options: BridgeOptions | undefined): PayloadLimits {
  const limits = resolveLimits(options);
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new ConfigError(`bridge option ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  return limits;
}

/**
 * @internal `toEvents` with the limits already resolved, for any input at all: never throws, even on
 * objects whose getters throw.
 */
export function mapHookOutput(input: unknown, limits: PayloadLimits, now: number): Event[] {
  try {
    return unpackHookOutput(input, limits, now);
  } catch (error) {
    const hook = 'unknown';
    let why: string;
    try {
      why = String(error);
    } catch {
      why = 'unprintable error'; // thrown by a hostile getter, itself hostile
    }
    return [
      rejected({ hook, timestamp: now, sessionId: undefined }, `unreadable input: ${why}`, input, limits),
    ];
  }
}

function unpackHookOutput(input: unknown, limits: PayloadLimits, now: number): Event[] {
  if (!isRecord(input) || typeof input.hook !== 'string') {
    return [
      rejected(
        { hook: 'unknown', timestamp: now, sessionId: undefined },
        'input is not a HookOutput ({ hook: string, output })',
        input,
        limits,
      ),
    ];
  }
  const hook = input.hook;
  const timestamp =
    typeof input.timestamp === 'number' && Number.isFinite(input.timestamp) && input.timestamp >= 0
      ? input.timestamp
      : now;
  const base = { hook, timestamp, sessionId: undefined };
  if (typeof input.error === 'string') return [rejected(base, input.error, input.output, limits)];
  return mapPayload(hook, input.output, timestamp, limits);
}

function mapPayload(hook: string, output: unknown, timestamp: number, limits: PayloadLimits): Event[] {
  const base = { hook, timestamp, sessionId: undefined };
  if (!isRecord(output)) {
    const kind = output === null ? 'null' : Array.isArray(output) ? 'an array' : `a ${typeof output}`;
    return [rejected(base, `hook output must be a JSON object, got ${kind}`, output, limits)];
  }
  const problem = checkPayload(output, limits);
  if (problem !== undefined) {
    return [
      rejected(
        { ...base, sessionId: str(output.session_id) || undefined },
        `payload ${problem}`,
        output,
        limits,
      ),
    ];
  }
  let mapper = BY_NORMALIZED_NAME.get(normalizeName(hook));
  if (mapper === undefined) {
    // The transport's name is unknown, but the payload says which Claude Code event it is.
    const eventName = str(output.hook_event_name);
    mapper = eventName === undefined ? undefined : BY_NORMALIZED_NAME.get(normalizeName(eventName));
  }
  const ctx: MapContext = { hook, timestamp, sessionId: undefined, context: { hook } };
  try {
    const events = (mapper ?? unknownHook)(output, ctx);
    // Never silence: a known hook whose output held nothing to map still leaves a trace.
    return events.length > 0 ? events : unknownHook(output, ctx);
  } catch (error) {
    const reason =
      error instanceof RejectError ? error.reason : `mapping failed: ${(error as Error)?.message}`;
    return [rejected({ ...base, sessionId: str(output.session_id) || undefined }, reason, output, limits)];
  }
}

/**
 * Maps one hook output to events. Pure apart from the fresh ids; never throws and never returns an
 * empty array: input it cannot map becomes one `hook.rejected` event (priority HIGH) carrying the hook
 * name, the reason and the raw input (cut to `maxRawLength` characters).
 *
 * - Claude Code payloads (keyed by the hook name, or by `hook_event_name` when the name is not one of
 *   them; `PostToolUse`, `post-tool-use` and `post_tool_use` are the same hook) become `tool.*`, `file.*`,
 *   `git.commit`, `test.run`, `agent.*`, `prompt.*`, `session.*`, `notification` … events, with
 *   `session_id` as `sessionId`.
 * - The seed's `file-watcher` (`{ changes: [{ action, path, type?, size? }] }`) and `pre-commit` hooks.
 * - Any other hook becomes `hook.<name>` with the payload as its data.
 *
 * @param hookName the hook that produced `output`.
 * @param output the hook's output (for Claude Code, the stdin payload).
 * @param timestamp event time; defaults to `Date.now()`.
 */
export function toEvents(
  hookName: string,
  output: unknown,
  timestamp?: number,
  options?: BridgeOptions,
): Event[] {
  const limits = bridgeLimits(options);
  return mapHookOutput({ hook: hookName, output, timestamp }, limits, Date.now());
}
