import { defineWorkspace } from 'vitest/config';

// vitest 3.x reads this file: one test project per package and example that has a vitest.config.ts.
export default defineWorkspace([
  'packages/*/vitest.config.ts',
  'packages/*/vitest.browser.config.ts',
  'examples/*/vitest.config.ts',
  'test/*/vitest.config.ts',
]);
