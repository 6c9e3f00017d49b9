/**
 * Validation of loss-term weights, shared by the stage objectives and recipes (internal: not exported
 * from the package).
 */
import { checkFinite, PhalanxConfigError } from '@phalanx/errors';

/** `value` (or `fallback` when absent) as a finite weight ≥ 0; a `PhalanxConfigError` naming `name` otherwise. */
export function lossWeight(component: string, name: string, value: number | undefined, fallback: number): number {
  const w = checkFinite(component, name, value ?? fallback);
  if (w < 0) throw new PhalanxConfigError(component, name, 'a number ≥ 0', w);
  return w;
}
