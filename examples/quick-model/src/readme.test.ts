import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The TypeScript block under the README's "A model from Phalanx layers, trained" heading. */
function readmeSnippet(): string {
  const readme = readFileSync(here('../../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## A model from Phalanx layers'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('README: no ```ts block in the "A model from Phalanx layers" section');
  return match[1];
}

describe('README example, as written', () => {
  it('is src/main.ts, character for character', () => {
    expect(readmeSnippet()).toBe(readFileSync(here('./main.ts'), 'utf8'));
  });

  it('runs to the end and logs a finite loss every 25 steps', async () => {
    const tsx = here('../node_modules/.bin/tsx');
    const { stdout } = await promisify(execFile)(tsx, [here('./main.ts')], { cwd: here('..') });
    const lines = stdout.trim().split('\n');
    expect(lines.map((l) => l.replace(/[\d.]+$/, 'X'))).toEqual([25, 50, 75, 100].map((s) => `step ${s}: loss X`));
    for (const line of lines) expect(Number.isFinite(Number(line.split(' ').at(-1)))).toBe(true);
  }, 600_000);
});
