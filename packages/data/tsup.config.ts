import { defineConfig } from 'tsup';

export default defineConfig({
  // `prefetch` is the Node-only subpath `@phalanx/data/prefetch`; `prefetch-worker` is the worker thread's
  // entry it loads from beside itself.
  entry: {
    index: 'src/index.ts',
    prefetch: 'src/prefetch/index.ts',
    'prefetch-worker': 'src/prefetch/prefetch-worker.ts',
  },
  format: ['esm', 'cjs'],
  // Workspace packages resolve to their built types, not to the source paths used while developing.
  dts: { compilerOptions: { paths: {} } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // `import.meta.url` (where the worker entry is) in the CommonJS build too.
  shims: true,
});
