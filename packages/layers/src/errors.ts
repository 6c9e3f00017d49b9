/**
 * The named errors and argument checks now live in `@phalanx/errors` (one copy for every Phalanx
 * package). This module only forwards them for the tests that still import `../errors`; library code
 * imports `@phalanx/errors` directly.
 */
export * from '@phalanx/errors';
