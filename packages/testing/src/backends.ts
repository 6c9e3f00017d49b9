import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// Gradients are registered by tfjs-layers; tests always have them.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe } from 'vitest';

/** The backends every Node test runs on. (`webgl` runs in the browser suite.) */
export const NODE_BACKENDS = ['cpu', 'wasm'] as const;
export type NodeBackend = (typeof NODE_BACKENDS)[number];

/** Switches to `backend` and waits until it is ready; throws when it cannot be set. */
export async function useBackend(backend: string): Promise<void> {
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`could not set backend '${backend}'`);
  await tf.ready();
}

/**
 * Declares one `describe` block per backend; inside, the backend is active (set in `beforeAll`).
 *
 * @example
 * forEachBackend((backend) => { it('matches golden', () => { ... }); });
 */
export function forEachBackend(
  body: (backend: NodeBackend) => void,
  backends: readonly NodeBackend[] = NODE_BACKENDS,
): void {
  for (const backend of backends) {
    describe(`on ${backend}`, () => {
      beforeAll(async () => {
        await useBackend(backend);
      });
      body(backend);
    });
  }
}
