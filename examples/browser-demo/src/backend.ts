import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { enableWasmThreads } from '@phalanx/wasm-training';
// The wasm binaries, copied into the build by vite and located by URL (no CDN).
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});
// The page is served cross-origin isolated (COOP/COEP headers, see vite.config.ts), so wasm can run on
// every core: the threaded build with one thread per logical core (tfjs's own loader would take half).
enableWasmThreads({ threadedWasmUrl: wasmThreaded });

export type BackendChoice = 'auto' | 'webgl' | 'wasm' | 'cpu';
export const FALLBACK_ORDER = ['webgl', 'wasm', 'cpu'] as const;

/**
 * Switches to the requested backend, or with `'auto'` to the first of webgl → wasm → cpu that
 * initialises. Returns the backend in use and the ones that failed (with why) on the way.
 */
export async function chooseBackend(choice: BackendChoice): Promise<{ backend: string; failed: string[] }> {
  const order = choice === 'auto' ? [...FALLBACK_ORDER] : [choice];
  const failed: string[] = [];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return { backend: tf.getBackend(), failed };
      }
      failed.push(`${name}: not available`);
    } catch (error) {
      failed.push(`${name}: ${(error as Error).message}`);
    }
  }
  throw new Error(`no backend could be initialised (${failed.join('; ')})`);
}

/** Threads of the wasm backend's pool when wasm is the backend in use, else `null`. */
export function wasmThreads(): number | null {
  return tf.getBackend() === 'wasm' ? getThreadsCount() : null;
}
