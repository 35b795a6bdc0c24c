/**
 * The package's shape, without building it (a build takes seconds): how `exports` resolves for
 * `import` and `require`, that the entry can be required at all (no top-level await), and that the
 * build's source maps point at files the package ships.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

interface PackageJson {
  name: string;
  main: string;
  files: string[];
  exports: Record<string, unknown>;
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
