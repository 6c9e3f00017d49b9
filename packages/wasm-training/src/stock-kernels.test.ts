import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { expectClose } from '@phalanx/testing';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

it('unregistering the kernels on another backend does not start wasm, and wasm later runs its own kernels', () => {
  // A fresh process: in this one, wasm may have started already.
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/unregister-child.ts'], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(child.status, child.stderr.slice(-2000)).toBe(0);
  const line = child.stdout.trim().split('\n').pop() ?? '';
  const result = JSON.parse(line) as {
    wasmStartedByUnregister: boolean;
    backend: string;
    onCpu: number[];
    onWasm: number[];
  };
  expect(result.wasmStartedByUnregister).toBe(false);
  expect(result.backend).toBe('wasm');
  expect(result.onCpu).toHaveLength(2 * 3 * 5);
  expectClose(result.onWasm, result.onCpu, { rtol: 1e-5, atol: 1e-5 }, 'wasm matMul after unregistering');
}, 90_000);
