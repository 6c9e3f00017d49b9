import * as tf from '@tensorflow/tfjs-core';
import { makeFolder, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';

/**
 * `makeFolder(folder, what?)` of `@phalanx/errors`, the same function: makes a folder and its missing parents
 * one level at a time, so that a folder that cannot be made (below a file, under `/proc`) is a
 * `PhalanxFileError` instead of a hang in Node 20's recursive `mkdir`. Model saves make their folder with it.
 *
 * @example
 * ```ts
 * import { makeFolder } from '@phalanx/layers';
 * await makeFolder('runs/pred/pictures', 'output folder'); // runs/, runs/pred/ and runs/pred/pictures/ exist now
 * ```
 */
export { makeFolder };

/** The scheme that {@link registerFileSystemRouter} routes to {@link fileSystem}. */
export const FILE_SCHEME = 'file://';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
/** Files a save writes before renaming them into place; a killed save can leave them behind. */
const TEMPORARY_FILE = /^(model\.json\.tmp|weights\.bin\.next|weights\.bin\.tmp)-[\w-]+$/;

import type * as NodeFsPromises from 'node:fs/promises';
import type * as NodePathModule from 'node:path';

type NodeFs = typeof NodeFsPromises;
type NodePath = typeof NodePathModule;
interface Node {
  fs: NodeFs;
  path: NodePath;
}

async function nodeModules(): Promise<Node> {
  // Loaded lazily so that browser bundles of @phalanx/layers never touch Node built-ins.
  const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  return { fs, path };
}

function toDirectory(pathOrUrl: string): string {
  return pathOrUrl.startsWith(FILE_SCHEME) ? pathOrUrl.slice(FILE_SCHEME.length) : pathOrUrl;
}

/** A name no other save (of this or another process) uses at the same time. */
function uniqueSuffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

function modelJsonOf(artifacts: tf.io.ModelArtifacts, weightsPath: string): tf.io.ModelJSON {
  return {
    modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'],
    weightsManifest: [{ paths: [`./${weightsPath}`], weights: artifacts.weightSpecs ?? [] }],
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
    ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
  };
}

/** Writes `model.json` through a temporary file and a rename (atomic on POSIX and NTFS). */
async function replaceModelJson({ fs, path }: Node, dir: string, json: tf.io.ModelJSON): Promise<void> {
  const tmp = path.join(dir, `${MODEL_JSON}.tmp-${uniqueSuffix()}`);
  await fs.writeFile(tmp, JSON.stringify(json));
  await fs.rename(tmp, path.join(dir, MODEL_JSON));
}

/** What `link` fails with on file systems without hard links (FAT, some network shares). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

/**
 * Makes `weights.bin` hold the bytes of `staged` without ever removing `staged`: a hard link (or, where
 * links are not supported, a copy) under a temporary name, renamed over `weights.bin`.
 */
async function publishWeights({ fs, path }: Node, dir: string, staged: string): Promise<void> {
  const tmp = path.join(dir, `${WEIGHTS_BIN}.tmp-${uniqueSuffix()}`);
  try {
    await fs.link(path.join(dir, staged), tmp);
  } catch (error) {
    if (!NO_HARD_LINKS.has((error as { code?: string }).code ?? '')) throw error;
    await fs.copyFile(path.join(dir, staged), tmp);
  }
  await fs.rename(tmp, path.join(dir, WEIGHTS_BIN));
}

/** The relative weight paths `dir/model.json` refers to (none when it is missing or unreadable). */
async function referencedPaths({ fs, path }: Node, dir: string): Promise<Set<string>> {
  try {
    const json = JSON.parse(await fs.readFile(path.join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
    return new Set((json.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => path.normalize(p))));
  } catch {
    return new Set();
  }
}

/** Deletes what earlier killed saves left behind, except files the current `model.json` still needs. */
async function removeLeftovers(node: Node, dir: string): Promise<void> {
  const inUse = await referencedPaths(node, dir);
  for (const name of await node.fs.readdir(dir)) {
    if (TEMPORARY_FILE.test(name) && !inUse.has(name)) await node.fs.rm(node.path.join(dir, name), { force: true });
  }
}

/**
 * Saves in four renames so that a kill at any moment leaves a loadable model, the old or the new one:
 * 1. the new weights go to `weights.bin.next-<id>` (nothing refers to it yet: the old model stands);
 * 2. `model.json` is replaced by one that points at it (now the new model stands);
 * 3. `weights.bin` is replaced by a link to the same bytes (the old weights are no longer needed);
 * 4. `model.json` is replaced by one that points at `weights.bin`, and the staged name is removed.
 */
async function saveAtomically(dir: string, artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new PhalanxFileError(dir, 'modelTopology', 'must be JSON: saving a binary topology is not supported');
  }
  const node = await nodeModules();
  await makeFolder(dir, 'model folder');
  await removeLeftovers(node, dir);
  const weightData = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
  const staged = `${WEIGHTS_BIN}.next-${uniqueSuffix()}`;
  await node.fs.writeFile(node.path.join(dir, staged), new Uint8Array(weightData));
  await replaceModelJson(node, dir, modelJsonOf(artifacts, staged));
  await publishWeights(node, dir, staged);
  await replaceModelJson(node, dir, modelJsonOf(artifacts, WEIGHTS_BIN));
  await node.fs.rm(node.path.join(dir, staged), { force: true });
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
}

/**
 * The absolute path of weights file `relative` of `dir`, after checking that it stays inside `dir`:
 * not absolute (POSIX, Windows drive or UNC, URL scheme), `/` as the only separator (no backslash), no
 * `..` segment that climbs out (also through a subfolder), and — once resolved on disk — no symbolic link
 * that leads outside. A file name that merely starts with dots (`..weights.bin`) is a file in `dir`.
 */
async function weightsFilePath(
  { fs, path }: Node,
  dir: string,
  relative: unknown,
  jsonPath: string,
  field: string,
): Promise<string> {
  const leaves = (why: string) =>
    new PhalanxFileError(jsonPath, `${field} (${JSON.stringify(relative)})`, `leaves the model folder: ${why}`);
  if (typeof relative !== 'string' || relative === '' || relative.includes('\0')) {
    throw new PhalanxFileError(
      jsonPath,
      field,
      `must be a non-empty relative path, but is ${JSON.stringify(relative)}`,
    );
  }
  if (path.posix.isAbsolute(relative) || path.win32.isAbsolute(relative) || /^[a-z][a-z0-9+.-]*:/i.test(relative)) {
    throw leaves('it is absolute');
  }
  if (relative.includes('\\')) {
    // A Windows separator: '..\\x' climbs out on Windows though it names a file on POSIX.
    throw new PhalanxFileError(
      jsonPath,
      `${field} (${JSON.stringify(relative)})`,
      "must separate folders with '/', not a backslash",
    );
  }
  const base = path.resolve(dir);
  const file = path.resolve(base, relative);
  // Inside: a path below `root`. Only a first segment that is exactly '..' climbs out; a name that merely
  // starts with two dots ('..weights.bin') is a file in the folder.
  const inside = (root: string, target: string) => {
    const rel = path.relative(root, target);
    return rel !== '' && !path.isAbsolute(rel) && rel.split(path.sep)[0] !== '..';
  };
  if (!inside(base, file)) throw leaves("'..' climbs out of it");
  let realFile: string;
  try {
    realFile = await fs.realpath(file);
  } catch (error) {
    throw new PhalanxFileError(file, 'weights file', `cannot be read: ${(error as Error).message}`);
  }
  if (!inside(await fs.realpath(base), realFile)) throw leaves('a symbolic link leads out of it');
  return realFile;
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/**
 * Bytes the weights of `specs` take, read from `data` where the size depends on the content (strings:
 * a 4-byte little-endian length before each element). `Infinity` when the data ends too early.
 */
function manifestByteLength(specs: tf.io.WeightsManifestEntry[], data: Uint8Array, jsonPath: string): number {
  let offset = 0;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  specs.forEach((spec, i) => {
    const shape = spec.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new PhalanxFileError(jsonPath, `weight ${i} ('${spec.name}') shape`, `must be a list of integers ≥ 0`);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (spec.dtype === 'string' && !spec.quantization) {
      for (let k = 0; k < size && offset !== Infinity; k++) {
        offset = offset + 4 > data.byteLength ? Infinity : offset + 4 + view.getUint32(offset, true);
      }
      return;
    }
    const bytes = spec.quantization ? QUANTIZED_BYTES[spec.quantization.dtype] : BYTES_PER_ELEMENT[spec.dtype];
    if (bytes === undefined) {
      throw new PhalanxFileError(jsonPath, `weight ${i} ('${spec.name}') dtype`, `is not a tfjs dtype`);
    }
    offset += size * bytes;
  });
  return offset;
}

/** Reads every weights file of the manifest (paths checked) and checks their total length. */
async function loadWeights(
  node: Node,
  dir: string,
  jsonPath: string,
  manifest: tf.io.WeightsManifestConfig,
): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  const read = new Set<string>();
  const names = new Set<string>();
  if (!Array.isArray(manifest)) throw new PhalanxFileError(jsonPath, 'weightsManifest', 'must be a list');
  for (const [g, group] of manifest.entries()) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new PhalanxFileError(jsonPath, `weightsManifest[${g}]`, 'must have lists `paths` and `weights`');
    }
    for (const [w, spec] of (group.weights as unknown[]).entries()) {
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
        throw new PhalanxFileError(
          jsonPath,
          `weightsManifest[${g}].weights[${w}]`,
          'must be an object {name, shape, dtype}',
        );
      }
      // Weights are restored by name: a second entry of one name would shadow the first (its values
      // decoded for nothing) or leave a weight unset.
      const name = (spec as { name?: unknown }).name;
      if (typeof name !== 'string' || name === '') {
        throw new PhalanxFileError(jsonPath, `weightsManifest[${g}].weights[${w}].name`, 'must be a non-empty string');
      }
      if (names.has(name)) {
        throw new PhalanxFileError(jsonPath, `weightsManifest[${g}].weights[${w}]`, `repeats the weight '${name}'`);
      }
      names.add(name);
    }
    specs.push(...group.weights);
    for (const [p, relative] of group.paths.entries()) {
      const field = `weightsManifest[${g}].paths[${p}]`;
      const file = await weightsFilePath(node, dir, relative, jsonPath, field);
      // Each listing is read in full: one file listed over and over would take its size as many times.
      if (read.has(file)) {
        throw new PhalanxFileError(
          jsonPath,
          `${field} (${JSON.stringify(relative)})`,
          'names a weights file listed before',
        );
      }
      read.add(file);
      const bytes = await node.fs.readFile(file).catch((error: Error) => {
        throw new PhalanxFileError(file, 'weights file', `cannot be read: ${error.message}`);
      });
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
  }
  const data = tf.io.concatenateArrayBuffers(buffers);
  const needed = manifestByteLength(specs, new Uint8Array(data), jsonPath);
  if (needed !== data.byteLength) {
    const needs = Number.isFinite(needed) ? `${needed} bytes` : 'more bytes';
    throw new PhalanxFileError(
      jsonPath,
      'weightsManifest',
      `needs ${needs} of weights, but the weights files hold ${data.byteLength}`,
    );
  }
  return [specs, data];
}

async function loadModel(dir: string): Promise<tf.io.ModelArtifacts> {
  const node = await nodeModules();
  const jsonPath = node.path.join(dir, MODEL_JSON);
  let text: string;
  try {
    text = await node.fs.readFile(jsonPath, 'utf8');
  } catch (error) {
    throw new PhalanxFileError(jsonPath, 'file', `cannot be read: ${(error as Error).message}`);
  }
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(text) as tf.io.ModelJSON;
  } catch (error) {
    throw new PhalanxFileError(jsonPath, 'content', `is not valid JSON: ${(error as Error).message}`);
  }
  if (modelJson === null || typeof modelJson !== 'object') {
    throw new PhalanxFileError(jsonPath, 'content', 'must be a JSON object');
  }
  return tf.io.getModelArtifactsForJSON(modelJson, (manifest) => loadWeights(node, dir, jsonPath, manifest));
}

/**
 * A `tf.io.IOHandler` that saves a model to a directory on disk and loads it back, in the standard
 * TensorFlow.js layout: `model.json` (topology + weights manifest) and one `weights.bin`. It is the
 * Node counterpart of the browser's IndexedDB and download handlers, for environments without
 * `@tensorflow/tfjs-node`.
 *
 * - **Atomic saves.** The new weights are written under a temporary name and switched in by renames,
 *   so a process killed at any moment of a save leaves the previous model or the new one loadable,
 *   never an old `model.json` with new weights. (Power loss is not covered: nothing is fsynced.) One
 *   process at a time may save into a folder; a save removes what killed saves left behind.
 * - **Checked loads.** Every path of `weightsManifest` must stay inside the folder: absolute paths,
 *   backslash separators, a `..` segment that climbs out (directly or through a subfolder) and symbolic
 *   links that lead out are refused (a file name that merely starts with dots, `..weights.bin`, is
 *   accepted), no file may be listed twice, every weight entry must be an object, and the weights files
 *   together must hold exactly the bytes the manifest describes. Each failure is a `PhalanxFileError`
 *   that names the file and the entry.
 *
 * @param directory - a directory path, or a `file://` URL; created if missing. Anything else (not a
 *   string, `''`, a bare `file://`) is a `PhalanxConfigError`.
 * @example
 * ```ts
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
 * await model.save(fileSystem('./checkpoints/step-1000'));
 * const again = await tfl.loadLayersModel(fileSystem('./checkpoints/step-1000'));
 * ```
 */
export function fileSystem(directory: string): tf.io.IOHandler {
  const dir = typeof directory === 'string' ? toDirectory(directory) : '';
  if (dir === '') {
    // An empty path would read and write model.json in the working directory.
    throw new PhalanxConfigError('fileSystem', 'directory', 'a non-empty directory path or file:// URL', directory);
  }
  return {
    save: (artifacts: tf.io.ModelArtifacts) => saveAtomically(dir, artifacts),
    load: () => loadModel(dir),
  };
}

let routerRegistered = false;

/**
 * Lets `model.save('file://dir')` and `tf.loadLayersModel('file://dir')` use {@link fileSystem}, as
 * they do with `@tensorflow/tfjs-node`. Safe to call more than once.
 *
 * @example
 * ```ts
 * registerFileSystemRouter();
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
 * await model.save('file://./checkpoints/step-1000');
 * ```
 */
export function registerFileSystemRouter(): void {
  if (routerRegistered) return;
  routerRegistered = true;
  const router = (url: string | string[]): tf.io.IOHandler => {
    const first = Array.isArray(url) ? url[0] : url;
    // tfjs routers answer null for URLs they do not handle.
    return (typeof first === 'string' && first.startsWith(FILE_SCHEME) ? fileSystem(first) : null) as tf.io.IOHandler;
  };
  tf.io.registerSaveRouter(router);
  tf.io.registerLoadRouter(router);
}
