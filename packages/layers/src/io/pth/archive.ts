/**
 * The two containers `torch.save` writes, opened into one shape: the unpickled root object and a way to
 * fetch the bytes of each storage.
 *
 * - **zip** (PyTorch ≥ 1.6): `<name>/data.pkl` (the pickle, storages as persistent ids),
 *   `<name>/data/<key>` (raw storage bytes), `<name>/version`, and since PyTorch 2.1 `<name>/byteorder`.
 *   The archive is read with fflate.
 * - **legacy**: five pickles back to back — magic number, protocol version (1001), system info, the
 *   object, the list of storage keys — then each storage as an 8-byte little-endian element count and its
 *   raw little-endian bytes.
 *
 * Memory: the zip records are decompressed only within the byte budget, checked from the archive's
 * directory before anything is inflated.
 */
import { PhalanxFileError } from '@phalanx/errors';
import { unpickleAt, type PyValue } from '@phalanx/pickle';
import { unzipSync } from 'fflate';
import { ELEMENT_SIZE, storageLoader, torchGlobals, type TorchStorage } from './torch-pickle';

/** An opened checkpoint. */
export interface TorchArchive {
  /** Which container the file uses. */
  readonly format: 'zip' | 'legacy';
  /** The unpickled object. */
  readonly root: PyValue;
  /** Whether the storages are little-endian (always, except a zip whose `byteorder` record says `big`). */
  readonly littleEndian: boolean;
  /** Bytes decompressed from the archive (counted against the budget). */
  readonly decompressedBytes: number;
  /** The bytes of `storage` (exactly `numel × element size`), or a named error when the file lacks them. */
  storageBytes(storage: TorchStorage): Uint8Array;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** Opens `bytes` as a zip or legacy checkpoint. `budget` bounds the bytes decompressed from a zip. */
export function openTorchArchive(bytes: Uint8Array, file: string, budget: number): TorchArchive {
  if (isZip(bytes)) return openZip(bytes, file, budget);
  if (bytes.length > 2 && bytes[0] === 0x80) return openLegacy(bytes, file);
  if (bytes.length > 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar') {
    throw new PhalanxFileError(file, 'format', 'is the tar format of PyTorch < 0.4, which this reader does not read');
  }
  throw new PhalanxFileError(file, 'format', 'is neither a zip (PyTorch ≥ 1.6) nor a legacy PyTorch checkpoint');
}

interface ZipEntry {
  name: string;
  size: number;
  originalSize: number;
  compression: number;
}

/** The archive's directory, read without extracting anything. */
function listZip(bytes: Uint8Array, file: string): ZipEntry[] {
  const entries: ZipEntry[] = [];
  // Each central-directory entry takes at least 46 bytes: more entries than that is a forged count.
  const most = Math.floor(bytes.length / 46);
  try {
    unzipSync(bytes, {
      filter: (f) => {
        if (entries.length >= most)
          throw new Error(`the directory claims more entries than ${bytes.length} bytes hold`);
        entries.push({ name: f.name, size: f.size, originalSize: f.originalSize, compression: f.compression });
        return false;
      },
    });
  } catch (e) {
    throw new PhalanxFileError(file, 'zip archive', `cannot be read: ${(e as Error).message}`);
  }
  return entries;
}

function openZip(bytes: Uint8Array, file: string, budget: number): TorchArchive {
  const entries = listZip(bytes, file);
  const pickle = entries
    .map((e) => e.name)
    .filter((n) => n === 'data.pkl' || (n.endsWith('/data.pkl') && n.indexOf('/') === n.length - 9))
    .sort((a, b) => a.length - b.length)[0];
  if (pickle === undefined) throw new PhalanxFileError(file, 'zip archive', 'has no <name>/data.pkl record');
  const prefix = pickle.slice(0, -'data.pkl'.length);
  const wanted = (name: string) =>
    name === pickle ||
    name === `${prefix}byteorder` ||
    (name.startsWith(`${prefix}data/`) && name !== `${prefix}data/`);
  let total = 0;
  for (const e of entries.filter((x) => wanted(x.name))) {
    if (e.compression !== 0 && e.compression !== 8) {
      throw new PhalanxFileError(file, `record ${e.name}`, `uses zip compression method ${e.compression}`);
    }
    // Deflate cannot expand data more than 1032-fold: a larger claim is forged.
    if (e.compression === 8 && e.originalSize > 1032 * e.size + 1024) {
      throw new PhalanxFileError(file, `record ${e.name}`, `claims ${e.originalSize} bytes from ${e.size} compressed`);
    }
    total += e.compression === 0 ? e.size : e.originalSize;
  }
  if (total > budget) {
    throw new PhalanxFileError(
      file,
      'zip archive',
      `holds ${total} bytes of records, over the budget of ${budget} bytes (maxBytes)`,
    );
  }
  let records: Record<string, Uint8Array>;
  try {
    records = unzipSync(bytes, { filter: (f) => wanted(f.name) });
  } catch (e) {
    throw new PhalanxFileError(file, 'zip archive', `cannot be read: ${(e as Error).message}`);
  }
  const record = (name: string): Uint8Array | undefined => (Object.hasOwn(records, name) ? records[name] : undefined);
  const order = record(`${prefix}byteorder`);
  const littleEndian = order === undefined || new TextDecoder().decode(order).trim() !== 'big';
  const root = unpickleAt(record(pickle) as Uint8Array, 0, {
    file: `${file} (${pickle})`,
    globals: torchGlobals,
    persistentLoad: storageLoader().load,
  }).value;
  return {
    format: 'zip',
    root,
    littleEndian,
    decompressedBytes: total,
    storageBytes: (storage) =>
      slice(file, record(`${prefix}data/${storage.key}`), storage, `record ${prefix}data/${storage.key}`),
  };
}

/** The bytes of `storage` within its record, after checking the record holds them. */
function slice(file: string, data: Uint8Array | undefined, storage: TorchStorage, what: string): Uint8Array {
  if (data === undefined) throw new PhalanxFileError(file, what, 'is missing');
  const size = ELEMENT_SIZE[storage.dtype];
  const begin = storage.offset * size;
  const end = begin + storage.numel * size;
  if (end > data.length) {
    throw new PhalanxFileError(
      file,
      what,
      `holds ${data.length} bytes, fewer than the ${end} its ${storage.numel} ${storage.dtype} elements need`,
    );
  }
  return data.subarray(begin, end);
}

function openLegacy(bytes: Uint8Array, file: string): TorchArchive {
  const magic = unpickleAt(bytes, 0, { file });
  if (magic.value !== LEGACY_MAGIC) {
    throw new PhalanxFileError(file, 'format', 'is a pickle, but not a PyTorch checkpoint (no magic number)');
  }
  const protocol = unpickleAt(bytes, magic.end, { file });
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new PhalanxFileError(file, 'protocol version', `is ${String(protocol.value)}, not ${LEGACY_PROTOCOL}`);
  }
  const sysInfo = unpickleAt(bytes, protocol.end, { file });
  const loader = storageLoader();
  const main = unpickleAt(bytes, sysInfo.end, { file, globals: torchGlobals, persistentLoad: loader.load });
  const keys = unpickleAt(bytes, main.end, { file });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new PhalanxFileError(file, 'storage key list', 'is not a list of strings');
  }
  const data = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const storage = loader.roots.get(key);
    if (storage === undefined) throw new PhalanxFileError(file, `storage '${key}'`, 'is listed but never used');
    if (pos + 8 > bytes.length) throw new PhalanxFileError(file, `storage '${key}'`, 'is missing (truncated file)');
    const numel = view.getBigInt64(pos, true);
    const length = numel * BigInt(ELEMENT_SIZE[storage.dtype]);
    if (numel < 0n || length > BigInt(bytes.length - pos - 8)) {
      throw new PhalanxFileError(file, `storage '${key}'`, `claims ${numel} elements, past the end of the file`);
    }
    data.set(key, bytes.subarray(pos + 8, pos + 8 + Number(length)));
    pos += 8 + Number(length);
  }
  return {
    format: 'legacy',
    root: main.value,
    littleEndian: true,
    decompressedBytes: 0,
    storageBytes: (storage) => slice(file, data.get(storage.key), storage, `storage '${storage.key}'`),
  };
}
