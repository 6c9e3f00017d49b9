import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  // Workspace packages resolve to their built types, not to the source paths used while developing.
  dts: { compilerOptions: { paths: {} } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // `import.meta.url` locates the shipped weights (models/ beside dist/); the shim gives CJS the same URL.
  shims: true,
});
