import { defineWorkspace } from 'vitest/config';

// vitest 3.x reads this file: one test project per package and example that has a vitest.config.ts
// (and the extra projects some packages add: browser, threads).
export default defineWorkspace([
  'packages/*/vitest.config.ts',
  'packages/*/vitest.browser.config.ts',
  'packages/*/vitest.threads.config.ts',
  'examples/*/vitest.config.ts',
  'test/*/vitest.config.ts',
]);
