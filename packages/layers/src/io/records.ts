/** Helpers for name → value records built from file contents (internal). */

/**
 * Sets `record[key] = value` as an own, enumerable property for every key: a plain assignment to
 * `'__proto__'` would replace the object's prototype instead, and the value would vanish.
 */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
