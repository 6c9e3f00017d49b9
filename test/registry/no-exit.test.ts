/**
 * No library code ends the process: every `packages/*\/src` file (tests aside) is parsed with the TypeScript
 * compiler and searched for calls of `process.exit` / `process.abort` / `process.reallyExit` and for
 * assignments to `process.exitCode`. Ending the process (and choosing its exit code) is the application's
 * decision; the trainer reports an interrupt through `fit`'s result instead. Comments and strings are not
 * code, so a doc example that sets `process.exitCode` does not count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENDING_CALLS = new Set(['exit', 'abort', 'reallyExit']);

function librarySources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...librarySources(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !/\.(test|bench)\.[mc]?[jt]s$/.test(entry.name)) {
      files.push(path);
    }
  }
  return files;
}

/** `process.<name>` (also `globalThis.process.<name>`) → name, else undefined. */
function processMember(node: ts.Node): string | undefined {
  if (!ts.isPropertyAccessExpression(node)) return undefined;
  const target = node.expression;
  const isProcess =
    (ts.isIdentifier(target) && target.text === 'process') ||
    (ts.isPropertyAccessExpression(target) && target.name.text === 'process');
  return isProcess ? node.name.text : undefined;
}

/** Every place in `source` that ends the process or sets its exit code, as `line: text`. */
function processEndings(source: string, fileName = 'file.ts'): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node) =>
    found.push(`${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${node.getText()}`);
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ENDING_CALLS.has(processMember(node.expression) ?? '')) report(node);
    if (
      ts.isBinaryExpression(node) &&
      node.operatorToken.kind >= ts.SyntaxKind.FirstAssignment &&
      node.operatorToken.kind <= ts.SyntaxKind.LastAssignment &&
      processMember(node.left) === 'exitCode'
    ) {
      report(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

it('the search finds what it looks for, and not in comments or strings', () => {
  expect(processEndings('if (x) process.exit(1);')).toEqual(['1: process.exit(1)']);
  expect(processEndings('globalThis.process.abort();\nprocess.exitCode = 2;')).toEqual([
    '1: globalThis.process.abort()',
    '2: process.exitCode = 2',
  ]);
  expect(processEndings('/** process.exit(1) */\nconst s = "process.exit(1)";\nprocess.kill(pid, 0);')).toEqual([]);
});

it('no library source ends the process or sets its exit code', () => {
  const packages = join(ROOT, 'packages');
  const offenders: string[] = [];
  let files = 0;
  for (const pkg of readdirSync(packages)) {
    let sources: string[];
    try {
      sources = librarySources(join(packages, pkg, 'src'));
    } catch {
      continue; // a package without src/
    }
    for (const path of sources) {
      files++;
      const text = readFileSync(path, 'utf8');
      if (!/\bprocess\b/.test(text)) continue; // parse only the files that mention process
      for (const hit of processEndings(text, path)) offenders.push(`${relative(ROOT, path)}:${hit}`);
    }
  }
  expect(files).toBeGreaterThan(50);
  expect(offenders).toEqual([]);
});
