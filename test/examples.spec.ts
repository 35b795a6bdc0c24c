import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { lastValueFrom, toArray } from 'rxjs';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bridgeHooks, DEFAULT_SESSION, type Event, fromHookFile, openStore } from '../src/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const SESSION = '3b9e1c4a-7d2f-4e6b-9a1c-5f8e2d7b0c13'; // the first session of demo/sessions.jsonl

let dir: string;
let log: string;
let servers: ChildProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vibespec-examples-'));
  log = join(dir, 'hooks.jsonl');
});
afterEach(async () => {
  for (const server of servers) await stop(server);
  servers = [];
  await rm(dir, { recursive: true, force: true });
});

/** Starts examples/sse-dashboard.ts in `dir` (its store goes there) on a free port; resolves that port. */
async function start(): Promise<{ server: ChildProcess; port: number }> {
  const server = spawn(process.execPath, ['--import', TSX, join(ROOT, 'examples/sse-dashboard.ts'), log], {
    cwd: dir,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  servers.push(server);
  let out = '';
  for await (const chunk of server.stdout!) {
    out += chunk;
    const port = /SSE feed on http:\/\/localhost:(\d+)\//.exec(out)?.[1];
    if (port !== undefined) return { server, port: Number(port) };
  }
  throw new Error(`the example exited before listening: ${out}`);
}

async function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = once(server, 'exit');
  server.kill('SIGTERM');
  await exited;
}

/** Reads the feed (with `Last-Event-ID` if given) until `count` events came, then disconnects. */
async function read(port: number, count: number, lastEventId?: string) {
  const abort = new AbortController();
  const response = await fetch(`http://localhost:${port}/sessions/${SESSION}/events`, {
    headers: lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId },
    signal: abort.signal,
  });
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  const events: Array<{ id: number; type: string }> = [];
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body!) {
      text += decoder.decode(chunk, { stream: true });
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        events.push({ id: Number(/^id: (.*)$/m.exec(block)![1]), type: /^event: (.*)$/m.exec(block)![1]! });
      }
      if (events.length >= count) break;
    }
  } finally {
    abort.abort();
  }
  return events;
}

/** The types of the session's events, in order, from the log's first `lines` lines. */
async function expectedTypes(lines: string[]): Promise<string[]> {
  const file = join(dir, 'expected.jsonl');
  await writeFile(file, `${lines.join('\n')}\n`);
  const events = await lastValueFrom(fromHookFile(file).pipe(bridgeHooks(), toArray()));
  return events.filter((event) => event.sessionId === SESSION).map((event) => event.type);
}

describe('examples/sse-dashboard.ts', () => {
  it('serves a session as Server-Sent Events that resume with no gap and no duplicate, also after a restart', {
    timeout: 180_000,
  }, async () => {
    const lines = (await readFile(join(ROOT, 'demo/sessions.jsonl'), 'utf8')).split('\n').slice(0, 50);
    await writeFile(log, `${lines.slice(0, 20).join('\n')}\n`);
    const first = await expectedTypes(lines.slice(0, 20));
    const second = await expectedTypes(lines.slice(0, 35));
    const all = await expectedTypes(lines);
    const ids = (events: Array<{ id: number }>) => events.map((event) => event.id);
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

    let { server, port } = await start();
    const stored = await read(port, first.length);
    expect(stored).toEqual(first.map((type, id) => ({ id, type })));

    // A browser that reconnects sends the last id it saw; lines appended meanwhile arrive live.
    const resumed = read(port, second.length - 5, '4');
    await appendFile(log, `${lines.slice(20, 35).join('\n')}\n`);
    expect(ids(await resumed)).toEqual(range(5, second.length));
    expect((await resumed).map((event) => event.type)).toEqual(second.slice(5));

    // An empty Last-Event-ID is no id: from the first event, not after seq 0.
    expect(ids(await read(port, 3, '')).slice(0, 3)).toEqual([0, 1, 2]);

    // The feed restarts: the browser resumes after the last event it saw, and gets the rest once.
    await stop(server);
    await appendFile(log, `${lines.slice(35).join('\n')}\n`);
    ({ server, port } = await start());
    const afterRestart = await read(port, all.length - second.length, String(second.length - 1));
    expect(afterRestart).toEqual(
      all.slice(second.length).map((type, i) => ({ id: second.length + i, type })),
    );
  });
});

describe('examples/live-dashboard.ts', () => {
  it("is the README's composition, which is type-checked and run only as this file", async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Composing the operators'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    const example = await readFile(join(ROOT, 'examples/live-dashboard.ts'), 'utf8');
    // The file's header comment and its import path aside (the README imports the package by name),
    // the code is the same, token for token (formatting may differ).
    const tokens = (code: string) => {
      const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, code);
      const out: string[] = [];
      for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
        out.push(scanner.getTokenText());
      }
      return out;
    };
    expect(block).toBeDefined();
    expect(tokens(block!.replace("'vibespec-streams'", "'../src/index.js'"))).toEqual(tokens(example));
  });

  /** Starts the example in `dir` (its store goes there), following `log`. */
  const startDashboard = () => {
    const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'examples/live-dashboard.ts'), log], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    servers.push(child);
    return child;
  };
  /** Polls until the saved mark is at `size` bytes; the deadline only turns a hang into a failure. */
  const markAt = async (size: number) => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const mark = await readFile(`${log}.mark`, 'utf8').then(JSON.parse, () => undefined);
      if (mark?.end === size || Date.now() > deadline) return mark?.end;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)(
    'ends on %s once what it read is stored, its mark saved and its store closed (exit 0)',
    { timeout: 180_000 },
    async (signal) => {
      const lines = (await readFile(join(ROOT, 'demo/sessions.jsonl'), 'utf8')).split('\n').slice(0, 10);
      const text = `${lines.join('\n')}\n`;
      await writeFile(log, text);
      const child = startDashboard();
      expect(await markAt(Buffer.byteLength(text))).toBe(Buffer.byteLength(text));
      const exited = once(child, 'exit');
      child.kill(signal);
      expect(await exited).toEqual([0, null]); // ended by itself, not killed by the signal
      // Closed: another process can open it.
      const store = await openStore({ path: join(dir, '.vibespec/event-store') });
      await store.close();
    },
  );

  it('stores each line of the log once across a restart: it resumes after the last line stored', {
    timeout: 180_000,
  }, async () => {
    const lines = (await readFile(join(ROOT, 'demo/sessions.jsonl'), 'utf8')).split('\n').slice(0, 40);
    const first = `${lines.slice(0, 25).join('\n')}\n`;
    const all = `${lines.join('\n')}\n`;
    await writeFile(log, first);
    let child = startDashboard();
    expect(await markAt(Buffer.byteLength(first))).toBe(Buffer.byteLength(first));
    await stop(child);
    await appendFile(log, `${lines.slice(25).join('\n')}\n`);
    child = startDashboard();
    expect(await markAt(Buffer.byteLength(all))).toBe(Buffer.byteLength(all));
    await stop(child);

    // The store holds the events of one read of the whole log, each once.
    const expected = await lastValueFrom(fromHookFile(log).pipe(bridgeHooks(), toArray()));
    const store = await openStore({ path: join(dir, '.vibespec/event-store') });
    try {
      const stored: string[] = [];
      for (const info of await store.sessions()) {
        for await (const event of store.query(info.sessionId)) stored.push(`${info.sessionId} ${event.type}`);
      }
      const key = (event: Event) => `${event.sessionId ?? DEFAULT_SESSION} ${event.type}`;
      expect(stored.sort()).toEqual(expected.map(key).sort());
    } finally {
      await store.close();
    }
  });
});
