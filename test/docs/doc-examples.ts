/**
 * Doc tests for the TSDoc `@example` blocks of every package: each example is extracted into a module of
 * its own and type-checked against the workspace sources, so an example that uses an undefined name, a
 * renamed export or a wrong argument fails CI instead of rotting in the API docs.
 *
 * An example without `import` lines sees `tf` (`@tensorflow/tfjs-core`), `tfl` (`@tensorflow/tfjs-layers`)
 * and every export of its own package, as a reader of that package's page would assume; an example with
 * `import` lines must import everything it uses. Its statements run inside an `async` function, so `await`
 * works as at the top level of a module.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** One `@example` block of a doc comment. */
export interface DocExample {
  /** The package folder name (`layers`, `pose`, …). */
  pkg: string;
  /** Source file, relative to the repository root. */
  file: string;
  /** 1-based line of the `@example` tag in `file`. */
  line: number;
  /** The example's code, comment markers and code fences removed. */
  code: string;
}

/** A type error in an example: where the example is, and what the compiler said. */
export interface DocExampleError {
  /** `file:line` of the `@example` tag. */
  where: string;
  /** The compiler's message. */
  message: string;
  /** The offending line of the example. */
  source: string;
}

const DOC_COMMENT = /\/\*\*[\s\S]*?\*\//g;

/** The `@example` blocks of one source text (tags up to the next block tag or the comment's end). */
export function examplesOf(text: string, pkg: string, file: string): DocExample[] {
  const found: DocExample[] = [];
  for (const match of text.matchAll(DOC_COMMENT)) {
    const commentLine = text.slice(0, match.index).split('\n').length;
    const lines = match[0].split('\n').map((l) => l.replace(/^\s*\/?\*+\/?\s?/, '').replace(/\s*\*\/\s*$/, ''));
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trimStart().startsWith('@example')) continue;
      const body: string[] = [lines[i].trimStart().slice('@example'.length)];
      let j = i + 1;
      for (; j < lines.length && !/^@[a-zA-Z]+/.test(lines[j].trimStart()); j++) body.push(lines[j]);
      const code = body
        .filter((l) => !/^\s*```/.test(l))
        .join('\n')
        .trim();
      if (code.length > 0) found.push({ pkg, file, line: commentLine + i, code });
      i = j - 1;
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts'))
      out.push(path);
  }
  return out;
}

/** Every `@example` of the published packages under `root/packages/*\/src`. */
export function collectExamples(root: string, packages: readonly string[]): DocExample[] {
  return packages.flatMap((pkg) =>
    sourceFiles(join(root, 'packages', pkg, 'src')).flatMap((path) =>
      examplesOf(readFileSync(path, 'utf8'), pkg, relative(root, path)),
    ),
  );
}

const IMPORT_LINE = /^\s*import\s[\s\S]*?from\s+['"][^'"]+['"];?\s*$|^\s*import\s+['"][^'"]+['"];?\s*$/;

/** Splits an example into its import statements (hoisted) and the rest (the body). */
function splitImports(code: string): { imports: string[]; body: string[] } {
  const imports: string[] = [];
  const body: string[] = [];
  for (const line of code.split('\n')) (IMPORT_LINE.test(line) ? imports : body).push(line);
  return { imports, body };
}

/** Names an example sees without imports: the package's exports, and its own file's (internal helpers). */
interface Scope {
  /** Exports of the package's `src/index.ts`. */
  packageNames: string[];
  /** Exports of the example's own file that the package does not export. */
  fileNames: string[];
}

/** The module an example is checked as. */
function moduleOf(root: string, example: DocExample, scope: Scope): string {
  const { imports, body } = splitImports(example.code);
  const own = join(root, example.file).replace(/\.ts$/, '');
  const head =
    imports.length > 0
      ? imports
      : [
          `import * as tf from '@tensorflow/tfjs-core';`,
          `import * as tfl from '@tensorflow/tfjs-layers';`,
          `import { ${scope.packageNames.join(', ')} } from '@phalanx/${example.pkg}';`,
          scope.fileNames.length > 0 ? `import { ${scope.fileNames.join(', ')} } from '${own}';` : '',
        ];
  return [...head, 'export {};', 'export async function example(): Promise<void> {', ...body, '}', ''].join('\n');
}

function compilerOptions(root: string): ts.CompilerOptions {
  const config = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  return {
    ...parsed.options,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    allowUnreachableCode: true,
  };
}

/** The exported names of each file (absolute path → names), read with the type checker. */
function exportedNames(files: readonly string[], options: ts.CompilerOptions): Map<string, string[]> {
  const program = ts.createProgram(files, options);
  const checker = program.getTypeChecker();
  const names = new Map<string, string[]>();
  for (const path of files) {
    const file = program.getSourceFile(path);
    const symbol = file && checker.getSymbolAtLocation(file);
    const exported = symbol ? checker.getExportsOfModule(symbol).map((s) => s.getName()) : [];
    names.set(
      path,
      exported.filter((n) => n !== 'default' && n !== 'tf' && n !== 'tfl'),
    );
  }
  return names;
}

/**
 * Type-checks every example of `packages` as a module of its own (one program for all of them) and
 * returns the errors, each pointing at the `@example` tag it comes from.
 */
export function checkDocExamples(
  root: string,
  packages: readonly string[],
): { count: number; errors: DocExampleError[] } {
  const options = compilerOptions(root);
  const examples = collectExamples(root, packages);
  const entry = (pkg: string) => join(root, 'packages', pkg, 'src', 'index.ts');
  const files = [...new Set([...packages.map(entry), ...examples.map((e) => join(root, e.file))])];
  const exports = exportedNames(files, options);
  const virtual = new Map<string, { example: DocExample; text: string }>();
  examples.forEach((example, i) => {
    const packageNames = exports.get(entry(example.pkg)) ?? [];
    const fileNames = (exports.get(join(root, example.file)) ?? []).filter((n) => !packageNames.includes(n));
    const text = moduleOf(root, example, { packageNames, fileNames });
    virtual.set(join(root, 'test', 'docs', `.example-${i}.ts`), { example, text });
  });
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (name) => virtual.has(name) || ts.sys.fileExists(name);
  host.readFile = (name) => virtual.get(name)?.text ?? readFile(name);
  host.getSourceFile = (name, version, onError) => {
    const entry = virtual.get(name);
    return entry ? ts.createSourceFile(name, entry.text, version, true) : getSourceFile(name, version, onError);
  };
  const program = ts.createProgram([...virtual.keys()], options, host);
  const errors: DocExampleError[] = [];
  for (const [name, entry] of virtual) {
    const file = program.getSourceFile(name);
    const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    for (const d of diagnostics) {
      const { line } = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0 };
      errors.push({
        where: `${entry.example.file}:${entry.example.line}`,
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
        source: entry.text.split('\n')[line]?.trim() ?? '',
      });
    }
  }
  return { count: examples.length, errors };
}
