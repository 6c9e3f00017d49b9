/**
 * `@phalanx/errors` — the named errors (`PhalanxConfigError`, `PhalanxShapeError`, `PhalanxFileError`,
 * `PhalanxNonFiniteError`) and argument checks shared by every Phalanx package, and the folder maker
 * (`makeFolder`) of the packages that write files, which fails with a `PhalanxFileError`. No dependencies,
 * no side effects (`makeFolder` loads `node:fs` when it is called).
 *
 * @packageDocumentation
 */
export * from './errors';
export * from './folders';
