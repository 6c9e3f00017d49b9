import type * as NodeFs from 'node:fs';
import type * as NodeOs from 'node:os';
import type * as NodePath from 'node:path';

/**
 * Where a test runs. The same test files run in Node (vitest's node environment; backends cpu and
 * wasm) and in headless Chromium (vitest's browser mode; backend webgl, and webgpu where the browser
 * offers it), so the helpers that touch the host (fixture files, model storage) ask this first.
 */
export const IN_BROWSER: boolean =
  typeof window !== 'undefined' && typeof document !== 'undefined' && typeof navigator !== 'undefined';

type NodeBuiltins = { fs: typeof NodeFs; os: typeof NodeOs; path: typeof NodePath };

/**
 * Node's `fs`, `os` and `path`, loaded synchronously through `process.getBuiltinModule` (Node ≥ 20.16)
 * so that no module of `@phalanx/testing` imports a Node built-in statically (the browser suite loads
 * the same modules). Throws in a browser.
 */
export function nodeBuiltins(): NodeBuiltins {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (IN_BROWSER || typeof proc?.getBuiltinModule !== 'function') {
    throw new Error('nodeBuiltins: needs Node ≥ 20.16 (process.getBuiltinModule); not available here');
  }
  return {
    fs: proc.getBuiltinModule('node:fs') as NodeBuiltins['fs'],
    os: proc.getBuiltinModule('node:os') as NodeBuiltins['os'],
    path: proc.getBuiltinModule('node:path') as NodeBuiltins['path'],
  };
}
