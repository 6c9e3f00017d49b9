/**
 * `@phalanx/errors` — the named errors (`PhalanxConfigError`, `PhalanxShapeError`, `PhalanxFileError`,
 * `PhalanxNonFiniteError`) and argument checks shared by every Phalanx package. No dependencies, no
 * side effects.
 *
 * @packageDocumentation
 */
export * from './errors';
