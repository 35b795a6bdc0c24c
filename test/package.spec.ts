/**
 * The package's shape, without building it (a build takes seconds): how `exports` resolves for
 * `import` and `require`, that the entry can be required at all (no top-level await), and that the
 * build's source maps point at files the package ships. Then the package as a user gets it: packed
 * (`npm pack`, which builds it), unpacked into a project where it sees only what it declares (as pnpm, or
 * npm's linked install, lays it out), its declarations compiled there, its entry loaded and its command run.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

interface PackageJson {
  name: string;
  version: string;
  main: string;
  files: string[];
  exports: Record<string, unknown>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
}

async function packageJson(): Promise<PackageJson> {
  return JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
}

/** Whether `path` (relative to the package root, `/`-separated) is in the package's `files`. */
function shipped(files: readonly string[], path: string): boolean {
  return files.some((entry) => path === entry || path.startsWith(`${entry.replace(/\/$/, '')}/`));
}

describe('package', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vibespec-package-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves both import and require of the package name to its ESM entry', async () => {
    // `exports` had only an `import` condition: require() failed with ERR_PACKAGE_PATH_NOT_EXPORTED,
    // although Node (≥ 20.19, ≥ 22.12) can require an ES module without top-level await.
    const pkg = await packageJson();
    const installed = join(dir, 'node_modules', pkg.name);
    await mkdir(join(installed, 'dist'), { recursive: true });
    await writeFile(join(installed, 'package.json'), JSON.stringify(pkg));
    // A stand-in for the build: the resolution, not the code, is under test here.
    await writeFile(join(installed, 'dist', 'index.js'), "export const entry = 'dist/index.js';\n");
    await writeFile(join(installed, 'dist', 'index.d.ts'), 'export declare const entry: string;\n');
    const node = async (...args: string[]): Promise<string> =>
      (await run(process.execPath, args, { cwd: dir })).stdout.trim();

    expect(await node('-e', `console.log(require(${JSON.stringify(pkg.name)}).entry)`)).toBe('dist/index.js');
    expect(
      await node(
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(pkg.name)}); console.log(m.entry)`,
      ),
    ).toBe('dist/index.js');
    expect(await node('-p', `require(${JSON.stringify(`${pkg.name}/package.json`)}).name`)).toBe(pkg.name);
  });

  it('has no top-level await in the modules the entry loads, which would make require() of it fail', async () => {
    const found = (path: string, text: string): string[] => {
      const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
      const hits: string[] = [];
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node)) return;
        if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier !== undefined)) {
          hits.push(`${path}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
      return hits;
    };
    // The scan itself finds one, and not one inside a function.
    expect(found('t.ts', 'const a = await f();\nfor await (const x of y) {}\n')).toEqual([
      't.ts:1',
      't.ts:2',
    ]);
    expect(
      found('t.ts', 'async function g() { await f(); }\nconst h = async () => { await f(); };\n'),
    ).toEqual([]);

    // The modules the entry loads, following its relative imports (`./x.js` is `./x.ts`); the CLI, a
    // script of its own, may use top-level await.
    const files = new Set<string>([join('src', 'index.ts')]);
    const hits: string[] = [];
    for (const file of files) {
      const text = await readFile(join(ROOT, file), 'utf8');
      hits.push(...found(file, text));
      for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
        if (fileName.startsWith('.')) files.add(join(dirname(file), fileName.replace(/\.js$/, '.ts')));
      }
    }
    expect(files.size).toBeGreaterThan(20);
    expect(files).toContain(join('src', 'operators', 'selectMode.ts'));
    expect(hits).toEqual([]);
  });

  it('ships every file its README and docs link to', async () => {
    // The README's composition is examples/live-dashboard.ts, and the README and docs/store.md send a
    // browser dashboard to examples/sse-dashboard.ts: neither was in `files`, the links led nowhere.
    const pkg = await packageJson();
    const pages = ['README.md', ...(await readdir(join(ROOT, 'docs'))).map((name) => `docs/${name}`)];
    const linked: string[] = [];
    for (const page of pages.filter((path) => path.endsWith('.md'))) {
      expect(shipped(pkg.files, page), page).toBe(true);
      const text = await readFile(join(ROOT, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
        const path = relative(ROOT, resolve(ROOT, dirname(page), target!))
          .split('\\')
          .join('/');
        linked.push(path);
        await expect(stat(join(ROOT, path)), `${page} → ${path}`).resolves.toBeDefined();
      }
    }
    expect(linked).toContain('examples/sse-dashboard.ts');
    expect(linked.filter((path) => !shipped(pkg.files, path))).toEqual([]);
  });

  it("points the build's source maps and declaration maps at files the package ships", async () => {
    // The maps named ../src/*.ts, and `files` did not ship src/: every mapped stack frame and "go to
    // definition" led to a file that is not there.
    const pkg = await packageJson();
    const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.build.json'), undefined, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    });
    if (config === undefined) throw new Error('tsconfig.build.json could not be read');
    expect(config.options.sourceMap || config.options.declarationMap).toBe(true);
    // One small file of src, compiled with the build's options, into memory.
    const maps = new Map<string, string>();
    // Without @types/node and imports to load: they change no path, and take seconds.
    const options = { ...config.options, types: [], noResolve: true };
    const program = ts.createProgram([join(ROOT, 'src', 'errors.ts')], options);
    program.emit(undefined, (fileName, text) => {
      if (fileName.endsWith('.map')) maps.set(fileName, text);
    });
    expect([...maps.keys()].map((file) => relative(ROOT, file).split('\\').join('/')).sort()).toEqual([
      'dist/errors.d.ts.map',
      'dist/errors.js.map',
    ]);
    for (const [file, text] of maps) {
      const map = JSON.parse(text) as { sources: string[]; sourceRoot?: string; sourcesContent?: unknown[] };
      const inlined = map.sources.every((_, i) => typeof map.sourcesContent?.[i] === 'string');
      if (inlined && file.endsWith('.js.map')) continue;
      for (const source of map.sources) {
        const target = relative(ROOT, resolve(dirname(file), map.sourceRoot ?? '', source))
          .split('\\')
          .join('/');
        expect(target).toBe('src/errors.ts');
        expect(shipped(pkg.files, target), `${relative(ROOT, file)} → ${target}`).toBe(true);
      }
    }
  });
});

/** `npm pack` of a copy of the repository (its `prepack` builds `dist/` there, not here). */
async function pack(into: string): Promise<string> {
  const pkg = await packageJson();
  const copy = join(into, 'repo');
  await mkdir(copy);
  const sources = [
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'README.md',
    'LICENSE',
    ...pkg.files,
  ];
  for (const entry of sources.filter((name) => name !== 'dist')) {
    await cp(join(ROOT, entry), join(copy, entry), { recursive: true });
  }
  await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  const { stdout } = await run('npm', ['pack', '--json', '--offline', '--pack-destination', into], {
    cwd: copy,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [{ filename }] = JSON.parse(stdout) as Array<{ filename: string }>;
  return join(into, filename);
}

/**
 * A project with the package unpacked into its node_modules. The package sees only the packages it
 * declares (dependencies and peer dependencies, linked from this repository's node_modules), not the
 * ones they bring: a package imported but not declared is not found, as under pnpm.
 */
async function install(tarball: string, project: string): Promise<string> {
  const pkg = await packageJson();
  const installed = join(project, 'node_modules', pkg.name);
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) {
    await mkdir(dirname(join(installed, 'node_modules', name)), { recursive: true });
    await symlink(join(ROOT, 'node_modules', name), join(installed, 'node_modules', name), 'dir');
  }
  // The project's own: rxjs (the peer dependency) and Node's types.
  for (const name of ['rxjs', '@types/node']) {
    await mkdir(dirname(join(project, 'node_modules', name)), { recursive: true });
    await symlink(join(ROOT, 'node_modules', name), join(project, 'node_modules', name), 'dir');
  }
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user', private: true }));
  return installed;
}

/** A user's code: the package's entry points in a pipe, its store and its types by name. */
const USER_CODE = `
import { filter } from 'rxjs';
import {
  bridgeHooks, correlate, type Event, fromHookFile, isAggregated, openStore, persist, type SessionStore,
  temporalAggregate,
} from 'vibespec-streams';

export async function run(log: string): Promise<number> {
  const store: SessionStore = await openStore({ path: log + '.store' });
  const aggregates = fromHookFile(log).pipe(
    bridgeHooks(),
    persist(store),
    correlate(),
    temporalAggregate(),
    filter(isAggregated),
  );
  let count = 0;
  aggregates.subscribe((event) => { count += event.data.event_count; });
  const first: Event | undefined = undefined;
  await store.close();
  return count + (first === undefined ? 0 : 1);
}
`;

describe('the package, packed and installed', () => {
  let dir: string;
  let project: string;
  let installed: string;
  let pkg: PackageJson;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vibespec-installed-'));
    project = join(dir, 'project');
    pkg = await packageJson();
    installed = await install(await pack(dir), project);
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has declarations that compile in a strict project with skipLibCheck off: ESM and CommonJS, node and bundler resolution', async () => {
    // The store's declarations imported abstract-level, which the package did not declare: it is level's
    // dependency, found only where npm hoists it. Under pnpm or npm's linked install: TS2307.
    await writeFile(join(project, 'esm.mts'), USER_CODE);
    await writeFile(join(project, 'cjs.cts'), USER_CODE);
    await writeFile(join(project, 'bundled.ts'), USER_CODE);
    const strict: ts.CompilerOptions = {
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: false,
      target: ts.ScriptTarget.ES2022,
      types: ['node'],
      noEmit: true,
    };
    // The user's files and the package's declarations, each checked whole (skipLibCheck off), and what
    // they lead to read; not all of @types/node, zod and rxjs checked, which takes seconds more per program.
    const diagnostics = (files: string[], options: ts.CompilerOptions): string[] => {
      const program = ts.createProgram(
        files.map((file) => join(project, file)),
        { ...strict, ...options },
      );
      const checked = program
        .getSourceFiles()
        .filter(
          (file) => file.fileName.startsWith(`${installed}/`) || !file.fileName.includes('/node_modules/'),
        );
      expect(checked.map((file) => relative(installed, file.fileName))).toContain(
        'dist/store/SessionStore.d.ts',
      );
      return [
        ...program.getOptionsDiagnostics(),
        ...program.getGlobalDiagnostics(),
        ...checked.flatMap((file) => [
          ...program.getSyntacticDiagnostics(file),
          ...program.getSemanticDiagnostics(file),
        ]),
      ].map((diagnostic) => {
        const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
        const where = diagnostic.file === undefined ? '' : `${relative(project, diagnostic.file.fileName)}: `;
        return `${where}TS${diagnostic.code} ${text}`;
      });
    };
    expect(
      diagnostics(['esm.mts', 'cjs.cts'], {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
      }),
    ).toEqual([]);
    expect(
      diagnostics(['bundled.ts'], {
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
      }),
    ).toEqual([]);

    // The declarations spell no Buffer<…> nor Uint8Array<…>: TypeScript reads those as generic from 5.7
    // on only, and zod 4 (whose types the declarations use) supports 5.5. An inferred type spelt them.
    const generic: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.name.endsWith('.d.ts')) {
          const text = await readFile(path, 'utf8');
          for (const [found] of text.matchAll(/\b(?:Buffer|Uint8Array|ArrayBuffer)</g)) {
            generic.push(`${relative(installed, path)}: ${found}`);
          }
        }
      }
    };
    await walk(join(installed, 'dist'));
    expect(generic).toEqual([]);
  });

  it("compiles the README's composition and a user's checks under node16, verbatimModuleSyntax and exactOptionalPropertyTypes", async () => {
    // The composition (examples/live-dashboard.ts, shipped) passes resumeFrom, possibly undefined, to
    // fromHookFileMarked: with exactOptionalPropertyTypes the options refused undefined, TS2379. And a
    // ConfigError's code was every code: a comparison with 'INVALID_EVENT' compiled.
    const example = await readFile(join(installed, 'examples', 'live-dashboard.ts'), 'utf8');
    expect(example).toContain("from '../src/index.js'");
    await writeFile(
      join(project, 'dashboard.mts'),
      example.replace("from '../src/index.js'", `from '${pkg.name}'`),
    );
    await writeFile(
      join(project, 'checks.mts'),
      `import { ConfigError, type ErrorCode, fromHookFile, type HookFileMark, InvalidEventError, openStore } from '${pkg.name}';
export function code(error: unknown, mark: HookFileMark | undefined): ErrorCode | undefined {
  fromHookFile('hooks.jsonl', { follow: undefined, resumeFrom: mark });
  void openStore({ path: undefined, durability: undefined });
  if (error instanceof ConfigError) {
    // @ts-expect-error a ConfigError's code is INVALID_CONFIG
    if (error.code === 'INVALID_EVENT') return undefined;
    const only: 'INVALID_CONFIG' = error.code;
    return only;
  }
  return error instanceof InvalidEventError ? error.code : undefined;
}
`,
    );
    const program = ts.createProgram([join(project, 'dashboard.mts'), join(project, 'checks.mts')], {
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      skipLibCheck: true, // the declarations are checked whole above
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      target: ts.ScriptTarget.ES2022,
      types: ['node'],
      noEmit: true,
    });
    const errors = ts
      .getPreEmitDiagnostics(program)
      .map(
        (d) =>
          `${d.file === undefined ? '' : relative(project, d.file.fileName)}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
      );
    expect(errors).toEqual([]);
  });

  it("needs @types/node, as the README's install section says: without it, Node's types are any", async () => {
    // The declarations name Node's types (Readable, Buffer), and level's do too. Without @types/node
    // (types: [] leaves the project's out) a strict check of them fails, and with skipLibCheck on they
    // compile, Node's types read as any: fromJsonLines(42) is accepted. With it, refused.
    await writeFile(
      join(project, 'probe.mts'),
      `${USER_CODE}\nfromJsonLines(42);\n`.replace('bridgeHooks,', 'bridgeHooks, fromJsonLines,'),
    );
    const codes = (options: ts.CompilerOptions): string[] => {
      const program = ts.createProgram([join(project, 'probe.mts')], {
        strict: true,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        noEmit: true,
        ...options,
      });
      return ts
        .getPreEmitDiagnostics(program)
        .map(
          (d) =>
            `${d.file === undefined ? '' : relative(project, d.file.fileName).split('/').at(-1)}: TS${d.code}`,
        );
    };
    expect(codes({ types: ['node'], skipLibCheck: true })).toEqual(['probe.mts: TS2345']);
    expect(codes({ types: [], skipLibCheck: true })).toEqual([]);
    expect(codes({ types: [], skipLibCheck: false })).toContain('SessionStore.d.ts: TS2591'); // Buffer: install @types/node
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('have `@types/node` in a TypeScript project (`npm install -D @types/node`)');
  });

  it("shows no internal member on a class a user gets: SessionStore's declarations have no _watch, no public constructor", async () => {
    // `_watch`, `_appendAgain` and `_repairAfterOpen` (@internal) and SessionStore's constructor were in
    // the shipped .d.ts: a user's editor offered them, and `stripInternal` would have left an implicit
    // public constructor. Every class the entry exports, read from the installed declarations.
    const entry = join(installed, 'dist', 'index.d.ts');
    const program = ts.createProgram([entry], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const resolveAlias = (symbol: ts.Symbol) =>
      symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!);
    const classes = exported.map(resolveAlias).filter((symbol) => symbol.flags & ts.SymbolFlags.Class);
    expect(classes.map((symbol) => symbol.name)).toContain('SessionStore');
    const shown: string[] = [];
    for (const symbol of classes) {
      for (const declaration of symbol.declarations ?? []) {
        if (!ts.isClassDeclaration(declaration)) continue;
        for (const member of declaration.members) {
          const name = member.name === undefined ? 'constructor' : member.name.getText();
          const isPrivate =
            name.startsWith('#') ||
            (ts.getCombinedModifierFlags(member as ts.Declaration) & ts.ModifierFlags.Private) !== 0;
          if (isPrivate) continue;
          const internal = ts.getJSDocTags(member).some((tag) => tag.tagName.text === 'internal');
          if (internal || name.startsWith('_')) shown.push(`${symbol.name}.${name}`);
          if (symbol.name === 'SessionStore' && ts.isConstructorDeclaration(member)) {
            shown.push(`${symbol.name}.constructor (public)`);
          }
        }
      }
    }
    expect(shown).toEqual([]);
  });

  it('loads with import and with require, and its store opens, stores and closes', async () => {
    const node = async (...args: string[]): Promise<string> =>
      (await run(process.execPath, args, { cwd: project })).stdout.trim();
    // sideEffects: false is true: importing the entry starts nothing (no timer, no read or write pending).
    const idle = `await new Promise((resolve) => setImmediate(resolve)); console.log(JSON.stringify(process.getActiveResourcesInfo()));`;
    expect(
      await node('--input-type=module', '-e', `await import(${JSON.stringify(pkg.name)}); ${idle}`),
    ).toBe('[]');
    expect(await node('--input-type=module', '-e', `setTimeout(() => {}, 10); ${idle}`)).toBe('["Timeout"]');
    // Nor LevelDB's native binding: the first store opened loads it. The entry loaded it, for an app that
    // uses the operators alone too (and one on a platform without a working binding could not import them).
    const addons = `console.log(JSON.stringify(process.report.getReport().sharedObjects.filter((file) => file.endsWith('.node')).map((file) => file.split(/[\\\\/]/).at(-1))));`;
    const imported = `const v = await import(${JSON.stringify(pkg.name)});`;
    expect(await node('--input-type=module', '-e', `${imported} ${addons}`)).toBe('[]');
    expect(
      await node(
        '--input-type=module',
        '-e',
        `${imported} const store = await v.openStore({ path: 'store-addon' }); await store.close(); ${addons}`,
      ),
    ).toBe('["classic-level.node"]');
    const script = `
      const store = await v.openStore({ path: 'store-' + kind });
      const [at] = await store.append([v.createEvent({ type: 'x', sessionId: 's' })]);
      await store.close();
      console.log(kind, at.sessionId, at.seq);`;
    expect(
      await node(
        '--input-type=module',
        '-e',
        `const kind = 'esm'; const v = await import(${JSON.stringify(pkg.name)}); ${script}`,
      ),
    ).toBe('esm s 0');
    expect(
      await node(
        '-e',
        `const kind = 'cjs'; const v = require(${JSON.stringify(pkg.name)}); (async () => { ${script} })();`,
      ),
    ).toBe('cjs s 0');
  });

  it('runs its command: --help, --version, and a payload recorded then ingested', async () => {
    const [[command, path]] = Object.entries(pkg.bin) as [[string, string]];
    const bin = join(installed, path);
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const cli = (args: string[], input?: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = execFile(
          process.execPath,
          [bin, ...args],
          { cwd: project },
          (error, stdout, stderr) => {
            if (error !== null && typeof error.code !== 'number') reject(error);
            else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
          },
        );
        child.stdin!.end(input ?? '');
      });
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^usage: ${command} `));
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const payload = { session_id: 's1', hook_event_name: 'UserPromptSubmit', prompt: 'hello' };
    expect((await cli(['record'], JSON.stringify(payload))).code).toBe(0);
    expect((await cli(['ingest'])).code).toBe(0);
    const replayed = await cli(['replay', 's1']);
    expect(replayed.code).toBe(0);
    expect(
      replayed.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).type),
    ).toEqual(['prompt.submitted']);
  });
});
