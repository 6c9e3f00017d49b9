// The worker script of tfjs-backend-wasm's threaded build ships as a CommonJS module holding its source
// text (no declaration file of its own).
declare module '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js' {
  /** Source of the Emscripten pthread worker, as a template literal (escaped `\n` turned into newlines). */
  export const wasmWorkerContents: string;
}
