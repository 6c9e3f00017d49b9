/**
 * `--init FILE`: start from PyTorch weights — a `.pth`/`.pt` checkpoint read directly (no Python; the
 * release's checkpoints included) or a `.safetensors` file — loaded into the network by PyTorch names.
 */
import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { importTorchStateDict } from '@phalanx/ehpe';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { parseSafetensors, parseTorchCheckpoint, readSafetensors, readTorchStateDict } from '@phalanx/layers';

/** The state dict of a `.safetensors` file or a PyTorch checkpoint (the caller disposes the tensors). */
export function readCheckpoint(bytes: Uint8Array, name: string): Record<string, tf.Tensor> {
  return name.endsWith('.safetensors') ? readSafetensors(bytes) : readTorchStateDict(bytes, { file: name });
}

/**
 * Loads the weights of `path` into `model` — an EHPE, a TW-stage or a FEM, as `importTorchStateDict` takes —
 * strictly (every missing or unexpected key is an error naming it) and returns how many were loaded.
 */
export function initFromCheckpoint(model: tfl.LayersModel, path: string): number {
  const tensors = readCheckpoint(new Uint8Array(readFileSync(path)), path);
  try {
    return importTorchStateDict(model, tensors).loaded.length;
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/**
 * Checks that `path` can be read and is a checkpoint (its container parsed; no tensor is made, no backend
 * needed), so that `--init` fails before the run starts. A file that cannot be read (missing, a folder) or
 * parsed (empty, truncated, not a checkpoint) is a `PhalanxFileError` naming `path`.
 */
export function checkCheckpointFile(path: string): void {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new PhalanxFileError(path, '--init file', `cannot be read: ${(error as Error).message}`);
  }
  try {
    if (path.endsWith('.safetensors')) parseSafetensors(bytes);
    else parseTorchCheckpoint(bytes, { file: path });
  } catch (error) {
    // The safetensors reader names its function, not the file.
    if (error instanceof PhalanxConfigError)
      throw new PhalanxFileError(path, 'safetensors', `is damaged: ${error.message}`);
    throw error;
  }
}
