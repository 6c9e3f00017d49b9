import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { defaultWasmThreadsCount, enableWasmThreads, MAX_WASM_THREADS, wasmThreadsSupported } from './wasm-threads';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
/** The pool the test project runs wasm on: 2 in the `wasm-training-threads` project, else stock (1). */
const PROJECT_THREADS = Number(process.env.PHALANX_WASM_THREADS ?? '1');

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  tmpLeft: string[];
}

/**
 * Runs test/threads-child.ts in a fresh Node process with its own empty TMPDIR; `onLine` sees each stdout
 * line. Resolves when the process ends on its own (a child that hangs fails the test by its time-out).
 */
function runChild(args: string[], onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'phalanx-threads-test-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/threads-child.ts', ...args], {
    cwd: packageDir,
    env: { ...process.env, TMPDIR: tmp },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stdout += text;
    for (const line of text.split('\n').filter(Boolean)) onLine(line, child);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<ChildResult>((resolve) => {
    child.on('exit', (code, signal) => {
      const tmpLeft = readdirSync(tmp);
      rmSync(tmp, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr: stderr.slice(-2000), tmpLeft });
    });
  });
}

describe('enableWasmThreads', () => {
  it('rejects options it cannot use, before changing anything', () => {
    expect(() => enableWasmThreads({ threadedWasmUrl: 3 as unknown as string })).toThrow(PhalanxConfigError);
    expect(() => enableWasmThreads({ threadedWasmUrl: '' })).toThrow(/threadedWasmUrl must be a non-empty string/);
    expect(() => enableWasmThreads(null as unknown as object)).toThrow(PhalanxConfigError);
    expect(() => enableWasmThreads({ threadedWasmURL: 'x.wasm' } as never)).toThrow(
      "enableWasmThreads: options.threadedWasmURL must be an option (one of threadedWasmUrl), but received 'x.wasm'.",
    );
    expect(() => enableWasmThreads([] as never)).toThrow('enableWasmThreads: options must be an object');
  });

  it('defaults to every core the process may use, at most 8, and runs threads in Node', () => {
    expect(defaultWasmThreadsCount()).toBe(Math.min(MAX_WASM_THREADS, availableParallelism()));
    expect(wasmThreadsSupported()).toBe(true);
  });

  it(`the wasm backend of this test project runs a pool of ${PROJECT_THREADS} thread(s)`, async () => {
    await useBackend('wasm');
    expect(getThreadsCount()).toBe(PROJECT_THREADS);
    const wasm = (tf.backend() as unknown as { wasm: { PThread?: { runningWorkers: unknown[] }; HEAPU8: Uint8Array } })
      .wasm;
    // A pool of n threads is the calling thread plus n − 1 running pthread workers on shared memory; one
    // thread is tfjs-backend-wasm's own single-threaded SIMD module (no workers, no shared memory).
    expect(wasm.PThread?.runningWorkers.length ?? 0).toBe(PROJECT_THREADS - 1);
    expect(wasm.HEAPU8.buffer instanceof SharedArrayBuffer).toBe(PROJECT_THREADS > 1);
  });
});

// Child processes (a fresh tfjs each): run once, in the default test project.
describe.skipIf(PROJECT_THREADS !== 1)('enableWasmThreads in a Node process', () => {
  it('honours setThreadsCount(n) exactly (also beyond cores / 2), equals cpu, exits by itself, leaves no files', async () => {
    const result = await runChild(['pools', '2', '3', '1', '-1']);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code, result.stderr).toBe(0);
    expect(result.tmpLeft.filter((f) => !/^tsx-\d+$/.test(f))).toEqual([]); // tsx's compile cache aside
    const lines = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, number | boolean | string>);
    const everyCore = Math.min(MAX_WASM_THREADS, availableParallelism());
    expect(lines.map((l) => [l.requested, l.threads, l.runningPthreads, l.sharedMemory])).toEqual([
      [2, 2, 1, true],
      [3, 3, 2, true],
      [1, 1, 0, false],
      [-1, everyCore, everyCore - 1, everyCore > 1],
    ]);
    for (const l of lines) {
      expect(l.maxDiff).toBeLessThan(1e-3);
      // The Emscripten glue sets globalThis.Worker for itself; it is put back (Node 20 has none).
      expect(l.workerGlobal).toBe('undefined');
    }
  });

  it('Ctrl-C reaches the training loop while the pool runs, and the process then ends by itself', async () => {
    let signalled = false;
    const result = await runChild(['sigint', '2'], (line, child) => {
      if (line.startsWith('ready') && !signalled) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    expect(result.stdout).toMatch(/^ready 2$/m);
    expect(result.stdout).toMatch(/^stopped after \d+$/m);
    expect([result.code, result.signal]).toEqual([0, null]);
    expect(result.tmpLeft.filter((f) => !/^tsx-\d+$/.test(f))).toEqual([]); // tsx's compile cache aside
  });
});
