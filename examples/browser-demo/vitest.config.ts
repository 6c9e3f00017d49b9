import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

// The end-to-end test builds the page, serves it on 127.0.0.1 and drives Debian's Chromium with
// Playwright from Node (not vitest's browser mode: the test needs Node to recompute the model's output).
export default mergeConfig(
  shared,
  defineProject({
    test: { name: 'example-browser-demo', include: ['test/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 600_000 },
  }),
);
