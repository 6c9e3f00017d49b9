import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

/**
 * The package's tests again on a multi-threaded wasm backend: `enableWasmThreads()` with a pool of 2
 * threads (`PHALANX_WASM_THREADS`), set up before each test file. Same assertions, same tolerances as the
 * `wasm-training` project, which runs tfjs-backend-wasm's own single-threaded backend.
 */
export default mergeConfig(
  shared,
  defineProject({
    test: {
      name: 'wasm-training-threads',
      env: { PHALANX_WASM_THREADS: '2' },
      setupFiles: ['./test/threads.setup.ts'],
    },
  }),
);
