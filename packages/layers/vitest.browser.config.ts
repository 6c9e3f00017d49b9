import { fileURLToPath } from 'node:url';
import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';
import { chromiumLaunchOptions } from '../../vitest.browser.shared';

/**
 * The layer test suite again, in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright
 * through vitest's browser mode) on the webgl backend — and webgpu when the browser offers an adapter.
 * Same test files as the Node project 'layers'; `@phalanx/testing` picks the backends, loads fixtures
 * over HTTP and saves models to IndexedDB when it runs in a browser.
 */
const config = mergeConfig(
  shared,
  defineProject({
    test: {
      name: 'layers-webgl',
      // The file-system IO handler is about Node's disk, and the .pth tests read their fixtures from it;
      // everything else runs in the browser too.
      exclude: ['src/io/file-system*.test.ts', 'src/io/pth/**/*.test.ts', '**/node_modules/**'],
      include: ['src/**/*.test.ts', 'test/browser/**/*.spec.ts'],
      browser: {
        enabled: true,
        provider: 'playwright',
        headless: true,
        screenshotFailures: false,
        instances: [{ browser: 'chromium', launch: chromiumLaunchOptions() }],
      },
    },
  }),
);
// Replace (not extend) the Node projects' setup files: the browser has its own.
config.test!.setupFiles = [fileURLToPath(new URL('../testing/src/browser-setup.ts', import.meta.url))];
export default config;
