/**
 * Fault injection for `node:fs/promises`: a copy of the module whose mutating operations count
 * themselves and throw {@link InjectedCrash} at the chosen one — before it runs, or for `writeFile`
 * after writing the first half of the data — which leaves the disk as a kill at that moment would.
 * Kept free of other imports so that a `vi.mock('node:fs/promises')` factory can load it.
 *
 * @example
 * const crash = vi.hoisted(() => ({ at: 0, halfWrite: false, count: 0 }));
 * vi.mock('node:fs/promises', async (importOriginal) => {
 *   const { crashingFsPromises } = await import('@phalanx/testing/fault-injection');
 *   return crashingFsPromises(await importOriginal(), crash);
 * });
 */
import type * as NodeFsPromises from 'node:fs/promises';

/** The error a planned crash throws. */
export class InjectedCrash extends Error {}

/** Which mutating operation (1-based, counting every mutating call in `count`) fails, and how; `at` 0: none. */
export interface CrashPlan {
  at: number;
  halfWrite: boolean;
  count: number;
}

/** The operations that change the disk, each counted by {@link crashingFsPromises}. */
export const MUTATING_FS_OPERATIONS = ['mkdir', 'writeFile', 'rename', 'link', 'copyFile', 'rm', 'unlink'] as const;

/** A mutating operation's name. */
export type MutatingFsOperation = (typeof MUTATING_FS_OPERATIONS)[number];

/**
 * `real` with every operation of `operations` wrapped to follow `plan` (ESM namespace and `default`).
 */
export function crashingFsPromises(
  real: typeof NodeFsPromises,
  plan: CrashPlan,
  operations: readonly MutatingFsOperation[] = MUTATING_FS_OPERATIONS,
): typeof NodeFsPromises & { default: typeof NodeFsPromises } {
  const guard =
    <A extends unknown[], R>(name: string, op: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      plan.count += 1;
      if (plan.count === plan.at) {
        if (name === 'writeFile' && plan.halfWrite) {
          const data = args[1] as Uint8Array | string;
          const half = typeof data === 'string' ? data.slice(0, data.length >> 1) : data.subarray(0, data.length >> 1);
          await real.writeFile(args[0] as string, half);
        }
        throw new InjectedCrash(`crash at ${name}`);
      }
      return op(...args);
    };
  const mocked = { ...real } as Record<string, unknown>;
  for (const name of operations) mocked[name] = guard(name, real[name] as (...args: unknown[]) => Promise<unknown>);
  const fs = mocked as unknown as typeof NodeFsPromises;
  return { ...fs, default: fs };
}
