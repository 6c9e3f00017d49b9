/**
 * The first Ctrl-C of a data-parallel run: a signal for `runDataParallel` that SIGINT aborts once.
 */
import { SIGINT_NOTICE } from '../callbacks/sigint';

/** What {@link stopOnFirstSigint} returns. */
export interface SigintStop {
  /** Aborted by the first SIGINT after the call. Pass it as `runDataParallel`'s `signal`. */
  readonly signal: AbortSignal;
  /** Removes the listener if no SIGINT came (call it when the run settles, e.g. in `finally`). */
  release(): void;
}

/**
 * Listens for the process's first SIGINT (Ctrl-C) and aborts the returned signal then, after printing `notice`
 * with `console.log` (default {@link SIGINT_NOTICE}; `null`: nothing): the replicas all stop after the same step and replica 0 writes its interrupt
 * checkpoint. The listener is a `process.once`, so a second Ctrl-C meets Node's default and ends the process at
 * once. Node only; call `release()` when the run settles.
 *
 * @example
 * const stop = stopOnFirstSigint(); // prints SIGINT_NOTICE at the first Ctrl-C
 * try {
 *   // await runDataParallel({ module: new URL('./replica.ts', import.meta.url), replicas: 2, signal: stop.signal });
 *   console.log(stop.signal.aborted); // false until Ctrl-C
 * } finally {
 *   stop.release();
 * }
 */
export function stopOnFirstSigint(notice: string | null = SIGINT_NOTICE): SigintStop {
  const controller = new AbortController();
  const onSigint = () => {
    if (notice !== null) console.log(notice);
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  return { signal: controller.signal, release: () => process.removeListener('SIGINT', onSigint) };
}
