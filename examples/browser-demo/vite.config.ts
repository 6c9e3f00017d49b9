import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

// Inside the Phalanx repository the demo runs on the TypeScript sources of the workspace packages (no
// package build needed); copied out, the same imports resolve to the published @phalanx packages.
const packages = fileURLToPath(new URL('../../packages/', import.meta.url));
const inWorkspace = existsSync(`${packages}layers/src/index.ts`);

/**
 * The workspace sources sit beside a package.json whose `sideEffects` names only `dist/` files, so a
 * production build would drop the modules that register the layer classes (`tf.loadLayersModel` then
 * fails with "Unknown layer"). Mark exactly those modules as having side effects.
 */
const keepLayerRegistrations: Plugin = {
  name: 'phalanx-keep-layer-registrations',
  transform(code, id) {
    if (id.startsWith(packages) && code.includes('registerClass(')) return { code, map: null, moduleSideEffects: true };
    return null;
  },
};

/**
 * Cross-origin isolation: with these two headers the page gets `SharedArrayBuffer`, so the wasm backend can
 * run its threaded build (a user's own server must send the same for threads; see docs/training-on-wasm.md).
 */
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  base: './',
  plugins: inWorkspace ? [keepLayerRegistrations] : [],
  resolve: {
    alias: [
      ...(inWorkspace ? [{ find: /^@phalanx\/([a-z-]+)$/, replacement: `${packages}$1/src/index.ts` }] : []),
      {
        find: /^(pngjs|jpeg-js)$/,
        replacement: fileURLToPath(new URL('./src/stubs/node-image-codecs.ts', import.meta.url)),
      },
    ],
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  server: { headers: crossOriginIsolation },
  preview: { host: '127.0.0.1', port: 4173, headers: crossOriginIsolation },
});
