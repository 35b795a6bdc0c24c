/**
 * The docs' TypeScript compiles: every ```ts (or ```typescript) block of README.md and docs/*.md, and of
 * the doc comments of src/ (their examples, read without the comment's ` * `), is
 * type-checked against the package's source, with the repo's tsconfig (strict), in one program where
 * each block is a module of its own and `vibespec-streams` is src/index.ts.
 *
 * - A block with an import of its own is a complete example: it must import what it uses.
 * - A block without one is a fragment of its page: the names it uses from `vibespec-streams` and `rxjs`
 *   are imported for it (at its end, so its lines keep their numbers).
 * - The free variables the pages lean on (`store`, `events$`, `render`…) are declared in PRELUDE below,
 *   with the types the pages give or imply; a block's own declaration of one of these names shadows it.
 * - `<!-- snippet: skip (reason) -->` on the line before a block skips it: for what is not code (a
 *   signature, the shape of a record); the reason is required.
 * - Declarations a snippet shows and does not use are no error (noUnusedLocals and noUnusedParameters off).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SNIPPETS = join(ROOT, 'test', '__doc_snippets__'); // virtual: no file is written there
const PRELUDE_FILE = join(SNIPPETS, 'prelude.d.ts');

/**
 * The free variables of the pages (a script: its declarations are global, a snippet's own shadow them),
 * typed as the pages use them: the reader's own code (`render`, `notifyUser`…), values a page built in an
 * earlier block (`chain`, `isPassingTestRun`…), and the usual `store`, `events$`, `bridge`.
 */
const PRELUDE = `
declare const events$: import('rxjs').Observable<import('vibespec-streams').Event>;
declare const bridge: import('vibespec-streams').HookBridge;
declare let store: import('vibespec-streams').SessionStore;
declare const metrics: import('vibespec-streams').EventFlowMetrics;
declare const sessionId: string;
declare let lastSeq: number;
declare const path: string;
declare const stdinText: string;
declare const events: import('vibespec-streams').Event[];
declare const dashboard: {
  render(event: import('vibespec-streams').Event): void;
  gauge(name: string, value: number): void;
};
declare function render(event: import('vibespec-streams').Event): void;
declare function rebuild(event: import('vibespec-streams').Event): void;
declare function rebuildDashboard(event: import('vibespec-streams').Event): void;
declare function handle(event: import('vibespec-streams').Event): void;
declare function write(event: import('vibespec-streams').Event): void;
declare function enrich(event: import('vibespec-streams').Event): import('vibespec-streams').Event;
declare function notifyUser(event: import('vibespec-streams').Event): void;
declare const hookOutputs: AsyncIterable<import('vibespec-streams').HookOutput>;
// hybridProcess's handlers, one result type
declare function immediate(event: import('vibespec-streams').Event): Promise<string>;
declare function batch(events: import('vibespec-streams').Event[]): Promise<string[]>;
declare function handleOutcome(outcome: import('vibespec-streams').HybridOutput<string>): void;
// hooks
declare const chain: import('vibespec-streams').HookChain;
declare const preCommit: import('vibespec-streams').HookChain;
declare const ctx: import('vibespec-streams').HookContext;
declare const contexts$: import('rxjs').Observable<import('vibespec-streams').HookContext>;
declare const commits$: import('rxjs').Observable<import('vibespec-streams').HookContext>;
declare const scanHook: import('vibespec-streams').Hook;
declare function build(): Promise<void>;
declare function tsc(files: unknown, options: { signal: AbortSignal }): Promise<string[]>;
declare function show(output: import('vibespec-streams').HookChainOutput): void;
declare const testScheduler: import('rxjs/testing').TestScheduler;
// pattern.md's predicates
declare function isSourceEdit(event: import('vibespec-streams').Event): boolean;
declare function isPassingTestRun(event: import('vibespec-streams').Event): boolean;
// the JSDoc's examples: the reader's own code and values
declare function log(...values: unknown[]): void;
declare function gauge(name: string, value: number): void;
declare function showSessionSummary(event: import('vibespec-streams').Event): void;
declare const compliance: import('vibespec-streams').Hook;
declare const reviewer: import('vibespec-streams').Hook;
declare const uiEnhancer: import('vibespec-streams').Hook;
declare const specGuardian: import('vibespec-streams').Hook;
declare const files: string[];
declare const diff: string;
declare function lintScore(files: unknown): Promise<number>;
declare function retryLater(context: import('vibespec-streams').HookContext): void;
declare function report(result: import('vibespec-streams').HookChainResult): void;
declare function accept(): void;
declare function reject(reasons: readonly import('vibespec-streams').HookShortfall[]): void;
declare function notify(event: import('vibespec-streams').Event): Promise<string>;
declare const hookOutputs$: import('rxjs').Observable<import('vibespec-streams').HookOutput>;
declare const subagentStops$: import('rxjs').Observable<import('vibespec-streams').Event>;
declare const steps: readonly import('vibespec-streams').PatternStep[];
`;

interface Snippet {
  /** `docs/hooks.md:42`: the page and the line of the block's opening fence. */
  name: string;
  page: string;
  /** The 1-based line of the opening fence. */
  line: number;
  code: string;
  skip?: string;
}

/** The ```ts and ```typescript blocks of a page; a skip comment right before a block skips it. */
function snippetsOf(page: string, text: string): Snippet[] {
  const lines = text.split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, fence, lang] = open;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence!)) end++;
    if (lang === 'ts' || lang === 'typescript') {
      const marker = /^\s*<!--\s*snippet:\s*skip\b\s*(.*?)\s*-->\s*$/.exec(lines[i - 1] ?? '');
      const code = lines
        .slice(i + 1, end)
        .map((line) => (line.startsWith(indent!) ? line.slice(indent!.length) : line))
        .join('\n');
      found.push({
        name: `${page}:${i + 1}`,
        page,
        line: i + 1,
        code: `${code}\n`,
        ...(marker === null ? {} : { skip: marker[1]!.replace(/^\((.*)\)$/, '$1') }),
      });
    }
    i = end;
  }
  return found;
}

/** The names a module exports, each a type or a value, following `export … from` and `export *`. */
function exportsOf(file: string, cache = new Map<string, Map<string, boolean>>()): Map<string, boolean> {
  const known = cache.get(file);
  if (known !== undefined) return known;
  const names = new Map<string, boolean>(); // name → is a type only
  cache.set(file, names);
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const resolve = (specifier: string): string => {
    const path = join(dirname(file), specifier);
    const candidates = specifier.endsWith('.js')
      ? [path.replace(/\.js$/, '.ts'), path.replace(/\.js$/, '.d.ts')]
      : [`${path}.ts`, `${path}.d.ts`, join(path, 'index.d.ts')];
    const found = candidates.find((candidate) => existsSync(candidate));
    if (found === undefined) throw new Error(`${file}: cannot resolve ${specifier}`);
    return found;
  };
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const from =
        statement.moduleSpecifier !== undefined && ts.isStringLiteral(statement.moduleSpecifier)
          ? exportsOf(resolve(statement.moduleSpecifier.text), cache)
          : undefined;
      const clause = statement.exportClause;
      if (clause === undefined) {
        for (const [name, isType] of from ?? []) names.set(name, isType || statement.isTypeOnly);
      } else if (ts.isNamedExports(clause)) {
        for (const element of clause.elements) {
          const original = (element.propertyName ?? element.name).text;
          const isType = statement.isTypeOnly || element.isTypeOnly || (from?.get(original) ?? false);
          names.set(element.name.text, isType);
        }
      }
    } else if (ts.canHaveModifiers(statement)) {
      const exported = ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
      if (!exported) continue;
      const isType = ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement);
      if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) {
          if (ts.isIdentifier(declaration.name)) names.set(declaration.name.text, false);
        }
      } else if (
        'name' in statement &&
        statement.name !== undefined &&
        ts.isIdentifier(statement.name as ts.Node)
      ) {
        const name = (statement.name as ts.Identifier).text;
        // A class, enum or namespace is a value (and a type); a value and a type of one name, a value.
        if (!isType) names.set(name, false);
        else if (!names.has(name)) names.set(name, true);
      }
    }
  }
  return names;
}

/** A fragment's imports: the names it uses from these modules, minus those it declares itself. */
function importsFor(code: string, modules: ReadonlyArray<[string, Map<string, boolean>]>): string {
  const source = ts.createSourceFile('fragment.ts', code, ts.ScriptTarget.Latest);
  const declared = new Set<string>();
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        const collect = (name: ts.BindingName): void => {
          if (ts.isIdentifier(name)) declared.add(name.text);
          else
            for (const element of name.elements) if (!ts.isOmittedExpression(element)) collect(element.name);
        };
        collect(declaration.name);
      }
    } else if (
      'name' in statement &&
      statement.name !== undefined &&
      ts.isIdentifier(statement.name as ts.Node)
    ) {
      declared.add((statement.name as ts.Identifier).text);
    }
  }
  const used = new Set<string>();
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, code);
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.Identifier) used.add(scanner.getTokenText());
  }
  const taken = new Set<string>();
  const lines: string[] = [];
  for (const [module, names] of modules) {
    const wanted = [...used].filter((name) => names.has(name) && !declared.has(name) && !taken.has(name));
    for (const name of wanted) taken.add(name);
    const specifiers = wanted.map((name) => (names.get(name) ? `type ${name}` : name));
    if (specifiers.length > 0) lines.push(`import { ${specifiers.join(', ')} } from '${module}';`);
  }
  return lines.join(' ');
}

/**
 * For each interface or type a block declares under the name of one the package exports (a page showing
 * `HookOutput`'s fields), a check that the two are the same type: each assignable to the other. Else the
 * page's copy is checked only against itself, and goes on showing fields the package no longer has.
 */
function sameAsExported(source: ts.SourceFile, exported: Map<string, boolean>): string {
  const names = source.statements
    .filter((s) => ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s))
    .map((s) => s.name.text)
    .filter((name) => exported.get(name) === true);
  return names
    .map((name) => {
      const theirs = `import('vibespec-streams').${name}`;
      const differs = `'not the ${name} the package exports'`;
      return `const same_${name}: [${name}] extends [${theirs}] ? ([${theirs}] extends [${name}] ? true : ${differs}) : ${differs} = true;\n`;
    })
    .join('');
}

interface Checked {
  snippet: Snippet;
  /** `docs/hooks.md:45 (block docs/hooks.md:42): TS2304 Cannot find name 'x'.` */
  errors: string[];
}

/** Type-checks the snippets in one program; each gets the errors found in it, at their page's line. */
function check(snippets: readonly Snippet[]): Checked[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (config === undefined) throw new Error('tsconfig.json could not be read');
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    noUnusedLocals: false,
    noUnusedParameters: false,
    baseUrl: ROOT,
    paths: { 'vibespec-streams': ['./src/index.ts'] },
  };
  const modules: Array<[string, Map<string, boolean>]> = [
    ['vibespec-streams', exportsOf(join(ROOT, 'src', 'index.ts'))],
    ['rxjs', exportsOf(join(ROOT, 'node_modules', 'rxjs', 'dist', 'types', 'index.d.ts'))],
  ];
  const files = new Map<string, string>([[PRELUDE_FILE, PRELUDE]]);
  const fileOf = new Map<Snippet, string>();
  snippets.forEach((snippet, i) => {
    if (snippet.skip !== undefined) return;
    const file = join(SNIPPETS, `${i}-${snippet.page.replace(/\W+/g, '-')}-${snippet.line}.mts`);
    const source = ts.createSourceFile(file, snippet.code, ts.ScriptTarget.Latest);
    const complete = source.statements.some((s) => ts.isImportDeclaration(s) || ts.isExportDeclaration(s));
    // `export {}` makes a fragment that imports nothing a module still.
    const tail = complete ? '' : `${importsFor(snippet.code, modules)} export {};\n`;
    files.set(file, snippet.code + tail + sameAsExported(source, modules[0]![1]));
    fileOf.set(snippet, file);
  });
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (fileName, language, onError, fresh) => {
    const text = files.get(fileName);
    return text === undefined
      ? getSourceFile.call(host, fileName, language, onError, fresh)
      : ts.createSourceFile(fileName, text, language, true);
  };
  host.fileExists = (fileName) => files.has(fileName) || fileExists.call(host, fileName);
  host.readFile = (fileName) => files.get(fileName) ?? readFile.call(host, fileName);
  const program = ts.createProgram([...files.keys()], options, host);

  const describeDiagnostic = (diagnostic: ts.Diagnostic, snippet?: Snippet): string => {
    const message = `TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    if (diagnostic.file === undefined || diagnostic.start === undefined) return message;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    if (snippet === undefined) return `${relative(ROOT, diagnostic.file.fileName)}:${line + 1}: ${message}`;
    const codeLines = snippet.code.split('\n').length - 1;
    const at =
      line < codeLines ? `${snippet.page}:${snippet.line + 1 + line}` : `${snippet.name} (its imports)`;
    return `${at}: ${message}`;
  };
  const prelude = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(program.getSourceFile(PRELUDE_FILE)),
    ...program.getSemanticDiagnostics(program.getSourceFile(PRELUDE_FILE)),
  ];
  if (prelude.length > 0) throw new Error(prelude.map((d) => describeDiagnostic(d)).join('\n'));
  return snippets.map((snippet) => {
    const file = fileOf.get(snippet);
    if (file === undefined) return { snippet, errors: [] };
    const source = program.getSourceFile(file)!;
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    return { snippet, errors: diagnostics.map((diagnostic) => describeDiagnostic(diagnostic, snippet)) };
  });
}

const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((name) => `docs/${name}`)].filter((page) =>
  page.endsWith('.md'),
);
const snippets = pages.flatMap((page) => snippetsOf(page, readFileSync(join(ROOT, page), 'utf8')));

/**
 * The ```ts blocks of a source file's doc comments (`## Examples` of the JSDoc), read as a page whose lines
 * are the comment's lines without their ` * ` (every other line blank), so that a block keeps its line.
 */
function jsdocSnippetsOf(file: string, text: string): Snippet[] {
  const lines = text.split('\n').map((line) => /^\s*\* ?(.*)$/.exec(line)?.[1] ?? '');
  return snippetsOf(file, lines.join('\n'));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(`${dir}/${entry.name}`)
      : entry.name.endsWith('.ts')
        ? [`${dir}/${entry.name}`]
        : [],
  );
}

const jsdocSnippets = sourceFiles('src').flatMap((file) =>
  jsdocSnippetsOf(file, readFileSync(join(ROOT, file), 'utf8')),
);

/** A page of its own, checked in the same program: the check finds errors, and where. */
const SELF_TEST = snippetsOf(
  'self-test.md',
  [
    'A wrong option:',
    '```ts',
    "import { persist } from 'vibespec-streams';",
    '',
    'events$.pipe(persist(store, { maxBatchSize: 10 })).subscribe();',
    '```',
    'A fragment: the names it uses imported for it, types (`Event`, `OperatorFunction`) as types;',
    '`store` and `events$` from the prelude; `first` unused.',
    '```ts',
    "const first: Event = createEvent({ type: 'x' });",
    'const types: OperatorFunction<Event, string> = map((e) => e.type);',
    'events$.pipe(types).subscribe(() => store.close());',
    '```',
    'A complete example that forgot an import:',
    '```typescript',
    "import { bridgeHooks } from 'vibespec-streams';",
    "fromHookFile('hooks.jsonl').pipe(bridgeHooks());",
    '```',
    '<!-- snippet: skip (a signature) -->',
    '```ts',
    'persist(store: SessionStore, options?: PersistOptions): MonoTypeOperatorFunction<Event>',
    '```',
    '```',
    'a--b--c|   (a marble diagram: not code)',
    '```',
    'A copy of an exported type that lost a field, then one that is right:',
    '```ts',
    'interface StoredPosition {',
    '  sessionId: string;',
    '}',
    '```',
    '```ts',
    'interface StoredPosition {',
    '  sessionId: string;',
    '  seq: number;',
    '}',
    '```',
  ].join('\n'),
);

/** A source file of its own: a JSDoc example is checked as a page's block is, at the source's line. */
const JSDOC_SELF_TEST = jsdocSnippetsOf(
  'src/self-test.ts',
  [
    '/**',
    ' * Writes the events.',
    ' *',
    ' * ## Examples',
    ' * ```ts',
    ' * events$.pipe(persist(store, { maxBatchSize: 10 })).subscribe();',
    ' * ```',
    ' */',
    'export const x = 1;',
  ].join('\n'),
);

describe('docs snippets', () => {
  let checked: Map<Snippet, string[]>;
  beforeAll(() => {
    checked = new Map(
      check([...snippets, ...jsdocSnippets, ...SELF_TEST, ...JSDOC_SELF_TEST]).map(({ snippet, errors }) => [
        snippet,
        errors,
      ]),
    );
  }, 180_000);

  it('finds the blocks and reports an error at its page line; imports for fragments; skips', () => {
    expect(SELF_TEST.map(({ name, skip }) => [name, skip])).toEqual([
      ['self-test.md:2', undefined],
      ['self-test.md:9', undefined],
      ['self-test.md:15', undefined],
      ['self-test.md:20', 'a signature'],
      ['self-test.md:27', undefined],
      ['self-test.md:32', undefined],
    ]);
    const [wrongOption, fragment, missingImport, skipped, staleCopy, copy] = SELF_TEST.map(
      (snippet) => checked.get(snippet)!,
    );
    expect(wrongOption).toHaveLength(1);
    expect(wrongOption![0]).toMatch(/^self-test\.md:5: TS(2353|2561) .*'maxBatchSize'/);
    expect(fragment).toEqual([]);
    expect(missingImport).toHaveLength(1);
    expect(missingImport![0]).toMatch(/^self-test\.md:17: TS2304 Cannot find name 'fromHookFile'/);
    expect(skipped).toEqual([]);
    expect(staleCopy).toHaveLength(1);
    expect(staleCopy![0]).toMatch(
      /^self-test\.md:27 \(its imports\): TS2322 Type 'true' is not assignable to type '"not the StoredPosition the package exports"'/,
    );
    expect(copy).toEqual([]);
  });

  it('reads every page, and a skip gives its reason', () => {
    expect(new Set(snippets.map((snippet) => snippet.page))).toContain('README.md');
    expect(snippets.filter((snippet) => snippet.skip === undefined).length).toBeGreaterThan(20);
    expect(snippets.filter((snippet) => snippet.skip === '')).toEqual([]);
  });

  it.each(snippets.filter((snippet) => snippet.skip === undefined))('$name compiles', (snippet) => {
    expect(checked.get(snippet)).toEqual([]);
  });

  it("reads the JSDoc's examples, an error at the source line", () => {
    expect(JSDOC_SELF_TEST.map(({ name }) => name)).toEqual(['src/self-test.ts:5']);
    const [wrongOption] = JSDOC_SELF_TEST.map((snippet) => checked.get(snippet)!);
    expect(wrongOption).toHaveLength(1);
    expect(wrongOption![0]).toMatch(/^src\/self-test\.ts:6: TS(2353|2561) .*'maxBatchSize'/);
    expect(jsdocSnippets.length).toBeGreaterThan(20);
    expect(new Set(jsdocSnippets.map((snippet) => snippet.page))).toContain('src/operators/correlate.ts');
  });

  it.each(jsdocSnippets.filter((snippet) => snippet.skip === undefined))(
    '$name (JSDoc) compiles',
    (snippet) => {
      expect(checked.get(snippet)).toEqual([]);
    },
  );
});

describe('docs cover the API', () => {
  it('name every export of src/index.ts, on a page of docs/ or in the README', () => {
    const text = pages.map((page) => readFileSync(join(ROOT, page), 'utf8')).join('\n');
    const named = (name: string): boolean =>
      new RegExp(`(?<![\\w$])${name.replaceAll('$', '\\$')}(?![\\w$])`).test(text);
    const exported = [...exportsOf(join(ROOT, 'src', 'index.ts')).keys()];
    expect(exported).toContain('systemLoad$');
    expect(exported.length).toBeGreaterThan(200);
    expect(exported.filter((name) => !named(name))).toEqual([]);
  });
});
