/**
 * Pins the bridge's exact output: every event `toEvents` / `bridgeHooks` makes for the 133 real Claude
 * Code payloads, `demo/sessions.jsonl`, a sample of the benchmark's payload generator and hand-made edge
 * cases, as JSON text — so field order, absent vs undefined fields, priorities, contexts and rejection
 * reasons are all compared byte for byte. Only the random part (the event `id`) is normalised;
 * timestamps are fixed.
 *
 * The pinned text is `test/fixtures/bridge-output.snapshot.jsonl`, one line per input. After an
 * intended change of the mapping, rewrite it with
 * `UPDATE_BRIDGE_SNAPSHOT=1 npx vitest run test/streams/bridgeSnapshot.spec.ts` and review the diff.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, type SchedulerLike, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { makePayloads } from '../../bench/payloads.js';
import { bridgeHooks, type Event, fromJsonLines, type HookOutput, toEvents } from '../../src/index.js';
import { loadFixtures } from '../helpers/fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const SNAPSHOT_PATH = join(here, '../fixtures/bridge-output.snapshot.jsonl');
const DEMO_PATH = join(here, '../../demo/sessions.jsonl');
const T = 1_760_000_000_000;
const NOW = 1_790_000_000_000;
const SESSION = '7f3c2a91-5d0e-4b8a-9c61-2e4f8d1b0a37';
const ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** A scheduler whose clock stands still: the bridge only reads `now()`. */
const frozen = { now: () => NOW, schedule: () => ({ unsubscribe() {} }) } as unknown as SchedulerLike;

function claude(hook: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { session_id: SESSION, transcript_path: '/t.jsonl', cwd: '/repo', hook_event_name: hook, ...fields };
}

/** Every field of every Claude Code hook the bridge reads, plus context fields and an undefined one. */
const FULL = {
  permission_mode: 'default',
  agent_id: 'agent-1',
  agent_type: 'Explore',
  tool_use_id: 'toolu_01',
  tool_name: 'Bash',
  tool_input: { command: 'npm test', description: 'run tests' },
  tool_response: { stdout: 'ok', durationMs: 12 },
  mcp_server: { name: 'github' },
  duration_ms: 40,
  reason: 'because',
  prompt: 'hello',
  source: 'startup',
  session_title: 'A title',
  expansion_type: 'slash',
  command_name: '/review',
  command_source: 'user',
  message: 'a message',
  title: 'a title',
  notification_type: 'permission_prompt',
  stop_hook_active: false,
  last_assistant_message: 'done',
  error: 'Exit code 1\nboom',
  error_details: { code: 'x' },
  agent_transcript_path: '/a.jsonl',
  trigger: 'manual',
  custom_instructions: 'keep it short',
  model: 'claude-opus-4-7',
  file_path: '/repo/a.ts',
  memory_type: 'Project',
  load_reason: 'session_start',
  globs: ['src/**/*.ts'],
  trigger_file_path: '/repo/src/a.ts',
  parent_file_path: '/repo/CLAUDE.md',
  turn_id: 't1',
  message_id: 'm1',
  index: 3,
  final: true,
  delta: 'Hel',
  task_id: 'task-1',
  task_subject: 'Do it',
  task_description: 'All of it',
  teammate_name: 'bob',
  team_name: 'core',
  old_cwd: '/a',
  new_cwd: '/b',
  directory: '/d',
  event: 'unlink',
  name: 'wt',
  worktree_path: '/wt',
  mcp_server_name: 'github',
  mode: 'form',
  url: 'https://example.com',
  action: 'accept',
  elicitation_id: 'e1',
  requested_schema: { type: 'object' },
  content: { username: 'u' },
  from_model: 'a',
  to_model: 'b',
  requested_model: 'sonnet',
  context_tokens: 84211,
  prompt_cache_warm: true,
  cache_ttl: '5m',
  estimated_cache_write_usd: 0.3158,
  pricing: 'catalog',
  tool_calls: [{ tool_name: 'Read' }, { tool_name: 7 }, null],
  is_interrupt: true,
  not_read: undefined,
};

const CLAUDE_HOOK_NAMES = [
  'PreToolUse',
  'PostToolUse',
  'PostToolUseFailure',
  'PostToolBatch',
  'PermissionRequest',
  'PermissionDenied',
  'UserPromptSubmit',
  'UserPromptExpansion',
  'Notification',
  'Stop',
  'StopFailure',
  'SubagentStart',
  'SubagentStop',
  'PreCompact',
  'PostCompact',
  'SessionStart',
  'SessionEnd',
  'Setup',
  'InstructionsLoaded',
  'MessageDisplay',
  'TaskCreated',
  'TaskCompleted',
  'TeammateIdle',
  'ConfigChange',
  'CwdChanged',
  'DirectoryAdded',
  'FileChanged',
  'WorktreeCreate',
  'WorktreeRemove',
  'Elicitation',
  'ElicitationResult',
  'PreModelSwitch',
  'PostModelSwitch',
];

function post(tool: string, input: unknown, response?: unknown, extra: Record<string, unknown> = {}) {
  return claude('PostToolUse', { tool_name: tool, tool_input: input, tool_response: response, ...extra });
}

function failure(tool: string, input: unknown, error: unknown, extra: Record<string, unknown> = {}) {
  return claude('PostToolUseFailure', { tool_name: tool, tool_input: input, error, ...extra });
}

/** Hand-made inputs for `bridgeHooks`, each with a stable label. */
function edgeCases(): Array<[string, unknown]> {
  const cases: Array<[string, unknown]> = [];
  const add = (label: string, input: unknown) => cases.push([label, input]);
  const hook = (label: string, name: string, output: unknown) =>
    add(label, { hook: name, output, timestamp: T });

  for (const name of CLAUDE_HOOK_NAMES) {
    hook(`${name} minimal`, name, claude(name));
    hook(`${name} full`, name, claude(name, FULL));
    hook(`${name} wrong types`, name, {
      session_id: SESSION,
      hook_event_name: name,
      cwd: 7,
      transcript_path: null,
      tool_name: 'Read',
      tool_input: 'not an object',
      tool_response: [1],
      mcp_server: 'github',
      duration_ms: '40',
      prompt: 42,
      agent_type: '',
      agent_id: 9,
      file_path: 'x.ts',
      error: { nested: ['not', 'a', 'string'] },
      reason: undefined,
      source: undefined,
      trigger: null,
      tool_calls: 'nope',
      notification_type: 'idle_prompt',
      event: 'rename',
    });
    hook(`${name} without session`, name, { hook_event_name: name, tool_name: 'Read', file_path: 'x' });
  }
  // PostToolUse by tool.
  hook(
    'Write create',
    'PostToolUse',
    post('Write', { file_path: '/r/a.ts', content: 'héllo' }, { type: 'create' }),
  );
  hook(
    'Write update',
    'PostToolUse',
    post('Write', { file_path: '/r/a.ts', content: 'x' }, { type: 'update' }),
  );
  hook('Write no content', 'PostToolUse', post('Write', { file_path: '/r/a.ts' }));
  hook('Write no path', 'PostToolUse', post('Write', { content: 'x' }, { type: 'create' }));
  hook('Edit', 'PostToolUse', post('Edit', { file_path: '/r/a.ts', old_string: 'a', new_string: 'b' }));
  hook('MultiEdit', 'PostToolUse', post('MultiEdit', { file_path: '/r/a.ts', edits: [{}, {}, {}] }));
  hook('MultiEdit edits not array', 'PostToolUse', post('MultiEdit', { file_path: '/r/a.ts', edits: {} }));
  hook('NotebookEdit', 'PostToolUse', post('NotebookEdit', { notebook_path: '/r/n.ipynb' }));
  hook('Edit via path', 'PostToolUse', post('Edit', { path: '/r/p.ts' }));
  hook('Edit no path', 'PostToolUse', post('Edit', { old_string: 'a' }));
  hook('Read', 'PostToolUse', post('Read', { file_path: '/r/a.ts' }, { file: { content: 'x' } }));
  hook('mcp tool', 'PostToolUse', post('mcp__github__get', {}, {}, { mcp_server: { name: 'github' } }));
  hook('mcp server no name', 'PostToolUse', post('mcp__x', {}, {}, { mcp_server: { id: 1 } }));
  hook('duration from response', 'PostToolUse', post('Grep', {}, { durationMs: 5, totalDurationMs: 9 }));
  hook('duration total', 'PostToolUse', post('Task', {}, { totalDurationMs: 9 }));
  hook('duration on payload', 'PostToolUse', post('Task', {}, { durationMs: 5 }, { duration_ms: 3 }));
  hook('duration string', 'PostToolUse', post('Task', {}, { durationMs: '5' }));
  const bash = (label: string, command: string, response: unknown) =>
    hook(label, 'PostToolUse', post('Bash', { command }, response));
  bash('git commit -m', 'git commit -m "fix: a \\"quoted\\" thing"', {
    stdout: '[main 1a2b3c4] fix: a thing\n 1 file changed',
  });
  bash('git commit single quote', "git -C /r commit -am 'feat: x'", { stdout: '' });
  bash('git commit --message=', 'git commit --message=wip', 'raw stdout string');
  bash('git commit no message', 'git commit', { stdout: '[feature/x (root-commit) abcdef1234] first\n' });
  bash('git commit no summary', 'git commit --amend --no-edit', {});
  bash('git commit && test', 'git commit -m wip && npm test', { stdout: '[dev 0123456] wip' });
  bash('npm test', 'npm test', { stdout: 'ok' });
  bash('pnpm run test', 'pnpm run test -- --watch=false', { stdout: 'ok' });
  bash('pytest --collect-only', 'pytest --collect-only', { stdout: 'ok' });
  bash('vitest --help', 'npx vitest --help', { stdout: 'ok' });
  bash('go test', 'go test ./...', null);
  bash('ls', 'ls -la', { stdout: 'a b' });
  bash('npm test | grep, no match', 'npm test | grep FAIL', {
    stdout: '',
    interrupted: false,
    returnCodeInterpretation: 'No matches found',
  });
  bash('npm test interrupted', 'npm test', { stdout: '', interrupted: true });
  bash('npm test in the background', 'npm test', { stdout: '', backgroundTaskId: 'b4003ee' });
  hook('Bash no command', 'PostToolUse', post('Bash', { description: 'x' }, { stdout: '' }));
  hook('Bash input missing', 'PostToolUse', claude('PostToolUse', { tool_name: 'Bash' }));
  // PostToolUseFailure.
  hook(
    'failure pytest',
    'PostToolUseFailure',
    failure('Bash', { command: 'pytest -q' }, 'Exit code 2\nfailed'),
  );
  hook('failure npm test interrupted', 'PostToolUseFailure', {
    ...failure('Bash', { command: 'npm test' }, 'Interrupted'),
    is_interrupt: true,
  });
  hook('failure no error', 'PostToolUseFailure', failure('Bash', { command: 'npm test' }, undefined));
  hook(
    'failure object error',
    'PostToolUseFailure',
    failure('Read', { file_path: '/x' }, { code: 'ENOENT' }),
  );
  hook(
    'failure long error',
    'PostToolUseFailure',
    failure('Bash', { command: 'make' }, `Exit code 3\n${'e'.repeat(5000)}`),
  );
  hook('failure is_interrupt false', 'PostToolUseFailure', {
    ...failure('Edit', { file_path: '/x' }, 'nope'),
    is_interrupt: false,
    duration_ms: 7,
  });
  // Other Claude Code hooks.
  hook('long prompt', 'UserPromptSubmit', claude('UserPromptSubmit', { prompt: 'p'.repeat(4_001) }));
  hook('prompt exactly 4000', 'UserPromptSubmit', claude('UserPromptSubmit', { prompt: 'p'.repeat(4_000) }));
  hook(
    'notification idle',
    'Notification',
    claude('Notification', { message: 'm', notification_type: 'idle_prompt' }),
  );
  hook(
    'notification elicitation',
    'Notification',
    claude('Notification', { notification_type: 'elicitation_dialog' }),
  );
  hook(
    'notification elicitation url',
    'Notification',
    claude('Notification', { notification_type: 'elicitation_url_dialog' }),
  );
  hook('subagent id only', 'SubagentStop', claude('SubagentStop', { agent_id: 'a-9', agent_type: '' }));
  hook('subagent start type', 'SubagentStart', claude('SubagentStart', { agent_type: 'Plan' }));
  hook('FileChanged add', 'FileChanged', claude('FileChanged', { file_path: '/r/x', event: 'add' }));
  hook('FileChanged change', 'FileChanged', claude('FileChanged', { file_path: '/r/x', event: 'change' }));
  hook('FileChanged no event', 'FileChanged', claude('FileChanged', { file_path: '/r/x' }));
  hook('FileChanged empty path', 'FileChanged', claude('FileChanged', { file_path: '' }));
  hook('FileChanged numeric path', 'FileChanged', claude('FileChanged', { file_path: 7 }));
  hook('session_id empty', 'Stop', claude('Stop', { session_id: '' }));
  hook('session_id null', 'Stop', claude('Stop', { session_id: null }));
  hook('tool_name empty', 'PreToolUse', claude('PreToolUse', { tool_name: '' }));
  hook('tool_name number', 'PreToolUse', claude('PreToolUse', { tool_name: 3 }));
  hook('PostToolBatch empty', 'PostToolBatch', claude('PostToolBatch', { tool_calls: [] }));
  // Names: spellings, dispatch on hook_event_name, unknown hooks.
  hook('kebab post-tool-use', 'post-tool-use', post('Edit', { file_path: '/r/a.ts' }));
  hook('snake post_tool_use', 'post_tool_use', post('Edit', { file_path: '/r/a.ts' }));
  hook('spaced Session End', ' Session End ', claude('SessionEnd', { reason: 'x' }));
  hook('dotted session.start', 'session.start', claude('SessionStart'));
  hook('dispatch on hook_event_name', 'claude', claude('SessionEnd', { reason: 'clear' }));
  hook('hook_event_name unknown too', 'claude', claude('Whatever', { a: 1 }));
  hook('unknown hook', 'my-hook', {
    session_id: 's-1',
    a: 1,
    b: undefined,
    c: null,
    nested: { d: undefined },
  });
  hook('unknown hook no session', 'my-hook', { a: [undefined, 1] });
  hook('unknown hook empty session', 'my-hook', { session_id: '', a: 1 });
  hook('unknown hook numeric session', 'my-hook', { session_id: 5, a: 1 });
  hook('unknown hook empty name', '', { a: 1 });
  hook('unknown hook blank name', '   ', { a: 1 });
  hook('unknown hook spaced name', ' spaced ', { a: 1 });
  hook('unknown hook empty payload', 'x', {});
  const inherited = Object.create({ inherited: 'yes' }) as Record<string, unknown>;
  inherited.own = 1;
  hook('unknown hook inherited field', 'proto', inherited);
  // Seed hooks.
  hook('file-watcher', 'file-watcher', {
    session_id: 'w-1',
    changes: [
      { action: 'create', path: 'src/a.ts', size: 10 },
      { action: 'Modified', file_path: 'src/B.TSX', type: 'typescript' },
      { action: 'unlink', path: 'C:\\r\\x' },
      { action: 'rename', path: 'src/new.ts', from: 'src/old.ts' },
      { action: 'renamed', path: 'src/n2.ts', old_path: 'src/o2.ts', size: '12' },
      { action: 'Chmod+X', path: '.env' },
      { action: 'create', path: 'README' },
      { action: 'create', path: '' },
      { path: 'no-action' },
      null,
      'text',
    ],
  });
  hook('file-watcher no session', 'filewatcher', { changes: [{ action: 'add', path: 'a.md' }] });
  hook('file-watcher empty session', 'FileWatcher', {
    session_id: '',
    changes: [{ action: 'add', path: 'a.md' }],
  });
  hook('file-watcher empty changes', 'file-watcher', { changes: [] });
  hook('file-watcher no changes', 'file-watcher', { session_id: 'w-1' });
  hook('pre-commit passed', 'pre-commit', { files: ['a'], checks: [{ name: 'lint', passed: true }] });
  hook('pre-commit failed check', 'pre-commit', { staged_files: ['a'], checks: [{ passed: false }, null] });
  hook('pre-commit exit code', 'precommit', { exit_code: 1, message: 'lint failed', session_id: 'p-1' });
  hook('pre-commit passed flag', 'pre_commit', { passed: false, exit_code: 0, files: 'not array' });
  hook('pre-commit empty', 'pre-commit', {});
  // Envelopes and rejections.
  add('no timestamp', { hook: 'Stop', output: claude('Stop') });
  add('negative timestamp', { hook: 'Stop', output: claude('Stop'), timestamp: -1 });
  add('NaN timestamp', { hook: 'Stop', output: claude('Stop'), timestamp: Number.NaN });
  add('string timestamp', { hook: 'Stop', output: claude('Stop'), timestamp: '5' });
  add('zero timestamp', { hook: 'Stop', output: claude('Stop'), timestamp: 0 });
  add('source error', { hook: 'Stop', output: '{"not json', error: 'invalid JSON at line 3', timestamp: T });
  add('source error long raw', { hook: 'Stop', output: 'x'.repeat(20_000), error: 'too long', timestamp: T });
  add('not an envelope', 42);
  add('null envelope', null);
  add('envelope without hook', { output: {} });
  add('envelope numeric hook', { hook: 1, output: {} });
  hook('output null', 'Stop', null);
  hook('output array', 'Stop', [1, 2]);
  hook('output string', 'Stop', 'hello');
  hook('output number', 'Stop', 3);
  hook('output undefined', 'Stop', undefined);
  hook('output bigint', 'Stop', { session_id: 's', n: 10n });
  hook('output infinite', 'Stop', { session_id: 's', n: Number.POSITIVE_INFINITY });
  hook('output too large', 'PostToolUse', post('Bash', { command: 'x'.repeat(17_000_000) }));
  hook(
    'output too large, cut or not',
    'Stop',
    claude('Stop', { lines: new Array<string>(5_000_000).fill('x') }),
  );
  let deep: unknown = {};
  for (let i = 0; i < 70; i++) deep = { a: deep };
  hook('output too deep', 'Stop', claude('Stop', { nested: deep }));
  const circular: Record<string, unknown> = { session_id: 's' };
  circular.self = circular;
  hook('output circular', 'Stop', circular);
  hook('raw with function and symbol', 'Stop', { session_id: 's', f: () => 1, s: Symbol('x'), big: [10n] });
  // Hostile objects: getters that throw.
  const throwingEnvelope = {
    get hook(): string {
      throw new Error('no hook for you');
    },
  };
  add('envelope getter throws', throwingEnvelope);
  let reads = 0;
  const flaky = claude('PreToolUse');
  Object.defineProperty(flaky, 'tool_name', {
    enumerable: true,
    get() {
      reads++;
      if (reads > 1) throw new Error('second read');
      return 'Read';
    },
  });
  hook('payload getter throws on second read', 'PreToolUse', flaky);
  return cases;
}

function serialize(events: readonly Event[]): string {
  // Ids are random: normalised. An own field holding undefined is shown, so that an object with
  // `{ a: undefined }` does not pass for one without `a`.
  const normalised = events.map((event) => ({ ...event, id: '<id>' }));
  return JSON.stringify(normalised, (_key, value) => (value === undefined ? '<undefined>' : value));
}

async function bridge(inputs: readonly unknown[]): Promise<Event[][]> {
  // One bridgeHooks run per input, so each line holds exactly that input's events.
  const out: Event[][] = [];
  for (const input of inputs) {
    out.push(
      await lastValueFrom(from([input as HookOutput]).pipe(bridgeHooks({ scheduler: frozen }), toArray())),
    );
  }
  return out;
}

async function snapshotLines(): Promise<{ lines: string[]; events: Event[] }> {
  const lines: string[] = [];
  const all: Event[] = [];
  const record = (label: string, events: Event[]) => {
    all.push(...events);
    lines.push(`${JSON.stringify(label)}\t${serialize(events)}`);
  };
  loadFixtures().forEach((fixture, index) => {
    record(
      `fixture ${index + 1} ${fixture.hook_event_name}`,
      toEvents(fixture.hook_event_name, fixture.payload, T),
    );
  });
  // The demo file, read as the demo reads it (its malformed lines become inputs with an `error`).
  const demo = await lastValueFrom(fromJsonLines([readFileSync(DEMO_PATH, 'utf8')]).pipe(toArray()));
  for (const [index, events] of (await bridge(demo)).entries()) record(`demo ${index + 1}`, events);
  const generated = makePayloads(600, 40, 8);
  for (const [index, events] of (await bridge(generated)).entries()) record(`bench ${index + 1}`, events);
  const edges = edgeCases();
  const edgeEvents = await bridge(edges.map(([, input]) => input));
  for (const [index, [label]] of edges.entries()) record(`edge ${label}`, edgeEvents[index]!);
  return { lines, events: all };
}

describe('the bridge output snapshot', () => {
  it('is byte-identical to test/fixtures/bridge-output.snapshot.jsonl', async () => {
    const { lines } = await snapshotLines();
    const text = `${lines.join('\n')}\n`;
    if (process.env.UPDATE_BRIDGE_SNAPSHOT === '1') writeFileSync(SNAPSHOT_PATH, text);
    const pinned = readFileSync(SNAPSHOT_PATH, 'utf8').split('\n');
    expect(pinned.length - 1).toBe(lines.length);
    for (let i = 0; i < lines.length; i++) expect(lines[i], `line ${i + 1}`).toBe(pinned[i]);
  });

  it('gives every event a distinct well-formed id', async () => {
    const { events } = await snapshotLines();
    expect(events.length).toBeGreaterThan(1_000);
    for (const event of events) expect(event.id).toMatch(ID);
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
  });
});
