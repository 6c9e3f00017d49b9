/**
 * Setup file of the browser test projects (vitest browser mode, headless Chromium): registers the GPU
 * backends, finds out which of them this browser offers, and records the result (with the reason when
 * webgpu is missing) for `forEachBackend` and for the suite's environment test. Node projects never
 * load this file.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setBrowserBackendStatus, type BrowserBackendStatus, type TestBackend } from './backends';

interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

async function probeWebGpu(): Promise<BrowserBackendStatus['webgpu']> {
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (gpu === undefined) return { available: false, reason: 'navigator.gpu is undefined in this browser' };
  let adapter: unknown;
  try {
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return { available: false, reason: `navigator.gpu.requestAdapter() threw: ${String(error)}` };
  }
  if (adapter === null || adapter === undefined) {
    return { available: false, reason: 'navigator.gpu.requestAdapter() returned null (no WebGPU adapter)' };
  }
  try {
    if (!(await tf.setBackend('webgpu'))) return { available: false, reason: "tf.setBackend('webgpu') failed" };
    await tf.ready();
  } catch (error) {
    return { available: false, reason: `tf.setBackend('webgpu') threw: ${String(error)}` };
  }
  return { available: true };
}

const webgpu = await probeWebGpu();
if (!(await tf.setBackend('webgl'))) throw new Error("browser setup: tf.setBackend('webgl') failed");
await tf.ready();
const webglFloat32 = tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
// webgpu is not in forEachBackend's list even when an adapter exists: the shared helpers read results
// with dataSync(), and tfjs-backend-webgpu's synchronous readback (through a WebGPU canvas) returns
// zeros and loses the device in headless Chromium on SwiftShader — see test/browser/environment.spec.ts,
// which checks that this is still so, and webgpu-golden.spec.ts, which tests webgpu with async reads.
const backends: TestBackend[] = ['webgl'];
setBrowserBackendStatus({ backends, webgpu, webglFloat32 });
