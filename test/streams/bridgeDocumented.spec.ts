/**
 * docs/bridge.md's table of event types, read as a specification and checked on the 133 Claude Code
 * payloads of the fixtures (92 of them real): for each payload, the type and priority of its first event,
 * its `data` — every field the table names, taken from the payload as the table says, and no other — and
 * its `context` (the fields the doc lists, where present, and no other). The expected values are written
 * here from the doc, not from the mapper, so a field the bridge drops, renames or adds fails here.
 * (`bridgeSnapshot.spec.ts` pins the output byte for byte; this says which of it is promised.)
 */
import { describe, expect, it } from 'vitest';
import { type Event, Priority, toEvents } from '../../src/index.js';
import { type FixtureLine, loadFixtures } from '../helpers/fixtures.js';

const T = 1_760_000_000_000;

type Payload = Record<string, unknown>;
type Fields = Record<string, unknown>;

/** The `fields` of `from` that are present, in the doc's order. */
function pick(from: Payload, fields: readonly string[]): Fields {
  const out: Fields = {};
  for (const field of fields) if (from[field] !== undefined) out[field] = from[field];
  return out;
}

function record(value: unknown): Payload | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Payload)
    : undefined;
}

const FILE_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

/**
 * "The tool fields": `tool_name`, `tool_use_id`, `file_path` (`tool_input.file_path`, or `notebook_path`;
 * for Write, Edit, MultiEdit and NotebookEdit, else `path`), `path` (any other `tool_input.path`),
 * `command`, `mcp_server` (the name of the payload's `mcp_server`).
 */
function toolFields(p: Payload): Fields {
  const input = record(p.tool_input) ?? {};
  const out: Fields = { tool_name: p.tool_name };
  if (typeof p.tool_use_id === 'string') out.tool_use_id = p.tool_use_id;
  const file =
    input.file_path ??
    input.notebook_path ??
    (FILE_TOOLS.has(p.tool_name as string) ? input.path : undefined);
  if (typeof file === 'string') out.file_path = file;
  if (typeof input.path === 'string' && input.path !== file) out.path = input.path;
  if (typeof input.command === 'string') out.command = input.command;
  const server = record(p.mcp_server);
  if (typeof server?.name === 'string') out.mcp_server = server.name;
  return out;
}

/** `text` cut to 4,000 characters, then `…` (the fixtures hold no emoji at the cut). */
function cut(text: string): string {
  return text.length <= 4_000 ? text : `${text.slice(0, 4_000)}…`;
}

const URGENT = new Set([
  'permission_prompt',
  'agent_needs_input',
  'elicitation_dialog',
  'elicitation_url_dialog',
]);
const WAITING = [/^Claude needs your permission to use /, /^Claude Code needs your approval for the plan/];

/** What docs/bridge.md says the first event of a payload of `hook` is: type, priority, data. */
function documented(hook: string, p: Payload): { type: string; priority: Priority; data: Fields } {
  const NORMAL = Priority.NORMAL;
  const HIGH = Priority.HIGH;
  switch (hook) {
    case 'PreToolUse': {
      const data = toolFields(p);
      if (p.tool_input !== undefined) data.tool_input = p.tool_input;
      return { type: 'tool.requested', priority: NORMAL, data };
    }
    case 'PostToolUse': {
      const data = toolFields(p);
      const response = record(p.tool_response);
      const duration = p.duration_ms ?? response?.durationMs ?? response?.totalDurationMs;
      if (duration !== undefined) data.duration_ms = duration;
      data.success = true;
      return { type: 'tool.used', priority: NORMAL, data };
    }
    case 'PostToolUseFailure': {
      const data = toolFields(p);
      const error = p.error as string;
      data.error = cut(error);
      const code = /^Exit code (\d+)/.exec(error);
      if (code) data.exit_code = Number(code[1]);
      if (p.is_interrupt === true) data.is_interrupt = true;
      if (p.duration_ms !== undefined) data.duration_ms = p.duration_ms;
      data.success = false;
      return { type: 'tool.failed', priority: HIGH, data };
    }
    case 'PostToolBatch': {
      const calls = p.tool_calls as Payload[];
      return {
        type: 'tool.batch',
        priority: NORMAL,
        data: { tool_count: calls.length, tools: calls.map((call) => call.tool_name) },
      };
    }
    case 'PermissionRequest':
    case 'PermissionDenied':
      return {
        type: hook === 'PermissionRequest' ? 'permission.requested' : 'permission.denied',
        priority: HIGH,
        data: { ...toolFields(p), ...pick(p, ['reason']) },
      };
    case 'UserPromptSubmit': {
      const prompt = p.prompt as string;
      return {
        type: 'prompt.submitted',
        priority: NORMAL,
        data: { prompt: cut(prompt), prompt_length: prompt.length, ...pick(p, ['source', 'session_title']) },
      };
    }
    case 'UserPromptExpansion':
      return {
        type: 'prompt.expanded',
        priority: NORMAL,
        data: pick(p, ['expansion_type', 'command_name', 'command_source']),
      };
    case 'Notification': {
      const kind = p.notification_type as string | undefined;
      const urgent =
        kind !== undefined ? URGENT.has(kind) : WAITING.some((waiting) => waiting.test(p.message as string));
      return {
        type: 'notification',
        priority: urgent ? HIGH : NORMAL,
        data: pick(p, ['message', 'title', 'notification_type']),
      };
    }
    case 'Stop':
      return {
        type: 'session.stopped',
        priority: NORMAL,
        data: pick(p, ['stop_hook_active', 'last_assistant_message']),
      };
    case 'StopFailure':
      return { type: 'session.stop_failed', priority: HIGH, data: pick(p, ['error', 'error_details']) };
    case 'SubagentStart':
    case 'SubagentStop': {
      // `agent`: the agent_type, else the agent_id, else 'subagent' (an empty agent_type, as SubagentStop
      // sends on the main thread, names no agent).
      const agent = (p.agent_type || undefined) ?? p.agent_id ?? 'subagent';
      const data: Fields = { agent, ...pick(p, ['agent_id', 'agent_type']) };
      if (hook === 'SubagentStart') return { type: 'agent.started', priority: NORMAL, data };
      Object.assign(data, pick(p, ['agent_transcript_path', 'stop_hook_active', 'last_assistant_message']));
      return { type: 'agent.completed', priority: NORMAL, data };
    }
    case 'SessionStart':
      return {
        type: 'session.started',
        priority: NORMAL,
        data: pick(p, ['source', 'model', 'agent_type', 'session_title']),
      };
    case 'SessionEnd':
      return { type: 'session.ended', priority: NORMAL, data: pick(p, ['reason']) };
    case 'Setup':
      return { type: 'session.setup', priority: NORMAL, data: pick(p, ['trigger']) };
    case 'PreCompact':
      return {
        type: 'context.compacting',
        priority: NORMAL,
        data: pick(p, ['trigger', 'custom_instructions']),
      };
    case 'PostCompact':
      return { type: 'context.compacted', priority: NORMAL, data: pick(p, ['trigger']) };
    case 'FileChanged': {
      const action = { add: 'created', change: 'modified', unlink: 'deleted' }[p.event as string];
      return {
        type: `file.${action}`,
        priority: NORMAL,
        data: { file_path: p.file_path, source: 'FileChanged' },
      };
    }
    default: {
      const rest = ALL_FIELDS[hook];
      if (rest === undefined) throw new Error(`no row of the table for ${hook}`);
      return { type: rest.type, priority: rest.priority ?? NORMAL, data: pick(p, rest.fields) };
    }
  }
}

const TASK = ['task_id', 'task_subject', 'teammate_name', 'task_description', 'team_name'];
const MODEL_SWITCH = ['from_model', 'to_model', 'source', 'requested_model', 'context_tokens'].concat(
  'prompt_cache_warm',
  'cache_ttl',
  'estimated_cache_write_usd',
  'pricing',
);

/** The last rows of the table: "the event's documented fields, all of them". */
const ALL_FIELDS: Record<string, { type: string; fields: readonly string[]; priority?: Priority }> = {
  InstructionsLoaded: {
    type: 'instructions.loaded',
    fields: ['file_path', 'memory_type', 'load_reason', 'globs', 'trigger_file_path', 'parent_file_path'],
  },
  MessageDisplay: {
    type: 'message.displayed',
    fields: ['turn_id', 'message_id', 'index', 'final', 'delta'],
    priority: Priority.LOW,
  },
  TaskCreated: { type: 'task.created', fields: TASK },
  TaskCompleted: { type: 'task.completed', fields: TASK },
  TeammateIdle: { type: 'teammate.idle', fields: ['teammate_name', 'team_name'] },
  ConfigChange: { type: 'config.changed', fields: ['source', 'file_path'] },
  CwdChanged: { type: 'cwd.changed', fields: ['old_cwd', 'new_cwd'] },
  DirectoryAdded: { type: 'directory.added', fields: ['directory', 'source'] },
  WorktreeCreate: { type: 'worktree.created', fields: ['name'] },
  WorktreeRemove: { type: 'worktree.removed', fields: ['worktree_path'] },
  Elicitation: {
    type: 'elicitation.requested',
    fields: ['mcp_server_name', 'message', 'mode', 'url', 'elicitation_id', 'requested_schema'],
    priority: Priority.HIGH,
  },
  ElicitationResult: {
    type: 'elicitation.resolved',
    fields: ['mcp_server_name', 'action', 'mode', 'elicitation_id', 'content'],
  },
  PreModelSwitch: { type: 'model.switching', fields: MODEL_SWITCH },
  PostModelSwitch: { type: 'model.switched', fields: MODEL_SWITCH },
};

/**
 * The second event of a PostToolUse of a file tool: `Write` → `file.created` (response `type: "create"`) or
 * `file.modified`, with `file_path`, `tool_name`, `size` (bytes of the content); `Edit`, `MultiEdit`,
 * `NotebookEdit` → `file.modified` with `file_path`, `tool_name`, `edits` (how many, for a MultiEdit).
 */
function documentedFileEvent(hook: string, p: Payload): { type: string; data: Fields } | undefined {
  if (hook !== 'PostToolUse' || !FILE_TOOLS.has(p.tool_name as string)) return undefined;
  const file = toolFields(p).file_path;
  if (file === undefined) return undefined;
  const input = record(p.tool_input) ?? {};
  const data: Fields = { file_path: file, tool_name: p.tool_name };
  if (p.tool_name === 'Write') {
    if (typeof input.content === 'string') data.size = Buffer.byteLength(input.content);
    const created = record(p.tool_response)?.type === 'create';
    return { type: created ? 'file.created' : 'file.modified', data };
  }
  if (Array.isArray(input.edits)) data.edits = input.edits.length;
  return { type: 'file.modified', data };
}

/** "`context` holds `hook`, `cwd`, `transcript_path`, `permission_mode`, `agent_id`, `agent_type`, `tool_use_id` where present." */
function documentedContext(hook: string, p: Payload): Fields {
  const context: Fields = { hook };
  for (const field of [
    'cwd',
    'transcript_path',
    'permission_mode',
    'agent_id',
    'agent_type',
    'tool_use_id',
  ]) {
    if (typeof p[field] === 'string') context[field] = p[field];
  }
  return context;
}

const fixtures = loadFixtures();
const isReal = (fixture: FixtureLine) => !fixture.source.startsWith('constructed');

describe("docs/bridge.md's event types, on the fixtures' payloads", () => {
  it.each(fixtures.map((fixture, index) => [index + 1, fixture.hook_event_name, fixture] as const))(
    'line %i (%s): the type, priority, data and context the table gives',
    (_line, hook, { payload }) => {
      const [event, ...more] = toEvents(hook, payload, T);
      const expected = documented(hook, payload);
      expect({ type: event!.type, priority: event!.priority }).toEqual({
        type: expected.type,
        priority: expected.priority,
      });
      // Strict: a field the payload lacks is absent, never undefined ("a field is absent, never undefined").
      expect(event!.data).toStrictEqual(expected.data);
      expect(event!.sessionId).toBe(payload.session_id);
      for (const each of [event!, ...more]) {
        expect(each.context).toStrictEqual(documentedContext(hook, payload));
      }
      // "+ file.created / file.modified" of a PostToolUse of a file tool: the second event.
      const file = documentedFileEvent(hook, payload);
      if (file !== undefined) {
        expect(more[0]).toMatchObject({ type: file.type, priority: Priority.NORMAL });
        expect(more[0]!.data).toStrictEqual(file.data);
      } else if (hook !== 'PostToolUse' && hook !== 'PostToolUseFailure') {
        expect(more).toEqual([]);
      }
    },
  );

  it('checks the file event of a real Write that created a file, one that updated one, an Edit and a MultiEdit', () => {
    const kinds = new Set<string>();
    for (const fixture of fixtures.filter(isReal)) {
      const file = documentedFileEvent(fixture.hook_event_name, fixture.payload);
      if (file !== undefined) kinds.add(`${fixture.payload.tool_name} ${file.type}`);
    }
    expect([...kinds].sort()).toEqual([
      'Edit file.modified',
      'MultiEdit file.modified',
      'Write file.created',
      'Write file.modified',
    ]);
  });

  it('reads every field the table names from at least one payload that has it, real where one is', () => {
    // For each hook, the data fields its first events carried over the fixtures, and those of real payloads.
    const seen = new Map<string, Set<string>>();
    const seenReal = new Map<string, Set<string>>();
    for (const fixture of fixtures) {
      const hook = fixture.hook_event_name;
      const data = documented(hook, fixture.payload).data;
      for (const map of isReal(fixture) ? [seen, seenReal] : [seen]) {
        const set = map.get(hook) ?? new Set<string>();
        for (const field of Object.keys(data)) set.add(field);
        map.set(hook, set);
      }
    }
    const fieldsOf = (hook: string) => [...(seen.get(hook) ?? [])].sort();
    // Each row's fields, as the table lists them; those no fixture has are checked by hand below.
    const tool = ['command', 'file_path', 'path', 'tool_name', 'tool_use_id'];
    expect(fieldsOf('PreToolUse')).toEqual([...tool, 'mcp_server', 'tool_input'].sort());
    expect(fieldsOf('PostToolUse')).toEqual([...tool, 'duration_ms', 'mcp_server', 'success'].sort());
    expect(fieldsOf('PostToolUseFailure')).toEqual(
      ['command', 'duration_ms', 'error', 'exit_code', 'file_path', 'is_interrupt', 'success'].concat(
        'tool_name',
        'tool_use_id',
      ),
    );
    expect(fieldsOf('UserPromptSubmit')).toEqual(['prompt', 'prompt_length', 'session_title', 'source']);
    expect(fieldsOf('Notification')).toEqual(['message', 'notification_type', 'title']);
    expect(fieldsOf('SubagentStop')).toEqual([
      'agent',
      'agent_id',
      'agent_transcript_path',
      'agent_type',
      'last_assistant_message',
      'stop_hook_active',
    ]);
    expect(fieldsOf('SessionStart')).toEqual(['agent_type', 'model', 'session_title', 'source']);
    // Real payloads carry the fields of the tool events, prompts, notifications, agents and sessions.
    const real = (hook: string) => [...(seenReal.get(hook) ?? [])].sort();
    expect(real('PostToolUse')).toEqual([...tool, 'duration_ms', 'success'].sort());
    expect(real('SubagentStop')).toEqual(fieldsOf('SubagentStop'));
    expect(real('Stop')).toEqual(['last_assistant_message', 'stop_hook_active']);
    expect(real('PreCompact')).toEqual(['custom_instructions', 'trigger']);
  });
});

describe("docs/bridge.md's fields that no fixture has", () => {
  const base = { session_id: 's1', transcript_path: '/t.jsonl', cwd: '/repo' };
  const first = (hook: string, fields: Payload): Event => toEvents(hook, { ...base, ...fields }, T)[0]!;

  it("takes a NotebookEdit's notebook_path, or a file tool's tool_input.path, as its file_path", () => {
    const notebook = { notebook_path: '/repo/a.ipynb', new_source: 'x' };
    expect(first('PreToolUse', { tool_name: 'NotebookEdit', tool_input: notebook }).data.file_path).toBe(
      '/repo/a.ipynb',
    );
    const [used, modified] = toEvents(
      'PostToolUse',
      { ...base, tool_name: 'NotebookEdit', tool_input: notebook, tool_response: {} },
      T,
    );
    expect([used!.data.file_path, modified!.type, modified!.data.file_path]).toEqual([
      '/repo/a.ipynb',
      'file.modified',
      '/repo/a.ipynb',
    ]);
    expect(
      first('PreToolUse', { tool_name: 'Write', tool_input: { path: '/repo/b.ts' } }).data,
    ).toMatchObject({
      file_path: '/repo/b.ts',
    });
    expect(first('PreToolUse', { tool_name: 'Write', tool_input: { path: '/repo/b.ts' } }).data.path).toBe(
      undefined,
    );
  });

  it("reads a PostToolUse's duration_ms from tool_response.durationMs, else totalDurationMs", () => {
    const used = (tool_response: unknown, extra: Payload = {}) =>
      first('PostToolUse', { tool_name: 'Glob', tool_input: {}, tool_response, ...extra }).data.duration_ms;
    expect(used({ durationMs: 12 })).toBe(12);
    expect(used({ totalDurationMs: 3400 })).toBe(3400);
    expect(used({ durationMs: 12, totalDurationMs: 3400 })).toBe(12);
    expect(used({ durationMs: 12 }, { duration_ms: 40 })).toBe(40);
    expect(used('a string')).toBe(undefined);
  });

  it('keeps is_interrupt and the exit code of a failed tool, and names the hook in reason', () => {
    const failed = first('PostToolUseFailure', {
      tool_name: 'Bash',
      tool_input: { command: 'sleep 100' },
      error: 'Exit code 130\n^C',
      is_interrupt: true,
    });
    expect(failed.data).toMatchObject({ exit_code: 130, is_interrupt: true, success: false });
    expect(first('PermissionDenied', { tool_name: 'Bash', tool_input: {}, reason: 'no' }).data.reason).toBe(
      'no',
    );
  });

  it('counts the calls of a PostToolBatch, a call without a tool name as unknown, and none without tool_calls', () => {
    expect(first('PostToolBatch', {}).data).toStrictEqual({ tool_count: 0, tools: [] });
    const calls = [null, { tool_name: 'Read' }, { tool_input: {} }, 'Grep'];
    expect(first('PostToolBatch', { tool_calls: calls }).data).toStrictEqual({
      tool_count: 4,
      tools: ['unknown', 'Read', 'unknown', 'unknown'],
    });
  });

  it('leaves out of data and context the fields every fixture has, when a payload lacks them', () => {
    const bare = toEvents('Notification', { session_id: 's1' }, T)[0]!;
    expect([bare.type, bare.data, bare.context]).toStrictEqual([
      'notification',
      {},
      { hook: 'Notification' },
    ]);
    expect(toEvents('SubagentStop', { session_id: 's1' }, T)[0]!.data).toStrictEqual({ agent: 'subagent' });
  });

  it('maps a UserPromptSubmit without a prompt to its prompt.submitted, without prompt or length', () => {
    const event = first('UserPromptSubmit', { source: 'sdk' });
    expect([event.type, event.data]).toStrictEqual(['prompt.submitted', { source: 'sdk' }]);
  });

  it('maps FileChanged add and change to file.created and file.modified', () => {
    expect(first('FileChanged', { file_path: '/repo/.envrc', event: 'add' }).type).toBe('file.created');
    expect(first('FileChanged', { file_path: '/repo/.envrc', event: 'change' }).type).toBe('file.modified');
  });

  it('makes a notification HIGH for agent_needs_input and the elicitation dialogs, NORMAL for the others', () => {
    const priority = (notification_type: string) =>
      first('Notification', { message: 'm', notification_type }).priority;
    expect(
      ['permission_prompt', 'agent_needs_input', 'elicitation_dialog', 'elicitation_url_dialog'].map(
        priority,
      ),
    ).toEqual([Priority.HIGH, Priority.HIGH, Priority.HIGH, Priority.HIGH]);
    expect(
      ['idle_prompt', 'auth_success', 'elicitation_complete', 'elicitation_response', 'agent_completed'].map(
        priority,
      ),
    ).toEqual([Priority.NORMAL, Priority.NORMAL, Priority.NORMAL, Priority.NORMAL, Priority.NORMAL]);
    // Without a notification_type, by the message Claude Code wrote: it starts with the words, not quotes them.
    const old = (message: string) => first('Notification', { message }).priority;
    expect(old('Claude needs your permission to use Bash')).toBe(Priority.HIGH);
    expect(old('Claude Code needs your approval for the plan')).toBe(Priority.HIGH);
    expect(old('Reminder: Claude needs your permission to use Bash')).toBe(Priority.NORMAL);
    expect(old('Claude is waiting for your input')).toBe(Priority.NORMAL);
  });
});

describe("docs/bridge.md's promises around the table", () => {
  const base = { session_id: 's1', transcript_path: '/t.jsonl', cwd: '/repo' };
  const only = (hook: string, fields: Payload): Event => {
    const events = toEvents(hook, { ...base, ...fields }, T);
    expect(events).toHaveLength(1);
    return events[0]!;
  };

  it("names the Claude Code event in context.hook however the output's hook was spelled", () => {
    const glob = { tool_name: 'Glob', tool_input: {}, tool_response: {} };
    expect(only('post-tool-use', glob).context?.hook).toBe('PostToolUse');
    expect(only('post_tool_use', glob).context?.hook).toBe('PostToolUse');
    const logged = only('my-logger', { hook_event_name: 'Stop', stop_hook_active: false });
    expect([logged.type, logged.context?.hook]).toEqual(['session.stopped', 'Stop']);
  });

  it('rejects a payload missing a required field, or with it empty or not a string, naming the field and what it got', () => {
    const reason = (hook: string, fields: Payload) => {
      const event = toEvents(hook, fields, T)[0]!;
      expect(event.type).toBe('hook.rejected');
      return event.data.reason;
    };
    expect(reason('Stop', { transcript_path: '/t.jsonl' })).toBe('missing required field "session_id"');
    expect(reason('Stop', { ...base, session_id: '' })).toBe(
      `field "session_id" must be a non-empty string, got ''`,
    );
    expect(reason('Stop', { ...base, session_id: null })).toBe(
      'field "session_id" must be a non-empty string, got null',
    );
    for (const hook of [
      'PreToolUse',
      'PostToolUse',
      'PostToolUseFailure',
      'PermissionRequest',
      'PermissionDenied',
    ]) {
      expect(reason(hook, base), hook).toBe('missing required field "tool_name"');
      expect(reason(hook, { ...base, tool_name: 3 }), hook).toBe(
        'field "tool_name" must be a non-empty string, got number',
      );
    }
    expect(reason('FileChanged', { ...base, event: 'add' })).toBe('missing required field "file_path"');
    expect(reason('FileChanged', { ...base, file_path: '' })).toBe(
      `field "file_path" must be a non-empty string, got ''`,
    );
  });

  it('maps a FileChanged whose event is missing or unknown to file.modified', () => {
    expect(only('FileChanged', { file_path: '/repo/a' }).type).toBe('file.modified');
    expect(only('FileChanged', { file_path: '/repo/a', event: 'rename' }).type).toBe('file.modified');
  });

  it("names a subagent by its agent_type unless empty, else its agent_id, else 'subagent'", () => {
    const agent = (fields: Payload) => only('SubagentStop', fields).data.agent;
    expect(agent({ agent_type: 'Explore', agent_id: 'a1' })).toBe('Explore');
    expect(agent({ agent_type: '', agent_id: 'a1' })).toBe('a1');
    expect(agent({ agent_type: '' })).toBe('subagent');
    expect(agent({})).toBe('subagent');
    expect(only('SubagentStart', { agent_id: 'a2' }).data.agent).toBe('a2');
  });

  it("keeps an MCP tool's server name in each tool event, and no payload field outside the table in context", () => {
    const mcp = {
      tool_name: 'mcp__linear__x',
      tool_input: {},
      mcp_server: { name: 'linear', source: 'plugin' },
    };
    expect(only('PreToolUse', mcp).data.mcp_server).toBe('linear');
    expect(only('PostToolUse', { ...mcp, tool_response: [] }).data.mcp_server).toBe('linear');
    expect(only('PostToolUseFailure', { ...mcp, error: 'boom' }).data.mcp_server).toBe('linear');
    expect(only('PermissionRequest', mcp).data.mcp_server).toBe('linear');
    const context = only('Stop', {
      effort: { level: 'high' },
      prompt_id: 'p',
      model: 'm',
      permission_mode: 'auto',
    }).context;
    expect(context).toEqual({
      hook: 'Stop',
      cwd: '/repo',
      transcript_path: '/t.jsonl',
      permission_mode: 'auto',
    });
  });
});
