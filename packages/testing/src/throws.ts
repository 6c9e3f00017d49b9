/**
 * Helpers for tests that check an error's class and message together: the value a function throws, or the
 * error an async function rejects with.
 */

/**
 * The value `f` throws, or `undefined` if it returns (for tests where either outcome may be right, such as
 * "refused by name or a finite result"; assert `toBeInstanceOf` where only a throw is right).
 *
 * @example
 * ```ts
 * const error = thrownBy(() => JSON.parse('{'));
 * error instanceof SyntaxError; // true
 * thrownBy(() => JSON.parse('{}')); // undefined
 * ```
 */
export function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

/**
 * The error `f` throws or its promise rejects with; `Error('no error')` if it completes, so an assertion
 * on the class or message fails.
 *
 * @example
 * ```ts
 * const error = await rejectionOf(async () => JSON.parse('{'));
 * error instanceof SyntaxError; // true
 * ```
 */
export async function rejectionOf(f: () => unknown): Promise<Error> {
  return Promise.resolve()
    .then(f)
    .then(
      () => new Error('no error'),
      (error: unknown) => error as Error,
    );
}
