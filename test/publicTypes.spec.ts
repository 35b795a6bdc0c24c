/**
 * The public API names its types: every type that a declaration exported from src/index.ts refers to
 * (a parameter, a return type, an option's field, a base interface) is exported too, so that a user can
 * name what a function takes or returns (`HookAnswer`, the return type of a function hook's `run`, was
 * not). Members tagged `@internal` and private ones are left out, and so are the few base shapes below, whose fields reach
 * the user only through the exported types that extend them.
 */
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(ROOT, 'src', 'index.ts');

/** Unexported on purpose: the exported types built on them are what a user names. */
const BASE_SHAPES = new Set([
  'EventShape', // `Event` is `Omit<EventShape, 'data'> & { data: D }`: zod's inferred shape
  'HookStepBase', // the fields every `HookStep` has (`RanStep`, `NotRunStep`, `TimedOutStep`)
  'OutcomeBase', // the fields of `HybridResult` and `HybridError`
]);

/** Not part of the type a user sees: `@internal`, or a class's private member (`private`, `#name`). */
function isHidden(node: ts.Node): boolean {
  if (ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'internal')) return true;
  if (!ts.isClassElement(node)) return false;
  if (node.name !== undefined && ts.isPrivateIdentifier(node.name)) return true;
  return (
    ts.canHaveModifiers(node) &&
    (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)
  );
}

/** `name (file)` of every unexported src/ type a public declaration refers to, with who refers to it. */
function unexportedReferences(): Map<string, Set<string>> {
  const program = ts.createProgram([ENTRY], {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  const resolve = (symbol: ts.Symbol) =>
    symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const exported = new Set(checker.getExportsOfModule(entry).map(resolve));
  const src = join(ROOT, 'src');
  const missing = new Map<string, Set<string>>();
  const visit = (node: ts.Node, owner: string): void => {
    if (isHidden(node)) return;
    let name: ts.Node | undefined;
    if (ts.isTypeReferenceNode(node)) name = node.typeName;
    else if (ts.isExpressionWithTypeArguments(node)) name = node.expression;
    else if (ts.isTypeQueryNode(node)) name = node.exprName;
    const found = name === undefined ? undefined : checker.getSymbolAtLocation(name);
    if (found !== undefined) {
      const symbol = resolve(found);
      const file = symbol.declarations?.[0]?.getSourceFile().fileName;
      if (
        file?.startsWith(src) === true &&
        !(symbol.flags & ts.SymbolFlags.TypeParameter) &&
        !exported.has(symbol) &&
        !BASE_SHAPES.has(symbol.name)
      ) {
        const key = `${symbol.name} (${relative(ROOT, file)})`;
        if (!missing.has(key)) missing.set(key, new Set());
        missing.get(key)!.add(owner);
      }
    }
    // Only what the declaration shows: a function's or method's body is not part of its type.
    ts.forEachChild(node, (child) => {
      if (ts.isBlock(child)) return;
      visit(child, owner);
    });
  };
  for (const symbol of exported) {
    for (const declaration of symbol.declarations ?? []) {
      if (declaration.getSourceFile().fileName.startsWith(src)) visit(declaration, symbol.name);
    }
  }
  return missing;
}

describe('the public API', () => {
  it('exports every type its declarations name (but @internal and private members, and the base shapes)', () => {
    const missing = [...unexportedReferences()].map(
      ([type, owners]) => `${type} <- ${[...owners].join(', ')}`,
    );
    expect(missing).toEqual([]);
  });
});
