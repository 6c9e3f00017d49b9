/**
 * `--init FILE`: start from PyTorch weights — a `.pth`/`.pt` checkpoint read directly (no Python; the
 * release's checkpoints included) or a `.safetensors` file — loaded into the network by PyTorch names.
 */
import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { importTorchStateDict } from '@phalanx/ehpe';
import { readSafetensors, readTorchStateDict } from '@phalanx/layers';

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
