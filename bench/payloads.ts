/**
 * A deterministic stream of realistic Claude Code hook payloads for the end-to-end benchmarks, shaped
 * like `demo/sessions.jsonl` and the real payloads in `test/fixtures/claude-code-hooks.jsonl`:
 * `{ hook, timestamp, output }` envelopes whose `output` is what Claude Code sends a hook on stdin.
 *
 * Many sessions run at once. Each session follows a script — `SessionStart`, then turns of
 * `UserPromptSubmit` → tool calls (`PreToolUse` + `PostToolUse` of Read, Edit, Write, Bash, Grep, Glob,
 * MultiEdit, Task; some Bash calls run tests, some commit, some fail) → `Stop`, with the odd
 * `Notification` and `SubagentStop` — and ends with `SessionEnd`, after which its slot starts a new
 * session (new id). Event time advances per session as a person and an agent would produce it: a tool
 * call's Post follows its Pre by the tool's duration (tens of ms to a minute for a test run), the next
 * call comes seconds later, the next prompt tens of seconds to minutes later. The sessions' events are
 * merged in event-time order (a heap), so timestamps never go back.
 */
import type { HookOutput } from '../src/index.js';

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface PayloadStreamOptions {
  /** Sessions running at once. */
  sessions: number;
  /** PRNG seed. Default 8. */
  seed?: number;
  /** Event time of the first event, ms since epoch. */
  t0?: number;
}

const PROJECTS = [
  'acme-shop',
  'billing-service',
  'infra-terraform',
  'mobile-app',
  'docs-site',
  'data-pipeline',
  'auth-gateway',
  'design-system',
];
const DIRS = ['src', 'src/orders', 'src/api', 'src/components', 'src/lib', 'test', 'scripts'];
const NAMES = [
  'OrdersPage.tsx',
  'csv.ts',
  'client.ts',
  'handler.ts',
  'Button.tsx',
  'format.ts',
  'index.ts',
  'rounding.ts',
  'money.ts',
  'session.ts',
  'config.ts',
  'retry.ts',
];
const SNIPPETS = [
  '  const { quotes, total, totalPages } = await getAllQuotes({\n    search: params.search,\n    status: params.status,\n    page,\n    perPage: 15,\n  });',
  'export function toCsv(rows: Order[]): string {\n  return [HEADER, ...rows.map((r) => [r.id, r.total, r.createdAt].join(","))].join("\\n");\n}',
  'if (response.status === 429) {\n  await sleep(backoff(attempt));\n  continue;\n}',
  "import { describe, expect, it } from 'vitest';\n\ndescribe('round', () => {\n  it('rounds half to even', () => expect(round(2.5)).toBe(2));\n});",
];
const FILE_CONTENT = `${SNIPPETS.join('\n\n')}\n`.repeat(3);
const READ_CONTENT = `${SNIPPETS.join('\n')}\n`.repeat(4);
const PROMPTS = [
  'Add a CSV export button to the orders page, with tests.',
  'The totals are off by one cent for some orders; find the rounding bug and fix it.',
  'Why is the checkout page slow? Profile it and suggest fixes.',
  'Refactor the API client to retry on 429 with exponential backoff.',
  'Update the docs for the new billing endpoints.',
];
const TEST_COMMANDS = ['npm test', 'npx vitest run', 'pytest -q', 'go test ./...'];
const COMMITS = [
  'fix: round order totals half to even',
  'feat: CSV export of orders',
  'refactor: retry the API client on 429',
  'docs: billing endpoints',
];
const OTHER_COMMANDS = ['git status', 'ls -la src', 'npm run lint', 'git diff --stat', 'cat package.json'];

interface Step {
  hook: string;
  gap: number;
  build: () => Record<string, unknown>;
}

interface Session {
  id: string;
  cwd: string;
  transcript: string;
  files: string[];
  /** Event time of this session's next payload. */
  next: number;
  /** Turns left before SessionEnd. */
  turns: number;
  /** Tool calls left in the current turn. */
  calls: number;
  /** Payloads queued by the script (a tool call's Post after its Pre …). */
  queue: Step[];
  /** The payload due at `next`. */
  head: Step | undefined;
  started: boolean;
  ended: boolean;
}

/**
 * Returns a function that gives the next payload, forever. Deterministic for a given seed and session
 * count. Each call makes fresh objects, as `JSON.parse` of a hook's stdin would.
 */
export function payloadStream(options: PayloadStreamOptions): () => HookOutput {
  const random = prng(options.seed ?? 8);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const t0 = options.t0 ?? 1_795_165_200_000;
  let toolSeq = 0;

  const uuid = () => {
    const hex = (n: number) =>
      Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
    return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  };

  const newSession = (start: number): Session => {
    const project = pick(PROJECTS);
    const cwd = `/home/user/${project}`;
    const id = uuid();
    return {
      id,
      cwd,
      transcript: `/home/user/.claude/projects/-home-user-${project}/${id}.jsonl`,
      files: Array.from({ length: 12 }, () => `${cwd}/${pick(DIRS)}/${pick(NAMES)}`),
      next: start,
      turns: int(3, 30),
      calls: 0,
      queue: [],
      head: undefined,
      started: false,
      ended: false,
    };
  };

  // A binary min-heap of sessions by `next`.
  const heap: Session[] = [];
  const less = (a: Session, b: Session) => a.next < b.next;
  const siftDown = (i: number) => {
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && less(heap[l]!, heap[m]!)) m = l;
      if (r < n && less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      const swap = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = swap;
      i = m;
    }
  };
  // Sessions start staggered over the first two minutes.
  for (let i = 0; i < options.sessions; i++) heap.push(newSession(t0 + Math.floor(random() * 120_000)));
  heap.sort((a, b) => a.next - b.next);

  /**
   * Queues one tool call: its Pre now, its Post `duration` later (a Task's SubagentStop just before it).
   * Only primitives are decided here; the payload objects are built when they are due, so that the
   * generator holds no garbage between the two (10,000 sessions × a queued payload would otherwise be
   * promoted to the old generation and cost major collections that are not the pipeline's).
   */
  const toolCall = (s: Session) => {
    const tool_use_id = `toolu_01${(++toolSeq).toString(36).padStart(20, '0')}`;
    const seq = toolSeq;
    const r = random();
    const path = pick(s.files);
    const a = pick(SNIPPETS);
    const b = pick(SNIPPETS);
    let name: string;
    let input: () => Record<string, unknown>;
    let response: () => unknown;
    let duration = int(20, 800);
    let failure: string | undefined;
    let subagent = false;
    if (r < 0.3) {
      name = 'Read';
      input = () => ({ file_path: path });
      response = () => ({
        type: 'text',
        file: { filePath: path, content: READ_CONTENT, numLines: 80, totalLines: 80 },
      });
    } else if (r < 0.5) {
      name = 'Edit';
      input = () => ({ file_path: path, old_string: a, new_string: b, replace_all: false });
      response = () => ({ filePath: path, oldString: a, newString: b, userModified: false });
    } else if (r < 0.55) {
      name = 'MultiEdit';
      const edits = () => [
        { old_string: a, new_string: b },
        { old_string: b, new_string: a },
      ];
      input = () => ({ file_path: path, edits: edits() });
      response = () => ({ filePath: path, edits: edits() });
    } else if (r < 0.62) {
      name = 'Write';
      const created = `${s.cwd}/${pick(DIRS)}/new-${seq % 1000}.ts`;
      const kind = random() < 0.7 ? 'create' : 'update';
      input = () => ({ file_path: created, content: FILE_CONTENT });
      response = () => ({ type: kind, filePath: created, content: FILE_CONTENT });
    } else if (r < 0.85) {
      name = 'Bash';
      const kind = random();
      let command: string;
      let description: string;
      let stdout: string;
      if (kind < 0.3) {
        command = pick(TEST_COMMANDS);
        description = 'Run the tests';
        duration = int(2_000, 40_000);
        if (random() < 0.25) {
          failure =
            'Exit code 1\nFAIL test/orders.spec.ts > totals > rounds half to even\nAssertionError: expected 2.51 to be 2.5';
        }
        stdout = ' ✓ test/orders.spec.ts (12 tests) 41ms\n\n Test Files  1 passed (1)';
      } else if (kind < 0.4) {
        const message = pick(COMMITS);
        command = `git add -A && git commit -m "${message}"`;
        description = 'Commit the change';
        const hash = ((seq * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(0, 7);
        stdout = `[main ${hash}] ${message}\n 2 files changed, 31 insertions(+), 4 deletions(-)`;
      } else {
        command = pick(OTHER_COMMANDS);
        description = 'Look around';
        stdout = 'M src/orders/csv.ts\nM test/orders.spec.ts\n';
      }
      input = () => ({ command, description });
      response = () => ({ stdout, stderr: '', interrupted: false, isImage: false });
    } else if (r < 0.93) {
      name = 'Grep';
      input = () => ({ pattern: 'roundHalfEven', path: s.cwd, output_mode: 'files_with_matches' });
      response = () => ({ mode: 'files_with_matches', numFiles: 2, filenames: [path, s.files[0]] });
    } else if (r < 0.97) {
      name = 'Glob';
      input = () => ({ pattern: '**/*.spec.ts' });
      response = () => ({ filenames: s.files.slice(0, 4), numFiles: 4, truncated: false, durationMs: 12 });
    } else {
      name = 'Task';
      subagent = true;
      duration = int(20_000, 120_000);
      const prompt = pick(PROMPTS);
      input = () => ({ description: 'Investigate the failing test', prompt, subagent_type: 'debugger' });
      response = () => ({
        content: [{ type: 'text', text: 'The rounding uses Math.round; use banker’s rounding.' }],
      });
    }
    // Literal objects, not spreads: a spread builds its result key by key, several times slower.
    const pre = () => ({
      session_id: s.id,
      transcript_path: s.transcript,
      cwd: s.cwd,
      hook_event_name: 'PreToolUse',
      permission_mode: 'acceptEdits',
      tool_name: name,
      tool_input: input(),
      tool_use_id,
    });
    s.queue.push({ hook: 'PreToolUse', gap: int(1_000, 15_000), build: pre });
    if (subagent) {
      s.queue.push({
        hook: 'SubagentStop',
        gap: duration - 50,
        build: () => ({
          session_id: s.id,
          transcript_path: s.transcript,
          cwd: s.cwd,
          hook_event_name: 'SubagentStop',
          agent_type: 'debugger',
          agent_id: `a${seq}`,
          stop_hook_active: false,
        }),
      });
    }
    const error = failure;
    s.queue.push(
      error === undefined
        ? {
            hook: 'PostToolUse',
            gap: subagent ? 50 : duration,
            build: () => ({
              session_id: s.id,
              transcript_path: s.transcript,
              cwd: s.cwd,
              hook_event_name: 'PostToolUse',
              permission_mode: 'acceptEdits',
              tool_name: name,
              tool_input: input(),
              tool_response: response(),
              tool_use_id,
            }),
          }
        : {
            hook: 'PostToolUseFailure',
            gap: duration,
            build: () => ({
              session_id: s.id,
              transcript_path: s.transcript,
              cwd: s.cwd,
              hook_event_name: 'PostToolUseFailure',
              permission_mode: 'acceptEdits',
              tool_name: name,
              tool_input: input(),
              tool_use_id,
              error,
              is_interrupt: false,
            }),
          },
    );
  };

  /** Fills the session's queue with its next step of the script. */
  const script = (s: Session) => {
    if (!s.started) {
      s.started = true;
      s.queue.push({
        hook: 'SessionStart',
        gap: 0,
        build: () => ({
          session_id: s.id,
          transcript_path: s.transcript,
          cwd: s.cwd,
          hook_event_name: 'SessionStart',
          source: 'startup',
          model: 'claude-opus-4-7',
        }),
      });
      return;
    }
    if (s.calls > 0) {
      s.calls--;
      toolCall(s);
      if (s.calls === 0) {
        s.queue.push({
          hook: 'Stop',
          gap: int(2_000, 10_000),
          build: () => ({
            session_id: s.id,
            transcript_path: s.transcript,
            cwd: s.cwd,
            hook_event_name: 'Stop',
            stop_hook_active: false,
          }),
        });
        if (random() < 0.2) {
          s.queue.push({
            hook: 'Notification',
            gap: 60_000,
            build: () => ({
              session_id: s.id,
              transcript_path: s.transcript,
              cwd: s.cwd,
              hook_event_name: 'Notification',
              message: 'Claude is waiting for your input',
              notification_type: 'idle_prompt',
            }),
          });
        }
      }
      return;
    }
    if (s.turns > 0) {
      s.turns--;
      s.calls = int(2, 25);
      const prompt = pick(PROMPTS);
      s.queue.push({
        hook: 'UserPromptSubmit',
        gap: int(15_000, 300_000),
        build: () => ({
          session_id: s.id,
          transcript_path: s.transcript,
          cwd: s.cwd,
          hook_event_name: 'UserPromptSubmit',
          prompt,
        }),
      });
      return;
    }
    s.ended = true;
    s.queue.push({
      hook: 'SessionEnd',
      gap: int(10_000, 120_000),
      build: () => ({
        session_id: s.id,
        transcript_path: s.transcript,
        cwd: s.cwd,
        hook_event_name: 'SessionEnd',
        reason: 'prompt_input_exit',
      }),
    });
  };

  const advance = (s: Session) => {
    if (s.queue.length === 0) script(s);
    const step = s.queue.shift()!;
    s.next += step.gap;
    s.head = step;
  };
  for (const s of heap) advance(s);
  heap.sort((a, b) => a.next - b.next);

  return () => {
    const s = heap[0]!;
    const step = s.head!;
    const out: HookOutput = { hook: step.hook, timestamp: s.next, output: step.build() };
    if (s.ended && s.queue.length === 0) {
      // The slot starts a new session a little later.
      const fresh = newSession(s.next + int(1_000, 60_000));
      advance(fresh);
      heap[0] = fresh;
    } else {
      advance(s);
    }
    siftDown(0);
    return out;
  };
}

/** The first `count` payloads of a stream. */
export function makePayloads(count: number, sessions: number, seed?: number): HookOutput[] {
  const next = payloadStream({ sessions, ...(seed === undefined ? {} : { seed }) });
  return Array.from({ length: count }, next);
}

/** How many sessions a stream of this seed and size started (for reports). */
export function countSessions(payloads: readonly HookOutput[]): number {
  const ids = new Set<unknown>();
  for (const p of payloads) ids.add((p.output as { session_id?: unknown }).session_id);
  return ids.size;
}
