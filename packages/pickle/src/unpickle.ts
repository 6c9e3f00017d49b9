/**
 * The unpickler's public entry points: the five-line loop over the dispatch table, and the checks made once
 * the pickle has stopped.
 */
import { checkInteger, checkOptions, PhalanxConfigError } from '@phalanx/errors';
import { builtinGlobals } from './builtins';
import { hasCycle } from './cycles';
import { DISPATCH } from './dispatch';
import { PickleMachine, STOPPED, type PickleContext, type PickleGlobals } from './machine';
import { numpyGlobals } from './numpy';
import type { PyValue } from './values';

/** Options of {@link unpickle} and {@link unpickleAt}. */
export interface UnpickleOptions {
  /** Names the source in error messages. Default `'pickle'`. */
  file?: string;
  /**
   * Globals allowed beyond the built-in ones (NumPy arrays, dtypes and scalars; `_codecs.encode`,
   * `bytearray`, `set`, `frozenset`, `collections.OrderedDict`): `'module.qualname'` → a {@link PickleClass}
   * to call, or `null` for a name that may appear but not be called.
   */
  globals?: PickleGlobals;
  /** Resolves persistent ids (PERSID, BINPERSID); without it they are an error. */
  persistentLoad?: (pid: PyValue, context: PickleContext) => PyValue;
}

/** What {@link unpickleAt} returns: the value and the offset just past its STOP. */
export interface UnpickleResult {
  /** The decoded value. */
  value: PyValue;
  /** Byte offset just after the STOP opcode (where a following pickle would start). */
  end: number;
}

const BUILT_IN_GLOBALS: PickleGlobals = new Map([...builtinGlobals, ...numpyGlobals]);

/** The keys of {@link UnpickleOptions}: any other key is a named error. */
const OPTION_KEYS = { file: true, globals: true, persistentLoad: true } satisfies Record<keyof UnpickleOptions, true>;

/**
 * Named errors (`PhalanxConfigError` naming `component`) for arguments the machine cannot use: `bytes` that
 * are not a `Uint8Array`, an `offset` that is not an integer ≥ 0, and `options` that are not an object, have
 * a key that is not an option, a `file` that is not a string, `globals` that are not a `Map` or a
 * `persistentLoad` that is not a function.
 */
function checkArguments(component: string, bytes: unknown, offset: unknown, options: unknown): void {
  if (!(bytes instanceof Uint8Array)) {
    const received = bytes === null || typeof bytes !== 'object' ? bytes : (bytes.constructor?.name ?? 'an object');
    throw new PhalanxConfigError(component, 'bytes', 'a Uint8Array (or Buffer)', received);
  }
  checkInteger(component, 'offset', offset, 0);
  checkOptions(
    component,
    'options',
    options,
    OPTION_KEYS,
    'a file name or an object {file?, globals?, persistentLoad?}',
  );
  const { file, globals, persistentLoad } = options as Record<string, unknown>;
  if (file !== undefined && typeof file !== 'string') {
    throw new PhalanxConfigError(component, 'options.file', 'a string', file);
  }
  if (globals !== undefined && !(globals instanceof Map)) {
    throw new PhalanxConfigError(
      component,
      'options.globals',
      "a Map of 'module.qualname' → PickleClass | null",
      globals,
    );
  }
  if (persistentLoad !== undefined && typeof persistentLoad !== 'function') {
    throw new PhalanxConfigError(
      component,
      'options.persistentLoad',
      'a function (pid, context) → value',
      persistentLoad,
    );
  }
}

/**
 * Decodes the pickle that starts at byte `offset` of `bytes` (files such as PyTorch's legacy format hold
 * several pickles back to back).
 *
 * Time and memory are linear in the input; nothing is executed: a global outside the allow-list is refused
 * when the pickle names it. A cyclic list or dict (one that contains itself) is refused too, so every
 * result can be walked without a visited set.
 *
 * @throws PhalanxFileError naming `file`, the opcode and its byte offset, for any malformed, truncated or
 *   refused input; PhalanxConfigError for `bytes` that are not a `Uint8Array`, an `offset` that is not an
 *   integer ≥ 0, and options that are not an object of the {@link UnpickleOptions} keys and types.
 * @example
 * ```ts
 * // Two protocol-2 pickles back to back: the integers 1 and 2 (PROTO 2, BININT1 n, STOP).
 * const bytes = Uint8Array.from([0x80, 2, 0x4b, 1, 0x2e, 0x80, 2, 0x4b, 2, 0x2e]);
 * const first = unpickleAt(bytes, 0);
 * const second = unpickleAt(bytes, first.end);
 * ```
 */
export function unpickleAt(bytes: Uint8Array, offset: number, options: UnpickleOptions = {}): UnpickleResult {
  checkArguments('unpickleAt', bytes, offset, options);
  return run(bytes, offset, options);
}

/** {@link unpickleAt} once its arguments are checked. */
function run(bytes: Uint8Array, offset: number, options: UnpickleOptions): UnpickleResult {
  const extra = options.globals ?? new Map();
  const m = new PickleMachine(bytes, {
    file: options.file ?? 'pickle',
    globals: extra.size === 0 ? BUILT_IN_GLOBALS : new Map([...BUILT_IN_GLOBALS, ...extra]),
    persistentLoad: options.persistentLoad,
  });
  m.pos = offset;
  for (;;) {
    m.opPos = m.pos;
    if (m.pos >= bytes.length) m.failEnd();
    m.op = bytes[m.pos++];
    const handler = DISPATCH[m.op] ?? ((x: PickleMachine) => x.fail('is not a pickle opcode (protocols 0–5)'));
    if (handler(m) === STOPPED) break;
  }
  if (m.incomplete.size > 0) m.fail(`leaves ${m.incomplete.size} object(s) without the state BUILD must set`);
  if (hasCycle(m.result)) m.fail('returns a list or dict that contains itself, which this reader refuses');
  return { value: m.result, end: m.pos };
}

/**
 * Decodes pickle bytes (protocols 0–5) into plain JavaScript values (see {@link PyValue}).
 *
 * @param fileOrOptions - the file name for error messages, or {@link UnpickleOptions}.
 * @throws PhalanxFileError naming the file, the opcode and its byte offset; PhalanxConfigError for arguments
 *   of the wrong type (as {@link unpickleAt}).
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { unpickle, type PyValue } from '@phalanx/pickle';
 * const anno = unpickle(readFileSync('anno_training.pickle'), 'anno_training.pickle') as Map<PyValue, PyValue>;
 * ```
 */
export function unpickle(bytes: Uint8Array, fileOrOptions: string | UnpickleOptions = {}): PyValue {
  const options = typeof fileOrOptions === 'string' ? { file: fileOrOptions } : fileOrOptions;
  checkArguments('unpickle', bytes, 0, options);
  return run(bytes, 0, options).value;
}
