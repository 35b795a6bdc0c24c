/**
 * Writes `demo/sessions.jsonl`: a realistic, deterministic log of Claude Code hook payloads —
 * a feature being built, a bug being fixed, a short exploration — as `{ hook, timestamp, output }`
 * envelopes. Run with `npx tsx demo/generate.ts`; the output is committed so `npm start` needs nothing.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Line {
  hook: string;
  timestamp: number;
  output: unknown;
}

// A small seeded PRNG (mulberry32) so the file is the same on every run.
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(20261123);
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;

const lines: Line[] = [];
let toolSeq = 0;

function session(id: string, cwd: string, start: number) {
  let now = start;
  const base = () => ({
    session_id: id,
    transcript_path: `/home/user/.claude/projects/${cwd.replaceAll('/', '-')}/${id}.jsonl`,
    cwd,
  });
  const emit = (
    hook: string,
    fields: Record<string, unknown>,
    gapMs = 2_000 + Math.floor(random() * 18_000),
  ) => {
    now += gapMs;
    lines.push({ hook, timestamp: now, output: { ...base(), hook_event_name: hook, ...fields } });
  };
  const tool = (name: string, input: Record<string, unknown>, response: unknown, durationMs?: number) => {
    const tool_use_id = `toolu_demo_${String(++toolSeq).padStart(4, '0')}`;
    emit('PreToolUse', { permission_mode: 'acceptEdits', tool_name: name, tool_input: input, tool_use_id });
    emit(
      'PostToolUse',
      {
        permission_mode: 'acceptEdits',
        tool_name: name,
        tool_input: input,
        tool_response: response,
        tool_use_id,
        ...(durationMs === undefined ? {} : { duration_ms: durationMs }),
      },
      durationMs ?? 200 + Math.floor(random() * 1500),
    );
  };
  const fail = (name: string, input: Record<string, unknown>, error: string, durationMs: number) => {
    const tool_use_id = `toolu_demo_${String(++toolSeq).padStart(4, '0')}`;
    emit('PreToolUse', { permission_mode: 'acceptEdits', tool_name: name, tool_input: input, tool_use_id });
    emit(
      'PostToolUseFailure',
      {
        tool_name: name,
        tool_input: input,
        tool_use_id,
        error,
        is_interrupt: false,
        duration_ms: durationMs,
      },
      durationMs,
    );
  };
  const read = (path: string) =>
    tool('Read', { file_path: path }, { type: 'text', file: { filePath: path, content: '…', numLines: 80 } });
  const write = (path: string, content: string, create: boolean) =>
    tool(
      'Write',
      { file_path: path, content },
      { type: create ? 'create' : 'update', filePath: path, content, structuredPatch: [] },
    );
  const edit = (path: string, from: string, to: string) =>
    tool(
      'Edit',
      { file_path: path, old_string: from, new_string: to },
      {
        filePath: path,
        oldString: from,
        newString: to,
        structuredPatch: [],
        userModified: false,
        replaceAll: false,
      },
    );
  const bash = (command: string, stdout: string, durationMs?: number) =>
    tool(
      'Bash',
      { command, description: command },
      { stdout, stderr: '', interrupted: false, isImage: false },
      durationMs,
    );
  return {
    emit,
    tool,
    fail,
    read,
    write,
    edit,
    bash,
    get now() {
      return now;
    },
  };
}

const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);

// Session 1: a feature — CSV export for the orders page — built over ~25 minutes.
{
  const s = session('3b9e1c4a-7d2f-4e6b-9a1c-5f8e2d7b0c13', '/home/user/acme-shop', T0);
  s.emit('SessionStart', { source: 'startup', model: 'claude-opus-4-7' }, 0);
  s.emit('UserPromptSubmit', { prompt: 'Add a CSV export button to the orders page, with tests.' });
  for (const path of [
    'src/orders/OrdersPage.tsx',
    'src/orders/api.ts',
    'src/lib/format.ts',
    'package.json',
  ]) {
    s.read(`/home/user/acme-shop/${path}`);
  }
  s.tool(
    'Grep',
    { pattern: 'toCsv|exportOrders', path: '/home/user/acme-shop/src' },
    { mode: 'files_with_matches', numFiles: 0, filenames: [] },
  );
  s.write(
    '/home/user/acme-shop/src/orders/csv.ts',
    'export function toCsv(rows) {\n  /* … */\n}\n'.repeat(8),
    true,
  );
  s.write('/home/user/acme-shop/src/orders/csv.test.ts', "import { toCsv } from './csv';\n".repeat(12), true);
  s.bash('npm test -- src/orders', 'FAIL src/orders/csv.test.ts\n  ✕ escapes quotes', 4200);
  s.fail('Bash', { command: 'npx vitest run src/orders' }, 'Exit code 1\n1 failed | 3 passed', 3900);
  for (let round = 0; round < 6; round++) {
    s.edit('/home/user/acme-shop/src/orders/csv.ts', `case ${round}`, `case ${round + 1}`);
    if (round % 2 === 1)
      s.edit('/home/user/acme-shop/src/orders/OrdersPage.tsx', '<Toolbar>', '<Toolbar>\n  <ExportButton />');
  }
  s.write(
    '/home/user/acme-shop/src/orders/ExportButton.tsx',
    'export function ExportButton() { return <button>Export CSV</button>; }\n',
    true,
  );
  s.bash('npx vitest run src/orders', ' ✓ src/orders/csv.test.ts (4 tests)\n Test Files  1 passed', 3100);
  s.tool(
    'Task',
    {
      description: 'Review the export feature',
      prompt: 'Review src/orders for edge cases',
      subagent_type: 'reviewer',
    },
    { status: 'completed', totalDurationMs: 41_000, totalTokens: 18_200, totalToolUseCount: 9, content: [] },
    41_000,
  );
  s.emit('SubagentStop', {
    stop_hook_active: false,
    agent_id: 'a7c19e2',
    agent_type: 'reviewer',
    agent_transcript_path: '/home/user/.claude/projects/x/agent-a7c19e2.jsonl',
    last_assistant_message: 'Looks good; consider a BOM for Excel.',
  });
  s.edit('/home/user/acme-shop/src/orders/csv.ts', "const BOM = ''", "const BOM = '\\uFEFF'");
  s.bash('npm test', ' Test Files  14 passed (14)\n      Tests  96 passed (96)', 8700);
  s.bash(
    'git add -A && git commit -m "feat(orders): export orders as CSV"',
    '[feature/csv-export 9c41d2e] feat(orders): export orders as CSV\n 5 files changed, 212 insertions(+)',
  );
  s.emit('Stop', { stop_hook_active: false, last_assistant_message: 'CSV export is in, with tests.' });
  s.emit('SessionEnd', { reason: 'prompt_input_exit' });
}

// Session 2: a bug fix — totals off by one cent — in a tighter loop.
{
  const s = session('8f2d6a10-3c4b-4d9e-8b7a-2e1f0c9d5a64', '/home/user/acme-shop', T0 + 45 * 60_000);
  s.emit('SessionStart', { source: 'resume', model: 'claude-sonnet-4-6' }, 0);
  s.emit('UserPromptSubmit', { prompt: 'Order totals are off by one cent for some carts. Find and fix it.' });
  s.tool(
    'Grep',
    { pattern: 'Math.round', path: '/home/user/acme-shop/src' },
    {
      mode: 'files_with_matches',
      numFiles: 3,
      filenames: ['src/cart/total.ts', 'src/lib/money.ts', 'src/tax.ts'],
    },
  );
  for (const path of ['src/cart/total.ts', 'src/lib/money.ts', 'src/cart/total.test.ts'])
    s.read(`/home/user/acme-shop/${path}`);
  s.edit('/home/user/acme-shop/src/cart/total.test.ts', '// cases', "it('rounds half-cents once', …)");
  s.fail('Bash', { command: 'npm test -- src/cart' }, 'Exit code 1\nExpected 1999, received 2000', 2600);
  s.edit('/home/user/acme-shop/src/lib/money.ts', 'Math.round(x * 100) / 100', 'roundHalfEven(x)');
  s.edit('/home/user/acme-shop/src/cart/total.ts', 'sum.map(round)', 'round(sum)');
  s.bash('npm test -- src/cart', ' ✓ src/cart/total.test.ts (12 tests)', 2300);
  s.bash(
    'git commit -am "fix(cart): round totals once, half-even"',
    '[main 41be07a] fix(cart): round totals once, half-even\n 3 files changed, 18 insertions(+), 6 deletions(-)',
  );
  s.emit(
    'Notification',
    { message: 'Claude is waiting for your input', notification_type: 'idle_prompt' },
    30_000,
  );
  s.emit('Stop', { stop_hook_active: false });
}

// Session 3: a sub-agent heavy exploration with a long tail of tool use, and a few bad hook lines.
{
  const s = session('c51a9f3e-0b6d-4a27-9e84-7d3b2f1e6a05', '/home/user/acme-api', T0 + 2 * 3_600_000);
  s.emit('SessionStart', { source: 'startup', model: 'claude-opus-4-7' }, 0);
  s.emit('UserPromptSubmit', { prompt: 'Why is GET /orders slow? Profile it and propose a fix.' });
  const files = [
    'src/db/orders.ts',
    'src/db/pool.ts',
    'src/routes/orders.ts',
    'src/routes/index.ts',
    'migrations/012.sql',
  ];
  for (let i = 0; i < 90; i++) {
    const kind = pick(['read', 'read', 'grep', 'bash', 'glob'] as const);
    if (kind === 'read') s.read(`/home/user/acme-api/${pick(files)}`);
    else if (kind === 'grep')
      s.tool(
        'Grep',
        { pattern: pick(['listOrders', 'pool.query', 'JOIN']) },
        { mode: 'content', numFiles: 2 },
      );
    else if (kind === 'glob')
      s.tool(
        'Glob',
        { pattern: '**/*.sql' },
        { filenames: ['migrations/012.sql'], durationMs: 12, numFiles: 1 },
      );
    else s.bash(pick(['npm run bench:orders', 'psql -c "EXPLAIN ANALYZE …"', 'git log --oneline -5']), 'ok');
    if (i % 20 === 19) {
      s.emit('SubagentStart', { agent_id: `b${i}`, agent_type: 'Explore' });
      s.emit('SubagentStop', { stop_hook_active: false, agent_id: `b${i}`, agent_type: 'Explore' }, 20_000);
    }
  }
  s.edit('/home/user/acme-api/src/db/orders.ts', 'SELECT *', 'SELECT id, total, created_at');
  s.write('/home/user/acme-api/migrations/013_orders_customer_idx.sql', 'CREATE INDEX …;\n', true);
  s.emit('PreCompact', { trigger: 'auto', custom_instructions: null });
  lines.push({ hook: 'PostToolUse', timestamp: s.now + 10, output: { tool_name: 'Bash' } }); // no session_id
  lines.push({ hook: 'Notification', timestamp: s.now + 20, output: null });
  s.emit('SessionEnd', { reason: 'other' });
}

const out = join(dirname(fileURLToPath(import.meta.url)), 'sessions.jsonl');
const text = lines.map((line) => JSON.stringify(line)).join('\n');
// One deliberately truncated line: a hook that crashed mid-write.
writeFileSync(out, `${text}\n{"hook":"PostToolUse","timestamp":${T0},"output":{"session_id":"3b9e\n`);
console.log(`wrote ${lines.length + 1} lines to ${out}`);
