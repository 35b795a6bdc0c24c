import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { checkVisible } from '../../src/hooks/options.js';
import {
  ConfigError,
  type Event,
  type HookEventType,
  KNOWN_HOOKS,
  Priority,
  parseEvent,
  toEvents,
} from '../../src/index.js';
import { readsTestRun } from '../../src/streams/toEvents.js';
import { loadFixtures } from '../helpers/fixtures.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SESSION = '7f3c2a91-5d0e-4b8a-9c61-2e4f8d1b0a37';
const T = 1_760_000_000_000;

function claude(hook: string, fields: Record<string, unknown>) {
  return { session_id: SESSION, transcript_path: '/t.jsonl', cwd: '/repo', hook_event_name: hook, ...fields };
}

function types(events: Event[]) {
  return events.map((event) => event.type);
}

/**
 * The `test.run` data of Claude Code's PostToolUseFailure of a Bash `command` (as in the fixtures: `error`
 * is `Exit code N`, then the command's output).
 */
function failedTestRun(command: string, error: string, is_interrupt = false) {
  return toEvents(
    'PostToolUseFailure',
    claude('PostToolUseFailure', {
      permission_mode: 'acceptEdits',
      tool_name: 'Bash',
      tool_input: { command, description: 'Run the tests' },
      tool_use_id: 'toolu_01Zx9Cv8Bn7Mm6Ll5Kk4Jj3H',
      error,
      is_interrupt,
    }),
    T,
  ).filter((event) => event.type === 'test.run')[0]!.data;
}

/**
 * What the bridge's `test.run` says of the Bash line `command` after a success (a PostToolUse) and after a
 * failure (a PostToolUseFailure, exit code 1): `passed`, `failed`, `unknown`, or `none` (no test.run).
 */
/** Checks `verdicts` of each command of `table`: [command, after a success, after a failure]. */
function expectVerdicts(table: readonly (readonly [string, string, string])[]): void {
  for (const [command, success, failure] of table) {
    expect(verdicts(command), command).toEqual([success, failure]);
  }
}

function verdicts(command: string): [string, string] {
  const outcome = (hook: string): string => {
    const runs = toEvents(
      hook,
      claude(hook, {
        tool_name: 'Bash',
        tool_input: { command },
        ...(hook === 'PostToolUse'
          ? { tool_response: { stdout: '', stderr: '', interrupted: false, isImage: false } }
          : { error: 'Exit code 1\nfailed' }),
      }),
      T,
    ).filter((event) => event.type === 'test.run');
    if (runs.length === 0) return 'none';
    expect(runs).toHaveLength(1);
    const data = runs[0]!.data;
    if (data.outcome === 'unknown') return 'unknown';
    return data.passed === true ? 'passed' : 'failed';
  };
  return [outcome('PostToolUse'), outcome('PostToolUseFailure')];
}

describe('toEvents on the Claude Code fixtures', () => {
  const fixtures = loadFixtures();

  it('has the 133 payloads', () => {
    expect(fixtures).toHaveLength(133);
  });

  it.each(fixtures.map((fixture, index) => [index + 1, fixture.hook_event_name, fixture] as const))(
    'line %i (%s) becomes well-formed events, none rejected, with its sessionId',
    (_line, hook, fixture) => {
      const events = toEvents(hook, fixture.payload, T);
      expect(events.length).toBeGreaterThanOrEqual(1);
      for (const event of events) {
        expect(parseEvent(event)).toEqual(event);
        expect(event.type).not.toBe('hook.rejected');
        expect(event.type.startsWith('hook.')).toBe(false);
        expect(event.sessionId).toBe(fixture.payload.session_id);
        expect(event.timestamp).toBe(T);
        expect(event.context?.hook).toBe(hook);
      }
    },
  );

  it('maps every hook event in the fixtures to a specific type', () => {
    const seen = new Map<string, Set<string>>();
    for (const fixture of fixtures) {
      const set = seen.get(fixture.hook_event_name) ?? new Set();
      for (const event of toEvents(fixture.hook_event_name, fixture.payload, T)) set.add(event.type);
      seen.set(fixture.hook_event_name, set);
    }
    expect(seen.get('SessionStart')).toEqual(new Set(['session.started']));
    expect(seen.get('SessionEnd')).toEqual(new Set(['session.ended']));
    expect(seen.get('Stop')).toEqual(new Set(['session.stopped']));
    expect(seen.get('SubagentStop')).toEqual(new Set(['agent.completed']));
    expect(seen.get('UserPromptSubmit')).toEqual(new Set(['prompt.submitted']));
    expect(seen.get('Notification')).toEqual(new Set(['notification']));
    expect(seen.get('PreToolUse')).toEqual(new Set(['tool.requested']));
    expect(seen.get('PostToolUseFailure')).toEqual(new Set(['tool.failed', 'test.run']));
    expect(seen.get('PostToolUse')).toEqual(new Set(['tool.used', 'file.created', 'file.modified']));
    expect(seen.get('FileChanged')).toEqual(new Set(['file.deleted']));
  });

  it('reads a Write that created a file as file.created with its size, and an update as file.modified', () => {
    const writes = fixtures.filter(
      (f) => f.hook_event_name === 'PostToolUse' && f.payload.tool_name === 'Write',
    );
    const created = writes.find((f) => (f.payload.tool_response as { type: string }).type === 'create')!;
    const updated = writes.find((f) => (f.payload.tool_response as { type: string }).type === 'update')!;
    const [toolUsed, file] = toEvents('PostToolUse', created.payload, T);
    expect(toolUsed!.type).toBe('tool.used');
    expect(file!.type).toBe('file.created');
    const content = (created.payload.tool_input as { content: string }).content;
    expect(file!.data).toEqual({
      file_path: (created.payload.tool_input as { file_path: string }).file_path,
      tool_name: 'Write',
      size: Buffer.byteLength(content),
    });
    expect(types(toEvents('PostToolUse', updated.payload, T))).toEqual(['tool.used', 'file.modified']);
  });

  it('keeps every documented field of the events whose data bridge.md says is all of them (elicitation_id, task_description, …)', () => {
    // The fields of the fixtures README's table (from the hooks reference and the SDK's types).
    const task = ['task_id', 'task_subject', 'task_description', 'teammate_name', 'team_name'];
    const modelSwitch = ['from_model', 'to_model', 'requested_model', 'source', 'context_tokens'].concat([
      'prompt_cache_warm',
      'cache_ttl',
      'estimated_cache_write_usd',
      'pricing',
    ]);
    const documented: Record<string, readonly string[]> = {
      InstructionsLoaded: [
        'file_path',
        'memory_type',
        'load_reason',
        'globs',
        'trigger_file_path',
        'parent_file_path',
      ],
      MessageDisplay: ['turn_id', 'message_id', 'index', 'final', 'delta'],
      TaskCreated: task,
      TaskCompleted: task,
      TeammateIdle: ['teammate_name', 'team_name'],
      ConfigChange: ['source', 'file_path'],
      CwdChanged: ['old_cwd', 'new_cwd'],
      DirectoryAdded: ['directory', 'source'],
      WorktreeCreate: ['name'],
      WorktreeRemove: ['worktree_path'],
      Elicitation: ['mcp_server_name', 'message', 'mode', 'url', 'elicitation_id', 'requested_schema'],
      ElicitationResult: ['mcp_server_name', 'action', 'mode', 'elicitation_id', 'content'],
      PreModelSwitch: modelSwitch,
      PostModelSwitch: modelSwitch,
    };
    let read = 0;
    for (const { hook_event_name: hook, payload } of fixtures) {
      const fields = documented[hook];
      if (fields === undefined) continue;
      const [event] = toEvents(hook, payload, T);
      const expected = Object.fromEntries(
        fields.filter((f) => payload[f] !== undefined).map((f) => [f, payload[f]]),
      );
      expect(event!.data, hook).toEqual(expected);
      read += Object.keys(expected).length;
    }
    expect(read).toBeGreaterThan(40);
    // An elicitation and its result pair up by their id.
    const [requested] = toEvents(
      'Elicitation',
      claude('Elicitation', {
        mcp_server_name: 's',
        message: 'm',
        mode: 'url',
        url: 'https://x',
        elicitation_id: 'e1',
      }),
      T,
    );
    const [resolved] = toEvents(
      'ElicitationResult',
      claude('ElicitationResult', { mcp_server_name: 's', action: 'accept', elicitation_id: 'e1' }),
      T,
    );
    expect([requested!.data.elicitation_id, resolved!.data.elicitation_id]).toEqual(['e1', 'e1']);
  });

  it('keeps duration_ms where the payload has it', () => {
    const timed = fixtures.find(
      (f) => f.hook_event_name === 'PostToolUse' && typeof f.payload.duration_ms === 'number',
    )!;
    expect(toEvents('PostToolUse', timed.payload, T)[0]!.data.duration_ms).toBe(timed.payload.duration_ms);
  });

  it('reads a failed pytest run as tool.failed (HIGH, exit code) and a failing test.run', () => {
    const pytest = fixtures.find(
      (f) =>
        f.hook_event_name === 'PostToolUseFailure' && JSON.stringify(f.payload.tool_input).includes('pytest'),
    )!;
    const [failed, testRun] = toEvents('PostToolUseFailure', pytest.payload, T);
    expect(failed).toMatchObject({ type: 'tool.failed', priority: Priority.HIGH });
    expect(failed!.data).toMatchObject({ tool_name: 'Bash', exit_code: 1, success: false });
    expect(testRun!.data).toMatchObject({ passed: false, exit_code: 1 });
  });
});

describe('toEvents mappings', () => {
  it('turns a Bash git commit into git.commit with message, branch and hash', () => {
    const events = toEvents(
      'PostToolUse',
      claude('PostToolUse', {
        tool_name: 'Bash',
        tool_input: { command: 'git add -A && git commit -m "fix: guard null order ids"' },
        tool_response: {
          stdout: '[main 3f2a9c1] fix: guard null order ids\n 1 file changed, 2 insertions(+)',
          stderr: '',
          interrupted: false,
        },
      }),
      T,
    );
    expect(types(events)).toEqual(['tool.used', 'git.commit']);
    expect(events[1]!.data).toEqual({
      command: 'git add -A && git commit -m "fix: guard null order ids"',
      message: 'fix: guard null order ids',
      branch: 'main',
      commit: '3f2a9c1',
    });
  });

  it("reads the message of Claude Code's commits, a here-document in a command substitution", () => {
    // As Claude Code writes them: -m "$(cat <<'EOF' … EOF )". The text as written is shell, not the message.
    const command =
      'git add src/orders.ts && git commit -m "$(cat <<\'EOF\'\nfeat(orders): add CSV export\n\nExports the filtered orders.\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)\nEOF\n)"';
    const commit = (cmd: string, stdout: string) =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', { tool_name: 'Bash', tool_input: { command: cmd }, tool_response: { stdout } }),
        T,
      )[1]!.data;
    expect(commit(command, '[feature/csv 9c1d2e3] feat(orders): add CSV export\n 1 file changed')).toEqual({
      command,
      message:
        'feat(orders): add CSV export\n\nExports the filtered orders.\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)',
      branch: 'feature/csv',
      commit: '9c1d2e3',
    });
    // <<EOF, <<"EOF", <<-EOF read the same.
    for (const quote of ['EOF', '"EOF"', '-EOF']) {
      const other = command.replace("<<'EOF'", `<<${quote}`);
      expect(commit(other, '').message).toMatch(/^feat\(orders\): add CSV export\n/);
    }
    // In a group of short options (-am), and with a quote in the message.
    expect(
      commit(command.replace('commit -m', 'commit -am').replace('filtered', '"filtered"'), '').message,
    ).toMatch(/^feat\(orders\): add CSV export\n\nExports the "filtered" orders\./);
    // Another substitution: the subject git printed, else the text as written.
    const echo = 'git commit -m "$(echo fix: trim ids)"';
    expect(commit(echo, '[main 1a2b3c4] fix: trim ids\n').message).toBe('fix: trim ids');
    expect(commit(echo, '').message).toBe('$(echo fix: trim ids)');
    // The -m of the commit, not of a command before it in the same line (python -m, git stash -m).
    expect(commit(`python -m pytest -q && ${command}`, '').message).toMatch(
      /^feat\(orders\): add CSV export\n/,
    );
    expect(
      commit('git stash push -m "wip" && git stash pop && git commit -m "fix: trim ids"', '').message,
    ).toBe('fix: trim ids');
    expect(
      commit('python3 -m black . && git commit --amend --no-edit', '[main 1a2b3c4] fix: trim ids\n').message,
    ).toBe('fix: trim ids');
  });

  it('reads a commit made by a line that then failed from its output, and none where the output shows none', () => {
    const failure = (command: string, error: string) =>
      toEvents(
        'PostToolUseFailure',
        claude('PostToolUseFailure', { tool_name: 'Bash', tool_input: { command }, error }),
        T,
      );
    const command = 'git add -A && git commit -m "feat: export" && npm test';
    const events = failure(
      command,
      'Exit code 1\n[main 9c1d2e3] feat: export\n 2 files changed\n\n FAIL src/a.test.ts',
    );
    expect(types(events)).toEqual(['tool.failed', 'git.commit', 'test.run']);
    expect(events[1]!.data).toEqual({ command, message: 'feat: export', branch: 'main', commit: '9c1d2e3' });
    expect(events[1]!.priority).toBe(Priority.NORMAL);
    // A commit a hook refused, or that had nothing to commit: no summary, no commit.
    expect(types(failure(command, 'Exit code 1\nprettier....Failed\n- hook id: prettier'))).toEqual([
      'tool.failed',
      'test.run',
    ]);
    expect(
      types(failure('git commit -m "wip"', 'Exit code 1\nnothing to commit, working tree clean')),
    ).toEqual(['tool.failed']);
    // Nor is one that does not start its line (a test's output quoting it).
    expect(
      types(failure(command, 'Exit code 1\n FAIL src/log.test.ts > prints [main 9c1d2e3] feat: export')),
    ).toEqual(['tool.failed', 'test.run']);
    // A summary with no git commit in the line (a `git log`-like output) is not a commit either.
    expect(types(failure('./release.sh', 'Exit code 1\n[main 9c1d2e3] feat: export'))).toEqual([
      'tool.failed',
    ]);
  });

  it('makes no commit of a line that went on after git made none (git said so, and printed no summary)', () => {
    const success = (command: string, stdout: string, stderr = '') =>
      types(
        toEvents(
          'PostToolUse',
          claude('PostToolUse', {
            tool_name: 'Bash',
            tool_input: { command },
            tool_response: { stdout, stderr, interrupted: false, isImage: false },
          }),
          T,
        ),
      );
    // What git 2.39 printed for each (its exit code 1, which `|| true` or `;` hid from the line's status).
    const clean = 'On branch master\nnothing to commit, working tree clean\n';
    const untracked =
      'On branch master\nUntracked files:\n  (use "git add <file>..." to include in what will be committed)\n\tf\n\n' +
      'nothing added to commit but untracked files present (use "git add" to track)\n';
    const unstaged =
      'On branch master\nChanges not staged for commit:\n\tmodified:   f\n\n' +
      'no changes added to commit (use "git add" and/or "git commit -a")\n';
    for (const stdout of [clean, untracked, unstaged]) {
      expect(success('git commit -m "wip" || true', stdout)).toEqual(['tool.used']);
      expect(
        success('git add -A; git commit -m "wip"; git push', `${stdout}Everything up-to-date\n`),
      ).toEqual(['tool.used']);
    }
    expect(success('git commit -m "" || true', '', 'Aborting commit due to empty commit message.\n')).toEqual(
      ['tool.used'],
    );
    // A commit a hook refused: what husky 9 and husky 4 printed (on stderr; git itself prints nothing).
    for (const stderr of [
      'lint failed: src/a.ts\nhusky - pre-commit script failed (code 1)\n',
      'husky > pre-commit (node v20.20.2)\nlint failed\nhusky > pre-commit hook failed (add --no-verify to bypass)\n',
      'husky - commit-msg script failed (code 1)\n',
    ]) {
      expect(success('git add -A && git commit -m "feat: x" || true', '', stderr)).toEqual(['tool.used']);
    }
    // A commit's summary beside it (a second commit of the line that did commit) is a commit; so is a
    // quiet commit's silence, and a line without its own git commit is none.
    expect(
      success('git commit -m a || true; git commit --allow-empty -m b', `${clean}[master 1a2b3c4] b\n`),
    ).toEqual(['tool.used', 'git.commit']);
    expect(success('git commit -q -m "wip"', '')).toEqual(['tool.used', 'git.commit']);
    expect(success('cat notes.txt', clean)).toEqual(['tool.used']);
  });

  it("takes the message from the commit's own -m, not from a later command of the chain", () => {
    const message = (command: string, stdout: string) =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', { tool_name: 'Bash', tool_input: { command }, tool_response: { stdout } }),
        T,
      )[1]!.data.message;
    const printed = '[main 1a2b3c4] fix: trim ids\n 1 file changed';
    expect(message('git commit -F msg.txt && git tag -m "v1.2" v1.2', printed)).toBe('fix: trim ids');
    expect(message('git commit -F msg.txt && git tag -m "v1.2" v1.2', '')).toBeUndefined();
    expect(message('git commit --amend --no-edit; python -m pytest -q', printed)).toBe('fix: trim ids');
    expect(message('git commit -F m.txt | tail -1 || git commit -m "retry"', printed)).toBe('fix: trim ids');
    expect(message('git commit -F m.txt\ngit notes add -m note', printed)).toBe('fix: trim ids');
    // A -m that starts the next line is a command of its own (named -m), right where the commit's ends.
    expect(message('git commit -F m.txt\n-m wip', printed)).toBe('fix: trim ids');
    // Its own -m still counts, also after a quoted argument holding a separator, or a here-document.
    expect(message('git commit --author "A && B <a@b>" -m "fix: x" && git push', '')).toBe('fix: x');
    expect(message('git commit -F - <<EOF && git tag -m v1 v1\nfix: y\nEOF', printed)).toBe('fix: trim ids');
    // After a dry run, the commit that follows it is read, with its own -m (not the dry run's).
    expect(message('git commit --dry-run -m "wip" && git commit -m "fix: z"', '')).toBe('fix: z');
    expect(message('git commit -a --dry-run && git commit -aF m.txt', printed)).toBe('fix: trim ids');
    // An unquoted message ends where the shell ends the word: at a separator, or the quote of a script.
    expect(message('git commit -m wip; git push', '')).toBe('wip');
    expect(message('git commit -am wip&& git push', '')).toBe('wip');
    expect(message('if true; then git commit -m wip; fi', '')).toBe('wip');
    expect(message("bash -c 'git commit -m wip'", '')).toBe('wip');
    expect(message('git commit -m fix:ids', '')).toBe('fix:ids');
    // A backquoted substitution, which only the shell expands, is no message as written: the subject git
    // printed, else none.
    expect(message('git commit -m `cat msg.txt`', printed)).toBe('fix: trim ids');
    expect(message('git commit -m `cat msg.txt`', '')).toBeUndefined();
    // Likewise inside double quotes, where the shell runs it too.
    expect(message('git commit -m "fix: `git rev-parse --short HEAD`"', printed)).toBe('fix: trim ids');
    // The message attached to its -m, as git reads it: the rest of the word, quoted or not.
    expect(message('git commit -m"fix: x\n\nWhy it matters." && git push', printed)).toBe(
      'fix: x\n\nWhy it matters.',
    );
    expect(message("git commit -am'fix: y'", printed)).toBe('fix: y');
    expect(message('git commit -mwip', printed)).toBe('wip');
    expect(message('git commit -m=wip', printed)).toBe('=wip');
  });

  it('strips the leading tabs of a <<-EOF message, as bash does, and keeps an unquoted one unexpanded', () => {
    const message = (command: string) =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', { tool_name: 'Bash', tool_input: { command }, tool_response: { stdout: '' } }),
        T,
      )[1]!.data.message;
    // <<- strips the tabs (only tabs) at the start of every line of the body and of the delimiter's.
    expect(message('git commit -m "$(cat <<-EOF\n\t\tfeat: x\n\n\t  - one\n\tEOF\n\t)"')).toBe(
      'feat: x\n\n  - one',
    );
    // << keeps them.
    expect(message('git commit -m "$(cat <<EOF\n\tfeat: x\nEOF\n)"')).toBe('\tfeat: x');
    // The shell would expand $VAR in an unquoted <<EOF: the bridge does not run it, and keeps it as written.
    expect(message('git commit -m "$(cat <<EOF\nfix: $TICKET\nEOF\n)"')).toBe('fix: $TICKET');
  });

  it('reads a here-document message as the shell delimits it: blanks, CRLF, an indented or unclosed delimiter', () => {
    const message = (command: string, stdout = '') =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', { tool_name: 'Bash', tool_input: { command }, tool_response: { stdout } }),
        T,
      )[1]!.data.message;
    // A line as long as the delimiter, or starting with it, is not it.
    const body = 'fix: x\n\n- a\nEOFs are handled';
    expect(message(`git commit -m "$(cat <<'EOF'\n${body}\nEOF\n)"`)).toBe(body);
    // Blanks around cat and <<, after the delimiter; a delimiter line indented.
    expect(message(`git commit -m "$( cat  <<'EOF' \nfix: x\nEOF \t\n)"`)).toBe('fix: x');
    expect(message(`git commit -m "$(cat <<'EOF'\nfix: x\n  EOF\n  )"`)).toBe('fix: x');
    // CRLF line ends: the last one is not part of the message.
    expect(message(`git commit -m "$(cat <<'EOF'\r\nfix: x\r\nEOF\r\n)"`)).toBe('fix: x');
    // <<- strips the tabs that start a line, not the others.
    expect(message('git commit -m "$(cat <<-EOF\n\tfix: a\tb\n\tEOF\n\t)"')).toBe('fix: a\tb');
    // -m followed by two blanks.
    expect(message('git commit -m  "fix: two blanks"')).toBe('fix: two blanks');
    // Never closed: the shell reads it to the end. The summary git printed, else the text as written.
    const open = `git commit -m "$(cat <<'EOF'\nfix: x\n)"`;
    expect(message(open, '[main 1a2b3c4] fix: x\n')).toBe('fix: x');
    expect(message(open)).toBe(`$(cat <<'EOF'\nfix: x\n)`);
  });

  it.each([
    ['git -c user.name=x commit --amend --no-edit', true],
    ['git commit', true],
    ['git status', false],
    ['git log --oneline', false],
    // A one-letter option (-P, --no-pager) and --name=value options before commit.
    ['git -P commit -m "x"', true],
    ['git --git-dir=/r/.git --work-tree=/r commit -m x', true],
    ['echo commit', false],
    // Git where the shell runs it: after a cd, a prefix, in a group, a compound command or a bash -c script.
    ['cd api && git add -A && git commit -m "fix"', true],
    ['sudo -u deploy git commit -am "x"', true],
    ['(cd api && git commit -m x)', true],
    ['if git diff --quiet; then :; else git commit -am x; fi', true],
    ["bash -c 'git add -A && git commit -m x'", true],
    ['/usr/bin/git commit -m x', true],
    // Not in quotes, an argument, a comment or a here-document: nothing committed.
    ['echo "git commit -m x"', false],
    ['echo git commit', false],
    ['git log --grep "git commit"', false],
    ['grep -rn "git commit" docs/', false],
    ['git status # then git commit -m x', false],
    ["cat > CONTRIBUTING.md <<'EOF'\nRun git commit -s to sign.\nEOF", false],
    ['gh pr create --title "x" --body "Ran git commit hooks"', false],
    // Git's options end with its command: `-C &&` takes no argument from the next command.
    ['git -C && commit -m x', false],
    ['git git commit', false],
  ])('recognizes %j as a commit: %s', (command, isCommit) => {
    const events = toEvents(
      'PostToolUse',
      claude('PostToolUse', { tool_name: 'Bash', tool_input: { command }, tool_response: { stdout: '' } }),
      T,
    );
    expect(types(events).includes('git.commit')).toBe(isCommit);
  });

  it.each([
    ['git commit --dry-run -m "wip"', false],
    ['git commit -a --dry-run', false],
    ['git add -A && git commit --short', false],
    ['git commit --porcelain', false],
    ['git commit --long -m x', false],
    ['git commit -z', false],
    ['git commit -az', false],
    ['git commit --null', false],
    ['git commit -h', false],
    ['git commit --help', false],
    // -n is --no-verify: it commits. An option of a later command, or inside the message, is not the commit's.
    ['git commit -n -m "wip"', true],
    ['git commit -m "wip" && git push --dry-run', true],
    ['git commit -m "see --dry-run" --no-edit', true],
    ["git commit -m 'try -z'", true],
    ['git commit -m --dry-run', true],
    ['git commit -F msg.txt; git status --short', true],
    // A dry run first, then the commit: the commit is the line's second git commit.
    ['git commit --dry-run && git commit -m "wip"', true],
    ['git commit --short; git -C /r commit -a --dry-run', false],
    ['git commit --dry-run\t-a', false],
    // Read up to the last option, not only the first; after `--` a word is a path, not an option.
    ['git commit -m wip --dry-run', false],
    ['git commit -- --dry-run', true],
    ['git commit -a -- -z', true],
    // A redirection `&>` does not end the commit's command.
    ['git commit &>/dev/null --dry-run', false],
    // A quoted option is the option git gets; a quoted message, or a quoted `--` then a path, is none.
    ['git commit "--dry-run"', false],
    ["git commit -a'z'", false],
    ['git commit "-m" "--dry-run"', true],
    ['git commit "--" --dry-run', true],
  ])('reads %j, where git commit may only show what it would do, as a commit: %s', (command, isCommit) => {
    const events = toEvents(
      'PostToolUse',
      claude('PostToolUse', { tool_name: 'Bash', tool_input: { command }, tool_response: { stdout: '' } }),
      T,
    );
    expect(types(events).includes('git.commit')).toBe(isCommit);
  });

  const bash = (command: string) =>
    toEvents(
      'PostToolUse',
      claude('PostToolUse', { tool_name: 'Bash', tool_input: { command }, tool_response: { stdout: '' } }),
      T,
    );

  it.each([
    '--message',
    '--file',
    '--reuse-message',
    '--reedit-message',
    '--author',
    '--date',
    '--template',
    '--fixup',
    '--squash',
    '--cleanup',
    '--trailer',
    '--pathspec-from-file',
    '-am',
    '-aF',
  ])(
    'takes the word after %s as its argument, not as an option that makes the commit a dry run',
    (option) => {
      for (const [command, isCommit] of [
        [`git commit ${option} --dry-run`, true],
        [`git commit ${option} x --dry-run`, false],
      ] as const) {
        expect(types(bash(command)).includes('git.commit'), command).toBe(isCommit);
      }
    },
  );

  it('recognizes a commit after any options, as the option grammar reads them', () => {
    // The grammar of `git [options] commit`, as one regular expression: options are `-c`/`-C` with their
    // argument, or any other `-x`, `--name`, `--name=value`. (The bridge reads it token by token.) Git in
    // a command's place: the first word of a command (after `&&`), but for assignments, its folders
    // dropped (`a/git`); not an argument (`git git commit` runs git's `git`, `log git commit` log).
    const grammar =
      /^\s*(?:[A-Za-z_]\w*=\S*\s+)*(?:\S*\/)?git\s+(?:-[cC]\s+\S+\s+|-(?![cC]\s)[\w-]+(?:=\S+)?\s+)*commit\b/;
    const reference = { test: (command: string) => command.split('&&').some((part) => grammar.test(part)) };
    const words = [
      'git',
      'commit',
      '-c',
      '-C',
      'x=1',
      '--a',
      '-x=1',
      '--git-dir=/r/.git',
      'a/git',
      '&&',
      'log',
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...words), fc.constantFrom(' ', '  ', '\t')), { maxLength: 10 }),
        (parts) => {
          const command = parts.map(([word, space]) => word + space).join('');
          expect(types(bash(command)).includes('git.commit')).toBe(reference.test(command));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('reads a command with many options after git in linear time (a regular expression took hours)', () => {
    // Each of these took the former expression exponential (the first two) or quadratic time in the
    // number of options: 2^40 ways to read 40 `-c --a`. Run in a child process, so that a regression
    // fails this test instead of blocking the test run: the bound is a hang guard, not a measurement.
    const commands = [
      `git ${'-c --a '.repeat(40)}x`,
      `git ${'--a '.repeat(60)}x`,
      `git ${'-git '.repeat(150_000)}x`,
      `git ${'--a '.repeat(60)}commit -m "ok"`,
      // The commit's arguments are read once too: here-documents left open, substitutions, quotes.
      `git commit ${'"$(cat <<E\n)" '.repeat(50_000)}--dry-run`,
      `git commit -m "$(cat <<EOF\n${'x $( " \' \n'.repeat(50_000)}`,
    ];
    const script = `
      import { toEvents } from './src/index.ts';
      let text = '';
      for await (const chunk of process.stdin) text += chunk;
      const commands = JSON.parse(text);
      const found = commands.map((command) => toEvents('PostToolUse', {
        session_id: 's', hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command }, tool_response: {},
      }).some((event) => event.type === 'git.commit'));
      process.stdout.write(JSON.stringify(found));`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      input: JSON.stringify(commands),
      timeout: 50_000,
    });
    expect({ error: run.error, signal: run.signal, stderr: run.stderr, stdout: run.stdout }).toEqual({
      error: undefined,
      signal: null,
      stderr: '',
      stdout: JSON.stringify([false, false, false, true, true, true]),
    });
  });

  it('turns a passing test command into test.run passed', () => {
    const events = toEvents(
      'PostToolUse',
      claude('PostToolUse', {
        tool_name: 'Bash',
        tool_input: { command: 'npm test' },
        tool_response: { stdout: 'ok' },
      }),
      T,
    );
    expect(events[1]).toMatchObject({ type: 'test.run', data: { passed: true, command: 'npm test' } });
  });

  it('keeps the folder a search tool searches (Grep, Glob, LS: tool_input.path) out of data.file_path, as data.path', () => {
    for (const [tool, input] of [
      ['Grep', { pattern: 'TODO', path: '/repo/src', output_mode: 'files_with_matches' }],
      ['Glob', { pattern: '**/*.ts', path: '/repo/src' }],
      ['LS', { path: '/repo/src' }],
      ['mcp__fs__list_directory', { path: '/repo/src' }],
    ] as const) {
      for (const hook of ['PreToolUse', 'PostToolUse', 'PostToolUseFailure', 'PermissionRequest']) {
        const [event] = toEvents(hook, claude(hook, { tool_name: tool, tool_input: input, error: 'x' }), T);
        expect(event!.data, `${hook} ${tool}`).not.toHaveProperty('file_path');
        expect(event!.data.path, `${hook} ${tool}`).toBe('/repo/src');
      }
    }
    // A file tool's own path is still its file (and a file.modified).
    const edit = toEvents(
      'PostToolUse',
      claude('PostToolUse', { tool_name: 'Edit', tool_input: { path: '/r/a.ts' } }),
      T,
    );
    expect(edit.map((event) => [event.type, event.data.file_path, event.data.path])).toEqual([
      ['tool.used', '/r/a.ts', undefined],
      ['file.modified', '/r/a.ts', undefined],
    ]);
    const read = toEvents(
      'PostToolUse',
      claude('PostToolUse', { tool_name: 'Read', tool_input: { file_path: '/r/a.ts' } }),
      T,
    );
    expect(read[0]!.data).toMatchObject({ file_path: '/r/a.ts' });
    expect(read[0]!.data).not.toHaveProperty('path');
  });

  it('claims no pass for a test command whose exit status the command line hides (a pipe, a later command)', () => {
    const run = (command: string) =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', {
          tool_name: 'Bash',
          tool_input: { command },
          tool_response: { stdout: '', stderr: '', interrupted: false, isImage: false },
        }),
        T,
      ).find((event) => event.type === 'test.run')!.data;
    // The status of a pipe is its last command's (tail's, grep's), of a list its last command's.
    for (const command of [
      'npm test | tail -20',
      'npx vitest run 2>&1 | tail -5',
      'pytest -q |& tee log.txt',
      'npm test; echo done',
      'npm test || true',
      'cd app && go test ./... | grep -v "no test files"',
      'npm test && echo ok; echo done',
      'npm test\necho done',
    ]) {
      expect(run(command), command).toEqual({ command, outcome: 'unknown' });
    }
    // It is the test command's when it is last, followed by && only, or piped under pipefail.
    for (const command of [
      'npm test',
      'cd app && npm test',
      'npm run build | tail -3 && npm test',
      'npm test && echo ok',
      'npm test 2>&1',
      'pytest -k "a|b; c"',
      'set -o pipefail; npm test | tail -20',
      'set -euo pipefail && pytest | tee log.txt',
    ]) {
      expect(run(command), command).toEqual({ command, passed: true, exit_code: 0 });
    }
  });

  it("claims a test command's pass or failure only when the line's exit status shows it (docs/bridge.md's table)", () => {
    const runOf = (hook: string, fields: Record<string, unknown>) =>
      toEvents(hook, claude(hook, { tool_name: 'Bash', ...fields }), T).find((e) => e.type === 'test.run')!
        .data;
    const onSuccess = (command: string) =>
      runOf('PostToolUse', {
        tool_input: { command },
        tool_response: { stdout: '', stderr: '', interrupted: false, isImage: false },
      });
    const onFailure = (command: string) =>
      runOf('PostToolUseFailure', { tool_input: { command }, error: 'Exit code 1\nfailed' });
    const U = 'unknown';
    // command, what a success says, what a failure says
    const table: [string, 'passed' | typeof U, 'failed' | typeof U][] = [
      ['npm test', 'passed', 'failed'],
      ['echo start; npm test', 'passed', 'failed'],
      ['npm test 2>&1', 'passed', 'failed'],
      // A failure may be the build's.
      ['npm test && npm run build', 'passed', U],
      ['npm test &&\n  npm run build', 'passed', U],
      // A failure may be the build's, the tests never run.
      ['npm run build && npm test', 'passed', U],
      // A leading cd, and no cd error of the shell in the output ('failed'): the tests ran and failed.
      ['cd app && npm test', 'passed', 'failed'],
      ['git pull || true && npm test', 'passed', U],
      // After a failure of the tests only: a failure is theirs, a success may be echo's.
      ['npm test || echo "tests failed" >&2', U, 'failed'],
      // After a failure of the lint only: a success may be the lint's, the tests never run.
      ['npm run lint || npm test', U, 'failed'],
      ['npm test || true', U, 'failed'],
      // tail's status; under pipefail a failure may be tail's.
      ['npm test | tail -5', U, U],
      ['set -o pipefail; npm test | tail -5', 'passed', U],
      // A later command's status.
      ['npm test; echo done', U, U],
      ['npm test\necho done', U, U],
      ['npm test || echo failed && echo done', U, U],
      // In the background: the line's status is not the tests'.
      ['npm test & sleep 1', U, U],
    ];
    for (const [command, success, failure] of table) {
      expect(onSuccess(command), command).toEqual(
        success === U ? { command, outcome: U } : { command, passed: true, exit_code: 0 },
      );
      expect(onFailure(command), command).toEqual(
        failure === U ? { command, outcome: U } : { command, passed: false, exit_code: 1 },
      );
    }
  });

  it("reads a failed `cd DIR && <tests>` as the tests' failure unless its output has the shell's cd error", () => {
    const vitest =
      'Exit code 1\n\n> app@1.0.0 test\n> vitest run\n\n FAIL  src/sum.test.ts > adds\n' +
      'AssertionError: expected 3 to be 4\n Test Files  1 failed (1)';
    const pytest =
      'Exit code 1\n============================= test session starts ==============================\n' +
      '... [48211 characters truncated] ...\nFAILED tests/test_orders.py::test_list_orders_paginates - AssertionError';
    // The cd succeeded (no error of its own): the line's status is its test command's.
    const ran: [string, string, number][] = [
      ['cd app && npm test', vitest, 1],
      ['cd /home/user/acme-api && pytest -x tests/', pytest, 1],
      ['cd "/home/user/my app" && CI=1 npx vitest run', vitest, 1],
      ["cd '/home/user/acme-api' && python -m pytest -q", pytest.replace('Exit code 1', 'Exit code 2'), 2],
      ['cd ~/acme-api &&\n  npm test 2>&1', vitest, 1],
      ['pushd app && npm test', vitest, 1],
      ['cd app && cd server && npm test', vitest, 1],
      // The cds may be separated by any blanks: a newline, a tab, a CRLF.
      ['cd app &&\n  cd server && npm test', vitest, 1],
      ['cd app && \tcd server && npm test', vitest, 1],
      ['cd app &&\r\ncd server && npm test', vitest, 1],
      ['cd app && npm test && npm run test:e2e', vitest, 1],
      // zoxide's error starts a line: a test of the tests' own that names it is no cd error.
      ['cd app && npm test', `${vitest}\n FAIL  src/jump.test.ts > zoxide: picks the best match`, 1],
      ['cd app && npm test || echo "tests failed" >&2', `${vitest}\ntests failed`, 1],
    ];
    for (const [command, error, code] of ran) {
      expect(failedTestRun(command, error), command).toEqual({ command, passed: false, exit_code: code });
    }
    // The shell's own cd (pushd) error, in any shell's words: the tests did not run.
    const cdErrors: [string, string][] = [
      ['cd app && npm test', 'bash: line 1: cd: app: No such file or directory'],
      ['cd app && npm test', '/bin/bash: line 3: cd: app: Not a directory'],
      ['cd app && npm test', 'bash: cd: app: Permission denied'],
      ['cd app test && npm test', 'bash: line 1: cd: too many arguments'],
      ['cd app && npm test', 'zsh:cd:1: no such file or directory: app'],
      ['cd app && npm test', "sh: 1: cd: can't cd to app"],
      // zsh's words when it names no shell first: `cd:` starts the line.
      ['cd app && npm test', 'cd: no such file or directory: app'],
      ['pushd app && npm test', 'bash: line 1: pushd: app: No such file or directory'],
      ['pushd app && npm test', 'zsh:pushd:1: no such file or directory: app'],
      ['cd app && cd server && npm test', 'bash: line 1: cd: server: No such file or directory'],
    ];
    for (const [command, output] of cdErrors) {
      expect(failedTestRun(command, `Exit code 1\n${output}`), output).toEqual({
        command,
        outcome: 'unknown',
      });
    }
    // Everything else as before: a later command may have failed, the cd's error may be hidden, the
    // output is missing, the cd is not the line's first command. The status then shows nothing (no
    // `exit_code`), but vitest's summary in the output (`Test Files  1 failed`) shows a test failed.
    const otherwise: [string, string][] = [
      ['cd app && npm run build && npm test', vitest],
      ['cd app && npm test && npm run build', vitest],
      ['cd app && npm test | tail -5', vitest],
      ['cd app && npm test; echo done', vitest],
      ['cd app 2>/dev/null && npm test', vitest],
      ['cd app 2<&- && npm test', vitest],
      // A first command that is not cd (pushd), however short or alike, may have failed.
      ['ls dist && npm test', vitest],
      ['cdk synth && npm test', vitest],
      ['mkdir -p reports && pytest', vitest],
      ['cd app && npm test', 'Exit code 1'],
      ['cd app && npm test', 'Exit code 1\n  \n'],
      ['cd app && npm test', 'Command failed to start'],
      ['git pull && cd app && npm test', vitest],
      ['(cd app && npm test)', vitest],
    ];
    for (const [command, error] of otherwise) {
      expect(failedTestRun(command, error), `${command} / ${error}`).toEqual(
        error === vitest
          ? { command, passed: false, from_summary: 'vitest' }
          : { command, outcome: 'unknown' },
      );
      expect(failedTestRun(command, error.replace('1 failed', '1 passed')), command).toEqual({
        command,
        outcome: 'unknown',
      });
    }
  });

  it('reads a failed `cd DIR && <tests>` as unknown when the cd is a replacement (zoxide) that failed', () => {
    // Claude Code runs Bash in a snapshot of the user's shell, functions and aliases included: with
    // zoxide's `cd` (`zoxide init --cmd cd`, or `alias cd=z`) a failed cd prints zoxide's words or, the
    // function missing from the snapshot, the shell's "command not found" (exit 127), never `cd:`
    // (anthropics/claude-code#1799, #2216, #2632). The tests did not run.
    const replaced: [string, string][] = [
      ['cd app && npm test', 'Exit code 1\nzoxide: no match found'],
      ['cd somedir && uv run pytest', 'Exit code 127\nz:1: command not found: __zoxide_z'],
      ['cd app && npm test', 'Exit code 127\nbash: line 1: z: command not found'],
      ['cd app && cd api && pytest', 'Exit code 1\nzoxide: no match found'],
    ];
    for (const [command, error] of replaced) {
      expect(failedTestRun(command, error), error).toEqual({ command, outcome: 'unknown' });
    }
    // The tests ran and failed: as before.
    const vitest = 'Exit code 1\n FAIL  src/sum.test.ts > adds\n Test Files  1 failed (1)';
    expect(failedTestRun('cd app && npm test', vitest)).toEqual({
      command: 'cd app && npm test',
      passed: false,
      exit_code: 1,
    });
  });

  it('reads a failed test line whose exit code is 127 (command not found) or 126 (not executable) as unknown: the tests did not run', () => {
    // `npm test` whose script's runner is not installed (npm passes on the shell's 127), a runner that is
    // not on the PATH: not a red run, which a later green one would make look like a fix.
    const notFound: [string, string][] = [
      ['npm test', 'Exit code 127\n> app@1.0.0 test\n> vitest run\n\nsh: 1: vitest: not found'],
      ['pytest', 'Exit code 127\n/bin/bash: line 1: pytest: command not found'],
      ['npm run lint || npm test', 'Exit code 127\nsh: 1: vitest: not found'],
      ['cd app && npm test', 'Exit code 127\nsh: 1: vitest: not found'],
      // Found, but not executable (a runner unpacked without its mode bits).
      ['npm test', 'Exit code 126\n> app@1.0.0 test\n> vitest run\n\nsh: 1: vitest: Permission denied'],
      [
        './node_modules/.bin/vitest run',
        'Exit code 126\n/bin/bash: line 1: ./node_modules/.bin/vitest: Permission denied',
      ],
    ];
    for (const [command, error] of notFound) {
      expect(failedTestRun(command, error), command).toEqual({ command, outcome: 'unknown' });
    }
    // Any other code is a failed run, as before; so is an interrupted one, whatever its code.
    for (const code of [1, 2, 125, 128, 130]) {
      expect(failedTestRun('npm test', `Exit code ${code}\n Test Files  1 failed (1)`)).toEqual({
        command: 'npm test',
        passed: false,
        exit_code: code,
      });
    }
    expect(failedTestRun('npm test', 'Exit code 127\nsh: 1: vitest: not found', true)).toEqual({
      command: 'npm test',
      passed: false,
      exit_code: 127,
      interrupted: true,
    });
  });

  it('makes one test.run per Bash call, judged on every test command in the line, not the first only', () => {
    const runsOf = (hook: string, command: string) =>
      toEvents(
        hook,
        claude(hook, {
          tool_name: 'Bash',
          tool_input: { command },
          ...(hook === 'PostToolUse'
            ? { tool_response: { stdout: '', stderr: '', interrupted: false, isImage: false } }
            : { error: 'Exit code 1\nfailed' }),
        }),
        T,
      )
        .filter((event) => event.type === 'test.run')
        .map((event) => event.data);
    const U = 'unknown';
    // command, what a success says, what a failure says
    const table: [string, 'passed' | typeof U, 'failed' | typeof U][] = [
      // Either failed: the tests failed.
      ['npm test && npm run test:e2e', 'passed', 'failed'],
      ['pytest tests/unit && pytest tests/e2e', 'passed', 'failed'],
      // The last one's status: a failure is its, a success says nothing of the first.
      ['pytest tests/unit; pytest tests/e2e', U, 'failed'],
      ['npm test\nnpx vitest run --project e2e', U, 'failed'],
      // A retry: a failure is the second run's, a success may be either's.
      ['npm test || npm test', U, 'failed'],
      // The build between them may have failed.
      ['go test ./... && npm run build && cargo test', 'passed', U],
      // A test command in a comment is not run; the one after it is.
      ['# npm test is slow\npytest -q', 'passed', 'failed'],
    ];
    for (const [command, success, failure] of table) {
      expect(runsOf('PostToolUse', command), command).toEqual([
        success === U ? { command, outcome: U } : { command, passed: true, exit_code: 0 },
      ]);
      expect(runsOf('PostToolUseFailure', command), command).toEqual([
        failure === U ? { command, outcome: U } : { command, passed: false, exit_code: 1 },
      ]);
    }
  });

  it('reads pipefail from the set commands before the pipe, not from the word anywhere in the line', () => {
    const run = (command: string) =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', {
          tool_name: 'Bash',
          tool_input: { command },
          tool_response: { stdout: '', stderr: '', interrupted: false, isImage: false },
        }),
        T,
      ).find((event) => event.type === 'test.run')!.data;
    // On: the pipe's status is 0 only when every command in it exited 0.
    for (const command of [
      'set -o pipefail; npm test | tail -5',
      'set -euo pipefail\nnpm test | tee log.txt',
      'set -e -o pipefail && npm test 2>&1 | tail -5',
      'set -oe pipefail; npm test | tail -5',
      'set +o pipefail; set -o pipefail; npm test | tail -5',
      // A set piped or sent to the background runs in a subshell: the shell's options stay.
      'set -o pipefail; set +o pipefail | true; npm test | tail -5',
      'set -o pipefail; true | set +o pipefail; npm test | tail -5',
      'set -o pipefail; set +o pipefail & npm test | tail -5',
    ]) {
      expect(run(command), command).toEqual({ command, passed: true, exit_code: 0 });
    }
    // Off, or not set before the pipe: its status is tail's.
    for (const command of [
      'set +o pipefail; npm test | tail -5',
      'set -o pipefail; set +o pipefail; npm test | tail -5',
      'set -euo pipefail; set +euo pipefail; npm test | tail -5',
      'set -o pipefail | true; npm test | tail -5',
      'true | set -o pipefail; npm test | tail -5',
      '(set -o pipefail); npm test | tail -5',
      // Another option's name, or a word that is more than the name (bash: invalid option name).
      'set -o errtrace; npm test | tail -5',
      'set -o pipefails; npm test | tail -5',
      // An argument or `-` ends the options: the `-o` after it is a positional parameter.
      'set build -o pipefail; npm test | tail -5',
      'set - -o pipefail; npm test | tail -5',
      'echo pipefail; npm test | tail -5',
      'echo "set -o pipefail"; npm test | tail -5',
      'set -- -o pipefail; npm test | tail -5',
      'git commit -m pipefail && npm test | tail -5',
      'npm test | grep -v pipefail',
    ]) {
      expect(run(command), command).toEqual({ command, outcome: 'unknown' });
    }
  });

  it('finds a test command only where the shell runs it as a command, not in quotes, arguments or here-documents', () => {
    const table: [string, string, string][] = [
      // In a commit message, an argument, a here-document or a here-string: no test run.
      ['git add -A && git commit -m "fix: npm test flake"', 'none', 'none'],
      ["git commit -m 'run pytest before merging'", 'none', 'none'],
      ['echo npm test', 'none', 'none'],
      ['grep -rn "jest" src && echo "mocha"', 'none', 'none'],
      ["cat > ci.yml <<'EOF'\n  - run: npm test\nEOF\necho written", 'none', 'none'],
      ['cat <<< "npm test"', 'none', 'none'],
      ['bash -c "echo npm test"', 'none', 'none'],
      // After a prefix, assignments, a package runner, or with its path.
      ['time npm test', 'passed', 'failed'],
      ['env CI=1 npm test', 'passed', 'failed'],
      ['CI=1 FORCE_COLOR=0 npx vitest run', 'passed', 'failed'],
      ['sudo -u ci npm test', 'passed', 'failed'],
      ['timeout 600 pytest -q', 'passed', 'failed'],
      ['uv run pytest', 'passed', 'failed'],
      ['npx -y vitest run', 'passed', 'failed'],
      ['./node_modules/.bin/vitest run', 'passed', 'failed'],
      // A quoted `;` or `&&` does not start a command.
      ['echo "a; npm test" && pytest', 'passed', 'unknown'],
      ['git commit -m "x && npm test"', 'none', 'none'],
      // After a here-document: the command after its delimiter runs.
      ['cat <<EOF > notes.txt\nnpm test\nEOF\npytest', 'passed', 'failed'],
      // With CRLF line ends too (its delimiter word `EOF\r`, its lines `EOF\r`), quoted or not.
      ['cat > notes.txt <<EOF\r\nnpm test\r\nEOF\r\npytest', 'passed', 'failed'],
      ["cat > notes.txt <<'EOF'\r\nnpm test\r\nEOF\r\npytest", 'passed', 'failed'],
      ['cat > notes.txt <<-EOF\r\n\tnpm test\r\n\tEOF\r\npytest', 'passed', 'failed'],
      // `bash -c` / `sh -c`: the script is read as a line of its own, its status the command's.
      ['bash -c "npm test"', 'passed', 'failed'],
      // An array assignment's words and parentheses are its own (no subshell): read as `CI=1 && npm test`.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's expansion of the array, not a template
      ['files=(src/*.test.ts "a b.ts") && npx vitest run "${files[@]}"', 'passed', 'unknown'],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's expansion of the array, not a template
      ['args=(--reporter=dot\n  --bail); npm test -- "${args[@]}"', 'passed', 'failed'],
      ['x=(npm test)', 'none', 'none'],
      ['x=(a; npm test', 'none', 'none'],
      ["sh -c 'cd app && npm test'", 'passed', 'unknown'],
      ['bash -lc "npm test | tail -5"', 'unknown', 'unknown'],
      ['bash -c "npm test" && npm run build', 'passed', 'unknown'],
      // The listing check is each test command's: `--co` lists, the second pytest runs.
      ['pytest --co && pytest', 'passed', 'unknown'],
      ['pytest --collect-only -q', 'none', 'none'],
      ['cargo test -- --list', 'none', 'none'],
      // Built, not run; go's -c only, not another option that starts with it, nor another runner's -c.
      ['cargo test --no-run', 'none', 'none'],
      ['deno test --no-run && deno test', 'passed', 'unknown'],
      ['go test -c ./calc', 'none', 'none'],
      ['/usr/lib/go/bin/go test -race -c -o calc.test ./calc', 'none', 'none'],
      ['go test -count=1 -cover ./...', 'passed', 'failed'],
      ['pytest -c ci.ini', 'passed', 'failed'],
      ['npx vitest --help; npm test', 'passed', 'failed'],
      // A test command's words are one command's: `make` then `test -f …` on the next line is none.
      ['make\ntest -f dist/index.js', 'none', 'none'],
    ];
    expectVerdicts(table);
  });

  it('recognizes every documented test command, after every documented prefix, runner, shell and assignment', () => {
    const run = ['passed', 'failed'];
    const none = ['none', 'none'];
    const commands = [
      // docs/bridge.md's test commands.
      'go test ./...',
      'cargo test',
      'make test',
      'mvn test',
      'gradle test',
      './gradlew test',
      'dotnet test',
      'python -m pytest -q',
      'python3 -m unittest',
      'rspec',
      'phpunit',
      'npx jest',
      'npx mocha',
      'npx playwright test',
      'deno test -A',
      'node --test',
      'swift test',
      'mix test',
      'bazel test //...',
      'ctest --output-on-failure',
      'cargo nextest run',
      // Its prefixes, with their options that take an argument.
      'nohup npm test',
      'command npm test',
      'exec npm test',
      'nice -n 10 npm test',
      'env -u HOME npm test',
      'timeout -s KILL 600 pytest',
      'timeout -k 5 600 pytest',
      // Its package runners and their verbs.
      'bunx vitest run',
      'npm exec vitest',
      'pnpm exec jest',
      'pnpm dlx vitest run',
      'bun x vitest',
      'yarn jest',
      'poetry run pytest',
      'pipenv run pytest',
      'pdm run pytest',
      'bundle exec rspec spec/models',
      // Its shells' -c scripts.
      'zsh -c "npm test"',
      'dash -c "npm test"',
      'ksh -c "npm test"',
      // Assignments: a name of letters, digits (not first) and _.
      'AZaz_09=1 npm test',
    ];
    for (const command of commands) expect(verdicts(command), command).toEqual(run);
    // Its words may be apart by more than one blank.
    for (const command of [
      'npm  run  test',
      'go  test',
      'cargo  nextest  run',
      'node  --test',
      'python3  -m  unittest',
      'mvn  test',
      'gradle  test',
      'dotnet  test',
    ]) {
      expect(verdicts(command), command).toEqual(run);
    }
    // Not an assignment (a digit first): a command of its own, and npm its argument.
    expect(verdicts('1X=2 npm test')).toEqual(none);
    // Node's runner only as its first option (`--test-reporter` alone runs a script); listing is none.
    expect(verdicts('node --test-reporter=spec build.js')).toEqual(none);
    expect(verdicts('npx playwright test --list')).toEqual(none);
    expect(verdicts('bundle install && bundle exec rake db:migrate')).toEqual(none);
    // cargo's other commands: its names of test commands are `test` and `nextest run`.
    expect(verdicts('cargo build')).toEqual(none);
    expect(verdicts('cargo nextest list')).toEqual(none);
    // npx's other tools, with a word of a test command in the line.
    expect(verdicts('npx prettier --check .')).toEqual(none);
    expect(verdicts('npx tsc --build')).toEqual(none);
  });

  it("recognizes monorepo tools' and JVM and Python runners' test commands, and none of their look-alikes", () => {
    const run = ['passed', 'failed'];
    const none = ['none', 'none'];
    for (const command of [
      // turbo, its tasks after options and other tasks, in a package; through a package runner.
      'turbo run test',
      'turbo test',
      'turbo run test --filter=web',
      'turbo run lint test --output-logs=errors-only',
      'turbo run web#test',
      'turbo run test:unit',
      'npx turbo run test',
      'pnpm turbo test',
      // nx: its test command, a project's target (with a configuration), run-many and affected.
      'nx test api',
      'nx test api --watch=false',
      'nx run api:test',
      'nx run @acme/api:test:ci',
      'nx run-many -t test',
      'nx run-many -t lint test --output-style=stream',
      'nx run-many --target=test --all',
      'nx run-many --targets=lint,test',
      'nx affected -t test',
      'nx affected --target test --base=main',
      'nx affected:test',
      'npx nx test api',
      'nx run-many -t build test',
      'nx affected --targets lint test --parallel 3',
      'nx run-many --parallel -t test',
      // Maven: the phases that run Surefire, after options (with their arguments) and other phases.
      './mvnw test',
      'mvn -B test',
      'mvn clean test',
      'mvn verify',
      './mvnw -B -ntp clean verify',
      'mvn -pl core -am test',
      'mvn -Dtest=CalcTest test',
      'mvn surefire:test',
      'mvn -B \\\n  verify',
      'mvn -DskipTests=false verify',
      // Maven's later phases, which run the tests first.
      'mvn package',
      'mvn clean install',
      './mvnw -B deploy',
      'mvn integration-test',
      // Gradle: test and check, a project's, Android's unit tests; build, which runs check.
      './gradlew check',
      'gradle clean check',
      './gradlew :app:test',
      'gradle -p api --console plain test',
      './gradlew testDebugUnitTest',
      './gradlew build',
      // Windows' wrappers, run from Git Bash or WSL; a redirection after the tasks.
      'gradlew.bat test',
      './gradlew.bat build',
      'mvnw.cmd verify',
      'mvn.cmd -B test',
      './gradlew test > build.log',
      'gradle clean :app:build',
      './gradlew build --include-build test',
      // The workspaces of npm, pnpm, yarn, bun.
      'pnpm -r test',
      'pnpm -r run test',
      'pnpm --recursive --parallel test',
      'pnpm --filter x test',
      'pnpm --filter "./packages/**" test',
      'pnpm -F api test',
      'pnpm --filter=api test',
      // pnpm's -w is --workspace-root, which takes no argument (npm's -w takes a workspace).
      'pnpm -w test',
      'pnpm -w run test',
      // npm's and pnpm's aliases of test.
      'npm t',
      'npm tst',
      'npm t -- --watch=false',
      'pnpm t',
      'npm -w api t',
      'yarn workspaces foreach run test',
      'yarn workspaces foreach -A run test',
      'yarn workspaces foreach --all --topological -j 4 run test',
      'yarn workspaces run test',
      'yarn workspace @acme/api test',
      'yarn workspace api run test',
      'npm -w api test',
      'npm --prefix api test',
      "bun --filter '*' test",
      // Python: tox and nox, alone or with test environments; hatch; a versioned python.
      'tox',
      'tox -e py312',
      'tox run -e py311,py312',
      'tox -p',
      'tox -e ALL',
      'nox',
      'nox -s tests',
      'nox --session unit',
      // Options after `--` are the test command's (posargs), not tox's or nox's.
      'tox -e py312 -- -s src/',
      'nox -s tests -- -l',
      'uv run tox',
      'hatch test',
      'python3.12 -m pytest',
      // Ruby's minitest through rails and rake.
      'bin/rails test',
      'bundle exec rake test',
      'bin/rails test:system',
      // rails's and rake's test tasks after other tasks (the Rails CI template's line).
      'bin/rails db:test:prepare test test:system',
      'bin/rails test:prepare test',
      'rails db:migrate RAILS_ENV=test test',
      'bundle exec rake db:migrate test',
      // lerna's run of the packages' test script.
      'lerna run test',
      'npx lerna run test --stream',
      'lerna run test --scope api',
      'lerna run --scope api test',
      'lerna run lint,test',
      // lerna's exec of a test command in each package, after its options (with their arguments) and --.
      'lerna exec -- npm test',
      'lerna exec npm test',
      'npx lerna exec -- npm test',
      'lerna exec --scope api -- npm test',
      'lerna exec --scope=api --stream -- npx vitest run',
      'lerna exec --concurrency 1 -- bash -c "npm test"',
      'lerna --loglevel silent exec -- pnpm test',
      'lerna exec --max-buffer 1000000 -- npm test',
      // The command quoted whole: lerna exec runs it in a shell, its words joined.
      'lerna exec "npm test"',
      "lerna exec -- 'npx vitest run'",
      'lerna exec --scope api "npm test" -- --coverage',
      'lerna run --max-buffer 1000000 test',
      // npm's workspaces, as options after test.
      'npm test --workspaces',
      'npm test -ws',
      'npm run test --workspaces',
      'npm test --workspace=api',
      // Tests named, with -x check.
      './gradlew test -x check',
      './gradlew :app:test -x check',
      // A project's test task left out: another project's named still runs.
      './gradlew :lib:test :app:test -x :lib:test',
    ]) {
      expect(verdicts(command), command).toEqual(run);
    }
    for (const command of [
      // Text, arguments, files.
      'git commit -m "fix test"',
      'echo test',
      'cat test.txt',
      // A script named t, npm's and pnpm's other commands starting with t.
      'npm run t',
      'pnpm run tst',
      'npm token list',
      'npm team ls acme',
      'ls tests/',
      // Maven: goals that run no test (test-compile only compiles them), skipped tests, `test` as a value.
      'mvn compile',
      'mvn test-compile',
      'mvn -DskipTests verify',
      'mvn clean verify -Dmaven.test.skip=true',
      'mvn -pl test compile',
      'mvn -f test/pom.xml compile',
      'mvn dependency:tree -Dincludes=test',
      'mvn --version',
      // nx: other targets, `test` as a project or an option's value.
      'nx build',
      'nx build test-app',
      'nx run api:build',
      'nx run test-app:build',
      'nx run-many -t build',
      'nx run-many -t build --exclude test',
      'nx affected -t lint --projects test',
      'nx show projects --with-target test',
      // A word after another option than -t: its value (`--parallel 3`), or no target (`--nxBail`, a flag).
      'nx run-many -t build --parallel test',
      'nx run-many -t build --nxBail test',
      // turbo: other tasks, `test` as a filter, its other commands.
      'turbo run build',
      'turbo run build --filter test',
      'turbo run testing',
      'turbo prune test',
      'turbo --cwd test run build',
      'turbo run build --cwd test',
      'turbo run build --ignore test',
      'turbo run build --global-deps test',
      'nx run-many -t build --runner test',
      'mvn -gt test compile',
      'mvn clean install -DskipTests',
      'mvn install:install-file -Dfile=x.jar',
      'pnpm -r --resume-from test build',
      'pnpm --test-pattern test build',
      'npm --tag test publish',
      // Package managers: installs, `test` as a package or an option's argument.
      'npm install',
      'npm install test',
      'npm -w test-utils run build',
      'pnpm --filter test-utils build',
      'pnpm -F test build',
      'yarn workspace test-utils build',
      'yarn workspaces foreach -A run build',
      'yarn workspaces foreach --include test run build',
      // Gradle: other tasks, the test task left out.
      './gradlew assemble',
      './gradlew build -x test',
      './gradlew testClasses',
      './gradlew check -x test',
      './gradlew :lib:test -x :lib:test',
      'gradle :lib:test --exclude-task=:lib:test',
      // A quoted value's blank is in its word: its `test` is no task.
      './gradlew build -x check -Pnotes="a test"',
      "./gradlew :lib:check -x :lib:test -Dargs='--only test'",
      // Gradle's dry run: it runs no task.
      './gradlew -m build',
      './gradlew -m test',
      'gradle --dry-run test',
      // lerna: other scripts, `test` as an option's value.
      'lerna run build',
      'lerna run testing',
      'lerna run --scope test build',
      'lerna run --max-buffer test build',
      // After `--`, an argument of the script run.
      'lerna run build -- test',
      // lerna exec of another command, `test` an option's value or the command's argument; lerna's others.
      'lerna exec -- npm run build',
      'lerna exec "npm run build"',
      'lerna exec "echo npm test"',
      'lerna exec --scope test -- npm run build',
      'lerna exec -- ls test',
      'lerna exec -- npx vitest --help',
      'lerna list test',
      'lerna --scope test info',
      // A test command's name where lerna's command goes: lerna refuses it and runs nothing.
      'lerna pytest',
      'npx lerna vitest run',
      'lerna --scope api jest',
      'lerna "tox"',
      // rails and rake: the test database prepared, `test` as a command's argument, a listing.
      'rails db:test:prepare',
      'bundle exec rake db:test:prepare',
      'rails db:migrate test:prepare',
      'rails generate model test',
      'rake -T test',
      // check left out of build (or check), and its tests with it; Maven's tests skipped by their old name;
      // rails's test:prepare, which prepares the test database and assets.
      './gradlew build -x check',
      // A redirection's target is no task (test, test.log), and the options after it are Gradle's.
      './gradlew build -x check > test',
      './gradlew build -x check 2> test',
      './gradlew build -x check &>> test',
      './gradlew build > test -x check',
      'gradlew.bat build -x test',
      'mvnw.cmd verify -DskipTests',
      'gradle build --exclude-task check',
      './gradlew check -x check',
      'mvn package -Dmaven.test.skip.exec=true',
      'mvn verify -Dmaven.test.skip.exec',
      'bin/rails test:prepare',
      'rake test:prepare',
      // Gradle: `test` as the value of a task's option or of an option not of the test run.
      './gradlew help --task test',
      'gradle init --project-name test',
      'gradle init --type java-library --package test',
      './gradlew dependencies --configuration test',
      './gradlew assemble --include-build test',
      './gradlew -P test assemble',
      // tox, nox: listing, setting up only, environments that run no test, other commands, other names.
      'tox list',
      'tox -l',
      'tox --notest',
      'tox -e lint',
      'tox -e docs,type',
      'tox -e lint -- -e py312',
      'nox -s lint',
      'nox --list',
      'tox --version',
      'toxic',
      'hatch build',
      'uv pip install tox',
    ]) {
      expect(verdicts(command), command).toEqual(none);
    }
  });

  it("reads Gradle's test tasks left out as Gradle does, its flags put together, the root's task left out as unknown", () => {
    const table: [string, string, string][] = [
      // A project's check left out: its tests still run for the test task named (a task named runs).
      ['./gradlew test -x :lib:check', 'passed', 'failed'],
      // Every project's task named, a project's test (or check) left out: the others' tests run if they have
      // some (none in a build of the root and lib alone, as gradle init makes).
      ['./gradlew build -x :lib:check', 'unknown', 'unknown'],
      ['./gradlew check -x :lib:check', 'unknown', 'unknown'],
      ['./gradlew test -x :lib:test', 'unknown', 'unknown'],
      ['./gradlew check --exclude-task :app:test', 'unknown', 'unknown'],
      ['./gradlew testDebugUnitTest -x :lib:testDebugUnitTest', 'unknown', 'unknown'],
      ['./gradlew :app:test -x :lib:test', 'passed', 'failed'],
      // A project's check or build named, its test (or check) left out: none of its tests run.
      ['./gradlew :lib:check -x :lib:test', 'none', 'none'],
      ['./gradlew :lib:build -x :lib:check', 'none', 'none'],
      ['./gradlew :lib:build -x lib:test', 'none', 'none'],
      ['gradle lib:check --exclude-task :lib:test', 'none', 'none'],
      ['./gradlew :lib:check :app:test -x :lib:test', 'passed', 'failed'],
      // The root's task left out: the other projects' run in a build of many, none in a build of one.
      ['./gradlew test -x :test', 'unknown', 'unknown'],
      ['./gradlew build -x :check', 'unknown', 'unknown'],
      ['./gradlew test -x :lib:test -x :test', 'unknown', 'unknown'],
      ['./gradlew :test -x :test', 'none', 'none'],
      ['./gradlew :build -x :check', 'none', 'none'],
      ['./gradlew test -x :test -x test', 'none', 'none'],
      // -x's argument stuck to it, or after =; --exclude-task=.
      ['./gradlew build -xtest', 'none', 'none'],
      ['./gradlew build -x=test', 'none', 'none'],
      ['./gradlew check --exclude-task=test', 'none', 'none'],
      // A dry run among other flags (-qm is -q -m), or its long option with one -.
      ['./gradlew -qm build', 'none', 'none'],
      ['./gradlew -mq test', 'none', 'none'],
      ['./gradlew -dry-run test', 'none', 'none'],
      ['./gradlew -q test', 'passed', 'failed'],
      ['./gradlew -Dm=1 test', 'passed', 'failed'],
      ['./gradlew -Pmode=ci test', 'passed', 'failed'],
      // Other tasks beside, blanks, a project's task left out by -x test (every project's), a task by its name.
      ['./gradlew clean check -x test', 'none', 'none'],
      ['./gradlew build -x  test', 'none', 'none'],
      ['./gradlew :lib:check -x test', 'none', 'none'],
      ['./gradlew testDebugUnitTest -x testDebugUnitTest', 'none', 'none'],
      // Another test task named is not left out by -x test or -x check.
      ['./gradlew testDebugUnitTest -x test', 'passed', 'failed'],
    ];
    expectVerdicts(table);
  });

  it('reads a Gradle line as Gradle parses it: --x, an option without its argument refused, abbreviated task names as unknown', () => {
    const table: [string, string, string][] = [
      // Gradle takes -- before a short option too, and a short one's letter after --: --x is -x, --m -m.
      ['./gradlew build --x test', 'none', 'none'],
      ['./gradlew --x=test check', 'none', 'none'],
      ['./gradlew --m test', 'none', 'none'],
      ['./gradlew --q test', 'passed', 'failed'],
      // --x's value with no test task named, as -x's (./gradlew -x test): the default tasks run, test left out.
      ['./gradlew --x test', 'none', 'none'],
      ['./gradlew assemble --x test', 'none', 'none'],
      ['./gradlew --x :test', 'none', 'none'],
      ['./gradlew -exclude-task test', 'none', 'none'],
      ['./gradlew -x test', 'none', 'none'],
      // An option of Gradle's own without its argument: Gradle refuses the line and runs no task.
      ['./gradlew -qx test', 'none', 'none'],
      ['./gradlew -qx test build', 'none', 'none'],
      ['./gradlew -p -m lint test', 'none', 'none'],
      ['./gradlew test -x', 'none', 'none'],
      ['./gradlew test -x --info', 'none', 'none'],
      ['./gradlew test -x=', 'none', 'none'],
      ['./gradlew test --project-dir', 'none', 'none'],
      ['./gradlew test --project-prop', 'none', 'none'],
      // A task's option without its argument is the task's to read (test's --tests), and -- ends the options,
      // the one before it left without its argument (Gradle drops it).
      ['./gradlew test --tests', 'passed', 'failed'],
      ['./gradlew -x -- test', 'passed', 'failed'],
      ['./gradlew test -x -- lint', 'passed', 'failed'],
      // A redirection between -x and its argument: Gradle gets the word after its target.
      ['./gradlew build -x > build.log test', 'none', 'none'],
      ['./gradlew build -x 2>&1 test', 'none', 'none'],
      // Gradle's long options that take an argument, test their value.
      ['./gradlew --project-prop test assemble', 'none', 'none'],
      ['./gradlew --system-prop test assemble', 'none', 'none'],
      ['./gradlew -xp test', 'passed', 'failed'],
      // A test task's name abbreviated, or in other capitals: the one task whose name starts so, or a line
      // Gradle refuses when two do (t: test and tasks), so unknown; named or left out.
      ['gradle t', 'unknown', 'unknown'],
      ['./gradlew che', 'unknown', 'unknown'],
      ['gradle b', 'unknown', 'unknown'],
      ['./gradlew TEST', 'unknown', 'unknown'],
      ['./gradlew Check', 'unknown', 'unknown'],
      ['./gradlew :lib:te', 'unknown', 'unknown'],
      ['./gradlew tDUT', 'unknown', 'unknown'],
      ['./gradlew clean tes', 'unknown', 'unknown'],
      ['gradle -x t test', 'unknown', 'unknown'],
      ['./gradlew build -x che', 'unknown', 'unknown'],
      ['./gradlew check -x :lib:t', 'unknown', 'unknown'],
      ['./gradlew testDebugUnitTest -x tDUT', 'unknown', 'unknown'],
      ['./gradlew che -x test', 'unknown', 'unknown'],
      // Not an abbreviation of a test task, or one left out that the task named does not run.
      ['./gradlew tasks', 'none', 'none'],
      ['./gradlew clean', 'none', 'none'],
      ['./gradlew bootRun', 'none', 'none'],
      ['./gradlew buildEnvironment', 'none', 'none'],
      ['./gradlew test -x b', 'passed', 'failed'],
      ['./gradlew test -x ch', 'passed', 'failed'],
      ['./gradlew testDebugUnitTest -x t', 'passed', 'failed'],
      // Windows' scripts in any capitals (Windows finds them so); a name without .bat or .cmd in its own.
      ['GRADLEW.BAT test', 'passed', 'failed'],
      ['Gradlew.Bat build', 'passed', 'failed'],
      ['gradlew.BAT build -x test', 'none', 'none'],
      ['MVNW.CMD verify', 'passed', 'failed'],
      ['mvn.CMD -B package', 'passed', 'failed'],
      ['MVNW.CMD verify -DskipTests', 'none', 'none'],
      ['MVN test', 'none', 'none'],
      // A quoted value, an empty one (Gradle refuses it), a lone - as -x's value, flags that take none.
      ['./gradlew build -x "test"', 'none', 'none'],
      ["./gradlew -p '' test", 'none', 'none'],
      ["./gradlew test -x ''", 'none', 'none'],
      ['./gradlew test -x -', 'passed', 'failed'],
      ['./gradlew -xp -q test', 'passed', 'failed'],
      ['./gradlew -q -i test', 'passed', 'failed'],
      ['./gradlew -qix test', 'none', 'none'],
      // An abbreviation left out, of every project's task or of one project's, from a project's task named.
      ['./gradlew :lib:test -x t', 'unknown', 'unknown'],
      ['./gradlew :lib:test -x :lib:t', 'unknown', 'unknown'],
      ['./gradlew test -x :t', 'unknown', 'unknown'],
      // A task's option's value is no task, though a test task is named beside.
      ['./gradlew :lib:check -x :lib:test help --task test', 'none', 'none'],
      // run's --args takes its value: no task.
      ['./gradlew run --args b', 'none', 'none'],
      ['./gradlew run --args test', 'none', 'none'],
    ];
    expectVerdicts(table);
    // Each start of test, check and build, in any capitals, and of a test…UnitTest's words.
    const abbreviations = [
      't',
      'te',
      'tes',
      'c',
      'ch',
      'che',
      'chec',
      'b',
      'bu',
      'bui',
      'buil',
      'BUILD',
      'tE',
    ];
    for (const name of [
      ...abbreviations,
      'tDebugUT',
      'teDUnT',
      'tesDebugUnitTe',
      'tDUTes',
      'testDUniTest',
      'tDebugReleaseUT',
    ]) {
      expect(verdicts(`./gradlew ${name}`), name).toEqual(['unknown', 'unknown']);
      // Left out, it may be a task that build runs.
      if (abbreviations.includes(name)) {
        expect(verdicts(`./gradlew build -x ${name}`), name).toEqual(['unknown', 'unknown']);
      }
    }
    // Gradle refusing the line is read so, not as a line the reader failed on.
    const refused = claude('PostToolUse', {
      tool_name: 'Bash',
      tool_input: { command: './gradlew test -x' },
    });
    expect(types(toEvents('PostToolUse', refused, T))).toEqual(['tool.used']); // no hook.rejected, no test.run
    // A name that is none of them, beside a test task left out: none.
    for (const name of [
      'tasks',
      'clean',
      'bootRun',
      'lint',
      'dist',
      'testClasses',
      'cleanTest',
      'xtest',
      'tDUTx',
      'rebuild',
      'precheck',
      'xtDUT',
      'tdUT',
      'tD-UT',
    ]) {
      expect(verdicts(`./gradlew ${name} build -x test`), name).toEqual(['none', 'none']);
    }
  });

  it('reads a line of a megabyte of test-command look-alikes in time linear in it', () => {
    // Each part repeated to a megabyte: a regular expression that read a part's rest, or the line's, at each
    // of its words (or at each `go test`) would take minutes; each finishes here in milliseconds.
    const size = 1_000_000;
    const repeat = (part: string) => part.repeat(Math.ceil(size / part.length));
    const lines: [string, string[]][] = [
      [`mvn ${repeat('tes test-x -Dtest "test \'tests ')}`, ['none', 'none']],
      [`mvn ${repeat(' ')}tst`, ['none', 'none']],
      [repeat('mvn a test-b c\n'), ['none', 'none']],
      [`./mvnw ${repeat('-Dx ')}verify`, ['passed', 'failed']],
      [`pnpm ${repeat('-F ')}tests`, ['none', 'none']],
      [`yarn workspaces foreach ${repeat('-j -j ')}run tests`, ['none', 'none']],
      [`nx run-many ${repeat('a,tests, ')}x,testy`, ['none', 'none']],
      [`turbo run ${repeat('web#testy ')}`, ['none', 'none']],
      [`./gradlew ${repeat(':a:b:testy ')}`, ['none', 'none']],
      [`tox ${repeat(' -e')} lint`, ['none', 'none']],
      [`tox -e py ${repeat('-x ')}-- -e lint`, ['passed', 'failed']],
      [`nx run-many -t ${repeat('a,b ')}testy`, ['none', 'none']],
      [`nx affected ${repeat('-t a ')}`, ['none', 'none']],
      [repeat('go test '), ['passed', 'failed']],
      // Quoted prefixes and runners, each name matched without a copy of the rest of the line after it.
      [`${repeat('"env" ')}npm test`, ['passed', 'failed']],
      [`${repeat("'env' 'npm' ")}npm test`, ['passed', 'failed']],
    ];
    for (const [command, expected] of lines)
      expect(verdicts(command), command.slice(0, 40)).toEqual(expected);
  });

  it("reads a megabyte of lerna's, rails's, rake's and Gradle's look-alikes in time linear in it", () => {
    const size = 1_000_000;
    const repeat = (part: string) => part.repeat(Math.ceil(size / part.length));
    const lines: [string, string[]][] = [
      [`lerna run ${repeat('--scope a ')}testy`, ['none', 'none']],
      [`lerna run ${repeat('a,')}testy`, ['none', 'none']],
      [`rails ${repeat('a:b ')}testy`, ['none', 'none']],
      [`rake ${repeat('a ')}testy`, ['none', 'none']],
      [`lerna exec ${repeat('--scope a ')}-- npm tests`, ['none', 'none']],
      [`lerna exec ${repeat('--scope a ')}-- npm test`, ['passed', 'failed']],
      [`./gradlew ${repeat(':a:test ')}-x :a:test`, ['none', 'none']],
      [`./gradlew test -x ${repeat(':a')}:test ${repeat(':a:a ')}`, ['unknown', 'unknown']],
      [`./gradlew ${repeat(':a:te ')}`, ['unknown', 'unknown']],
      [`./gradlew test ${repeat('-x t ')}`, ['unknown', 'unknown']],
      [`./gradlew ${repeat('test :a:build ')}-x :test -x :a:check`, ['unknown', 'unknown']],
      [`./gradlew test ${repeat('-x :a:test ')}-x test`, ['none', 'none']],
      [`./gradlew ${repeat('-qi ')}-qm test`, ['none', 'none']],
    ];
    for (const [command, expected] of lines)
      expect(verdicts(command), command.slice(0, 40)).toEqual(expected);
  });

  it("reads a Gradle command's words that name no test task with no regular expression each: a word costs the same whatever the words' number", () => {
    // Counted, not timed: the regular expressions run (each `exec`) to read a Gradle command of 10 and of 1,000
    // words that name no test task are as many. A megabyte of them read with one each, and each copied, took
    // 3–4 times as long as before Gradle's line was read word by word.
    const execs = (command: string): number => {
      const exec = vi.spyOn(RegExp.prototype, 'exec');
      try {
        readsTestRun(command);
        return exec.mock.calls.length;
      } finally {
        exec.mockRestore();
      }
    };
    for (const [head, word] of [
      ['./gradlew test', 'lorem'],
      ['./gradlew build', "a'b'"],
      ['./gradlew test', '"d e"'],
      ['./gradlew check', '-x lint'],
      ['./gradlew test', ':app:lint'],
      ['gradle.bat test', '2> log'],
    ]) {
      const few = execs(`${head} ${`${word} `.repeat(10)}`);
      expect(execs(`${head} ${`${word} `.repeat(1_000)}`), `${head} ${word}`).toBe(few);
    }
    // A line of many Gradle commands: as many per command.
    const one = execs('./gradlew t');
    expect(execs(Array(100).fill('./gradlew t').join(' && '))).toBe(100 * one);
  });

  it('reads a quoted or escaped command name without its quotes and folders, as the shell runs it', () => {
    const table: [string, string, string][] = [
      // A path with a blank in it is quoted or escaped: the name is its last part.
      ['"/Users/me/My Project/node_modules/.bin/vitest" run', 'passed', 'failed'],
      ['"$HOME/work dir/.venv/bin/pytest" -q', 'passed', 'failed'],
      ['/Users/me/My\\ Project/node_modules/.bin/vitest run', 'passed', 'failed'],
      ["'npm' test", 'passed', 'failed'],
      // A backslash that skips an alias (`\\pytest`) is dropped.
      ['\\pytest -q', 'passed', 'failed'],
      ['"./vitest" run && npm run build', 'passed', 'unknown'],
      ['"sudo" npm test', 'passed', 'failed'],
      // In a `bash -c` script: `npm\ test` is the script `npm test`.
      ['bash -c npm\\ test', 'passed', 'failed'],
      // A blank left in the name: a command of that name, not a test command.
      ['"npm test"', 'none', 'none'],
      ["'vitest run' --coverage", 'none', 'none'],
      // Quoted, `time` is a program, not the reserved word: `{` is its argument.
      ["'time' { npm test; }", 'none', 'none'],
      // Quoted names that are not test commands, quoted arguments.
      ["echo 'npm' test", 'none', 'none'],
      ["cd 'test dir' && npm test", 'passed', 'failed'],
    ];
    expectVerdicts(table);
  });

  it("reads a tool's test word quoted whole as the word (npm 'test', go \"test\", mvn 'verify', ./gradlew \"test\"): they were none", () => {
    const commands = [
      ['npm', 'test'],
      ['npm', 'test:unit'],
      ['pnpm -r', 'test'],
      ['yarn run', 'test'],
      ['go', 'test ./...'],
      ['cargo', 'test'],
      ['mvn -B clean', 'verify'],
      ['./mvnw', 'test'],
      ['./gradlew', 'test'],
      ['./gradlew', ':app:check'],
      ['gradle', 'build'],
    ];
    for (const [tool, rest] of commands) {
      const [word, ...args] = rest!.split(' ');
      const plain = verdicts(`${tool} ${rest}`);
      expect(plain, `${tool} ${rest}`).toEqual(['passed', 'failed']);
      for (const quoted of [`'${word}'`, `"${word}"`]) {
        const line = [tool, quoted, ...args].join(' ');
        expect(verdicts(line), line).toEqual(plain);
      }
    }
    // A quoted word is still an argument where the plain one is (a message, echo's), and a word that only
    // begins so is none.
    for (const line of [
      "echo 'npm test'",
      "git commit -m 'go test'",
      "npm 'testing-library'",
      'mvn "test-compile"',
    ]) {
      expect(verdicts(line), line).toEqual(['none', 'none']);
    }
  });

  it("reads a test word quoted in parts as the word the shell gives (./gradlew te''st, npm t\"es\"t, go te'st' ./...): they were none", () => {
    const table: [string, string, string][] = [
      ["./gradlew te''st", 'passed', 'failed'],
      ['npm t"es"t', 'passed', 'failed'],
      ["go te'st' ./...", 'passed', 'failed'],
      ['cargo t\\est', 'passed', 'failed'],
      ["pnpm -r 'te'st:unit", 'passed', 'failed'],
      ['mvn -B clean "ver"ify', 'passed', 'failed'],
      ["./gradlew :app:'check'", 'passed', 'failed'],
      ["gradle ''b", 'unknown', 'unknown'],
      // A line's continuation in a word is removed (bash: `npm te\<newline>st` runs npm test); it was none.
      ['npm te\\\nst', 'passed', 'failed'],
      ['npm "te\\\nst"', 'passed', 'failed'],
      ["echo 'npm te\\\nst'", 'none', 'none'],
      // ANSI-C and translated quotes: `$'test'` and `$"test"` are test (they were read as $test: none).
      ["npm $'test'", 'passed', 'failed'],
      ["npm te$'s't", 'passed', 'failed'],
      ['npm $"test"', 'passed', 'failed'],
      ["$'pytest' -q", 'passed', 'failed'],
      ["npm $'te\\st'", 'none', 'none'],
      ['npm "$"\'test\'', 'none', 'none'],
      // Its options too, as the tool gets them: Gradle's task left out, go's build only, Maven's tests skipped.
      ["./gradlew te''st -x 'te'st", 'none', 'none'],
      ["go te'st' '-c'", 'none', 'none'],
      ['mvn verify "-DskipTests"', 'none', 'none'],
      ["pnpm '--filter' api test", 'passed', 'failed'],
      // A word whose text has a blank or a metacharacter is not the word.
      ["npm 'te st'", 'none', 'none'],
      ['npm "test;"x', 'none', 'none'],
      // Quoted arguments of other commands, and words that only begin so, stay none.
      ["echo 'npm test'", 'none', 'none'],
      ["echo npm te''st", 'none', 'none'],
      ["git commit -m 'go te''st'", 'none', 'none'],
      ["npm 'test'ing-library", 'none', 'none'],
      ['mvn "test"-compile', 'none', 'none'],
    ];
    expectVerdicts(table);
  });

  it('reads a quoted name of each test command as its name unquoted, with the rest of its command', () => {
    const commands = [
      'npm test',
      'pnpm -r --filter api test',
      'yarn workspace api test',
      'npx vitest run',
      'vitest',
      'cargo nextest run',
      'node --test',
      'python3.12 -m pytest',
      'turbo run lint test',
      'nx run api:test',
      'nx run-many -t lint,test',
      'mvnw -B clean verify',
      'gradlew :app:check',
      'tox -e py312',
      'tox run',
      'nox',
      // Look-alikes, none a test run, quoted or not.
      'npm run build',
      'npx eslint test',
      'turbo prune test',
      'nx affected --projects test',
      'gradlew help --task test',
      'tox list',
      'nox run',
      'toxic',
      // What a tool's options make no run, its name quoted too (they were not read after a quoted name).
      'mvn verify -DskipTests',
      'gradlew check -x test',
      'go test -c',
      'tox -e lint',
    ];
    for (const command of commands) {
      const [name, ...rest] = command.split(' ');
      const plain = verdicts(command);
      for (const quoted of [`"${name}"`, `'${name}'`, `"./bin/${name}"`]) {
        expect(verdicts([quoted, ...rest].join(' ')), quoted).toEqual(plain);
        expect(verdicts(`${[quoted, ...rest].join(' ')} # runs ${name}`), quoted).toEqual(plain);
        expect(verdicts(`${[quoted, ...rest].join(' ')}; echo done`), quoted).toEqual(
          plain[0] === 'none' ? plain : ['unknown', 'unknown'],
        );
      }
    }
    expect(verdicts('"tox">tox.log')).toEqual(verdicts('tox>tox.log'));
    // `node --test` and `tox` right before the command's end: `;`, `)`, a comment.
    expectVerdicts([
      ['node --test; echo $?', 'unknown', 'unknown'],
      ['(node --test)', 'passed', 'failed'],
      ['tox # every environment', 'passed', 'failed'],
      ['"mvn" verify -DskipTests', 'none', 'none'],
    ]);
  });

  it('reads `time` as the reserved word it is before a pipeline, and the options of `exec` and `env`', () => {
    const table: [string, string, string][] = [
      // `time` may be followed by `!` or a group, as a pipeline's start may.
      ['time { npm test; }', 'passed', 'failed'],
      ['time -p { npm run build && npm test; }', 'passed', 'unknown'],
      ['time (npm test)', 'passed', 'failed'],
      ['time ! npm test', 'unknown', 'unknown'],
      ['! time npm test', 'unknown', 'unknown'],
      ['time -p npm test', 'passed', 'failed'],
      // Another prefix before `{` runs a command named `{` (and the `}` is a syntax error): no tests run.
      ['sudo { npm test; }', 'none', 'none'],
      // `exec -a NAME` takes an argument; `env -` is `env -i`.
      ['exec -a runner npm test', 'passed', 'failed'],
      ['env - PATH=/usr/bin npm test', 'passed', 'failed'],
      ['env -i npm test', 'passed', 'failed'],
    ];
    expectVerdicts(table);
  });

  it("ends a brace group at its `}` followed by a blank, a newline or a metacharacter; a group's commands are a list's", () => {
    const table: [string, string, string][] = [
      // The shell's metacharacters end the word `}` as a blank does.
      ['{ npm test; }>test.log', 'passed', 'failed'],
      ['{ npm test; }&& npm run build', 'passed', 'unknown'],
      ['{ npm test; }|| echo failed', 'unknown', 'failed'],
      ['{ npm test; }| tail -5', 'unknown', 'unknown'],
      ['(cd app && { npm test; })', 'passed', 'unknown'],
      // Other characters make it a word (`}x`, `}2>&1`): the group is not closed.
      ['{ npm test; }x', 'unknown', 'unknown'],
      ['{ npm test; }2>&1', 'unknown', 'unknown'],
      ['{ npm run build; } 2>&1 && npm test', 'passed', 'unknown'],
      ['{ npm run build; }\t&& npm test', 'passed', 'unknown'],
      ['{ npm run build; }\nnpm test', 'passed', 'failed'],
      ['{ npm run build; }\r\nnpm test', 'passed', 'failed'],
      // A group after a `;` starts a list of its own: its status is the line's.
      ['npm test; (cd .. && ls)', 'unknown', 'unknown'],
      // A group without test commands gives the line none.
      ['(cd docs && make html) && echo "now run npm test"', 'none', 'none'],
      // A bash -c script's escaped quotes are its quotes; -l is not -e.
      ['bash -c "echo \\"a; npm test\\""', 'none', 'none'],
      ['bash -lc "npm test; echo done"', 'unknown', 'unknown'],
    ];
    expectVerdicts(table);
  });

  it('splits a line into commands as the shell does: substitutions, quotes, escapes, redirections, comments', () => {
    const table: [string, string, string][] = [
      // A `$(…)` is part of its word, in double quotes or not, its quotes and here-documents included: the
      // command after it is read (an apostrophe in a commit message's here-document opens no quote).
      ['now=$(date +%s); npm test', 'passed', 'failed'],
      ['echo "start: $(date)" && npm test', 'passed', 'unknown'],
      ["sha=$(git log -1 --format='%h'); npm test", 'passed', 'failed'],
      ['sha=$(git log -1 --format="%h"); npm test', 'passed', 'failed'],
      ["git commit -m \"$(cat <<'EOF'\nfix: don't drop events\nEOF\n)\" && npm test", 'passed', 'unknown'],
      ['git commit -m "$(cat <<\'EOF\'\nfix: x\nEOF)" && npm test', 'passed', 'unknown'],
      // Nested, and a `)` quoted or escaped in it, does not end it.
      ['dir=$(basename $(pwd)); npm test', 'passed', 'failed'],
      ["n=$(grep -c ')' src/a.ts); npm test", 'passed', 'failed'],
      ['n=$(grep -c ")" src/a.ts); npm test', 'passed', 'failed'],
      ['n=$(grep -c \\) src/a.ts); npm test', 'passed', 'failed'],
      // A process substitution too.
      ['npm test 2> >(tee err.log >&2)', 'passed', 'failed'],
      ['pytest -c <(echo "[pytest]")', 'passed', 'failed'],
      // An escaped quote stays in its string; an escaped `;` is a word (find's).
      ['echo "say \\"hi\\"; npm test"', 'none', 'none'],
      ['find . -name "*.snap" -exec rm {} \\; && npm test', 'passed', 'unknown'],
      // Operators without blanks around them; `&>` is a redirection, not `&`.
      ['npm test|tail -5', 'unknown', 'unknown'],
      ['yes|npx vitest run', 'passed', 'failed'],
      ['npm ci &&\n\tnpm test', 'passed', 'unknown'],
      ['npm test&&npm run build', 'passed', 'unknown'],
      ['npm test &> test.log', 'passed', 'failed'],
      // A comment ends the command: its `||` is not an operator.
      ['npm test # || true', 'passed', 'failed'],
    ];
    expectVerdicts(table);
  });

  it("reads a group, ( … ) or { …; }, as one command whose status is its list's", () => {
    const table: [string, string, string][] = [
      ['{ npm test; }', 'passed', 'failed'],
      ['(npm test)', 'passed', 'failed'],
      ['(cd app && npm test)', 'passed', 'unknown'],
      ['npm run build && (cd app && npm test)', 'passed', 'unknown'],
      ['{ npm test; echo done; }', 'unknown', 'unknown'],
      ['(npm test) 2>&1 | tail -5', 'unknown', 'unknown'],
      ['(npm test || true)', 'unknown', 'failed'],
      ['(npm test) && (pytest)', 'passed', 'failed'],
      // A subshell's set options end with it; a brace group's do not.
      ['(set -o pipefail; npm test | tail -5)', 'passed', 'unknown'],
      ['(set -o pipefail); npm test | tail -5', 'unknown', 'unknown'],
      ['{ set -o pipefail; }; npm test | tail -5', 'passed', 'unknown'],
      // Under pipefail, a group whose success shows nothing of its tests shows nothing in a pipe either.
      ['set -o pipefail; { npm test; echo done; } | tail -5', 'unknown', 'unknown'],
      // Not closed, or closed without being opened: unknown.
      ['(npm test', 'unknown', 'unknown'],
      ['npm test)', 'unknown', 'unknown'],
      // … but a group left open without a test command gives the line none.
      ['(cd test && ls', 'none', 'none'],
    ];
    expectVerdicts(table);
  });

  it('claims nothing of a line with a quote or a $( left open: the shell rejects it and runs none of it', () => {
    const table: [string, string, string][] = [
      // An apostrophe in a single-quoted test name: bash fails with status 2 before running a command.
      ["npx vitest run -t 'doesn't drop events'", 'unknown', 'unknown'],
      ['npm test -- --grep "flaky', 'unknown', 'unknown'],
      ['pytest -k "$(cat failing.txt"', 'unknown', 'unknown'],
      ['npm test -- $(cat <<EOF\nflaky\n', 'unknown', 'unknown'],
      ['npm test -- $(cat failing.txt', 'unknown', 'unknown'],
      ["npm test -- -t $(echo 'drops)", 'unknown', 'unknown'],
      // A here-document left open in a `$(…)` leaves it open, whatever the `)` before it (in a comment).
      ['npm test # done :)\nmsg=$(cat <<EOF\nflaky\n', 'unknown', 'unknown'],
      // In a bash -c script: its shell rejects the script (status 2).
      ["bash -c \"npx vitest -t 'it's ok'\"", 'unknown', 'unknown'],
      // A quote that goes on over lines is closed; an apostrophe in a here-document's text is no quote.
      ["npm test -- -t 'drops\nevents'", 'passed', 'failed'],
      ["git commit -m \"$(cat <<'EOF'\nfix: don't drop events\nEOF\n)\" && npm test", 'passed', 'unknown'],
    ];
    expectVerdicts(table);
  });

  it('claims nothing of a line with a redirection without its target (npm test >): bash refuses it and runs none of it', () => {
    // Each was read as the test command it would be: `npm test >`'s failure (bash's status 2) as the tests'.
    const table: [string, string, string][] = [
      ['npm test >', 'unknown', 'unknown'],
      ['npm test 2>', 'unknown', 'unknown'],
      ['npm test >> ', 'unknown', 'unknown'],
      ['npm test &>', 'unknown', 'unknown'],
      ['npm test >&', 'unknown', 'unknown'],
      ['pytest -q <', 'unknown', 'unknown'],
      ['npm test <<<', 'unknown', 'unknown'],
      // Before the command's end: a separator, a group's end, a comment.
      ['npm test > && echo done', 'unknown', 'unknown'],
      ['echo start >; npm test', 'unknown', 'unknown'],
      ['(npm test 2>)', 'unknown', 'unknown'],
      ['{ npm test; } >', 'unknown', 'unknown'],
      ['npm test > # the log', 'unknown', 'unknown'],
      ['bash -c "npm test >"', 'unknown', 'unknown'],
      // `>|` with no word after it: its `|` is the operator's, not a pipe (they were read passed/failed).
      ['npm test >|', 'unknown', 'unknown'],
      ['npm test >| && echo done', 'unknown', 'unknown'],
      ['npm test >| # the log', 'unknown', 'unknown'],
      ['npm test >|#x', 'unknown', 'unknown'],
      ['npm test >|;', 'unknown', 'unknown'],
      // An operator where the one before wants its target (bash: syntax error near unexpected token `>').
      ['npm test > > log', 'unknown', 'unknown'],
      ['npm test 2> <x', 'unknown', 'unknown'],
      ['npm test &> >x', 'unknown', 'unknown'],
      ['cat << >x; npm test', 'unknown', 'unknown'],
      ['npm test > log > log2', 'passed', 'failed'],
      ['npm test >&- >x', 'passed', 'failed'],
      ["npm test 'a>' >x", 'passed', 'failed'],
      ['npm test a\\> >x', 'passed', 'failed'],
      ['npm test < <(x)', 'passed', 'failed'],
      // With their targets, or not an operator (quoted, escaped, a process substitution): read as before.
      ['npm test > log', 'passed', 'failed'],
      ['npm test >log', 'passed', 'failed'],
      ['npm test 2>&1', 'passed', 'failed'],
      ["npm test -- -t 'a >'", 'passed', 'failed'],
      ['npm test -- a\\>', 'passed', 'failed'],
      ['npm test > >(tee log)', 'passed', 'failed'],
    ];
    expectVerdicts(table);
  });

  it('claims nothing of a negated test command (! npm test): bash negates its status', () => {
    const table: [string, string, string][] = [
      ['! npm test', 'unknown', 'unknown'],
      ['! pytest -x && echo "expected a failure"', 'unknown', 'unknown'],
      ['! (npm test)', 'unknown', 'unknown'],
      ['! npm test | tail -5', 'unknown', 'unknown'],
      // `!` negates its own pipeline only.
      ['! git diff --quiet && npm test', 'passed', 'unknown'],
      ['! grep -q skip list.txt; npm test', 'passed', 'failed'],
    ];
    expectVerdicts(table);
  });

  it('finds the test commands of compound commands (if, while, until, for) and says nothing of their outcome', () => {
    const table: [string, string, string][] = [
      ['if [ -f package.json ]; then npm test; fi', 'unknown', 'unknown'],
      ['if npm test; then echo ok; else echo failed; fi', 'unknown', 'unknown'],
      ['while ! npm test; do sleep 1; done', 'unknown', 'unknown'],
      ['until pytest -x; do sleep 1; done', 'unknown', 'unknown'],
      ['for d in api web; do (cd $d && npm test); done', 'unknown', 'unknown'],
      ['for f in a.test.ts b.test.ts; do npx vitest run $f; done', 'unknown', 'unknown'],
      ['if [ -f Makefile ]; then make check; elif pytest -q; then echo passed; fi', 'unknown', 'unknown'],
      ["bash -c 'if true; then pytest; fi'", 'unknown', 'unknown'],
      // A reserved word only in a command's place, unquoted and without folders.
      ['echo if; npm test', 'passed', 'failed'],
      ['"if" npm test', 'none', 'none'],
      ['./if npm test', 'none', 'none'],
      ['X=1 if npm test', 'none', 'none'],
      // Without a test command: none.
      ['if [ -d dist ]; then rm -rf dist; fi', 'none', 'none'],
    ];
    expectVerdicts(table);
  });

  it('reads `exit` and `exec` as the end of the shell, and dash rejecting `set -o pipefail`', () => {
    const table: [string, string, string][] = [
      // `exit 1` after a failure: the line's failure may be that exit's (the tests never ran).
      ['npm run lint || exit 1; npm test', 'passed', 'unknown'],
      ['npm run lint || exit 42; npm test', 'passed', 'unknown'],
      ['cd app || exit 1\nnpm test', 'passed', 'unknown'],
      ['{ npm run lint || exit 1; }; npm test', 'passed', 'unknown'],
      ['npm ci || exit 1; (cd app; npm test)', 'passed', 'unknown'],
      // A brace group's exit ends the line even when the group goes on after it.
      ['{ npm run lint || exit 1; npm run build; }; npm test', 'passed', 'unknown'],
      // … unless the failure it follows is a test's.
      ['pytest || exit 1; npm test', 'unknown', 'failed'],
      ['npm test || exit 1', 'unknown', 'failed'],
      // `exit`, `exit 0`, `exit $?` may end it with status 0: neither says anything of what follows.
      ['npm run lint || exit; npm test', 'unknown', 'unknown'],
      ['npm run lint || exit 0; npm test', 'unknown', 'unknown'],
      // (The status is the code mod 256: `exit 256` is `exit 0`.)
      ['npm run lint || exit 256; npm test', 'unknown', 'unknown'],
      ['{ exit 0; } && npm test', 'unknown', 'unknown'],
      // `exit` in a subshell ends the subshell only; in a pipe it is in one too.
      ['(npm run lint || exit 0); npm test', 'passed', 'failed'],
      // The builtin `exec` replaces the shell: nothing after it runs, its status is the command's.
      ['exec npm run lint; npm test', 'unknown', 'unknown'],
      ['exec npm test', 'passed', 'failed'],
      ['pnpm exec jest && npm run build', 'passed', 'unknown'],
      // `sh` is dash on Debian and Ubuntu: `set -o pipefail` is an error that ends it (status 2).
      ["sh -c 'set -o pipefail; npm test'", 'passed', 'unknown'],
      ["dash -c 'set -eo pipefail; npm test'", 'passed', 'unknown'],
      ["sh -c 'set +o pipefail; npm test'", 'passed', 'unknown'],
      ["bash -c 'set -o pipefail; npm test'", 'passed', 'failed'],
      ["sh -c 'set -e; npm test'", 'passed', 'failed'],
    ];
    expectVerdicts(table);
  });

  it("reads set -e where it takes effect: in a bash -c script, not the line Claude Code runs in eval '…' && …", () => {
    const table: [string, string, string][] = [
      // A bash -c script under errexit exits at the first failing command: reaching its end shows the
      // tests passed.
      ['bash -c "set -e; npm test; echo done"', 'passed', 'unknown'],
      ["bash -ec 'npm test\necho done'", 'passed', 'unknown'],
      ['bash -c "set -o errexit; pytest; echo done"', 'passed', 'unknown'],
      ['bash -c "set -euo pipefail; npm test | tail -5; echo done"', 'passed', 'unknown'],
      ['bash -c "set -e; pytest a; pytest b"', 'passed', 'failed'],
      // A failure may be an earlier list's, which ended the script: not the tests'.
      ["bash -ec 'npm run build; npm test'", 'passed', 'unknown'],
      ['bash -c "set -e; npm run lint\nnpm test"', 'passed', 'unknown'],
      ["bash -ec '{ npm run build; }; npm test'", 'passed', 'unknown'],
      ["bash -c '{ set -e; npm run build; }; npm test'", 'passed', 'unknown'],
      ["bash -ec '( npm run build; npm test )'", 'passed', 'unknown'],
      // Unless nothing before can fail (`set`), or the list before is a test command too.
      ["bash -c 'set -e; set -o pipefail; npm test'", 'passed', 'failed'],
      ["bash -ec 'set -x; npm test'", 'passed', 'failed'],
      ["bash -ec 'pytest a || pytest b; npm test'", 'unknown', 'failed'],
      // Off again, not a whole list (a failure on the left of && does not exit), a pipe's status is tail's.
      ['bash -c "set -e; set +e; npm test; echo done"', 'unknown', 'unknown'],
      // Other options are not errexit.
      ['bash -c "set -u; npm test; echo done"', 'unknown', 'unknown'],
      ['bash -c "set -o nounset; npm test; echo done"', 'unknown', 'unknown'],
      ['bash -c "set -o errexits; npm test; echo done"', 'unknown', 'unknown'],
      ['bash -c "set -e; cd app && npm test; echo done"', 'unknown', 'unknown'],
      ['bash -c "set -e; npm test | tail -5; echo done"', 'unknown', 'unknown'],
      // In a group errexit may be ignored (a group on the left of && or ||): not read.
      ['bash -c "(set -e; npm test; echo done)"', 'unknown', 'unknown'],
      // Claude Code runs the line as eval '…' && pwd -P >| …: on the left of &&, bash ignores set -e, so a
      // failed npm test does not stop the line.
      ['set -e; npm test; echo done', 'unknown', 'unknown'],
      ['set -euo pipefail\nnpm test\necho done', 'unknown', 'unknown'],
    ];
    expectVerdicts(table);
  });

  // docs/bridge.md's reading of a line, shape by shape: what a success (PostToolUse) and a failure
  // (PostToolUseFailure) of the line say of its tests.
  it.each([
    // A list's status is its last pipeline's: a hidden pipeline before `&&` hides its tests' status.
    ['npm test | tail -5 && npm run build', 'unknown', 'unknown'],
    ['npm run build | tail -3 && npm test', 'passed', 'unknown'],
    ['npm test || npm run a && npm test', 'unknown', 'failed'],
    ['npm run a || npm run b && npm test', 'passed', 'unknown'],
    ['npm test && npm test || echo flaky', 'unknown', 'failed'],
    ['npm test || npm test && echo ok', 'unknown', 'unknown'],
    ['! env && npm test', 'passed', 'unknown'],
    ['[ -d app ] && npm test', 'passed', 'unknown'],
    // A pipe's status is its last command's; under pipefail the last failing one's.
    ['npm run lint | npm test', 'passed', 'failed'],
    ['npm test | npm test', 'unknown', 'failed'],
    ['set -o pipefail; npm test | npm test', 'passed', 'failed'],
    ['set -o pipefail; npm test |& tail -5', 'passed', 'unknown'],
    ['set -o pipefail; npm test |\ntail -5', 'passed', 'unknown'],
    // In the background: the list's status is 0; the next list's is the line's.
    ['npm test &', 'unknown', 'unknown'],
    ['npm test & npm test', 'unknown', 'failed'],
    ['sleep 1 & npm test', 'passed', 'failed'],
    ['npm run dev &\nnpm test', 'passed', 'failed'],
    // An `exec` in the background replaces the background shell only.
    ['exec npm run dev & npm test', 'passed', 'failed'],
    ['bash -c "set -e; npm test & echo done"', 'unknown', 'unknown'],
    // A group's redirections are its words, not a command.
    ['(npm test) >test.log', 'passed', 'failed'],
    // Assignments: a name of letters, digits (not first) and _, then `=`; anything else is a command.
    ['=1 npm test', 'none', 'none'],
    ['X-Y=1 npm test', 'none', 'none'],
    ['x.y=1 npm test', 'none', 'none'],
    ['x^=1 npm test', 'none', 'none'],
    ['x~=1 npm test', 'none', 'none'],
    // Assignments alone are a command, whose status is 0: after `||` or in a pipe the line succeeds
    // whatever the tests did.
    ['npm test || rc=$?', 'unknown', 'failed'],
    ['pytest -x || failed=1', 'unknown', 'failed'],
    ['npm test | RESULT=ignored', 'unknown', 'unknown'],
    ['npm test && status=ok', 'passed', 'unknown'],
    // … and with a command, the words before it: under pipefail the pipe has that one command.
    ['set -o pipefail; CI=1 npm test', 'passed', 'failed'],
    ['set -o pipefail; time npm test', 'passed', 'failed'],
    // A prefix's option with its argument in the same word.
    ['env -uHOME npm test', 'passed', 'failed'],
    // A bash -c script without its quotes and escapes.
    ['bash -c \'\'"npm test"', 'passed', 'failed'],
    ['bash -c ""\'npm test\'', 'passed', 'failed'],
    ['bash -ec "npm test\n"', 'passed', 'failed'],
    ['bash -c "bash -c \\"npm test\\""', 'passed', 'failed'],
    ['bash -c "echo \\\\; npm test"', 'none', 'none'],
    ['bash -c "echo \\$(date); npm test"', 'passed', 'failed'],
    // Here-documents: their text is not run; a here-string (`<<<`) or a quoted `<<` is none.
    ['cat >notes.txt<<EOF\nnpm test\nEOF\npytest', 'passed', 'failed'],
    ['cat << EOF\nnpm test\nEOF\npytest', 'passed', 'failed'],
    ['cat <<\tEOF\nnpm test\nEOF\npytest', 'passed', 'failed'],
    ['cat <<\\EOF\nnpm test\nEOF\npytest', 'passed', 'failed'],
    ['cat <<-EOF\n\tnpm test\n\tEOF\npytest', 'passed', 'failed'],
    ['cat <<-EOF\nnpm test\n\t\tEOF\npytest', 'passed', 'failed'],
    ['cat <<A; cat <<B\nx\nA\nnpm test\nB\npytest', 'passed', 'failed'],
    ['cat <<<x\nnpm test', 'passed', 'failed'],
    ['echo "<<EOF"\nnpm test', 'passed', 'failed'],
    ["echo '<<EOF'\nnpm test", 'passed', 'failed'],
    ['echo \\<<EOF\nnpm test', 'passed', 'failed'],
    // A `<<` in a `$(…)` is the substitution's; a delimiter line is the delimiter alone (tabs first only
    // after `<<-`).
    ['notes=$(cat <<EOF\nrun npm test\nEOF\n)\npytest', 'passed', 'failed'],
    ['cat > run.sh <<END\nENDPOINT=http://localhost:3000\nnpm test\nEND\nchmod +x run.sh', 'none', 'none'],
    ['cat <<EOF\n\tEOF\nnpm test\nEOF\npytest', 'passed', 'failed'],
  ])('reads `%j`: a success %s, a failure %s', (command, success, failure) => {
    expect(verdicts(command)).toEqual([success, failure]);
  });

  // A bash -c script's options are read as bash reads them: the script is the first word after them,
  // `--noprofile` sets nothing (its letters are not -e's, nor -c's), -o takes the next word.
  it.each([
    ['bash --noprofile -c "npm test; echo done"', 'unknown', 'unknown'],
    ['bash --rcfile ci.rc -c "npm test; echo done"', 'unknown', 'unknown'],
    ['bash --init-file ci.rc -c "npm test"', 'passed', 'failed'],
    ['bash --login -c "npm test"', 'passed', 'failed'],
    ['bash --noprofile --norc -eo pipefail -c "npm test | tail -5"', 'passed', 'unknown'],
    ['bash -o pipefail -c "npm test | tail -5"', 'passed', 'unknown'],
    ['bash -o pipefail -c "npm test"', 'passed', 'failed'],
    ['bash -eo pipefail +o pipefail -c "npm test | tail -5"', 'unknown', 'unknown'],
    ['bash -o errexit -c "npm test; echo done"', 'passed', 'unknown'],
    ['bash -e +e -c "npm test; echo done"', 'unknown', 'unknown'],
    ['bash -c -e "npm test; echo done"', 'passed', 'unknown'],
    ['bash -c -x "npm test"', 'passed', 'failed'],
    ['bash -c -- "npm test"', 'passed', 'failed'],
    ['bash -O extglob -c "npm test"', 'passed', 'failed'],
    ['bash +c "npm test"', 'passed', 'failed'],
    // After -, the first word is a script file's name, not -c; without -c the word is a file.
    ['bash - -c "npm test"', 'none', 'none'],
    ['bash ci.sh -c "npm test"', 'none', 'none'],
    ['bash -c\t"npm test"', 'passed', 'failed'],
    ['bash + -c "npm test"', 'passed', 'failed'],
    ['bash -o nounset -c "npm test; echo done"', 'unknown', 'unknown'],
    // After --, -c is a script file's name; a script file (even one named like a test command) is none.
    ['bash -- -c "npm test"', 'none', 'none'],
    ['bash ./pytest.sh', 'none', 'none'],
    // A shell that runs no -c script is a command whose status says nothing of tests.
    ['bash scripts/setup.sh && npm test', 'passed', 'unknown'],
    // A script without a test command succeeds as any command does; one with git is read for tests too.
    ['bash -c "npm ci" && npm test', 'passed', 'unknown'],
    ['bash -c "git pull && npm test"', 'passed', 'unknown'],
    ['npm test && bash scripts/deploy.sh', 'passed', 'unknown'],
    // After the script, a word is $0: its -e is not errexit.
    ['bash -c "npm test; echo done" -e', 'unknown', 'unknown'],
  ])(
    "reads `%s`'s script with the options bash reads: a success %s, a failure %s",
    (command, success, failure) => {
      expect(verdicts(command)).toEqual([success, failure]);
    },
  );

  it("reads a test command's test.run from what Claude Code's Bash response says, not a made-up exit code 0", () => {
    const run = (response: unknown, input: Record<string, unknown> = {}) =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', {
          tool_name: 'Bash',
          tool_input: { command: 'npm test 2>&1', ...input },
          tool_response: response,
        }),
        T,
      )
        .filter((event) => event.type === 'test.run')
        .map((event) => event.data);
    const bash = { stdout: '', stderr: '', interrupted: false, isImage: false };
    const command = 'npm test 2>&1';
    // A PostToolUse: the command exited 0 …
    expect(run(bash)).toEqual([{ command, passed: true, exit_code: 0 }]);
    // … or with a code Claude Code reads as no error (grep's 1, by the line's last command): the line
    // exited 1, a failure as the shell runs it — here the tests'.
    expect(run({ ...bash, returnCodeInterpretation: 'No matches found' })).toEqual([
      { command, passed: false, return_code_interpretation: 'No matches found' },
    ]);
    // Interrupted: the run did not finish, so it did not pass.
    expect(run({ ...bash, interrupted: true })).toEqual([{ command, passed: false, interrupted: true }]);
    // Sent to the background (asked for, or by Claude Code / the user): only started, no result yet.
    expect(run({ ...bash, backgroundTaskId: 'b4003ee' })).toEqual([]);
    expect(run({ ...bash }, { run_in_background: true })).toEqual([]);
  });

  it("reads a PostToolUse with a returnCodeInterpretation as the failure it is: the line exited 1, which Claude Code read as its last command's no-error (grep's 'No matches found'), not as the tests'", () => {
    const run = (command: string, stdout = '') =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', {
          tool_name: 'Bash',
          tool_input: { command },
          tool_response: {
            stdout,
            stderr: '',
            interrupted: false,
            isImage: false,
            returnCodeInterpretation: 'No matches found',
          },
        }),
        T,
      )
        .filter((event) => event.type === 'test.run')
        .map((event) => event.data);
    const said = { return_code_interpretation: 'No matches found' };
    // Status 1: the tests' (grep never ran), or grep's after they passed. Not a pass.
    for (const command of [
      'npm test && grep -q ok coverage/summary.txt',
      'set -o pipefail; npx vitest run 2>&1 | grep -E "Tests"',
      'pytest && [ -f report.xml ]',
    ]) {
      expect(run(command)).toEqual([{ command, outcome: 'unknown', ...said }]);
    }
    // grep ran after the tests failed: they ran and failed.
    expect(run('npm test || grep -c FAIL log')).toEqual([
      { command: 'npm test || grep -c FAIL log', passed: false, ...said },
    ]);
    // The runner's summary still shows a failure.
    const command = 'set -o pipefail; npx vitest run 2>&1 | grep -E "Test Files|Tests"';
    expect(
      run(command, ' Test Files  1 failed | 2 passed (3)\n      Tests  1 failed | 9 passed (10)'),
    ).toEqual([{ command, passed: false, from_summary: 'vitest', ...said }]);
  });

  it('cuts a long prompt or error at 4,000 characters on a code point boundary, never inside an emoji', () => {
    const long = `${'a'.repeat(3_999)}😀${'b'.repeat(10)}`; // the emoji's two UTF-16 units at 3,999 and 4,000
    const [prompt] = toEvents('UserPromptSubmit', claude('UserPromptSubmit', { prompt: long }), T);
    const [failed] = toEvents(
      'PostToolUseFailure',
      claude('PostToolUseFailure', { tool_name: 'Bash', tool_input: { command: 'x' }, error: long }),
      T,
    );
    for (const text of [prompt!.data.prompt, failed!.data.error] as string[]) {
      expect(text).toBe(`${'a'.repeat(3_999)}…`);
      expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/); // no lone high surrogate
      expect(JSON.parse(JSON.stringify(text))).toBe(text);
    }
    expect(prompt!.data.prompt_length).toBe(long.length);
    // A cut that falls between two code points is where it was.
    const [whole] = toEvents('UserPromptSubmit', claude('UserPromptSubmit', { prompt: `😀${long}` }), T);
    expect(whole!.data.prompt).toBe(`😀${'a'.repeat(3_998)}…`);
  });

  it('makes a notification HIGH when it waits for the user: a URL elicitation dialog as a form one', () => {
    const priority = (type: string) =>
      toEvents('Notification', claude('Notification', { message: 'm', notification_type: type }), T)[0]!
        .priority;
    for (const type of [
      'permission_prompt',
      'agent_needs_input',
      'elicitation_dialog',
      'elicitation_url_dialog',
    ]) {
      expect(priority(type), type).toBe(Priority.HIGH);
    }
    for (const type of [
      'idle_prompt',
      'auth_success',
      'elicitation_complete',
      'elicitation_response',
      'agent_completed',
    ]) {
      expect(priority(type), type).toBe(Priority.NORMAL);
    }
    // As the Elicitation hook of either mode is.
    for (const mode of ['form', 'url']) {
      const [event] = toEvents(
        'Elicitation',
        claude('Elicitation', { mcp_server_name: 's', message: 'm', mode }),
        T,
      );
      expect(event!.priority, mode).toBe(Priority.HIGH);
    }
  });

  it('reads an old Notification without notification_type from its message, as the typed ones', () => {
    // Before notification_type (Claude Code 2.0.37), the message was all there was: real payloads of then.
    const legacy = loadFixtures()
      .filter((fixture) => fixture.hook_event_name === 'Notification')
      .map((fixture) => fixture.payload as Record<string, unknown>)
      .filter((payload) => payload.notification_type === undefined);
    const priorityOf = (payload: Record<string, unknown>) =>
      toEvents('Notification', payload, T)[0]!.priority;
    expect(legacy.map((payload) => [payload.message, priorityOf(payload)])).toEqual([
      ['Claude Code login successful', Priority.NORMAL],
      ['Claude Code needs your approval for the plan', Priority.HIGH],
      ['Claude needs your permission to use claude-flow - swarm_init (MCP)', Priority.HIGH],
    ]);
    const untyped = (message: string) => priorityOf(claude('Notification', { message }));
    expect(untyped('Claude needs your permission to use Bash')).toBe(Priority.HIGH);
    // idle_prompt, the typed form of this one, is NORMAL: Claude is idle, nothing is blocked.
    expect(untyped('Claude is waiting for your input')).toBe(Priority.NORMAL);
    expect(untyped('Build finished: needs your permission to use Bash?')).toBe(Priority.NORMAL);
    // The event says what the payload said: no notification_type is made up.
    expect(toEvents('Notification', legacy[2]!, T)[0]!.data).not.toHaveProperty('notification_type');
    // A notification_type, when there is one, decides.
    const typed = claude('Notification', {
      message: 'Claude needs your permission to use Bash',
      notification_type: 'idle_prompt',
    });
    expect(priorityOf(typed)).toBe(Priority.NORMAL);
  });

  it("maps the Edit of a large file (its payload carries the whole file, twice as a Write's) by default", () => {
    // A 900 KB lockfile: tool_response.originalFile and a Write's content make payloads of ~1–2 MB,
    // which the old 1 MiB default rejected as hook.rejected (no tool.used, no file.modified).
    const lockfile = `{"lockfileVersion": 3, "packages": {${'"x": {"version": "1.0.0"},'.repeat(36_000)}}}`;
    expect(lockfile.length).toBeGreaterThan(900_000);
    const edit = toEvents(
      'PostToolUse',
      claude('PostToolUse', {
        tool_name: 'Edit',
        tool_input: { file_path: '/repo/package-lock.json', old_string: '1.0.0', new_string: '1.0.1' },
        tool_response: { filePath: '/repo/package-lock.json', originalFile: lockfile, structuredPatch: [] },
      }),
      T,
    );
    expect(types(edit)).toEqual(['tool.used', 'file.modified']);
    const write = toEvents(
      'PostToolUse',
      claude('PostToolUse', {
        tool_name: 'Write',
        tool_input: { file_path: '/repo/package-lock.json', content: lockfile },
        tool_response: {
          type: 'update',
          filePath: '/repo/package-lock.json',
          content: lockfile,
          originalFile: lockfile,
        },
      }),
      T,
    );
    expect(types(write)).toEqual(['tool.used', 'file.modified']);
  });

  it('maps Edit and MultiEdit to file.modified', () => {
    for (const tool of ['Edit', 'MultiEdit']) {
      const events = toEvents(
        'PostToolUse',
        claude('PostToolUse', {
          tool_name: tool,
          tool_input: { file_path: '/repo/a.ts' },
          tool_response: {},
        }),
        T,
      );
      expect(events[1]).toMatchObject({
        type: 'file.modified',
        data: { file_path: '/repo/a.ts', tool_name: tool },
      });
    }
  });

  it("takes a file tool's tool_input.path as its file_path when it has no file_path (Write, MultiEdit, NotebookEdit)", () => {
    const post = (tool: string, input: Record<string, unknown>) =>
      toEvents(
        'PostToolUse',
        claude('PostToolUse', { tool_name: tool, tool_input: input, tool_response: {} }),
        T,
      );
    for (const tool of ['Write', 'MultiEdit', 'NotebookEdit']) {
      const events = post(tool, { path: '/r/a.ts', content: 'x', edits: [] });
      expect(
        events.map((event) => [event.type, event.data.file_path, 'path' in event.data]),
        tool,
      ).toEqual([
        ['tool.used', '/r/a.ts', false],
        ['file.modified', '/r/a.ts', false],
      ]);
    }
  });

  it("makes no git.commit nor test.run of a command that is not Bash's (an MCP tool's tool_input.command)", () => {
    const command = 'git commit -m "fix: trim ids" && npm test';
    const input = { command };
    const used = toEvents(
      'PostToolUse',
      claude('PostToolUse', {
        tool_name: 'mcp__ci__run',
        tool_input: input,
        tool_response: '[main 1a2b3c4] fix: trim ids\n',
      }),
      T,
    );
    expect(used.map((event) => [event.type, event.data.command])).toEqual([['tool.used', command]]);
    const failed = toEvents(
      'PostToolUseFailure',
      claude('PostToolUseFailure', {
        tool_name: 'mcp__ci__run',
        tool_input: input,
        error: 'Exit code 1\nfailed',
      }),
      T,
    );
    expect(failed.map((event) => [event.type, event.data.command])).toEqual([['tool.failed', command]]);
    // The same line, run by Bash, makes both.
    const bash = toEvents(
      'PostToolUse',
      claude('PostToolUse', {
        tool_name: 'Bash',
        tool_input: input,
        tool_response: '[main 1a2b3c4] fix: trim ids\n',
      }),
      T,
    );
    expect(types(bash)).toEqual(['tool.used', 'git.commit', 'test.run']);
  });

  it('maps a failed Bash call without a command to its tool.failed, not a rejection', () => {
    const events = toEvents(
      'PostToolUseFailure',
      claude('PostToolUseFailure', { tool_name: 'Bash', tool_input: {}, error: 'Exit code 1\nfailed' }),
      T,
    );
    expect(events.map((event) => [event.type, event.data])).toEqual([
      ['tool.failed', { tool_name: 'Bash', error: 'Exit code 1\nfailed', exit_code: 1, success: false }],
    ]);
  });

  it("reads exit_code only from an error that starts with Claude Code's `Exit code N`, not from its text", () => {
    // An Edit that failed on a file whose text has the words: its error quotes them.
    const error = 'String to replace not found in file.\nString: expect(stderr).toContain("Exit code 2")';
    const [failed] = toEvents(
      'PostToolUseFailure',
      claude('PostToolUseFailure', { tool_name: 'Edit', tool_input: { file_path: '/r/a.ts' }, error }),
      T,
    );
    expect(failed!.data).toEqual({ tool_name: 'Edit', file_path: '/r/a.ts', error, success: false });
  });

  it('accepts the seed names and any spelling of a Claude Code hook', () => {
    const payload = claude('SubagentStop', {
      agent_id: 'a1',
      agent_type: 'reviewer',
      stop_hook_active: false,
    });
    for (const name of ['SubagentStop', 'sub-agent-stop', 'subagent_stop', 'SUBAGENTSTOP']) {
      const [event] = toEvents(name, payload, T);
      expect(event).toMatchObject({ type: 'agent.completed', data: { agent: 'reviewer', agent_id: 'a1' } });
    }
    expect(toEvents('post-tool-use', claude('PostToolUse', { tool_name: 'Read' }), T)[0]!.type).toBe(
      'tool.used',
    );
  });

  it('reads a known hook by what its name shows: hidden characters left out, spaces at its ends too', () => {
    // Post\u200bToolUse shows as PostToolUse: it was hook.Post\u{200B}ToolUse, and a logger's payload that
    // named it hook.<logger>, while Post\ufeffToolUse (white space to the match) was already PostToolUse.
    const names = [
      'Post\u200bToolUse',
      'Post\u2060ToolUse',
      'Post\u00adToolUse',
      'Post\u200dToolUse',
      '\u202ePostToolUse',
      'PostToolUse\u200e',
      'Post\ufeffToolUse',
      ' PostToolUse',
      'PostToolUse\t',
    ];
    for (const name of names) {
      const payload = { ...claude('PostToolUse', { tool_name: 'Read' }), hook_event_name: name };
      for (const hook of [name, 'my-logger']) {
        const events = toEvents(hook, payload, T);
        expect(events.map((e) => [e.type, e.context?.hook])).toEqual([['tool.used', 'PostToolUse']]);
      }
    }
    // A name that does not show as a known one stays unknown, its hidden character written out.
    expect(toEvents('Post\u200bToolUses', { n: 1 }, T)[0]!.type).toBe('hook.Post\\u{200B}ToolUses');
  });

  it('dispatches on hook_event_name when the hook name is not a known one', () => {
    const [event] = toEvents('my-logger', claude('SessionEnd', { reason: 'logout' }), T);
    expect(event).toMatchObject({ type: 'session.ended', data: { reason: 'logout' }, sessionId: SESSION });
  });

  it('maps the seed file-watcher changes, one event per change', () => {
    const events = toEvents(
      'file-watcher',
      {
        changes: [
          { action: 'created', path: '/r/a.ts', size: 10 },
          { action: 'modified', path: '/r/b.md', type: 'markdown' },
          { action: 'deleted', path: '/r/c' },
        ],
      },
      T,
    );
    expect(events.map((e) => [e.type, e.data.file_path, e.data.file_type])).toEqual([
      ['file.created', '/r/a.ts', 'ts'],
      ['file.modified', '/r/b.md', 'markdown'],
      ['file.deleted', '/r/c', 'unknown'],
    ]);
    expect(events[0]!.data.size).toBe(10);
  });

  it('maps every alias of a file-watcher action to its type, whatever its case', () => {
    const aliases: [string, string][] = [
      ['create', 'created'],
      ['add', 'created'],
      ['Added', 'created'],
      ['modify', 'modified'],
      ['change', 'modified'],
      ['CHANGED', 'modified'],
      ['update', 'modified'],
      ['updated', 'modified'],
      ['delete', 'deleted'],
      ['unlink', 'deleted'],
      ['remove', 'deleted'],
      ['removed', 'deleted'],
      ['rename', 'renamed'],
    ];
    const events = toEvents(
      'file-watcher',
      { changes: aliases.map(([action]) => ({ action, path: '/r/a' })) },
      T,
    );
    expect(types(events)).toEqual(aliases.map(([, type]) => `file.${type}`));
  });

  it("takes a file-watcher change's file_type from the extension of its last path segment, either separator", () => {
    const files = ['/r.v2/Makefile', 'C:\\proj.x\\Makefile', 'x\\y.z/Makefile', 'a.b/c\\D.TS', '/r/.env'];
    const events = toEvents('file-watcher', { changes: files.map((path) => ({ action: 'add', path })) }, T);
    expect(events.map((e) => e.data.file_type)).toEqual(['unknown', 'unknown', 'unknown', 'ts', 'unknown']);
  });

  it('lists in KNOWN_HOOKS every hook it maps to events of their own, the seed ones included', () => {
    expect(KNOWN_HOOKS).toContain('file-watcher');
    expect(KNOWN_HOOKS).toContain('pre-commit');
    for (const hook of KNOWN_HOOKS) {
      const [event] = toEvents(
        hook,
        claude(hook, { tool_name: 'Read', file_path: '/r/a', changes: [{ action: 'add', path: '/r/a' }] }),
        T,
      );
      expect(event!.type).not.toBe(`hook.${hook}`);
    }
  });

  it('never takes an action name from Object.prototype (constructor, __proto__, toString)', () => {
    const actions = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
    const watched = toEvents(
      'file-watcher',
      { changes: actions.map((action) => ({ action, path: '/r/a' })) },
      T,
    );
    expect(types(watched)).toEqual([
      'file.constructor',
      'file.__proto__',
      'file.tostring',
      'file.hasownproperty',
    ]);
    for (const action of actions) {
      const [changed] = toEvents(
        'FileChanged',
        claude('FileChanged', { file_path: '/r/a', event: action }),
        T,
      );
      expect(changed!.type).toBe('file.modified');
    }
  });

  it('rejects the bad entries of a file-watcher output and keeps the good ones', () => {
    const events = toEvents(
      'file-watcher',
      {
        changes: [
          { action: 'created', path: '/r/a' },
          { path: 42 },
          { path: '/r/b' },
          { action: 'add', path: '' },
          null,
          { action: 'unlink', file_path: '/r/c' },
        ],
      },
      T,
    );
    expect(types(events)).toEqual([
      'file.created',
      'hook.rejected',
      'hook.rejected',
      'hook.rejected',
      'hook.rejected',
      'file.deleted',
    ]);
    expect(events.map((e) => e.data.reason)).toEqual([
      undefined,
      'changes[1] needs a "path" and an "action"',
      'changes[2] needs a "path" and an "action"',
      'changes[3] needs a "path" and an "action"',
      'changes[4] needs a "path" and an "action"',
      undefined,
    ]);
    // The rejected entry's raw copy is cut to the bridge's maxRawLength, as any rejection's.
    const [cut] = toEvents('file-watcher', { changes: [{ note: 'x'.repeat(1_000) }] }, T, {
      maxRawLength: 100,
    });
    expect(cut!.type).toBe('hook.rejected');
    expect(cut!.data).toMatchObject({ raw_truncated: true });
    expect((cut!.data.raw as string).length).toBe(100);
  });

  it('maps the seed pre-commit hook, HIGH when it failed', () => {
    const [ok] = toEvents('pre-commit', { files: ['a.ts'], exit_code: 0 }, T);
    const [failed] = toEvents(
      'pre-commit',
      { files: ['a.ts'], checks: [{ name: 'lint', passed: false }] },
      T,
    );
    expect(ok).toMatchObject({ type: 'git.pre_commit', priority: Priority.NORMAL, data: { passed: true } });
    expect(failed).toMatchObject({
      type: 'git.pre_commit',
      priority: Priority.HIGH,
      data: { passed: false },
    });
  });

  it("reads a pre-commit's passed from every check, a check that is not an object counting as no failure", () => {
    const [ok] = toEvents('pre-commit', { checks: ['lint', null, { name: 'types', passed: true }] }, T);
    const [failed] = toEvents('pre-commit', { checks: ['lint', { name: 'types', passed: false }] }, T);
    expect(ok).toMatchObject({ type: 'git.pre_commit', priority: Priority.NORMAL, data: { passed: true } });
    expect(failed).toMatchObject({
      type: 'git.pre_commit',
      priority: Priority.HIGH,
      data: { passed: false },
    });
  });

  it('turns an unknown hook into hook.<name>, never silence', () => {
    const [event] = toEvents('lint-report', { warnings: 3, session_id: 's9' }, T);
    expect(event).toMatchObject({ type: 'hook.lint-report', data: { warnings: 3 }, sessionId: 's9' });
    const [empty] = toEvents('file-watcher', { changes: [] }, T);
    expect(empty!.type).toBe('hook.file-watcher');
  });

  // The hook.* types the library emits of its own; `satisfies` fails to compile when HookEventType changes.
  const LIBRARY_TYPES = Object.keys({
    'hook.rejected': true,
    'hook.completed': true,
    'hook.failed': true,
    'hook.timed_out': true,
  } satisfies Record<HookEventType | 'hook.rejected', true>);

  it("never lets a hook's name make one of the library's own hook.* types: those names are hook.reserved", () => {
    // A hook named `rejected` made `hook.rejected`, counted by sessionState as a refused payload.
    const names = ['rejected', 'completed', 'failed', 'timed_out'];
    const spellings = names.flatMap((name) => [name, ` ${name} `, `\t${name}\n`, `\ufeff${name}`]);
    for (const hook of spellings) {
      const events = toEvents(hook, { session_id: 's9', n: 1 }, T);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'hook.reserved',
        priority: Priority.NORMAL,
        data: { session_id: 's9', n: 1 },
        context: { hook },
        sessionId: 's9',
      });
    }
    // So is the output of a known hook that maps to nothing, when the payload names that hook.
    const [empty] = toEvents('failed', { hook_event_name: 'file-watcher', changes: [] }, T);
    expect(empty).toMatchObject({ type: 'hook.reserved', context: { hook: 'failed' } });
  });

  it('keeps hook.<name> for every other name: another case, spelling or namespace, and reserved itself', () => {
    const kept = [
      'Rejected',
      'FAILED',
      'timed-out',
      'timed out',
      'rejected_',
      'a.b',
      'rejected.x',
      'reserved',
    ];
    for (const hook of kept) {
      expect(toEvents(hook, { n: 1 }, T)[0]).toMatchObject({ type: `hook.${hook}`, context: { hook } });
    }
    expect(toEvents(' \t', { n: 1 }, T)[0]!.type).toBe('hook.unknown');
  });

  it('reads a name by what shows: one that shows as a library type is hook.reserved, hidden characters written out', () => {
    // Invisible, format, bidi and control characters, as checkVisible refuses in a hook's own name: the
    // bridge made `hook.rejected\u200b`, which shows as the library's `hook.rejected`.
    const reserved = [
      'rejected\u200b',
      '\u2060completed',
      'fa\u00adiled',
      'timed_out\u200e',
      '\u202erejected',
      '\u200b rejected\u2060',
      '\u3164failed',
      'com\u200dpleted',
    ];
    for (const hook of reserved) {
      const events = toEvents(hook, { session_id: 's9', n: 1 }, T);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'hook.reserved',
        priority: Priority.NORMAL,
        data: { session_id: 's9', n: 1 },
        context: { hook },
        sessionId: 's9',
      });
    }
    // Any other name keeps its type, each hidden character written as its code point: `lint\u2060` is no
    // second `hook.lint`, and no type holds a newline or a lone surrogate.
    const writtenOut: [string, string][] = [
      ['lint\u2060', 'hook.lint\\u{2060}'],
      ['a\nb', 'hook.a\\u{000A}b'],
      ['x\ud800', 'hook.x\\u{D800}'],
      ['\u200b', 'hook.\\u{200B}'],
      [' rejected\u200bx ', 'hook.rejected\\u{200B}x'],
      ['reserved\u200b', 'hook.reserved\\u{200B}'],
      [
        '\u{1F468}\u200d\u{1F469}\u200d\u{1F467} review',
        'hook.\u{1F468}\u200d\u{1F469}\u200d\u{1F467} review',
      ],
      ['\u2764\ufe0f', 'hook.\u2764\ufe0f'],
      // A joiner or non-joiner that shapes the letters around it is part of what shows, as in a hook's own
      // name (checkVisible): Persian's می‌خواهم, Hindi's क्‍ष keep theirs.
      [
        '\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645',
        'hook.\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645',
      ],
      ['\u0915\u094d\u200d\u0937', 'hook.\u0915\u094d\u200d\u0937'],
      ['lint\u200c', 'hook.lint\\u{200C}'],
    ];
    for (const [hook, type] of writtenOut) {
      expect(toEvents(hook, { n: 1 }, T)[0]).toMatchObject({ type, context: { hook }, data: { n: 1 } });
    }
  });

  it("gives a type whose name passes a hook name's check, or hook.reserved or hook.unknown, for any name", () => {
    const hidden = fc.constantFrom(
      '\u200b',
      '\u2060',
      '\u00ad',
      '\u202e',
      '\ufeff',
      '\n',
      '\ud800',
      '\u200d',
    );
    const name = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc
        .tuple(
          fc.array(hidden, { maxLength: 2 }),
          fc.constantFrom('rejected', 'completed', 'failed', 'timed_out', 'lint', ''),
          fc.array(hidden, { maxLength: 2 }),
        )
        .map(([before, word, after]) => [...before, word, ...after].join('')),
    );
    fc.assert(
      fc.property(name, (hook) => {
        const events = toEvents(hook, { n: 1 }, T);
        expect(events).toHaveLength(1);
        const { type, context } = events[0]!;
        expect(context).toEqual({ hook });
        expect(LIBRARY_TYPES).not.toContain(type);
        if (type !== 'hook.reserved' && type !== 'hook.unknown') {
          expect(() => checkVisible('type', type, 'its name')).not.toThrow();
        }
      }),
    );
  });

  it('no hook name makes a library type, and only an output the bridge refused is hook.rejected', () => {
    const name = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.constantFrom(' ', '\t', '\u00a0', ''),
          fc.constantFrom('rejected', 'completed', 'failed', 'timed_out'),
          fc.constantFrom(' ', '\n', ''),
        )
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(name, (hook) => {
        for (const event of toEvents(hook, { n: 1 }, T)) expect(LIBRARY_TYPES).not.toContain(event.type);
        expect(types(toEvents(hook, 'not an object', T))).toEqual(['hook.rejected']);
      }),
    );
  });

  it("keeps an unknown hook's payload as it is, a `__proto__` key included (as a field, not a prototype)", () => {
    const payload = JSON.parse('{"__proto__":{"polluted":true},"kept":1}') as Record<string, unknown>;
    const [event] = toEvents('my-linter', payload, T);
    expect(Object.keys(event!.data)).toEqual(['__proto__', 'kept']);
    expect(Object.getPrototypeOf(event!.data)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(event!.data))).toEqual(payload);
    expect((event!.data as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('maps every spelling right however many distinct hook names it has seen (the name cache is bounded)', () => {
    // Far more names than the cache holds: it starts over when full, and must never answer wrongly.
    for (let i = 0; i < 1_000; i++) {
      expect(toEvents(`custom-${i}`, { n: i }, T)[0]).toMatchObject({
        type: `hook.custom-${i}`,
        data: { n: i },
      });
      if (i % 97 === 0) {
        const spelling = ['PostToolUse', 'post-tool-use', 'POST_TOOL_USE', `post.tool.use`][i % 4]!;
        expect(types(toEvents(spelling, claude('PostToolUse', { tool_name: 'Read' }), T))).toEqual([
          'tool.used',
        ]);
      }
    }
  });

  it('gives the events of one payload one shared context, and fields that are absent, never undefined', () => {
    const events = toEvents(
      'PostToolUse',
      claude('PostToolUse', { tool_name: 'Write', tool_input: { file_path: '/r/a.ts' }, tool_response: {} }),
      T,
    );
    expect(types(events)).toEqual(['tool.used', 'file.modified']);
    expect(events[1]!.context).toBe(events[0]!.context);
    expect(events[0]!.context).toEqual({ hook: 'PostToolUse', cwd: '/repo', transcript_path: '/t.jsonl' });
    expect(Object.keys(events[0]!.data)).toEqual(['tool_name', 'file_path', 'success']);
    expect(Object.keys(events[1]!.data)).toEqual(['file_path', 'tool_name']);
    // A PreToolUse without tool_input: no tool_input field.
    const [requested] = toEvents('PreToolUse', claude('PreToolUse', { tool_name: 'ExitPlanMode' }), T);
    expect(requested!.data).toEqual({ tool_name: 'ExitPlanMode' });
    expect(Object.keys(requested!.data)).toEqual(['tool_name']);
  });
});

describe('toEvents on invalid input', () => {
  const reject = (hook: string, output: unknown) => {
    const events = toEvents(hook, output, T);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event!.type).toBe('hook.rejected');
    expect(event!.priority).toBe(Priority.HIGH);
    expect(parseEvent(event)).toEqual(event);
    return event!.data as { hook: string; reason: string; raw: string; raw_truncated: boolean };
  };

  it.each([
    ['null', null, 'got null'],
    ['a string', 'hello', 'got a string'],
    ['an array', [1, 2], 'got an array'],
    ['a number', 3, 'got a number'],
  ])('rejects %s', (_name, output, reason) => {
    const data = reject('PostToolUse', output);
    expect(data.hook).toBe('PostToolUse');
    expect(data.reason).toContain(reason);
    expect(data.raw).toBe(typeof output === 'string' ? output : JSON.stringify(output));
  });

  it('names what a payload threw while it was mapped when it is not an Error (a string), not "undefined"', () => {
    let reads = 0;
    const payload = claude('PreToolUse', {});
    Object.defineProperty(payload, 'tool_name', {
      enumerable: true,
      get() {
        reads++;
        // The size check reads it first; the mapping reads it again.
        if (reads > 1) throw 'tool name withheld';
        return 'Read';
      },
    });
    expect(reject('PreToolUse', payload).reason).toBe('mapping failed: tool name withheld');
  });

  it('rejects a payload whose getter throws during the size check under its hook, its time and its session', () => {
    const payload = claude('PreToolUse', { tool_name: 'Read' });
    Object.defineProperty(payload, 'tool_input', {
      enumerable: true,
      get() {
        throw new Error('input withheld');
      },
    });
    const events = toEvents('PreToolUse', payload, T);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'hook.rejected',
      priority: Priority.HIGH,
      timestamp: T,
      sessionId: SESSION,
      context: { hook: 'PreToolUse' },
      data: {
        hook: 'PreToolUse',
        reason: 'payload unreadable: input withheld',
        raw: JSON.stringify({ ...claude('PreToolUse', { tool_name: 'Read' }), tool_input: '[unreadable]' }),
        raw_truncated: false,
      },
    });
    expect(parseEvent(events[0])).toEqual(events[0]);
  });

  it('rejects a payload whose session_id getter throws once the size check has read it, under its hook and time', () => {
    // Readable while the limits are checked, then throwing: the mapper fails, and so does the rejection's
    // own read of the session, which must not take the hook and the time away with it.
    const payload = claude('PreToolUse', { tool_name: 'Read' });
    let reads = 0;
    Object.defineProperty(payload, 'session_id', {
      enumerable: true,
      get() {
        if (++reads > 1) throw new Error('session withheld');
        return SESSION;
      },
    });
    const events = toEvents('PreToolUse', payload, T);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'hook.rejected',
      timestamp: T,
      context: { hook: 'PreToolUse' },
      data: { hook: 'PreToolUse', reason: 'mapping failed: session withheld' },
    });
    expect(events[0]!.sessionId).toBeUndefined();
  });

  it('rejects a Claude Code payload without session_id or tool_name', () => {
    expect(reject('PostToolUse', { tool_name: 'Bash' }).reason).toBe('missing required field "session_id"');
    expect(reject('PreToolUse', { session_id: 's' }).reason).toBe('missing required field "tool_name"');
    expect(reject('FileChanged', { session_id: 's', file_path: 7 }).reason).toContain('"file_path"');
  });

  it('rejects a 20 MB payload that cutting its long strings leaves over the limit, keeping a truncated raw copy', () => {
    // Five million short strings: none is long enough to be cut (see oversized.spec.ts for one that is).
    const data = reject(
      'PostToolUse',
      claude('PostToolUse', { tool_name: 'Bash', blob: new Array<string>(5_000_000).fill('x') }),
    );
    expect(data.reason).toContain('maxPayloadBytes');
    expect(data.raw_truncated).toBe(true);
    expect(data.raw.length).toBe(16_384);
  });

  it('rejects deeply nested JSON without overflowing the stack', () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const data = reject('Stop', claude('Stop', { nested: deep }));
    expect(data.reason).toContain('maxDepth');
    expect(data.raw_truncated).toBe(true);
  });

  it('rejects a circular object and a bigint', () => {
    const circular: Record<string, unknown> = { session_id: 's' };
    circular.self = circular;
    expect(reject('Stop', circular).reason).toContain('maxDepth');
    expect(reject('Stop', { session_id: 's', n: 10n }).reason).toContain('bigint');
  });

  it('honours smaller limits', () => {
    const events = toEvents('Stop', claude('Stop', { a: { b: { c: {} } } }), T, {
      maxDepth: 2,
      maxRawLength: 10,
    });
    expect(events[0]!.type).toBe('hook.rejected');
    expect((events[0]!.data.raw as string).length).toBe(10);
    expect(() => toEvents('Stop', {}, T, { maxDepth: 0 })).toThrow(ConfigError);
  });
});
