import { defineConfig } from 'tsup';

export default defineConfig({
  // `data-parallel` is the Node-only subpath `@phalanx/train/data-parallel`; `data-parallel-worker` is the
  // replica worker's entry it loads from beside itself.
  entry: {
    index: 'src/index.ts',
    'data-parallel': 'src/data-parallel/index.ts',
    'data-parallel-worker': 'src/data-parallel/replica-worker.ts',
  },
  format: ['esm', 'cjs'],
  // Workspace packages resolve to their built types, not to the source paths used while developing.
  dts: { compilerOptions: { paths: {} } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'node',
  // `import.meta.url` (where the worker entry is) in the CommonJS build too.
  shims: true,
});
