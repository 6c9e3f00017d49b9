/**
 * The state of the pickle virtual machine and the byte reader its opcodes share: the stack, the stack of
 * stacks that MARK opens (CPython's `metastack`, so that popping to a mark is O(1) rather than a scan), the
 * memo, and the cursor. Every failure is a `PhalanxFileError` naming the file, the opcode and its offset.
 */
import { PhalanxFileError } from '@phalanx/errors';
import type { PyValue } from './values';

/** What an allowed class gets when the pickle calls it or sets its state. */
export interface PickleContext {
  /** Throws a `PhalanxFileError` naming the file, the opcode and its byte offset, then `problem`. */
  fail(problem: string): never;
  /** Marks `target` as incomplete until its `setState` runs; an incomplete object at STOP is an error. */
  awaitState(target: object): void;
  /**
   * Counts `bytes` that a call is about to allocate for values it copies or expands (a set from a list, a
   * bytearray, NumPy values); throws a `PhalanxFileError` once a pickle has built more than
   * 64 MiB + 32 bytes per byte of the pickle — a few bytes of opcodes can copy one memoized value again and again.
   */
  charge(bytes: number): void;
}

/**
 * The bytes of values the calls of a pickle of `length` bytes may build (copies and expansions counted by
 * `PickleContext.charge`): 64 MiB plus 32 per byte of the pickle. A pickle's own values take at most 16
 * bytes per byte of it (NumPy uint8 read as float64, and again reordered from Fortran order).
 */
function valueBudget(length: number): number {
  return 64 * 2 ** 20 + 32 * length;
}

/**
 * A Python class (or function) the unpickler may call: REDUCE, NEWOBJ, NEWOBJ_EX, INST and OBJ call
 * `create` with the argument tuple; BUILD calls `setState` on an object `create` returned. Nothing else
 * is ever called, so a pickle can only build what the allowed classes build.
 */
export interface PickleClass {
  /** Builds the object from its constructor arguments. */
  create(args: readonly PyValue[], context: PickleContext): PyValue;
  /** Applies the BUILD `state` to `target` (absent: a BUILD on the object is an error). */
  setState?(target: PyValue, state: PyValue, context: PickleContext): void;
}

/**
 * The globals a pickle may name: `'module.qualname'` → the class to call, or `null` for a global that may
 * be named (e.g. a storage type passed to a persistent id) but not called.
 */
export type PickleGlobals = ReadonlyMap<string, PickleClass | null>;

/** Options of the unpickler beyond the bytes. */
export interface MachineOptions {
  /** Names the source in error messages. */
  file: string;
  /** The allowed globals. */
  globals: PickleGlobals;
  /** Resolves a persistent id (PERSID, BINPERSID); `undefined`: persistent ids are an error. */
  persistentLoad?: (pid: PyValue, context: PickleContext) => PyValue;
}

/** Signals the end of the pickle (STOP) from an opcode handler to the loop. */
export const STOPPED = Symbol('stopped');

/** The virtual machine: stack, metastack, memo and a bounds-checked reader over the bytes. */
export class PickleMachine implements PickleContext {
  /** Byte offset of the next byte to read. */
  pos = 0;
  /** The opcode being run, and where it starts (for messages). */
  op = 0;
  /** Byte offset of the opcode being run. */
  opPos = 0;
  /** The current stack (items pushed since the last MARK). */
  stack: PyValue[] = [];
  /** The stacks saved by MARK, innermost last. */
  readonly metastack: PyValue[][] = [];
  /** Memo entries by index. */
  readonly memo = new Map<number, PyValue>();
  /** Arrays that are Python tuples (immutable) or sets, to refuse APPEND on a tuple and ADDITEMS on a list. */
  readonly tuples = new WeakSet<object>();
  /** Arrays that are Python sets. */
  readonly sets = new WeakSet<object>();
  /** Which allowed class made each object (for BUILD). */
  readonly makers = new WeakMap<object, PickleClass>();
  /** Objects waiting for their BUILD state. */
  readonly incomplete = new Set<object>();
  /** The value STOP popped. */
  result: PyValue = null;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly options: MachineOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(problem: string): never {
    throw new PhalanxFileError(
      this.options.file,
      `pickle opcode 0x${this.op.toString(16)} at byte ${this.opPos}`,
      problem,
    );
  }

  /** Fails because the bytes end before the pickle's STOP. */
  failEnd(): never {
    throw new PhalanxFileError(
      this.options.file,
      `pickle at byte ${this.pos}`,
      'ends before its STOP opcode (truncated pickle)',
    );
  }

  awaitState(target: object): void {
    this.incomplete.add(target);
  }

  /** Bytes counted by {@link PickleMachine.charge} so far. */
  private charged = 0;

  charge(bytes: number): void {
    this.charged += bytes;
    const budget = valueBudget(this.bytes.length);
    if (!(this.charged <= budget)) {
      this.fail(`builds more than ${budget} bytes of values from a ${this.bytes.length}-byte pickle (${this.charged})`);
    }
  }

  /** Fails unless `n` more bytes exist. */
  need(n: number): void {
    if (this.pos + n > this.bytes.length) this.fail('runs past the end of the file (truncated pickle)');
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }
  u16(): number {
    this.need(2);
    this.pos += 2;
    return this.view.getUint16(this.pos - 2, true);
  }
  u32(): number {
    this.need(4);
    this.pos += 4;
    return this.view.getUint32(this.pos - 4, true);
  }
  i32(): number {
    this.need(4);
    this.pos += 4;
    return this.view.getInt32(this.pos - 4, true);
  }
  f64be(): number {
    this.need(8);
    this.pos += 8;
    return this.view.getFloat64(this.pos - 8, false);
  }
  /** An unsigned 64-bit length; beyond 2⁵³ it cannot be a length of these bytes anyway. */
  u64(): number {
    this.need(8);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    if (hi > 0x1fffff) this.fail('has a length beyond 2^53');
    return hi * 4294967296 + lo;
  }
  /** The next `n` bytes, as a view (no copy). */
  take(n: number): Uint8Array {
    this.need(n);
    this.pos += n;
    return this.bytes.subarray(this.pos - n, this.pos);
  }
  /** The bytes up to the next newline, as latin-1 text (the newline is consumed, not returned). */
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('has no terminating newline');
    const s = latin1(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  push(v: PyValue): void {
    this.stack.push(v);
  }
  /** Pops the top of the current stack. */
  pop(): PyValue {
    if (this.stack.length === 0) this.fail('pops an empty stack');
    return this.stack.pop() as PyValue;
  }
  /** The top of the current stack, left in place. */
  top(): PyValue {
    if (this.stack.length === 0) this.fail('reads an empty stack');
    return this.stack[this.stack.length - 1];
  }
  /** MARK: saves the current stack and starts an empty one. */
  mark(): void {
    this.metastack.push(this.stack);
    this.stack = [];
  }
  /** Returns the items pushed since the last MARK and restores the stack below it. */
  popMark(): PyValue[] {
    const below = this.metastack.pop();
    if (below === undefined) this.fail('finds no MARK on the stack');
    const items = this.stack;
    this.stack = below;
    return items;
  }
}

/** Bytes → string, one char per byte (Python 2 `str`, protocol 0 text). */
export function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** String → bytes, the low 8 bits of each char (`_codecs.encode(s, 'latin1')`). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Runs one opcode (its argument bytes follow at `m.pos`); returns {@link STOPPED} for STOP. */
export type OpHandler = (m: PickleMachine) => void | typeof STOPPED;

/** Opcode → handler, for a group of related opcodes. */
export type OpTable = Readonly<Record<number, OpHandler>>;
