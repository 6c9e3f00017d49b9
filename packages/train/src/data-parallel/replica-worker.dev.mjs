// The replica worker entry when @phalanx/train runs from its TypeScript sources (inside the Phalanx
// workspace, under tsx or vitest): Node 20's worker threads do not inherit `--import tsx`, so this plain
// module registers tsx in the worker thread, with the package's tsconfig for the `@phalanx/*` paths, and
// loads the TypeScript worker (which then imports the user's module, TypeScript too). The built package
// loads `data-parallel-worker.js` instead and never this file.
import { register } from 'tsx/esm/api';

register({ tsconfig: new globalThis.URL('../../tsconfig.json', import.meta.url).pathname });
await import('./replica-worker.ts');
