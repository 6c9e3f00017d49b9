import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));

/**
 * Settings every Phalanx test project shares: tests run against the TypeScript sources of the
 * workspace packages (no build needed), one forked process per file, generous time-outs for the
 * numeric work done on 2 cores.
 */
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@phalanx\/testing$/, replacement: `${packagesDir}testing/src/index.ts` },
      { find: /^@phalanx\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` },
      // Subpath entries (`@phalanx/data/prefetch`): the folder of that name in the package's sources.
      { find: /^@phalanx\/([a-z-]+)\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/$2/index.ts` },
    ],
  },
  test: {
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});
