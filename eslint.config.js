// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', 'docs/api/**', '**/*.d.ts', 'examples/*/build/**', '**/.vite/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // The project's "no function over 150 lines" rule.
      'max-lines-per-function': ['error', { max: 150 }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='dataSync'][callee.object.name!='tf']",
          message: 'No host round-trips in library code paths; if this is test or metric code, disable with a reason.',
        },
      ],
    },
  },
  {
    // Tests, benchmarks, scripts and examples may read tensors back to the host.
    files: [
      '**/*.test.ts',
      '**/test-utils.ts',
      'packages/testing/**',
      'bench/**',
      'examples/**',
      '**/scripts/**',
      'packages/pose/**',
      'packages/data/**',
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable' } },
  },
);
