import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkDocExamples, examplesOf } from './doc-examples';
import { DOCUMENTED_PACKAGES } from './packages';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('TSDoc @example blocks', () => {
  it('finds the blocks of a doc comment, without comment markers or fences', () => {
    const text = [
      '/**',
      ' * Adds.',
      ' *',
      ' * @example',
      ' * ```ts',
      ' * add(1, 2); // 3',
      ' * ```',
      ' * @see x',
      ' */',
    ];
    expect(examplesOf(text.join('\n'), 'p', 'f.ts')).toEqual([
      { pkg: 'p', file: 'f.ts', line: 4, code: 'add(1, 2); // 3' },
    ]);
  });

  it('every example of every documented package type-checks', () => {
    const { count, errors } = checkDocExamples(root, DOCUMENTED_PACKAGES);
    expect(count).toBeGreaterThan(150);
    expect(errors.map((e) => `${e.where}: ${e.message.split('\n')[0]} — ${e.source}`)).toEqual([]);
  }, 300_000);
});
