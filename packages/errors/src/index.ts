/**
 * `@phalanx/errors` — the named errors (`PhalanxConfigError`, `PhalanxShapeError`, `PhalanxFileError`)
 * and argument checks shared by every Phalanx package. No dependencies, no side effects.
 *
 * @packageDocumentation
 */
export * from './errors';
