/**
 * What a PyTorch checkpoint's pickle may build, as classes for the allow-list unpickler of `@phalanx/pickle`:
 * storages (through persistent ids), tensors (`torch._utils._rebuild_tensor_v2` and its older and
 * subclass-wrapping forms), parameters (`_rebuild_parameter`) and `collections.OrderedDict` (built in).
 * Nothing else is rebuilt, and nothing is read from the storages here: tensors stay descriptions
 * ({@link TorchTensor}) until the state dict is converted.
 */
import {
  isPyGlobal,
  type PickleClass,
  type PickleContext,
  type PickleGlobals,
  type PyObject,
  type PyValue,
} from '@phalanx/pickle';

/** The element types of PyTorch storages this reader converts. */
export type TorchDtype =
  'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Storage classes (as pickled by `torch.save`) → element type. */
export const STORAGE_TYPES: ReadonlyMap<string, TorchDtype> = new Map<string, TorchDtype>([
  ['torch.FloatStorage', 'float32'],
  ['torch.HalfStorage', 'float16'],
  ['torch.BFloat16Storage', 'bfloat16'],
  ['torch.DoubleStorage', 'float64'],
  ['torch.LongStorage', 'int64'],
  ['torch.IntStorage', 'int32'],
  ['torch.ShortStorage', 'int16'],
  ['torch.CharStorage', 'int8'],
  ['torch.ByteStorage', 'uint8'],
  ['torch.BoolStorage', 'bool'],
  ['torch.storage.UntypedStorage', 'uint8'],
  ['torch.UntypedStorage', 'uint8'],
]);

/** Bytes per element of each storage type. */
export const ELEMENT_SIZE: Readonly<Record<TorchDtype, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A storage a checkpoint refers to: `numel` elements of `dtype`, from element `offset` of record `key`. */
export interface TorchStorage extends PyObject {
  /** Tag that tells a storage from other decoded values. */
  readonly kind: 'torch-storage';
  /** The storage's record: `archive/data/<key>` in the zip format, the key in the legacy storage list. */
  readonly key: string;
  /** Element type. */
  readonly dtype: TorchDtype;
  /** First element within the record (a legacy storage view; 0 otherwise). */
  readonly offset: number;
  /** Number of elements. */
  readonly numel: number;
}

/**
 * A tensor as a checkpoint describes it (nothing is read yet): a view of `shape` with `stride` (in
 * elements) starting at element `offset` of `storage`. Several tensors may share one storage.
 */
export interface TorchTensor extends PyObject {
  /** Tag that tells a tensor from other decoded values (see {@link isTorchTensor}). */
  readonly kind: 'torch-tensor';
  /** The storage the tensor views. */
  readonly storage: TorchStorage;
  /** Storage offset, in elements. */
  readonly offset: number;
  /** Shape (PyTorch layout). */
  readonly shape: readonly number[];
  /** Stride of each dimension, in elements (a contiguous tensor's are the suffix products of `shape`). */
  readonly stride: readonly number[];
}

/**
 * Returns `true` when `v` is a tensor description from {@link parseTorchCheckpoint}.
 *
 * @example
 * ```ts
 * const bytes = writeTorchStateDict({ 'fc.weight': tf.ones([2, 3]) });
 * const ckpt = parseTorchCheckpoint(bytes);
 * const w = (ckpt.root as Map<unknown, unknown>).get('fc.weight');
 * if (isTorchTensor(w)) console.log(w.shape, w.storage.dtype);
 * ```
 */
export function isTorchTensor(v: unknown): v is TorchTensor {
  return typeof v === 'object' && v !== null && (v as PyObject).kind === 'torch-tensor';
}

function isStorage(v: PyValue | undefined): v is TorchStorage {
  return typeof v === 'object' && v !== null && (v as PyObject).kind === 'torch-storage';
}

function index(ctx: PickleContext, v: PyValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    return ctx.fail(`rebuilds a tensor whose ${what} ${String(v)} is not a non-negative integer`);
  }
  return v;
}

function indexTuple(ctx: PickleContext, v: PyValue | undefined, what: string): number[] {
  if (!Array.isArray(v)) return ctx.fail(`rebuilds a tensor whose ${what} is not a tuple`);
  return v.map((d) => index(ctx, d, `${what} entry`));
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`. */
const rebuildTensor: PickleClass = {
  create(args, ctx) {
    const [storage, offset, size, stride] = args;
    if (!isStorage(storage)) return ctx.fail('rebuilds a tensor without a storage');
    const shape = indexTuple(ctx, size, 'size');
    const strides = indexTuple(ctx, stride, 'stride');
    if (strides.length !== shape.length) {
      ctx.fail(`rebuilds a tensor of size (${shape.join(', ')}) with ${strides.length} strides`);
    }
    const tensor: TorchTensor = {
      kind: 'torch-tensor',
      storage,
      offset: index(ctx, offset, 'storage offset'),
      shape,
      stride: strides,
    };
    return tensor;
  },
};

/** `_rebuild_parameter(data, requires_grad, backward_hooks[, state])`: the tensor itself. */
const rebuildParameter: PickleClass = {
  create(args, ctx) {
    if (!isTorchTensor(args[0])) return ctx.fail('rebuilds a parameter from something that is not a tensor');
    return args[0];
  },
};

const REBUILDERS: ReadonlyMap<string, PickleClass> = new Map([
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_tensor', rebuildTensor],
  ['torch._utils._rebuild_parameter', rebuildParameter],
  ['torch._utils._rebuild_parameter_with_state', rebuildParameter],
]);
const TENSOR_TYPES = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter']);

/** `_rebuild_from_type_v2(func, type, args, state)`: a tensor (sub)class wrapped around one of the rebuilders. */
const rebuildFromType: PickleClass = {
  create(args, ctx) {
    const [func, type, inner] = args;
    const rebuild = isPyGlobal(func) ? REBUILDERS.get(func.name) : undefined;
    if (rebuild === undefined) return ctx.fail('rebuilds a tensor through a function this reader does not call');
    if (!isPyGlobal(type) || !TENSOR_TYPES.has(type.name)) {
      return ctx.fail('rebuilds a tensor subclass other than Tensor or Parameter');
    }
    if (!Array.isArray(inner)) return ctx.fail('rebuilds a tensor without an argument tuple');
    return rebuild.create(inner, ctx);
  },
};

/** The PyTorch globals a checkpoint may name: the rebuilders (called) and the storage and tensor types (named). */
export const torchGlobals: PickleGlobals = new Map<string, PickleClass | null>([
  ...REBUILDERS,
  ['torch._tensor._rebuild_from_type_v2', rebuildFromType],
  ...[...TENSOR_TYPES].map((name): [string, null] => [name, null]),
  ...[...STORAGE_TYPES.keys()].map((name): [string, null] => [name, null]),
]);

/**
 * Resolves the persistent id `('storage', storage_type, key, location, numel[, view_metadata])` that
 * `torch.save` writes for each storage, returning one {@link TorchStorage} per key (shared by every tensor
 * that views it). `view_metadata` is the legacy format's `(view_key, offset, size)` or `None`.
 */
export function storageLoader(): StorageLoader {
  const storages = new Map<string, TorchStorage>();
  const roots = new Map<string, TorchStorage>();
  const load = (pid: PyValue, ctx: PickleContext): PyValue => {
    if (!Array.isArray(pid) || pid.length < 5) return ctx.fail('has a persistent id that is not a storage tuple');
    const [typename, type, key, , numel, view] = pid;
    if (typename === 'module') {
      return ctx.fail('holds a pickled nn.Module (torch.save(model)); save and read model.state_dict() instead');
    }
    if (typename !== 'storage') return ctx.fail(`has a persistent id of the unknown kind ${String(typename)}`);
    const dtype = isPyGlobal(type) ? STORAGE_TYPES.get(type.name) : undefined;
    if (dtype === undefined) return ctx.fail('has a storage whose type is not a known storage class');
    if (typeof key !== 'string') return ctx.fail('has a storage whose key is not text');
    const count = index(ctx, numel, 'storage size');
    const base = roots.get(key) ?? { kind: 'torch-storage', key, dtype, offset: 0, numel: count };
    if (base.dtype !== dtype || base.numel !== count) {
      ctx.fail(`has storage '${key}' twice with different types or sizes`);
    }
    roots.set(key, base);
    if (view === undefined || view === null) return base;
    // Legacy format: (view_key, offset, size) within the storage `key`.
    if (!Array.isArray(view) || view.length !== 3 || typeof view[0] !== 'string') {
      return ctx.fail('has a storage view that is not (key, offset, size)');
    }
    const offset = index(ctx, view[1], 'storage view offset');
    const size = index(ctx, view[2], 'storage view size');
    if (offset + size > count) ctx.fail(`has a storage view of ${size} elements at ${offset} past its ${count}`);
    const viewKey = `${key}/${view[0]}`;
    const made = storages.get(viewKey) ?? { kind: 'torch-storage', key, dtype, offset, numel: size };
    storages.set(viewKey, made);
    return made;
  };
  return { load, roots };
}

/** Resolves storage persistent ids; `roots` holds every whole storage seen so far, by key. */
export interface StorageLoader {
  /** The `persistent_load` of the unpickler. */
  load(pid: PyValue, ctx: PickleContext): PyValue;
  /** Whole storages by key (a legacy view's storage included). */
  readonly roots: ReadonlyMap<string, TorchStorage>;
}
