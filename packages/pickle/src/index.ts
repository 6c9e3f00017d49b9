/**
 * `@phalanx/pickle` — a safe Python unpickler (protocols 0–5) that runs no code. It rebuilds dicts, lists,
 * tuples, sets, numbers, strings, bytes and NumPy arrays, and exactly the classes it is given, through a
 * dispatch table of one small handler per opcode (as CPython's `pickle.py`).
 *
 * @packageDocumentation
 */
export * from './values';
export { unpickle, unpickleAt, type UnpickleOptions, type UnpickleResult } from './unpickle';
export type { PickleClass, PickleContext, PickleGlobals } from './machine';
