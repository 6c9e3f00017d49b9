// Setup of the `wasm-training-threads` test project: the wasm backend every test file initialises is the
// threaded one, with the pool size given by PHALANX_WASM_THREADS.
import '@tensorflow/tfjs-backend-wasm';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { enableWasmThreads } from '../src/wasm-threads';

const threads = Number(process.env.PHALANX_WASM_THREADS);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`PHALANX_WASM_THREADS must be an integer ≥ 1`);
enableWasmThreads();
setThreadsCount(threads);
