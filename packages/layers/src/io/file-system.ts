import * as tf from '@tensorflow/tfjs-core';

/** The scheme that {@link registerFileSystemRouter} routes to {@link fileSystem}. */
export const FILE_SCHEME = 'file://';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

import type * as NodeFsPromises from 'node:fs/promises';
import type * as NodePathModule from 'node:path';

type NodeFs = typeof NodeFsPromises;
type NodePath = typeof NodePathModule;

async function nodeModules(): Promise<{ fs: NodeFs; path: NodePath }> {
  // Loaded lazily so that browser bundles of @phalanx/layers never touch Node built-ins.
  const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  return { fs, path };
}

function toDirectory(pathOrUrl: string): string {
  return pathOrUrl.startsWith(FILE_SCHEME) ? pathOrUrl.slice(FILE_SCHEME.length) : pathOrUrl;
}

/**
 * A `tf.io.IOHandler` that saves a model to a directory on disk and loads it back, in the standard
 * TensorFlow.js layout: `model.json` (topology + weights manifest) and one `weights.bin`. It is the
 * Node counterpart of the browser's IndexedDB and download handlers, for environments without
 * `@tensorflow/tfjs-node`.
 *
 * Saving writes `weights.bin` first, then `model.json` through a temporary file and a rename, so an
 * interrupted save never leaves a `model.json` that points at missing weights.
 *
 * @param directory - a directory path, or a `file://` URL; created if missing.
 * @example
 * ```ts
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
 * await model.save(fileSystem('./checkpoints/step-1000'));
 * const again = await tfl.loadLayersModel(fileSystem('./checkpoints/step-1000'));
 * ```
 */
export function fileSystem(directory: string): tf.io.IOHandler {
  const dir = toDirectory(directory);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSystem: saving a binary model topology is not supported; expected a JSON topology.');
      }
      const { fs, path } = await nodeModules();
      await fs.mkdir(dir, { recursive: true });
      const weightData = artifacts.weightData
        ? tf.io.CompositeArrayBuffer.join(artifacts.weightData)
        : new ArrayBuffer(0);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'],
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await fs.writeFile(path.join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      const tmp = path.join(dir, `${MODEL_JSON}.tmp-${process.pid}`);
      await fs.writeFile(tmp, JSON.stringify(modelJson));
      await fs.rename(tmp, path.join(dir, MODEL_JSON));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const { fs, path } = await nodeModules();
      const jsonPath = path.join(dir, MODEL_JSON);
      let text: string;
      try {
        text = await fs.readFile(jsonPath, 'utf8');
      } catch (error) {
        throw new Error(`fileSystem: cannot read ${jsonPath}: ${(error as Error).message}`);
      }
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(text) as tf.io.ModelJSON;
      } catch (error) {
        throw new Error(`fileSystem: ${jsonPath} is not valid JSON: ${(error as Error).message}`);
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const rel of group.paths) {
            const file = path.join(dir, rel);
            const bytes = await fs.readFile(file).catch((error: Error) => {
              throw new Error(`fileSystem: cannot read weights file ${file}: ${error.message}`);
            });
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

let routerRegistered = false;

/**
 * Lets `model.save('file://dir')` and `tf.loadLayersModel('file://dir')` use {@link fileSystem}, as
 * they do with `@tensorflow/tfjs-node`. Safe to call more than once.
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
