import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// Gradients are registered by tfjs-layers; tests always have them.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe } from 'vitest';
import { IN_BROWSER } from './environment';

/** The backends every Node test runs on. */
export const NODE_BACKENDS = ['cpu', 'wasm'] as const;
/** Every backend a Phalanx test may run on: cpu and wasm in Node, webgl and webgpu in the browser suite. */
export type TestBackend = 'cpu' | 'wasm' | 'webgl' | 'webgpu';
/** @deprecated kept for older call sites; use {@link TestBackend}. */
export type NodeBackend = TestBackend;

/**
 * What the browser suite's setup (`browser-setup.ts`) found: the backends to test and, when webgpu is
 * not among them, why. Stored on `globalThis` because the setup file runs before each test file.
 */
export interface BrowserBackendStatus {
  backends: TestBackend[];
  webgpu: { available: true } | { available: false; reason: string };
  webglFloat32: boolean;
}

const STATUS_KEY = '__phalanxBrowserBackends';

/** The status recorded by the browser setup, or `undefined` in Node (or when the setup did not run). */
export function browserBackendStatus(): BrowserBackendStatus | undefined {
  return (globalThis as Record<string, unknown>)[STATUS_KEY] as BrowserBackendStatus | undefined;
}

/** Records the browser suite's backend status (called once by the browser setup file). */
export function setBrowserBackendStatus(status: BrowserBackendStatus): void {
  (globalThis as Record<string, unknown>)[STATUS_KEY] = status;
}

/**
 * The backends `forEachBackend` covers by default: cpu and wasm in Node; in the browser suite the
 * GPU backends its setup found (webgl always, webgpu when the browser has an adapter).
 */
export function defaultTestBackends(): readonly TestBackend[] {
  if (!IN_BROWSER) return NODE_BACKENDS;
  return browserBackendStatus()?.backends ?? ['webgl'];
}

/** Switches to `backend` and waits until it is ready; throws when it cannot be set. */
export async function useBackend(backend: string): Promise<void> {
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`could not set backend '${backend}'`);
  await tf.ready();
}

/**
 * Declares one `describe` block per backend; inside, the backend is active (set in `beforeAll`).
 * The default list depends on where the test runs (see {@link defaultTestBackends}); pass `backends`
 * to choose them explicitly.
 *
 * @example
 * forEachBackend((backend) => { it('matches golden', () => { ... }); });
 */
export function forEachBackend(
  body: (backend: TestBackend) => void,
  backends: readonly TestBackend[] = defaultTestBackends(),
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
